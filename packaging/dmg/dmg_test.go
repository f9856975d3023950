package dmg

import (
	"bytes"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
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

var hostileCount int

func inspect(b []byte, o facts.Options) (*facts.Facts, error) {
	return Inspect(bytes.NewReader(b), int64(len(b)), o)
}

func mustInspect(t *testing.T, b []byte, o facts.Options) *facts.Facts {
	t.Helper()
	f, err := inspect(b, o)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return f
}

func TestInspectUnsigned(t *testing.T) {
	f := mustInspect(t, buildDMG(t, dmgOpts{}), facts.Options{})
	if f.Kind != facts.KindDMG || f.Identity != (facts.Identity{}) {
		t.Errorf("Kind %q Identity %+v", f.Kind, f.Identity)
	}
	if f.Signature == nil || f.Signature.State != facts.SigUnsigned || f.Signature.Format != "codesign" {
		t.Errorf("Signature = %+v", f.Signature)
	}
	want := map[string]string{
		"blkx partitions":  "Protective Master Boot Record (MBR : 0); GPT Header (Primary GPT Header : 1); disk image (Apple_HFS : 4)",
		"blkx chunk types": "raw",
		"udif version":     "4",
		"image variant":    "1",
		"sector count":     "240",
		"data fork length": "122880",
	}
	for k, v := range want {
		if f.Fields[k] != v {
			t.Errorf("Fields[%q] = %q, want %q", k, f.Fields[k], v)
		}
	}
	if !slices.Contains(f.NotInspected, NotInspectedContents) || !slices.Contains(f.NotInspected, NotInspectedNoTicket) {
		t.Errorf("NotInspected = %q", f.NotInspected)
	}
}

func TestInspectSignatures(t *testing.T) {
	p := pki(t)
	trust := facts.NewTrustStore(p.root)
	for _, c := range []struct {
		name   string
		o      dmgOpts
		trust  *facts.TrustStore
		now    time.Time
		tamper func([]byte) []byte
		state  facts.SignatureState
		detail string
	}{
		{"signed, chains to the trusted root", dmgOpts{sign: p.valid}, trust, time.Time{}, nil, facts.SigTrusted, "chains to the trusted root CN=EUCORA Test Root"},
		{"ECDSA signer", dmgOpts{sign: p.ec}, trust, time.Time{}, nil, facts.SigTrusted, "CMS signature over the code directory verifies"},
		{"4 KiB pages, SHA-1 alternate code directory", dmgOpts{sign: p.valid, pageShift: 12, alternate: true}, trust, time.Time{}, nil, facts.SigTrusted, "hashes of the image's"},
		{"SHA-1 code directory", dmgOpts{sign: p.valid, hashType: 1}, trust, time.Time{}, nil, facts.SigTrusted, "verifies"},
		{"SHA-384 code directory", dmgOpts{sign: p.valid, hashType: 4}, trust, time.Time{}, nil, facts.SigTrusted, "verifies"},
		{"no trust store", dmgOpts{sign: p.valid}, nil, time.Time{}, nil, facts.SigUntrusted, "no trust store is configured"},
		{"untrusted root", dmgOpts{sign: p.stray}, trust, time.Time{}, nil, facts.SigUntrusted, "does not chain to a configured root"},
		{"self-signed", dmgOpts{sign: p.selfSigned}, trust, time.Time{}, nil, facts.SigUntrusted, "does not chain"},
		{"expired leaf", dmgOpts{sign: p.expired}, trust, time.Time{}, nil, facts.SigExpired, "outside its validity"},
		{"judged after expiry", dmgOpts{sign: p.valid}, trust, time.Now().Add(3 * 365 * 24 * time.Hour), nil, facts.SigExpired, "no trusted timestamp"},
		{"ad hoc", dmgOpts{adhoc: true}, trust, time.Time{}, nil, facts.SigUnsigned, "ad hoc code signature"},
		{"ad hoc, data altered", dmgOpts{adhoc: true}, trust, time.Time{}, func(b []byte) []byte { b[7] ^= 1; return b }, facts.SigInvalid, "altered after signing"},
		{"stapled ticket", dmgOpts{sign: p.valid, ticket: []byte("s8ch ticket")}, trust, time.Time{}, nil, facts.SigTrusted, "a notarization ticket (19 bytes) is stapled"},
		{"data fork altered after signing", dmgOpts{sign: p.valid}, trust, time.Time{}, func(b []byte) []byte { b[1000] ^= 1; return b }, facts.SigInvalid, "the image's bytes 0 to"},
		{"one page altered after signing", dmgOpts{sign: p.valid, pageShift: 12}, trust, time.Time{}, func(b []byte) []byte { b[5000] ^= 1; return b }, facts.SigInvalid, "bytes 4096 to 8192"},
		{"plist altered after signing", dmgOpts{sign: p.valid}, trust, time.Time{}, func(b []byte) []byte {
			i := bytes.Index(b, []byte("Apple_HFS"))
			b[i] = 'B'
			return b
		}, facts.SigInvalid, "altered after signing"},
		{"koly altered after signing", dmgOpts{sign: p.valid}, trust, time.Time{}, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[len(b)-KolySize+488:], 2) // image variant
			return b
		}, facts.SigInvalid, "koly trailer hash"},
		{"code directory altered after signing", dmgOpts{sign: p.valid, mutateCD: func(cd []byte) []byte {
			i := bytes.Index(cd, []byte("com.example.foo.dmg"))
			cd[i] = 'C'
			return cd
		}}, trust, time.Time{}, nil, facts.SigInvalid, "messageDigest matches no code directory"},
		{"CMS signature bytes altered", dmgOpts{sign: p.valid}, trust, time.Time{}, func(b []byte) []byte {
			// The RSA signature value is the CMS blob's last 256 bytes.
			b[len(b)-KolySize-10] ^= 1
			return b
		}, facts.SigInvalid, "does not verify with the signer's key"},
		{"signature not ending at the koly", dmgOpts{sign: p.valid}, trust, time.Time{}, func(b []byte) []byte {
			k := bytes.Clone(b[len(b)-KolySize:])
			return append(append(b[:len(b)-KolySize], 0, 0, 0, 0), k...)
		}, facts.SigInvalid, "does not end at the koly trailer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := buildDMG(t, c.o)
			if c.tamper != nil {
				b = c.tamper(b)
			}
			f := mustInspect(t, b, facts.Options{Trust: c.trust, Now: c.now})
			s := f.Signature
			if s == nil || s.State != c.state || !strings.Contains(s.Detail, c.detail) {
				t.Fatalf("Signature = %+v, want %s with %q", s, c.state, c.detail)
			}
			if c.o.sign != nil && s.State != facts.SigInvalid {
				if s.Signer != c.o.sign.chain[0].Subject.String() || s.Issuer != c.o.sign.chain[0].Issuer.String() || s.NotAfter == nil || len(s.Chain) == 0 {
					t.Errorf("signer %q issuer %q chain %q", s.Signer, s.Issuer, s.Chain)
				}
				if f.Fields["codesign identifier"] != "com.example.foo.dmg" || f.Fields["codesign team id"] != "EUCTEAM123" {
					t.Errorf("Fields = %v", f.Fields)
				}
			}
			if s.Notarized != (c.o.ticket != nil) {
				t.Errorf("Notarized = %v", s.Notarized)
			}
			if !slices.Contains(f.NotInspected, NotInspectedContents) {
				t.Errorf("NotInspected = %q", f.NotInspected)
			}
		})
	}
}

// openssl verifies the CMS signature of our fixture over its code
// directory, and refuses it once the code directory changes: our verdicts
// agree with the real tool's.
func TestCMSAgreesWithOpenssl(t *testing.T) {
	testtool.Need(t, "apt-get install openssl", "openssl")
	p := pki(t)
	b := buildDMG(t, dmgOpts{sign: p.valid})
	k := parseKoly(b[len(b)-KolySize:])
	blobs, err := superBlob(b[k.CodeSignOffset : k.CodeSignOffset+k.CodeSignLength])
	if err != nil {
		t.Fatal(err)
	}
	var cd, cms []byte
	for _, bl := range blobs {
		switch bl.slot {
		case slotCodeDirectory:
			cd = bl.data
		case slotSignature:
			cms = bl.data[8:]
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cd.bin"), cd, 0o600)
	os.WriteFile(filepath.Join(dir, "sig.der"), cms, 0o600)
	os.WriteFile(filepath.Join(dir, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}), 0o600)
	verify := func() error {
		cmd := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.der", "-content", "cd.bin", "-CAfile", "root.pem", "-purpose", "any", "-out", os.DevNull)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := verify(); err != nil {
		t.Fatalf("openssl cms -verify of our fixture: %v", err)
	}
	parsed, _ := parseCodeDirectory(cd)
	if _, err := verifyCMS(cms, []*codeDirectory{parsed}); err != nil {
		t.Fatalf("verifyCMS: %v", err)
	}
	cd[len(cd)-1] ^= 1
	os.WriteFile(filepath.Join(dir, "cd.bin"), cd, 0o600)
	if err := verify(); err == nil {
		t.Fatal("openssl verified an altered code directory")
	}
	parsed, _ = parseCodeDirectory(cd)
	if _, err := verifyCMS(cms, []*codeDirectory{parsed}); err == nil {
		t.Fatal("verifyCMS verified an altered code directory")
	}
}

// dmg2img, a UDIF reader of its own, lists our fixture's partitions and
// expands its data fork (raw and zlib chunks) back to the image's bytes:
// the builder lays out koly, plist and block tables as UDIF does.
func TestFixtureAgainstDmg2img(t *testing.T) {
	testtool.Need(t, "apt-get install dmg2img", "dmg2img")
	for _, o := range []dmgOpts{{}, {zlib: true}, {zlib: true, sign: pki(t).valid}} {
		o.defaults()
		b := buildDMG(t, o)
		f := mustInspect(t, b, facts.Options{})
		dir := t.TempDir()
		in, out := filepath.Join(dir, "a.dmg"), filepath.Join(dir, "a.img")
		os.WriteFile(in, b, 0o644)
		list, err := exec.Command("dmg2img", "-l", in).CombinedOutput()
		if err != nil {
			t.Fatalf("dmg2img -l: %v: %s", err, list)
		}
		for i, name := range o.partitions {
			if !strings.Contains(string(list), fmt.Sprintf("partition %d: %s", i, name)) {
				t.Errorf("dmg2img -l lacks partition %d %q:\n%s", i, name, list)
			}
		}
		if f.Fields["blkx partitions"] != strings.Join(o.partitions, "; ") {
			t.Errorf("blkx partitions %q", f.Fields["blkx partitions"])
		}
		if msg, err := exec.Command("dmg2img", in, out).CombinedOutput(); err != nil {
			t.Fatalf("dmg2img: %v: %s", err, msg)
		}
		img, _ := os.ReadFile(out)
		if !bytes.Equal(img, o.data) {
			t.Errorf("dmg2img expanded %d bytes, want the %d bytes of the image", len(img), len(o.data))
		}
		want := "raw"
		if o.zlib {
			want = "zlib"
		}
		if f.Fields["blkx chunk types"] != want {
			t.Errorf("chunk types %q, want %q", f.Fields["blkx chunk types"], want)
		}
	}
}

func TestEncryptedImage(t *testing.T) {
	b := append([]byte("encrcdsa"), bytes.Repeat([]byte{0x42}, 4096)...)
	f := mustInspect(t, b, facts.Options{})
	if f.Signature != nil || !slices.Contains(f.NotInspected, NotInspectedEncrypted) || !slices.Contains(f.NotInspected, NotInspectedContents) {
		t.Errorf("facts = %+v", f)
	}
}

func wantDefect(t *testing.T, b []byte, lim facts.Limits, want string) {
	t.Helper()
	hostileCount++
	f, err := inspect(b, facts.Options{Limits: lim, Trust: facts.NewTrustStore(pki(t).root)})
	var de *facts.DefectError
	if !errors.As(err, &de) || !errors.Is(err, facts.ErrDefect) {
		t.Fatalf("want a DefectError with %q, got facts %+v, err %v", want, f, err)
	}
	if de.Kind != facts.KindDMG || !strings.Contains(de.Defect, want) {
		t.Fatalf("defect %q, want it to say %q", de.Defect, want)
	}
}

// setKoly returns b with the koly field at off set to v (u64 or u32).
func setKoly(b []byte, off int, v uint64, wide bool) []byte {
	b = bytes.Clone(b)
	k := b[len(b)-KolySize:]
	if wide {
		binary.BigEndian.PutUint64(k[off:], v)
	} else {
		binary.BigEndian.PutUint32(k[off:], uint32(v))
	}
	return b
}

// withSignature replaces the signed image's SuperBlob by sb (same length
// kept by padding, or the koly length fixed up).
func withSignature(t *testing.T, signed []byte, sb []byte) []byte {
	k := parseKoly(signed[len(signed)-KolySize:])
	out := append(bytes.Clone(signed[:k.CodeSignOffset]), sb...)
	kb := bytes.Clone(signed[len(signed)-KolySize:])
	binary.BigEndian.PutUint64(kb[offCodeSignLength:], uint64(len(sb)))
	return append(out, kb...)
}

func TestHostile(t *testing.T) {
	p := pki(t)
	good := buildDMG(t, dmgOpts{})
	signed := buildDMG(t, dmgOpts{sign: p.valid})
	n := len(good)
	deep := "<plist><dict><key>resource-fork</key>" + strings.Repeat("<array>", 100000) + strings.Repeat("</array>", 100000) + "</dict></plist>"
	sbHeader := func(count uint32, extra []byte) []byte {
		b := make([]byte, 12)
		binary.BigEndian.PutUint32(b, magicEmbeddedSignature)
		binary.BigEndian.PutUint32(b[4:], uint32(12+len(extra)))
		binary.BigEndian.PutUint32(b[8:], count)
		return append(b, extra...)
	}
	idx := func(slot, off uint32) []byte {
		b := make([]byte, 8)
		binary.BigEndian.PutUint32(b, slot)
		binary.BigEndian.PutUint32(b[4:], off)
		return b
	}
	cdWith := func(fn func(cd []byte)) []byte {
		cd := codeDirectoryBlob(dmgOpts{}, 2, []byte("x"), make([]byte, KolySize), make([]byte, 12))
		fn(cd)
		return superBlobOf([]blob{{slot: slotCodeDirectory, data: cd}})
	}
	cmsWith := func(cms []byte) []byte {
		k := parseKoly(signed[len(signed)-KolySize:])
		blobs, _ := superBlob(signed[k.CodeSignOffset : k.CodeSignOffset+k.CodeSignLength])
		for i := range blobs {
			if blobs[i].slot == slotSignature {
				blobs[i].data = wrap(magicBlobWrapper, cms)
			}
		}
		return withSignature(t, signed, superBlobOf(blobs))
	}
	cases := []struct {
		name string
		b    []byte
		lim  facts.Limits
		want string
	}{
		{"empty file", nil, facts.Limits{}, "truncated"},
		{"511 bytes", good[n-511:], facts.Limits{}, "truncated"},
		{"truncated before the koly", good[:n-100], facts.Limits{}, "no koly trailer"},
		{"a zip named .dmg", append([]byte("PK\x03\x04"), make([]byte, 1000)...), facts.Limits{}, "no koly trailer"},
		{"a xar named .dmg", append([]byte("xar!\x00\x1c\x00\x01"), make([]byte, 1000)...), facts.Limits{}, "no koly trailer"},
		{"koly version 3", setKoly(good, 4, 3, false), facts.Limits{}, "koly version 3"},
		{"koly header size 200", setKoly(good, 8, 200, false), facts.Limits{}, "header size 200"},
		{"data fork past EOF", setKoly(good, 32, 1<<40, true), facts.Limits{}, "data fork at offset"},
		{"data fork offset+length overflow", setKoly(setKoly(good, 24, 1<<63, true), 32, 1<<63, true), facts.Limits{}, "data fork at offset"},
		{"resource fork past EOF", setKoly(good, 48, uint64(n), true), facts.Limits{}, "resource fork"},
		{"XML plist offset past EOF", setKoly(good, 216, uint64(n), true), facts.Limits{}, "XML plist at offset"},
		{"XML plist length past EOF", setKoly(good, 224, 1<<62, true), facts.Limits{}, "XML plist at offset"},
		{"code signature offset past EOF", setKoly(good, offCodeSignOffset, uint64(n)+10, true), facts.Limits{}, "code signature at offset"},
		{"code signature length past EOF", setKoly(signed, offCodeSignLength, 1<<60, true), facts.Limits{}, "code signature at offset"},
		{"XML plist over MaxMetadata", good, facts.Limits{MaxMetadata: 1000}, "limit 1000"},
		{"code signature over MaxMetadata", buildDMG(t, dmgOpts{sign: p.valid, ticket: make([]byte, 20000)}), facts.Limits{MaxMetadata: 10000}, "code signature is"},
		{"plist nested 100000 deep", buildDMG(t, dmgOpts{plistXML: deep}), facts.Limits{}, "nested deeper than 32"},
		{"plist with too many values", buildDMG(t, dmgOpts{plistXML: "<plist><array>" + strings.Repeat("<true/>", 2000) + "</array></plist>"}), facts.Limits{MaxEntries: 1000}, "more than 1000 values"},
		{"plist entity bomb", buildDMG(t, dmgOpts{plistXML: `<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><plist><string>&b;&b;&b;</string></plist>`}), facts.Limits{}, "XML plist"},
		{"plist not XML", buildDMG(t, dmgOpts{plistXML: "not xml <<<"}), facts.Limits{}, "XML plist"},
		{"plist root an array", buildDMG(t, dmgOpts{plistXML: "<plist><array/></plist>"}), facts.Limits{}, "not a dict"},
		{"plist without resource-fork", buildDMG(t, dmgOpts{plistXML: "<plist><dict/></plist>"}), facts.Limits{}, "no resource-fork"},
		{"plist without blkx", buildDMG(t, dmgOpts{plistXML: "<plist><dict><key>resource-fork</key><dict/></dict></plist>"}), facts.Limits{}, "no blkx"},
		{"blkx entry not a dict", buildDMG(t, dmgOpts{plistXML: "<plist><dict><key>resource-fork</key><dict><key>blkx</key><array><string/></array></dict></dict></plist>"}), facts.Limits{}, "not a dict"},
		{"blkx without Data", buildDMG(t, dmgOpts{plistXML: "<plist><dict><key>resource-fork</key><dict><key>blkx</key><array><dict><key>Name</key><string>p</string></dict></array></dict></dict></plist>"}), facts.Limits{}, "has no Data"},
		{"mish too short", buildDMG(t, dmgOpts{mish: func(i int, m []byte) []byte { return m[:100] }}), facts.Limits{}, "block table of 100 bytes"},
		{"mish magic wrong", buildDMG(t, dmgOpts{mish: func(i int, m []byte) []byte { copy(m, "fish"); return m }}), facts.Limits{}, "want \"mish\""},
		{"mish chunk count overflows", buildDMG(t, dmgOpts{mish: func(i int, m []byte) []byte { binary.BigEndian.PutUint32(m[200:], 0xffffffff); return m }}), facts.Limits{}, "declares 4294967295 chunks"},
		{"mish chunk past the data fork", buildDMG(t, dmgOpts{mish: func(i int, m []byte) []byte {
			binary.BigEndian.PutUint64(m[mishHeaderSize+24:], 1<<40)
			return m
		}}), facts.Limits{}, "lies past the data fork"},
		{"mish chunk offset overflows", buildDMG(t, dmgOpts{mish: func(i int, m []byte) []byte {
			binary.BigEndian.PutUint64(m[24:], 1<<63)
			binary.BigEndian.PutUint64(m[mishHeaderSize+24:], 1<<63)
			return m
		}}), facts.Limits{}, "lies past the data fork"},
		{"SuperBlob magic wrong", withSignature(t, signed, append([]byte{0xfa, 0xde, 0x0c, 0xc1}, make([]byte, 20)...)), facts.Limits{}, "want the embedded-signature SuperBlob"},
		{"SuperBlob shorter than its header", withSignature(t, signed, []byte{0xfa, 0xde, 0x0c, 0xc0, 0}), facts.Limits{}, "a SuperBlob header is 12"},
		{"SuperBlob length past the signature", withSignature(t, signed, func() []byte { b := sbHeader(0, nil); binary.BigEndian.PutUint32(b[4:], 1<<30); return b }()), facts.Limits{}, "SuperBlob declares 1073741824 bytes"},
		{"SuperBlob count overflows", withSignature(t, signed, sbHeader(0xffffffff, make([]byte, 16))), facts.Limits{}, "declares 4294967295 blobs"},
		{"SuperBlob count past its index", withSignature(t, signed, sbHeader(3, idx(0, 20))), facts.Limits{}, "declares 3 blobs"},
		{"SuperBlob blob offset past the end", withSignature(t, signed, sbHeader(1, append(idx(0, 4000), make([]byte, 8)...))), facts.Limits{}, "lies outside"},
		{"SuperBlob blob offset inside its index", withSignature(t, signed, sbHeader(1, append(idx(0, 4), make([]byte, 8)...))), facts.Limits{}, "lies outside"},
		{"SuperBlob blob length past the end", withSignature(t, signed, sbHeader(1, append(idx(0, 20), []byte{0xfa, 0xde, 0x0c, 0x02, 0x7f, 0, 0, 0}...))), facts.Limits{}, "runs past the SuperBlob"},
		{"SuperBlob without a code directory", withSignature(t, signed, superBlobOf([]blob{{slot: slotRequirements, data: wrap(magicRequirements, make([]byte, 4))}})), facts.Limits{}, "no code directory"},
		{"code directory magic wrong", withSignature(t, signed, superBlobOf([]blob{{slot: slotCodeDirectory, data: wrap(magicRequirements, make([]byte, 60))}})), facts.Limits{}, "without its magic"},
		{"code directory hash offset past its end", withSignature(t, signed, cdWith(func(cd []byte) { binary.BigEndian.PutUint32(cd[16:], 1<<30) })), facts.Limits{}, "do not fit"},
		{"code directory special slots overflow", withSignature(t, signed, cdWith(func(cd []byte) { binary.BigEndian.PutUint32(cd[24:], 0xffffffff) })), facts.Limits{}, "do not fit"},
		{"code directory code slots overflow", withSignature(t, signed, cdWith(func(cd []byte) { binary.BigEndian.PutUint32(cd[28:], 0xffffffff) })), facts.Limits{}, "do not fit"},
		{"code directory hash type unknown", withSignature(t, signed, cdWith(func(cd []byte) { cd[37] = 9 })), facts.Limits{}, "hash type 9"},
		{"code directory hash size lies", withSignature(t, signed, cdWith(func(cd []byte) { cd[36] = 200 })), facts.Limits{}, "hash size 200"},
		{"code directory page size 2^31", withSignature(t, signed, cdWith(func(cd []byte) { cd[39] = 31 })), facts.Limits{}, "page size 2^31"},
		{"signature slot not a BlobWrapper", withSignature(t, signed, superBlobOf([]blob{{slot: slotSignature, data: wrap(magicRequirements, nil)}})), facts.Limits{}, "not a BlobWrapper"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantDefect(t, c.b, c.lim, c.want) })
	}
	// A malformed CMS blob is a signature that does not verify, not a
	// defective image: Signature invalid, naming what is wrong.
	for _, c := range []struct {
		name string
		cms  []byte
		want string
	}{
		{"CMS garbage", []byte("definitely not DER"), "not DER ContentInfo"},
		{"CMS of another content type", []byte{0x30, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x02, 0x05, 0x00}, "not signedData"},
		{"CMS truncated", func() []byte {
			k := parseKoly(signed[len(signed)-KolySize:])
			blobs, _ := superBlob(signed[k.CodeSignOffset : k.CodeSignOffset+k.CodeSignLength])
			for _, b := range blobs {
				if b.slot == slotSignature {
					return b.data[8 : len(b.data)/2]
				}
			}
			return nil
		}(), "not DER ContentInfo"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hostileCount++
			f := mustInspect(t, cmsWith(c.cms), facts.Options{Trust: facts.NewTrustStore(p.root)})
			if f.Signature == nil || f.Signature.State != facts.SigInvalid || !strings.Contains(f.Signature.Detail, c.want) {
				t.Fatalf("Signature = %+v, want invalid with %q", f.Signature, c.want)
			}
		})
	}
	// Truncated at every structural boundary of a signed image.
	k := parseKoly(signed[len(signed)-KolySize:])
	for _, cut := range []uint64{0, 100, k.XMLOffset - 1, k.XMLOffset, k.XMLOffset + k.XMLLength/2, k.CodeSignOffset, k.CodeSignOffset + 12, k.CodeSignOffset + k.CodeSignLength - 1, uint64(len(signed)) - KolySize, uint64(len(signed)) - 1} {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			hostileCount++
			if _, err := inspect(signed[:cut], facts.Options{}); !errors.Is(err, facts.ErrDefect) {
				t.Fatalf("truncated at %d: %v", cut, err)
			}
		})
	}
}

func TestZHostileCount(t *testing.T) {
	t.Logf("malformed and hostile inputs tried: %d", hostileCount)
}
