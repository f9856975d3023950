package debian

import (
	"fmt"
	"strings"
)

// Relation is one alternative of a dependency: name, optional
// architecture qualifier and optional version constraint.
type Relation struct {
	Name    string
	Arch    string // after ':', e.g. "any"; empty when absent
	Op      string // "", "<<", "<=", "=", ">=", ">>"
	Version string
}

func (r Relation) String() string {
	s := r.Name
	if r.Arch != "" {
		s += ":" + r.Arch
	}
	if r.Op != "" {
		s += " (" + r.Op + " " + r.Version + ")"
	}
	return s
}

// Satisfied reports whether version v meets the constraint.
func (r Relation) Satisfied(v string) bool {
	if r.Op == "" {
		return true
	}
	c := CompareVersions(v, r.Version)
	switch r.Op {
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}

// Dependency is a list of alternatives ("a | b"); one must be satisfied.
type Dependency []Relation

// ParseRelations parses a Depends-style field: comma-separated
// dependencies, each a |-separated list of alternatives. Architecture
// restriction lists ("[amd64]") and build profiles ("<!nocheck>") are
// accepted and dropped.
func ParseRelations(field string) ([]Dependency, error) {
	var out []Dependency
	field = strings.ReplaceAll(field, "\n", " ")
	for _, dep := range strings.Split(field, ",") {
		if strings.TrimSpace(dep) == "" {
			continue
		}
		var d Dependency
		for _, alt := range strings.Split(dep, "|") {
			r, err := parseRelation(alt)
			if err != nil {
				return nil, err
			}
			d = append(d, r)
		}
		out = append(out, d)
	}
	return out, nil
}

var ops = []string{"<<", "<=", ">=", ">>", "=", "<", ">"}

// cutOp splits a version constraint "OP VERSION" (the inside of the
// parentheses) into its operator, one of ops, and the version; op is ""
// when c starts with none.
func cutOp(c string) (op, version string) {
	for _, op := range ops {
		if v, ok := strings.CutPrefix(c, op); ok {
			return op, strings.TrimSpace(v)
		}
	}
	return "", c
}

func parseRelation(s string) (Relation, error) {
	s = strings.TrimSpace(s)
	// Drop [arch list] and <profiles>.
	for _, pair := range [][2]byte{{'[', ']'}, {'<', '>'}} {
		for {
			i := strings.IndexByte(s, pair[0])
			if i < 0 || (pair[0] == '<' && strings.IndexByte(s, '(') >= 0 && strings.IndexByte(s, '(') < i) {
				break
			}
			j := strings.IndexByte(s[i:], pair[1])
			if j < 0 {
				return Relation{}, fmt.Errorf("relation %q: unterminated %q: %w", clip(s), pair[0], ErrSyntax)
			}
			s = strings.TrimSpace(s[:i] + s[i+j+1:])
		}
	}
	var r Relation
	name := s
	if i := strings.IndexByte(s, '('); i >= 0 {
		j := strings.IndexByte(s, ')')
		if j < i {
			return Relation{}, fmt.Errorf("relation %q: unterminated version constraint: %w", clip(s), ErrSyntax)
		}
		if strings.TrimSpace(s[j+1:]) != "" {
			return Relation{}, fmt.Errorf("relation %q: text after version constraint: %w", clip(s), ErrSyntax)
		}
		name = strings.TrimSpace(s[:i])
		r.Op, r.Version = cutOp(strings.TrimSpace(s[i+1 : j]))
		switch r.Op {
		case "<":
			r.Op = "<=" // obsolete form, meaning <=
		case ">":
			r.Op = ">="
		case "":
			return Relation{}, fmt.Errorf("relation %q: missing operator: %w", clip(s), ErrSyntax)
		}
		if err := ValidVersion(r.Version); err != nil {
			return Relation{}, fmt.Errorf("relation %q: %v: %w", clip(s), err, ErrSyntax)
		}
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		r.Arch = name[i+1:]
		name = name[:i]
	}
	r.Name = name
	if !validName(name) {
		return Relation{}, fmt.Errorf("relation %q: invalid package name %q: %w", clip(s), clip(name), ErrSyntax)
	}
	return r, nil
}
