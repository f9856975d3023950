package sccm

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
)

const testScope = "ScopeId_3F2504E0-4F89-41D3-9A0C-0305E82C3301"

func testRelease(d connectors.Detection) connectors.Release {
	return connectors.Release{
		Key:           connectors.ReleaseKey{App: "notepad", Version: "8.6.2", Ring: deploy.Ring1Canary},
		CorrelationID: "corr-1", DisplayName: "Notepad++", Publisher: "Notepad++ Team",
		Content: connectors.Content{Name: "npp.8.6.2.msi", Size: 4711},
		Install: connectors.Install{InstallCommand: `msiexec /i npp.8.6.2.msi /qn`, UninstallCommand: `msiexec /x npp.8.6.2.msi /qn`,
			Detection: d, RunAsSystem: true, RebootBehavior: "suppress", MaxRunTime: 45 * time.Minute,
			ReturnCodes: []connectors.ReturnCode{{Code: 0, Type: "success"}, {Code: 3010, Type: "softReboot"}, {Code: 1603, Type: "failed"}}},
	}
}

func TestBuildSDMPackageXMLReadsBack(t *testing.T) {
	cases := []struct {
		name string
		det  connectors.Detection
		want string
	}{
		{"msi", connectors.Detection{ProductCode: "{1b2c3d4e-0000-4000-8000-00000000000a}"}, "msi {1B2C3D4E-0000-4000-8000-00000000000A}"},
		{"msi version", connectors.Detection{ProductCode: "{1B2C3D4E-0000-4000-8000-00000000000A}", ProductVersion: "8.6.2"},
			"msi {1B2C3D4E-0000-4000-8000-00000000000A} GreaterEquals 8.6.2"},
		{"registry", connectors.Detection{RegistryKey: `HKLM\SOFTWARE\Notepad++`, RegistryValue: "Version"}, `registry HKEY_LOCAL_MACHINE\SOFTWARE\Notepad++ Version`},
		{"file", connectors.Detection{FilePath: `%ProgramFiles%\Notepad++`, FileName: "notepad++.exe"}, `file %ProgramFiles%\Notepad++ notepad++.exe`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := testRelease(c.det)
			prior := connectors.ReleaseKey{App: "notepad", Version: "8.5.0"}
			xml, spec, err := buildSDMPackageXML(buildInput{Scope: testScope, Key: r.Key, Release: r, Marker: connectors.CorrelationMarker("corr-1", r.Key.AppKey()),
				ContentLocation: `\\edge01\dp\sccm\notepad\8.6.2\`,
				Supersedes:      []Superseded{{Application: appLogicalName(prior), Version: "2", DeploymentType: dtLogicalName(prior)}}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(xml, `<?xml version="1.0" encoding="utf-16"?>`) {
				t.Errorf("no UTF-16 declaration: %.60s", xml)
			}
			p, err := ParseSDMPackageXML(xml)
			if err != nil {
				t.Fatal(err)
			}
			if p.AuthoringScopeID != testScope || p.LogicalName != appLogicalName(r.Key) || p.Title != appDisplayName(r.Key) {
				t.Errorf("identity %+v", p)
			}
			if id, _ := connectors.ParseCorrelationMarker(p.Description); id != "corr-1" {
				t.Errorf("marker %q", p.Description)
			}
			s := p.Spec
			if s.Detection != c.want {
				t.Errorf("detection %q, want %q", s.Detection, c.want)
			}
			if s.InstallCommand != r.Install.InstallCommand || s.UninstallCommand != r.Install.UninstallCommand || s.ExecutionContext != "System" ||
				s.PostInstall != "NoAction" || s.MaxExecuteTime != 45 || s.ExitCodes != "0:Success,3010:SoftReboot,1603:Failure" ||
				s.ContentLocation != `\\edge01\dp\sccm\notepad\8.6.2\` || s.Files != "npp.8.6.2.msi:4711" || s.SoftwareVersion != "8.6.2" ||
				s.Publisher != "Notepad++ Team" || s.DeploymentType != dtLogicalName(r.Key) {
				t.Errorf("spec %+v", s)
			}
			if !slices.Equal(s.Supersedes, []string{dtLogicalName(prior)}) || len(p.Supersedes) != 1 || p.Supersedes[0].Version != "2" ||
				p.Supersedes[0].Application != appLogicalName(prior) {
				t.Errorf("supersedes %v %+v", s.Supersedes, p.Supersedes)
			}
			if !spec.Equal(s) {
				t.Errorf("the builder's spec %+v differs from the one read back %+v", spec, s)
			}
		})
	}
}

func TestBuildSDMPackageXMLIsDeterministic(t *testing.T) {
	r := testRelease(connectors.Detection{ProductCode: "{1B2C3D4E-0000-4000-8000-00000000000A}"})
	in := buildInput{Scope: testScope, Key: r.Key, Release: r, Marker: "m", ContentLocation: `\\a\b\`}
	a, _, _ := buildSDMPackageXML(in)
	r2 := r
	r2.Key.Ring = deploy.Ring3Department // another ring: the same application
	in.Release, in.Key = r2, r2.Key
	b, _, _ := buildSDMPackageXML(in)
	if a != b {
		t.Error("the application's XML depends on the ring")
	}
}

func TestBuildSDMPackageXMLRefusesBadInstall(t *testing.T) {
	ok := connectors.Detection{ProductCode: "{1B2C3D4E-0000-4000-8000-00000000000A}"}
	cases := []struct {
		name string
		mod  func(*connectors.Release)
		want string
	}{
		{"no install command", func(r *connectors.Release) { r.Install.InstallCommand = " " }, "no install command"},
		{"no detection", func(r *connectors.Release) { r.Install.Detection = connectors.Detection{} }, "needs an MSI product code"},
		{"bundle id", func(r *connectors.Release) { r.Install.Detection = connectors.Detection{BundleID: "org.x"} }, "other planes"},
		{"bad product code", func(r *connectors.Release) { r.Install.Detection = connectors.Detection{ProductCode: "1B2C"} }, "GUID in braces"},
		{"bad hive", func(r *connectors.Release) { r.Install.Detection = connectors.Detection{RegistryKey: `HKXX\Software`} }, "HIVE"},
		{"file without name", func(r *connectors.Release) { r.Install.Detection = connectors.Detection{FilePath: `C:\x`} }, "both a path and a file name"},
		{"reboot", func(r *connectors.Release) { r.Install.RebootBehavior = "sometimes" }, "reboot behavior"},
		{"return code", func(r *connectors.Release) { r.Install.ReturnCodes = []connectors.ReturnCode{{Code: 1, Type: "meh"}} }, "return code 1"},
	}
	for _, c := range cases {
		r := testRelease(ok)
		c.mod(&r)
		_, _, err := buildSDMPackageXML(buildInput{Scope: testScope, Key: r.Key, Release: r, ContentLocation: `\\a\b\`})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestParseSDMPackageXMLOfTheConsole(t *testing.T) {
	b, err := os.ReadFile("testdata/sdmpackage.xml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseSDMPackageXML(string(b))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Spec
	if p.Title != "7-Zip 23.01 (x64)" || p.Version != "3" || s.InstallCommand != `msiexec /i "7z2301-x64.msi" /qn` ||
		s.UninstallCommand != `msiexec /x {23170F69-40C1-2702-2301-000001000000} /qn` || s.Detection != `file %ProgramFiles%\7-Zip 7z.exe` ||
		s.ContentLocation != `\\cm01\sources$\7zip\23.01\` || s.ExitCodes != "0:Success,1707:Success,3010:SoftReboot,1641:HardReboot,1618:FastRetry" {
		t.Errorf("%+v", p)
	}
}

func TestParseSDMPackageXMLRefuses(t *testing.T) {
	good, err := os.ReadFile("testdata/sdmpackage.xml")
	if err != nil {
		t.Fatal(err)
	}
	g := string(good)
	cases := []struct {
		name, xml, want string
	}{
		{"empty", "", "EOF"},
		{"not xml", "{\"a\":1}", "SDMPackageXML"},
		{"wrong root", `<Foo xmlns="x"/>`, "expected element type <AppMgmtDigest>"},
		{"two roots", g + "<AppMgmtDigest/>", "second root"},
		{"trailing text", g + "junk", "text after"},
		{"latin-1", strings.Replace(g, "utf-16", "iso-8859-1", 1), "unsupported encoding"},
		{"no logical name", strings.Replace(g, `LogicalName="Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e01"`, "", 1), "no LogicalName"},
		{"no install command", strings.ReplaceAll(g, `msiexec /i "7z2301-x64.msi" /qn`, ""), "no install command"},
		{"dt mismatch", strings.Replace(g, `DeploymentType_0c7a6b1e-55b2-4a07-8d4c-3b1f9e3d2a10" Version="3"/>`, `DeploymentType_00000000-0000-0000-0000-000000000000" Version="3"/>`, 1), "references deployment type"},
		{"no detection", strings.Replace(g, `Name="MethodBody"`, `Name="Other"`, 1), "no detection method"},
		{"broken detection", strings.Replace(g, `&lt;/EnhancedDetectionMethod&gt;`, ``, 1), "detection method"},
	}
	for _, c := range cases {
		if _, err := ParseSDMPackageXML(c.xml); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestSpecEqualIgnoresEmptySupersedes(t *testing.T) {
	a, b := Spec{InstallCommand: "x"}, Spec{InstallCommand: "x", Supersedes: []string{}}
	if !a.Equal(b) {
		t.Error("nil and empty supersedence differ")
	}
	b.Supersedes = []string{"DeploymentType_1"}
	if a.Equal(b) {
		t.Error("added supersedence not seen")
	}
}
