package docs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

const productCode = "{6F1B2C3D-1111-4A4A-8B8B-0123456789AB}"

const good = `{
  "schema": "eucora.deployment-doc/v1",
  "install":   {"command": "msiexec /i app.msi /qn /norestart", "run_as": "system", "max_run_time_minutes": 60},
  "uninstall": {"command": "msiexec /x {6F1B2C3D-1111-4A4A-8B8B-0123456789AB} /qn"},
  "detection": [{"type": "product_code", "product_code": "{6F1B2C3D-1111-4A4A-8B8B-0123456789AB}", "product_version": "1.2.3"},
                {"type": "file", "path": "%ProgramFiles%\\App", "file": "app.exe", "version": "1.2.3.0"},
                {"type": "registry", "key": "HKLM\\Software\\App", "value": "Version", "equals": "1.2.3"}],
  "exit_codes": [{"code": 0, "result": "success"}, {"code": 3010, "result": "soft_reboot"}, {"code": 1618, "result": "retry"}],
  "reboot": "based_on_exit_code"
}`

func msiFacts(code, version string) *facts.Facts {
	return &facts.Facts{Kind: facts.KindMSI, Identity: facts.Identity{ID: code, Version: version}}
}

func TestParseGoodAndMapping(t *testing.T) {
	d, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Check(msiFacts(strings.ToLower(productCode), "1.2.3")); err != nil {
		t.Errorf("check against matching facts (code in lower case): %v", err)
	}
	in := d.ConnectorInstall()
	if in.Detection.ProductCode != productCode || in.RebootBehavior != "basedOnReturnCode" || !in.RunAsSystem || len(in.ReturnCodes) != 3 ||
		in.ReturnCodes[1].Type != "softReboot" || in.MaxRunTime.Minutes() != 60 {
		t.Errorf("connector install: %+v", in)
	}
	items := d.Split()
	if len(items) != 3 || items[0].Name != "install_doc" || items[1].Name != "uninstall_doc" || items[2].Name != "detection_doc" {
		t.Fatalf("items: %+v", items)
	}
	for _, it := range items {
		var v map[string]any
		if err := json.Unmarshal(it.Body, &v); err != nil || !strings.HasPrefix(v["schema"].(string), Schema+"#") {
			t.Errorf("%s: %s (%v)", it.Name, it.Body, err)
		}
	}
	again, _ := Parse([]byte(good))
	if string(again.Split()[2].Body) != string(items[2].Body) {
		t.Error("Split is not deterministic")
	}
}

func TestRefusals(t *testing.T) {
	edit := func(from, to string) string {
		if !strings.Contains(good, from) {
			t.Fatalf("fixture lacks %q", from)
		}
		return strings.Replace(good, from, to, 1)
	}
	cases := []struct{ name, doc, want string }{
		{"not JSON", "install: msiexec", "invalid character"},
		{"empty", "", "EOF"},
		{"two values", good + good, "more than one JSON value"},
		{"unknown field", edit(`"reboot"`, `"rebot": 1, "reboot"`), `unknown field "rebot"`},
		{"wrong schema", edit("deployment-doc/v1", "deployment-doc/v9"), "schema"},
		{"no install", edit(`"command": "msiexec /i app.msi /qn /norestart"`, `"command": " "`), "install.command: required"},
		{"install not silent", edit("/i app.msi /qn /norestart", "/i app.msi"), "not silent"},
		{"uninstall not silent", edit("0123456789AB} /qn\"", "0123456789AB}\""), "uninstall.command"},
		{"newline in command", edit("/norestart", `/norestart\nshutdown /r`), "one line"},
		{"bad run_as", edit(`"run_as": "system"`, `"run_as": "admin"`), "install.run_as"},
		{"run time", edit(`"max_run_time_minutes": 60`, `"max_run_time_minutes": 5000`), "max_run_time_minutes"},
		{"wrong type", edit(`"max_run_time_minutes": 60`, `"max_run_time_minutes": "60"`), "cannot unmarshal"},
		{"no detection", edit(`"detection": [`, `"detection": [], "x": [`), "unknown field"},
		{"empty detection", `{"schema":"eucora.deployment-doc/v1","install":{"command":"setup.exe /S"},"uninstall":{"command":"uninst.exe /S"},"detection":[],"exit_codes":[{"code":0,"result":"success"}],"reboot":"allow"}`, "at least one rule"},
		{"bad guid", edit(`"product_code": "{6F1B2C3D-1111-4A4A-8B8B-0123456789AB}", "product_version"`, `"product_code": "6F1B2C3D", "product_version"`), "GUID"},
		{"unknown rule type", edit(`"type": "file"`, `"type": "script"`), `type "script"`},
		{"file rule with a path in file", edit(`"file": "app.exe"`, `"file": "bin\\app.exe"`), "a file name, not a path"},
		{"file rule without path", edit(`"path": "%ProgramFiles%\\App", `, ``), "needs path"},
		{"rule with foreign field", edit(`"type": "file",`, `"type": "file", "key": "HKLM\\X",`), "does not take key"},
		{"registry outside HKLM/HKCU", edit(`HKLM\\Software\\App`, `HKCR\\App`), "HKLM"},
		{"no success code", edit(`{"code": 0, "result": "success"}, `, ``), "exit code 0 must map to success"},
		{"duplicate code", edit(`{"code": 1618, "result": "retry"}`, `{"code": 3010, "result": "retry"}`), "mapped twice"},
		{"bad result", edit(`"result": "retry"`, `"result": "maybe"`), "exit_codes[2].result"},
		{"bad reboot", edit(`"reboot": "based_on_exit_code"`, `"reboot": "sometimes"`), "reboot"},
		{"too big", `{"schema":"` + strings.Repeat("x", MaxSize) + `"}`, "limit"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc))
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid containing %q", c.name, err, c.want)
		}
	}
}

func TestCheckAgainstFacts(t *testing.T) {
	d, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	other := "{00000000-2222-4A4A-8B8B-0123456789AB}"
	for _, c := range []struct {
		name string
		f    *facts.Facts
		want string
	}{
		{"other product code", msiFacts(other, "1.2.3"), "but the MSI's ProductCode is " + other},
		{"other version", msiFacts(productCode, "1.2.4"), "but the MSI's ProductVersion is 1.2.4"},
	} {
		if err := d.Check(c.f); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// The uninstall command names another product.
	d2, err := Parse([]byte(strings.Replace(good, "/x {6F1B2C3D-1111-4A4A-8B8B-0123456789AB}", "/x "+other, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Check(msiFacts(productCode, "1.2.3")); err == nil || !strings.Contains(err.Error(), "uninstall.command: uninstalls") {
		t.Errorf("uninstall of another product: %v", err)
	}
	// Facts of another kind are not checked against MSI rules.
	if err := d.Check(&facts.Facts{Kind: facts.KindPE}); err != nil {
		t.Errorf("exe: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"schema":"eucora.deployment-doc/v1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		d.Split()
		d.ConnectorInstall()
		d.Check(msiFacts(productCode, "1"))
	})
}
