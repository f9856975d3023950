package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

func TestInit(t *testing.T) {
	hub := mustKey(t)
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := Open(dir); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("open before init: %v", err)
	}
	e, err := Init(dir, "lon", hub.Public())
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "keys", "edge.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("edge.key: %v %v", st, err)
	}
	pub, err := signing.LoadPublic(filepath.Join(dir, "edge.pub"))
	if err != nil || pub.ID != e.PublicKey().ID {
		t.Fatalf("edge.pub: %v", err)
	}
	if e.HubKey().ID != hub.Public().ID {
		t.Fatal("hub key not trusted")
	}
	if _, err := Init(dir, "lon", hub.Public()); !errors.Is(err, ErrAlreadyInitialised) {
		t.Fatalf("second init: %v", err)
	}
	if _, err := Init(filepath.Join(t.TempDir(), "d"), "lon", nil); err == nil {
		t.Error("init without a hub key succeeded")
	}
	for _, bad := range []string{"", "../x", "hub", "a/b"} {
		if _, err := Init(filepath.Join(t.TempDir(), "d"), bad, hub.Public()); err == nil {
			t.Errorf("site %q accepted", bad)
		}
	}
	// An init interrupted after the keys were written completes on rerun
	// with the same key.
	os.Remove(statePath(filepath.Join(dir, "edge")))
	e2, err := Init(dir, "lon", hub.Public())
	if err != nil || e2.PublicKey().ID != e.PublicKey().ID {
		t.Fatalf("re-init after interrupted init: %v", err)
	}
}

// Every refusal: its error, its audit event, and no other change to state
// or store. A duplicate is a no-op that succeeds.
func TestImportRefusals(t *testing.T) {
	hub, other := mustKey(t), mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(1))
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{randBlob(rng, 3000)}})
	mustImport(t, e, b1)
	// Bundle 2 carries a hub time 20 hours ahead of the edge's clock
	// (within MaxTimeLead).
	b2 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, pred: b1.Signed.Digest, blobs: [][]byte{randBlob(rng, 3000)},
		hubClock: t0.Add(20 * time.Hour)})
	mustImport(t, e, b2)

	next := func(mut func(*bundleSpec)) *transfer.Result {
		s := bundleSpec{key: hub, target: "lon", seq: 3, pred: b2.Signed.Digest, blobs: [][]byte{randBlob(rng, 4000), randBlob(rng, 5000)}}
		mut(&s)
		return writeBundle(t, s)
	}
	// Tampered: flip one byte inside an object's data in the volume.
	tampered := next(func(*bundleSpec) {})
	vol, _ := os.ReadFile(tampered.Volumes[0])
	obj := tampered.Signed.Manifest.Objects[1]
	off := findObject(t, vol, obj.Digest)
	vol[off+100] ^= 0xff
	os.WriteFile(tampered.Volumes[0], vol, 0o644)
	// Tampered manifest: one base64 character of the signed payload changed.
	badSig := next(func(*bundleSpec) {})
	vol, _ = os.ReadFile(badSig.Volumes[0])
	at := bytes.Index(vol, []byte(`"payload":"`)) + len(`"payload":"`) + 40
	if vol[at] == 'A' {
		vol[at] = 'B'
	} else {
		vol[at] = 'A'
	}
	os.WriteFile(badSig.Volumes[0], vol, 0o644)
	// Missing volume: three volumes, one not given.
	multi := next(func(s *bundleSpec) {
		s.volSize = 1 << 20
		s.blobs = [][]byte{randBlob(rng, 700<<10), randBlob(rng, 700<<10), randBlob(rng, 700<<10)}
	})
	if len(multi.Volumes) < 2 {
		t.Fatalf("want a multi-volume bundle, got %d volume(s)", len(multi.Volumes))
	}
	badIntent := next(func(s *bundleSpec) {
		s.records = []transfer.RecordSource{{Type: transfer.RecordIntent, Data: []byte(`{"id":"i-1"}`)}}
	})

	cases := []struct {
		name  string
		paths []string
		want  error
	}{
		{"older", []string{dirOf(b1)}, ErrStale},
		{"same sequence, other bundle", []string{dirOf(next(func(s *bundleSpec) { s.seq = 2 }))}, ErrStale},
		{"sequence 0", []string{dirOf(next(func(s *bundleSpec) { s.seq = 0 }))}, ErrStale},
		{"foreign target", []string{dirOf(next(func(s *bundleSpec) { s.target = "par" }))}, ErrForeignTarget},
		{"no target", []string{dirOf(next(func(s *bundleSpec) { s.target = "" }))}, ErrForeignTarget},
		{"wrong key", []string{dirOf(next(func(s *bundleSpec) { s.key = other }))}, transfer.ErrUnknownKey},
		{"tampered volume", []string{dirOf(tampered)}, transfer.ErrCorrupt},
		{"tampered manifest", []string{dirOf(badSig)}, transfer.ErrBadSignature},
		{"expired by the local clock", []string{dirOf(next(func(s *bundleSpec) {
			s.created, s.expires = t0.Add(-48*time.Hour), t0.Add(-time.Minute)
		}))}, transfer.ErrExpired},
		{"expired by the hub time seen", []string{dirOf(next(func(s *bundleSpec) {
			s.created, s.expires = t0.Add(-time.Hour), t0.Add(10*time.Hour)
		}))}, transfer.ErrExpired},
		{"missing volume", []string{multi.Volumes[0], multi.Volumes[len(multi.Volumes)-1]}, transfer.ErrMissingVolume},
		{"malformed record", []string{dirOf(badIntent)}, transfer.ErrBadRecord},
		{"not a bundle", []string{filepath.Join(t.TempDir(), "nothing")}, nil},
	}
	for _, tc := range cases {
		before := takeSnapshot(t, e)
		head := mustState(t, e).Chain.Seq
		res, err := e.Import(context.Background(), tc.paths, ImportOptions{})
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			continue
		}
		wantOutcome := OutcomeRefused
		if tc.want == nil {
			wantOutcome = OutcomeFailed
		}
		if res == nil || res.Outcome != wantOutcome {
			t.Errorf("%s: result %+v", tc.name, res)
			continue
		}
		if !before.equal(takeSnapshot(t, e)) {
			t.Errorf("%s: the refusal changed state or store", tc.name)
		}
		st := mustState(t, e)
		last := st.Pending[len(st.Pending)-1]
		if st.Chain.Seq != head+1 || last.Outcome != wantOutcome || last.Action != "import" || !strings.Contains(last.Detail, firstLine(err.Error())) {
			t.Errorf("%s: audit event %+v (head %d -> %d)", tc.name, last, head, st.Chain.Seq)
		}
		t.Logf("%s: %v", tc.name, err)
	}

	// Duplicate: success, nothing changes but the event.
	before := takeSnapshot(t, e)
	res, err := e.Import(context.Background(), []string{dirOf(b2)}, ImportOptions{})
	if err != nil || res.Outcome != OutcomeDuplicate || res.Event.Outcome != OutcomeDuplicate {
		t.Fatalf("duplicate: %+v %v", res, err)
	}
	if !before.equal(takeSnapshot(t, e)) {
		t.Fatal("duplicate changed state or store")
	}

	// None of the refusals poisoned anything: the complete multi-volume
	// bundle 3 applies, volumes given in reverse order.
	var rev []string
	for i := len(multi.Volumes) - 1; i >= 0; i-- {
		rev = append(rev, multi.Volumes[i])
	}
	res, err = e.Import(context.Background(), rev, ImportOptions{})
	if err != nil || res.Outcome != OutcomeApplied || res.Sequence != 3 || res.ObjectsAdded != 3 || res.Gap != nil || res.PredecessorMismatch {
		t.Fatalf("bundle 3: %+v %v", res, err)
	}
	for _, o := range multi.Signed.Manifest.Objects {
		if err := e.store.Verify(o.Digest); err != nil {
			t.Fatal(err)
		}
	}
	// The whole history is one verifiable chain: 2 applied, the refusals,
	// the duplicate, the last apply.
	st := mustState(t, e)
	if _, err := transfer.VerifyChain("lon", transfer.ChainHead{Hash: transfer.GenesisHash}, st.Pending); err != nil {
		t.Fatal(err)
	}
	if want := 2 + len(cases) + 1 + 1; len(st.Pending) != want {
		t.Fatalf("%d events, want %d", len(st.Pending), want)
	}
}

func firstLine(s string) string {
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// findObject returns the offset of an object's raw bytes in a volume.
func findObject(t *testing.T, vol []byte, d digest.Digest) int {
	t.Helper()
	// Tar headers name entries by hex digest; the data follows the header.
	idx := bytes.Index(vol, []byte(d.Hex()))
	if idx < 0 {
		t.Fatalf("object %s not found in the volume", d.Short())
	}
	return (idx/512)*512 + 512
}

func TestGapAppliedAndReported(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(2))
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{randBlob(rng, 2000)}})
	mustImport(t, e, b1)
	b4 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 4, pred: digest.FromBytes([]byte("bundle 3")), blobs: [][]byte{randBlob(rng, 2000)}})
	res := mustImport(t, e, b4)
	if res.Outcome != OutcomeApplied || len(res.Gap) != 2 || res.Gap[0] != 2 || res.Gap[1] != 3 || !res.PredecessorMismatch {
		t.Fatalf("%+v", res)
	}
	if !strings.Contains(res.Event.Detail, "gap: sequences 2..3") || !strings.Contains(res.Event.Detail, "predecessor") {
		t.Fatalf("event detail: %s", res.Event.Detail)
	}
	s, _ := e.Status()
	if s.Applied.Seq != 4 || s.Objects != 2 {
		t.Fatalf("status %+v", s)
	}
}

func TestExportReceiptEventsAndAck(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(3))
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{randBlob(rng, 2000), randBlob(rng, 10)}})
	mustImport(t, e, b1)
	mustImport(t, e, b1) // duplicate: a second event
	out1 := filepath.Join(t.TempDir(), "x1")
	x1, err := e.Export(context.Background(), out1, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bx, recs := readBundleRecords(t, out1, e.PublicKey())
	m := bx.Manifest
	if m.Target != "hub" || m.Source != "lon" || m.Sequence != 1 || m.Predecessor != "" || x1.Digest != bx.Digest {
		t.Fatalf("export manifest %+v", m)
	}
	rc, err := transfer.ParseReceipt(recs[transfer.RecordReceipt][0])
	if err != nil {
		t.Fatal(err)
	}
	var held []digest.Digest
	for _, o := range b1.Signed.Manifest.Objects {
		held = append(held, o.Digest)
	}
	if rc.AppliedSeq != 1 || rc.AppliedDigest != b1.Signed.Digest || rc.Objects.Count != 2 || rc.Objects.Bytes != 2010 ||
		rc.Objects.ListDigest != transfer.HeldListDigest(held) || rc.ChainHead.Seq != 2 {
		t.Fatalf("receipt %+v", rc)
	}
	eb, err := transfer.ParseEventBatch(recs[transfer.RecordEvents][0])
	if err != nil {
		t.Fatal(err)
	}
	head, err := transfer.VerifyChain("lon", transfer.ChainHead{Hash: transfer.GenesisHash}, eb.Events)
	if err != nil || head != rc.ChainHead || eb.Origin != "lon" {
		t.Fatalf("chain %v head %+v", err, head)
	}

	// The hub acks event 1 with the wrong hash: nothing pruned, a warning.
	ackRec := func(seq uint64, hash string) []transfer.RecordSource {
		b, _ := json.Marshal(transfer.Ack{Origin: "lon", Sequence: seq, Hash: hash})
		return []transfer.RecordSource{{Type: transfer.RecordAck, Data: b}}
	}
	b2 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, pred: b1.Signed.Digest, records: ackRec(1, strings.Repeat("e", 64))})
	res := mustImport(t, e, b2)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "not pruned") || len(mustState(t, e).Pending) != 3 {
		t.Fatalf("bad ack: %+v", res)
	}
	// A correct ack of event 2 prunes events 1 and 2.
	b3 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 3, pred: b2.Signed.Digest, records: ackRec(2, eb.Events[1].Hash)})
	mustImport(t, e, b3)
	st := mustState(t, e)
	if len(st.Pending) != 2 || st.Pending[0].Seq != 3 {
		t.Fatalf("pending after ack: %d, first %d", len(st.Pending), st.Pending[0].Seq)
	}
	// The next export continues the chain from the acknowledged head and
	// names the previous export as its predecessor.
	out2 := filepath.Join(t.TempDir(), "x2")
	if _, err := e.Export(context.Background(), out2, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	bx2, recs2 := readBundleRecords(t, out2, e.PublicKey())
	if bx2.Manifest.Sequence != 2 || bx2.Manifest.Predecessor != x1.Digest {
		t.Fatalf("second export seq %d pred %s", bx2.Manifest.Sequence, bx2.Manifest.Predecessor)
	}
	eb2, err := transfer.ParseEventBatch(recs2[transfer.RecordEvents][0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.VerifyChain("lon", head, eb2.Events); err != nil {
		t.Fatalf("second batch does not continue the first: %v", err)
	}
	// The hub's dropping or editing an event in transit is detected.
	dropped := eb2.Events[1:]
	if _, err := transfer.VerifyChain("lon", head, dropped); !errors.Is(err, transfer.ErrChain) {
		t.Fatalf("dropped event not detected: %v", err)
	}
	edited := append([]transfer.Event{}, eb2.Events...)
	edited[0].Outcome = OutcomeRefused
	if _, err := transfer.VerifyChain("lon", head, edited); !errors.Is(err, transfer.ErrChain) {
		t.Fatalf("edited event not detected: %v", err)
	}
}

// Only one process works on an edge at a time.
func TestImportLocked(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{[]byte("x")}})
	unlock, err := e.lock()
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Import(context.Background(), []string{dirOf(b1)}, ImportOptions{})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "(pid "+strconv.Itoa(os.Getpid())+")") || !strings.Contains(err.Error(), e.dir.Root) {
		t.Fatalf("import while locked: %v, want ErrBusy naming the holder's pid and the directory", err)
	}
	unlock()
	mustImport(t, e, b1)
}

// An edited event in the state file is caught when the edge opens.
func TestStateChainTamperDetected(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{[]byte("x")}})
	mustImport(t, e, b1)
	mustImport(t, e, b1)
	p := statePath(e.dir.Edge())
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(`"outcome": "duplicate"`), []byte(`"outcome": "applied"`), 1), 0o600)
	if _, err := e.Status(); !errors.Is(err, ErrState) {
		t.Fatalf("edited event not detected: %v", err)
	}
	// Dropping the first pending event is caught too.
	os.WriteFile(p, b, 0o600)
	st := mustState(t, e)
	st.Pending = st.Pending[1:]
	if err := st.save(e.dir.Edge()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Status(); !errors.Is(err, ErrState) {
		t.Fatalf("dropped event not detected: %v", err)
	}
}

// Record types the edge does not use are ignored and reported; intents,
// approvals and exceptions are kept; a time record raises the trusted time
// but never lowers it.
func TestImportRecords(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rc := transfer.Receipt{Site: "par", Objects: transfer.HeldObjects{ListDigest: transfer.HeldListDigest(nil)},
		ChainHead: transfer.ChainHead{Hash: transfer.GenesisHash}, Generated: t0}
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, hubClock: t0.Add(20 * time.Hour),
		records: []transfer.RecordSource{record(t, transfer.RecordReceipt, rc), {Type: "key-rotation", Data: []byte(`{}`)}}})
	res := mustImport(t, e, b1)
	if res.IgnoredRecords[transfer.RecordReceipt] != 1 || res.IgnoredRecords["key-rotation"] != 1 || res.Records[transfer.RecordTime] != 1 {
		t.Fatalf("records %v ignored %v", res.Records, res.IgnoredRecords)
	}
	b2 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, pred: b1.Signed.Digest, hubClock: t0.Add(time.Hour)})
	mustImport(t, e, b2)
	if s, _ := e.Status(); !s.TrustedTime.Equal(t0.Add(20*time.Hour)) || s.Objects != 0 {
		t.Fatalf("trusted time %v, objects %d (records are not held objects)", s.TrustedTime, s.Objects)
	}
	// Record objects do not stay in the store once applied.
	if got := storeList(t, e.store); len(got) != 0 {
		t.Fatalf("store holds %d record objects", len(got))
	}
}

// The media is hostile: random byte flips anywhere in a volume either
// leave a bundle that still verifies (the flip hit padding) and applies
// whole, or are refused as a verdict on the bundle with nothing changed.
func TestImportRandomCorruption(t *testing.T) {
	hub := mustKey(t)
	rng := rand.New(rand.NewSource(11))
	good := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1,
		blobs:   [][]byte{randBlob(rng, 3000), bytes.Repeat([]byte("compressible "), 400), []byte("tiny")},
		records: []transfer.RecordSource{{Type: transfer.RecordTime, Data: []byte(`{"hub":"hub","time":"2026-11-28T12:00:00Z"}`)}}})
	orig, err := os.ReadFile(good.Volumes[0])
	if err != nil {
		t.Fatal(err)
	}
	iterations := 40
	if testing.Short() {
		iterations = 10
	}
	counts := map[string]int{}
	for i := 0; i < iterations; i++ {
		vol := append([]byte(nil), orig...)
		for k := 0; k <= rng.Intn(3); k++ {
			vol[rng.Intn(len(vol))] ^= byte(1 + rng.Intn(255))
		}
		p := filepath.Join(t.TempDir(), filepath.Base(good.Volumes[0]))
		os.WriteFile(p, vol, 0o644)
		e := newTestEdge(t, "lon", hub)
		before := takeSnapshot(t, e)
		res, err := e.Import(context.Background(), []string{p}, ImportOptions{})
		if err == nil {
			counts["applied"]++
			for _, o := range good.Signed.Manifest.Objects {
				if _, held := mustState(t, e).Held[o.Digest]; held {
					if err := e.store.Verify(o.Digest); err != nil {
						t.Fatalf("iteration %d: applied a damaged object: %v", i, err)
					}
				}
			}
			if s, _ := e.Status(); s.Applied.Digest != good.Signed.Digest || s.Objects != 3 {
				t.Fatalf("iteration %d: applied %+v", i, s)
			}
			continue
		}
		counts[res.Outcome]++
		if res.Outcome != OutcomeRefused {
			t.Fatalf("iteration %d: a damaged volume gave a non-verdict error: %v", i, err)
		}
		if !before.equal(takeSnapshot(t, e)) {
			t.Fatalf("iteration %d: refusal (%v) changed state or store", i, err)
		}
	}
	t.Logf("%v", counts)
}
