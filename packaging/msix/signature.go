package msix

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/eucora/eucora/packaging/authenticode"
	"github.com/eucora/eucora/packaging/facts"
)

// blockSize is the uncompressed size of a block of AppxBlockMap.xml.
const blockSize = 64 << 10

// maxSignature bounds AppxSignature.p7x.
const maxSignature = 16 << 20

// The tags of the APPX digest blob the signature signs:
// "APPX" then tag+digest pairs.
var (
	tagAPPX = "APPX"
	tagAXPC = "AXPC" // the zip's local file records, without the signature's
	tagAXCD = "AXCD" // the central directory (and end records), without the signature's entry
	tagAXCT = "AXCT" // [Content_Types].xml, uncompressed
	tagAXBM = "AXBM" // AppxBlockMap.xml, uncompressed
	tagAXCI = "AXCI" // AppxMetadata/CodeIntegrity.cat, uncompressed (optional)
)

var blockMapHashes = map[string]crypto.Hash{
	"http://www.w3.org/2001/04/xmlenc#sha256":       crypto.SHA256,
	"http://www.w3.org/2001/04/xmldsig-more#sha384": crypto.SHA384,
	"http://www.w3.org/2001/04/xmlenc#sha512":       crypto.SHA512,
}

// verifySignature verifies AppxSignature.p7x: the PKCS#7 signer and chain
// (packaging/authenticode), every digest of the APPX digest blob against
// the package, and the block map's per-block hashes against the files.
func verifySignature(kind facts.Kind, r io.ReaderAt, size int64, zr *zip.Reader, o facts.Options) (*facts.Signature, error) {
	lim := o.Limits.WithDefaults()
	sf := findExact(zr, signatureName)
	if sf == nil {
		return &facts.Signature{State: facts.SigUnsigned, Format: "msix-p7x", Detail: "no " + signatureName}, nil
	}
	p7x, err := facts.ReadZipEntry(sf, kind, min(lim.MaxMetadata, maxSignature))
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(p7x, []byte("PKCX")) {
		return &facts.Signature{State: facts.SigInvalid, Format: "msix-p7x", Detail: signatureName + " does not start with the PKCX magic"}, nil
	}
	return authenticode.VerifySignedData(p7x[4:], "msix-p7x", o, func(ind authenticode.Indirect) (string, error) {
		if !ind.DataType.Equal(authenticode.OIDSpcSipInfo) {
			return fmt.Sprintf("the signature is for content type %v, not an APPX package (SpcSipInfo)", ind.DataType), nil
		}
		tags, why := parseDigestBlob(ind.Digest, ind.Hash.Size())
		if why != "" {
			return why, nil
		}
		// The footprint files, hashed uncompressed.
		for _, c := range []struct{ tag, name string }{{tagAXBM, blockMapName}, {tagAXCT, contentTypesName}, {tagAXCI, codeIntegrity}} {
			zf := findExact(zr, c.name)
			signed, ok := tags[c.tag]
			switch {
			case zf == nil && !ok:
				continue
			case zf == nil:
				return fmt.Sprintf("the signature covers %s, the package has none", c.name), nil
			case !ok:
				return fmt.Sprintf("the signature does not cover %s (no %s digest)", c.name, c.tag), nil
			}
			got, err := hashEntry(zf, kind, ind.Hash)
			if err != nil {
				return "", err
			}
			if subtle.ConstantTimeCompare(got, signed) != 1 {
				return authenticode.DigestMismatch(c.name+" hash", got, signed), nil
			}
		}
		for _, t := range []string{tagAXBM, tagAXCT, tagAXPC, tagAXCD} {
			if _, ok := tags[t]; !ok {
				return fmt.Sprintf("the APPX digest blob has no %s digest", t), nil
			}
		}
		pc, cd, err := zipDigests(r, size, kind, ind.Hash, lim)
		if err != nil {
			return "", err
		}
		if subtle.ConstantTimeCompare(pc, tags[tagAXPC]) != 1 {
			return authenticode.DigestMismatch("zip file records hash", pc, tags[tagAXPC]), nil
		}
		if subtle.ConstantTimeCompare(cd, tags[tagAXCD]) != 1 {
			return authenticode.DigestMismatch("zip central directory hash", cd, tags[tagAXCD]), nil
		}
		return checkBlockMap(zr, kind, lim)
	})
}

// parseDigestBlob splits "APPX" (tag digest)* into its digests.
func parseDigestBlob(b []byte, n int) (map[string][]byte, string) {
	if !bytes.HasPrefix(b, []byte(tagAPPX)) {
		return nil, "the signed digest is not an APPX digest blob (no APPX header)"
	}
	tags := map[string][]byte{}
	for b = b[4:]; len(b) > 0; b = b[4+n:] {
		if len(b) < 4+n {
			return nil, "the APPX digest blob is truncated"
		}
		t := string(b[:4])
		switch t {
		case tagAXPC, tagAXCD, tagAXCT, tagAXBM, tagAXCI:
		default:
			return nil, fmt.Sprintf("the APPX digest blob has an unknown tag %q", t)
		}
		if _, dup := tags[t]; dup {
			return nil, fmt.Sprintf("the APPX digest blob has %s twice", t)
		}
		tags[t] = b[4 : 4+n]
	}
	return tags, ""
}

// hashEntry hashes a zip entry's uncompressed content.
func hashEntry(zf *zip.File, kind facts.Kind, h crypto.Hash) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, facts.Defectf(kind, "zip entry %q: %v", zf.Name, err)
	}
	defer rc.Close()
	d := h.New()
	n, err := io.Copy(d, io.LimitReader(rc, int64(zf.UncompressedSize64)+1))
	if err != nil {
		return nil, facts.Defectf(kind, "zip entry %q: %v", zf.Name, err)
	}
	if uint64(n) != zf.UncompressedSize64 {
		return nil, facts.Defectf(kind, "zip entry %q holds %d bytes, its header says %d", zf.Name, n, zf.UncompressedSize64)
	}
	return d.Sum(nil), nil
}

// blockMap is AppxBlockMap.xml.
type blockMap struct {
	HashMethod string `xml:"HashMethod,attr"`
	Files      []struct {
		Name   string `xml:"Name,attr"`
		Size   string `xml:"Size,attr"`
		Blocks []struct {
			Hash string `xml:"Hash,attr"`
		} `xml:"Block"`
	} `xml:"File"`
}

// checkBlockMap checks that the block map lists exactly the package's
// payload files, each with its size and the hash of each 64 KiB block of
// its content. It returns a mismatch for a person, or a defect.
func checkBlockMap(zr *zip.Reader, kind facts.Kind, lim facts.Limits) (string, error) {
	zf := findExact(zr, blockMapName)
	b, err := facts.ReadZipEntry(zf, kind, lim.MaxMetadata)
	if err != nil {
		return "", err
	}
	var bm blockMap
	if err := xml.Unmarshal(b, &bm); err != nil {
		return fmt.Sprintf("%s does not parse: %v", blockMapName, err), nil
	}
	h, ok := blockMapHashes[bm.HashMethod]
	if !ok {
		return fmt.Sprintf("%s HashMethod %q is not SHA-256, SHA-384 or SHA-512", blockMapName, bm.HashMethod), nil
	}
	payload := map[string]*zip.File{}
	for _, f := range zr.File {
		if isFootprint(f.Name) || strings.HasSuffix(f.Name, "/") {
			continue
		}
		name, err := url.PathUnescape(f.Name)
		if err != nil {
			name = f.Name
		}
		payload[name] = f
	}
	seen := map[string]bool{}
	buf := make([]byte, blockSize)
	for _, bf := range bm.Files {
		name := strings.ReplaceAll(bf.Name, `\`, "/")
		zf, ok := payload[name]
		if !ok {
			return fmt.Sprintf("%s lists %q, the package has no such file", blockMapName, bf.Name), nil
		}
		if seen[name] {
			return fmt.Sprintf("%s lists %q twice", blockMapName, bf.Name), nil
		}
		seen[name] = true
		sz, err := strconv.ParseUint(bf.Size, 10, 64)
		if err != nil || sz != zf.UncompressedSize64 {
			return fmt.Sprintf("file modified after signing: %s is %d bytes, the block map says %s", name, zf.UncompressedSize64, bf.Size), nil
		}
		if want := (sz + blockSize - 1) / blockSize; uint64(len(bf.Blocks)) != want {
			return fmt.Sprintf("%s lists %d blocks for %s, its %d bytes make %d", blockMapName, len(bf.Blocks), name, sz, want), nil
		}
		why, err := checkBlocks(zf, kind, h, bf.Blocks, buf)
		if err != nil || why != "" {
			return why, err
		}
	}
	for name := range payload {
		if !seen[name] {
			return fmt.Sprintf("file %s is not in %s: added after signing", name, blockMapName), nil
		}
	}
	return "", nil
}

func checkBlocks(zf *zip.File, kind facts.Kind, h crypto.Hash, blocks []struct {
	Hash string `xml:"Hash,attr"`
}, buf []byte) (string, error) {
	rc, err := zf.Open()
	if err != nil {
		return "", facts.Defectf(kind, "zip entry %q: %v", zf.Name, err)
	}
	defer rc.Close()
	lr := io.LimitReader(rc, int64(zf.UncompressedSize64))
	var d hash.Hash = h.New()
	for i, bl := range blocks {
		n, err := io.ReadFull(lr, buf)
		if err != nil && err != io.ErrUnexpectedEOF && !(err == io.EOF && n == 0) {
			return "", facts.Defectf(kind, "zip entry %q: %v", zf.Name, err)
		}
		d.Reset()
		d.Write(buf[:n])
		want, err := base64.StdEncoding.DecodeString(bl.Hash)
		if err != nil {
			return fmt.Sprintf("%s: block %d of %s has a hash that is not base64", blockMapName, i, zf.Name), nil
		}
		if got := d.Sum(nil); subtle.ConstantTimeCompare(got, want) != 1 {
			return authenticode.DigestMismatch(fmt.Sprintf("%s block %d hash", zf.Name, i), got, want), nil
		}
	}
	return "", nil
}

// zipDigests computes the AXPC and AXCD digests of the package as
// Windows (and osslsigncode) define them: the local file records (header,
// data, data descriptor) of every entry but the signature, in central
// directory order; and the central directory without the signature's
// entry, followed by end records rewritten for that directory.
func zipDigests(r io.ReaderAt, size int64, kind facts.Kind, h crypto.Hash, lim facts.Limits) (pc, cd []byte, err error) {
	defect := func(f string, args ...any) error { return facts.Defectf(kind, f, args...) }
	le := binary.LittleEndian
	// End of central directory record, in the last 64 KiB + 22 bytes.
	tail := min(size, 65535+22)
	tb := make([]byte, tail)
	if _, err := r.ReadAt(tb, size-tail); err != nil && err != io.EOF {
		return nil, nil, defect("zip end record: %v", err)
	}
	ei := bytes.LastIndex(tb, []byte("PK\x05\x06"))
	if ei < 0 || len(tb)-ei < 22 {
		return nil, nil, defect("zip has no end of central directory record")
	}
	eocd := tb[ei:]
	commentLen := int(le.Uint16(eocd[20:]))
	if 22+commentLen > len(eocd) {
		return nil, nil, defect("zip end record comment runs past the end of the file")
	}
	comment := eocd[22 : 22+commentLen]
	entries16, total16 := le.Uint16(eocd[8:]), le.Uint16(eocd[10:])
	cdSize, cdOff := uint64(le.Uint32(eocd[12:])), uint64(le.Uint32(eocd[16:]))
	zip64 := entries16 == 0xFFFF || total16 == 0xFFFF || cdSize == 0xFFFFFFFF || cdOff == 0xFFFFFFFF
	var e64 []byte // the zip64 end record, verbatim
	if zip64 {
		eocdPos := size - tail + int64(ei)
		if eocdPos < 20 {
			return nil, nil, defect("zip64 end locator missing")
		}
		loc := make([]byte, 20)
		if _, err := r.ReadAt(loc, eocdPos-20); err != nil || !bytes.HasPrefix(loc, []byte("PK\x06\x07")) {
			return nil, nil, defect("zip64 end locator missing")
		}
		off := int64(le.Uint64(loc[8:]))
		if off < 0 || off+56 > eocdPos {
			return nil, nil, defect("zip64 end record offset %d is outside the file", off)
		}
		e64 = make([]byte, eocdPos-20-off)
		if _, err := r.ReadAt(e64, off); err != nil || !bytes.HasPrefix(e64, []byte("PK\x06\x06")) || len(e64) < 56 {
			return nil, nil, defect("zip64 end record missing")
		}
		if rl := le.Uint64(e64[4:]); rl+12 <= uint64(len(e64)) {
			e64 = e64[:rl+12]
		}
		cdSize, cdOff = le.Uint64(e64[40:]), le.Uint64(e64[48:])
	}
	if cdSize > uint64(lim.MaxMetadata) || cdOff+cdSize > uint64(size) {
		return nil, nil, defect("zip central directory (offset %d, %d bytes) is outside the file or over the limit", cdOff, cdSize)
	}
	cdb := make([]byte, cdSize)
	if _, err := r.ReadAt(cdb, int64(cdOff)); err != nil {
		return nil, nil, defect("zip central directory: %v", err)
	}
	dpc, dcd := h.New(), h.New()
	buf := make([]byte, 64<<10)
	var n, recTotal, keptCD uint64
	for p := 0; p < len(cdb); {
		if len(cdb)-p < 46 || !bytes.HasPrefix(cdb[p:], []byte("PK\x01\x02")) {
			return nil, nil, defect("zip central directory entry at offset %d is malformed", p)
		}
		e := cdb[p:]
		flags := le.Uint16(e[8:])
		comp, local := uint64(le.Uint32(e[20:])), uint64(le.Uint32(e[42:]))
		nl, xl, cl := int(le.Uint16(e[28:])), int(le.Uint16(e[30:])), int(le.Uint16(e[32:]))
		el := 46 + nl + xl + cl
		if el > len(e) {
			return nil, nil, defect("zip central directory entry at offset %d runs past the directory", p)
		}
		name := string(e[46 : 46+nl])
		// zip64 extra: the 0xFFFFFFFF fields, in order.
		uncomp := uint64(le.Uint32(e[24:]))
		for x := e[46+nl : 46+nl+xl]; len(x) >= 4; {
			id, sz := le.Uint16(x), int(le.Uint16(x[2:]))
			if 4+sz > len(x) {
				break
			}
			if id == 1 {
				v := x[4 : 4+sz]
				take := func(f *uint64) {
					if *f == 0xFFFFFFFF && len(v) >= 8 {
						*f, v = le.Uint64(v), v[8:]
					}
				}
				take(&uncomp)
				take(&comp)
				take(&local)
			}
			x = x[4+sz:]
		}
		p += el
		if name == signatureName {
			continue
		}
		n++
		if n > uint64(lim.MaxEntries) {
			return nil, nil, defect("zip has more than %d entries", lim.MaxEntries)
		}
		dcd.Write(e[:el])
		keptCD += uint64(el)
		// The local record.
		lh := make([]byte, 30)
		if local+30 > uint64(size) {
			return nil, nil, defect("zip entry %q local header at %d is outside the file", name, local)
		}
		if _, err := r.ReadAt(lh, int64(local)); err != nil || !bytes.HasPrefix(lh, []byte("PK\x03\x04")) {
			return nil, nil, defect("zip entry %q has no local header at offset %d", name, local)
		}
		rec := 30 + uint64(le.Uint16(lh[26:])) + uint64(le.Uint16(lh[28:])) + comp
		if flags&8 != 0 {
			sig := make([]byte, 4)
			if _, err := r.ReadAt(sig, int64(local+rec)); err == nil && bytes.Equal(sig, []byte("PK\x07\x08")) {
				rec += 4
			}
			if zip64 {
				rec += 20
			} else {
				rec += 12
			}
		}
		if local+rec > uint64(size) {
			return nil, nil, defect("zip entry %q record (offset %d, %d bytes) runs past the end of the file", name, local, rec)
		}
		recTotal += rec
		if recTotal > uint64(size) {
			return nil, nil, defect("zip local records add up to more than the file (overlapping entries)")
		}
		if _, err := io.CopyBuffer(dpc, io.NewSectionReader(r, int64(local), int64(rec)), buf); err != nil {
			return nil, nil, defect("zip entry %q: %v", name, err)
		}
	}
	// End records for the directory without the signature, as the
	// signing tool wrote them before it appended the signature.
	if zip64 {
		x := append([]byte(nil), e64...)
		le.PutUint64(x[24:], n)
		le.PutUint64(x[32:], n)
		le.PutUint64(x[40:], keptCD)
		le.PutUint64(x[48:], recTotal)
		dcd.Write(x)
		loc := make([]byte, 20)
		copy(loc, "PK\x06\x07")
		le.PutUint64(loc[8:], recTotal+keptCD)
		le.PutUint32(loc[16:], 1)
		dcd.Write(loc)
	}
	end := make([]byte, 22)
	copy(end, "PK\x05\x06")
	put16 := func(o int, v uint64, orig uint16) {
		if orig == 0xFFFF {
			le.PutUint16(end[o:], 0xFFFF)
		} else {
			le.PutUint16(end[o:], uint16(v))
		}
	}
	put32 := func(o int, v uint64, orig uint32) {
		if orig == 0xFFFFFFFF {
			le.PutUint32(end[o:], 0xFFFFFFFF)
		} else {
			le.PutUint32(end[o:], uint32(v))
		}
	}
	put16(8, n, entries16)
	put16(10, n, total16)
	put32(12, keptCD, le.Uint32(eocd[12:]))
	put32(16, recTotal, le.Uint32(eocd[16:]))
	le.PutUint16(end[20:], uint16(commentLen))
	dcd.Write(end)
	dcd.Write(comment)
	return dpc.Sum(nil), dcd.Sum(nil), nil
}
