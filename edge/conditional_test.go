package edge

import (
	"bytes"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/transfer"
)

// getIMS sends a real HTTP GET with If-Modified-Since ims (zero: none).
func getIMS(t *testing.T, url string, ims time.Time) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if !ims.IsZero() {
		req.Header.Set("If-Modified-Since", ims.UTC().Format(http.TimeFormat))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestServeIfModifiedSince: /dp paths send Last-Modified and answer
// If-Modified-Since with 304 while unchanged; when an import makes a path
// name another object (in the same second or not) the old
// Last-Modified no longer gets a 304.
func TestServeIfModifiedSince(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(5))
	v1, v2 := randBlob(rng, 30_000), randBlob(rng, 31_000)
	a1 := artifactOf("com.acme.ledger", "2.4.1", "ledger.msi", deploy.PlatformMSI, v1)
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{v1},
		records: []transfer.RecordSource{artifactRecord(t, a1)}})
	mustImport(t, e, b1)
	s, err := NewServer(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	named := srv.URL + "/dp/sccm/com.acme.ledger/2.4.1/ledger.msi"
	byDigest := srv.URL + "/dp/sha256/" + a1.SHA256.Hex()

	lm := func(resp *http.Response) time.Time {
		t.Helper()
		v, err := http.ParseTime(resp.Header.Get("Last-Modified"))
		if err != nil {
			t.Fatalf("%s: no usable Last-Modified %q", resp.Request.URL.Path, resp.Header.Get("Last-Modified"))
		}
		return v
	}
	resp, body := getIMS(t, named, time.Time{})
	if resp.StatusCode != 200 || !bytes.Equal(body, v1) {
		t.Fatalf("named: %d", resp.StatusCode)
	}
	lm1 := lm(resp)
	for _, c := range []struct {
		url  string
		ims  time.Time
		want int
	}{
		{named, lm1, 304},
		{named, lm1.Add(time.Hour), 304},
		{named, lm1.Add(-time.Second), 200},
	} {
		if r, _ := getIMS(t, c.url, c.ims); r.StatusCode != c.want {
			t.Errorf("%s If-Modified-Since %v: %d, want %d", c.url, c.ims, r.StatusCode, c.want)
		}
	}
	r, _ := getIMS(t, byDigest, time.Time{})
	if r2, _ := getIMS(t, byDigest, lm(r)); r2.StatusCode != 304 {
		t.Errorf("by digest, If-Modified-Since its Last-Modified: %d, want 304", r2.StatusCode)
	}

	// The same path now names another object (imported at once, well
	// within the second the first Last-Modified names).
	a2 := artifactOf("com.acme.ledger", "2.4.1", "ledger.msi", deploy.PlatformMSI, v2)
	b2 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, pred: b1.Signed.Digest, blobs: [][]byte{v2},
		records: []transfer.RecordSource{artifactRecord(t, a2)}})
	mustImport(t, e, b2)
	resp, body = getIMS(t, named, lm1)
	if resp.StatusCode != 200 || !bytes.Equal(body, v2) {
		t.Fatalf("after the path changed, If-Modified-Since the old Last-Modified: %d (%d bytes), want 200 with the new object", resp.StatusCode, len(body))
	}
	if lm2 := lm(resp); !lm2.After(lm1) {
		t.Fatalf("Last-Modified %v did not move past %v", lm2, lm1)
	} else if r, _ := getIMS(t, named, lm2); r.StatusCode != 304 {
		t.Errorf("new object, If-Modified-Since its Last-Modified: %d, want 304", r.StatusCode)
	}
}
