// Package version orders package versions the way each OSV ecosystem does
// (https://ossf.github.io/osv-schema/#affectedpackage-field), so that an
// OSV range's events can be sorted and a component's version placed among
// them.
//
// Every order here is total on the versions it parses: Compare is
// reflexive, antisymmetric and transitive (the fuzz targets check this on
// triples). A string an order does not parse is an error, never a guess:
// the matcher then reports the finding as undecided instead of passing it.
//
// Orders:
//
//	Semver    SemVer 2.0 precedence (section 11), leniently parsed: an optional
//	          "v", any number of numeric release parts (missing parts are 0).
//	          OSV SEMVER ranges, npm, crates.io, Hex, SwiftURL.
//	Go        Semver plus Go's forms: "v" prefix, "+incompatible" (build
//	          metadata, ignored), pseudo-versions (semver pre-releases, ordered
//	          as semver), and toolchain tags "go1.21rc2" = 1.21.0-rc.2.
//	NuGet     NuGet's SemVer 2.0: up to four release parts, pre-release
//	          labels compared case-insensitively, metadata ignored.
//	Debian    dpkg's order (epochs, "~" before everything), from mirror/debian.
//	          Debian and Ubuntu.
//	PyPI      PEP 440 (epochs, pre/post/dev releases, local versions).
//	Maven     Maven's ComparableVersion (qualifiers alpha < beta < milestone <
//	          rc = cr < snapshot < "" = final = ga < sp, then unknown ones
//	          lexically; '-' and '.' separators; digit/letter transitions).
//	Alpine    apk-tools' order (digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}).
//	          Alpine, Wolfi, Chainguard.
//	RPM       rpmvercmp on [epoch:]version[-release] (tilde and caret).
//	          Red Hat, Rocky Linux, AlmaLinux, SUSE, openSUSE, Mageia,
//	          Photon OS, openEuler, Azure Linux.
//	RubyGems  Gem::Version.
//
// Any other ecosystem has no order here: ForEcosystem reports false.
package version

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("not a valid version")

// MaxLen bounds the length of a version string any order parses.
const MaxLen = 1024

// Version is a version parsed by one Order. Compare returns -1, 0 or +1 and
// must only be given a Version parsed by the same Order.
type Version interface {
	Compare(Version) int
	String() string
}

// Order is one ecosystem's version order.
type Order interface {
	// Name names the order ("semver", "PyPI", ...).
	Name() string
	// Parse reads s; the error wraps ErrSyntax and says what is wrong.
	Parse(s string) (Version, error)
}

// The orders.
var (
	Semver   Order = semverOrder{name: "semver"}
	Go       Order = goOrder{}
	NuGet    Order = semverOrder{name: "NuGet", fold: true}
	Debian   Order = debianOrder{}
	PyPI     Order = pep440Order{}
	Maven    Order = mavenOrder{}
	Alpine   Order = alpineOrder{}
	RPM      Order = rpmOrder{}
	RubyGems Order = gemOrder{}
)

// byEcosystem maps an OSV ecosystem name (without its ":suffix") to its order.
var byEcosystem = map[string]Order{
	"npm":         Semver,
	"crates.io":   Semver,
	"Hex":         Semver,
	"SwiftURL":    Semver,
	"Go":          Go,
	"NuGet":       NuGet,
	"Debian":      Debian,
	"Ubuntu":      Debian,
	"PyPI":        PyPI,
	"Maven":       Maven,
	"Alpine":      Alpine,
	"Wolfi":       Alpine,
	"Chainguard":  Alpine,
	"Red Hat":     RPM,
	"Rocky Linux": RPM,
	"AlmaLinux":   RPM,
	"SUSE":        RPM,
	"openSUSE":    RPM,
	"Mageia":      RPM,
	"Photon OS":   RPM,
	"openEuler":   RPM,
	"Azure Linux": RPM,
	"RubyGems":    RubyGems,
}

// Base returns the ecosystem name without its ":suffix" ("Debian:12" ->
// "Debian", "Red Hat:rhel_aus:8.6::appstream" -> "Red Hat").
func Base(ecosystem string) string {
	if i := strings.IndexByte(ecosystem, ':'); i >= 0 {
		return ecosystem[:i]
	}
	return ecosystem
}

// ForEcosystem returns the order of an OSV ecosystem ("Debian:12" uses
// Debian's). The second result is false when no order is known here.
func ForEcosystem(ecosystem string) (Order, bool) {
	o, ok := byEcosystem[Base(ecosystem)]
	return o, ok
}

// Ecosystems lists the ecosystems that have an order, sorted.
func Ecosystems() []string {
	out := make([]string, 0, len(byEcosystem))
	for k := range byEcosystem {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Compare parses a and b with o and compares them.
func Compare(o Order, a, b string) (int, error) {
	va, err := o.Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := o.Parse(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

func syntaxf(order, v, format string, args ...any) error {
	return fmt.Errorf("%w: %s version %q: %s", ErrSyntax, order, clip(v), fmt.Sprintf(format, args...))
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func checkLen(order, s string) error {
	if s == "" {
		return syntaxf(order, s, "empty")
	}
	if len(s) > MaxLen {
		return syntaxf(order, s, "longer than %d bytes", MaxLen)
	}
	return nil
}

// cmpNum compares two non-negative decimal numbers written as digit
// strings of any length (leading zeros allowed).
func cmpNum(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
