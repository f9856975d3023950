package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/internal/tlsconf"
	"github.com/eucora/eucora/transfer"
)

// testNode is one in-process hub node with its addresses and data. A node
// on a raftNet runs Raft on an in-memory transport with in-memory log,
// stable and snapshot stores, which it keeps across restarts as a disk
// would; a node without one runs Raft as production does (TCP,
// raft-boltdb, snapshot files). Either way its HTTP API listens on
// loopback, so peer calls (forwarding to the leader, blob replication)
// are real, and its Pebble state, blobs and keys are in dir.
type testNode struct {
	id, dir, raftAddr string
	httpAddr          string
	srv               *Server
	down              atomic.Bool // set while crashed, read by writer goroutines

	net     *raftNet // nil: real Raft transport and stores
	logs    *raft.InmemStore
	snaps   *raft.InmemSnapshotStore
	timeout time.Duration     // Raft election timeout; 0: Fast (700 ms)
	tls     *tlsconf.Material // nil: plaintext HTTP and Raft
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

// newTestNode returns a node that runs Raft as production does.
func newTestNode(t testing.TB, root, id string) *testNode {
	t.Helper()
	return &testNode{id: id, dir: filepath.Join(root, id), raftAddr: freeAddr(t), httpAddr: freeAddr(t)}
}

// newMemNode returns a node whose Raft traffic goes over rn and whose Raft
// log and snapshots stay in memory.
func newMemNode(t testing.TB, rn *raftNet, root, id string, timeout time.Duration) *testNode {
	t.Helper()
	return &testNode{id: id, dir: filepath.Join(root, id), raftAddr: rn.newAddr(id), httpAddr: freeAddr(t),
		net: rn, logs: raft.NewInmemStore(), snaps: raft.NewInmemSnapshotStore(), timeout: timeout}
}

// config is the node's server configuration; a node on a raftNet gets a
// fresh transport connected to the running members.
func (n *testNode) config(t testing.TB, ln net.Listener) Config {
	c := Config{
		DataDir: n.dir, RaftAddr: n.raftAddr, NodeID: n.id, Listener: ln, Logger: testLogger(t).With("node", n.id),
		Fast: true, ElectionTimeout: n.timeout, DutyInterval: 200 * time.Millisecond, SnapshotThreshold: 64, TrailingLogs: 32,
		// Rollout tests step the orchestrator themselves (Server.orchestrator().Pass).
		RolloutInterval: -1,
		TLS:             n.tls,
	}
	if n.net != nil {
		c.Raft = store.RaftDeps{Transport: n.net.attach(n.raftAddr), Logs: n.logs, Stable: n.logs, Snapshots: n.snaps}
	}
	return c
}

// start starts (or restarts) the node on its fixed addresses.
func (n *testNode) start(t testing.TB, bootstrap bool, join, token string) {
	t.Helper()
	var ln net.Listener
	var err error
	// The port may still be held by this node's previous run.
	poll(10*time.Second, func() bool { ln, err = net.Listen("tcp", n.httpAddr); return err == nil })
	if err != nil {
		t.Fatal(err)
	}
	c := n.config(t, ln)
	c.Bootstrap, c.Join, c.JoinToken = bootstrap, join, token
	srv, err := New(c)
	if err != nil {
		ln.Close()
		n.detach()
		t.Fatalf("start %s: %v", n.id, err)
	}
	n.srv = srv
}

// stop shuts the node down gracefully (leadership handed over first).
func (n *testNode) stop(t testing.TB) {
	t.Helper()
	if n.srv == nil {
		return
	}
	// An HTTP client may hold a connection to this node on which it never
	// sent a request (dialled for a request another connection then
	// served); Shutdown waits 5 s for such a connection. The test clients
	// and the nodes' peer clients all use the default transport.
	http.DefaultClient.CloseIdleConnections()
	if err := n.srv.Close(); err != nil {
		t.Logf("close %s: %v", n.id, err)
	}
	n.srv = nil
	n.detach()
}

// crash stops the node abruptly, as a kill would: on a raftNet its peers
// lose it at once, then it stops without handing anything over.
func (n *testNode) crash() {
	n.down.Store(true)
	n.detach()
	n.srv.crash()
	n.srv = nil
}

func (n *testNode) detach() {
	if n.net != nil {
		n.net.detach(n.raftAddr)
	}
}

// partition cuts the node's Raft traffic to and from every other node
// until heal; its HTTP API stays reachable. Only for nodes on a raftNet.
func (n *testNode) partition(t testing.TB) {
	t.Helper()
	if n.net == nil {
		t.Fatalf("partition %s: not on an in-memory Raft network", n.id)
	}
	n.net.partition(n.raftAddr)
}

func (n *testNode) heal() { n.net.heal(n.raftAddr) }

func (n *testNode) url() string {
	if n.tls != nil {
		return "https://" + n.httpAddr
	}
	return "http://" + n.httpAddr
}

// raftNet is the Raft network of an in-memory cluster. It connects the
// InmemTransports of running nodes both ways, as a switch would: a
// node that stops is detached at once (its peers' calls fail as a refused
// connection would), a partitioned node stays attached but reaches no one
// and no one reaches it until healed.
type raftNet struct {
	mu    sync.Mutex
	seq   int
	trans map[raft.ServerAddress]*raft.InmemTransport // running nodes
	cut   map[raft.ServerAddress]bool                 // partitioned nodes
}

func newRaftNet() *raftNet {
	return &raftNet{trans: map[raft.ServerAddress]*raft.InmemTransport{}, cut: map[raft.ServerAddress]bool{}}
}

// newAddr returns an address not used before on rn, in the host:port form
// join requests require.
func (rn *raftNet) newAddr(id string) string {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.seq++
	return fmt.Sprintf("%s.inmem:%d", id, rn.seq)
}

// inmemRPCTimeout bounds how long an RPC waits for a connected peer to take
// and answer it (raft's default, 500 ms, is short under -race on 2 cores).
const inmemRPCTimeout = 2 * time.Second

// attach gives addr a new transport connected to every reachable node.
func (rn *raftNet) attach(addr string) *raft.InmemTransport {
	a := raft.ServerAddress(addr)
	_, tr := raft.NewInmemTransportWithTimeout(a, inmemRPCTimeout)
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if old := rn.trans[a]; old != nil {
		rn.unlink(a, old)
	}
	rn.trans[a] = tr
	rn.link(a, tr)
	return tr
}

// detach removes addr from the network. RPCs its peers queued for it and
// it will never take are refused, as a closed connection would end them,
// instead of keeping the peers waiting for inmemRPCTimeout.
func (rn *raftNet) detach(addr string) {
	a := raft.ServerAddress(addr)
	rn.mu.Lock()
	tr := rn.trans[a]
	if tr != nil {
		rn.unlink(a, tr)
		delete(rn.trans, a)
	}
	rn.mu.Unlock()
	if tr == nil {
		return
	}
	for {
		select {
		case rpc := <-tr.Consumer():
			refuse(rpc)
		default:
			return
		}
	}
}

var errNodeStopped = errors.New("node stopped")

// refuse answers rpc with an error and an empty response of its type (the
// in-memory pipeline reads the response before the error).
func refuse(rpc raft.RPC) {
	var resp any
	switch rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		resp = &raft.AppendEntriesResponse{}
	case *raft.RequestVoteRequest:
		resp = &raft.RequestVoteResponse{}
	case *raft.RequestPreVoteRequest:
		resp = &raft.RequestPreVoteResponse{}
	case *raft.InstallSnapshotRequest:
		resp = &raft.InstallSnapshotResponse{}
	case *raft.TimeoutNowRequest:
		resp = &raft.TimeoutNowResponse{}
	}
	rpc.Respond(resp, errNodeStopped)
}

func (rn *raftNet) partition(addr string) {
	a := raft.ServerAddress(addr)
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.cut[a] = true
	if tr := rn.trans[a]; tr != nil {
		rn.unlink(a, tr)
	}
}

func (rn *raftNet) heal(addr string) {
	a := raft.ServerAddress(addr)
	rn.mu.Lock()
	defer rn.mu.Unlock()
	delete(rn.cut, a)
	if tr := rn.trans[a]; tr != nil {
		rn.link(a, tr)
	}
}

// link connects a both ways to every other running node, unless either
// side is partitioned. rn.mu is held.
func (rn *raftNet) link(a raft.ServerAddress, tr *raft.InmemTransport) {
	for b, other := range rn.trans {
		if b == a || rn.cut[a] || rn.cut[b] {
			continue
		}
		tr.Connect(b, other)
		other.Connect(a, tr)
	}
}

// unlink disconnects a both ways from every other node. rn.mu is held.
func (rn *raftNet) unlink(a raft.ServerAddress, tr *raft.InmemTransport) {
	for b, other := range rn.trans {
		if b == a {
			continue
		}
		tr.Disconnect(b)
		other.Disconnect(a)
	}
}

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
	var b []byte
	var err error
	if !poll(30*time.Second, func() bool { b, err = os.ReadFile(filepath.Join(n.dir, BootstrapTokenFile)); return err == nil }) {
		t.Fatalf("no bootstrap token: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// clusterOpts configures makeCluster.
type clusterOpts struct {
	// RealRaft runs Raft as production does (TCP, raft-boltdb, snapshot
	// files) instead of in memory, for tests of that path.
	RealRaft bool
	// ElectionTimeout is Raft's heartbeat and election timeout; zero takes
	// 50 ms for a one-node in-memory cluster (it cannot lose its leader),
	// 300 ms for a larger one and Fast (700 ms) on real Raft.
	ElectionTimeout time.Duration
	// TLS gives every node a certificate of one CA made by tlsconf.Init
	// (for 127.0.0.1 and localhost): the API is served over TLS and, on
	// real Raft, Raft runs over mutual TLS.
	TLS bool
}

// makeCluster starts size nodes, n1 to nN, in the manner of hashicorp/raft's
// MakeCluster: the first bootstraps, the rest join it over HTTP; it waits
// until every node is ready and returns the nodes and the bootstrap
// platform-admin token. The nodes stop when the test ends.
func makeCluster(t testing.TB, size int, o clusterOpts) ([]*testNode, string) {
	t.Helper()
	root := t.TempDir()
	timeout := o.ElectionTimeout
	if timeout == 0 && !o.RealRaft {
		timeout = 300 * time.Millisecond
		if size == 1 {
			timeout = 50 * time.Millisecond
		}
	}
	rn := newRaftNet()
	nodes := make([]*testNode, size)
	for i := range nodes {
		id := fmt.Sprintf("n%d", i+1)
		if o.RealRaft {
			nodes[i] = newTestNode(t, root, id)
			nodes[i].timeout = timeout
		} else {
			nodes[i] = newMemNode(t, rn, root, id, timeout)
		}
	}
	if o.TLS {
		mats := clusterTLS(t, filepath.Join(root, "tls"), size)
		for i, n := range nodes {
			n.tls = mats[i]
		}
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

// poll calls try until it returns true or budget has passed, pausing
// between calls with exponential backoff (5 ms, doubling, at most 100 ms),
// and reports whether try succeeded. Every retry of the hub tests goes
// through it: bounded by time, because a count of tries runs out in
// milliseconds on a busy machine while a cluster is still electing a
// leader, and never in a tight loop.
func poll(budget time.Duration, try func() bool) bool {
	deadline := time.Now().Add(budget)
	pause := 5 * time.Millisecond
	for !try() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(pause, left))
		pause = min(2*pause, 100*time.Millisecond)
	}
	return true
}

// eventually polls cond until it holds, failing the test after 30 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll(30*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
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

// cli is a client of n; for a node with TLS it verifies the node against
// the cluster CA and presents no certificate, as the CLI does.
func cli(n *testNode, tok string) *client.Client {
	c := client.New(n.url(), tok)
	if n.tls != nil {
		c.HTTP.Transport = tlsconf.Transport(&tls.Config{RootCAs: n.tls.CAs})
	}
	return c
}

// createSite creates a site through the nodes, moving on to the next node
// while the cluster has no leader. A conflict after an ambiguous attempt
// means the earlier attempt was applied.
func createSite(t testing.TB, nodes []*testNode, tok string, req api.SiteRequest) {
	t.Helper()
	var err error
	ambiguous, try := false, 0
	ok := poll(30*time.Second, func() bool {
		n := nodes[try%len(nodes)]
		try++
		if n.srv == nil || n.down.Load() {
			return false
		}
		_, err = cli(n, tok).CreateSite(ctxT(t), req)
		switch {
		case err == nil, errors.Is(err, client.ErrConflict) && ambiguous:
			err = nil
			return true
		case errors.Is(err, client.ErrUnavailable):
			ambiguous = true
			return false
		}
		return true
	})
	if err != nil || !ok {
		t.Fatalf("create site %s: %v", req.Name, err)
	}
}

// retry runs fn until it succeeds or fails with something other than
// client.ErrUnavailable (no leader during an election), for idempotent
// operations; it gives up after 30 s.
func retry(t testing.TB, fn func() error) error {
	t.Helper()
	var err error
	poll(30*time.Second, func() bool {
		err = fn()
		return err == nil || !errors.Is(err, client.ErrUnavailable)
	})
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

// clusterTLS makes a CA and certificates for nodes n1..nN (SANs 127.0.0.1
// and localhost) in dir with tlsconf.Init, and loads them.
func clusterTLS(t testing.TB, dir string, size int) []*tlsconf.Material {
	t.Helper()
	var specs []tlsconf.NodeSpec
	for i := range size {
		spec, err := tlsconf.ParseNodeSpec(fmt.Sprintf("n%d=127.0.0.1,localhost", i+1))
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, spec)
	}
	res, err := tlsconf.Init(tlsconf.InitOptions{Dir: dir, Nodes: specs})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*tlsconf.Material, size)
	for i, iss := range res.Nodes {
		if out[i], err = tlsconf.Load(tlsconf.Files{Cert: iss.Cert, Key: iss.Key, CA: res.CA}, tlsconf.ForNode, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
