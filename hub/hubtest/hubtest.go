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

	"github.com/hashicorp/raft"

	"github.com/eucora/eucora/hub"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/tlsconf"
)

// Start runs a one-node hub in a temporary data directory, stopped when the
// test ends, and returns the directory, its URL and the bootstrap
// platform-admin token. The hub is real (HTTP API on loopback, Pebble
// state, blobs and keys in the directory) except for Raft, which runs on
// hashicorp/raft's in-memory transport, log and snapshot stores with
// short timeouts (store.RaftDeps): a lone member needs no network, and it
// leads within about 100 ms instead of a second.
func Start(t testing.TB) (dir, url, token string) {
	t.Helper()
	return StartTLS(t, nil)
}

// StartTLS is Start with the API served over TLS with m (nil: plaintext,
// as Start); the URL is then https://.
func StartTLS(t testing.TB, m *tlsconf.Material) (dir, url, token string) {
	t.Helper()
	dir = t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const raftAddr = "node1.inmem:1"
	_, trans := raft.NewInmemTransport(raftAddr)
	logs := raft.NewInmemStore()
	srv, err := hub.New(hub.Config{DataDir: dir, RaftAddr: raftAddr, NodeID: "node1", Bootstrap: true, Listener: ln,
		ElectionTimeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), TLS: m,
		Raft: store.RaftDeps{Transport: trans, Logs: logs, Stable: logs, Snapshots: raft.NewInmemSnapshotStore()}})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	select {
	case <-srv.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("hub not ready after 30s")
	}
	// The token is written just after the node's first leader duties;
	// poll for it with a growing pause, for at most 30 s.
	var tok []byte
	deadline := time.Now().Add(30 * time.Second)
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		if tok, err = os.ReadFile(filepath.Join(dir, hub.BootstrapTokenFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bootstrap token after 30s: %v", err)
		}
		time.Sleep(pause)
	}
	return dir, srv.URL(), strings.TrimSpace(string(tok))
}
