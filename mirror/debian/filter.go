package debian

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrFilterSyntax reports a malformed filter expression: a mistake of the
// person who wrote it (a usage error), unlike ErrSyntax, which reports
// malformed control data received from an upstream. A *FilterError wraps
// it; nothing a filter refuses wraps ErrSyntax.
var ErrFilterSyntax = errors.New("filter syntax error")

// FilterError is a filter expression ParseFilter refused: the expression
// (clipped), the byte offset of the mistake (-1 when the whole expression
// is refused) and what is wrong.
type FilterError struct {
	Expr   string
	Offset int
	Msg    string
}

func (e *FilterError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("filter %q: %s", clip(e.Expr), e.Msg)
	}
	return fmt.Sprintf("filter %q at offset %d: %s", clip(e.Expr), e.Offset, e.Msg)
}

func (e *FilterError) Unwrap() error { return ErrFilterSyntax }

// Filter selects packages. The syntax (documented in docs/apt-mirror.md):
//
//	expr  := and { "|" and }
//	and   := unary { ("," | "&") unary }
//	unary := "!" unary | "(" expr ")" | term
//	term  := GLOB [rel]            package name matches GLOB
//	       | FIELD ":" GLOB [rel]  control field FIELD matches GLOB
//	       | "$Version" rel        the version satisfies rel
//	rel   := "(" OP VERSION ")"    OP: << <= = >= >> (as in Depends)
//
// GLOB uses path.Match syntax (*, ?, [a-z]). FIELD is any control field
// name, case-insensitive (Priority, Section, Architecture, ...); "Name" is
// an alias of "Package". An absent field matches only "". "Source" (and
// "$Source") is the source package's name: the Source field without its
// "(version)", or the package's own name when there is no Source field,
// as aptly's $Source. The special fields of aptly are known:
// $Architecture (a GLOB without wildcards also matches Architecture: all,
// as in aptly), $Version, $Source, $SourceVersion (the version in Source's
// parentheses, else Version) and $PackageType (deb or udeb); any other
// "$" field is refused. A rel after a term also requires the package's
// Version to satisfy it, in Debian version order. White space around
// operators is ignored. The empty filter selects all.
type Filter struct {
	src  string
	root node
}

type node interface {
	match(Paragraph) bool
	String() string
}

type orNode []node
type andNode []node
type notNode struct{ n node }
type termNode struct {
	field, glob string
	rel         *Relation // version constraint; nil for none
	// bare: the term is "$Version rel" (no glob).
	bare bool
}

func (o orNode) match(p Paragraph) bool {
	for _, n := range o {
		if n.match(p) {
			return true
		}
	}
	return false
}
func (a andNode) match(p Paragraph) bool {
	for _, n := range a {
		if !n.match(p) {
			return false
		}
	}
	return true
}
func (n notNode) match(p Paragraph) bool { return !n.n.match(p) }
func (t termNode) match(p Paragraph) bool {
	if t.rel != nil && !t.rel.Satisfied(strings.TrimSpace(p.Get("Version"))) {
		return false
	}
	if t.bare {
		return true
	}
	v := fieldValue(p, t.field)
	if t.field == "$Architecture" && !hasMeta(t.glob) {
		return v == t.glob || (v == "all" && t.glob != "source")
	}
	ok, _ := path.Match(t.glob, v)
	return ok
}

// fieldValue is the value a term on field compares: the control field, or
// the derived value of a special field.
func fieldValue(p Paragraph, field string) string {
	switch field {
	case "Source", "$Source":
		src := strings.TrimSpace(p.Get("Source"))
		if src == "" {
			return strings.TrimSpace(p.Get("Package"))
		}
		if i := strings.IndexByte(src, '('); i >= 0 {
			return strings.TrimSpace(src[:i])
		}
		return src
	case "$SourceVersion":
		src := p.Get("Source")
		if i := strings.IndexByte(src, '('); i >= 0 {
			if j := strings.LastIndexByte(src, ')'); j > i {
				return strings.TrimSpace(src[i+1 : j])
			}
		}
		return strings.TrimSpace(p.Get("Version"))
	case "$Version":
		return strings.TrimSpace(p.Get("Version"))
	case "$Architecture":
		return strings.TrimSpace(p.Get("Architecture"))
	case "$PackageType":
		if strings.HasSuffix(strings.TrimSpace(p.Get("Filename")), ".udeb") {
			return "udeb"
		}
		return "deb"
	}
	return strings.TrimSpace(p.Get(field))
}

func hasMeta(glob string) bool { return strings.ContainsAny(glob, "*?[\\") }

// specialFields are the "$" fields a filter knows, by lower-case name.
var specialFields = map[string]string{
	"$architecture":  "$Architecture",
	"$version":       "$Version",
	"$source":        "$Source",
	"$sourceversion": "$SourceVersion",
	"$packagetype":   "$PackageType",
}

func (o orNode) String() string  { return join([]node(o), " | ") }
func (a andNode) String() string { return join([]node(a), ", ") }
func (n notNode) String() string { return "!" + n.n.String() }
func (t termNode) String() string {
	var s string
	switch {
	case t.bare:
		s = t.field
	case t.field == "Package":
		s = t.glob
	default:
		s = t.field + ":" + t.glob
	}
	if t.rel != nil {
		s += " (" + t.rel.Op + " " + t.rel.Version + ")"
	}
	return s
}

func join(ns []node, sep string) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, n.String())
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// MaxFilterLen bounds a filter expression.
const MaxFilterLen = 64 << 10

// ParseFilter parses a filter expression. A malformed one is a
// *FilterError (ErrFilterSyntax).
func ParseFilter(s string) (*Filter, error) {
	if len(s) > MaxFilterLen {
		return nil, &FilterError{Expr: s, Offset: -1, Msg: fmt.Sprintf("longer than %d bytes", MaxFilterLen)}
	}
	f := &Filter{src: s}
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	p := &filterParser{s: s}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.i < len(p.s) {
		return nil, p.errorf("unexpected %q", p.s[p.i])
	}
	f.root = n
	return f, nil
}

// Match reports whether the package paragraph is selected.
func (f *Filter) Match(p Paragraph) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(p)
}

// String returns the source expression.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

type filterParser struct {
	s string
	i int
}

func (p *filterParser) errorf(format string, args ...any) error {
	return &FilterError{Expr: p.s, Offset: p.i, Msg: fmt.Sprintf(format, args...)}
}

func (p *filterParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

const maxDepth = 100

func (p *filterParser) expr(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	var or orNode
	for {
		n, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		or = append(or, n)
		p.skip()
		if p.i < len(p.s) && p.s[p.i] == '|' {
			p.i++
			continue
		}
		break
	}
	if len(or) == 1 {
		return or[0], nil
	}
	return or, nil
}

func (p *filterParser) and(depth int) (node, error) {
	var and andNode
	for {
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		and = append(and, n)
		p.skip()
		if p.i < len(p.s) && (p.s[p.i] == ',' || p.s[p.i] == '&') {
			p.i++
			continue
		}
		break
	}
	if len(and) == 1 {
		return and[0], nil
	}
	return and, nil
}

func (p *filterParser) unary(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.skip()
	if p.i >= len(p.s) {
		return nil, p.errorf("expression expected")
	}
	switch p.s[p.i] {
	case '!':
		p.i++
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case '(':
		p.i++
		n, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, p.errorf("')' expected")
		}
		p.i++
		return n, nil
	}
	return p.term()
}

func isWordByte(c byte) bool {
	return c > ' ' && c != '(' && c != ')' && c != '|' && c != ',' && c != '&' && c != '!' && c != ':' && c < 0x7f
}

func (p *filterParser) word() string {
	start := p.i
	for p.i < len(p.s) && isWordByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *filterParser) term() (node, error) {
	start := p.i
	w := p.word()
	if w == "" {
		return nil, p.errorf("package glob or FIELD:GLOB expected")
	}
	t := termNode{field: "Package", glob: w}
	special := func(name string) (string, error) {
		f, ok := specialFields[strings.ToLower(name)]
		if !ok {
			p.i = start
			return "", p.errorf("unknown special field %q (known: $Architecture, $Version, $Source, $SourceVersion, $PackageType)", name)
		}
		return f, nil
	}
	if p.i < len(p.s) && p.s[p.i] == ':' {
		p.i++
		t.field = w
		t.glob = p.word()
		switch {
		case strings.EqualFold(t.field, "name"), strings.EqualFold(t.field, "package"):
			t.field = "Package"
		case strings.EqualFold(t.field, "source"):
			t.field = "Source"
		case strings.HasPrefix(t.field, "$"):
			f, err := special(t.field)
			if err != nil {
				return nil, err
			}
			t.field = f
		case strings.ContainsAny(t.field, "*?[]\\"):
			return nil, p.errorf("field name %q may not contain glob characters", t.field)
		}
	} else if strings.HasPrefix(w, "$") {
		f, err := special(w)
		if err != nil {
			return nil, err
		}
		if f != "$Version" {
			return nil, p.errorf("special field %s needs a value: %s:GLOB", f, f)
		}
		t.field, t.bare = f, true
	}
	if !t.bare {
		if _, err := path.Match(t.glob, ""); err != nil {
			return nil, p.errorf("bad glob %q: %v", t.glob, err)
		}
	}
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		rel, err := p.relation()
		if err != nil {
			return nil, err
		}
		t.rel = rel
	} else if t.bare {
		return nil, p.errorf("$Version needs a version relation, e.g. $Version (>= 1.2) (or $Version:GLOB)")
	}
	return t, nil
}

// relation parses "(" OP VERSION ")" at p.i.
func (p *filterParser) relation() (*Relation, error) {
	open := p.i
	p.i++ // '('
	end := strings.IndexByte(p.s[p.i:], ')')
	if end < 0 {
		return nil, p.errorf("version relation not closed: ')' expected")
	}
	c := strings.TrimSpace(p.s[p.i : p.i+end])
	var r Relation
	r.Op, r.Version = cutOp(c)
	switch r.Op {
	case "<", ">":
		p.i = open
		return nil, p.errorf("version relation %q: a single %q is ambiguous: write %s%s or %s=", "("+c+")", r.Op, r.Op, r.Op, r.Op)
	case "":
		p.i = open
		return nil, p.errorf("version relation %q: want (OP VERSION) with OP one of << <= = >= >>", "("+c+")")
	}
	if err := ValidVersion(r.Version); err != nil {
		p.i = open
		return nil, p.errorf("version relation %q: %v", "("+c+")", err)
	}
	p.i += end + 1
	return &r, nil
}
