package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/hub/client"
	hubstore "github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// testHub answers the hub endpoints of docs/sync-protocol.md's network
// flow for one site, from a real bundle: exports, its manifest, its
// objects (Range honoured) and imports. dropAfter > 0 makes the first GET
// of object drop the connection after that many bytes.
type testHub struct {
	t        *testing.T
	site     string
	token    string
	envelope []byte
	export   client.Export
	store    *cas.Store // the bundle's objects
	listed   map[string]bool

	mu        sync.Mutex
	drop      digest.Digest
	dropAfter int64
	stall     bool     // hang instead of dropping the connection
	ranges    []string // Range headers of object GETs, in order
	served    int64    // object bytes written
	pushes    []client.ImportRequest
}

func newTestHub(t *testing.T, site string, hubKey *signing.PrivateKey, r *transfer.Result) *testHub {
	t.Helper()
	env, err := json.Marshal(signing.Sign(hubKey, transfer.PayloadType, r.Signed.Payload))
	if err != nil {
		t.Fatal(err)
	}
	b, err := transfer.OpenOne(r.Volumes, signing.NewTrust(hubKey.Public()))
	if err != nil {
		t.Fatal(err)
	}
	store, err := cas.Open(filepath.Join(t.TempDir(), "hubcas"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Import(context.Background(), store, transfer.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	h := &testHub{t: t, site: site, token: "s3cret", envelope: env, store: store, listed: map[string]bool{},
		export: client.Export{ExportRecord: hubstore.ExportRecord{Site: site, Sequence: r.Signed.Sequence, BundleID: r.Signed.BundleID, Digest: r.Signed.Digest}}}
	for _, o := range r.Signed.Objects {
		h.listed[o.Digest.Hex()] = true
	}
	return h
}

func (h *testHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+h.token {
		http.Error(w, `{"error":"no token"}`, http.StatusUnauthorized)
		return
	}
	site := "/v1/sites/" + h.site
	seq := fmt.Sprintf("%s/exports/%d", site, h.export.Sequence)
	switch p := r.URL.Path; {
	case r.Method == "POST" && p == site+"/imports":
		var body client.ImportRequest
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.pushes = append(h.pushes, body)
		h.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"outcome": "applied", "sequence": len(h.pushes), "chain_ok": true})
	case r.Method == "POST" && p == site+"/exports":
		var body struct {
			IfChanged bool `json:"if_changed"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !body.IfChanged {
			http.Error(w, `{"error":"want if_changed"}`, http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(h.export)
	case r.Method == "GET" && p == seq+"/manifest":
		w.Write(h.envelope)
	case r.Method == "GET" && strings.HasPrefix(p, seq+"/objects/"):
		hex := strings.TrimPrefix(p, seq+"/objects/")
		if !h.listed[hex] {
			http.NotFound(w, r)
			return
		}
		d := digest.MustParse(hex)
		f, err := h.store.Open(d)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		h.mu.Lock()
		h.ranges = append(h.ranges, r.Header.Get("Range"))
		drop := d == h.drop && h.dropAfter > 0
		limit := h.dropAfter
		if drop {
			h.dropAfter = 0
		}
		h.mu.Unlock()
		cw := &countingWriter{ResponseWriter: w, h: h}
		if drop {
			st, _ := f.Stat()
			w.Header().Set("Content-Length", fmt.Sprint(st.Size()))
			w.WriteHeader(http.StatusOK)
			io.CopyN(cw, f, limit)
			w.(http.Flusher).Flush()
			if h.stall {
				<-r.Context().Done() // send nothing more until the client gives up
				return
			}
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		http.ServeContent(cw, r, "", time.Time{}, f)
	default:
		http.NotFound(w, r)
	}
}

type countingWriter struct {
	http.ResponseWriter
	h *testHub
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.h.mu.Lock()
	c.h.served += int64(n)
	c.h.mu.Unlock()
	return n, err
}

// TestSyncResumesDroppedDownload: the network flow against a hub serving
// a real bundle. The first round's download of a large object is cut half
// way: the round fails (a "failed" audit event, nothing applied) and the
// partial stays. The second round resumes it with a Range request from the
// partial's offset, applies the bundle with the same checks as a media
// import, and in all fewer than twice the object's bytes crossed the
// wire. Each round pushed a verifiable edge export first.
func TestSyncResumesDroppedDownload(t *testing.T) {
	hubKey := mustKey(t)
	e := newTestEdge(t, "lon", hubKey)
	rng := rand.New(rand.NewSource(7))
	big, small := randBlob(rng, 3<<20), randBlob(rng, 10_000)
	r := writeBundle(t, bundleSpec{key: hubKey, target: "lon", seq: 1, blobs: [][]byte{big, small}, hubClock: t0})
	h := newTestHub(t, "lon", hubKey, r)
	bigD := digest.FromBytes(big)
	h.drop, h.dropAfter = bigD, int64(len(big))/2
	srv := httptest.NewServer(h)
	defer srv.Close()

	s := NewSyncer(e, srv.URL, h.token)
	ctx := context.Background()
	res, err := s.Round(ctx)
	if err == nil {
		t.Fatal("first round: want a failed download")
	}
	if res.Imported == nil || res.Imported.Outcome != OutcomeFailed || res.Imported.Event.Outcome != OutcomeFailed {
		t.Fatalf("first round: import result %+v", res.Imported)
	}
	if st := mustState(t, e); st.Applied.Seq != 0 {
		t.Fatalf("applied %d after a failed download", st.Applied.Seq)
	}
	fi, err := os.Stat(filepath.Join(e.store.Root(), "partial", bigD.Hex()))
	if err != nil {
		t.Fatalf("no partial kept: %v", err)
	}
	off := fi.Size()
	if off <= 0 || off >= int64(len(big)) {
		t.Fatalf("partial holds %d of %d bytes", off, len(big))
	}

	res, err = s.Round(ctx)
	if err != nil {
		t.Fatalf("second round: %v", err)
	}
	if res.Imported == nil || res.Imported.Outcome != OutcomeApplied || res.Imported.Sequence != 1 {
		t.Fatalf("second round: %+v", res.Imported)
	}
	h.mu.Lock()
	ranges, served, pushes := h.ranges, h.served, h.pushes
	h.mu.Unlock()
	want := fmt.Sprintf("bytes=%d-", off)
	resumed := false
	for _, rg := range ranges {
		resumed = resumed || rg == want
	}
	if !resumed {
		t.Fatalf("no Range request from the partial's offset %q; saw %q", want, ranges)
	}
	if served >= 2*int64(len(big)) {
		t.Fatalf("%d bytes served for a %d byte object: the download restarted", served, len(big))
	}
	if ok, _ := e.store.Has(bigD); !ok {
		t.Fatal("object not in the store after the apply")
	}
	if len(pushes) != 2 {
		t.Fatalf("%d pushes, want one per round", len(pushes))
	}
	// The second push followed the failed import: its events record it.
	s2 := assertHubImport(t, e, &pushes[1], "")
	if s2.Sequence != 2 {
		t.Fatalf("second push has sequence %d", s2.Sequence)
	}

	// A third round finds nothing new: nothing is fetched or applied.
	res, err = s.Round(ctx)
	if err != nil || res.Imported != nil {
		t.Fatalf("third round: %+v, %v", res.Imported, err)
	}
}

// TestSyncAbortsStalledDownload: a hub that stops sending mid-object is
// abandoned after the idle timeout with a stall error (not a hang), and
// the next round resumes from the partial.
func TestSyncAbortsStalledDownload(t *testing.T) {
	hubKey := mustKey(t)
	e := newTestEdge(t, "lon", hubKey)
	big := randBlob(rand.New(rand.NewSource(8)), 1<<20)
	r := writeBundle(t, bundleSpec{key: hubKey, target: "lon", seq: 1, blobs: [][]byte{big}})
	h := newTestHub(t, "lon", hubKey, r)
	h.drop, h.dropAfter, h.stall = digest.FromBytes(big), int64(len(big))/2, true
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := NewSyncer(e, srv.URL, h.token)
	s.IdleTimeout = time.Second
	if _, err := s.Round(context.Background()); !errors.Is(err, errStalled) {
		t.Fatalf("want a stall error, got %v", err)
	}
	res, err := s.Round(context.Background())
	if err != nil || res.Imported == nil || res.Imported.Outcome != OutcomeApplied {
		t.Fatalf("second round: %+v, %v", res.Imported, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ranges) != 2 || !strings.HasPrefix(h.ranges[1], "bytes=") || h.ranges[1] == "bytes=0-" {
		t.Fatalf("second GET did not resume: %q", h.ranges)
	}
}

// TestSyncRefusesCorruptObject: bytes that do not hash to the object's
// digest are refused (the bundle is not applied, the partial is dropped,
// the attempt is a refusal in the audit chain).
func TestSyncRefusesCorruptObject(t *testing.T) {
	hubKey := mustKey(t)
	e := newTestEdge(t, "lon", hubKey)
	blob := bytes.Repeat([]byte("x"), 50_000)
	r := writeBundle(t, bundleSpec{key: hubKey, target: "lon", seq: 1, blobs: [][]byte{blob}})
	h := newTestHub(t, "lon", hubKey, r)
	d := digest.FromBytes(blob)
	p := h.store.Path(d)
	os.Chmod(p, 0o644)
	bad := bytes.Repeat([]byte("y"), len(blob))
	if err := os.WriteFile(p, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := NewSyncer(e, srv.URL, h.token).Round(context.Background())
	var me *digest.MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("want a digest mismatch, got %v", err)
	}
	if res.Imported == nil || res.Imported.Outcome != OutcomeRefused {
		t.Fatalf("import %+v", res.Imported)
	}
	if ok, _ := e.store.Has(d); ok {
		t.Fatal("corrupt object stored")
	}
	if _, err := os.Stat(filepath.Join(e.store.Root(), "partial", d.Hex())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("corrupt partial kept: %v", err)
	}
}

// TestBackoff: 1 s doubling to 5 min, jitter within [d/2, d).
func TestBackoff(t *testing.T) {
	cases := []struct {
		attempt int
		full    time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {5, 32 * time.Second}, {8, 256 * time.Second}, {9, 5 * time.Minute}, {40, 5 * time.Minute}}
	for _, c := range cases {
		if got := Backoff(c.attempt, 0); got != c.full/2 {
			t.Errorf("attempt %d, jitter 0: %v, want %v", c.attempt, got, c.full/2)
		}
		if got := Backoff(c.attempt, 0.999999); got <= c.full/2 || got > c.full {
			t.Errorf("attempt %d, jitter ~1: %v, want in (%v, %v]", c.attempt, got, c.full/2, c.full)
		}
	}
}

// TestBucketCountsBytes: with an injected clock, reading N bytes through
// a bucket of rate R and burst B sleeps exactly (N-B)/R in all, and no
// read is larger than B.
func TestBucketCountsBytes(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var slept time.Duration
	b := NewBucket(100_000, 40_000)
	b.now = func() time.Time { return clock }
	b.sleep = func(_ context.Context, d time.Duration) error {
		slept += d
		clock = clock.Add(d)
		return nil
	}
	b.tokens, b.last = b.burst, clock
	const n = 1_000_000
	src := &maxReadRecorder{r: bytes.NewReader(make([]byte, n))}
	got, err := io.Copy(io.Discard, b.Reader(context.Background(), src))
	if err != nil || got != n {
		t.Fatalf("copied %d, %v", got, err)
	}
	want := time.Duration(float64(n-40_000) / 100_000 * float64(time.Second))
	if diff := slept - want; diff < -time.Millisecond || diff > time.Millisecond {
		t.Fatalf("slept %v, want %v", slept, want)
	}
	if src.max > 40_000 {
		t.Fatalf("a read of %d bytes exceeds the burst", src.max)
	}

	// Idle time refills the bucket up to the burst, not beyond.
	slept = 0
	clock = clock.Add(time.Hour)
	io.Copy(io.Discard, b.Reader(context.Background(), bytes.NewReader(make([]byte, 40_000))))
	if slept != 0 {
		t.Fatalf("a burst after idle time slept %v", slept)
	}
	io.Copy(io.Discard, b.Reader(context.Background(), bytes.NewReader(make([]byte, 50_000))))
	if want := 500 * time.Millisecond; slept < want-time.Millisecond || slept > want+time.Millisecond {
		t.Fatalf("after the burst: slept %v, want %v", slept, want)
	}
}

type maxReadRecorder struct {
	r   io.Reader
	max int
}

func (m *maxReadRecorder) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.max = max(m.max, n)
	return n, err
}
