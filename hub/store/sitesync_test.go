package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// edgeChain builds n events of an edge's chain, sealed as an edge does.
func edgeChain(t testing.TB, site string, n int) []transfer.Event {
	t.Helper()
	prev := transfer.GenesisHash
	var out []transfer.Event
	for i := 1; i <= n; i++ {
		e := transfer.Event{Seq: uint64(i), Time: t0.Add(time.Duration(i) * time.Second), Actor: "edge:" + site,
			Action: "import", Object: fmt.Sprintf("bundle %d", i), Outcome: "applied"}
		if err := e.Seal(prev); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

type syncFixture struct {
	t   *testing.T
	f   *FSM
	st  *State
	idx uint64
	key *signing.PrivateKey
}

func newSyncFixture(t *testing.T) *syncFixture {
	f, st := mustOpenFSM(t, t.TempDir())
	k, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	x := &syncFixture{t: t, f: f, st: st, key: k}
	// Today's hub: the log moved to hash rule 2 before anything else.
	x.idx++
	if r := f.Apply(entry(t, x.idx, chainRuleCmd(t))).(Result); r.Err != nil {
		t.Fatal(r.Err)
	}
	x.mustApply(CmdSiteCreate, Site{Name: "lon", Class: ClassAirGapped, CreatedAt: t0})
	return x
}

func (x *syncFixture) apply(typ string, body any) (any, error) {
	x.t.Helper()
	x.idx++
	r := x.f.Apply(entry(x.t, x.idx, cmdOf(x.t, typ, body, int(x.idx)))).(Result)
	return r.Value, r.Err
}

func (x *syncFixture) mustApply(typ string, body any) any {
	x.t.Helper()
	v, err := x.apply(typ, body)
	if err != nil {
		x.t.Fatalf("%s: %v", typ, err)
	}
	return v
}

func (x *syncFixture) importBody(seq uint64, applied uint64, held []digest.Digest, evs []transfer.Event) SiteImportBody {
	b := SiteImportBody{Site: "lon", Sequence: seq, Digest: digest.FromBytes([]byte(fmt.Sprint("edge bundle ", seq))),
		BundleID: "b", KeyID: x.key.ID, At: t0.Add(time.Hour),
		Receipt: transfer.Receipt{Site: "lon", AppliedSeq: applied, Objects: transfer.HeldObjects{Count: int64(len(held)), ListDigest: transfer.HeldListDigest(held)},
			ChainHead: transfer.ChainHead{Hash: transfer.GenesisHash}, Generated: t0.Add(time.Duration(seq) * time.Minute)}}
	if applied > 0 {
		b.Receipt.AppliedDigest = digest.FromBytes([]byte(fmt.Sprint("hub bundle ", applied)))
	}
	if held != nil {
		b.Held = &transfer.HeldList{Site: "lon", Digests: held}
	}
	if len(evs) > 0 {
		b.Batches = []transfer.EventBatch{{Origin: "lon", First: evs[0].Seq, Last: evs[len(evs)-1].Seq, Events: evs}}
		b.Receipt.ChainHead = transfer.ChainHead{Seq: evs[len(evs)-1].Seq, Hash: evs[len(evs)-1].Hash}
	}
	return b
}

func TestExportNeedsEnrolmentAndReservesInOrder(t *testing.T) {
	x := newSyncFixture(t)
	if _, err := x.apply(CmdExportReserve, ExportReserveBody{Site: "lon"}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "enroll") {
		t.Fatalf("reserve before enrolment: %v", err)
	}
	if _, err := x.apply(CmdSiteEnroll, SiteEnrollBody{Name: "lon", PublicPEM: "not a key"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("enrol with garbage: %v", err)
	}
	site := x.mustApply(CmdSiteEnroll, SiteEnrollBody{Name: "lon", PublicPEM: string(signing.EncodePublic(x.key.Public()))}).(Site)
	if site.EdgeKeyID != x.key.ID {
		t.Fatalf("enrolled key id %s, want %s", site.EdgeKeyID, x.key.ID)
	}
	r1 := x.mustApply(CmdExportReserve, ExportReserveBody{Site: "lon"}).(ExportReservation)
	r2 := x.mustApply(CmdExportReserve, ExportReserveBody{Site: "lon"}).(ExportReservation)
	if r1.Sequence != 1 || r2.Sequence != 2 || r2.Predecessor != "" {
		t.Fatalf("reservations %+v %+v", r1, r2)
	}
	d2 := digest.FromBytes([]byte("two"))
	x.mustApply(CmdExportRecord, ExportRecord{Site: "lon", Sequence: 2, Digest: d2})
	// Sequence 1 was interrupted: recording it now would go backwards.
	if _, err := x.apply(CmdExportRecord, ExportRecord{Site: "lon", Sequence: 1, Digest: d2}); !errors.Is(err, ErrConflict) {
		t.Fatalf("record behind the last: %v", err)
	}
	if _, err := x.apply(CmdExportRecord, ExportRecord{Site: "lon", Sequence: 9, Digest: d2}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("record of an unreserved sequence: %v", err)
	}
	r3 := x.mustApply(CmdExportReserve, ExportReserveBody{Site: "lon"}).(ExportReservation)
	if r3.Sequence != 3 || r3.Predecessor != d2 {
		t.Fatalf("third reservation %+v, want 3 after %s", r3, d2.Short())
	}
	if _, err := x.apply(CmdSiteAssign, SiteAssignBody{Name: "lon", APT: []APTAssignment{{Prefix: "../x", Dist: "j"}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("assign a hostile prefix: %v", err)
	}
}

func TestSiteImportMergesExactlyOnce(t *testing.T) {
	x := newSyncFixture(t)
	x.mustApply(CmdSiteEnroll, SiteEnrollBody{Name: "lon", PublicPEM: string(signing.EncodePublic(x.key.Public()))})
	chain := edgeChain(t, "lon", 10)
	held := []digest.Digest{digest.FromBytes([]byte("a")), digest.FromBytes([]byte("b"))}
	if held[0] > held[1] {
		held[0], held[1] = held[1], held[0]
	}

	res := x.mustApply(CmdSiteImport, x.importBody(1, 0, nil, chain[:4])).(*SiteImportResult)
	if res.Outcome != ImportApplied || res.EventsAccepted != 4 || !res.ChainOK {
		t.Fatalf("first import %+v", res)
	}
	// The same bundle again: a duplicate, nothing merged.
	res = x.mustApply(CmdSiteImport, x.importBody(1, 0, nil, chain[:4])).(*SiteImportResult)
	if res.Outcome != ImportDuplicate || res.EventsAccepted != 0 {
		t.Fatalf("duplicate %+v", res)
	}
	// A different bundle with an old sequence: stale, refused.
	stale := x.importBody(1, 0, nil, chain[:5])
	stale.Digest = digest.FromBytes([]byte("another bundle"))
	if _, err := x.apply(CmdSiteImport, stale); !errors.Is(err, ErrStale) {
		t.Fatalf("stale: %v", err)
	}
	// Overlapping resend (edge resends unacknowledged events): only 5..7 new.
	res = x.mustApply(CmdSiteImport, x.importBody(2, 1, held, chain[:7])).(*SiteImportResult)
	if res.EventsAccepted != 3 || res.LastAppliedSeq != 1 {
		t.Fatalf("overlap %+v", res)
	}
	// A batch starting past the head is a gap: nothing merged, reported.
	res = x.mustApply(CmdSiteImport, x.importBody(3, 1, held, chain[8:])).(*SiteImportResult)
	if res.Gap == nil || res.Gap.From != 8 || res.Gap.To != 8 || res.EventsAccepted != 0 {
		t.Fatalf("gap %+v", res)
	}
	ss, _ := x.st.SiteSync("lon")
	if len(ss.Gaps) != 1 {
		t.Fatalf("gaps %+v", ss.Gaps)
	}
	// The next export covers it: the gap closes.
	res = x.mustApply(CmdSiteImport, x.importBody(4, 1, held, chain[7:])).(*SiteImportResult)
	if res.EventsAccepted != 3 || res.Gap != nil {
		t.Fatalf("fill %+v", res)
	}
	ss, _ = x.st.SiteSync("lon")
	if len(ss.Gaps) != 0 || ss.EventsReceived != 10 || ss.Chain.Seq != 10 || !ss.HeldKnown {
		t.Fatalf("sync %+v", ss)
	}
	// An edited event, re-sealed, breaks the chain: nothing merged.
	more := edgeChain(t, "lon", 12)
	more[10].Object = "edited"
	if err := more[10].Seal(more[9].Hash); err != nil {
		t.Fatal(err)
	}
	forked := append(append([]transfer.Event{}, chain...), more[10:]...)
	res = x.mustApply(CmdSiteImport, x.importBody(5, 1, held, forked[9:])).(*SiteImportResult)
	if res.ChainOK || res.EventsAccepted != 0 {
		t.Fatalf("edited chain accepted: %+v", res)
	}
	// Every event arrived exactly once in the hub's log.
	evs, _ := x.st.Events(0, 1000)
	seen := map[uint64]int{}
	for _, e := range evs {
		if e.Origin == "lon" {
			seen[e.Sequence]++
		}
	}
	for s := uint64(1); s <= 10; s++ {
		if seen[s] != 1 {
			t.Fatalf("event %d stored %d times", s, seen[s])
		}
	}
	if len(seen) != 10 {
		t.Fatalf("stored sequences %v", seen)
	}
}

func TestSiteImportReceiptNeverMovesBackwards(t *testing.T) {
	x := newSyncFixture(t)
	x.mustApply(CmdSiteEnroll, SiteEnrollBody{Name: "lon", PublicPEM: string(signing.EncodePublic(x.key.Public()))})
	x.mustApply(CmdSiteImport, x.importBody(5, 3, []digest.Digest{}, nil))
	// A later edge bundle carrying an older receipt (replayed state).
	b := x.importBody(6, 2, []digest.Digest{}, nil)
	b.Receipt.Generated = t0
	res := x.mustApply(CmdSiteImport, b).(*SiteImportResult)
	if res.LastAppliedSeq != 3 || len(res.Warnings) == 0 {
		t.Fatalf("receipt moved backwards: %+v", res)
	}
	// A held list that does not match the receipt is refused whole.
	b = x.importBody(7, 4, []digest.Digest{digest.FromBytes([]byte("x"))}, nil)
	b.Receipt.Objects.ListDigest = transfer.HeldListDigest(nil)
	if _, err := x.apply(CmdSiteImport, b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("mismatched held list: %v", err)
	}
	// A bundle signed by another key than the enrolled one.
	b = x.importBody(8, 4, nil, nil)
	b.KeyID = strings.Repeat("f", 64)
	if _, err := x.apply(CmdSiteImport, b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("foreign key: %v", err)
	}
	ss, _ := x.st.SiteSync("lon")
	if ss.LastImportSeq != 6 || ss.LastAppliedSeq != 3 {
		t.Fatalf("sync after refusals %+v", ss)
	}
}

// TestSiteImportStoresTheEdgesHashes: the hub's copy of an edge's chain is
// the edge's chain, hash for hash, and verifies with the hub's own log.
func TestSiteImportStoresTheEdgesHashes(t *testing.T) {
	x := newSyncFixture(t)
	x.mustApply(CmdSiteEnroll, SiteEnrollBody{Name: "lon", PublicPEM: string(signing.EncodePublic(x.key.Public()))})
	chain := edgeChain(t, "lon", 6)
	chain[2].Detail = "gap: hub sequence 3 missing <&>"
	for i := 2; i < len(chain); i++ {
		if err := chain[i].Seal(chain[i-1].Hash); err != nil {
			t.Fatal(err)
		}
	}
	x.mustApply(CmdSiteImport, x.importBody(1, 0, nil, chain[:4]))
	x.mustApply(CmdSiteImport, x.importBody(2, 0, nil, chain[2:]))
	evs, _ := x.st.Events(0, 1000)
	var lon []Event
	for _, e := range evs {
		if e.Origin == "lon" {
			lon = append(lon, e)
		}
	}
	if len(lon) != len(chain) {
		t.Fatalf("%d lon events stored, want %d", len(lon), len(chain))
	}
	for i, e := range lon {
		if e.Hash != chain[i].Hash || e.PrevHash != chain[i].PrevHash || e.Reason != chain[i].Detail {
			t.Fatalf("event %d: the hub stores hash %s prev %s, the edge computed %s prev %s", e.Sequence, e.Hash, e.PrevHash, chain[i].Hash, chain[i].PrevHash)
		}
		if h, err := EventHash(e); err != nil || h != chain[i].Hash {
			t.Fatalf("event %d: the hub's rule gives %s, the edge's %s (%v)", e.Sequence, h, chain[i].Hash, err)
		}
	}
	if _, err := VerifyChains(evs); err != nil {
		t.Fatal(err)
	}
}

// TestSiteImportRefusesForgedHashes: an event whose hash was forged (its
// content edited, its hash kept, or a made-up hash) is never merged, even
// in a body that skipped ParseEventBatch.
func TestSiteImportRefusesForgedHashes(t *testing.T) {
	for name, forge := range map[string]func(e *transfer.Event){
		"edited":   func(e *transfer.Event) { e.Outcome = "refused" },
		"made up":  func(e *transfer.Event) { e.Hash = strings.Repeat("ab", 32) },
		"hub-only": func(e *transfer.Event) { e.Role = "platform-admin" },
	} {
		t.Run(name, func(t *testing.T) {
			x := newSyncFixture(t)
			x.mustApply(CmdSiteEnroll, SiteEnrollBody{Name: "lon", PublicPEM: string(signing.EncodePublic(x.key.Public()))})
			chain := edgeChain(t, "lon", 3)
			forge(&chain[1])
			res := x.mustApply(CmdSiteImport, x.importBody(1, 0, nil, chain)).(*SiteImportResult)
			if res.ChainOK || res.EventsAccepted != 0 || !strings.Contains(res.ChainError, "seq 2") {
				t.Fatalf("forged event merged: %+v", res)
			}
			evs, _ := x.st.Events(0, 1000)
			for _, e := range evs {
				if e.Origin == "lon" {
					t.Fatalf("stored %+v", e)
				}
			}
		})
	}
}

// TestSiteImportAfterEventsBatch: a site that posted events:batch before
// its edge was enrolled holds a hub-chained history the edge's chain does
// not continue; its import reports the chain error and merges no events
// (the receipt still counts), instead of dropping the edge's first events
// as duplicates.
func TestSiteImportAfterEventsBatch(t *testing.T) {
	x := newSyncFixture(t)
	x.mustApply(CmdEventsIngest, EventsIngestBody{Origin: "lon", Events: []IngestEvent{{Sequence: 1, Time: t0, Action: "a", Outcome: "ok"}}})
	x.mustApply(CmdSiteEnroll, SiteEnrollBody{Name: "lon", PublicPEM: string(signing.EncodePublic(x.key.Public()))})
	res := x.mustApply(CmdSiteImport, x.importBody(1, 0, []digest.Digest{}, edgeChain(t, "lon", 2))).(*SiteImportResult)
	if res.ChainOK || res.EventsAccepted != 0 || !strings.Contains(res.ChainError, "events:batch") || res.Outcome != ImportApplied {
		t.Fatalf("import: %+v", res)
	}
	if ss, _ := x.st.SiteSync("lon"); ss.Chain.Seq != 0 || !ss.HeldKnown {
		t.Fatalf("sync state: %+v", ss)
	}
}
