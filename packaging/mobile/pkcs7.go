package mobile

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// PKCS#7 / CMS SignedData (RFC 5652), as far as this package reads it:
// the certificates, the first signer's identifier, and the encapsulated
// content. Signatures are not verified here.

var (
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
)

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      asn1.RawValue
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

// signedDataInfo is what was read from a SignedData.
type signedDataInfo struct {
	certs   []*x509.Certificate
	signer  *x509.Certificate // the first SignerInfo's certificate, when among certs
	content []byte            // the encapsulated content, nil when detached
}

// maxCerts bounds the certificates read from one SignedData.
const maxCerts = 64

// parseSignedData reads a DER ContentInfo holding a SignedData.
func parseSignedData(der []byte) (*signedDataInfo, error) {
	var ci contentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("PKCS#7 ContentInfo: %v", err)
	}
	if len(bytes.TrimRight(rest, "\x00")) != 0 {
		return nil, fmt.Errorf("PKCS#7: %d bytes after the ContentInfo", len(rest))
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("PKCS#7 content type %v, not SignedData", ci.ContentType)
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("PKCS#7 SignedData: %v", err)
	}
	info := &signedDataInfo{}
	if len(sd.EncapContentInfo.EContent.Bytes) > 0 { // explicit [0]: Bytes is the OCTET STRING
		var oct []byte
		if _, err := asn1.Unmarshal(sd.EncapContentInfo.EContent.Bytes, &oct); err != nil {
			return nil, fmt.Errorf("PKCS#7 encapsulated content: %v", err)
		}
		info.content = oct
	}
	for certs := sd.Certificates.Bytes; len(certs) > 0; {
		if len(info.certs) == maxCerts {
			return nil, fmt.Errorf("PKCS#7: more than %d certificates", maxCerts)
		}
		var raw asn1.RawValue
		var err error
		if certs, err = asn1.Unmarshal(certs, &raw); err != nil {
			return nil, fmt.Errorf("PKCS#7 certificate %d: %v", len(info.certs)+1, err)
		}
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS#7 certificate %d: %v", len(info.certs)+1, err)
		}
		info.certs = append(info.certs, c)
	}
	info.signer = firstSigner(sd.SignerInfos.Bytes, info.certs)
	return info, nil
}

// firstSigner finds the certificate of the first SignerInfo by its
// issuer and serial number, or subject key identifier.
func firstSigner(infos []byte, certs []*x509.Certificate) *x509.Certificate {
	var si asn1.RawValue
	if _, err := asn1.Unmarshal(infos, &si); err != nil {
		return nil
	}
	// SignerInfo: version INTEGER, sid, ...
	var version int
	rest, err := asn1.Unmarshal(si.Bytes, &version)
	if err != nil {
		return nil
	}
	var sid asn1.RawValue
	if _, err := asn1.Unmarshal(rest, &sid); err != nil {
		return nil
	}
	if sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 { // subjectKeyIdentifier
		for _, c := range certs {
			if bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c
			}
		}
		return nil
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil || ias.Serial == nil {
		return nil
	}
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
			return c
		}
	}
	return nil
}

// leaf is the signer's certificate, else the first one.
func (s *signedDataInfo) leaf() (*x509.Certificate, error) {
	if s.signer != nil {
		return s.signer, nil
	}
	if len(s.certs) > 0 {
		return s.certs[0], nil
	}
	return nil, errors.New("PKCS#7 SignedData carries no certificate")
}
