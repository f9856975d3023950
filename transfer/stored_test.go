package transfer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// relayVolume rewrites a volume entry by entry, with headers re-encoded for
// the new data, so that only what edit changes differs. edit returns the
// entry's new data, or nil to drop the entry.
func relayVolume(t testing.TB, vol []byte, edit func(name string, data []byte) []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	for off := 0; off+blockSize <= len(vol); {
		hdr := vol[off : off+blockSize]
		if isZero(hdr) {
			break
		}
		name, size, mtime, err := parseHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		data := vol[off+blockSize : off+blockSize+int(size)]
		off += blockSize + int(size) + int(padLen(size))
		if data = edit(name, append([]byte{}, data...)); data == nil {
			continue
		}
		h, err := ustarHeader(name, int64(len(data)), mtime)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(h)
		out.Write(data)
		out.Write(make([]byte, padLen(int64(len(data)))))
	}
	out.Write(make([]byte, 2*blockSize))
	return out.Bytes()
}

// skippableFrame is a zstd skippable frame: decoders pass over it, so the
// entry still decompresses to the same raw bytes.
func skippableFrame(payload []byte) []byte {
	f := binary.LittleEndian.AppendUint32(nil, 0x184D2A50)
	f = binary.LittleEndian.AppendUint32(f, uint32(len(payload)))
	return append(f, payload...)
}

func verifyVolumeFile(p string, trust signing.Trust) error {
	v, err := OpenVolume(p, trust)
	if err != nil {
		return err
	}
	return v.Verify(context.Background(), 1, nil)
}

// The signed manifest covers the stored bytes of each entry: a skippable
// frame inserted before or after a compressed entry's frames is refused.
func TestStoredBytesAreSigned(t *testing.T) {
	dir := t.TempDir()
	src, out := filepath.Join(dir, "src"), filepath.Join(dir, "out")
	// Packages (300 KiB of text) is a .zst entry of one frame, Contents
	// (2.6 MiB) one of three frames.
	makeTree(t, src, 3<<20)
	big := bytes.Repeat([]byte("compressible line of text for several frames\n"), 60000)
	os.WriteFile(filepath.Join(src, "dists", "stable", "Contents"), big, 0o644)
	key := testKey(t, 1)
	res := mustCreate(t, src, out, key, DefaultVolumeSize, Header{Source: "hub"})
	if len(res.Volumes) != 1 {
		t.Fatalf("want one volume, got %d", len(res.Volumes))
	}
	if err := verifyVolumeFile(res.Volumes[0], trustOf(key)); err != nil {
		t.Fatalf("untouched volume: %v", err)
	}
	orig, _ := os.ReadFile(res.Volumes[0])
	junk := skippableFrame([]byte("not signed by the hub"))
	cases := map[string]func(data []byte) []byte{
		"skippable frame first": func(d []byte) []byte { return append(append([]byte(nil), junk...), d...) },
		"skippable frame last":  func(d []byte) []byte { return append(d, junk...) },
		"empty skippable frame": func(d []byte) []byte { return append(d, skippableFrame(nil)...) },
	}
	zst := 0
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			n := 0
			b := relayVolume(t, orig, func(entry string, d []byte) []byte {
				if strings.HasSuffix(entry, ".zst") && n == 0 {
					n++
					return edit(d)
				}
				return d
			})
			zst += n
			p := filepath.Join(dir, "bad.tar")
			os.WriteFile(p, b, 0o644)
			err := verifyVolumeFile(p, trustOf(key))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("volume with an inserted skippable frame: err = %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), ".zst") {
				t.Errorf("error does not name the entry: %v", err)
			}
		})
	}
	if zst == 0 {
		t.Fatal("the bundle holds no .zst entry")
	}
}

// Bundles in format v1 (written by earlier versions) still verify, import
// and extract; their stored bytes are covered only through the raw digest.
func TestFormatV1StillReadable(t *testing.T) {
	pub, err := signing.LoadPublic(filepath.Join("testdata", "v1", "hub.pub"))
	if err != nil {
		t.Fatal(err)
	}
	trust := signing.NewTrust(pub)
	p := filepath.Join("testdata", "v1", "bundle-v1.tar")
	v, err := OpenVolume(p, trust)
	if err != nil {
		t.Fatal(err)
	}
	if v.Signed.Format != FormatV1 {
		t.Fatalf("testdata format = %q, want %q", v.Signed.Format, FormatV1)
	}
	if err := v.Verify(context.Background(), 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := v.Signed.CheckExpiry(time.Now()); err != nil {
		t.Fatal(err)
	}
	b, err := OpenOne([]string{p}, trust)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := Extract(context.Background(), b, dst, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "docs", "Packages"))
	if err != nil || !bytes.Equal(got, []byte(strings.Repeat("Package: demo\nVersion: 1.0\n\n", 200))) {
		t.Fatalf("docs/Packages: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dst, "docs", "empty")); err != nil || !st.IsDir() {
		t.Fatalf("docs/empty: %v", err)
	}
	// A flipped payload byte is still caught in v1.
	orig, _ := os.ReadFile(p)
	bad := append([]byte(nil), orig...)
	bad[blockSize+10] ^= 1
	q := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(q, bad, 0o644)
	if err := verifyVolumeFile(q, trust); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("flipped byte in a v1 volume: %v", err)
	}
}

// The stored-form fields of a part are checked against the format.
func TestPartStoredFieldsValidated(t *testing.T) {
	key := testKey(t, 1)
	d := digest.FromBytes([]byte("x"))
	sd := digest.FromBytes([]byte("stored"))
	cases := []struct {
		name   string
		format string
		part   func(p *Part)
		want   string // "" = valid
	}{
		{"v2 raw", FormatV2, func(p *Part) {}, ""},
		{"v2 zstd", FormatV2, func(p *Part) { p.Encoding, p.StoredSize, p.StoredDigest = EncodingZstd, 6, sd }, ""},
		{"v1 raw", FormatV1, func(p *Part) {}, ""},
		{"v1 with encoding", FormatV1, func(p *Part) { p.Encoding, p.StoredSize, p.StoredDigest = EncodingZstd, 6, sd }, "do not exist in"},
		{"v1 with stored digest", FormatV1, func(p *Part) { p.StoredDigest = sd }, "do not exist in"},
		{"v2 raw with stored size", FormatV2, func(p *Part) { p.StoredSize = 1 }, "only for an encoded part"},
		{"v2 raw with stored digest", FormatV2, func(p *Part) { p.StoredDigest = sd }, "only for an encoded part"},
		{"v2 unknown encoding", FormatV2, func(p *Part) { p.Encoding, p.StoredSize, p.StoredDigest = "gzip", 6, sd }, `encoding "gzip"`},
		{"v2 zstd without stored size", FormatV2, func(p *Part) { p.Encoding, p.StoredDigest = EncodingZstd, sd }, "stored_size 0"},
		{"v2 zstd stored size too large", FormatV2, func(p *Part) { p.Encoding, p.StoredSize, p.StoredDigest = EncodingZstd, 1<<33, sd }, "stored_size"},
		{"v2 zstd without stored digest", FormatV2, func(p *Part) { p.Encoding, p.StoredSize = EncodingZstd, 6 }, "stored_digest"},
		{"v2 zstd bad stored digest", FormatV2, func(p *Part) { p.Encoding, p.StoredSize, p.StoredDigest = EncodingZstd, 6, "ABC" }, "stored_digest"},
		{"unknown format", "eucora-bundle/v3", func(p *Part) {}, "format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := oneObjectManifest(key, d, 1)
			m.Format = tc.format
			tc.part(&m.Objects[0].Parts[0])
			b, _ := jsonMarshal(m)
			_, err := ParseManifest(b)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A v2 reader matches each entry's tar name and size against the signed
// encoding and stored size, and the envelope's payload type against the
// manifest's format.
func TestStoredFormMatchedAgainstEntries(t *testing.T) {
	key := testKey(t, 1)
	raw := bytes.Repeat([]byte("abc"), 1000)
	d := digest.FromBytes(raw)
	enc, _ := zstd.NewWriter(nil)
	z := enc.EncodeAll(raw, nil)
	dir := t.TempDir()
	try := func(t *testing.T, entries []rawEntry, m *Manifest, payloadType, want string) {
		t.Helper()
		p := filepath.Join(dir, "v.tar")
		craftVolumeAs(t, p, entries, m, key, payloadType)
		err := verifyVolumeFile(p, trustOf(key))
		if want == "" {
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want ErrCorrupt containing %q", err, want)
		}
	}
	zm := func() *Manifest { m := oneObjectManifest(key, d, int64(len(raw))); storedAsZstd(m, z); return m }
	rm := func() *Manifest { return oneObjectManifest(key, d, int64(len(raw))) }
	t.Run("good zstd", func(t *testing.T) { try(t, []rawEntry{{entryName(d, true), z}}, zm(), PayloadTypeV2, "") })
	t.Run("good raw", func(t *testing.T) { try(t, []rawEntry{{entryName(d, false), raw}}, rm(), PayloadTypeV2, "") })
	t.Run("zst entry signed raw", func(t *testing.T) {
		try(t, []rawEntry{{entryName(d, true), z}}, rm(), PayloadTypeV2, "signs it as raw")
	})
	t.Run("raw entry signed zstd", func(t *testing.T) {
		try(t, []rawEntry{{entryName(d, false), raw}}, zm(), PayloadTypeV2, "signs it as zstd")
	})
	t.Run("stored size differs", func(t *testing.T) {
		m := zm()
		m.Objects[0].Parts[0].StoredSize++
		try(t, []rawEntry{{entryName(d, true), z}}, m, PayloadTypeV2, "manifest signs")
	})
	t.Run("stored digest differs", func(t *testing.T) {
		m := zm()
		m.Objects[0].Parts[0].StoredDigest = digest.FromBytes([]byte("other"))
		try(t, []rawEntry{{entryName(d, true), z}}, m, PayloadTypeV2, "stored bytes")
	})
	t.Run("v2 manifest under v1 payload type", func(t *testing.T) {
		try(t, []rawEntry{{entryName(d, false), raw}}, rm(), PayloadTypeV1, "under payload type")
	})
	t.Run("unknown payload type", func(t *testing.T) {
		try(t, []rawEntry{{entryName(d, false), raw}}, rm(), "application/vnd.eucora.bundle-manifest.v3+json", "payload type")
	})
}

// An untrusted signer is named, with the keys that are trusted.
func TestUnknownKeyNamesBothKeys(t *testing.T) {
	signer, trusted := testKey(t, 1), testKey(t, 2)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("f"), 0o644)
	res := mustCreate(t, src, filepath.Join(dir, "out"), signer, 0, Header{Source: "hub"})
	_, err := OpenVolume(res.Volumes[0], trustOf(trusted))
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	for _, id := range []string{signer.ID[:16], trusted.ID[:16]} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not name key %s", err, id)
		}
	}
}

// Every tar header carries the bundle's creation time as its mtime, also
// when the caller leaves Created to the writer.
func TestHeaderMtimeIsCreationTime(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("f"), 0o644)
	res := mustCreate(t, src, filepath.Join(dir, "out"), testKey(t, 1), 0, Header{Source: "hub"})
	b, _ := os.ReadFile(res.Volumes[0])
	n := 0
	relayVolume(t, b, func(name string, data []byte) []byte { n++; return data })
	for off := 0; n > 0; n-- {
		_, size, mtime, err := parseHeader(b[off : off+blockSize])
		if err != nil {
			t.Fatal(err)
		}
		if mtime != res.Signed.Created.Unix() {
			t.Fatalf("header at %d: mtime %d, want the creation time %d", off, mtime, res.Signed.Created.Unix())
		}
		off += blockSize + int(size) + int(padLen(size))
	}
}
