package version

import (
	"strings"
)

// rpmOrder is RPM's order on [epoch:]version[-release]: the epoch
// numerically (absent is 0), then version and release each by rpmvercmp:
// runs of digits compare numerically and are greater than runs of letters,
// which compare in ASCII order; other characters only separate, except
// '~' (sorts before everything, even the end) and '^' (sorts after the
// end but before anything else).
type rpmOrder struct{}

type rpmVersion struct {
	s                string
	epoch            string
	version, release string
}

func (rpmOrder) Name() string { return "RPM" }

func (rpmOrder) Parse(s string) (Version, error) {
	if err := checkLen("RPM", s); err != nil {
		return nil, err
	}
	v := &rpmVersion{s: s, epoch: "0"}
	rest := s
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		if !allDigits(rest[:i]) {
			return nil, syntaxf("RPM", s, "epoch %q is not a number", clip(rest[:i]))
		}
		v.epoch, rest = rest[:i], rest[i+1:]
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		rest, v.release = rest[:i], rest[i+1:]
		if v.release == "" {
			return nil, syntaxf("RPM", s, "empty release after '-'")
		}
	}
	if rest == "" {
		return nil, syntaxf("RPM", s, "empty version")
	}
	v.version = rest
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e {
			return nil, syntaxf("RPM", s, "character %q", c)
		}
	}
	return v, nil
}

func (v *rpmVersion) String() string { return v.s }

func (v *rpmVersion) Compare(o Version) int {
	w := o.(*rpmVersion)
	if c := cmpNum(v.epoch, w.epoch); c != 0 {
		return c
	}
	if c := rpmvercmp(v.version, w.version); c != 0 {
		return c
	}
	return rpmvercmp(v.release, w.release)
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// rpmvercmp is rpm's lib/rpmvercmp.c algorithm.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		at := func(s string, k int) byte {
			if k < len(s) {
				return s[k]
			}
			return 0
		}
		ca, cb := at(a, i), at(b, j)
		if ca == '~' || cb == '~' {
			if ca != '~' {
				return 1
			}
			if cb != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		if ca == '^' || cb == '^' {
			if ca == 0 {
				return -1
			}
			if cb == 0 {
				return 1
			}
			if ca != '^' {
				return 1
			}
			if cb != '^' {
				return -1
			}
			i++
			j++
			continue
		}
		if ca == 0 || cb == 0 {
			break
		}
		si, sj := i, j
		num := isDigit(ca)
		if num {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		if sj == j {
			// different kinds of segment: numeric is newer
			if num {
				return 1
			}
			return -1
		}
		sa, sb := a[si:i], b[sj:j]
		if num {
			if c := cmpNum(sa, sb); c != 0 {
				return c
			}
			continue
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}
