// Package hubtest starts real in-process hubs for other packages' tests.
package hubtest

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/hub"
)

// Start runs a one-node hub (fast Raft timeouts) in a temporary data
// directory, stopped when the test ends, and returns the directory, its
// URL and the bootstrap platform-admin token.
func Start(t testing.TB) (dir, url, token string) {
	t.Helper()
	dir = t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raftAddr := rl.Addr().String()
	rl.Close()
	srv, err := hub.New(hub.Config{DataDir: dir, RaftAddr: raftAddr, NodeID: "node1", Bootstrap: true, Listener: ln, Fast: true,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	select {
	case <-srv.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("hub not ready after 30s")
	}
	var tok []byte
	for i := 0; i < 300; i++ {
		if tok, err = os.ReadFile(filepath.Join(dir, hub.BootstrapTokenFile)); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no bootstrap token: %v", err)
	}
	return dir, "http://" + ln.Addr().String(), strings.TrimSpace(string(tok))
}
