package debian

import (
	"fmt"
	"path"
	"strings"
)

// Filter selects packages. The syntax (documented in docs/apt-mirror.md):
//
//	expr  := and { "|" and }
//	and   := unary { ("," | "&") unary }
//	unary := "!" unary | "(" expr ")" | term
//	term  := GLOB                 package name matches GLOB
//	       | FIELD ":" GLOB       control field FIELD matches GLOB
//
// GLOB uses path.Match syntax (*, ?, [a-z]). FIELD is any control field
// name, case-insensitive (Priority, Section, Architecture, Source, ...);
// "Name" is an alias of "Package". An absent field matches only "".
// White space around operators is ignored. The empty filter selects all.
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
type termNode struct{ field, glob string }

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
	v := strings.TrimSpace(p.Get(t.field))
	ok, _ := path.Match(t.glob, v)
	return ok
}

func (o orNode) String() string  { return join([]node(o), " | ") }
func (a andNode) String() string { return join([]node(a), ", ") }
func (n notNode) String() string { return "!" + n.n.String() }
func (t termNode) String() string {
	if t.field == "Package" {
		return t.glob
	}
	return t.field + ":" + t.glob
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

// ParseFilter parses a filter expression.
func ParseFilter(s string) (*Filter, error) {
	if len(s) > MaxFilterLen {
		return nil, fmt.Errorf("filter: longer than %d bytes: %w", MaxFilterLen, ErrSyntax)
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
	return fmt.Errorf("filter %q at offset %d: %s: %w", clip(p.s), p.i, fmt.Sprintf(format, args...), ErrSyntax)
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
	w := p.word()
	if w == "" {
		return nil, p.errorf("package glob or FIELD:GLOB expected")
	}
	field := "Package"
	glob := w
	if p.i < len(p.s) && p.s[p.i] == ':' {
		p.i++
		field = w
		glob = p.word()
		if strings.EqualFold(field, "name") || strings.EqualFold(field, "package") {
			field = "Package"
		}
		if strings.ContainsAny(field, "*?[]") {
			return nil, p.errorf("field name %q may not contain glob characters", field)
		}
	}
	if _, err := path.Match(glob, ""); err != nil {
		return nil, p.errorf("bad glob %q: %v", glob, err)
	}
	return termNode{field: field, glob: glob}, nil
}
