package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
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
		return jsonFieldError(root, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldErrorf(root, "trailing data after the JSON document")
	}
	return nil
}

func jsonFieldError(root string, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = root
		}
		return fieldErrorf(f, "got JSON %s, want %s", te.Value, jsonTypeName(te.Type.String()))
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

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "float"), strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), goType == "deploy.Ring":
		return "a number"
	case goType == "string", strings.HasPrefix(goType, "deploy."):
		return "a " + goType
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"):
		return "an object"
	}
	return goType
}

// checkDuplicateKeys walks the token stream and refuses an object that names
// the same key twice (encoding/json would silently keep the last).
func checkDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // next string token in an object is a key
		path   string
	}
	var stack []*frame
	var lastKey string
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return nil // syntax errors are reported by the real decode
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return fmt.Errorf("duplicate key %q", joinPath(top.path, k))
				}
				top.keys[k] = true
				top.expect = false
				lastKey = k
				continue
			}
		}
		path := ""
		if top != nil {
			if top.object {
				path = joinPath(top.path, lastKey)
			} else {
				path = top.path + "[]"
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true, path: path})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{path: path})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true
		}
	}
}

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}
