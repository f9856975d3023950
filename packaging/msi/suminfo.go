package msi

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"
)

// SummaryInfo is the \005SummaryInformation property set of an MSI.
type SummaryInfo struct {
	Codepage    int
	Title       string
	Subject     string
	Author      string
	Keywords    string
	Comments    string
	Template    string // "platform;language[,language...]", e.g. "x64;1033"
	LastAuthor  string
	Revision    string // Revision Number: the package code, a GUID
	Application string // Creating Application
	Created     time.Time
	LastSaved   time.Time
	PageCount   int32 // minimum installer version (200 = 2.0)
	WordCount   int32 // source and elevation flags (see the WordCount* bits)
	CharCount   int32
	Security    int32
	// HasWordCount is set when the Word Count property is present.
	HasWordCount bool
}

// Word Count flags.
const (
	WordCountShortNames  = 1 << 0 // short file names
	WordCountCompressed  = 1 << 1 // files are compressed by default
	WordCountAdminImage  = 1 << 2 // an administrative image
	WordCountNoElevation = 1 << 3 // elevated privileges are not required (UAC)
)

// Platform is the template's platform part ("Intel", "x64", "Arm64"...).
func (s *SummaryInfo) Platform() string {
	p, _, _ := strings.Cut(s.Template, ";")
	p, _, _ = strings.Cut(p, ",")
	return strings.TrimSpace(p)
}

// Languages is the template's language ids.
func (s *SummaryInfo) Languages() []string {
	_, l, ok := strings.Cut(s.Template, ";")
	if !ok || l == "" {
		return nil
	}
	return strings.Split(l, ",")
}

// Summary property ids.
const (
	pidCodepage    = 1
	pidTitle       = 2
	pidSubject     = 3
	pidAuthor      = 4
	pidKeywords    = 5
	pidComments    = 6
	pidTemplate    = 7
	pidLastAuthor  = 8
	pidRevision    = 9
	pidCreated     = 12
	pidLastSaved   = 13
	pidPageCount   = 14
	pidWordCount   = 15
	pidCharCount   = 16
	pidApplication = 18
	pidSecurity    = 19
)

// Property value types.
const (
	vtEmpty    = 0
	vtI2       = 2
	vtI4       = 3
	vtLPSTR    = 30
	vtFILETIME = 64
)

// fmtidSummary is FMTID_SummaryInformation, F29F85E0-4FF9-1068-AB91-08002B27B3D9.
var fmtidSummary = []byte{0xE0, 0x85, 0x9F, 0xF2, 0xF9, 0x4F, 0x68, 0x10, 0xAB, 0x91, 0x08, 0x00, 0x2B, 0x27, 0xB3, 0xD9}

// SummaryStream is the decoded name of the summary information stream.
const SummaryStream = "\x05SummaryInformation"

// SummaryInfo reads the summary information; nil with no error when the
// database has no such stream.
func (d *Database) SummaryInfo() (*SummaryInfo, error) {
	if d.sumRead {
		return d.sum, nil
	}
	if !d.HasStream(SummaryStream) {
		d.sumRead = true
		return nil, nil
	}
	b, err := d.ReadStream(SummaryStream)
	if err != nil {
		return nil, err
	}
	s, err := parseSummary(b)
	if err != nil {
		return nil, err
	}
	d.sum, d.sumRead = s, true
	return s, nil
}

// parseSummary decodes an OLE property set stream holding the summary
// information section.
func parseSummary(b []byte) (*SummaryInfo, error) {
	bad := func(format string, args ...any) error {
		return defect("summary information: "+format, args...)
	}
	le16 := binary.LittleEndian.Uint16
	le32 := binary.LittleEndian.Uint32
	if len(b) < 48 {
		return nil, bad("%d bytes, shorter than a property set header", len(b))
	}
	if le16(b) != 0xFFFE {
		return nil, bad("byte order mark %#04x, want 0xfffe", le16(b))
	}
	nsets := le32(b[24:])
	if nsets < 1 || nsets > 2 {
		return nil, bad("%d property sets, want 1 or 2", nsets)
	}
	if !bytes.Equal(b[28:44], fmtidSummary) {
		return nil, bad("the first property set is not FMTID_SummaryInformation")
	}
	off := int64(le32(b[44:]))
	if off+8 > int64(len(b)) {
		return nil, bad("section offset %d is past the stream's %d bytes", off, len(b))
	}
	sec := b[off:]
	secSize := int64(le32(sec))
	if secSize < 8 || secSize > int64(len(sec)) {
		return nil, bad("section size %d does not fit the stream (%d bytes from the section)", secSize, len(sec))
	}
	sec = sec[:secSize]
	n := int64(le32(sec[4:]))
	if 8+8*n > secSize {
		return nil, bad("%d properties do not fit a %d-byte section", n, secSize)
	}
	s := &SummaryInfo{}
	type strProp struct {
		id  uint32
		raw []byte
	}
	var strs []strProp
	for k := int64(0); k < n; k++ {
		id := le32(sec[8+8*k:])
		po := int64(le32(sec[12+8*k:]))
		if po < 8 || po+4 > secSize {
			return nil, bad("property %d at offset %d is outside the section", id, po)
		}
		v := sec[po:]
		typ := le32(v) & 0xFFFF
		v = v[4:]
		need := func(m int64) error {
			if int64(len(v)) < m {
				return bad("property %d (type %d) runs past the section", id, typ)
			}
			return nil
		}
		switch typ {
		case vtEmpty:
		case vtI2:
			if err := need(2); err != nil {
				return nil, err
			}
			x := int32(int16(le16(v)))
			if id == pidCodepage {
				s.Codepage = int(uint16(x))
			} else {
				s.setInt(id, x)
			}
		case vtI4:
			if err := need(4); err != nil {
				return nil, err
			}
			x := int32(le32(v))
			if id == pidCodepage {
				s.Codepage = int(uint16(x))
			} else {
				s.setInt(id, x)
			}
		case vtLPSTR:
			if err := need(4); err != nil {
				return nil, err
			}
			l := int64(le32(v))
			if err := need(4 + l); err != nil {
				return nil, err
			}
			raw := v[4 : 4+l]
			if i := bytes.IndexByte(raw, 0); i >= 0 {
				raw = raw[:i]
			}
			strs = append(strs, strProp{id, raw})
		case vtFILETIME:
			if err := need(8); err != nil {
				return nil, err
			}
			t := filetime(binary.LittleEndian.Uint64(v))
			switch id {
			case pidCreated:
				s.Created = t
			case pidLastSaved:
				s.LastSaved = t
			}
		default:
			// Other types (vectors, blobs) are not used by MSI summary
			// information; their size is unknown, so they are skipped.
		}
	}
	for _, p := range strs {
		v := decodeCodepage(uint32(s.Codepage), p.raw)
		switch p.id {
		case pidTitle:
			s.Title = v
		case pidSubject:
			s.Subject = v
		case pidAuthor:
			s.Author = v
		case pidKeywords:
			s.Keywords = v
		case pidComments:
			s.Comments = v
		case pidTemplate:
			s.Template = v
		case pidLastAuthor:
			s.LastAuthor = v
		case pidRevision:
			s.Revision = v
		case pidApplication:
			s.Application = v
		}
	}
	return s, nil
}

func (s *SummaryInfo) setInt(id uint32, x int32) {
	switch id {
	case pidPageCount:
		s.PageCount = x
	case pidWordCount:
		s.WordCount, s.HasWordCount = x, true
	case pidCharCount:
		s.CharCount = x
	case pidSecurity:
		s.Security = x
	}
}

// filetime converts a Windows FILETIME (100 ns since 1601) to UTC.
func filetime(ft uint64) time.Time {
	if ft == 0 {
		return time.Time{}
	}
	const epochDiff = 116444736000000000 // 1601 to 1970 in 100 ns
	if ft < epochDiff {
		return time.Time{}
	}
	d := ft - epochDiff
	return time.Unix(int64(d/1e7), int64(d%1e7)*100).UTC()
}
