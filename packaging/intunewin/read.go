package intunewin

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// Limits bound what a reader accepts, so a hostile file costs bounded
// memory and time.
type Limits struct {
	// MaxContentSize bounds the encrypted file (default 32 GiB; Intune
	// takes Win32 apps up to 30 GB).
	MaxContentSize int64
	// MaxEntries bounds the outer zip's entries (default 64; the tool
	// writes 2).
	MaxEntries int
	// MaxRatio bounds an entry's uncompressed-to-compressed ratio once it
	// is over 1 MiB (default 100; encrypted data does not compress).
	MaxRatio int64
}

// DefaultLimits are the limits Open applies.
var DefaultLimits = Limits{MaxContentSize: 32 << 30, MaxEntries: 64, MaxRatio: 100}

func (l Limits) withDefaults() Limits {
	if l.MaxContentSize <= 0 {
		l.MaxContentSize = DefaultLimits.MaxContentSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultLimits.MaxRatio
	}
	return l
}

// File is an opened .intunewin: its Detection.xml, checked, and access
// to its encrypted file.
type File struct {
	Info     *ApplicationInfo
	contents *zip.File
	closer   io.Closer
}

// Open reads an .intunewin of size bytes from r with DefaultLimits.
func Open(r io.ReaderAt, size int64) (*File, error) { return DefaultLimits.Open(r, size) }

// OpenPath opens the .intunewin at name; Close closes it.
func OpenPath(name string) (*File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	p, err := Open(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.closer = f
	return p, nil
}

// Close closes the file OpenPath opened; it does nothing after Open.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Open reads an .intunewin of size bytes from r: it finds the contents and
// the metadata entries, refuses entries over the limits before reading
// them, parses and checks Detection.xml, and checks the encrypted file's
// size is the one Detection.xml's UnencryptedContentSize implies. It does
// not read the encrypted file: Verify and Decrypt do.
func (l Limits) Open(r io.ReaderAt, size int64) (*File, error) {
	l = l.withDefaults()
	br := &budgetReader{r: r}
	br.budget.Store(maxDirectory)
	br.armed.Store(true)
	zr, err := zip.NewReader(br, size)
	br.armed.Store(false)
	if errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotIntunewin, err)
	}
	if len(zr.File) > l.MaxEntries {
		return nil, fmt.Errorf("%w: the zip has %d entries, more than %d", ErrTooLarge, len(zr.File), l.MaxEntries)
	}
	var contents, meta *zip.File
	for _, f := range zr.File {
		var slot **zip.File
		switch f.Name {
		case ContentsPath:
			slot = &contents
		case MetadataPath:
			slot = &meta
		default:
			continue
		}
		if *slot != nil {
			return nil, fmt.Errorf("%w: two entries named %s", ErrNotIntunewin, f.Name)
		}
		*slot = f
	}
	switch {
	case contents == nil:
		return nil, fmt.Errorf("%w: no %s entry", ErrNotIntunewin, ContentsPath)
	case meta == nil:
		return nil, fmt.Errorf("%w: no %s entry", ErrNotIntunewin, MetadataPath)
	}
	if err := l.checkEntry(meta, MaxDetectionSize); err != nil {
		return nil, err
	}
	if err := l.checkEntry(contents, l.MaxContentSize); err != nil {
		return nil, err
	}
	mr, err := meta.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotIntunewin, MetadataPath, err)
	}
	info, err := ParseDetection(mr)
	mr.Close()
	if err != nil {
		return nil, err
	}
	if got, want := int64(contents.UncompressedSize64), info.EncryptedSize(); got != want {
		return nil, fmt.Errorf("%w: the encrypted file has %d bytes, but UnencryptedContentSize %d means %d", ErrCorrupt, got, info.UnencryptedContentSize, want)
	}
	return &File{Info: info, contents: contents}, nil
}

// checkEntry refuses an entry over max bytes or compressed beyond the
// ratio limit, before anything is decompressed.
func (l Limits) checkEntry(f *zip.File, max int64) error {
	u, c := f.UncompressedSize64, f.CompressedSize64
	if u > uint64(max) {
		return fmt.Errorf("%w: %s declares %d bytes, over the %d-byte limit", ErrTooLarge, f.Name, u, max)
	}
	if u > 1<<20 && (c == 0 || u/c > uint64(l.MaxRatio)) {
		return fmt.Errorf("%w: %s expands %d bytes into %d, a ratio over %d (a zip bomb?)", ErrTooLarge, f.Name, c, u, l.MaxRatio)
	}
	return nil
}

// EncryptedSize is the size of the encrypted file: Graph's sizeEncrypted.
func (f *File) EncryptedSize() int64 { return int64(f.contents.UncompressedSize64) }

// OpenEncrypted returns a reader of the encrypted file, the bytes that are
// uploaded. The zip's CRC is checked at its end.
func (f *File) OpenEncrypted() (io.ReadCloser, error) {
	rc, err := f.contents.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotIntunewin, ContentsPath, err)
	}
	return rc, nil
}

// Verify checks the encrypted file's MAC, then decrypts it and checks the
// digest and the size of the plaintext zip, keeping nothing.
func (f *File) Verify() error {
	_, err := f.Decrypt(io.Discard)
	return err
}

// Decrypt checks the MAC, then writes the plaintext zip (the setup folder)
// to w, checking its digest and size. See the package Decrypt for what w
// has seen when the digest does not match.
func (f *File) Decrypt(w io.Writer) (int64, error) {
	n, err := Decrypt(w, f.OpenEncrypted, f.Info.EncryptionInfo, f.Info.UnencryptedContentSize)
	if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) {
		err = fmt.Errorf("%w: %s: %v", ErrCorrupt, ContentsPath, err)
	}
	return n, err
}

// budgetReader fails every read once more than budget bytes were read
// through it, while armed: it bounds what archive/zip reads (and so
// allocates) for the central directory, which it reads from the offset
// the end record names to the end of the file, however many entries that
// holds.
type budgetReader struct {
	r      io.ReaderAt
	budget atomic.Int64
	armed  atomic.Bool
}

func (b *budgetReader) ReadAt(p []byte, off int64) (int, error) {
	if b.armed.Load() && b.budget.Add(-int64(len(p))) < 0 {
		return 0, fmt.Errorf("%w: the zip's central directory is over %d bytes", ErrTooLarge, maxDirectory)
	}
	return b.r.ReadAt(p, off)
}

// maxDirectory bounds what opening the zip may read: the end record search
// (up to 65 KiB twice) and a central directory of up to 1 MiB.
const maxDirectory = 1<<20 + 132<<10
