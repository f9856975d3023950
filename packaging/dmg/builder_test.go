package dmg

// Test fixture builder: a UDIF image as hdiutil lays one out (data fork
// from offset 0, the XML plist after it, the embedded code signature
// after the plist, the 512-byte big-endian koly trailer last), signed as
// codesign signs a disk image (one code hash over every byte before the
// signature, the koly trailer with its code-signature length zeroed in
// the rep-specific slot, an empty requirements set, a detached CMS
// signature over the code directory made by openssl cms -sign).

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/testtool"
)

type signer struct {
	key   crypto.Signer
	chain []*x509.Certificate // leaf first
}

type dmgOpts struct {
	data       []byte   // the data fork
	partitions []string // blkx partition names
	sign       *signer
	adhoc      bool
	ticket     []byte
	hashType   uint8 // 2 (SHA-256) unless set
	pageShift  uint8
	alternate  bool                   // add a SHA-1 code directory in the first alternate slot
	mutateCD   func(cd []byte) []byte // applied to the code directory after it is signed
	plistXML   string                 // replaces the generated plist
	mish       func(i int, m []byte) []byte
	zlib       bool // store each partition as one zlib chunk (UDZO) instead of raw
}

func (o *dmgOpts) defaults() {
	if o.data == nil {
		o.data = bytes.Repeat([]byte("EUCORA disk image data sector "), 4096) // ~120 KiB
	}
	if o.partitions == nil {
		o.partitions = []string{"Protective Master Boot Record (MBR : 0)", "GPT Header (Primary GPT Header : 1)", "disk image (Apple_HFS : 4)"}
	}
	if o.hashType == 0 {
		o.hashType = 2
	}
}

// mishBlock is a partition's block table: one chunk of type typ holding
// sectors*512 bytes, stored as length bytes at data fork offset off, then
// the end marker.
func mishBlock(typ uint32, off, length, size uint64) []byte {
	b := make([]byte, mishHeaderSize+2*mishChunkSize)
	be := binary.BigEndian
	copy(b, "mish")
	be.PutUint32(b[4:], 1)
	be.PutUint64(b[16:], (size+511)/512) // sector count
	be.PutUint64(b[24:], 0)              // data offset
	be.PutUint32(b[32:], 8)              // buffers needed
	be.PutUint32(b[64:], 2)              // checksum type CRC-32
	be.PutUint32(b[68:], 32)
	be.PutUint32(b[200:], 2) // chunks
	c := b[mishHeaderSize:]
	be.PutUint32(c, typ)
	be.PutUint64(c[16:], (size+511)/512)
	be.PutUint64(c[24:], off)
	be.PutUint64(c[32:], length)
	c = c[mishChunkSize:]
	be.PutUint32(c, 0xffffffff)
	return b
}

func plist(o dmgOpts, mishes [][]byte) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>resource-fork</key>
	<dict>
		<key>blkx</key>
		<array>
`)
	for i, name := range o.partitions {
		m := mishes[i]
		if o.mish != nil {
			m = o.mish(i, m)
		}
		fmt.Fprintf(&b, "\t\t\t<dict>\n\t\t\t\t<key>Attributes</key>\n\t\t\t\t<string>0x0050</string>\n\t\t\t\t<key>CFName</key>\n\t\t\t\t<string>%s</string>\n", name)
		fmt.Fprintf(&b, "\t\t\t\t<key>Data</key>\n\t\t\t\t<data>\n\t\t\t\t%s\n\t\t\t\t</data>\n", base64.StdEncoding.EncodeToString(m))
		fmt.Fprintf(&b, "\t\t\t\t<key>ID</key>\n\t\t\t\t<string>%d</string>\n\t\t\t\t<key>Name</key>\n\t\t\t\t<string>%s</string>\n\t\t\t</dict>\n", i-1, name)
	}
	b.WriteString("\t\t</array>\n\t\t<key>plst</key>\n\t\t<array><dict><key>Attributes</key><string>0x0050</string><key>Data</key><data>AAAA</data><key>ID</key><string>0</string><key>Name</key><string></string></dict></array>\n\t</dict>\n</dict>\n</plist>\n")
	return b.String()
}

func koly(dataLen, xmlOff, xmlLen, sigOff, sigLen, sectors uint64) []byte {
	k := make([]byte, KolySize)
	be := binary.BigEndian
	copy(k, "koly")
	be.PutUint32(k[4:], 4)
	be.PutUint32(k[8:], KolySize)
	be.PutUint32(k[12:], 1)
	be.PutUint64(k[32:], dataLen)
	be.PutUint32(k[80:], 2) // data fork checksum CRC-32
	be.PutUint32(k[84:], 32)
	be.PutUint64(k[216:], xmlOff)
	be.PutUint64(k[224:], xmlLen)
	be.PutUint64(k[offCodeSignOffset:], sigOff)
	be.PutUint64(k[offCodeSignLength:], sigLen)
	be.PutUint32(k[352:], 2)
	be.PutUint32(k[356:], 32)
	be.PutUint32(k[488:], 1) // image variant
	be.PutUint64(k[492:], sectors)
	return k
}

func hashOf(t uint8) (crypto.Hash, int) { return digestFor(t) }

func hsum(t uint8, b []byte) []byte {
	h, n := hashOf(t)
	d := h.New()
	d.Write(b)
	return d.Sum(nil)[:n]
}

// codeDirectoryBlob builds a version 0x20200 code directory over image
// (the bytes before the signature) with special slots 1-6.
func codeDirectoryBlob(o dmgOpts, hashType uint8, image, kolyZeroed, requirements []byte) []byte {
	const nSpecial = 6
	_, hsize := hashOf(hashType)
	ident, team := "com.example.foo.dmg\x00", "EUCTEAM123\x00"
	var pages [][]byte
	if o.pageShift == 0 {
		pages = [][]byte{image}
	} else {
		ps := 1 << o.pageShift
		for i := 0; i < len(image); i += ps {
			pages = append(pages, image[i:min(i+ps, len(image))])
		}
	}
	const hdr = 52
	identOff := hdr
	teamOff := identOff + len(ident)
	hashOff := teamOff + len(team) + nSpecial*hsize
	total := hashOff + len(pages)*hsize
	b := make([]byte, total)
	be := binary.BigEndian
	be.PutUint32(b, magicCodeDirectory)
	be.PutUint32(b[4:], uint32(total))
	be.PutUint32(b[8:], 0x20200)
	be.PutUint32(b[12:], 0) // flags
	be.PutUint32(b[16:], uint32(hashOff))
	be.PutUint32(b[20:], uint32(identOff))
	be.PutUint32(b[24:], nSpecial)
	be.PutUint32(b[28:], uint32(len(pages)))
	be.PutUint32(b[32:], uint32(len(image)))
	b[36], b[37], b[39] = byte(hsize), hashType, o.pageShift
	be.PutUint32(b[48:], uint32(teamOff))
	copy(b[identOff:], ident)
	copy(b[teamOff:], team)
	copy(b[hashOff-slotRequirements*hsize:], hsum(hashType, requirements))
	copy(b[hashOff-slotRepSpecific*hsize:], hsum(hashType, kolyZeroed))
	for i, p := range pages {
		copy(b[hashOff+i*hsize:], hsum(hashType, p))
	}
	return b
}

func superBlobOf(blobs []blob) []byte {
	var idx, body bytes.Buffer
	off := 12 + 8*len(blobs)
	for _, bl := range blobs {
		binary.Write(&idx, binary.BigEndian, bl.slot)
		binary.Write(&idx, binary.BigEndian, uint32(off+body.Len()))
		body.Write(bl.data)
	}
	out := make([]byte, 12)
	binary.BigEndian.PutUint32(out, magicEmbeddedSignature)
	binary.BigEndian.PutUint32(out[4:], uint32(12+idx.Len()+body.Len()))
	binary.BigEndian.PutUint32(out[8:], uint32(len(blobs)))
	return append(append(out, idx.Bytes()...), body.Bytes()...)
}

func wrap(magic uint32, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(b, magic)
	binary.BigEndian.PutUint32(b[4:], uint32(8+len(payload)))
	return append(b, payload...)
}

// buildDMG writes an image per o.
func buildDMG(t testing.TB, o dmgOpts) []byte {
	t.Helper()
	o.defaults()
	// The data fork: each partition's share of o.data, raw or zlib.
	var fork []byte
	var mishes [][]byte
	per := len(o.data) / len(o.partitions)
	for i := range o.partitions {
		part := o.data[i*per : (i+1)*per]
		typ, stored := uint32(1), part
		if o.zlib {
			var z bytes.Buffer
			w := zlib.NewWriter(&z)
			w.Write(part)
			w.Close()
			typ, stored = 0x80000005, z.Bytes()
		}
		mishes = append(mishes, mishBlock(typ, uint64(len(fork)), uint64(len(stored)), uint64(len(part))))
		fork = append(fork, stored...)
	}
	pl := o.plistXML
	if pl == "" {
		pl = plist(o, mishes)
	}
	image := append(fork, pl...)
	xmlOff, xmlLen := uint64(len(fork)), uint64(len(pl))
	sectors := uint64(len(o.data)+511) / 512
	if o.sign == nil && !o.adhoc {
		return append(image, koly(uint64(len(fork)), xmlOff, xmlLen, 0, 0, sectors)...)
	}
	sigOff := uint64(len(image))
	kz := koly(uint64(len(fork)), xmlOff, xmlLen, sigOff, 0, sectors)
	reqs := make([]byte, 12)
	binary.BigEndian.PutUint32(reqs, magicRequirements)
	binary.BigEndian.PutUint32(reqs[4:], 12)
	cd := codeDirectoryBlob(o, o.hashType, image, kz, reqs)
	blobs := []blob{{slot: slotCodeDirectory, data: cd}, {slot: slotRequirements, data: reqs}}
	if o.alternate {
		blobs = append(blobs, blob{slot: slotAlternateFirst, data: codeDirectoryBlob(o, 1, image, kz, reqs)})
	}
	cms := []byte{}
	if o.sign != nil {
		cms = opensslSign(t, o.sign, cd)
	}
	if o.mutateCD != nil {
		blobs[0].data = o.mutateCD(bytes.Clone(cd))
	}
	blobs = append(blobs, blob{slot: slotSignature, data: wrap(magicBlobWrapper, cms)})
	if o.ticket != nil {
		blobs = append(blobs, blob{slot: slotTicket, data: wrap(0x73386368, o.ticket)}) // "s8ch"
	}
	sb := superBlobOf(blobs)
	out := append(image, sb...)
	return append(out, koly(uint64(len(fork)), xmlOff, xmlLen, sigOff, uint64(len(sb)), sectors)...)
}

func pemFile(t testing.TB, dir, name, typ string, der []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// opensslSign makes the detached CMS signature over cd with openssl cms.
func opensslSign(t testing.TB, s *signer, cd []byte) []byte {
	t.Helper()
	testtool.Need(t, "apt-get install openssl", "openssl")
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	key := pemFile(t, dir, "key.pem", "PRIVATE KEY", keyDER)
	leaf := pemFile(t, dir, "leaf.pem", "CERTIFICATE", s.chain[0].Raw)
	var chain bytes.Buffer
	for _, c := range s.chain[1:] {
		pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	chainPath := filepath.Join(dir, "chain.pem")
	os.WriteFile(chainPath, chain.Bytes(), 0o600)
	in := filepath.Join(dir, "cd.bin")
	os.WriteFile(in, cd, 0o600)
	out := filepath.Join(dir, "sig.der")
	args := []string{"cms", "-sign", "-binary", "-md", "sha256", "-nosmimecap", "-outform", "DER",
		"-signer", leaf, "-inkey", key, "-in", in, "-out", out}
	if len(s.chain) > 1 {
		args = append(args, "-certfile", chainPath)
	}
	if msg, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -sign: %v: %s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type testPKI struct {
	root, inter, otherRoot                *x509.Certificate
	valid, expired, stray, ec, selfSigned *signer
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
)

func pki(t testing.TB) *testPKI {
	pkiOnce.Do(func() {
		now := time.Now()
		mk := func(cn string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, ca bool, nb, na time.Time) *x509.Certificate {
			serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
			tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"EUCORA Test"}},
				NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
			if ca {
				tpl.IsCA, tpl.BasicConstraintsValid = true, true
				tpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
				tpl.ExtKeyUsage = nil
			}
			if parent == nil {
				parent, parentKey = tpl, key
			}
			der, err := x509.CreateCertificate(rand.Reader, tpl, parent, key.Public(), parentKey)
			if err != nil {
				panic(err)
			}
			c, _ := x509.ParseCertificate(der)
			return c
		}
		rk := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		}
		year := 365 * 24 * time.Hour
		p := &testPKI{}
		rootKey, interKey, otherKey := rk(), rk(), rk()
		p.root = mk("EUCORA Test Root", rootKey, nil, nil, true, now.Add(-48*time.Hour), now.Add(10*year))
		p.inter = mk("EUCORA Test Developer ID CA", interKey, p.root, rootKey, true, now.Add(-48*time.Hour), now.Add(5*year))
		p.otherRoot = mk("Stray Root", otherKey, nil, nil, true, now.Add(-48*time.Hour), now.Add(10*year))
		lk := rk()
		p.valid = &signer{key: lk, chain: []*x509.Certificate{mk("Developer ID Application: Foo Vendor (EUCTEAM123)", lk, p.inter, interKey, false, now.Add(-24*time.Hour), now.Add(year)), p.inter}}
		ok := rk()
		p.expired = &signer{key: ok, chain: []*x509.Certificate{mk("Developer ID Application: Old Vendor", ok, p.inter, interKey, false, now.Add(-40*time.Hour), now.Add(-2*time.Hour)), p.inter}}
		sk := rk()
		p.stray = &signer{key: sk, chain: []*x509.Certificate{mk("Stray Vendor", sk, p.otherRoot, otherKey, false, now.Add(-24*time.Hour), now.Add(year)), p.otherRoot}}
		ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p.ec = &signer{key: ek, chain: []*x509.Certificate{mk("Developer ID Application: EC Vendor", ek, p.inter, interKey, false, now.Add(-24*time.Hour), now.Add(year)), p.inter}}
		ssk := rk()
		p.selfSigned = &signer{key: ssk, chain: []*x509.Certificate{mk("Self Signed Vendor", ssk, nil, nil, false, now.Add(-24*time.Hour), now.Add(year))}}
		pkiVal = p
	})
	return pkiVal
}
