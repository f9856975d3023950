package xar

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/chain"
)

// SignatureFormat is facts.Signature.Format for a xar RSA signature.
const SignatureFormat = "xar-rsa"

// Apple's extended key usages for installer-package signing certificates
// (Developer ID Installer, Mac Installer Distribution, 3rd Party Mac
// Developer Installer): a pkg leaf carries one of these instead of
// id-kp-codeSigning.
var appleInstallerEKUs = []asn1.ObjectIdentifier{
	{1, 2, 840, 113635, 100, 4, 13}, // Developer ID Installer
	{1, 2, 840, 113635, 100, 4, 9},  // 3rd Party Mac Developer Installer
	{1, 2, 840, 113635, 100, 4, 10}, // Mac Installer Distribution
}

// VerifySignature judges the archive's signature: the first <signature
// style="RSA"> is verified over the TOC checksum with its leaf
// certificate's key (RSA PKCS#1 v1.5, DigestInfo of the checksum
// algorithm), then its chain against o.Trust at o.Now. A <x-signature
// style="CMS"> is noted in Detail, not verified. An archive with only a
// CMS signature returns nil (the caller names it not inspected).
func (a *Archive) VerifySignature(o facts.Options) (*facts.Signature, error) {
	cms := ""
	for _, s := range a.XSignatures {
		if strings.EqualFold(s.Style, "CMS") {
			cms = "; a CMS signature (<x-signature style=\"CMS\">) is present too and was not verified"
		}
	}
	var rs *Signature
	for i := range a.Signatures {
		if strings.EqualFold(a.Signatures[i].Style, "RSA") {
			rs = &a.Signatures[i]
			break
		}
	}
	if rs == nil {
		if len(a.Signatures) > 0 {
			return &facts.Signature{State: facts.SigInvalid, Format: SignatureFormat,
				Detail: fmt.Sprintf("signature style %q is not RSA, the only style xar defines for <signature>", a.Signatures[0].Style) + cms}, nil
		}
		if cms != "" {
			return nil, nil
		}
		return &facts.Signature{State: facts.SigUnsigned, Format: SignatureFormat, Detail: "the TOC has no signature"}, nil
	}
	sig := &facts.Signature{Format: SignatureFormat}
	invalid := func(format string, args ...any) (*facts.Signature, error) {
		sig.State = facts.SigInvalid
		sig.Detail = fmt.Sprintf(format, args...) + cms
		return sig, nil
	}
	if len(rs.Certificates) == 0 {
		return invalid("the RSA signature carries no certificate")
	}
	certs := make([]*x509.Certificate, 0, len(rs.Certificates))
	for i, der := range rs.Certificates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return invalid("certificate %d of the signature does not parse: %v", i+1, err)
		}
		certs = append(certs, c)
	}
	leaf := certs[0]
	sig.Signer = leaf.Subject.String()
	sig.Issuer = leaf.Issuer.String()
	na := leaf.NotAfter
	sig.NotAfter = &na
	if a.Header.ChecksumName == "none" {
		return invalid("the archive has no TOC checksum, so the signature covers nothing")
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return invalid("the leaf certificate's key is %T, an RSA signature needs an RSA key", leaf.PublicKey)
	}
	value, err := a.readHeap(rs.Offset, rs.Size)
	if err != nil {
		return nil, err
	}
	if err := rsa.VerifyPKCS1v15(pub, hashOf(a.Header.ChecksumName), a.Checksum.Value, value); err != nil {
		return invalid("the RSA signature does not verify over the TOC checksum with the leaf's key (altered after signing?)")
	}
	at := o.Now
	if at.IsZero() {
		at = time.Now()
	}
	v := chain.Judge(leaf, certs[1:], o.Trust, at, appleInstallerEKUs...)
	sig.State, sig.Chain = v.State, v.Chain
	sig.Detail = "RSA signature over the TOC checksum verifies; " + v.Detail + cms
	return sig, nil
}

// Notarization ticket trailer, as Apple's stapler appends it to a flat
// package: a 16-byte little-endian trailer {"t8lr", version u16, type
// u16, length u32, unused u32} of type terminator (1) marking the end of
// the xar content, the ticket, then a trailer of type ticket (2) whose
// length is the ticket's.
const (
	trailerMagic      = "t8lr"
	trailerSize       = 16
	trailerTerminator = 1
	trailerTicket     = 2
)

// Ticket reports the stapled notarization ticket's length when one is
// present. A ticket trailer that does not fit the file is a defect. The
// ticket's own Apple signature is not verified.
func (a *Archive) Ticket() (int64, bool, error) {
	if a.size-a.heapStart < 2*trailerSize {
		return 0, false, nil
	}
	var t [trailerSize]byte
	if _, err := a.r.ReadAt(t[:], a.size-trailerSize); err != nil {
		return 0, false, defect("reading the file's last %d bytes: %v", trailerSize, err)
	}
	if string(t[:4]) != trailerMagic {
		return 0, false, nil
	}
	typ := binary.LittleEndian.Uint16(t[6:])
	n := int64(binary.LittleEndian.Uint32(t[8:]))
	if typ != trailerTicket {
		return 0, false, defect("notarization trailer of type %d at the end of the file, want a ticket (2)", typ)
	}
	if n == 0 || n > a.size-a.heapStart-2*trailerSize {
		return 0, false, defect("notarization trailer declares a %d-byte ticket, the heap has room for %d", n, a.size-a.heapStart-2*trailerSize)
	}
	var term [trailerSize]byte
	if _, err := a.r.ReadAt(term[:], a.size-2*trailerSize-n); err != nil {
		return 0, false, defect("reading the notarization terminator: %v", err)
	}
	if string(term[:4]) != trailerMagic || binary.LittleEndian.Uint16(term[6:]) != trailerTerminator {
		return 0, false, defect("notarization ticket of %d bytes is not preceded by its terminator trailer", n)
	}
	return n, true, nil
}
