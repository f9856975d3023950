// Package xmlplist decodes Apple XML property lists (launchd plists, UDIF
// disk image resource plists, Info.plist files) within limits: the nesting
// depth, the number of values and the bytes read are bounded, so a hostile
// plist costs bounded memory and time. It never expands entities (the XML
// decoder refuses unknown ones), so an entity bomb is an error, not a
// gigabyte. Binary plists ("bplist00") are recognised and refused with
// ErrBinary so the caller can say what it did not read.
package xmlplist

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Errors.
var (
	// ErrBinary: the input is a binary property list, which this package
	// does not decode.
	ErrBinary = errors.New("binary property list (bplist00) not decoded")
	// ErrLimit: the plist is deeper, larger or has more values than the
	// Limits allow. Always wrapped with the limit that was hit.
	ErrLimit = errors.New("property list over limit")
)

// Kind is the type of a Value.
type Kind int

// Kinds.
const (
	String Kind = iota
	Integer
	Real
	Bool
	Date
	Data
	Array
	Dict
)

func (k Kind) String() string {
	return [...]string{"string", "integer", "real", "bool", "date", "data", "array", "dict"}[k]
}

// Value is one decoded plist value.
type Value struct {
	Kind  Kind
	Text  string // string, integer, real and date values as written
	Bool  bool
	Data  []byte   // decoded <data>
	Items []*Value // array elements
	Keys  []string // dict keys in document order (duplicates kept once)
	Dict  map[string]*Value
}

// Get returns the dict entry key, or nil (also when v is nil or not a dict).
func (v *Value) Get(key string) *Value {
	if v == nil || v.Kind != Dict {
		return nil
	}
	return v.Dict[key]
}

// Str returns the string value of dict entry key, or "".
func (v *Value) Str(key string) string {
	e := v.Get(key)
	if e == nil || e.Kind != String {
		return ""
	}
	return e.Text
}

// True reports whether dict entry key is <true/>.
func (v *Value) True(key string) bool {
	e := v.Get(key)
	return e != nil && e.Kind == Bool && e.Bool
}

// Limits bound a decode. Zero fields take DefaultLimits.
type Limits struct {
	MaxBytes  int64 // bytes of XML read
	MaxDepth  int   // nesting of arrays and dicts
	MaxValues int   // values in the whole document
}

// DefaultLimits suit real plists.
var DefaultLimits = Limits{MaxBytes: 16 << 20, MaxDepth: 64, MaxValues: 1_000_000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultLimits.MaxValues
	}
	return l
}

// Parse decodes the plist read from r: an optional XML declaration and
// DOCTYPE, then <plist> holding one value. Anything read past
// lim.MaxBytes, nested past lim.MaxDepth or counted past lim.MaxValues is
// an error wrapping ErrLimit.
func Parse(r io.Reader, lim Limits) (*Value, error) {
	lim = lim.withDefaults()
	br := bufio.NewReader(&capReader{r: r, left: lim.MaxBytes})
	if head, _ := br.Peek(8); bytes.Equal(head, []byte("bplist00")) {
		return nil, ErrBinary
	}
	p := &parser{d: xml.NewDecoder(br), lim: lim}
	for {
		tok, err := p.token()
		if err != nil {
			if err == io.EOF {
				return nil, errors.New("no <plist> element")
			}
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("root element <%s>, want <plist>", se.Name.Local)
			}
			v, _, err := p.value(1)
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, errors.New("empty <plist>")
			}
			return v, nil
		}
	}
}

// ParseBytes is Parse over b.
func ParseBytes(b []byte, lim Limits) (*Value, error) { return Parse(bytes.NewReader(b), lim) }

type parser struct {
	d      *xml.Decoder
	lim    Limits
	values int
}

func (p *parser) token() (xml.Token, error) {
	tok, err := p.d.Token()
	if err != nil {
		var le *limitError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrLimit, p.lim.MaxBytes)
		}
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("XML: %w", err)
	}
	return tok, nil
}

// value reads the next value element inside the current element; it
// returns nil at the end element of the enclosing element. isKey tells a
// <key> from a <string>.
func (p *parser) value(depth int) (v *Value, isKey bool, err error) {
	for {
		tok, err := p.token()
		if err != nil {
			if err == io.EOF {
				return nil, false, io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil, false, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, false, errors.New("text outside a value element")
			}
		case xml.StartElement:
			return p.element(t, depth)
		}
	}
}

func (p *parser) element(se xml.StartElement, depth int) (*Value, bool, error) {
	p.values++
	if p.values > p.lim.MaxValues {
		return nil, false, fmt.Errorf("%w: more than %d values", ErrLimit, p.lim.MaxValues)
	}
	switch se.Name.Local {
	case "dict":
		if depth > p.lim.MaxDepth {
			return nil, false, fmt.Errorf("%w: nested deeper than %d", ErrLimit, p.lim.MaxDepth)
		}
		v := &Value{Kind: Dict, Dict: map[string]*Value{}}
		for {
			k, isKey, err := p.value(depth + 1)
			if err != nil {
				return nil, false, err
			}
			if k == nil {
				return v, false, nil
			}
			if !isKey {
				return nil, false, fmt.Errorf("dict entry <%s> where a <key> belongs", k.Kind)
			}
			e, eKey, err := p.value(depth + 1)
			if err != nil {
				return nil, false, err
			}
			if e == nil {
				return nil, false, fmt.Errorf("dict key %q has no value", k.Text)
			}
			if eKey {
				return nil, false, fmt.Errorf("dict key %q is followed by another key", k.Text)
			}
			if _, dup := v.Dict[k.Text]; !dup {
				v.Keys = append(v.Keys, k.Text)
				v.Dict[k.Text] = e
			}
		}
	case "array":
		if depth > p.lim.MaxDepth {
			return nil, false, fmt.Errorf("%w: nested deeper than %d", ErrLimit, p.lim.MaxDepth)
		}
		v := &Value{Kind: Array}
		for {
			e, isKey, err := p.value(depth + 1)
			if err != nil {
				return nil, false, err
			}
			if e == nil {
				return v, false, nil
			}
			if isKey {
				return nil, false, errors.New("<key> inside an array")
			}
			v.Items = append(v.Items, e)
		}
	case "true", "false":
		if err := p.d.Skip(); err != nil {
			return nil, false, fmt.Errorf("XML: %w", err)
		}
		return &Value{Kind: Bool, Bool: se.Name.Local == "true"}, false, nil
	case "key", "string", "integer", "real", "date", "data":
		text, err := p.text()
		if err != nil {
			return nil, false, err
		}
		switch se.Name.Local {
		case "key":
			return &Value{Kind: String, Text: text}, true, nil
		case "string":
			return &Value{Kind: String, Text: text}, false, nil
		case "integer":
			return &Value{Kind: Integer, Text: strings.TrimSpace(text)}, false, nil
		case "real":
			return &Value{Kind: Real, Text: strings.TrimSpace(text)}, false, nil
		case "date":
			return &Value{Kind: Date, Text: strings.TrimSpace(text)}, false, nil
		default:
			clean := strings.Map(func(r rune) rune {
				if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
					return -1
				}
				return r
			}, text)
			b, err := base64.StdEncoding.DecodeString(clean)
			if err != nil {
				return nil, false, fmt.Errorf("<data>: %v", err)
			}
			return &Value{Kind: Data, Data: b}, false, nil
		}
	default:
		return nil, false, fmt.Errorf("unknown plist element <%s>", se.Name.Local)
	}
}

// text reads character data up to the end element; a nested element is an
// error.
func (p *parser) text() (string, error) {
	var b strings.Builder
	for {
		tok, err := p.token()
		if err != nil {
			if err == io.EOF {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.StartElement:
			return "", fmt.Errorf("element <%s> inside a text value", t.Name.Local)
		}
	}
}

// capReader returns a *limitError once more than left bytes are asked of r.
type capReader struct {
	r    io.Reader
	left int64
}

type limitError struct{}

func (*limitError) Error() string { return "input over limit" }

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more than allowed tells "over" from "exactly at".
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, &limitError{}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
