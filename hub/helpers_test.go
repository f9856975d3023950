package hub

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// testNode is one in-process hub node with its addresses and data.
type testNode struct {
	id, dir, raftAddr string
	ln                net.Listener
	httpAddr          string
	srv               *Server
	down              atomic.Bool // set while crashed, read by writer goroutines
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("HUB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newTestNode(t testing.TB, root, id string) *testNode {
	t.Helper()
	return &testNode{id: id, dir: filepath.Join(root, id), raftAddr: freeAddr(t), httpAddr: freeAddr(t)}
}

// start starts (or restarts) the node on its fixed addresses.
func (n *testNode) start(t testing.TB, bootstrap bool, join, token string) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", n.httpAddr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // port still in TIME_WAIT from a previous run of this node
	}
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		DataDir: n.dir, RaftAddr: n.raftAddr, NodeID: n.id, Bootstrap: bootstrap, Join: join, JoinToken: token,
		Logger: testLogger(t).With("node", n.id), Listener: ln, Fast: true, DutyInterval: 200 * time.Millisecond,
		SnapshotThreshold: 64, TrailingLogs: 32,
	})
	if err != nil {
		t.Fatalf("start %s: %v", n.id, err)
	}
	n.srv = srv
}

func (n *testNode) stop(t testing.TB) {
	t.Helper()
	if n.srv == nil {
		return
	}
	if err := n.srv.Close(); err != nil {
		t.Logf("close %s: %v", n.id, err)
	}
	n.srv = nil
}

func (n *testNode) url() string { return "http://" + n.httpAddr }

func waitReady(t testing.TB, n *testNode) {
	t.Helper()
	select {
	case <-n.srv.Ready():
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s not ready", n.id)
	}
}

func readToken(t testing.TB, n *testNode) string {
	t.Helper()
	path := filepath.Join(n.dir, BootstrapTokenFile)
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bootstrap token: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startCluster starts n nodes: the first bootstraps, the rest join it.
func startCluster(t testing.TB, size int) ([]*testNode, string) {
	t.Helper()
	root := t.TempDir()
	nodes := make([]*testNode, size)
	for i := range nodes {
		nodes[i] = newTestNode(t, root, "n"+string(rune('1'+i)))
	}
	nodes[0].start(t, true, "", "")
	t.Cleanup(func() {
		for _, n := range nodes {
			n.stop(t)
		}
	})
	waitReady(t, nodes[0])
	tok := readToken(t, nodes[0])
	for _, n := range nodes[1:] {
		n.start(t, false, nodes[0].url(), tok)
	}
	for _, n := range nodes {
		waitReady(t, n)
	}
	return nodes, tok
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leaderOf(t testing.TB, nodes []*testNode) *testNode {
	t.Helper()
	var l *testNode
	eventually(t, "a leader", func() bool {
		for _, n := range nodes {
			if n.srv != nil && n.srv.Store().IsLeader() {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

func cli(n *testNode, tok string) *client.Client { return client.New(n.url(), tok) }

// createSite creates a site through the nodes, retrying through another
// node while the cluster has no leader. A conflict after an ambiguous
// attempt means the earlier attempt was applied.
func createSite(t testing.TB, nodes []*testNode, tok string, req api.SiteRequest) {
	t.Helper()
	var err error
	ambiguous := false
	for try := 0; try < 300; try++ {
		n := nodes[try%len(nodes)]
		if n.srv == nil || n.down.Load() {
			continue
		}
		_, err = cli(n, tok).CreateSite(ctxT(t), req)
		switch {
		case err == nil:
			return
		case errors.Is(err, client.ErrConflict) && ambiguous:
			return
		case errors.Is(err, client.ErrUnavailable):
			ambiguous = true
			time.Sleep(50 * time.Millisecond)
			continue
		}
		t.Fatalf("create site %s: %v", req.Name, err)
	}
	t.Fatalf("create site %s: %v", req.Name, err)
}

// retry runs fn until it succeeds or fails with something other than
// client.ErrUnavailable (no leader during an election), for idempotent
// operations.
func retry(t testing.TB, fn func() error) error {
	t.Helper()
	var err error
	for try := 0; try < 300; try++ {
		if err = fn(); err == nil || !errors.Is(err, client.ErrUnavailable) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// importRequest reads an edge bundle's volumes as 'eucora hub import' does
// and builds the request body.
func importRequest(ctx context.Context, files []string, trust signing.Trust, tmpDir string) (*api.ImportRequest, *transfer.Signed, error) {
	sg, recs, err := transfer.ReadRecords(ctx, files, trust, tmpDir)
	if err != nil {
		return nil, nil, err
	}
	return api.NewImportRequest(sg.Envelope, recs), sg, nil
}
