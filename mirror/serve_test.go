package mirror

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror/debian"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// publishFixture builds a repo with one synced, snapshotted and published
// mirror of a two-package upstream.
func publishFixture(t *testing.T) (*Repo, *Handler) {
	t.Helper()
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0", Payload: 8192})
	u.AddDeb(mirrortest.DebSpec{Name: "beta", Version: "2.0"})
	repo, _ := newUpstreamMirror(t, u, mirrortest.IndexOpts{}, "")
	ctx := context.Background()
	if _, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateSnapshot("up", "s1"); err != nil {
		t.Fatal(err)
	}
	signer, _ := testSigner(t)
	if _, err := repo.Publish(ctx, "s1", PublishOptions{Prefix: "p", Signer: signer, NoTree: true}); err != nil {
		t.Fatal(err)
	}
	return repo, NewHandler(repo, nil)
}

// TestHandlerRefusesCorruptObject: an object damaged in the store after
// publishing is never served, even though its name still matches.
func TestHandlerRefusesCorruptObject(t *testing.T) {
	repo, h := publishFixture(t)
	pub := mustPublication(t, repo, "p", "test")
	var deb FileRef
	for _, f := range pub.Files {
		if strings.HasSuffix(f.Path, "alpha_1.0_amd64.deb") {
			deb = f
		}
	}
	if r := httpGet(t, h, "/p/"+deb.Path, nil); r.Code != 200 || int64(r.Body.Len()) != deb.Size {
		t.Fatalf("good object: %d, %d bytes", r.Code, r.Body.Len())
	}
	// Damage the stored object in place (same size): a new file identity.
	p := repo.Store.Path(deb.SHA256)
	b, _ := os.ReadFile(p)
	b[len(b)-10] ^= 1
	os.Chmod(p, 0o644)
	time.Sleep(10 * time.Millisecond) // a distinct mtime
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := httpGet(t, h, "/p/"+deb.Path, nil); r.Code != 500 {
		t.Fatalf("corrupt object served: HTTP %d", r.Code)
	}
	// HEAD and Range requests are refused the same way.
	if r := httpGet(t, h, "/p/"+deb.Path, map[string]string{"Range": "bytes=0-3"}); r.Code != 500 {
		t.Fatalf("corrupt object served by Range: HTTP %d", r.Code)
	}
}

func TestHandlerRoutes(t *testing.T) {
	repo, h := publishFixture(t)
	// The handler an edge embeds, opened from the data directory alone,
	// serves the same bytes.
	h2, err := OpenHandler(filepath.Dir(repo.Dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := httpGet(t, h, "/p/dists/test/InRelease", nil), httpGet(t, h2, "/p/dists/test/InRelease", nil); a.Code != 200 || a.Body.String() != b.Body.String() {
		t.Fatalf("OpenHandler serves different bytes (%d, %d)", a.Code, b.Code)
	}
	cases := map[string]int{
		"/p/dists/test/InRelease":                           200,
		"/p/dists/test/main/binary-amd64/Packages.xz":       200,
		"/p/dists/test/../test/Release":                     200,
		"/p/dists/other/InRelease":                          404,
		"/q/dists/test/InRelease":                           404,
		"/p/../../etc/passwd":                               404,
		"/p/dists/test/main/binary-amd64/by-hash/SHA256/00": 404,
		"/": 200,
	}
	for path, want := range cases {
		if r := httpGet(t, h, path, nil); r.Code != want {
			t.Errorf("GET %s: %d, want %d", path, r.Code, want)
		}
	}
	r := httpGet(t, h, "/p/dists/test/main/binary-amd64/Packages.xz", nil)
	if ct := r.Header().Get("Content-Type"); ct != "application/x-xz" {
		t.Errorf("Packages.xz content type %q", ct)
	}
	etag := r.Header().Get("ETag")
	if r2 := httpGet(t, h, "/p/dists/test/main/binary-amd64/Packages.xz", map[string]string{"If-None-Match": etag}); r2.Code != 304 {
		t.Errorf("conditional GET: %d, want 304", r2.Code)
	}
}

// TestRetiredByHashStaysReachable: after a new publish, the previous
// publication's by-hash indexes and pool files are still served (a client
// that read the old InRelease can finish), while the mutable names switch
// at once and never mix.
func TestRetiredByHashStaysReachable(t *testing.T) {
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0"})
	u.AddDeb(mirrortest.DebSpec{Name: "beta", Version: "2.0"})
	u.Index(mirrortest.IndexOpts{Signer: g})
	srv := mirrortest.NewFaultServer(t, u.Dir)
	repo := testRepo(t)
	ctx := context.Background()
	signer, _ := testSigner(t)
	for i, filter := range []string{"alpha", ""} {
		name := []string{"one", "two"}[i]
		if err := repo.CreateMirror(&Mirror{Name: name, URL: srv.URL, Dist: "test", Filter: filter}, g.Pub); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Sync(ctx, name, SyncOptions{Fetcher: fastFetcher()}); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.CreateSnapshot(name, name); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHandler(repo, nil)
	if _, err := repo.Publish(ctx, "one", PublishOptions{Prefix: "p", Signer: signer}); err != nil {
		t.Fatal(err)
	}
	old := mustPublication(t, repo, "p", "test")
	oldRelease := httpGet(t, h, "/p/dists/test/Release", nil).Body.String()
	if _, err := repo.Publish(ctx, "two", PublishOptions{Prefix: "p", Signer: signer}); err != nil {
		t.Fatal(err)
	}
	newRelease := httpGet(t, h, "/p/dists/test/Release", nil).Body.String()
	if newRelease == oldRelease {
		t.Fatal("Release did not switch")
	}
	// The new Release's indexes are the ones served under their names.
	rel, err := debian.ParseRelease([]byte(newRelease), "Release")
	if err != nil {
		t.Fatal(err)
	}
	for p, fs := range rel.Files {
		body := httpGet(t, h, "/p/dists/test/"+p, nil).Body.Bytes()
		if string(digest.FromBytes(body)) != fs.SHA256 {
			t.Fatalf("%s served does not match the served Release", p)
		}
	}
	for _, f := range old.Files {
		if strings.Contains(f.Path, "/by-hash/") || strings.HasPrefix(f.Path, "pool/") {
			if r := httpGet(t, h, "/p/"+f.Path, nil); r.Code != 200 {
				t.Fatalf("retired %s: HTTP %d", f.Path, r.Code)
			}
		}
	}
}
