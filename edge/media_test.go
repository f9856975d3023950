package edge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/eucora/eucora/transfer"
)

// stick copies the volumes of bundles into one fresh directory, as a reused
// stick holds them.
func stick(t *testing.T, vols ...[]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, vs := range vols {
		for _, v := range vs {
			b, err := os.ReadFile(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(v)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func seqs(rs []*ImportResult) (out []uint64, outcomes []string) {
	for _, r := range rs {
		out, outcomes = append(out, r.Sequence), append(outcomes, r.Outcome)
	}
	return out, outcomes
}

// TestImportMediaSeveralBundles: a directory holding several bundles has
// those for this site newer than the last applied imported in sequence
// order (whatever the file order), one audit event each; the others are
// reported with their sequence numbers and change nothing; a refusal of
// one does not stop the next; a directory with nothing for this site is
// refused once; the edge's own export is refused saying where it belongs.
func TestImportMediaSeveralBundles(t *testing.T) {
	ctx := context.Background()
	hub, other := mustKey(t), mustKey(t)
	e := newTestEdge(t, "lon", hub)
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{[]byte("one")}})
	b2 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, pred: b1.Signed.Digest, blobs: [][]byte{[]byte("two")}})
	b3 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 3, pred: b2.Signed.Digest, blobs: [][]byte{[]byte("three")}})
	par := writeBundle(t, bundleSpec{key: hub, target: "par", seq: 9})
	mustImport(t, e, b1)

	// 1, 3, 2 and another site's: 2 then 3 applied; 1 duplicate, par not for us.
	head := mustState(t, e).Chain.Seq
	res, err := e.ImportMedia(ctx, []string{stick(t, b3.Volumes, b1.Volumes, par.Volumes, b2.Volumes)}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, outs := seqs(res.Imports); len(got) != 2 || got[0] != 2 || got[1] != 3 || outs[0] != OutcomeApplied || outs[1] != OutcomeApplied {
		t.Fatalf("imports %v %v, want 2 then 3 applied", got, outs)
	}
	skipped := map[uint64]string{}
	for _, s := range res.Skipped {
		skipped[s.Sequence] = s.Reason
	}
	if len(skipped) != 2 || skipped[1] != SkipDuplicate || skipped[9] != SkipNotForUs {
		t.Fatalf("skipped %+v", res.Skipped)
	}
	if st := mustState(t, e); st.Applied.Seq != 3 || st.Chain.Seq != head+2 {
		t.Fatalf("applied %d, chain %d -> %d: want 3 and two events", st.Applied.Seq, head, st.Chain.Seq)
	}

	// A bad bundle among good ones: refused, the next still applied, the
	// first refusal returned; 1 and 2 now stale, 3 duplicate.
	bad := writeBundle(t, bundleSpec{key: other, target: "lon", seq: 4})
	b5 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 5, pred: b3.Signed.Digest})
	res, err = e.ImportMedia(ctx, []string{stick(t, b1.Volumes, b2.Volumes, b3.Volumes, bad.Volumes, b5.Volumes)}, ImportOptions{})
	if !errors.Is(err, transfer.ErrUnknownKey) {
		t.Fatalf("bad key among good bundles: %v", err)
	}
	if got, outs := seqs(res.Imports); len(got) != 2 || outs[0] != OutcomeRefused || got[1] != 5 || outs[1] != OutcomeApplied {
		t.Fatalf("imports %v %v, want 4 refused, 5 applied", got, outs)
	}
	skipped = map[uint64]string{}
	for _, s := range res.Skipped {
		skipped[s.Sequence] = s.Reason
	}
	if skipped[1] != SkipStale || skipped[2] != SkipStale || skipped[3] != SkipDuplicate {
		t.Fatalf("skipped %+v", res.Skipped)
	}

	// Nothing for this site: refused once, state unchanged but the event.
	par2 := writeBundle(t, bundleSpec{key: hub, target: "par", seq: 10})
	before := takeSnapshot(t, e)
	head = mustState(t, e).Chain.Seq
	res, err = e.ImportMedia(ctx, []string{stick(t, par.Volumes, par2.Volumes)}, ImportOptions{})
	if !errors.Is(err, ErrForeignTarget) || len(res.Imports) != 1 || len(res.Skipped) != 1 {
		t.Fatalf("only other sites' bundles: %v %+v", err, res)
	}
	if !before.equal(takeSnapshot(t, e)) || mustState(t, e).Chain.Seq != head+1 {
		t.Fatal("a refusal changed the state or wrote other than one event")
	}

	// The edge's own export: refused before its signature is checked,
	// saying where it belongs; one event.
	out := t.TempDir()
	if _, err := e.Export(ctx, out, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	head = mustState(t, e).Chain.Seq
	res, err = e.ImportMedia(ctx, []string{out}, ImportOptions{})
	var oe *OwnExportError
	if !errors.As(err, &oe) || !errors.Is(err, ErrForeignTarget) || oe.Site != "lon" || len(res.Imports) != 1 || res.Imports[0].Outcome != OutcomeRefused {
		t.Fatalf("own export: %v %+v", err, res)
	}
	if st := mustState(t, e); st.Chain.Seq != head+1 || st.Applied.Seq != 5 {
		t.Fatalf("own export: chain %d -> %d, applied %d", head, st.Chain.Seq, st.Applied.Seq)
	}
}
