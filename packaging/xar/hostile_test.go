package xar

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

// hostileCount is the number of malformed and hostile inputs the tests of
// this package feed the reader; TestZHostileCount prints it.
var hostileCount int

func wantDefect(t *testing.T, b []byte, lim facts.Limits, want string) {
	t.Helper()
	hostileCount++
	f, err := InspectPkg(bytes.NewReader(b), int64(len(b)), facts.Options{Limits: lim})
	var de *facts.DefectError
	if !errors.As(err, &de) || !errors.Is(err, facts.ErrDefect) {
		t.Fatalf("want a DefectError with %q, got facts %+v, err %v", want, f, err)
	}
	if de.Kind != facts.KindPkg || !strings.Contains(de.Defect, want) {
		t.Fatalf("defect %q, want it to say %q", de.Defect, want)
	}
}

// rewriteHeader sets header fields of a built archive.
func withHeader(b []byte, fn func(h []byte)) []byte {
	b = bytes.Clone(b)
	fn(b[:HeaderSize])
	return b
}

// rawXar builds an archive whose TOC is toc verbatim (no checksum).
func rawXar(toc string, heap []byte) []byte {
	ctoc := zlibBytes([]byte(toc))
	b := header("none", len(ctoc), len(toc))
	b = append(b, ctoc...)
	return append(b, heap...)
}

func TestHostileHeaderAndTOC(t *testing.T) {
	good := productArchive(t, xarOpts{})
	a, err := Open(bytes.NewReader(good), int64(len(good)), facts.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	clen := int(a.Header.TOCCompressed)
	var zipFile bytes.Buffer
	zw := zip.NewWriter(&zipFile)
	w, _ := zw.Create("Distribution")
	w.Write([]byte(distributionXML))
	zw.Close()

	cases := []struct {
		name string
		b    []byte
		lim  facts.Limits
		want string
	}{
		{"empty file", nil, facts.Limits{}, "truncated header"},
		{"10 bytes", good[:10], facts.Limits{}, "truncated header"},
		{"wrong magic", append([]byte("zar!"), good[4:]...), facts.Limits{}, "no xar magic"},
		{"a zip named .pkg", zipFile.Bytes(), facts.Limits{}, "no xar magic"},
		{"a gzip named .pkg", gzipBytes(good), facts.Limits{}, "no xar magic"},
		{"header size 20", withHeader(good, func(h []byte) { binary.BigEndian.PutUint16(h[4:], 20) }), facts.Limits{}, "header size 20"},
		{"header size past EOF", withHeader(good[:100], func(h []byte) { binary.BigEndian.PutUint16(h[4:], 4000) }), facts.Limits{}, "truncated header"},
		{"version 2", withHeader(good, func(h []byte) { binary.BigEndian.PutUint16(h[6:], 2) }), facts.Limits{}, "version 2"},
		{"unknown checksum algorithm", withHeader(good, func(h []byte) { binary.BigEndian.PutUint32(h[24:], 9) }), facts.Limits{}, "unknown header checksum algorithm 9"},
		{"algorithm 3 name without NUL", func() []byte {
			b := buildXar(t, []*xfile{file("PackageInfo", []byte(packageInfoXML))}, xarOpts{cksum: "sha256"})
			copy(b[28:36], "sha256xx")
			return b
		}(), facts.Limits{}, "without a NUL-terminated name"},
		{"algorithm 3 names an unknown hash", func() []byte {
			b := buildXar(t, []*xfile{file("PackageInfo", []byte(packageInfoXML))}, xarOpts{cksum: "sha256"})
			copy(b[28:36], "whirl\x00\x00\x00")
			return b
		}(), facts.Limits{}, "not one this reader knows"},
		{"empty TOC", withHeader(good, func(h []byte) { binary.BigEndian.PutUint64(h[8:], 0) }), facts.Limits{}, "empty TOC"},
		{"TOC compressed length past EOF", withHeader(good, func(h []byte) { binary.BigEndian.PutUint64(h[8:], 1<<40) }), facts.Limits{}, "truncated TOC"},
		{"TOC compressed length short", withHeader(good, func(h []byte) { binary.BigEndian.PutUint64(h[8:], uint64(clen/2)) }), facts.Limits{}, "TOC"},
		{"TOC compressed length long (heap read as TOC)", withHeader(good, func(h []byte) { binary.BigEndian.PutUint64(h[8:], uint64(clen+20)) }), facts.Limits{}, "TOC checksum mismatch"},
		{"TOC uncompressed length short", withHeader(good, func(h []byte) { binary.BigEndian.PutUint64(h[16:], 100) }), facts.Limits{}, "decompresses past the 100 bytes"},
		{"TOC uncompressed length long", withHeader(good, func(h []byte) {
			binary.BigEndian.PutUint64(h[16:], binary.BigEndian.Uint64(h[16:])+1)
		}), facts.Limits{}, "decompresses to"},
		{"TOC uncompressed length over MaxMetadata", withHeader(good, func(h []byte) { binary.BigEndian.PutUint64(h[16:], 1<<40) }), facts.Limits{}, "limit 67108864"},
		{"zlib bomb TOC (declared ratio)", func() []byte {
			toc := "<xar><toc>" + strings.Repeat(" ", 3<<19) + "</toc></xar>"
			return rawXar(toc, nil)
		}(), facts.Limits{}, "zlib bomb"},
		{"zlib bomb TOC (lying length)", func() []byte {
			toc := "<xar><toc>" + strings.Repeat(" ", 3<<19) + "</toc></xar>"
			b := rawXar(toc, nil)
			binary.BigEndian.PutUint64(b[16:], 1000)
			return b
		}(), facts.Limits{}, "decompresses past the 1000 bytes"},
		{"TOC not zlib", func() []byte {
			b := bytes.Clone(good)
			b[28], b[29] = 0, 0
			return b
		}(), facts.Limits{}, "not zlib"},
		{"TOC zlib stream corrupt", func() []byte {
			b := bytes.Clone(good)
			b[28+clen/2] ^= 0xff
			return b
		}(), facts.Limits{}, "TOC"},
		{"TOC not XML", rawXar("this is not xml at all <<<", nil), facts.Limits{}, "TOC XML"},
		{"TOC root is not xar", rawXar("<zip><toc/></zip>", nil), facts.Limits{}, "root element <zip>"},
		{"no toc element", rawXar("<xar><other/></xar>", nil), facts.Limits{}, "no <toc>"},
		{"TOC with an undeclared entity", rawXar(`<!DOCTYPE xar [<!ENTITY a "aaaaaaaaaa">]><xar><toc><file><name>&a;</name></file></toc></xar>`, nil), facts.Limits{}, "TOC XML"},
		{"TOC in UTF-16", rawXar(`<?xml version="1.0" encoding="UTF-16"?><xar><toc/></xar>`, nil), facts.Limits{}, "TOC XML"},
		{"checksum style differs from the header", func() []byte {
			toc := `<xar><toc><checksum style="md5"><offset>0</offset><size>16</size></checksum></toc></xar>`
			ctoc := zlibBytes([]byte(toc))
			return append(append(header("sha1", len(ctoc), len(toc)), ctoc...), make([]byte, 20)...)
		}(), facts.Limits{}, "differs from the header"},
		{"header names a checksum the TOC lacks", func() []byte {
			toc := "<xar><toc><file id=\"1\"><name>PackageInfo</name></file></toc></xar>"
			ctoc := zlibBytes([]byte(toc))
			return append(append(header("sha1", len(ctoc), len(toc)), ctoc...), make([]byte, 20)...)
		}(), facts.Limits{}, "has no <checksum>"},
		{"checksum offset past the heap", func() []byte {
			toc := `<xar><toc><checksum style="sha1"><offset>4096</offset><size>20</size></checksum></toc></xar>`
			ctoc := zlibBytes([]byte(toc))
			return append(append(header("sha1", len(ctoc), len(toc)), ctoc...), make([]byte, 20)...)
		}(), facts.Limits{}, "lies past the heap"},
		{"checksum of the wrong size", func() []byte {
			toc := `<xar><toc><checksum style="sha1"><offset>0</offset><size>16</size></checksum></toc></xar>`
			ctoc := zlibBytes([]byte(toc))
			return append(append(header("sha1", len(ctoc), len(toc)), ctoc...), make([]byte, 20)...)
		}(), facts.Limits{}, "checksum is 16 bytes"},
		{"stored checksum altered", func() []byte {
			b := bytes.Clone(good)
			b[a.heapStart] ^= 1
			return b
		}(), facts.Limits{}, "TOC checksum mismatch"},
		{"TOC tampered without recomputing the checksum", func() []byte {
			b := bytes.Clone(good)
			toc := strings.Replace(tocOf(t, good), "<name>Distribution</name>", "<name>Distributioo</name>", 1)
			ctoc := zlibBytes([]byte(toc))
			out := header("sha1", len(ctoc), len(toc))
			out = append(out, ctoc...)
			return append(out, b[a.heapStart:]...)
		}(), facts.Limits{}, "TOC checksum mismatch"},
		{"negative offset", rawXar(`<xar><toc><file id="1"><name>x</name><data><offset>-1</offset><length>1</length><size>1</size></data></file></toc></xar>`, nil), facts.Limits{}, "not a byte count"},
		{"non-numeric length", rawXar(`<xar><toc><file id="1"><name>x</name><data><offset>0</offset><length>ten</length></data></file></toc></xar>`, nil), facts.Limits{}, "not a byte count"},
		{"offset past int64", rawXar(`<xar><toc><file id="1"><name>x</name><data><offset>99999999999999999999</offset></data></file></toc></xar>`, nil), facts.Limits{}, "not a byte count"},
		{"file data offset past the heap", rawXar(`<xar><toc><file id="1"><name>PackageInfo</name><data><offset>100</offset><length>10</length><size>10</size></data></file></toc></xar>`, make([]byte, 50)), facts.Limits{}, "lies past the heap"},
		{"file data length past the heap", rawXar(`<xar><toc><file id="1"><name>PackageInfo</name><data><offset>10</offset><length>9223372036854775807</length><size>10</size></data></file></toc></xar>`, make([]byte, 50)), facts.Limits{}, "lies past the heap"},
		{"file declares a bomb ratio", rawXar(`<xar><toc><file id="1"><name>PackageInfo</name><data><offset>0</offset><length>10</length><size>1099511627776</size></data></file></toc></xar>`, make([]byte, 50)), facts.Limits{}, "expands 109951162777 times"},
		{"signature past the heap", rawXar(`<xar><toc><signature style="RSA"><offset>10</offset><size>256</size></signature></toc></xar>`, make([]byte, 50)), facts.Limits{}, "lies outside the heap"},
		{"x-signature past the heap", rawXar(`<xar><toc><x-signature style="CMS"><offset>0</offset><size>0</size></x-signature></toc></xar>`, make([]byte, 50)), facts.Limits{}, "lies outside the heap"},
		{"too many certificates", rawXar(`<xar><toc><signature style="RSA"><KeyInfo><X509Data>`+strings.Repeat("<X509Certificate>AAAA</X509Certificate>", 17)+`</X509Data></KeyInfo></signature></toc></xar>`, nil), facts.Limits{}, "more than 16 certificates"},
		{"certificate not base64", rawXar(`<xar><toc><signature style="RSA"><KeyInfo><X509Data><X509Certificate>!!!</X509Certificate></X509Data></KeyInfo></signature></toc></xar>`, nil), facts.Limits{}, "not base64"},
		{"nested file depth 100000", rawXar("<xar><toc>"+strings.Repeat(`<file id="1"><name>d</name>`, 100000)+strings.Repeat("</file>", 100000)+"</toc></xar>", nil), facts.Limits{MaxRatio: 1 << 20}, "nest deeper than 512"},
		{"other element depth 100000", rawXar("<xar><toc>"+strings.Repeat("<x>", 100000)+strings.Repeat("</x>", 100000)+"</toc></xar>", nil), facts.Limits{MaxRatio: 1 << 20}, "nests deeper than 520"},
		{"more files than MaxEntries", rawXar("<xar><toc>"+strings.Repeat(`<file id="1"><name>f</name></file>`, 11)+"</toc></xar>", nil), facts.Limits{MaxEntries: 10}, "more than 10 files"},
		{"file without a name", rawXar(`<xar><toc><file id="7"><type>file</type></file></toc></xar>`, nil), facts.Limits{}, "file id \"7\" has no name"},
		{"file named ..", rawXar(`<xar><toc><file id="1"><name>..</name></file></toc></xar>`, nil), facts.Limits{}, "escapes the archive"},
		{"file name with a slash", rawXar(`<xar><toc><file id="1"><name>a/../../etc</name></file></toc></xar>`, nil), facts.Limits{}, "escapes the archive"},
		{"base64 file name with a NUL", rawXar(`<xar><toc><file id="1"><name enctype="base64">YQBi</name></file></toc></xar>`, nil), facts.Limits{}, "escapes the archive"},
		{"mode not octal", rawXar(`<xar><toc><file id="1"><name>a</name><mode>0999</mode></file></toc></xar>`, nil), facts.Limits{}, "not octal"},
		{"unknown data checksum style", rawXar(`<xar><toc><file id="1"><name>a</name><data><offset>0</offset><length>1</length><size>1</size><archived-checksum style="sha3">00</archived-checksum></data></file></toc></xar>`, []byte{0}), facts.Limits{}, "unknown checksum style"},
		{"data checksum not hex", rawXar(`<xar><toc><file id="1"><name>a</name><data><archived-checksum style="sha1">zz</archived-checksum></data></file></toc></xar>`, nil), facts.Limits{}, "not hex"},
		{"data checksum of the wrong size", rawXar(`<xar><toc><file id="1"><name>a</name><data><archived-checksum style="sha1">00ff</archived-checksum></data></file></toc></xar>`, nil), facts.Limits{}, "a sha1 checksum of 2 bytes"},
		{"element text over 1 MiB", rawXar("<xar><toc><creation-time>"+strings.Repeat("1", 1<<20+1)+"</creation-time></toc></xar>", nil), facts.Limits{MaxRatio: 1 << 20}, "over 1048576 bytes"},
		{"nested element inside a text element", rawXar("<xar><toc><file><name>a<b/></name></file></toc></xar>", nil), facts.Limits{}, "inside a text element"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantDefect(t, c.b, c.lim, c.want) })
	}
}

func tocOf(t *testing.T, b []byte) string {
	t.Helper()
	a, err := Open(bytes.NewReader(b), int64(len(b)), facts.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	_ = a
	clen := binary.BigEndian.Uint64(b[8:])
	out, err := readZlib(b[28 : 28+clen])
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Truncated at every structural boundary of a signed product archive:
// inside the header, the TOC, the checksum, the signature and each file's
// data, and one byte short of the end.
func TestHostileTruncation(t *testing.T) {
	good := productArchive(t, xarOpts{sign: pki(t).valid})
	a, err := Open(bytes.NewReader(good), int64(len(good)), facts.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	h := a.heapStart
	cuts := map[int64]string{
		0: "", 4: "", 6: "", 27: "", 28: "", 29: "", h / 2: "", h - 1: "", h: "", h + 10: "", h + 20: "", h + 100: "", h + 275: "",
		int64(len(good)) - 1: "",
	}
	for _, f := range a.Files {
		if f.Data != nil {
			cuts[h+f.Data.Offset] = ""
			cuts[h+f.Data.Offset+f.Data.Length/2] = ""
			cuts[h+f.Data.Offset+f.Data.Length-1] = ""
		}
	}
	var sorted []int64
	for c := range cuts {
		sorted = append(sorted, c)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, cut := range sorted {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			hostileCount++
			b := good[:cut]
			_, err := InspectPkg(bytes.NewReader(b), int64(len(b)), facts.Options{})
			if !errors.Is(err, facts.ErrDefect) {
				t.Fatalf("truncated at %d of %d: %v", cut, len(good), err)
			}
		})
	}
}

// A cpio archive from raw bytes, gzip-compressed, as a component
// package's Payload.
func payloadPkg(t *testing.T, cpioData []byte) []byte {
	return componentPkg(t, gzipBytes(cpioData), xarOpts{})
}

func TestHostilePayloadAndMetadata(t *testing.T) {
	okCpio := odc(reg("./a", 0o644, []byte("hello")))
	big := odc(reg("./a", 0o644, []byte("hello")))
	// Member a declares 1 GiB; the archive ends long before.
	lying := bytes.Replace(big, []byte(fmt.Sprintf("%011o", 5)), []byte(fmt.Sprintf("%011o", 1<<30)), 1)
	trailerAt := bytes.LastIndex(okCpio, []byte("070707"))
	var bomb bytes.Buffer
	gz := gzip.NewWriter(&bomb)
	gz.Write(odc(reg("./zeros", 0o644, make([]byte, 2<<20))))
	gz.Close()
	zeros2M := zlibBytes(make([]byte, 2<<20))
	corruptGzip := gzipBytes(okCpio)
	corruptGzip[len(corruptGzip)-6] ^= 0xff // CRC-32
	cases := []struct {
		name string
		b    []byte
		lim  facts.Limits
		want string
	}{
		{"cpio member size past the end", payloadPkg(t, lying), facts.Limits{}, "truncated: member \"./a\" declares 1073741824 bytes"},
		{"cpio without its trailer", payloadPkg(t, okCpio[:trailerAt]), facts.Limits{}, "ends without its TRAILER!!!"},
		{"cpio header cut short", payloadPkg(t, okCpio[:trailerAt+30]), facts.Limits{}, "truncated"},
		{"cpio header not octal", payloadPkg(t, append(append(bytes.Clone(okCpio[:18]), "999999"...), okCpio[24:]...)), facts.Limits{}, "not octal"},
		{"cpio name size 0", payloadPkg(t, bytes.Replace(okCpio, []byte("00000400000000005"), []byte("00000000000000005"), 1)), facts.Limits{}, "member name of 0 bytes"},
		{"cpio name size huge", payloadPkg(t, bytes.Replace(okCpio, []byte("00000400000000005"), []byte("77777700000000005"), 1)), facts.Limits{}, "member name of 262143 bytes"},
		{"cpio name not NUL-terminated", payloadPkg(t, bytes.Replace(okCpio, []byte("./a\x00"), []byte("./ab"), 1)), facts.Limits{}, "not NUL-terminated"},
		{"cpio member climbing out", payloadPkg(t, odc(reg("./../../etc/passwd", 0o644, nil))), facts.Limits{}, "escapes the install location"},
		{"cpio magic changes mid-archive", payloadPkg(t, append(odc(reg("./a", 0o644, nil))[:80], []byte("070701"+strings.Repeat("0", 200))...)), facts.Limits{}, "after odc members"},
		{"gzip payload that is not cpio", payloadPkg(t, []byte("plain text, not cpio")), facts.Limits{}, "not a cpio archive"},
		{"gzip payload with a bad CRC", componentPkg(t, corruptGzip, xarOpts{}), facts.Limits{}, "gzip"},
		{"gzip payload truncated", componentPkg(t, gzipBytes(okCpio)[:30], xarOpts{}), facts.Limits{}, "Payload of com.example.foo.pkg"},
		{"gzip bomb payload", componentPkg(t, bomb.Bytes(), xarOpts{}), facts.Limits{}, "expands more than 200 times"},
		{"payload past MaxUncompressed", payloadPkg(t, fixturePayload(odc)), facts.Limits{MaxUncompressed: 2000}, "past 2000 bytes in total"},
		{"more cpio members than MaxEntries", buildXar(t, []*xfile{
			file("PackageInfo", []byte(`<pkg-info identifier="x" version="1"/>`)),
			&xfile{name: "Payload", enc: "none", data: odc(reg("./a", 0o644, nil), reg("./b", 0o644, nil), reg("./c", 0o644, nil), reg("./d", 0o644, nil))},
		}, xarOpts{}), facts.Limits{MaxEntries: 3}, "more than 3 members"},
		{"pbzx chunk length huge", componentPkg(t, append([]byte("pbzx\x00\x00\x00\x00\x01\x00\x00\x00"), []byte("\x00\x00\x00\x00\x00\x00\x00\x10\x7f\x00\x00\x00\x00\x00\x00\x00")...), xarOpts{}), facts.Limits{}, "pbzx chunk of"},
		{"pbzx header cut", componentPkg(t, []byte("pbzx\x00\x00"), xarOpts{}), facts.Limits{}, "pbzx header"},
		{"pbzx chunk cut", componentPkg(t, append([]byte("pbzx\x00\x00\x00\x00\x01\x00\x00\x00"), []byte("\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x10\x00070707")...), xarOpts{}), facts.Limits{}, "pbzx chunk"},
		{"file data archived-checksum mismatch", buildXar(t, []*xfile{{name: "PackageInfo", stored: []byte(packageInfoXML), dataXML: fmt.Sprintf(
			"<data><offset>OFFSET</offset><length>%d</length><size>%d</size><encoding style=\"application/octet-stream\"/><archived-checksum style=\"sha1\">%x</archived-checksum></data>",
			len(packageInfoXML), len(packageInfoXML), sum(crypto.SHA1, []byte("other")))}}, xarOpts{}), facts.Limits{}, "archived-checksum mismatch"},
		{"file data extracted-checksum mismatch", buildXar(t, []*xfile{{name: "PackageInfo", stored: zlibBytes([]byte(packageInfoXML)), dataXML: fmt.Sprintf(
			"<data><offset>OFFSET</offset><length>%d</length><size>%d</size><encoding style=\"application/x-gzip\"/><extracted-checksum style=\"md5\">%x</extracted-checksum></data>",
			len(zlibBytes([]byte(packageInfoXML))), len(packageInfoXML), sum(crypto.MD5, []byte("other")))}}, xarOpts{}), facts.Limits{}, "extracted-checksum mismatch"},
		{"file data decodes past its size", fileWithData(t, zlibBytes([]byte(packageInfoXML)), "application/x-gzip", len(packageInfoXML)-10), facts.Limits{}, "decodes past its declared"},
		{"file data decodes short of its size", fileWithData(t, zlibBytes([]byte(packageInfoXML)), "application/x-gzip", len(packageInfoXML)+10), facts.Limits{}, "its TOC declares"},
		{"file data zlib corrupt", fileWithData(t, append(zlibBytes([]byte(packageInfoXML))[:20], make([]byte, 40)...), "application/x-gzip", len(packageInfoXML)), facts.Limits{}, "PackageInfo"},
		{"file data bzip2 garbage", fileWithData(t, []byte("BZh9 not really bzip2"), "application/x-bzip2", len(packageInfoXML)), facts.Limits{}, "PackageInfo"},
		{"file data zlib bomb with honest size", fileWithData(t, zeros2M, "application/x-gzip", 2<<20), facts.Limits{}, "declares it expands"},
		{"file data zlib bomb with lying size", fileWithData(t, zeros2M, "application/x-gzip", 1<<20), facts.Limits{}, "decodes past its declared"},
		{"metadata file over MaxMetadata", fileWithData(t, []byte(packageInfoXML+"<!--"+strings.Repeat(" ", 2000)+"-->"), "application/octet-stream", len(packageInfoXML)+2007), facts.Limits{MaxMetadata: 1500}, "\"PackageInfo\" is"},
		{"metadata file in an unknown encoding", fileWithData(t, []byte(packageInfoXML), "application/x-lzma", len(packageInfoXML)), facts.Limits{}, "stored as application/x-lzma"},
		{"no Distribution and no PackageInfo", buildXar(t, []*xfile{file("readme", []byte("x"))}, xarOpts{}), facts.Limits{}, "not an installer package"},
		{"PackageInfo not XML", buildXar(t, []*xfile{file("PackageInfo", []byte("{json: true}"))}, xarOpts{}), facts.Limits{}, "PackageInfo"},
		{"PackageInfo of another root", buildXar(t, []*xfile{file("PackageInfo", []byte("<installer-gui-script/>"))}, xarOpts{}), facts.Limits{}, "not <pkg-info>"},
		{"Distribution of another root", buildXar(t, []*xfile{file("Distribution", []byte("<pkg-info/>"))}, xarOpts{}), facts.Limits{}, "not <installer-gui-script>"},
		{"Distribution nested 100000 deep", buildXar(t, []*xfile{file("Distribution", []byte("<installer-gui-script>"+strings.Repeat("<a>", 100000)+strings.Repeat("</a>", 100000)+"</installer-gui-script>"))}, xarOpts{}), facts.Limits{}, "nest deeper than 64"},
		{"Distribution with too many elements", buildXar(t, []*xfile{file("Distribution", []byte("<installer-gui-script>"+strings.Repeat("<a/>", 100)+"</installer-gui-script>"))}, xarOpts{}), facts.Limits{MaxEntries: 50}, "more than 50 elements"},
		{"Distribution with two roots", buildXar(t, []*xfile{file("Distribution", []byte("<installer-gui-script/><installer-gui-script/>"))}, xarOpts{}), facts.Limits{}, "more than one root"},
		{"notarization trailer of the wrong type", append(productArchive(t, xarOpts{}), trailer(7, 0)...), facts.Limits{}, "of type 7"},
		{"notarization ticket longer than the file", append(append(productArchive(t, xarOpts{}), trailer(trailerTerminator, 0)...), trailer(trailerTicket, 1<<30)...), facts.Limits{}, "declares a 1073741824-byte ticket"},
		{"notarization ticket without its terminator", append(append(productArchive(t, xarOpts{}), []byte("ticket")...), trailer(trailerTicket, 6)...), facts.Limits{}, "not preceded by its terminator"},
	}
	for _, c := range cases {
		if c.want == "" {
			c.want = "checksum mismatch"
		}
		t.Run(c.name, func(t *testing.T) { wantDefect(t, c.b, c.lim, c.want) })
	}
}

// fileWithData is a component package whose PackageInfo is stored as
// stored, in encoding enc, declaring size extracted bytes.
func fileWithData(t *testing.T, stored []byte, enc string, size int) []byte {
	return buildXar(t, []*xfile{{name: "PackageInfo", stored: stored, dataXML: fmt.Sprintf(
		"<data><offset>OFFSET</offset><length>%d</length><size>%d</size><encoding style=%q/></data>", len(stored), size, enc)}}, xarOpts{})
}

// Inputs that are odd but not defects: the reader keeps going and says
// what it did not read.
func TestOddButReadable(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		note    string
	}{
		{"LaunchDaemon plist nested 100000 deep", gzipBytes(odc(reg("./Library/LaunchDaemons/x.plist", 0o644,
			[]byte("<plist>"+strings.Repeat("<array>", 100000)+strings.Repeat("</array>", 100000)+"</plist>")))), "does not parse as a plist"},
		{"LaunchDaemon plist with an entity", gzipBytes(odc(reg("./Library/LaunchDaemons/x.plist", 0o644,
			[]byte(`<!DOCTYPE plist [<!ENTITY b "bbbbbbbb">]><plist><dict><key>Label</key><string>&b;&b;</string></dict></plist>`)))), "does not parse as a plist"},
		{"LaunchDaemon plist not XML", gzipBytes(odc(reg("./Library/LaunchDaemons/x.plist", 0o644, []byte("{")))), "does not parse as a plist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hostileCount++
			f := mustInspect(t, componentPkg(t, c.payload, xarOpts{}), facts.Options{Limits: facts.Limits{MaxRatio: 1 << 20}})
			if len(f.Services) != 1 || f.Services[0].Name != "x" {
				t.Errorf("Services = %+v", f.Services)
			}
			found := false
			for _, n := range f.NotInspected {
				found = found || strings.Contains(n, c.note)
			}
			if !found {
				t.Errorf("NotInspected = %q, want %q", f.NotInspected, c.note)
			}
		})
	}
}

func TestZHostileCount(t *testing.T) {
	t.Logf("malformed and hostile inputs tried: %d", hostileCount)
}
