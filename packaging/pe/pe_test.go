package pe_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/signtest"
	"github.com/eucora/eucora/packaging/pe"
)

func inspectFile(t *testing.T, path string, o facts.Options) (*facts.Facts, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	return pe.Inspect(f, st.Size(), o)
}

func fixtureResources() []signtest.Resource {
	return []signtest.Resource{
		{Type: 16, ID: 1, Data: signtest.VersionInfo([4]uint16{2, 5, 0, 17}, map[string]string{
			"ProductName": "EUCORA Fixture", "ProductVersion": "2.5.0", "FileVersion": "2.5.0.17",
			"CompanyName": "EUCORA Test Vendor", "FileDescription": "fixture program"})},
		{Type: 24, ID: 1, Data: signtest.Manifest("requireAdministrator")},
	}
}

func TestInspectArchitectures(t *testing.T) {
	for _, c := range []struct{ goarch, want string }{{"amd64", "amd64"}, {"386", "x86"}, {"arm64", "arm64"}} {
		t.Run(c.goarch, func(t *testing.T) {
			exe := signtest.BuildPE(t, c.goarch, signtest.ResourceObject(c.goarch, fixtureResources()))
			f, err := inspectFile(t, exe, facts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if f.Kind != facts.KindPE || f.Identity.Arch != c.want {
				t.Errorf("kind %s arch %s, want exe %s", f.Kind, f.Identity.Arch, c.want)
			}
			if f.Identity.Name != "EUCORA Fixture" || f.Identity.Version != "2.5.0" || f.Identity.Vendor != "EUCORA Test Vendor" {
				t.Errorf("identity %+v", f.Identity)
			}
			if f.Fields["FileVersion"] != "2.5.0.17" || f.Fields["FixedFileVersion"] != "2.5.0.17" {
				t.Errorf("fields %v", f.Fields)
			}
			if !f.Privilege.RequiresAdmin || len(f.Privilege.Reasons) != 1 || !strings.Contains(f.Privilege.Reasons[0], "requireAdministrator") {
				t.Errorf("privilege %+v", f.Privilege)
			}
			if f.Signature == nil || f.Signature.State != facts.SigUnsigned {
				t.Errorf("signature %+v", f.Signature)
			}
			if !slices.Contains(f.NotInspected, pe.NotInspectedPayload) {
				t.Errorf("not inspected %q", f.NotInspected)
			}
			// Signed: the image hash of PE32 (386) and PE32+ images alike.
			p := signtest.NewPKI(t)
			f, err = inspectFile(t, signtest.Sign(t, exe, p.Leaf), facts.Options{Trust: p.Trust()})
			if err != nil {
				t.Fatal(err)
			}
			if f.Signature.State != facts.SigTrusted {
				t.Errorf("signed %s: %+v", c.goarch, f.Signature)
			}
		})
	}
}

func TestInspectWithoutResources(t *testing.T) {
	exe := signtest.BuildPE(t, "amd64", nil)
	f, err := inspectFile(t, exe, facts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Identity.Name != "" || f.Privilege.RequiresAdmin {
		t.Errorf("identity %+v privilege %+v", f.Identity, f.Privilege)
	}
	if !slices.ContainsFunc(f.NotInspected, func(s string) bool { return strings.HasPrefix(s, "version resource") }) {
		t.Errorf("not inspected %q does not name the version resource", f.NotInspected)
	}
}

func TestInspectAsInvokerAndSigned(t *testing.T) {
	p := signtest.NewPKI(t)
	res := fixtureResources()
	res[1].Data = signtest.Manifest("asInvoker")
	exe := signtest.BuildPE(t, "amd64", signtest.ResourceObject("amd64", res))
	signed := signtest.Sign(t, exe, p.Leaf)
	f, err := inspectFile(t, signed, facts.Options{Trust: p.Trust()})
	if err != nil {
		t.Fatal(err)
	}
	if f.Privilege.RequiresAdmin || f.Fields["requestedExecutionLevel"] != "asInvoker" {
		t.Errorf("privilege %+v fields %v", f.Privilege, f.Fields)
	}
	if f.Signature.State != facts.SigTrusted || !strings.Contains(f.Signature.Signer, "EUCORA Test Signer") {
		t.Errorf("signature %+v", f.Signature)
	}
	tampered := signtest.TamperAt(t, signed, []byte("E\x00U\x00C\x00O\x00R\x00A\x00 \x00F\x00i\x00x"))
	f, err = inspectFile(t, tampered, facts.Options{Trust: p.Trust()})
	if err != nil {
		t.Fatal(err)
	}
	if f.Signature.State != facts.SigInvalid {
		t.Errorf("tampered: %+v", f.Signature)
	}
}
