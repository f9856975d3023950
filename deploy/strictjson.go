package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"
)

// MaxDocumentSize bounds every JSON document the strict decoders accept.
const MaxDocumentSize = 4 << 20

// decodeStrict decodes one JSON document into v, refusing unknown fields,
// duplicate object keys, keys that match a field only when case is
// ignored, trailing data and oversize input. Errors wrap
// ErrInvalidInput and name the field when one is at fault; root labels the
// document ("risk input", "intent", ...).
func decodeStrict(b []byte, v any, root string) error {
	if len(b) > MaxDocumentSize {
		return fieldErrorf(root, "document is %d bytes, more than the %d allowed", len(b), MaxDocumentSize)
	}
	if err := CheckKeys(b, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFieldError(b, root, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldErrorf(root, "trailing data after the JSON document")
	}
	return nil
}

func jsonFieldError(b []byte, root string, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var pe *time.ParseError
	switch {
	case errors.As(err, &pe):
		f := pathOfString(b, pe.Value)
		if f == "" {
			f = root
		}
		return fieldErrorf(f, "%q is not an RFC 3339 time", clip(pe.Value))
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = root
		}
		return fieldErrorf(f, "got JSON %s, want %s", te.Value, jsonTypeName(te.Type))
	case errors.As(err, &se):
		return fieldErrorf(root, "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF):
		return fieldErrorf(root, "empty document")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fieldErrorf(root, "truncated JSON")
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fieldErrorf(strings.Trim(name, `"`), "unknown field")
	}
	return fieldErrorf(root, "%s", strings.TrimPrefix(msg, "json: "))
}

func jsonTypeName(t reflect.Type) string {
	if t == reflect.TypeOf(time.Time{}) {
		return "an RFC 3339 time string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// walkJSON calls fn for every scalar value of a JSON document with its path
// ("a.b[].c"). It stops at the first error fn returns; syntax errors end
// the walk silently (the real decoder reports them).
func walkJSON(b []byte, fn func(path string, tok json.Token) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		object bool
		expect bool // next string token in an object is a key
		path   string
		key    string
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if k, ok := tok.(string); ok {
				top.expect = false
				top.key = k
				continue
			}
		}
		path := ""
		if top != nil {
			if top.object {
				path = joinPath(top.path, top.key)
			} else {
				path = top.path + "[]"
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, expect: true, path: path})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{path: path})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if err := fn(path, tok); err != nil {
				return err
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true
		}
	}
}

// pathOfString returns the path of the first string value equal to v.
func pathOfString(b []byte, v string) string {
	found := ""
	stop := errors.New("found")
	_ = walkJSON(b, func(path string, tok json.Token) error {
		if s, ok := tok.(string); ok && s == v {
			found = path
			return stop
		}
		return nil
	})
	return found
}

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// CheckKeys refuses what encoding/json would silently accept in a document
// meant for v: an object naming the same key twice (encoding/json keeps the
// last, so `"role":"auditor","role":"platform-admin"` would make an admin)
// and a key that matches a struct field only when case is ignored
// (`"Role"` for `role`). Every decoder of outside input calls it before
// decoding, with DisallowUnknownFields for keys that match nothing. The
// error is a *FieldError naming the key's path ("a.b[].c"). Syntax errors
// are left to the real decoder. Fields and values behind a custom
// UnmarshalJSON are checked for duplicates only.
func CheckKeys(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var t reflect.Type
	if v != nil {
		t = reflect.TypeOf(v)
	}
	err := checkValue(dec, t, "")
	var fe *FieldError
	if errors.As(err, &fe) {
		return err
	}
	return nil
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
)

// plain resolves t to the type whose JSON shape the decoder follows, or
// nil when its keys are not known (any, custom unmarshalers).
func plain(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
			continue
		case reflect.Interface:
			return nil
		}
		return t
	}
	return nil
}

func checkValue(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	t = plain(t)
	switch tok {
	case json.Delim('{'):
		return checkObject(dec, t, path)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := checkValue(dec, elem, path+"[]"); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	return nil
}

func checkObject(dec *json.Decoder, t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = jsonFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		k, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key %v is not a string", tok)
		}
		kp := joinPath(path, k)
		if seen[k] {
			return fieldErrorf(kp, "duplicate key (each key may appear once in an object)")
		}
		seen[k] = true
		child := elem
		if fields != nil {
			ft, exact := fields[k]
			if !exact {
				for name := range fields {
					if strings.EqualFold(name, k) {
						return fieldErrorf(kp, "unknown field (keys are case-sensitive: did you mean %q?)", name)
					}
				}
			}
			child = ft
		}
		if err := checkValue(dec, child, kp); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

// fieldCache holds jsonFields' answer per struct type: CheckKeys meets the
// same types in every element of an array and in every document.
var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields returns the JSON names of t's fields (with promoted fields of
// untagged embedded structs) and their types, as encoding/json sees them.
// The map is shared: callers must not modify it.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	var add func(t reflect.Type, depth int)
	add = func(t reflect.Type, depth int) {
		if depth > 8 {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					add(ft, depth+1)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := out[name]; !dup || depth == 0 {
				out[name] = f.Type
			}
		}
	}
	add(t, 0)
	fieldCache.Store(t, out)
	return out
}
