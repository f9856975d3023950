package edge

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// flipEntryByte flips one byte of the data of the entry named by d (raw or
// .zst) in whichever volume of r holds it, at offset at into the data.
func flipEntryByte(t *testing.T, r *transfer.Result, d digest.Digest, at int) {
	t.Helper()
	for _, p := range r.Volumes {
		vol, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(vol), d.Hex()) {
			continue
		}
		off := findObject(t, vol, d)
		vol[off+at] ^= 0x5a
		if err := os.WriteFile(p, vol, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("entry %s is in no volume", d.Short())
}

// expectRefusal imports paths and checks the refusal: the error wraps want,
// the outcome and the audit event say "refused", and nothing else changed.
func expectRefusal(t *testing.T, e *Edge, name string, paths []string, opts ImportOptions, want error) error {
	t.Helper()
	before := takeSnapshot(t, e)
	head := mustState(t, e).Chain.Seq
	res, err := e.Import(context.Background(), paths, opts)
	if err == nil || !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", name, err, want)
		return err
	}
	if res == nil || res.Outcome != OutcomeRefused {
		t.Errorf("%s: result %+v", name, res)
		return err
	}
	if !before.equal(takeSnapshot(t, e)) {
		t.Errorf("%s: the refusal changed state or store", name)
	}
	st := mustState(t, e)
	last := st.Pending[len(st.Pending)-1]
	if st.Chain.Seq != head+1 || last.Outcome != OutcomeRefused || last.Action != "import" {
		t.Errorf("%s: audit event %+v (head %d -> %d)", name, last, head, st.Chain.Seq)
	}
	return err
}

// compressible returns n bytes that zstd shrinks (so the writer stores
// them as a .zst entry) and that differ per seed.
func compressible(seed, n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "Package: demo-%d\nVersion: %d.%d\n\n", seed, i, i%7)
	}
	return []byte(b.String()[:n])
}

// An object the edge already holds from an earlier bundle is still read
// from a later bundle's volume and verified: tampered there, the later
// bundle is refused as corrupt (exit 21), its audit event says refused,
// and nothing changes. Tried on a raw entry, a zstd entry and a part of an
// object split across volumes.
func TestImportVerifiesHeldObjects(t *testing.T) {
	hub := mustKey(t)
	rng := rand.New(rand.NewSource(17))
	raw := randBlob(rng, 6000)
	zst := compressible(1, 20000)
	split := randBlob(rng, 2500<<10)
	cases := []struct {
		name   string
		blobs  [][]byte
		target []byte // the held object whose entry is tampered
		at     int
	}{
		{"raw entry", [][]byte{raw, randBlob(rng, 3000)}, raw, 100},
		{"zstd entry", [][]byte{zst, randBlob(rng, 3000)}, zst, 40},
		{"part of a split object", [][]byte{split, randBlob(rng, 3000)}, split, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEdge(t, "lon", hub)
			b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{tc.target}, volSize: 1 << 20})
			mustImport(t, e, b1)
			b2 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, pred: b1.Signed.Digest, blobs: tc.blobs, volSize: 1 << 20})
			d := digest.FromBytes(tc.target)
			var obj transfer.Object
			for _, o := range b2.Signed.Manifest.Objects {
				if o.Digest == d {
					obj = o
				}
			}
			if tc.name == "part of a split object" && len(obj.Parts) < 2 {
				t.Fatalf("object not split: %d part(s)", len(obj.Parts))
			}
			entry := obj.Parts[len(obj.Parts)-1].Digest
			flipEntryByte(t, b2, entry, tc.at)
			err := expectRefusal(t, e, tc.name, []string{dirOf(b2)}, ImportOptions{}, transfer.ErrCorrupt)
			t.Logf("%v", err)
			if err := e.store.Verify(d); err != nil {
				t.Fatalf("the held object was damaged: %v", err)
			}
			if s, _ := e.Status(); s.Applied.Seq != 1 {
				t.Fatalf("applied %d", s.Applied.Seq)
			}
		})
	}
}

// A bundle signed by a trusted hub key but naming another source is
// refused (exit 22), changing nothing.
func TestImportRefusesForeignSource(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(3))
	for i, src := range []string{"lon", "par", "Hub", "hub-2"} {
		b := writeBundle(t, bundleSpec{key: hub, source: src, target: "lon", seq: uint64(i + 1), blobs: [][]byte{randBlob(rng, 1000)}})
		err := expectRefusal(t, e, "source "+src, []string{dirOf(b)}, ImportOptions{}, ErrForeignSource)
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", src)) {
			t.Errorf("source %s: message does not name the source: %v", src, err)
		}
	}
	mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 5, blobs: [][]byte{randBlob(rng, 1000)}}))
}

// One bundle may move the trusted time at most MaxTimeLead ahead of
// max(local clock, trusted time); a far-future time (2099) is refused
// instead of bricking the edge.
func TestImportTimeLead(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(4))
	y2099 := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	seq := uint64(0)
	bundle := func(created, hubClock time.Time) *transfer.Result {
		seq++
		exp := created.Add(30 * 24 * time.Hour)
		if created.IsZero() {
			exp = time.Time{}
		}
		return writeBundle(t, bundleSpec{key: hub, target: "lon", seq: seq, created: created, expires: exp, hubClock: hubClock,
			blobs: [][]byte{randBlob(rng, 500)}})
	}
	refused := []struct {
		name              string
		created, hubClock time.Time
	}{
		{"created 2099", y2099, time.Time{}},
		{"time record 2099", time.Time{}, y2099},
		{"created 25h ahead", t0.Add(25 * time.Hour), time.Time{}},
		{"time record 24h1m ahead", time.Time{}, t0.Add(24*time.Hour + time.Minute)},
	}
	for _, tc := range refused {
		err := expectRefusal(t, e, tc.name, []string{dirOf(bundle(tc.created, tc.hubClock))}, ImportOptions{}, ErrTimeAhead)
		var te *TimeAheadError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "at most 24 hours ahead") {
			t.Errorf("%s: %v", tc.name, err)
		}
		t.Logf("%s: %v", tc.name, err)
	}
	if s, _ := e.Status(); !s.TrustedTime.IsZero() {
		t.Fatalf("trusted time moved to %v", s.TrustedTime)
	}
	// Within the bound: accepted, and the next bundle is judged against
	// the trusted time it set.
	mustImport(t, e, bundle(time.Time{}, t0.Add(23*time.Hour)))
	mustImport(t, e, bundle(time.Time{}, t0.Add(46*time.Hour)))
	if s, _ := e.Status(); !s.TrustedTime.Equal(t0.Add(46 * time.Hour)) {
		t.Fatalf("trusted time %v", s.TrustedTime)
	}
	expectRefusal(t, e, "25h past the trusted time", []string{dirOf(bundle(time.Time{}, t0.Add(71*time.Hour)))}, ImportOptions{}, ErrTimeAhead)
}

// Recovery of an edge whose trusted time a wrong hub clock moved to 2099
// before the bound existed: every bundle looks expired until a newer hub
// bundle is imported with ResetTrustedTime, which still demands the hub's
// signature, this site and a newer sequence, and then sets the trusted
// time from that bundle.
func TestImportResetTrustedTime(t *testing.T) {
	hub, other := mustKey(t), mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(5))
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{randBlob(rng, 500)}})
	mustImport(t, e, b1)
	// The state a pre-bound edge was left in by a 2099 hub time.
	unlock, err := e.lock()
	if err != nil {
		t.Fatal(err)
	}
	st := mustState(t, e)
	st.TrustedTime = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := st.save(e.dir.Edge()); err != nil {
		t.Fatal(err)
	}
	unlock()

	fresh := func(mut func(*bundleSpec)) []string {
		s := bundleSpec{key: hub, target: "lon", seq: 2, pred: b1.Signed.Digest, blobs: [][]byte{randBlob(rng, 500)}, hubClock: t0.Add(-30 * time.Minute)}
		mut(&s)
		return []string{dirOf(writeBundle(t, s))}
	}
	good := fresh(func(*bundleSpec) {})
	err = expectRefusal(t, e, "bricked", good, ImportOptions{}, transfer.ErrExpired)
	if err == nil || !strings.Contains(err.Error(), "--reset-trusted-time") {
		t.Fatalf("the expiry refusal does not name the recovery: %v", err)
	}
	reset := ImportOptions{ResetTrustedTime: true}
	expectRefusal(t, e, "reset, other key", fresh(func(s *bundleSpec) { s.key = other }), reset, transfer.ErrUnknownKey)
	expectRefusal(t, e, "reset, other site", fresh(func(s *bundleSpec) { s.target = "par" }), reset, ErrForeignTarget)
	expectRefusal(t, e, "reset, older sequence", fresh(func(s *bundleSpec) { s.seq = 1 }), reset, ErrStale)
	expectRefusal(t, e, "reset, far-future bundle", fresh(func(s *bundleSpec) { s.hubClock = time.Date(2098, 1, 1, 0, 0, 0, 0, time.UTC) }), reset, ErrTimeAhead)
	expectRefusal(t, e, "reset, expired by the local clock", fresh(func(s *bundleSpec) {
		s.created, s.expires, s.hubClock = t0.Add(-48*time.Hour), t0.Add(-time.Hour), time.Time{}
	}), reset, transfer.ErrExpired)

	res, err := e.Import(context.Background(), good, reset)
	if err != nil || res.Outcome != OutcomeApplied {
		t.Fatalf("reset import: %+v %v", res, err)
	}
	if s, _ := e.Status(); !s.TrustedTime.Equal(t0.Add(-30*time.Minute)) || s.Applied.Seq != 2 {
		t.Fatalf("after reset: trusted time %v, applied %d", s.TrustedTime, s.Applied.Seq)
	}
	if !strings.Contains(res.Event.Detail, "trusted time reset from 2099-01-01T00:00:00Z to ") {
		t.Fatalf("audit event: %s", res.Event.Detail)
	}
	// Back to normal: the next bundle applies without the flag.
	mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 3, blobs: [][]byte{randBlob(rng, 500)}}))
}
