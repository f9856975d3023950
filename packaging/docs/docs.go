// Package docs is the Windows deployment documentation every Windows
// package carries (EUCORA-architecture.md section 7.2): the silent install
// and uninstall commands, the detection rules, the exit-code map and the
// reboot behaviour, as one small JSON document (Schema) that the packaging
// engineer writes beside the package:
//
//	{
//	  "schema": "eucora.deployment-doc/v1",
//	  "install":   {"command": "msiexec /i app.msi /qn /norestart", "run_as": "system", "max_run_time_minutes": 60},
//	  "uninstall": {"command": "msiexec /x {PRODUCT-CODE} /qn /norestart"},
//	  "detection": [{"type": "product_code", "product_code": "{...}", "product_version": "1.2.3"}],
//	  "exit_codes": [{"code": 0, "result": "success"}, {"code": 3010, "result": "soft_reboot"}, {"code": 1618, "result": "retry"}],
//	  "reboot": "based_on_exit_code"
//	}
//
// Parse reads it strictly; Check validates it against the facts read from
// the package (a product-code rule must name the MSI's ProductCode); Split
// gives the three evidence items install_doc, uninstall_doc and
// detection_doc as canonical JSON; ConnectorInstall maps it to what a connector
// publishes.
package docs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/packaging/facts"
)

// Schema is the document's schema name.
const Schema = "eucora.deployment-doc/v1"

// FileName is the document's name in a package's --docs directory.
const FileName = "deployment.json"

// MaxSize bounds the document.
const MaxSize = 64 << 10

// ErrInvalid is wrapped by every refusal of Parse and Check.
var ErrInvalid = errors.New("invalid deployment documentation")

// Doc is the deployment documentation of one Windows package.
type Doc struct {
	Schema    string     `json:"schema"`
	Install   Command    `json:"install"`
	Uninstall Command    `json:"uninstall"`
	Detection []Rule     `json:"detection"`
	ExitCodes []ExitCode `json:"exit_codes"`
	Reboot    string     `json:"reboot"`
}

// Command is a silent command line and how it runs.
type Command struct {
	Command           string `json:"command"`
	RunAs             string `json:"run_as,omitempty"` // system (default) or user
	MaxRunTimeMinutes int    `json:"max_run_time_minutes,omitempty"`
}

// Rule is one detection rule. Type decides which fields apply:
//
//	product_code: product_code (a GUID in braces), product_version (optional)
//	file:         path (folder), file, version (optional: file version at least)
//	registry:     key (HKLM\... or HKCU\...), value, equals (optional)
type Rule struct {
	Type           string `json:"type"`
	ProductCode    string `json:"product_code,omitempty"`
	ProductVersion string `json:"product_version,omitempty"`
	Path           string `json:"path,omitempty"`
	File           string `json:"file,omitempty"`
	Version        string `json:"version,omitempty"`
	Key            string `json:"key,omitempty"`
	Value          string `json:"value,omitempty"`
	Equals         string `json:"equals,omitempty"`
}

// ExitCode maps an installer exit code to its result.
type ExitCode struct {
	Code   int    `json:"code"`
	Result string `json:"result"` // success, soft_reboot, hard_reboot, retry, failed
}

// Results and reboot behaviours.
var (
	Results  = []string{"success", "soft_reboot", "hard_reboot", "retry", "failed"}
	Reboots  = []string{"based_on_exit_code", "allow", "suppress", "force"}
	RunAs    = []string{"system", "user"}
	guidRE   = regexp.MustCompile(`^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$`)
	regRoots = []string{`HKLM\`, `HKEY_LOCAL_MACHINE\`, `HKCU\`, `HKEY_CURRENT_USER\`}
)

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}

// Parse decodes and validates a document on its own (Check adds the
// package's facts). Unknown fields, a second JSON value and trailing
// bytes are refused.
func Parse(b []byte) (*Doc, error) {
	if len(b) > MaxSize {
		return nil, invalid("document", "%d bytes, limit %d", len(b), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Doc
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, invalid("document", "more than one JSON value")
	}
	return &d, d.validate()
}

func (d *Doc) validate() error {
	if d.Schema != Schema {
		return invalid("schema", "%q, want %q", d.Schema, Schema)
	}
	for _, c := range []struct {
		field string
		cmd   Command
	}{{"install", d.Install}, {"uninstall", d.Uninstall}} {
		if strings.TrimSpace(c.cmd.Command) == "" {
			return invalid(c.field+".command", "required: the silent %s command line", c.field)
		}
		if strings.ContainsAny(c.cmd.Command, "\r\n\x00") {
			return invalid(c.field+".command", "one line without control characters")
		}
		if err := checkSilent(c.cmd.Command); err != nil {
			return invalid(c.field+".command", "%v", err)
		}
		if c.cmd.RunAs != "" && !slices.Contains(RunAs, c.cmd.RunAs) {
			return invalid(c.field+".run_as", "%q, want one of %v", c.cmd.RunAs, RunAs)
		}
		if c.cmd.MaxRunTimeMinutes < 0 || c.cmd.MaxRunTimeMinutes > 1440 {
			return invalid(c.field+".max_run_time_minutes", "%d, want 1..1440 (or absent)", c.cmd.MaxRunTimeMinutes)
		}
	}
	if len(d.Detection) == 0 {
		return invalid("detection", "at least one rule: how a plane decides the package is installed")
	}
	for i, r := range d.Detection {
		if err := r.validate(); err != nil {
			return invalid(fmt.Sprintf("detection[%d]", i), "%v", err)
		}
	}
	seen := map[int]bool{}
	success := false
	for i, e := range d.ExitCodes {
		if !slices.Contains(Results, e.Result) {
			return invalid(fmt.Sprintf("exit_codes[%d].result", i), "%q, want one of %v", e.Result, Results)
		}
		if seen[e.Code] {
			return invalid(fmt.Sprintf("exit_codes[%d].code", i), "%d is mapped twice", e.Code)
		}
		seen[e.Code] = true
		success = success || (e.Code == 0 && e.Result == "success")
	}
	if !success {
		return invalid("exit_codes", "exit code 0 must map to success")
	}
	if !slices.Contains(Reboots, d.Reboot) {
		return invalid("reboot", "%q, want one of %v", d.Reboot, Reboots)
	}
	return nil
}

// checkSilent refuses msiexec command lines that would show UI: a silent
// msiexec has /qn (or /quiet, /q, /qn+...). Other installers' silent flags
// are their own; only msiexec is known here.
func checkSilent(cmd string) error {
	f := strings.Fields(strings.ToLower(cmd))
	if len(f) == 0 || !strings.HasSuffix(strings.Trim(f[0], `"`), "msiexec") && !strings.HasSuffix(strings.Trim(f[0], `"`), "msiexec.exe") {
		return nil
	}
	for _, a := range f[1:] {
		if a == "/quiet" || a == "-quiet" || strings.HasPrefix(a, "/qn") || strings.HasPrefix(a, "-qn") || a == "/q" || a == "/qb-!" {
			return nil
		}
	}
	return fmt.Errorf("msiexec without /qn or /quiet is not silent: %q", cmd)
}

func (r Rule) validate() error {
	set := func(fields ...string) []string {
		var out []string
		vals := map[string]string{"product_code": r.ProductCode, "product_version": r.ProductVersion, "path": r.Path, "file": r.File,
			"version": r.Version, "key": r.Key, "value": r.Value, "equals": r.Equals}
		for k, v := range vals {
			if v != "" && !slices.Contains(fields, k) {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}
	var extra []string
	switch r.Type {
	case "product_code":
		if !guidRE.MatchString(r.ProductCode) {
			return fmt.Errorf("product_code %q: want a GUID in braces, {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}", r.ProductCode)
		}
		extra = set("product_code", "product_version")
	case "file":
		if r.Path == "" || r.File == "" {
			return fmt.Errorf("a file rule needs path (the folder) and file")
		}
		if strings.ContainsAny(r.File, `\/`) {
			return fmt.Errorf("file %q: a file name, not a path (the folder goes in path)", r.File)
		}
		extra = set("path", "file", "version")
	case "registry":
		ok := false
		for _, root := range regRoots {
			ok = ok || strings.HasPrefix(strings.ToUpper(r.Key), root)
		}
		if !ok {
			return fmt.Errorf("key %q: want a key under HKLM\\ or HKCU\\", r.Key)
		}
		extra = set("key", "value", "equals")
	default:
		return fmt.Errorf("type %q: want product_code, file or registry", r.Type)
	}
	if len(extra) > 0 {
		return fmt.Errorf("a %s rule does not take %s", r.Type, strings.Join(extra, ", "))
	}
	return nil
}

// Check validates d against the facts of the package it documents: a
// product-code rule must name the MSI's ProductCode (and its version, when
// it gives one, the MSI's ProductVersion); an MSI uninstall by product code
// must name the same code.
func (d *Doc) Check(f *facts.Facts) error {
	if f == nil || f.Kind != facts.KindMSI {
		return nil
	}
	code := strings.ToUpper(f.Identity.ID)
	for i, r := range d.Detection {
		if r.Type != "product_code" {
			continue
		}
		if strings.ToUpper(r.ProductCode) != code {
			return invalid(fmt.Sprintf("detection[%d].product_code", i), "%s, but the MSI's ProductCode is %s", r.ProductCode, f.Identity.ID)
		}
		if r.ProductVersion != "" && r.ProductVersion != f.Identity.Version {
			return invalid(fmt.Sprintf("detection[%d].product_version", i), "%s, but the MSI's ProductVersion is %s", r.ProductVersion, f.Identity.Version)
		}
	}
	if m := guidIn(d.Uninstall.Command); m != "" && code != "" && strings.ToUpper(m) != code && strings.Contains(strings.ToLower(d.Uninstall.Command), "msiexec") {
		return invalid("uninstall.command", "uninstalls %s, but the MSI's ProductCode is %s", m, f.Identity.ID)
	}
	return nil
}

var guidAnywhere = regexp.MustCompile(`\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}`)

func guidIn(s string) string { return guidAnywhere.FindString(s) }

// Item is one evidence item made from the document.
type Item struct {
	Name  string // install_doc, uninstall_doc, detection_doc
	Title string
	Body  []byte // canonical JSON
}

// Split returns the three evidence items: install_doc (install command,
// exit codes, reboot), uninstall_doc and detection_doc.
func (d *Doc) Split() []Item {
	enc := func(v any) []byte {
		b, _ := json.Marshal(v) // plain structs of strings and ints: cannot fail
		return b
	}
	return []Item{
		{"install_doc", "silent install, exit codes and reboot behaviour", enc(struct {
			Schema    string     `json:"schema"`
			Install   Command    `json:"install"`
			ExitCodes []ExitCode `json:"exit_codes"`
			Reboot    string     `json:"reboot"`
		}{Schema + "#install", d.Install, d.ExitCodes, d.Reboot})},
		{"uninstall_doc", "silent uninstall", enc(struct {
			Schema    string  `json:"schema"`
			Uninstall Command `json:"uninstall"`
		}{Schema + "#uninstall", d.Uninstall})},
		{"detection_doc", "detection rules", enc(struct {
			Schema    string `json:"schema"`
			Detection []Rule `json:"detection"`
		}{Schema + "#detection", d.Detection})},
	}
}

// ConnectorInstall is the document as a connector publishes it. The first rule
// becomes the plane's detection.
func (d *Doc) ConnectorInstall() connectors.Install {
	in := connectors.Install{InstallCommand: d.Install.Command, UninstallCommand: d.Uninstall.Command,
		RunAsSystem: d.Install.RunAs != "user", MaxRunTime: time.Duration(d.Install.MaxRunTimeMinutes) * time.Minute}
	types := map[string]string{"success": "success", "soft_reboot": "softReboot", "hard_reboot": "hardReboot", "retry": "retry", "failed": "failed"}
	for _, e := range d.ExitCodes {
		in.ReturnCodes = append(in.ReturnCodes, connectors.ReturnCode{Code: e.Code, Type: types[e.Result]})
	}
	in.RebootBehavior = map[string]string{"based_on_exit_code": "basedOnReturnCode", "allow": "allow", "suppress": "suppress", "force": "force"}[d.Reboot]
	r := d.Detection[0]
	switch r.Type {
	case "product_code":
		in.Detection = connectors.Detection{ProductCode: r.ProductCode, ProductVersion: r.ProductVersion}
	case "file":
		in.Detection = connectors.Detection{FilePath: r.Path, FileName: r.File}
	case "registry":
		in.Detection = connectors.Detection{RegistryKey: r.Key, RegistryValue: r.Value}
	}
	return in
}
