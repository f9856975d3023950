package debian

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Version is a parsed Debian version: [epoch:]upstream[-revision].
type Version struct {
	Epoch    int
	Upstream string
	Revision string
}

// ParseVersion splits v as dpkg does (lib/dpkg/parsehelp.c parseversion)
// and refuses what dpkg refuses: an empty, non-numeric, negative or too big
// (> 2147483647) epoch, nothing after the epoch's colon, an empty revision
// ("1.2-"), an empty upstream part, embedded white space. It also refuses
// characters outside letters, digits and ".+~-:" (dpkg warns about them;
// Debian policy 5.6.12 forbids them). A ':' in the revision and an upstream
// part that does not start with a digit are accepted, as dpkg does (with a
// warning), so one odd stanza does not make a whole upstream index unusable.
func ParseVersion(v string) (Version, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return Version{}, fmt.Errorf("empty version")
	}
	full := v
	var out Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		ep := v[:i]
		if ep == "" {
			return Version{}, fmt.Errorf("version %q: the epoch before ':' is empty", clip(full))
		}
		e, err := strconv.ParseInt(ep, 10, 64)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange) && strings.Trim(ep, "+0123456789") == "":
			return Version{}, fmt.Errorf("version %q: epoch %q is too big (at most %d)", clip(full), clip(ep), math.MaxInt32)
		case err != nil || e < 0:
			return Version{}, fmt.Errorf("version %q: epoch %q is not a non-negative number", clip(full), clip(ep))
		case e > math.MaxInt32:
			return Version{}, fmt.Errorf("version %q: epoch %q is too big (at most %d)", clip(full), clip(ep), math.MaxInt32)
		}
		out.Epoch = int(e)
		v = v[i+1:]
		if v == "" {
			return Version{}, fmt.Errorf("version %q: nothing after the epoch's ':'", clip(full))
		}
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		out.Revision = v[i+1:]
		v = v[:i]
		if out.Revision == "" {
			return Version{}, fmt.Errorf("version %q: the revision after the last '-' is empty", clip(full))
		}
	}
	out.Upstream = v
	if out.Upstream == "" {
		return Version{}, fmt.Errorf("version %q: the upstream part is empty", clip(full))
	}
	for _, c := range out.Upstream {
		if !(isAlnum(c) || strings.ContainsRune(".+~-:", c)) {
			return Version{}, fmt.Errorf("version %q: invalid character %q in the upstream part", clip(full), c)
		}
	}
	for _, c := range out.Revision {
		if !(isAlnum(c) || strings.ContainsRune(".+~:", c)) {
			return Version{}, fmt.Errorf("version %q: invalid character %q in the revision", clip(full), c)
		}
	}
	return out, nil
}

func isAlnum(c rune) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ValidVersion reports a syntax error in a version string.
func ValidVersion(v string) error {
	_, err := ParseVersion(v)
	return err
}

// CompareVersions orders Debian versions as dpkg --compare-versions does:
// -1 when a < b, 0 when equal, 1 when a > b. Unparseable versions sort
// before parseable ones and among themselves by byte order, so the order
// is total.
func CompareVersions(a, b string) int {
	va, ea := ParseVersion(a)
	vb, eb := ParseVersion(b)
	switch {
	case ea != nil && eb != nil:
		return sign(strings.Compare(a, b))
	case ea != nil:
		return -1
	case eb != nil:
		return 1
	}
	return va.Compare(vb)
}

// Compare orders v against w.
func (v Version) Compare(w Version) int {
	if v.Epoch != w.Epoch {
		if v.Epoch < w.Epoch {
			return -1
		}
		return 1
	}
	if c := verrevcmp(v.Upstream, w.Upstream); c != 0 {
		return c
	}
	return verrevcmp(v.Revision, w.Revision)
}

func (v Version) String() string {
	s := v.Upstream
	if v.Epoch > 0 {
		s = strconv.Itoa(v.Epoch) + ":" + s
	}
	if v.Revision != "" {
		s += "-" + v.Revision
	}
	return s
}

func order(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return 0
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	case c == '~':
		return -1
	case c != 0:
		return int(c) + 256
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// verrevcmp is dpkg's lib/dpkg/version.c verrevcmp.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	at := func(s string, k int) byte {
		if k < len(s) {
			return s[k]
		}
		return 0
	}
	for i < len(a) || j < len(b) {
		firstDiff := 0
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := order(at(a, i)), order(at(b, j))
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		for at(a, i) == '0' {
			i++
		}
		for at(b, j) == '0' {
			j++
		}
		for isDigit(at(a, i)) && isDigit(at(b, j)) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if isDigit(at(a, i)) {
			return 1
		}
		if isDigit(at(b, j)) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}
