package msi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf16"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/richardlehane/mscfb"
)

// The CFB layer. mscfb reads the container, but it follows sector chains,
// DIFAT and directory pointers and sibling links as the file gives them
// and sizes some allocations from header counts, so everything it will
// follow is first checked here, bounded by the file's own size and by
// facts.Limits: a chain that loops or runs past the file, a directory over
// Limits.MaxEntries, a tree with a cycle, a stream larger than the file,
// is a defect before mscfb sees it. Each stream's chain is checked again
// (in full, bounded by its declared size) before mscfb reads it.

const (
	cfbMagic   = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"
	secMax     = 0xFFFFFFFA // largest regular sector number
	secDIFAT   = 0xFFFFFFFC
	secFAT     = 0xFFFFFFFD
	secEnd     = 0xFFFFFFFE
	secFree    = 0xFFFFFFFF
	noStream   = 0xFFFFFFFF
	miniSector = 64
	miniCutoff = 4096
	dirEntSize = 128

	objUnknown = 0
	objStorage = 1
	objStream  = 2
	objRoot    = 5

	// mscfbMiniFATLimit is mscfb's own cap on mini FAT sectors.
	mscfbMiniFATLimit = 64000
)

func defect(format string, args ...any) error {
	return facts.Defectf(facts.KindMSI, format, args...)
}

// dirEntry is one CFB directory entry.
type dirEntry struct {
	raw                []uint16 // name, without the terminating NUL
	typ                uint8
	left, right, child uint32
	clsid              [16]byte
	start              uint32
	size               int64
	parent             int // index of the storage holding it (-1 for the root)
}

// container is a validated CFB file. Not safe for concurrent use.
type container struct {
	r     io.ReaderAt
	size  int64
	lim   facts.Limits
	major uint16
	ss    int64  // sector size
	nsect uint32 // sectors that start inside the file
	nfull uint32 // sectors wholly inside the file

	fatLocs []uint32 // location of each FAT sector
	perSec  uint32   // 4-byte entries per sector
	cache   sectorCache

	entries []dirEntry
	order   []int // entries in mscfb's traversal order

	hasMini     bool
	miniFatLocs []uint32
	miniChain   []uint32 // sectors of the mini stream, in order
	nMini       uint32   // mini sectors addressable
	miniCache   sectorCache

	doc   *mscfb.Reader
	files []*mscfb.File // by entry index
	read  int64         // stream bytes read so far (bounded by MaxUncompressed)
}

type sectorCache struct {
	sec uint32
	ok  bool
	buf []byte
}

func (c *container) le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// readSector reads sector s whole; s must lie wholly inside the file.
func (c *container) readSector(what string, s uint32, buf []byte) error {
	if s >= c.nfull {
		return defect("%s: sector %d lies past the end of the file (%d whole sectors): truncated or corrupt", what, s, c.nfull)
	}
	if _, err := c.r.ReadAt(buf[:c.ss], (int64(s)+1)*c.ss); err != nil {
		return defect("%s: reading sector %d: %v", what, s, err)
	}
	return nil
}

// openContainer validates the CFB structure of r and opens it with mscfb.
func openContainer(r io.ReaderAt, size int64, lim facts.Limits) (*container, error) {
	lim = lim.WithDefaults()
	if size < 0 {
		return nil, defect("negative size %d", size)
	}
	head := make([]byte, 512)
	n, err := r.ReadAt(head[:min(size, 512)], 0)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) == min(size, 512)) {
		return nil, defect("reading the CFB header: %v", err)
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return nil, defect("the file is a zip archive (PK signature), not a CFB compound file; an MSI is a compound file")
	case len(head) < 8:
		if bytes.HasPrefix([]byte(cfbMagic), head) && len(head) > 0 {
			return nil, defect("truncated CFB header: the file is %d bytes, the header is 512", size)
		}
		return nil, defect("the file is %d bytes: too short to be a CFB compound file", size)
	case string(head[:8]) != cfbMagic:
		return nil, defect("wrong magic % x: not a CFB compound file", head[:8])
	case len(head) < 512:
		return nil, defect("truncated CFB header: the file is %d bytes, the header is 512", size)
	}
	c := &container{r: r, size: size, lim: lim}
	c.major = binary.LittleEndian.Uint16(head[26:])
	shift := binary.LittleEndian.Uint16(head[30:])
	switch {
	case c.major == 3 && shift == 9, c.major == 4 && shift == 12:
	default:
		return nil, defect("CFB header: major version %d with sector shift %d (want 3 with 9, or 4 with 12)", c.major, shift)
	}
	if bo := binary.LittleEndian.Uint16(head[28:]); bo != 0xFFFE {
		return nil, defect("CFB header: byte order mark %#04x, want 0xfffe", bo)
	}
	if ms := binary.LittleEndian.Uint16(head[32:]); ms != 6 {
		return nil, defect("CFB header: mini sector shift %d, want 6", ms)
	}
	if co := c.le32(head[56:]); co != miniCutoff {
		return nil, defect("CFB header: mini stream cutoff %d, want 4096", co)
	}
	c.ss = 1 << shift
	if size < c.ss {
		return nil, defect("truncated CFB header sector: the file is %d bytes, the header sector %d", size, c.ss)
	}
	ns := (size - c.ss + c.ss - 1) / c.ss
	nf := (size - c.ss) / c.ss
	c.nsect, c.nfull = uint32(min(ns, secMax)), uint32(min(nf, secMax))
	c.perSec = uint32(c.ss / 4)
	c.cache.buf = make([]byte, c.ss)
	c.miniCache.buf = make([]byte, c.ss)

	if err := c.loadFATLocations(head); err != nil {
		return nil, err
	}
	if err := c.loadDirectory(c.le32(head[48:])); err != nil {
		return nil, err
	}
	if err := c.loadMini(c.le32(head[60:]), c.le32(head[64:])); err != nil {
		return nil, err
	}
	if err := c.openMSCFB(); err != nil {
		return nil, err
	}
	return c, nil
}

// loadFATLocations reads the FAT sector locations from the header and the
// DIFAT chain.
func (c *container) loadFATLocations(head []byte) error {
	numFAT := c.le32(head[44:])
	numDIF := c.le32(head[72:])
	if numFAT == 0 {
		return defect("CFB header declares no FAT sector")
	}
	// A FAT sector maps perSec sectors; the FAT of an intact file covers
	// it, and no writer makes it more than twice what the file needs.
	need := (uint64(c.nsect) + uint64(c.perSec) - 1) / uint64(c.perSec)
	if uint64(numFAT) > 2*need+1 {
		return defect("CFB header declares %d FAT sectors (mapping %d sectors) but the file has only %d sectors: truncated or corrupt",
			numFAT, uint64(numFAT)*uint64(c.perSec), c.nsect)
	}
	c.fatLocs = make([]uint32, 0, numFAT)
	for i := 0; i < 109 && uint32(len(c.fatLocs)) < numFAT; i++ {
		c.fatLocs = append(c.fatLocs, c.le32(head[76+4*i:]))
	}
	per := c.perSec - 1 // FAT locations per DIFAT sector, the last entry links on
	if numFAT <= 109 {
		if numDIF != 0 {
			return defect("CFB header declares %d DIFAT sectors for only %d FAT sectors (the header holds 109)", numDIF, numFAT)
		}
	} else {
		needDIF := (numFAT - 109 + per - 1) / per
		if numDIF < needDIF || numDIF > needDIF+1 {
			return defect("CFB header declares %d DIFAT sectors, %d FAT sectors need %d", numDIF, numFAT, needDIF)
		}
		seen := newSeen(c.nsect, int(numDIF))
		s := c.le32(head[68:])
		buf := make([]byte, c.ss)
		for i := uint32(0); i < numDIF; i++ {
			if s > secMax {
				return defect("CFB DIFAT chain ends after %d of %d sectors", i, numDIF)
			}
			if seen.hit(s) {
				return defect("CFB DIFAT chain loops at sector %d", s)
			}
			if err := c.readSector("CFB DIFAT", s, buf); err != nil {
				return err
			}
			for j := uint32(0); j < per && uint32(len(c.fatLocs)) < numFAT; j++ {
				c.fatLocs = append(c.fatLocs, c.le32(buf[4*j:]))
			}
			s = c.le32(buf[4*per:])
		}
	}
	for i, l := range c.fatLocs {
		if l >= c.nfull {
			if l > secMax {
				return defect("CFB FAT sector %d has no location (%#x)", i, l)
			}
			return defect("CFB FAT sector %d at sector %d lies past the end of the file (%d whole sectors): truncated or corrupt", i, l, c.nfull)
		}
	}
	return nil
}

// fatNext returns the FAT entry of sector s.
func (c *container) fatNext(what string, s uint32) (uint32, error) {
	idx := s / c.perSec
	if idx >= uint32(len(c.fatLocs)) {
		return 0, defect("%s: sector %d is outside the FAT (%d sectors mapped): corrupt pointer", what, s, uint64(len(c.fatLocs))*uint64(c.perSec))
	}
	loc := c.fatLocs[idx]
	if !c.cache.ok || c.cache.sec != loc {
		c.cache.ok = false
		if err := c.readSector("CFB FAT", loc, c.cache.buf); err != nil {
			return 0, err
		}
		c.cache.sec, c.cache.ok = loc, true
	}
	return c.le32(c.cache.buf[4*(s%c.perSec):]), nil
}

// miniNext returns the mini FAT entry of mini sector m.
func (c *container) miniNext(what string, m uint32) (uint32, error) {
	idx := m / c.perSec
	if idx >= uint32(len(c.miniFatLocs)) {
		return 0, defect("%s: mini sector %d is outside the mini FAT: corrupt pointer", what, m)
	}
	loc := c.miniFatLocs[idx]
	if !c.miniCache.ok || c.miniCache.sec != loc {
		c.miniCache.ok = false
		if err := c.readSector("CFB mini FAT", loc, c.miniCache.buf); err != nil {
			return 0, err
		}
		c.miniCache.sec, c.miniCache.ok = loc, true
	}
	return c.le32(c.miniCache.buf[4*(m%c.perSec):]), nil
}

// seen records visited sectors: a map for short chains, a bitset over the
// sector domain for long ones (one bit per sector of the file).
type seen struct {
	m    map[uint32]struct{}
	bits []uint64
}

func newSeen(domain uint32, expect int) *seen {
	if expect <= 4096 {
		return &seen{m: make(map[uint32]struct{}, expect)}
	}
	return &seen{bits: make([]uint64, domain/64+1)}
}

// hit marks s and reports whether it was already marked. s must be below
// the domain the set was made for when it is a bitset.
func (v *seen) hit(s uint32) bool {
	if v.m != nil {
		if _, ok := v.m[s]; ok {
			return true
		}
		v.m[s] = struct{}{}
		return false
	}
	w, b := s/64, uint64(1)<<(s%64)
	if int(w) >= len(v.bits) {
		return false
	}
	if v.bits[w]&b != 0 {
		return true
	}
	v.bits[w] |= b
	return false
}

// chain describes one walk of a sector chain.
type chain struct {
	what    string
	start   uint32
	domain  uint32 // sectors (or mini sectors) that exist
	count   int    // sectors wanted; with untilEnd, the most allowed
	toEnd   bool   // follow to ENDOFCHAIN (else exactly count sectors)
	next    func(what string, s uint32) (uint32, error)
	visit   func(i int, s uint32) error
	unitFmt string // "sector" or "mini sector"
	tooLong string // the defect when a toEnd chain is longer than count
}

// walk follows ch, refusing loops, pointers outside the domain, markers
// inside a chain, a chain shorter than wanted and (toEnd) one longer than
// allowed. It returns the number of sectors visited.
func (c *container) walk(ch chain) (int, error) {
	unit := ch.unitFmt
	if unit == "" {
		unit = "sector"
	}
	v := newSeen(ch.domain, ch.count)
	s := ch.start
	for i := 0; ; i++ {
		if ch.toEnd && s == secEnd {
			return i, nil
		}
		if !ch.toEnd && i == ch.count {
			return i, nil
		}
		if ch.toEnd && i >= ch.count {
			if ch.tooLong != "" {
				return i, defect("%s", ch.tooLong)
			}
			return i, defect("%s: sector chain is longer than %d %ss (or loops)", ch.what, ch.count, unit)
		}
		switch {
		case s == secEnd:
			return i, defect("%s: sector chain ends after %d of %d %ss: truncated or corrupt", ch.what, i, ch.count, unit)
		case s > secMax:
			return i, defect("%s: sector chain reaches a free, FAT or DIFAT marker (%#x) after %d %ss", ch.what, s, i, unit)
		case s >= ch.domain:
			return i, defect("%s: %s %d lies past the end of the file (%d %ss): truncated or corrupt", ch.what, unit, s, ch.domain, unit)
		}
		if v.hit(s) {
			return i, defect("%s: sector chain loops back to %s %d", ch.what, unit, s)
		}
		if ch.visit != nil {
			if err := ch.visit(i, s); err != nil {
				return i, err
			}
		}
		nx, err := ch.next(ch.what, s)
		if err != nil {
			return i, err
		}
		s = nx
	}
}

// loadDirectory reads and checks the directory: its chain, its entries,
// and its tree (replaying mscfb's traversal order).
func (c *container) loadDirectory(start uint32) error {
	perDir := int(c.ss / dirEntSize)
	maxSec := (c.lim.MaxEntries+perDir-1)/perDir + 1
	buf := make([]byte, c.ss)
	used := 0
	_, err := c.walk(chain{
		what: "CFB directory", start: start, domain: c.nfull, count: maxSec, toEnd: true, next: c.fatNext,
		tooLong: fmt.Sprintf("CFB directory has more than %d entries (limit) or its sector chain loops", c.lim.MaxEntries),
		visit: func(_ int, s uint32) error {
			if err := c.readSector("CFB directory", s, buf); err != nil {
				return err
			}
			for k := 0; k < perDir; k++ {
				e, err := c.parseEntry(len(c.entries), buf[k*dirEntSize:(k+1)*dirEntSize])
				if err != nil {
					return err
				}
				if e.typ != objUnknown {
					used++
				}
				c.entries = append(c.entries, e)
			}
			if used > c.lim.MaxEntries {
				return defect("CFB directory has more than %d entries (limit)", c.lim.MaxEntries)
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	if len(c.entries) == 0 {
		return defect("CFB directory is empty")
	}
	if c.entries[0].typ != objRoot {
		return defect("CFB directory entry 0 is not the root storage (type %d)", c.entries[0].typ)
	}
	return c.checkTree()
}

func (c *container) parseEntry(i int, b []byte) (dirEntry, error) {
	e := dirEntry{
		typ:   b[66],
		left:  c.le32(b[68:]),
		right: c.le32(b[72:]),
		child: c.le32(b[76:]),
		start: c.le32(b[116:]),
	}
	copy(e.clsid[:], b[80:96])
	if e.typ == objUnknown {
		return e, nil
	}
	switch e.typ {
	case objStorage, objStream:
	case objRoot:
		if i != 0 {
			return e, defect("CFB directory entry %d is a second root storage", i)
		}
	default:
		return e, defect("CFB directory entry %d has object type %d", i, e.typ)
	}
	nl := int(binary.LittleEndian.Uint16(b[64:]))
	if nl < 2 || nl > 64 || nl%2 != 0 {
		return e, defect("CFB directory entry %d has name length %d (want an even 2..64)", i, nl)
	}
	e.raw = make([]uint16, nl/2-1)
	for k := range e.raw {
		e.raw[k] = binary.LittleEndian.Uint16(b[2*k:])
	}
	if c.major == 3 {
		e.size = int64(c.le32(b[120:]))
	} else {
		sz := binary.LittleEndian.Uint64(b[120:])
		if sz > uint64(c.size) {
			return e, defect("CFB directory entry %d (%q) declares %d bytes, more than the whole file (%d bytes)", i, rawString(e.raw), sz, c.size)
		}
		e.size = int64(sz)
	}
	if e.typ != objStorage && e.size > c.size {
		return e, defect("CFB directory entry %d (%q) declares %d bytes, more than the whole file (%d bytes)", i, rawString(e.raw), e.size, c.size)
	}
	return e, nil
}

// rawString renders a raw name for messages.
func rawString(raw []uint16) string {
	n, _ := DecodeStreamName(raw)
	return n
}

// checkTree walks the red-black trees from the root the way mscfb's
// traverse does (left subtree, node, child tree, right subtree), refusing
// a link out of range, to an unallocated entry, or to an entry already
// reached (a sibling or child cycle).
func (c *container) checkTree() error {
	n := len(c.entries)
	reached := make([]bool, n)
	type frame struct {
		i, parent, stage int
	}
	stack := []frame{{0, -1, 0}}
	push := func(id uint32, parent int, from int, link string) error {
		if id == noStream {
			return nil
		}
		if int64(id) >= int64(n) {
			return defect("CFB directory entry %d: %s link %d is outside the directory (%d entries)", from, link, id, n)
		}
		stack = append(stack, frame{int(id), parent, 0})
		return nil
	}
	for len(stack) > 0 {
		top := len(stack) - 1
		f := stack[top]
		e := &c.entries[f.i]
		switch f.stage {
		case 0:
			if reached[f.i] {
				return defect("CFB directory loop: entry %d is linked twice (a sibling or child cycle)", f.i)
			}
			reached[f.i] = true
			if e.typ == objUnknown {
				return defect("CFB directory links to unallocated entry %d", f.i)
			}
			e.parent = f.parent
			stack[top].stage = 1
			if err := push(e.left, f.parent, f.i, "left sibling"); err != nil {
				return err
			}
		case 1:
			c.order = append(c.order, f.i)
			stack[top].stage = 2
			if e.child != noStream && e.typ == objStream {
				return defect("CFB directory entry %d is a stream with a child", f.i)
			}
			if err := push(e.child, f.i, f.i, "child"); err != nil {
				return err
			}
		case 2:
			stack[top].stage = 3
			if err := push(e.right, f.parent, f.i, "right sibling"); err != nil {
				return err
			}
		default:
			stack = stack[:top]
		}
	}
	return nil
}

// loadMini reads the mini FAT locations and the mini stream's chain.
func (c *container) loadMini(miniStart, numMini uint32) error {
	root := c.entries[0]
	// As mscfb decides whether there is a mini stream.
	if root.start == secEnd || miniStart == secEnd || numMini == 0 {
		return nil
	}
	if numMini > mscfbMiniFATLimit || numMini > c.nfull {
		return defect("CFB header declares %d mini FAT sectors, the file has %d sectors", numMini, c.nfull)
	}
	c.hasMini = true
	c.miniFatLocs = make([]uint32, 0, numMini)
	if _, err := c.walk(chain{what: "CFB mini FAT", start: miniStart, domain: c.nfull, count: int(numMini), next: c.fatNext,
		visit: func(_ int, s uint32) error { c.miniFatLocs = append(c.miniFatLocs, s); return nil }}); err != nil {
		return err
	}
	perMini := uint32(c.ss / miniSector)
	// The mini stream holds what the mini FAT maps and what the root says.
	maxLen := max((root.size+c.ss-1)/c.ss, int64(numMini)*int64(c.perSec)/int64(perMini))
	if _, err := c.walk(chain{what: "CFB mini stream", start: root.start, domain: c.nsect, count: int(maxLen), toEnd: true, next: c.fatNext,
		visit: func(_ int, s uint32) error { c.miniChain = append(c.miniChain, s); return nil }}); err != nil {
		return err
	}
	c.nMini = uint32(min(int64(len(c.miniChain))*int64(perMini), int64(numMini)*int64(c.perSec)))
	return nil
}

// mscfbName is the name mscfb gives an entry: a leading non-printable
// character is dropped and a name under two characters is empty.
func mscfbName(raw []uint16) string {
	if len(raw) < 1 {
		return ""
	}
	if !unicode.IsPrint(rune(raw[0])) {
		raw = raw[1:]
	}
	return string(utf16.Decode(raw))
}

// openMSCFB opens the validated file with mscfb and matches its entries
// to ours.
func (c *container) openMSCFB() error {
	doc, err := mscfb.New(newBlockCache(c.r))
	if err != nil {
		return defect("CFB container: %v", err)
	}
	if len(doc.File) != len(c.order) {
		return defect("CFB directory: mscfb reached %d entries, the check reached %d", len(doc.File), len(c.order))
	}
	c.files = make([]*mscfb.File, len(c.entries))
	for k, f := range doc.File {
		i := c.order[k]
		e := c.entries[i]
		if f.Name != mscfbName(e.raw) || (e.typ == objStream && f.Size != e.size) {
			return defect("CFB directory entry %d: mscfb read %q (%d bytes), the check %q (%d bytes)", i, f.Name, f.Size, mscfbName(e.raw), e.size)
		}
		c.files[i] = f
	}
	c.doc = doc
	return nil
}

// checkStream validates the whole sector chain of stream entry i against
// its declared size.
func (c *container) checkStream(i int) error {
	e := c.entries[i]
	what := "stream " + quoteName(e.raw)
	if e.typ != objStream {
		return defect("%s is not a stream", what)
	}
	if e.size == 0 {
		return nil
	}
	if e.size < miniCutoff {
		if !c.hasMini {
			return defect("%s (%d bytes) belongs in the mini stream, and the file has none", what, e.size)
		}
		n := (e.size + miniSector - 1) / miniSector
		perMini := uint32(c.ss / miniSector)
		_, err := c.walk(chain{what: what, start: e.start, domain: c.nMini, count: int(n), next: c.miniNext, unitFmt: "mini sector",
			visit: func(k int, m uint32) error {
				sec := c.miniChain[m/perMini]
				end := (int64(sec)+1)*c.ss + int64(m%perMini)*miniSector + min(miniSector, e.size-int64(k)*miniSector)
				if end > c.size {
					return defect("%s: mini sector %d lies past the end of the file: truncated", what, m)
				}
				return nil
			}})
		return err
	}
	n := (e.size + c.ss - 1) / c.ss
	_, err := c.walk(chain{what: what, start: e.start, domain: c.nsect, count: int(n), next: c.fatNext,
		visit: func(k int, s uint32) error {
			end := (int64(s)+1)*c.ss + min(c.ss, e.size-int64(k)*c.ss)
			if end > c.size {
				return defect("%s: sector %d lies past the end of the file: truncated", what, s)
			}
			return nil
		}})
	return err
}

func quoteName(raw []uint16) string {
	n, table := DecodeStreamName(raw)
	if table {
		return "for table " + quote(n)
	}
	return quote(n)
}

func quote(s string) string { return strconv.Quote(s) }

// readStream reads stream entry i whole, refusing one over max bytes.
func (c *container) readStream(i int, max int64) ([]byte, error) {
	e := c.entries[i]
	if e.size > max {
		return nil, defect("stream %s is %d bytes, over the %d-byte limit for metadata", quoteName(e.raw), e.size, max)
	}
	if c.read+e.size > c.lim.MaxUncompressed {
		return nil, defect("reading stream %s would take the bytes read over %d (limit)", quoteName(e.raw), c.lim.MaxUncompressed)
	}
	rd, err := c.openStream(i)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, e.size)
	if _, err := io.ReadFull(rd, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// openStream returns a reader of stream entry i after checking its chain.
func (c *container) openStream(i int) (io.Reader, error) {
	if err := c.checkStream(i); err != nil {
		return nil, err
	}
	f := c.files[i]
	if f.Size > 0 {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, defect("stream %s: %v", quoteName(c.entries[i].raw), err)
		}
	}
	return &streamReader{c: c, f: f, name: quoteName(c.entries[i].raw), left: f.Size}, nil
}

// streamReader reads an mscfb stream in bounded chunks, turning mscfb's
// errors into defects.
type streamReader struct {
	c    *container
	f    *mscfb.File
	name string
	left int64
}

func (s *streamReader) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.f.Read(p)
	s.left -= int64(n)
	s.c.read += int64(n)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(p)) {
		return n, defect("stream %s: %v", s.name, err)
	}
	if n == 0 {
		return 0, defect("stream %s: no progress reading", s.name)
	}
	return n, nil
}

// blockCache serves small reads (mscfb's 4-byte FAT lookups, 64-byte mini
// sectors) from one cached 4 KiB block, so following a chain costs one
// read of the file per block instead of one per sector. Larger reads go
// straight through. Not safe for concurrent use (neither is mscfb).
type blockCache struct {
	r   io.ReaderAt
	off int64 // start of the cached block; -1: none
	n   int
	buf [4096]byte
}

func newBlockCache(r io.ReaderAt) *blockCache { return &blockCache{r: r, off: -1} }

func (b *blockCache) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > 512 || off < 0 {
		return b.r.ReadAt(p, off)
	}
	end := off + int64(len(p))
	if b.off < 0 || off < b.off || end > b.off+int64(b.n) {
		start := off &^ (int64(len(b.buf)) - 1)
		n, err := b.r.ReadAt(b.buf[:], start)
		if err != nil && !errors.Is(err, io.EOF) {
			b.off = -1
			return b.r.ReadAt(p, off)
		}
		b.off, b.n = start, n
		if end > b.off+int64(b.n) {
			return b.r.ReadAt(p, off) // spans the block or runs past the end
		}
	}
	return copy(p, b.buf[off-b.off:]), nil
}
