// Package signtest makes, for the tests of the Authenticode readers, what
// code signing needs: a test PKI made with crypto/x509 (a root, an
// intermediate, a code-signing leaf, an expired leaf, a leaf under an
// untrusted root, a time-stamping authority), real Windows PE files built
// with the local Go toolchain, signatures made with the real osslsigncode,
// and a legacy Authenticode timestamp server. Only tests import it.
package signtest

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/smallstep/pkcs7"
)

// Cert is a certificate with its key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is the certificates a signer sends with its signature: itself
	// and the intermediates above it, not the root.
	Chain []*x509.Certificate
}

// PKI is the test PKI. Its keys are ECDSA P-256 (cheap to make, so fuzz
// workers start fast); RSALeaf is the one RSA signer.
type PKI struct {
	Root, Intermediate, Leaf, ExpiredLeaf, TSA *Cert
	UntrustedRoot, UntrustedLeaf               *Cert
	// Now is when the PKI was made; the expired leaf was valid from
	// Now-2y to Now-1y.
	Now time.Time

	rsaOnce sync.Once
	rsa     *Cert
	rsaErr  error
}

// RSALeaf is a code-signing leaf under the intermediate with an RSA-2048
// key (made on first use).
func (p *PKI) RSALeaf(t testing.TB) *Cert {
	t.Helper()
	p.rsaOnce.Do(func() {
		year := 365 * 24 * time.Hour
		tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "EUCORA Test RSA Signer", Organization: []string{"EUCORA Test Vendor"}},
			NotBefore: p.Now.Add(-year), NotAfter: p.Now.Add(year), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
		p.rsa, p.rsaErr = issue(tmpl, p.Intermediate, true)
	})
	if p.rsaErr != nil {
		t.Fatal(p.rsaErr)
	}
	return p.rsa
}

// issue makes a key (RSA-2048 when rsaKey, else ECDSA P-256) and a
// certificate from tmpl, signed by parent (self-signed when nil).
func issue(tmpl *x509.Certificate, parent *Cert, rsaKey bool) (*Cert, error) {
	var key crypto.Signer
	var err error
	if rsaKey {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	out := &Cert{Cert: c, Key: key}
	if parent != nil {
		out.Chain = append([]*x509.Certificate{c}, parent.Chain...)
	}
	return out, nil
}

var (
	pkiOnce sync.Once
	pki     *PKI
	pkiErr  error
)

// NewPKI returns the test PKI (made once per test binary: RSA keys are
// slow to generate).
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = makePKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

// Trust is the trust store holding the trusted root.
func (p *PKI) Trust() *facts.TrustStore { return facts.NewTrustStore(p.Root.Cert) }

func makePKI() (*PKI, error) {
	now := time.Now().Truncate(time.Second)
	p := &PKI{Now: now}
	var err error
	year := 365 * 24 * time.Hour
	mk := func(tmpl *x509.Certificate, parent *Cert, _ bool) *Cert {
		if err != nil {
			return nil
		}
		var c *Cert
		c, err = issue(tmpl, parent, false)
		return c
	}
	ca := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: []string{"EUCORA Test"}},
			NotBefore: now.Add(-10 * year), NotAfter: now.Add(10 * year), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	leaf := func(cn string, from, to time.Time, eku x509.ExtKeyUsage) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: []string{"EUCORA Test Vendor"}},
			NotBefore: from, NotAfter: to, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
	}
	p.Root = mk(ca("EUCORA Test Root"), nil, false)
	p.Intermediate = mk(ca("EUCORA Test Code Signing CA"), p.Root, false)
	p.Leaf = mk(leaf("EUCORA Test Signer", now.Add(-year), now.Add(year), x509.ExtKeyUsageCodeSigning), p.Intermediate, false)
	p.ExpiredLeaf = mk(leaf("EUCORA Test Expired Signer", now.Add(-2*year), now.Add(-year), x509.ExtKeyUsageCodeSigning), p.Intermediate, false)
	// OpenSSL's time-stamping purpose wants the timeStamping EKU critical
	// and alone (RFC 3161 2.3).
	tsa := leaf("EUCORA Test Time Stamping", now.Add(-5*year), now.Add(5*year), x509.ExtKeyUsageTimeStamping)
	ekuVal, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tsa.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: ekuVal}}
	p.TSA = mk(tsa, p.Intermediate, false)
	p.UntrustedRoot = mk(ca("Untrusted Root"), nil, false)
	p.UntrustedLeaf = mk(leaf("Untrusted Signer", now.Add(-year), now.Add(year), x509.ExtKeyUsageCodeSigning), p.UntrustedRoot, false)
	return p, err
}

// Files writes c's chain (certs.pem) and key (key.pem) to dir and returns
// their paths.
func (c *Cert) Files(t testing.TB, dir string) (certs, key string) {
	t.Helper()
	var cb bytes.Buffer
	for _, x := range c.Chain {
		pem.Encode(&cb, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})
	}
	kder, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, strings.ReplaceAll(c.Cert.Subject.CommonName, " ", "_"))
	certs, key = base+".certs.pem", base+".key.pem"
	if err := os.WriteFile(certs, cb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certs, key
}

// CertFile writes certs as one PEM bundle to dir/name and returns its path.
func CertFile(t testing.TB, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// NeedOsslsigncode skips (fails under CI) unless osslsigncode is installed.
func NeedOsslsigncode(t testing.TB) {
	t.Helper()
	testtool.Need(t, "apt-get install osslsigncode", "osslsigncode")
}

// Sign signs in with osslsigncode as signer into a new file and returns
// its path. extra are further osslsigncode sign options (-ts URL, -t URL,
// -TSA-certs/-TSA-key/-TSA-time, -h sha1, -add-msi-dse, ...); -h sha256 is
// the default.
func Sign(t testing.TB, in string, signer *Cert, extra ...string) string {
	t.Helper()
	NeedOsslsigncode(t)
	dir := t.TempDir()
	certs, key := signer.Files(t, dir)
	out := filepath.Join(dir, "signed"+filepath.Ext(in))
	args := []string{"sign", "-certs", certs, "-key", key}
	hasH := false
	for _, e := range extra {
		if e == "-h" {
			hasH = true
		}
	}
	if !hasH {
		args = append(args, "-h", "sha256")
	}
	args = append(args, extra...)
	args = append(args, "-in", in, "-out", out)
	cmd := exec.Command("osslsigncode", args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("osslsigncode %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// TSAFlags are the osslsigncode options that timestamp with its built-in
// RFC 3161 authority (p.TSA), stating time at.
func (p *PKI) TSAFlags(t testing.TB, at time.Time) []string {
	t.Helper()
	dir := t.TempDir()
	certs, key := p.TSA.Files(t, dir)
	return []string{"-TSA-certs", certs, "-TSA-key", key, "-TSA-time", itoa(at.Unix())}
}

func itoa(v int64) string { return big.NewInt(v).String() }

// Verify runs osslsigncode verify on path with the given root as CAfile
// (and TSA-CAfile) and reports whether it succeeded, with its output.
func Verify(t testing.TB, path string, root *x509.Certificate, extra ...string) (bool, string) {
	t.Helper()
	NeedOsslsigncode(t)
	ca := CertFile(t, t.TempDir(), "ca.pem", root)
	args := append([]string{"verify", "-CAfile", ca, "-TSA-CAfile", ca}, extra...)
	args = append(args, "-in", path)
	b, err := exec.Command("osslsigncode", args...).CombinedOutput()
	return err == nil, string(b)
}

// LegacyTSA serves the legacy Authenticode timestamp protocol that
// osslsigncode's -t speaks: a base64 TimeStampRequest in, a base64 PKCS#7
// SignedData out whose signer (p.TSA) countersigns the signature. It
// returns the server's URL.
func (p *PKI) LegacyTSA(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		der, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, string(body)))
		if err != nil {
			http.Error(w, "bad base64", http.StatusBadRequest)
			return
		}
		// TimeStampRequest ::= SEQUENCE { countersignatureType OID,
		//   attributes SEQUENCE OPTIONAL, content ContentInfo {data, [0] OCTET STRING} }
		var req struct {
			Type    asn1.ObjectIdentifier
			Content struct {
				Type asn1.ObjectIdentifier
				Data []byte `asn1:"explicit,tag:0"`
			}
		}
		if _, err := asn1.Unmarshal(der, &req); err != nil {
			// with the optional attributes present
			var req2 struct {
				Type    asn1.ObjectIdentifier
				Attrs   asn1.RawValue
				Content struct {
					Type asn1.ObjectIdentifier
					Data []byte `asn1:"explicit,tag:0"`
				}
			}
			if _, err := asn1.Unmarshal(der, &req2); err != nil {
				http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
				return
			}
			req.Content = req2.Content
		}
		sd, err := pkcs7.NewSignedData(req.Content.Data)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
		if err := sd.AddSignerChain(p.TSA.Cert, p.TSA.Key, []*x509.Certificate{p.Intermediate.Cert}, pkcs7.SignerInfoConfig{}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out, err := sd.Finish()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		io.WriteString(w, base64.StdEncoding.EncodeToString(out))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// BuildPE builds a tiny Windows program for goarch (amd64, 386, arm64)
// with the local Go toolchain and returns its path. syso, when not nil, is
// linked in as a COFF object (a resource section, see ResourceObject).
func BuildPE(t testing.TB, goarch string, syso []byte) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module fixture\n\ngo 1.21\n")
	write("main.go", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"EUCORA fixture\") }\n")
	if syso != nil {
		write("rsrc_windows_"+goarch+".syso", string(syso))
	}
	out := filepath.Join(dir, "fixture.exe")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build GOARCH=%s: %v\n%s", goarch, err, b)
	}
	return out
}

// Tamper flips one byte of the file at path at offset off (negative:
// from the end) and returns the path of the copy.
func Tamper(t testing.TB, path string, off int64) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	b[off] ^= 0x5a
	out := filepath.Join(t.TempDir(), "tampered"+filepath.Ext(path))
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// MinimalWXS is a WiX source of a small per-machine product with one file.
const MinimalWXS = `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="EUCORA Fixture" Language="1033" Version="1.2.3" Manufacturer="EUCORA Test Vendor" UpgradeCode="12345678-1234-1234-1234-123456789012">
    <Package InstallerVersion="200" Compressed="yes" InstallScope="perMachine"/>
    <Media Id="1" Cabinet="p.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="Fixture">
          <Component Id="Main" Guid="11111111-2222-3333-4444-555555555555">
            <File Id="readme" Name="readme.txt" Source="readme.txt"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="F" Level="1"><ComponentRef Id="Main"/></Feature>
  </Product>
</Wix>
`

// BuildMSI builds an MSI from wxs with the real wixl (msitools) and
// returns its path; the source folder holds readme.txt.
func BuildMSI(t testing.TB, wxs string) string {
	t.Helper()
	testtool.Need(t, "apt-get install wixl", "wixl")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txt"), []byte("EUCORA fixture payload\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.wxs"), []byte(wxs), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "fixture.msi")
	cmd := exec.Command("wixl", "-o", out, "p.wxs")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wixl: %v\n%s", err, b)
	}
	return out
}

// TamperAt flips the first byte of the first occurrence of marker in the
// file at path and returns the path of the copy.
func TamperAt(t testing.TB, path string, marker []byte) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, marker)
	if i < 0 {
		t.Fatalf("%s does not contain %q", path, marker)
	}
	return Tamper(t, path, int64(i))
}

// Resource is one Win32 resource for ResourceObject.
type Resource struct {
	Type, ID uint16 // RT_VERSION = 16, RT_MANIFEST = 24
	Data     []byte
}

// ResourceObject returns a COFF object file (a .syso the Go linker links
// into a Windows program) whose .rsrc section holds res as a resource
// tree (type, id, language 0x409), with the ADDR32NB relocations the data
// entries need: what windres or rsrc would make, written by hand.
func ResourceObject(goarch string, res []Resource) []byte {
	arch := map[string]struct{ machine, rel uint16 }{
		"amd64": {0x8664, 3}, // IMAGE_REL_AMD64_ADDR32NB
		"386":   {0x14c, 7},  // IMAGE_REL_I386_DIR32NB
		"arm64": {0xaa64, 2}, // IMAGE_REL_ARM64_ADDR32NB
	}[goarch]
	machine, relType := arch.machine, arch.rel
	le := binary.LittleEndian
	// Group by type, in ascending order (directories list IDs sorted).
	sort.Slice(res, func(i, j int) bool {
		if res[i].Type != res[j].Type {
			return res[i].Type < res[j].Type
		}
		return res[i].ID < res[j].ID
	})
	var types []uint16
	byType := map[uint16][]Resource{}
	for _, r := range res {
		if len(byType[r.Type]) == 0 {
			types = append(types, r.Type)
		}
		byType[r.Type] = append(byType[r.Type], r)
	}
	dirHdr := func(b []byte, nIDs int) []byte {
		h := make([]byte, 16)
		le.PutUint16(h[14:], uint16(nIDs))
		return append(b, h...)
	}
	ent := func(b []byte, id uint32, off uint32) []byte {
		e := make([]byte, 8)
		le.PutUint32(e, id)
		le.PutUint32(e[4:], off)
		return append(b, e...)
	}
	// Layout: root, type dirs, name dirs, data entries, data.
	rootLen := 16 + 8*len(types)
	off := rootLen
	typeOff := map[uint16]int{}
	for _, t := range types {
		typeOff[t] = off
		off += 16 + 8*len(byType[t])
	}
	nameOff := make([]int, len(res))
	for i := range res {
		nameOff[i] = off
		off += 16 + 8
	}
	entryOff := make([]int, len(res))
	for i := range res {
		entryOff[i] = off
		off += 16
	}
	dataOff := make([]int, len(res))
	for i, r := range res {
		off = (off + 7) &^ 7
		dataOff[i] = off
		off += len(r.Data)
	}
	var b []byte
	b = dirHdr(b, len(types))
	for _, t := range types {
		b = ent(b, uint32(t), uint32(typeOff[t])|1<<31)
	}
	i := 0
	for _, t := range types {
		b = dirHdr(b, len(byType[t]))
		for range byType[t] {
			b = ent(b, uint32(res[i].ID), uint32(nameOff[i])|1<<31)
			i++
		}
	}
	for i := range res {
		b = dirHdr(b, 1)
		b = ent(b, 0x409, uint32(entryOff[i]))
	}
	var relocs []uint32
	for i, r := range res {
		relocs = append(relocs, uint32(len(b)))
		e := make([]byte, 16)
		le.PutUint32(e, uint32(dataOff[i])) // addend: offset in the section; the linker adds its RVA
		le.PutUint32(e[4:], uint32(len(r.Data)))
		b = append(b, e...)
	}
	for i, r := range res {
		for len(b) < dataOff[i] {
			b = append(b, 0)
		}
		b = append(b, r.Data...)
	}
	// COFF: file header, one section header, raw data, relocations,
	// symbol table (the section symbol), empty string table.
	const fh, sh = 20, 40
	rawOff := fh + sh
	relOff := rawOff + len(b)
	symOff := relOff + 10*len(relocs)
	var o bytes.Buffer
	w := func(v any) { binary.Write(&o, le, v) }
	w(machine)
	w(uint16(1))      // sections
	w(uint32(0))      // time
	w(uint32(symOff)) // symbol table
	w(uint32(1))      // symbols
	w(uint16(0))      // optional header
	w(uint16(0))      // characteristics
	o.WriteString(".rsrc\x00\x00\x00")
	w(uint32(0))           // virtual size
	w(uint32(0))           // virtual address
	w(uint32(len(b)))      // raw size
	w(uint32(rawOff))      // raw data
	w(uint32(relOff))      // relocations
	w(uint32(0))           // line numbers
	w(uint16(len(relocs))) // relocation count
	w(uint16(0))           // line number count
	w(uint32(0x40000040))  // initialized data, readable
	o.Write(b)
	for _, r := range relocs {
		w(r)
		w(uint32(0)) // symbol 0: the section
		w(relType)
	}
	o.WriteString(".rsrc\x00\x00\x00")
	w(uint32(0)) // value
	w(uint16(1)) // section number
	w(uint16(0)) // type
	w(uint8(3))  // IMAGE_SYM_CLASS_STATIC
	w(uint8(0))  // aux symbols
	w(uint32(4)) // string table size
	return o.Bytes()
}

// VersionInfo returns a VS_VERSIONINFO resource with the given strings
// (ProductName, ProductVersion, CompanyName, ...) in a 040904b0 string
// table and a fixed file version.
func VersionInfo(version [4]uint16, strs map[string]string) []byte {
	le := binary.LittleEndian
	u16 := func(s string) []byte {
		var b []byte
		for _, c := range utf16.Encode([]rune(s)) {
			b = le.AppendUint16(b, c)
		}
		return append(b, 0, 0)
	}
	pad := func(b []byte) []byte {
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	block := func(key string, value []byte, valLen uint16, text bool, children ...[]byte) []byte {
		b := make([]byte, 6)
		le.PutUint16(b[2:], valLen)
		if text {
			le.PutUint16(b[4:], 1)
		}
		b = pad(append(b, u16(key)...))
		b = append(b, value...)
		for _, c := range children {
			b = append(pad(b), c...)
		}
		le.PutUint16(b, uint16(len(b)))
		return b
	}
	keys := make([]string, 0, len(strs))
	for k := range strs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var strings [][]byte
	for _, k := range keys {
		v := u16(strs[k])
		strings = append(strings, block(k, v, uint16(len(v)/2), true))
	}
	table := block("040904b0", nil, 0, true, strings...)
	sfi := block("StringFileInfo", nil, 0, true, table)
	vfi := block("VarFileInfo", nil, 0, true, block("Translation", []byte{0x09, 0x04, 0xb0, 0x04}, 4, false))
	fixed := make([]byte, 52)
	le.PutUint32(fixed, 0xFEEF04BD)
	le.PutUint32(fixed[4:], 0x00010000)
	ms, ls := uint32(version[0])<<16|uint32(version[1]), uint32(version[2])<<16|uint32(version[3])
	le.PutUint32(fixed[8:], ms)
	le.PutUint32(fixed[12:], ls)
	le.PutUint32(fixed[16:], ms)
	le.PutUint32(fixed[20:], ls)
	le.PutUint32(fixed[32:], 0x00040004) // VOS_NT_WINDOWS32
	le.PutUint32(fixed[36:], 1)          // VFT_APP
	return block("VS_VERSION_INFO", fixed, 52, false, sfi, vfi)
}

// Manifest is an application manifest requesting level
// ("requireAdministrator", "asInvoker", ...).
func Manifest(level string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">
  <assemblyIdentity version="1.2.3.4" processorArchitecture="*" name="EUCORA.Fixture" type="win32"/>
  <trustInfo xmlns="urn:schemas-microsoft-com:asm.v3">
    <security>
      <requestedPrivileges>
        <requestedExecutionLevel level="` + level + `" uiAccess="false"/>
      </requestedPrivileges>
    </security>
  </trustInfo>
</assembly>
`)
}

// AppxManifest is a package manifest with the given Identity attributes
// and inner XML for Capabilities and Applications/Extensions.
func AppxManifest(name, version, publisher, arch, capabilities, extensions string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<Package xmlns="http://schemas.microsoft.com/appx/manifest/foundation/windows10"
  xmlns:uap="http://schemas.microsoft.com/appx/manifest/uap/windows10"
  xmlns:rescap="http://schemas.microsoft.com/appx/manifest/foundation/windows10/restrictedcapabilities"
  xmlns:desktop2="http://schemas.microsoft.com/appx/manifest/desktop/windows10/2"
  xmlns:desktop6="http://schemas.microsoft.com/appx/manifest/desktop/windows10/6"
  IgnorableNamespaces="uap rescap desktop2 desktop6">
  <Identity Name="` + name + `" Version="` + version + `" Publisher="` + publisher + `" ProcessorArchitecture="` + arch + `"/>
  <Properties>
    <DisplayName>EUCORA Fixture App</DisplayName>
    <PublisherDisplayName>EUCORA Test Vendor</PublisherDisplayName>
    <Logo>Assets\logo.png</Logo>
  </Properties>
  <Dependencies><TargetDeviceFamily Name="Windows.Desktop" MinVersion="10.0.17763.0" MaxVersionTested="10.0.22621.0"/></Dependencies>
  <Resources><Resource Language="en-us"/></Resources>
  <Applications>
    <Application Id="App" Executable="app.exe" EntryPoint="Windows.FullTrustApplication">
      <uap:VisualElements DisplayName="EUCORA Fixture App" Description="fixture" BackgroundColor="transparent" Square150x150Logo="Assets\logo.png" Square44x44Logo="Assets\logo.png"/>
      <Extensions>` + extensions + `</Extensions>
    </Application>
  </Applications>
  <Capabilities>` + capabilities + `</Capabilities>
</Package>
`
}

// BuildMSIX writes an MSIX package (a zip, as MakeAppx lays it out:
// payload files, AppxManifest.xml, AppxBlockMap.xml with the SHA-256 of
// every 64 KiB block, [Content_Types].xml) and returns its path. files
// are payload files by slash path.
func BuildMSIX(t testing.TB, manifest string, files map[string][]byte) string {
	t.Helper()
	names := make([]string, 0, len(files)+1)
	all := map[string][]byte{"AppxManifest.xml": []byte(manifest)}
	for n, b := range files {
		all[n] = b
	}
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var bm strings.Builder
	bm.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="no"?>` + "\n" + `<BlockMap xmlns="http://schemas.microsoft.com/appx/2010/blockmap" HashMethod="http://www.w3.org/2001/04/xmlenc#sha256">`)
	for _, n := range names {
		b := all[n]
		bm.WriteString(`<File Name="` + strings.ReplaceAll(n, "/", `\`) + `" Size="` + itoa(int64(len(b))) + `" LfhSize="` + itoa(int64(30+len(n))) + `">`)
		for off := 0; off < len(b); off += 64 << 10 {
			sum := sha256.Sum256(b[off:min(off+64<<10, len(b))])
			bm.WriteString(`<Block Hash="` + base64.StdEncoding.EncodeToString(sum[:]) + `"/>`)
		}
		bm.WriteString(`</File>`)
	}
	bm.WriteString(`</BlockMap>`)
	ct := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="exe" ContentType="application/x-msdownload"/><Default Extension="png" ContentType="image/png"/>` +
		`<Default Extension="txt" ContentType="text/plain"/><Default Extension="dll" ContentType="application/x-msdownload"/>` +
		`<Override PartName="/AppxManifest.xml" ContentType="application/vnd.ms-appx.manifest+xml"/>` +
		`<Override PartName="/AppxBlockMap.xml" ContentType="application/vnd.ms-appx.blockmap+xml"/></Types>`
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	add := func(name string, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	for _, n := range names {
		add(n, all[n])
	}
	add("AppxBlockMap.xml", []byte(bm.String()))
	add("[Content_Types].xml", []byte(ct))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "fixture.msix")
	if err := os.WriteFile(p, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
