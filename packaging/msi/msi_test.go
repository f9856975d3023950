package msi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

func inspectFile(t testing.TB, path string, lim facts.Limits) *facts.Facts {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Inspect(bytes.NewReader(b), int64(len(b)), facts.Options{Limits: lim})
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return f
}

func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprint(v)
}

// Every table of every fixture reads as msiinfo reads it, cell by cell.
func TestTablesMatchMsiinfo(t *testing.T) {
	files := buildFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			path := files[fx.name]
			d := openFile(t, path, facts.Limits{})
			var theirs []string
			for _, n := range msiinfoLines(t, "tables", path) {
				if n != "_SummaryInformation" && n != "_ForceCodepage" {
					theirs = append(theirs, n)
				}
			}
			ours := d.Tables()
			sort.Strings(theirs)
			sort.Strings(ours)
			if !reflect.DeepEqual(ours, theirs) {
				t.Fatalf("tables:\n ours   %v\n msiinfo %v", ours, theirs)
			}
			for _, name := range ours {
				mt := msiinfoExport(t, path, name)
				tb, err := d.Table(name)
				if err != nil {
					t.Fatal(err)
				}
				var cols []string
				for _, c := range tb.Columns {
					cols = append(cols, c.Name)
				}
				if !reflect.DeepEqual(cols, mt.cols) {
					t.Fatalf("%s columns: ours %v, msiinfo %v", name, cols, mt.cols)
				}
				var a, b []string
				for i := 0; i < tb.Len(); i++ {
					var cells []string
					for k := range tb.Columns {
						cells = append(cells, cell(tb.Value(i, k)))
					}
					a = append(a, strings.Join(cells, "\t"))
				}
				for _, r := range mt.rows {
					b = append(b, strings.Join(r, "\t"))
				}
				sort.Strings(a)
				sort.Strings(b)
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("%s rows:\n ours    %q\n msiinfo %q", name, a, b)
				}
			}
		})
	}
}

// The summary information and the stream list read as msiinfo reads them.
func TestSummaryAndStreamsMatchMsiinfo(t *testing.T) {
	files := buildFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			path := files[fx.name]
			d := openFile(t, path, facts.Limits{})
			s, err := d.SummaryInfo()
			if err != nil || s == nil {
				t.Fatalf("summary: %v %v", s, err)
			}
			m := msiinfoSuminfo(t, path)
			num := func(k string) int32 {
				f, _, _ := strings.Cut(m[k], " ")
				n, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("msiinfo suminfo %s: %q", k, m[k])
				}
				return int32(n)
			}
			for _, c := range []struct {
				key, ours string
			}{
				{"Title", s.Title}, {"Subject", s.Subject}, {"Author", s.Author}, {"Keywords", s.Keywords},
				{"Comments", s.Comments}, {"Template", s.Template}, {"Revision number (UUID)", s.Revision},
				{"Application", s.Application},
			} {
				if c.ours != m[c.key] {
					t.Errorf("%s: ours %q, msiinfo %q", c.key, c.ours, m[c.key])
				}
			}
			if s.PageCount != num("Version") || s.WordCount != num("Source") || s.Security != num("Security") || !s.HasWordCount {
				t.Errorf("page/word/security: ours %d/%d/%d, msiinfo %q/%q/%q", s.PageCount, s.WordCount, s.Security, m["Version"], m["Source"], m["Security"])
			}
			if s.Created.IsZero() || s.LastSaved.IsZero() {
				t.Errorf("times not read: %v %v", s.Created, s.LastSaved)
			}
			var ours []string
			for _, n := range d.Streams() {
				ours = append(ours, n)
			}
			theirs := msiinfoLines(t, "streams", path)
			sort.Strings(ours)
			sort.Strings(theirs)
			if !reflect.DeepEqual(ours, theirs) {
				t.Errorf("streams: ours %q, msiinfo %q", ours, theirs)
			}
		})
	}
}

// The facts of every fixture, each cross-checked against msiinfo's
// reading of the file and against what the fixture was built to have.
func TestInspectFixtures(t *testing.T) {
	files := buildFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			path := files[fx.name]
			f := inspectFile(t, path, facts.Limits{})
			props := msiinfoProps(t, path)
			sum := msiinfoSuminfo(t, path)

			if f.Kind != facts.KindMSI {
				t.Errorf("kind %q", f.Kind)
			}
			wantID := facts.Identity{Name: props["ProductName"], Version: props["ProductVersion"], Vendor: props["Manufacturer"],
				ID: props["ProductCode"], UpgradeCode: props["UpgradeCode"], Arch: fx.wantArch}
			if f.Identity != wantID {
				t.Errorf("identity %+v, want %+v", f.Identity, wantID)
			}
			wantFields := map[string]string{"PackageCode": sum["Revision number (UUID)"]}
			for k, v := range props {
				wantFields[k] = v
			}
			if !reflect.DeepEqual(f.Fields, wantFields) {
				t.Errorf("fields %v, want %v", f.Fields, wantFields)
			}

			// Privilege.
			p := f.Privilege
			if p.RequiresAdmin != fx.wantAdmin || p.InstallsService != fx.wantService || p.InstallsDriver != fx.wantDriver {
				t.Errorf("privilege admin/service/driver %v/%v/%v, want %v/%v/%v; reasons %q",
					p.RequiresAdmin, p.InstallsService, p.InstallsDriver, fx.wantAdmin, fx.wantService, fx.wantDriver, p.Reasons)
			}
			reasons := strings.Join(p.Reasons, "\n")
			word, _, _ := strings.Cut(sum["Source"], " ")
			wc, _ := strconv.Atoi(word)
			if (wc&8 == 0) != strings.Contains(reasons, "bit 3 (elevated privileges not required) is clear") {
				t.Errorf("word count %d and reasons %q disagree", wc, p.Reasons)
			}
			if (props["ALLUSERS"] == "1" || props["ALLUSERS"] == "2" && props["MSIINSTALLPERUSER"] != "1") != strings.Contains(reasons, "Property ALLUSERS=") {
				t.Errorf("ALLUSERS %q MSIINSTALLPERUSER %q and reasons %q disagree", props["ALLUSERS"], props["MSIINSTALLPERUSER"], p.Reasons)
			}
			for _, a := range fx.wantAsSystem {
				if !strings.Contains(reasons, "CustomAction "+a+" ") || !strings.Contains(reasons, "runs as LocalSystem") {
					t.Errorf("no LocalSystem reason for %s in %q", a, p.Reasons)
				}
			}
			if p.RequiresAdmin == (len(p.Reasons) == 0) && !p.InstallsService && !p.InstallsDriver {
				t.Errorf("admin %v with reasons %q", p.RequiresAdmin, p.Reasons)
			}

			// Services, from msiinfo's ServiceInstall.
			var wantSvc []facts.Service
			if msiHasTable(t, path, "ServiceInstall") {
				for _, r := range msiinfoExport(t, path, "ServiceInstall").maps() {
					st, _ := strconv.Atoi(r["StartType"])
					acct := r["StartName"]
					if acct == "" {
						acct = "LocalSystem"
					}
					wantSvc = append(wantSvc, facts.Service{Name: r["Name"], Start: map[int]string{2: "auto", 3: "demand", 4: "disabled"}[st], Account: acct, Source: "ServiceInstall"})
					typ, _ := strconv.Atoi(r["ServiceType"])
					if typ&3 != 0 && !strings.Contains(reasons, "ServiceType") {
						t.Errorf("driver service type %d not in reasons %q", typ, p.Reasons)
					}
				}
			}
			if !reflect.DeepEqual(f.Services, wantSvc) {
				t.Errorf("services %+v, want %+v", f.Services, wantSvc)
			}

			// Scripts, from msiinfo's CustomAction.
			var wantScripts []string
			for _, r := range msiinfoExport(t, path, "CustomAction").maps() {
				wantScripts = append(wantScripts, r["Action"]+" type "+r["Type"])
			}
			var gotScripts, scripting []string
			for _, s := range f.Scripts {
				_, typ, _ := strings.Cut(s.Detail, "; type ")
				gotScripts = append(gotScripts, s.Name+" type "+typ)
				if s.Kind != "custom-action" {
					t.Errorf("script %s kind %q", s.Name, s.Kind)
				}
				if strings.HasPrefix(s.Detail, "vbscript") || strings.HasPrefix(s.Detail, "jscript") {
					scripting = append(scripting, s.Name)
				}
			}
			sort.Strings(wantScripts)
			sort.Strings(gotScripts)
			sort.Strings(scripting)
			if !reflect.DeepEqual(gotScripts, wantScripts) {
				t.Errorf("scripts %q, want %q", gotScripts, wantScripts)
			}
			if !reflect.DeepEqual(scripting, fx.wantScripting) {
				t.Errorf("scripting actions %q, want %q", scripting, fx.wantScripting)
			}

			// Files, from msiinfo's File.
			var names []string
			var bytes int64
			for _, r := range msiinfoExport(t, path, "File").maps() {
				n, _ := strconv.ParseInt(r["FileSize"], 10, 64)
				bytes += n
				names = append(names, longName(r["FileName"]))
			}
			sort.Strings(names)
			if f.Files == nil || f.Files.Count != len(names) || f.Files.Bytes != bytes || !reflect.DeepEqual(f.Files.Sample, names) {
				t.Errorf("files %+v, want %d files, %d bytes, %q", f.Files, len(names), bytes, names)
			}

			// Signature.
			wantSig := facts.SigUnsigned
			if fx.sign {
				wantSig = facts.SigUntrusted
			}
			if f.Signature == nil || f.Signature.State != wantSig {
				t.Errorf("signature %+v, want %s", f.Signature, wantSig)
			}
			if fx.sign && (f.Signature.Format != "authenticode" || !strings.Contains(strings.Join(f.NotInspected, "\n"), "packaging/authenticode")) {
				t.Errorf("signed: signature %+v, not inspected %q", f.Signature, f.NotInspected)
			}

			if len(f.Components) != 1 || f.Components[0].PURL != "pkg:generic/Foo%20App@1.2.3" || f.Components[0].Supplier != "Acme Corp" {
				t.Errorf("components %+v", f.Components)
			}
			if len(f.NotInspected) < 3 {
				t.Errorf("not inspected %q", f.NotInspected)
			}
		})
	}
}

func msiHasTable(t testing.TB, path, name string) bool {
	for _, n := range msiinfoLines(t, "tables", path) {
		if n == name {
			return true
		}
	}
	return false
}

// Detection candidates: the product code, the Registry rows and the File
// rows with their folders, against msiinfo's tables.
func TestDetectionCandidates(t *testing.T) {
	files := buildFixtures(t)
	path := files["machine-x64-service"]
	d := openFile(t, path, facts.Limits{})
	got, err := d.DetectionCandidates()
	if err != nil {
		t.Fatal(err)
	}
	props := msiinfoProps(t, path)
	reg := msiinfoExport(t, path, "Registry").maps()[0]
	want := []DetectionCandidate{
		{Kind: "product_code", ProductCode: props["ProductCode"], Version: "1.2.3"},
		{Kind: "registry", Hive: "HKLM", Key: reg["Key"], ValueName: reg["Name"], Value: reg["Value"], Component: "MainExe", Win64: true},
		{Kind: "file", FileName: "application-long-name.exe", Path: `[ProgramFiles64Folder]Foo\`, Component: "MainExe", KeyPath: true, Win64: true},
		{Kind: "file", FileName: "foo.sys", Path: `[ProgramFiles64Folder]Foo\`, Component: "Drv", KeyPath: true, Win64: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("candidates\n got  %+v\n want %+v", got, want)
	}
	u := openFile(t, files["user-x86"], facts.Limits{})
	got, err = u.DetectionCandidates()
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Hive != "HKCU" || got[1].Win64 || got[2].Path != `[LocalAppDataFolder]Foo\` {
		t.Fatalf("per-user candidates %+v", got)
	}
}

// A fixture rewritten stream for stream by the Go CFB writer, as version
// 3 and version 4 (4096-byte sectors), has the same facts; msiinfo reads
// the version 3 rewrite as it reads the original (the writer is faithful).
func TestRewrittenContainersKeepFacts(t *testing.T) {
	files := buildFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			path := files[fx.name]
			want := inspectFile(t, path, facts.Limits{})
			d := openFile(t, path, facts.Limits{})
			for _, ss := range []int{512, 4096} {
				b := rebuild(t, d, ss, nil).bytes()
				got, err := Inspect(bytes.NewReader(b), int64(len(b)), facts.Options{})
				if err != nil {
					t.Fatalf("sector size %d: %v", ss, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("sector size %d: facts differ\n got  %+v\n want %+v", ss, got, want)
				}
				if ss == 512 {
					p := filepath.Join(t.TempDir(), "rewritten.msi")
					if err := os.WriteFile(p, b, 0o644); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(msiinfoProps(t, p), msiinfoProps(t, path)) {
						t.Fatalf("msiinfo reads the rewrite differently")
					}
				}
			}
		})
	}
}

// widenRefs rewrites every table stream with 3-byte string references
// and sets the long-reference flag in the string pool.
func widenRefs(t testing.TB, d *Database) func([]cfbStream) []cfbStream {
	return func(streams []cfbStream) []cfbStream {
		for i := range streams {
			name, tbl := DecodeStreamName(streams[i].raw)
			if !tbl {
				continue
			}
			var cols []Column
			switch name {
			case "_StringPool":
				binary.LittleEndian.PutUint32(streams[i].data, binary.LittleEndian.Uint32(streams[i].data)|flagLongRefs)
				continue
			case "_StringData":
				continue
			case "_Tables":
				cols = []Column{{Name: "Name", Type: 0x2D40}}
			case "_Columns":
				cols = []Column{{Name: "Table", Type: 0x2D40}, {Name: "Number", Type: 0x2502}, {Name: "Name", Type: 0x0D40}, {Name: "Type", Type: 0x0502}}
			default:
				cols = d.columns[name]
			}
			old, rowSize := 0, 0
			for _, c := range cols {
				w, _ := c.width(2)
				old += w
				w, _ = c.width(3)
				rowSize += w
			}
			rows := len(streams[i].data) / old
			out := make([]byte, 0, rows*rowSize)
			src := streams[i].data
			for _, c := range cols {
				w, _ := c.width(2)
				for r := 0; r < rows; r++ {
					out = append(out, src[r*w:r*w+w]...)
					if c.IsString() {
						out = append(out, 0)
					}
				}
				src = src[rows*w:]
			}
			streams[i].data = out
		}
		return streams
	}
}

// 3-byte string references (the pool's long-reference flag) read the
// same facts.
func TestLongStringRefs(t *testing.T) {
	files := buildFixtures(t)
	path := files["machine-x64-service"]
	want := inspectFile(t, path, facts.Limits{})
	d := openFile(t, path, facts.Limits{})
	b := rebuild(t, d, 512, widenRefs(t, d)).bytes()
	wd, err := Open(bytes.NewReader(b), int64(len(b)), facts.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !wd.Pool().LongRefs || wd.ref != 3 {
		t.Fatalf("long refs not seen")
	}
	got, err := wd.Facts()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("facts differ\n got  %+v\n want %+v", got, want)
	}
}

// A string of 64 KiB or more takes two pool entries; msibuild writes one.
func TestLongString(t *testing.T) {
	files := buildFixtures(t)
	p := filepath.Join(t.TempDir(), "long.msi")
	b, err := os.ReadFile(files["user-x86"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("0123456789", 7000)
	if _, err := run(t.TempDir(), "msibuild", p, "-q", "INSERT INTO `Property` (`Property`, `Value`) VALUES ('LONGPROP', '"+long+"')"); err != nil {
		t.Fatal(err)
	}
	d := openFile(t, p, facts.Limits{})
	if got := d.Property("LONGPROP"); got != long || msiinfoProps(t, p)["LONGPROP"] != long {
		t.Fatalf("long property: %d bytes", len(got))
	}
	if d.Property("ProductName") != "Foo App" {
		t.Fatalf("strings after the long one are misread: %q", d.Property("ProductName"))
	}
}

func TestStreamNameCodec(t *testing.T) {
	for _, c := range []struct {
		name  string
		table bool
	}{
		{"Property", true}, {"_StringPool", true}, {"Binary.VbsBin", false}, {"app.cab", false},
		{"A", true}, {"ab", false}, {"x.y_z9", false}, {"\x05SummaryInformation", false}, {"with space", false},
	} {
		raw := EncodeStreamName(c.name, c.table)
		got, tbl := DecodeStreamName(raw)
		if got != c.name || tbl != c.table {
			t.Errorf("%q: round trip %q %v", c.name, got, tbl)
		}
	}
}

// Every name libmsi wrote packs back to the same code units.
func TestStreamNamesAsLibmsiPacksThem(t *testing.T) {
	files := buildFixtures(t)
	d := openFile(t, files["signed"], facts.Limits{})
	tables := 0
	for _, e := range d.Entries() {
		if got := EncodeStreamName(e.Name, e.Table); !reflect.DeepEqual(got, e.Raw) {
			t.Errorf("%q (table %v) packs to %x, libmsi wrote %x", e.Name, e.Table, got, e.Raw)
		}
		if e.Table {
			tables++
		}
	}
	if tables < 10 {
		t.Fatalf("only %d table streams", tables)
	}
}

func TestDecodeCustomAction(t *testing.T) {
	for _, c := range []struct {
		typ                int64
		kind, from         string
		deferred, asSystem bool
		detail             string
	}{
		{1, "dll", "Binary table", false, false, "immediate"},
		{17, "dll", "installed file", false, false, "immediate"},
		{2, "exe", "Binary table", false, false, "immediate"},
		{34, "exe", "command line with a working directory", false, false, "immediate"},
		{50 | 0x400 | 0x800 | 0x40, "exe", "property", true, true, "runs as LocalSystem, return code ignored"},
		{5, "jscript", "Binary table", false, false, "immediate"},
		{37, "jscript", "inline", false, false, "immediate"},
		{6 | 0x400 | 0x800, "vbscript", "Binary table", true, true, "deferred (in-script), no-impersonate: runs as LocalSystem"},
		{38, "vbscript", "inline", false, false, "immediate"},
		{22, "vbscript", "installed file", false, false, "immediate"},
		{54, "vbscript", "property", false, false, "immediate"},
		{51, "set-property", "", false, false, "set-property"},
		{35, "set-directory", "", false, false, "set-directory"},
		{19, "error", "", false, false, "error"},
		{7, "nested-install", "substorage", false, false, "immediate"},
		{1 | 0x400 | 0x100, "dll", "Binary table", true, false, "deferred rollback"},
		{1 | 0x400 | 0x200, "dll", "Binary table", true, false, "deferred commit"},
		{0x805, "jscript", "Binary table", false, false, "no effect on an immediate action"},
		{0x101, "dll", "Binary table", false, false, "first sequence only"},
		{0x1006 | 0x400, "vbscript", "Binary table", true, false, "64-bit script"},
		{0, "unknown", "", false, false, "unknown"},
		{4, "unknown", "", false, false, "unknown"},
	} {
		ca := DecodeCustomAction("A", c.typ, "S", "T")
		if ca.Kind != c.kind || ca.From != c.from || ca.Deferred != c.deferred || ca.AsSystem != c.asSystem ||
			!strings.Contains(ca.Detail(), c.detail) || !strings.HasSuffix(ca.Detail(), fmt.Sprintf("; type %d", c.typ)) {
			t.Errorf("type %d: %+v detail %q", c.typ, ca, ca.Detail())
		}
	}
}

func TestDecodeCodepage(t *testing.T) {
	for _, c := range []struct {
		cp   uint32
		in   string
		want string
	}{
		{1252, "caf\xe9 \x80", "café €"},
		{0, "plain", "plain"},
		{65001, "caf\xc3\xa9", "café"},
		{28591, "\xe9\x80", "é\u0080"},
		{1250, "caf\xc3\xa9", "café"}, // valid UTF-8 in another codepage is kept
		{1250, "\xe9", "é"},           // else read as Windows-1252
	} {
		if got := decodeCodepage(c.cp, []byte(c.in)); got != c.want {
			t.Errorf("cp %d %q: %q, want %q", c.cp, c.in, got, c.want)
		}
	}
}

// Every wixl fixture cut at any sector boundary (header, FAT, directory,
// mini stream, streams) or inside a sector is a defect.
func TestTruncatedFixtures(t *testing.T) {
	files := buildFixtures(t)
	n := 0
	for _, fx := range fixtures {
		b, err := os.ReadFile(files[fx.name])
		if err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut < len(b); cut += 256 {
			_, err := inspectBytes(b[:cut], zeroLimits)
			var de *facts.DefectError
			if !errors.As(err, &de) {
				t.Fatalf("%s cut at %d of %d: %v", fx.name, cut, len(b), err)
			}
			n++
		}
	}
	t.Logf("%d truncated files", n)
}
