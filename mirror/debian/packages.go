package debian

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Package is one stanza of a Packages index with the fields the mirror
// needs parsed out. Para keeps every field, in order.
type Package struct {
	Name, Version, Arch string
	Filename            string
	Size                int64
	SHA256              string
	Para                Paragraph
}

// Key identifies a package in an index: name, version and architecture.
func (p *Package) Key() string { return p.Name + "_" + p.Version + "_" + p.Arch }

// PackageFromParagraph validates a Packages stanza. source names the
// index in errors.
func PackageFromParagraph(para Paragraph, source string) (*Package, error) {
	p := &Package{
		Name:     strings.TrimSpace(para.Get("Package")),
		Version:  strings.TrimSpace(para.Get("Version")),
		Arch:     strings.TrimSpace(para.Get("Architecture")),
		Filename: strings.TrimSpace(para.Get("Filename")),
		SHA256:   strings.ToLower(strings.TrimSpace(para.Get("SHA256"))),
		Para:     para,
	}
	bad := func(msg string, args ...any) error {
		name := p.Name
		if name == "" {
			name = "?"
		}
		return fmt.Errorf("%s: package %s: %s: %w", source, name, fmt.Sprintf(msg, args...), ErrSyntax)
	}
	if !validName(p.Name) {
		return nil, bad("invalid Package name %q", clip(p.Name))
	}
	if p.Version == "" || strings.ContainsAny(p.Version, " \t\n") {
		return nil, bad("invalid Version %q", clip(p.Version))
	}
	if err := ValidVersion(p.Version); err != nil {
		return nil, bad("%v", err)
	}
	if p.Arch == "" || strings.ContainsAny(p.Arch, " \t\n/") {
		return nil, bad("invalid Architecture %q", clip(p.Arch))
	}
	if !CleanRelPath(p.Filename) {
		return nil, bad("unsafe or missing Filename %q", clip(p.Filename))
	}
	if !isHex64(p.SHA256) {
		return nil, bad("missing or invalid SHA256 %q", clip(p.SHA256))
	}
	sz, err := strconv.ParseInt(strings.TrimSpace(para.Get("Size")), 10, 64)
	if err != nil || sz < 0 {
		return nil, bad("invalid Size %q", clip(para.Get("Size")))
	}
	p.Size = sz
	return p, nil
}

// ParsePackages reads a whole Packages index.
func ParsePackages(r io.Reader, source string) ([]*Package, error) {
	pr := NewReader(r, source)
	var out []*Package
	for {
		para, err := pr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		p, err := PackageFromParagraph(para, source)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

// validName follows Debian policy 5.6.1 (lowercase letters, digits, + - .),
// at least two characters, starting with an alphanumeric.
func validName(s string) bool {
	if len(s) < 2 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '+' || c == '-' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidName reports whether s is a valid Debian package name.
func ValidName(s string) bool { return validName(s) }
