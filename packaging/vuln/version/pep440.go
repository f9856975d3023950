package version

import (
	"regexp"
	"strings"
)

// pep440Order is PEP 440's version scheme and ordering, as the reference
// implementation (packaging.version) reads and sorts versions: case and
// surrounding white space do not matter, "v" may lead, separators are
// normalised, pre-release spellings alpha/beta/c/pre/preview map to
// a/b/rc, implicit numbers are 0.
type pep440Order struct{}

// pep440Pattern is packaging.version.VERSION_PATTERN (case-insensitive).
var pep440Pattern = regexp.MustCompile(`^v?` +
	`(?:([0-9]+)!)?` + // 1 epoch
	`([0-9]+(?:\.[0-9]+)*)` + // 2 release
	`(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?` + // 3 pre letter, 4 pre number
	`(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?` + // 5 implicit post number, 6 post letter, 7 post number
	`(?:[-_.]?(dev)[-_.]?([0-9]+)?)?` + // 8 dev, 9 dev number
	`(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`) // 10 local

type pep440 struct {
	s       string
	epoch   string
	release []string // trailing zeros removed
	pre     int      // 0 none, 1 a, 2 b, 3 rc
	preN    string
	post    bool
	postN   string
	dev     bool
	devN    string
	local   []string // nil: no local part
}

func (pep440Order) Name() string { return "PyPI" }

func (pep440Order) Parse(s string) (Version, error) {
	if err := checkLen("PyPI", s); err != nil {
		return nil, err
	}
	m := pep440Pattern.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return nil, syntaxf("PyPI", s, "does not follow PEP 440 ([N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local])")
	}
	v := &pep440{s: s, epoch: num0(m[1])}
	for _, p := range strings.Split(m[2], ".") {
		v.release = append(v.release, num0(p))
	}
	for len(v.release) > 1 && v.release[len(v.release)-1] == "0" {
		v.release = v.release[:len(v.release)-1]
	}
	if len(v.release) == 1 && v.release[0] == "0" {
		v.release = nil
	}
	switch m[3] {
	case "":
	case "a", "alpha":
		v.pre = 1
	case "b", "beta":
		v.pre = 2
	default: // c, rc, pre, preview
		v.pre = 3
	}
	v.preN = num0(m[4])
	if m[5] != "" || m[6] != "" {
		v.post = true
		v.postN = num0(m[5] + m[7])
	}
	if m[8] != "" {
		v.dev = true
		v.devN = num0(m[9])
	}
	if m[10] != "" {
		v.local = strings.FieldsFunc(m[10], func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	}
	return v, nil
}

func num0(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}

func (v *pep440) String() string { return v.s }

// Compare is packaging.version's _cmpkey order: epoch, release (trailing
// zeros ignored), pre-release (a dev release of a final version sorts
// before its pre-releases; a final sorts after them), post-release, dev
// release (a non-dev version sorts after its dev releases), local version
// (absent sorts first; numeric segments sort after alphanumeric ones).
func (v *pep440) Compare(o Version) int {
	w := o.(*pep440)
	if c := cmpNum(v.epoch, w.epoch); c != 0 {
		return c
	}
	for i := 0; i < len(v.release) || i < len(w.release); i++ {
		if i >= len(v.release) {
			return -1
		}
		if i >= len(w.release) {
			return 1
		}
		if c := cmpNum(v.release[i], w.release[i]); c != 0 {
			return c
		}
	}
	if c := cmpInt(v.preRank(), w.preRank()); c != 0 {
		return c
	}
	if v.pre != 0 {
		if c := cmpNum(v.preN, w.preN); c != 0 {
			return c
		}
	}
	switch {
	case v.post != w.post:
		if v.post {
			return 1
		}
		return -1
	case v.post:
		if c := cmpNum(v.postN, w.postN); c != 0 {
			return c
		}
	}
	switch {
	case v.dev != w.dev:
		if v.dev {
			return -1
		}
		return 1
	case v.dev:
		if c := cmpNum(v.devN, w.devN); c != 0 {
			return c
		}
	}
	return cmpLocal(v.local, w.local)
}

// preRank places the pre-release phase: a dev release with no pre or post
// part first (0), then a, b, rc (1-3), then no pre-release at all (4).
func (v *pep440) preRank() int {
	switch {
	case v.pre != 0:
		return v.pre
	case !v.post && v.dev:
		return 0
	}
	return 4
}

func cmpLocal(a, b []string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		na, nb := allDigits(a[i]), allDigits(b[i])
		var c int
		switch {
		case na && nb:
			c = cmpNum(a[i], b[i])
		case na:
			c = 1
		case nb:
			c = -1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(len(a), len(b))
}
