package xar

// Test fixture builders, written to the xar format as its documentation
// states it (the mackyle/xar wiki "xarformat" page and Apple's xar
// headers): a 28-byte big-endian header, a zlib-compressed UTF-8 TOC, the
// heap with the TOC checksum at toc/checksum/offset, the RSA signature
// after it, then file data; file data "application/x-gzip" is a zlib
// stream, with archived-checksum over the stored bytes and
// extracted-checksum over the extracted ones.

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// xfile is one entry of a fixture archive.
type xfile struct {
	name     string
	dir      bool
	children []*xfile
	data     []byte
	enc      string // "gzip" (default for files), "none"
	mode     string // octal, default 0644 / 0755
	extra    string // raw XML added inside <file>
	dataXML  string // replaces the generated <data> element when set; OFFSET in it becomes stored's heap offset
	stored   []byte // the heap bytes of a dataXML entry
}

func dir(name string, children ...*xfile) *xfile {
	return &xfile{name: name, dir: true, children: children}
}
func file(name string, data []byte) *xfile { return &xfile{name: name, data: data} }

// signer is a key and its chain, leaf first.
type signer struct {
	key   *rsa.PrivateKey
	chain []*x509.Certificate
}

// xarOpts shapes a fixture.
type xarOpts struct {
	cksum      string // "sha1" (default), "md5", "sha256" (named in a 32+-byte header), "sha256-apple" (alg 3, 28-byte header), "none"
	sign       *signer
	sigHash    crypto.Hash         // the DigestInfo hash of the RSA signature (default: the checksum's)
	cms        bool                // add an <x-signature style="CMS"> placeholder
	ticket     []byte              // stapled notarization ticket
	tocPrefix  string              // raw XML inside <toc> before the files
	tamperTOC  func(string) string // applied after signing; the checksum is recomputed, the signature kept
	rawTOC     string              // the whole TOC XML, replacing the generated one
	headerHook func([]byte)
}

var cksumSize = map[string]int{"sha1": 20, "md5": 16, "sha256": 32, "sha256-apple": 32, "none": 0}

func cksumHash(style string) crypto.Hash {
	switch style {
	case "md5":
		return crypto.MD5
	case "sha256", "sha256-apple":
		return crypto.SHA256
	}
	return crypto.SHA1
}

func styleName(style string) string {
	if style == "sha256-apple" {
		return "sha256"
	}
	return style
}

func sum(h crypto.Hash, b []byte) []byte { x := h.New(); x.Write(b); return x.Sum(nil) }

func zlibBytes(b []byte) []byte {
	var out bytes.Buffer
	w := zlib.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// buildXar writes a xar file of root's entries.
func buildXar(t testing.TB, root []*xfile, o xarOpts) []byte {
	t.Helper()
	if o.cksum == "" {
		o.cksum = "sha1"
	}
	h := cksumHash(o.cksum)
	csize := cksumSize[o.cksum]
	sigSize := 0
	if o.sign != nil {
		sigSize = o.sign.key.Size()
	}
	cmsSize := 0
	if o.cms {
		cmsSize = 64
	}
	heap := &bytes.Buffer{}
	heap.Write(make([]byte, csize+sigSize+cmsSize)) // filled in below
	var toc strings.Builder
	toc.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<xar>\n <toc>\n")
	toc.WriteString(o.tocPrefix)
	toc.WriteString("  <creation-time>2026-01-02T03:04:05</creation-time>\n")
	if o.cksum != "none" {
		fmt.Fprintf(&toc, "  <checksum style=%q>\n   <offset>0</offset>\n   <size>%d</size>\n  </checksum>\n", styleName(o.cksum), csize)
	}
	if o.sign != nil {
		fmt.Fprintf(&toc, "  <signature style=\"RSA\">\n   <offset>%d</offset>\n   <size>%d</size>\n", csize, sigSize)
		toc.WriteString("   <KeyInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\">\n    <X509Data>\n")
		for _, c := range o.sign.chain {
			fmt.Fprintf(&toc, "     <X509Certificate>%s</X509Certificate>\n", base64.StdEncoding.EncodeToString(c.Raw))
		}
		toc.WriteString("    </X509Data>\n   </KeyInfo>\n  </signature>\n")
	}
	if o.cms {
		fmt.Fprintf(&toc, "  <x-signature style=\"CMS\">\n   <offset>%d</offset>\n   <size>%d</size>\n  </x-signature>\n", csize+sigSize, cmsSize)
	}
	id := 0
	var walk func(fs []*xfile, indent string)
	walk = func(fs []*xfile, indent string) {
		for _, f := range fs {
			id++
			fmt.Fprintf(&toc, "%s<file id=\"%d\">\n%s <name>%s</name>\n", indent, id, indent, esc(f.name))
			mode := f.mode
			if f.dir {
				if mode == "" {
					mode = "0755"
				}
				fmt.Fprintf(&toc, "%s <type>directory</type>\n%s <mode>%s</mode>\n", indent, indent, mode)
			} else {
				if mode == "" {
					mode = "0644"
				}
				fmt.Fprintf(&toc, "%s <type>file</type>\n%s <mode>%s</mode>\n", indent, indent, mode)
				if f.dataXML != "" {
					toc.WriteString(strings.ReplaceAll(f.dataXML, "OFFSET", strconv.Itoa(heap.Len())))
					heap.Write(f.stored)
				} else {
					stored, encStyle := zlibBytes(f.data), "application/x-gzip"
					if f.enc == "none" {
						stored, encStyle = f.data, "application/octet-stream"
					}
					off := heap.Len()
					heap.Write(stored)
					fmt.Fprintf(&toc, "%s <data>\n%s  <offset>%d</offset>\n%s  <size>%d</size>\n%s  <length>%d</length>\n", indent, indent, off, indent, len(f.data), indent, len(stored))
					fmt.Fprintf(&toc, "%s  <encoding style=%q/>\n", indent, encStyle)
					fmt.Fprintf(&toc, "%s  <archived-checksum style=\"sha1\">%x</archived-checksum>\n", indent, sum(crypto.SHA1, stored))
					fmt.Fprintf(&toc, "%s  <extracted-checksum style=\"sha1\">%x</extracted-checksum>\n%s </data>\n", indent, sum(crypto.SHA1, f.data), indent)
				}
			}
			toc.WriteString(f.extra)
			walk(f.children, indent+" ")
			fmt.Fprintf(&toc, "%s</file>\n", indent)
		}
	}
	walk(root, "  ")
	toc.WriteString(" </toc>\n</xar>\n")
	tocXML := toc.String()
	if o.rawTOC != "" {
		tocXML = o.rawTOC
	}
	ctoc := zlibBytes([]byte(tocXML))
	hb := heap.Bytes()
	if o.cksum != "none" {
		copy(hb, sum(h, ctoc))
	}
	if o.sign != nil {
		sh, msg := h, hb[:csize]
		if o.sigHash != 0 && o.sigHash != h {
			// The checksum hashed again and signed as that hash.
			sh, msg = o.sigHash, sum(o.sigHash, msg)
		}
		sig, err := rsa.SignPKCS1v15(nil, o.sign.key, sh, msg)
		if err != nil {
			t.Fatal(err)
		}
		copy(hb[csize:], sig)
	}
	if o.tamperTOC != nil {
		tocXML = o.tamperTOC(tocXML)
		ctoc = zlibBytes([]byte(tocXML))
		copy(hb, sum(h, ctoc))
	}
	var out bytes.Buffer
	hdr := header(o.cksum, len(ctoc), len(tocXML))
	if o.headerHook != nil {
		o.headerHook(hdr)
	}
	out.Write(hdr)
	out.Write(ctoc)
	out.Write(hb)
	if o.ticket != nil {
		out.Write(trailer(trailerTerminator, 0))
		out.Write(o.ticket)
		out.Write(trailer(trailerTicket, len(o.ticket)))
	}
	return out.Bytes()
}

func header(cksum string, clen, ulen int) []byte {
	size := HeaderSize
	alg := map[string]uint32{"none": 0, "sha1": 1, "md5": 2, "sha256": 3, "sha256-apple": 3}[cksum]
	if cksum == "sha256" {
		size = HeaderSize + 8 // "sha256\0" padded to a multiple of 4
	}
	b := make([]byte, size)
	copy(b, "xar!")
	binary.BigEndian.PutUint16(b[4:], uint16(size))
	binary.BigEndian.PutUint16(b[6:], 1)
	binary.BigEndian.PutUint64(b[8:], uint64(clen))
	binary.BigEndian.PutUint64(b[16:], uint64(ulen))
	binary.BigEndian.PutUint32(b[24:], alg)
	if cksum == "sha256" {
		copy(b[28:], "sha256")
	}
	return b
}

func trailer(typ uint16, n int) []byte {
	b := make([]byte, trailerSize)
	copy(b, trailerMagic)
	binary.LittleEndian.PutUint16(b[4:], 1)
	binary.LittleEndian.PutUint16(b[6:], typ)
	binary.LittleEndian.PutUint32(b[8:], uint32(n))
	return b
}

// cpio "odc" (POSIX.1 portable) writer.
type cpioMember struct {
	name string
	mode uint32 // full st_mode: type and permission bits
	data []byte
}

func reg(name string, perm uint32, data []byte) cpioMember {
	return cpioMember{name: name, mode: cpioRegular | perm, data: data}
}
func dirm(name string) cpioMember { return cpioMember{name: name, mode: cpioDir | 0o755} }

func odc(ms ...cpioMember) []byte {
	var b bytes.Buffer
	for i, m := range append(ms, cpioMember{name: "TRAILER!!!"}) {
		fmt.Fprintf(&b, "070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o", 0, i+1, m.mode, 0, 0, 1, 0, 0, len(m.name)+1, len(m.data))
		b.WriteString(m.name + "\x00")
		b.Write(m.data)
	}
	for b.Len()%512 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func newc(ms ...cpioMember) []byte {
	var b bytes.Buffer
	pad := func() {
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	for i, m := range append(ms, cpioMember{name: "TRAILER!!!"}) {
		fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", i+1, m.mode, 0, 0, 1, 0, len(m.data), 0, 0, 0, 0, len(m.name)+1, 0)
		b.WriteString(m.name + "\x00")
		pad()
		b.Write(m.data)
		pad()
	}
	return b.Bytes()
}

// The launchd plist of the fixture's daemon.
const daemonPlist = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>com.example.foo.helper</string>
	<key>ProgramArguments</key>
	<array><string>/usr/local/bin/foohelper</string><string>--daemon</string></array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict><key>SuccessfulExit</key><false/></dict>
	<key>UserName</key>
	<string>_foo</string>
	<key>Sockets</key>
	<dict>
		<key>Listeners</key>
		<dict><key>SockServiceName</key><string>8443</string><key>SockType</key><string>stream</string></dict>
	</dict>
</dict>
</plist>
`

const distributionXML = `<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="1">
    <title>Foo App</title>
    <product id="com.example.foo" version="2.3.4"/>
    <options customize="never" require-scripts="false" hostArchitectures="x86_64,arm64"/>
    <volume-check><allowed-os-versions><os-version min="12.0"/></allowed-os-versions></volume-check>
    <choices-outline><line choice="default"><line choice="com.example.foo.pkg"/></line></choices-outline>
    <choice id="default"/>
    <choice id="com.example.foo.pkg" visible="false"><pkg-ref id="com.example.foo.pkg"/></choice>
    <pkg-ref id="com.example.foo.pkg" version="2.3.4" onConclusion="none" auth="Root">#foo.pkg</pkg-ref>
    <script><![CDATA[function check() { return system.run('/usr/bin/true') == 0; }]]></script>
</installer-gui-script>
`

const packageInfoXML = `<?xml version="1.0" encoding="utf-8"?>
<pkg-info overwrite-permissions="true" relocatable="false" identifier="com.example.foo.pkg" postinstall-action="none" version="2.3.4" format-version="2" generator-version="InstallCmds-807 (21G72)" install-location="/" auth="root">
    <payload numberOfFiles="9" installKBytes="12"/>
    <bundle path="./Applications/Foo.app" id="com.example.foo" CFBundleShortVersionString="2.3.4" CFBundleVersion="234"/>
    <scripts>
        <preinstall file="./preinstall"/>
        <postinstall file="./postinstall"/>
    </scripts>
</pkg-info>
`

// fixturePayload is the component package's Payload cpio.
func fixturePayload(format func(...cpioMember) []byte) []byte {
	return format(
		dirm("."),
		dirm("./Applications"),
		dirm("./Applications/Foo.app"),
		reg("./Applications/Foo.app/Contents/MacOS/Foo", 0o755, []byte("\xcf\xfa\xed\xfe fake mach-o")),
		dirm("./Library"),
		dirm("./Library/LaunchDaemons"),
		reg("./Library/LaunchDaemons/com.example.foo.helper.plist", 0o644, []byte(daemonPlist)),
		dirm("./Library/Extensions/Foo.kext"),
		reg("./Library/Extensions/Foo.kext/Contents/Info.plist", 0o644, []byte("<plist/>")),
		reg("./Library/Extensions/Foo.kext/Contents/MacOS/Foo", 0o755, []byte("kext")),
		reg("./usr/local/bin/foohelper", 0o4755, []byte("#!/bin/sh\nexec true\n")),
	)
}

func fixtureScripts() []byte {
	return odc(
		dirm("."),
		reg("./preinstall", 0o755, []byte("#!/bin/bash\necho pre\n")),
		reg("./postinstall", 0o755, []byte("#!/bin/sh\nlaunchctl load /Library/LaunchDaemons/com.example.foo.helper.plist\n")),
		reg("./helper.py", 0o644, []byte("print('x')\n")),
	)
}

// productArchive is a product archive: Distribution, Resources and the
// component package foo.pkg with PackageInfo, Bom, Payload and Scripts.
func productArchive(t testing.TB, o xarOpts) []byte {
	return buildXar(t, []*xfile{
		file("Distribution", []byte(distributionXML)),
		dir("Resources", file("en.lproj", []byte("x"))),
		dir("foo.pkg",
			file("PackageInfo", []byte(packageInfoXML)),
			file("Bom", []byte("BOMStore fixture")),
			&xfile{name: "Payload", data: gzipBytes(fixturePayload(odc)), enc: "none"},
			&xfile{name: "Scripts", data: gzipBytes(fixtureScripts()), enc: "none"},
		),
	}, o)
}

// componentPkg is a component package: PackageInfo etc. at the root.
func componentPkg(t testing.TB, payload []byte, o xarOpts) []byte {
	return buildXar(t, []*xfile{
		file("PackageInfo", []byte(strings.Replace(packageInfoXML, `auth="root"`, `auth="none"`, 1))),
		file("Bom", []byte("BOMStore fixture")),
		&xfile{name: "Payload", data: payload, enc: "none"},
	}, o)
}

// Test PKI, made once per test binary.
type testPKI struct {
	root, otherRoot       *x509.Certificate
	rootKey, otherKey     *rsa.PrivateKey
	inter                 *x509.Certificate
	interKey              *rsa.PrivateKey
	valid, expired, stray *signer
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
)

func pki(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		now := time.Now()
		mk := func(cn string, parent *x509.Certificate, parentKey *rsa.PrivateKey, ca bool, nb, na time.Time) (*x509.Certificate, *rsa.PrivateKey) {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
			tpl := &x509.Certificate{
				SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"EUCORA Test"}},
				NotBefore: nb, NotAfter: na,
				KeyUsage:    x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
			}
			if ca {
				tpl.IsCA, tpl.BasicConstraintsValid = true, true
				tpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
				tpl.ExtKeyUsage = nil
			}
			if parent == nil {
				parent, parentKey = tpl, key
			}
			der, err := x509.CreateCertificate(rand.Reader, tpl, parent, &key.PublicKey, parentKey)
			if err != nil {
				panic(err)
			}
			c, _ := x509.ParseCertificate(der)
			return c, key
		}
		p := &testPKI{}
		p.root, p.rootKey = mk("EUCORA Test Root", nil, nil, true, now.Add(-48*time.Hour), now.Add(10*365*24*time.Hour))
		p.otherRoot, p.otherKey = mk("Stray Root", nil, nil, true, now.Add(-48*time.Hour), now.Add(10*365*24*time.Hour))
		p.inter, p.interKey = mk("EUCORA Test Intermediate", p.root, p.rootKey, true, now.Add(-48*time.Hour), now.Add(5*365*24*time.Hour))
		leaf, lk := mk("Foo Vendor Installer", p.inter, p.interKey, false, now.Add(-24*time.Hour), now.Add(365*24*time.Hour))
		p.valid = &signer{key: lk, chain: []*x509.Certificate{leaf, p.inter, p.root}}
		old, ok := mk("Foo Vendor Installer (old)", p.inter, p.interKey, false, now.Add(-40*time.Hour), now.Add(-2*time.Hour))
		p.expired = &signer{key: ok, chain: []*x509.Certificate{old, p.inter}}
		sl, sk := mk("Stray Vendor", p.otherRoot, p.otherKey, false, now.Add(-24*time.Hour), now.Add(365*24*time.Hour))
		p.stray = &signer{key: sk, chain: []*x509.Certificate{sl, p.otherRoot}}
		pkiVal = p
	})
	return pkiVal
}

func readZlib(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
