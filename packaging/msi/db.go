package msi

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
)

// Column type bits, as _Columns stores them.
const (
	colSizeMask    = 0x00FF
	colValid       = 0x0100
	colLocalizable = 0x0200
	colString      = 0x0800 // string or binary (object)
	colNullable    = 0x1000
	colKey         = 0x2000
	colTemporary   = 0x4000
)

// maxColumns bounds the columns of one table (Windows Installer allows
// far fewer).
const maxColumns = 1024

// Column is one column of a table, from _Columns.
type Column struct {
	Name   string
	Number int    // 1-based position
	Type   uint16 // the raw _Columns type word
}

// IsBinary reports a stream (object) column; its data lives in a stream
// named after the table and the row's key.
func (c Column) IsBinary() bool { return c.Type&^colNullable == colString|colValid }

// IsString reports a string column (a reference into the string pool).
func (c Column) IsString() bool { return c.Type&colString != 0 && !c.IsBinary() }

// IsInt reports an integer column (16 or 32 bits).
func (c Column) IsInt() bool { return c.Type&colString == 0 }

// Nullable, Key and Localizable report the column's flags.
func (c Column) Nullable() bool    { return c.Type&colNullable != 0 }
func (c Column) Key() bool         { return c.Type&colKey != 0 }
func (c Column) Localizable() bool { return c.Type&colLocalizable != 0 }

// Size is the declared size: the maximum length of a string column (0:
// unlimited), 2 or 4 for an integer column.
func (c Column) Size() int { return int(c.Type & colSizeMask) }

// width is the bytes one value takes on disk.
func (c Column) width(strRef int) (int, error) {
	switch {
	case c.IsBinary():
		return 2, nil
	case c.IsString():
		return strRef, nil
	case c.Size() <= 2:
		return 2, nil
	case c.Size() == 4:
		return 4, nil
	}
	return 0, fmt.Errorf("integer column %q has size %d (want 2 or 4; type %#04x)", c.Name, c.Size(), c.Type)
}

// Database is an opened MSI database. Not safe for concurrent use.
type Database struct {
	c    *container
	lim  facts.Limits
	pool *StringPool
	ref  int // bytes per string reference: 2 or 3

	entries  []StreamInfo
	streams  map[string]int // decoded name of a top-level non-table stream -> entry
	tstreams map[string]int // table name -> entry of its stream
	storages int

	tableNames []string
	tableSet   map[string]bool
	columns    map[string][]Column
	tables     map[string]*Table
	props      map[string]string
	sum        *SummaryInfo
	sumRead    bool
}

// StreamInfo is one top-level entry of the compound file.
type StreamInfo struct {
	Name    string   // decoded: "Binary.Icon", "\x05SummaryInformation", a table's name
	Raw     []uint16 // the name as stored in the CFB directory
	Table   bool     // the stream of a table (packed with the table marker)
	Storage bool     // a substorage (embedded transform or database), not a stream
	Size    int64
	index   int
}

// Open reads the CFB container, the string pool and the table catalogue
// of an MSI within lim. Tables are read when asked for. A file that is
// not a compound file, or a compound file without the Windows Installer
// database streams, is a *facts.DefectError.
func Open(r io.ReaderAt, size int64, lim facts.Limits) (*Database, error) {
	lim = lim.WithDefaults()
	c, err := openContainer(r, size, lim)
	if err != nil {
		return nil, err
	}
	d := &Database{c: c, lim: lim, streams: map[string]int{}, tstreams: map[string]int{},
		tableSet: map[string]bool{}, columns: map[string][]Column{}, tables: map[string]*Table{}}
	for _, i := range c.order {
		e := c.entries[i]
		if e.parent != 0 {
			continue
		}
		name, table := DecodeStreamName(e.raw)
		si := StreamInfo{Name: name, Raw: e.raw, Table: table, Storage: e.typ == objStorage, Size: e.size, index: i}
		if si.Storage {
			si.Size = 0
			d.storages++
		} else if table {
			if _, dup := d.tstreams[name]; dup {
				return nil, defect("two streams for table %q", name)
			}
			d.tstreams[name] = len(d.entries)
		} else {
			if _, dup := d.streams[name]; dup {
				return nil, defect("two streams named %s", quote(name))
			}
			d.streams[name] = len(d.entries)
		}
		d.entries = append(d.entries, si)
	}
	for _, need := range []string{"_StringPool", "_StringData", "_Tables", "_Columns"} {
		if _, ok := d.tstreams[need]; !ok {
			return nil, defect("the compound file has no %s stream: not a Windows Installer database (another kind of compound file, such as an Office document?)", need)
		}
	}
	pool, err := d.readTableStream("_StringPool")
	if err != nil {
		return nil, err
	}
	data, err := d.readTableStream("_StringData")
	if err != nil {
		return nil, err
	}
	if d.pool, err = parseStringPool(pool, data); err != nil {
		return nil, err
	}
	d.ref = 2
	if d.pool.LongRefs {
		d.ref = 3
	}
	if err := d.loadCatalog(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Database) readTableStream(name string) ([]byte, error) {
	k, ok := d.tstreams[name]
	if !ok {
		return nil, nil
	}
	return d.c.readStream(d.entries[k].index, d.lim.MaxMetadata)
}

// readRef reads a little-endian value of w bytes.
func readRef(b []byte, w int) uint32 {
	switch w {
	case 2:
		return uint32(binary.LittleEndian.Uint16(b))
	case 3:
		return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	default:
		return binary.LittleEndian.Uint32(b)
	}
}

// str resolves a string reference, refusing one outside the pool.
func (d *Database) str(id uint32, where func() string) (string, error) {
	if !d.pool.Has(id) {
		return "", defect("%s: string index %d is outside the string pool (%d strings)", where(), id, d.pool.Len())
	}
	return d.pool.String(id), nil
}

// loadCatalog reads _Tables and _Columns.
func (d *Database) loadCatalog() error {
	tb, err := d.readTableStream("_Tables")
	if err != nil {
		return err
	}
	if len(tb)%d.ref != 0 {
		return defect("_Tables is %d bytes, not a whole number of %d-byte rows", len(tb), d.ref)
	}
	if len(tb)/d.ref > d.lim.MaxRows {
		return defect("_Tables has %d rows, limit %d", len(tb)/d.ref, d.lim.MaxRows)
	}
	for k := 0; k < len(tb); k += d.ref {
		id := readRef(tb[k:], d.ref)
		name, err := d.str(id, func() string { return fmt.Sprintf("_Tables row %d", k/d.ref+1) })
		if err != nil {
			return err
		}
		if id == 0 || name == "" {
			return defect("_Tables row %d has no name", k/d.ref+1)
		}
		if d.tableSet[name] {
			return defect("_Tables lists table %q twice", name)
		}
		d.tableSet[name] = true
		d.tableNames = append(d.tableNames, name)
	}
	cb, err := d.readTableStream("_Columns")
	if err != nil {
		return err
	}
	row := 2*d.ref + 4
	if len(cb)%row != 0 {
		return defect("_Columns is %d bytes, not a whole number of %d-byte rows", len(cb), row)
	}
	n := len(cb) / row
	if n > d.lim.MaxRows {
		return defect("_Columns has %d rows, limit %d", n, d.lim.MaxRows)
	}
	// Column-major: all Table refs, all Numbers, all Names, all Types.
	oTable, oNum, oName, oType := 0, n*d.ref, n*(d.ref+2), n*(2*d.ref+2)
	for i := 0; i < n; i++ {
		where := func() string { return fmt.Sprintf("_Columns row %d", i+1) }
		table, err := d.str(readRef(cb[oTable+i*d.ref:], d.ref), where)
		if err != nil {
			return err
		}
		name, err := d.str(readRef(cb[oName+i*d.ref:], d.ref), where)
		if err != nil {
			return err
		}
		num := binary.LittleEndian.Uint16(cb[oNum+2*i:])
		typ := binary.LittleEndian.Uint16(cb[oType+2*i:])
		if table == "" || name == "" || num == 0 || typ == 0 {
			return defect("%s: a null table, column name, number or type", where())
		}
		col := Column{Name: name, Number: int(int16(num ^ 0x8000)), Type: typ ^ 0x8000}
		d.columns[table] = append(d.columns[table], col)
	}
	for table, cols := range d.columns {
		if len(cols) > maxColumns {
			return defect("table %q has %d columns, limit %d", table, len(cols), maxColumns)
		}
		sort.Slice(cols, func(a, b int) bool { return cols[a].Number < cols[b].Number })
		seen := map[string]bool{}
		for k, col := range cols {
			if col.Number != k+1 {
				return defect("table %q: columns are numbered %d where %d is due (missing, duplicate or out of range)", table, col.Number, k+1)
			}
			if seen[col.Name] {
				return defect("table %q has two columns named %q", table, col.Name)
			}
			seen[col.Name] = true
			if _, err := col.width(d.ref); err != nil {
				return defect("table %q: %v", table, err)
			}
		}
	}
	return nil
}

// Tables lists the tables of the catalogue, as _Tables orders them.
func (d *Database) Tables() []string { return append([]string(nil), d.tableNames...) }

// HasTable reports whether the catalogue lists name.
func (d *Database) HasTable(name string) bool { return d.tableSet[name] }

// Pool is the string pool.
func (d *Database) Pool() *StringPool { return d.pool }

// Table reads table name (cached). A table the catalogue does not list is
// an error wrapping ErrNoTable; one whose stream is absent has no rows.
func (d *Database) Table(name string) (*Table, error) {
	if t, ok := d.tables[name]; ok {
		return t, nil
	}
	if !d.tableSet[name] {
		return nil, fmt.Errorf("table %q: %w", name, ErrNoTable)
	}
	cols := d.columns[name]
	if len(cols) == 0 {
		return nil, defect("table %q is listed in _Tables and has no columns in _Columns", name)
	}
	t := &Table{Name: name, Columns: cols, db: d, ref: d.ref, idx: make(map[string]int, len(cols))}
	for k, c := range cols {
		t.idx[c.Name] = k
	}
	rowSize := 0
	for _, col := range cols {
		w, _ := col.width(d.ref)
		t.offs = append(t.offs, rowSize) // scaled by the row count below
		t.widths = append(t.widths, w)
		rowSize += w
	}
	data, err := d.readTableStream(name)
	if err != nil {
		return nil, err
	}
	if len(data)%rowSize != 0 {
		return nil, defect("table %q stream is %d bytes, not a whole number of %d-byte rows", name, len(data), rowSize)
	}
	t.rows = len(data) / rowSize
	if t.rows > d.lim.MaxRows {
		return nil, defect("table %q has %d rows, limit %d", name, t.rows, d.lim.MaxRows)
	}
	for k := range t.offs {
		t.offs[k] *= t.rows
	}
	t.data = data
	// Every string reference must resolve.
	for k, col := range cols {
		if !col.IsString() {
			continue
		}
		for i := 0; i < t.rows; i++ {
			if id := t.raw(i, k); !d.pool.Has(id) {
				return nil, defect("table %q row %d column %q: string index %d is outside the string pool (%d strings)", name, i+1, col.Name, id, d.pool.Len())
			}
		}
	}
	d.tables[name] = t
	return t, nil
}

// Property is the Value of the Property table's row name, or "".
func (d *Database) Property(name string) string {
	if d.props == nil {
		d.props = map[string]string{}
		if t, err := d.Table("Property"); err == nil {
			for i := 0; i < t.Len(); i++ {
				d.props[t.Str(i, "Property")] = t.Str(i, "Value")
			}
		}
	}
	return d.props[name]
}

// Properties returns every Property row; the error is the Property
// table's (nil and an empty map when the database has no Property table).
func (d *Database) Properties() (map[string]string, error) {
	t, err := d.Table("Property")
	if err != nil {
		if isNoTable(err) {
			return map[string]string{}, nil
		}
		return nil, err
	}
	m := make(map[string]string, t.Len())
	for i := 0; i < t.Len(); i++ {
		m[t.Str(i, "Property")] = t.Str(i, "Value")
	}
	return m, nil
}

// Streams lists the decoded names of the top-level streams that are not
// tables ("Binary.X", cabinets, "\x05SummaryInformation",
// "\x05DigitalSignature"), sorted.
func (d *Database) Streams() []string {
	var out []string
	for name := range d.streams {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Entries lists every top-level entry of the compound file (streams,
// table streams and substorages) in directory order.
func (d *Database) Entries() []StreamInfo { return append([]StreamInfo(nil), d.entries...) }

// Storages is the number of top-level substorages (embedded transforms
// or databases).
func (d *Database) Storages() int { return d.storages }

// CLSID is the root storage's class id (an MSI database's is
// {000C1084-0000-0000-C000-000000000046}), as stored.
func (d *Database) CLSID() [16]byte { return d.c.entries[0].clsid }

// HasStream reports whether a non-table stream of that decoded name exists.
func (d *Database) HasStream(name string) bool { _, ok := d.streams[name]; return ok }

// ReadStream reads a non-table stream by decoded name, at most
// Limits.MaxMetadata bytes.
func (d *Database) ReadStream(name string) ([]byte, error) {
	k, ok := d.streams[name]
	if !ok {
		return nil, fmt.Errorf("stream %s: %w", quote(name), ErrNoStream)
	}
	return d.c.readStream(d.entries[k].index, d.lim.MaxMetadata)
}

// OpenEntry returns a reader of a stream entry (from Entries), whatever
// its size: its sector chain is checked first, and reading it holds one
// chunk at a time. Only one reader may be in use at a time.
func (d *Database) OpenEntry(e StreamInfo) (io.Reader, error) {
	if e.Storage {
		return nil, fmt.Errorf("entry %s is a storage, not a stream", quote(e.Name))
	}
	if e.index <= 0 || e.index >= len(d.c.entries) {
		return nil, fmt.Errorf("entry %s is not from this database", quote(e.Name))
	}
	return d.c.openStream(e.index)
}

// Table is one table, held as its stream's bytes (column-major).
type Table struct {
	Name    string
	Columns []Column

	db     *Database
	ref    int
	idx    map[string]int // column name -> index
	rows   int
	data   []byte
	offs   []int // start of each column's block
	widths []int
}

// Len is the number of rows.
func (t *Table) Len() int { return t.rows }

// Col is the index of column name, or -1.
func (t *Table) Col(name string) int {
	if k, ok := t.idx[name]; ok {
		return k
	}
	return -1
}

func (t *Table) raw(i, k int) uint32 {
	w := t.widths[k]
	return readRef(t.data[t.offs[k]+i*w:], w)
}

// Value is the cell at row i, column index k: a string (string columns),
// an int64 (integer columns), the name of the stream holding the data
// (binary columns), or nil for a null.
func (t *Table) Value(i, k int) any {
	if i < 0 || i >= t.rows || k < 0 || k >= len(t.Columns) {
		return nil
	}
	col := t.Columns[k]
	v := t.raw(i, k)
	switch {
	case v == 0:
		return nil
	case col.IsString():
		return t.db.pool.String(v)
	case col.IsBinary():
		return t.streamName(i)
	case t.widths[k] == 2:
		return int64(int16(uint16(v) ^ 0x8000))
	default:
		return int64(int32(v ^ 0x80000000))
	}
}

// streamName is the stream holding row i's binary data: the table name
// and the row's key values joined with '.'.
func (t *Table) streamName(i int) string {
	parts := []string{t.Name}
	for k, c := range t.Columns {
		if !c.Key() {
			continue
		}
		switch v := t.Value(i, k).(type) {
		case string:
			parts = append(parts, v)
		case int64:
			parts = append(parts, strconv.FormatInt(v, 10))
		}
	}
	return strings.Join(parts, ".")
}

// Str is the string value of column name at row i ("" for null, a
// missing column or a non-string column).
func (t *Table) Str(i int, name string) string {
	s, _ := t.Value(i, t.Col(name)).(string)
	return s
}

// Int is the integer value of column name at row i; ok is false for a
// null, a missing column or a non-integer column.
func (t *Table) Int(i int, name string) (v int64, ok bool) {
	k := t.Col(name)
	if k < 0 || !t.Columns[k].IsInt() {
		return 0, false
	}
	v, ok = t.Value(i, k).(int64)
	return v, ok
}

// Row is row i as column name -> Value.
func (t *Table) Row(i int) map[string]any {
	m := make(map[string]any, len(t.Columns))
	for k, c := range t.Columns {
		m[c.Name] = t.Value(i, k)
	}
	return m
}

// Rows is every row as Row gives it.
func (t *Table) Rows() []map[string]any {
	out := make([]map[string]any, t.rows)
	for i := range out {
		out[i] = t.Row(i)
	}
	return out
}
