package deb

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
)

// pkgFile is one file of a package tree built by buildDeb.
type pkgFile struct {
	path string // relative to the root, e.g. "usr/bin/demo" or "DEBIAN/postinst"
	mode os.FileMode
	body string
	link string // a symlink to this target instead
}

// demoControl is the control file of the full demo package.
const demoControl = `Package: eucora-demo
Version: 1:2.4.1-3
Architecture: amd64
Maintainer: EUCORA Packaging <pkg@eucora.example>
Installed-Size: 12
Pre-Depends: init-system-helpers (>= 1.54~)
Depends: libc6 (>= 2.34), adduser,
 libssl3 (>= 3.0.0) | libssl1.1
Section: admin
Priority: optional
Homepage: https://eucora.example/demo
Description: demo daemon for the factory tests
 It ships a setuid helper, a systemd service and socket,
 a kernel module and a DKMS tree.
 .
 Nothing here runs.
`

// demoFiles is the full demo package: every fact the reader finds.
func demoFiles() []pkgFile {
	return []pkgFile{
		{path: "DEBIAN/control", mode: 0o644, body: demoControl},
		{path: "DEBIAN/conffiles", mode: 0o644, body: "/etc/demo/demo.conf\nremove-on-upgrade /etc/demo/old.conf\n"},
		{path: "DEBIAN/preinst", mode: 0o755, body: "#!/bin/sh\nset -e\nexit 0\n"},
		{path: "DEBIAN/postinst", mode: 0o755, body: "#!/bin/bash -e\nadduser --system demo || true\n"},
		{path: "DEBIAN/prerm", mode: 0o755, body: "#!/usr/bin/perl -w\nexit 0;\n"},
		{path: "DEBIAN/postrm", mode: 0o755, body: "#!/bin/sh\nexit 0\n"},
		{path: "DEBIAN/md5sums", mode: 0o644, body: "d41d8cd98f00b204e9800998ecf8427e  usr/bin/demo\n"},
		{path: "DEBIAN/templates", mode: 0o644, body: "Template: demo/question\nType: boolean\n"},
		{path: "DEBIAN/config", mode: 0o755, body: "#!/bin/sh\n. /usr/share/debconf/confmodule\n"},
		{path: "DEBIAN/triggers", mode: 0o644, body: "# comment\ninterest-noawait /usr/lib/demo/plugins\nactivate-noawait ldconfig\n"},
		{path: "etc/demo/demo.conf", mode: 0o644, body: "listen = 8443\n"},
		{path: "usr/bin/demo", mode: 0o755, body: "#!/bin/sh\necho demo\n"},
		{path: "usr/bin/demo-helper", mode: 0o4755, body: "\x7fELF pretend helper"},
		{path: "usr/bin/demo-mail", mode: 0o2755, body: "pretend mail"},
		{path: "usr/bin/demo-both", mode: 0o6750, body: "both"},
		{path: "usr/bin/demo-link", link: "demo"},
		{path: "lib/systemd/system/demo.service", mode: 0o644, body: "[Unit]\nDescription=Demo\n\n[Service]\nExecStart=/usr/bin/demo\nUser=demo\n\n[Install]\nWantedBy=multi-user.target \\\n  graphical.target\n"},
		{path: "lib/systemd/system/demo.socket", mode: 0o644, body: "[Socket]\nListenStream=0.0.0.0:8443\nListenDatagram=[::]:5353\n\n[Install]\nWantedBy=sockets.target\n"},
		{path: "usr/lib/systemd/system/demo-worker@.service", mode: 0o644, body: "[Service]\nDynamicUser=yes\nExecStart=/usr/bin/demo %i\n"},
		{path: "etc/systemd/system/demo-alias.service", link: "/lib/systemd/system/demo.service"},
		{path: "etc/init.d/demo", mode: 0o755, body: "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: demo\n# Default-Start: 2 3 4 5\n# Default-Stop: 0 1 6\n### END INIT INFO\nexit 0\n"},
		{path: "lib/modules/6.1.0-18-amd64/updates/dkms/demo.ko.xz", mode: 0o644, body: "not really a module"},
		{path: "usr/lib/modules/6.1.0-18-amd64/extra/demo2.ko", mode: 0o644, body: "not really a module"},
		{path: "usr/src/demo-2.4.1/dkms.conf", mode: 0o644, body: "PACKAGE_NAME=demo\n"},
		{path: "usr/share/doc/eucora-demo/copyright", mode: 0o644, body: "MIT\n"},
	}
}

// minimalFiles is a package with nothing but a file.
func minimalFiles() []pkgFile {
	return []pkgFile{
		{path: "DEBIAN/control", mode: 0o644, body: "Package: tiny\nVersion: 0.1\nArchitecture: all\nMaintainer: T <t@example>\nDescription: tiny\n"},
		{path: "usr/share/tiny/README", mode: 0o644, body: "hello\n"},
	}
}

// writeTree writes files under a new directory and returns it.
func writeTree(t testing.TB, files []pkgFile) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.link != "" {
			if err := os.Symlink(f.link, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(f.body), 0o644); err != nil {
			t.Fatal(err)
		}
		mode := f.mode & 0o777
		if f.mode&0o4000 != 0 {
			mode |= os.ModeSetuid
		}
		if f.mode&0o2000 != 0 {
			mode |= os.ModeSetgid
		}
		if err := os.Chmod(p, mode); err != nil { // after writing: umask and setuid bits
			t.Fatal(err)
		}
	}
	return root
}

// buildDeb builds a .deb with the real dpkg-deb, compressed with comp
// (gzip, xz, zstd, none), and returns its path.
func buildDeb(t testing.TB, files []pkgFile, comp string, extra ...string) string {
	t.Helper()
	testtool.Need(t, "apt-get install dpkg", "dpkg-deb")
	root := writeTree(t, files)
	out := filepath.Join(t.TempDir(), "pkg.deb")
	args := append([]string{"--root-owner-group", "-Z" + comp}, extra...)
	args = append(args, "--build", root, out)
	cmd := exec.Command("dpkg-deb", args...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, b)
	}
	return out
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(b)
}

func inspectFile(t *testing.T, path string, o facts.Options) (*facts.Facts, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Inspect(bytes.NewReader(b), int64(len(b)), o)
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// arEntry is one member for arBuild.
type arEntry struct {
	name string
	data []byte
}

// arBuild writes an ar archive as dpkg-deb does (names without the GNU
// "/", data padded to even length).
func arBuild(entries ...arEntry) []byte {
	var b bytes.Buffer
	b.WriteString(arMagic)
	for _, e := range entries {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", e.name, 1700000000, 0, 0, 0o100644, len(e.data))
		b.Write(e.data)
		if len(e.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// arMembers splits an ar archive into its members (for tests that
// rebuild a real .deb with one member changed).
func arMembers(t testing.TB, deb []byte) []arEntry {
	t.Helper()
	ms, err := readAr(bytes.NewReader(deb), int64(len(deb)))
	if err != nil {
		t.Fatal(err)
	}
	var out []arEntry
	for _, m := range ms {
		out = append(out, arEntry{m.name, deb[m.off : m.off+m.size]})
	}
	return out
}

// tarEntry is one member for tarBuild.
type tarEntry struct {
	name string
	mode int64
	body string
	typ  byte
}

func tarBuild(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.body)), Typeflag: e.typ, Format: tar.FormatGNU}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// handDeb builds a .deb from an uncompressed control.tar and data.tar.
func handDeb(t testing.TB, control, data []byte) []byte {
	return arBuild(arEntry{"debian-binary", []byte("2.0\n")}, arEntry{"control.tar", control}, arEntry{"data.tar", data})
}

func simpleControl(t testing.TB) []byte {
	return tarBuild(t, tarEntry{name: "./control", body: "Package: hand\nVersion: 1\nArchitecture: all\n"})
}

// wantDefect fails unless err is a *facts.DefectError whose message holds
// every part.
func wantDefect(t *testing.T, err error, parts ...string) {
	t.Helper()
	var d *facts.DefectError
	if !errors.As(err, &d) || !errors.Is(err, facts.ErrDefect) {
		t.Fatalf("err = %v (%T), want a *facts.DefectError", err, err)
	}
	if d.Kind != facts.KindDeb {
		t.Fatalf("defect kind %q, want deb", d.Kind)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("err = %q, want it to name %q", err, p)
		}
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
