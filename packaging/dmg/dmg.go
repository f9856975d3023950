// Package dmg reads what can be read of a macOS disk image (.dmg) without
// mounting it: the UDIF "koly" trailer (the file's last 512 bytes), the
// XML property list it points at (the blkx partition table), and the
// embedded code signature (a SuperBlob at the trailer's code-signature
// offset: code directory, requirements, CMS signature, stapled
// notarization ticket).
//
// The signature is verified the way macOS checks a signed disk image: the
// CMS signature over the code directory with the signer's key, the code
// directory's hashes over the image's bytes up to the signature and over
// the koly trailer (with its code-signature length zeroed), then the
// chain against the trust store. The image's file systems are never
// opened: Facts.NotInspected always says so.
package dmg

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/xmlplist"
)

// What Inspect leaves unread.
const (
	NotInspectedContents  = "disk image contents (not mounted: EUCORA does not mount images)"
	NotInspectedTicket    = "notarization ticket's own Apple signature (a ticket is stapled; it was not verified)"
	NotInspectedNoTicket  = "notarization (no stapled ticket; online check not made)"
	NotInspectedEncrypted = "encrypted disk image (encrcdsa): its trailer, partitions and signature are inside the encryption and were not read"
	NotInspectedChecksums = "UDIF data fork and master checksums (not verified; a code signature's hashes are)"
)

// KolySize is the size of the UDIF trailer at the end of the file.
const KolySize = 512

// Koly is the UDIF trailer, big-endian on disk.
type Koly struct {
	Version, HeaderSize, Flags uint32
	RunningDataForkOffset      uint64
	DataForkOffset             uint64
	DataForkLength             uint64
	RsrcForkOffset             uint64
	RsrcForkLength             uint64
	SegmentNumber              uint32
	SegmentCount               uint32
	DataChecksumType           uint32
	XMLOffset, XMLLength       uint64
	CodeSignOffset             uint64
	CodeSignLength             uint64
	ChecksumType               uint32
	ImageVariant               uint32
	SectorCount                uint64
	raw                        [KolySize]byte
}

// Koly field offsets.
const (
	offCodeSignOffset = 296
	offCodeSignLength = 304
)

func defect(format string, args ...any) error { return facts.Defectf(facts.KindDMG, format, args...) }

func parseKoly(b []byte) Koly {
	be := binary.BigEndian
	k := Koly{
		Version: be.Uint32(b[4:]), HeaderSize: be.Uint32(b[8:]), Flags: be.Uint32(b[12:]),
		RunningDataForkOffset: be.Uint64(b[16:]), DataForkOffset: be.Uint64(b[24:]), DataForkLength: be.Uint64(b[32:]),
		RsrcForkOffset: be.Uint64(b[40:]), RsrcForkLength: be.Uint64(b[48:]),
		SegmentNumber: be.Uint32(b[56:]), SegmentCount: be.Uint32(b[60:]),
		DataChecksumType: be.Uint32(b[80:]),
		XMLOffset:        be.Uint64(b[216:]), XMLLength: be.Uint64(b[224:]),
		CodeSignOffset: be.Uint64(b[offCodeSignOffset:]), CodeSignLength: be.Uint64(b[offCodeSignLength:]),
		ChecksumType: be.Uint32(b[352:]),
		ImageVariant: be.Uint32(b[488:]), SectorCount: be.Uint64(b[492:]),
	}
	copy(k.raw[:], b)
	return k
}

// Inspect reads the disk image r of size bytes within o.Limits. Identity
// stays empty: a disk image's partition names say nothing about the
// product, so the caller takes the name and version from what the
// packaging engineer declared.
func Inspect(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	lim := o.Limits.WithDefaults()
	f := &facts.Facts{Kind: facts.KindDMG, Fields: map[string]string{}}
	var head [8]byte
	if size >= 8 {
		if _, err := r.ReadAt(head[:], 0); err != nil {
			return nil, defect("reading the first bytes: %v", err)
		}
	}
	if string(head[:]) == "encrcdsa" {
		f.Fields = nil
		f.NotInspected = []string{NotInspectedEncrypted, NotInspectedContents}
		return f, nil
	}
	if size < KolySize {
		return nil, defect("truncated: the file has %d bytes, a UDIF image ends with a %d-byte koly trailer", size, KolySize)
	}
	var kb [KolySize]byte
	if _, err := r.ReadAt(kb[:], size-KolySize); err != nil {
		return nil, defect("reading the koly trailer: %v", err)
	}
	if string(kb[:4]) != "koly" {
		return nil, defect("no koly trailer: the last %d bytes start with %q, not \"koly\" (not a UDIF disk image)", KolySize, kb[:4])
	}
	k := parseKoly(kb[:])
	if k.Version != 4 {
		return nil, defect("koly version %d; UDIF version 4 is the one defined", k.Version)
	}
	if k.HeaderSize != KolySize {
		return nil, defect("koly header size %d, want %d", k.HeaderSize, KolySize)
	}
	end := uint64(size - KolySize)
	for _, rg := range []struct {
		name     string
		off, len uint64
	}{
		{"data fork", k.DataForkOffset, k.DataForkLength},
		{"resource fork", k.RsrcForkOffset, k.RsrcForkLength},
		{"XML plist", k.XMLOffset, k.XMLLength},
		{"code signature", k.CodeSignOffset, k.CodeSignLength},
	} {
		if rg.off > end || rg.len > end-rg.off {
			return nil, defect("the koly trailer puts the %s at offset %d (%d bytes), past the image's %d bytes before the trailer", rg.name, rg.off, rg.len, end)
		}
	}
	f.Fields["udif version"] = strconv.FormatUint(uint64(k.Version), 10)
	f.Fields["image variant"] = strconv.FormatUint(uint64(k.ImageVariant), 10)
	f.Fields["sector count"] = strconv.FormatUint(k.SectorCount, 10)
	f.Fields["data fork length"] = strconv.FormatUint(k.DataForkLength, 10)

	notes := []string{NotInspectedContents, NotInspectedChecksums}
	if k.SegmentCount > 1 {
		notes = append(notes, fmt.Sprintf("segment %d of a %d-segment image: the other segments were not read", k.SegmentNumber, k.SegmentCount))
	}
	if k.XMLLength == 0 {
		if k.RsrcForkLength > 0 {
			notes = append(notes, "partition table in the resource fork (no XML plist) not read")
		}
	} else {
		if k.XMLLength > uint64(lim.MaxMetadata) {
			return nil, defect("the XML plist is %d bytes, limit %d", k.XMLLength, lim.MaxMetadata)
		}
		if err := readPlist(r, k, lim, f); err != nil {
			return nil, err
		}
	}
	sig, extra, err := verifySignature(r, size, k, lim, o)
	if err != nil {
		return nil, err
	}
	f.Signature = sig
	for key, v := range extra.fields {
		f.Fields[key] = v
	}
	if sig.Notarized {
		notes = append(notes, NotInspectedTicket)
	} else {
		notes = append(notes, NotInspectedNoTicket)
	}
	f.NotInspected = append(notes, extra.notes...)
	return f, nil
}

// blkx chunk types (UDIF "mish" block chunk entry types).
var chunkTypes = map[uint32]string{
	0x00000000: "zero-fill", 0x00000001: "raw", 0x00000002: "ignored",
	0x80000004: "ADC", 0x80000005: "zlib", 0x80000006: "bzip2", 0x80000007: "LZFSE", 0x80000008: "LZMA",
	0x7ffffffe: "comment", 0xffffffff: "end",
}

const (
	mishHeaderSize = 204
	mishChunkSize  = 40
)

func readPlist(r io.ReaderAt, k Koly, lim facts.Limits, f *facts.Facts) error {
	sr := io.NewSectionReader(r, int64(k.XMLOffset), int64(k.XMLLength))
	pl, err := xmlplist.Parse(sr, xmlplist.Limits{MaxBytes: int64(k.XMLLength), MaxDepth: 32, MaxValues: lim.MaxEntries})
	if err != nil {
		return defect("XML plist: %v", err)
	}
	if pl.Kind != xmlplist.Dict {
		return defect("XML plist: the root is a %s, not a dict", pl.Kind)
	}
	rf := pl.Get("resource-fork")
	if rf == nil || rf.Kind != xmlplist.Dict {
		return defect("XML plist has no resource-fork dict")
	}
	blkx := rf.Get("blkx")
	if blkx == nil || blkx.Kind != xmlplist.Array {
		return defect("XML plist has no blkx array in its resource-fork")
	}
	if len(blkx.Items) > lim.MaxEntries {
		return defect("XML plist lists %d blkx partitions, limit %d", len(blkx.Items), lim.MaxEntries)
	}
	var names, comp []string
	var sectors uint64
	for i, p := range blkx.Items {
		if p.Kind != xmlplist.Dict {
			return defect("blkx entry %d is a %s, not a dict", i, p.Kind)
		}
		name := p.Str("Name")
		if name == "" {
			name = p.Str("CFName")
		}
		if name == "" {
			name = "#" + strconv.Itoa(i)
		}
		names = append(names, name)
		d := p.Get("Data")
		if d == nil || d.Kind != xmlplist.Data {
			return defect("blkx partition %q has no Data", name)
		}
		n, types, err := mish(d.Data, k, lim)
		if err != nil {
			return defect("blkx partition %q: %v", name, err)
		}
		sectors += n
		for _, t := range types {
			if !slices.Contains(comp, t) {
				comp = append(comp, t)
			}
		}
	}
	f.Fields["blkx partitions"] = strings.Join(names, "; ")
	if len(comp) > 0 {
		slices.Sort(comp)
		f.Fields["blkx chunk types"] = strings.Join(comp, ", ")
	}
	f.Fields["blkx sectors"] = strconv.FormatUint(sectors, 10)
	return nil
}

// mish checks one partition's block table: its header, its chunk count
// against its length, and every data chunk inside the data fork. It
// returns the partition's sector count and its chunk types.
func mish(b []byte, k Koly, lim facts.Limits) (uint64, []string, error) {
	if len(b) < mishHeaderSize {
		return 0, nil, fmt.Errorf("block table of %d bytes, its header is %d", len(b), mishHeaderSize)
	}
	be := binary.BigEndian
	if string(b[:4]) != "mish" {
		return 0, nil, fmt.Errorf("block table magic %q, want \"mish\"", b[:4])
	}
	sectors := be.Uint64(b[16:])
	dataOffset := be.Uint64(b[24:])
	n := uint64(be.Uint32(b[200:]))
	if n > uint64(lim.MaxEntries) || mishHeaderSize+n*mishChunkSize > uint64(len(b)) {
		return 0, nil, fmt.Errorf("block table declares %d chunks, its %d bytes hold %d", n, len(b), (len(b)-mishHeaderSize)/mishChunkSize)
	}
	var types []string
	for i := range n {
		c := b[mishHeaderSize+i*mishChunkSize:]
		typ := be.Uint32(c)
		name, ok := chunkTypes[typ]
		if !ok {
			name = fmt.Sprintf("unknown 0x%08x", typ)
		}
		if typ != 0x7ffffffe && typ != 0xffffffff && !slices.Contains(types, name) {
			types = append(types, name)
		}
		off, length := be.Uint64(c[24:]), be.Uint64(c[32:])
		if typ == 0x00000001 || typ&0x80000000 != 0 && typ != 0xffffffff {
			start := dataOffset + off
			if start < dataOffset || start > k.DataForkLength || length > k.DataForkLength-start {
				return 0, nil, fmt.Errorf("chunk %d (%s) at data fork offset %d (%d bytes) lies past the data fork's %d bytes", i, name, start, length, k.DataForkLength)
			}
		}
	}
	return sectors, types, nil
}

// extra is what the signature adds to the facts.
type extra struct {
	fields map[string]string
	notes  []string
}

func readAt(r io.ReaderAt, off, n int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}
