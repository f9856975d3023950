package store

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/transfer"
)

var update = flag.Bool("update", false, "rewrite testdata/state-v1")

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func mustOpenFSM(t testing.TB, dir string) (*FSM, *State) {
	t.Helper()
	st, err := OpenState(filepath.Join(dir, "fsm"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return NewFSM(st, filepath.Join(dir, "tmp"), quiet), st
}

func entry(t testing.TB, index uint64, cmd Command) *raft.Log {
	t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: b}
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func audit(i int) *AuditInput {
	return &AuditInput{ID: fmt.Sprintf("ev-%d", i), Time: t0.Add(time.Duration(i) * time.Second), Actor: "token:test", Action: "test"}
}

func cmdOf(t testing.TB, typ string, body any, i int) Command {
	t.Helper()
	c, err := NewCommand(typ, body, audit(i))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixtureLog is a small history touching every command type.
func fixtureLog(t testing.TB) []*raft.Log {
	cmds := []Command{
		cmdOf(t, CmdIdentityInit, Identity{KeyID: "k1", PrivatePEM: "pem", PublicPEM: "pub", PeerSecret: "s", CreatedAt: t0}, 1),
		cmdOf(t, CmdNodeUpsert, Node{ID: "n1", RaftAddr: "127.0.0.1:1", HTTPAddr: "http://127.0.0.1:2"}, 2),
		cmdOf(t, CmdTokenCreate, Token{ID: "tok1", Name: "admin", Role: deploy.RolePlatformAdmin, Hash: fmt.Sprintf("%064x", 1), CreatedAt: t0}, 3),
		cmdOf(t, CmdSiteCreate, Site{Name: "berlin", Class: ClassAirGapped, Scope: deploy.Scope{Acquisition: "acme"}, CreatedAt: t0}, 4),
		cmdOf(t, CmdSiteCreate, Site{Name: "berlin", Class: ClassOnline, CreatedAt: t0}, 5), // conflict
		cmdOf(t, CmdBlobRegister, Blob{Digest: fmt.Sprintf("%064x", 7), Size: 3, Holders: []string{"n1"}, CreatedAt: t0}, 6),
		cmdOf(t, CmdEventsIngest, EventsIngestBody{Origin: "berlin", Events: []IngestEvent{
			{Sequence: 1, Time: t0, Action: "apt.install", Outcome: "ok"},
			{Sequence: 2, Time: t0, Action: "apt.install", Outcome: "failed"},
		}}, 7),
		cmdOf(t, CmdEventsIngest, EventsIngestBody{Origin: "berlin", Events: []IngestEvent{
			{Sequence: 2, Time: t0, Action: "apt.install", Outcome: "failed"},
			{Sequence: 3, Time: t0, Action: "apt.remove", Outcome: "ok"},
		}}, 8),
		cmdOf(t, CmdTokenRevoke, TokenRevokeBody{ID: "tok1", Time: t0}, 9),
		cmdOf(t, CmdAuditRecord, struct{}{}, 10),
	}
	logs := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		logs[i] = entry(t, uint64(i+1), c)
	}
	return logs
}

func dump(t testing.TB, st *State) string {
	t.Helper()
	sites, _ := st.Sites()
	toks, _ := st.Tokens()
	evs, err := st.Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{sites, toks, evs})
	return string(b)
}

func TestApplyIsDeterministicAndIdempotentOnReplay(t *testing.T) {
	logs := fixtureLog(t)
	f1, s1 := mustOpenFSM(t, t.TempDir())
	f2, s2 := mustOpenFSM(t, t.TempDir())
	res := f1.ApplyBatch(logs)
	for _, l := range logs { // one by one on the other node
		f2.Apply(l)
	}
	if d1, d2 := dump(t, s1), dump(t, s2); d1 != d2 {
		t.Fatalf("states differ:\n%s\n%s", d1, d2)
	}
	if r := res[4].(Result); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("duplicate site: %+v", r)
	}
	if r := res[7].(Result); r.Err != nil || r.Value.(IngestResult).Accepted != 1 || r.Value.(IngestResult).Duplicates != 1 {
		t.Fatalf("ingest dedup: %+v", r)
	}
	// A replay of applied entries (restart before a snapshot) changes nothing.
	before := dump(t, s1)
	f1.ApplyBatch(logs)
	if after := dump(t, s1); after != before {
		t.Fatal("replay changed the state")
	}
	evs, _ := s1.Events(0, 100)
	by := map[string][]Event{}
	for _, e := range evs {
		by[e.Origin] = append(by[e.Origin], e)
	}
	if _, err := VerifyChains(evs); len(by["berlin"]) != 3 || err != nil {
		t.Fatalf("chains: %v %+v", err, by)
	}
	// An edit anywhere is detected.
	by["berlin"][1].Outcome = "ok"
	for i := range evs {
		if evs[i].Cursor == by["berlin"][1].Cursor {
			evs[i] = by["berlin"][1]
		}
	}
	if _, err := VerifyChains(evs); !errors.Is(err, transfer.ErrChain) {
		t.Fatalf("edited event not detected: %v", err)
	}
}

func TestUnsupportedCommandHaltsWithoutApplying(t *testing.T) {
	dir := t.TempDir()
	f, st := mustOpenFSM(t, dir)
	future := cmdOf(t, CmdSiteCreate, Site{Name: "paris", Class: ClassOnline, CreatedAt: t0}, 2)
	future.Version = 2
	logs := []*raft.Log{
		entry(t, 1, cmdOf(t, CmdSiteCreate, Site{Name: "berlin", Class: ClassOnline, CreatedAt: t0}, 1)),
		entry(t, 2, future),
		entry(t, 3, cmdOf(t, CmdSiteCreate, Site{Name: "rome", Class: ClassOnline, CreatedAt: t0}, 3)),
		entry(t, 4, Command{Type: "policy.rewrite", Version: 1}),
	}
	res := f.ApplyBatch(logs)
	var uc *UnsupportedCommandError
	if r := res[1].(Result); !errors.As(r.Err, &uc) || uc.Version != 2 {
		t.Fatalf("future version: %+v", r)
	}
	if r := res[2].(Result); !errors.Is(r.Err, ErrHalted) {
		t.Fatalf("after halt: %+v", r)
	}
	if f.Halted() == nil {
		t.Fatal("not halted")
	}
	sites, _ := st.Sites()
	if len(sites) != 1 || sites[0].Name != "berlin" {
		t.Fatalf("sites %+v", sites)
	}
	if a, _ := st.Applied(); a != 1 {
		t.Fatalf("applied %d", a)
	}
	if _, err := f.Snapshot(); !errors.Is(err, ErrHalted) {
		t.Fatalf("snapshot while halted: %v", err)
	}
	// A restarted (still old) node halts at the same entry again.
	f2 := NewFSM(st, filepath.Join(dir, "tmp"), quiet)
	f2.ApplyBatch(logs[1:])
	if f2.Halted() == nil {
		t.Fatal("restarted node did not halt")
	}
	// Unknown types halt too.
	f3, _ := mustOpenFSM(t, t.TempDir())
	if r := f3.Apply(logs[3]).(Result); !errors.As(r.Err, &uc) || uc.Type != "policy.rewrite" {
		t.Fatalf("unknown type: %+v", r)
	}
}

type memSink struct {
	io.Writer
	f *os.File
}

func (m memSink) ID() string    { return "test" }
func (m memSink) Cancel() error { return m.f.Close() }
func (m memSink) Close() error  { return m.f.Close() }

func TestSnapshotRestoreReplacesState(t *testing.T) {
	f1, s1 := mustOpenFSM(t, t.TempDir())
	f1.ApplyBatch(fixtureLog(t))
	snap, err := f1.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "snap.tar")
	fh, _ := os.Create(path)
	if err := snap.Persist(memSink{fh, fh}); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	f2, s2 := mustOpenFSM(t, t.TempDir())
	f2.Apply(entry(t, 1, cmdOf(t, CmdSiteCreate, Site{Name: "stale", Class: ClassOnline, CreatedAt: t0}, 1)))
	rc, _ := os.Open(path)
	if err := f2.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if d1, d2 := dump(t, s1), dump(t, s2); d1 != d2 {
		t.Fatalf("restored state differs:\n%s\n%s", d1, d2)
	}
	if _, err := s2.Site("stale"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old state survived restore: %v", err)
	}
}

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeReopensStateV1 reopens a state directory written by the first
// format of this package (testdata/state-v1, made with -update) and checks
// its contents; the next format must keep reading it.
func TestUpgradeReopensStateV1(t *testing.T) {
	golden := filepath.Join("testdata", "state-v1")
	if *update {
		os.RemoveAll(golden)
		st, err := OpenState(golden, quiet)
		if err != nil {
			t.Fatal(err)
		}
		f := NewFSM(st, t.TempDir(), quiet)
		f.ApplyBatch(fixtureLog(t))
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
	if a, _ := st.Applied(); a != 10 {
		t.Fatalf("applied %d", a)
	}
	site, err := st.Site("berlin")
	if err != nil || site.Class != ClassAirGapped || site.Scope.Acquisition != "acme" {
		t.Fatalf("site %+v %v", site, err)
	}
	tok, err := st.TokenByHash(fmt.Sprintf("%064x", 1))
	if err != nil || tok.RevokedAt == nil || tok.Role != deploy.RolePlatformAdmin {
		t.Fatalf("token %+v %v", tok, err)
	}
	evs, _ := st.Events(0, 100)
	if len(evs) != 13 {
		t.Fatalf("%d events", len(evs))
	}
	// The fresh state of today's code must equal the golden one.
	f2, s2 := mustOpenFSM(t, t.TempDir())
	f2.ApplyBatch(fixtureLog(t))
	if dump(t, st) != dump(t, s2) {
		t.Fatal("today's code applies the fixture differently from format v1")
	}
}

// TestIngestDedupOutOfOrder posts one origin's events out of order, with
// resends, under both hash rules: each sequence is stored once and the
// chain (in arrival order) verifies.
func TestIngestDedupOutOfOrder(t *testing.T) {
	for _, rule := range []int{ChainRuleLegacy, ChainRuleCanonical} {
		t.Run(fmt.Sprint("rule", rule), func(t *testing.T) { testIngestDedupOutOfOrder(t, rule) })
	}
}

func testIngestDedupOutOfOrder(t *testing.T, rule int) {
	f, st := mustOpenFSM(t, t.TempDir())
	idx := uint64(0)
	if rule == ChainRuleCanonical {
		idx++
		f.Apply(entry(t, idx, chainRuleCmd(t)))
	}
	ev := func(seqs ...uint64) EventsIngestBody {
		b := EventsIngestBody{Origin: "edge"}
		for _, s := range seqs {
			b.Events = append(b.Events, IngestEvent{Sequence: s, Time: t0, Action: "a", Outcome: "ok"})
		}
		return b
	}
	steps := []struct {
		seqs      []uint64
		acc, dups int
	}{
		{[]uint64{1, 2, 3}, 3, 0},
		{[]uint64{7, 5}, 2, 0},       // early arrivals
		{[]uint64{3, 5, 7, 2}, 0, 4}, // all seen
		{[]uint64{4, 6, 8}, 3, 0},    // fills the gaps
		{[]uint64{1, 4, 5, 6, 7, 8, 8}, 0, 7},
		{[]uint64{9, 9}, 1, 1}, // duplicate inside one batch
	}
	for i, s := range steps {
		r := f.Apply(entry(t, idx+uint64(i+1), cmdOf(t, CmdEventsIngest, ev(s.seqs...), i))).(Result)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got := r.Value.(IngestResult)
		if got.Accepted != s.acc || got.Duplicates != s.dups {
			t.Fatalf("step %d %v: accepted %d dups %d, want %d %d", i, s.seqs, got.Accepted, got.Duplicates, s.acc, s.dups)
		}
	}
	evs, _ := st.Events(0, 100)
	seen := map[uint64]int{}
	for _, e := range evs {
		if e.Origin == "edge" {
			seen[e.Sequence]++
		}
	}
	chains, err := VerifyChains(evs)
	if len(seen) != 9 || err != nil {
		t.Fatalf("stored %v: %v", seen, err)
	}
	for _, c := range chains {
		if want := map[int]uint64{ChainRuleLegacy: c.Events, ChainRuleCanonical: 0}[rule]; c.Origin == "edge" && c.Rule1Events != want {
			t.Fatalf("chain of edge: %+v, want %d rule-1 events", c, want)
		}
	}
	for s, n := range seen {
		if n != 1 {
			t.Fatalf("sequence %d stored %d times", s, n)
		}
	}
}

func TestNodeLookup(t *testing.T) {
	f, st := mustOpenFSM(t, t.TempDir())
	n1 := Node{ID: "n1", RaftAddr: "127.0.0.1:1", HTTPAddr: "http://127.0.0.1:2"}
	f.ApplyBatch([]*raft.Log{
		entry(t, 1, cmdOf(t, CmdNodeUpsert, n1, 1)),
		entry(t, 2, cmdOf(t, CmdNodeUpsert, Node{ID: "n10", RaftAddr: "127.0.0.1:3", HTTPAddr: "http://127.0.0.1:4"}, 2)),
	})
	if got, err := st.Node("n1"); err != nil || got != n1 {
		t.Fatalf("Node(n1) = %+v, %v", got, err)
	}
	if _, err := st.Node("n2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Node(n2): %v, want ErrNotFound", err)
	}
	f.Apply(entry(t, 3, cmdOf(t, CmdNodeRemove, NodeRemoveBody{ID: "n1"}, 3)))
	if _, err := st.Node("n1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Node(n1) after removal: %v, want ErrNotFound", err)
	}
	if _, err := st.Node("n10"); err != nil {
		t.Fatal(err)
	}
}
