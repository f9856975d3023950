// Package httpserve builds the HTTP servers of `eucora hub serve`,
// `eucora edge serve` and `eucora mirror apt serve` with the same transport
// limits: a deadline on
// request headers, a closing of idle keep-alive connections, a deadline on
// request bodies that a trickling client cannot keep extending, and a cap on
// concurrent connections per listener and per client address.
//
// A connection over a cap is answered "503 Service Unavailable" with
// Retry-After and closed at once; the server keeps accepting, so one client
// cannot starve the others by holding sockets.
//
// With Options.AccessLog set, every request is logged once it is answered
// (AccessLog, in accesslog.go).
package httpserve

import (
	"crypto/tls"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultBodyGrace         = 30 * time.Second
	DefaultBodyMinRate       = 64 << 10 // bytes per second
	DefaultMaxConns          = 1024
	DefaultMaxConnsPerIP     = 128
)

// Options are the transport limits of a server; zero fields take the
// defaults above.
type Options struct {
	// ReadHeaderTimeout bounds reading a request's line and headers.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for this long.
	IdleTimeout time.Duration
	// A request body must arrive within BodyGrace plus its size divided by
	// BodyMinRate (bytes/s): a large upload on a good link is not cut, a
	// client sending a byte now and then is, after about BodyGrace.
	BodyGrace   time.Duration
	BodyMinRate int64
	// MaxConns caps concurrent connections on the listener, MaxConnsPerIP
	// those from one client address.
	MaxConns      int
	MaxConnsPerIP int
	ErrorLog      *log.Logger
	// AccessLog, if set, gets one INFO line per request (see AccessLog).
	AccessLog *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.BodyGrace <= 0 {
		o.BodyGrace = DefaultBodyGrace
	}
	if o.BodyMinRate <= 0 {
		o.BodyMinRate = DefaultBodyMinRate
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxConnsPerIP <= 0 {
		o.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	return o
}

// Server returns an *http.Server serving h with o's timeouts and body
// deadline. Serve it on Listen(ln, o) so the connection caps apply.
func Server(h http.Handler, o Options) *http.Server {
	o = o.withDefaults()
	h = BodyDeadline(h, o.BodyGrace, o.BodyMinRate)
	if o.AccessLog != nil {
		h = AccessLog(h, o.AccessLog)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		IdleTimeout:       o.IdleTimeout,
		ErrorLog:          o.ErrorLog,
	}
}

// Serve serves h on ln with o's limits until the server is closed; it is
// Server plus Listen.
func Serve(srv *http.Server, ln net.Listener, o Options) error {
	return srv.Serve(Listen(ln, o))
}

// ServeTLS is Serve over TLS with cfg: the connection caps count raw
// connections (a handshake holds a place), and the handshake is bounded
// by the server's ReadHeaderTimeout.
func ServeTLS(srv *http.Server, ln net.Listener, o Options, cfg *tls.Config) error {
	return srv.Serve(tls.NewListener(Listen(ln, o), cfg))
}

// BodyDeadline wraps h so that reading a request body fails once it has
// taken longer than grace plus the bytes read so far divided by minRate.
func BodyDeadline(h http.Handler, grace time.Duration, minRate int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), start: time.Now(), grace: grace, rate: minRate}
		}
		h.ServeHTTP(w, r)
	})
}

// maxCredit bounds how much one Read may extend the deadline in advance.
const maxCredit = 64 << 10

type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64
	n     int64
	done  bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if !b.done {
		credit := min(int64(len(p)), maxCredit)
		allowed := b.grace + time.Duration(float64(b.n+credit)/float64(b.rate)*float64(time.Second))
		// Unsupported writers (tests with recorders) simply get no deadline.
		_ = b.rc.SetReadDeadline(b.start.Add(allowed))
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// Listen wraps ln so that at most o.MaxConns connections are open at once
// and at most o.MaxConnsPerIP from one client address; a connection over a
// cap is answered 503 and closed.
func Listen(ln net.Listener, o Options) net.Listener {
	o = o.withDefaults()
	return &limitListener{Listener: ln, max: o.MaxConns, perIP: o.MaxConnsPerIP, byIP: map[string]int{}}
}

type limitListener struct {
	net.Listener
	max, perIP int
	mu         sync.Mutex
	total      int
	byIP       map[string]int
}

const overloaded = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 46\r\n\r\ntoo many connections; retry in a little while\n"

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr())
		l.mu.Lock()
		ok := l.total < l.max && l.byIP[ip] < l.perIP
		if ok {
			l.total++
			l.byIP[ip]++
		}
		l.mu.Unlock()
		if ok {
			return &limitConn{Conn: c, l: l, ip: ip}, nil
		}
		go refuse(c)
	}
}

func refuse(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(overloaded))
	_ = c.Close()
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	l.total--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
	l.mu.Unlock()
}

// Open returns the number of connections the listener holds (tests, metrics).
func Open(ln net.Listener) int {
	l, ok := ln.(*limitListener)
	if !ok {
		return -1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

type limitConn struct {
	net.Conn
	l    *limitListener
	ip   string
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
