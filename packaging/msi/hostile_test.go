package msi

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/richardlehane/mscfb"
)

var zeroLimits = facts.Limits{}

func inspectBytes(b []byte, lim facts.Limits) (*facts.Facts, error) {
	return Inspect(bytes.NewReader(b), int64(len(b)), facts.Options{Limits: lim})
}

func bytesReader(b []byte) (io.ReaderAt, int64, facts.Limits) {
	return bytes.NewReader(b), int64(len(b)), facts.Limits{}
}

type hostile struct {
	name string
	b    []byte
	lim  facts.Limits
	want string // in the defect
}

// entryIndex is the directory index of the stream whose decoded name is name.
func entryIndex(t testing.TB, db goDB, name string) int {
	t.Helper()
	for i, s := range db.streams() {
		if n, _ := DecodeStreamName(s.raw); n == name {
			return i + 1
		}
	}
	t.Fatalf("no stream %q", name)
	return 0
}

func patched(f *cfbFile, fn func(f *cfbFile)) []byte {
	g := *f
	g.b = f.bytes()
	fn(&g)
	return g.b
}

// mutateStreams builds the minimal database with fn applied to its streams.
func mutateStreams(fn func(s []cfbStream) []cfbStream) []byte {
	return writeCFB(fn(minimalDB().streams()), 512, msiCLSID).bytes()
}

func mutateDB(fn func(db *goDB)) []byte {
	db := minimalDB()
	fn(&db)
	return db.file(512).bytes()
}

func streamNamed(s []cfbStream, name string, table bool) *cfbStream {
	for i := range s {
		if n, tb := DecodeStreamName(s[i].raw); n == name && tb == table {
			return &s[i]
		}
	}
	panic("no stream " + name)
}

func withSummary(props map[uint32]any, fn func([]byte) []byte) []byte {
	return mutateDB(func(db *goDB) { db.summary = fn(summaryStream(props)) })
}

var basicSummary = map[uint32]any{pidCodepage: int16(1252), pidTemplate: "Intel;1033", pidRevision: "{X}", pidWordCount: int32(0)}

func hostileCases(t testing.TB) []hostile {
	db := minimalDB()
	base := db.file(512)
	v4 := db.file(4096)
	big := entryIndex(t, db, "Big.cab")
	prop := entryIndex(t, db, "Property")
	bin := entryIndex(t, db, "Binary.Bin") // 27 bytes: one mini sector
	pool := entryIndex(t, db, "_StringData")
	n := len(db.streams()) + 1
	le := binary.LittleEndian

	var cases []hostile
	add := func(name string, b []byte, want string) { cases = append(cases, hostile{name: name, b: b, want: want}) }
	addLim := func(name string, b []byte, lim facts.Limits, want string) {
		cases = append(cases, hostile{name: name, b: b, lim: lim, want: want})
	}
	hdr := func(off int, v uint32) []byte { return patched(base, func(f *cfbFile) { f.setHeader32(off, v) }) }
	ent := func(i, field int, v uint32) []byte {
		return patched(base, func(f *cfbFile) { f.setEntry32(i, field, v) })
	}
	fat := func(s, v uint32) []byte { return patched(base, func(f *cfbFile) { f.setFAT(s, v) }) }

	// Not a compound file.
	add("empty file", nil, "too short")
	add("magic only", []byte(cfbMagic), "truncated CFB header")
	add("half a header", base.b[:300], "truncated CFB header")
	add("wrong magic", patched(base, func(f *cfbFile) { f.b[0] ^= 0xFF }), "wrong magic")
	add("text file", []byte("this is not an installer, it is a text file of some length\n"), "wrong magic")
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("Contents/app.exe")
	w.Write(bytes.Repeat([]byte("MZ"), 400))
	zw.Close()
	add("zip renamed .msi", zb.Bytes(), "zip archive")
	add("empty zip renamed .msi", []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), "zip archive")

	// Header.
	add("version 3 with 4096-byte sectors", patched(base, func(f *cfbFile) { le.PutUint16(f.b[30:], 12) }), "sector shift 12")
	add("unknown major version", patched(base, func(f *cfbFile) { le.PutUint16(f.b[26:], 7) }), "major version 7")
	add("byte order", patched(base, func(f *cfbFile) { le.PutUint16(f.b[28:], 0xFEFF) }), "byte order")
	add("mini sector shift", patched(base, func(f *cfbFile) { le.PutUint16(f.b[32:], 7) }), "mini sector shift")
	add("mini stream cutoff", hdr(56, 8192), "cutoff")
	add("no FAT sector", hdr(44, 0), "no FAT sector")
	add("huge FAT sector count", hdr(44, 0x7FFFFFFF), "FAT sectors")
	add("DIFAT sectors with a small FAT", hdr(72, 5), "DIFAT")
	add("DIFAT count wrong for a big FAT", patched(base, func(f *cfbFile) { f.setHeader32(44, 200); f.setHeader32(72, 0) }), "FAT sectors")
	add("FAT sector past the end", hdr(76, 0x10000), "lies past the end")
	add("FAT sector location free", hdr(76, secFree), "has no location")
	add("v4 huge FAT count", patched(v4, func(f *cfbFile) { f.setHeader32(44, 0x00FFFFFF) }), "FAT sectors")

	// DIFAT: a file large enough for more than 109 FAT sectors.
	ddb := minimalDB()
	ddb.extra = append(ddb.extra, cfbStream{raw: EncodeStreamName("product.cab", false), data: make([]byte, 7<<20+512<<10)})
	dif := ddb.file(512)
	if dif.nDIF != 1 {
		t.Fatalf("DIFAT fixture has %d DIFAT sectors", dif.nDIF)
	}
	difLink := dif.sectorOff(dif.difStart) + 512 - 4
	add("DIFAT chain loop", patched(dif, func(f *cfbFile) {
		f.setHeader32(72, 2)
		le.PutUint32(f.b[difLink:], f.difStart)
	}), "DIFAT chain loops")
	add("DIFAT chain ends early", patched(dif, func(f *cfbFile) { f.setHeader32(72, 2) }), "DIFAT chain ends after 1 of 2")
	add("DIFAT sector past the end", patched(dif, func(f *cfbFile) { f.setHeader32(68, 0x00FFFFF0) }), "lies past the end")
	add("DIFAT entry free", patched(dif, func(f *cfbFile) { le.PutUint32(f.b[f.sectorOff(f.difStart):], secFree) }), "FAT sector 109 has no location")
	add("DIFAT count too small", patched(dif, func(f *cfbFile) { f.setHeader32(72, 0) }), "need 1")
	add("DIFAT count far too large", patched(dif, func(f *cfbFile) { f.setHeader32(72, 0x7FFFFFFF) }), "need 1")

	// Directory chain.
	add("directory start past the end", hdr(48, 0x10000), "lies past the end")
	add("directory start is a marker", hdr(48, secFree), "marker")
	add("directory chain loop", fat(base.dirStart+uint32(base.nDir)-1, base.dirStart), "loops back")
	add("directory sector points to itself", fat(base.dirStart, base.dirStart), "loops back")
	add("directory chain into a free sector", fat(base.dirStart, secFree), "marker")
	add("directory chain past the FAT", fat(base.dirStart, 0x00FFFFF0), "lies past the end")
	addLim("directory over MaxEntries", base.bytes(), facts.Limits{MaxEntries: 3}, "more than 3 entries")

	// Directory tree.
	root := le.Uint32(base.b[base.entryOff(0)+deChild:])
	leaf := -1
	for i := 1; i < n; i++ {
		if le.Uint32(base.b[base.entryOff(i)+deLeft:]) == noStream && le.Uint32(base.b[base.entryOff(i)+deRight:]) == noStream {
			leaf = i
			break
		}
	}
	add("sibling cycle", ent(leaf, deRight, root), "linked twice")
	add("sibling points to itself", ent(leaf, deLeft, uint32(leaf)), "linked twice")
	add("child cycle through a storage", patched(base, func(f *cfbFile) {
		f.b[f.entryOff(leaf)+66] = objStorage
		f.setEntry32(leaf, deChild, 0)
	}), "linked twice")
	add("root's child is the root", ent(0, deChild, 0), "linked twice")
	add("sibling link out of range", ent(leaf, deRight, 5000), "outside the directory")
	add("child link out of range", ent(0, deChild, 0x7FFFFFFF), "outside the directory")
	unused := n // the directory has slack entries after the last stream
	if unused%(512/dirEntSize) == 0 {
		t.Fatalf("no slack directory entry (%d entries)", n)
	}
	add("link to an unallocated entry", ent(leaf, deRight, uint32(unused)), "unallocated")
	add("root is not a root", patched(base, func(f *cfbFile) { f.b[f.entryOff(0)+66] = objStorage }), "not the root")
	add("second root", patched(base, func(f *cfbFile) { f.b[f.entryOff(leaf)+66] = objRoot }), "second root")
	add("unknown object type", patched(base, func(f *cfbFile) { f.b[f.entryOff(leaf)+66] = 9 }), "object type 9")
	add("odd name length", patched(base, func(f *cfbFile) { le.PutUint16(f.b[f.entryOff(leaf)+64:], 9) }), "name length 9")
	add("name length over 64", patched(base, func(f *cfbFile) { le.PutUint16(f.b[f.entryOff(leaf)+64:], 80) }), "name length 80")
	add("stream with a child", ent(leaf, deChild, uint32(big)), "stream with a child")

	// Sizes.
	add("huge stream size (v3)", ent(big, deSize, 0xFFFFFFF0), "more than the whole file")
	add("huge table stream size (v3)", ent(prop, deSize, 0xFFFFFFFF), "more than the whole file")
	add("huge stream size (v4)", patched(v4, func(f *cfbFile) {
		le.PutUint64(f.b[f.entryOff(big)+deSize:], 1<<62)
	}), "more than the whole file")
	add("stream size over 2^63 (v4)", patched(v4, func(f *cfbFile) {
		le.PutUint64(f.b[f.entryOff(pool)+deSize:], 1<<63+5)
	}), "more than the whole file")
	add("huge mini stream size", ent(0, deSize, 0xFFFFFFF0), "more than the whole file")
	addLim("stream over MaxMetadata", base.bytes(), facts.Limits{MaxMetadata: 100}, "over the 100-byte limit")
	addLim("reads over MaxUncompressed", base.bytes(), facts.Limits{MaxUncompressed: 300}, "limit")

	// Regular stream chains.
	bs := base.start[big]
	add("stream chain loop", fat(bs+5, bs+2), "loops back to sector")
	add("stream sector points to itself", fat(bs, bs), "loops back to sector")
	add("stream chain ends early", fat(bs+3, secEnd), "ends after 4 of 20 sectors")
	add("stream chain into a free sector", fat(bs+3, secFree), "marker")
	add("stream chain into a FAT sector marker", fat(bs+3, secFAT), "marker")
	add("stream chain past the end", fat(bs+3, 0x00FFFFF0), "lies past the end")
	add("stream start past the end", ent(big, deStart, 0x00FFFFF0), "lies past the end")
	add("stream start is end of chain", ent(big, deStart, secEnd), "ends after 0 of 20")

	// Mini stream.
	add("mini stream pointer past the end", ent(bin, deStart, 50000), "mini sector 50000 lies past")
	add("table stream mini pointer past the end", ent(prop, deStart, 4000), "lies past")
	colsIdx := entryIndex(t, db, "_Columns") // several mini sectors
	propMini := base.start[colsIdx]
	add("mini chain loop", patched(base, func(f *cfbFile) { le.PutUint32(f.b[f.miniFatOff(propMini+1):], propMini) }), "loops back to mini sector")
	add("mini chain ends early", patched(base, func(f *cfbFile) { le.PutUint32(f.b[f.miniFatOff(propMini):], secEnd) }), "ends after 1 of")
	add("mini FAT count huge", hdr(64, 0x100000), "mini FAT sectors")
	add("mini FAT chain short", hdr(64, uint32(base.nMiniFat+1)), "ends after")
	add("mini FAT start past the end", hdr(60, 0x10000), "lies past the end")
	nMiniStream := 0
	for s := base.miniStart; s < base.miniStart+64; s++ {
		nMiniStream++
		if le.Uint32(base.b[base.fatOff(s):]) == secEnd {
			break
		}
	}
	add("mini stream chain loop", fat(base.miniStart+uint32(nMiniStream)-1, base.miniStart), "CFB mini stream")
	add("mini stream chain past the end", fat(base.miniStart, 0x00FFFFF0), "lies past the end")
	add("no mini stream for small streams", ent(0, deStart, secEnd), "belongs in the mini stream")

	// Truncation at every sector boundary and inside sectors.
	for k := int64(1); k*512 < int64(len(base.b)); k++ {
		add(fmt.Sprintf("truncated at sector boundary %d", k*512), base.b[:k*512], "")
		add(fmt.Sprintf("truncated inside sector at %d", k*512+200), base.b[:k*512+200], "")
	}
	for k := int64(1); k*4096 < int64(len(v4.b)); k++ {
		add(fmt.Sprintf("v4 truncated at %d", k*4096), v4.b[:k*4096], "")
	}

	// Compound files that are not MSIs.
	doc := writeCFB([]cfbStream{
		{raw: u16("WordDocument"), data: bytes.Repeat([]byte{0xEC, 0xA5}, 3000)},
		{raw: u16("1Table"), data: bytes.Repeat([]byte{1}, 600)},
		{raw: u16("\x01CompObj"), data: []byte("\x01\x00\xfe\xff\x03\x0a\x00\x00Microsoft Word-Dokument")},
		{raw: u16("\x05SummaryInformation"), data: summaryStream(map[uint32]any{pidCodepage: int16(1252), pidTitle: "A letter"})},
		{raw: u16("\x05DocumentSummaryInformation"), data: summaryStream(map[uint32]any{pidCodepage: int16(1252)})},
	}, 512, [16]byte{6, 9, 2, 0})
	add(".doc-like compound file", doc.b, "no _StringPool stream")
	add("no _Tables stream", mutateStreams(func(s []cfbStream) []cfbStream {
		streamNamed(s, "_Tables", true).raw = EncodeStreamName("_Nothing", true)
		return s
	}), "no _Tables stream")
	add("a storage only", writeCFB([]cfbStream{{raw: u16("Sub"), storage: true}}, 512, msiCLSID).b, "no _StringPool")
	add("two streams for one table", mutateStreams(func(s []cfbStream) []cfbStream {
		return append(s, cfbStream{raw: EncodeStreamName("Property", true), data: []byte{1, 0, 2, 0}})
	}), "two streams for table")

	// String pool.
	add("_StringPool not whole entries", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "_StringPool", true)
		p.data = append(p.data, 1, 2)
		return s
	}), "not a whole number of 4-byte entries")
	add("string runs past _StringData", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "_StringData", true)
		p.data = p.data[:len(p.data)-10]
		return s
	}), "runs past _StringData")
	add("long string entry without its length", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "_StringPool", true)
		le.PutUint32(p.data[len(p.data)-4:], 5<<16)
		return s
	}), "long string entry")
	add("long string longer than _StringData", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "_StringPool", true)
		p.data = append(p.data, 0, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0x7F)
		return s
	}), "runs past _StringData")
	add("long-reference flag with 2-byte tables", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "_StringPool", true)
		le.PutUint32(p.data, le.Uint32(p.data)|flagLongRefs)
		return s
	}), "not a whole number")
	add("string index out of range in a table", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "Property", true)
		le.PutUint16(p.data[len(p.data)-2:], 0xFFFF)
		return s
	}), "string index 65535 is outside the string pool")
	add("string index out of range in _Tables", mutateStreams(func(s []cfbStream) []cfbStream {
		le.PutUint16(streamNamed(s, "_Tables", true).data, 0xFFF0)
		return s
	}), "_Tables row 1: string index 65520 is outside")
	add("string index out of range in _Columns", mutateStreams(func(s []cfbStream) []cfbStream {
		le.PutUint16(streamNamed(s, "_Columns", true).data, 0xFFF1)
		return s
	}), "_Columns row 1: string index 65521 is outside")

	// Catalogue.
	setCol := func(table string, col int, typ uint16) []byte {
		return mutateDB(func(db *goDB) {
			for i := range db.tables {
				if db.tables[i].name == table {
					db.tables[i].cols[col].Type = typ
				}
			}
		})
	}
	add("integer column of size 3", setCol("File", 3, colValid|3), "size 3")
	add("integer column of size 255", setCol("Registry", 1, colValid|0x0400|255), "size 255")
	nCols := len(minimalDB().tables[0].cols) // Property: the first rows of _Columns
	colsRows := 0
	for _, tb := range minimalDB().tables {
		colsRows += len(tb.cols)
	}
	numAt := func(row int, v uint16) []byte {
		return mutateStreams(func(s []cfbStream) []cfbStream {
			c := streamNamed(s, "_Columns", true)
			le.PutUint16(c.data[colsRows*2+row*2:], v^0x8000)
			return s
		})
	}
	add("column numbering gap", numAt(1, 3), "numbered 3 where 2 is due")
	add("duplicate column number", numAt(1, 1), "numbered 1 where 2 is due")
	add("column number zero", numAt(0, 0), "numbered 0 where 1")
	add("negative column number", numAt(0, 0xFFFF), "numbered -1")
	_ = nCols
	add("duplicate column names", mutateDB(func(db *goDB) { db.tables[0].cols[1].Name = "Property" }), "two columns named")
	add("null column type", mutateStreams(func(s []cfbStream) []cfbStream {
		c := streamNamed(s, "_Columns", true)
		le.PutUint16(c.data[len(c.data)-2:], 0)
		return s
	}), "null table, column name, number or type")
	add("too many columns", mutateDB(func(db *goDB) {
		var cols []Column
		var row []any
		for k := 0; k < 1100; k++ {
			cols = append(cols, Column{Name: fmt.Sprintf("C%d", k), Type: tInt16})
			row = append(row, k)
		}
		db.tables = append(db.tables, goTable{name: "Wide", cols: cols, rows: [][]any{row}})
	}), "1100 columns, limit 1024")
	add("_Tables not whole rows", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "_Tables", true)
		p.data = append(p.data, 1)
		return s
	}), "_Tables is")
	add("_Columns not whole rows", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "_Columns", true)
		p.data = append(p.data, 1, 2, 3)
		return s
	}), "_Columns is")
	add("table listed twice", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "_Tables", true)
		p.data = append(p.data, p.data[:2]...)
		return s
	}), "lists table \"Property\" twice")
	add("null table name", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "_Tables", true)
		p.data = append(p.data, 0, 0)
		return s
	}), "has no name")
	add("table without columns", mutateDB(func(db *goDB) {
		db.tables = append(db.tables, goTable{name: "Ghost"})
	}), "no columns in _Columns")

	// Tables.
	add("table stream not whole rows", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "Property", true)
		p.data = append(p.data, 7)
		return s
	}), "not a whole number of 4-byte rows")
	addLim("rows over MaxRows", base.bytes(), facts.Limits{MaxRows: 2}, "limit 2")
	add("row count over MaxRows from a large stream", mutateStreams(func(s []cfbStream) []cfbStream {
		p := streamNamed(s, "Registry", true)
		// 12-byte rows: 200,000 of them in 2.4 MB of nulls.
		p.data = make([]byte, 12*200_000)
		return s
	}), "") // under the default limit: reads (nulls), no overflow
	cases[len(cases)-1].lim = facts.Limits{MaxRows: 100_000}
	cases[len(cases)-1].want = "200000 rows, limit 100000"
	add("no ProductCode", mutateDB(func(db *goDB) { db.tables[0].rows = db.tables[0].rows[1:] }), "no ProductCode")
	add("no Property table", mutateDB(func(db *goDB) { db.tables = db.tables[1:] }), "no ProductCode")

	// Summary information.
	add("summary: too short", withSummary(basicSummary, func(b []byte) []byte { return b[:30] }), "shorter than a property set header")
	add("summary: byte order", withSummary(basicSummary, func(b []byte) []byte { b[0] = 0; return b }), "byte order")
	add("summary: no property set", withSummary(basicSummary, func(b []byte) []byte { le.PutUint32(b[24:], 0); return b }), "0 property sets")
	add("summary: wrong FMTID", withSummary(basicSummary, func(b []byte) []byte { b[30] ^= 1; return b }), "not FMTID_SummaryInformation")
	add("summary: section offset past the end", withSummary(basicSummary, func(b []byte) []byte { le.PutUint32(b[44:], 1<<30); return b }), "section offset")
	add("summary: section size past the end", withSummary(basicSummary, func(b []byte) []byte { le.PutUint32(b[48:], 1<<30); return b }), "section size")
	add("summary: too many properties", withSummary(basicSummary, func(b []byte) []byte { le.PutUint32(b[52:], 1<<28); return b }), "properties do not fit")
	add("summary: property offset outside", withSummary(basicSummary, func(b []byte) []byte { le.PutUint32(b[60:], 1<<20); return b }), "outside the section")
	add("summary: string length past the end", withSummary(map[uint32]any{pidTemplate: "x64;1033"}, func(b []byte) []byte {
		le.PutUint32(b[48+16+4:], 1<<30)
		return b
	}), "runs past the section")

	return cases
}

// Every hostile input is a *facts.DefectError naming the defect, and
// reading it allocates little whatever it declares.
func TestHostileInputs(t *testing.T) {
	cases := hostileCases(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			f, err := inspectBytes(c.b, c.lim)
			runtime.ReadMemStats(&after)
			var de *facts.DefectError
			if !errors.As(err, &de) || !errors.Is(err, facts.ErrDefect) || de.Kind != facts.KindMSI {
				t.Fatalf("want a DefectError, got %v (facts %+v)", err, f)
			}
			if c.want != "" && !strings.Contains(de.Defect, c.want) {
				t.Fatalf("defect %q does not name %q", de.Defect, c.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20+4*uint64(len(c.b)) {
				t.Fatalf("allocated %d bytes for a %d-byte input", alloc, len(c.b))
			}
		})
	}
	t.Logf("%d hostile inputs", len(cases))
}

// Directory parent cycles are found when resolving detection paths.
func TestDirectoryParentCycle(t *testing.T) {
	b := mutateDB(func(db *goDB) {
		db.tables[1].rows = append(db.tables[1].rows, []any{"LOOPA", "LOOPB", "a"}, []any{"LOOPB", "LOOPA", "b"})
	})
	d, err := Open(bytesReader(b))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.DetectionCandidates()
	if !errors.Is(err, facts.ErrDefect) || !strings.Contains(err.Error(), "parent cycle") {
		t.Fatalf("got %v", err)
	}
}

// Why the pre-check exists: mscfb alone follows a looping chain and reads
// a stream far larger than the file without complaint.
func TestMSCFBAloneFollowsLoops(t *testing.T) {
	db := minimalDB()
	base := db.file(512)
	big := entryIndex(t, db, "Big.cab")
	b := patched(base, func(f *cfbFile) {
		f.setFAT(f.start[big]+19, f.start[big]) // the last sector links back to the first
		f.setEntry32(big, deSize, 4<<20)        // and the stream claims 4 MiB
	})
	doc, err := mscfb.New(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("mscfb refused it itself: %v", err)
	}
	var n int64
	for f, err := doc.Next(); err == nil; f, err = doc.Next() {
		if f.Size == 4<<20 {
			n, _ = io.Copy(io.Discard, f)
		}
	}
	if n != 4<<20 {
		t.Fatalf("mscfb read %d bytes", n)
	}
	if _, err := inspectBytes(b, zeroLimits); !errors.Is(err, facts.ErrDefect) {
		t.Fatalf("Inspect: %v", err)
	}
	t.Logf("mscfb read %d bytes from a %d-byte file through a chain loop", n, len(b))
}

// What reading costs does not grow with the file: a database with a
// 1 MiB cabinet and one with a 48 MiB cabinet allocate about the same,
// a small fraction of the file, while every stream's chain is still
// checked to the end.
func TestMemoryDoesNotGrowWithFileSize(t *testing.T) {
	alloc := func(cab int) (uint64, int) {
		db := minimalDB()
		db.extra = append(db.extra, cfbStream{raw: EncodeStreamName("product.cab", false), data: make([]byte, cab)})
		b := db.file(512).bytes()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := inspectBytes(b, zeroLimits); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, len(b)
	}
	small, _ := alloc(1 << 20)
	large, size := alloc(48 << 20)
	if large > 2<<20 || large > 2*small+256<<10 {
		t.Fatalf("inspecting a %d-byte file allocated %d bytes (%d for the 1 MiB one)", size, large, small)
	}
	t.Logf("allocated %d bytes for a %d-byte file, %d for a 1 MiB cabinet", large, size, small)
}

// The block cache reads what the file holds at every offset and length,
// across block boundaries and at the end of the file.
func TestBlockCache(t *testing.T) {
	data := make([]byte, 3*4096+100)
	for i := range data {
		data[i] = byte(i * 31)
	}
	c := newBlockCache(bytes.NewReader(data))
	for _, n := range []int{1, 4, 64, 512, 513, 5000} {
		for off := int64(0); off < int64(len(data))+10; off += 37 {
			want := make([]byte, n)
			wn, werr := bytes.NewReader(data).ReadAt(want, off)
			got := make([]byte, n)
			gn, gerr := c.ReadAt(got, off)
			if gn != wn || (gerr == nil) != (werr == nil) || !bytes.Equal(got[:gn], want[:wn]) {
				t.Fatalf("len %d off %d: got %d %v, want %d %v", n, off, gn, gerr, wn, werr)
			}
		}
	}
}
