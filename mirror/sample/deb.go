package sample

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/eucora/eucora/mirror/debian"
)

// maintainer is the Maintainer of every sample package.
const maintainer = "EUCORA sample <sample@eucora.invalid>"

// buildDeb makes p's .deb and its Packages stanza.
func buildDeb(p Package, o Options) (built, error) {
	data, installedKiB, err := dataTar(p, o.Now)
	if err != nil {
		return built{}, fmt.Errorf("package %s: data.tar: %w", p.Name, err)
	}
	ctl := control(p, o.Arch, installedKiB)
	ctlTar, err := controlTar(ctl, o.Now)
	if err != nil {
		return built{}, fmt.Errorf("package %s: control.tar: %w", p.Name, err)
	}
	deb := arArchive(o.Now, []arMember{
		{"debian-binary", []byte("2.0\n")},
		{"control.tar.gz", ctlTar},
		{"data.tar.gz", data},
	})
	m := md5.Sum(deb)
	s := sha256.Sum256(deb)
	filename := poolPath(o.Component, p, o.Arch)
	// The stanza is the control paragraph with the pool fields inserted
	// before Description, which stays last as apt-ftparchive writes it.
	stanza := append(debian.Paragraph(nil), ctl[:len(ctl)-1]...)
	stanza = append(stanza,
		debian.Field{Name: "Filename", Value: filename},
		debian.Field{Name: "Size", Value: itoa(int64(len(deb)))},
		debian.Field{Name: "MD5sum", Value: hex.EncodeToString(m[:])},
		debian.Field{Name: "SHA256", Value: hex.EncodeToString(s[:])},
		ctl[len(ctl)-1])
	return built{filename: filename, deb: deb, stanza: stanza}, nil
}

// control is p's DEBIAN/control paragraph; Description is its last field.
func control(p Package, arch string, installedKiB int64) debian.Paragraph {
	section := "misc"
	if strings.HasPrefix(p.Name, "lib") {
		section = "libs"
	}
	c := debian.Paragraph{
		{Name: "Package", Value: p.Name},
		{Name: "Version", Value: p.Version},
		{Name: "Architecture", Value: arch},
		{Name: "Maintainer", Value: maintainer},
		{Name: "Installed-Size", Value: itoa(installedKiB)},
	}
	if p.Depends != "" {
		c = append(c, debian.Field{Name: "Depends", Value: strings.TrimSpace(p.Depends)})
	}
	c = append(c,
		debian.Field{Name: "Section", Value: section},
		debian.Field{Name: "Priority", Value: "optional"},
		debian.Field{Name: "Description", Value: description(p.Description)})
	return c
}

// description formats a Description value: the synopsis, then each line
// of the extended description indented by one space, empty lines as " .".
func description(d string) string {
	lines := strings.Split(strings.TrimRight(d, "\n"), "\n")
	var b strings.Builder
	b.WriteString(strings.TrimSpace(lines[0]))
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, " \t")
		if strings.TrimSpace(l) == "" {
			l = "."
		}
		b.WriteString("\n ")
		b.WriteString(l)
	}
	return b.String()
}

// tarWriter writes a gzipped tar whose entries are owned by root and
// stamped with one mtime, as dpkg-deb --root-owner-group writes them.
type tarWriter struct {
	buf   bytes.Buffer
	gz    *gzip.Writer
	tw    *tar.Writer
	mtime time.Time
}

func newTarWriter(mtime time.Time) *tarWriter {
	t := &tarWriter{mtime: mtime}
	t.gz = gzip.NewWriter(&t.buf) // no name, zero mtime: deterministic
	t.tw = tar.NewWriter(t.gz)
	return t
}

func (t *tarWriter) header(name string, typ byte, mode, size int64) error {
	return t.tw.WriteHeader(&tar.Header{
		Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: t.mtime,
		Uname: "root", Gname: "root", Format: tar.FormatGNU,
	})
}

func (t *tarWriter) dir(name string) error { return t.header(name, tar.TypeDir, 0o755, 0) }

func (t *tarWriter) file(name string, mode int64, data []byte) error {
	if err := t.header(name, tar.TypeReg, mode, int64(len(data))); err != nil {
		return err
	}
	_, err := t.tw.Write(data)
	return err
}

func (t *tarWriter) close() ([]byte, error) {
	if err := t.tw.Close(); err != nil {
		return nil, err
	}
	if err := t.gz.Close(); err != nil {
		return nil, err
	}
	return t.buf.Bytes(), nil
}

// controlTar is control.tar.gz: ./ and ./control.
func controlTar(ctl debian.Paragraph, mtime time.Time) ([]byte, error) {
	t := newTarWriter(mtime)
	if err := t.dir("./"); err != nil {
		return nil, err
	}
	if err := t.file("./control", 0o644, []byte(ctl.String())); err != nil {
		return nil, err
	}
	return t.close()
}

// dataTar is data.tar.gz: every directory of p's files, then the files
// (mode 0755 under usr/bin, 0644 elsewhere), in path order. It also
// returns the Installed-Size in KiB (each file rounded up to 1 KiB, one
// per directory, as dpkg-gencontrol counts).
func dataTar(p Package, mtime time.Time) ([]byte, int64, error) {
	dirs := map[string]bool{}
	for name := range p.Files {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	// Entries in path order, each directory before what it holds.
	type entry struct {
		name string
		dir  bool
	}
	var ents []entry
	for d := range dirs {
		ents = append(ents, entry{d, true})
	}
	for f := range p.Files {
		ents = append(ents, entry{f, false})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	t := newTarWriter(mtime)
	if err := t.dir("./"); err != nil {
		return nil, 0, err
	}
	var kib int64
	for _, e := range ents {
		if e.dir {
			kib++
			if err := t.dir("./" + e.name + "/"); err != nil {
				return nil, 0, err
			}
			continue
		}
		data := p.Files[e.name]
		kib += (int64(len(data)) + 1023) / 1024
		mode := int64(0o644)
		if strings.HasPrefix(e.name, "usr/bin/") || strings.HasPrefix(e.name, "usr/sbin/") {
			mode = 0o755
		}
		if err := t.file("./"+e.name, mode, data); err != nil {
			return nil, 0, err
		}
	}
	out, err := t.close()
	return out, kib, err
}

// arMember is one member of an ar archive.
type arMember struct {
	name string
	data []byte
}

// arArchive writes a common-format ar archive as dpkg-deb does: the
// "!<arch>\n" magic, then per member a 60-byte header (name padded to 16
// bytes with no trailing '/', mtime, uid 0, gid 0, mode 100644 in octal,
// size, "`\n") and the data padded to an even length with '\n'.
func arArchive(mtime time.Time, members []arMember) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, mtime.Unix(), 0, 0, "100644", len(m.data))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// gzipBytes compresses data deterministically (no name, no mtime).
func gzipBytes(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
