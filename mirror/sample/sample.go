// Package sample writes a small signed upstream APT repository entirely in
// Go: .deb files (ar archives of gzipped tars), Packages indexes and a
// Release signed with a new OpenPGP key, with no dpkg-deb, apt-ftparchive
// or gpg. 'eucora dev' serves it over loopback so that EUCORA's own mirror
// can mirror, verify and republish it on a machine that has nothing but
// the eucora binary.
package sample

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/mirror/debian"
)

// ErrInvalid is wrapped by every refusal of Write's options.
var ErrInvalid = errors.New("invalid sample repository options")

// Package is one binary package of the sample repository.
type Package struct {
	// Name and Version must be a valid Debian package name and version.
	// Description is the synopsis, optionally followed by lines of the
	// extended description.
	Name, Version, Description string
	Depends                    string            // optional Depends field
	Files                      map[string][]byte // data.tar paths (e.g. "usr/share/doc/NAME/README") to contents
}

// Options of the repository; zero fields take the defaults (dist "stable",
// component "main", arch "amd64", origin "EUCORA sample", Packages
// Default(), Now the current time).
type Options struct {
	Dist, Component, Arch, Origin string
	Packages                      []Package
	// Now is the Release Date and every mtime in the .deb files: two
	// Writes with the same Now and packages give the same .deb and
	// Packages bytes.
	Now time.Time
}

// Repo is what Write made.
type Repo struct {
	Dir, Dist, Component, Arch string
	Keyring                    string // path of the binary public keyring (for `mirror apt create --keyring`)
	Fingerprint                string
	Debs                       []string // paths of the .deb files, relative to Dir (the Filename fields)
}

// Default is the sample set: eucora-hello 1.0 (Depends: libeucora-demo
// (>= 1.0)), libeucora-demo 1.0 and eucora-agent-demo 2.1, each with a
// README and a tiny script under usr/bin.
func Default() []Package {
	pkg := func(name, version, synopsis, depends, script string) Package {
		return Package{
			Name: name, Version: version, Depends: depends,
			Description: synopsis + "\nPart of the EUCORA sample repository written by 'eucora dev'\n(EUCORA-architecture.md section 7.4).",
			Files: map[string][]byte{
				"usr/share/doc/" + name + "/README": []byte(name + " " + version + "\n\n" + synopsis + ".\nA package of the EUCORA sample repository.\n"),
				"usr/bin/" + name:                   []byte("#!/bin/sh\n" + script + "\n"),
			},
		}
	}
	return []Package{
		pkg("eucora-hello", "1.0", "greets from the EUCORA sample repository", "libeucora-demo (>= 1.0)",
			`echo "hello from eucora-hello 1.0"`),
		pkg("libeucora-demo", "1.0", "demo library of the EUCORA sample repository", "",
			`echo "libeucora-demo 1.0"`),
		pkg("eucora-agent-demo", "2.1", "demo agent of the EUCORA sample repository", "",
			`echo "eucora-agent-demo 2.1: nothing to do"`),
	}
}

// Write writes a signed repository into dir (which must be empty or
// absent): pool/COMP/<l>/<name>/NAME_VER_ARCH.deb,
// dists/DIST/COMP/binary-ARCH/Packages and Packages.gz, dists/DIST/Release,
// InRelease and Release.gpg, signed with a new key generated under dir/key/
// (mirror.GenerateKey). Only the public keyring is kept there: the private
// key is removed once the Release is signed, so serving dir never serves
// it. Bad options (empty name, a name or version that is not a valid
// Debian name/version, duplicate packages, unsafe file paths like "../x"
// or "/abs", a non-empty dir) are refused with an error naming the field,
// wrapping ErrInvalid, and nothing is written.
func Write(dir string, o Options) (*Repo, error) {
	o, err := normalize(o)
	if err != nil {
		return nil, err
	}
	created, err := checkDir(dir)
	if err != nil {
		return nil, err
	}
	repo, err := write(dir, o)
	if err != nil {
		// Leave dir as it was found.
		if created {
			os.RemoveAll(dir)
		} else if ents, rerr := os.ReadDir(dir); rerr == nil {
			for _, e := range ents {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
		return nil, err
	}
	return repo, nil
}

// checkDir refuses a dir that is not an empty directory; created reports
// whether it was absent (Write then removes it on failure).
func checkDir(dir string) (created bool, err error) {
	if dir == "" {
		return false, fmt.Errorf("dir: empty path: %w", ErrInvalid)
	}
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("dir %s: %w", dir, err)
	}
	if !st.IsDir() {
		return false, fmt.Errorf("dir %s: not a directory: %w", dir, ErrInvalid)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("dir %s: %w", dir, err)
	}
	if len(ents) > 0 {
		return false, fmt.Errorf("dir %s: not empty (holds %s): %w", dir, ents[0].Name(), ErrInvalid)
	}
	return false, nil
}

// built is one package ready to be written: its .deb and its stanza.
type built struct {
	filename string
	deb      []byte
	stanza   debian.Paragraph
}

func write(dir string, o Options) (*Repo, error) {
	var debs []built
	for _, p := range o.Packages {
		b, err := buildDeb(p, o)
		if err != nil {
			return nil, err
		}
		debs = append(debs, b)
	}
	packages := packagesIndex(debs)
	packagesGz, err := gzipBytes(packages)
	if err != nil {
		return nil, err
	}
	bin := o.Component + "/binary-" + o.Arch
	release := releaseFile(o, map[string][]byte{bin + "/Packages": packages, bin + "/Packages.gz": packagesGz})

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	key, err := mirror.GenerateKey(filepath.Join(dir, "key"), "sample", "EUCORA sample repository")
	if err != nil {
		return nil, fmt.Errorf("sample signing key: %w", err)
	}
	signer, err := mirror.LoadSigner(key.PrivateKey)
	if err != nil {
		return nil, err
	}
	inRelease, err := signer.ClearSign(release)
	if err != nil {
		return nil, fmt.Errorf("signing InRelease: %w", err)
	}
	releaseGpg, err := signer.DetachSign(release)
	if err != nil {
		return nil, fmt.Errorf("signing Release.gpg: %w", err)
	}
	if err := os.Remove(key.PrivateKey); err != nil {
		return nil, err
	}

	files := map[string][]byte{}
	repo := &Repo{Dir: dir, Dist: o.Dist, Component: o.Component, Arch: o.Arch, Keyring: key.PublicGPG, Fingerprint: key.Fingerprint}
	for _, b := range debs {
		files[b.filename] = b.deb
		repo.Debs = append(repo.Debs, b.filename)
	}
	dd := "dists/" + o.Dist + "/"
	files[dd+bin+"/Packages"] = packages
	files[dd+bin+"/Packages.gz"] = packagesGz
	files[dd+"Release"] = release
	files[dd+"InRelease"] = inRelease
	files[dd+"Release.gpg"] = releaseGpg
	for _, rel := range sortedKeys(files) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(p, files[rel], 0o644); err != nil {
			return nil, err
		}
	}
	return repo, nil
}

// normalize fills the defaults and validates o.
func normalize(o Options) (Options, error) {
	bad := func(field, msg string, args ...any) error {
		return fmt.Errorf("%s: %s: %w", field, fmt.Sprintf(msg, args...), ErrInvalid)
	}
	if o.Dist == "" {
		o.Dist = "stable"
	}
	if o.Component == "" {
		o.Component = "main"
	}
	if o.Arch == "" {
		o.Arch = "amd64"
	}
	if o.Origin == "" {
		o.Origin = "EUCORA sample"
	}
	if o.Packages == nil {
		o.Packages = Default()
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	if o.Now.Unix() < 0 {
		return o, bad("Now", "%s is before 1970 (ar and tar headers cannot hold it)", o.Now.Format(time.RFC3339))
	}
	for _, f := range []struct{ name, v string }{{"Dist", o.Dist}, {"Component", o.Component}} {
		if !token(f.v, "._-+~") {
			return o, bad(f.name, "%q: want letters, digits and . _ - + ~ only", f.v)
		}
	}
	if !token(o.Arch, "-") || strings.ToLower(o.Arch) != o.Arch {
		return o, bad("Arch", "%q: want lower-case letters, digits and '-' only (e.g. amd64)", o.Arch)
	}
	if !printable(o.Origin) {
		return o, bad("Origin", "%q: want one line of printable characters", o.Origin)
	}
	if len(o.Packages) == 0 {
		return o, bad("Packages", "no packages (nil takes Default())")
	}
	seen := map[string]int{}
	files := map[string]int{}
	for i, p := range o.Packages {
		field := fmt.Sprintf("Packages[%d]", i)
		if err := checkPackage(p); err != nil {
			return o, fmt.Errorf("%s%w", field, err)
		}
		key := p.Name + " " + p.Version
		if j, ok := seen[key]; ok {
			return o, bad(field, "duplicate package %s %s (also Packages[%d])", p.Name, p.Version, j)
		}
		seen[key] = i
		fn := poolPath(o.Component, p, o.Arch)
		if j, ok := files[fn]; ok {
			return o, bad(field+".Version", "%s %s has the same pool file %s as Packages[%d] (versions differing only by epoch)", p.Name, p.Version, fn, j)
		}
		files[fn] = i
	}
	return o, nil
}

// checkPackage validates one package; its errors start with ".Field" so
// that the caller can prefix the package's index.
func checkPackage(p Package) error {
	bad := func(field, msg string, args ...any) error {
		return fmt.Errorf(".%s: %s: %w", field, fmt.Sprintf(msg, args...), ErrInvalid)
	}
	switch {
	case p.Name == "":
		return bad("Name", "empty")
	case !debian.ValidName(p.Name):
		return bad("Name", "%q is not a Debian package name (lower-case letters, digits, + - ., at least 2, starting alphanumeric)", p.Name)
	case p.Version == "":
		return bad("Version", "empty")
	case strings.ContainsAny(p.Version, " \t\r\n"):
		return bad("Version", "%q holds white space", p.Version)
	}
	if err := debian.ValidVersion(p.Version); err != nil {
		return bad("Version", "%v", err)
	}
	lines := strings.Split(p.Description, "\n")
	if strings.TrimSpace(lines[0]) == "" {
		return bad("Description", "the first line (the synopsis) is empty")
	}
	for _, l := range lines {
		if !printable(l) && l != "" {
			return bad("Description", "line %q holds control characters", l)
		}
	}
	if p.Depends != "" {
		if !printable(p.Depends) {
			return bad("Depends", "%q: want one line of printable characters", p.Depends)
		}
		if _, err := debian.ParseRelations(p.Depends); err != nil {
			return bad("Depends", "%v", err)
		}
	}
	dirs := map[string]bool{}
	for _, name := range sortedKeys(p.Files) {
		if !debian.CleanRelPath(name) || strings.HasSuffix(name, "/") {
			return bad("Files", "unsafe path %q (want a relative path without '.', '..', empty elements or control characters)", name)
		}
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for name := range p.Files {
		if dirs[name] {
			return bad("Files", "%q is both a file and a directory of another file", name)
		}
	}
	return nil
}

// token reports whether s is non-empty and made of ASCII letters, digits
// and the characters of extra, starting with a letter or digit.
func token(s, extra string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune(extra, rune(c))) {
			return false
		}
	}
	return true
}

// printable reports whether s is one non-empty line without control
// characters (a control field value).
func printable(s string) bool {
	if strings.TrimSpace(s) == "" {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// poolPath is the Filename of p: pool/COMP/<l>/NAME/NAME_VER_ARCH.deb,
// where <l> is the first letter, or "lib" and the fourth for lib*
// packages, and VER omits the epoch (as the Debian archive does).
func poolPath(comp string, p Package, arch string) string {
	l := p.Name[:1]
	if strings.HasPrefix(p.Name, "lib") && len(p.Name) > 3 {
		l = p.Name[:4]
	}
	v := p.Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return fmt.Sprintf("pool/%s/%s/%s/%s_%s_%s.deb", comp, l, p.Name, p.Name, v, arch)
}

// packagesIndex is the Packages file: one stanza per package, in the
// order of Options.Packages sorted by name then version.
func packagesIndex(debs []built) []byte {
	sort.SliceStable(debs, func(i, j int) bool {
		a, b := debs[i].stanza, debs[j].stanza
		if a.Get("Package") != b.Get("Package") {
			return a.Get("Package") < b.Get("Package")
		}
		return debian.CompareVersions(a.Get("Version"), b.Get("Version")) < 0
	})
	var b bytes.Buffer
	for _, d := range debs {
		d.stanza.WriteTo(&b)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// releaseFile is dists/DIST/Release listing indexes (paths relative to
// dists/DIST/) with their MD5 and SHA-256 sums and sizes.
func releaseFile(o Options, indexes map[string][]byte) []byte {
	var md5s, shas strings.Builder
	for _, name := range sortedKeys(indexes) {
		data := indexes[name]
		m := md5.Sum(data)
		s := sha256.Sum256(data)
		fmt.Fprintf(&md5s, "\n %s %d %s", hex.EncodeToString(m[:]), len(data), name)
		fmt.Fprintf(&shas, "\n %s %d %s", hex.EncodeToString(s[:]), len(data), name)
	}
	p := debian.Paragraph{
		{Name: "Origin", Value: o.Origin},
		{Name: "Label", Value: o.Origin},
		{Name: "Suite", Value: o.Dist},
		{Name: "Codename", Value: o.Dist},
		{Name: "Date", Value: debian.FormatDate(o.Now)},
		{Name: "Architectures", Value: o.Arch},
		{Name: "Components", Value: o.Component},
		{Name: "Description", Value: "EUCORA sample repository (EUCORA-architecture.md section 7.4)"},
		{Name: "MD5Sum", Value: md5s.String()},
		{Name: "SHA256", Value: shas.String()},
	}
	return []byte(p.String())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// itoa is strconv.Itoa for int64.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
