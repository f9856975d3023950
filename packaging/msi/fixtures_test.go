package msi

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
)

// Fixtures are built with the real wixl from a .wxs the test writes; what
// wixl cannot author (VBScript custom actions, a kernel-driver service
// type, an Arm64 template) is added with msibuild, msitools' SQL tool, so
// every fixture is written by libmsi. Facts are cross-checked against
// msiinfo's own reading of the same file.

type wxsOpts struct {
	perUser  bool
	win64    bool
	service  bool
	sysFile  bool
	props    map[string]string
	regRoot  string // HKLM, HKCU
	deferred bool   // add the DLL (deferred) and EXE (deferred, Impersonate=no) actions
}

func (o wxsOpts) wxs() string {
	scope := "perMachine"
	pf := "ProgramFilesFolder"
	if o.win64 {
		pf = "ProgramFiles64Folder"
	}
	if o.perUser {
		scope, pf = "perUser", "LocalAppDataFolder"
	}
	w64 := ""
	if o.win64 {
		w64 = ` Win64="yes"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="12345678-1234-1234-1234-123456789012" Name="Foo App" Language="1033" Version="1.2.3" Manufacturer="Acme Corp" UpgradeCode="87654321-4321-4321-4321-210987654321">
    <Package InstallerVersion="200" Compressed="yes" InstallScope="%s" Comments="test package"/>
    <Media Id="1" Cabinet="app.cab" EmbedCab="yes"/>
    <Property Id="MYPROP" Value="hello"/>
`, scope)
	keys := make([]string, 0, len(o.props))
	for k := range o.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "    <Property Id=%q Value=%q/>\n", k, o.props[k])
	}
	fmt.Fprintf(&b, `    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="%s">
        <Directory Id="INSTALLDIR" Name="Foo">
          <Component Id="MainExe" Guid="11111111-2222-3333-4444-555555555555"%s>
            <File Id="AppExe" Name="application-long-name.exe" Source="app.exe" KeyPath="yes"/>
`, pf, w64)
	if o.service {
		b.WriteString(`            <ServiceInstall Id="FooSvc" Name="FooService" DisplayName="Foo Service" Type="ownProcess" Start="auto" ErrorControl="normal" Account="NT AUTHORITY\LocalService"/>
            <ServiceControl Id="FooSvcCtl" Name="FooService" Start="install" Stop="both" Remove="uninstall"/>
`)
	}
	fmt.Fprintf(&b, `            <RegistryValue Root="%s" Key="Software\Acme\Foo" Name="Version" Type="string" Value="1.2.3"/>
          </Component>
`, o.regRoot)
	if o.sysFile {
		fmt.Fprintf(&b, `          <Component Id="Drv" Guid="11111111-2222-3333-4444-555555555556"%s>
            <File Id="DrvSys" Name="foo.sys" Source="drv.sys" KeyPath="yes"/>
          </Component>
`, w64)
	}
	b.WriteString(`        </Directory>
      </Directory>
    </Directory>
    <Binary Id="ScriptBin" SourceFile="script.bin"/>
    <CustomAction Id="JsBinCA" BinaryKey="ScriptBin" JScriptCall="Main" Execute="immediate" Return="check"/>
    <CustomAction Id="SetProp" Property="FOO" Value="bar"/>
`)
	if o.deferred {
		b.WriteString(`    <CustomAction Id="DllCA" BinaryKey="ScriptBin" DllEntry="Entry" Execute="deferred" Impersonate="yes"/>
    <CustomAction Id="SystemExe" Property="MYPROP" ExeCommand="cmd.exe /c echo" Execute="deferred" Impersonate="no" Return="ignore"/>
    <InstallExecuteSequence>
      <Custom Action="DllCA" After="InstallInitialize"/>
      <Custom Action="SystemExe" Before="InstallFinalize"/>
    </InstallExecuteSequence>
`)
	}
	b.WriteString(`    <Feature Id="Main" Level="1">
      <ComponentRef Id="MainExe"/>
`)
	if o.sysFile {
		b.WriteString("      <ComponentRef Id=\"Drv\"/>\n")
	}
	b.WriteString(`    </Feature>
    <Condition Message="Needs Windows NT">VersionNT</Condition>
    <MajorUpgrade DowngradeErrorMessage="A newer version is installed"/>
  </Product>
</Wix>
`)
	return b.String()
}

type fixture struct {
	name    string
	arch    string // wixl -a
	opts    wxsOpts
	queries []string // msibuild -q, after wixl
	suminfo []string // msibuild -s NAME AUTHOR TEMPLATE UUID
	sign    bool     // osslsigncode with a self-signed test certificate

	// What the facts must say (the rest is cross-checked against msiinfo).
	wantAdmin, wantService, wantDriver bool
	wantArch                           string
	wantAsSystem                       []string // custom actions that run as LocalSystem
	wantScripting                      []string // VBScript/JScript custom actions
}

const (
	vbsInline = "INSERT INTO `CustomAction` (`Action`, `Type`, `Target`) VALUES ('VbsInline', 38, 'MsgBox \"hi\"')"
	// VBScript from the Binary table, deferred (0x400), no-impersonate (0x800).
	vbsSystem = "INSERT INTO `CustomAction` (`Action`, `Type`, `Source`, `Target`) VALUES ('VbsSystem', 3078, 'ScriptBin', 'Main')"
)

var fixtures = []fixture{
	{
		name: "machine-x64-service", arch: "x64",
		opts:      wxsOpts{win64: true, service: true, sysFile: true, regRoot: "HKLM", deferred: true},
		queries:   []string{vbsInline, vbsSystem},
		wantAdmin: true, wantService: true, wantDriver: true, wantArch: "amd64",
		wantAsSystem: []string{"SystemExe", "VbsSystem"}, wantScripting: []string{"JsBinCA", "VbsInline", "VbsSystem"},
	},
	{
		name: "user-x86", arch: "x86",
		opts:     wxsOpts{perUser: true, regRoot: "HKCU"},
		queries:  []string{vbsInline},
		wantArch: "x86", wantScripting: []string{"JsBinCA", "VbsInline"},
	},
	{
		name: "allusers2-peruser", arch: "x86",
		opts:     wxsOpts{perUser: true, regRoot: "HKCU", props: map[string]string{"ALLUSERS": "2", "MSIINSTALLPERUSER": "1"}},
		wantArch: "x86", wantScripting: []string{"JsBinCA"},
	},
	{
		name: "allusers2-machine", arch: "x86",
		opts:      wxsOpts{perUser: true, regRoot: "HKCU", props: map[string]string{"ALLUSERS": "2"}},
		wantAdmin: true, wantArch: "x86", wantScripting: []string{"JsBinCA"},
	},
	{
		name: "driver-arm64", arch: "x64",
		opts:      wxsOpts{win64: true, service: true, regRoot: "HKLM"},
		queries:   []string{"UPDATE `ServiceInstall` SET `ServiceType` = 1, `StartType` = 3 WHERE `ServiceInstall` = 'FooSvc'"},
		suminfo:   []string{"Foo App", "Acme Corp", "Arm64;1033", "{ABCDEF01-2345-6789-ABCD-EF0123456789}"},
		wantAdmin: true, wantService: true, wantDriver: true, wantArch: "arm64", wantScripting: []string{"JsBinCA"},
	},
	{
		name: "signed", arch: "x64", sign: true,
		opts:      wxsOpts{win64: true, service: true, regRoot: "HKLM"},
		wantAdmin: true, wantService: true, wantArch: "amd64", wantScripting: []string{"JsBinCA"},
	},
}

var (
	fixOnce  sync.Once
	fixDir   string
	fixFiles map[string]string
	fixErr   error
)

// needTools skips (fails under CI) without msitools.
func needTools(t testing.TB) {
	t.Helper()
	testtool.Need(t, "apt-get install wixl msitools", "wixl", "msiinfo", "msibuild")
}

// buildFixtures builds every fixture once per test binary.
func buildFixtures(t testing.TB) map[string]string {
	t.Helper()
	needTools(t)
	for _, f := range fixtures {
		if f.sign {
			testtool.Need(t, "apt-get install osslsigncode openssl", "osslsigncode", "openssl")
		}
	}
	fixOnce.Do(func() {
		fixDir, fixErr = os.MkdirTemp("", "msi-fixtures-")
		if fixErr != nil {
			return
		}
		fixFiles = map[string]string{}
		for _, f := range fixtures {
			p, err := buildFixture(fixDir, f)
			if err != nil {
				fixErr = fmt.Errorf("fixture %s: %w", f.name, err)
				return
			}
			fixFiles[f.name] = p
		}
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fixFiles
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixDir != "" {
		os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

func run(dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func buildFixture(root string, f fixture) (string, error) {
	dir := filepath.Join(root, f.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for name, content := range map[string]string{"app.exe": "MZ fake application\n", "drv.sys": "MZ fake driver\n", "script.bin": "Function Main\nEnd Function\n",
		"pkg.wxs": f.opts.wxs()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	out := filepath.Join(dir, f.name+".msi")
	if _, err := run(dir, "wixl", "-a", f.arch, "-o", out, "pkg.wxs"); err != nil {
		return "", err
	}
	for _, q := range f.queries {
		if _, err := run(dir, "msibuild", out, "-q", q); err != nil {
			return "", err
		}
	}
	if f.suminfo != nil {
		if _, err := run(dir, "msibuild", append([]string{out, "-s"}, f.suminfo...)...); err != nil {
			return "", err
		}
	}
	if f.sign {
		if _, err := run(dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
			"-days", "30", "-subj", "/CN=EUCORA test signer", "-addext", "extendedKeyUsage=codeSigning"); err != nil {
			return "", err
		}
		signed := filepath.Join(dir, f.name+"-signed.msi")
		if _, err := run(dir, "osslsigncode", "sign", "-certs", "cert.pem", "-key", "key.pem", "-in", out, "-out", signed); err != nil {
			return "", err
		}
		out = signed
	}
	return out, nil
}

// msiinfoTable is msiinfo's export of one table: column names and rows of
// cells as text.
type msiinfoTable struct {
	cols []string
	rows [][]string
}

func msiinfoExport(t testing.TB, file, table string) msiinfoTable {
	t.Helper()
	out, err := run(t.TempDir(), "msiinfo", "export", file, table)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\r\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s %s: %q", file, table, out)
	}
	var mt msiinfoTable
	mt.cols = strings.Split(strings.TrimRight(lines[0], "\r"), "\t")
	for _, l := range lines[3:] {
		l = strings.TrimRight(l, "\r")
		mt.rows = append(mt.rows, strings.Split(l, "\t"))
	}
	return mt
}

func msiinfoLines(t testing.TB, args ...string) []string {
	t.Helper()
	out, err := run(t.TempDir(), "msiinfo", args...)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimRight(string(out), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// msiinfoSuminfo parses `msiinfo suminfo`: "Key: value" lines.
func msiinfoSuminfo(t testing.TB, file string) map[string]string {
	m := map[string]string{}
	for _, l := range msiinfoLines(t, "suminfo", file) {
		if k, v, ok := strings.Cut(l, ": "); ok {
			m[k] = v
		}
	}
	return m
}

// msiinfoProps is the Property table as msiinfo reads it.
func msiinfoProps(t testing.TB, file string) map[string]string {
	mt := msiinfoExport(t, file, "Property")
	m := map[string]string{}
	for _, r := range mt.rows {
		m[r[0]] = r[1]
	}
	return m
}

// rowsByName maps msiinfo rows to column name -> cell.
func (mt msiinfoTable) maps() []map[string]string {
	var out []map[string]string
	for _, r := range mt.rows {
		m := map[string]string{}
		for k, c := range mt.cols {
			if k < len(r) {
				m[c] = r[k]
			}
		}
		out = append(out, m)
	}
	return out
}

func openFile(t testing.TB, path string, lim facts.Limits) *Database {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(bytes.NewReader(b), int64(len(b)), lim)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

// rebuild rewrites a database's streams into a Go-written compound file,
// with mutate applied to the stream list first.
func rebuild(t testing.TB, d *Database, ss int, mutate func([]cfbStream) []cfbStream) *cfbFile {
	t.Helper()
	var streams []cfbStream
	for _, e := range d.Entries() {
		if e.Storage {
			streams = append(streams, cfbStream{raw: e.Raw, storage: true})
			continue
		}
		rd, err := d.OpenEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(rd); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, cfbStream{raw: e.Raw, data: b.Bytes()})
	}
	if mutate != nil {
		streams = mutate(streams)
	}
	return writeCFB(streams, ss, d.CLSID())
}

// tableStream finds the stream of table name in streams.
func tableStream(streams []cfbStream, name string) *cfbStream {
	for i := range streams {
		if n, tbl := DecodeStreamName(streams[i].raw); tbl && n == name {
			return &streams[i]
		}
	}
	return nil
}
