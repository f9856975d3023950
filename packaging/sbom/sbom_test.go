package sbom

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var testDoc = Doc{
	Created:      time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.FixedZone("CET", 3600)),
	ToolVersion:  "v1.4.0",
	Organization: "Example Bank plc",
}

// debFacts is what the deb reader finds in a small service package.
func debFacts() *facts.Facts {
	return &facts.Facts{
		Kind:   facts.KindDeb,
		Name:   "acme-agent_2.4.1-3_amd64.deb",
		SHA256: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Size:   48213,
		Identity: facts.Identity{
			Name:    "acme-agent",
			Version: "1:2.4.1-3",
			Vendor:  "ACME Packaging <pkg@acme.example>",
			Arch:    "amd64",
		},
		Signature: &facts.Signature{State: facts.SigUnsigned},
		Privilege: facts.Privilege{RequiresAdmin: true, InstallsService: true},
		Files: &facts.FileSummary{
			Count: 7, Bytes: 120334,
			Conffiles:    []string{"/etc/acme/agent.conf"},
			SystemdUnits: []string{"lib/systemd/system/acme-agent.service"},
		},
		Depends: []string{"libc6 (>= 2.34)", "libssl3 (>= 3.0.0)"},
		Fields: map[string]string{
			"Package":      "acme-agent",
			"Version":      "1:2.4.1-3",
			"Architecture": "amd64",
			"Maintainer":   "ACME Packaging <pkg@acme.example>",
			"Source":       "acme (2.4.1-3)",
			"Homepage":     "https://acme.example/agent",
			"Description":  "ACME monitoring agent\n The agent reports & listens on <port 9100>.",
		},
	}
}

// msiFacts is what the MSI reader finds in an installer that bundles two
// libraries.
func msiFacts() *facts.Facts {
	return &facts.Facts{
		Kind:   facts.KindMSI,
		Name:   "ContosoAgent-4.2.1.msi",
		SHA256: "sha256:2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE",
		Size:   3_145_728,
		Identity: facts.Identity{
			Name:        "Contoso Agent",
			Version:     "4.2.1.0",
			Vendor:      "Contoso Ltd.",
			ID:          "{6F2A4C1E-0B7D-4B3C-9E51-2D8F0A7C3B11}",
			UpgradeCode: "{0E9C3D7A-5A41-4F2B-8C6E-91B2D4F7A0C3}",
			Arch:        "x64",
		},
		Fields: map[string]string{
			"ProductName":     "Contoso Agent",
			"ProductVersion":  "4.2.1.0",
			"Manufacturer":    "Contoso Ltd.",
			"ARPURLINFOABOUT": "https://contoso.example/agent",
			"ALLUSERS":        "1",
		},
		Files: &facts.FileSummary{Count: 42, Bytes: 9_437_184},
		Components: []facts.Component{
			{Name: "Contoso Agent", Version: "4.2.1.0", License: "LicenseRef-Contoso-EULA"},
			{Name: "openssl", Version: "3.0.13", PURL: "pkg:generic/openssl@3.0.13", License: "Apache-2.0", Supplier: "OpenSSL Software Foundation",
				Hashes: map[string]string{"SHA-256": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709", "crc32": "00000000"}},
			{Name: "Newtonsoft.Json", Version: "13.0.3", PURL: "pkg:nuget/Newtonsoft.Json@13.0.3", License: "MIT"},
			{Name: "zlib", Version: "1.3.1", License: "Zlib license, see zlib.h"},
		},
	}
}

func TestGolden(t *testing.T) {
	for _, c := range []struct {
		name  string
		facts *facts.Facts
		write func(*facts.Facts, Doc) ([]byte, error)
	}{
		{"deb.spdx.json", debFacts(), SPDX},
		{"deb.cdx.json", debFacts(), CycloneDX},
		{"msi.spdx.json", msiFacts(), SPDX},
		{"msi.cdx.json", msiFacts(), CycloneDX},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.write(c.facts, testDoc)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what the writer makes now (run with -update to accept):\n%s", path, got)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, w := range []struct {
		name  string
		write func(*facts.Facts, Doc) ([]byte, error)
	}{{"SPDX", SPDX}, {"CycloneDX", CycloneDX}} {
		a, _ := w.write(msiFacts(), testDoc)
		b, _ := w.write(msiFacts(), testDoc)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: same facts and doc, different bytes", w.name)
		}
		later := testDoc
		later.Created = later.Created.Add(time.Hour)
		c, _ := w.write(msiFacts(), later)
		other := msiFacts()
		other.SHA256 = "sha256:" + strings.Repeat("ab", 32)
		d, _ := w.write(other, testDoc)
		ida, idc, idd := documentID(t, a), documentID(t, c), documentID(t, d)
		if ida == idc || ida == idd || idc == idd {
			t.Errorf("%s: document ids do not follow digest and time: %s %s %s", w.name, ida, idc, idd)
		}
	}
}

// documentID is the SPDX namespace or CycloneDX serial number of b.
func documentID(t *testing.T, b []byte) string {
	t.Helper()
	im, err := Import(b, facts.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if im.Format == FormatSPDX {
		doc, err := spdxjson.Read(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return doc.DocumentNamespace
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	return bom.SerialNumber
}

func TestSPDXReadBackWithTheLibrary(t *testing.T) {
	for _, f := range []*facts.Facts{debFacts(), msiFacts()} {
		b, err := SPDX(f, testDoc)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := spdxjson.Read(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: tools-golang cannot read it back: %v", f.Kind, err)
		}
		if err := spdxlib.ValidateDocument(doc); err != nil {
			t.Errorf("%s: %v", f.Kind, err)
		}
		if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXIdentifier != "DOCUMENT" {
			t.Errorf("%s: header %s %s %s", f.Kind, doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier)
		}
		hex := strings.ToLower(strings.TrimPrefix(f.SHA256, "sha256:"))
		if !strings.HasPrefix(doc.DocumentNamespace, "https://eucora.dev/spdx/sha256/"+hex+"/") {
			t.Errorf("%s: namespace %s", f.Kind, doc.DocumentNamespace)
		}
		if doc.CreationInfo.Created != "2026-03-14T08:26:53Z" {
			t.Errorf("%s: created %s", f.Kind, doc.CreationInfo.Created)
		}
		var creators []string
		for _, c := range doc.CreationInfo.Creators {
			creators = append(creators, c.CreatorType+": "+c.Creator)
		}
		if !reflect.DeepEqual(creators, []string{"Tool: eucora-v1.4.0", "Organization: Example Bank plc"}) {
			t.Errorf("%s: creators %q", f.Kind, creators)
		}
		ids, err := spdxlib.GetDescribedPackageIDs(doc)
		if err != nil || len(ids) != 1 || ids[0] != "Artifact" {
			t.Fatalf("%s: described %v %v", f.Kind, ids, err)
		}
		art := doc.Packages[0]
		if art.PackageSPDXIdentifier != "Artifact" || art.PackageName != f.Identity.Name || art.PackageVersion != f.Identity.Version {
			t.Errorf("%s: artifact %s %s %s", f.Kind, art.PackageSPDXIdentifier, art.PackageName, art.PackageVersion)
		}
		if len(art.PackageChecksums) == 0 || art.PackageChecksums[0].Algorithm != "SHA256" || art.PackageChecksums[0].Value != hex {
			t.Errorf("%s: checksums %+v", f.Kind, art.PackageChecksums)
		}
		if art.PackageSupplier == nil || art.PackageSupplier.SupplierType != "Organization" {
			t.Errorf("%s: supplier %+v", f.Kind, art.PackageSupplier)
		}
		if len(art.PackageExternalReferences) != 1 || art.PackageExternalReferences[0].RefType != "purl" ||
			art.PackageExternalReferences[0].Category != "PACKAGE-MANAGER" {
			t.Errorf("%s: external refs %+v", f.Kind, art.PackageExternalReferences)
		}
		contains := 0
		for _, r := range doc.Relationships {
			if r.Relationship == "CONTAINS" {
				contains++
				if r.RefA.ElementRefID != "Artifact" {
					t.Errorf("%s: CONTAINS from %s", f.Kind, r.RefA.ElementRefID)
				}
			}
		}
		if want := max(len(f.Components)-1, 0); contains != want || len(doc.Packages) != want+1 {
			t.Errorf("%s: %d CONTAINS, %d packages, want %d and %d", f.Kind, contains, len(doc.Packages), want, want+1)
		}
	}
	// The MSI's licenses: an SPDX expression is declared, free text is not.
	b, _ := SPDX(msiFacts(), testDoc)
	doc, _ := spdxjson.Read(bytes.NewReader(b))
	var lic []string
	for _, p := range doc.Packages {
		lic = append(lic, p.PackageLicenseDeclared)
	}
	if want := []string{"NOASSERTION", "Apache-2.0", "MIT", "NOASSERTION"}; !reflect.DeepEqual(lic, want) {
		t.Errorf("licenses declared %q, want %q", lic, want)
	}
	for i, want := range map[int]string{0: "LicenseRef-Contoso-EULA", 3: "Zlib license, see zlib.h"} {
		if c := doc.Packages[i].PackageLicenseComments; !strings.Contains(c, want) {
			t.Errorf("package %d: license %q lost: comment %q", i, want, c)
		}
	}
}

func TestCycloneDXReadBackWithTheLibrary(t *testing.T) {
	for _, f := range []*facts.Facts{debFacts(), msiFacts()} {
		b, err := CycloneDX(f, testDoc)
		if err != nil {
			t.Fatal(err)
		}
		var bom cdx.BOM
		if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
			t.Fatalf("%s: cyclonedx-go cannot read it back: %v", f.Kind, err)
		}
		if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != cdx.SpecVersion1_6 || bom.Version != 1 {
			t.Errorf("%s: header %s %v %d", f.Kind, bom.BOMFormat, bom.SpecVersion, bom.Version)
		}
		if !cdxSerialRE.MatchString(bom.SerialNumber) || bom.SerialNumber[9+14] != '5' {
			t.Errorf("%s: serial number %s is not a UUIDv5 URN", f.Kind, bom.SerialNumber)
		}
		md := bom.Metadata
		if md.Timestamp != "2026-03-14T08:26:53Z" || md.Manufacturer == nil || md.Manufacturer.Name != "Example Bank plc" {
			t.Errorf("%s: metadata %+v", f.Kind, md)
		}
		if md.Tools == nil || md.Tools.Components == nil || (*md.Tools.Components)[0].Name != "eucora" || (*md.Tools.Components)[0].Version != "v1.4.0" {
			t.Errorf("%s: tools %+v", f.Kind, md.Tools)
		}
		art := md.Component
		hex := strings.ToLower(strings.TrimPrefix(f.SHA256, "sha256:"))
		if art == nil || art.Name != f.Identity.Name || art.Hashes == nil || (*art.Hashes)[0] != (cdx.Hash{Algorithm: cdx.HashAlgoSHA256, Value: hex}) {
			t.Fatalf("%s: metadata.component %+v", f.Kind, art)
		}
		if art.PackageURL == "" || art.Supplier == nil {
			t.Errorf("%s: artifact purl %q supplier %+v", f.Kind, art.PackageURL, art.Supplier)
		}
		n := 0
		if bom.Components != nil {
			n = len(*bom.Components)
		}
		if want := max(len(f.Components)-1, 0); n != want {
			t.Errorf("%s: %d components, want %d", f.Kind, n, want)
		}
	}
}

// TestCycloneDXAgainstTheSchema validates the BOMs against the official
// CycloneDX 1.6 JSON schema that cyclonedx-go ships, with Python's
// jsonschema.
func TestCycloneDXAgainstTheSchema(t *testing.T) {
	py := pythonWithJSONSchema(t)
	dir := moduleDir(t, "github.com/CycloneDX/cyclonedx-go")
	tmp := t.TempDir()
	var docs []string
	for _, f := range []*facts.Facts{debFacts(), msiFacts(), minimalFacts()} {
		b, err := CycloneDX(f, testDoc)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, string(f.Kind)+".cdx.json")
		os.WriteFile(p, b, 0o644)
		docs = append(docs, p)
	}
	const script = `
import json, sys, warnings
warnings.simplefilter("ignore")
import jsonschema
d = sys.argv[1]
load = lambda n: json.load(open(d + "/schema/" + n))
main = load("bom-1.6.schema.json")
store = {s["$id"]: s for s in (main, load("spdx.schema.json"), load("jsf-0.82.schemax.json"))}
resolver = jsonschema.RefResolver.from_schema(main, store=store)
v = jsonschema.Draft7Validator(main, resolver=resolver, format_checker=jsonschema.FormatChecker())
bad = 0
for p in sys.argv[2:]:
    for e in v.iter_errors(json.load(open(p))):
        bad += 1
        print(p, "/".join(map(str, e.absolute_path)), e.message)
sys.exit(1 if bad else 0)
`
	out, err := exec.Command(py, append([]string{"-c", script, dir}, docs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("CycloneDX 1.6 schema: %v\n%s", err, out)
	}
	// The check is not vacuous: a hash algorithm outside the schema's enum fails it.
	b, _ := os.ReadFile(docs[1])
	bad := filepath.Join(tmp, "bad.cdx.json")
	os.WriteFile(bad, bytes.Replace(b, []byte(`"SHA-1"`), []byte(`"SHA-999"`), 1), 0o644)
	out, err = exec.Command(py, "-c", script, dir, bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "SHA-999") {
		t.Fatalf("schema check passed a BOM with hash algorithm SHA-999: %v\n%s", err, out)
	}
}

func pythonWithJSONSchema(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import jsonschema").Run() == nil {
			return py
		}
	}
	testtool.Missing(t, "python3 with jsonschema not installed (apt-get install python3-jsonschema)")
	return ""
}

// moduleDir is where the go command keeps a module of the build.
func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("go list -m %s: %v (run go mod download)", mod, err)
	}
	return dir
}

// minimalFacts has only what intake always fills and a name.
func minimalFacts() *facts.Facts {
	return &facts.Facts{Kind: facts.KindPkg, Name: "Tool.pkg", SHA256: "sha256:" + strings.Repeat("0", 64)}
}

func TestOwnOutputsImport(t *testing.T) {
	for _, f := range []*facts.Facts{debFacts(), msiFacts(), minimalFacts()} {
		for _, w := range []struct {
			format Format
			write  func(*facts.Facts, Doc) ([]byte, error)
		}{{FormatSPDX, SPDX}, {FormatCycloneDX, CycloneDX}} {
			want := expectedComponents(f)
			b, err := w.write(f, testDoc)
			if err != nil {
				t.Fatal(err)
			}
			im, err := Import(b, facts.Limits{})
			if err != nil {
				t.Fatalf("%s %s: %v", f.Kind, w.format, err)
			}
			if im.Format != w.format || (im.Version != "SPDX-2.3" && im.Version != "1.6") {
				t.Errorf("%s: imported as %s %s", f.Kind, im.Format, im.Version)
			}
			// CycloneDX carries any license (license.name, an
			// expression); SPDX only SPDX license list expressions (a
			// LicenseRef would need the license text).
			for i, c := range f.Components {
				want[i].License = c.License
				if w.format == FormatSPDX && (strings.Contains(c.License, "LicenseRef-") || !isLicenseExpression(c.License)) {
					want[i].License = ""
				}
			}
			if !reflect.DeepEqual(im.Components, want) {
				t.Errorf("%s %s: imported\n%+v\nwant\n%+v", f.Kind, w.format, im.Components, want)
			}
		}
	}
}

// expectedComponents is what an SBOM of f lists, as Import reads it back,
// licenses left to the caller.
func expectedComponents(f *facts.Facts) []facts.Component {
	hex := strings.ToLower(strings.TrimPrefix(f.SHA256, "sha256:"))
	switch f.Kind {
	case facts.KindDeb:
		return []facts.Component{{Name: "acme-agent", Version: "1:2.4.1-3", Ecosystem: "Debian",
			PURL:     "pkg:deb/debian/acme-agent@1:2.4.1-3?arch=amd64&upstream=acme",
			Supplier: "ACME Packaging (pkg@acme.example)", Hashes: map[string]string{"sha256": hex}}}
	case facts.KindMSI:
		return []facts.Component{
			{Name: "Contoso Agent", Version: "4.2.1.0", PURL: "pkg:generic/Contoso%20Agent@4.2.1.0?checksum=sha256:" + hex,
				Supplier: "Contoso Ltd.", Hashes: map[string]string{"sha256": hex}},
			{Name: "openssl", Version: "3.0.13", PURL: "pkg:generic/openssl@3.0.13", Supplier: "OpenSSL Software Foundation",
				Hashes: map[string]string{"sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
			{Name: "Newtonsoft.Json", Version: "13.0.3", PURL: "pkg:nuget/Newtonsoft.Json@13.0.3", Ecosystem: "NuGet"},
			{Name: "zlib", Version: "1.3.1"},
		}
	}
	return []facts.Component{{Name: f.Name, PURL: "pkg:generic/" + escapePURL(f.Name, false) + "?checksum=sha256:" + hex, Hashes: map[string]string{"sha256": hex}}}
}

func TestWriteRefusesWhatCannotBeAnSBOM(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*facts.Facts, *Doc)
		want string
	}{
		{"no digest", func(f *facts.Facts, _ *Doc) { f.SHA256 = "" }, "SHA256"},
		{"bare hex digest", func(f *facts.Facts, _ *Doc) { f.SHA256 = strings.Repeat("a", 64) }, "sha256:HEX"},
		{"short digest", func(f *facts.Facts, _ *Doc) { f.SHA256 = "sha256:abcd" }, "SHA256"},
		{"no created", func(_ *facts.Facts, d *Doc) { d.Created = time.Time{} }, "Doc.Created"},
		{"no name", func(f *facts.Facts, _ *Doc) { f.Identity.Name, f.Name, f.Components = "", "", nil }, "no name"},
		{"unnamed component", func(f *facts.Facts, _ *Doc) { f.Components[2].Name = " " }, "component 2 has no name"},
		{"bad component purl", func(f *facts.Facts, _ *Doc) { f.Components[1].PURL = "npm/left-pad" }, "component 1 (openssl)"},
		{"bad artifact purl", func(f *facts.Facts, _ *Doc) { f.Components[0].PURL = "pkg:/x" }, "artifact"},
	} {
		f, d := msiFacts(), testDoc
		c.edit(f, &d)
		for _, w := range []func(*facts.Facts, Doc) ([]byte, error){SPDX, CycloneDX} {
			if _, err := w(f, d); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want ErrInput naming %q", c.name, err, c.want)
			}
		}
	}
	if _, err := SPDX(nil, testDoc); !errors.Is(err, ErrInput) {
		t.Errorf("nil facts: %v", err)
	}
}

func TestUUIDv5(t *testing.T) {
	// RFC 9562 appendix A.4: the UUIDv5 of "www.example.com" in the DNS namespace.
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got := formatUUID(uuidV5(dns, "www.example.com")); got != "2ed6657d-e927-568b-95e1-2665a8aea6a2" {
		t.Errorf("uuidv5 %s", got)
	}
}
