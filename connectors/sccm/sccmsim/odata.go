package sccmsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// odataError is an answer in the AdminService's error shape.
type odataError struct {
	Status  int
	Code    string
	Message string
}

func (e *odataError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *odataError {
	return &odataError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *odataError {
	return errorf(http.StatusBadRequest, "BadRequest", format, args...)
}

func notFound(format string, args ...any) *odataError {
	return errorf(http.StatusNotFound, "NotFound", format, args...)
}

func conflict(format string, args ...any) *odataError {
	return errorf(http.StatusConflict, "Conflict", format, args...)
}

func writeError(w http.ResponseWriter, e *odataError) {
	writeJSON(w, e.Status, map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"encode"}}`)
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("OData-Version", "4.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// wmiPath is a parsed path below /AdminService/wmi/.
type wmiPath struct {
	Class string
	// Key is the text between the parentheses, unquoted; Quoted says it
	// was a string literal.
	Key    string
	HasKey bool
	Quoted bool
	// Method is an instance method (Class(key)/AdminService.Method) or,
	// with Static, a class method (Class.Method).
	Method string
	Static bool
}

var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parsePath reads "Class", "Class(123)", "Class('ID')",
// "Class('ID')/AdminService.Method" and "Class.Method".
func parsePath(p string) (wmiPath, error) {
	var out wmiPath
	if p == "" {
		return out, fmt.Errorf("no class")
	}
	rest := p
	if i := strings.IndexAny(rest, "(./"); i >= 0 {
		out.Class, rest = rest[:i], rest[i:]
	} else {
		out.Class, rest = rest, ""
	}
	if !identPattern.MatchString(out.Class) {
		return out, fmt.Errorf("%q is not a class name", out.Class)
	}
	if strings.HasPrefix(rest, ".") {
		out.Method, out.Static = rest[1:], true
		if !identPattern.MatchString(out.Method) {
			return out, fmt.Errorf("%q is not a method name", out.Method)
		}
		return out, nil
	}
	if strings.HasPrefix(rest, "(") {
		end := -1
		if strings.HasPrefix(rest, "('") {
			var b strings.Builder
			for i := 2; i < len(rest); i++ {
				if rest[i] == '\'' {
					if i+1 < len(rest) && rest[i+1] == '\'' {
						b.WriteByte('\'')
						i++
						continue
					}
					if i+1 < len(rest) && rest[i+1] == ')' {
						end = i + 2
					}
					break
				}
				b.WriteByte(rest[i])
			}
			if end < 0 {
				return out, fmt.Errorf("unterminated key in %q", p)
			}
			out.Key, out.Quoted = b.String(), true
		} else {
			i := strings.IndexByte(rest, ')')
			if i < 0 {
				return out, fmt.Errorf("unterminated key in %q", p)
			}
			k := rest[1:i]
			if _, err := strconv.ParseInt(k, 10, 64); err != nil {
				return out, fmt.Errorf("key %q: want a number or a quoted string", k)
			}
			out.Key, end = k, i+1
		}
		out.HasKey = true
		rest = rest[end:]
	}
	if rest == "" {
		return out, nil
	}
	m, ok := strings.CutPrefix(rest, "/AdminService.")
	if !ok || !out.HasKey || !identPattern.MatchString(m) {
		return out, fmt.Errorf("%q: want Class(key)/AdminService.Method", p)
	}
	out.Method = m
	return out, nil
}

// kind is a property's EDM type.
type kind int

const (
	kString kind = iota + 1
	kInt
	kBool
	kTime
	kIntArray
	kStringArray
	kObject
	kObjectArray
)

func (k kind) edm() string {
	return map[kind]string{kString: "Edm.String", kInt: "Edm.Int64", kBool: "Edm.Boolean", kTime: "Edm.DateTimeOffset",
		kIntArray: "Collection(Edm.Int64)", kStringArray: "Collection(Edm.String)", kObject: "Edm.Object", kObjectArray: "Collection(Edm.Object)"}[k]
}

// schema is a class's properties and which of them are lazy (returned
// only by a GET by key, as WMI does for large properties).
type schema struct {
	Class string
	Props map[string]kind
	Lazy  map[string]bool
}

// row is one instance as the wire shows it; times are time.Time.
type row map[string]any

// expr is a parsed $filter.
type expr interface{ eval(row) bool }

type cmpExpr struct {
	prop string
	ne   bool
	lit  any // string, int64, bool, nil
}

type andExpr struct{ l, r expr }

func (a andExpr) eval(r row) bool { return a.l.eval(r) && a.r.eval(r) }

func (c cmpExpr) eval(r row) bool {
	v := r[c.prop]
	eq := false
	switch lit := c.lit.(type) {
	case nil:
		eq = v == nil
	case string:
		s, ok := v.(string)
		eq = ok && strings.EqualFold(s, lit) // WQL compares strings without case
	case int64:
		eq = toInt(v) == lit && v != nil
	case bool:
		b, ok := v.(bool)
		eq = ok && b == lit
	}
	return eq != c.ne
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	}
	return -1 << 63
}

// parseFilter reads the $filter subset the simulator serves: comparisons
// "Prop eq|ne literal" (strings in single quotes, integers, true, false,
// null) joined by "and", with parentheses. Anything else is refused with
// the OData error shape.
func parseFilter(s string, sc schema) (expr, error) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, sc: sc}
	e, err := p.and()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at the end of the filter", p.toks[p.i].text)
	}
	return e, nil
}

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number, '(' ')' ','
	text string
}

func lexFilter(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			out = append(out, token{c, string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string literal at position %d", i)
			}
			out = append(out, token{'s', b.String()})
			i = j + 1
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, token{'n', s[i:j]})
			i = j
		case c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '.' || (s[j] >= '0' && s[j] <= '9') || (s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z')) {
				j++
			}
			out = append(out, token{'i', s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at position %d", c, i)
		}
	}
	return out, nil
}

type filterParser struct {
	toks []token
	i    int
	sc   schema
}

func (p *filterParser) peek() *token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return nil
}

func (p *filterParser) and() (expr, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t == nil || t.kind != 'i' {
			return l, nil
		}
		switch strings.ToLower(t.text) {
		case "and":
			p.i++
			r, err := p.term()
			if err != nil {
				return nil, err
			}
			l = andExpr{l, r}
		case "or":
			return nil, fmt.Errorf("the simulator serves only eq, ne and and: found %q", t.text)
		default:
			return l, nil
		}
	}
}

func (p *filterParser) term() (expr, error) {
	t := p.peek()
	if t == nil {
		return nil, fmt.Errorf("the filter ends where a comparison was expected")
	}
	if t.kind == '(' {
		p.i++
		e, err := p.and()
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t == nil || t.kind != ')' {
			return nil, fmt.Errorf("missing ')'")
		}
		p.i++
		return e, nil
	}
	if t.kind != 'i' {
		return nil, fmt.Errorf("expected a property name, found %q", t.text)
	}
	name := t.text
	p.i++
	if n := p.peek(); n != nil && n.kind == '(' {
		return nil, fmt.Errorf("the simulator serves no filter functions: found %s()", name)
	}
	if strings.EqualFold(name, "not") {
		return nil, fmt.Errorf("the simulator serves only eq, ne and and: found %q", name)
	}
	k, ok := p.sc.Props[name]
	if !ok {
		return nil, fmt.Errorf("Could not find a property named '%s' on type 'AdminService.%s'", name, p.sc.Class)
	}
	opTok := p.peek()
	if opTok == nil || opTok.kind != 'i' {
		return nil, fmt.Errorf("expected an operator after %s", name)
	}
	op := strings.ToLower(opTok.text)
	if op != "eq" && op != "ne" {
		return nil, fmt.Errorf("the simulator serves only eq, ne and and: found %q", opTok.text)
	}
	p.i++
	lt := p.peek()
	if lt == nil {
		return nil, fmt.Errorf("expected a literal after %s %s", name, op)
	}
	p.i++
	c := cmpExpr{prop: name, ne: op == "ne"}
	switch {
	case lt.kind == 'i' && lt.text == "null":
		c.lit = nil
		return c, nil
	case lt.kind == 's' && k == kString:
		c.lit = lt.text
	case lt.kind == 'n' && k == kInt:
		n, err := strconv.ParseInt(lt.text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", lt.text)
		}
		c.lit = n
	case lt.kind == 'i' && (lt.text == "true" || lt.text == "false") && k == kBool:
		c.lit = lt.text == "true"
	case lt.kind == 'i' || lt.kind == 's' || lt.kind == 'n':
		return nil, fmt.Errorf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'",
			k.edm(), litEDM(*lt), map[bool]string{false: "Equal", true: "NotEqual"}[c.ne])
	default:
		return nil, fmt.Errorf("expected a literal after %s %s, found %q", name, op, lt.text)
	}
	return c, nil
}

func litEDM(t token) string {
	switch t.kind {
	case 's':
		return "Edm.String"
	case 'n':
		return "Edm.Int32"
	}
	if t.text == "true" || t.text == "false" {
		return "Edm.Boolean"
	}
	return "Edm.Untyped"
}

// query is a parsed set of OData query options.
type query struct {
	filter expr
	sel    []string
	top    int // -1: none
	skip   int
}

func parseQuery(v url.Values, sc schema) (query, *odataError) {
	q := query{top: -1}
	for name := range v {
		switch name {
		case "$filter", "$select", "$top", "$skip", "$orderby", "$count":
		default:
			if strings.HasPrefix(name, "$") {
				return q, badRequest("The query parameter '%s' is not supported.", name)
			}
		}
	}
	if f := v.Get("$filter"); f != "" {
		e, err := parseFilter(f, sc)
		if err != nil {
			return q, badRequest("The query specified in the URI is not valid. %v", err)
		}
		q.filter = e
	}
	if s := v.Get("$select"); s != "" {
		for _, p := range strings.Split(s, ",") {
			p = strings.TrimSpace(p)
			if _, ok := sc.Props[p]; !ok {
				return q, badRequest("The query specified in the URI is not valid. Could not find a property named '%s' on type 'AdminService.%s'.", p, sc.Class)
			}
			q.sel = append(q.sel, p)
		}
	}
	for _, o := range []struct {
		name string
		dst  *int
	}{{"$top", &q.top}, {"$skip", &q.skip}} {
		if s := v.Get(o.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return q, badRequest("The query specified in the URI is not valid. Invalid value '%s' for %s query option found.", s, o.name)
			}
			*o.dst = n
		}
	}
	if v.Get("$orderby") != "" {
		return q, badRequest("The query specified in the URI is not valid. The simulator does not serve $orderby.")
	}
	return q, nil
}

func (q query) match(r row) bool { return q.filter == nil || q.filter.eval(r) }

// render shows a row: the selected properties, or all that are not lazy
// (full shows lazy ones too: a GET by key).
func render(r row, sc schema, sel []string, full bool) map[string]any {
	out := map[string]any{}
	if len(sel) > 0 {
		for _, p := range sel {
			if sc.Lazy[p] && !full {
				out[p] = nil
				continue
			}
			out[p] = wire(r[p])
		}
		return out
	}
	for p := range sc.Props {
		if sc.Lazy[p] && !full {
			continue
		}
		out[p] = wire(r[p])
	}
	return out
}

func wire(v any) any {
	if t, ok := v.(time.Time); ok {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// page applies $skip, $top and the page size to the matching rows and
// returns the page with the nextLink for the rest ("" when none).
func page(rows []row, q query, pageSize int, r *http.Request) ([]row, string) {
	start, stop, next := window(len(rows), q, pageSize, r)
	return rows[start:stop], next
}

// window is the part [start, stop) of total rows a page shows and the
// @odata.nextLink to the rest ("" at the end).
func window(total int, q query, pageSize int, r *http.Request) (start, stop int, next string) {
	start = min(q.skip, total)
	end := total
	if q.top >= 0 {
		end = min(start+q.top, total)
	}
	stop = end
	if pageSize > 0 && stop-start > pageSize {
		stop = start + pageSize
	}
	if stop >= end {
		return start, stop, ""
	}
	v := r.URL.Query()
	v.Set("$skip", strconv.Itoa(stop))
	if q.top >= 0 {
		v.Set("$top", strconv.Itoa(end-stop))
	}
	return start, stop, baseURL(r) + r.URL.EscapedPath() + "?" + v.Encode()
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func contextURL(r *http.Request, fragment string) string {
	return baseURL(r) + "/AdminService/wmi/$metadata#" + fragment
}

// body is a request body's properties, each checked against the class.
type body map[string]any

// decodeBody reads a JSON object for class sc, refusing unknown
// properties, wrong types and missing required ones as the service does.
func decodeBody(r *http.Request, sc schema, required ...string) (body, *odataError) {
	raw := map[string]json.RawMessage{}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, badRequest("The request body is not a JSON object: %v", err)
	}
	out := body{}
	for name, v := range raw {
		if strings.HasPrefix(name, "@odata.") {
			if name == "@odata.type" {
				var t string
				json.Unmarshal(v, &t)
				if t != "#AdminService."+sc.Class {
					return nil, badRequest("A type named '%s' could not be resolved by the model.", strings.TrimPrefix(t, "#"))
				}
			}
			continue
		}
		k, ok := sc.Props[name]
		if !ok {
			return nil, badRequest("The property '%s' does not exist on type 'AdminService.%s'. Make sure to only use property names that are defined by the type.", name, sc.Class)
		}
		x, err := decodeValue(v, k)
		if err != nil {
			return nil, badRequest("Property '%s' of 'AdminService.%s': %v", name, sc.Class, err)
		}
		out[name] = x
	}
	for _, name := range required {
		if v, ok := out[name]; !ok || v == nil || v == "" {
			return nil, badRequest("The property '%s' is required on type 'AdminService.%s'.", name, sc.Class)
		}
	}
	return out, nil
}

func decodeValue(raw json.RawMessage, k kind) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	switch k {
	case kString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("cannot convert %s to the expected type 'Edm.String'", raw)
		}
		return s, nil
	case kInt:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cannot convert the literal '%s' to the expected type 'Edm.Int32'", raw)
		}
		return n, nil
	case kBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("cannot convert the literal '%s' to the expected type 'Edm.Boolean'", raw)
		}
		return b, nil
	case kTime:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("cannot convert %s to the expected type 'Edm.DateTimeOffset'", raw)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'", s)
		}
		return t, nil
	case kIntArray:
		var ns []json.Number
		if err := json.Unmarshal(raw, &ns); err != nil {
			return nil, fmt.Errorf("cannot convert %s to the expected type 'Collection(Edm.Int32)'", raw)
		}
		out := []int64{}
		for _, n := range ns {
			x, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("cannot convert the literal '%s' to the expected type 'Edm.Int32'", n)
			}
			out = append(out, x)
		}
		return out, nil
	case kStringArray:
		var ss []string
		if err := json.Unmarshal(raw, &ss); err != nil {
			return nil, fmt.Errorf("cannot convert %s to the expected type 'Collection(Edm.String)'", raw)
		}
		return ss, nil
	case kObject:
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("cannot convert %s to an object", raw)
		}
		return m, nil
	case kObjectArray:
		var ms []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ms); err != nil {
			return nil, fmt.Errorf("cannot convert %s to a collection of objects", raw)
		}
		return ms, nil
	}
	return nil, fmt.Errorf("unsupported property type")
}

func (b body) str(name string) string {
	s, _ := b[name].(string)
	return s
}

func (b body) int(name string, def int64) int64 {
	if n, ok := b[name].(int64); ok {
		return n
	}
	return def
}

func (b body) bool(name string, def bool) bool {
	if v, ok := b[name].(bool); ok {
		return v
	}
	return def
}

func (b body) time(name string) time.Time {
	t, _ := b[name].(time.Time)
	return t
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
