package transfer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// MaxEntriesPerVolume bounds the entries a reader will index in one volume.
const MaxEntriesPerVolume = 1 << 20

// entry is one object entry located in a volume file.
type entry struct {
	name       string
	digest     digest.Digest // raw digest, from the name
	compressed bool
	hdrOff     int64 // offset of the header block
	dataOff    int64
	stored     int64 // bytes in the tar entry
	raw        int64 // raw size, from the manifest
	// storedDigest is the signed SHA-256 of the stored bytes of a
	// compressed entry (format v2); "" for raw entries and in v1.
	storedDigest digest.Digest
}

// Volume is one volume file whose manifest has been read and whose
// structure has been checked against it. Entry payloads are not yet hashed:
// Verify or Import do that.
type Volume struct {
	Path    string
	Signed  *Signed // the manifest (verified unless opened for inspection)
	Index   int     // 1-based volume number, derived from the signed contents
	Size    int64   // file size
	entries []entry
	mtime   int64
}

// OpenVolume indexes the volume at path, verifies its manifest against
// trust, and checks that the volume holds exactly the entries the manifest
// assigns to one volume. Only headers and the manifest are read.
func OpenVolume(path string, trust signing.Trust) (*Volume, error) {
	return openVolume(path, trust, true)
}

// InspectVolume is OpenVolume without signature verification, for
// displaying a bundle whose key is not at hand. Never act on the result.
func InspectVolume(path string) (*Volume, error) {
	return openVolume(path, nil, false)
}

func openVolume(path string, trust signing.Trust, verify bool) (*Volume, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	v := &Volume{Path: path, Size: st.Size()}
	bad := func(off int64, name, format string, args ...any) error {
		return &CorruptError{Volume: path, Entry: name, Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
	var manifest []byte
	seen := map[digest.Digest]bool{}
	hdr := make([]byte, blockSize)
	var off int64
	for {
		if off+blockSize > v.Size {
			return nil, bad(off, "", "truncated: volume ends inside a tar header or before the end-of-archive blocks")
		}
		if _, err := f.ReadAt(hdr, off); err != nil {
			return nil, bad(off, "", "read header: %v", err)
		}
		if isZero(hdr) {
			// End of archive: exactly two zero blocks, then end of file.
			if manifest == nil {
				return nil, bad(off, "", "archive ends without the %s entry", ManifestEntry)
			}
			if off+2*blockSize != v.Size {
				return nil, bad(off, "", "end-of-archive must be two zero blocks at the end of the file (file is %d bytes, end marker at %d)", v.Size, off)
			}
			tail := make([]byte, blockSize)
			f.ReadAt(tail, off+blockSize)
			if !isZero(tail) {
				return nil, bad(off+blockSize, "", "second end-of-archive block is not zero")
			}
			break
		}
		if manifest != nil {
			return nil, bad(off, "", "entry after %s: the manifest must be the last entry", ManifestEntry)
		}
		name, size, mtime, err := parseHeader(hdr)
		if err != nil {
			return nil, bad(off, "", "tar header: %v", err)
		}
		dataOff := off + blockSize
		if size > v.Size-dataOff-padLen(size)-2*blockSize {
			return nil, bad(off, name, "truncated: entry of %d bytes runs past the end of the volume", size)
		}
		if v.mtime == 0 {
			v.mtime = mtime
		}
		if name == ManifestEntry {
			if size > MaxManifestSize {
				return nil, bad(off, name, "manifest of %d bytes exceeds the %d byte limit", size, MaxManifestSize)
			}
			manifest = make([]byte, size+padLen(size))
			if _, err := f.ReadAt(manifest, dataOff); err != nil {
				return nil, bad(off, name, "read: %v", err)
			}
			if !isZero(manifest[size:]) {
				return nil, bad(dataOff+size, name, "non-zero bytes in tar padding")
			}
			manifest = manifest[:size]
		} else {
			d, compressed, ok := parseEntryName(name)
			if !ok {
				return nil, bad(off, name, "unexpected entry name: only objects/<sha256>[.zst] and %s may appear", ManifestEntry)
			}
			if seen[d] {
				return nil, bad(off, name, "duplicate entry for object %s", d.Short())
			}
			seen[d] = true
			if len(v.entries) >= MaxEntriesPerVolume {
				return nil, bad(off, name, "more than %d entries in one volume", MaxEntriesPerVolume)
			}
			v.entries = append(v.entries, entry{name: name, digest: d, compressed: compressed, hdrOff: off, dataOff: dataOff, stored: size})
		}
		off = dataOff + size + padLen(size)
	}
	var s *Signed
	if verify {
		s, err = ReadSigned(manifest, trust)
	} else {
		s, err = ReadUnverified(manifest)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v.Signed = s
	if err := v.matchManifest(); err != nil {
		return nil, err
	}
	return v, nil
}

// matchManifest derives the volume's number from its entries and checks
// that it holds exactly the entries the manifest assigns to that volume,
// with raw entries of exactly the listed size.
func (v *Volume) matchManifest() error {
	m := v.Signed.Manifest
	idx := m.entryIndex()
	bad := func(e *entry, format string, args ...any) error {
		off := int64(-1)
		name := ""
		if e != nil {
			off, name = e.hdrOff, e.name
		}
		return &CorruptError{Volume: v.Path, Entry: name, Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
	if len(v.entries) == 0 {
		if m.Volumes != 1 || len(m.EntriesOf(1)) != 0 {
			return bad(nil, "volume holds no entries but bundle %s has %d volume(s) with entries", m.BundleID, m.Volumes)
		}
		v.Index = 1
		return nil
	}
	for i := range v.entries {
		e := &v.entries[i]
		p, ok := idx[e.digest]
		if !ok {
			return bad(e, "object %s is not in the manifest", e.digest.Short())
		}
		if i == 0 {
			v.Index = p.Volume
		} else if p.Volume != v.Index {
			return bad(e, "manifest places object %s in volume %d, but this volume is volume %d", e.digest.Short(), p.Volume, v.Index)
		}
		e.raw = p.Size
		if !e.compressed && e.stored != p.Size {
			return bad(e, "entry is %d bytes, manifest says %d", e.stored, p.Size)
		}
		if m.Format != FormatV1 {
			if e.compressed != (p.Encoding == EncodingZstd) {
				return bad(e, "entry is stored %s, but the manifest signs it as %s", encodingName(e.compressed), encodingName(p.Encoding == EncodingZstd))
			}
			if e.compressed && e.stored != p.StoredSize {
				return bad(e, "stored entry is %d bytes, manifest signs %d", e.stored, p.StoredSize)
			}
			e.storedDigest = p.StoredDigest
		}
	}
	if want := m.EntriesOf(v.Index); len(want) != len(v.entries) {
		missing := []string{}
		for _, p := range want {
			found := false
			for _, e := range v.entries {
				if e.digest == p.Digest {
					found = true
					break
				}
			}
			if !found {
				missing = append(missing, p.Digest.Short())
			}
		}
		return bad(nil, "volume %d is missing %d entr(ies) the manifest lists: %v", v.Index, len(missing), missing)
	}
	return nil
}

func encodingName(compressed bool) string {
	if compressed {
		return "zstd-compressed (.zst)"
	}
	return "raw"
}

// parseHeader decodes a header and requires it to be byte-for-byte the
// header this package writes for that name, size and mtime.
func parseHeader(h []byte) (name string, size, mtime int64, err error) {
	nameField := h[0:100]
	n := bytes.IndexByte(nameField, 0)
	if n < 0 {
		n = 100
	}
	name = string(nameField[:n])
	size, err = parseOctal(h[124:136])
	if err != nil {
		return "", 0, 0, fmt.Errorf("size field: %v", err)
	}
	mtime, err = parseOctal(h[136:148])
	if err != nil {
		return "", 0, 0, fmt.Errorf("mtime field: %v", err)
	}
	want, err := ustarHeader(name, size, mtime)
	if err != nil {
		return "", 0, 0, err
	}
	if !bytes.Equal(h, want) {
		for i := range h {
			if h[i] != want[i] {
				return "", 0, 0, fmt.Errorf("entry %q: header byte %d is %#x, want %#x (bad checksum, type, link, owner or extension field)", name, i, h[i], want[i])
			}
		}
	}
	return name, size, mtime, nil
}

func parseOctal(b []byte) (int64, error) {
	s := string(bytes.TrimRight(b, "\x00"))
	if s == "" || len(s) != len(b)-1 {
		return 0, fmt.Errorf("%q is not a zero-padded octal number", b)
	}
	n, err := strconv.ParseInt(s, 8, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %v", s, err)
	}
	return n, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Entries returns the number of object entries in the volume.
func (v *Volume) Entries() int { return len(v.entries) }

// PayloadBytes returns the raw (uncompressed) bytes the volume carries.
func (v *Volume) PayloadBytes() int64 {
	var n int64
	for _, e := range v.entries {
		n += e.raw
	}
	return n
}

// errShortRead marks a stream that ended early.
var errShortRead = errors.New("unexpected end of data")

var _ io.ReaderAt = (*os.File)(nil)
