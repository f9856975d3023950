package deb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/eucora/eucora/packaging/facts"
)

// maxDebianBinary bounds the debian-binary member ("2.0\n").
const maxDebianBinary = 4096

var formatVersion = regexp.MustCompile(`^([0-9]+)\.([0-9]+)$`)

// Inspect reads the facts of the .deb of size bytes in r, within
// o.Limits. A file that is not a .deb, is truncated or malformed, or breaks
// a limit returns a *facts.DefectError. A debsig signature is reported
// present and not verified: InspectWithKeyring verifies it.
func Inspect(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	return InspectWithKeyring(r, size, o, nil)
}

// InspectWithKeyring is Inspect that also verifies the _gpg* signature
// members against keyring, in the same pass over the file: a good
// signature by a key in keyring is facts.SigTrusted, one by a key not in
// it SigUntrusted, one whose key or signature expired at o.Now SigExpired,
// and one that does not verify over the members SigInvalid (a defective
// signature does not make the .deb defective). An empty keyring verifies
// nothing, as Inspect.
func InspectWithKeyring(r io.ReaderAt, size int64, o facts.Options, keyring openpgp.EntityList) (*facts.Facts, error) {
	lim := o.Limits.WithDefaults()
	if size < 0 {
		return nil, facts.Defectf(facts.KindDeb, "negative size %d", size)
	}
	members, err := readAr(r, size)
	if err != nil {
		return nil, err
	}
	l, err := layout(members)
	if err != nil {
		return nil, err
	}

	db, err := readMemberBytes(r, l.debianBinary, maxDebianBinary)
	if err != nil {
		return nil, err
	}
	if err := checkDebianBinary(db); err != nil {
		return nil, err
	}
	var sigs []*sigMember
	for _, m := range l.sigs {
		b, err := readMemberBytes(r, m, min(lim.MaxMetadata, maxSignatureSize))
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, &sigMember{name: m.name, data: b})
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := newVerifier(sigs, keyring, now)
	defer v.abort()
	v.begin()
	v.Write(db)
	v.end(l.debianBinary.name)

	b := &budget{left: lim.MaxUncompressed, max: lim.MaxUncompressed, ratio: lim.MaxRatio}
	var ctrl *control
	err = streamTar(r, l.control, l.controlSuffix, v, b, func(tr *tar.Reader) error {
		var err error
		ctrl, err = readControlTar(tr, l.control.name, lim)
		return err
	})
	if err != nil {
		return nil, err
	}
	var data *dataSummary
	err = streamTar(r, l.data, l.dataSuffix, v, b, func(tr *tar.Reader) error {
		var err error
		data, err = walkData(tr, l.data.name, lim)
		return err
	})
	if err != nil {
		return nil, err
	}
	return assemble(ctrl, data, v.finish(), l), nil
}

// debLayout is where the parts of a .deb are.
type debLayout struct {
	debianBinary, control, data member
	controlSuffix, dataSuffix   string
	sigs                        []member
	ignored                     []string // members after data.tar or starting with "_" that are not signatures
}

// layout checks the member order deb(5) requires: debian-binary, then
// control.tar*, then data.tar*, with "_" members allowed between them and
// anything after data.tar ignored.
func layout(ms []member) (*debLayout, error) {
	if len(ms) == 0 {
		return nil, facts.Defectf(facts.KindDeb, "empty ar archive: no debian-binary member")
	}
	if ms[0].name != "debian-binary" {
		return nil, facts.Defectf(facts.KindDeb, "first ar member is %q, not debian-binary: an ar archive but not a .deb", ms[0].name)
	}
	l := &debLayout{debianBinary: ms[0]}
	haveControl, haveData := false, false
	for _, m := range ms[1:] {
		if strings.HasPrefix(m.name, "_gpg") {
			if len(l.sigs) == maxSignatures {
				return nil, facts.Defectf(facts.KindDeb, "more than %d _gpg* signature members", maxSignatures)
			}
			l.sigs = append(l.sigs, m)
			continue
		}
		if haveData || strings.HasPrefix(m.name, "_") {
			l.ignored = append(l.ignored, m.name)
			continue
		}
		if suffix, ok, known := splitMember(m.name, "control.tar", controlCompressions); ok {
			if !known {
				return nil, facts.Defectf(facts.KindDeb, "%s: control.tar compression %q is not one dpkg reads (none, .gz, .xz, .zst)", m.name, suffix)
			}
			if haveControl {
				return nil, facts.Defectf(facts.KindDeb, "second control member %q", m.name)
			}
			l.control, l.controlSuffix, haveControl = m, suffix, true
			continue
		}
		if suffix, ok, known := splitMember(m.name, "data.tar", dataCompressions); ok {
			if !known {
				return nil, facts.Defectf(facts.KindDeb, "%s: data.tar compression %q is not one dpkg reads (none, .gz, .xz, .zst, .bz2, .lzma)", m.name, suffix)
			}
			if !haveControl {
				return nil, facts.Defectf(facts.KindDeb, "%s comes before any control.tar member", m.name)
			}
			l.data, l.dataSuffix, haveData = m, suffix, true
			continue
		}
		if m.name == "debian-binary" {
			return nil, facts.Defectf(facts.KindDeb, "second debian-binary member")
		}
		where := "control.tar"
		if haveControl {
			where = "data.tar"
		}
		return nil, facts.Defectf(facts.KindDeb, "unexpected ar member %q before %s (only names starting with \"_\" may stand there)", m.name, where)
	}
	if !haveControl {
		return nil, facts.Defectf(facts.KindDeb, "no control.tar member")
	}
	if !haveData {
		return nil, facts.Defectf(facts.KindDeb, "no data.tar member")
	}
	return l, nil
}

// readMemberBytes reads a small member whole.
func readMemberBytes(r io.ReaderAt, m member, max int64) ([]byte, error) {
	if m.size > max {
		return nil, facts.Defectf(facts.KindDeb, "ar member %q is %d bytes, limit %d", m.name, m.size, max)
	}
	b := make([]byte, m.size)
	if _, err := r.ReadAt(b, m.off); err != nil && !(err == io.EOF && m.size == 0) {
		return nil, facts.Defectf(facts.KindDeb, "reading ar member %q: %v", m.name, err)
	}
	return b, nil
}

func checkDebianBinary(b []byte) error {
	first, _, _ := bytes.Cut(b, []byte("\n"))
	m := formatVersion.FindSubmatch(first)
	if m == nil {
		return facts.Defectf(facts.KindDeb, "debian-binary is %q, not a format version such as \"2.0\"", clip(string(b), 40))
	}
	if string(m[1]) != "2" {
		return facts.Defectf(facts.KindDeb, "format version %s: major version %s is not supported (a .deb is 2.x)", first, m[1])
	}
	return nil
}

// streamTar reads member m (a tar, compressed as suffix says) once,
// sequentially, through a bounded buffer: the raw bytes go to the
// signature checks, the decompressed ones through the budget meter to
// walk. After walk it drains the member, so the decoder reaches the end of
// its stream and checks it.
//
// A stored member (no compression) whose raw bytes no signature check
// needs is read through a skipReader, so the tar walk steps over file
// contents without reading them: a large uncompressed data.tar costs its
// headers, not a second pass over its payload.
func streamTar(r io.ReaderAt, m member, suffix string, v *verifier, b *budget, walk func(*tar.Reader) error) error {
	section := io.NewSectionReader(r, m.off, m.size)
	// The buffer need not be larger than the member: most members of
	// small packages are a few KiB.
	bufSize := int(min(m.size+1, 64<<10))
	var br io.Reader
	if suffix == "" && !v.active() {
		br = newSkipReader(section, max(bufSize, 512))
	} else {
		var raw io.Reader = section
		if v.active() {
			v.begin()
			raw = io.TeeReader(raw, v)
		}
		br = bufio.NewReaderSize(raw, bufSize)
	}
	dec, closeDec, err := decompressor(m.name, suffix, br)
	if err != nil {
		return err
	}
	defer closeDec()
	compressed := m.size
	if suffix == "" {
		compressed = 0
	}
	mt := &meter{r: dec, b: b, name: m.name, compressed: compressed}
	if err := walk(tar.NewReader(mt)); err != nil {
		return err
	}
	if !mt.atTarEnd() {
		return facts.Defectf(facts.KindDeb, "%s: truncated: the tar stops after %d bytes without its end-of-archive blocks", m.name, mt.n)
	}
	if _, err := io.Copy(io.Discard, mt); err != nil {
		return decodeError(m.name, err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return facts.Defectf(facts.KindDeb, "reading %s: %v", m.name, err)
	}
	if v.active() {
		v.end(m.name)
	}
	return nil
}

// assemble turns what was read into Facts.
func assemble(c *control, d *dataSummary, sig *facts.Signature, l *debLayout) *facts.Facts {
	f := &facts.Facts{
		Kind: facts.KindDeb,
		Identity: facts.Identity{
			Name:    c.fields["Package"],
			Version: c.fields["Version"],
			Vendor:  c.fields["Maintainer"],
			Arch:    c.fields["Architecture"],
		},
		Signature: sig,
		Fields:    c.fields,
		Services:  d.services,
		Listeners: d.listeners,
		Files: &facts.FileSummary{
			Count:        d.count,
			Bytes:        d.bytes,
			Conffiles:    c.conffiles,
			SystemdUnits: d.units,
			Sample:       d.sample,
		},
	}
	f.Depends = append(splitDepends(c.fields["Depends"]), splitDepends(c.fields["Pre-Depends"])...)
	for _, s := range scriptNames {
		if detail, ok := c.scripts[s]; ok {
			f.Scripts = append(f.Scripts, facts.Script{Name: s, Kind: "maintainer-script", Detail: detail})
		}
	}
	p := &f.Privilege
	p.RequiresAdmin = true
	p.Reasons = append(p.Reasons, "dpkg installs every package as root")
	if len(c.scripts) > 0 {
		var names []string
		for _, s := range f.Scripts {
			names = append(names, s.Name)
		}
		p.Reasons = append(p.Reasons, "maintainer scripts run as root: "+strings.Join(names, ", "))
	}
	p.Setuid = d.setuid
	p.InstallsService = len(d.reasons["systemd service"]) > 0 || len(d.reasons["init script"]) > 0
	p.InstallsDriver = len(d.reasons["kernel module"]) > 0 || len(d.reasons["DKMS module source"]) > 0
	p.Reasons = append(p.Reasons, d.reasonLines()...)

	f.Components = []facts.Component{{
		Name:      f.Identity.Name,
		Version:   f.Identity.Version,
		Ecosystem: "Debian",
		PURL:      PURL(f.Identity.Name, f.Identity.Version, f.Identity.Arch),
		Supplier:  f.Identity.Vendor,
	}}

	f.NotInspected = append(f.NotInspected,
		"contents of the installed files (only data.tar's headers are read, and the systemd unit and init.d files)",
		"maintainer script bodies (only their #! line is read)",
	)
	var others []string
	for _, o := range c.others {
		if o == "md5sums" {
			f.NotInspected = append(f.NotInspected, "md5sums (not checked against data.tar)")
			continue
		}
		others = append(others, o)
	}
	if len(others) > 0 {
		f.NotInspected = append(f.NotInspected, "control members "+strings.Join(limitList(others, 10), ", "))
	}
	if len(l.ignored) > 0 {
		f.NotInspected = append(f.NotInspected, "ar members "+strings.Join(limitList(l.ignored, 10), ", ")+" (ignored, as dpkg ignores them)")
	}
	return f
}

func limitList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string(nil), s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}

// PURL is the package URL of a Debian binary package:
// pkg:deb/debian/NAME@VERSION?arch=ARCH (purl-spec, type deb).
func PURL(name, version, arch string) string {
	if name == "" {
		return ""
	}
	s := "pkg:deb/debian/" + url.PathEscape(strings.ToLower(name))
	if version != "" {
		s += "@" + url.PathEscape(version)
	}
	if arch != "" {
		s += "?arch=" + url.QueryEscape(arch)
	}
	return s
}
