package sdnotify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
)

func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// TestWatchdogWithholdsPingsWhileUnhealthy: no WATCHDOG=1 is sent before
// the check passes; the first ping follows the first passing check.
func TestWatchdogWithholdsPingsWhileUnhealthy(t *testing.T) {
	conn := listen(t)
	t.Setenv("WATCHDOG_USEC", "20000")
	var calls atomic.Int32
	check := func(context.Context) error {
		if calls.Add(1) <= 3 {
			return errors.New("store closed")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Watchdog(ctx, check, slog.New(slog.NewTextHandler(io.Discard, nil))); close(done) }()
	if got := read(t, conn); got != "WATCHDOG=1" {
		t.Fatalf("got %q", got)
	}
	if n := calls.Load(); n < 4 {
		t.Fatalf("pinged after %d checks, 3 of which failed", n)
	}
	cancel()
	<-done
}

func TestReadyStoppingAndHTTPCheck(t *testing.T) {
	conn := listen(t)
	if err := Ready("serving x"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, conn); got != "READY=1\nSTATUS=serving x" {
		t.Fatalf("got %q", got)
	}
	if err := Stopping(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, conn); got != "STOPPING=1" {
		t.Fatalf("got %q", got)
	}
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	check := HTTPCheck(func() string { return srv.URL + "/healthz" })
	if err := check(context.Background()); err != nil {
		t.Errorf("healthy: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := check(context.Background()); err == nil {
		t.Error("a 503 passed")
	}
	srv.Close()
	if err := check(context.Background()); err == nil {
		t.Error("a closed listener passed")
	}
}

// TestNoWatchdogReturns: without WATCHDOG_USEC, Watchdog returns at once.
func TestNoWatchdogReturns(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	Watchdog(context.Background(), func(context.Context) error { t.Error("checked"); return nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
}
