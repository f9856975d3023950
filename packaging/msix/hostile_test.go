package msix_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/signtest"
	"github.com/eucora/eucora/packaging/msix"
)

func isDefect(err error) bool {
	var d *facts.DefectError
	return errors.As(err, &d) && errors.Is(err, facts.ErrDefect)
}

// zipOf builds a zip of the given entries (name, content, stored or
// deflated) in order.
func zipOf(t *testing.T, entries ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e[0], Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestInspectHostile(t *testing.T) {
	p := signtest.NewPKI(t)
	signed, err := os.ReadFile(signtest.Sign(t, fixture(t, fullCaps, serviceExt), p.Leaf))
	if err != nil {
		t.Fatal(err)
	}
	manifest := signtest.AppxManifest("EUCORA.Fixture", "1.0.0.0", "CN=x", "x64", "", "")
	eocd := bytes.LastIndex(signed, []byte("PK\x05\x06"))
	cdStart := bytes.Index(signed, []byte("PK\x01\x02"))
	cases := []struct {
		name, want string
		b          []byte
		lim        facts.Limits
	}{
		{name: "empty", want: "zip container", b: nil},
		{name: "a PE named .msix", want: "zip container", b: append([]byte("MZ"), make([]byte, 2000)...)},
		{name: "an MSI named .msix", want: "zip container", b: append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), make([]byte, 2000)...)},
		{name: "truncated in the central directory", want: "zip container", b: signed[:cdStart+10]},
		{name: "truncated in the end record", want: "zip container", b: signed[:eocd+10]},
		{name: "truncated in the data", want: "zip container", b: signed[:len(signed)/2]},
		{name: "no manifest", want: "no AppxManifest.xml", b: zipOf(t, [2]string{"app.exe", "MZ"})},
		{name: "a bundle", want: "bundle", b: zipOf(t, [2]string{"AppxMetadata/AppxBundleManifest.xml", "<Bundle/>"}, [2]string{"AppxManifest.xml", manifest})},
		{name: "manifest not XML", want: "AppxManifest.xml", b: zipOf(t, [2]string{"AppxManifest.xml", "<Package><Identity"})},
		{name: "manifest in UTF-16", want: "encoding", b: zipOf(t, [2]string{"AppxManifest.xml", `<?xml version="1.0" encoding="utf-16"?><Package/>`})},
		{name: "manifest without identity", want: "no Identity Name", b: zipOf(t, [2]string{"AppxManifest.xml", "<Package><Properties/></Package>"})},
		{name: "nested Package", want: "nested Package", b: zipOf(t, [2]string{"AppxManifest.xml", "<Package><Package/></Package>"})},
		{name: "entry escaping the package", want: "escapes", b: zipOf(t, [2]string{"../evil.exe", "MZ"}, [2]string{"AppxManifest.xml", manifest})},
		{name: "absolute entry name", want: "escapes", b: zipOf(t, [2]string{"/evil.exe", "MZ"}, [2]string{"AppxManifest.xml", manifest})},
		{name: "zip bomb by ratio", want: "zip bomb", b: zipOf(t, [2]string{"AppxManifest.xml", manifest}, [2]string{"zeros.bin", strings.Repeat("\x00", 8<<20)})},
		{name: "too many entries", want: "entries, limit", b: zipOf(t, [2]string{"a", ""}, [2]string{"b", ""}, [2]string{"AppxManifest.xml", manifest}), lim: facts.Limits{MaxEntries: 2}},
		{name: "manifest over the metadata limit", want: "over 100 bytes", b: zipOf(t, [2]string{"AppxManifest.xml", manifest}), lim: facts.Limits{MaxMetadata: 100}},
		{name: "declared sizes over the total", want: "zip bomb", b: zipOf(t, [2]string{"AppxManifest.xml", manifest}, [2]string{"x", strings.Repeat("x", 5000)}), lim: facts.Limits{MaxUncompressed: 1000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := msix.Inspect(bytes.NewReader(c.b), int64(len(c.b)), facts.Options{Limits: c.lim, Trust: p.Trust()})
			if !isDefect(err) {
				t.Fatalf("got %+v, %v; want a DefectError", f, err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not a valid msix file") {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
	t.Logf("%d malformed MSIX files refused as defects", len(cases))
}

func FuzzInspect(f *testing.F) {
	p := signtest.NewPKI(f)
	pkg := signtest.BuildMSIX(f, signtest.AppxManifest("EUCORA.Fuzz", "1.0.0.0", "CN=x", "x64", fullCaps, serviceExt), map[string][]byte{"app.exe": []byte("MZ")})
	for _, path := range []string{pkg, signtest.Sign(f, pkg, p.Leaf)} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	trust := p.Trust()
	f.Fuzz(func(t *testing.T, b []byte) {
		facts, err := msix.Inspect(bytes.NewReader(b), int64(len(b)), facts.Options{Trust: trust})
		if err != nil && !isDefect(err) {
			t.Fatalf("error is not a DefectError: %v", err)
		}
		if err == nil && facts.Signature == nil {
			t.Fatal("no signature verdict")
		}
	})
}
