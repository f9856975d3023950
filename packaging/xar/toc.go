package xar

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxText bounds one element's text in the TOC (a certificate's base64 is
// the longest real one).
const maxText = 1 << 20

func newXMLDecoder(r io.Reader) *xml.Decoder {
	d := xml.NewDecoder(r)
	d.Strict = true
	return d
}

// tocParser streams the TOC XML into the Archive: no tree is built, so
// memory follows the number of files, not the XML's size or depth.
type tocParser struct {
	a     *Archive
	d     *xml.Decoder
	depth int
}

// maxXMLDepth bounds element nesting in the TOC: deep enough for
// MaxFileDepth files inside <xar><toc>, and it keeps the XML decoder's own
// stack of open elements small.
const maxXMLDepth = MaxFileDepth + 8

func (p *tocParser) token() (xml.Token, error) {
	tok, err := p.d.Token()
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	switch tok.(type) {
	case xml.StartElement:
		p.depth++
		if p.depth > maxXMLDepth {
			return nil, defect("TOC XML nests deeper than %d elements", maxXMLDepth)
		}
	case xml.EndElement:
		p.depth--
	}
	return tok, err
}

// children calls fn for each child element of the element just opened,
// until its end element. fn must consume the child (text, skip or children).
func (p *tocParser) children(fn func(xml.StartElement) error) error {
	for {
		tok, err := p.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// skip consumes the element just opened, whatever it holds.
func (p *tocParser) skip() error {
	for depth := 1; depth > 0; {
		tok, err := p.token()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

// text reads the element's character data up to its end element; child
// elements are an error.
func (p *tocParser) text() (string, error) {
	var b strings.Builder
	for {
		tok, err := p.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if b.Len()+len(t) > maxText {
				return "", fmt.Errorf("element text over %d bytes", maxText)
			}
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.StartElement:
			return "", fmt.Errorf("element <%s> inside a text element", t.Name.Local)
		}
	}
}

func (p *tocParser) number(what string) (int64, error) {
	s, err := p.text()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("<%s> %q is not a byte count", what, strings.TrimSpace(s))
	}
	return n, nil
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (p *tocParser) parse() error {
	for {
		tok, err := p.token()
		if err == io.ErrUnexpectedEOF {
			return errors.New("no <xar> element")
		}
		if err != nil {
			return err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "xar" {
			return fmt.Errorf("root element <%s>, want <xar>", se.Name.Local)
		}
		sawTOC := false
		err = p.children(func(c xml.StartElement) error {
			if c.Name.Local != "toc" || sawTOC {
				return p.skip()
			}
			sawTOC = true
			return p.toc()
		})
		if err != nil {
			return err
		}
		if !sawTOC {
			return errors.New("no <toc> in <xar>")
		}
		return nil
	}
}

func (p *tocParser) toc() error {
	a := p.a
	return p.children(func(c xml.StartElement) error {
		switch c.Name.Local {
		case "checksum":
			a.Checksum.Style = strings.ToLower(attr(c, "style"))
			return p.children(func(e xml.StartElement) error {
				var err error
				switch e.Name.Local {
				case "offset":
					a.ChecksumAt, err = p.number("checksum/offset")
				case "size":
					a.tocSumSize, err = p.number("checksum/size")
				default:
					err = p.skip()
				}
				return err
			})
		case "signature", "x-signature":
			s, err := p.signature(c)
			if err != nil {
				return err
			}
			if c.Name.Local == "signature" {
				a.Signatures = append(a.Signatures, s)
			} else {
				a.XSignatures = append(a.XSignatures, s)
			}
			return nil
		case "creation-time":
			t, err := p.text()
			a.CreationTime = strings.TrimSpace(t)
			return err
		case "file":
			return p.file(c, nil, 1)
		default:
			return p.skip()
		}
	})
}

func (p *tocParser) signature(se xml.StartElement) (Signature, error) {
	s := Signature{Style: attr(se, "style")}
	var certs func(xml.StartElement) error
	certs = func(e xml.StartElement) error {
		switch e.Name.Local {
		case "KeyInfo", "X509Data":
			return p.children(certs)
		case "X509Certificate":
			t, err := p.text()
			if err != nil {
				return err
			}
			if len(s.Certificates) >= 16 {
				return errors.New("a signature carries more than 16 certificates")
			}
			der, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, t))
			if err != nil {
				return fmt.Errorf("X509Certificate is not base64: %v", err)
			}
			s.Certificates = append(s.Certificates, der)
			return nil
		default:
			return p.skip()
		}
	}
	err := p.children(func(e xml.StartElement) error {
		var err error
		switch e.Name.Local {
		case "offset":
			s.Offset, err = p.number("signature/offset")
		case "size":
			s.Size, err = p.number("signature/size")
		case "KeyInfo":
			err = p.children(certs)
		default:
			err = p.skip()
		}
		return err
	})
	return s, err
}

func dropSpace(r rune) rune {
	if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
		return -1
	}
	return r
}

func (p *tocParser) file(se xml.StartElement, parent *File, depth int) error {
	a := p.a
	if depth > MaxFileDepth {
		return defect("TOC files nest deeper than %d levels", MaxFileDepth)
	}
	if len(a.Files) >= a.lim.MaxEntries {
		return defect("the TOC lists more than %d files, limit %d", a.lim.MaxEntries, a.lim.MaxEntries)
	}
	f := &File{ID: attr(se, "id"), parent: parent}
	a.Files = append(a.Files, f)
	return p.children(func(c xml.StartElement) error {
		switch c.Name.Local {
		case "name":
			t, err := p.text()
			if err != nil {
				return err
			}
			if attr(c, "enctype") == "base64" {
				b, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, t))
				if err != nil {
					return fmt.Errorf("base64 <name>: %v", err)
				}
				t = string(b)
			}
			f.Name = t
			return nil
		case "type":
			t, err := p.text()
			f.Type = strings.TrimSpace(t)
			return err
		case "mode":
			t, err := p.text()
			if err != nil {
				return err
			}
			m, err := strconv.ParseUint(strings.TrimSpace(t), 8, 32)
			if err != nil {
				return fmt.Errorf("file mode %q is not octal", strings.TrimSpace(t))
			}
			f.Mode, f.HasMode = uint32(m), true
			return nil
		case "link":
			t, err := p.text()
			f.Link = t
			return err
		case "data":
			d, err := p.data()
			f.Data = d
			return err
		case "file":
			return p.file(c, f, depth+1)
		default:
			return p.skip()
		}
	})
}

func (p *tocParser) data() (*Data, error) {
	d := &Data{}
	err := p.children(func(c xml.StartElement) error {
		var err error
		switch c.Name.Local {
		case "offset":
			d.Offset, err = p.number("data/offset")
		case "length":
			d.Length, err = p.number("data/length")
		case "size":
			d.Size, err = p.number("data/size")
		case "encoding":
			d.Encoding = attr(c, "style")
			err = p.skip()
		case "archived-checksum", "extracted-checksum":
			var t string
			t, err = p.text()
			if err != nil {
				return err
			}
			ck := Checksum{Style: strings.ToLower(attr(c, "style"))}
			if ck.Style != "none" {
				if ck.Value, err = checksumValue(t); err != nil {
					return fmt.Errorf("<%s> %q is not hex", c.Name.Local, bytes.TrimSpace([]byte(t)))
				}
			}
			if c.Name.Local == "archived-checksum" {
				d.Archived = ck
			} else {
				d.Extracted = ck
			}
		default:
			err = p.skip()
		}
		return err
	})
	return d, err
}
