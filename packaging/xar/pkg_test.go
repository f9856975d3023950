package xar

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
)

func inspect(t testing.TB, b []byte, o facts.Options) (*facts.Facts, error) {
	t.Helper()
	return InspectPkg(bytes.NewReader(b), int64(len(b)), o)
}

func mustInspect(t testing.TB, b []byte, o facts.Options) *facts.Facts {
	t.Helper()
	f, err := inspect(t, b, o)
	if err != nil {
		t.Fatalf("InspectPkg: %v", err)
	}
	return f
}

func TestInspectPkgProductArchive(t *testing.T) {
	f := mustInspect(t, productArchive(t, xarOpts{}), facts.Options{})
	if f.Kind != facts.KindPkg {
		t.Errorf("Kind = %q", f.Kind)
	}
	want := facts.Identity{Name: "Foo App", Version: "2.3.4", ID: "com.example.foo", Arch: "universal"}
	if f.Identity != want {
		t.Errorf("Identity = %+v, want %+v", f.Identity, want)
	}
	if len(f.Components) != 1 || f.Components[0].Name != "com.example.foo.pkg" || f.Components[0].Version != "2.3.4" {
		t.Errorf("Components = %+v", f.Components)
	}
	if f.Signature == nil || f.Signature.State != facts.SigUnsigned || f.Signature.Format != "xar-rsa" {
		t.Errorf("Signature = %+v", f.Signature)
	}
	p := f.Privilege
	if !p.RequiresAdmin || !p.InstallsService || !p.InstallsDriver {
		t.Errorf("Privilege = %+v", p)
	}
	if !slices.Equal(p.Setuid, []string{"/usr/local/bin/foohelper"}) {
		t.Errorf("Setuid = %v", p.Setuid)
	}
	for _, r := range []string{
		"PackageInfo of foo.pkg: auth=root",
		"Distribution pkg-ref com.example.foo.pkg auth=Root",
		"payload of foo.pkg installs kernel extension /Library/Extensions/Foo.kext",
		"setuid file /usr/local/bin/foohelper (mode 4755) in foo.pkg",
		"LaunchDaemon com.example.foo.helper (/Library/LaunchDaemons/com.example.foo.helper.plist in foo.pkg, runs as _foo)",
	} {
		if !slices.Contains(p.Reasons, r) {
			t.Errorf("no reason %q in %q", r, p.Reasons)
		}
	}
	wantSvc := []facts.Service{{Name: "com.example.foo.helper", Start: "RunAtLoad, KeepAlive", Account: "_foo", Source: "/Library/LaunchDaemons/com.example.foo.helper.plist"}}
	if !slices.Equal(f.Services, wantSvc) {
		t.Errorf("Services = %+v", f.Services)
	}
	if !slices.Equal(f.Listeners, []string{"launchd socket com.example.foo.helper/Listeners: tcp *:8443"}) {
		t.Errorf("Listeners = %q", f.Listeners)
	}
	var names []string
	for _, s := range f.Scripts {
		names = append(names, s.Name)
		if s.Kind != "pkg-script" {
			t.Errorf("script %q kind %q", s.Name, s.Kind)
		}
	}
	if !slices.Equal(names, []string{"Distribution installer JavaScript", "preinstall", "postinstall", "helper.py"}) {
		t.Errorf("Scripts = %q", names)
	}
	if d := f.Scripts[0].Detail; !strings.Contains(d, "system.run") {
		t.Errorf("Distribution script detail %q", d)
	}
	if d := f.Scripts[1].Detail; d != "foo.pkg Scripts archive; PackageInfo preinstall; #!/bin/bash" {
		t.Errorf("preinstall detail %q", d)
	}
	if f.Files == nil || f.Files.Count != 5 || !slices.Contains(f.Files.Sample, "/usr/local/bin/foohelper") || !slices.IsSorted(f.Files.Sample) {
		t.Errorf("Files = %+v", f.Files)
	}
	if f.Files != nil && f.Files.Bytes != int64(len("\xcf\xfa\xed\xfe fake mach-o")+len(daemonPlist)+len("<plist/>")+len("kext")+len("#!/bin/sh\nexec true\n")) {
		t.Errorf("Files.Bytes = %d", f.Files.Bytes)
	}
	if !slices.Equal(f.Depends, []string{"macOS >= 12.0"}) {
		t.Errorf("Depends = %q", f.Depends)
	}
	for k, v := range map[string]string{"title": "Foo App", "product id": "com.example.foo", "foo.pkg identifier": "com.example.foo.pkg", "foo.pkg install-location": "/", "hostArchitectures": "x86_64,arm64"} {
		if f.Fields[k] != v {
			t.Errorf("Fields[%q] = %q, want %q", k, f.Fields[k], v)
		}
	}
	if !strings.HasPrefix(f.Fields["toc checksum"], "sha1:") {
		t.Errorf("toc checksum field %q", f.Fields["toc checksum"])
	}
	for _, n := range []string{NotInspectedNoTicket, NotInspectedBom, NotInspectedContents} {
		if !slices.Contains(f.NotInspected, n) {
			t.Errorf("NotInspected %q lacks %q", f.NotInspected, n)
		}
	}
}

// The payload built by GNU cpio itself, in both formats pkgbuild and
// ditto write (odc) and the SVR4 one (newc), from a real directory tree
// with a real setuid bit.
func TestInspectPkgPayloadFromRealCpio(t *testing.T) {
	testtool.Need(t, "apt-get install cpio", "cpio")
	root := t.TempDir()
	for p, content := range map[string]string{
		"Library/LaunchDaemons/com.example.bar.plist":                                           daemonPlist,
		"Library/SystemExtensions/ABCD/com.example.bar.net.systemextension/Contents/Info.plist": "x",
		"usr/local/sbin/barctl": "#!/bin/sh\n",
		"opt/bar/readme.txt":    "hello",
	} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "usr/local/sbin/barctl"), os.ModeSetuid|os.ModeSetgid|0o755); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"odc", "newc"} {
		t.Run(format, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", "find . | LC_ALL=C sort | cpio -o --quiet -H "+format)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("cpio: %v", err)
			}
			f := mustInspect(t, componentPkg(t, gzipBytes(out), xarOpts{}), facts.Options{})
			if f.Identity.ID != "com.example.foo.pkg" || f.Identity.Version != "2.3.4" || f.Identity.Name != "com.example.foo.pkg" {
				t.Errorf("Identity = %+v", f.Identity)
			}
			if f.Privilege.RequiresAdmin {
				t.Errorf("auth=none gives RequiresAdmin: %+v", f.Privilege)
			}
			if !slices.Equal(f.Privilege.Setuid, []string{"/usr/local/sbin/barctl"}) {
				t.Errorf("Setuid = %v", f.Privilege.Setuid)
			}
			if !slices.Contains(f.Privilege.Reasons, "setuid and setgid file /usr/local/sbin/barctl (mode 6755) in com.example.foo.pkg") {
				t.Errorf("Reasons = %q", f.Privilege.Reasons)
			}
			if !f.Privilege.InstallsDriver || !slices.Contains(f.Privilege.Reasons, "payload of com.example.foo.pkg installs system extension /Library/SystemExtensions/ABCD") {
				t.Errorf("system extension not found: %+v", f.Privilege)
			}
			if len(f.Services) != 1 || f.Services[0].Name != "com.example.foo.helper" {
				t.Errorf("Services = %+v", f.Services)
			}
			if f.Files == nil || f.Files.Count != 4 || f.Files.Bytes != int64(len(daemonPlist)+1+len("#!/bin/sh\n")+5) {
				t.Errorf("Files = %+v", f.Files)
			}
		})
	}
}

// bsdtar (libarchive) writes and reads xar: our reader reads what it
// writes, with each of its compressions and checksums, and it reads
// what our fixture builder writes, checksums verified.
func TestXarAgainstLibarchive(t *testing.T) {
	testtool.Need(t, "apt-get install libarchive-tools", "bsdtar")
	src := t.TempDir()
	files := map[string][]byte{
		"top.txt":          []byte("top level\n"),
		"d/e/nested.bin":   bytes.Repeat([]byte{0, 1, 2, 3, 250}, 3000),
		"d/empty":          {},
		"d/e/f/g/deep.txt": []byte(strings.Repeat("deep ", 100)),
	}
	for p, b := range files {
		full := filepath.Join(src, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, opt := range []string{
		"",
		"xar:compression=bzip2",
		"xar:compression=none",
		"xar:checksum=md5,xar:toc-checksum=md5",
		"xar:checksum=none,xar:toc-checksum=none",
	} {
		t.Run("libarchive writes "+opt, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "a.xar")
			args := []string{"--format", "xar", "-cf", out}
			if opt != "" {
				args = append(args, "--options", opt)
			}
			args = append(args, "top.txt", "d")
			cmd := exec.Command("bsdtar", args...)
			cmd.Dir = src
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("bsdtar: %v: %s", err, msg)
			}
			b, _ := os.ReadFile(out)
			a, err := Open(bytes.NewReader(b), int64(len(b)), facts.Limits{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			for p, want := range files {
				f := a.Lookup(p)
				if f == nil {
					t.Fatalf("no %s in %v", p, paths(a))
				}
				got, err := a.ReadFile(f, 1<<20)
				if err != nil {
					t.Fatalf("ReadFile(%s): %v", p, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: got %d bytes, want %d", p, len(got), len(want))
				}
			}
			if f := a.Lookup("d/e"); f == nil || f.Type != "directory" || f.Mode != 0o755 {
				t.Errorf("d/e = %+v", f)
			}
		})
	}
	t.Run("libarchive reads our fixture", func(t *testing.T) {
		p := pki(t)
		for _, o := range []xarOpts{{}, {cksum: "md5"}, {sign: p.valid}} {
			b := productArchive(t, o)
			path := filepath.Join(t.TempDir(), "p.pkg")
			os.WriteFile(path, b, 0o644)
			list, err := exec.Command("bsdtar", "-tf", path).CombinedOutput()
			if err != nil {
				t.Fatalf("bsdtar -t: %v: %s", err, list)
			}
			for _, name := range []string{"Distribution", "foo.pkg/PackageInfo", "foo.pkg/Payload", "foo.pkg/Scripts", "Resources/en.lproj"} {
				if !slices.Contains(strings.Split(strings.TrimSpace(string(list)), "\n"), name) {
					t.Errorf("bsdtar -t lacks %s:\n%s", name, list)
				}
			}
			pi, err := exec.Command("bsdtar", "-xOf", path, "foo.pkg/PackageInfo").Output()
			if err != nil || string(pi) != packageInfoXML {
				t.Errorf("bsdtar -xO foo.pkg/PackageInfo: %v, %q", err, pi)
			}
		}
		// And libarchive refuses our archive once a file's stored bytes change
		// under its archived-checksum, as our reader does.
		b := productArchive(t, xarOpts{})
		a, _ := Open(bytes.NewReader(b), int64(len(b)), facts.Limits{})
		d := a.Lookup("Distribution").Data
		b[a.heapStart+d.Offset+d.Length-1] ^= 0xff
		path := filepath.Join(t.TempDir(), "bad.pkg")
		os.WriteFile(path, b, 0o644)
		if out, err := exec.Command("bsdtar", "-xOf", path, "Distribution").CombinedOutput(); err == nil {
			t.Errorf("bsdtar extracted a corrupted file: %s", out)
		}
		if _, err := inspect(t, b, facts.Options{}); !errors.Is(err, facts.ErrDefect) {
			t.Errorf("InspectPkg of the corrupted file: %v", err)
		}
	})
}

func paths(a *Archive) []string {
	var out []string
	for _, f := range a.Files {
		out = append(out, f.Path)
	}
	return out
}

// The builder follows the format: checked field by field with the
// standard library alone.
func TestBuilderFollowsTheFormat(t *testing.T) {
	p := pki(t)
	b := productArchive(t, xarOpts{sign: p.valid})
	if string(b[:4]) != "xar!" || binary.BigEndian.Uint16(b[4:]) != 28 || binary.BigEndian.Uint16(b[6:]) != 1 || binary.BigEndian.Uint32(b[24:]) != 1 {
		t.Fatalf("header % x", b[:28])
	}
	clen := binary.BigEndian.Uint64(b[8:])
	ulen := binary.BigEndian.Uint64(b[16:])
	zr, err := zlib.NewReader(bytes.NewReader(b[28 : 28+clen]))
	if err != nil {
		t.Fatal(err)
	}
	tocXML, err := io.ReadAll(zr)
	if err != nil || uint64(len(tocXML)) != ulen {
		t.Fatalf("TOC: %v, %d bytes, header says %d", err, len(tocXML), ulen)
	}
	var doc struct {
		TOC struct {
			Checksum struct {
				Style  string `xml:"style,attr"`
				Offset int    `xml:"offset"`
				Size   int    `xml:"size"`
			} `xml:"checksum"`
			Signature struct {
				Style  string   `xml:"style,attr"`
				Offset int      `xml:"offset"`
				Size   int      `xml:"size"`
				Certs  []string `xml:"KeyInfo>X509Data>X509Certificate"`
			} `xml:"signature"`
		} `xml:"toc"`
	}
	if err := xml.Unmarshal(tocXML, &doc); err != nil {
		t.Fatal(err)
	}
	heap := b[28+clen:]
	c := doc.TOC.Checksum
	if c.Style != "sha1" || c.Offset != 0 || c.Size != 20 || !bytes.Equal(heap[:20], sum(crypto.SHA1, b[28:28+clen])) {
		t.Errorf("checksum %+v does not hold the SHA-1 of the compressed TOC", c)
	}
	s := doc.TOC.Signature
	if s.Style != "RSA" || s.Offset != 20 || s.Size != 256 || len(s.Certs) != 3 {
		t.Errorf("signature %+v", s)
	}
}

func TestSignatureStates(t *testing.T) {
	p := pki(t)
	trust := facts.NewTrustStore(p.root)
	for _, c := range []struct {
		name   string
		o      xarOpts
		trust  *facts.TrustStore
		now    time.Time
		state  facts.SignatureState
		detail string
	}{
		{"valid chain to the trusted root", xarOpts{sign: p.valid}, trust, time.Time{}, facts.SigTrusted, "chains to the trusted root CN=EUCORA Test Root"},
		{"valid, sha256 checksum named in the header", xarOpts{sign: p.valid, cksum: "sha256"}, trust, time.Time{}, facts.SigTrusted, "verifies"},
		{"valid, Apple's sha256 (alg 3, 28-byte header)", xarOpts{sign: p.valid, cksum: "sha256-apple"}, trust, time.Time{}, facts.SigTrusted, "verifies"},
		{"valid, md5 checksum", xarOpts{sign: p.valid, cksum: "md5"}, trust, time.Time{}, facts.SigTrusted, "verifies"},
		{"valid but no trust store", xarOpts{sign: p.valid}, nil, time.Time{}, facts.SigUntrusted, "no trust store is configured"},
		{"valid, judged after the leaf expired", xarOpts{sign: p.valid}, trust, time.Now().Add(2 * 365 * 24 * time.Hour), facts.SigExpired, "outside its validity"},
		{"expired leaf", xarOpts{sign: p.expired}, trust, time.Time{}, facts.SigExpired, "no trusted timestamp"},
		{"untrusted root", xarOpts{sign: p.stray}, trust, time.Time{}, facts.SigUntrusted, "does not chain to a configured root"},
		{"TOC tampered after signing (checksum recomputed)", xarOpts{sign: p.valid, tamperTOC: func(s string) string {
			return strings.Replace(s, "<name>Distribution</name>", "<name>Distributio2</name>", 1)
		}}, trust, time.Time{}, facts.SigInvalid, "does not verify over the TOC checksum"},
		{"signed with the wrong DigestInfo", xarOpts{sign: p.valid, sigHash: crypto.SHA256}, trust, time.Time{}, facts.SigInvalid, "does not verify"},
		{"CMS beside RSA", xarOpts{sign: p.valid, cms: true}, trust, time.Time{}, facts.SigTrusted, "CMS signature"},
		{"unsigned", xarOpts{}, trust, time.Time{}, facts.SigUnsigned, "no signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := mustInspect(t, productArchive(t, c.o), facts.Options{Trust: c.trust, Now: c.now})
			s := f.Signature
			if s == nil || s.State != c.state || !strings.Contains(s.Detail, c.detail) {
				t.Fatalf("Signature = %+v, want %s with %q", s, c.state, c.detail)
			}
			if c.o.sign != nil {
				if s.Signer != c.o.sign.chain[0].Subject.String() || s.Issuer != c.o.sign.chain[0].Issuer.String() || s.NotAfter == nil {
					t.Errorf("signer %q issuer %q", s.Signer, s.Issuer)
				}
				if s.State != facts.SigInvalid && len(s.Chain) < 2 {
					t.Errorf("Chain = %q", s.Chain)
				}
			}
			if s.Notarized {
				t.Error("Notarized without a ticket")
			}
		})
	}
	t.Run("CMS only", func(t *testing.T) {
		f := mustInspect(t, productArchive(t, xarOpts{cms: true}), facts.Options{Trust: trust})
		if f.Signature != nil || !slices.Contains(f.NotInspected, NotInspectedCMSOnly) {
			t.Errorf("Signature %+v, NotInspected %q", f.Signature, f.NotInspected)
		}
	})
	t.Run("stapled ticket", func(t *testing.T) {
		f := mustInspect(t, productArchive(t, xarOpts{sign: p.valid, ticket: []byte("s8ch fake ticket bytes")}), facts.Options{Trust: trust})
		if f.Signature == nil || !f.Signature.Notarized || f.Signature.State != facts.SigTrusted || !strings.Contains(f.Signature.Detail, "notarization ticket (22 bytes) is stapled") {
			t.Errorf("Signature = %+v", f.Signature)
		}
		if !slices.Contains(f.NotInspected, NotInspectedTicket) || slices.Contains(f.NotInspected, NotInspectedNoTicket) {
			t.Errorf("NotInspected = %q", f.NotInspected)
		}
	})
}

func TestPbzxPayload(t *testing.T) {
	cpioData := fixturePayload(odc)
	chunk := func(data []byte, more bool) []byte {
		var b bytes.Buffer
		var flags uint64 = uint64(len(data))
		if more {
			flags |= pbzxMore
		}
		binary.Write(&b, binary.BigEndian, flags)
		binary.Write(&b, binary.BigEndian, uint64(len(data)))
		b.Write(data)
		return b.Bytes()
	}
	head := func() []byte {
		var b bytes.Buffer
		b.WriteString("pbzx")
		binary.Write(&b, binary.BigEndian, uint64(pbzxMore|1<<24))
		return b.Bytes()
	}
	half := len(cpioData) / 2
	plain := append(append(head(), chunk(cpioData[:half], true)...), chunk(cpioData[half:], false)...)
	f := mustInspect(t, componentPkg(t, plain, xarOpts{}), facts.Options{})
	if len(f.Services) != 1 || !f.Privilege.InstallsDriver || f.Files.Count != 5 {
		t.Errorf("plain pbzx: %+v", f)
	}
	xz := append(head(), chunk(append(append([]byte{}, xzMagic...), "rest of an xz stream"...), false)...)
	f = mustInspect(t, componentPkg(t, xz, xarOpts{}), facts.Options{})
	if !slices.Contains(f.NotInspected, "Payload of com.example.foo.pkg: pbzx-compressed payload (LZMA/LZFSE) not expanded") {
		t.Errorf("xz pbzx: NotInspected = %q", f.NotInspected)
	}
}

func TestPayloadFormats(t *testing.T) {
	for name, payload := range map[string][]byte{
		"plain odc":  fixturePayload(odc),
		"gzip newc":  gzipBytes(fixturePayload(newc)),
		"plain newc": fixturePayload(newc),
	} {
		t.Run(name, func(t *testing.T) {
			f := mustInspect(t, componentPkg(t, payload, xarOpts{}), facts.Options{})
			if len(f.Services) != 1 || !f.Privilege.InstallsDriver || len(f.Privilege.Setuid) != 1 || f.Files.Count != 5 {
				t.Errorf("facts = %+v", f)
			}
		})
	}
	t.Run("empty payload", func(t *testing.T) {
		f := mustInspect(t, componentPkg(t, nil, xarOpts{}), facts.Options{})
		if f.Files != nil || len(f.Services) != 0 {
			t.Errorf("facts = %+v", f)
		}
	})
	t.Run("unknown payload format", func(t *testing.T) {
		f := mustInspect(t, componentPkg(t, []byte("AA01 apple archive"), xarOpts{}), facts.Options{})
		if !slices.ContainsFunc(f.NotInspected, func(s string) bool { return strings.Contains(s, "not gzip, bzip2, pbzx or cpio") }) {
			t.Errorf("NotInspected = %q", f.NotInspected)
		}
	})
	t.Run("binary LaunchDaemon plist", func(t *testing.T) {
		p := gzipBytes(odc(reg("./Library/LaunchDaemons/x.plist", 0o644, []byte("bplist00\x01\x02"))))
		f := mustInspect(t, componentPkg(t, p, xarOpts{}), facts.Options{})
		if len(f.Services) != 1 || f.Services[0].Name != "x" || f.Services[0].Account != "root" || !f.Privilege.InstallsService {
			t.Errorf("Services = %+v", f.Services)
		}
		if !slices.ContainsFunc(f.NotInspected, func(s string) bool { return strings.Contains(s, "binary plist") }) {
			t.Errorf("NotInspected = %q", f.NotInspected)
		}
	})
}
