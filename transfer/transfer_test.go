package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

func TestRoundTripAcrossVolumes(t *testing.T) {
	dir := t.TempDir()
	src, out, dst := filepath.Join(dir, "src"), filepath.Join(dir, "out"), filepath.Join(dir, "dst")
	makeTree(t, src, 3<<20)
	key := testKey(t, 1)
	res := mustCreate(t, src, out, key, 1<<20, Header{Source: "hub", Target: "site-a", Sequence: 7},
		RecordSource{Type: "intent", Data: []byte(`{"app":"demo"}`)})
	m := res.Signed.Manifest
	if m.Volumes < 3 {
		t.Fatalf("want the 3 MiB object split over several 1 MiB volumes, got %d volumes", m.Volumes)
	}
	split := 0
	for _, o := range m.Objects {
		if len(o.Parts) > 1 {
			split++
		}
	}
	if split == 0 {
		t.Fatal("no object was split into parts")
	}
	for _, p := range res.Volumes {
		st, _ := os.Stat(p)
		if st.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, over the 1 MiB volume size", p, st.Size())
		}
	}
	// Duplicate content is stored once.
	if got := len(m.Objects); got != 6 { // big, Packages, install.sh, empty, deep, intent record
		t.Errorf("objects = %d, want 6 (duplicates stored once)", got)
	}
	files, _ := ExpandPaths([]string{out})
	b, err := OpenOne(files, trustOf(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(context.Background(), b, dst, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, dst)
	if left := dirEntries(t, dir); len(left) != 3 {
		t.Errorf("staging left behind: %v", left)
	}
}

func assertSameTree(t *testing.T, a, b string) {
	t.Helper()
	seen := 0
	filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(a, p)
		q := filepath.Join(b, rel)
		sa, _ := os.Stat(p)
		sb, err := os.Stat(q)
		if err != nil {
			t.Errorf("%s missing in extracted tree", rel)
			return nil
		}
		if rel != "." && sa.Mode() != sb.Mode() {
			t.Errorf("%s mode %v, want %v", rel, sb.Mode(), sa.Mode())
		}
		if sa.Mode().IsRegular() {
			da, _ := os.ReadFile(p)
			db, _ := os.ReadFile(q)
			if !bytes.Equal(da, db) {
				t.Errorf("%s content differs", rel)
			}
		}
		seen++
		return nil
	})
	if seen < 5 {
		t.Fatalf("walked only %d entries", seen)
	}
}

func TestEachVolumeAloneInReverseOrder(t *testing.T) {
	dir := t.TempDir()
	src, out := filepath.Join(dir, "src"), filepath.Join(dir, "out")
	makeTree(t, src, 2<<20)
	key := testKey(t, 1)
	res := mustCreate(t, src, out, key, 1<<20, Header{Source: "hub"})
	seen := map[int]bool{}
	for i := len(res.Volumes) - 1; i >= 0; i-- {
		p := res.Volumes[i]
		os.Chmod(p, 0o444) // read-only media
		v, err := OpenVolume(p, trustOf(key))
		if err != nil {
			t.Fatalf("volume %s alone: %v", p, err)
		}
		if err := v.Verify(context.Background(), 1, nil); err != nil {
			t.Fatalf("verify %s: %v", p, err)
		}
		if v.Index != i+1 || seen[v.Index] {
			t.Fatalf("%s derived index %d", p, v.Index)
		}
		seen[v.Index] = true
	}
	// Import in reverse order into a store, then extract from it.
	store, _ := cas.Open(filepath.Join(dir, "store"))
	var rev []string
	for i := len(res.Volumes) - 1; i >= 0; i-- {
		rev = append(rev, res.Volumes[i])
	}
	b, err := OpenOne(rev, trustOf(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Import(context.Background(), store, ImportOptions{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	for _, o := range b.Manifest.Objects {
		if err := store.Verify(o.Digest); err != nil {
			t.Errorf("object %s: %v", o.Digest.Short(), err)
		}
	}
}

func TestMissingVolume(t *testing.T) {
	dir := t.TempDir()
	src, out := filepath.Join(dir, "src"), filepath.Join(dir, "out")
	makeTree(t, src, 2<<20)
	key := testKey(t, 1)
	res := mustCreate(t, src, out, key, 1<<20, Header{Source: "hub"})
	given := []string{res.Volumes[0], res.Volumes[len(res.Volumes)-1]}
	b, err := OpenOne(given, trustOf(key))
	if err != nil {
		t.Fatal(err)
	}
	var mv *MissingVolumesError
	_, err = Extract(context.Background(), b, filepath.Join(dir, "dst"), ImportOptions{})
	if !errors.As(err, &mv) || !errors.Is(err, ErrMissingVolume) || len(mv.Missing) != len(res.Volumes)-2 || mv.Missing[0] != 2 {
		t.Fatalf("want missing volumes from 2, got %v", err)
	}
	// The refusal names the files to look for.
	for i, v := range res.Volumes[1 : len(res.Volumes)-1] {
		if name := filepath.Base(v); i < 5 && !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name missing file %s: %v", name, err)
		}
	}
	if got := dirEntries(t, filepath.Join(dir, "dst")); len(got) != 0 {
		t.Fatalf("extract wrote %v", got)
	}
}

// region locates a byte range of a volume by what it holds.
func volumeRegions(t *testing.T, path string) map[string]int64 {
	t.Helper()
	v, err := InspectVolume(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	r := map[string]int64{}
	for _, e := range v.entries {
		if _, ok := r["header"]; !ok {
			r["header"] = e.hdrOff + 60 // inside the name field
		}
		if e.compressed {
			r["compressed payload"] = e.dataOff + e.stored/2
		} else if e.stored > 0 {
			r["raw payload"] = e.dataOff + e.stored/2
		}
		if e.stored%blockSize != 0 {
			r["padding"] = e.dataOff + e.stored
		}
	}
	env := bytes.Index(data, []byte(`"payload":"`))
	sig := bytes.Index(data, []byte(`"sig":"`))
	r["manifest"] = int64(env + 40)
	r["signature"] = int64(sig + 12)
	r["end blocks"] = int64(len(data) - 100)
	return r
}

func TestFlippedByteInEachRegion(t *testing.T) {
	dir := t.TempDir()
	src, out := filepath.Join(dir, "src"), filepath.Join(dir, "out")
	makeTree(t, src, 200<<10)
	key := testKey(t, 1)
	res := mustCreate(t, src, out, key, 0, Header{Source: "hub"})
	if len(res.Volumes) != 1 {
		t.Fatal("want one volume")
	}
	pristine, _ := os.ReadFile(res.Volumes[0])
	regions := volumeRegions(t, res.Volumes[0])
	want := map[string]error{
		"header": ErrCorrupt, "raw payload": ErrCorrupt, "compressed payload": ErrCorrupt, "padding": ErrCorrupt,
		"manifest": ErrBadSignature, "signature": ErrBadSignature, "end blocks": ErrCorrupt,
	}
	for name, wantErr := range want {
		off, ok := regions[name]
		if !ok {
			t.Fatalf("test volume has no %s region", name)
		}
		t.Run(name, func(t *testing.T) {
			data := bytes.Clone(pristine)
			data[off] ^= 0x01
			p := filepath.Join(t.TempDir(), "vol.tar")
			os.WriteFile(p, data, 0o444)
			dst := filepath.Join(t.TempDir(), "dst")
			err := openVerifyExtract(p, trustOf(key), dst)
			if !errors.Is(err, wantErr) {
				t.Fatalf("flip at %d (%s): got %v, want %v", off, name, err, wantErr)
			}
			if got := dirEntries(t, filepath.Dir(dst)); len(got) != 0 {
				t.Fatalf("extract wrote %v", got)
			}
		})
	}
}

// openVerifyExtract opens, verifies and extracts one volume, returning the
// first error.
func openVerifyExtract(p string, trust signing.Trust, dst string) error {
	v, err := OpenVolume(p, trust)
	if err != nil {
		return err
	}
	if err := v.Verify(context.Background(), 2, nil); err != nil {
		return err
	}
	b, err := OpenOne([]string{p}, trust)
	if err != nil {
		return err
	}
	_, err = Extract(context.Background(), b, dst, ImportOptions{})
	return err
}

// Every byte of a volume is covered: flipping any one of them is detected.
func TestEveryFlippedByteDetected(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), bytes.Repeat([]byte("compress me "), 400), 0o644)
	os.WriteFile(filepath.Join(src, "b.bin"), []byte("tiny raw object"), 0o600)
	key := testKey(t, 1)
	res := mustCreate(t, src, filepath.Join(dir, "out"), key, 0, Header{Source: "hub"})
	pristine, _ := os.ReadFile(res.Volumes[0])
	p := filepath.Join(dir, "vol.tar")
	step := 1
	if testing.Short() {
		step = 7
	}
	checked := 0
	for off := 0; off < len(pristine); off += step {
		data := bytes.Clone(pristine)
		data[off] ^= 0x20
		os.WriteFile(p, data, 0o644)
		v, err := OpenVolume(p, trustOf(key))
		if err == nil {
			err = v.Verify(context.Background(), 1, nil)
		}
		if err == nil {
			t.Fatalf("flip at offset %d of %d went undetected", off, len(pristine))
		}
		checked++
	}
	t.Logf("%d single-byte corruptions, all detected", checked)
}

func TestTruncatedVolume(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src, 100<<10)
	key := testKey(t, 1)
	res := mustCreate(t, src, filepath.Join(dir, "out"), key, 0, Header{Source: "hub"})
	data, _ := os.ReadFile(res.Volumes[0])
	for _, n := range []int{0, 1, 511, 512, len(data) / 2, len(data) - 1024, len(data) - 1} {
		p := filepath.Join(dir, "trunc.tar")
		os.WriteFile(p, data[:n], 0o644)
		if _, err := OpenVolume(p, trustOf(key)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: got %v, want ErrCorrupt", n, err)
		}
	}
}

func TestWrongKeyAndExpiry(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src, 10<<10)
	key, other := testKey(t, 1), testKey(t, 2)
	past := time.Now().Add(-48 * time.Hour)
	res := mustCreate(t, src, filepath.Join(dir, "out"), key, 0, Header{Source: "hub", Created: past, Expires: past.Add(time.Hour)})
	if _, err := OpenVolume(res.Volumes[0], trustOf(other)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("wrong key: %v", err)
	}
	// The refusal names the signer in full and where each trusted key came from.
	pub := other.Public()
	pub.Source = "keys/other.pub"
	_, err := OpenVolume(res.Volumes[0], signing.NewTrust(pub))
	for _, want := range []string{"signed by key " + key.ID, other.ID[:16] + " from keys/other.pub"} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("wrong key: %v does not say %q", err, want)
		}
	}
	v, err := OpenVolume(res.Volumes[0], trustOf(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Signed.CheckExpiry(time.Now()); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	exp := v.Signed.Expires
	if v.Signed.CheckExpiry(exp.Add(-time.Second)) != nil || v.Signed.CheckExpiry(exp) == nil {
		t.Fatal("expiry boundary: valid until the second before Expires, expired at Expires")
	}
}

func TestUnsupportedFilesRefused(t *testing.T) {
	for name, mk := range map[string]func(string) error{
		"symlink": func(p string) error { return os.Symlink("/etc/passwd", p) },
		"fifo":    func(p string) error { return mkfifo(p) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			os.MkdirAll(src, 0o755)
			os.WriteFile(filepath.Join(src, "ok"), []byte("ok"), 0o644)
			if err := mk(filepath.Join(src, "bad")); err != nil {
				t.Skip(err)
			}
			out := filepath.Join(dir, "out")
			_, err := Create(context.Background(), out, testKey(t, 1), Header{Source: "hub"}, Content{Tree: src}, CreateOptions{})
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "bad") {
				t.Fatalf("got %v", err)
			}
			if got := dirEntries(t, out); len(got) != 0 {
				t.Fatalf("create left %v", got)
			}
		})
	}
}

func TestHostileEntriesRefused(t *testing.T) {
	key := testKey(t, 1)
	data := []byte("payload bytes")
	d := digest.FromBytes(data)
	m := oneObjectManifest(key, d, int64(len(data)))
	good := rawEntry{entryName(d, false), data}
	for _, tc := range []struct {
		name    string
		entries []rawEntry
		raw     func([]byte) []byte // optional post-edit of the volume bytes
	}{
		{"dot-dot name", []rawEntry{{"../" + d.Hex(), data}}, nil},
		{"absolute name", []rawEntry{{"/objects/" + d.Hex(), data}}, nil},
		{"path inside objects", []rawEntry{{"objects/../../etc/" + d.Hex()[:40], data}}, nil},
		{"unexpected name", []rawEntry{{"README", data}}, nil},
		{"uppercase digest", []rawEntry{{"objects/" + strings.ToUpper(d.Hex()), data}}, nil},
		{"duplicate entry", []rawEntry{good, good}, nil},
		{"object not in manifest", []rawEntry{good, {entryName(digest.FromBytes([]byte("x")), false), []byte("x")}}, nil},
		{"missing entry", nil, nil},
		{"symlink", []rawEntry{good}, setType('2')},
		{"hard link", []rawEntry{good}, setType('1')},
		{"char device", []rawEntry{good}, setType('3')},
		{"block device", []rawEntry{good}, setType('4')},
		{"directory", []rawEntry{good}, setType('5')},
		{"pax header", []rawEntry{good}, setType('x')},
		{"gnu long name", []rawEntry{good}, setType('L')},
		{"oversize size field", []rawEntry{good}, setSize(1 << 32)},
		{"size past end", []rawEntry{good}, setSize(1 << 20)},
		{"trailing garbage", []rawEntry{good}, func(b []byte) []byte { return append(b, 'x') }},
		{"extra zero block", []rawEntry{good}, func(b []byte) []byte { return append(b, make([]byte, 512)...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "vol.tar")
			craftVolume(t, p, tc.entries, m, key)
			if tc.raw != nil {
				b, _ := os.ReadFile(p)
				os.WriteFile(p, tc.raw(b), 0o644)
			}
			dst := filepath.Join(dir, "dst")
			err := openVerifyExtract(p, trustOf(key), dst)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			if _, err := os.Stat(dst); err == nil {
				t.Fatal("extract created the target")
			}
			if got := dirEntries(t, dir); len(got) != 1 {
				t.Fatalf("left %v", got)
			}
		})
	}
}

// setType rewrites the first header's type flag and fixes its checksum, as
// a hostile tool would.
func setType(flag byte) func([]byte) []byte {
	return func(b []byte) []byte {
		b[156] = flag
		fixChecksum(b[:512])
		return b
	}
}

func setSize(n int64) func([]byte) []byte {
	return func(b []byte) []byte {
		octal(b[124:136], n)
		fixChecksum(b[:512])
		return b
	}
}

func fixChecksum(h []byte) {
	copy(h[148:156], "        ")
	var sum int64
	for _, c := range h {
		sum += int64(c)
	}
	copy(h[148:156], []byte(strings.Repeat("0", 6-len(itoa8(sum)))+itoa8(sum)+"\x00 "))
}

func itoa8(n int64) string {
	s := ""
	for n > 0 {
		s = string(rune('0'+n%8)) + s
		n /= 8
	}
	return s
}

func TestHostileManifestPathsRefused(t *testing.T) {
	key := testKey(t, 1)
	data := []byte("x")
	d := digest.FromBytes(data)
	for _, bad := range []string{"../escape", "/etc/passwd", "a/../../b", "a//b", "./a", "a/", "", "a\x00b", "a\\..\\b", strings.Repeat("a/", 200) + "x"} {
		m := oneObjectManifest(key, d, 1)
		m.Files[0].Path = bad
		p := filepath.Join(t.TempDir(), "vol.tar")
		craftVolume(t, p, []rawEntry{{entryName(d, false), data}}, m, key)
		if _, err := OpenVolume(p, trustOf(key)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("path %q: got %v, want ErrCorrupt", bad, err)
		}
	}
	// A file may not sit under another file, nor be listed twice.
	m := oneObjectManifest(key, d, 1)
	m.Files = append(m.Files, File{Path: "f/g", Mode: 0o644, Digest: d, Size: 1})
	if err := m.Validate(); err == nil {
		t.Error("file under a file accepted")
	}
	m = oneObjectManifest(key, d, 1)
	m.Files[0].Mode = 0o4755
	if err := m.Validate(); err == nil {
		t.Error("setuid mode accepted")
	}
}

func TestZstdBombRefused(t *testing.T) {
	key := testKey(t, 1)
	// 64 MiB of zeros compresses to a few KiB; the manifest says 1000 bytes.
	enc, _ := zstd.NewWriter(nil, zstd.WithWindowSize(EncoderWindow))
	bomb := enc.EncodeAll(make([]byte, 64<<20), nil)
	raw := make([]byte, 1000)
	d := digest.FromBytes(raw)
	m := oneObjectManifest(key, d, 1000)
	storedAsZstd(m, bomb)
	p := filepath.Join(t.TempDir(), "vol.tar")
	craftVolume(t, p, []rawEntry{{entryName(d, true), bomb}}, m, key)
	v, err := OpenVolume(p, trustOf(key))
	if err != nil {
		t.Fatal(err)
	}
	err = v.Verify(context.Background(), 1, nil)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("bomb: got %v", err)
	}
	// A frame demanding a window beyond the cap is refused before allocation.
	big, _ := zstd.NewWriter(nil, zstd.WithWindowSize(64<<20), zstd.WithSingleSegment(false))
	var buf bytes.Buffer
	big.Reset(&buf)
	big.Write(bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16+1))
	big.Close()
	raw = bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16+1)
	d = digest.FromBytes(raw)
	m = oneObjectManifest(key, d, int64(len(raw)))
	storedAsZstd(m, buf.Bytes())
	craftVolume(t, p, []rawEntry{{entryName(d, true), buf.Bytes()}}, m, key)
	v, err = OpenVolume(p, trustOf(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), 1, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("64 MiB window: got %v", err)
	}
}

func TestExtractRefusesNonEmptyAndResumes(t *testing.T) {
	dir := t.TempDir()
	src, out, dst := filepath.Join(dir, "src"), filepath.Join(dir, "out"), filepath.Join(dir, "dst")
	makeTree(t, src, 1<<20)
	key := testKey(t, 1)
	res := mustCreate(t, src, out, key, 0, Header{Source: "hub"})
	b, err := OpenOne(res.Volumes, trustOf(key))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dst, 0o755)
	os.WriteFile(filepath.Join(dst, "keep"), []byte("mine"), 0o644)
	if _, err := Extract(context.Background(), b, dst, ImportOptions{}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("non-empty: %v", err)
	}
	os.Remove(filepath.Join(dst, "keep"))
	// Interrupt the import half way, then rerun.
	ctx, cancel := context.WithCancel(context.Background())
	var seen int64
	_, err = Extract(ctx, b, dst, ImportOptions{Workers: 1, Progress: func(n int64) {
		seen += n
		if seen > 600<<10 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted extract: %v", err)
	}
	if got := dirEntries(t, dst); len(got) != 0 {
		t.Fatalf("interrupted extract left %v in the target", got)
	}
	var redone int64
	if _, err := Extract(context.Background(), b, dst, ImportOptions{Progress: func(n int64) { redone += n }}); err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, dst)
}

func TestCreateRemovesStalePartials(t *testing.T) {
	dir := t.TempDir()
	src, out := filepath.Join(dir, "src"), filepath.Join(dir, "out")
	makeTree(t, src, 10<<10)
	os.MkdirAll(out, 0o755)
	stale := filepath.Join(out, ".01JD0000000000000000000000.0001.partial")
	mine := filepath.Join(out, "notes.txt")
	os.WriteFile(stale, []byte("killed half way"), 0o644)
	os.WriteFile(mine, []byte("keep"), 0o644)
	mustCreate(t, src, out, testKey(t, 1), 0, Header{Source: "hub"})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale partial volume not removed")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Error("unrelated file removed")
	}
}

// TestCreateManifest: a manifest-only bundle verifies like any other, lists
// each object as one part, writes nothing, and refuses a tree and an
// object too large for one part.
func TestCreateManifest(t *testing.T) {
	key, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("an object fetched by digest")
	d := digest.FromBytes(blob)
	open := func() (ReadAtCloser, error) { t.Fatal("CreateManifest read an object"); return nil, nil }
	sg, err := CreateManifest(context.Background(), key, Header{Source: "hub", Target: "lon", Sequence: 3},
		Content{Objects: []ObjectSource{{Digest: d, Size: int64(len(blob)), Open: open}},
			Records: []RecordSource{{Type: "time", Data: []byte(`{"hub":"h","time":"2026-11-28T12:00:00Z"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadSigned(sg.Envelope, signing.NewTrust(key.Public()))
	if err != nil || back.Digest != sg.Digest || back.Sequence != 3 || len(back.Objects) != 2 || len(back.Records) != 1 {
		t.Fatalf("read back: %v %+v", err, back)
	}
	for _, o := range back.Objects {
		if len(o.Parts) != 1 || o.Parts[0].Digest != o.Digest || o.Parts[0].Volume != 1 {
			t.Fatalf("object %s parts %+v", o.Digest.Short(), o.Parts)
		}
	}
	if _, err := CreateManifest(context.Background(), key, Header{Source: "hub"}, Content{Tree: t.TempDir()}); err == nil {
		t.Fatal("a tree was accepted")
	}
	huge := []ObjectSource{{Digest: d, Size: MaxPartSize + 1, Open: open}}
	if _, err := CreateManifest(context.Background(), key, Header{Source: "hub"}, Content{Objects: huge}); err == nil || !strings.Contains(err.Error(), "single part") {
		t.Fatalf("an object over MaxPartSize: %v", err)
	}
}
