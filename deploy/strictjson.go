package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// MaxDocumentSize bounds every JSON document the strict decoders accept.
const MaxDocumentSize = 4 << 20

// decodeStrict decodes one JSON document into v, refusing unknown fields,
// duplicate object keys, trailing data and oversize input. Errors wrap
// ErrInvalidInput and name the field when one is at fault; root labels the
// document ("risk input", "intent", ...).
func decodeStrict(b []byte, v any, root string) error {
	if len(b) > MaxDocumentSize {
		return fieldErrorf(root, "document is %d bytes, more than the %d allowed", len(b), MaxDocumentSize)
	}
	if err := checkDuplicateKeys(b); err != nil {
		return fieldErrorf(root, "%v", err)
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

// walkJSON calls fn for every scalar value and every object key of a JSON
// document with its path ("a.b[].c"); key is true for object keys. It stops
// at the first error fn returns; syntax errors end the walk silently (the
// real decoder reports them).
func walkJSON(b []byte, fn func(path string, object int, tok json.Token, key bool) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		object bool
		expect bool // next string token in an object is a key
		path   string
		key    string
		id     int // distinct per object, for duplicate detection
	}
	var stack []*frame
	objects := 0
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
				if err := fn(top.path, top.id, k, true); err != nil {
					return err
				}
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
			objects++
			stack = append(stack, &frame{object: true, expect: true, path: path, id: objects})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{path: path})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if err := fn(path, 0, tok, false); err != nil {
				return err
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true
		}
	}
}

// checkDuplicateKeys refuses an object that names the same key twice
// (encoding/json would silently keep the last).
func checkDuplicateKeys(b []byte) error {
	seen := map[int]map[string]bool{}
	return walkJSON(b, func(path string, object int, tok json.Token, key bool) error {
		if !key {
			return nil
		}
		k := tok.(string)
		if seen[object] == nil {
			seen[object] = map[string]bool{}
		}
		if seen[object][k] {
			return fmt.Errorf("duplicate key %q", joinPath(path, k))
		}
		seen[object][k] = true
		return nil
	})
}

// pathOfString returns the path of the first string value equal to v.
func pathOfString(b []byte, v string) string {
	found := ""
	stop := errors.New("found")
	_ = walkJSON(b, func(path string, _ int, tok json.Token, key bool) error {
		if s, ok := tok.(string); ok && !key && s == v {
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
