package mobile

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// A plist value is one of: string, int64, uint64 (a positive integer over
// int64), float64, bool, []byte, time.Time, []any, map[string]any.

// maxPlistDepth bounds the nesting of arrays and dicts.
const maxPlistDepth = 64

// plistEpoch is the reference date of plist dates.
var plistEpoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// parsePlist reads an XML or binary property list; maxNodes bounds the
// values decoded (a binary plist can reference one object many times).
func parsePlist(b []byte, maxNodes int) (any, error) {
	if bytes.HasPrefix(b, []byte("bplist")) {
		return parseBinaryPlist(b, maxNodes)
	}
	return parseXMLPlist(b, maxNodes)
}

// --- XML ---

func parseXMLPlist(b []byte, maxNodes int) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.Entity = map[string]string{} // no entities beyond XML's five
	p := &xmlPlist{d: d, left: maxNodes}
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, errors.New("XML plist: no <plist> element")
			}
			return nil, fmt.Errorf("XML plist: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("XML plist: root element <%s>, want <plist>", se.Name.Local)
			}
			v, end, err := p.value(0)
			if err != nil {
				return nil, err
			}
			if end {
				return nil, errors.New("XML plist: empty <plist>")
			}
			if tok, err := p.next(); err != nil {
				return nil, err
			} else if _, ok := tok.(xml.EndElement); !ok {
				return nil, errors.New("XML plist: more than one value in <plist>")
			}
			for { // nothing but white space, comments and instructions may follow
				tok, err := d.Token()
				if err == io.EOF {
					return v, nil
				}
				if err != nil {
					return nil, fmt.Errorf("XML plist: %v", err)
				}
				switch t := tok.(type) {
				case xml.StartElement:
					return nil, fmt.Errorf("XML plist: <%s> after </plist>", t.Name.Local)
				case xml.CharData:
					if len(bytes.TrimSpace(t)) != 0 {
						return nil, errors.New("XML plist: text after </plist>")
					}
				}
			}
		}
	}
}

type xmlPlist struct {
	d    *xml.Decoder
	left int
}

// next returns the next start or end element, skipping character data
// between elements (which must be white space), comments and
// processing instructions.
func (p *xmlPlist) next() (xml.Token, error) {
	for {
		tok, err := p.d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("XML plist: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, fmt.Errorf("XML plist: text %q outside a value", clip(string(bytes.TrimSpace(t)), 40))
			}
		}
	}
}

// text reads the character data of a simple element up to its end tag.
func (p *xmlPlist) text(name string) (string, error) {
	var sb strings.Builder
	for {
		tok, err := p.d.Token()
		if err != nil {
			return "", fmt.Errorf("XML plist: <%s>: %v", name, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.EndElement:
			return sb.String(), nil
		case xml.StartElement:
			return "", fmt.Errorf("XML plist: <%s> inside <%s>", t.Name.Local, name)
		}
	}
}

// value reads one value; end reports that the enclosing element ended
// instead.
func (p *xmlPlist) value(depth int) (v any, end bool, err error) {
	if depth > maxPlistDepth {
		return nil, false, fmt.Errorf("XML plist: nested deeper than %d", maxPlistDepth)
	}
	if p.left--; p.left < 0 {
		return nil, false, errors.New("XML plist: too many values")
	}
	tok, err := p.next()
	if err != nil {
		return nil, false, err
	}
	se, ok := tok.(xml.StartElement)
	if !ok {
		return nil, true, nil
	}
	name := se.Name.Local
	switch name {
	case "dict":
		m := map[string]any{}
		for {
			tok, err := p.next()
			if err != nil {
				return nil, false, err
			}
			if _, ok := tok.(xml.EndElement); ok {
				return m, false, nil
			}
			if ks := tok.(xml.StartElement); ks.Name.Local != "key" {
				return nil, false, fmt.Errorf("XML plist: <%s> where a <key> belongs", ks.Name.Local)
			}
			k, err := p.text("key")
			if err != nil {
				return nil, false, err
			}
			v, end, err := p.value(depth + 1)
			if err != nil {
				return nil, false, err
			}
			if end {
				return nil, false, fmt.Errorf("XML plist: key %q has no value", clip(k, 40))
			}
			m[k] = v
		}
	case "array":
		var a []any
		for {
			v, end, err := p.value(depth + 1)
			if err != nil {
				return nil, false, err
			}
			if end {
				return a, false, nil
			}
			a = append(a, v)
		}
	case "true", "false":
		if _, err := p.text(name); err != nil {
			return nil, false, err
		}
		return name == "true", false, nil
	}
	s, err := p.text(name)
	if err != nil {
		return nil, false, err
	}
	switch name {
	case "string":
		return s, false, nil
	case "integer":
		s = strings.TrimSpace(s)
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i, false, nil
		}
		if u, err := strconv.ParseUint(s, 0, 64); err == nil {
			return u, false, nil
		}
		return nil, false, fmt.Errorf("XML plist: integer %q", clip(s, 40))
	case "real":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, false, fmt.Errorf("XML plist: real %q", clip(s, 40))
		}
		return f, false, nil
	case "data":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, false, fmt.Errorf("XML plist: data: %v", err)
		}
		return b, false, nil
	case "date":
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
		if err != nil {
			return nil, false, fmt.Errorf("XML plist: date %q", clip(s, 40))
		}
		return t, false, nil
	}
	return nil, false, fmt.Errorf("XML plist: unknown element <%s>", name)
}

// --- binary ("bplist00") ---

type binaryPlist struct {
	b          []byte
	table      []byte // the offset table, offSize bytes an object
	offSize    int
	num        uint64
	refSize    int
	left       int
	inProgress map[uint64]bool
}

func parseBinaryPlist(b []byte, maxNodes int) (any, error) {
	if len(b) < 8+32 || string(b[:8]) != "bplist00" {
		return nil, errors.New("binary plist: not a bplist00 file")
	}
	t := b[len(b)-32:]
	offSize, refSize := int(t[6]), int(t[7])
	num := binary.BigEndian.Uint64(t[8:])
	top := binary.BigEndian.Uint64(t[16:])
	tableOff := binary.BigEndian.Uint64(t[24:])
	body := uint64(len(b) - 32)
	if offSize < 1 || offSize > 8 || refSize < 1 || refSize > 8 {
		return nil, fmt.Errorf("binary plist: offset size %d, reference size %d", offSize, refSize)
	}
	if num == 0 || num > body || top >= num {
		return nil, fmt.Errorf("binary plist: %d objects, top object %d", num, top)
	}
	if tableOff < 8 || tableOff > body || num*uint64(offSize) > body-tableOff {
		return nil, fmt.Errorf("binary plist: offset table at %d for %d objects outside the file", tableOff, num)
	}
	p := &binaryPlist{b: b[:tableOff], table: b[tableOff : tableOff+num*uint64(offSize)], offSize: offSize, num: num,
		refSize: refSize, left: maxNodes, inProgress: map[uint64]bool{}}
	return p.object(top, 0)
}

func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// span returns n bytes at off, or an error if they are not all there.
func (p *binaryPlist) span(off, n uint64) ([]byte, error) {
	if off > uint64(len(p.b)) || n > uint64(len(p.b))-off {
		return nil, fmt.Errorf("binary plist: %d bytes at offset %d run past the object area", n, off)
	}
	return p.b[off : off+n], nil
}

// count reads an object's length: the marker's low nibble, or when that
// is 0xF the integer object that follows. It returns the length and the
// offset after it.
func (p *binaryPlist) count(marker byte, off uint64) (uint64, uint64, error) {
	if marker&0x0f != 0x0f {
		return uint64(marker & 0x0f), off, nil
	}
	m, err := p.span(off, 1)
	if err != nil {
		return 0, 0, err
	}
	if m[0]>>4 != 0x1 || m[0]&0x0f > 3 {
		return 0, 0, fmt.Errorf("binary plist: bad length marker 0x%02x at offset %d", m[0], off)
	}
	n := uint64(1) << (m[0] & 0x0f)
	v, err := p.span(off+1, n)
	if err != nil {
		return 0, 0, err
	}
	return beUint(v), off + 1 + n, nil
}

func (p *binaryPlist) object(ref uint64, depth int) (any, error) {
	if ref >= p.num {
		return nil, fmt.Errorf("binary plist: reference %d to no object", ref)
	}
	if depth > maxPlistDepth {
		return nil, fmt.Errorf("binary plist: nested deeper than %d", maxPlistDepth)
	}
	if p.left--; p.left < 0 {
		return nil, errors.New("binary plist: too many values (objects referenced over and over?)")
	}
	off := beUint(p.table[ref*uint64(p.offSize) : (ref+1)*uint64(p.offSize)])
	if off < 8 {
		return nil, fmt.Errorf("binary plist: object %d at offset %d outside the object area", ref, off)
	}
	mb, err := p.span(off, 1)
	if err != nil {
		return nil, err
	}
	m := mb[0]
	off++
	switch m >> 4 {
	case 0x0:
		switch m {
		case 0x08:
			return false, nil
		case 0x09:
			return true, nil
		case 0x00, 0x0f:
			return nil, nil
		}
	case 0x1: // int: 2^n bytes big-endian; 8 bytes signed, 16 bytes the low 8 unsigned
		n := uint64(1) << (m & 0x0f)
		if n > 16 {
			break
		}
		v, err := p.span(off, n)
		if err != nil {
			return nil, err
		}
		switch n {
		case 8:
			return int64(binary.BigEndian.Uint64(v)), nil
		case 16:
			u := binary.BigEndian.Uint64(v[8:])
			if u <= math.MaxInt64 {
				return int64(u), nil
			}
			return u, nil
		}
		return int64(beUint(v)), nil
	case 0x2: // real
		n := uint64(1) << (m & 0x0f)
		v, err := p.span(off, n)
		if err != nil {
			return nil, err
		}
		switch n {
		case 4:
			return float64(math.Float32frombits(binary.BigEndian.Uint32(v))), nil
		case 8:
			return math.Float64frombits(binary.BigEndian.Uint64(v)), nil
		}
	case 0x3:
		if m != 0x33 {
			break
		}
		v, err := p.span(off, 8)
		if err != nil {
			return nil, err
		}
		s := math.Float64frombits(binary.BigEndian.Uint64(v))
		if math.IsNaN(s) || math.Abs(s) > 1e11 {
			return nil, fmt.Errorf("binary plist: date %v out of range", s)
		}
		return plistEpoch.Add(time.Duration(s * float64(time.Second))), nil
	case 0x4, 0x5, 0x6: // data, ASCII string, UTF-16BE string
		n, at, err := p.count(m, off)
		if err != nil {
			return nil, err
		}
		size := n
		if m>>4 == 0x6 {
			if n > uint64(len(p.b)) {
				return nil, fmt.Errorf("binary plist: string of %d characters at offset %d runs past the object area", n, off)
			}
			size = n * 2
		}
		v, err := p.span(at, size)
		if err != nil {
			return nil, err
		}
		switch m >> 4 {
		case 0x4:
			return append([]byte(nil), v...), nil
		case 0x5:
			return string(v), nil
		}
		u := make([]uint16, n)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(v[2*i:])
		}
		return string(utf16.Decode(u)), nil
	case 0x8: // UID
		v, err := p.span(off, uint64(m&0x0f)+1)
		if err != nil {
			return nil, err
		}
		return int64(beUint(v)), nil
	case 0xa, 0xc, 0xd: // array, set, dict
		n, at, err := p.count(m, off)
		if err != nil {
			return nil, err
		}
		refs := n
		if m>>4 == 0xd {
			if n > uint64(len(p.b)) {
				return nil, fmt.Errorf("binary plist: dict of %d entries runs past the object area", n)
			}
			refs = 2 * n
		}
		if refs > uint64(len(p.b)) {
			return nil, fmt.Errorf("binary plist: %d references run past the object area", refs)
		}
		rb, err := p.span(at, refs*uint64(p.refSize))
		if err != nil {
			return nil, err
		}
		if p.inProgress[ref] {
			return nil, fmt.Errorf("binary plist: object %d contains itself", ref)
		}
		p.inProgress[ref] = true
		defer delete(p.inProgress, ref)
		r := func(i uint64) uint64 { return beUint(rb[i*uint64(p.refSize) : (i+1)*uint64(p.refSize)]) }
		if m>>4 != 0xd {
			a := make([]any, 0, min(n, 1024))
			for i := uint64(0); i < n; i++ {
				v, err := p.object(r(i), depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			return a, nil
		}
		d := make(map[string]any, min(n, 1024))
		for i := uint64(0); i < n; i++ {
			k, err := p.object(r(i), depth+1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("binary plist: dict key of type %T", k)
			}
			v, err := p.object(r(n+i), depth+1)
			if err != nil {
				return nil, err
			}
			d[ks] = v
		}
		return d, nil
	}
	return nil, fmt.Errorf("binary plist: unknown object marker 0x%02x at offset %d", m, off-1)
}

// scalar renders a plist value for Facts.Fields: strings, numbers, bools
// and dates as text, arrays of them joined by ", "; ok is false for dicts,
// data and nested arrays.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case time.Time:
		return x.UTC().Format(time.RFC3339), true
	case []any:
		var parts []string
		for _, e := range x {
			s, ok := scalar(e)
			if !ok {
				return "", false
			}
			if _, nested := e.([]any); nested {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ", "), true
	}
	return "", false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
