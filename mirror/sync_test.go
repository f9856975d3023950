package mirror

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror/debian"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// TestSyncReleaseGPGPlainIndex: no InRelease, a detached Release.gpg and an
// uncompressed index only.
func TestSyncReleaseGPGPlainIndex(t *testing.T) {
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1:2.0~rc1-3", Fields: map[string]string{"Section": "web"}})
	u.AddDeb(mirrortest.DebSpec{Name: "beta", Version: "1.0", Fields: map[string]string{"Priority": "required"}})
	u.AddDeb(mirrortest.DebSpec{Name: "gamma", Version: "1.0"})
	repo, srv := newUpstreamMirror(t, u, mirrortest.IndexOpts{NoInRelease: true, PlainOnly: true}, "Section:web | Priority:required")
	res, err := repo.Sync(context.Background(), "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Packages != 2 {
		t.Fatalf("filter selected %d packages, want alpha and beta", res.Packages)
	}
	if srv.Hits("/dists/test/InRelease") != 1 || srv.Hits("/dists/test/Release.gpg") != 1 || srv.Hits("/dists/test/main/binary-amd64/Packages") != 1 {
		t.Fatalf("requests: %v", srv)
	}
}

// TestSyncXZOnlyByHash: only Packages.xz, fetched by hash.
func TestSyncXZOnlyByHash(t *testing.T) {
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0"})
	repo, srv := newUpstreamMirror(t, u, mirrortest.IndexOpts{XZOnly: true, ByHash: true}, "")
	res, err := repo.Sync(context.Background(), "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Packages != 1 || srv.Hits("/dists/test/main/binary-amd64/Packages.xz") != 0 {
		t.Fatalf("result %+v, requests %v", res, srv)
	}
}

// TestSyncRecoversFromTornObjects: an intent log left by a crash makes the
// next sync re-verify the listed objects and replace a torn one.
func TestSyncRecoversFromTornObjects(t *testing.T) {
	u := mirrortest.NewUpstream(t)
	rel := u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0", Payload: 4096})
	repo, srv := newUpstreamMirror(t, u, mirrortest.IndexOpts{}, "")
	ctx := context.Background()
	if _, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()}); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(u.Debs[rel])
	// Simulate a crash between an unsynced commit and syncfs: the object
	// exists under its name with torn content, and the intent log lists it.
	p := repo.Store.Path(d)
	os.Chmod(p, 0o644)
	os.WriteFile(p, make([]byte, len(u.Debs[rel])), 0o644)
	if err := writeJSON(repo.pendingPath("up"), []digest.Digest{d}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Store.Verify(d); err != nil {
		t.Fatalf("torn object not repaired: %v", err)
	}
	if _, err := os.Stat(repo.pendingPath("up")); !os.IsNotExist(err) {
		t.Fatalf("intent log not removed: %v", err)
	}
	if srv.Hits("/"+rel) != 2 {
		t.Fatalf("package fetched %d times, want 2 (once more after the repair)", srv.Hits("/"+rel))
	}
}

func cand(name, version, fields string) *candidate {
	para := debian.Paragraph{{Name: "Package", Value: name}, {Name: "Version", Value: version}}
	for _, kv := range strings.Split(fields, ";") {
		if kv == "" {
			continue
		}
		i := strings.IndexByte(kv, '=')
		para = append(para, debian.Field{Name: kv[:i], Value: kv[i+1:]})
	}
	return &candidate{p: &debian.Package{Name: name, Version: version, Arch: "amd64", Para: para}}
}

func TestResolveDeps(t *testing.T) {
	app := cand("app", "1.0", "Depends=virt (>= 2), lib (>> 1:0) | other, missing (>= 1)")
	app.selected = true
	u := []*candidate{
		app,
		cand("prov-unversioned", "1.0", "Provides=virt"),
		cand("prov-v1", "1.0", "Provides=virt (= 1)"),
		cand("prov-v3", "1.0", "Provides=virt (= 3)"),
		cand("lib", "2.0", ""),
		cand("lib", "1:0.5", "Depends=base"),
		cand("lib", "1:0.1~", ""),
		cand("other", "1.0", ""),
		cand("base", "1.0", ""),
	}
	added, unresolved := resolveDeps(u)
	var got []string
	for _, c := range u {
		if c.selected {
			got = append(got, c.p.Name+"="+c.p.Version)
		}
	}
	want := "app=1.0 prov-v3=1.0 lib=1:0.5 base=1.0"
	if strings.Join(got, " ") != want || added != 3 {
		t.Fatalf("selected %q (added %d), want %q", strings.Join(got, " "), added, want)
	}
	if len(unresolved) != 1 || !strings.Contains(unresolved[0], "missing (>= 1)") {
		t.Fatalf("unresolved = %q", unresolved)
	}
}

var _ = filepath.Join

// TestConcurrentSyncs: two syncs of one mirror at once both succeed, one
// after the other, and agree.
func TestConcurrentSyncs(t *testing.T) {
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0", Payload: 32 << 10})
	u.AddDeb(mirrortest.DebSpec{Name: "beta", Version: "1.0", Payload: 32 << 10})
	repo, _ := newUpstreamMirror(t, u, mirrortest.IndexOpts{}, "")
	type out struct {
		res *SyncResult
		err error
	}
	ch := make(chan out, 2)
	for i := 0; i < 2; i++ {
		go func() {
			res, err := repo.Sync(context.Background(), "up", SyncOptions{Fetcher: fastFetcher()})
			ch <- out{res, err}
		}()
	}
	a, b := <-ch, <-ch
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	if a.res.Manifest != b.res.Manifest || a.res.Downloaded+b.res.Downloaded != 2 {
		t.Fatalf("concurrent syncs disagree or downloaded twice: %+v %+v", a.res, b.res)
	}
}

// TestSnapshotAfterCrashLeftover: a temp file left by a crash during
// snapshot creation does not block the name for ever, while an existing
// snapshot is never replaced.
func TestSnapshotAfterCrashLeftover(t *testing.T) {
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0"})
	repo, _ := newUpstreamMirror(t, u, mirrortest.IndexOpts{}, "")
	if _, err := repo.Sync(context.Background(), "up", SyncOptions{Fetcher: fastFetcher()}); err != nil {
		t.Fatal(err)
	}
	tmp := repo.snapshotPath("s") + ".tmp"
	os.WriteFile(tmp, []byte("{torn"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(tmp, old, old)
	if _, err := repo.CreateSnapshot("up", "s"); err != nil {
		t.Fatalf("a stale temp file blocked the snapshot: %v", err)
	}
	if _, err := repo.CreateSnapshot("up", "s"); !errors.Is(err, ErrExists) {
		t.Fatalf("snapshot replaced: %v", err)
	}
}

// TestResolveDepsChoice: how resolveDeps chooses among the packages that
// satisfy a dependency nothing selected satisfies yet (docs/apt-mirror.md
// states the same rule).
func TestResolveDepsChoice(t *testing.T) {
	cases := []struct {
		name   string
		filter string // packages selected before resolution (by name)
		u      []*candidate
		want   string
	}{
		{"a selected provider satisfies a virtual dependency", "app mta-b", []*candidate{
			cand("app", "1", "Depends=mail-transport-agent"),
			cand("mta-a", "9", "Provides=mail-transport-agent;Priority=important"),
			cand("mta-b", "1", "Provides=mail-transport-agent"),
		}, "app=1 mta-b=1"},
		{"a selected second alternative satisfies the dependency", "app bb", []*candidate{
			cand("app", "1", "Depends=aa | bb"),
			cand("aa", "1", "Priority=required"),
			cand("bb", "1", ""),
		}, "app=1 bb=1"},
		{"Priority required or important before the highest version", "app", []*candidate{
			cand("app", "1", "Depends=virt"),
			cand("prov-high", "9.0", "Provides=virt"),
			cand("prov-imp", "1.0", "Provides=virt;Priority=important"),
			cand("prov-req", "0.5", "Provides=virt;Priority=required"),
		}, "app=1 prov-imp=1.0"},
		{"the highest version among providers, not the first in the index", "app", []*candidate{
			cand("app", "1", "Depends=virt"),
			cand("prov-old", "1.0", "Provides=virt"),
			cand("prov-new", "2.0", "Provides=virt"),
		}, "app=1 prov-new=2.0"},
		{"a real package before a provider of its name", "app", []*candidate{
			cand("app", "1", "Depends=awk"),
			cand("mawk", "9", "Provides=awk"),
			cand("awk", "1", ""),
		}, "app=1 awk=1"},
		{"equal versions: the lowest name", "app", []*candidate{
			cand("app", "1", "Depends=virt"),
			cand("zeta", "1.0", "Provides=virt"),
			cand("alpha", "1.0", "Provides=virt"),
		}, "app=1 alpha=1.0"},
		{"the first satisfiable alternative, even if a later one is required", "app", []*candidate{
			cand("app", "1", "Depends=gone | aa | bb"),
			cand("aa", "1", ""),
			cand("bb", "1", "Priority=required"),
		}, "app=1 aa=1"},
		{"versioned dependency: only versioned Provides count, highest version of the real package", "app", []*candidate{
			cand("app", "1", "Depends=lib (>= 2)"),
			cand("lib", "2.0", ""),
			cand("lib", "3.0", ""),
			cand("shim", "9", "Provides=lib"),
		}, "app=1 lib=3.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sel := map[string]bool{}
			for _, n := range strings.Fields(c.filter) {
				sel[n] = true
			}
			for _, x := range c.u {
				x.selected = sel[x.p.Name]
			}
			resolveDeps(c.u)
			var got []string
			for _, x := range c.u {
				if x.selected {
					got = append(got, x.p.Name+"="+x.p.Version)
				}
			}
			sort.Strings(got)
			w := strings.Fields(c.want)
			sort.Strings(w)
			if strings.Join(got, " ") != strings.Join(w, " ") {
				t.Errorf("selected %q, want %q", strings.Join(got, " "), strings.Join(w, " "))
			}
		})
	}
}
