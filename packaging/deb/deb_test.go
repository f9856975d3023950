package deb

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
)

// Every compression dpkg-deb writes gives the same facts, and those facts
// agree with what dpkg-deb itself reads from the file.
func TestInspectRealDebs(t *testing.T) {
	for _, comp := range []string{"gzip", "xz", "zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			deb := buildDeb(t, demoFiles(), comp)
			f, err := inspectFile(t, deb, facts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkDemoFacts(t, f)
			crossCheck(t, deb, f)
		})
	}
}

func checkDemoFacts(t *testing.T, f *facts.Facts) {
	t.Helper()
	if f.Kind != facts.KindDeb {
		t.Errorf("kind %q", f.Kind)
	}
	wantID := facts.Identity{Name: "eucora-demo", Version: "1:2.4.1-3", Vendor: "EUCORA Packaging <pkg@eucora.example>", Arch: "amd64"}
	if f.Identity != wantID {
		t.Errorf("identity %+v, want %+v", f.Identity, wantID)
	}
	if got := f.Fields["Description"]; got != "demo daemon for the factory tests\n It ships a setuid helper, a systemd service and socket,\n a kernel module and a DKMS tree.\n .\n Nothing here runs." {
		t.Errorf("Description %q", got)
	}
	wantDeps := []string{"libc6 (>= 2.34)", "adduser", "libssl3 (>= 3.0.0) | libssl1.1", "init-system-helpers (>= 1.54~)"}
	if !reflect.DeepEqual(f.Depends, wantDeps) {
		t.Errorf("depends %q, want %q", f.Depends, wantDeps)
	}
	wantScripts := []facts.Script{
		{Name: "preinst", Kind: "maintainer-script", Detail: "/bin/sh"},
		{Name: "postinst", Kind: "maintainer-script", Detail: "/bin/bash -e"},
		{Name: "prerm", Kind: "maintainer-script", Detail: "/usr/bin/perl -w"},
		{Name: "postrm", Kind: "maintainer-script", Detail: "/bin/sh"},
		{Name: "config", Kind: "maintainer-script", Detail: "/bin/sh"},
		{Name: "triggers", Kind: "maintainer-script", Detail: "dpkg triggers: interest-noawait /usr/lib/demo/plugins; activate-noawait ldconfig"},
	}
	if !reflect.DeepEqual(f.Scripts, wantScripts) {
		t.Errorf("scripts %+v\nwant %+v", f.Scripts, wantScripts)
	}
	fs := f.Files
	if fs == nil {
		t.Fatal("no file summary")
	}
	if want := []string{"etc/demo/demo.conf", "etc/demo/old.conf"}; !reflect.DeepEqual(fs.Conffiles, want) {
		t.Errorf("conffiles %q, want %q", fs.Conffiles, want)
	}
	units := slices.Clone(fs.SystemdUnits)
	slices.Sort(units)
	if want := []string{"etc/systemd/system/demo-alias.service", "lib/systemd/system/demo.service", "lib/systemd/system/demo.socket", "usr/lib/systemd/system/demo-worker@.service"}; !reflect.DeepEqual(units, want) {
		t.Errorf("units %q, want %q", units, want)
	}
	var bytes int64
	for _, p := range demoFiles() {
		if !strings.HasPrefix(p.path, "DEBIAN/") && p.link == "" {
			bytes += int64(len(p.body))
		}
	}
	if fs.Bytes != bytes {
		t.Errorf("bytes %d, want %d", fs.Bytes, bytes)
	}
	if !slices.IsSorted(fs.Sample) || len(fs.Sample) != fs.Count || !slices.Contains(fs.Sample, "usr/bin/demo-link") {
		t.Errorf("sample %q (count %d)", fs.Sample, fs.Count)
	}

	p := f.Privilege
	if !p.RequiresAdmin || !p.InstallsService || !p.InstallsDriver {
		t.Errorf("privilege %+v", p)
	}
	setuid := slices.Clone(p.Setuid)
	slices.Sort(setuid)
	if want := []string{"usr/bin/demo-both", "usr/bin/demo-helper", "usr/bin/demo-mail"}; !reflect.DeepEqual(setuid, want) {
		t.Errorf("setuid %q, want %q", setuid, want)
	}
	for _, r := range []string{
		"dpkg installs every package as root",
		"maintainer scripts run as root: preinst, postinst, prerm, postrm, config, triggers",
		"setuid file usr/bin/demo-helper (mode 4755)",
		"setgid file usr/bin/demo-mail (mode 2755)",
		"setuid and setgid file usr/bin/demo-both (mode 6750)",
		"systemd service lib/systemd/system/demo.service",
		"systemd service usr/lib/systemd/system/demo-worker@.service",
		"init script etc/init.d/demo",
		"kernel module lib/modules/6.1.0-18-amd64/updates/dkms/demo.ko.xz",
		"kernel module usr/lib/modules/6.1.0-18-amd64/extra/demo2.ko",
		"DKMS module source usr/src/demo-2.4.1",
	} {
		if !slices.Contains(p.Reasons, r) {
			t.Errorf("reasons %q lack %q", p.Reasons, r)
		}
	}

	services := slices.Clone(f.Services)
	slices.SortFunc(services, func(a, b facts.Service) int { return strings.Compare(a.Source, b.Source) })
	wantServices := []facts.Service{
		{Name: "demo", Start: "runlevels 2 3 4 5", Account: "root", Source: "etc/init.d/demo"},
		{Name: "demo.service", Start: "multi-user.target graphical.target", Account: "demo", Source: "lib/systemd/system/demo.service"},
		{Name: "demo-worker@.service", Account: "dynamic user", Source: "usr/lib/systemd/system/demo-worker@.service"},
	}
	if !reflect.DeepEqual(services, wantServices) {
		t.Errorf("services %+v\nwant %+v", services, wantServices)
	}
	wantListeners := []string{"ListenStream=0.0.0.0:8443 (lib/systemd/system/demo.socket)", "ListenDatagram=[::]:5353 (lib/systemd/system/demo.socket)"}
	if !reflect.DeepEqual(f.Listeners, wantListeners) {
		t.Errorf("listeners %q, want %q", f.Listeners, wantListeners)
	}
	wantComp := []facts.Component{{Name: "eucora-demo", Version: "1:2.4.1-3", Ecosystem: "Debian", PURL: "pkg:deb/debian/eucora-demo@1:2.4.1-3?arch=amd64", Supplier: "EUCORA Packaging <pkg@eucora.example>"}}
	if !reflect.DeepEqual(f.Components, wantComp) {
		t.Errorf("components %+v", f.Components)
	}
	if f.Signature == nil || f.Signature.State != facts.SigUnsigned {
		t.Errorf("signature %+v, want unsigned", f.Signature)
	}
	if len(f.NotInspected) == 0 || !slices.Contains(f.NotInspected, "md5sums (not checked against data.tar)") || !slices.Contains(f.NotInspected, "control members templates") {
		t.Errorf("not inspected %q", f.NotInspected)
	}
}

// crossCheck compares the facts with dpkg-deb's own reading of the file:
// every control field (dpkg-deb -f), the non-directory entries
// (dpkg-deb -c) and the conffiles (dpkg-deb -I).
func crossCheck(t *testing.T, deb string, f *facts.Facts) {
	t.Helper()
	all := run(t, "dpkg-deb", "-f", deb)
	var names []string
	for _, line := range strings.Split(all, "\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && line != "" && line[0] != ' ' {
			names = append(names, k)
		}
	}
	if len(names) != len(f.Fields) {
		t.Errorf("dpkg-deb -f lists fields %q, facts have %d: %v", names, len(f.Fields), f.Fields)
	}
	// dpkg-deb -f DEB FIELD... prints "Field: value" with continuation
	// lines as they are; one FIELD alone prints the value.
	values := map[string]string{}
	last := ""
	for _, line := range strings.Split(strings.TrimSuffix(run(t, "dpkg-deb", append([]string{"-f", deb}, names...)...), "\n"), "\n") {
		if line != "" && line[0] == ' ' {
			values[last] += "\n" + line
			continue
		}
		k, v, _ := strings.Cut(line, ": ")
		values[k], last = v, k
	}
	if len(names) > 0 {
		if one := strings.TrimSuffix(run(t, "dpkg-deb", "-f", deb, "Description"), "\n"); one != values["Description"] {
			t.Errorf("dpkg-deb -f Description %q, in the list %q", one, values["Description"])
		}
	}
	for _, k := range names {
		if f.Fields[k] != values[k] {
			t.Errorf("field %s = %q, dpkg-deb -f says %q", k, f.Fields[k], values[k])
		}
	}
	var files []string
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		if line != "" && line[0] != 'd' {
			fields := strings.Fields(line)
			name := fields[5]
			files = append(files, strings.TrimPrefix(name, "./"))
		}
	}
	if len(files) != f.Files.Count {
		t.Errorf("dpkg-deb -c lists %d files, facts count %d", len(files), f.Files.Count)
	}
	slices.Sort(files)
	if len(files) <= sampleSize && !reflect.DeepEqual(files, f.Files.Sample) {
		t.Errorf("dpkg-deb -c files %q, sample %q", files, f.Files.Sample)
	}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		if strings.HasPrefix(line, "-rws") || strings.HasPrefix(line, "-rwx--s") || strings.Contains(line[:10], "s") || strings.Contains(line[:10], "S") {
			name := strings.TrimPrefix(strings.Fields(line)[5], "./")
			if !slices.Contains(f.Privilege.Setuid, name) {
				t.Errorf("dpkg-deb -c shows %q setuid/setgid, facts %q", line, f.Privilege.Setuid)
			}
		}
	}
	if cf, err := exec.Command("dpkg-deb", "-I", deb, "conffiles").Output(); err == nil {
		var want []string
		for _, l := range strings.Fields(string(cf)) {
			if strings.HasPrefix(l, "/") {
				want = append(want, strings.TrimPrefix(l, "/"))
			}
		}
		if !reflect.DeepEqual(want, f.Files.Conffiles) {
			t.Errorf("dpkg-deb -I conffiles %q, facts %q", want, f.Files.Conffiles)
		}
	}
}

func TestInspectMinimalDeb(t *testing.T) {
	deb := buildDeb(t, minimalFiles(), "xz")
	f, err := inspectFile(t, deb, facts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	crossCheck(t, deb, f)
	p := f.Privilege
	if !p.RequiresAdmin || p.InstallsService || p.InstallsDriver || len(p.Setuid) != 0 {
		t.Errorf("privilege %+v", p)
	}
	if !reflect.DeepEqual(p.Reasons, []string{"dpkg installs every package as root"}) {
		t.Errorf("reasons %q", p.Reasons)
	}
	if len(f.Scripts) != 0 || len(f.Services) != 0 || len(f.Listeners) != 0 || len(f.Depends) != 0 {
		t.Errorf("facts %+v", f)
	}
	if f.Files.Count != 1 || f.Files.Bytes != 6 || f.Files.Sample[0] != "usr/share/tiny/README" {
		t.Errorf("files %+v", f.Files)
	}
	if f.Components[0].PURL != "pkg:deb/debian/tiny@0.1?arch=all" {
		t.Errorf("purl %q", f.Components[0].PURL)
	}
}

// dpkg reads data.tar.bz2 and .lzma, which dpkg-deb no longer writes: the
// test recompresses a real data.tar with the bzip2 and xz tools, and
// dpkg-deb -c reads the result as the reader does.
func TestInspectBzip2AndLzmaData(t *testing.T) {
	for _, c := range []struct {
		suffix string
		tool   []string
	}{
		{".bz2", []string{"bzip2", "-c"}},
		{".lzma", []string{"xz", "--format=lzma", "-c"}},
	} {
		t.Run(c.suffix, func(t *testing.T) {
			testtool.Need(t, "apt-get install bzip2 xz-utils", c.tool[0])
			ms := arMembers(t, mustRead(t, buildDeb(t, demoFiles(), "none")))
			cmd := exec.Command(c.tool[0], c.tool[1:]...)
			cmd.Stdin = bytes.NewReader(ms[2].data)
			z, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			ms[2] = arEntry{"data.tar" + c.suffix, z}
			deb := filepath.Join(t.TempDir(), "re.deb")
			writeFile(t, deb, arBuild(ms...))
			f, err := inspectFile(t, deb, facts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkDemoFacts(t, f)
			crossCheck(t, deb, f)
		})
	}
}

// Members starting with "_" may stand between the required ones, and
// anything after data.tar is ignored, as dpkg does; GNU ar's "name/" form
// is read.
func TestInspectExtraMembers(t *testing.T) {
	ms := arMembers(t, mustRead(t, buildDeb(t, minimalFiles(), "gzip")))
	deb := arBuild(ms[0], arEntry{"_extra", []byte("x")}, ms[1], arEntry{"_more", nil}, ms[2], arEntry{"zzz-later", []byte("ignored")})
	f, err := Inspect(bytes.NewReader(deb), int64(len(deb)), facts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Identity.Name != "tiny" || !slices.Contains(f.NotInspected, "ar members _extra, _more, zzz-later (ignored, as dpkg ignores them)") {
		t.Errorf("facts %+v", f)
	}
	// GNU ar writes "debian-binary/": rebuild the archive with ar itself.
	testtool.Need(t, "apt-get install binutils", "ar")
	dir := t.TempDir()
	var names []string
	for _, m := range ms {
		writeFile(t, filepath.Join(dir, m.name), m.data)
		names = append(names, m.name)
	}
	cmd := exec.Command("ar", append([]string{"rc", "gnu.deb"}, names...)...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ar: %v\n%s", err, b)
	}
	if !bytes.Contains(mustRead(t, filepath.Join(dir, "gnu.deb")), []byte("debian-binary/")) {
		t.Fatal("ar did not write GNU names")
	}
	f, err = inspectFile(t, filepath.Join(dir, "gnu.deb"), facts.Options{})
	if err != nil || f.Identity.Name != "tiny" {
		t.Fatalf("GNU ar deb: %v %+v", err, f)
	}
}

func TestParseUnit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want unitFile
	}{
		{"[Service]\nUser=www-data\n[Install]\nWantedBy=multi-user.target\n", unitFile{wantedBy: []string{"multi-user.target"}, user: "www-data"}},
		{"[Install]\nWantedBy=a.target\nWantedBy=\nWantedBy=b.target c.target\nRequiredBy=d.target\n", unitFile{wantedBy: []string{"b.target", "c.target"}, requiredBy: []string{"d.target"}}},
		{"# comment\n; also\n[Socket]\nListenStream=80\nListenStream=\nListenStream=/run/x.sock\nListenSequentialPacket=@abstract\n", unitFile{listen: []string{"ListenStream=/run/x.sock", "ListenSequentialPacket=@abstract"}}},
		{"[Service]\r\nUser = nobody \r\n", unitFile{user: "nobody"}},
		{"[Unit]\nUser=notservice\nWantedBy=x\n", unitFile{}},
		{"garbage\n[broken\n=\n", unitFile{}},
		{"[Install]\nWantedBy=a\\\n", unitFile{wantedBy: []string{"a"}}},
	} {
		if got := parseUnit([]byte(c.in)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseUnit(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseControl(t *testing.T) {
	good := []struct {
		in   string
		want map[string]string
	}{
		{"Package: a\nVersion: 1\n", map[string]string{"Package": "a", "Version": "1"}},
		{"Package: a\r\nDescription: x\r\n y\r\n\n\n", map[string]string{"Package": "a", "Description": "x\n y"}},
		{"Package:a\nEmpty:\n", map[string]string{"Package": "a", "Empty": ""}},
	}
	for _, c := range good {
		got, _, err := parseControl([]byte(c.in))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseControl(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", "no fields"},
		{" cont\nPackage: a\n", "continuation line before any field"},
		{"Package: a\nPackage: b\n", "field Package twice"},
		{"Package: a\n\nPackage: b\n", "more than one paragraph"},
		{"Package a\n", "is not a field"},
		{"# comment: x\n", "is not a field"},
		{"Pack age: x\n", "is not a field"},
	} {
		if _, _, err := parseControl([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseControl(%q) err %v, want %q", c.in, err, c.want)
		}
	}
}

func TestPURL(t *testing.T) {
	for _, c := range [][4]string{
		{"curl", "7.88.1-10+deb12u5", "amd64", "pkg:deb/debian/curl@7.88.1-10+deb12u5?arch=amd64"},
		{"Foo", "1:2.0~rc1", "", "pkg:deb/debian/foo@1:2.0~rc1"},
		{"", "1", "all", ""},
	} {
		if got := PURL(c[0], c[1], c[2]); got != c[3] {
			t.Errorf("PURL%q = %q, want %q", c[:3], got, c[3])
		}
	}
}

// A pax global header (as git archive writes) is not a file; dpkg-deb
// does not list it either.
func TestInspectPaxGlobalHeader(t *testing.T) {
	testtool.Need(t, "apt-get install dpkg", "dpkg-deb")
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "abc"}, Format: tar.FormatPAX})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./usr/", Mode: 0o755})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./usr/x", Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	deb := filepath.Join(t.TempDir(), "pax.deb")
	writeFile(t, deb, handDeb(t, tarBuild(t, tarEntry{name: "./control", body: "Package: pax\nVersion: 1\nArchitecture: all\nMaintainer: M <m@example>\nDescription: d\n"}), data.Bytes()))
	f, err := inspectFile(t, deb, facts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	crossCheck(t, deb, f)
	if f.Files.Count != 1 {
		t.Errorf("count %d", f.Files.Count)
	}
}

// Reasons name each file, up to 100 of a kind, then count the rest.
func TestReasonsCapped(t *testing.T) {
	var entries []tarEntry
	for i := 0; i < 150; i++ {
		entries = append(entries, tarEntry{name: fmt.Sprintf("./lib/modules/6.1/kernel/m%03d.ko", i), body: "x"})
	}
	entries = append(entries, tarEntry{name: "./usr/bin/su", body: "x", mode: 0o4755})
	deb := handDeb(t, simpleControl(t), tarBuild(t, entries...))
	f, err := Inspect(bytes.NewReader(deb), int64(len(deb)), facts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := f.Privilege.Reasons
	if !slices.Contains(r, "kernel module lib/modules/6.1/kernel/m099.ko") || slices.Contains(r, "kernel module lib/modules/6.1/kernel/m100.ko") ||
		!slices.Contains(r, "and 50 more kernel module") || !slices.Contains(r, "setuid file usr/bin/su (mode 4755)") || !f.Privilege.InstallsDriver {
		t.Errorf("reasons %q", r)
	}
}
