package msi

import (
	"encoding/binary"
	"testing"
)

// A Windows Installer database written in Go, as Windows Installer lays
// it out (string pool, _Tables, _Columns, column-major tables, summary
// information): small seeds for the hostile cases and the fuzzer that
// need no tool. TestGoMSIMatchesReader checks it reads as intended.

type goTable struct {
	name string
	cols []Column
	rows [][]any // string, int, or nil
}

// Column types as _Columns stores them.
const (
	tKeyStr72 = colKey | colValid | colString | 0x0400 | 72 // s72 key
	tStr255   = colValid | colString | 0x0400 | 255         // s255
	tStrNull  = colNullable | tStr255                       // S255
	tInt16    = colValid | 0x0400 | 2                       // i2
	tInt32    = colValid | 4                                // i4
	tIntNull  = colNullable | tInt32                        // I4
	tBinary   = colNullable | colValid | colString          // V0
)

type goDB struct {
	tables  []goTable
	summary []byte // nil: a default summary information stream
	extra   []cfbStream
	refs    int // 2 or 3
}

// pool collects strings in first-use order.
type pool struct {
	ids  map[string]uint32
	strs []string
	refs []int
}

func (p *pool) id(s string) uint32 {
	if p.ids == nil {
		p.ids = map[string]uint32{}
	}
	if id, ok := p.ids[s]; ok {
		p.refs[id-1]++
		return id
	}
	p.strs = append(p.strs, s)
	p.refs = append(p.refs, 1)
	p.ids[s] = uint32(len(p.strs))
	return uint32(len(p.strs))
}

func putRef(b []byte, v uint32, w int) []byte {
	b = append(b, byte(v), byte(v>>8))
	if w == 3 {
		b = append(b, byte(v>>16))
	}
	return b
}

func putInt(b []byte, v any, w int) []byte {
	if v == nil {
		return append(b, make([]byte, w)...)
	}
	n := v.(int)
	if w == 2 {
		return binary.LittleEndian.AppendUint16(b, uint16(n)^0x8000)
	}
	return binary.LittleEndian.AppendUint32(b, uint32(n)^0x80000000)
}

func (db goDB) streams() []cfbStream {
	w := db.refs
	if w == 0 {
		w = 2
	}
	var p pool
	var tablesB, colsTable, colsNum, colsName, colsType []byte
	var out []cfbStream
	for _, t := range db.tables {
		tablesB = putRef(tablesB, p.id(t.name), w)
		for k, c := range t.cols {
			colsTable = putRef(colsTable, p.id(t.name), w)
			colsNum = putInt(colsNum, k+1, 2)
			colsName = putRef(colsName, p.id(c.Name), w)
			colsType = putInt(colsType, int(c.Type), 2)
		}
		var data []byte
		for k, c := range t.cols {
			cw, _ := c.width(w)
			for _, r := range t.rows {
				v := r[k]
				switch {
				case v == nil:
					data = append(data, make([]byte, cw)...)
				case c.IsBinary():
					data = putRef(data, 1, 2)
				case c.IsString():
					data = putRef(data, p.id(v.(string)), w)
				default:
					data = putInt(data, v, cw)
				}
			}
		}
		if len(t.rows) > 0 {
			out = append(out, cfbStream{raw: EncodeStreamName(t.name, true), data: data})
		}
	}
	cols := append(append(append(colsTable, colsNum...), colsName...), colsType...)
	poolB := binary.LittleEndian.AppendUint32(nil, 1252|map[bool]uint32{true: flagLongRefs}[w == 3])
	var dataB []byte
	for k, s := range p.strs {
		poolB = binary.LittleEndian.AppendUint16(poolB, uint16(len(s)))
		poolB = binary.LittleEndian.AppendUint16(poolB, uint16(p.refs[k]))
		dataB = append(dataB, s...)
	}
	sum := db.summary
	if sum == nil {
		sum = summaryStream(map[uint32]any{pidCodepage: int16(1252), pidTitle: "Installation Database", pidTemplate: "x64;1033",
			pidRevision: "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}", pidPageCount: int32(200), pidWordCount: int32(2)})
	}
	out = append([]cfbStream{
		{raw: EncodeStreamName("_StringPool", true), data: poolB},
		{raw: EncodeStreamName("_StringData", true), data: dataB},
		{raw: EncodeStreamName("_Tables", true), data: tablesB},
		{raw: EncodeStreamName("_Columns", true), data: cols},
		{raw: u16(SummaryStream), data: sum},
	}, out...)
	return append(out, db.extra...)
}

// summaryStream writes an OLE property set holding FMTID_SummaryInformation
// with props (int16 -> VT_I2, int32 -> VT_I4, string -> VT_LPSTR).
func summaryStream(props map[uint32]any) []byte {
	ids := []uint32{}
	for id := range props {
		ids = append(ids, id)
	}
	for i := range ids { // sort
		for j := i + 1; j < len(ids); j++ {
			if ids[j] < ids[i] {
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
	}
	var vals []byte
	offs := make([]uint32, len(ids))
	head := 8 + 8*len(ids)
	for k, id := range ids {
		offs[k] = uint32(head + len(vals))
		switch v := props[id].(type) {
		case int16:
			vals = binary.LittleEndian.AppendUint32(vals, vtI2)
			vals = binary.LittleEndian.AppendUint32(vals, uint32(uint16(v)))
		case int32:
			vals = binary.LittleEndian.AppendUint32(vals, vtI4)
			vals = binary.LittleEndian.AppendUint32(vals, uint32(v))
		case string:
			vals = binary.LittleEndian.AppendUint32(vals, vtLPSTR)
			vals = binary.LittleEndian.AppendUint32(vals, uint32(len(v)+1))
			vals = append(vals, v...)
			vals = append(vals, 0)
			for len(vals)%4 != 0 {
				vals = append(vals, 0)
			}
		}
	}
	sec := binary.LittleEndian.AppendUint32(nil, uint32(head+len(vals)))
	sec = binary.LittleEndian.AppendUint32(sec, uint32(len(ids)))
	for k, id := range ids {
		sec = binary.LittleEndian.AppendUint32(sec, id)
		sec = binary.LittleEndian.AppendUint32(sec, offs[k])
	}
	sec = append(sec, vals...)
	b := []byte{0xFE, 0xFF, 0, 0, 6, 2, 1, 0}
	b = append(b, make([]byte, 16)...)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = append(b, fmtidSummary...)
	b = binary.LittleEndian.AppendUint32(b, 48)
	return append(b, sec...)
}

// minimalDB is a small installable database: Property, File, Component,
// Directory, ServiceInstall, CustomAction and Registry rows, and a 10 KiB
// stream outside the mini stream.
func minimalDB() goDB {
	big := make([]byte, 10000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	return goDB{
		tables: []goTable{
			{name: "Property", cols: []Column{{Name: "Property", Type: tKeyStr72}, {Name: "Value", Type: tStr255}}, rows: [][]any{
				{"ProductCode", "{11111111-2222-3333-4444-555555555555}"}, {"ProductName", "Tiny"}, {"ProductVersion", "0.1"},
				{"Manufacturer", "Go"}, {"UpgradeCode", "{66666666-2222-3333-4444-555555555555}"}, {"ALLUSERS", "1"},
			}},
			{name: "Directory", cols: []Column{{Name: "Directory", Type: tKeyStr72}, {Name: "Directory_Parent", Type: tStrNull}, {Name: "DefaultDir", Type: tStr255}}, rows: [][]any{
				{"TARGETDIR", nil, "SourceDir"}, {"ProgramFilesFolder", "TARGETDIR", "."}, {"APPDIR", "ProgramFilesFolder", "TINY~1|Tiny App"},
			}},
			{name: "Component", cols: []Column{{Name: "Component", Type: tKeyStr72}, {Name: "ComponentId", Type: tStrNull}, {Name: "Directory_", Type: tStr255},
				{Name: "Attributes", Type: tInt16}, {Name: "Condition", Type: tStrNull}, {Name: "KeyPath", Type: tStrNull}}, rows: [][]any{
				{"Main", "{77777777-2222-3333-4444-555555555555}", "APPDIR", 0, nil, "TinyExe"},
			}},
			{name: "File", cols: []Column{{Name: "File", Type: tKeyStr72}, {Name: "Component_", Type: tStr255}, {Name: "FileName", Type: tStr255},
				{Name: "FileSize", Type: tInt32}, {Name: "Version", Type: tStrNull}, {Name: "Language", Type: tStrNull}, {Name: "Attributes", Type: tInt16}, {Name: "Sequence", Type: tInt32}}, rows: [][]any{
				{"TinyExe", "Main", "tiny.exe|tiny-app.exe", 1234, "1.0.0.0", nil, 0, 1},
				{"TinySys", "Main", "tiny.sys", 100, nil, nil, 0, 2},
			}},
			{name: "ServiceInstall", cols: []Column{{Name: "ServiceInstall", Type: tKeyStr72}, {Name: "Name", Type: tStr255}, {Name: "ServiceType", Type: tInt32},
				{Name: "StartType", Type: tInt32}, {Name: "StartName", Type: tStrNull}, {Name: "Component_", Type: tStr255}}, rows: [][]any{
				{"Svc", "TinySvc", 0x10, 3, nil, "Main"},
			}},
			{name: "CustomAction", cols: []Column{{Name: "Action", Type: tKeyStr72}, {Name: "Type", Type: tInt16}, {Name: "Source", Type: tStrNull},
				{Name: "Target", Type: tStrNull}, {Name: "ExtendedType", Type: tIntNull}}, rows: [][]any{
				{"Vbs", 38, nil, "MsgBox 1", nil}, {"Sys", 3078, "Bin", "Main", nil},
			}},
			{name: "Registry", cols: []Column{{Name: "Registry", Type: tKeyStr72}, {Name: "Root", Type: tInt16}, {Name: "Key", Type: tStr255},
				{Name: "Name", Type: tStrNull}, {Name: "Value", Type: tStrNull}, {Name: "Component_", Type: tStr255}}, rows: [][]any{
				{"Reg", 2, `Software\Go\Tiny`, "Installed", "#1", "Main"},
			}},
			{name: "Binary", cols: []Column{{Name: "Name", Type: tKeyStr72}, {Name: "Data", Type: tBinary}}, rows: [][]any{{"Bin", "x"}}},
		},
		extra: []cfbStream{{raw: EncodeStreamName("Binary.Bin", false), data: []byte("Function Main\nEnd Function\n")},
			{raw: EncodeStreamName("Big.cab", false), data: big},
			{raw: u16("Readme.txt"), data: []byte("a stream whose name is not packed")}},
	}
}

func (db goDB) file(ss int) *cfbFile { return writeCFB(db.streams(), ss, msiCLSID) }

// The Go-written database reads as written.
func TestGoMSIMatchesReader(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		for _, refs := range []int{2, 3} {
			db := minimalDB()
			db.refs = refs
			f, err := inspectBytes(db.file(ss).bytes(), zeroLimits)
			if err != nil {
				t.Fatalf("ss %d refs %d: %v", ss, refs, err)
			}
			if f.Identity.Name != "Tiny" || f.Identity.ID != "{11111111-2222-3333-4444-555555555555}" || f.Identity.Arch != "amd64" ||
				!f.Privilege.RequiresAdmin || !f.Privilege.InstallsService || !f.Privilege.InstallsDriver ||
				len(f.Scripts) != 2 || f.Files.Count != 2 || f.Files.Bytes != 1334 || f.Files.Sample[0] != "tiny-app.exe" ||
				f.Fields["PackageCode"] != "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}" || f.Services[0].Start != "demand" || f.Services[0].Account != "LocalSystem" {
				t.Fatalf("ss %d refs %d: facts %+v", ss, refs, f)
			}
			d, err := Open(bytesReader(db.file(ss).bytes()))
			if err != nil {
				t.Fatal(err)
			}
			c, err := d.DetectionCandidates()
			if err != nil || len(c) != 4 || c[2].Path != `[ProgramFilesFolder]Tiny App\` || !c[2].KeyPath || c[1].Value != "#1" {
				t.Fatalf("candidates %+v %v", c, err)
			}
			tb, _ := d.Table("Binary")
			if tb.Value(0, 1) != "Binary.Bin" {
				t.Fatalf("binary cell %v", tb.Value(0, 1))
			}
		}
	}
}

// Column type words as wixl writes them in _Columns.
func TestColumnTypes(t *testing.T) {
	for _, c := range []struct {
		typ                          uint16 // as msiinfo export _Columns prints it
		str, bin, integer, null, key bool
		loc                          bool
		size, width2, width3         int
	}{
		{11592, true, false, false, false, true, false, 72, 2, 3}, // s72 key
		{3840, true, false, false, false, false, true, 0, 2, 3},   // l0
		{7679, true, false, false, true, false, false, 255, 2, 3}, // S255
		{8191, true, false, false, true, false, true, 255, 2, 3},  // L255
		{1282, false, false, true, false, false, false, 2, 2, 2},  // i2
		{260, false, false, true, false, false, false, 4, 4, 4},   // i4
		{4356, false, false, true, true, false, false, 4, 4, 4},   // I4
		{2304, false, true, false, false, false, false, 0, 2, 2},  // v0
		{9474, false, false, true, false, true, false, 2, 2, 2},   // i2 key
	} {
		col := Column{Name: "c", Type: c.typ}
		w2, _ := col.width(2)
		w3, _ := col.width(3)
		if col.IsString() != c.str || col.IsBinary() != c.bin || col.IsInt() != c.integer || col.Nullable() != c.null ||
			col.Key() != c.key || col.Localizable() != c.loc || col.Size() != c.size || w2 != c.width2 || w3 != c.width3 {
			t.Errorf("type %d (%#04x): string %v binary %v int %v nullable %v key %v localizable %v size %d widths %d/%d",
				c.typ, c.typ, col.IsString(), col.IsBinary(), col.IsInt(), col.Nullable(), col.Key(), col.Localizable(), col.Size(), w2, w3)
		}
	}
}

// The pool keeps each string's reference count as written.
func TestStringPoolRefs(t *testing.T) {
	db := minimalDB()
	d, err := Open(bytesReader(db.file(512).bytes()))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for id := uint32(1); int(id) < d.Pool().Len(); id++ {
		switch d.Pool().String(id) {
		case "Main": // Component key, Component_ of two Files, ServiceInstall and Registry, a CustomAction Target
			if d.Pool().Refs(id) != 6 {
				t.Errorf("Main refs %d, want 6", d.Pool().Refs(id))
			}
			found++
		case "Property": // _Tables, _Columns (once per column: 2), a column name
			if d.Pool().Refs(id) != 4 {
				t.Errorf("Property refs %d, want 4", d.Pool().Refs(id))
			}
			found++
		}
	}
	if found != 2 || d.Pool().Codepage != 1252 || d.Pool().LongRefs || d.Pool().Refs(0) != 0 || d.Pool().Bytes(9999) != nil {
		t.Fatalf("pool: found %d, codepage %d", found, d.Pool().Codepage)
	}
}
