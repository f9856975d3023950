package msix_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/signtest"
	"github.com/eucora/eucora/packaging/msix"
)

const (
	fullCaps = `<Capability Name="internetClient"/><Capability Name="internetClientServer"/>` +
		`<rescap:Capability Name="runFullTrust"/><rescap:Capability Name="allowElevation"/>` +
		`<DeviceCapability Name="webcam"/>`
	serviceExt = `<desktop6:Extension Category="windows.service" Executable="svc.exe" EntryPoint="Windows.FullTrustApplication">` +
		`<desktop6:Service Name="EucoraFixtureSvc" StartupType="auto" StartAccount="localSystem"/></desktop6:Extension>` +
		`<desktop2:Extension Category="windows.firewallRules"><desktop2:FirewallRules Executable="svc.exe">` +
		`<desktop2:Rule Direction="in" IPProtocol="TCP" LocalPortMin="8080" LocalPortMax="8081" Profile="domain"/>` +
		`</desktop2:FirewallRules></desktop2:Extension>`
)

func fixture(t *testing.T, caps, exts string) string {
	t.Helper()
	big := bytes.Repeat([]byte("EUCORA payload block "), 10000) // > 64 KiB: several blocks
	return signtest.BuildMSIX(t, signtest.AppxManifest("EUCORA.Fixture", "1.2.3.0", "CN=EUCORA Test Vendor, O=EUCORA Test Vendor", "x64", caps, exts),
		map[string][]byte{"app.exe": []byte("MZ not really a program"), "svc.exe": []byte("MZ service"), "Assets/logo.png": []byte("PNG"), "data/big.txt": big})
}

func inspect(t *testing.T, path string, o facts.Options) (*facts.Facts, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return msix.Inspect(bytes.NewReader(b), int64(len(b)), o)
}

func TestInspectManifest(t *testing.T) {
	f, err := inspect(t, fixture(t, fullCaps, serviceExt), facts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != facts.KindMSIX || f.Identity.Name != "EUCORA.Fixture" || f.Identity.Version != "1.2.3.0" ||
		f.Identity.Vendor != "CN=EUCORA Test Vendor, O=EUCORA Test Vendor" || f.Identity.Arch != "amd64" {
		t.Errorf("identity %+v", f.Identity)
	}
	if f.Fields["Properties.DisplayName"] != "EUCORA Fixture App" {
		t.Errorf("fields %v", f.Fields)
	}
	want := []string{"internetClient", "internetClientServer", "rescap:runFullTrust", "rescap:allowElevation", "device:webcam"}
	if !slices.Equal(f.Capabilities, want) {
		t.Errorf("capabilities %q, want %q", f.Capabilities, want)
	}
	if !f.Privilege.RequiresAdmin || !f.Privilege.InstallsService {
		t.Errorf("privilege %+v", f.Privilege)
	}
	if len(f.Services) != 1 || f.Services[0].Name != "EucoraFixtureSvc" || f.Services[0].Start != "auto" || f.Services[0].Account != "localSystem" {
		t.Errorf("services %+v", f.Services)
	}
	if len(f.Listeners) != 2 || !slices.ContainsFunc(f.Listeners, func(l string) bool { return strings.Contains(l, "TCP port 8080-8081") }) ||
		!slices.ContainsFunc(f.Listeners, func(l string) bool { return strings.Contains(l, "internetClientServer") }) {
		t.Errorf("listeners %q", f.Listeners)
	}
	if f.Signature == nil || f.Signature.State != facts.SigUnsigned {
		t.Errorf("signature %+v", f.Signature)
	}
	if f.Files == nil || f.Files.Count != 4 {
		t.Errorf("files %+v", f.Files)
	}
}

func TestInspectPlainApp(t *testing.T) {
	f, err := inspect(t, fixture(t, `<Capability Name="internetClient"/>`, ""), facts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Privilege.RequiresAdmin || f.Privilege.InstallsService || len(f.Listeners) != 0 || len(f.Services) != 0 {
		t.Errorf("privilege %+v listeners %q services %+v", f.Privilege, f.Listeners, f.Services)
	}
}

func TestSignatureOsslsigncode(t *testing.T) {
	p := signtest.NewPKI(t)
	pkg := fixture(t, fullCaps, serviceExt)
	signed := signtest.Sign(t, pkg, p.Leaf)
	f, err := inspect(t, signed, facts.Options{Trust: p.Trust()})
	if err != nil {
		t.Fatal(err)
	}
	if f.Signature.State != facts.SigTrusted || f.Signature.Format != "msix-p7x" {
		t.Fatalf("signature %+v", f.Signature)
	}
	if ok, out := signtest.Verify(t, signed, p.Root.Cert); !ok {
		t.Errorf("osslsigncode verify failed:\n%s", out)
	}
}

// rezip rewrites the zip at path with the entries of replace swapped in
// (or added), everything else copied as is.
func rezip(t *testing.T, path string, replace map[string][]byte) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	done := map[string]bool{}
	for _, f := range zr.File {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if nb, ok := replace[f.Name]; ok {
			w.Write(nb)
			done[f.Name] = true
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, rc)
		rc.Close()
	}
	for n, nb := range replace {
		if !done[n] {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate})
			w.Write(nb)
		}
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), "rezipped.msix")
	if err := os.WriteFile(p, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSignatureStates(t *testing.T) {
	p := signtest.NewPKI(t)
	pkg := fixture(t, fullCaps, serviceExt)
	signed := signtest.Sign(t, pkg, p.Leaf)
	trust := facts.Options{Trust: p.Trust()}
	cases := []struct {
		name   string
		file   func(t *testing.T) string
		o      facts.Options
		kind   facts.Kind
		want   facts.SignatureState
		detail string
		ossl   bool
	}{
		{name: "trusted", file: func(*testing.T) string { return signed }, o: trust, want: facts.SigTrusted, ossl: true},
		{name: "trusted appx", file: func(*testing.T) string { return signed }, o: trust, kind: facts.KindAppx, want: facts.SigTrusted, ossl: true},
		{name: "sha512", file: func(t *testing.T) string { return signtest.Sign(t, pkg, p.Leaf, "-h", "sha512") }, o: trust, want: facts.SigTrusted, ossl: true},
		{name: "nil trust", file: func(*testing.T) string { return signed }, want: facts.SigUntrusted, ossl: true},
		{name: "untrusted root", file: func(t *testing.T) string { return signtest.Sign(t, pkg, p.UntrustedLeaf) }, o: trust, want: facts.SigUntrusted},
		{name: "expired", file: func(t *testing.T) string { return signtest.Sign(t, pkg, p.ExpiredLeaf) }, o: trust, want: facts.SigExpired},
		{name: "expired, timestamped while valid", file: func(t *testing.T) string {
			return signtest.Sign(t, pkg, p.ExpiredLeaf, p.TSAFlags(t, p.ExpiredLeaf.Cert.NotBefore.Add(48*time.Hour))...)
		}, o: trust, want: facts.SigTrusted, detail: "RFC 3161", ossl: true},
		{name: "payload replaced after signing", file: func(t *testing.T) string {
			return rezip(t, signed, map[string][]byte{"app.exe": []byte("MZ something else")})
		}, o: trust, want: facts.SigInvalid, detail: "file modified after signing: zip file records hash"},
		{name: "file added after signing", file: func(t *testing.T) string {
			return rezip(t, signed, map[string][]byte{"extra.dll": []byte("MZ added")})
		}, o: trust, want: facts.SigInvalid, detail: "file modified after signing"},
		{name: "block map rewritten after signing", file: func(t *testing.T) string {
			return rezip(t, signed, map[string][]byte{"AppxBlockMap.xml": []byte(`<BlockMap HashMethod="http://www.w3.org/2001/04/xmlenc#sha256"/>`)})
		}, o: trust, want: facts.SigInvalid, detail: "file modified after signing: AppxBlockMap.xml hash"},
		{name: "signature not PKCX", file: func(t *testing.T) string {
			return rezip(t, signed, map[string][]byte{"AppxSignature.p7x": []byte("not a signature")})
		}, o: trust, want: facts.SigInvalid, detail: "PKCX"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.file(t)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			kind := c.kind
			if kind == "" {
				kind = facts.KindMSIX
			}
			f, err := msix.InspectAs(kind, bytes.NewReader(b), int64(len(b)), c.o)
			if err != nil {
				t.Fatal(err)
			}
			if f.Kind != kind {
				t.Errorf("kind %s", f.Kind)
			}
			if f.Signature.State != c.want || !strings.Contains(f.Signature.Detail, c.detail) {
				t.Fatalf("signature %s %q, want %s %q", f.Signature.State, f.Signature.Detail, c.want, c.detail)
			}
			if c.want == facts.SigInvalid && strings.Contains(c.detail, "PKCX") {
				return
			}
			if ok, out := signtest.Verify(t, path, p.Root.Cert); ok != c.ossl {
				t.Errorf("osslsigncode verify ok=%v, want %v:\n%s", ok, c.ossl, out)
			}
		})
	}
}
