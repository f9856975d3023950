package mobile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

// hostileCount counts the malformed and hostile inputs tried.
var hostileCount int

func TestMain(m *testing.M) {
	code := m.Run()
	if hostileCount > 0 {
		fmt.Printf("malformed and hostile .ipa/.apk inputs tried: %d\n", hostileCount)
	}
	os.Exit(code)
}

func tryIPA(t *testing.T, b []byte, o facts.Options, parts ...string) {
	t.Helper()
	hostileCount++
	_, err := InspectIPA(bytes.NewReader(b), int64(len(b)), o)
	wantDefect(t, err, facts.KindIPA, parts...)
}

func tryAPK(t *testing.T, b []byte, o facts.Options, parts ...string) {
	t.Helper()
	hostileCount++
	_, err := InspectAPK(bytes.NewReader(b), int64(len(b)), o)
	wantDefect(t, err, facts.KindAPK, parts...)
}

func goodAPK(t testing.TB) []byte {
	return zipBuild(t, zipEntry{name: "AndroidManifest.xml", body: demoManifest(false, false)}, zipEntry{name: "classes.dex", body: []byte("dex")})
}

func goodIPA(t testing.TB) []byte {
	return ipaBuild(t, ipaOpts{info: encodeBinaryPlist(demoInfo()), exe: machO, signed: true})
}

func TestHostileTypeConfusion(t *testing.T) {
	apk, ipa := goodAPK(t), goodIPA(t)
	deb := []byte("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n")
	tryIPA(t, apk, facts.Options{}, "no Payload/NAME.app/Info.plist", "an Android package?")
	tryAPK(t, ipa, facts.Options{}, "no AndroidManifest.xml", "Payload/EUCORA.app/Info.plist: an iOS app?")
	for _, b := range [][]byte{deb, nil, []byte("PK"), []byte("not a zip at all"), []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")} {
		tryIPA(t, b, facts.Options{}, "zip container")
		tryAPK(t, b, facts.Options{}, "zip container")
	}
	jar := zipBuild(t, zipEntry{name: "META-INF/MANIFEST.MF", body: []byte("Manifest-Version: 1.0\n")})
	tryAPK(t, jar, facts.Options{}, "no AndroidManifest.xml: not an Android package")
	nested := zipBuild(t, zipEntry{name: "res/AndroidManifest.xml", body: demoManifest(false, false)})
	tryAPK(t, nested, facts.Options{}, "no AndroidManifest.xml")
	text := zipBuild(t, zipEntry{name: "AndroidManifest.xml", body: []byte(aaptManifest)})
	tryAPK(t, text, facts.Options{}, "text XML, not Android binary XML")
	dup := zipBuild(t, zipEntry{name: "AndroidManifest.xml", body: demoManifest(false, false)}, zipEntry{name: "AndroidManifest.xml", body: demoManifest(true, false)})
	tryAPK(t, dup, facts.Options{}, `zip holds entry "AndroidManifest.xml" twice`)
	dupIPA := ipaBuild(t, ipaOpts{info: encodeXMLPlist(demoInfo()), extra: []zipEntry{{name: "Payload/EUCORA.app/Info.plist", body: encodeXMLPlist(demoInfo())}}})
	tryIPA(t, dupIPA, facts.Options{}, "twice")
	two := ipaBuild(t, ipaOpts{info: encodeXMLPlist(demoInfo()), extra: []zipEntry{{name: "Payload/Other.app/Info.plist", body: encodeXMLPlist(demoInfo())}}})
	tryIPA(t, two, facts.Options{}, "two app bundles in Payload/")
}

// Every prefix of a package is refused, as a zip or as what it holds.
func TestHostileTruncatedZips(t *testing.T) {
	for _, c := range []struct {
		b       []byte
		inspect func([]byte) error
	}{
		{goodAPK(t), func(b []byte) error {
			_, err := InspectAPK(bytes.NewReader(b), int64(len(b)), facts.Options{})
			return err
		}},
		{goodIPA(t), func(b []byte) error {
			_, err := InspectIPA(bytes.NewReader(b), int64(len(b)), facts.Options{})
			return err
		}},
	} {
		for n := 0; n < len(c.b); n++ {
			hostileCount++
			if err := c.inspect(c.b[:n]); err == nil {
				t.Fatalf("prefix of %d of %d bytes read without a defect", n, len(c.b))
			} else if !strings.Contains(err.Error(), "not a valid") {
				t.Fatalf("prefix %d: %v", n, err)
			}
		}
	}
}

func TestHostileZipBombs(t *testing.T) {
	zeros := make([]byte, 8<<20)
	apk := zipBuild(t, zipEntry{name: "AndroidManifest.xml", body: demoManifest(false, false)}, zipEntry{name: "assets/zeros", body: zeros})
	tryAPK(t, apk, facts.Options{}, "expands", "zip bomb?")
	tryAPK(t, apk, facts.Options{Limits: facts.Limits{MaxUncompressed: 4 << 20, MaxRatio: 1 << 30}}, "zip bomb?")
	var entries []zipEntry
	for i := 0; i < 50; i++ {
		entries = append(entries, zipEntry{name: fmt.Sprintf("f%d", i)})
	}
	tryIPA(t, zipBuild(t, entries...), facts.Options{Limits: facts.Limits{MaxEntries: 10}}, "50 entries, limit 10")
	big := ipaBuild(t, ipaOpts{info: encodeXMLPlist(map[string]any{"CFBundleIdentifier": "x", "pad": strings.Repeat("p", 5000)})})
	tryIPA(t, big, facts.Options{Limits: facts.Limits{MaxMetadata: 4096}}, "Info.plist\" is over 4096 bytes")
	tryAPK(t, goodAPK(t), facts.Options{Limits: facts.Limits{MaxMetadata: 100}}, "AndroidManifest.xml\" is over 100 bytes")
	escape := zipBuild(t, zipEntry{name: "../AndroidManifest.xml", body: []byte("x")})
	tryAPK(t, escape, facts.Options{}, "escapes the package")
}

func TestHostileAXML(t *testing.T) {
	good := demoManifest(false, false)
	apkOf := func(mx []byte) []byte { return zipBuild(t, zipEntry{name: "AndroidManifest.xml", body: mx}) }
	// every prefix of the document
	for n := 0; n < len(good); n++ {
		hostileCount++
		if _, err := readManifest(good[:n], 1000); err == nil {
			t.Fatalf("prefix %d of %d read", n, len(good))
		}
	}
	patch := func(at int, v uint32, size int) []byte {
		b := bytes.Clone(good)
		switch size {
		case 2:
			binary.LittleEndian.PutUint16(b[at:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(b[at:], v)
		}
		return b
	}
	poolSize := int(binary.LittleEndian.Uint32(good[8+4:]))
	firstChunkAfterPool := 8 + poolSize
	resMapSize := int(binary.LittleEndian.Uint32(good[firstChunkAfterPool+4:]))
	nsChunk := firstChunkAfterPool + resMapSize
	elem := nsChunk + 24 // the <manifest> start element
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"document size past the end", patch(4, uint32(len(good)+1), 4), "truncated?"},
		{"wrong document type", patch(0, 0x0002, 2), "first chunk type 0x0002"},
		{"string count huge", patch(8+8, 0x40000000, 4), "string pool claims 1073741824 strings"},
		{"strings start outside", patch(8+20, 0xfffffff0, 4), "string pool data at"},
		{"string offset outside", patch(8+28, 0x00ffffff, 4), "runs past the string pool"},
		{"chunk size zero", patch(firstChunkAfterPool+4, 0, 4), "header 8, size 0"},
		{"chunk size past the end", patch(firstChunkAfterPool+4, 0x7fffffff, 4), "bytes left"},
		{"chunk header size tiny", patch(firstChunkAfterPool+2, 4, 2), "header 4"},
		{"unknown chunk", patch(nsChunk, 0x0777, 2), "unknown chunk type 0x0777"},
		{"attribute count huge", patch(elem+16+12, 0xffff, 2), "65535 attributes of 20 bytes"},
		{"attribute size small", patch(elem+16+10, 4, 2), "attributes of 4 bytes"},
		{"element name index outside", patch(elem+16+4, 9999, 4), "string index 9999"},
		{"root is not manifest", patch(elem+16+4, 1, 4), "not <manifest>"},
		{"end element first", patch(nsChunk, resXMLEndElement, 2), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tryAPK(t, apkOf(c.b), facts.Options{}, "AndroidManifest.xml", c.want)
		})
	}
	// UTF-16 string length claiming more than the pool holds
	b := bytes.Clone(good)
	strStart := 8 + int(binary.LittleEndian.Uint32(good[8+20:]))
	binary.LittleEndian.PutUint16(b[strStart:], 0x7fff)
	tryAPK(t, apkOf(b), facts.Options{}, "runs past the string pool")
	// a manifest with no package attribute
	nb := &axmlBuilder{}
	nb.start("manifest", iattr(androidNS, "versionCode", 0x0101021b, 1))
	nb.end("manifest")
	tryAPK(t, apkOf(nb.bytes()), facts.Options{}, "<manifest> has no package attribute")
	// more elements than MaxEntries
	mb := &axmlBuilder{}
	mb.start("manifest", sattr("", "package", 0, "p"))
	for i := 0; i < 30; i++ {
		mb.start("uses-permission", sattr(androidNS, "name", 0x01010003, fmt.Sprintf("p%d", i)))
		mb.end("uses-permission")
	}
	mb.end("manifest")
	tryAPK(t, apkOf(mb.bytes()), facts.Options{Limits: facts.Limits{MaxEntries: 20}}, "more than 20 elements")
	// UTF-8 pool with an invalid sequence
	u := &axmlBuilder{utf8: true}
	u.start("manifest", sattr("", "package", 0, "p\xff"))
	u.end("manifest")
	tryAPK(t, apkOf(u.bytes()), facts.Options{}, "is not UTF-8")
	// empty document
	tryAPK(t, apkOf([]byte{3, 0, 8, 0, 8, 0, 0, 0}), facts.Options{}, "no elements")
}

func TestHostileSignatures(t *testing.T) {
	base := goodAPK(t)
	apkWith := func(name string, body []byte) []byte {
		return zipBuild(t, zipEntry{name: "AndroidManifest.xml", body: demoManifest(false, false)}, zipEntry{name: name, body: body})
	}
	// v1 block files that are not PKCS#7: the package is read, its signature is invalid
	for _, body := range [][]byte{nil, []byte("garbage"), {0x30, 0x82, 0xff, 0xff}, {0x30, 0x03, 0x06, 0x01, 0x00}} {
		hostileCount++
		apk := apkWith("META-INF/CERT.RSA", body)
		f, err := InspectAPK(bytes.NewReader(apk), int64(len(apk)), facts.Options{})
		if err != nil || f.Signature.State != facts.SigInvalid || f.Signature.Format != "apk-v1" {
			t.Errorf("%q: %v %+v", body, err, f)
		}
	}
	// signing blocks whose framing is wrong are defects
	raw := func(head, foot uint64, body []byte) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, head)
		b.Write(body)
		binary.Write(&b, binary.LittleEndian, foot)
		b.WriteString(apkSigMagic)
		return b.Bytes()
	}
	pair := func(n uint64, id uint32, v []byte) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, n)
		binary.Write(&b, binary.LittleEndian, id)
		b.Write(v)
		return b.Bytes()
	}
	ok := pair(8, apkSigV2, []byte{0, 0, 0, 0})
	for _, c := range []struct {
		name string
		blk  []byte
		want string
	}{
		{"sizes disagree", raw(uint64(len(ok)+24+1), uint64(len(ok)+24), ok), "sizes disagree"},
		{"size past the start", raw(0, 1<<40, ok), "declares 1099511627776 bytes"},
		{"size too small", raw(8, 8, nil), "declares 8 bytes"},
		{"pair longer than the block", raw(uint64(12+24), uint64(12+24), pair(1000, apkSigV2, nil)), "pair of 1000 bytes"},
		{"pair shorter than its ID", raw(uint64(12+24), uint64(12+24), pair(2, apkSigV2, nil)), "pair of 2 bytes"},
		{"truncated pair", raw(uint64(5+24), uint64(5+24), []byte{1, 2, 3, 4, 5}), "truncated pair"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tryAPK(t, insertSigningBlock(t, base, c.blk), facts.Options{}, "APK Signing Block", c.want)
		})
	}
	big := raw(uint64(len(ok)+24+4096), uint64(len(ok)+24+4096), append(ok, pair(4092, 0x42726577, make([]byte, 4088))...))
	tryAPK(t, insertSigningBlock(t, base, big), facts.Options{Limits: facts.Limits{MaxMetadata: 2048}}, "over MaxMetadata (2048)")
	// v2 values with broken length prefixes: still a signing block, signer unread
	for _, v := range [][]byte{{0xff, 0xff, 0xff, 0xff}, {4, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}, v2Value([]byte("not a certificate"))} {
		hostileCount++
		apk := insertSigningBlock(t, base, nil, uint32(apkSigV2), v)
		f, err := InspectAPK(bytes.NewReader(apk), int64(len(apk)), facts.Options{})
		if err != nil || f.Signature.Format != "apk-v2" || !strings.Contains(f.Signature.Detail, "could not be read") {
			t.Errorf("%x: %v %+v", v, err, f)
		}
	}
}

func TestHostilePlists(t *testing.T) {
	ipaOf := func(info []byte) []byte { return ipaBuild(t, ipaOpts{info: info}) }
	good := encodeBinaryPlist(demoInfo())
	for n := 0; n < len(good); n++ {
		hostileCount++
		if _, err := parsePlist(good[:n], 10000); err == nil {
			t.Fatalf("binary plist prefix %d of %d read", n, len(good))
		}
	}
	goodXML := encodeXMLPlist(demoInfo())
	for n := 0; n < len(goodXML)-1; n += 7 { // the newline after </plist> may go
		hostileCount++
		if _, err := parsePlist(goodXML[:n], 10000); err == nil {
			t.Fatalf("XML plist prefix %d of %d read", n, len(goodXML))
		}
	}
	trailer := func(off, ref int, num, top, table uint64) []byte {
		b := make([]byte, 32)
		b[6], b[7] = byte(off), byte(ref)
		binary.BigEndian.PutUint64(b[8:], num)
		binary.BigEndian.PutUint64(b[16:], top)
		binary.BigEndian.PutUint64(b[24:], table)
		return b
	}
	bp := func(objs []byte, offsets []byte, tr []byte) []byte {
		return append(append(append([]byte("bplist00"), objs...), offsets...), tr...)
	}
	// a DAG whose values double at each level: 30 levels would be 2^30 values
	var dag []byte
	var offs []byte
	dag = append(dag, 0x50) // object 0: ""
	offs = append(offs, 8)
	for i := 1; i <= 30; i++ {
		offs = append(offs, byte(8+len(dag)))
		dag = append(dag, 0xa2, byte(i-1), byte(i-1))
	}
	dagPlist := bp(dag, offs, trailer(1, 1, 31, 30, uint64(8+len(dag))))
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"offset size 0", bp([]byte{0x08}, []byte{8}, trailer(0, 1, 1, 0, 9)), "offset size 0"},
		{"no objects", bp([]byte{0x08}, []byte{8}, trailer(1, 1, 0, 0, 9)), "0 objects"},
		{"top past the objects", bp([]byte{0x08}, []byte{8}, trailer(1, 1, 1, 5, 9)), "top object 5"},
		{"table outside", bp([]byte{0x08}, []byte{8}, trailer(1, 1, 1, 0, 1<<40)), "offset table at"},
		{"object offset outside", bp([]byte{0x08}, []byte{200}, trailer(1, 1, 1, 0, 9)), "1 bytes at offset 200 run past the object area"},
		{"object offset in the header", bp([]byte{0x08}, []byte{3}, trailer(1, 1, 1, 0, 9)), "object 0 at offset 3 outside the object area"},
		{"self-containing array", bp([]byte{0xa1, 0}, []byte{8}, trailer(1, 1, 1, 0, 10)), "contains itself"},
		{"reference to nothing", bp([]byte{0xa1, 7}, []byte{8}, trailer(1, 1, 1, 0, 10)), "reference 7 to no object"},
		{"doubling DAG", dagPlist, "too many values"},
		{"string past the end", bp([]byte{0x5f, 0x13, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []byte{8}, trailer(1, 1, 1, 0, 18)), "run past the object area"},
		{"UTF-16 count huge", bp([]byte{0x6f, 0x13, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []byte{8}, trailer(1, 1, 1, 0, 18)), "runs past the object area"},
		{"dict count huge", bp([]byte{0xdf, 0x13, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []byte{8}, trailer(1, 1, 1, 0, 18)), "past the object area"},
		{"bad length marker", bp([]byte{0x5f, 0x55}, []byte{8}, trailer(1, 1, 1, 0, 10)), "bad length marker"},
		{"unknown marker", bp([]byte{0x70}, []byte{8}, trailer(1, 1, 1, 0, 9)), "unknown object marker 0x70"},
		{"non-string key", bp([]byte{0xd1, 1, 1, 0x10, 1}, []byte{8, 11}, trailer(1, 1, 2, 0, 13)), "dict key of type int64"},
		{"XML deep", []byte("<plist>" + strings.Repeat("<array>", 100) + strings.Repeat("</array>", 100) + "</plist>"), "nested deeper than 64"},
		{"XML unknown element", []byte("<plist><dict><key>a</key><blob>1</blob></dict></plist>"), "unknown element <blob>"},
		{"XML key without value", []byte("<plist><dict><key>a</key></dict></plist>"), "has no value"},
		{"XML value without key", []byte("<plist><dict><string>a</string></dict></plist>"), "where a <key> belongs"},
		{"XML text", []byte("<plist><dict>junk<key>a</key><true/></dict></plist>"), "outside a value"},
		{"XML entity bomb", []byte(`<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><plist><string>&b;</string></plist>`), "entity"},
		{"XML wrong root", []byte("<html></html>"), "root element <html>"},
		{"XML no root", []byte("   "), "no <plist>"},
		{"XML bad integer", []byte("<plist><integer>12x</integer></plist>"), "integer"},
		{"XML bad data", []byte("<plist><data>!!!</data></plist>"), "data"},
		{"XML bad date", []byte("<plist><date>yesterday</date></plist>"), "date"},
		{"XML many values", []byte("<plist><array>" + strings.Repeat("<true/>", 20000) + "</array></plist>"), "too many values"},
		{"top-level array", encodeXMLPlist([]any{"a"}), "not a dict"},
		{"no bundle id", encodeXMLPlist(map[string]any{"CFBundleName": "x"}), "has no CFBundleIdentifier"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tryIPA(t, ipaOf(c.b), facts.Options{Limits: facts.Limits{MaxEntries: 10000}}, "Info.plist", c.want)
		})
	}
}
