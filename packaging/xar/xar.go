package xar

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"crypto"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
)

// Errors.
var (
	// ErrEncoding: a file's data is stored in an encoding this package
	// does not decode (application/x-lzma, application/x-xz, ...). The
	// archive is not defective; the caller names what it did not read.
	ErrEncoding = errors.New("xar: data encoding not decoded")
)

// HeaderSize is the size of the fixed xar header (magic to cksum_alg).
const HeaderSize = 28

// Header checksum algorithms (cksum_alg).
const (
	CksumNone        = 0
	CksumSHA1        = 1
	CksumMD5         = 2
	CksumOther       = 3 // named in the header when the header is longer than 28 bytes; Apple's sha256 when it is not
	CksumSHA512Apple = 4
)

// MaxFileDepth is how deeply <file> elements may nest in a TOC. A real
// path never has this many components (macOS PATH_MAX is 1024 bytes).
const MaxFileDepth = 512

// Header is a xar file's fixed header, big-endian on disk.
type Header struct {
	Size            uint16 // header size, magic included
	Version         uint16
	TOCCompressed   uint64
	TOCUncompressed uint64
	ChecksumAlg     uint32
	ChecksumName    string // the algorithm's name: "none", "sha1", "md5", "sha256", "sha512", or the header's own name for CksumOther
}

// Checksum is a digest as the TOC names it.
type Checksum struct {
	Style string // "sha1", "md5", "sha256", "sha512", "none"
	Value []byte
}

// Data is where a file's bytes are in the heap and how they are stored.
type Data struct {
	Offset, Length int64  // in the heap, as stored
	Size           int64  // extracted size
	Encoding       string // "application/octet-stream", "application/x-gzip", "application/x-bzip2", ...
	Archived       Checksum
	Extracted      Checksum
}

// File is one <file> element of the TOC.
type File struct {
	ID      string
	Name    string
	Path    string // slash-separated, from the archive root, no leading slash
	Type    string // "file", "directory", "symlink", "hardlink", ...
	Mode    uint32 // permission bits as written in <mode> (octal), 0 when absent
	HasMode bool
	Link    string
	Data    *Data // nil when the entry has no data
	parent  *File
}

// Signature is a <signature> or <x-signature> element: where its bytes are
// in the heap and the certificates it carries (DER, leaf first).
type Signature struct {
	Style        string // "RSA", "CMS"
	Offset, Size int64
	Certificates [][]byte
}

// Archive is an opened xar file: its header and TOC, with the TOC checksum
// verified. File data is read on demand through Open and ReadFile.
type Archive struct {
	Header       Header
	Checksum     Checksum // the TOC checksum as stored in the heap (verified)
	ChecksumAt   int64    // its heap offset
	Signatures   []Signature
	XSignatures  []Signature
	CreationTime string
	Files        []*File

	r          io.ReaderAt
	size       int64
	heapStart  int64
	tocSumSize int64
	lim        facts.Limits
	byPath     map[string]*File
	used       int64 // bytes decompressed so far, against lim.MaxUncompressed
}

func defect(format string, args ...any) error { return facts.Defectf(facts.KindPkg, format, args...) }

// Open reads the header and the TOC of the xar file r of size bytes
// within lim, and verifies the TOC checksum. A file that is not xar, is
// truncated, lies about its lengths, has a TOC over lim.MaxMetadata or
// with more than lim.MaxEntries files, nests files deeper than
// MaxFileDepth, points outside its heap, or whose checksum does not match
// returns a *facts.DefectError.
func Open(r io.ReaderAt, size int64, lim facts.Limits) (*Archive, error) {
	lim = lim.WithDefaults()
	a := &Archive{r: r, size: size, lim: lim, byPath: map[string]*File{}}
	if err := a.readHeader(); err != nil {
		return nil, err
	}
	if err := a.readTOC(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Archive) readHeader() error {
	if a.size < HeaderSize {
		return defect("truncated header: the file has %d bytes, a xar header %d", a.size, HeaderSize)
	}
	var b [HeaderSize]byte
	if _, err := a.r.ReadAt(b[:], 0); err != nil {
		return defect("reading the header: %v", err)
	}
	if string(b[:4]) != "xar!" {
		return defect("no xar magic: the file starts with %q, not \"xar!\"", b[:4])
	}
	h := Header{
		Size:            binary.BigEndian.Uint16(b[4:]),
		Version:         binary.BigEndian.Uint16(b[6:]),
		TOCCompressed:   binary.BigEndian.Uint64(b[8:]),
		TOCUncompressed: binary.BigEndian.Uint64(b[16:]),
		ChecksumAlg:     binary.BigEndian.Uint32(b[24:]),
	}
	if h.Size < HeaderSize {
		return defect("header size %d is under the %d bytes of its own fields", h.Size, HeaderSize)
	}
	if int64(h.Size) > a.size {
		return defect("truncated header: it declares %d bytes, the file has %d", h.Size, a.size)
	}
	if h.Version != 1 {
		return defect("header version %d; version 1 is the only one defined", h.Version)
	}
	switch h.ChecksumAlg {
	case CksumNone:
		h.ChecksumName = "none"
	case CksumSHA1:
		h.ChecksumName = "sha1"
	case CksumMD5:
		h.ChecksumName = "md5"
	case CksumOther:
		if h.Size == HeaderSize {
			h.ChecksumName = "sha256" // Apple's xar: 3 is SHA-256, no name follows
			break
		}
		ext := make([]byte, int(h.Size)-HeaderSize)
		if _, err := a.r.ReadAt(ext, HeaderSize); err != nil {
			return defect("reading the header's checksum name: %v", err)
		}
		name, _, ok := bytes.Cut(ext, []byte{0})
		if !ok || len(name) == 0 || string(name) == "none" {
			return defect("header checksum algorithm 3 without a NUL-terminated name")
		}
		h.ChecksumName = strings.ToLower(string(name))
	case CksumSHA512Apple:
		h.ChecksumName = "sha512"
	default:
		return defect("unknown header checksum algorithm %d", h.ChecksumAlg)
	}
	if h.ChecksumName != "none" && hashOf(h.ChecksumName) == 0 {
		return defect("header checksum algorithm %q is not one this reader knows", h.ChecksumName)
	}
	if h.TOCCompressed == 0 {
		return defect("the header declares an empty TOC")
	}
	if h.TOCCompressed > uint64(a.size-int64(h.Size)) {
		return defect("truncated TOC: the header declares %d compressed bytes, %d follow the header", h.TOCCompressed, a.size-int64(h.Size))
	}
	if h.TOCUncompressed > uint64(a.lim.MaxMetadata) {
		return defect("the TOC declares %d bytes uncompressed, limit %d", h.TOCUncompressed, a.lim.MaxMetadata)
	}
	if h.TOCUncompressed > 1<<20 && h.TOCUncompressed/h.TOCCompressed > uint64(a.lim.MaxRatio) {
		return defect("the TOC declares it expands %d times, limit %d (zlib bomb?)", h.TOCUncompressed/h.TOCCompressed, a.lim.MaxRatio)
	}
	a.Header = h
	a.heapStart = int64(h.Size) + int64(h.TOCCompressed)
	return nil
}

// HeapSize is the number of bytes after the TOC.
func (a *Archive) HeapSize() int64 { return a.size - a.heapStart }

// heapRange checks that [off, off+n) lies inside the heap.
func (a *Archive) heapRange(off, n int64) bool {
	return off >= 0 && n >= 0 && off <= a.HeapSize() && n <= a.HeapSize()-off
}

// readHeap reads n bytes at heap offset off (the range already checked).
func (a *Archive) readHeap(off, n int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := a.r.ReadAt(b, a.heapStart+off); err != nil {
		return nil, defect("reading %d heap bytes at %d: %v", n, off, err)
	}
	return b, nil
}

func (a *Archive) readTOC() error {
	h := a.Header
	sr := io.NewSectionReader(a.r, int64(h.Size), int64(h.TOCCompressed))
	var sum hash.Hash
	if hf := hashOf(h.ChecksumName); hf != 0 {
		sum = hf.New()
	} else {
		sum = nopHash{}
	}
	compressed := io.TeeReader(sr, sum)
	zr, err := zlib.NewReader(compressed)
	if err != nil {
		return defect("TOC is not zlib data: %v", err)
	}
	body := &exactReader{r: zr, max: int64(h.TOCUncompressed)}
	p := &tocParser{a: a, d: newXMLDecoder(body)}
	if err := p.parse(); err != nil {
		if body.over {
			return defect("the TOC decompresses past the %d bytes its header declares", h.TOCUncompressed)
		}
		var de *facts.DefectError
		if errors.As(err, &de) {
			return err
		}
		if body.err != nil {
			return defect("TOC zlib stream: %v", body.err)
		}
		return defect("TOC XML: %v", err)
	}
	// The rest of the zlib stream (and its Adler-32) after </xar>.
	if _, err := io.Copy(io.Discard, body); err != nil {
		if body.over {
			return defect("the TOC decompresses past the %d bytes its header declares", h.TOCUncompressed)
		}
		return defect("TOC zlib stream: %v", err)
	}
	if body.n != int64(h.TOCUncompressed) {
		return defect("the TOC decompresses to %d bytes, its header declares %d", body.n, h.TOCUncompressed)
	}
	if _, err := io.Copy(io.Discard, compressed); err != nil {
		return defect("reading the TOC: %v", err)
	}
	return a.checkTOC(sum.Sum(nil))
}

// checkTOC validates what the TOC says against the file and verifies the
// TOC checksum.
func (a *Archive) checkTOC(got []byte) error {
	h := a.Header
	if h.ChecksumName == "none" {
		if a.Checksum.Style != "" && a.Checksum.Style != "none" {
			return defect("the TOC names a %s checksum but the header says none", a.Checksum.Style)
		}
	} else {
		if a.Checksum.Style == "" {
			return defect("the header names a %s TOC checksum but the TOC has no <checksum>", h.ChecksumName)
		}
		if !strings.EqualFold(a.Checksum.Style, h.ChecksumName) {
			return defect("the TOC checksum style %q differs from the header's %q", a.Checksum.Style, h.ChecksumName)
		}
		if int64(len(got)) != a.tocSumSize {
			return defect("the TOC checksum is %d bytes, a %s digest %d", a.tocSumSize, h.ChecksumName, len(got))
		}
		if !a.heapRange(a.ChecksumAt, a.tocSumSize) {
			return defect("the TOC checksum at heap offset %d (%d bytes) lies past the heap's %d bytes", a.ChecksumAt, a.tocSumSize, a.HeapSize())
		}
		stored, err := a.readHeap(a.ChecksumAt, a.tocSumSize)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(stored, got) != 1 {
			return defect("TOC checksum mismatch: the %s of the compressed TOC is %x, the heap holds %x (altered after it was written)", h.ChecksumName, got, stored)
		}
		a.Checksum.Value = stored
	}
	for _, s := range append(append([]Signature{}, a.Signatures...), a.XSignatures...) {
		if s.Size <= 0 || s.Size > 1<<20 || !a.heapRange(s.Offset, s.Size) {
			return defect("%s signature at heap offset %d (%d bytes) lies outside the heap's %d bytes", s.Style, s.Offset, s.Size, a.HeapSize())
		}
	}
	for _, f := range a.Files {
		switch {
		case f.Name == "":
			return defect("TOC file id %q has no name", f.ID)
		case f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, "/\x00"):
			return defect("TOC file name %q escapes the archive", f.Name)
		}
		if f.parent != nil {
			f.Path = f.parent.Path + "/" + f.Name
		} else {
			f.Path = f.Name
		}
		if _, dup := a.byPath[f.Path]; !dup {
			a.byPath[f.Path] = f
		}
		if d := f.Data; d != nil {
			if !a.heapRange(d.Offset, d.Length) {
				return defect("file %q: data at heap offset %d (%d bytes) lies past the heap's %d bytes", f.Path, d.Offset, d.Length, a.HeapSize())
			}
			if d.Size > 1<<20 && d.Size/max(d.Length, 1) > a.lim.MaxRatio {
				return defect("file %q declares it expands %d times, limit %d (bomb?)", f.Path, d.Size/max(d.Length, 1), a.lim.MaxRatio)
			}
			for _, c := range []Checksum{d.Archived, d.Extracted} {
				if c.Style != "" && c.Style != "none" {
					hf := hashOf(c.Style)
					if hf == 0 {
						return defect("file %q: unknown checksum style %q", f.Path, c.Style)
					}
					if len(c.Value) != hf.Size() {
						return defect("file %q: a %s checksum of %d bytes", f.Path, c.Style, len(c.Value))
					}
				}
			}
		}
	}
	return nil
}

// Lookup returns the file at path (slash-separated from the root), or nil.
func (a *Archive) Lookup(path string) *File { return a.byPath[path] }

// Children returns the files directly inside dir ("" for the root).
func (a *Archive) Children(dir *File) []*File {
	var out []*File
	for _, f := range a.Files {
		if f.parent == dir {
			out = append(out, f)
		}
	}
	return out
}

// Parent returns the directory holding f, nil at the root.
func (f *File) Parent() *File { return f.parent }

// Open returns f's extracted bytes as a stream. The stream is bounded: it
// fails with a *facts.DefectError when the data decodes past its declared
// size, expands more than lim.MaxRatio, takes the archive past
// lim.MaxUncompressed in total, or, at its end, when the archived or
// extracted checksum does not match or the data ends short. An encoding
// this package does not decode returns ErrEncoding.
func (a *Archive) Open(f *File) (io.Reader, error) {
	d := f.Data
	if d == nil {
		return bytes.NewReader(nil), nil
	}
	raw := &countReader{r: io.NewSectionReader(a.r, a.heapStart+d.Offset, d.Length)}
	var archived hash.Hash = nopHash{}
	if hf := hashOf(d.Archived.Style); hf != 0 {
		archived = hf.New()
	}
	tee := io.TeeReader(raw, archived)
	var dec io.Reader
	switch enc := strings.ToLower(d.Encoding); enc {
	case "", "application/octet-stream":
		dec = tee
	case "application/x-gzip":
		br := bufio.NewReader(tee)
		magic, _ := br.Peek(2)
		var err error
		if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			dec, err = gzip.NewReader(br)
		} else {
			dec, err = zlib.NewReader(br) // xar's "gzip" is a zlib stream
		}
		if err != nil {
			return nil, defect("file %q: %s data: %v", f.Path, enc, err)
		}
	case "application/x-bzip2":
		dec = bzip2.NewReader(tee)
	default:
		return nil, fmt.Errorf("%w: file %q is stored as %s", ErrEncoding, f.Path, d.Encoding)
	}
	var extracted hash.Hash = nopHash{}
	if hf := hashOf(d.Extracted.Style); hf != 0 {
		extracted = hf.New()
	}
	return &fileReader{a: a, f: f, dec: dec, raw: raw, tee: tee, archived: archived, extracted: extracted}, nil
}

// ReadFile reads f whole, at most max bytes of it (a larger file is a
// defect naming max).
func (a *Archive) ReadFile(f *File, max int64) ([]byte, error) {
	if f.Data != nil && f.Data.Size > max {
		return nil, defect("file %q is %d bytes, limit %d", f.Path, f.Data.Size, max)
	}
	rd, err := a.Open(f)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, rd); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fileReader decodes one file's data within the archive's limits and
// checks its checksums at the end.
type fileReader struct {
	a                   *Archive
	f                   *File
	dec                 io.Reader
	raw                 *countReader
	tee                 io.Reader
	archived, extracted hash.Hash
	n                   int64
	err                 error
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	d := r.f.Data
	n, err := r.dec.Read(p)
	r.n += int64(n)
	r.a.used += int64(n)
	r.extracted.Write(p[:n])
	switch {
	case r.n > d.Size:
		r.err = defect("file %q decodes past its declared %d bytes", r.f.Path, d.Size)
	case r.a.used > r.a.lim.MaxUncompressed:
		r.err = defect("the archive decompresses past %d bytes in total (bomb?)", r.a.lim.MaxUncompressed)
	case r.n > 1<<20 && r.n/max(r.raw.n, 1) > r.a.lim.MaxRatio:
		r.err = defect("file %q expands more than %d times (bomb?)", r.f.Path, r.a.lim.MaxRatio)
	}
	if r.err != nil {
		return 0, r.err
	}
	if err == io.EOF {
		r.err = r.finish()
		if r.err == nil {
			r.err = io.EOF
		}
		return n, r.err
	}
	if err != nil {
		if err == io.ErrUnexpectedEOF || r.raw.n >= d.Length {
			r.err = defect("file %q: data ends early: %v", r.f.Path, err)
		} else {
			r.err = defect("file %q: %v", r.f.Path, err)
		}
		return n, r.err
	}
	return n, nil
}

func (r *fileReader) finish() error {
	d := r.f.Data
	if _, err := io.Copy(io.Discard, r.tee); err != nil {
		return defect("file %q: reading its data: %v", r.f.Path, err)
	}
	if r.raw.n != d.Length {
		return defect("file %q: %d of its %d stored bytes could be read", r.f.Path, r.raw.n, d.Length)
	}
	if r.n != d.Size {
		return defect("file %q decodes to %d bytes, its TOC declares %d", r.f.Path, r.n, d.Size)
	}
	if hashOf(d.Archived.Style) != 0 && !bytes.Equal(r.archived.Sum(nil), d.Archived.Value) {
		return defect("file %q: archived-checksum mismatch (%s %x, TOC says %x)", r.f.Path, d.Archived.Style, r.archived.Sum(nil), d.Archived.Value)
	}
	if hashOf(d.Extracted.Style) != 0 && !bytes.Equal(r.extracted.Sum(nil), d.Extracted.Value) {
		return defect("file %q: extracted-checksum mismatch (%s %x, TOC says %x)", r.f.Path, d.Extracted.Style, r.extracted.Sum(nil), d.Extracted.Value)
	}
	return nil
}

// hashOf maps a xar checksum style to a hash, 0 when unknown or "none".
func hashOf(style string) crypto.Hash {
	switch strings.ToLower(style) {
	case "md5":
		return crypto.MD5
	case "sha1":
		return crypto.SHA1
	case "sha224":
		return crypto.SHA224
	case "sha256":
		return crypto.SHA256
	case "sha384":
		return crypto.SHA384
	case "sha512":
		return crypto.SHA512
	}
	return 0
}

// The hashes hashOf names are linked in.
var _ = []func() hash.Hash{md5.New, sha1.New, sha256.New, sha256.New224, sha512.New, sha512.New384}

type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// exactReader passes at most max bytes and flags over when the source
// has more.
type exactReader struct {
	r    io.Reader
	max  int64
	n    int64
	over bool
	err  error // the source's error other than EOF
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n >= e.max {
		var one [1]byte
		n, err := e.r.Read(one[:])
		if n > 0 {
			e.over = true
			return 0, errors.New("over the declared length")
		}
		if err != nil && err != io.EOF {
			e.err = err
		}
		if err == nil {
			return 0, nil
		}
		return 0, err
	}
	if int64(len(p)) > e.max-e.n {
		p = p[:e.max-e.n]
	}
	n, err := e.r.Read(p)
	e.n += int64(n)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// checksumValue decodes a hex checksum as written in the TOC.
func checksumValue(s string) ([]byte, error) {
	return hex.DecodeString(strings.TrimSpace(s))
}
