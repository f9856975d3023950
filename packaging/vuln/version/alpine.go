package version

import "strings"

// alpineOrder is apk-tools' version order for versions of the grammar
//
//	digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}
//
// suf is one of alpha, beta, pre, rc (pre-releases: before the plain
// version) or cvs, svn, git, hg, p (after it). Versions are compared token
// by token; a release part with a leading zero (on either side) compares
// as a string, as apk does ("1.01" < "1.1"); when one version runs out of
// tokens of the same kind the other is greater, unless what the other has
// next is a pre-release suffix.
type alpineOrder struct{}

type apkTokKind uint8

// Token kinds, in apk's order: when two versions differ in the kind of
// their next token, the one with the higher kind is the lower version.
const (
	apkInitialDigit apkTokKind = iota
	apkDigit
	apkLetter
	apkSuffix
	apkSuffixNo
	apkCommitHash
	apkRevisionNo
	apkEnd
)

type apkToken struct {
	kind   apkTokKind
	value  string
	suffix int // apkSuffix: index in apkSuffixes
}

// apkSuffixes in order; "" marks the place of a version without a suffix.
var apkSuffixes = []string{"alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"}

const apkSuffixNone = 4

type alpineVersion struct {
	s    string
	toks []apkToken
}

func (alpineOrder) Name() string { return "Alpine" }

func (alpineOrder) Parse(s string) (Version, error) {
	if err := checkLen("Alpine", s); err != nil {
		return nil, err
	}
	v := &alpineVersion{s: s}
	i := 0
	digits := func() string {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		d := s[i:j]
		i = j
		return d
	}
	d := digits()
	if d == "" {
		return nil, syntaxf("Alpine", s, "does not start with a digit")
	}
	v.toks = append(v.toks, apkToken{kind: apkInitialDigit, value: d})
	last := apkInitialDigit
	for i < len(s) {
		c := s[i]
		var t apkToken
		switch {
		case c >= 'a' && c <= 'z':
			if last > apkDigit {
				return nil, syntaxf("Alpine", s, "letter %q after a suffix, hash or revision", c)
			}
			t = apkToken{kind: apkLetter, value: s[i : i+1]}
			i++
		case c == '.' || isDigit(c):
			if c == '.' {
				if last > apkDigit {
					return nil, syntaxf("Alpine", s, "'.' after a letter, suffix, hash or revision")
				}
				i++
			}
			switch last {
			case apkInitialDigit, apkDigit:
				t.kind = apkDigit
			case apkSuffix:
				t.kind = apkSuffixNo
			default:
				return nil, syntaxf("Alpine", s, "number after a letter, hash or revision")
			}
			if t.value = digits(); t.value == "" {
				return nil, syntaxf("Alpine", s, "no digits after '.'")
			}
		case c == '_':
			if last > apkSuffixNo {
				return nil, syntaxf("Alpine", s, "suffix after a hash or revision")
			}
			i++
			j := i
			for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			name := s[i:j]
			i = j
			t = apkToken{kind: apkSuffix, value: name, suffix: -1}
			for k, x := range apkSuffixes {
				if x != "" && x == name {
					t.suffix = k
				}
			}
			if t.suffix < 0 {
				return nil, syntaxf("Alpine", s, "unknown suffix _%s (want alpha, beta, pre, rc, cvs, svn, git, hg or p)", clip(name))
			}
		case c == '~':
			if last >= apkCommitHash {
				return nil, syntaxf("Alpine", s, "'~' after a hash or revision")
			}
			i++
			j := i
			for j < len(s) && (isDigit(s[j]) || s[j] >= 'a' && s[j] <= 'f') {
				j++
			}
			if j == i {
				return nil, syntaxf("Alpine", s, "no hex digits after '~'")
			}
			t = apkToken{kind: apkCommitHash, value: s[i:j]}
			i = j
		case c == '-':
			if last >= apkRevisionNo || !strings.HasPrefix(s[i:], "-r") {
				return nil, syntaxf("Alpine", s, "'-' must start the one revision -rN")
			}
			i += 2
			t.kind = apkRevisionNo
			if t.value = digits(); t.value == "" {
				return nil, syntaxf("Alpine", s, "no digits after -r")
			}
		default:
			return nil, syntaxf("Alpine", s, "character %q", c)
		}
		v.toks = append(v.toks, t)
		last = t.kind
	}
	return v, nil
}

func (v *alpineVersion) String() string { return v.s }

func (v *alpineVersion) Compare(o Version) int {
	w := o.(*alpineVersion)
	end := apkToken{kind: apkEnd}
	for i := 0; ; i++ {
		a, b := end, end
		if i < len(v.toks) {
			a = v.toks[i]
		}
		if i < len(w.toks) {
			b = w.toks[i]
		}
		if a.kind != b.kind {
			// The versions agree so far; the one that goes on is greater
			// unless it goes on with a pre-release suffix.
			switch {
			case a.kind == apkSuffix && a.suffix < apkSuffixNone:
				return -1
			case b.kind == apkSuffix && b.suffix < apkSuffixNone:
				return 1
			case a.kind > b.kind:
				return -1
			}
			return 1
		}
		if a.kind == apkEnd {
			return 0
		}
		if c := a.cmp(b); c != 0 {
			return c
		}
	}
}

func (a apkToken) cmp(b apkToken) int {
	switch a.kind {
	case apkDigit:
		if a.value[0] == '0' || b.value[0] == '0' {
			return strings.Compare(a.value, b.value)
		}
		return cmpNum(a.value, b.value)
	case apkInitialDigit, apkSuffixNo, apkRevisionNo:
		return cmpNum(a.value, b.value)
	case apkLetter:
		return strings.Compare(a.value, b.value)
	case apkSuffix:
		return cmpInt(a.suffix, b.suffix)
	}
	return strings.Compare(a.value, b.value)
}
