package hub

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
)

// siteNames returns the names of the sites a node holds locally.
func siteNames(t testing.TB, n *testNode) map[string]bool {
	t.Helper()
	sites, err := n.srv.Store().State().Sites()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range sites {
		out[s.Name] = true
	}
	return out
}

// hasAll reports whether every node holds every name in want.
func hasAll(t testing.TB, nodes []*testNode, want []string) bool {
	for _, n := range nodes {
		have := siteNames(t, n)
		for _, w := range want {
			if !have[w] {
				return false
			}
		}
	}
	return true
}

func checkChains(t testing.TB, n *testNode) {
	t.Helper()
	evs, err := n.srv.Store().State().Events(0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.VerifyChains(evs); err != nil {
		t.Fatalf("%s: %v", n.id, err)
	}
}

// writeSites creates sites named prefix-k through the nodes round-robin,
// until stop is closed or total acknowledgements are reached; it returns
// the acknowledged names.
func writeSites(t testing.TB, nodes []*testNode, tok, prefix string, acks *atomic.Int64, total int64) []string {
	var acked []string
	for k := 0; acks.Load() < total; k++ {
		name := fmt.Sprintf("%s-%d", prefix, k)
		// While a new leader is elected, followers still forward to the
		// dead one: poll bounds the retries by time, with a growing pause.
		var err error
		try := 0
		done := poll(30*time.Second, func() bool {
			n := nodes[(k+try)%len(nodes)]
			try++
			if n.down.Load() {
				return false
			}
			_, err = cli(n, tok).CreateSite(ctxT(t), api.SiteRequest{Name: name, Class: "online"})
			switch {
			case err == nil:
				acked = append(acked, name)
				acks.Add(1)
				return true
			case errors.Is(err, client.ErrConflict):
				return true // an earlier ambiguous attempt was applied: not acknowledged to us
			}
			return false
		})
		if !done {
			t.Errorf("write %s never succeeded in 30 s: %v", name, err)
			return acked
		}
	}
	return acked
}

func TestClusterLeaderLossDuringConcurrentWrites(t *testing.T) {
	nodes, tok := makeCluster(t, 3, clusterOpts{})
	var acks atomic.Int64
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			a := writeSites(t, nodes, tok, fmt.Sprintf("w%d", w), &acks, 150)
			mu.Lock()
			all = append(all, a...)
			mu.Unlock()
		}(w)
	}
	eventually(t, "some writes", func() bool { return acks.Load() >= 30 })
	old := leaderOf(t, nodes)
	old.crash() // writers skip it from now on
	eventually(t, "a new leader", func() bool {
		for _, n := range nodes {
			if n != old && n.srv != nil && n.srv.Store().IsLeader() {
				return true
			}
		}
		return false
	})
	wg.Wait()
	old.start(t, false, "", "")
	old.down.Store(false)
	waitReady(t, old)
	eventually(t, "every acknowledged write on every node", func() bool { return hasAll(t, nodes, all) })
	if len(all) < 150 {
		t.Fatalf("only %d writes acknowledged", len(all))
	}
	for _, n := range nodes {
		checkChains(t, n)
	}
}

// TestClusterLeaderPartitionedFromRaft cuts the leader's Raft traffic
// while its HTTP API stays up: the majority elects a new leader and takes
// writes, the isolated node acknowledges none, and once healed it follows
// the new leader and holds exactly the acknowledged writes.
func TestClusterLeaderPartitionedFromRaft(t *testing.T) {
	nodes, tok := makeCluster(t, 3, clusterOpts{})
	createSite(t, nodes, tok, api.SiteRequest{Name: "before", Class: "online"})
	old := leaderOf(t, nodes)
	var rest []*testNode
	for _, n := range nodes {
		if n != old {
			rest = append(rest, n)
		}
	}
	old.partition(t)
	leaderOf(t, rest)
	want := []string{"before"}
	for i := range 5 {
		name := fmt.Sprintf("during-%d", i)
		createSite(t, rest, tok, api.SiteRequest{Name: name, Class: "online"})
		want = append(want, name)
	}
	// The isolated node cannot commit: whether it still thinks it leads or
	// knows it does not, a write sent to it is not acknowledged.
	if _, err := cli(old, tok).CreateSite(ctxT(t), api.SiteRequest{Name: "isolated", Class: "online"}); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("write through the partitioned node: %v, want unavailable", err)
	}
	old.heal()
	eventually(t, "the healed node follows and catches up", func() bool {
		return !old.srv.Store().IsLeader() && hasAll(t, []*testNode{old}, want)
	})
	eventually(t, "every write on every node", func() bool { return hasAll(t, nodes, want) })
	for _, n := range nodes {
		if siteNames(t, n)["isolated"] {
			t.Fatalf("%s holds the write the partitioned node never acknowledged", n.id)
		}
		checkChains(t, n)
	}
}

// TestClusterFollowerRestartFromSnapshot runs on real Raft (TCP,
// raft-boltdb, snapshot files): a restart reads them back from disk.
func TestClusterFollowerRestartFromSnapshot(t *testing.T) {
	nodes, tok := makeCluster(t, 3, clusterOpts{RealRaft: true})
	leader := leaderOf(t, nodes)
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	var want []string
	add := func(prefix string, k int) {
		for i := 0; i < k; i++ {
			name := fmt.Sprintf("%s-%d", prefix, i)
			createSite(t, nodes, tok, api.SiteRequest{Name: name, Class: "intermittent"})
			want = append(want, name)
		}
	}
	add("a", 20)
	eventually(t, "follower caught up", func() bool { return hasAll(t, []*testNode{follower}, want) })
	// The follower restarts from its own snapshot...
	if err := follower.srv.Store().Snapshot(); err != nil {
		t.Fatal(err)
	}
	follower.stop(t)
	// ...and, while it is down, the leader compacts its log past the
	// follower's last entry, so catching up needs InstallSnapshot.
	add("b", 120)
	if err := leaderOf(t, nodes).srv.Store().Snapshot(); err != nil {
		t.Fatal(err)
	}
	add("c", 10)
	follower.start(t, false, "", "")
	waitReady(t, follower)
	eventually(t, "restarted follower has everything", func() bool { return hasAll(t, nodes, want) })
	checkChains(t, follower)
	// Restart once more, now from the installed snapshot.
	follower.stop(t)
	follower.start(t, false, "", "")
	waitReady(t, follower)
	if !hasAll(t, []*testNode{follower}, want) {
		t.Fatal("state lost across restart")
	}
}

func TestClusterNodeRemovedAndReAdded(t *testing.T) {
	nodes, tok := makeCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	victim := nodes[2]
	c := cli(nodes[0], tok)
	if err := retry(t, func() error { return c.RemoveNode(ctx, victim.id) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two members", func() bool {
		s, err := c.Status(ctx)
		return err == nil && len(s.Nodes) == 2
	})
	victim.stop(t)
	createSite(t, nodes[:2], tok, api.SiteRequest{Name: "after-removal", Class: "online"})
	// Re-add with an empty data directory, through a member that is not
	// necessarily the leader.
	fresh := newMemNode(t, victim.net, t.TempDir(), victim.id, victim.timeout)
	nodes[2] = fresh
	fresh.start(t, false, nodes[1].url(), tok)
	waitReady(t, fresh)
	eventually(t, "re-added node caught up", func() bool { return hasAll(t, nodes, []string{"after-removal"}) })
	s, err := cli(fresh, tok).Status(ctx)
	if err != nil || len(s.Nodes) != 3 {
		t.Fatalf("status after re-add: %+v %v", s, err)
	}
	for _, n := range s.Nodes {
		if !n.Reachable || n.Suffrage != "voter" {
			t.Fatalf("node %+v", n)
		}
	}
}

func TestClusterBlobMajorityAndRepair(t *testing.T) {
	nodes, tok := makeCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	data := make([]byte, 300<<10)
	rand.Read(data)
	sum := sha256.Sum256(data)
	hx := hex.EncodeToString(sum[:])
	leader := leaderOf(t, nodes)
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}
	// Through a follower: forwarded to the leader, acknowledged on a majority.
	if err := retry(t, func() error { return cli(follower, tok).PutBlob(ctx, hx, bytes.NewReader(data), int64(len(data))) }); err != nil {
		t.Fatal(err)
	}
	holders := 0
	for _, n := range nodes {
		if ok, _ := n.srv.cas.Has(digest.MustParse(hx)); ok {
			holders++
		}
	}
	if holders < 2 {
		t.Fatalf("acknowledged blob on %d nodes", holders)
	}
	eventually(t, "blob and its record on every node", func() bool {
		for _, n := range nodes {
			if ok, _ := n.srv.cas.Has(digest.MustParse(hx)); !ok {
				return false
			}
			// A copy may arrive before the node applies the record; a
			// stale read below needs both.
			if _, err := n.srv.store.State().Blob(hx); err != nil {
				return false
			}
		}
		return true
	})
	// Any node serves it, also after losing its copy (fetched from peers).
	if err := follower.srv.cas.Remove(digest.MustParse(hx)); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		cl := cli(n, tok)
		cl.Stale = true
		var rc io.ReadCloser
		err := retry(t, func() (err error) { rc, err = cl.GetBlob(ctx, hx); return err })
		if err != nil {
			t.Fatalf("%s: %v", n.id, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("%s served different bytes", n.id)
		}
	}
}
