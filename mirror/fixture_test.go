package mirror

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// testRepo opens a mirror state and store in a temporary data directory.
func testRepo(t testing.TB) *Repo {
	t.Helper()
	dir := t.TempDir()
	st, err := cas.Open(filepath.Join(dir, "cas"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(filepath.Join(dir, "mirror"), st)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newUpstreamMirror indexes u signed by a new upstream key (opts.Signer is
// set to it), serves it and creates mirror "up" of dist "test", with
// filter, in a new repo.
func newUpstreamMirror(t testing.TB, u *mirrortest.Upstream, opts mirrortest.IndexOpts, filter string) (*Repo, *mirrortest.FaultServer) {
	t.Helper()
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	opts.Signer = g
	u.Index(opts)
	srv := mirrortest.NewFaultServer(t, u.Dir)
	repo := testRepo(t)
	if err := repo.CreateMirror(&Mirror{Name: "up", URL: srv.URL, Dist: "test", Filter: filter}, g.Pub); err != nil {
		t.Fatal(err)
	}
	return repo, srv
}

func testSigner(t testing.TB) (*Signer, *GeneratedKey) {
	t.Helper()
	k, err := GenerateKey(t.TempDir(), "publish", "EUCORA test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func fastFetcher() *Fetcher {
	return &Fetcher{IdleTimeout: 500 * time.Millisecond, Retries: 1, Backoff: 10 * time.Millisecond}
}

func httpGet(t testing.TB, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
