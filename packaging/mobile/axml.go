package mobile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf16"
	"unicode/utf8"
)

// Android binary XML (frameworks/base/libs/androidfw/include/androidfw/
// ResourceTypes.h): a RES_XML_TYPE chunk holding a string pool, an
// optional resource map (the resource ID of each attribute name) and a
// sequence of namespace, element and CDATA nodes.
const (
	resStringPoolType   = 0x0001
	resXMLType          = 0x0003
	resXMLStartNS       = 0x0100
	resXMLEndNS         = 0x0101
	resXMLStartElement  = 0x0102
	resXMLEndElement    = 0x0103
	resXMLCDATA         = 0x0104
	resXMLResourceMap   = 0x0180
	stringPoolUTF8      = 1 << 8
	noIndex             = 0xffffffff
	androidNS           = "http://schemas.android.com/apk/res/android"
	maxAXMLStringLength = 1 << 16
)

// Res_value data types.
const (
	typeNull      = 0x00
	typeReference = 0x01
	typeAttribute = 0x02
	typeString    = 0x03
	typeFloat     = 0x04
	typeIntDec    = 0x10
	typeIntHex    = 0x11
	typeIntBool   = 0x12
)

// attrResIDs are the framework resource IDs of the attributes read, by
// which they are known when a tool strips the names (android.R.attr).
var attrResIDs = map[uint32]string{
	0x01010003: "name",
	0x01010010: "exported",
	0x0101021b: "versionCode",
	0x0101021c: "versionName",
	0x0101020c: "minSdkVersion",
	0x01010270: "targetSdkVersion",
	0x01010006: "permission",
	0x01010001: "label",
}

// axmlAttr is one attribute as read.
type axmlAttr struct {
	ns, name string
	value    string
	ref      bool // the value is a resource reference, unresolved
}

// axmlElement is one start element.
type axmlElement struct {
	name  string
	depth int
	attrs []axmlAttr
}

// attr returns the value of the attribute name in namespace ns ("" for
// none).
func (e *axmlElement) attr(ns, name string) (axmlAttr, bool) {
	for _, a := range e.attrs {
		if a.name == name && a.ns == ns {
			return a, true
		}
	}
	return axmlAttr{}, false
}

type axmlParser struct {
	b         []byte
	pool      []byte // the string pool chunk
	nStrings  uint32
	utf8      bool
	strStart  uint32 // where the string data starts in pool
	offsetsAt uint32 // where the string offsets start in pool
	strings   map[uint32]string
	resMap    []uint32
}

// parseAXML walks the binary XML document b and calls visit for every
// start element, at most maxElements of them.
func parseAXML(b []byte, maxElements int, visit func(*axmlElement) error) error {
	if len(b) < 8 {
		return fmt.Errorf("binary XML: %d bytes, shorter than a chunk header", len(b))
	}
	typ, hsize, size := binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])
	if typ != resXMLType {
		if b[0] == '<' || (len(b) > 3 && string(b[:3]) == "\xef\xbb\xbf") {
			return errors.New("text XML, not Android binary XML (a source manifest, not a built package)")
		}
		return fmt.Errorf("binary XML: first chunk type 0x%04x, want RES_XML_TYPE 0x0003", typ)
	}
	if hsize < 8 || uint32(hsize) > size || uint64(size) > uint64(len(b)) {
		return fmt.Errorf("binary XML: document chunk header %d, size %d, in %d bytes (truncated?)", hsize, size, len(b))
	}
	p := &axmlParser{b: b[:size], strings: map[uint32]string{}}
	depth, elements := 0, 0
	for off := uint32(hsize); off < size; {
		if size-off < 8 {
			return fmt.Errorf("binary XML: truncated chunk header at offset %d", off)
		}
		ct := binary.LittleEndian.Uint16(p.b[off:])
		ch := uint32(binary.LittleEndian.Uint16(p.b[off+2:]))
		cs := binary.LittleEndian.Uint32(p.b[off+4:])
		if ch < 8 || cs < ch || cs > size-off {
			return fmt.Errorf("binary XML: chunk 0x%04x at offset %d: header %d, size %d, %d bytes left", ct, off, ch, cs, size-off)
		}
		chunk := p.b[off : off+cs]
		switch ct {
		case resStringPoolType:
			if p.pool != nil {
				return fmt.Errorf("binary XML: second string pool at offset %d", off)
			}
			if err := p.stringPool(chunk, ch); err != nil {
				return err
			}
		case resXMLResourceMap:
			n := (cs - ch) / 4
			p.resMap = make([]uint32, n)
			for i := range p.resMap {
				p.resMap[i] = binary.LittleEndian.Uint32(chunk[ch+uint32(i)*4:])
			}
		case resXMLStartElement:
			if elements++; elements > maxElements {
				return fmt.Errorf("binary XML: more than %d elements", maxElements)
			}
			depth++
			e, err := p.element(chunk, ch, depth)
			if err != nil {
				return fmt.Errorf("binary XML: element at offset %d: %v", off, err)
			}
			if err := visit(e); err != nil {
				return err
			}
		case resXMLEndElement:
			if depth--; depth < 0 {
				return fmt.Errorf("binary XML: end element at offset %d closes nothing", off)
			}
		case resXMLStartNS, resXMLEndNS, resXMLCDATA:
			// nothing read from them
		default:
			return fmt.Errorf("binary XML: unknown chunk type 0x%04x at offset %d", ct, off)
		}
		off += cs
	}
	if elements == 0 {
		return errors.New("binary XML: no elements")
	}
	return nil
}

func (p *axmlParser) stringPool(c []byte, ch uint32) error {
	if ch < 28 {
		return fmt.Errorf("binary XML: string pool header of %d bytes", ch)
	}
	n := binary.LittleEndian.Uint32(c[8:])
	flags := binary.LittleEndian.Uint32(c[16:])
	start := binary.LittleEndian.Uint32(c[20:])
	if uint64(n)*4 > uint64(len(c))-uint64(ch) {
		return fmt.Errorf("binary XML: string pool claims %d strings in %d bytes", n, len(c))
	}
	if n > 0 && (start < ch+n*4 || start > uint32(len(c))) {
		return fmt.Errorf("binary XML: string pool data at %d outside its chunk", start)
	}
	p.pool, p.nStrings, p.utf8, p.strStart = c, n, flags&stringPoolUTF8 != 0, start
	p.offsetsAt = ch
	return nil
}

// str returns string i of the pool, decoding it once.
func (p *axmlParser) str(i uint32) (string, error) {
	if i == noIndex {
		return "", nil
	}
	if i >= p.nStrings {
		return "", fmt.Errorf("string index %d, pool has %d", i, p.nStrings)
	}
	if s, ok := p.strings[i]; ok {
		return s, nil
	}
	rel := binary.LittleEndian.Uint32(p.pool[p.offsetsAt+i*4:])
	at := uint64(p.strStart) + uint64(rel)
	data := p.pool
	bad := fmt.Errorf("string %d at offset %d runs past the string pool", i, at)
	if at >= uint64(len(data)) {
		return "", bad
	}
	d := data[at:]
	var s string
	if p.utf8 {
		_, k := utf8Len(d) // the length in UTF-16 units, unused
		if k == 0 {
			return "", bad
		}
		n, k2 := utf8Len(d[k:])
		if k2 == 0 || n > uint32(len(d)-k-k2) {
			return "", bad
		}
		raw := d[k+k2 : k+k2+int(n)]
		if !utf8.Valid(raw) {
			return "", fmt.Errorf("string %d is not UTF-8", i)
		}
		s = string(raw)
	} else {
		if len(d) < 2 {
			return "", bad
		}
		n := uint32(binary.LittleEndian.Uint16(d))
		k := 2
		if n&0x8000 != 0 {
			if len(d) < 4 {
				return "", bad
			}
			n = (n&0x7fff)<<16 | uint32(binary.LittleEndian.Uint16(d[2:]))
			k = 4
		}
		if n > maxAXMLStringLength || uint64(n)*2 > uint64(len(d)-k) {
			return "", bad
		}
		u := make([]uint16, n)
		for j := range u {
			u[j] = binary.LittleEndian.Uint16(d[k+2*j:])
		}
		s = string(utf16.Decode(u))
	}
	p.strings[i] = s
	return s, nil
}

// utf8Len reads a UTF-8 pool length (one byte, or two with the high bit
// set) and returns it with the bytes it took (0: truncated).
func utf8Len(d []byte) (uint32, int) {
	if len(d) < 1 {
		return 0, 0
	}
	if d[0]&0x80 == 0 {
		return uint32(d[0]), 1
	}
	if len(d) < 2 {
		return 0, 0
	}
	return uint32(d[0]&0x7f)<<8 | uint32(d[1]), 2
}

// element reads a start element chunk: the node header (line, comment),
// then ResXMLTree_attrExt and its attributes.
func (p *axmlParser) element(c []byte, ch uint32, depth int) (*axmlElement, error) {
	if ch < 16 || uint32(len(c)) < ch+20 {
		return nil, errors.New("truncated")
	}
	if p.pool == nil {
		return nil, errors.New("element before the string pool")
	}
	ext := c[ch:]
	name, err := p.str(binary.LittleEndian.Uint32(ext[4:]))
	if err != nil {
		return nil, err
	}
	aStart := uint32(binary.LittleEndian.Uint16(ext[8:]))
	aSize := uint32(binary.LittleEndian.Uint16(ext[10:]))
	aCount := uint32(binary.LittleEndian.Uint16(ext[12:]))
	if aCount > 0 && (aSize < 20 || uint64(aStart)+uint64(aSize)*uint64(aCount) > uint64(len(ext))) {
		return nil, fmt.Errorf("%d attributes of %d bytes at %d run past the chunk", aCount, aSize, aStart)
	}
	e := &axmlElement{name: name, depth: depth}
	for i := uint32(0); i < aCount; i++ {
		a := ext[aStart+i*aSize:]
		nsIdx, nameIdx, raw := binary.LittleEndian.Uint32(a), binary.LittleEndian.Uint32(a[4:]), binary.LittleEndian.Uint32(a[8:])
		dtype, data := a[15], binary.LittleEndian.Uint32(a[16:])
		ns, err := p.str(nsIdx)
		if err != nil {
			return nil, err
		}
		an, err := p.str(nameIdx)
		if err != nil {
			return nil, err
		}
		if nameIdx < uint32(len(p.resMap)) {
			if known, ok := attrResIDs[p.resMap[nameIdx]]; ok {
				an, ns = known, androidNS
			}
		}
		attr := axmlAttr{ns: ns, name: an}
		switch {
		case raw != noIndex:
			attr.value, err = p.str(raw)
		case dtype == typeString:
			attr.value, err = p.str(data)
		case dtype == typeIntDec:
			attr.value = fmt.Sprint(int32(data))
		case dtype == typeIntHex:
			attr.value = fmt.Sprintf("0x%x", data)
		case dtype == typeIntBool:
			attr.value = fmt.Sprint(data != 0)
		case dtype == typeFloat:
			attr.value = fmt.Sprint(math.Float32frombits(data))
		case dtype == typeReference:
			attr.value, attr.ref = fmt.Sprintf("@0x%08x", data), true
		case dtype == typeAttribute:
			attr.value, attr.ref = fmt.Sprintf("?0x%08x", data), true
		case dtype == typeNull:
			attr.value = ""
		default:
			attr.value = fmt.Sprintf("0x%x (type 0x%02x)", data, dtype)
		}
		if err != nil {
			return nil, err
		}
		e.attrs = append(e.attrs, attr)
	}
	return e, nil
}
