package hub

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
)

// A node on in-memory Raft parts writes no Raft log or snapshot files; its
// FSM state, keys and token are on disk as usual.
func TestInMemoryRaftWritesNoRaftFiles(t *testing.T) {
	nodes, tok := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	if _, err := cli(n, tok).CreateSite(ctxT(t), api.SiteRequest{Name: "berlin", Class: "online"}); err != nil {
		t.Fatal(err)
	}
	if err := n.srv.Store().Snapshot(); err != nil {
		t.Fatal(err)
	}
	if metas, err := n.snaps.List(); err != nil || len(metas) != 1 {
		t.Fatalf("in-memory snapshots %v %v, want one", metas, err)
	}
	for _, p := range []string{"raft.db", "snapshots"} {
		if _, err := os.Stat(filepath.Join(n.dir, "hub", p)); !os.IsNotExist(err) {
			t.Errorf("hub/%s: %v, want none", p, err)
		}
	}
	for _, p := range []string{"hub/fsm", "keys/hub.key", BootstrapTokenFile} {
		if _, err := os.Stat(filepath.Join(n.dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// Incomplete or inconsistent Raft parts are refused before anything is
// opened, naming what is wrong.
func TestRaftDepsRefused(t *testing.T) {
	_, tr := raft.NewInmemTransport("n1.inmem:1")
	for _, tc := range []struct {
		name string
		deps store.RaftDeps
		want string
	}{
		{"log store without stable store", store.RaftDeps{Logs: raft.NewInmemStore()}, "Raft.Logs and Raft.Stable must be set together"},
		{"stable store without log store", store.RaftDeps{Stable: raft.NewInmemStore()}, "Raft.Logs and Raft.Stable must be set together"},
		{"transport on another address", store.RaftDeps{Transport: tr}, `its address "n1.inmem:1" is not RaftAddr "n1.inmem:2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			srv, err := New(Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", RaftAddr: "n1.inmem:2", NodeID: "n1", Bootstrap: true,
				Logger: testLogger(t), ElectionTimeout: 50 * time.Millisecond, Raft: tc.deps})
			if err == nil {
				srv.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "hub")); !os.IsNotExist(err) {
				t.Errorf("hub directory: %v, want none", err)
			}
		})
	}
}
