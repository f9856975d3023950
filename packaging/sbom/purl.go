package sbom

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/eucora/eucora/internal/clip"
)

// ErrPURL reports a string that is not a package URL.
var ErrPURL = errors.New("invalid package URL")

// PURL is a package URL (github.com/package-url/purl-spec):
//
//	pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH
//
// Fields hold decoded text; String encodes them.
type PURL struct {
	Type       string            // lowercase: deb, npm, pypi, golang, maven, generic...
	Namespace  string            // "/"-separated segments, decoded; "" when none
	Name       string            // never empty
	Version    string            // "" when none
	Qualifiers map[string]string // keys lowercase
	Subpath    string
}

// ParsePURL decodes s. It refuses a string without the pkg: scheme, a
// type, a name, or with bad percent-encoding, naming what is wrong.
func ParsePURL(s string) (PURL, error) {
	var p PURL
	rest, ok := cutPrefixFold(s, "pkg:")
	if !ok {
		return p, fmt.Errorf("%w: %q does not start with pkg:", ErrPURL, clip.String(s, 120))
	}
	rest = strings.TrimLeft(rest, "/")
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		sub, err := url.PathUnescape(rest[i+1:])
		if err != nil {
			return p, fmt.Errorf("%w: %q: subpath: %v", ErrPURL, clip.String(s, 120), err)
		}
		p.Subpath = strings.Trim(sub, "/")
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		q := rest[i+1:]
		rest = rest[:i]
		for _, kv := range strings.Split(q, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			k = strings.ToLower(k)
			if !validQualifierKey(k) {
				return p, fmt.Errorf("%w: %q: qualifier key %q", ErrPURL, clip.String(s, 120), clip.String(k, 40))
			}
			dv, err := url.PathUnescape(v)
			if err != nil {
				return p, fmt.Errorf("%w: %q: qualifier %s: %v", ErrPURL, clip.String(s, 120), k, err)
			}
			if dv == "" {
				continue
			}
			if p.Qualifiers == nil {
				p.Qualifiers = map[string]string{}
			}
			p.Qualifiers[k] = dv
		}
	}
	typ, rest, ok := strings.Cut(rest, "/")
	typ = strings.ToLower(typ)
	if !validType(typ) {
		return p, fmt.Errorf("%w: %q: type %q", ErrPURL, clip.String(s, 120), clip.String(typ, 40))
	}
	if !ok {
		return p, fmt.Errorf("%w: %q has no name", ErrPURL, clip.String(s, 120))
	}
	p.Type = typ
	rest = strings.TrimRight(rest, "/")
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		v, err := url.PathUnescape(rest[i+1:])
		if err != nil {
			return PURL{}, fmt.Errorf("%w: %q: version: %v", ErrPURL, clip.String(s, 120), err)
		}
		p.Version = v
		rest = rest[:i]
	}
	segs := strings.Split(rest, "/")
	name, err := url.PathUnescape(segs[len(segs)-1])
	if err != nil {
		return PURL{}, fmt.Errorf("%w: %q: name: %v", ErrPURL, clip.String(s, 120), err)
	}
	if name == "" {
		return PURL{}, fmt.Errorf("%w: %q has no name", ErrPURL, clip.String(s, 120))
	}
	p.Name = name
	var ns []string
	for _, seg := range segs[:len(segs)-1] {
		if seg == "" {
			continue
		}
		d, err := url.PathUnescape(seg)
		if err != nil {
			return PURL{}, fmt.Errorf("%w: %q: namespace: %v", ErrPURL, clip.String(s, 120), err)
		}
		ns = append(ns, d)
	}
	p.Namespace = strings.Join(ns, "/")
	return p, nil
}

// String is the canonical encoding of p: qualifiers sorted by key, empty
// ones left out, each component percent-encoded.
func (p PURL) String() string {
	var b strings.Builder
	b.WriteString("pkg:")
	b.WriteString(strings.ToLower(p.Type))
	b.WriteByte('/')
	if p.Namespace != "" {
		for _, seg := range strings.Split(p.Namespace, "/") {
			if seg == "" {
				continue
			}
			b.WriteString(escapePURL(seg, false))
			b.WriteByte('/')
		}
	}
	b.WriteString(escapePURL(p.Name, false))
	if p.Version != "" {
		b.WriteByte('@')
		b.WriteString(escapePURL(p.Version, true))
	}
	keys := make([]string, 0, len(p.Qualifiers))
	for k, v := range p.Qualifiers {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(strings.ToLower(k))
		b.WriteByte('=')
		b.WriteString(escapePURL(p.Qualifiers[k], true))
	}
	if sub := strings.Trim(p.Subpath, "/"); sub != "" {
		b.WriteByte('#')
		for i, seg := range strings.Split(sub, "/") {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(escapePURL(seg, false))
		}
	}
	return b.String()
}

// escapePURL percent-encodes everything but the unreserved characters
// (and ':' where the spec lets it stand: versions and qualifier values).
func escapePURL(s string, colon bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == '~' || colon && c == ':' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func validType(t string) bool {
	if t == "" || !('a' <= t[0] && t[0] <= 'z') {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

func validQualifierKey(k string) bool {
	if k == "" || '0' <= k[0] && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// ecosystems maps a purl type to its OSV ecosystem
// (ossf.github.io/osv-schema, "ecosystem"). Types whose ecosystem depends
// on the namespace (deb, apk, rpm) are in distroEcosystems.
var ecosystems = map[string]string{
	"npm":      "npm",
	"pypi":     "PyPI",
	"golang":   "Go",
	"maven":    "Maven",
	"nuget":    "NuGet",
	"cargo":    "crates.io",
	"gem":      "RubyGems",
	"composer": "Packagist",
	"hex":      "Hex",
	"pub":      "Pub",
	"hackage":  "Hackage",
	"cran":     "CRAN",
	"swift":    "SwiftURL",
	"conan":    "ConanCenter",
	"bitnami":  "Bitnami",
}

// distroEcosystems maps a distribution purl type and namespace to its OSV
// ecosystem; "" is the type's default when the namespace is not listed.
var distroEcosystems = map[string]map[string]string{
	"deb": {"": "Debian", "debian": "Debian", "ubuntu": "Ubuntu"},
	"apk": {"": "Alpine", "alpine": "Alpine", "wolfi": "Wolfi", "chainguard": "Chainguard"},
	"rpm": {"redhat": "Red Hat", "rocky": "Rocky Linux", "rocky-linux": "Rocky Linux", "almalinux": "AlmaLinux",
		"opensuse": "openSUSE", "suse": "SUSE", "mageia": "Mageia", "photon": "Photon OS", "openeuler": "openEuler"},
}

// EcosystemOfPURL returns the OSV ecosystem of a package URL: deb ->
// Debian (Ubuntu for pkg:deb/ubuntu), npm -> npm, pypi -> PyPI, golang ->
// Go, maven -> Maven, nuget -> NuGet, cargo -> crates.io, gem -> RubyGems,
// apk -> Alpine, composer -> Packagist, and so on; "" for a type OSV has
// no ecosystem for (generic, github, docker...) or a string that is not a
// package URL.
func EcosystemOfPURL(purl string) string {
	p, err := ParsePURL(purl)
	if err != nil {
		return ""
	}
	return p.Ecosystem()
}

// Ecosystem is p's OSV ecosystem (see EcosystemOfPURL).
func (p PURL) Ecosystem() string {
	if m, ok := distroEcosystems[p.Type]; ok {
		ns := strings.ToLower(p.Namespace)
		if e, ok := m[ns]; ok {
			return e
		}
		return m[""]
	}
	return ecosystems[p.Type]
}

// OSVName is the package name as OSV records write it in the ecosystem of
// p: "group:artifact" for Maven, the module path for Go, "@scope/name" or
// "name" for npm, "vendor/name" for Packagist, the name otherwise.
func (p PURL) OSVName() string {
	switch p.Type {
	case "maven":
		if p.Namespace != "" {
			return strings.ReplaceAll(p.Namespace, "/", ".") + ":" + p.Name
		}
	case "golang", "npm", "composer", "swift":
		if p.Namespace != "" {
			return p.Namespace + "/" + p.Name
		}
	}
	return p.Name
}
