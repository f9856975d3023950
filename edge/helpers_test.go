package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// t0 is the edge's local clock in most tests.
var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

type readerAt struct{ *bytes.Reader }

func (readerAt) Close() error { return nil }

// objectsOf turns byte slices into bundle object sources.
func objectsOf(blobs [][]byte) []transfer.ObjectSource {
	var out []transfer.ObjectSource
	for _, b := range blobs {
		b := b
		out = append(out, transfer.ObjectSource{Digest: digest.FromBytes(b), Size: int64(len(b)),
			Open: func() (transfer.ReadAtCloser, error) { return readerAt{bytes.NewReader(b)}, nil }})
	}
	return out
}

func randBlob(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}

func mustKey(t testing.TB) *signing.PrivateKey {
	t.Helper()
	k, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// bundleSpec describes one bundle a test hub writes.
type bundleSpec struct {
	key      *signing.PrivateKey
	source   string // zero: "hub"
	target   string
	seq      uint64
	pred     digest.Digest
	created  time.Time // zero: t0 - 1h
	expires  time.Time // zero: created + 30 days
	blobs    [][]byte
	records  []transfer.RecordSource
	volSize  int64
	hubClock time.Time // zero: no time record
}

// writeBundle writes spec into a fresh directory and returns the result.
func writeBundle(t testing.TB, spec bundleSpec) *transfer.Result {
	t.Helper()
	if spec.created.IsZero() {
		spec.created = t0.Add(-time.Hour)
	}
	if spec.expires.IsZero() {
		spec.expires = spec.created.Add(30 * 24 * time.Hour)
	}
	if spec.source == "" {
		spec.source = "hub"
	}
	recs := spec.records
	if !spec.hubClock.IsZero() {
		b, _ := json.Marshal(transfer.TimeAttestation{Hub: "hub", Time: spec.hubClock.UTC()})
		recs = append(recs, transfer.RecordSource{Type: transfer.RecordTime, Data: b})
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	res, err := transfer.Create(context.Background(), dir, spec.key, transfer.Header{
		Source: spec.source, Target: spec.target, Sequence: spec.seq, Predecessor: spec.pred, Created: spec.created, Expires: spec.expires,
	}, transfer.Content{Objects: objectsOf(spec.blobs), Records: recs}, transfer.CreateOptions{VolumeSize: spec.volSize})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func dirOf(r *transfer.Result) string { return filepath.Dir(r.Volumes[0]) }

// newTestEdge initialises an edge for site trusting hub, clock at t0.
func newTestEdge(t testing.TB, site string, hub *signing.PrivateKey) *Edge {
	t.Helper()
	e, err := Init(filepath.Join(t.TempDir(), "data"), site, hub.Public())
	if err != nil {
		t.Fatal(err)
	}
	e.Clock = func() time.Time { return t0 }
	return e
}

func mustImport(t testing.TB, e *Edge, r *transfer.Result) *ImportResult {
	t.Helper()
	res, err := e.Import(context.Background(), []string{dirOf(r)}, ImportOptions{})
	if err != nil {
		t.Fatalf("import seq %d: %v", r.Signed.Sequence, err)
	}
	return res
}

// snapshot is the edge's state without its event chain, and the store's
// object list: what a refusal must leave untouched.
type snapshot struct {
	state string
	store []string
}

func takeSnapshot(t testing.TB, e *Edge) snapshot {
	t.Helper()
	st, err := loadState(e.dir.Edge())
	if err != nil {
		t.Fatal(err)
	}
	st.Chain, st.Pending = transfer.ChainHead{}, nil
	b, _ := json.Marshal(st)
	return snapshot{state: string(b), store: storeList(t, e.store)}
}

func storeList(t testing.TB, s *cas.Store) []string {
	t.Helper()
	var out []string
	if err := s.Walk(func(d digest.Digest, size int64) error {
		out = append(out, d.Hex())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func (a snapshot) equal(b snapshot) bool {
	if a.state != b.state || len(a.store) != len(b.store) {
		return false
	}
	for i := range a.store {
		if a.store[i] != b.store[i] {
			return false
		}
	}
	return true
}

func mustState(t testing.TB, e *Edge) *state {
	t.Helper()
	st, err := loadState(e.dir.Edge())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// readBundleRecords imports a bundle into a scratch store (trusting key)
// and returns its records' bytes by type.
func readBundleRecords(t testing.TB, dir string, key *signing.PublicKey) (*transfer.Bundle, map[string][][]byte) {
	t.Helper()
	files, err := transfer.ExpandPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	b, err := transfer.OpenOne(files, signing.NewTrust(key))
	if err != nil {
		t.Fatal(err)
	}
	store, err := cas.Open(filepath.Join(t.TempDir(), "cas"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Import(context.Background(), store, transfer.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	out := map[string][][]byte{}
	for _, r := range b.Manifest.Records {
		data, err := os.ReadFile(store.Path(r.Digest))
		if err != nil {
			t.Fatal(err)
		}
		out[r.Type] = append(out[r.Type], data)
	}
	return b, out
}
