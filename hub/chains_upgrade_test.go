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
	"github.com/eucora/eucora/internal/signing"
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
// of testdata/datadir-chains-v1 and checks that every event it served
// before is served unchanged.
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
	n.start(t, false, "", "")
	defer n.stop(t)
	waitReady(t, n)
	c := cli(n, readToken(t, n))
	after := allEvents(t, c)
	if len(after) < len(before) {
		t.Fatalf("%d events after reopening, %d before", len(after), len(before))
	}
	for i, e := range before {
		if g, _ := json.Marshal(after[i]); string(g) != mustJSON(t, e) {
			t.Fatalf("event %d changed on reopening:\nbefore %s\nafter  %s", e.Cursor, mustJSON(t, e), g)
		}
	}
}
