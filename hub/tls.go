package hub

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/httpserve"
	"github.com/eucora/eucora/internal/tlsconf"
)

// TLS of the hub (docs/tls.md): with Config.TLS the API is served over
// TLS (clients verified if they present a certificate), Raft runs over
// mutual TLS (store.RaftTLS), and every node-to-node call (join,
// forwarding to the leader, the peer endpoints) presents the node's
// certificate and verifies the peer's against the cluster CA. Without
// TLS, a request carrying a bearer token that arrives on a non-loopback
// address is refused unless Config.InsecureHTTP is set.

// Errors of the hub's transport security.
var (
	// ErrPlaintextToken: a bearer token was sent over plaintext HTTP to a
	// non-loopback address of a hub without --insecure-http.
	ErrPlaintextToken = errors.New("bearer token over plaintext HTTP on a non-loopback listener")
	// ErrNoNodeCert: a node-only route was called without a client
	// certificate signed by the cluster CA.
	ErrNoNodeCert = errors.New("no client certificate signed by the cluster CA")
)

// checkTLSConfig refuses TLS material a hub cannot run on.
func checkTLSConfig(cfg Config) error {
	if cfg.TLS == nil {
		return nil
	}
	if cfg.TLS.CAs == nil {
		return fmt.Errorf("%w: a hub needs --tls-ca: its nodes verify each other against it", tlsconf.ErrFlags)
	}
	return nil
}

// peerTransport is the HTTP transport of node-to-node calls.
func peerTransport(cfg Config) http.RoundTripper {
	if cfg.TLS == nil {
		return http.DefaultTransport
	}
	return tlsconf.Transport(cfg.TLS.ClientConfig())
}

// raftTLS is the Raft transport's mutual TLS, nil without TLS.
func raftTLS(cfg Config) *store.RaftTLS {
	if cfg.TLS == nil {
		return nil
	}
	return &store.RaftTLS{Server: cfg.TLS.ServerConfig(tls.RequireAndVerifyClientCert), Client: cfg.TLS.ClientConfig()}
}

// serveHTTP serves the API on s.ln, over TLS when configured.
func (s *Server) serveHTTP() error {
	if s.cfg.TLS == nil {
		return httpserve.Serve(s.httpSrv, s.ln, s.cfg.HTTPLimits)
	}
	return httpserve.ServeTLS(s.httpSrv, s.ln, s.cfg.HTTPLimits, s.cfg.TLS.ServerConfig(tls.VerifyClientCertIfGiven))
}

// scheme is the advertised URL scheme.
func (s *Server) scheme() string {
	if s.cfg.TLS != nil {
		return "https://"
	}
	return "http://"
}

// logTransport says at start how the API is exposed, warning where tokens
// cross the network in clear or will be refused.
func (s *Server) logTransport() {
	if s.cfg.TLS != nil || tlsconf.IsLoopback(s.ln.Addr()) {
		return
	}
	if s.cfg.InsecureHTTP {
		s.log.Warn("--insecure-http: serving plaintext HTTP on a non-loopback address; bearer tokens and the cluster's peer secret cross the network in clear (docs/tls.md)",
			"http", s.ln.Addr().String())
		return
	}
	s.log.Warn("plaintext HTTP on a non-loopback address: requests carrying a bearer token from the network will be refused; give --tls-cert, --tls-key and --tls-ca (eucora hub tls init), or --insecure-http",
		"http", s.ln.Addr().String())
}

// localAddrIsLoopback reports whether r arrived on a loopback address of
// this node (the connection's local address; the listener's without one).
func (s *Server) localAddrIsLoopback(r *http.Request) bool {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return tlsconf.IsLoopback(a)
	}
	return tlsconf.IsLoopback(s.ln.Addr())
}

// plaintextGuard refuses requests carrying credentials over plaintext HTTP
// from the network (see ErrPlaintextToken), before anything reads them.
func (s *Server) plaintextGuard(h http.Handler) http.Handler {
	if s.cfg.TLS != nil || s.cfg.InsecureHTTP {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && len(r.Header.Values("Authorization")) > 0 && !s.localAddrIsLoopback(r) {
			writeError(w, http.StatusForbidden, "%v (%s): the token was not checked and may have been seen on the network; "+
				"serve the hub over TLS with --tls-cert, --tls-key and --tls-ca (eucora hub tls init, docs/tls.md), "+
				"or accept the risk with --insecure-http", ErrPlaintextToken, s.ln.Addr())
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkNodeCert refuses, when TLS is configured, a request to a node-only
// route (join, the peer endpoints) without a verified client certificate.
func (s *Server) checkNodeCert(r *http.Request) error {
	if s.cfg.TLS == nil {
		return nil
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return fmt.Errorf("%w: %s is called by hub nodes only, which present their certificate (--tls-cert) signed by --tls-ca", ErrNoNodeCert, r.URL.Path)
	}
	return nil
}

// isCertError reports whether err is a TLS certificate failure (ours not
// accepted by the peer, or the peer's not verified by us): retrying does
// not cure it.
func isCertError(err error) bool {
	var cve *tls.CertificateVerificationError
	var alert tls.AlertError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	return errors.As(err, &cve) || errors.As(err, &alert) || errors.As(err, &uae) || errors.As(err, &hne)
}
