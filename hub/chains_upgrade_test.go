package hub

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// updateDataDirChains rewrites testdata/datadir-chains-v1. It was written
// once, by the hub and edge of commit 4e4c939, whose hub hashed its events
// by rule 1 and re-hashed edge events; never regenerate it with a later
// binary (it would no longer hold rule-1 chains).
var updateDataDirChains = flag.Bool("update-datadir-chains", false, "rewrite testdata/datadir-chains-v1 (only with the rule-1 code of 4e4c939)")

// allEvents reads a hub's whole event log through the API.
func allEvents(t testing.TB, c *client.Client) []api.Event {
	t.Helper()
	var out []api.Event
	after := "0"
	for {
		p, err := c.Events(ctxT(t), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Events...)
		if len(p.Events) < 1000 {
			return out
		}
		after = p.Next
	}
}

// edgeRound runs hub export -> edge import -> edge export -> hub import
// once for site; with toHub false it stops after the edge import.
func edgeRound(t *testing.T, c *client.Client, e *edge.Edge, site string, toHub bool) api.ImportResult {
	t.Helper()
	ctx := ctxT(t)
	x, err := c.ExportSite(ctx, site, api.ExportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Import(ctx, download(t, c, site, x, t.TempDir()), edge.ImportOptions{}); err != nil {
		t.Fatalf("edge import of export %d: %v", x.Sequence, err)
	}
	if !toHub {
		return api.ImportResult{}
	}
	out := t.TempDir()
	if _, err := e.Export(ctx, out, edge.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	req, _, err := importRequest(ctx, files, signing.NewTrust(e.PublicKey()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ir, err := c.ImportSite(ctx, site, req)
	if err != nil {
		t.Fatal(err)
	}
	return ir
}

// parisEvents is an events:batch body for the unenrolled site paris, with
// every optional field and characters JSON escapes.
func parisEvents(seqs ...uint64) api.EventsIngest {
	b := api.EventsIngest{Origin: "paris"}
	for _, s := range seqs {
		b.Events = append(b.Events, api.IngestEvent{Sequence: s, ID: fmt.Sprintf("p-%d", s), Time: time.Date(2026, 11, 28, 12, 0, int(s), 0, time.UTC),
			Actor: "apt", Role: "endpoint", Action: "package.install", Object: "pkg/curl", CorrelationID: "c-1", Outcome: "ok",
			Reason: "a <b> & c", Data: json.RawMessage(fmt.Sprintf(`{"version":"8.5 <&>","n":%d.50}`, s))})
	}
	return b
}

// writeDataDirChains makes testdata/datadir-chains-v1: a one-node hub
// (n1) whose log holds the hub's own chain, the chain of the enrolled
// edge lon merged from two edge bundles, and the chain of the unenrolled
// site paris posted through events:batch out of order; the edge's data
// directory (edge), which holds one event the hub has not seen yet; and
// events.json, the log as the hub served it (what an auditor may hold).
func writeDataDirChains(t *testing.T, golden string) {
	n := &testNode{id: "n1", dir: t.TempDir(), raftAddr: freeAddr(t), httpAddr: freeAddr(t)}
	n.start(t, true, "", "")
	waitReady(t, n)
	c := cli(n, readToken(t, n))
	ctx := ctxT(t)
	if _, err := c.CreateSite(ctx, api.SiteRequest{Name: "lon", Class: api.ClassAirGapped}); err != nil {
		t.Fatal(err)
	}
	hubPub, err := c.HubPublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	edgeDir := t.TempDir()
	e, err := edge.Init(edgeDir, "lon", hubPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnrollSite(ctx, "lon", signing.EncodePublic(e.PublicKey())); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		if ir := edgeRound(t, c, e, "lon", true); ir.EventsAccepted != 1 || !ir.ChainOK {
			t.Fatalf("round %d: %+v", round, ir)
		}
	}
	edgeRound(t, c, e, "lon", false) // the edge's event 3 stays at the edge
	if _, err := c.CreateSite(ctx, api.SiteRequest{Name: "paris", Class: api.ClassOnline}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IngestEvents(ctx, parisEvents(1, 2, 4)); err != nil {
		t.Fatal(err)
	}
	evs, _ := json.MarshalIndent(allEvents(t, c), "", " ")
	n.stop(t)
	os.RemoveAll(golden)
	copyTree(t, n.dir, filepath.Join(golden, "n1"))
	copyTree(t, edgeDir, filepath.Join(golden, "edge"))
	if err := os.WriteFile(filepath.Join(golden, "events.json"), append(evs, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeReopensDataDirChainsV1 starts a node on the data directory
// of testdata/datadir-chains-v1, written by the rule-1 hub: the leader
// moves the log to rule 2 with one audited event, every event it served
// before is served unchanged, every chain verifies across the boundary,
// and the committed edge and the unenrolled site continue their chains,
// the edge's events stored with the hashes the edge computed.
func TestUpgradeReopensDataDirChainsV1(t *testing.T) {
	golden := filepath.Join("testdata", "datadir-chains-v1")
	if *updateDataDirChains {
		writeDataDirChains(t, golden)
	}
	var before []api.Event
	b, err := os.ReadFile(filepath.Join(golden, "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &before); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	n := &testNode{id: "n1", dir: filepath.Join(root, "n1"), httpAddr: freeAddr(t), raftAddr: freeAddr(t)}
	copyTree(t, filepath.Join(golden, "n1"), n.dir)
	copyTree(t, filepath.Join(golden, "edge"), filepath.Join(root, "edge"))
	n.start(t, false, "", "")
	defer func() { n.stop(t) }()
	waitReady(t, n)
	c := cli(n, readToken(t, n))
	after := allEvents(t, c)
	if len(after) <= len(before) {
		t.Fatalf("%d events after reopening, %d before: no chain-rule event", len(after), len(before))
	}
	for i, e := range before {
		if g, _ := json.Marshal(after[i]); string(g) != mustJSON(t, e) {
			t.Fatalf("event %d changed on reopening:\nbefore %s\nafter  %s", e.Cursor, mustJSON(t, e), g)
		}
	}
	if b := after[len(before)]; b.Action != store.ActionChainRule || b.Origin != store.HubOrigin || b.PrevHash != lastHubHash(before) {
		t.Fatalf("event after the old log: %+v", b)
	}

	// The edge, as committed, continues its chain: its pending event 3 (made
	// under the old hub) and this round's import event.
	e, err := edge.Open(filepath.Join(root, "edge"))
	if err != nil {
		t.Fatal(err)
	}
	edgeRound(t, c, e, "lon", false)
	pending, err := e.PendingEvents()
	if err != nil || len(pending) < 2 || pending[0].Seq > 3 {
		t.Fatalf("edge pending events: %v %+v", err, pending)
	}
	if ir := edgeRound(t, c, e, "lon", true); !ir.ChainOK || ir.EventsAccepted == 0 {
		t.Fatalf("hub import after the upgrade: %+v", ir)
	}
	if _, err := c.IngestEvents(ctxT(t), parisEvents(3, 5)); err != nil {
		t.Fatal(err)
	}
	checkEdgeHashes(t, allEvents(t, c), "lon", pending)

	// A restart proposes nothing more, and the log still verifies.
	n.stop(t)
	n.start(t, false, "", "")
	waitReady(t, n)
	c = cli(n, readToken(t, n))
	final := allEvents(t, c)
	rules := 0
	for _, ev := range final {
		if ev.Action == store.ActionChainRule {
			rules++
		}
	}
	chains, err := store.VerifyChains(store.Views(final, store.EventFromAPI))
	if err != nil || rules != 1 {
		t.Fatalf("after a restart: %d chain-rule events, %v", rules, err)
	}
	for _, ch := range chains {
		if ch.Rule1Events == 0 || ch.Rule1Events == ch.Events {
			t.Errorf("chain %+v does not cross the boundary", ch)
		}
	}
}

func lastHubHash(evs []api.Event) string {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Origin == store.HubOrigin {
			return evs[i].Hash
		}
	}
	return ""
}

// checkEdgeHashes checks that the hub's log holds each of the edge's
// events with exactly the hash and prev_hash the edge computed.
func checkEdgeHashes(t *testing.T, log []api.Event, site string, edgeEvents []transfer.Event) {
	t.Helper()
	at := map[uint64]api.Event{}
	for _, e := range log {
		if e.Origin == site {
			at[e.Sequence] = e
		}
	}
	for _, ee := range edgeEvents {
		he, ok := at[ee.Seq]
		if !ok || he.Hash != ee.Hash || he.PrevHash != ee.PrevHash {
			t.Fatalf("edge event %d: the edge computed hash %s prev %s, the hub stores %+v", ee.Seq, ee.Hash, ee.PrevHash, he)
		}
	}
	if _, err := store.VerifyChains(store.Views(log, store.EventFromAPI)); err != nil {
		t.Fatal(err)
	}
}

// TestEdgeEventsKeepTheirHashesAtTheHub: on a new hub, the events an edge
// hashed are stored with those hashes, and the hub's own events use the
// same rule.
func TestEdgeEventsKeepTheirHashesAtTheHub(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	c := cli(nodes[0], admin)
	ctx := ctxT(t)
	if _, err := c.CreateSite(ctx, api.SiteRequest{Name: "lon", Class: api.ClassAirGapped}); err != nil {
		t.Fatal(err)
	}
	hubPub, err := c.HubPublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.Init(t.TempDir(), "lon", hubPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnrollSite(ctx, "lon", signing.EncodePublic(e.PublicKey())); err != nil {
		t.Fatal(err)
	}
	edgeRound(t, c, e, "lon", false)
	edgeRound(t, c, e, "lon", false)
	pending, err := e.PendingEvents()
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending %v %+v", err, pending)
	}
	if ir := edgeRound(t, c, e, "lon", true); ir.EventsAccepted != 3 || !ir.ChainOK {
		t.Fatalf("import: %+v", ir)
	}
	log := allEvents(t, c)
	checkEdgeHashes(t, log, "lon", pending)
	if log[0].Action != store.ActionChainRule || log[0].PrevHash != transfer.GenesisHash {
		t.Fatalf("a new hub's log starts with %+v, want the chain-rule event", log[0])
	}
	for _, ev := range log {
		if h, err := store.EventHash(store.EventFromAPI(ev)); err != nil || h != ev.Hash {
			t.Fatalf("event %d (%s) is not hashed by the one rule: %s vs %s", ev.Cursor, ev.Origin, ev.Hash, h)
		}
	}
}
