package version

import (
	"regexp"
	"strings"
)

// gemOrder is RubyGems' Gem::Version order: the version (white space
// trimmed, "-" read as ".pre.") is split into runs of digits (numbers) and
// runs of letters (strings, which mark a pre-release); trailing zero
// numbers of the release part and of the pre-release part are dropped;
// segments compare pairwise, a missing one as 0, a string below a number,
// strings in byte order.
type gemOrder struct{}

// gemPattern is Gem::Version::ANCHORED_VERSION_PATTERN.
var gemPattern = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*$`)

var gemSegment = regexp.MustCompile(`[0-9]+|[a-zA-Z]+`)

type gemSeg struct {
	num bool
	s   string // digits without leading zeros, or letters
}

type gemVersion struct {
	s    string
	segs []gemSeg // canonical segments
}

func (gemOrder) Name() string { return "RubyGems" }

func (gemOrder) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return nil, syntaxf("RubyGems", s, "longer than %d bytes", MaxLen)
	}
	if !gemPattern.MatchString(s) {
		return nil, syntaxf("RubyGems", s, "malformed version number string")
	}
	t := strings.TrimSpace(s)
	if t == "" {
		t = "0"
	}
	t = strings.ReplaceAll(t, "-", ".pre.")
	var segs []gemSeg
	for _, m := range gemSegment.FindAllString(t, -1) {
		if isDigit(m[0]) {
			segs = append(segs, gemSeg{num: true, s: num0(m)})
		} else {
			segs = append(segs, gemSeg{s: m})
		}
	}
	// canonical_segments: split at the first string; drop trailing zeros of each half.
	split := len(segs)
	for i, g := range segs {
		if !g.num {
			split = i
			break
		}
	}
	trim := func(x []gemSeg) []gemSeg {
		for len(x) > 0 && x[len(x)-1].num && x[len(x)-1].s == "0" {
			x = x[:len(x)-1]
		}
		return x
	}
	rel := trim(append([]gemSeg(nil), segs[:split]...))
	pre := trim(append([]gemSeg(nil), segs[split:]...))
	return &gemVersion{s: s, segs: append(rel, pre...)}, nil
}

func (v *gemVersion) String() string { return v.s }

func (v *gemVersion) Compare(o Version) int {
	w := o.(*gemVersion)
	zero := gemSeg{num: true, s: "0"}
	for i := 0; i < len(v.segs) || i < len(w.segs); i++ {
		a, b := zero, zero
		if i < len(v.segs) {
			a = v.segs[i]
		}
		if i < len(w.segs) {
			b = w.segs[i]
		}
		switch {
		case a.num && b.num:
			if c := cmpNum(a.s, b.s); c != 0 {
				return c
			}
		case a.num:
			return 1
		case b.num:
			return -1
		default:
			if c := strings.Compare(a.s, b.s); c != 0 {
				return c
			}
		}
	}
	return 0
}
