package jamfsim

import (
	"fmt"
	"strconv"
	"strings"
)

// The Jamf Pro API's filter parameter is RSQL: comparisons
// (selector==value, !=, =in=(a,b), =out=, =lt=, =le=, =gt=, =ge=, and
// <, <=, >, >=) joined with ';' or "and" (and), ',' or "or" (or), grouped
// with parentheses. A value is quoted ("..." or '...') or a bare word; '*'
// in a == or != value is a wildcard. Text compares case-insensitively, as
// the service's database collation does; numbers compare as numbers.

// rsql is a parsed filter; nil matches everything.
type rsql interface {
	match(get func(field string) string) bool
}

type rsqlAnd []rsql
type rsqlOr []rsql

type rsqlCmp struct {
	field, op string
	values    []string
}

func (a rsqlAnd) match(get func(string) string) bool {
	for _, e := range a {
		if !e.match(get) {
			return false
		}
	}
	return true
}

func (o rsqlOr) match(get func(string) string) bool {
	for _, e := range o {
		if e.match(get) {
			return true
		}
	}
	return false
}

func (c rsqlCmp) match(get func(string) string) bool {
	v := get(c.field)
	switch c.op {
	case "==":
		return textMatch(v, c.values[0])
	case "!=":
		return !textMatch(v, c.values[0])
	case "=in=", "=out=":
		in := false
		for _, x := range c.values {
			if textMatch(v, x) {
				in = true
			}
		}
		return in == (c.op == "=in=")
	}
	cmp := compare(v, c.values[0])
	switch c.op {
	case "=lt=", "<":
		return cmp < 0
	case "=le=", "<=":
		return cmp <= 0
	case "=gt=", ">":
		return cmp > 0
	case "=ge=", ">=":
		return cmp >= 0
	}
	return false
}

func textMatch(v, pattern string) bool {
	v, pattern = strings.ToLower(v), strings.ToLower(pattern)
	if !strings.Contains(pattern, "*") {
		return v == pattern
	}
	return wildcard(v, pattern)
}

// wildcard matches pattern's '*' against any run of characters.
func wildcard(v, pattern string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(v, parts[0]) {
		return false
	}
	v = v[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(v, p)
		}
		j := strings.Index(v, p)
		if j < 0 {
			return false
		}
		v = v[j+len(p):]
	}
	return true
}

func compare(a, b string) int {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 == nil && err2 == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

// parseRSQL parses a filter over the given fields.
func parseRSQL(s string, fields []string) (rsql, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := &rsqlParser{s: s, fields: fields}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.s) {
		return nil, fmt.Errorf("unexpected %q at offset %d", p.s[p.i:], p.i)
	}
	return e, nil
}

type rsqlParser struct {
	s      string
	i      int
	fields []string
}

func (p *rsqlParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// keyword consumes a logical operator: one of the symbols, or the word
// surrounded by spaces.
func (p *rsqlParser) keyword(sym byte, word string) bool {
	save := p.i
	p.space()
	if p.i < len(p.s) && p.s[p.i] == sym {
		p.i++
		return true
	}
	if p.i > save && strings.HasPrefix(p.s[p.i:], word+" ") {
		p.i += len(word) + 1
		return true
	}
	p.i = save
	return false
}

func (p *rsqlParser) or() (rsql, error) {
	var out rsqlOr
	for {
		e, err := p.and()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if !p.keyword(',', "or") {
			break
		}
	}
	if len(out) == 1 {
		return out[0], nil
	}
	return out, nil
}

func (p *rsqlParser) and() (rsql, error) {
	var out rsqlAnd
	for {
		e, err := p.term()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if !p.keyword(';', "and") {
			break
		}
	}
	if len(out) == 1 {
		return out[0], nil
	}
	return out, nil
}

func (p *rsqlParser) term() (rsql, error) {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("missing ')' at offset %d", p.i)
		}
		p.i++
		return e, nil
	}
	return p.comparison()
}

var rsqlOps = []string{"==", "!=", "=in=", "=out=", "=lt=", "=le=", "=gt=", "=ge=", "<=", ">=", "<", ">"}

func (p *rsqlParser) comparison() (rsql, error) {
	start := p.i
	for p.i < len(p.s) && (isSelector(p.s[p.i])) {
		p.i++
	}
	field := p.s[start:p.i]
	if field == "" {
		return nil, fmt.Errorf("expected a field name at offset %d", start)
	}
	known := false
	for _, f := range p.fields {
		if f == field {
			known = true
		}
	}
	if !known {
		return nil, fmt.Errorf("field %q cannot be filtered on", field)
	}
	op := ""
	for _, o := range rsqlOps {
		if strings.HasPrefix(p.s[p.i:], o) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, fmt.Errorf("expected a comparison operator after %q at offset %d", field, p.i)
	}
	p.i += len(op)
	var values []string
	if op == "=in=" || op == "=out=" {
		if p.i >= len(p.s) || p.s[p.i] != '(' {
			return nil, fmt.Errorf("%s needs a (list) at offset %d", op, p.i)
		}
		p.i++
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			values = append(values, v)
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			break
		}
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("missing ')' at offset %d", p.i)
		}
		p.i++
	} else {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		values = []string{v}
	}
	return rsqlCmp{field: field, op: op, values: values}, nil
}

func isSelector(c byte) bool {
	return c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *rsqlParser) value() (string, error) {
	if p.i < len(p.s) && (p.s[p.i] == '"' || p.s[p.i] == '\'') {
		q := p.s[p.i]
		var b strings.Builder
		for p.i++; p.i < len(p.s); p.i++ {
			c := p.s[p.i]
			if c == '\\' && p.i+1 < len(p.s) {
				p.i++
				b.WriteByte(p.s[p.i])
				continue
			}
			if c == q {
				p.i++
				return b.String(), nil
			}
			b.WriteByte(c)
		}
		return "", fmt.Errorf("unterminated quoted value")
	}
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(`;,() "'`, rune(p.s[p.i])) {
		p.i++
	}
	if p.i == start {
		return "", fmt.Errorf("expected a value at offset %d", start)
	}
	return p.s[start:p.i], nil
}
