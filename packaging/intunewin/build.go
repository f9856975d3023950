package intunewin

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// Options tunes a build.
type Options struct {
	// Name is ApplicationInfo.Name (default: the setup file's base name;
	// the prep tool uses the MSI's ProductName for an MSI).
	Name string
	// MsiInfo, when set, is recorded as the setup file's MSI facts.
	MsiInfo *MsiInfo
	// Rand is the source of the keys and the IV (default crypto/rand).
	Rand io.Reader
	// TempDir holds the plaintext zip while the build runs (default
	// os.TempDir()).
	TempDir string
	// Modified is the time of the outer zip's entries (default now).
	Modified time.Time
}

// OutputName is the file name the prep tool gives the package of a setup
// file: its base name with the extension replaced by ".intunewin".
func OutputName(setupFile string) string {
	base := path.Base(strings.ReplaceAll(setupFile, `\`, "/"))
	return strings.TrimSuffix(base, path.Ext(base)) + ".intunewin"
}

// A Builder zips a setup folder's files into a temporary plaintext zip,
// then writes the .intunewin. Close removes the temporary file.
type Builder struct {
	setup string
	o     Options
	tmp   *os.File
	zw    *zip.Writer
	sum   hash.Hash
	names map[string]bool
	done  bool
}

// NewBuilder starts a package whose setup file is setupFile (a slash path
// inside the setup folder, e.g. "setup.exe" or "bin/setup.msi").
func NewBuilder(setupFile string, o Options) (*Builder, error) {
	name, err := cleanName(setupFile)
	if err != nil {
		return nil, fmt.Errorf("intunewin: setup file: %w", err)
	}
	tmp, err := os.CreateTemp(o.TempDir, "intunewin-*.zip")
	if err != nil {
		return nil, fmt.Errorf("intunewin: %w", err)
	}
	b := &Builder{setup: name, o: o, tmp: tmp, sum: sha256.New(), names: map[string]bool{}}
	b.zw = zip.NewWriter(io.MultiWriter(tmp, b.sum))
	return b, nil
}

// cleanName checks a setup-folder path: relative, slash-separated, no "."
// or ".." element, no backslash.
func cleanName(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty path")
	case strings.Contains(name, `\`):
		return "", fmt.Errorf("%q: use / to separate folders", name)
	case !fs.ValidPath(name) || name == ".":
		return "", fmt.Errorf("%q is not a relative path inside the setup folder", name)
	}
	return name, nil
}

// Add puts one file of the setup folder into the package.
func (b *Builder) Add(name string, modified time.Time, r io.Reader) error {
	if b.done {
		return errors.New("intunewin: Add after Finish")
	}
	name, err := cleanName(name)
	if err != nil {
		return fmt.Errorf("intunewin: %w", err)
	}
	key := strings.ToLower(name) // Windows file names are case-insensitive
	if b.names[key] {
		return fmt.Errorf("intunewin: %q is in the setup folder twice", name)
	}
	b.names[key] = true
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified}
	w, err := b.zw.CreateHeader(hdr)
	if err != nil {
		return fmt.Errorf("intunewin: %w", err)
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("intunewin: %s: %w", name, err)
	}
	return nil
}

// AddFS puts every regular file of fsys into the package, at its path in
// fsys. A symbolic link is followed; anything else that is not a file or
// a folder is refused.
func (b *Builder) AddFS(fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("intunewin: %w", err)
		}
		if d.IsDir() {
			return nil
		}
		fi, err := fs.Stat(fsys, p)
		if err != nil {
			return fmt.Errorf("intunewin: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("intunewin: %s is not a regular file (%s)", p, fi.Mode().Type())
		}
		f, err := fsys.Open(p)
		if err != nil {
			return fmt.Errorf("intunewin: %w", err)
		}
		defer f.Close()
		return b.Add(p, fi.ModTime(), f)
	})
}

// Finish finishes the plaintext zip and writes the .intunewin to w: the
// encrypted file, then Detection.xml. It returns what Detection.xml says.
func (b *Builder) Finish(w io.Writer) (*ApplicationInfo, error) {
	if b.done {
		return nil, errors.New("intunewin: Finish called twice")
	}
	b.done = true
	if !b.names[strings.ToLower(b.setup)] {
		return nil, fmt.Errorf("intunewin: the setup file %q is not in the setup folder", b.setup)
	}
	if err := b.zw.Close(); err != nil {
		return nil, fmt.Errorf("intunewin: %w", err)
	}
	plainSize, err := b.tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("intunewin: %w", err)
	}
	digest := b.sum.Sum(nil)
	openPlain := func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(b.tmp, 0, plainSize)), nil
	}
	modified := b.o.Modified
	if modified.IsZero() {
		modified = time.Now()
	}
	out := zip.NewWriter(w)
	cw, err := out.CreateHeader(&zip.FileHeader{Name: ContentsPath, Method: zip.Store, Modified: modified})
	if err != nil {
		return nil, fmt.Errorf("intunewin: %w", err)
	}
	enc, n, err := Encrypt(cw, openPlain, b.o.Rand)
	if err != nil {
		return nil, fmt.Errorf("intunewin: encrypt: %w", err)
	}
	if n != plainSize || !bytes.Equal(enc.FileDigest, digest) {
		return nil, fmt.Errorf("intunewin: the plaintext zip changed while it was encrypted")
	}
	name := b.o.Name
	if name == "" {
		name = path.Base(b.setup)
	}
	info := &ApplicationInfo{
		ToolVersion:            ToolVersion,
		Name:                   name,
		UnencryptedContentSize: plainSize,
		FileName:               ContentFileName,
		SetupFile:              b.setup,
		EncryptionInfo:         enc,
		MsiInfo:                b.o.MsiInfo,
	}
	mw, err := out.CreateHeader(&zip.FileHeader{Name: MetadataPath, Method: zip.Deflate, Modified: modified})
	if err != nil {
		return nil, fmt.Errorf("intunewin: %w", err)
	}
	if _, err := mw.Write(info.MarshalDetection()); err != nil {
		return nil, fmt.Errorf("intunewin: %w", err)
	}
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("intunewin: %w", err)
	}
	return info, nil
}

// Close removes the temporary plaintext zip.
func (b *Builder) Close() error {
	b.done = true
	name := b.tmp.Name()
	err := b.tmp.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

// Build writes the .intunewin of the setup folder dir, whose setup file is
// setupFile, to w.
func Build(w io.Writer, dir, setupFile string, o Options) (*ApplicationInfo, error) {
	b, err := NewBuilder(setupFile, o)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if err := b.AddFS(os.DirFS(dir)); err != nil {
		return nil, err
	}
	return b.Finish(w)
}
