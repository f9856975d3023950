package httpserve

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve starts a real server on 127.0.0.1 with o and returns its address.
func serve(t *testing.T, h http.Handler, o Options) (string, net.Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Server(h, o)
	lim := Listen(ln, o)
	go srv.Serve(lim)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), lim
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads from c until the server closes it (or the safety net of
// a long deadline passes, which fails the test).
func untilClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server kept the connection open (read so far %q)", b)
	}
	return string(b)
}

func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		Options{IdleTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	got := untilClosed(t, c)
	if !strings.HasPrefix(got, "HTTP/1.1 200") || !strings.HasSuffix(got, "ok") {
		t.Fatalf("answer %q", got)
	}
}

func TestTrickledBodyIsCut(t *testing.T) {
	read := make(chan error, 1)
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		read <- err
		if err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusRequestTimeout)
		}
	}), Options{BodyGrace: 300 * time.Millisecond, BodyMinRate: 1 << 20})
	c := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
	// One byte now and then, for as long as the server keeps reading.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	select {
	case err := <-read:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("trickled body read ended with %v, want a timeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server was still reading a trickled body after 30s")
	}
}

func TestFastLargeBodyIsNotCut(t *testing.T) {
	const size = 8 << 20
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil || n != size {
			http.Error(w, "short", http.StatusBadRequest)
			return
		}
		io.WriteString(w, "ok")
	}), Options{BodyGrace: 2 * time.Second, BodyMinRate: 1 << 20})
	resp, err := http.Post("http://"+addr+"/", "application/octet-stream", io.LimitReader(zeros{}, size))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestConnectionCapsPerIPAndPerListener(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		cap  int
	}{
		{"per client address", Options{MaxConns: 100, MaxConnsPerIP: 3}, 3},
		{"per listener", Options{MaxConns: 2, MaxConnsPerIP: 100}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr, lim := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), c.o)
			var held []net.Conn
			for i := 0; i < c.cap; i++ {
				conn := dial(t, addr)
				// A request on each proves the server accepted it.
				io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("connection %d: %v %v", i, resp, err)
				}
				held = append(held, conn)
			}
			over := dial(t, addr)
			if got := untilClosed(t, over); !strings.HasPrefix(got, "HTTP/1.1 503") || !strings.Contains(got, "Retry-After: 1") {
				t.Fatalf("connection over the cap: %q, want 503 and closed", got)
			}
			if n := Open(lim); n != c.cap {
				t.Fatalf("open connections %d, want %d", n, c.cap)
			}
			// Closing one frees its slot.
			held[0].Close()
			deadline := time.Now().Add(30 * time.Second)
			for Open(lim) != c.cap-1 {
				if time.Now().After(deadline) {
					t.Fatal("slot not released after close")
				}
				time.Sleep(10 * time.Millisecond)
			}
			conn := dial(t, addr)
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || resp.StatusCode != 200 {
				t.Fatalf("after a release: %v %v", resp, err)
			}
		})
	}
}
