package version

import (
	"fmt"
	"strconv"
	"strings"
)

// mavenOrder is Maven's ComparableVersion (maven-artifact 3.8/3.9, with
// MNG-5568 ".X is -X" and MNG-6964), the order the POM reference's
// "Version Order Specification" describes:
//
//   - the version is split at '.', '-' and at every transition between
//     digits and letters; a '-' or a transition starts a sub-list, so
//     "1-1" is [1, [1]] and "1.0alpha1" is [1, [alpha, [1]]]; a qualifier
//     after a '.' also starts one ("1.0.x" = "1.0-x");
//   - trailing "null" items (0, "", "final", "ga", "release", an empty list) are
//     dropped from every list;
//   - numbers compare numerically; known qualifiers order
//     alpha < beta < milestone < rc = cr < snapshot < "" = final = ga =
//     release < sp,
//     unknown qualifiers come after them in lexical order (case-insensitive);
//     "a1", "b1", "m1" (a letter followed by a digit) mean alpha-1, beta-1,
//     milestone-1;
//   - a number is greater than a qualifier or a sub-list; a sub-list is
//     greater than a qualifier; a missing item compares as null.
//
// Maven accepts every string as a version; so does this order, up to MaxLen.
// Only ASCII digits are digits here (Java's Character.isDigit also takes
// other Unicode digits).
type mavenOrder struct{}

type mvnKind uint8

const (
	mvnKindInt mvnKind = iota
	mvnKindString
	mvnKindList
)

type mvnItem struct {
	kind  mvnKind
	num   string     // mvnKindInt: digits, leading zeros removed ("" is zero)
	str   string     // mvnString: the qualifier, aliases resolved
	items []*mvnItem // mvnKindList
}

type mavenVersion struct {
	s    string
	root *mvnItem
}

func (mavenOrder) Name() string { return "Maven" }

func (mavenOrder) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return nil, syntaxf("Maven", s, "longer than %d bytes", MaxLen)
	}
	if strings.TrimSpace(s) == "" {
		return nil, syntaxf("Maven", s, "empty")
	}
	root := parseMaven(s)
	if err := root.consistent(true); err != "" {
		return nil, syntaxf("Maven", s, "%s: ComparableVersion does not order such versions consistently", err)
	}
	return &mavenVersion{s: s, root: root}, nil
}

// consistent reports why a parsed version is outside the versions on which
// ComparableVersion is a total order, or "". Maven compares a qualifier
// with a sub-list at the same place as "qualifier < sub-list", but each of
// them with a missing item by its own content, so "1-xx" < "1-0a0" < "1" <
// "1-xx" and "2" < "2.a." < "2a0" < "2". A qualifier meets a sub-list at
// the same place only when a list (the root included) starts with a
// sub-list (a leading zero dropped by normalisation: "0-1", "1-0a0") or
// holds a qualifier after its first item (one that a '.' or '-' ends, not
// a digit or the end: "1.0.alpha.1", "2.a."), or when a version starts
// with a qualifier ("xx1"). Real Maven versions write "1.0-alpha-1",
// "1.0.0.Beta1", "1.0.RELEASE" instead; the others are refused.
func (it *mvnItem) consistent(root bool) string {
	if len(it.items) == 0 {
		return ""
	}
	switch first := it.items[0]; {
	case first.kind == mvnKindList:
		return "a zero before a '-' or a qualifier is dropped, leaving a sub-list first"
	case root && first.kind == mvnKindString:
		return "starts with a qualifier, not a number"
	}
	for i, x := range it.items {
		switch {
		case x.kind == mvnKindString && i > 0:
			return fmt.Sprintf("qualifier %q is followed by a separator (write it as -%s or before a number)", x.str, x.str)
		case x.kind == mvnKindList:
			if err := x.consistent(false); err != "" {
				return err
			}
		}
	}
	return ""
}

var mvnQualifiers = []string{"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"}

// mvnRelease is comparableQualifier("").
const mvnRelease = "5"

func mvnString(v string, followedByDigit bool) *mvnItem {
	if followedByDigit && len(v) == 1 {
		switch v {
		case "a":
			v = "alpha"
		case "b":
			v = "beta"
		case "m":
			v = "milestone"
		}
	}
	switch v {
	case "ga", "final", "release":
		v = ""
	case "cr":
		v = "rc"
	}
	return &mvnItem{kind: mvnKindString, str: v}
}

func mvnParseItem(isDigit bool, buf string) *mvnItem {
	if isDigit {
		return &mvnItem{kind: mvnKindInt, num: strings.TrimLeft(buf, "0")}
	}
	return mvnString(buf, false)
}

var mvnZero = &mvnItem{kind: mvnKindInt}

func parseMaven(version string) *mvnItem {
	version = strings.ToLower(version)
	root := &mvnItem{kind: mvnKindList}
	list := root
	stack := []*mvnItem{root}
	push := func() {
		l := &mvnItem{kind: mvnKindList}
		list.items = append(list.items, l)
		list = l
		stack = append(stack, l)
	}
	isDigit := false
	start := 0
	for i := 0; i < len(version); i++ {
		c := version[i]
		switch {
		case c == '.':
			if i == start {
				list.items = append(list.items, mvnZero)
			} else {
				list.items = append(list.items, mvnParseItem(isDigit, version[start:i]))
			}
			start = i + 1
		case c == '-':
			if i == start {
				list.items = append(list.items, mvnZero)
			} else {
				list.items = append(list.items, mvnParseItem(isDigit, version[start:i]))
			}
			start = i + 1
			push()
		case c >= '0' && c <= '9':
			if !isDigit && i > start {
				// 1.0.0.X1 < 1.0.0-X2: a qualifier after '.' starts a sub-list
				if len(list.items) > 0 {
					push()
				}
				list.items = append(list.items, mvnString(version[start:i], true))
				start = i
				push()
			}
			isDigit = true
		default:
			if isDigit && i > start {
				list.items = append(list.items, mvnParseItem(true, version[start:i]))
				start = i
				push()
			}
			isDigit = false
		}
	}
	if len(version) > start {
		if !isDigit && len(list.items) > 0 {
			push() // treat .X as -X for any string qualifier X
		}
		list.items = append(list.items, mvnParseItem(isDigit, version[start:]))
	}
	for i := len(stack) - 1; i >= 0; i-- {
		stack[i].normalize()
	}
	return root
}

func (it *mvnItem) isNull() bool {
	switch it.kind {
	case mvnKindInt:
		return it.num == ""
	case mvnKindString:
		return mvnComparable(it.str) == mvnRelease
	}
	return len(it.items) == 0
}

// normalize drops trailing null items; it looks past trailing non-null
// sub-lists (ListItem.normalize).
func (it *mvnItem) normalize() {
	for i := len(it.items) - 1; i >= 0; i-- {
		last := it.items[i]
		if last.isNull() {
			it.items = append(it.items[:i], it.items[i+1:]...)
		} else if last.kind != mvnKindList {
			break
		}
	}
}

// mvnComparable is StringItem.comparableQualifier: the index of a known
// qualifier, else "7-" + the qualifier, compared as strings.
func mvnComparable(q string) string {
	for i, k := range mvnQualifiers {
		if k == q {
			return strconv.Itoa(i)
		}
	}
	return strconv.Itoa(len(mvnQualifiers)) + "-" + q
}

// compare is Item.compareTo; o may be nil (a missing item).
func (it *mvnItem) compare(o *mvnItem) int {
	switch it.kind {
	case mvnKindInt:
		if o == nil {
			if it.num == "" {
				return 0
			}
			return 1
		}
		switch o.kind {
		case mvnKindInt:
			return cmpNum(it.num, o.num)
		default:
			return 1 // 1.1 > 1-sp, 1.1 > 1-1
		}
	case mvnKindString:
		if o == nil {
			return sign(strings.Compare(mvnComparable(it.str), mvnRelease))
		}
		switch o.kind {
		case mvnKindString:
			return sign(strings.Compare(mvnComparable(it.str), mvnComparable(o.str)))
		default:
			return -1 // 1.any < 1.1, 1.any < 1-1
		}
	}
	if o == nil {
		// every item against null, not just the first (MNG-6964)
		for _, x := range it.items {
			if c := x.compare(nil); c != 0 {
				return c
			}
		}
		return 0
	}
	switch o.kind {
	case mvnKindInt:
		return -1 // 1-1 < 1.0.x
	case mvnKindString:
		return 1 // 1-1 > 1-sp
	}
	for i := 0; i < len(it.items) || i < len(o.items); i++ {
		var l, r *mvnItem
		if i < len(it.items) {
			l = it.items[i]
		}
		if i < len(o.items) {
			r = o.items[i]
		}
		var c int
		if l == nil {
			if r != nil {
				c = -r.compare(nil)
			}
		} else {
			c = l.compare(r)
		}
		if c != 0 {
			return c
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

func (v *mavenVersion) String() string { return v.s }

func (v *mavenVersion) Compare(o Version) int { return v.root.compare(o.(*mavenVersion).root) }

// Canonical is ComparableVersion.getCanonical: the parsed items written back.
func (v *mavenVersion) Canonical() string { return v.root.canonical() }

func (it *mvnItem) canonical() string {
	switch it.kind {
	case mvnKindInt:
		if it.num == "" {
			return "0"
		}
		return it.num
	case mvnKindString:
		return it.str
	}
	var b strings.Builder
	for _, x := range it.items {
		if b.Len() > 0 {
			if x.kind == mvnKindList {
				b.WriteByte('-')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteString(x.canonical())
	}
	return b.String()
}
