package version

import "strings"

// semverOrder is SemVer 2.0 precedence over a lenient parse: an optional
// leading "v", one or more numeric release parts (a missing part is 0, so
// "1.2" = "1.2.0"), an optional "-pre.release" and "+build" (ignored). A
// string that is valid SemVer 2.0 is ordered exactly as section 11 says.
// fold makes pre-release labels compare case-insensitively (NuGet).
type semverOrder struct {
	name string
	fold bool
}

type semver struct {
	s       string
	release []string // digit strings, leading zeros removed
	pre     []string // nil: a release
	fold    bool
}

func (o semverOrder) Name() string { return o.name }

func (o semverOrder) Parse(s string) (Version, error) {
	v, err := parseSemver(o.name, s, o.fold)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func parseSemver(order, s string, fold bool) (*semver, error) {
	if err := checkLen(order, s); err != nil {
		return nil, err
	}
	v := &semver{s: s, fold: fold}
	rest := s
	if len(rest) > 1 && (rest[0] == 'v' || rest[0] == 'V') && isDigit(rest[1]) {
		rest = rest[1:]
	}
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		if err := checkIdents(order, s, rest[i+1:], "build metadata"); err != nil {
			return nil, err
		}
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		if err := checkIdents(order, s, pre, "pre-release"); err != nil {
			return nil, err
		}
		v.pre = strings.Split(pre, ".")
		rest = rest[:i]
	}
	for _, p := range strings.Split(rest, ".") {
		if !allDigits(p) {
			return nil, syntaxf(order, s, "release part %q is not a number", clip(p))
		}
		p = strings.TrimLeft(p, "0")
		if p == "" {
			p = "0"
		}
		v.release = append(v.release, p)
	}
	return v, nil
}

func checkIdents(order, s, idents, what string) error {
	if idents == "" {
		return syntaxf(order, s, "empty %s", what)
	}
	for _, id := range strings.Split(idents, ".") {
		if id == "" {
			return syntaxf(order, s, "empty %s identifier", what)
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return syntaxf(order, s, "character %q in the %s", c, what)
			}
		}
	}
	return nil
}

func (v *semver) String() string { return v.s }

func (v *semver) Compare(o Version) int {
	w := o.(*semver)
	n := max(len(v.release), len(w.release))
	for i := 0; i < n; i++ {
		a, b := "0", "0"
		if i < len(v.release) {
			a = v.release[i]
		}
		if i < len(w.release) {
			b = w.release[i]
		}
		if c := cmpNum(a, b); c != 0 {
			return c
		}
	}
	switch {
	case v.pre == nil && w.pre == nil:
		return 0
	case v.pre == nil:
		return 1
	case w.pre == nil:
		return -1
	}
	for i := 0; i < len(v.pre) && i < len(w.pre); i++ {
		if c := cmpIdent(v.pre[i], w.pre[i], v.fold); c != 0 {
			return c
		}
	}
	return cmpInt(len(v.pre), len(w.pre))
}

// cmpIdent is SemVer 2.0 section 11.4: numeric identifiers compare
// numerically and are lower than alphanumeric ones, which compare in ASCII
// order.
func cmpIdent(a, b string, fold bool) int {
	na, nb := allDigits(a), allDigits(b)
	switch {
	case na && nb:
		return cmpNum(a, b)
	case na:
		return -1
	case nb:
		return 1
	}
	if fold {
		a, b = strings.ToLower(a), strings.ToLower(b)
	}
	return strings.Compare(a, b)
}

// goOrder is semver with Go's spellings: "v1.2.3", "v2.0.0+incompatible",
// pseudo-versions, and the toolchain's "go1.21rc2" / "go1.20" tags.
type goOrder struct{}

func (goOrder) Name() string { return "Go" }

func (goOrder) Parse(s string) (Version, error) {
	t := s
	if strings.HasPrefix(t, "go") {
		var ok bool
		if t, ok = goTagToSemver(t[2:]); !ok {
			return nil, syntaxf("Go", s, "not a Go toolchain tag (go1.N[.P] or go1.N{beta,rc}K)")
		}
	}
	v, err := parseSemver("Go", t, false)
	if err != nil {
		return nil, err
	}
	v.s = s
	return v, nil
}

// goTagToSemver turns a toolchain tag without its "go" ("1.21rc2",
// "1.20", "1.21.3") into semver, as golang.org/x/vuln does: a tag without
// a patch is the .0 release; beta/rc suffixes become pre-releases.
func goTagToSemver(t string) (string, bool) {
	pre := ""
	for _, p := range []string{"beta", "rc"} {
		if i := strings.Index(t, p); i > 0 {
			n := t[i+len(p):]
			if !allDigits(n) {
				return "", false
			}
			pre = "-" + p + "." + n
			t = t[:i]
			break
		}
	}
	parts := strings.Split(t, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return "", false
	}
	for _, p := range parts {
		if !allDigits(p) {
			return "", false
		}
	}
	if len(parts) == 2 {
		t += ".0"
	}
	return t + pre, true
}
