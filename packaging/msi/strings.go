package msi

import (
	"encoding/binary"
	"unicode/utf8"
)

// StringPool is the database's shared string table (_StringPool with
// _StringData). String 0 is the null string; ids start at 1.
type StringPool struct {
	// Codepage the strings are written in (the low 31 bits of the pool's
	// first word).
	Codepage uint32
	// LongRefs is set when the first word's high bit is: string references
	// in tables are then 3 bytes wide instead of 2.
	LongRefs bool

	data []byte
	off  []uint32 // off[i], off[i+1] bound string i's bytes (i from 1)
	refs []uint16
}

// flagLongRefs in the pool's first word selects 3-byte string references.
const flagLongRefs = 0x80000000

// parseStringPool reads the pool as Windows Installer writes it: after the
// codepage word, one (length, refcount) pair of uint16 per string id; a
// string of 64 KiB or more is an entry (0, refcount) followed by an entry
// holding the length's low and high words; (0, 0) is an unused id.
func parseStringPool(pool, data []byte) (*StringPool, error) {
	if len(pool)%4 != 0 {
		return nil, defect("_StringPool is %d bytes, not a whole number of 4-byte entries", len(pool))
	}
	if len(pool) < 4 {
		return nil, defect("_StringPool is empty: it has no codepage entry")
	}
	sp := &StringPool{data: data}
	w := binary.LittleEndian.Uint32(pool)
	sp.Codepage = w &^ flagLongRefs
	sp.LongRefs = w&flagLongRefs != 0
	count := len(pool) / 4
	sp.off = make([]uint32, 1, count+1)
	sp.refs = make([]uint16, 1, count)
	var at uint64
	for i := 1; i < count; i++ {
		l := binary.LittleEndian.Uint16(pool[4*i:])
		refs := binary.LittleEndian.Uint16(pool[4*i+2:])
		n := uint64(l)
		if l == 0 && refs != 0 {
			if i+1 >= count {
				return nil, defect("_StringPool: long string entry %d has no length entry", len(sp.refs))
			}
			n = uint64(binary.LittleEndian.Uint16(pool[4*i+4:])) | uint64(binary.LittleEndian.Uint16(pool[4*i+6:]))<<16
			i++
		}
		if at+n > uint64(len(data)) {
			return nil, defect("_StringPool: string %d (%d bytes at offset %d) runs past _StringData (%d bytes)", len(sp.refs), n, at, len(data))
		}
		sp.off = append(sp.off, uint32(at))
		sp.refs = append(sp.refs, refs)
		at += n
	}
	sp.off = append(sp.off, uint32(at))
	return sp, nil
}

// Len is the number of string ids, counting the null string 0.
func (sp *StringPool) Len() int { return len(sp.refs) }

// Has reports whether id names a string (0, the null string, included).
func (sp *StringPool) Has(id uint32) bool { return int64(id) < int64(len(sp.refs)) }

// Refs is string id's reference count as the pool records it.
func (sp *StringPool) Refs(id uint32) int {
	if !sp.Has(id) {
		return 0
	}
	return int(sp.refs[id])
}

// Bytes is string id as stored (in Codepage).
func (sp *StringPool) Bytes(id uint32) []byte {
	if id == 0 || !sp.Has(id) {
		return nil
	}
	return sp.data[sp.off[id]:sp.off[id+1]]
}

// String is string id decoded to UTF-8: codepage 65001 as UTF-8, 1252,
// 0 (neutral) and any other single-byte codepage as Windows-1252 unless
// the bytes are valid UTF-8, 28591 as Latin-1.
func (sp *StringPool) String(id uint32) string {
	return decodeCodepage(sp.Codepage, sp.Bytes(id))
}

func decodeCodepage(cp uint32, b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	switch cp {
	case 65001:
		return string(b)
	case 28591:
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	case 1252, 0:
	default:
		if utf8.Valid(b) {
			return string(b)
		}
	}
	r := make([]rune, len(b))
	for i, c := range b {
		if c >= 0x80 && c < 0xA0 {
			r[i] = cp1252[c-0x80]
		} else {
			r[i] = rune(c)
		}
	}
	return string(r)
}

// cp1252 maps 0x80-0x9F of Windows-1252 (undefined bytes as U+FFFD).
var cp1252 = [32]rune{
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
}
