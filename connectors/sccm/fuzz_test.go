package sccm

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eucora/eucora/connectors"
)

// FuzzParseSDMPackageXML feeds the parser of what the site returns in
// SMS_Application.SDMPackageXML: it never panics, and what it accepts has
// an install command and a detection method.
func FuzzParseSDMPackageXML(f *testing.F) {
	// Compact seeds (a large one makes every new input slow to
	// minimise); testdata/fuzz holds more, and the full console-shaped
	// package is a unit test.
	f.Add(compactPackage)
	f.Add(strings.Replace(compactPackage, `<Installer>`, `<Installer><UninstallAction><Args><Arg Name="InstallCommandLine">y</Arg></Args></UninstallAction>`, 1))
	f.Add(`<?xml version="1.0" encoding="utf-16"?><AppMgmtDigest xmlns="` + nsDigest + `"/>`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseSDMPackageXML(s)
		if err != nil {
			return
		}
		if p.Spec.InstallCommand == "" || p.Spec.Detection == "" || p.LogicalName == "" || p.Spec.DeploymentType == "" {
			t.Fatalf("accepted an incomplete package: %+v", p)
		}
	})
}

// compactPackage is a minimal package the parser accepts.
const compactPackage = `<?xml version="1.0" encoding="utf-16"?><AppMgmtDigest xmlns="` + nsDigest + `"><Application AuthoringScopeId="S" LogicalName="Application_1">` +
	`<DeploymentTypes><DeploymentType AuthoringScopeId="S" LogicalName="DeploymentType_1"/></DeploymentTypes><Title>T</Title></Application>` +
	`<DeploymentType AuthoringScopeId="S" LogicalName="DeploymentType_1"><Installer><DetectAction><Args><Arg Name="MethodBody">` +
	`&lt;EnhancedDetectionMethod xmlns="` + nsDigest + `"&gt;&lt;Settings xmlns="` + nsDigest + `"&gt;&lt;File xmlns="` + nsDCM + `"&gt;` +
	`&lt;Path&gt;C:\&lt;/Path&gt;&lt;Filter&gt;a.exe&lt;/Filter&gt;&lt;/File&gt;&lt;/Settings&gt;&lt;Rule xmlns="` + nsRules + `"/&gt;&lt;/EnhancedDetectionMethod&gt;` +
	`</Arg></Args></DetectAction><InstallAction><Args><Arg Name="InstallCommandLine">x</Arg></Args></InstallAction></Installer>` +
	`<Supersedes><DeploymentTypeRule xmlns="` + nsRules + `"><DeploymentTypeIntentExpression><DeploymentTypeApplicabilityReference>` +
	`<DeploymentTypeReference LogicalName="DeploymentType_0"/></DeploymentTypeApplicabilityReference></DeploymentTypeIntentExpression></DeploymentTypeRule></Supersedes>` +
	`</DeploymentType></AppMgmtDigest>`

func TestCompactPackageParses(t *testing.T) {
	p, err := ParseSDMPackageXML(compactPackage)
	if err != nil || p.Spec.Detection != `file C:\ a.exe` || p.Spec.Supersedes[0] != "DeploymentType_0" {
		t.Fatalf("%+v %v", p, err)
	}
}

// FuzzSDMRoundTrip builds packages from arbitrary commands and
// detection values: what the builder accepts reads back to the same
// commands.
func FuzzSDMRoundTrip(f *testing.F) {
	f.Add(`msiexec /i "a b.msi" /qn`, `msiexec /x {A}`, `HKLM\SOFTWARE\A & B <x>`, "Version")
	f.Add("setup.exe /S", "", `HKCU\x`, "")
	f.Fuzz(func(t *testing.T, install, uninstall, regKey, regValue string) {
		for _, s := range []string{install, uninstall, regKey, regValue} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0xFFFE || r == 0xFFFF }) {
				return // not text XML can carry
			}
		}
		r := testRelease(connectors.Detection{RegistryKey: regKey, RegistryValue: regValue})
		r.Install.InstallCommand, r.Install.UninstallCommand = install, uninstall
		x, spec, err := buildSDMPackageXML(buildInput{Scope: testScope, Key: r.Key, Release: r, Marker: "m", ContentLocation: `\\a\b\`})
		if err != nil {
			return
		}
		p, err := ParseSDMPackageXML(x)
		if err != nil {
			t.Fatalf("the built package does not parse: %v", err)
		}
		if p.Spec.InstallCommand != strings.TrimSpace(install) || p.Spec.UninstallCommand != strings.TrimSpace(uninstall) || !p.Spec.Equal(spec) {
			t.Fatalf("round trip: %+v", p.Spec)
		}
	})
}

// FuzzParseCollection feeds the OData collection and error parsers.
func FuzzParseCollection(f *testing.F) {
	for _, s := range []string{
		`{"@odata.context":"https://cm01/AdminService/wmi/$metadata#SMS_Collection","value":[{"CollectionID":"PS100010","CollectionRules":[{"@odata.type":"#AdminService.SMS_CollectionRuleDirect","ResourceID":16777220}]}],"@odata.nextLink":"https://cm01/AdminService/wmi/SMS_Collection?$skip=1"}`,
		`{"value":[]}`,
		`{"error":{"code":"BadRequest","message":"The query specified in the URI is not valid."}}`,
		`{"error":{"code":500,"message":{"lang":"en-US","value":"Generic failure"}}}`,
		`{"value":[{"CI_ID":1},{"CI_ID":2}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if vals, _, err := parseCollection(b); err == nil {
			for _, v := range vals {
				if len(v) == 0 {
					t.Fatal("an empty element")
				}
				// A collection's rules parse or are refused, never panic.
				var col smsCollection
				if jsonUnmarshalOK(v, &col) {
					for _, r := range col.CollectionRules {
						parseRule(r)
					}
					targetsOfRules(col.CollectionRules)
				}
			}
		}
		parseEntity(b)
		parseODataError(b)
	})
}

func jsonUnmarshalOK(b []byte, v any) bool { return json.Unmarshal(b, v) == nil }
