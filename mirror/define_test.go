package mirror

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror/debian"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// checkedUpstream serves a signed repository of two packages with dist
// "test" (InRelease, Release and Release.gpg) and returns its key too.
func checkedUpstream(t *testing.T) (*mirrortest.Upstream, *mirrortest.FaultServer, *mirrortest.GPG) {
	t.Helper()
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0"})
	u.AddDeb(mirrortest.DebSpec{Name: "beta", Version: "1.0"})
	u.Index(mirrortest.IndexOpts{Signer: g})
	return u, mirrortest.NewFaultServer(t, u.Dir), g
}

func mustNotExist(t *testing.T, repo *Repo, name string) {
	t.Helper()
	if _, err := repo.Mirror(name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("mirror %s was saved (or unreadable: %v)", name, err)
	}
}

// TestDefineMirrorChecksUpstream: create checks that the distribution
// answers, with a signature the keyring verifies, before it saves the
// definition; a refusal saves nothing and says what is wrong.
func TestDefineMirrorChecksUpstream(t *testing.T) {
	_, srv, g := checkedUpstream(t)
	stranger := mirrortest.NewGPG(t, "Stranger <x@example.invalid>")
	ctx := context.Background()

	t.Run("InRelease", func(t *testing.T) {
		repo := testRepo(t)
		check, err := repo.DefineMirror(ctx, &Mirror{Name: "up", URL: srv.URL, Dist: "test"}, g.Pub, DefineOptions{Fetcher: fastFetcher()})
		if err != nil {
			t.Fatal(err)
		}
		if check.Release != srv.URL+"/dists/test/InRelease" || check.Codename != "test" || check.Date.IsZero() {
			t.Fatalf("check %+v", check)
		}
		if _, err := repo.Mirror("up"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Release and Release.gpg when there is no InRelease", func(t *testing.T) {
		srv.SetFault("/dists/test/InRelease", http404)
		defer srv.SetFault("/dists/test/InRelease", nil)
		repo := testRepo(t)
		check, err := repo.DefineMirror(ctx, &Mirror{Name: "up", URL: srv.URL, Dist: "test"}, g.Pub, DefineOptions{Fetcher: fastFetcher()})
		if err != nil || check.Release != srv.URL+"/dists/test/Release" {
			t.Fatalf("check %+v: %v", check, err)
		}
	})

	refusals := []struct {
		name    string
		m       Mirror
		keyring []byte
		is      error
		says    []string
	}{
		{name: "unknown dist", m: Mirror{Dist: "tset"}, is: ErrNotOffered,
			says: []string{"dist tset not found at " + srv.URL, "looked for dists/tset/InRelease and dists/tset/Release"}},
		{name: "unknown component", m: Mirror{Dist: "test", Components: []string{"main", "contrib"}}, is: ErrNotOffered,
			says: []string{"lists no Packages index for contrib/binary-amd64", "components: main"}},
		{name: "unknown architecture", m: Mirror{Dist: "test", Architectures: []string{"arm64"}}, is: ErrNotOffered,
			says: []string{"main/binary-arm64", "architectures: amd64"}},
		{name: "signed by a key not in the keyring", m: Mirror{Dist: "test", KeyringFile: "/etc/eucora/wrong.gpg"}, keyring: stranger.Pub,
			is: ErrUnknownKey, says: []string{"InRelease", "checked against mirror up keyring (from /etc/eucora/wrong.gpg"}},
		{name: "filter syntax", m: Mirror{Dist: "test", Filter: "nginx |"}, is: debian.ErrFilterSyntax, says: []string{`filter "nginx |" at offset 7`}},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			repo := testRepo(t)
			m := c.m
			m.Name, m.URL = "up", srv.URL
			kr := c.keyring
			if kr == nil {
				kr = g.Pub
			}
			before := srv.Hits("/dists/test/InRelease")
			_, err := repo.DefineMirror(ctx, &m, kr, DefineOptions{Fetcher: fastFetcher()})
			if !errors.Is(err, c.is) {
				t.Fatalf("define = %v, want %v", err, c.is)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("refusal %q does not say %q", err, s)
				}
			}
			mustNotExist(t, repo, "up")
			if c.is == debian.ErrFilterSyntax {
				if errors.Is(err, debian.ErrSyntax) {
					t.Errorf("a filter mistake is reported as malformed control data: %v", err)
				}
				if srv.Hits("/dists/test/InRelease") != before {
					t.Error("a definition with a malformed filter was checked against the upstream")
				}
			}
		})
	}

	t.Run("unchecked (offline)", func(t *testing.T) {
		repo := testRepo(t)
		check, err := repo.DefineMirror(ctx, &Mirror{Name: "up", URL: "http://127.0.0.1:1", Dist: "nowhere"}, g.Pub, DefineOptions{})
		if err != nil || check != nil {
			t.Fatalf("unchecked define: %+v %v", check, err)
		}
		if _, err := repo.Mirror("up"); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.DefineMirror(ctx, &Mirror{Name: "up", URL: srv.URL, Dist: "test"}, g.Pub, DefineOptions{}); !errors.Is(err, ErrExists) ||
			!strings.Contains(err.Error(), "mirror apt edit up") {
			t.Fatalf("second define of a name: %v", err)
		}
	})
}

// TestSyncWarnsWhenFilterSelectsNothing: a filter that matches no package
// is most likely a typo: the sync succeeds and says so.
func TestSyncWarnsWhenFilterSelectsNothing(t *testing.T) {
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0"})
	u.AddDeb(mirrortest.DebSpec{Name: "beta", Version: "1.0"})
	repo, _ := newUpstreamMirror(t, u, mirrortest.IndexOpts{}, "alpah")
	ctx := context.Background()
	res, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Packages != 0 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `filter "alpah" selected 0 of 2 packages in test`) {
		t.Fatalf("sync %+v", res)
	}
	if _, err := repo.EditMirror(ctx, "up", MirrorEdit{Filter: ptr("alpha")}, DefineOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil || res.Packages != 1 || res.Warnings == nil || len(res.Warnings) != 0 {
		t.Fatalf("sync after the filter was fixed: %+v %v", res, err)
	}
}

func http404(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

func ptr[T any](v T) *T { return &v }

// TestEditMirror: an edit changes the definition in place, validated as
// create validates; the last good sync is kept until the next one; a
// refused edit changes nothing.
func TestEditMirror(t *testing.T) {
	u, srv, g := checkedUpstream(t)
	// A second distribution whose Release is older than test's: after the
	// switch, the rollback check must not compare it with test's date.
	u.Dist = "old"
	u.Index(mirrortest.IndexOpts{Signer: g, Date: time.Now().Add(-48 * time.Hour)})
	repo := testRepo(t)
	ctx := context.Background()
	if err := repo.CreateMirror(&Mirror{Name: "up", URL: srv.URL, Dist: "test", Filter: "alpah"}, g.Pub); err != nil {
		t.Fatal(err)
	}
	first, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	state := func() []byte {
		b, err := os.ReadFile(repo.mirrorPath("up"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	opt := DefineOptions{Fetcher: fastFetcher()}

	// Refusals change nothing.
	before := state()
	for _, c := range []struct {
		name string
		e    MirrorEdit
		is   error
	}{
		{"filter syntax", MirrorEdit{Filter: ptr("alpha,")}, debian.ErrFilterSyntax},
		{"unknown dist", MirrorEdit{Dist: ptr("tset")}, ErrNotOffered},
		{"bad URL", MirrorEdit{URL: ptr("ftp://x")}, ErrInvalid},
		{"bad component", MirrorEdit{Components: []string{"../x"}}, ErrInvalid},
		{"not a keyring", MirrorEdit{Keyring: []byte("junk"), KeyringFile: "junk.gpg"}, ErrKeyring},
	} {
		if _, err := repo.EditMirror(ctx, "up", c.e, opt); !errors.Is(err, c.is) {
			t.Errorf("%s: edit = %v, want %v", c.name, err, c.is)
		}
		if !bytes.Equal(state(), before) {
			t.Fatalf("%s: a refused edit changed the mirror", c.name)
		}
	}
	if _, err := repo.EditMirror(ctx, "nope", MirrorEdit{Filter: ptr("x")}, opt); !errors.Is(err, ErrNotFound) {
		t.Errorf("edit of an unknown mirror: %v", err)
	}

	// The same values: nothing changed, nothing written, nothing fetched.
	hits := srv.Hits("/dists/test/InRelease")
	res, err := repo.EditMirror(ctx, "up", MirrorEdit{Dist: ptr("test"), Filter: ptr("alpah")}, opt)
	if err != nil || len(res.Changed) != 0 || res.Check != nil || !bytes.Equal(state(), before) || srv.Hits("/dists/test/InRelease") != hits {
		t.Fatalf("an edit to the same values: %+v %v", res, err)
	}

	// The filter only: no upstream check; the synced state is kept.
	res, err = repo.EditMirror(ctx, "up", MirrorEdit{Filter: ptr("alpha"), WithDeps: ptr(true)}, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := []FieldChange{{"filter", "alpah", "alpha"}, {"with_deps", "false", "true"}}
	if len(res.Changed) != 2 || res.Changed[0] != want[0] || res.Changed[1] != want[1] || res.Check != nil {
		t.Fatalf("filter edit: %+v", res)
	}
	if srv.Hits("/dists/test/InRelease") != hits {
		t.Error("a filter edit fetched the upstream's Release")
	}
	m, err := repo.Mirror("up")
	if err != nil || m.Manifest != first.Manifest || m.Synced.IsZero() || res.Manifest != first.Manifest {
		t.Fatalf("the last good sync was not kept: %+v %v", m, err)
	}
	second, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil || second.Packages != 1 || !second.Changed {
		t.Fatalf("sync after the filter edit: %+v %v", second, err)
	}

	// The distribution: checked, and the rollback guard starts afresh.
	res, err = repo.EditMirror(ctx, "up", MirrorEdit{Dist: ptr("old")}, opt)
	if err != nil || len(res.Changed) != 1 || res.Changed[0] != (FieldChange{"dist", "test", "old"}) || res.Check == nil || res.Check.Codename != "old" {
		t.Fatalf("dist edit: %+v %v", res, err)
	}
	if m, _ := repo.Mirror("up"); !m.ReleaseDate.IsZero() || m.Manifest != second.Manifest {
		t.Fatalf("after a dist edit: release date %v, manifest %s", m.ReleaseDate, m.Manifest)
	}
	if third, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()}); err != nil || third.Packages != 1 {
		t.Fatalf("sync of the new dist, older than the old one: %+v %v", third, err)
	}

	// A new keyring, read from a file: named in the change.
	res, err = repo.EditMirror(ctx, "up", MirrorEdit{Keyring: append([]byte(nil), g.Pub...), KeyringFile: "/etc/eucora/up.gpg"}, opt)
	if err != nil || len(res.Changed) != 0 {
		t.Fatalf("the same keyring from another file: %+v %v", res, err)
	}
}

// TestDeleteMirror: delete refuses while snapshots of the mirror are
// published, names them, and with force removes the definition only:
// snapshots, publications and content objects stay.
func TestDeleteMirror(t *testing.T) {
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0"})
	repo, _ := newUpstreamMirror(t, u, mirrortest.IndexOpts{}, "")
	ctx := context.Background()
	res, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"s1", "s2"} {
		if _, err := repo.CreateSnapshot("up", s); err != nil {
			t.Fatal(err)
		}
	}
	signer, _ := testSigner(t)
	if _, err := repo.Publish(ctx, "s1", PublishOptions{Prefix: "corp", Signer: signer, NoTree: true}); err != nil {
		t.Fatal(err)
	}

	_, err = repo.DeleteMirror("up", false)
	var iu *InUseError
	if !errors.As(err, &iu) || !errors.Is(err, ErrInUse) || len(iu.Published) != 1 || iu.Published[0] != "s1 at corp:test" ||
		!strings.Contains(err.Error(), "--force") {
		t.Fatalf("delete of a mirror with a published snapshot: %v", err)
	}
	if _, err := repo.Mirror("up"); err != nil {
		t.Fatalf("a refused delete removed the mirror: %v", err)
	}

	// An interrupted sync's intent log lists a torn object: it is
	// re-verified and removed, not left for another mirror to reuse.
	torn, err := repo.Store.PutBytes([]byte("torn object"))
	if err != nil {
		t.Fatal(err)
	}
	p := repo.Store.Path(torn)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("TORN OBJECT"), 0o644)
	if err := writeJSON(repo.pendingPath("up"), []digest.Digest{torn}); err != nil {
		t.Fatal(err)
	}

	del, err := repo.DeleteMirror("up", true)
	if err != nil {
		t.Fatal(err)
	}
	if del.Manifest != res.Manifest || len(del.Removed) != 1 || strings.Join(del.Snapshots, " ") != "s1 s2" || len(del.Published) != 1 {
		t.Fatalf("delete result %+v", del)
	}
	mustNotExist(t, repo, "up")
	if ok, _ := repo.Store.Has(torn); ok {
		t.Error("the torn object of the interrupted sync was left in the store")
	}
	if _, err := os.Stat(repo.pendingPath("up")); !os.IsNotExist(err) {
		t.Errorf("intent log left: %v", err)
	}
	if ok, _ := repo.Store.Has(res.Manifest); !ok {
		t.Error("the manifest was removed from the store")
	}
	if _, err := repo.Snapshot("s1"); err != nil {
		t.Errorf("snapshot removed: %v", err)
	}
	if ps, err := repo.PrefixState("corp"); err != nil || ps.Dists["test"].Snapshot != "s1" {
		t.Errorf("publication changed: %+v %v", ps, err)
	}
	if _, err := repo.DeleteMirror("up", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	// The name is free again.
	_, k := testSigner(t)
	kr, err := os.ReadFile(k.PublicGPG)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.CreateMirror(&Mirror{Name: "up", URL: "http://127.0.0.1:1", Dist: "test"}, kr); err != nil {
		t.Fatal(err)
	}
}
