package edge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/transfer"
)

func get(t testing.TB, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestServeDistributionPoint: artifacts are served under their channel's
// stable path with their content type, by digest too, with Range; other
// channels and unknown names are 404; readiness waits for Reconcile;
// /metrics names the edge's series.
func TestServeDistributionPoint(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(3))
	msi, dmg := randBlob(rng, 100_000), randBlob(rng, 20_000)
	aMSI := artifactOf("com.acme.ledger", "2.4.1", "ledger.msi", deploy.PlatformMSI, msi)
	aDMG := artifactOf("com.acme.ledger", "2.4.1", "Ledger.dmg", deploy.PlatformDMG, dmg)
	mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{msi, dmg},
		records: []transfer.RecordSource{artifactRecord(t, aMSI), artifactRecord(t, aDMG)}}))
	s, err := NewServer(e, nil)
	if err != nil {
		t.Fatal(err)
	}

	if r := get(t, s, "/healthz", nil); r.Code != 200 {
		t.Fatalf("healthz %d", r.Code)
	}
	if r := get(t, s, "/readyz", nil); r.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz before reconcile: %d", r.Code)
	}
	if _, err := s.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, "/readyz", nil); r.Code != 200 {
		t.Fatalf("readyz after reconcile: %d %s", r.Code, r.Body)
	}

	r := get(t, s, "/dp/sccm/com.acme.ledger/2.4.1/ledger.msi", nil)
	if r.Code != 200 || !bytes.Equal(r.Body.Bytes(), msi) || r.Header().Get("Content-Type") != "application/x-msi" {
		t.Fatalf("msi: %d, %d bytes, type %q", r.Code, r.Body.Len(), r.Header().Get("Content-Type"))
	}
	r = get(t, s, "/dp/sccm/com.acme.ledger/2.4.1/ledger.msi", map[string]string{"Range": "bytes=1000-1999"})
	if r.Code != http.StatusPartialContent || !bytes.Equal(r.Body.Bytes(), msi[1000:2000]) ||
		r.Header().Get("Content-Range") != "bytes 1000-1999/100000" {
		t.Fatalf("range: %d, %d bytes, %q", r.Code, r.Body.Len(), r.Header().Get("Content-Range"))
	}
	r = get(t, s, "/dp/jamf/com.acme.ledger/2.4.1/Ledger.dmg", map[string]string{"Range": "bytes=-100"})
	if r.Code != http.StatusPartialContent || !bytes.Equal(r.Body.Bytes(), dmg[len(dmg)-100:]) || r.Header().Get("Content-Type") != "application/x-apple-diskimage" {
		t.Fatalf("dmg suffix range: %d, %d bytes, %q", r.Code, r.Body.Len(), r.Header().Get("Content-Type"))
	}
	r = get(t, s, "/dp/sha256/"+aDMG.SHA256.Hex(), nil)
	if r.Code != 200 || !bytes.Equal(r.Body.Bytes(), dmg) {
		t.Fatalf("by digest: %d", r.Code)
	}
	if etag := r.Header().Get("ETag"); get(t, s, "/dp/sha256/"+aDMG.SHA256.Hex(), map[string]string{"If-None-Match": etag}).Code != http.StatusNotModified {
		t.Fatal("conditional GET by ETag not honoured")
	}
	for path, want := range map[string]int{
		"/dp/jamf/com.acme.ledger/2.4.1/ledger.msi":   404, // a Windows package is not on the Jamf channel
		"/dp/sccm/com.acme.ledger/2.4.0/ledger.msi":   404,
		"/dp/sccm/com.acme.ledger/2.4.1/other.msi":    404,
		"/dp/sha256/" + strings.Repeat("0", 64):       404,
		"/dp/sha256/NOTHEX":                           400,
		"/dp/sccm/../../state.json":                   404,
		"/elsewhere":                                  404,
		"/apt/none/dists/x/InRelease":                 404,
		"/dp/sccm/com.acme.ledger/2.4.1/ledger.msi/x": 404,
	} {
		if r := get(t, s, path, nil); r.Code != want {
			t.Errorf("GET %s: %d, want %d", path, r.Code, want)
		}
	}

	m := get(t, s, "/metrics", nil).Body.String()
	for _, series := range []string{"eucora_edge_last_sync_timestamp_seconds", "eucora_edge_last_applied_sequence 1",
		"eucora_edge_objects_held 2", "eucora_edge_bytes_held 120000", "eucora_edge_import_errors_total",
		"eucora_edge_sync_errors_total", "eucora_edge_fetched_bytes_total"} {
		if !strings.Contains(m, series) {
			t.Errorf("/metrics lacks %q", series)
		}
	}
}

// TestServeRefusesCorruptObject: an object damaged in the store after it
// was verified and served is refused (500, a clear message), on plain
// and Range requests alike.
func TestServeRefusesCorruptObject(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	blob := randBlob(rand.New(rand.NewSource(4)), 50_000)
	a := artifactOf("com.acme.tool", "1.0", "tool.pkg", deploy.PlatformPKG, blob)
	mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{blob},
		records: []transfer.RecordSource{artifactRecord(t, a)}}))
	s, err := NewServer(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := "/dp/jamf/com.acme.tool/1.0/tool.pkg"
	if r := get(t, s, path, nil); r.Code != 200 {
		t.Fatalf("good object: %d", r.Code)
	}
	p := e.store.Path(a.SHA256)
	damaged := bytes.Clone(blob)
	damaged[len(damaged)/2] ^= 0xff
	os.Chmod(p, 0o644)
	time.Sleep(10 * time.Millisecond) // a distinct mtime
	if err := os.WriteFile(p, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, hdr := range []map[string]string{nil, {"Range": "bytes=0-9"}} {
		r := get(t, s, path, hdr)
		body, _ := io.ReadAll(r.Body)
		if r.Code != http.StatusInternalServerError || !strings.Contains(string(body), "failed verification") || bytes.Contains(body, damaged[:10]) {
			t.Fatalf("corrupt object (%v): %d %q", hdr, r.Code, body)
		}
	}
}

// TestLastSyncMovesOnMediaImport: an air-gapped edge never syncs over the
// network, so eucora_edge_last_sync_timestamp_seconds must follow the
// media imports another process ('edge import') applies while 'edge
// serve' runs, and edge status names the last media import.
func TestLastSyncMovesOnMediaImport(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	s, err := NewServer(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	series := func(name string) string {
		t.Helper()
		for _, line := range strings.Split(get(t, s, "/metrics", nil).Body.String(), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v
			}
		}
		t.Fatalf("/metrics lacks %s", name)
		return ""
	}
	for _, name := range []string{"eucora_edge_last_sync_timestamp_seconds", "eucora_edge_last_media_import_timestamp_seconds"} {
		if v := series(name); v != "0" {
			t.Fatalf("%s before any import: %s, want 0", name, v)
		}
	}
	if st, err := e.Status(); err != nil || !st.LastMediaImport.IsZero() {
		t.Fatalf("status before any import: %v, %v", st, err)
	}

	// The import runs in "another process": an Edge opened separately.
	other, err := Open(e.dir.Root)
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range []time.Time{t0.Add(time.Hour), t0.Add(50 * time.Hour)} {
		other.Clock = func() time.Time { return at }
		mustImport(t, other, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: uint64(i + 1)}))
		want := fmt.Sprintf("%g", float64(at.Unix()))
		for _, name := range []string{"eucora_edge_last_sync_timestamp_seconds", "eucora_edge_last_media_import_timestamp_seconds"} {
			if v := series(name); v != want {
				t.Errorf("%s after media import %d: %s, want %s", name, i+1, v, want)
			}
		}
		st, err := e.Status()
		if err != nil || !st.LastMediaImport.Equal(at) {
			t.Errorf("edge status after import %d: last media import %v (%v), want %v", i+1, st.LastMediaImport, err, at)
		}
	}
}
