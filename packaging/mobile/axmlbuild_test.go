package mobile

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
)

// axmlBuilder writes Android binary XML as aapt lays it out: the string
// pool (attribute names with resource IDs first), the resource map, then
// namespace and element nodes.
type axmlBuilder struct {
	utf8     bool
	noNames  bool // write attribute names as "" (obfuscated), known only by resource ID
	nodes    []axmlNode
	resNames []string
	resIDs   []uint32
}

type axmlNode struct {
	kind   uint16 // resXMLStartNS, resXMLStartElement, ...
	name   string // element name, or namespace prefix
	uri    string // namespace URI
	attrs  []axmlTestAttr
	lineNo uint32
}

// axmlTestAttr is an attribute: a string (raw and typed), an int, a bool
// or a resource reference.
type axmlTestAttr struct {
	ns, name string
	resID    uint32
	str      *string
	typ      uint8
	data     uint32
}

func sattr(ns, name string, resID uint32, v string) axmlTestAttr {
	return axmlTestAttr{ns: ns, name: name, resID: resID, str: &v, typ: typeString}
}

func iattr(ns, name string, resID uint32, v int32) axmlTestAttr {
	return axmlTestAttr{ns: ns, name: name, resID: resID, typ: typeIntDec, data: uint32(v)}
}

func battr(ns, name string, resID uint32, v bool) axmlTestAttr {
	d := uint32(0)
	if v {
		d = 0xffffffff
	}
	return axmlTestAttr{ns: ns, name: name, resID: resID, typ: typeIntBool, data: d}
}

func rattr(ns, name string, resID uint32, ref uint32) axmlTestAttr {
	return axmlTestAttr{ns: ns, name: name, resID: resID, typ: typeReference, data: ref}
}

func (b *axmlBuilder) startNS(prefix, uri string) {
	b.nodes = append(b.nodes, axmlNode{kind: resXMLStartNS, name: prefix, uri: uri})
}
func (b *axmlBuilder) endNS(prefix, uri string) {
	b.nodes = append(b.nodes, axmlNode{kind: resXMLEndNS, name: prefix, uri: uri})
}
func (b *axmlBuilder) start(name string, attrs ...axmlTestAttr) {
	b.nodes = append(b.nodes, axmlNode{kind: resXMLStartElement, name: name, attrs: attrs, lineNo: uint32(len(b.nodes) + 1)})
}
func (b *axmlBuilder) end(name string) {
	b.nodes = append(b.nodes, axmlNode{kind: resXMLEndElement, name: name})
}

func (b *axmlBuilder) bytes() []byte {
	var pool []string
	index := map[string]uint32{}
	intern := func(s string) uint32 {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = uint32(len(pool))
		pool = append(pool, s)
		return index[s]
	}
	// attribute names with resource IDs first: the resource map covers them
	var resMap []uint32
	attrName := func(a axmlTestAttr) string {
		if b.noNames && a.resID != 0 {
			return "\x00" + a.name // distinct entries, written empty
		}
		return a.name
	}
	for _, n := range b.nodes {
		for _, a := range n.attrs {
			if a.resID != 0 {
				if _, ok := index[attrName(a)]; !ok {
					intern(attrName(a))
					resMap = append(resMap, a.resID)
				}
			}
		}
	}
	for _, n := range b.nodes {
		intern(n.name)
		if n.uri != "" {
			intern(n.uri)
		}
		for _, a := range n.attrs {
			intern(attrName(a))
			if a.ns != "" {
				intern(a.ns)
			}
			if a.str != nil {
				intern(*a.str)
			}
		}
	}
	u32 := func(w *bytes.Buffer, v uint32) { binary.Write(w, binary.LittleEndian, v) }
	u16 := func(w *bytes.Buffer, v uint16) { binary.Write(w, binary.LittleEndian, v) }
	idx := func(s string) uint32 {
		if s == "" {
			return noIndex
		}
		return index[s]
	}

	// string pool
	var data bytes.Buffer
	var offs []uint32
	for _, s := range pool {
		if b.noNames && len(s) > 0 && s[0] == 0 {
			s = ""
		}
		offs = append(offs, uint32(data.Len()))
		if b.utf8 {
			n16 := len(utf16.Encode([]rune(s)))
			for _, n := range []int{n16, len(s)} {
				if n < 0x80 {
					data.WriteByte(byte(n))
				} else {
					data.Write([]byte{byte(n>>8) | 0x80, byte(n)})
				}
			}
			data.WriteString(s)
			data.WriteByte(0)
		} else {
			u := utf16.Encode([]rune(s))
			if len(u) < 0x8000 {
				u16(&data, uint16(len(u)))
			} else {
				u16(&data, uint16(len(u)>>16)|0x8000)
				u16(&data, uint16(len(u)))
			}
			for _, c := range u {
				u16(&data, c)
			}
			u16(&data, 0)
		}
	}
	for data.Len()%4 != 0 {
		data.WriteByte(0)
	}
	var sp bytes.Buffer
	flags := uint32(0)
	if b.utf8 {
		flags = stringPoolUTF8
	}
	u16(&sp, resStringPoolType)
	u16(&sp, 28)
	u32(&sp, uint32(28+4*len(pool)+data.Len()))
	u32(&sp, uint32(len(pool)))
	u32(&sp, 0)
	u32(&sp, flags)
	u32(&sp, uint32(28+4*len(pool)))
	u32(&sp, 0)
	for _, o := range offs {
		u32(&sp, o)
	}
	sp.Write(data.Bytes())

	var body bytes.Buffer
	body.Write(sp.Bytes())
	if len(resMap) > 0 {
		u16(&body, resXMLResourceMap)
		u16(&body, 8)
		u32(&body, uint32(8+4*len(resMap)))
		for _, id := range resMap {
			u32(&body, id)
		}
	}
	for _, n := range b.nodes {
		switch n.kind {
		case resXMLStartNS, resXMLEndNS:
			u16(&body, n.kind)
			u16(&body, 16)
			u32(&body, 24)
			u32(&body, 1)
			u32(&body, noIndex)
			u32(&body, idx(n.name))
			u32(&body, idx(n.uri))
		case resXMLStartElement:
			u16(&body, n.kind)
			u16(&body, 16)
			u32(&body, uint32(16+20+20*len(n.attrs)))
			u32(&body, n.lineNo)
			u32(&body, noIndex)
			u32(&body, noIndex)
			u32(&body, idx(n.name))
			u16(&body, 20)
			u16(&body, 20)
			u16(&body, uint16(len(n.attrs)))
			u16(&body, 0)
			u16(&body, 0)
			u16(&body, 0)
			for _, a := range n.attrs {
				u32(&body, idx(a.ns))
				u32(&body, index[attrName(a)])
				data := a.data
				if a.str != nil {
					u32(&body, index[*a.str])
					data = index[*a.str]
				} else {
					u32(&body, noIndex)
				}
				u16(&body, 8)
				body.WriteByte(0)
				body.WriteByte(a.typ)
				u32(&body, data)
			}
		case resXMLEndElement:
			u16(&body, n.kind)
			u16(&body, 16)
			u32(&body, 24)
			u32(&body, 1)
			u32(&body, noIndex)
			u32(&body, noIndex)
			u32(&body, idx(n.name))
		}
	}
	var out bytes.Buffer
	u16(&out, resXMLType)
	u16(&out, 8)
	u32(&out, uint32(8+body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}

// demoManifest is the Go-encoded manifest of the tests.
func demoManifest(utf8, noNames bool) []byte {
	b := &axmlBuilder{utf8: utf8, noNames: noNames}
	a := androidNS
	b.startNS("android", a)
	b.start("manifest", iattr(a, "versionCode", 0x0101021b, 7), sattr(a, "versionName", 0x0101021c, "1.0.7-ü"), sattr("", "package", 0, "eu.eucora.mobile"))
	b.start("uses-sdk", iattr(a, "minSdkVersion", 0x0101020c, 26), iattr(a, "targetSdkVersion", 0x01010270, 34))
	b.end("uses-sdk")
	for _, p := range []string{"android.permission.INTERNET", "android.permission.ACCESS_FINE_LOCATION", "android.permission.INTERNET"} {
		b.start("uses-permission", sattr(a, "name", 0x01010003, p))
		b.end("uses-permission")
	}
	b.start("uses-permission-sdk-23", sattr(a, "name", 0x01010003, "android.permission.READ_CONTACTS"))
	b.end("uses-permission-sdk-23")
	b.start("application", rattr(a, "label", 0x01010001, 0x7f0b0001))
	b.start("service", sattr(a, "name", 0x01010003, ".Push"), battr(a, "exported", 0x01010010, true))
	b.end("service")
	b.start("activity", sattr(a, "name", 0x01010003, ".Main"))
	b.start("service", sattr(a, "name", 0x01010003, ".NotAService")) // not under <application>
	b.end("service")
	b.end("activity")
	b.end("application")
	b.end("manifest")
	b.endNS("android", a)
	return b.bytes()
}
