package msi

import (
	"strings"
	"unicode/utf16"
)

// Stream names in an MSI are packed: two characters of the set
// [0-9A-Za-z._] go into one UTF-16 code unit in 0x3800-0x47FF (6 bits each,
// the first in the low bits), a single trailing character into
// 0x4800-0x483F, and a table's stream starts with the marker 0x4840.
// Code units outside those ranges (such as the \005 of
// \005SummaryInformation) stand for themselves.
const (
	packBase   = 0x3800
	packSingle = 0x4800
	tableMark  = 0x4840
)

// mimeChar maps a 6-bit value to its character.
func mimeChar(x uint16) rune {
	switch {
	case x < 10:
		return rune('0' + x)
	case x < 36:
		return rune('A' + x - 10)
	case x < 62:
		return rune('a' + x - 36)
	case x == 62:
		return '.'
	default:
		return '_'
	}
}

// charMime maps a character to its 6-bit value, or -1.
func charMime(c rune) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	case c == '.':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

// DecodeStreamName decodes a raw CFB stream name; table reports whether it
// carries the table marker (which is dropped from name).
func DecodeStreamName(raw []uint16) (name string, table bool) {
	if len(raw) > 0 && raw[0] == tableMark {
		table = true
		raw = raw[1:]
	}
	var b strings.Builder
	var plain []uint16
	flush := func() {
		if len(plain) > 0 {
			b.WriteString(string(utf16.Decode(plain)))
			plain = plain[:0]
		}
	}
	for _, c := range raw {
		switch {
		case c >= packBase && c < packSingle:
			flush()
			v := c - packBase
			b.WriteRune(mimeChar(v & 0x3f))
			b.WriteRune(mimeChar((v >> 6) & 0x3f))
		case c >= packSingle && c < tableMark:
			flush()
			b.WriteRune(mimeChar(c - packSingle))
		default:
			plain = append(plain, c)
		}
	}
	flush()
	return b.String(), table
}

// EncodeStreamName packs name as Windows Installer does; table adds the
// table marker. Characters outside [0-9A-Za-z._] are kept as they are, and
// a name starting with a control character (the OLE property sets
// \005SummaryInformation, \005DigitalSignature) is not packed at all.
func EncodeStreamName(name string, table bool) []uint16 {
	var out []uint16
	if table {
		out = append(out, tableMark)
	}
	if name != "" && name[0] < 0x20 {
		return append(out, utf16.Encode([]rune(name))...)
	}
	rs := []rune(name)
	for i := 0; i < len(rs); i++ {
		a := charMime(rs[i])
		if a < 0 {
			out = append(out, utf16.Encode([]rune{rs[i]})...)
			continue
		}
		if i+1 < len(rs) {
			if b := charMime(rs[i+1]); b >= 0 {
				out = append(out, uint16(packBase+a+b<<6))
				i++
				continue
			}
		}
		out = append(out, uint16(packSingle+a))
	}
	return out
}
