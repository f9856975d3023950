package store

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// RaftTLS is mutual TLS for Raft's traffic: Server accepts only peers
// whose client certificate verifies against its ClientCAs (ClientAuth
// must be tls.RequireAndVerifyClientCert), Client verifies the peer's
// server certificate against its RootCAs and presents this node's.
type RaftTLS struct {
	Server, Client *tls.Config
}

// tlsHandshakeTimeout bounds a Raft peer's TLS handshake.
const tlsHandshakeTimeout = 10 * time.Second

// tlsStream is a raft.StreamLayer over TLS. Connections are accepted and
// their handshakes run apart from Accept, so a peer that stalls or fails
// its handshake (no client certificate, one from another CA) delays no
// one; a failed handshake is logged and counted, and Raft never reads a
// byte from that peer.
type tlsStream struct {
	ln        net.Listener
	advertise net.Addr
	server    *tls.Config
	client    *tls.Config
	log       *slog.Logger

	conns   chan net.Conn
	done    chan struct{}
	once    sync.Once
	refused atomic.Int64
}

var _ raft.StreamLayer = (*tlsStream)(nil)

func newTLSStream(addr string, t *RaftTLS, log *slog.Logger) (*tlsStream, error) {
	if t.Server == nil || t.Client == nil || t.Server.ClientAuth != tls.RequireAndVerifyClientCert || t.Server.ClientCAs == nil || t.Client.RootCAs == nil {
		return nil, errors.New("raft TLS: needs a server configuration requiring client certificates from a CA and a client configuration with that CA")
	}
	adv, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft address %q: %w", addr, err)
	}
	if adv.IP == nil || adv.IP.IsUnspecified() {
		return nil, fmt.Errorf("raft address %q: give the address peers reach this node at, not a wildcard", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft transport %s: %w", addr, err)
	}
	s := &tlsStream{ln: ln, advertise: adv, server: t.Server, client: t.Client, log: log,
		conns: make(chan net.Conn), done: make(chan struct{})}
	go s.acceptLoop()
	return s, nil
}

func (s *tlsStream) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.Close()
			return
		}
		go s.handshake(c)
	}
}

func (s *tlsStream) handshake(c net.Conn) {
	tc := tls.Server(c, s.server)
	_ = tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		s.refused.Add(1)
		s.log.Warn("raft: refused a connection: TLS handshake failed (a peer needs a certificate signed by --tls-ca)", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	select {
	case s.conns <- tc:
	case <-s.done:
		tc.Close()
	}
}

// Accept returns the next peer connection whose handshake succeeded.
func (s *tlsStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (s *tlsStream) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.ln.Close()
	})
	return err
}

// Addr is the advertised address (the configured one, not the wildcard).
func (s *tlsStream) Addr() net.Addr { return s.advertise }

// Dial connects to a peer and completes the handshake: the peer's server
// certificate must verify for the host of address.
func (s *tlsStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	host, _, err := net.SplitHostPort(string(address))
	if err != nil {
		return nil, err
	}
	cfg := s.client.Clone()
	cfg.ServerName = host
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: cfg}
	return d.Dial("tcp", string(address))
}

// NewTLSTransport is the Raft transport a node with Config.TLS runs: a
// raft.NetworkTransport over the mutual-TLS stream layer, bound to addr.
func NewTLSTransport(addr string, t *RaftTLS, log *slog.Logger) (*raft.NetworkTransport, error) {
	stream, err := newTLSStream(addr, t, log)
	if err != nil {
		return nil, err
	}
	hl := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{log}, DisableTime: true})
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: stream, MaxPool: 5, Timeout: 10 * time.Second, Logger: hl}), nil
}

// Refused is how many inbound connections failed their handshake (tests).
func (s *tlsStream) Refused() int64 { return s.refused.Load() }
