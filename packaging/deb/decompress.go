package deb

import (
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/eucora/eucora/packaging/facts"
)

// Decoder memory caps for untrusted input. dpkg-deb writes xz with an
// 8 MiB dictionary (-6) and zstd with a window of at most 8 MiB (-19);
// xz -9 uses 64 MiB. A stream declaring more is refused before anything
// is allocated for it.
const (
	MaxXZDictionary = 64 << 20
	MaxZstdWindow   = 32 << 20
	MaxZstdMemory   = 64 << 20
)

// compressions are the member name suffixes dpkg reads, per member.
var (
	controlCompressions = []string{"", ".gz", ".xz", ".zst"}
	dataCompressions    = []string{"", ".gz", ".xz", ".zst", ".bz2", ".lzma"}
)

// splitMember returns the compression suffix of name when it is base
// ("control.tar" or "data.tar") with one of allowed; ok is false for any
// other name. known is false when name is base with a suffix dpkg does not
// read.
func splitMember(name, base string, allowed []string) (suffix string, ok, known bool) {
	if name != base && !strings.HasPrefix(name, base+".") {
		return "", false, false
	}
	suffix = name[len(base):]
	for _, a := range allowed {
		if a == suffix {
			return suffix, true, true
		}
	}
	return suffix, true, false
}

// budget is the decompression allowance of one Inspect call.
type budget struct {
	left  int64 // bytes still allowed in total (MaxUncompressed)
	max   int64
	ratio int64
}

// meter counts what one member decompresses against the budget and the
// ratio limit.
type meter struct {
	r          io.Reader
	b          *budget
	name       string
	compressed int64 // the member's compressed size; 0: stored, no ratio check
	n          int64
	tail       []byte // the last tarEnd bytes read
}

// tarEnd is the size of the end-of-archive marker: two zero blocks.
const tarEnd = 1024

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	m.tail = append(m.tail, p[max(0, n-tarEnd):n]...)
	if len(m.tail) > tarEnd {
		m.tail = m.tail[:copy(m.tail, m.tail[len(m.tail)-tarEnd:])]
	}
	m.b.left -= int64(n)
	if m.b.left < 0 {
		return n, facts.Defectf(facts.KindDeb, "%s: decompresses past MaxUncompressed (%d bytes in total): a compression bomb?", m.name, m.b.max)
	}
	if m.compressed > 0 && m.n > 1<<20 && m.n/m.compressed > m.b.ratio {
		return n, facts.Defectf(facts.KindDeb, "%s: expands more than %d times (%d bytes from %d so far, limit MaxRatio): a compression bomb?", m.name, m.b.ratio, m.n, m.compressed)
	}
	if err != nil && err != io.EOF {
		return n, decodeError(m.name, err)
	}
	return n, err
}

// Seek skips forward (whence io.SeekCurrent, off >= 0) when the member is
// stored and so its reader can skip (a *skipReader): archive/tar then
// steps over file contents instead of reading them. Skipped bytes count
// against the budget like read ones. Positions are the meter's count of
// bytes, and any other seek fails, which archive/tar takes as "cannot
// seek" and reads instead.
func (m *meter) Seek(off int64, whence int) (int64, error) {
	sk, ok := m.r.(*skipReader)
	if !ok || whence != io.SeekCurrent || off < 0 {
		return -1, errNoSeek
	}
	if off == 0 {
		return m.n, nil
	}
	if err := sk.skip(off); err != nil {
		return -1, err
	}
	m.n += off
	m.tail = m.tail[:0] // the bytes before the end marker are read, not skipped
	m.b.left -= off
	if m.b.left < 0 {
		return -1, facts.Defectf(facts.KindDeb, "%s: decompresses past MaxUncompressed (%d bytes in total): a compression bomb?", m.name, m.b.max)
	}
	return m.n, nil
}

var errNoSeek = errors.New("deb: member reader cannot seek")

// skipReader is a buffered reader over a stored member that can skip
// forward without reading: the bytes a tar header says are file contents
// the inspection does not look at.
type skipReader struct {
	r    *io.SectionReader
	buf  []byte
	b, e int // buf[b:e] is read ahead, not yet returned
}

func newSkipReader(r *io.SectionReader, size int) *skipReader {
	return &skipReader{r: r, buf: make([]byte, size)}
}

func (s *skipReader) Read(p []byte) (int, error) {
	if s.b == s.e {
		if len(p) >= len(s.buf) {
			return s.r.Read(p)
		}
		n, err := s.r.Read(s.buf)
		s.b, s.e = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.b:s.e])
	s.b += n
	return n, nil
}

// skip steps over n bytes; past the member's end, the next Read returns
// io.EOF (archive/tar reads a skipped entry's last byte to see that).
func (s *skipReader) skip(n int64) error {
	held := int64(s.e - s.b)
	if n <= held {
		s.b += int(n)
		return nil
	}
	n -= held
	s.b, s.e = 0, 0
	_, err := s.r.Seek(n, io.SeekCurrent)
	return err
}

// atTarEnd reports whether what was read so far ends with a tar's
// end-of-archive marker on a block boundary. archive/tar takes a stream
// that stops at a header boundary, or inside a member's padding, for a
// complete archive; dpkg-deb always writes the marker.
func (m *meter) atTarEnd() bool {
	if m.n%512 != 0 || len(m.tail) < tarEnd {
		return false
	}
	for _, c := range m.tail {
		if c != 0 {
			return false
		}
	}
	return true
}

// decodeError turns a decompressor's or tar's error into a defect naming
// the member; a defect passes through.
func decodeError(name string, err error) error {
	var d *facts.DefectError
	if errors.As(err, &d) {
		return d
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return facts.Defectf(facts.KindDeb, "%s: truncated (unexpected end of the compressed or tar stream)", name)
	}
	return facts.Defectf(facts.KindDeb, "%s: %v", name, err)
}

// decompressor opens the decompression of raw (the member's compressed
// bytes) for suffix. close releases the decoder.
func decompressor(name, suffix string, raw io.Reader) (r io.Reader, close func(), err error) {
	nop := func() {}
	switch suffix {
	case "":
		return raw, nop, nil
	case ".gz":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, nil, decodeError(name, err)
		}
		return zr, nop, nil
	case ".xz":
		zr, err := xz.ReaderConfig{DictCap: lzma.MinDictCap}.NewReader(&xzGuard{r: raw, name: name, maxDict: MaxXZDictionary})
		if err != nil {
			return nil, nil, decodeError(name, err)
		}
		return zr, nop, nil
	case ".lzma":
		zr, err := lzma.ReaderConfig{DictCap: MaxXZDictionary}.NewReader(raw)
		if err != nil {
			return nil, nil, decodeError(name, err)
		}
		return zr, nop, nil
	case ".zst":
		zr, err := zstd.NewReader(raw,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxZstdWindow),
			zstd.WithDecoderMaxMemory(MaxZstdMemory),
		)
		if err != nil {
			return nil, nil, decodeError(name, err)
		}
		return zr, zr.Close, nil
	case ".bz2":
		return bzip2.NewReader(raw), nop, nil
	}
	return nil, nil, facts.Defectf(facts.KindDeb, "%s: compression %q not supported", name, suffix)
}

// xzGuard sits between the compressed bytes and the xz decoder and walks
// the xz container (stream header, block headers, LZMA2 chunk framing,
// index, footer, stream padding) as the bytes go by, without decoding. It
// refuses a block whose filter chain is not LZMA2 alone or whose LZMA2
// dictionary is over maxDict before the decoder sees that block header,
// so the decoder never allocates a dictionary a hostile header asks for.
// Everything else (checksums, the index against the blocks) the decoder
// checks itself.
type xzGuard struct {
	r       io.Reader
	name    string
	maxDict int64

	state   int
	need    int    // bytes still to collect into buf, or to skip
	buf     []byte // the structure being collected
	check   int    // size of the block check
	blockN  int64  // bytes of the current block so far (header and data)
	indexN  int64  // bytes of the current index so far
	records uint64 // index records still to read (two varints each)
	padN    int64  // stream padding bytes seen
}

const (
	xzStreamHeader = iota
	xzBlockOrIndex
	xzBlockHeader
	xzChunkControl
	xzChunkHeader
	xzSkipChunk
	xzBlockPadding
	xzSkipCheck
	xzIndexCount
	xzIndexRecord
	xzIndexPadding
	xzSkipIndexCRC
	xzFooter
	xzStreamPadding
)

// xzCheckSizes are the check sizes by check ID (xz file format 1.0.4, 2.1.1.2).
var xzCheckSizes = [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

func (g *xzGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for i := 0; i < n; {
		k, gerr := g.feed(p[i:n])
		if gerr != nil {
			return 0, gerr
		}
		i += k
	}
	return n, err
}

func (g *xzGuard) bad(format string, args ...any) error {
	return facts.Defectf(facts.KindDeb, "%s: xz: %s", g.name, fmt.Sprintf(format, args...))
}

// collect appends up to g.need bytes of p to g.buf; done reports whether
// g.need bytes have been collected.
func (g *xzGuard) collect(p []byte) (k int, done bool) {
	k = min(g.need, len(p))
	g.buf = append(g.buf, p[:k]...)
	g.need -= k
	return k, g.need == 0
}

// afterPadding expects the block check, if the stream has one, then the
// next block or the index.
func (g *xzGuard) afterPadding() {
	if g.check > 0 {
		g.expect(xzSkipCheck, g.check)
	} else {
		g.expect(xzBlockOrIndex, 0)
	}
}

func (g *xzGuard) expect(state, n int) {
	g.state, g.need, g.buf = state, n, g.buf[:0]
}

// feed advances the walk over p and returns how many bytes it consumed
// (at least one).
func (g *xzGuard) feed(p []byte) (int, error) {
	switch g.state {
	case xzStreamHeader:
		if g.need == 0 && len(g.buf) == 0 {
			g.need = 12
		}
		k, done := g.collect(p)
		if done {
			if string(g.buf[:6]) != "\xfd7zXZ\x00" || g.buf[6] != 0 || g.buf[7]&0xf0 != 0 {
				return 0, g.bad("bad stream header")
			}
			g.check = xzCheckSizes[g.buf[7]&0x0f]
			g.expect(xzBlockOrIndex, 0)
		}
		return k, nil
	case xzBlockOrIndex:
		if p[0] == 0 {
			g.indexN = 1
			g.expect(xzIndexCount, 0)
			return 1, nil
		}
		size := (int(p[0]) + 1) * 4
		g.expect(xzBlockHeader, size-1)
		g.buf = append(g.buf, p[0])
		g.blockN = 1
		return 1, nil
	case xzBlockHeader:
		k, done := g.collect(p)
		g.blockN += int64(k)
		if done {
			if err := g.blockHeader(g.buf); err != nil {
				return 0, err
			}
			g.expect(xzChunkControl, 0)
		}
		return k, nil
	case xzChunkControl:
		c := p[0]
		g.blockN++
		switch {
		case c == 0:
			if pad := int((4 - g.blockN%4) % 4); pad > 0 {
				g.expect(xzBlockPadding, pad)
			} else {
				g.afterPadding()
			}
		case c == 1 || c == 2:
			g.expect(xzChunkHeader, 2)
			g.buf = append(g.buf, c)
		case c >= 0x80:
			n := 4
			if (c>>5)&3 >= 2 {
				n = 5
			}
			g.expect(xzChunkHeader, n)
			g.buf = append(g.buf, c)
		default:
			return 0, g.bad("invalid LZMA2 chunk control byte 0x%02x", c)
		}
		return 1, nil
	case xzChunkHeader:
		k, done := g.collect(p)
		g.blockN += int64(k)
		if done {
			b := g.buf
			skip := 0
			if b[0] < 0x80 {
				skip = (int(b[1])<<8 | int(b[2])) + 1
			} else {
				skip = (int(b[3])<<8 | int(b[4])) + 1
			}
			g.expect(xzSkipChunk, skip)
		}
		return k, nil
	case xzSkipChunk, xzBlockPadding, xzSkipCheck, xzSkipIndexCRC:
		k := min(g.need, len(p))
		if g.state == xzBlockPadding {
			for _, c := range p[:k] {
				if c != 0 {
					return 0, g.bad("non-zero padding")
				}
			}
		}
		g.need -= k
		switch g.state {
		case xzSkipChunk, xzBlockPadding:
			g.blockN += int64(k)
		}
		if g.need == 0 {
			switch g.state {
			case xzSkipChunk:
				g.expect(xzChunkControl, 0)
			case xzBlockPadding:
				g.afterPadding()
			case xzSkipCheck:
				g.expect(xzBlockOrIndex, 0)
			case xzSkipIndexCRC:
				g.expect(xzFooter, 12)
			}
		}
		return k, nil
	case xzIndexCount, xzIndexRecord:
		g.buf = append(g.buf, p[0])
		g.indexN++
		if p[0]&0x80 != 0 {
			if len(g.buf) >= 9 {
				return 0, g.bad("index varint too long")
			}
			return 1, nil
		}
		v := uvarint(g.buf)
		g.buf = g.buf[:0]
		if g.state == xzIndexCount {
			g.records = v
			if g.records > 1<<40 {
				return 0, g.bad("index claims %d records", v)
			}
			g.records *= 2
		} else {
			g.records--
		}
		g.state = xzIndexRecord
		if g.records == 0 {
			g.expect(xzIndexPadding, int((4-g.indexN%4)%4))
			if g.need == 0 {
				g.expect(xzSkipIndexCRC, 4)
			}
		}
		return 1, nil
	case xzIndexPadding:
		if p[0] != 0 {
			return 0, g.bad("non-zero index padding")
		}
		g.need--
		if g.need == 0 {
			g.expect(xzSkipIndexCRC, 4)
		}
		return 1, nil
	case xzFooter:
		k, done := g.collect(p)
		if done {
			if string(g.buf[10:12]) != "YZ" {
				return 0, g.bad("bad stream footer")
			}
			g.padN = 0
			g.expect(xzStreamPadding, 0)
		}
		return k, nil
	case xzStreamPadding:
		if p[0] == 0 {
			g.padN++
			return 1, nil
		}
		if g.padN%4 != 0 {
			return 0, g.bad("stream padding of %d bytes, not a multiple of 4", g.padN)
		}
		g.expect(xzStreamHeader, 12)
		return g.feed(p)
	}
	return 0, g.bad("internal state %d", g.state)
}

// blockHeader checks a complete block header (xz format 3.1): LZMA2 must
// be the only filter and its dictionary at most maxDict.
func (g *xzGuard) blockHeader(h []byte) error {
	if len(h) < 8 {
		return g.bad("block header too short")
	}
	flags := h[1]
	if flags&0x3c != 0 {
		return g.bad("reserved block flags set")
	}
	body := h[2 : len(h)-4]
	var ok bool
	if flags&0x40 != 0 { // compressed size
		if body, ok = skipVarint(body); !ok {
			return g.bad("bad block header")
		}
	}
	if flags&0x80 != 0 { // uncompressed size
		if body, ok = skipVarint(body); !ok {
			return g.bad("bad block header")
		}
	}
	if flags&3 != 0 {
		return g.bad("filter chain of %d filters (only LZMA2 alone is read)", flags&3+1)
	}
	id, body, ok := readVarint(body)
	if !ok {
		return g.bad("bad block header")
	}
	if id != 0x21 {
		return g.bad("filter 0x%x not supported (only LZMA2 is read)", id)
	}
	psize, body, ok := readVarint(body)
	if !ok || psize != 1 || len(body) < 1 {
		return g.bad("bad LZMA2 filter properties")
	}
	d := body[0]
	if d > 40 {
		return g.bad("LZMA2 dictionary size code %d out of range", d)
	}
	var dict int64 = 1<<32 - 1
	if d < 40 {
		dict = int64(2|d&1) << (d/2 + 11)
	}
	if dict > g.maxDict {
		return g.bad("block asks for a %d MiB LZMA2 dictionary, limit %d MiB", dict>>20, g.maxDict>>20)
	}
	return nil
}

func uvarint(b []byte) uint64 {
	var v uint64
	for i, c := range b {
		v |= uint64(c&0x7f) << (7 * i)
	}
	return v
}

func readVarint(b []byte) (uint64, []byte, bool) {
	for i := 0; i < len(b) && i < 9; i++ {
		if b[i]&0x80 == 0 {
			return uvarint(b[:i+1]), b[i+1:], true
		}
	}
	return 0, nil, false
}

func skipVarint(b []byte) ([]byte, bool) {
	_, rest, ok := readVarint(b)
	return rest, ok
}
