package mirror

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/mirror/mirrortest"
)

// TestEndToEndAptClient mirrors an apt-ftparchive repository signed by gpg,
// snapshots and publishes it, and has the real apt-get update and download
// from EUCORA's handler; gpgv verifies the published InRelease. Then the
// upstream moves on, a second snapshot is published, and the first one is
// published again (rollback).
func TestEndToEndAptClient(t *testing.T) {
	u := mirrortest.NewUpstream(t)
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u.AddDeb(mirrortest.DebSpec{Name: "hello", Version: "1.0-1", Fields: map[string]string{"Depends": "libgreet (>= 1.1) | libalt, mta"}})
	u.AddDeb(mirrortest.DebSpec{Name: "libgreet", Version: "1.0-1"})
	u.AddDeb(mirrortest.DebSpec{Name: "libgreet", Version: "1.1-1", Fields: map[string]string{"Pre-Depends": "libc-test"}})
	u.AddDeb(mirrortest.DebSpec{Name: "libc-test", Version: "2:1.0~rc1-1", Fields: map[string]string{"Priority": "required", "Section": "libs"}})
	u.AddDeb(mirrortest.DebSpec{Name: "postfix-test", Version: "3.0", Fields: map[string]string{"Provides": "mta"}})
	u.AddDeb(mirrortest.DebSpec{Name: "unrelated", Version: "9.9", Payload: 4096})
	u.Index(mirrortest.IndexOpts{Signer: g, ByHash: true, ValidUntil: time.Now().Add(24 * time.Hour)})
	srv := mirrortest.NewFaultServer(t, u.Dir)

	repo := testRepo(t)
	kr := filepath.Join(t.TempDir(), "up.gpg")
	os.WriteFile(kr, g.Pub, 0o644)
	m := &Mirror{Name: "up", URL: srv.URL, Dist: "test", Filter: "hello", WithDeps: true}
	if err := repo.CreateMirror(m, g.Pub); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	// hello + libgreet 1.1 (>= 1.1) + libc-test (Pre-Depends) + postfix-test (Provides mta).
	if res.Packages != 4 || res.AddedByDeps != 3 || len(res.Unresolved) != 0 {
		t.Fatalf("sync result %+v", res)
	}
	if hits := srv.Hits("/dists/test/main/binary-amd64/Packages.gz"); hits != 0 {
		t.Fatalf("Acquire-By-Hash: yes, but the plain index path was fetched %d times", hits)
	}
	s1, err := repo.CreateSnapshot("up", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateSnapshot("up", "s1"); err == nil {
		t.Fatal("snapshot name reused")
	}
	signer, key := testSigner(t)
	pr, err := repo.Publish(ctx, "s1", PublishOptions{Prefix: "corp/debian", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Dist != "test" || pr.Packages != 4 {
		t.Fatalf("publish result %+v", pr)
	}
	// A second distribution side by side under another prefix.
	if _, err := repo.Publish(ctx, "s1", PublishOptions{Prefix: "other", Dist: "frozen", Signer: signer}); err != nil {
		t.Fatal(err)
	}

	h := NewHandler(repo, nil)
	pub := httptest.NewServer(h)
	defer pub.Close()
	pubKey, _ := os.ReadFile(key.PublicGPG)

	// gpgv verifies the published InRelease and Release.gpg.
	dl := t.TempDir()
	inrel := httpGet(t, h, "/corp/debian/dists/test/InRelease", nil)
	if inrel.Code != 200 || inrel.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("InRelease: %d %q", inrel.Code, inrel.Header().Get("Content-Type"))
	}
	os.WriteFile(filepath.Join(dl, "InRelease"), inrel.Body.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dl, "key.gpg"), pubKey, 0o644)
	mirrortest.Run(t, dl, nil, "gpgv", "--keyring", filepath.Join(dl, "key.gpg"), filepath.Join(dl, "InRelease"))
	rel := httpGet(t, h, "/corp/debian/dists/test/Release", nil).Body.Bytes()
	sig := httpGet(t, h, "/corp/debian/dists/test/Release.gpg", nil).Body.Bytes()
	os.WriteFile(filepath.Join(dl, "Release"), rel, 0o644)
	os.WriteFile(filepath.Join(dl, "Release.gpg"), sig, 0o644)
	mirrortest.Run(t, dl, nil, "gpgv", "--keyring", filepath.Join(dl, "key.gpg"), filepath.Join(dl, "Release.gpg"), filepath.Join(dl, "Release"))

	// The materialised tree is the same bytes, pool files hardlinked.
	treeRel, err := os.ReadFile(filepath.Join(repo.Dir, "public/corp/debian/dists/test/Release"))
	if err != nil || !bytes.Equal(treeRel, rel) {
		t.Fatalf("materialised Release differs from served one: %v", err)
	}

	// Pool files in the tree are hardlinks of the store's objects, not copies.
	for _, f := range mustPublication(t, repo, "corp/debian", "test").Files {
		if !strings.HasPrefix(f.Path, "pool/") {
			continue
		}
		a, err1 := os.Stat(filepath.Join(repo.Dir, "public/corp/debian", f.Path))
		b, err2 := os.Stat(repo.Store.Path(f.SHA256))
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			t.Fatalf("%s in the tree is not a hardlink of its store object (%v, %v)", f.Path, err1, err2)
		}
	}

	// Real apt-get update and download.
	apt := mirrortest.NewAptClient(t, pub.URL+"/corp/debian", "test", pubKey)
	apt.MustRun("update")
	apt.MustRun("download", "hello", "libgreet", "postfix-test")
	got, err := os.ReadFile(filepath.Join(apt.Root, "dl", "hello_1.0-1_amd64.deb"))
	if err != nil || !bytes.Equal(got, u.Debs["pool/main/h/hello/hello_1.0-1_amd64.deb"]) {
		t.Fatalf("downloaded hello differs from upstream: %v", err)
	}
	if _, err := os.Stat(filepath.Join(apt.Root, "dl", "libgreet_1.1-1_amd64.deb")); err != nil {
		t.Fatalf("libgreet 1.1 (the version satisfying >= 1.1) not downloadable: %v", err)
	}
	if out, err := apt.Run("download", "unrelated"); err == nil {
		t.Fatalf("a filtered-out package was published:\n%s", out)
	}

	// Range requests and content types on a pool file.
	var poolPath string
	for _, f := range mustPublication(t, repo, "corp/debian", "test").Files {
		if strings.HasSuffix(f.Path, "hello_1.0-1_amd64.deb") {
			poolPath = f.Path
		}
	}
	rr := httpGet(t, h, "/corp/debian/"+poolPath, map[string]string{"Range": "bytes=0-7"})
	if rr.Code != 206 || rr.Body.String() != "!<arch>\n" || rr.Header().Get("Content-Type") != "application/vnd.debian.binary-package" {
		t.Fatalf("range request: %d %q %q", rr.Code, rr.Body.String(), rr.Header().Get("Content-Type"))
	}

	// Upstream moves on: hello 2.0 appears, the old one goes.
	os.Remove(u.Path("pool/main/h/hello/hello_1.0-1_amd64.deb"))
	u.AddDeb(mirrortest.DebSpec{Name: "hello", Version: "2.0-1", Fields: map[string]string{"Depends": "libgreet"}})
	u.Index(mirrortest.IndexOpts{Signer: g, ByHash: true})
	if _, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()}); err != nil {
		t.Fatal(err)
	}
	s2, err := repo.CreateSnapshot("up", "s2")
	if err != nil {
		t.Fatal(err)
	}
	if s1.ID == s2.ID {
		t.Fatal("different content, same snapshot id")
	}
	diff, err := repo.Diff("s1", "s2")
	if err != nil {
		t.Fatal(err)
	}
	// hello 2.0 no longer depends on mta, so --with-deps drops postfix-test.
	if len(diff) != 2 || diff[0].Name != "hello" || diff[0].Kind != "upgraded" || diff[0].From != "1.0-1" || diff[0].To != "2.0-1" ||
		diff[1].Name != "postfix-test" || diff[1].Kind != "removed" {
		t.Fatalf("diff s1 s2 = %+v", diff)
	}
	if _, err := repo.Publish(ctx, "s2", PublishOptions{Prefix: "corp/debian", Signer: signer}); err != nil {
		t.Fatal(err)
	}
	apt.MustRun("update")
	apt.MustRun("download", "hello")
	if _, err := os.Stat(filepath.Join(apt.Root, "dl", "hello_2.0-1_amd64.deb")); err != nil {
		t.Fatalf("hello 2.0 not downloaded after publishing s2: %v", err)
	}
	// Rollback: the old snapshot is still publishable, with its files.
	if _, err := repo.Publish(ctx, "s1", PublishOptions{Prefix: "corp/debian", Signer: signer}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(apt.Root, "dl", "hello_1.0-1_amd64.deb"))
	apt.MustRun("update")
	apt.MustRun("download", "hello")
	if _, err := os.Stat(filepath.Join(apt.Root, "dl", "hello_1.0-1_amd64.deb")); err != nil {
		t.Fatalf("hello 1.0 not downloadable after rolling back to s1: %v", err)
	}
	// The other prefix was never touched.
	if r := httpGet(t, h, "/other/dists/frozen/InRelease", nil); r.Code != 200 {
		t.Fatalf("other prefix: %d", r.Code)
	}
}

func mustPublication(t *testing.T, repo *Repo, prefix, dist string) *Publication {
	t.Helper()
	st, err := repo.PrefixState(prefix)
	if err != nil {
		t.Fatal(err)
	}
	p, err := repo.LoadPublication(st.Dists[dist].Publication)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
