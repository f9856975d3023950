package transfer

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/internal/testtool"
)

// The by-hand scripts of docs/ run here on real volumes: what they accept
// and refuse must agree with the reader.

var scriptTools = []string{"sh", "tar", "zstd", "sha256sum", "openssl", "jq", "base64", "date", "comm"}

// needTools skips when a tool the scripts use is missing, and fails under
// CI=true, where a silent skip would hide the test.
func needTools(t *testing.T) {
	t.Helper()
	testtool.Need(t, "apt-get install tar zstd coreutils openssl jq", scriptTools...)
}

func script(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", append([]string{p}, args...)...).CombinedOutput()
	return string(out), err
}

func writePub(t *testing.T, dir string, key *signing.PrivateKey) string {
	t.Helper()
	p := filepath.Join(dir, key.ID[:8]+".pub")
	if err := os.WriteFile(p, signing.EncodePublic(key.Public()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tarEntries splits a volume into its entries (the manifest last).
func tarEntries(t *testing.T, vol []byte) []rawEntry {
	t.Helper()
	var out []rawEntry
	relayVolume(t, vol, func(name string, data []byte) []byte {
		out = append(out, rawEntry{name, data})
		return data
	})
	return out
}

// layVolume writes entries as a volume, headers as the writer makes them.
func layVolume(t *testing.T, path string, entries []rawEntry) {
	t.Helper()
	var buf bytes.Buffer
	for _, e := range entries {
		h, err := ustarHeader(e.name, int64(len(e.data)), 1700000000)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(h)
		buf.Write(e.data)
		buf.Write(make([]byte, padLen(int64(len(e.data)))))
	}
	buf.Write(make([]byte, 2*blockSize))
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// verify-by-hand.sh accepts every good volume and refuses a volume with an
// entry removed, added or swapped, a wrong payload type or format, an
// expired bundle, a changed stored entry and the wrong key, as the reader
// does.
func TestVerifyByHand(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src, 3<<20)
	key, other := testKey(t, 1), testKey(t, 2)
	pub, otherPub := writePub(t, dir, key), writePub(t, dir, other)
	res := mustCreate(t, src, filepath.Join(dir, "out"), key, 1<<20, Header{Source: "hub", Target: "site-a"})
	if len(res.Volumes) < 3 {
		t.Fatalf("want at least 3 volumes, got %d", len(res.Volumes))
	}
	for _, v := range res.Volumes {
		if out, err := script(t, "verify-by-hand.sh", v, pub); err != nil || !strings.HasPrefix(out, "OK: ") {
			t.Fatalf("%s refused: %v\n%s", v, err, out)
		}
	}
	v1pub := filepath.Join("testdata", "v1", "hub.pub")
	if out, err := script(t, "verify-by-hand.sh", filepath.Join("testdata", "v1", "bundle-v1.tar"), v1pub); err != nil || !strings.Contains(out, "eucora-bundle/v1") {
		t.Fatalf("format v1 volume refused: %v\n%s", err, out)
	}

	// Volume 1 with several entries, and an entry of another volume.
	var vol []rawEntry
	var v1 string
	for _, p := range res.Volumes {
		b, _ := os.ReadFile(p)
		if e := tarEntries(t, b); len(e) >= 3 {
			vol, v1 = e, p
			break
		}
	}
	if vol == nil {
		t.Fatal("no volume holds two or more entries")
	}
	var foreign rawEntry
	for _, p := range res.Volumes {
		if p == v1 {
			continue
		}
		b, _ := os.ReadFile(p)
		foreign = tarEntries(t, b)[0]
		break
	}
	last := len(vol) - 1 // the manifest
	with := func(entries ...rawEntry) []rawEntry { return append(append([]rawEntry{}, entries...), vol[last]) }
	tampered := map[string][]rawEntry{
		"entry removed":                      with(vol[1:last]...),
		"entry of another volume added":      with(append(append([]rawEntry{}, vol[:last]...), foreign)...),
		"entry swapped for another volume's": with(append([]rawEntry{foreign}, vol[1:last]...)...),
		"entry not in the manifest added":    with(append(append([]rawEntry{}, vol[:last]...), rawEntry{entryName(digestOf("stray"), false), []byte("stray")})...),
		"entry order swapped":                with(append(append([]rawEntry{}, vol[1:last]...), vol[0])...),
	}
	for name, entries := range tampered {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "v.tar")
			layVolume(t, p, entries)
			goErr := verifyVolumeFile(p, trustOf(key))
			out, err := script(t, "verify-by-hand.sh", p, pub)
			if name == "entry order swapped" { // order is free; the set is what counts
				if err != nil || goErr != nil {
					t.Fatalf("reordered volume: script %v (%s), reader %v", err, out, goErr)
				}
				return
			}
			if err == nil || goErr == nil {
				t.Fatalf("accepted: script %v (%s), reader %v", err, out, goErr)
			}
			if !strings.Contains(out, "entries differ") && !strings.Contains(out, "not in the manifest") {
				t.Errorf("script's message does not say the entry set is wrong: %s", out)
			}
		})
	}

	// Signed manifests the script must refuse: wrong payload type, unknown
	// format, expired.
	raw := []byte("content")
	d := digestOf(string(raw))
	signed := map[string]struct {
		m    func() *Manifest
		pt   string
		want string
	}{
		"good":                     {func() *Manifest { return oneObjectManifest(key, d, 7) }, PayloadTypeV2, "OK: "},
		"v2 under v1 payload type": {func() *Manifest { return oneObjectManifest(key, d, 7) }, PayloadTypeV1, "under payload type"},
		"unknown payload type":     {func() *Manifest { return oneObjectManifest(key, d, 7) }, "application/vnd.eucora.bundle-manifest.v9+json", "unknown payload type"},
		"expired": {func() *Manifest {
			m := oneObjectManifest(key, d, 7)
			m.Created, m.Expires = time.Now().Add(-48*time.Hour).UTC().Truncate(time.Second), time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
			return m
		}, PayloadTypeV2, "expired"},
	}
	for name, tc := range signed {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "v.tar")
			craftVolumeAs(t, p, []rawEntry{{entryName(d, false), raw}}, tc.m(), key, tc.pt)
			out, err := script(t, "verify-by-hand.sh", p, pub)
			if (err == nil) != (tc.want == "OK: ") || !strings.Contains(out, tc.want) {
				t.Fatalf("got %v, want output containing %q:\n%s", err, tc.want, out)
			}
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		out, err := script(t, "verify-by-hand.sh", v1, otherPub)
		if err == nil || !strings.Contains(out, "not signed by the trusted key") {
			t.Fatalf("got %v:\n%s", err, out)
		}
	})
	t.Run("skippable frame in a .zst entry", func(t *testing.T) {
		found := false
		for _, p := range res.Volumes {
			b, _ := os.ReadFile(p)
			entries := tarEntries(t, b)
			for i, e := range entries {
				if strings.HasSuffix(e.name, ".zst") {
					entries[i].data = append(append([]byte{}, e.data...), skippableFrame([]byte("x"))...)
					found = true
					q := filepath.Join(t.TempDir(), "v.tar")
					layVolume(t, q, entries)
					if out, err := script(t, "verify-by-hand.sh", q, pub); err == nil || !strings.Contains(out, "stored bytes") {
						t.Fatalf("got %v:\n%s", err, out)
					}
					return
				}
			}
		}
		if !found {
			t.Fatal("no .zst entry")
		}
	})
	t.Run("payload byte flipped", func(t *testing.T) {
		b, _ := os.ReadFile(v1)
		b[blockSize+1] ^= 1
		q := filepath.Join(t.TempDir(), "v.tar")
		os.WriteFile(q, b, 0o644)
		if out, err := script(t, "verify-by-hand.sh", q, pub); err == nil {
			t.Fatalf("accepted:\n%s", out)
		}
	})
}

func digestOf(s string) digest.Digest { return digest.FromBytes([]byte(s)) }

// rebuild-by-hand.sh rebuilds, from a multi-volume bundle with split
// objects, modes, empty files and empty directories, the same tree as
// Extract (the code of `eucora bundle extract`), and refuses an incomplete
// or mixed set of volumes.
func TestRebuildByHand(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src, 3<<20)
	os.MkdirAll(filepath.Join(src, "ro", "inner"), 0o755)
	os.WriteFile(filepath.Join(src, "ro", "inner", "f"), []byte("in a read-only dir"), 0o444)
	os.Chmod(filepath.Join(src, "ro", "inner", "f"), 0o444)
	os.Chmod(filepath.Join(src, "ro"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "ro"), 0o755) })
	key := testKey(t, 1)
	pub := writePub(t, dir, key)
	res := mustCreate(t, src, filepath.Join(dir, "out"), key, 1<<20, Header{Source: "hub"})
	split := 0
	for _, o := range res.Signed.Objects {
		if len(o.Parts) > 1 {
			split++
		}
	}
	if len(res.Volumes) < 3 || split == 0 {
		t.Fatalf("want a split object over several volumes: %d volumes, %d split", len(res.Volumes), split)
	}
	// Volumes given in reverse order.
	vols := append([]string{}, res.Volumes...)
	for i, j := 0, len(vols)-1; i < j; i, j = i+1, j-1 {
		vols[i], vols[j] = vols[j], vols[i]
	}
	byHand := filepath.Join(dir, "by-hand")
	out, err := script(t, "rebuild-by-hand.sh", append([]string{pub, byHand}, vols...)...)
	if err != nil || !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(byHand, "ro"), 0o755) })
	b, err := OpenOne(res.Volumes, trustOf(key))
	if err != nil {
		t.Fatal(err)
	}
	extracted := filepath.Join(dir, "extracted")
	if _, err := Extract(t.Context(), b, extracted, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(extracted, "ro"), 0o755) })
	assertSameTree(t, extracted, byHand)
	assertSameTree(t, byHand, extracted)
	assertSameTree(t, src, byHand)
	if st, err := os.Stat(filepath.Join(byHand, "emptydir")); err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Fatalf("empty directory: %v %v", st, err)
	}

	t.Run("volume missing", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "t")
		out, err := script(t, "rebuild-by-hand.sh", append([]string{pub, target}, res.Volumes[1:]...)...)
		if err == nil || !strings.Contains(out, "volume 1 of") {
			t.Fatalf("got %v:\n%s", err, out)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatalf("target created: %v", err)
		}
	})
	t.Run("volume given twice", func(t *testing.T) {
		out, err := script(t, "rebuild-by-hand.sh", append([]string{pub, filepath.Join(t.TempDir(), "t"), res.Volumes[0]}, res.Volumes...)...)
		if err == nil || !strings.Contains(out, "given twice") {
			t.Fatalf("got %v:\n%s", err, out)
		}
	})
	t.Run("volume of another bundle", func(t *testing.T) {
		other := mustCreate(t, src, filepath.Join(t.TempDir(), "out"), key, 1<<20, Header{Source: "hub"})
		out, err := script(t, "rebuild-by-hand.sh", append([]string{pub, filepath.Join(t.TempDir(), "t"), other.Volumes[0]}, res.Volumes[1:]...)...)
		if err == nil || !strings.Contains(out, "another bundle") {
			t.Fatalf("got %v:\n%s", err, out)
		}
	})
	t.Run("target exists", func(t *testing.T) {
		out, err := script(t, "rebuild-by-hand.sh", append([]string{pub, dir}, res.Volumes...)...)
		if err == nil || !strings.Contains(out, "exists") {
			t.Fatalf("got %v:\n%s", err, out)
		}
	})
}
