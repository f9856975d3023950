package transfer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFindBundles: volumes of several bundles in one directory are grouped
// by bundle in (source, sequence) order, whatever order the files come
// in; a file that is not a volume is returned apart.
func TestFindBundles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src, 3<<20)
	out := filepath.Join(dir, "media")
	key := testKey(t, 1)
	hub2 := mustCreate(t, src, out, key, MinVolumeSize, Header{Source: "hub", Target: "site-a", Sequence: 2})
	hub1 := mustCreate(t, src, out, key, 0, Header{Source: "hub", Target: "site-a", Sequence: 1})
	site := mustCreate(t, src, out, key, 0, Header{Source: "site-a", Target: "hub", Sequence: 7})
	if len(hub2.Volumes) < 2 {
		t.Fatalf("want a multi-volume bundle, got %d volume(s)", len(hub2.Volumes))
	}
	junk := filepath.Join(out, "junk.tar")
	if err := os.WriteFile(junk, []byte("not a volume"), 0o644); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(hub2.Volumes) // given last volume first, grouped as given
	files := slices.Concat([]string{junk}, site.Volumes, hub2.Volumes, hub1.Volumes)
	found, bad := FindBundles(files)
	if len(bad) != 1 || bad[0].Path != junk || bad[0].Err == nil {
		t.Errorf("bad = %+v, want only %s", bad, junk)
	}
	want := []*Result{hub1, hub2, site}
	if len(found) != len(want) {
		t.Fatalf("found %d bundles, want %d", len(found), len(want))
	}
	for i, w := range want {
		if found[i].Signed.BundleID != w.Signed.BundleID || !slices.Equal(found[i].Files, w.Volumes) {
			t.Errorf("bundle %d: %s %v, want %s %v", i, found[i].Signed.BundleID, found[i].Files, w.Signed.BundleID, w.Volumes)
		}
	}
}

// TestVolumeFilesIn: a directory whose name is a glob pattern lists its own
// volumes, not those of the directory the pattern matches.
func TestVolumeFilesIn(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"ab/x.tar", "a[b]/2.tar", "a[b]/1.tar", "a[b]/notes.txt"} {
		p = filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "a[b]")
	got, err := VolumeFilesIn(dir)
	if want := []string{filepath.Join(dir, "1.tar"), filepath.Join(dir, "2.tar")}; err != nil || !slices.Equal(got, want) {
		t.Errorf("VolumeFilesIn(%s) = %v, %v; want %v", dir, got, err, want)
	}
	// ExpandPaths (edge import, hub import, bundle verify) reads it the same way.
	if got, err := ExpandPaths([]string{dir}); err != nil || !slices.Equal(got, []string{filepath.Join(dir, "1.tar"), filepath.Join(dir, "2.tar")}) {
		t.Errorf("ExpandPaths(%s) = %v, %v", dir, got, err)
	}
	if _, err := VolumeFilesIn(filepath.Join(root, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v, want ErrNotExist", err)
	}
}
