package store

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// updateChains rewrites testdata/state-v1-chains. It was written once, by
// the hub of commit 4e4c939 (event hash rule 1: the hub re-hashed edge
// events); never regenerate it with a later binary: it is the evidence that
// this code applies pre-boundary commands exactly as that one did.
var updateChains = flag.Bool("update-chains", false, "rewrite testdata/state-v1-chains (only with the rule-1 code of 4e4c939)")

// fixtureEdgeKey is the edge key of the chains fixture, from a fixed seed
// so the fixture log is the same on every run.
func fixtureEdgeKey() *signing.PrivateKey {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	return &signing.PrivateKey{Key: priv, ID: signing.KeyID(priv.Public().(ed25519.PublicKey))}
}

// fixtureEdgeEvents is the edge lon's chain in the chains fixture: n events
// sealed by the edge rule (transfer.Event.Seal).
func fixtureEdgeEvents(t testing.TB, n int) []transfer.Event {
	t.Helper()
	prev := transfer.GenesisHash
	var out []transfer.Event
	for i := 1; i <= n; i++ {
		e := transfer.Event{Seq: uint64(i), Time: t0.Add(time.Duration(i) * time.Minute), Actor: "edge:lon",
			Action: "import", Object: fmt.Sprintf("bundle 01J-%d seq %d <&>", i, i), Outcome: "applied"}
		if i%2 == 0 {
			e.Detail = fmt.Sprintf("gap: hub sequence %d missing", i)
		}
		if err := e.Seal(prev); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

// chainsImport is the site.import body of edge bundle seq carrying evs.
func chainsImport(seq uint64, evs []transfer.Event) SiteImportBody {
	held := []digest.Digest{}
	b := SiteImportBody{Site: "lon", Sequence: seq, Digest: digest.FromBytes([]byte(fmt.Sprint("edge bundle ", seq))),
		BundleID: fmt.Sprintf("01JEDGE%d", seq), KeyID: fixtureEdgeKey().ID, At: t0.Add(time.Duration(seq) * time.Hour),
		Receipt: transfer.Receipt{Site: "lon", Objects: transfer.HeldObjects{ListDigest: transfer.HeldListDigest(held)},
			ChainHead: transfer.ChainHead{Hash: transfer.GenesisHash}, Generated: t0.Add(time.Duration(seq) * time.Hour)},
		Held: &transfer.HeldList{Site: "lon", Digests: held}}
	if len(evs) > 0 {
		b.Batches = []transfer.EventBatch{{Origin: "lon", First: evs[0].Seq, Last: evs[len(evs)-1].Seq, Events: evs}}
		b.Receipt.ChainHead = transfer.ChainHead{Seq: evs[len(evs)-1].Seq, Hash: evs[len(evs)-1].Hash}
	}
	return b
}

// chainsFixtureLog is the history of testdata/state-v1-chains: hub events,
// an enrolled edge's events merged from two overlapping bundles and a
// forked third, and an unenrolled site's events posted out of order with
// every optional field (data with characters JSON escapes).
func chainsFixtureLog(t testing.TB) []*raft.Log {
	t.Helper()
	edge := fixtureEdgeEvents(t, 5)
	// A third bundle whose event 6 links to another event 5: a fork.
	forked := fixtureEdgeEvents(t, 6)
	if err := forked[5].Seal(strings.Repeat("1", 64)); err != nil {
		t.Fatal(err)
	}
	paris := func(seqs ...uint64) EventsIngestBody {
		b := EventsIngestBody{Origin: "paris"}
		for _, s := range seqs {
			b.Events = append(b.Events, IngestEvent{Sequence: s, ID: fmt.Sprintf("p-%d", s), Time: t0.Add(time.Duration(s) * time.Second),
				Actor: "apt", Role: "endpoint", Action: "package.install", Object: "pkg/curl", CorrelationID: "c-1",
				Outcome: "ok", Reason: "a <b> & c", Data: json.RawMessage(fmt.Sprintf(`{"version":"8.5 <&>","n":%d.50,"a":[1,2]}`, s))})
		}
		return b
	}
	refused := audit(8)
	refused.Action, refused.Object, refused.Outcome, refused.Reason = CmdSiteImport, "site/lon", "refused", "bad_signature: bundle 01J... signed by an unknown key"
	cmds := []Command{
		cmdOf(t, CmdSiteCreate, Site{Name: "lon", Class: ClassAirGapped, CreatedAt: t0}, 1),
		cmdOf(t, CmdSiteEnroll, SiteEnrollBody{Name: "lon", PublicPEM: string(signing.EncodePublic(fixtureEdgeKey().Public()))}, 2),
		cmdOf(t, CmdSiteCreate, Site{Name: "paris", Class: ClassOnline, CreatedAt: t0}, 3),
		cmdOf(t, CmdSiteImport, chainsImport(1, edge[:3]), 4),
		cmdOf(t, CmdSiteImport, chainsImport(2, edge[1:5]), 5), // overlaps: 4 and 5 are new
		cmdOf(t, CmdEventsIngest, paris(1, 2, 4), 6),
		{Type: CmdAuditRecord, Version: 1, Audit: refused, Body: json.RawMessage(`{}`)},
		cmdOf(t, CmdSiteImport, chainsImport(3, forked[4:]), 9), // fork: nothing merged
	}
	logs := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		logs[i] = entry(t, uint64(i+1), c)
	}
	return logs
}

// dumpChains is the part of a state the chains fixture pins: every event
// as stored, every origin's chain head and lon's sync state.
func dumpChains(t testing.TB, st *State) string {
	t.Helper()
	evs, err := st.Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string]json.RawMessage{}
	for _, o := range []string{HubOrigin, "lon", "paris"} {
		err := st.read(func(db *pebble.DB) error {
			v, err := getRaw(db, chainKey(o))
			heads[o] = v
			return err
		})
		if err != nil {
			t.Fatalf("chain head of %s: %v", o, err)
		}
	}
	ss, err := st.SiteSync("lon")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{evs, heads, ss})
	return string(b)
}

// TestUpgradeReopensStateV1Chains reopens testdata/state-v1-chains,
// written by the rule-1 hub, and checks that today's code applies the same
// log to exactly the same events, heads and sync state: before the
// chain-rule command (events.chain-rule), a node of this version and a
// node of the previous one agree byte for byte.
func TestUpgradeReopensStateV1Chains(t *testing.T) {
	golden := filepath.Join("testdata", "state-v1-chains")
	if *updateChains {
		os.RemoveAll(golden)
		st, err := OpenState(golden, quiet)
		if err != nil {
			t.Fatal(err)
		}
		NewFSM(st, t.TempDir(), quiet).ApplyBatch(chainsFixtureLog(t))
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "fsm")
	copyDir(t, golden, dir)
	st, err := OpenState(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, _ := st.Events(0, 100)
	byOrigin := map[string]int{}
	for _, e := range evs {
		byOrigin[e.Origin]++
	}
	if byOrigin["lon"] != 5 || byOrigin["paris"] != 3 || byOrigin[HubOrigin] != 8 {
		t.Fatalf("fixture events per origin: %v", byOrigin)
	}
	f, fresh := mustOpenFSM(t, t.TempDir())
	f.ApplyBatch(chainsFixtureLog(t))
	if g, w := dumpChains(t, st), dumpChains(t, fresh); g != w {
		t.Fatalf("today's code applies the rule-1 fixture differently:\ngolden %s\ntoday  %s", g, w)
	}
}

// chainRuleCmd is the events.chain-rule command as the leader proposes it
// (no audit input: the command appends its own event).
func chainRuleCmd(t testing.TB) Command {
	t.Helper()
	c, err := NewCommand(CmdChainRule, ChainRuleBody{Rule: ChainRuleCanonical, ID: "chain-rule-1", Time: t0.Add(24 * time.Hour), Actor: "node:n1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openChainsFixture opens a copy of testdata/state-v1-chains.
func openChainsFixture(t *testing.T) (*FSM, *State) {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, filepath.Join("testdata", "state-v1-chains"), filepath.Join(dir, "fsm"))
	return mustOpenFSM(t, dir)
}

// afterChainRule is what a hub does once upgraded: the chain-rule
// command, then the edge lon continues its chain (events 6 and 7, the
// first linking to the edge's own hash of event 5), paris posts 3 and 5,
// and a hub write.
func afterChainRule(t testing.TB, edge []transfer.Event) []*raft.Log {
	t.Helper()
	imp := chainsImport(4, edge[4:7]) // resends 5, the last one the hub holds
	paris := EventsIngestBody{Origin: "paris", Events: []IngestEvent{
		{Sequence: 3, ID: "p-3", Time: t0, Action: "package.install", Outcome: "ok", Data: json.RawMessage(`{"b":2,"a":"<&>"}`)},
		{Sequence: 5, ID: "p-5", Time: t0, Action: "package.remove", Outcome: "ok", Data: json.RawMessage(`null`)},
	}}
	cmds := []Command{
		chainRuleCmd(t),
		cmdOf(t, CmdSiteImport, imp, 10),
		cmdOf(t, CmdEventsIngest, paris, 11),
		cmdOf(t, CmdSiteCreate, Site{Name: "rome", Class: ClassOnline, CreatedAt: t0}, 12),
		chainRuleCmd(t), // a second leader's proposal: a no-op
	}
	logs := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		logs[i] = entry(t, uint64(9+i), c)
	}
	return logs
}

// TestChainRuleMigratesOldChains opens the rule-1 fixture and applies the
// chain-rule command and new events: every old event keeps its bytes and
// hash, every chain (hub, edge, events:batch) verifies across the
// boundary, and the edge's new events are stored with the edge's hashes.
func TestChainRuleMigratesOldChains(t *testing.T) {
	f, st := openChainsFixture(t)
	before, _ := st.Events(0, 1000)
	edge := fixtureEdgeEvents(t, 7)
	res := f.ApplyBatch(afterChainRule(t, edge))
	for i, r := range res {
		if r.(Result).Err != nil {
			t.Fatalf("entry %d: %v", i, r.(Result).Err)
		}
	}
	if r := res[0].(Result).Value.(ChainRuleResult); !r.Changed || r.Rule != ChainRuleCanonical || r.Cursor != uint64(len(before)+1) {
		t.Fatalf("chain rule: %+v", r)
	}
	if r := res[4].(Result).Value.(ChainRuleResult); r.Changed {
		t.Fatalf("a second chain-rule command changed the state: %+v", r)
	}
	if r := res[1].(Result).Value.(*SiteImportResult); r.EventsAccepted != 2 || !r.ChainOK {
		t.Fatalf("edge import after the boundary: %+v", r)
	}
	evs, _ := st.Events(0, 1000)
	for i, e := range before {
		if mustJSONString(t, evs[i]) != mustJSONString(t, e) {
			t.Fatalf("event %d was rewritten:\nbefore %s\nafter  %s", e.Cursor, mustJSONString(t, e), mustJSONString(t, evs[i]))
		}
	}
	rule, _ := st.ChainRule()
	boundary := evs[len(before)]
	if rule.Rule != ChainRuleCanonical || rule.Cursor != boundary.Cursor || boundary.Action != ActionChainRule ||
		boundary.Origin != HubOrigin || boundary.PrevHash != before[len(before)-1].Hash {
		t.Fatalf("rule %+v, boundary event %+v", rule, boundary)
	}
	chains, err := VerifyChains(evs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]uint64{HubOrigin: {12, 8}, "lon": {7, 5}, "paris": {5, 3}}
	for _, c := range chains {
		if w := want[c.Origin]; c.Events != w[0] || c.Rule1Events != w[1] {
			t.Errorf("chain %+v, want %d events, %d of rule 1", c, w[0], w[1])
		}
	}
	// The edge's events 6 and 7 are stored exactly as the edge hashed them;
	// 6 links to the edge's hash of 5, which the rule-1 copy of 5 holds.
	var lon []Event
	for _, e := range evs {
		if e.Origin == "lon" {
			lon = append(lon, e)
		}
	}
	var d struct {
		EdgeHash string `json:"edge_hash"`
	}
	json.Unmarshal(lon[4].Data, &d)
	for i, e := range lon[5:] {
		if e.Hash != edge[5+i].Hash || e.PrevHash != edge[5+i].PrevHash || e.ID != "" || e.Data != nil {
			t.Fatalf("lon event %d stored as %+v, the edge hashed %+v", e.Sequence, e, edge[5+i])
		}
	}
	if lon[5].PrevHash != d.EdgeHash || d.EdgeHash != edge[4].Hash {
		t.Fatalf("lon event 6 links to %s; the rule-1 event 5 holds edge hash %s, the edge %s", lon[5].PrevHash, d.EdgeHash, edge[4].Hash)
	}
	// Any edit on either side of the boundary breaks verification.
	for _, c := range []uint64{before[3].Cursor, lon[4].Cursor, lon[6].Cursor, boundary.Cursor, evs[len(evs)-1].Cursor} {
		edited := append([]Event(nil), evs...)
		edited[c-1].Object += "!"
		if _, err := VerifyChains(edited); !errors.Is(err, transfer.ErrChain) {
			t.Errorf("an edit of event %d went unnoticed: %v", c, err)
		}
	}
	dropped := append(append([]Event(nil), evs[:len(evs)-2]...), evs[len(evs)-1])
	if _, err := VerifyChains(dropped); !errors.Is(err, transfer.ErrChain) {
		t.Errorf("a dropped event went unnoticed: %v", err)
	}
	// Another node applying the same log reaches the same state.
	f2, st2 := openChainsFixture(t)
	for _, l := range afterChainRule(t, edge) {
		f2.Apply(l)
	}
	if dumpChains(t, st) != dumpChains(t, st2) {
		t.Fatal("two nodes applying the chain-rule log differ")
	}
}

func mustJSONString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
