package vuln

import (
	"net/url"
	"strings"

	"github.com/eucora/eucora/packaging/vuln/version"
)

// splitEcosystem splits "Debian:12" into "Debian" and "12"; the base is
// spelled as the schema spells it whatever its case ("pypi" -> "PyPI").
func splitEcosystem(eco string) (base, suffix string) {
	base, suffix, _ = strings.Cut(eco, ":")
	if c, ok := canonicalEcosystems[strings.ToLower(base)]; ok {
		base = c
	}
	return base, suffix
}

// Ecosystems are the ecosystem names of osv-schema 1.9.0 (ecosystems.json).
var Ecosystems = []string{"AlmaLinux", "Alpaquita", "Alpine", "Android", "Azure Linux", "BellSoft Hardened Containers",
	"Bioconductor", "Bitnami", "Chainguard", "CleanStart", "ConanCenter", "CRAN", "crates.io", "Debian",
	"Docker Hardened Images", "Echo", "FreeBSD", "GHC", "GIT", "GitHub Actions", "Go", "Hackage", "Hex", "Homebrew",
	"Julia", "Kubernetes", "Linux", "Mageia", "Maven", "MinimOS", "npm", "NuGet", "opam", "openEuler", "openSUSE",
	"OSS-Fuzz", "Packagist", "Photon OS", "Pub", "PyPI", "Red Hat", "Rocky Linux", "Root", "RubyGems", "SUSE",
	"SwiftURL", "TuxCare", "Ubuntu", "vcpkg", "VSCode", "Wolfi", "WordPress"}

var canonicalEcosystems = func() map[string]string {
	m := map[string]string{}
	for _, e := range Ecosystems {
		m[strings.ToLower(e)] = e
	}
	return m
}()

// suffixMatch reports whether a component of ecosystem suffix cs may be
// affected by a record entry of suffix rs (same base ecosystem). An empty
// suffix on either side matches every release: a component that does not
// say which Debian release it comes from is checked against all of them
// (the conservative choice), and a record without a release applies to
// every release.
func suffixMatch(base, cs, rs string) bool {
	if cs == "" || rs == "" {
		return true
	}
	return normSuffix(base, cs) == normSuffix(base, rs)
}

func normSuffix(base, s string) string {
	switch base {
	case "Ubuntu":
		// "Pro:18.04:LTS" and "18.04" are the same release
		s = strings.TrimPrefix(s, "Pro:")
		s = strings.TrimSuffix(s, ":LTS")
	case "Alpine":
		if !strings.HasPrefix(s, "v") {
			s = "v" + s
		}
	}
	return strings.ToLower(s)
}

// pep503Name is PEP 503's re.sub(r"[-_.]+", "-", name).lower().
func pep503Name(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return strings.ToLower(b.String()) // non-ASCII letters too, as Python's lower()
}

// NormalizeName is the name under which a package of ecosystem is
// indexed: PyPI names as PEP 503 normalises them ("Foo_Bar.baz" ->
// "foo-bar-baz"); NuGet, Packagist and the Linux distributions'
// lower-case; every other ecosystem's names compare as written (the
// schema defines no other normalisation; Go module paths, Maven
// coordinates and npm names are case-sensitive).
func NormalizeName(ecosystem, name string) string {
	switch base, _ := splitEcosystem(ecosystem); base {
	case "PyPI":
		return pep503Name(name)
	case "NuGet", "Packagist", "Debian", "Ubuntu", "Alpine", "Wolfi", "Chainguard":
		return strings.ToLower(name)
	}
	return name
}

// PURL is a parsed package URL (https://github.com/package-url/purl-spec).
type PURL struct {
	Type, Namespace, Name, Version string
	Qualifiers                     url.Values
}

// ParsePURL reads "pkg:type/namespace/name@version?qualifiers#subpath".
func ParsePURL(s string) (PURL, bool) {
	var p PURL
	rest, ok := cutPrefixFold(s, "pkg:")
	if !ok {
		return p, false
	}
	rest = strings.TrimLeft(rest, "/")
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		q, err := url.ParseQuery(rest[i+1:])
		if err == nil {
			p.Qualifiers = q
		}
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i > strings.LastIndexByte(rest, '/') {
		v, err := url.PathUnescape(rest[i+1:])
		if err != nil {
			return p, false
		}
		p.Version = v
		rest = rest[:i]
	}
	t, path, ok := strings.Cut(rest, "/")
	if !ok || t == "" {
		return p, false
	}
	p.Type = strings.ToLower(t)
	path = strings.Trim(path, "/")
	segs := strings.Split(path, "/")
	for i, sg := range segs {
		u, err := url.PathUnescape(sg)
		if err != nil {
			return p, false
		}
		segs[i] = u
	}
	p.Name = segs[len(segs)-1]
	p.Namespace = strings.Join(segs[:len(segs)-1], "/")
	if p.Name == "" {
		return p, false
	}
	return p, true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// purl types whose namespace and name are case-insensitive (the purl spec
// says they are lower-cased).
var purlFold = map[string]bool{"npm": true, "pypi": true, "deb": true, "nuget": true, "composer": true, "apk": true,
	"hex": true, "pub": true, "github": true, "bitbucket": true, "alpm": true}

// key is the index key of a purl: type/namespace/name, normalised.
func (p PURL) key() string {
	ns, name := p.Namespace, p.Name
	if p.Type == "pypi" {
		name = pep503Name(name)
	}
	if purlFold[p.Type] {
		ns, name = strings.ToLower(ns), strings.ToLower(name)
	}
	return p.Type + "/" + ns + "/" + name
}

var debianReleases = map[string]string{"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "stretch": "9", "jessie": "8"}
var ubuntuReleases = map[string]string{"bionic": "18.04", "focal": "20.04", "jammy": "22.04", "noble": "24.04", "xenial": "16.04"}

// ecosystem maps a purl to the OSV ecosystem and package name it names,
// or "" when there is no such mapping.
func (p PURL) ecosystem() (eco, name string) {
	joined := func(sep string) string {
		if p.Namespace == "" {
			return p.Name
		}
		return p.Namespace + sep + p.Name
	}
	distro := strings.ToLower(p.Qualifiers.Get("distro"))
	switch p.Type {
	case "npm":
		return "npm", joined("/")
	case "pypi":
		return "PyPI", p.Name
	case "maven":
		return "Maven", joined(":")
	case "golang":
		return "Go", joined("/")
	case "cargo":
		return "crates.io", p.Name
	case "nuget":
		return "NuGet", p.Name
	case "gem":
		return "RubyGems", p.Name
	case "composer":
		return "Packagist", joined("/")
	case "hex":
		return "Hex", p.Name
	case "pub":
		return "Pub", p.Name
	case "deb":
		switch strings.ToLower(p.Namespace) {
		case "debian":
			rel := strings.TrimPrefix(distro, "debian-")
			if r, ok := debianReleases[rel]; ok {
				rel = r
			}
			if i := strings.IndexByte(rel, '.'); i > 0 {
				rel = rel[:i] // debian-12.4 -> 12
			}
			return withRelease("Debian", rel), p.Name
		case "ubuntu":
			rel := strings.TrimPrefix(distro, "ubuntu-")
			if r, ok := ubuntuReleases[rel]; ok {
				rel = r
			}
			return withRelease("Ubuntu", rel), p.Name
		}
	case "apk":
		switch strings.ToLower(p.Namespace) {
		case "alpine":
			rel := strings.TrimPrefix(distro, "alpine-")
			if parts := strings.Split(rel, "."); len(parts) >= 2 {
				rel = "v" + parts[0] + "." + parts[1]
			} else {
				rel = ""
			}
			return withRelease("Alpine", rel), p.Name
		case "wolfi":
			return "Wolfi", p.Name
		case "chainguard":
			return "Chainguard", p.Name
		}
	case "rpm":
		switch strings.ToLower(p.Namespace) {
		case "redhat":
			return "Red Hat", p.Name
		case "rocky", "rocky-linux":
			return "Rocky Linux", p.Name
		case "almalinux":
			return "AlmaLinux", p.Name
		case "opensuse":
			return "openSUSE", p.Name
		case "suse":
			return "SUSE", p.Name
		case "mageia":
			return "Mageia", p.Name
		}
	}
	return "", ""
}

// upstream is the source package a binary package's purl names (syft
// writes "upstream=openssl" or "upstream=openssl@3.0.11-1" on deb and apk
// purls): OSV's Linux distribution records name source packages.
func (p PURL) upstream() string {
	if p.Type != "deb" && p.Type != "apk" {
		return ""
	}
	u := p.Qualifiers.Get("upstream")
	if i := strings.IndexByte(u, '@'); i >= 0 {
		u = u[:i]
	}
	return strings.TrimSpace(u)
}

func withRelease(base, rel string) string {
	if rel == "" {
		return base
	}
	return base + ":" + rel
}

// orderFor is the order of an ecosystem, or nil.
func orderFor(eco string) version.Order {
	o, _ := version.ForEcosystem(eco)
	return o
}
