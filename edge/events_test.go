package edge

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/transfer"
)

// hubModel is the hub's side of edge->hub sync as far as events go: it
// accepts an origin's exports in sequence order and merges each event
// exactly once (transfer.EventBatch.After).
type hubModel struct {
	lastExport uint64
	head       transfer.ChainHead
	merged     []transfer.Event
	receipt    transfer.Receipt
}

func (h *hubModel) receive(t *testing.T, e *Edge, dir string) {
	t.Helper()
	b, recs := readBundleRecords(t, dir, e.PublicKey())
	if b.Manifest.Sequence <= h.lastExport {
		return // older or duplicate export: its events are in a newer one
	}
	rc, err := transfer.ParseReceipt(recs[transfer.RecordReceipt][0])
	if err != nil {
		t.Fatal(err)
	}
	if len(recs[transfer.RecordEvents]) > 0 {
		eb, err := transfer.ParseEventBatch(recs[transfer.RecordEvents][0])
		if err != nil {
			t.Fatal(err)
		}
		got, err := eb.After(h.head)
		if errors.Is(err, transfer.ErrChain) {
			t.Fatalf("export %d does not continue the hub's chain: %v", b.Manifest.Sequence, err)
		}
		h.merged = append(h.merged, got...)
		if n := len(got); n > 0 {
			h.head = transfer.ChainHead{Seq: got[n-1].Seq, Hash: got[n-1].Hash}
		}
	}
	if rc.ChainHead != h.head {
		t.Fatalf("receipt names chain head %+v, the events lead to %+v", rc.ChainHead, h.head)
	}
	h.lastExport, h.receipt = b.Manifest.Sequence, rc
}

// Edge exports travel through a channel that loses, duplicates and
// reorders them, with hub acks flowing back; every event reaches the hub
// exactly once and in order, and the hub's view ends equal to the edge's.
func TestEventsReachHubExactlyOnce(t *testing.T) {
	hub := mustKey(t)
	for seed := int64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewSource(seed))
		e := newTestEdge(t, "lon", hub)
		h := &hubModel{head: transfer.ChainHead{Hash: transfer.GenesisHash}}
		hubSeq := uint64(0)
		var last *transfer.Result
		hubBundle := func(records []transfer.RecordSource) *transfer.Result {
			hubSeq++
			s := bundleSpec{key: hub, target: "lon", seq: hubSeq, blobs: [][]byte{randBlob(rng, 100)}, records: records}
			if last != nil {
				s.pred = last.Signed.Digest
			}
			last = writeBundle(t, s)
			return last
		}
		for round := 0; round < 3; round++ {
			// Activity at the edge: imports (applied, duplicate, stale) and exports.
			var exports []string
			for step := 0; step < 6; step++ {
				switch rng.Intn(3) {
				case 0:
					mustImport(t, e, hubBundle(nil))
				case 1:
					if last != nil {
						e.Import(context.Background(), []string{dirOf(last)}, ImportOptions{})
					}
				default:
					out := filepath.Join(t.TempDir(), "x")
					if _, err := e.Export(context.Background(), out, ExportOptions{}); err != nil {
						t.Fatal(err)
					}
					exports = append(exports, out)
				}
			}
			out := filepath.Join(t.TempDir(), "x")
			if _, err := e.Export(context.Background(), out, ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			// Lose, duplicate and reorder all but the newest, which the edge
			// resends until the hub's ack shows it arrived.
			var deliver []string
			for _, x := range exports {
				if rng.Float64() < 0.3 {
					continue
				}
				deliver = append(deliver, x)
				if rng.Float64() < 0.3 {
					deliver = append(deliver, x)
				}
			}
			rng.Shuffle(len(deliver), func(i, j int) { deliver[i], deliver[j] = deliver[j], deliver[i] })
			for _, x := range append(deliver, out) {
				h.receive(t, e, x)
			}
			// The hub acknowledges what it merged.
			ack := record(t, transfer.RecordAck, transfer.Ack{Origin: "lon", Sequence: h.head.Seq, Hash: h.head.Hash})
			mustImport(t, e, hubBundle([]transfer.RecordSource{ack}))
			st := mustState(t, e)
			if st.Acked != h.head || len(st.Pending) != 1 {
				t.Fatalf("seed %d round %d: after the ack: acked %+v (hub head %+v), %d pending", seed, round, st.Acked, h.head, len(st.Pending))
			}
		}
		out := filepath.Join(t.TempDir(), "x")
		if _, err := e.Export(context.Background(), out, ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		h.receive(t, e, out)
		st := mustState(t, e)
		if h.head != st.Chain || uint64(len(h.merged)) != st.Chain.Seq {
			t.Fatalf("seed %d: hub merged %d events to %+v, edge head %+v", seed, len(h.merged), h.head, st.Chain)
		}
		if _, err := transfer.VerifyChain("lon", transfer.ChainHead{Hash: transfer.GenesisHash}, h.merged); err != nil {
			t.Fatalf("seed %d: merged chain: %v", seed, err)
		}
		s, _ := e.Status()
		if h.receipt.AppliedSeq != s.Applied.Seq || h.receipt.Objects.ListDigest != s.ObjectsDigest {
			t.Fatalf("seed %d: hub's receipt %+v, edge %+v", seed, h.receipt, s)
		}
	}
}

// Many events split into several records, in chain order; event fields
// from hostile input (non-UTF-8, overlong paths) stay within the limits
// the hub's parser enforces.
func TestExportSplitsEventsAndClipsFields(t *testing.T) {
	defer func(n int) { eventsPerRecord = n }(eventsPerRecord)
	eventsPerRecord = 2
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	long := filepath.Join(t.TempDir(), string([]byte{0xff, 0xfe})+strings.Repeat("é", 700))
	for i := 0; i < 5; i++ {
		if _, err := e.Import(context.Background(), []string{long}, ImportOptions{}); err == nil {
			t.Fatal("import of a missing path succeeded")
		}
	}
	out := filepath.Join(t.TempDir(), "x")
	if _, err := e.Export(context.Background(), out, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	b, recs := readBundleRecords(t, out, e.PublicKey())
	head := transfer.ChainHead{Hash: transfer.GenesisHash}
	var n int
	for _, r := range b.Manifest.Records {
		if r.Type != transfer.RecordEvents {
			continue
		}
		n++
	}
	if n != 3 || len(recs[transfer.RecordEvents]) != 3 {
		t.Fatalf("%d events records, want 3", n)
	}
	for _, data := range recs[transfer.RecordEvents] {
		eb, err := transfer.ParseEventBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := eb.After(head)
		if err != nil {
			t.Fatal(err)
		}
		head = transfer.ChainHead{Seq: got[len(got)-1].Seq, Hash: got[len(got)-1].Hash}
	}
	if head.Seq != 5 {
		t.Fatalf("merged up to %d", head.Seq)
	}
}

// An export that fails after reserving its sequence leaves a gap in the
// edge's outgoing sequence, never two bundles with one sequence; the next
// export names the last bundle actually written as its predecessor.
func TestExportFailureLeavesGapNotReuse(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	x1 := filepath.Join(t.TempDir(), "x1")
	r1, err := e.Export(context.Background(), x1, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocked, []byte("not a directory"), 0o644)
	if _, err := e.Export(context.Background(), filepath.Join(blocked, "x2"), ExportOptions{}); err == nil {
		t.Fatal("export into a file succeeded")
	}
	r3, err := e.Export(context.Background(), filepath.Join(t.TempDir(), "x3"), ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Sequence != 1 || r3.Sequence != 3 || r3.Predecessor != r1.Digest {
		t.Fatalf("sequences %d, %d; predecessor %s (want %s)", r1.Sequence, r3.Sequence, r3.Predecessor, r1.Digest)
	}
}
