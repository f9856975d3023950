package hub

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/httpserve"
)

// The hub's API listener applies the shared transport limits: a client
// address over its connection cap is answered 503, an idle keep-alive
// connection is closed.
func TestHubTransportLimits(t *testing.T) {
	n := newMemNode(t, newRaftNet(), t.TempDir(), "n1", 50*time.Millisecond)
	ln, err := net.Listen("tcp", n.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	c := n.config(t, ln)
	c.Bootstrap = true
	c.HTTPLimits = httpserve.Options{MaxConnsPerIP: 2, IdleTimeout: 300 * time.Millisecond}
	srv, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	n.srv = srv
	t.Cleanup(func() { n.stop(t) })
	waitReady(t, n)
	get := func(c net.Conn) *http.Response {
		t.Helper()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", n.httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if get(conns[0]).StatusCode != 200 || get(conns[1]).StatusCode != 200 {
		t.Fatal("connections under the cap refused")
	}
	if resp := get(conns[2]); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection from one address: %d, want 503", resp.StatusCode)
	}
	// The idle keep-alive connections are closed by the server.
	conns[0].SetReadDeadline(time.Now().Add(30 * time.Second))
	if b, err := io.ReadAll(conns[0]); err != nil || strings.TrimSpace(string(b)) != "" {
		t.Fatalf("idle connection: read %q, %v; want closed by the server", b, err)
	}
}
