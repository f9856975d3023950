package intunewin

import (
	"archive/zip"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedRand is a deterministic key source for golden output.
type fixedRand struct{ r *rand.ChaCha8 }

func newFixedRand(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return &fixedRand{rand.NewChaCha8(s)}
}

func (f *fixedRand) Read(p []byte) (int, error) { return f.r.Read(p) }

var fixedTime = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// setupFolder makes a setup folder with files name -> content.
func setupFolder(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, fixedTime, fixedTime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func build(t testing.TB, dir, setup string, o Options) ([]byte, *ApplicationInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := Build(&buf, dir, setup, o)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return buf.Bytes(), info
}

func TestBuildAndRead(t *testing.T) {
	files := map[string]string{
		"setup.exe":         strings.Repeat("MZ setup program ", 5000),
		"config/setup.ini":  "[install]\nquiet=1\n",
		"config/empty.txt":  "",
		"payload/data.bin":  strings.Repeat("\x00\x01\x02\x03", 70000),
		"Readme (1).txt":    "spaces and parentheses",
		"payload/deep/x.js": "console.log(1)",
	}
	dir := setupFolder(t, files)
	data, built := build(t, dir, "setup.exe", Options{})

	// The outer zip holds exactly the two entries, contents first.
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if want := []string{ContentsPath, MetadataPath}; !slices.Equal(names, want) {
		t.Fatalf("outer zip entries %v, want %v", names, want)
	}

	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	info := f.Info
	if info.Name != "setup.exe" || info.SetupFile != "setup.exe" || info.FileName != ContentFileName || info.ToolVersion != ToolVersion {
		t.Errorf("info %+v", info)
	}
	if info.MsiInfo != nil {
		t.Errorf("an EXE setup has MsiInfo %+v", info.MsiInfo)
	}
	if info.UnencryptedContentSize != built.UnencryptedContentSize || !bytes.Equal(info.EncryptionInfo.Mac, built.EncryptionInfo.Mac) {
		t.Errorf("read info differs from the built one")
	}
	if f.EncryptedSize() != info.EncryptedSize() {
		t.Errorf("encrypted size %d, want %d", f.EncryptedSize(), info.EncryptedSize())
	}
	var plain bytes.Buffer
	n, err := f.Decrypt(&plain)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	if n != info.UnencryptedContentSize {
		t.Errorf("decrypted %d bytes, want %d", n, info.UnencryptedContentSize)
	}
	sum := sha256.Sum256(plain.Bytes())
	if !bytes.Equal(sum[:], info.EncryptionInfo.FileDigest) {
		t.Error("FileDigest is not the SHA-256 of the plaintext zip")
	}
	inner, err := zip.NewReader(bytes.NewReader(plain.Bytes()), int64(plain.Len()))
	if err != nil {
		t.Fatalf("the plaintext is not a zip: %v", err)
	}
	got := map[string]string{}
	for _, e := range inner.File {
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[e.Name] = string(b)
		if !e.Modified.Equal(fixedTime) {
			t.Errorf("%s modified %v, want the file's time %v", e.Name, e.Modified, fixedTime)
		}
	}
	if len(got) != len(files) {
		t.Errorf("inner zip has %d files, want %d", len(got), len(files))
	}
	for name, want := range files {
		if got[name] != want {
			t.Errorf("inner %s: %d bytes, want %d", name, len(got[name]), len(want))
		}
	}
	if err := f.Verify(); err != nil {
		t.Errorf("verify: %v", err)
	}
}

func TestBuildFreshKeysEachTime(t *testing.T) {
	dir := setupFolder(t, map[string]string{"a.exe": "x"})
	_, a := build(t, dir, "a.exe", Options{})
	_, b := build(t, dir, "a.exe", Options{})
	if bytes.Equal(a.EncryptionInfo.EncryptionKey, b.EncryptionInfo.EncryptionKey) || bytes.Equal(a.EncryptionInfo.MacKey, b.EncryptionInfo.MacKey) ||
		bytes.Equal(a.EncryptionInfo.InitializationVector, b.EncryptionInfo.InitializationVector) || bytes.Equal(a.EncryptionInfo.EncryptionKey, a.EncryptionInfo.MacKey) {
		t.Error("two builds share a key or an IV, or the MAC key is the encryption key")
	}
	if !bytes.Equal(a.EncryptionInfo.FileDigest, b.EncryptionInfo.FileDigest) {
		t.Error("the same folder zipped twice has two digests")
	}
}

func TestBuildRefusals(t *testing.T) {
	dir := setupFolder(t, map[string]string{"setup.exe": "x"})
	for _, c := range []struct{ setup, want string }{
		{"missing.exe", `the setup file "missing.exe" is not in the setup folder`},
		{"../setup.exe", "is not a relative path"},
		{`bin\setup.exe`, "use / to separate folders"},
		{"", "empty path"},
	} {
		_, err := Build(io.Discard, dir, c.setup, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("setup %q: %v, want an error with %q", c.setup, err, c.want)
		}
	}
	b, err := NewBuilder("a.exe", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Add("a.exe", fixedTime, strings.NewReader("1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Add("A.EXE", fixedTime, strings.NewReader("2")); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a second file differing in case only: %v", err)
	}
}

func TestDetectionGolden(t *testing.T) {
	dir := setupFolder(t, map[string]string{"Contoso Tool.msi": strings.Repeat("MSI", 100)})
	msi := &MsiInfo{
		MsiProductCode: "{11111111-2222-3333-4444-555555555555}", MsiProductVersion: "2.4.1",
		MsiPackageCode: "{66666666-7777-8888-9999-AAAAAAAAAAAA}", MsiUpgradeCode: "{BBBBBBBB-CCCC-DDDD-EEEE-FFFFFFFFFFFF}",
		MsiExecutionContext: "System", MsiIsMachineInstall: true, MsiContainsSystemRegistryKeys: true, MsiPublisher: "Contoso & Sons <Ltd>",
	}
	_, info := build(t, dir, "Contoso Tool.msi", Options{Name: "Contoso Tool", MsiInfo: msi, Rand: newFixedRand(1), Modified: fixedTime})
	got := info.MarshalDetection()
	golden := filepath.Join("testdata", "detection-msi.xml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Detection.xml differs from %s:\n%s", golden, got)
	}
	back, err := ParseDetection(bytes.NewReader(got))
	if err != nil {
		t.Fatalf("parse our own Detection.xml: %v", err)
	}
	if *back.MsiInfo != *msi || back.Name != "Contoso Tool" || back.SetupFile != "Contoso Tool.msi" {
		t.Errorf("round trip: %+v %+v", back, back.MsiInfo)
	}
	// A byte order mark and an XML declaration, as .NET writers add, are
	// accepted.
	withBOM := append([]byte("\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"), got...)
	if _, err := ParseDetection(bytes.NewReader(withBOM)); err != nil {
		t.Errorf("BOM and declaration: %v", err)
	}

	// The seed of the fuzz targets: a whole package, deterministic.
	var seed bytes.Buffer
	if _, err := Build(&seed, setupFolder(t, map[string]string{"setup.exe": "MZ"}), "setup.exe", Options{Rand: newFixedRand(2), Modified: fixedTime}); err != nil {
		t.Fatal(err)
	}
	seedPath := filepath.Join("testdata", "seed.intunewin")
	if *update {
		if err := os.WriteFile(seedPath, seed.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(seedPath); err != nil || !bytes.Equal(b, seed.Bytes()) {
		t.Errorf("%s is not what the build makes now (run with -update): %v", seedPath, err)
	}
}

func TestParseDetectionRefusals(t *testing.T) {
	good := string((&ApplicationInfo{Name: "n", FileName: ContentFileName, SetupFile: "s.exe", UnencryptedContentSize: 10, EncryptionInfo: EncryptionInfo{
		EncryptionKey: make([]byte, 32), MacKey: make([]byte, 32), InitializationVector: make([]byte, 16), Mac: make([]byte, 32),
		ProfileIdentifier: ProfileVersion1, FileDigest: make([]byte, 32), FileDigestAlgorithm: DigestSHA256,
	}}).MarshalDetection())
	if _, err := ParseDetection(strings.NewReader(good)); err != nil {
		t.Fatalf("good: %v", err)
	}
	zero32 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"short key", "<EncryptionKey>" + zero32, "<EncryptionKey>AAAA", "EncryptionKey has 3 bytes, want 32"},
		{"not base64", "<MacKey>" + zero32, "<MacKey>!!", "MacKey is not base64"},
		{"profile", ProfileVersion1, "ProfileVersion2", `ProfileIdentifier "ProfileVersion2"`},
		{"algorithm", ">SHA256<", ">SHA1<", `FileDigestAlgorithm "SHA1"`},
		{"size", "<UnencryptedContentSize>10", "<UnencryptedContentSize>-1", "is not a size"},
		{"size text", "<UnencryptedContentSize>10", "<UnencryptedContentSize>ten", "is not a size"},
		{"no setup", "<SetupFile>s.exe", "<SetupFile>", "SetupFile is empty"},
		{"no file name", "<FileName>" + ContentFileName, "<FileName>", "FileName is empty"},
		{"root", "ApplicationInfo", "AppInfo", "expected element type <ApplicationInfo>"},
		{"encoding", "<ApplicationInfo", "<?xml version=\"1.0\" encoding=\"utf-16\"?><ApplicationInfo", `encoding "utf-16": want utf-8`},
	} {
		_, err := ParseDetection(strings.NewReader(strings.Replace(good, c.from, c.to, 1)))
		if !errors.Is(err, ErrDetection) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrDetection with %q", c.name, err, c.want)
		}
	}
	huge := strings.Replace(good, "<Name>n", "<Name>"+strings.Repeat("n", MaxDetectionSize), 1)
	if _, err := ParseDetection(strings.NewReader(huge)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge Detection.xml: %v", err)
	}
}

// rezip rebuilds an .intunewin with its entries changed by edit.
func rezip(t testing.TB, data []byte, edit func(name string, b []byte) []byte, extra ...string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if b = edit(f.Name, b); b == nil {
			continue
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method})
		w.Write(b)
	}
	for _, name := range extra {
		w, _ := zw.Create(name)
		w.Write([]byte("x"))
	}
	zw.Close()
	return out.Bytes()
}

func TestOpenRefusals(t *testing.T) {
	dir := setupFolder(t, map[string]string{"setup.exe": strings.Repeat("payload ", 4000)})
	data, _ := build(t, dir, "setup.exe", Options{})
	keep := func(_ string, b []byte) []byte { return b }
	onContents := func(f func([]byte) []byte) func(string, []byte) []byte {
		return func(name string, b []byte) []byte {
			if name == ContentsPath {
				return f(slices.Clone(b))
			}
			return b
		}
	}
	onMeta := func(from, to string) func(string, []byte) []byte {
		return func(name string, b []byte) []byte {
			if name == MetadataPath {
				return bytes.Replace(b, []byte(from), []byte(to), 1)
			}
			return b
		}
	}
	info, _ := Open(bytes.NewReader(data), int64(len(data)))
	otherMac := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	otherKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	b64 := base64.StdEncoding.EncodeToString
	e := info.Info.EncryptionInfo

	// A package whose MAC is right for a different plaintext than the
	// digest records: encrypted again under the same keys.
	forged := func(b []byte) []byte {
		var buf bytes.Buffer
		k := keys{enc: e.EncryptionKey, mac: e.MacKey, iv: e.InitializationVector}
		plain := make([]byte, info.Info.UnencryptedContentSize) // same size, other bytes
		s, _ := seal(&buf, bytes.NewReader(plain), k)
		return append(s.mac, buf.Bytes()...)
	}
	forgedMac := forged(nil)[:MACSize]

	cases := []struct {
		name   string
		data   []byte
		limits Limits
		open   error // from Open
		verify error // from Verify
		want   string
	}{
		{name: "not a zip", data: []byte("MZ this is an exe"), open: ErrNotIntunewin, want: "not a valid zip file"},
		{name: "empty", data: nil, open: ErrNotIntunewin},
		{name: "no metadata", data: rezip(t, data, func(n string, b []byte) []byte {
			if n == MetadataPath {
				return nil
			}
			return b
		}), open: ErrNotIntunewin, want: "no IntuneWinPackage/Metadata/Detection.xml entry"},
		{name: "no contents", data: rezip(t, data, func(n string, b []byte) []byte {
			if n == ContentsPath {
				return nil
			}
			return b
		}), open: ErrNotIntunewin, want: "no IntuneWinPackage/Contents/IntunePackage.intunewin entry"},
		{name: "two metadata", data: rezip(t, data, keep, MetadataPath), open: ErrNotIntunewin, want: "two entries named"},
		{name: "size mismatch", data: rezip(t, data, onMeta(fmt.Sprintf("<UnencryptedContentSize>%d<", info.Info.UnencryptedContentSize), "<UnencryptedContentSize>5<")),
			open: ErrCorrupt, want: "UnencryptedContentSize 5 means 64"},
		{name: "ciphertext byte flipped", data: rezip(t, data, onContents(func(b []byte) []byte { b[len(b)-20] ^= 1; return b })), verify: ErrMAC, want: "not the recorded Mac"},
		{name: "header MAC altered", data: rezip(t, data, onContents(func(b []byte) []byte { b[0] ^= 1; return b })), verify: ErrMAC, want: "the MAC the file starts with"},
		{name: "IV altered", data: rezip(t, data, onContents(func(b []byte) []byte { b[40] ^= 1; return b })), verify: ErrMAC},
		{name: "recorded Mac wrong", data: rezip(t, data, onMeta("<Mac>"+b64(e.Mac), "<Mac>"+otherMac)), verify: ErrMAC},
		{name: "MAC key wrong", data: rezip(t, data, onMeta("<MacKey>"+b64(e.MacKey), "<MacKey>"+otherKey)), verify: ErrMAC},
		{name: "encryption key wrong", data: rezip(t, data, onMeta("<EncryptionKey>"+b64(e.EncryptionKey), "<EncryptionKey>"+otherKey)), verify: ErrDigest},
		{name: "digest wrong", data: rezip(t, rezip(t, data, onContents(forged)), onMeta("<Mac>"+b64(e.Mac), "<Mac>"+b64(forgedMac))), verify: ErrDigest, want: "not the recorded FileDigest"},
		{name: "content over the limit", data: data, limits: Limits{MaxContentSize: 100}, open: ErrTooLarge, want: "over the 100-byte limit"},
		{name: "too many entries", data: rezip(t, data, keep, "a", "b", "c"), limits: Limits{MaxEntries: 4}, open: ErrTooLarge, want: "5 entries, more than 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := c.limits.Open(bytes.NewReader(c.data), int64(len(c.data)))
			if c.open != nil {
				if !errors.Is(err, c.open) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("open: %v, want %v with %q", err, c.open, c.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			err = f.Verify()
			if !errors.Is(err, c.verify) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify: %v, want %v with %q", err, c.verify, c.want)
			}
			// Decrypt writes nothing when the MAC is wrong.
			var out bytes.Buffer
			f.Decrypt(&out)
			if errors.Is(err, ErrMAC) && out.Len() != 0 {
				t.Errorf("decrypt wrote %d bytes of a file whose MAC is wrong", out.Len())
			}
		})
	}
}

// TestZipBombs: entries that would expand past the limits are refused
// from their headers, before anything is decompressed.
func TestZipBombs(t *testing.T) {
	dir := setupFolder(t, map[string]string{"setup.exe": "x"})
	data, _ := build(t, dir, "setup.exe", Options{})
	// Detection.xml of 64 MiB of spaces compresses to about 64 KiB.
	bomb := rezip(t, data, func(n string, b []byte) []byte {
		if n == MetadataPath {
			return append(b, bytes.Repeat([]byte(" "), 64<<20)...)
		}
		return b
	})
	if _, err := Open(bytes.NewReader(bomb), int64(len(bomb))); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "over the 65536-byte limit") {
		t.Errorf("Detection.xml bomb: %v", err)
	}
	// A contents entry deflated 1000:1.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(ContentsPath)
	w.Write(make([]byte, 8<<20))
	w, _ = zw.Create(MetadataPath)
	w.Write([]byte("<ApplicationInfo/>"))
	zw.Close()
	if _, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len())); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "zip bomb") {
		t.Errorf("contents bomb: %v", err)
	}
	// A central directory of 40,000 entries is refused before archive/zip
	// reads it all.
	buf.Reset()
	zw = zip.NewWriter(&buf)
	for i := range 40000 {
		zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("f%05d", i), Method: zip.Store})
	}
	zw.Close()
	if _, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len())); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "central directory") {
		t.Errorf("huge central directory: %v", err)
	}
}

func TestEncryptSizes(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, chunk - 1, chunk, chunk + 1, chunk + 16, 3*chunk + 5} {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = byte(i * 7)
		}
		var enc bytes.Buffer
		e, size, err := Encrypt(&enc, opener(plain), nil)
		if err != nil {
			t.Fatalf("%d: %v", n, err)
		}
		if size != int64(n) || int64(enc.Len()) != EncryptedSize(int64(n)) {
			t.Errorf("%d: size %d, encrypted %d, want %d", n, size, enc.Len(), EncryptedSize(int64(n)))
		}
		// An independent decryption with the standard library.
		ct := enc.Bytes()[HeaderSize:]
		block, _ := aes.NewCipher(e.EncryptionKey)
		out := make([]byte, len(ct))
		cipher.NewCBCDecrypter(block, e.InitializationVector).CryptBlocks(out, ct)
		pad := int(out[len(out)-1])
		if !bytes.Equal(out[:len(out)-pad], plain) {
			t.Errorf("%d: the ciphertext does not decrypt to the plaintext", n)
		}
		m := hmac.New(sha256.New, e.MacKey)
		m.Write(enc.Bytes()[MACSize:])
		if !bytes.Equal(m.Sum(nil), e.Mac) || !bytes.Equal(enc.Bytes()[:MACSize], e.Mac) {
			t.Errorf("%d: the MAC is not HMAC-SHA256(IV || ciphertext) or not first", n)
		}
		var back bytes.Buffer
		if _, err := Decrypt(&back, opener(enc.Bytes()), e, int64(n)); err != nil || !bytes.Equal(back.Bytes(), plain) {
			t.Errorf("%d: decrypt: %v", n, err)
		}
	}
}

func opener(b []byte) Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func TestEncryptSourceChanged(t *testing.T) {
	calls := 0
	open := func() (io.ReadCloser, error) {
		calls++
		return io.NopCloser(strings.NewReader(strings.Repeat("x", calls))), nil
	}
	if _, _, err := Encrypt(io.Discard, open, nil); err == nil || !strings.Contains(err.Error(), "changed between its two reads") {
		t.Errorf("a source that changes: %v", err)
	}
}

// TestOpenSSLAgrees checks the encryption with an independent
// implementation: openssl decrypts the ciphertext and computes the same
// HMAC, and unzip reads both zips.
func TestOpenSSLAgrees(t *testing.T) {
	testtool.Need(t, "apt-get install openssl unzip", "openssl", "unzip")
	dir := setupFolder(t, map[string]string{"setup.exe": strings.Repeat("MZ", 50000), "lib/a.dll": "dll"})
	data, info := build(t, dir, "setup.exe", Options{})
	tmp := t.TempDir()
	pkg := filepath.Join(tmp, "setup.intunewin")
	os.WriteFile(pkg, data, 0o644)
	if out, err := exec.Command("unzip", "-t", pkg).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}
	f, err := OpenPath(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rc, _ := f.OpenEncrypted()
	enc, _ := io.ReadAll(rc)
	rc.Close()
	ctPath, ivmac := filepath.Join(tmp, "ct"), filepath.Join(tmp, "ivct")
	os.WriteFile(ctPath, enc[HeaderSize:], 0o644)
	os.WriteFile(ivmac, enc[MACSize:], 0o644)
	e := info.EncryptionInfo
	plain, err := exec.Command("openssl", "enc", "-d", "-aes-256-cbc", "-K", hex.EncodeToString(e.EncryptionKey), "-iv", hex.EncodeToString(e.InitializationVector), "-in", ctPath).Output()
	if err != nil {
		t.Fatalf("openssl enc -d: %v", err)
	}
	sum := sha256.Sum256(plain)
	if !bytes.Equal(sum[:], e.FileDigest) || int64(len(plain)) != info.UnencryptedContentSize {
		t.Error("openssl's plaintext does not match FileDigest and UnencryptedContentSize")
	}
	innerPath := filepath.Join(tmp, "inner.zip")
	os.WriteFile(innerPath, plain, 0o644)
	if out, err := exec.Command("unzip", "-t", innerPath).CombinedOutput(); err != nil || !strings.Contains(string(out), "lib/a.dll") {
		t.Errorf("unzip -t of the plaintext: %v\n%s", err, out)
	}
	out, err := exec.Command("openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:"+hex.EncodeToString(e.MacKey), "-binary", ivmac).Output()
	if err != nil {
		t.Fatalf("openssl dgst: %v", err)
	}
	if !bytes.Equal(out, e.Mac) {
		t.Errorf("openssl's HMAC %x, Detection.xml's %x", out, e.Mac)
	}
}

func TestOutputName(t *testing.T) {
	for in, want := range map[string]string{"setup.exe": "setup.intunewin", "bin/Contoso Tool.msi": "Contoso Tool.intunewin", `a\b.cmd`: "b.intunewin", "noext": "noext.intunewin"} {
		if got := OutputName(in); got != want {
			t.Errorf("OutputName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzOpen(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "seed.intunewin"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	sentinels := []error{ErrNotIntunewin, ErrDetection, ErrMAC, ErrDigest, ErrTooLarge, ErrCorrupt}
	classified := func(err error) bool {
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Limits{MaxContentSize: 1 << 20}.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !classified(err) {
				t.Fatalf("open error without a sentinel: %v", err)
			}
			return
		}
		if p.EncryptedSize() != p.Info.EncryptedSize() {
			t.Fatalf("opened a package whose sizes disagree")
		}
		if err := p.Verify(); err != nil && !classified(err) {
			t.Fatalf("verify error without a sentinel: %v", err)
		}
	})
}

func FuzzParseDetection(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "detection-msi.xml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte("<ApplicationInfo><EncryptionInfo/></ApplicationInfo>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseDetection(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrDetection) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		if err := a.EncryptionInfo.Validate(); err != nil {
			t.Fatalf("parsed info does not validate: %v", err)
		}
		// What parses re-renders and parses to the same values.
		b, err := ParseDetection(bytes.NewReader(a.MarshalDetection()))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if b.Name != a.Name || b.SetupFile != a.SetupFile || b.UnencryptedContentSize != a.UnencryptedContentSize || !bytes.Equal(b.EncryptionInfo.Mac, a.EncryptionInfo.Mac) {
			t.Fatalf("round trip changed the values")
		}
	})
}
