package authenticode

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/eucora/eucora/packaging/facts"
)

// PE data directory indexes.
const (
	DirResource = 2 // IMAGE_DIRECTORY_ENTRY_RESOURCE
	DirSecurity = 4 // IMAGE_DIRECTORY_ENTRY_SECURITY: the certificate table (a file offset, not an RVA)
)

// PE limits beyond facts.Limits.
const (
	maxOptionalHeader = 4096
	hashBuffer        = 64 << 10
)

// PEHeaders are the headers of a PE image as far as EUCORA reads them.
type PEHeaders struct {
	Machine         uint16 // IMAGE_FILE_MACHINE_*: pe.IMAGE_FILE_MACHINE_AMD64, ...
	Characteristics uint16 // IMAGE_FILE_*: pe.IMAGE_FILE_DLL, ...
	PE32Plus        bool   // optional header magic 0x20b (64-bit image)
	Subsystem       uint16 // pe.IMAGE_SUBSYSTEM_*
	SizeOfHeaders   uint32
	// Dirs are the data directories the optional header has (at most 16).
	Dirs     []pe.DataDirectory
	Sections []pe.SectionHeader32 // in header order

	checksumOff int64 // file offset of the optional header's CheckSum
	secDirOff   int64 // file offset of the security directory entry; 0 when absent
}

// Dir returns data directory i, zero when the image has fewer.
func (h *PEHeaders) Dir(i int) pe.DataDirectory {
	if i < len(h.Dirs) {
		return h.Dirs[i]
	}
	return pe.DataDirectory{}
}

// SectionName is a section header's name without NUL padding.
func SectionName(s pe.SectionHeader32) string {
	return string(bytes.TrimRight(s.Name[:], "\x00"))
}

// RVAToOffset maps an RVA range [rva, rva+n) to a file offset inside one
// section's raw data, or reports false.
func (h *PEHeaders) RVAToOffset(rva, n uint32) (int64, bool) {
	for _, s := range h.Sections {
		if rva < s.VirtualAddress {
			continue
		}
		d := uint64(rva - s.VirtualAddress)
		if d+uint64(n) <= uint64(s.SizeOfRawData) && (s.VirtualSize == 0 || d+uint64(n) <= uint64(max(s.VirtualSize, s.SizeOfRawData))) {
			return int64(s.PointerToRawData) + int64(d), true
		}
	}
	return 0, false
}

// ParsePEHeaders reads the DOS, COFF and optional headers and the section
// table of a PE file, bounded and checked against size. A file that is not
// a PE image or whose headers lie outside it is a *facts.DefectError of
// kind facts.KindPE.
func ParsePEHeaders(r io.ReaderAt, size int64) (*PEHeaders, error) {
	defect := func(f string, args ...any) error { return facts.Defectf(facts.KindPE, f, args...) }
	var dos [64]byte
	if size >= 2 {
		if err := readFull(r, dos[:2], 0); err != nil {
			return nil, err
		}
		if dos[0] != 'M' || dos[1] != 'Z' {
			return nil, defect("no MZ signature at offset 0: not a PE file")
		}
	}
	if size < int64(len(dos)) {
		return nil, defect("truncated: %d bytes is shorter than a DOS header", size)
	}
	if err := readFull(r, dos[:], 0); err != nil {
		return nil, err
	}
	lfanew := int64(binary.LittleEndian.Uint32(dos[0x3c:]))
	if lfanew < 4 || lfanew+4+20 > size {
		return nil, defect("PE header offset %d (e_lfanew) lies outside the file of %d bytes", lfanew, size)
	}
	var sigAndCOFF [24]byte
	if err := readFull(r, sigAndCOFF[:], lfanew); err != nil {
		return nil, err
	}
	if !bytes.Equal(sigAndCOFF[:4], []byte("PE\x00\x00")) {
		return nil, defect("no PE signature at offset %d (an MZ file that is not a PE image)", lfanew)
	}
	var fh pe.FileHeader
	if err := binary.Read(bytes.NewReader(sigAndCOFF[4:]), binary.LittleEndian, &fh); err != nil {
		return nil, err
	}
	h := &PEHeaders{Machine: fh.Machine, Characteristics: fh.Characteristics}
	optOff := lfanew + 24
	optSize := int64(fh.SizeOfOptionalHeader)
	if optSize < 96 {
		return nil, defect("optional header of %d bytes is too short for an image", optSize)
	}
	if optSize > maxOptionalHeader {
		return nil, defect("optional header of %d bytes, limit %d", optSize, maxOptionalHeader)
	}
	secOff := optOff + optSize
	secEnd := secOff + int64(fh.NumberOfSections)*40
	if secEnd > size {
		return nil, defect("truncated: %d section headers at offset %d run past the end of the file (%d bytes)", fh.NumberOfSections, secOff, size)
	}
	opt := make([]byte, optSize)
	if err := readFull(r, opt, optOff); err != nil {
		return nil, err
	}
	var dirStart, nDirOff int
	switch magic := binary.LittleEndian.Uint16(opt); magic {
	case 0x10b:
		dirStart, nDirOff = 96, 92
	case 0x20b:
		h.PE32Plus = true
		dirStart, nDirOff = 112, 108
	default:
		return nil, defect("optional header magic 0x%x is neither PE32 (0x10b) nor PE32+ (0x20b)", magic)
	}
	if int(optSize) < dirStart {
		return nil, defect("optional header of %d bytes is too short for its magic", optSize)
	}
	h.SizeOfHeaders = binary.LittleEndian.Uint32(opt[60:])
	h.Subsystem = binary.LittleEndian.Uint16(opt[68:])
	h.checksumOff = optOff + 64
	nDirs := int(binary.LittleEndian.Uint32(opt[nDirOff:]))
	nDirs = min(nDirs, 16, (int(optSize)-dirStart)/8)
	for i := 0; i < nDirs; i++ {
		o := dirStart + 8*i
		h.Dirs = append(h.Dirs, pe.DataDirectory{VirtualAddress: binary.LittleEndian.Uint32(opt[o:]), Size: binary.LittleEndian.Uint32(opt[o+4:])})
	}
	if nDirs > DirSecurity {
		h.secDirOff = optOff + int64(dirStart) + 8*DirSecurity
	}
	if int64(h.SizeOfHeaders) > size {
		return nil, defect("SizeOfHeaders %d is past the end of the file (%d bytes)", h.SizeOfHeaders, size)
	}
	if secEnd > int64(h.SizeOfHeaders) {
		return nil, defect("section table ends at %d, past SizeOfHeaders %d", secEnd, h.SizeOfHeaders)
	}
	raw := make([]byte, secEnd-secOff)
	if err := readFull(r, raw, secOff); err != nil {
		return nil, err
	}
	h.Sections = make([]pe.SectionHeader32, fh.NumberOfSections)
	if err := binary.Read(bytes.NewReader(raw), binary.LittleEndian, h.Sections); err != nil {
		return nil, err
	}
	for _, s := range h.Sections {
		if s.SizeOfRawData == 0 {
			continue
		}
		if int64(s.PointerToRawData)+int64(s.SizeOfRawData) > size {
			return nil, defect("section %q raw data (offset %d, %d bytes) runs past the end of the file (%d bytes)", SectionName(s), s.PointerToRawData, s.SizeOfRawData, size)
		}
	}
	return h, nil
}

// VerifyPE verifies the Authenticode signature of a PE file (.exe, .dll,
// .sys): the first PKCS#7 WIN_CERTIFICATE of its certificate table against
// the image hash, judged against o.Trust at o.Now.
func VerifyPE(r io.ReaderAt, size int64, o facts.Options) (*facts.Signature, error) {
	lim := o.Limits.WithDefaults()
	defect := func(f string, args ...any) error { return facts.Defectf(facts.KindPE, f, args...) }
	h, err := ParsePEHeaders(r, size)
	if err != nil {
		return nil, err
	}
	sec := h.Dir(DirSecurity)
	if h.secDirOff == 0 || (sec.VirtualAddress == 0 && sec.Size == 0) {
		return &facts.Signature{State: facts.SigUnsigned, Format: "authenticode", Detail: "no certificate table (the security directory is empty)"}, nil
	}
	off, n := int64(sec.VirtualAddress), int64(sec.Size)
	switch {
	case n < 8:
		return nil, defect("certificate table of %d bytes is smaller than a WIN_CERTIFICATE header", n)
	case n > lim.MaxMetadata:
		return nil, defect("certificate table of %d bytes, limit %d", n, lim.MaxMetadata)
	case off < int64(h.SizeOfHeaders) || off+n > size:
		return nil, defect("certificate table at offset %d (%d bytes) lies outside the file's data (headers end at %d, file is %d bytes)", off, n, h.SizeOfHeaders, size)
	}
	for _, s := range h.Sections {
		if s.SizeOfRawData > 0 && int64(s.PointerToRawData)+int64(s.SizeOfRawData) > off {
			return nil, defect("certificate table at offset %d overlaps section %q (offset %d, %d bytes)", off, SectionName(s), s.PointerToRawData, s.SizeOfRawData)
		}
	}
	table := make([]byte, n)
	if err := readFull(r, table, off); err != nil {
		return nil, err
	}
	var der []byte
	others := 0
	for pos := int64(0); pos+8 <= n; {
		l := int64(binary.LittleEndian.Uint32(table[pos:]))
		rev := binary.LittleEndian.Uint16(table[pos+4:])
		typ := binary.LittleEndian.Uint16(table[pos+6:])
		if l < 8 || pos+l > n {
			return nil, defect("WIN_CERTIFICATE at table offset %d declares %d bytes, past the table's %d", pos, l, n)
		}
		if rev == 0x0200 && typ == 0x0002 && der == nil {
			der = table[pos+8 : pos+l]
		} else {
			others++
		}
		pos += (l + 7) &^ 7
	}
	if der == nil {
		return &facts.Signature{State: facts.SigInvalid, Format: "authenticode", Detail: "the certificate table holds no PKCS#7 WIN_CERTIFICATE (revision 0x0200, type 0x0002)"}, nil
	}
	sig, err := VerifySignedData(der, "authenticode", o, func(ind Indirect) (string, error) {
		if !ind.DataType.Equal(OIDSpcPEImageData) {
			return fmt.Sprintf("the signature is for content type %v, not a PE image (%v)", ind.DataType, OIDSpcPEImageData), nil
		}
		got, err := ImageHash(r, h, off, ind.Hash)
		if err != nil {
			return "", err
		}
		if subtle.ConstantTimeCompare(got, ind.Digest) != 1 {
			return DigestMismatch("image hash", got, ind.Digest), nil
		}
		return "", nil
	})
	if err != nil {
		return nil, err
	}
	if trailing := size - (off + n); trailing > 0 && sig.State != facts.SigInvalid {
		sig.State = facts.SigInvalid
		sig.Detail = fmt.Sprintf("%d bytes follow the certificate table and are not covered by the signature", trailing)
	}
	if others > 0 {
		sig.Detail += fmt.Sprintf("; %d further certificate table entries not verified", others)
	}
	return sig, nil
}

// ImageHash computes the Authenticode image hash of a PE file whose
// certificate table starts at certOff (the file size when unsigned), as
// the PE/COFF specification defines it: the headers up to SizeOfHeaders
// without the CheckSum field and the security directory entry, then each
// section's raw data in file order, then whatever lies between the last
// section and the certificate table. It reads through r with a bounded
// buffer.
func ImageHash(r io.ReaderAt, h *PEHeaders, certOff int64, alg crypto.Hash) ([]byte, error) {
	if !alg.Available() {
		return nil, fmt.Errorf("authenticode: hash %v not available", alg)
	}
	if h.secDirOff == 0 {
		return nil, errors.New("authenticode: image has no security directory entry")
	}
	d := alg.New()
	buf := make([]byte, hashBuffer)
	add := func(from, to int64) error {
		if to <= from {
			return nil
		}
		n, err := io.CopyBuffer(d, io.NewSectionReader(r, from, to-from), buf)
		if err == nil && n != to-from {
			err = fmt.Errorf("authenticode: read %d of %d bytes at offset %d", n, to-from, from)
		}
		return err
	}
	hdr := int64(h.SizeOfHeaders)
	if err := add(0, h.checksumOff); err != nil {
		return nil, err
	}
	if err := add(h.checksumOff+4, h.secDirOff); err != nil {
		return nil, err
	}
	if err := add(h.secDirOff+8, hdr); err != nil {
		return nil, err
	}
	secs := make([]pe.SectionHeader32, 0, len(h.Sections))
	for _, s := range h.Sections {
		if s.SizeOfRawData > 0 {
			secs = append(secs, s)
		}
	}
	sort.SliceStable(secs, func(i, j int) bool { return secs[i].PointerToRawData < secs[j].PointerToRawData })
	sum := hdr
	for _, s := range secs {
		from := int64(s.PointerToRawData)
		if err := add(from, from+int64(s.SizeOfRawData)); err != nil {
			return nil, err
		}
		sum += int64(s.SizeOfRawData)
	}
	if err := add(sum, certOff); err != nil {
		return nil, err
	}
	return d.Sum(nil), nil
}

// readFull reads len(b) bytes at off; a short read is an I/O error (the
// caller checked the range against the size).
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("authenticode: reading %d bytes at offset %d: %w", len(b), off, err)
}
