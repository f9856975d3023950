package dmg

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/chain"
)

// SignatureFormat is facts.Signature.Format of an Apple code signature.
const SignatureFormat = "codesign"

// Code signing blob magics and SuperBlob slots (Apple's cs_blobs.h).
const (
	magicEmbeddedSignature = 0xfade0cc0
	magicCodeDirectory     = 0xfade0c02
	magicRequirements      = 0xfade0c01
	magicBlobWrapper       = 0xfade0b01

	slotCodeDirectory  = 0
	slotRequirements   = 2
	slotEntitlements   = 5
	slotRepSpecific    = 6
	slotEntitlementDER = 7
	slotAlternateFirst = 0x1000
	slotAlternateLimit = 0x1005
	slotSignature      = 0x10000
	slotTicket         = 0x10002
)

// Bounds of the signature structures.
const (
	maxBlobs      = 64
	cdHeaderSize  = 44 // through spare2
	maxPageShift  = 30
	maxSpecialCDs = 16
)

type blob struct {
	slot uint32
	data []byte // the whole blob, magic and length included
}

func (b blob) magic() uint32 { return binary.BigEndian.Uint32(b.data) }

// codeDirectory is the part of a CodeDirectory this reader uses.
type codeDirectory struct {
	raw         []byte
	version     uint32
	hashOffset  uint32
	nSpecial    uint32
	nCode       uint32
	codeLimit   uint64
	hashSize    int
	hashType    uint8
	pageShift   uint8
	hash        crypto.Hash
	ident, team string
}

func (cd *codeDirectory) slotHash(i int64) []byte {
	off := int64(cd.hashOffset) + i*int64(cd.hashSize)
	return cd.raw[off : off+int64(cd.hashSize)]
}

// digestFor maps a CodeDirectory hash type to its hash and digest size.
func digestFor(t uint8) (crypto.Hash, int) {
	switch t {
	case 1:
		return crypto.SHA1, 20
	case 2:
		return crypto.SHA256, 32
	case 3:
		return crypto.SHA256, 20 // SHA-256 truncated to 20 bytes
	case 4:
		return crypto.SHA384, 48
	}
	return 0, 0
}

// superBlob parses the embedded signature; layout errors are defects.
func superBlob(b []byte) ([]blob, error) {
	if len(b) < 12 {
		return nil, defect("code signature of %d bytes, a SuperBlob header is 12", len(b))
	}
	be := binary.BigEndian
	if m := be.Uint32(b); m != magicEmbeddedSignature {
		return nil, defect("code signature magic 0x%08x, want the embedded-signature SuperBlob 0x%08x", m, magicEmbeddedSignature)
	}
	length := uint64(be.Uint32(b[4:]))
	count := uint64(be.Uint32(b[8:]))
	if length < 12 || length > uint64(len(b)) {
		return nil, defect("SuperBlob declares %d bytes, the code signature has %d", length, len(b))
	}
	if count > maxBlobs || 12+count*8 > length {
		return nil, defect("SuperBlob declares %d blobs, its %d bytes hold at most %d index entries", count, length, (length-12)/8)
	}
	b = b[:length]
	out := make([]blob, 0, count)
	for i := range count {
		slot := be.Uint32(b[12+i*8:])
		off := uint64(be.Uint32(b[16+i*8:]))
		if off < 12+count*8 || off > length-8 {
			return nil, defect("SuperBlob slot 0x%x at offset %d lies outside its %d bytes", slot, off, length)
		}
		bl := uint64(be.Uint32(b[off+4:]))
		if bl < 8 || bl > length-off {
			return nil, defect("SuperBlob slot 0x%x: a blob of %d bytes at offset %d runs past the SuperBlob's %d", slot, bl, off, length)
		}
		out = append(out, blob{slot: slot, data: b[off : off+bl]})
	}
	return out, nil
}

func parseCodeDirectory(b []byte) (*codeDirectory, error) {
	be := binary.BigEndian
	if len(b) < cdHeaderSize || be.Uint32(b) != magicCodeDirectory {
		return nil, defect("code directory of %d bytes without its magic", len(b))
	}
	cd := &codeDirectory{raw: b,
		version: be.Uint32(b[8:]), hashOffset: be.Uint32(b[16:]),
		nSpecial: be.Uint32(b[24:]), nCode: be.Uint32(b[28:]), codeLimit: uint64(be.Uint32(b[32:])),
		hashSize: int(b[36]), hashType: b[37], pageShift: b[39]}
	identOffset := be.Uint32(b[20:])
	if cd.version >= 0x20300 && len(b) >= 64 {
		if l := be.Uint64(b[56:]); l != 0 {
			cd.codeLimit = l
		}
	}
	h, size := digestFor(cd.hashType)
	if h == 0 {
		return nil, defect("code directory hash type %d is unknown", cd.hashType)
	}
	if cd.hashSize != size {
		return nil, defect("code directory hash size %d for hash type %d (want %d)", cd.hashSize, cd.hashType, size)
	}
	cd.hash = h
	n := uint64(len(b))
	ho := uint64(cd.hashOffset)
	if ho > n || uint64(cd.nSpecial)*uint64(size) > ho || uint64(cd.nCode)*uint64(size) > n-ho {
		return nil, defect("code directory: %d special and %d code hashes at offset %d do not fit its %d bytes", cd.nSpecial, cd.nCode, ho, n)
	}
	if cd.pageShift > maxPageShift {
		return nil, defect("code directory page size 2^%d", cd.pageShift)
	}
	cd.ident = cString(b, identOffset)
	if cd.version >= 0x20200 && len(b) >= 52 {
		if t := be.Uint32(b[48:]); t != 0 {
			cd.team = cString(b, t)
		}
	}
	return cd, nil
}

func cString(b []byte, off uint32) string {
	if off == 0 || uint64(off) >= uint64(len(b)) {
		return ""
	}
	s, _, _ := bytes.Cut(b[off:], []byte{0})
	if len(s) > 256 {
		s = s[:256]
	}
	return string(s)
}

// verifySignature reads and judges the embedded code signature.
func verifySignature(r io.ReaderAt, size int64, k Koly, lim facts.Limits, o facts.Options) (*facts.Signature, extra, error) {
	ex := extra{fields: map[string]string{}}
	sig := &facts.Signature{Format: SignatureFormat}
	if k.CodeSignOffset == 0 && k.CodeSignLength == 0 {
		sig.State = facts.SigUnsigned
		sig.Detail = "the koly trailer points at no code signature"
		return sig, ex, nil
	}
	if k.CodeSignLength > uint64(lim.MaxMetadata) {
		return nil, ex, defect("the code signature is %d bytes, limit %d", k.CodeSignLength, lim.MaxMetadata)
	}
	raw, err := readAt(r, int64(k.CodeSignOffset), int64(k.CodeSignLength))
	if err != nil {
		return nil, ex, defect("reading the code signature: %v", err)
	}
	blobs, err := superBlob(raw)
	if err != nil {
		return nil, ex, err
	}
	var cds []*codeDirectory
	var cms, ticket []byte
	component := map[uint32][]byte{}
	for _, b := range blobs {
		switch {
		case b.slot == slotCodeDirectory || b.slot >= slotAlternateFirst && b.slot < slotAlternateLimit:
			cd, err := parseCodeDirectory(b.data)
			if err != nil {
				return nil, ex, err
			}
			cds = append(cds, cd)
		case b.slot == slotSignature:
			if b.magic() != magicBlobWrapper {
				return nil, ex, defect("the signature slot holds blob magic 0x%08x, not a BlobWrapper", b.magic())
			}
			cms = b.data[8:]
		case b.slot == slotTicket:
			ticket = b.data
		default:
			component[b.slot] = b.data
		}
	}
	if len(cds) == 0 {
		return nil, ex, defect("the code signature has no code directory")
	}
	if ticket != nil {
		sig.Notarized = true
	}
	if cds[0].ident != "" {
		ex.fields["codesign identifier"] = cds[0].ident
	}
	if cds[0].team != "" {
		ex.fields["codesign team id"] = cds[0].team
	}
	ticketNote := ""
	if ticket != nil {
		ticketNote = fmt.Sprintf("; a notarization ticket (%d bytes) is stapled", len(ticket))
	}
	invalid := func(format string, args ...any) (*facts.Signature, extra, error) {
		sig.State = facts.SigInvalid
		sig.Detail = fmt.Sprintf(format, args...) + ticketNote
		return sig, ex, nil
	}
	dataEnd := uint64(size - KolySize)
	if k.CodeSignOffset+k.CodeSignLength != dataEnd {
		return invalid("the code signature (%d bytes at %d) does not end at the koly trailer (%d), as macOS requires", k.CodeSignLength, k.CodeSignOffset, dataEnd)
	}
	if uint64(binary.BigEndian.Uint32(raw[4:])) != k.CodeSignLength {
		return invalid("the SuperBlob's length %d differs from the koly's code-signature length %d", binary.BigEndian.Uint32(raw[4:]), k.CodeSignLength)
	}

	// The CMS signature, over the first code directory it matches.
	var signed *cmsResult
	if len(cms) > 0 {
		res, err := verifyCMS(cms, cds)
		if err != nil {
			return invalid("CMS signature: %v", err)
		}
		signed = res
		leaf := res.leaf
		sig.Signer, sig.Issuer = leaf.Subject.String(), leaf.Issuer.String()
		na := leaf.NotAfter
		sig.NotAfter = &na
		if res.timestamped {
			ex.notes = append(ex.notes, "the CMS signature's timestamp token (present, not verified: validity is judged at the inspection time)")
		}
	}

	// Every code directory's hashes over the image and its special slots.
	for _, cd := range cds {
		if cd.codeLimit != k.CodeSignOffset {
			return invalid("the code directory covers %d bytes, the image's data ends at %d where the signature starts", cd.codeLimit, k.CodeSignOffset)
		}
		if err := checkSpecial(cd, k, component); err != nil {
			return invalid("%v", err)
		}
	}
	if err := checkCode(r, cds); err != nil {
		var de *facts.DefectError
		if ok := asDefect(err, &de); ok {
			return nil, ex, err
		}
		return invalid("%v", err)
	}
	hashes := fmt.Sprintf("the code directory's hashes of the image's %d bytes and of its koly trailer match", k.CodeSignOffset)
	if signed == nil {
		sig.State = facts.SigUnsigned
		sig.Detail = "ad hoc code signature (a code directory with no CMS signer); " + hashes + ticketNote
		return sig, ex, nil
	}
	at := o.Now
	if at.IsZero() {
		at = time.Now()
	}
	v := chain.Judge(signed.leaf, signed.others, o.Trust, at)
	sig.State, sig.Chain = v.State, v.Chain
	sig.Detail = "CMS signature over the code directory verifies; " + hashes + "; " + v.Detail + ticketNote
	return sig, ex, nil
}

func asDefect(err error, de **facts.DefectError) bool {
	d, ok := err.(*facts.DefectError)
	if ok {
		*de = d
	}
	return ok
}

// checkSpecial compares the special slots this reader can compute: the
// requirements, entitlements and DER entitlements blobs, and the koly
// trailer (rep-specific slot) with its code-signature length zeroed.
func checkSpecial(cd *codeDirectory, k Koly, component map[uint32][]byte) error {
	for _, slot := range []uint32{slotRequirements, slotEntitlements, slotRepSpecific, slotEntitlementDER} {
		if slot > cd.nSpecial {
			continue
		}
		want := cd.slotHash(-int64(slot))
		var data []byte
		if slot == slotRepSpecific {
			koly := k.raw
			binary.BigEndian.PutUint64(koly[offCodeSignLength:], 0)
			data = koly[:]
		} else {
			data = component[slot]
		}
		if data == nil {
			if !allZero(want) {
				return fmt.Errorf("the code directory hashes special slot %d, which the signature does not hold", slot)
			}
			continue
		}
		got := digest(cd, data)
		if subtle.ConstantTimeCompare(got, want) != 1 {
			what := map[uint32]string{slotRequirements: "requirements", slotEntitlements: "entitlements", slotRepSpecific: "koly trailer", slotEntitlementDER: "DER entitlements"}[slot]
			return fmt.Errorf("the %s hash %x differs from the code directory's %x (altered after signing)", what, got, want)
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func digest(cd *codeDirectory, b []byte) []byte {
	h := cd.hash.New()
	h.Write(b)
	return h.Sum(nil)[:cd.hashSize]
}

// checkCode streams the image once from offset 0 to the code limit and
// compares every code directory's page hashes.
func checkCode(r io.ReaderAt, cds []*codeDirectory) error {
	type state struct {
		cd   *codeDirectory
		h    hash.Hash
		page uint64 // page size, 0: one page for the whole limit
		in   uint64 // bytes in the current page
		slot int64
	}
	limit := cds[0].codeLimit
	var ss []*state
	for _, cd := range cds {
		s := &state{cd: cd, h: cd.hash.New()}
		want := uint64(1)
		if cd.pageShift != 0 {
			s.page = 1 << cd.pageShift
			want = (limit + s.page - 1) / s.page
		}
		if limit == 0 {
			want = 0
		}
		if uint64(cd.nCode) != want {
			return fmt.Errorf("the code directory has %d code hashes, %d bytes in pages of %d need %d", cd.nCode, limit, s.page, want)
		}
		ss = append(ss, s)
	}
	buf := make([]byte, 64<<10)
	sr := io.NewSectionReader(r, 0, int64(limit))
	flush := func(s *state) error {
		got := s.h.Sum(nil)[:s.cd.hashSize]
		if want := s.cd.slotHash(s.slot); subtle.ConstantTimeCompare(got, want) != 1 {
			from := uint64(s.slot) * s.page
			to := limit
			if s.page != 0 {
				to = min(from+s.page, limit)
			}
			return fmt.Errorf("the image's bytes %d to %d hash to %x, the code directory says %x (altered after signing)", from, to, got, want)
		}
		s.h.Reset()
		s.in = 0
		s.slot++
		return nil
	}
	for pos := uint64(0); pos < limit; {
		n, err := sr.Read(buf[:min(uint64(len(buf)), limit-pos)])
		for _, s := range ss {
			c := buf[:n]
			for len(c) > 0 {
				take := uint64(len(c))
				if s.page != 0 {
					take = min(take, s.page-s.in)
				}
				s.h.Write(c[:take])
				s.in += take
				c = c[take:]
				if s.page != 0 && s.in == s.page {
					if err := flush(s); err != nil {
						return err
					}
				}
			}
		}
		pos += uint64(n)
		if err != nil && pos < limit {
			return defect("reading the image to hash it: %v", err)
		}
	}
	for _, s := range ss {
		if limit > 0 && (s.page == 0 || s.in > 0) {
			if err := flush(s); err != nil {
				return err
			}
		}
	}
	return nil
}
