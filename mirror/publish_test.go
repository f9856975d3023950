package mirror

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror/debian"
)

// TestLinkOrCopyAcrossDevices: the tree falls back to copying when the
// store is on another filesystem (hardlinks cannot cross devices).
func TestLinkOrCopyAcrossDevices(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "eucora-test")
	if err != nil {
		t.Skipf("no second filesystem at /dev/shm to test a cross-device copy: %v", err)
	}
	defer os.RemoveAll(other)
	src := filepath.Join(t.TempDir(), "obj")
	data := []byte("package bytes")
	os.WriteFile(src, data, 0o444)
	dst := filepath.Join(other, "pool.deb")
	if err := linkOrCopy(src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copied %q, %v", got, err)
	}
	a, _ := os.Stat(src)
	b, _ := os.Stat(dst)
	if os.SameFile(a, b) {
		t.Fatal("expected a copy across devices")
	}
	// Same device: a hardlink.
	dst2 := filepath.Join(filepath.Dir(src), "link.deb")
	if err := linkOrCopy(src, dst2); err != nil {
		t.Fatal(err)
	}
	c, _ := os.Stat(dst2)
	if !os.SameFile(a, c) {
		t.Fatal("expected a hardlink on the same device")
	}
}

// TestInstallElsewhereIsByteIdentical: a publication's objects copied into
// another data directory and installed there are served byte for byte as
// at the origin (the hub -> edge path), without any signing key; a damaged
// object makes Install refuse and change nothing.
func TestInstallElsewhereIsByteIdentical(t *testing.T) {
	hub, hubH := publishFixture(t)
	id := mustPublicationID(t, hub, "p", "test")
	objs, err := hub.PublicationObjects(id)
	if err != nil {
		t.Fatal(err)
	}
	edge := testRepo(t)
	copyObj := func(f FileRef) {
		rc, err := hub.Store.OpenVerified(f.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, _, err := edge.Store.Put(context.Background(), rc, f.SHA256, f.Size); err != nil {
			t.Fatal(err)
		}
	}
	// Damage one pool object on the way: Install must refuse.
	var victim FileRef
	for _, f := range objs {
		if strings.HasPrefix(f.Path, "pool/") && victim.Path == "" {
			victim = f
			continue
		}
		copyObj(f)
	}
	w, _ := edge.Store.Create("", -1)
	w.Write([]byte("not the package"))
	bad, _ := w.Commit()
	os.MkdirAll(filepath.Dir(edge.Store.Path(victim.SHA256)), 0o755)
	if err := os.Rename(edge.Store.Path(bad), edge.Store.Path(victim.SHA256)); err != nil {
		t.Fatal(err)
	}
	if _, err := edge.Install(context.Background(), "site", id, false); err == nil {
		t.Fatal("Install accepted a publication with a damaged object")
	}
	if sts, _ := edge.Prefixes(); len(sts) != 0 {
		t.Fatalf("a refused Install changed the state: %+v", sts)
	}
	os.Remove(edge.Store.Path(victim.SHA256))
	copyObj(victim)
	if _, err := edge.Install(context.Background(), "p", id, false); err != nil {
		t.Fatal(err)
	}
	edgeH := NewHandler(edge, nil)
	pub := mustPublication(t, hub, "p", "test")
	for _, f := range pub.Files {
		a := httpGet(t, hubH, "/p/"+f.Path, nil)
		b := httpGet(t, edgeH, "/p/"+f.Path, nil)
		if a.Code != 200 || b.Code != 200 || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
			t.Fatalf("%s: hub %d, edge %d, equal %v", f.Path, a.Code, b.Code, bytes.Equal(a.Body.Bytes(), b.Body.Bytes()))
		}
	}
}

func mustPublicationID(t *testing.T, repo *Repo, prefix, dist string) digest.Digest {
	t.Helper()
	st, err := repo.PrefixState(prefix)
	if err != nil {
		t.Fatal(err)
	}
	return st.Dists[dist].Publication
}

// TestMirrorOfPublication: EUCORA's own publication is a valid upstream for
// another EUCORA (a site mirroring the hub over the network): signature,
// Valid-Until, by-hash indexes and pool all check out, and the packages are
// the same bytes.
func TestMirrorOfPublication(t *testing.T) {
	hub, _ := publishFixture(t)
	signer, key := testSigner(t)
	if _, err := hub.Publish(context.Background(), "s1", PublishOptions{Prefix: "signed", Signer: signer, ValidFor: time.Hour, NoTree: true}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(hub, nil))
	defer srv.Close()
	rel, err := debian.ParseRelease([]byte(httpGet(t, NewHandler(hub, nil), "/signed/dists/test/Release", nil).Body.String()), "Release")
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(rel.ValidUntil); d < 50*time.Minute || d > 61*time.Minute {
		t.Fatalf("Valid-Until %v is not one hour ahead", rel.ValidUntil)
	}
	pub, _ := os.ReadFile(key.PublicGPG)
	site := testRepo(t)
	if err := site.CreateMirror(&Mirror{Name: "hub", URL: srv.URL + "/signed", Dist: "test"}, pub); err != nil {
		t.Fatal(err)
	}
	res, err := site.Sync(context.Background(), "hub", SyncOptions{Fetcher: fastFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	hubSnap, _ := hub.Snapshot("s1")
	hubMan, _ := hub.LoadManifest(hubSnap.ID)
	siteMan, _ := site.LoadManifest(res.Manifest)
	if len(siteMan.Indexes) != 1 || len(siteMan.Indexes[0].Packages) != len(hubMan.Indexes[0].Packages) {
		t.Fatalf("site mirrored %+v", siteMan.Indexes)
	}
	for i, p := range siteMan.Indexes[0].Packages {
		if p.SHA256 != hubMan.Indexes[0].Packages[i].SHA256 {
			t.Fatalf("package %s differs", p.Key())
		}
	}
	// Once expired, the site refuses it.
	site.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := site.Sync(context.Background(), "hub", SyncOptions{Fetcher: fastFetcher()}); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired publication: %v", err)
	}
}

// TestPublishTreeIsComplete: the tree a publish materialises (pool staged
// while the indexes compress, then moved into place) holds exactly the
// files of every distribution under the prefix, each the right object; a
// publish that fails on a missing pool object leaves no staging directory
// and changes nothing.
func TestPublishTreeIsComplete(t *testing.T) {
	repo, _ := publishFixture(t)
	signer, _ := testSigner(t)
	ctx := context.Background()
	for _, dist := range []string{"one", "two"} {
		if _, err := repo.Publish(ctx, "s1", PublishOptions{Prefix: "site", Dist: dist, Signer: signer}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]digest.Digest{}
	for _, dist := range []string{"one", "two"} {
		for _, f := range mustPublication(t, repo, "site", dist).Files {
			want[f.Path] = f.SHA256
		}
	}
	root := filepath.Join(repo.Dir, "public", "site")
	got := map[string]digest.Digest{}
	err := filepath.WalkDir(root+"/", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == ".complete" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got[filepath.ToSlash(rel)] = digest.FromBytes(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("tree has %d files, publications list %d", len(got), len(want))
	}
	for p, d := range want {
		if got[p] != d {
			t.Fatalf("%s: tree has %s, publication says %s", p, got[p], d)
		}
	}
	noStage := func() {
		t.Helper()
		ents, _ := os.ReadDir(filepath.Join(repo.Dir, "trees"))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), stagePrefix) {
				t.Fatalf("staging directory %s left behind", e.Name())
			}
		}
	}
	noStage()

	before, _ := os.ReadFile(repo.prefixPath("site"))
	var victim digest.Digest
	for _, f := range mustPublication(t, repo, "site", "one").Files {
		if strings.HasSuffix(f.Path, "beta_2.0_amd64.deb") {
			victim = f.SHA256
		}
	}
	if err := os.Remove(repo.Store.Path(victim)); err != nil {
		t.Fatal(err)
	}
	_, err = repo.Publish(ctx, "s1", PublishOptions{Prefix: "site", Dist: "one", Signer: signer})
	if !errors.Is(err, cas.ErrNotFound) || !strings.Contains(err.Error(), "beta_2.0_amd64") {
		t.Fatalf("publish with a missing package: %v", err)
	}
	noStage()
	if after, _ := os.ReadFile(repo.prefixPath("site")); !bytes.Equal(before, after) {
		t.Fatal("a failed publish changed the prefix state")
	}
}
