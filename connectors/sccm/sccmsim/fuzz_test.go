package sccmsim

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParsePath feeds the WMI route's path parser: it never panics, and
// what it accepts prints back to a path that parses the same.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"SMS_Application", "SMS_Application(16777217)", "SMS_Collection('PS100010')",
		"SMS_Collection('O''Brien')/AdminService.AddMembershipRule", "SMS_ClientOperation.InitiateClientOperation", "SMS_X('a)", "(", "A.B.C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePath(s)
		if err != nil {
			return
		}
		if !identPattern.MatchString(p.Class) {
			t.Fatalf("class %q", p.Class)
		}
		if p.HasKey && !p.Quoted {
			if _, err := strconv.ParseInt(p.Key, 10, 64); err != nil {
				t.Fatalf("unquoted key %q", p.Key)
			}
		}
		out := p.Class
		switch {
		case p.Static:
			out += "." + p.Method
		case p.HasKey:
			if p.Quoted {
				out += "('" + strings.ReplaceAll(p.Key, "'", "''") + "')"
			} else {
				out += "(" + p.Key + ")"
			}
			if p.Method != "" {
				out += "/AdminService." + p.Method
			}
		}
		q, err := parsePath(out)
		if err != nil || q != p {
			t.Fatalf("%q -> %+v -> %q -> %+v %v", s, p, out, q, err)
		}
	})
}

// FuzzParseFilter feeds the $filter parser: it never panics, and an
// accepted filter evaluates on any row of the class.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"ModelName eq 'ScopeId_X/Application_Y' and IsLatest eq true", "LocalizedDisplayName eq 'It''s'",
		"(CI_ID eq 16777217) and CIVersion ne 2", "CI_ID eq null", "contains(ModelName,'x')", "IsLatest eq true or IsLatest eq false", "CI_ID eq -"} {
		f.Add(s)
	}
	r := row{"CI_ID": int64(16777217), "ModelName": "m", "IsLatest": true, "LocalizedDisplayName": nil}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s, appSchema)
		if err != nil {
			return
		}
		e.eval(r)
		e.eval(row{})
	})
}

// compactSDM is a minimal package the simulator accepts.
const compactSDM = `<AppMgmtDigest xmlns="` + nsDigest + `"><Application AuthoringScopeId="ScopeId_3F2504E0-4F89-41D3-9A0C-0305E82C3301" ` +
	`LogicalName="Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e01"><DeploymentTypes><DeploymentType AuthoringScopeId="ScopeId_3F2504E0-4F89-41D3-9A0C-0305E82C3301" ` +
	`LogicalName="DeploymentType_0c7a6b1e-55b2-4a07-8d4c-3b1f9e3d2a10"/></DeploymentTypes><Title>T</Title></Application>` +
	`<DeploymentType AuthoringScopeId="ScopeId_3F2504E0-4F89-41D3-9A0C-0305E82C3301" LogicalName="DeploymentType_0c7a6b1e-55b2-4a07-8d4c-3b1f9e3d2a10">` +
	`<Title>T</Title><Technology>Script</Technology><Installer><Contents><Content><Location>\\a\b</Location></Content></Contents>` +
	`<DetectAction><Args><Arg Name="ProductCode">{X}</Arg></Args></DetectAction><InstallAction><Args><Arg Name="InstallCommandLine">x</Arg></Args></InstallAction>` +
	`</Installer></DeploymentType></AppMgmtDigest>`

func TestCompactSDMIsValid(t *testing.T) {
	if _, err := validateSDM(compactSDM, "ScopeId_3F2504E0-4F89-41D3-9A0C-0305E82C3301"); err != nil {
		t.Fatal(err)
	}
}

// FuzzValidateSDM feeds the simulator's SDMPackageXML validation.
func FuzzValidateSDM(f *testing.F) {
	f.Add(compactSDM)
	f.Add(`<AppMgmtDigest xmlns="` + nsDigest + `"><Application AuthoringScopeId="s" LogicalName="Application_1"/></AppMgmtDigest>`)
	f.Fuzz(func(t *testing.T, s string) {
		info, err := validateSDM(s, "ScopeId_3F2504E0-4F89-41D3-9A0C-0305E82C3301")
		if err == nil && (info.Title == "" || info.DeploymentType == "" || !strings.HasPrefix(info.ContentLocation, `\\`)) {
			t.Fatalf("accepted %+v", info)
		}
	})
}
