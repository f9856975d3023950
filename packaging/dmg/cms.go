package dmg

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// A minimal CMS (RFC 5652) SignedData reader: enough to verify the
// detached signature Apple's codesign (and openssl cms -sign) makes over
// a code directory, with signed attributes.

var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidTimestamp     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

	digestOIDs = map[string]crypto.Hash{
		"1.3.14.3.2.26":          crypto.SHA1,
		"2.16.840.1.101.3.4.2.1": crypto.SHA256,
		"2.16.840.1.101.3.4.2.2": crypto.SHA384,
		"2.16.840.1.101.3.4.2.3": crypto.SHA512,
	}
	rsaOIDs = map[string]bool{
		"1.2.840.113549.1.1.1": true, "1.2.840.113549.1.1.5": true, "1.2.840.113549.1.1.11": true,
		"1.2.840.113549.1.1.12": true, "1.2.840.113549.1.1.13": true,
	}
	ecdsaOIDs = map[string]bool{
		"1.2.840.10045.2.1": true, "1.2.840.10045.4.1": true, "1.2.840.10045.4.3.2": true,
		"1.2.840.10045.4.3.3": true, "1.2.840.10045.4.3.4": true,
	}
)

const maxCMSCerts = 32

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type cmsResult struct {
	leaf        *x509.Certificate
	others      []*x509.Certificate
	cd          *codeDirectory
	timestamped bool
}

// verifyCMS verifies der, a detached CMS SignedData, over one of cds (the
// one whose digest its messageDigest attribute holds) with its signer's
// certificate. Errors say why it does not verify.
func verifyCMS(der []byte, cds []*codeDirectory) (*cmsResult, error) {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, fmt.Errorf("not DER ContentInfo: %v", err)
	} else if len(bytes.TrimRight(rest, "\x00")) != 0 {
		return nil, errors.New("bytes after the ContentInfo")
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("content type %v, not signedData", ci.ContentType)
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("SignedData: %v", err)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("%d signer infos, want 1", len(sd.SignerInfos))
	}
	if len(sd.EncapContentInfo.EContent.Bytes) != 0 {
		return nil, errors.New("the signature embeds content; a code signature is detached")
	}
	var certs []*x509.Certificate
	if len(sd.Certificates.Bytes) > 0 {
		if sd.Certificates.Class != asn1.ClassContextSpecific || sd.Certificates.Tag != 0 {
			return nil, errors.New("certificates field of the wrong tag")
		}
		cs, err := x509.ParseCertificates(sd.Certificates.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificates: %v", err)
		}
		if len(cs) > maxCMSCerts {
			return nil, fmt.Errorf("%d certificates, limit %d", len(cs), maxCMSCerts)
		}
		certs = cs
	}
	si := sd.SignerInfos[0]
	leaf, err := findSigner(si.SID, certs)
	if err != nil {
		return nil, err
	}
	h, ok := digestOIDs[si.DigestAlgorithm.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("digest algorithm %v is not one this reader knows", si.DigestAlgorithm.Algorithm)
	}
	res := &cmsResult{leaf: leaf}
	for _, c := range certs {
		if c != leaf {
			res.others = append(res.others, c)
		}
	}
	var signed []byte
	if len(si.SignedAttrs.FullBytes) == 0 {
		// No signed attributes: the signature is over the content itself.
		for _, cd := range cds {
			if verifySig(leaf, si.SignatureAlgorithm, h, cd.raw, si.Signature) == nil {
				res.cd = cd
				break
			}
		}
		if res.cd == nil {
			return nil, errors.New("the signature does not verify over any code directory with the signer's key (altered after signing?)")
		}
		return res, nil
	}
	attrs, err := parseAttrs(si.SignedAttrs.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signed attributes: %v", err)
	}
	md, ok := attrs[oidMessageDigest.String()]
	if !ok {
		return nil, errors.New("no messageDigest signed attribute")
	}
	var mdv []byte
	if _, err := asn1.Unmarshal(md, &mdv); err != nil {
		return nil, fmt.Errorf("messageDigest: %v", err)
	}
	if ct, ok := attrs[oidContentType.String()]; ok {
		var oid asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(ct, &oid); err != nil || !oid.Equal(sd.EncapContentInfo.EContentType) {
			return nil, errors.New("the contentType signed attribute differs from the content's type")
		}
	}
	for _, cd := range cds {
		d := h.New()
		d.Write(cd.raw)
		if subtle.ConstantTimeCompare(d.Sum(nil), mdv) == 1 {
			res.cd = cd
			break
		}
	}
	if res.cd == nil {
		return nil, errors.New("its messageDigest matches no code directory (the code directory was altered after signing)")
	}
	// The signature is over the DER of the attributes as a SET.
	signed = append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	if err := verifySig(leaf, si.SignatureAlgorithm, h, signed, si.Signature); err != nil {
		return nil, fmt.Errorf("the signature over its signed attributes does not verify with the signer's key: %v", err)
	}
	if len(si.UnsignedAttrs.Bytes) > 0 {
		if ua, err := parseAttrs(si.UnsignedAttrs.Bytes); err == nil {
			_, res.timestamped = ua[oidTimestamp.String()]
		}
	}
	return res, nil
}

// parseAttrs reads a SET OF Attribute's contents into type -> first
// value's DER.
func parseAttrs(b []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	for len(b) > 0 {
		var a attribute
		rest, err := asn1.Unmarshal(b, &a)
		if err != nil {
			return nil, err
		}
		b = rest
		var v asn1.RawValue
		if _, err := asn1.Unmarshal(a.Values.Bytes, &v); err != nil {
			return nil, fmt.Errorf("attribute %v has no value", a.Type)
		}
		if _, dup := out[a.Type.String()]; dup {
			return nil, fmt.Errorf("attribute %v appears twice", a.Type)
		}
		out[a.Type.String()] = v.FullBytes
		if len(out) > 64 {
			return nil, errors.New("more than 64 attributes")
		}
	}
	return out, nil
}

func findSigner(sid asn1.RawValue, certs []*x509.Certificate) (*x509.Certificate, error) {
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerial
		if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil {
			return nil, fmt.Errorf("signer identifier: %v", err)
		}
		for _, c := range certs {
			if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
				return c, nil
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0:
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c, nil
			}
		}
	default:
		return nil, errors.New("signer identifier of an unknown form")
	}
	return nil, errors.New("the signer's certificate is not among the signature's certificates")
}

func verifySig(c *x509.Certificate, alg pkix.AlgorithmIdentifier, h crypto.Hash, signed, sig []byte) error {
	d := h.New()
	d.Write(signed)
	sum := d.Sum(nil)
	oid := alg.Algorithm.String()
	switch pub := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if !rsaOIDs[oid] {
			return fmt.Errorf("signature algorithm %s with an RSA key is not supported", oid)
		}
		return rsa.VerifyPKCS1v15(pub, h, sum, sig)
	case *ecdsa.PublicKey:
		if !ecdsaOIDs[oid] {
			return fmt.Errorf("signature algorithm %s with an ECDSA key is not supported", oid)
		}
		if !ecdsa.VerifyASN1(pub, sum, sig) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	}
	return fmt.Errorf("signer key type %T is not supported", c.PublicKey)
}
