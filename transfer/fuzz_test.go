package transfer

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/eucora/eucora/internal/digest"
)

// seedVolume returns a small valid volume signed by testKey(1).
func seedVolume(t testing.TB) []byte {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "d", "text"), []byte("compress compress compress compress compress compress compress "+
		"compress compress compress compress compress compress compress compress compress compress compress compress"), 0o644)
	os.WriteFile(filepath.Join(src, "raw"), []byte("raw"), 0o600)
	res := mustCreate(t, src, filepath.Join(dir, "out"), testKey(t, 1), 0, Header{Source: "hub"})
	b, err := os.ReadFile(res.Volumes[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzVolume feeds arbitrary bytes to the volume reader, verifier and
// extractor. Whatever the input, they must not panic, must not write
// outside the target, and anything they accept must be internally
// consistent. Seeds: testdata/fuzz/FuzzVolume and a fresh valid volume.
func FuzzVolume(f *testing.F) {
	f.Add(seedVolume(f))
	key := testKey(f, 1)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "vol.tar")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if v, err := InspectVolume(p); err == nil {
			if v.Index < 1 || v.Index > v.Signed.Volumes {
				t.Fatalf("index %d of %d", v.Index, v.Signed.Volumes)
			}
		}
		v, err := OpenVolume(p, trustOf(key))
		if err != nil {
			return
		}
		if err := v.Verify(context.Background(), 1, nil); err != nil {
			return
		}
		if v.Signed.Volumes != 1 {
			return
		}
		dst := filepath.Join(dir, "dst")
		b, err := OpenOne([]string{p}, trustOf(key))
		if err != nil {
			t.Fatalf("verified volume does not open as a bundle: %v", err)
		}
		if _, err := Extract(context.Background(), b, dst, ImportOptions{Workers: 1}); err != nil {
			t.Fatalf("verified single-volume bundle does not extract: %v", err)
		}
		for _, fl := range b.Manifest.Files {
			got, _, err := digest.FromReader(mustOpenFile(t, filepath.Join(dst, filepath.FromSlash(fl.Path))))
			if err != nil || got != fl.Digest {
				t.Fatalf("extracted %s: %v %v", fl.Path, got, err)
			}
		}
	})
}

func mustOpenFile(t *testing.T, p string) *os.File {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// FuzzManifest feeds arbitrary JSON to the manifest parser: it must not
// panic, and whatever it accepts must pass Validate again after a round
// trip through encoding.
func FuzzManifest(f *testing.F) {
	key := testKey(f, 1)
	d := digest.FromBytes([]byte("x"))
	m := oneObjectManifest(key, d, 1)
	b, _ := jsonMarshal(m)
	f.Add(b)
	zm := oneObjectManifest(key, d, 1)
	storedAsZstd(zm, []byte("stored"))
	b, _ = jsonMarshal(zm)
	f.Add(b)
	f.Add([]byte(`{"format":"eucora-bundle/v1"}`))
	f.Add([]byte(`{"format":"eucora-bundle/v2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		for _, fl := range m.Files {
			if ValidatePath(fl.Path) != nil {
				t.Fatalf("accepted unsafe path %q", fl.Path)
			}
		}
		again, err := jsonMarshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseManifest(again); err != nil {
			t.Fatalf("accepted manifest fails after re-encoding: %v", err)
		}
	})
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/abs", "a//b", "ok.txt", "a/./b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidatePath(p) != nil {
			return
		}
		clean := filepath.Clean(p)
		if clean != p || filepath.IsAbs(p) || clean == ".." || len(clean) >= 3 && clean[:3] == "../" {
			t.Fatalf("accepted %q (clean %q)", p, clean)
		}
	})
}
