package deb

import (
	"bytes"
	"io"

	"github.com/eucora/eucora/packaging/facts"
)

// The ar format as dpkg writes and reads it: the global magic, then for
// each member a 60-byte header (name 16, mtime 12, uid 6, gid 6, mode 8,
// size 10, "`\n") and its data, padded to an even length.
const (
	arMagic      = "!<arch>\n"
	arHeaderSize = 60
	// maxMembers bounds the members read: a .deb has three, plus a few
	// signatures.
	maxMembers = 64
)

// member is one ar member: its name and where its data lies in the file.
type member struct {
	name string
	off  int64 // offset of the data
	size int64
}

// otherMagics name what a file that is not an ar archive is, for the
// defect message.
var otherMagics = []struct{ magic, what string }{
	{"PK\x03\x04", "a zip archive"},
	{"PK\x05\x06", "an empty zip archive"},
	{"\x1f\x8b", "a gzip stream"},
	{"\xfd7zXZ\x00", "an xz stream"},
	{"\x28\xb5\x2f\xfd", "a zstd stream"},
	{"BZh", "a bzip2 stream"},
	{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a CFB (MSI) file"},
	{"xar!", "a xar (pkg) archive"},
	{"MZ", "a PE executable"},
	{"\x7fELF", "an ELF executable"},
	{"!<thin>\n", "a thin ar archive"},
}

// readAr reads the member headers of the ar archive r (size bytes),
// without reading their data. Every header is checked and every member
// must lie within the file.
func readAr(r io.ReaderAt, size int64) ([]member, error) {
	head := make([]byte, len(arMagic))
	n, err := r.ReadAt(head, 0)
	if n < len(head) {
		if n > 0 && bytes.HasPrefix([]byte(arMagic), head[:n]) {
			return nil, facts.Defectf(facts.KindDeb, "truncated: %d bytes, shorter than the ar magic", size)
		}
		if err != nil && err != io.EOF {
			return nil, facts.Defectf(facts.KindDeb, "reading the ar magic: %v", err)
		}
		return nil, facts.Defectf(facts.KindDeb, "wrong magic: %d bytes, not an ar archive", n)
	}
	if string(head) != arMagic {
		for _, m := range otherMagics {
			if bytes.HasPrefix(head, []byte(m.magic)) {
				return nil, facts.Defectf(facts.KindDeb, "wrong magic: %s, not an ar archive", m.what)
			}
		}
		return nil, facts.Defectf(facts.KindDeb, "wrong magic %q: not an ar archive", head)
	}
	var members []member
	hdr := make([]byte, arHeaderSize)
	for off := int64(len(arMagic)); off < size; {
		if len(members) == maxMembers {
			return nil, facts.Defectf(facts.KindDeb, "ar archive has more than %d members", maxMembers)
		}
		if size-off < arHeaderSize {
			return nil, facts.Defectf(facts.KindDeb, "truncated: ar member header at offset %d has %d of %d bytes", off, size-off, arHeaderSize)
		}
		if _, err := r.ReadAt(hdr, off); err != nil {
			return nil, facts.Defectf(facts.KindDeb, "reading the ar member header at offset %d: %v", off, err)
		}
		m, err := parseArHeader(hdr, off)
		if err != nil {
			return nil, err
		}
		m.off = off + arHeaderSize
		if m.size > size-m.off {
			return nil, facts.Defectf(facts.KindDeb, "truncated: ar member %q declares %d bytes at offset %d, the file ends %d bytes after it", m.name, m.size, m.off, size-m.off)
		}
		next := m.off + m.size + m.size%2
		if next > size {
			return nil, facts.Defectf(facts.KindDeb, "truncated: ar member %q lacks its padding byte at offset %d", m.name, m.off+m.size)
		}
		members = append(members, m)
		off = next
	}
	return members, nil
}

// parseArHeader checks one 60-byte member header found at off.
func parseArHeader(h []byte, off int64) (member, error) {
	if string(h[58:60]) != "`\n" {
		return member{}, facts.Defectf(facts.KindDeb, "ar member header at offset %d: bad terminator %q (want \"`\\n\")", off, h[58:60])
	}
	raw := bytes.TrimRight(h[0:16], " ")
	name := raw
	if bytes.HasSuffix(name, []byte("/")) { // GNU ar ends names with "/"
		name = name[:len(name)-1]
	}
	if len(name) == 0 {
		return member{}, facts.Defectf(facts.KindDeb, "ar member header at offset %d: empty or special name %q (an ar symbol or name table: not a .deb)", off, raw)
	}
	for _, c := range name {
		if c <= ' ' || c > '~' || c == '/' {
			return member{}, facts.Defectf(facts.KindDeb, "ar member header at offset %d: invalid name %q", off, raw)
		}
	}
	fields := []struct {
		what       string
		start, end int
		base       int64
	}{
		{"mtime", 16, 28, 10},
		{"uid", 28, 34, 10},
		{"gid", 34, 40, 10},
		{"mode", 40, 48, 8},
		{"size", 48, 58, 10},
	}
	var size int64
	for _, f := range fields {
		v, ok := parseArNumber(h[f.start:f.end], f.base)
		if !ok || (f.what == "size" && v < 0) {
			return member{}, facts.Defectf(facts.KindDeb, "ar member %q at offset %d: %s field %q is not a number", name, off, f.what, h[f.start:f.end])
		}
		if f.what == "size" {
			size = v
		}
	}
	return member{name: string(name), size: size}, nil
}

// parseArNumber parses digits in base (8 or 10) followed by spaces. An
// all-blank field is 0 for every field but size, which returns -1.
func parseArNumber(b []byte, base int64) (int64, bool) {
	var v int64
	digits := 0
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] < byte('0'+base); i++ {
		v = v*base + int64(b[i]-'0')
		digits++
	}
	for ; i < len(b); i++ {
		if b[i] != ' ' {
			return 0, false
		}
	}
	if digits == 0 {
		return -1, true
	}
	return v, true
}
