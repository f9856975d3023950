// Package pe reads the facts of a Windows PE file (.exe, .dll) natively:
// its architecture from the COFF machine field, its identity (product
// name, version, company) from the VERSIONINFO resource, the execution
// level its embedded manifest requests, and its Authenticode signature
// (packaging/authenticode). It reads only the headers, the resource
// directory and the two resources, through the io.ReaderAt, bounded; it
// never runs the file, so what an .exe installer installs is not known
// (Facts.NotInspected says so).
package pe

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/eucora/eucora/packaging/authenticode"
	"github.com/eucora/eucora/packaging/facts"
)

// Resource types.
const (
	rtVersion  = 16 // RT_VERSION
	rtManifest = 24 // RT_MANIFEST
)

// Bounds of what is read from the resources.
const (
	maxResourceData    = 1 << 20 // one VERSIONINFO or manifest
	maxResourceEntries = 4096    // directory entries visited in the resource tree
)

// NotInspectedPayload is what a PE reader cannot know.
const NotInspectedPayload = "installer payload (an .exe runs its own installer; EUCORA reads only its headers and signature)"

// Arch maps a COFF machine to EUCORA's architecture names.
func Arch(machine uint16) string {
	switch machine {
	case pe.IMAGE_FILE_MACHINE_I386:
		return "x86"
	case pe.IMAGE_FILE_MACHINE_AMD64:
		return "amd64"
	case pe.IMAGE_FILE_MACHINE_ARM64:
		return "arm64"
	case pe.IMAGE_FILE_MACHINE_ARMNT, pe.IMAGE_FILE_MACHINE_ARM:
		return "arm"
	}
	return fmt.Sprintf("machine-0x%04x", machine)
}

// Inspect reads the facts of a PE file. A file that is not a PE image, or
// whose headers, certificate table or resource directory lie outside it,
// is a *facts.DefectError.
func Inspect(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	lim := o.Limits.WithDefaults()
	h, err := authenticode.ParsePEHeaders(r, size)
	if err != nil {
		return nil, err
	}
	f := &facts.Facts{Kind: facts.KindPE, Fields: map[string]string{}}
	f.Identity.Arch = Arch(h.Machine)
	f.Fields["Machine"] = fmt.Sprintf("0x%04x", h.Machine)
	if h.Characteristics&pe.IMAGE_FILE_DLL != 0 {
		f.Fields["Image"] = "dll"
	} else {
		f.Fields["Image"] = "exe"
	}
	switch h.Subsystem {
	case pe.IMAGE_SUBSYSTEM_WINDOWS_GUI:
		f.Fields["Subsystem"] = "windows-gui"
	case pe.IMAGE_SUBSYSTEM_WINDOWS_CUI:
		f.Fields["Subsystem"] = "console"
	default:
		f.Fields["Subsystem"] = fmt.Sprint(h.Subsystem)
	}

	res, err := readResources(r, h, min(lim.MaxMetadata, maxResourceData))
	if err != nil {
		return nil, err
	}
	if v, ok := res[rtVersion]; ok {
		if err := readVersionInfo(v, f); err != nil {
			f.NotInspected = append(f.NotInspected, "version resource ("+err.Error()+")")
		}
	} else {
		f.NotInspected = append(f.NotInspected, "version resource (the file has none: product name, version and company unknown)")
	}
	if m, ok := res[rtManifest]; ok {
		if err := readManifest(m, f); err != nil {
			f.NotInspected = append(f.NotInspected, "manifest ("+err.Error()+")")
		}
	}
	if f.Identity.Name != "" {
		f.Components = []facts.Component{{Name: f.Identity.Name, Version: f.Identity.Version, Supplier: f.Identity.Vendor}}
	}

	sig, err := authenticode.VerifyPE(r, size, o)
	if err != nil {
		return nil, err
	}
	f.Signature = sig
	f.NotInspected = append(f.NotInspected, NotInspectedPayload)
	return f, nil
}

// readResources returns the data of the first resource of each of the
// types EUCORA reads (RT_VERSION, RT_MANIFEST), each at most max bytes.
func readResources(r io.ReaderAt, h *authenticode.PEHeaders, max int64) (map[int][]byte, error) {
	defect := func(f string, args ...any) error { return facts.Defectf(facts.KindPE, f, args...) }
	out := map[int][]byte{}
	dir := h.Dir(authenticode.DirResource)
	if dir.VirtualAddress == 0 || dir.Size == 0 {
		return out, nil
	}
	// The resource directory and what its entries point to lie in the
	// section holding its RVA; offsets inside it are from its start.
	var base, avail int64 = -1, 0
	for _, s := range h.Sections {
		if dir.VirtualAddress >= s.VirtualAddress && uint64(dir.VirtualAddress) < uint64(s.VirtualAddress)+uint64(s.SizeOfRawData) {
			d := int64(dir.VirtualAddress - s.VirtualAddress)
			base, avail = int64(s.PointerToRawData)+d, int64(s.SizeOfRawData)-d
			break
		}
	}
	if base < 0 {
		return nil, defect("resource directory RVA 0x%x lies in no section's data", dir.VirtualAddress)
	}
	visited := 0
	readAt := func(off, n int64) ([]byte, error) {
		if off < 0 || n < 0 || off+n > avail {
			return nil, defect("resource directory entry at offset %d (%d bytes) lies outside the resource section (%d bytes)", off, n, avail)
		}
		b := make([]byte, n)
		if _, err := r.ReadAt(b, base+off); err != nil {
			return nil, defect("resource directory: %v", err)
		}
		return b, nil
	}
	// entries returns a directory's (id, isDir, offset) entries.
	type entry struct {
		id     uint32
		named  bool
		subdir bool
		off    int64
	}
	entries := func(off int64) ([]entry, error) {
		hd, err := readAt(off, 16)
		if err != nil {
			return nil, err
		}
		n := int64(binary.LittleEndian.Uint16(hd[12:])) + int64(binary.LittleEndian.Uint16(hd[14:]))
		visited += int(n)
		if visited > maxResourceEntries {
			return nil, defect("resource directory has more than %d entries", maxResourceEntries)
		}
		b, err := readAt(off+16, 8*n)
		if err != nil {
			return nil, err
		}
		out := make([]entry, n)
		for i := range out {
			name, data := binary.LittleEndian.Uint32(b[8*i:]), binary.LittleEndian.Uint32(b[8*i+4:])
			out[i] = entry{id: name &^ (1 << 31), named: name&(1<<31) != 0, subdir: data&(1<<31) != 0, off: int64(data &^ (1 << 31))}
		}
		return out, nil
	}
	types, err := entries(0)
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if t.named || (t.id != rtVersion && t.id != rtManifest) || !t.subdir {
			continue
		}
		names, err := entries(t.off)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if _, done := out[int(t.id)]; done || !n.subdir {
				continue
			}
			langs, err := entries(n.off)
			if err != nil {
				return nil, err
			}
			for _, l := range langs {
				if l.subdir {
					continue
				}
				de, err := readAt(l.off, 16)
				if err != nil {
					return nil, err
				}
				rva, sz := binary.LittleEndian.Uint32(de), binary.LittleEndian.Uint32(de[4:])
				if int64(sz) > max {
					return nil, defect("resource type %d of %d bytes, limit %d", t.id, sz, max)
				}
				off, ok := h.RVAToOffset(rva, sz)
				if !ok {
					return nil, defect("resource type %d data (RVA 0x%x, %d bytes) lies in no section's data", t.id, rva, sz)
				}
				b := make([]byte, sz)
				if _, err := r.ReadAt(b, off); err != nil {
					return nil, defect("resource type %d data: %v", t.id, err)
				}
				out[int(t.id)] = b
				break
			}
		}
	}
	return out, nil
}

// verBlock is one block of a VERSIONINFO resource: VS_VERSIONINFO,
// StringFileInfo, StringTable, String, VarFileInfo, Var.
type verBlock struct {
	key      string
	value    []byte
	text     bool
	children []verBlock
}

// parseVerBlock parses the block at the start of b (depth: nesting left).
func parseVerBlock(b []byte, depth int) (verBlock, error) {
	var v verBlock
	if len(b) < 6 {
		return v, fmt.Errorf("truncated block (%d bytes)", len(b))
	}
	le := binary.LittleEndian
	length, valLen, typ := int(le.Uint16(b)), int(le.Uint16(b[2:])), le.Uint16(b[4:])
	if length < 6 || length > len(b) {
		return v, fmt.Errorf("block length %d with %d bytes left", length, len(b))
	}
	b = b[:length]
	i := 6
	for i+1 < len(b) && (b[i] != 0 || b[i+1] != 0) {
		i += 2
	}
	if i+1 >= len(b) {
		return v, fmt.Errorf("block key not terminated")
	}
	v.key = decodeUTF16(b[6:i])
	i = align4(i + 2)
	v.text = typ == 1
	n := valLen
	if v.text {
		n = 2 * valLen
	}
	if i+n > len(b) {
		n = max(0, len(b)-i) // some writers count bytes, not words
	}
	if i < len(b) {
		v.value = b[i : i+n]
	}
	i = align4(i + n)
	if depth == 0 {
		return v, nil
	}
	for i+6 <= len(b) {
		l := int(le.Uint16(b[i:]))
		if l == 0 {
			break
		}
		c, err := parseVerBlock(b[i:], depth-1)
		if err != nil {
			return v, err
		}
		v.children = append(v.children, c)
		i = align4(i + l)
	}
	return v, nil
}

func align4(i int) int { return (i + 3) &^ 3 }

func decodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	if i := indexZero(u); i >= 0 {
		u = u[:i]
	}
	return string(utf16.Decode(u))
}

func indexZero(u []uint16) int {
	for i, c := range u {
		if c == 0 {
			return i
		}
	}
	return -1
}

// readVersionInfo fills f's identity from a VS_VERSIONINFO resource.
func readVersionInfo(b []byte, f *facts.Facts) error {
	root, err := parseVerBlock(b, 3)
	if err != nil {
		return err
	}
	if root.key != "VS_VERSION_INFO" {
		return fmt.Errorf("resource key %q is not VS_VERSION_INFO", root.key)
	}
	le := binary.LittleEndian
	var fileVer, prodVer string
	if v := root.value; len(v) >= 52 && le.Uint32(v) == 0xFEEF04BD {
		ver := func(ms, ls uint32) string {
			return fmt.Sprintf("%d.%d.%d.%d", ms>>16, ms&0xffff, ls>>16, ls&0xffff)
		}
		fileVer = ver(le.Uint32(v[8:]), le.Uint32(v[12:]))
		prodVer = ver(le.Uint32(v[16:]), le.Uint32(v[20:]))
		f.Fields["FixedFileVersion"] = fileVer
		f.Fields["FixedProductVersion"] = prodVer
	}
	strs := map[string]string{}
	for _, sfi := range root.children {
		if sfi.key != "StringFileInfo" {
			continue
		}
		for _, table := range sfi.children {
			for _, s := range table.children {
				if _, ok := strs[s.key]; !ok && s.key != "" {
					strs[s.key] = strings.TrimSpace(decodeUTF16(s.value))
				}
			}
			if len(strs) > 0 {
				f.Fields["StringTable"] = table.key
				break
			}
		}
	}
	for _, k := range []string{"ProductName", "ProductVersion", "FileVersion", "CompanyName", "FileDescription", "OriginalFilename", "InternalName", "LegalCopyright"} {
		if v := strs[k]; v != "" {
			f.Fields[k] = v
		}
	}
	f.Identity.Name = firstNonEmpty(strs["ProductName"], strs["FileDescription"], strs["InternalName"], strs["OriginalFilename"])
	f.Identity.Version = firstNonEmpty(strs["ProductVersion"], strs["FileVersion"], prodVer, fileVer)
	f.Identity.Vendor = strs["CompanyName"]
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// readManifest reads the execution level an application manifest
// requests.
func readManifest(b []byte, f *facts.Facts) error {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "us-ascii") {
			return in, nil
		}
		return nil, fmt.Errorf("encoding %q is not read", label)
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "requestedExecutionLevel" {
			continue
		}
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "level":
				f.Fields["requestedExecutionLevel"] = a.Value
				if a.Value == "requireAdministrator" {
					f.Privilege.RequiresAdmin = true
					f.Privilege.Reasons = append(f.Privilege.Reasons, "manifest requestedExecutionLevel requireAdministrator")
				}
			case "uiAccess":
				f.Fields["uiAccess"] = a.Value
			}
		}
	}
}
