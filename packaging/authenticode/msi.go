package authenticode

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"sort"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/richardlehane/mscfb"
)

// Compound file constants.
const (
	cfbMaxRegSect  = 0xFFFFFFFA
	cfbEndOfChain  = 0xFFFFFFFE
	cfbNoStream    = 0xFFFFFFFF
	cfbTypeStorage = 1
	cfbTypeStream  = 2
	cfbTypeRoot    = 5
	cfbEntrySize   = 128
)

var (
	cfbMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	// \x05DigitalSignature and \x05MsiDigitalSignatureEx as raw UTF-16LE
	// directory names, with their terminating NUL.
	nameDigitalSignature          = utf16z("\x05DigitalSignature")
	nameMsiDigitalSigEx           = utf16z("\x05MsiDigitalSignatureEx")
	maxMsiDigitalSigExSize uint64 = 1 << 10
)

func utf16z(s string) []byte {
	b := make([]byte, 0, 2*len(s)+2)
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return append(b, 0, 0)
}

// cfbEntry is one directory entry, raw.
type cfbEntry struct {
	raw                [cfbEntrySize]byte
	name               []byte // raw UTF-16LE name including its NUL (raw[:nameLen])
	typ                byte
	left, right, child uint32
	size               uint64 // stream size (version 3: the low 32 bits)
	children           []int  // directory indexes of a storage's children
}

func (e *cfbEntry) clsid() []byte    { return e.raw[0x50:0x60] }
func (e *cfbEntry) state() []byte    { return e.raw[0x60:0x64] }
func (e *cfbEntry) times() []byte    { return e.raw[0x64:0x74] }
func (e *cfbEntry) rawSize4() []byte { return e.raw[0x78:0x7c] }

// cfbFile is a compound file's directory, checked before any stream is
// read: every sector chain walked ends inside the file without looping,
// the directory tree visits each entry once, and the streams declare no
// more bytes than the file holds.
type cfbFile struct {
	r        io.ReaderAt
	size     int64
	kind     facts.Kind
	ss       int64 // sector size
	nSectors int64
	fat      []uint32 // locations of the FAT sectors
	cacheSec int64
	cache    []byte
	entries  []cfbEntry
	order    []int       // tree order (left, self, child, right), as mscfb lists File
	pos      map[int]int // directory index -> position in order
	doc      *mscfb.Reader
}

func (c *cfbFile) defect(f string, args ...any) error { return facts.Defectf(c.kind, f, args...) }

// openCFB checks and opens the compound file.
func openCFB(r io.ReaderAt, size int64, kind facts.Kind, lim facts.Limits) (*cfbFile, error) {
	c := &cfbFile{r: r, size: size, kind: kind, cacheSec: -1}
	var h [512]byte
	if size >= 8 {
		if err := readFull(r, h[:8], 0); err != nil {
			return nil, err
		}
		if !bytes.Equal(h[:8], cfbMagic) {
			return nil, c.defect("no compound file (CFB) signature at offset 0")
		}
	}
	if size < int64(len(h)) {
		return nil, c.defect("truncated: %d bytes is shorter than a compound file header", size)
	}
	if err := readFull(r, h[:], 0); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	major, shift := le.Uint16(h[0x1a:]), le.Uint16(h[0x1e:])
	switch {
	case major == 3 && shift == 9, major == 4 && shift == 12:
	default:
		return nil, c.defect("compound file version %d with sector shift %d (want 3/9 or 4/12)", major, shift)
	}
	if ms := le.Uint16(h[0x20:]); ms != 6 {
		return nil, c.defect("mini sector shift %d, want 6", ms)
	}
	if co := le.Uint32(h[0x38:]); co != 4096 {
		return nil, c.defect("mini stream cutoff %d, want 4096", co)
	}
	c.ss = 1 << shift
	if size > c.ss {
		c.nSectors = (size - c.ss + c.ss - 1) / c.ss
	}
	numFAT, numDifat := int64(le.Uint32(h[0x2c:])), int64(le.Uint32(h[0x48:]))
	if numFAT == 0 || numFAT > c.nSectors {
		return nil, c.defect("header declares %d FAT sectors, the file has %d sectors", numFAT, c.nSectors)
	}
	if numDifat > c.nSectors {
		return nil, c.defect("header declares %d DIFAT sectors, the file has %d sectors", numDifat, c.nSectors)
	}
	for i := 0; i < 109 && int64(len(c.fat)) < numFAT; i++ {
		c.fat = append(c.fat, le.Uint32(h[0x4c+4*i:]))
	}
	sec := make([]byte, c.ss)
	d := le.Uint32(h[0x44:])
	for k := int64(0); k < numDifat && int64(len(c.fat)) < numFAT; k++ {
		if int64(d) >= c.nSectors {
			return nil, c.defect("DIFAT sector %d lies outside the file (%d sectors)", d, c.nSectors)
		}
		if err := c.read(sec, int64(d)); err != nil {
			return nil, err
		}
		n := c.ss/4 - 1
		for i := int64(0); i < n && int64(len(c.fat)) < numFAT; i++ {
			c.fat = append(c.fat, le.Uint32(sec[4*i:]))
		}
		d = le.Uint32(sec[c.ss-4:])
	}
	if int64(len(c.fat)) < numFAT {
		return nil, c.defect("the DIFAT lists %d of the %d FAT sectors", len(c.fat), numFAT)
	}
	for i, f := range c.fat {
		if int64(f) >= c.nSectors {
			return nil, c.defect("FAT sector %d is at sector %d, outside the file (%d sectors)", i, f, c.nSectors)
		}
	}

	// The directory: its chain, bounded by the entry limit.
	maxDir := min(c.nSectors, int64(lim.MaxEntries)*cfbEntrySize/c.ss+1)
	dirs, err := c.chain(le.Uint32(h[0x30:]), maxDir, "directory")
	if err != nil {
		return nil, err
	}
	for _, s := range dirs {
		if err := c.read(sec, int64(s)); err != nil {
			return nil, err
		}
		for o := int64(0); o+cfbEntrySize <= c.ss; o += cfbEntrySize {
			var e cfbEntry
			copy(e.raw[:], sec[o:])
			e.typ = e.raw[0x42]
			e.left, e.right, e.child = le.Uint32(e.raw[0x44:]), le.Uint32(e.raw[0x48:]), le.Uint32(e.raw[0x4c:])
			if major == 3 {
				e.size = uint64(le.Uint32(e.raw[0x78:]))
			} else {
				e.size = le.Uint64(e.raw[0x78:])
			}
			c.entries = append(c.entries, e)
		}
	}
	if len(c.entries) == 0 || c.entries[0].typ != cfbTypeRoot {
		return nil, c.defect("directory entry 0 is not the root storage")
	}
	visited := make([]bool, len(c.entries))
	var total uint64
	var visit func(i uint32, parent int) error
	visit = func(i uint32, parent int) error {
		if i == cfbNoStream {
			return nil
		}
		if int64(i) >= int64(len(c.entries)) {
			return c.defect("directory link to entry %d, the directory has %d", i, len(c.entries))
		}
		if visited[i] {
			return c.defect("directory tree reaches entry %d twice (a loop)", i)
		}
		visited[i] = true
		e := &c.entries[i]
		nl := int(binary.LittleEndian.Uint16(e.raw[0x40:]))
		if nl < 2 || nl > 64 || nl%2 != 0 {
			return c.defect("directory entry %d has name length %d", i, nl)
		}
		e.name = e.raw[:nl]
		if e.typ == cfbTypeStream {
			total += e.size
			if e.size > uint64(c.size) || total > uint64(c.size) {
				return c.defect("streams declare %d bytes, more than the file's %d (a sector loop or a lie)", total, c.size)
			}
		}
		if parent >= 0 {
			c.entries[parent].children = append(c.entries[parent].children, int(i))
		}
		if err := visit(e.left, parent); err != nil {
			return err
		}
		c.order = append(c.order, int(i))
		if err := visit(e.child, int(i)); err != nil {
			return err
		}
		return visit(e.right, parent)
	}
	if err := visit(0, -1); err != nil {
		return nil, err
	}
	// The mini stream's chain (mscfb walks it whole when it opens).
	if root := c.entries[0]; le.Uint32(root.raw[0x74:]) != cfbEndOfChain && root.size > 0 {
		if _, err := c.chain(le.Uint32(root.raw[0x74:]), c.nSectors, "mini stream"); err != nil {
			return nil, err
		}
	}
	if nmf := int64(le.Uint32(h[0x40:])); nmf > 0 {
		if nmf > c.nSectors {
			return nil, c.defect("header declares %d mini FAT sectors, the file has %d sectors", nmf, c.nSectors)
		}
		if _, err := c.chain(le.Uint32(h[0x3c:]), nmf, "mini FAT"); err != nil {
			return nil, err
		}
	}

	doc, err := newMSCFB(r)
	if err != nil {
		return nil, c.defect("compound file: %v", err)
	}
	if len(doc.File) != len(c.order) {
		return nil, c.defect("compound file directory lists %d entries, the tree %d", len(doc.File), len(c.order))
	}
	for k, i := range c.order {
		if e := c.entries[i]; e.typ == cfbTypeStream && doc.File[k].Size != int64(e.size) {
			return nil, c.defect("compound file entry %d: size %d read as %d", i, e.size, doc.File[k].Size)
		}
	}
	c.doc = doc
	c.pos = make(map[int]int, len(c.order))
	for k, i := range c.order {
		c.pos[i] = k
	}
	return c, nil
}

// newMSCFB opens r with mscfb, turning a panic of the library on
// hostile input into an error.
func newMSCFB(r io.ReaderAt) (doc *mscfb.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			doc, err = nil, fmt.Errorf("reader failed: %v", p)
		}
	}()
	return mscfb.New(r)
}

// safeReader turns a panic of the stream reader into an error.
type safeReader struct{ r io.Reader }

func (s safeReader) Read(b []byte) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("reader failed: %v", p)
		}
	}()
	return s.r.Read(b)
}

// chain returns the sectors of the chain starting at start, at most max
// of them: a longer chain loops or is over the limit.
func (c *cfbFile) chain(start uint32, max int64, what string) ([]uint32, error) {
	var out []uint32
	for s := start; s != cfbEndOfChain; {
		if s > cfbMaxRegSect || int64(s) >= c.nSectors {
			return nil, c.defect("%s sector chain reaches sector 0x%x, outside the file (%d sectors)", what, s, c.nSectors)
		}
		if int64(len(out)) >= max {
			return nil, c.defect("%s sector chain is longer than %d sectors (a loop, or over the limit)", what, max)
		}
		out = append(out, s)
		var err error
		if s, err = c.next(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// read reads sector s whole; a sector cut by the end of the file is a
// defect.
func (c *cfbFile) read(b []byte, s int64) error {
	off := (s + 1) * c.ss
	if off+int64(len(b)) > c.size {
		return c.defect("truncated: sector %d (offset %d) runs past the end of the file (%d bytes)", s, off, c.size)
	}
	return readFull(c.r, b, off)
}

// next returns the FAT entry of sector s.
func (c *cfbFile) next(s uint32) (uint32, error) {
	per := c.ss / 4
	idx := int64(s) / per
	if idx >= int64(len(c.fat)) {
		return 0, c.defect("sector %d is not covered by the FAT (%d FAT sectors)", s, len(c.fat))
	}
	fs := int64(c.fat[idx])
	if fs != c.cacheSec {
		if c.cache == nil {
			c.cache = make([]byte, c.ss)
		}
		if err := c.read(c.cache, fs); err != nil {
			return 0, err
		}
		c.cacheSec = fs
	}
	o := (int64(s) % per) * 4
	return binary.LittleEndian.Uint32(c.cache[o:]), nil
}

// rootChild finds a stream of the root storage by raw name.
func (c *cfbFile) rootChild(name []byte) (int, bool) {
	for _, k := range c.entries[0].children {
		if e := c.entries[k]; e.typ == cfbTypeStream && bytes.Equal(e.name, name) {
			return k, true
		}
	}
	return 0, false
}

// stream returns a reader of entry i's content.
func (c *cfbFile) stream(i int) io.Reader {
	k, ok := c.pos[i]
	if !ok {
		return bytes.NewReader(nil)
	}
	return io.LimitReader(safeReader{c.doc.File[k]}, int64(c.entries[i].size))
}

// sortedChildren orders a storage's children as osslsigncode's
// dirent_cmp_hash does: by raw UTF-16LE name bytes (including the NUL),
// and of two names equal over the shorter's length, the longer first.
func (c *cfbFile) sortedChildren(i int) []int {
	kids := append([]int(nil), c.entries[i].children...)
	sort.SliceStable(kids, func(x, y int) bool {
		a, b := c.entries[kids[x]].name, c.entries[kids[y]].name
		n := min(len(a), len(b))
		if d := bytes.Compare(a[:n], b[:n]); d != 0 {
			return d < 0
		}
		return len(a) > len(b)
	})
	return kids
}

func (c *cfbFile) isSignatureStream(i int) bool {
	n := c.entries[i].name
	return bytes.Equal(n, nameDigitalSignature) || bytes.Equal(n, nameMsiDigitalSigEx)
}

// hashStorage writes the MSI content hash of storage i to d: its streams'
// contents and its sub-storages, sorted, then its CLSID.
func (c *cfbFile) hashStorage(d hash.Hash, i int, buf []byte) error {
	for _, k := range c.sortedChildren(i) {
		if i == 0 && c.isSignatureStream(k) {
			continue
		}
		switch e := c.entries[k]; e.typ {
		case cfbTypeStream:
			if e.size == 0 {
				continue
			}
			n, err := io.CopyBuffer(d, c.stream(k), buf)
			if err != nil {
				return c.defect("stream %d: %v", k, err)
			}
			if n != int64(e.size) {
				return c.defect("stream %d: read %d of its %d bytes", k, n, e.size)
			}
		case cfbTypeStorage:
			if err := c.hashStorage(d, k, buf); err != nil {
				return err
			}
		}
	}
	d.Write(c.entries[i].clsid())
	return nil
}

// prehash writes the MsiDigitalSignatureEx pre-hash of storage i: the
// metadata (names, sizes, CLSIDs, state bits, times) of it and everything
// under it, sorted as hashStorage sorts.
func (c *cfbFile) prehash(d hash.Hash, i int) {
	meta := func(e *cfbEntry) {
		if e.typ != cfbTypeRoot {
			d.Write(e.name[:len(e.name)-2])
		}
		if e.typ != cfbTypeStream {
			d.Write(e.clsid())
		} else {
			d.Write(e.rawSize4())
		}
		d.Write(e.state())
		if e.typ != cfbTypeRoot {
			d.Write(e.times())
		}
	}
	meta(&c.entries[i])
	for _, k := range c.sortedChildren(i) {
		if i == 0 && c.isSignatureStream(k) {
			continue
		}
		switch c.entries[k].typ {
		case cfbTypeStream:
			meta(&c.entries[k])
		case cfbTypeStorage:
			c.prehash(d, k)
		}
	}
}

// VerifyMSI verifies the Authenticode signature of an MSI (or any
// Windows Installer compound file: .msp, .mst): the \x05DigitalSignature
// stream against the content hash of the streams, judged against o.Trust
// at o.Now. A broken compound file is a *facts.DefectError of kind
// facts.KindMSI.
func VerifyMSI(r io.ReaderAt, size int64, o facts.Options) (*facts.Signature, error) {
	lim := o.Limits.WithDefaults()
	c, err := openCFB(r, size, facts.KindMSI, lim)
	if err != nil {
		return nil, err
	}
	ds, ok := c.rootChild(nameDigitalSignature)
	if !ok {
		return &facts.Signature{State: facts.SigUnsigned, Format: "authenticode", Detail: "no \\x05DigitalSignature stream"}, nil
	}
	if c.entries[ds].size > uint64(lim.MaxMetadata) {
		return nil, c.defect("\\x05DigitalSignature stream of %d bytes, limit %d", c.entries[ds].size, lim.MaxMetadata)
	}
	der, err := io.ReadAll(c.stream(ds))
	if err != nil {
		return nil, c.defect("\\x05DigitalSignature stream: %v", err)
	}
	var ex []byte
	exi, hasEx := c.rootChild(nameMsiDigitalSigEx)
	if hasEx {
		if c.entries[exi].size > maxMsiDigitalSigExSize {
			return nil, c.defect("\\x05MsiDigitalSignatureEx stream of %d bytes, limit %d", c.entries[exi].size, maxMsiDigitalSigExSize)
		}
		if ex, err = io.ReadAll(c.stream(exi)); err != nil {
			return nil, c.defect("\\x05MsiDigitalSignatureEx stream: %v", err)
		}
	}
	return VerifySignedData(der, "authenticode", o, func(ind Indirect) (string, error) {
		if !ind.DataType.Equal(OIDSpcSipInfo) {
			return fmt.Sprintf("the signature is for content type %v, not an MSI (SpcSipInfo %v)", ind.DataType, OIDSpcSipInfo), nil
		}
		d := ind.Hash.New()
		var exNote string
		if hasEx {
			pd := ind.Hash.New()
			c.prehash(pd, 0)
			pre := pd.Sum(nil)
			if !bytes.Equal(pre, ex) {
				exNote = fmt.Sprintf(" (and the \\x05MsiDigitalSignatureEx metadata hash is %x, the stream holds %x)", pre, ex)
			}
			d.Write(pre)
		}
		if err := c.hashStorage(d, 0, make([]byte, 32<<10)); err != nil {
			return "", err
		}
		got := d.Sum(nil)
		if subtle.ConstantTimeCompare(got, ind.Digest) != 1 {
			return DigestMismatch("MSI content hash", got, ind.Digest) + exNote, nil
		}
		return "", nil
	})
}
