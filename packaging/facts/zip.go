package facts

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
)

// OpenZip opens a zip-based package (MSIX, APPX, IPA, APK) within lim:
// too many entries, an entry whose declared sizes make a ratio over
// MaxRatio, a declared total over MaxUncompressed, or an entry name that
// escapes (absolute, "..") is a defect of kind.
func OpenZip(r io.ReaderAt, size int64, kind Kind, lim Limits) (*zip.Reader, error) {
	lim = lim.WithDefaults()
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, Defectf(kind, "zip container: %v", err)
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, Defectf(kind, "zip has %d entries, limit %d", len(zr.File), lim.MaxEntries)
	}
	var total uint64
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "/") || strings.Contains("/"+f.Name+"/", "/../") {
			return nil, Defectf(kind, "zip entry name %q escapes the package", f.Name)
		}
		total += f.UncompressedSize64
		if total > uint64(lim.MaxUncompressed) {
			return nil, Defectf(kind, "zip entries declare %d bytes uncompressed, limit %d (zip bomb?)", total, lim.MaxUncompressed)
		}
		if f.UncompressedSize64 > 1<<20 && f.CompressedSize64 > 0 && f.UncompressedSize64/f.CompressedSize64 > uint64(lim.MaxRatio) {
			return nil, Defectf(kind, "zip entry %q expands %d times, limit %d (zip bomb?)", f.Name, f.UncompressedSize64/f.CompressedSize64, lim.MaxRatio)
		}
	}
	return zr, nil
}

// ReadZipEntry reads one entry whole, at most max bytes of actual output
// (whatever its header declares), and checks its CRC.
func ReadZipEntry(f *zip.File, kind Kind, max int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, Defectf(kind, "zip entry %q: %v", f.Name, err)
	}
	defer rc.Close()
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(rc, max+1))
	if err != nil {
		return nil, Defectf(kind, "zip entry %q: %v", f.Name, err)
	}
	if n > max {
		return nil, Defectf(kind, "zip entry %q is over %d bytes", f.Name, max)
	}
	return b.Bytes(), nil
}

// FindZipEntry returns the entry named name (exact, then case-insensitive), or nil.
func FindZipEntry(zr *zip.Reader, name string) *zip.File {
	for _, f := range zr.File {
		if f.Name == name {
			return f
		}
	}
	for _, f := range zr.File {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}
