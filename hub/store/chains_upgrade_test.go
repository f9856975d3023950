package store

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
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
