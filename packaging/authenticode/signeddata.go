package authenticode

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha1" // SHA-1 Authenticode digests (legacy signatures)
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/smallstep/pkcs7"
)

// Object identifiers of Authenticode and the PKCS#7/CMS attributes it uses.
var (
	OIDSpcIndirectData = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}
	OIDSpcPEImageData  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 15}
	OIDSpcSipInfo      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 30}

	oidContentType      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidCounterSignature = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 6}
	oidRFC3161Token     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 3, 3, 1}
	oidTSTInfo          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidNestedSignature  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 4, 1}

	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// Indirect is what an Authenticode signature says it signed: its
// SpcIndirectDataContent.
type Indirect struct {
	// DataType says what kind of file was signed: OIDSpcPEImageData for a
	// PE image, OIDSpcSipInfo for MSI and APPX.
	DataType asn1.ObjectIdentifier
	// Hash is the digest algorithm the file digest was computed with.
	Hash crypto.Hash
	// Digest is the signed file digest (for APPX, the tagged digest blob).
	Digest []byte
}

// ContentCheck compares what a signature signed with the file. It returns
// "" when the file is what was signed, or, for a person, how it differs
// ("file modified after signing: image hash X, signed Y"). An error is a
// defect of the file or a failure to read it, not a signature state.
type ContentCheck func(ind Indirect) (mismatch string, err error)

// HashName names h for messages ("SHA-256").
func HashName(h crypto.Hash) string { return h.String() }

// DigestMismatch is the Detail of a content digest that is not the file's.
func DigestMismatch(what string, computed, signed []byte) string {
	return fmt.Sprintf("file modified after signing: %s %s, signed %s", what, hex.EncodeToString(computed), hex.EncodeToString(signed))
}

// VerifySignedData verifies the Authenticode PKCS#7 SignedData der: its
// structure, that check accepts the content digest it carries, the
// signer's signature over its authenticated attributes, its timestamp and
// its chain against o.Trust at o.Now. format becomes Signature.Format.
//
// Every way the signature fails is a state of the answer (SigInvalid with
// the reason in Detail); an error comes only from check.
func VerifySignedData(der []byte, format string, o facts.Options, check ContentCheck) (*facts.Signature, error) {
	sig := &facts.Signature{Format: format}
	invalid := func(f string, args ...any) (*facts.Signature, error) {
		sig.State = facts.SigInvalid
		sig.Detail = fmt.Sprintf(f, args...)
		return sig, nil
	}
	p7, err := parsePKCS7(der)
	if err != nil {
		return invalid("PKCS#7 SignedData does not parse: %v", err)
	}
	if len(p7.Signers) != 1 {
		return invalid("Authenticode needs exactly one signer, the SignedData has %d", len(p7.Signers))
	}
	signer := p7.Signers[0]
	leaf := p7.GetOnlySigner()
	if leaf == nil {
		return invalid("the SignedData carries no certificate for its signer (issuer and serial number match none)")
	}
	sig.Signer = leaf.Subject.String()
	sig.Issuer = leaf.Issuer.String()
	na := leaf.NotAfter.UTC()
	sig.NotAfter = &na
	sig.Chain = fileChain(leaf, p7.Certificates)

	// The signer's authenticated attributes: they name the content type
	// and carry the digest of the SpcIndirectDataContent.
	attrs := make([]rawAttribute, 0, len(signer.AuthenticatedAttributes))
	for _, a := range signer.AuthenticatedAttributes {
		attrs = append(attrs, rawAttribute{Type: a.Type, Value: a.Value})
	}
	if len(attrs) == 0 {
		return invalid("the signer has no authenticated attributes (Authenticode signs the content digest through them)")
	}
	var ct asn1.ObjectIdentifier
	if err := attrValue(attrs, oidContentType, &ct); err != nil {
		return invalid("content type attribute: %v", err)
	}
	if !ct.Equal(OIDSpcIndirectData) {
		return invalid("signed content type is %v, not SpcIndirectDataContent (%v)", ct, OIDSpcIndirectData)
	}
	var md []byte
	if err := attrValue(attrs, oidMessageDigest, &md); err != nil {
		return invalid("message digest attribute: %v", err)
	}
	dh, err := hashOf(signer.DigestAlgorithm.Algorithm)
	if err != nil {
		return invalid("signer digest algorithm: %v", err)
	}
	if got := digest(dh, p7.Content); subtle.ConstantTimeCompare(got, md) != 1 {
		return invalid("the SpcIndirectDataContent does not match the signed message digest (%s %x, signed %x)", HashName(dh), got, md)
	}
	signedAttrs, err := attributesDER(attrs)
	if err != nil {
		return invalid("authenticated attributes: %v", err)
	}
	if err := checkSignature(leaf, dh, signedAttrs, signer.EncryptedDigest); err != nil {
		return invalid("the signer's signature over its authenticated attributes does not verify: %v", err)
	}

	ind, err := parseIndirect(p7.Content)
	if err != nil {
		return invalid("SpcIndirectDataContent: %v", err)
	}
	mismatch, err := check(ind)
	if err != nil {
		return nil, err
	}
	if mismatch != "" {
		return invalid("%s", mismatch)
	}

	var notes []string
	unsigned := make([]rawAttribute, 0, len(signer.UnauthenticatedAttributes))
	for _, a := range signer.UnauthenticatedAttributes {
		unsigned = append(unsigned, rawAttribute{Type: a.Type, Value: a.Value})
		if a.Type.Equal(oidNestedSignature) {
			notes = append(notes, "a nested signature is present and was not verified")
		}
	}
	ts := readTimestamp(unsigned, signer.EncryptedDigest, p7.Certificates, o.Trust)
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	at, atWhat := now, "now"
	if ts != nil {
		t := ts.at.UTC()
		sig.Timestamp = &t
		switch {
		case ts.err != nil:
			notes = append(notes, fmt.Sprintf("%s timestamp %s not trusted: %v", ts.kind, t.Format(time.RFC3339), ts.err))
		case t.Before(leaf.NotBefore) || t.After(leaf.NotAfter):
			notes = append(notes, fmt.Sprintf("%s timestamp %s lies outside the certificate's validity", ts.kind, t.Format(time.RFC3339)))
		default:
			at, atWhat = t, ts.kind+" timestamp"
		}
	}
	chains, err := leaf.Verify(o.Trust.VerifyOptions(p7.Certificates, at))
	switch {
	case err == nil:
		sig.State = facts.SigTrusted
		sig.Chain = subjects(chains[0])
		sig.Detail = fmt.Sprintf("chains to trusted root %q at %s (%s)", chains[0][len(chains[0])-1].Subject.String(), at.UTC().Format(time.RFC3339), atWhat)
	case at.After(leaf.NotAfter):
		if chains, err2 := leaf.Verify(o.Trust.VerifyOptions(p7.Certificates, leaf.NotAfter)); err2 == nil {
			sig.State = facts.SigExpired
			sig.Chain = subjects(chains[0])
			sig.Detail = fmt.Sprintf("certificate expired %s and no trusted timestamp inside its validity", leaf.NotAfter.UTC().Format(time.RFC3339))
		} else {
			sig.State = facts.SigUntrusted
			sig.Detail = fmt.Sprintf("certificate expired %s and its chain reaches no trusted root: %v", leaf.NotAfter.UTC().Format(time.RFC3339), err2)
		}
	default:
		sig.State = facts.SigUntrusted
		sig.Detail = fmt.Sprintf("chain reaches no trusted root: %v", err)
	}
	if len(notes) > 0 {
		sig.Detail += "; " + strings.Join(notes, "; ")
	}
	return sig, nil
}

// parsePKCS7 parses der, turning a panic of the parser on hostile input
// into an error.
func parsePKCS7(der []byte) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if r := recover(); r != nil {
			p7, err = nil, fmt.Errorf("malformed ASN.1 (%v)", r)
		}
	}()
	if len(der) == 0 {
		return nil, errors.New("empty")
	}
	return pkcs7.Parse(der)
}

// rawAttribute is one PKCS#7 attribute as encoded.
type rawAttribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"set"`
}

// attrValue decodes the single value of the attribute typ.
func attrValue(attrs []rawAttribute, typ asn1.ObjectIdentifier, out any) error {
	n := 0
	var val []byte
	for _, a := range attrs {
		if a.Type.Equal(typ) {
			n++
			val = a.Value.Bytes
		}
	}
	switch n {
	case 0:
		return fmt.Errorf("%v missing", typ)
	case 1:
	default:
		return fmt.Errorf("%v present %d times", typ, n)
	}
	rest, err := asn1.Unmarshal(val, out)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%v has more than one value", typ)
	}
	return nil
}

// attributesDER is the encoding the signer signed: the attributes as a
// SET OF, in the order they are encoded in the file.
func attributesDER(attrs []rawAttribute) ([]byte, error) {
	var body []byte
	for _, a := range attrs {
		b, err := asn1.Marshal(a)
		if err != nil {
			return nil, err
		}
		body = append(body, b...)
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: body})
}

// hashOf maps a digest algorithm OID to its hash.
func hashOf(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1, nil
	case oid.Equal(oidSHA256):
		return crypto.SHA256, nil
	case oid.Equal(oidSHA384):
		return crypto.SHA384, nil
	case oid.Equal(oidSHA512):
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("digest algorithm %v is not SHA-1, SHA-256, SHA-384 or SHA-512", oid)
}

func digest(h crypto.Hash, b []byte) []byte {
	d := h.New()
	d.Write(b)
	return d.Sum(nil)
}

// checkSignature verifies sig over signed (hashed with h) with cert's key.
func checkSignature(cert *x509.Certificate, h crypto.Hash, signed, sig []byte) error {
	sum := digest(h, signed)
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(pub, h, sum, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, sum, sig) {
			return errors.New("ECDSA verification failure")
		}
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", cert.PublicKey)
}

// parseIndirect decodes the SpcIndirectDataContent whose DER content
// (without its SEQUENCE header) is b:
//
//	SpcIndirectDataContent ::= SEQUENCE {
//	    data          SpcAttributeTypeAndOptionalValue,  -- SEQUENCE { type OID, value ANY OPTIONAL }
//	    messageDigest DigestInfo }                       -- SEQUENCE { AlgorithmIdentifier, OCTET STRING }
func parseIndirect(b []byte) (Indirect, error) {
	var data struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(b, &data)
	if err != nil {
		return Indirect{}, fmt.Errorf("data: %v", err)
	}
	var di struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	rest, err = asn1.Unmarshal(rest, &di)
	if err != nil {
		return Indirect{}, fmt.Errorf("messageDigest: %v", err)
	}
	if len(rest) != 0 {
		return Indirect{}, errors.New("trailing data")
	}
	h, err := hashOf(di.Algorithm.Algorithm)
	if err != nil {
		return Indirect{}, err
	}
	return Indirect{DataType: data.Type, Hash: h, Digest: di.Digest}, nil
}

// fileChain orders the file's certificates from leaf upwards by issuer,
// for a Signature whose chain did not verify.
func fileChain(leaf *x509.Certificate, certs []*x509.Certificate) []string {
	out := []string{leaf.Subject.String()}
	cur := leaf
	for len(out) <= len(certs) {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) {
			break
		}
		var next *x509.Certificate
		for _, c := range certs {
			if c != cur && bytes.Equal(c.RawSubject, cur.RawIssuer) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		out = append(out, next.Subject.String())
		cur = next
	}
	return out
}

func subjects(chain []*x509.Certificate) []string {
	out := make([]string, len(chain))
	for i, c := range chain {
		out[i] = c.Subject.String()
	}
	return out
}

// stamp is a timestamp found on a signature.
type stamp struct {
	kind string    // "RFC 3161" or "countersignature"
	at   time.Time // the time it states
	err  error     // why it is not trusted; nil when it is
}

// readTimestamp finds and verifies the timestamp among a signer's
// unsigned attributes; sigValue is the signer's signature it must stamp.
// nil: there is none.
func readTimestamp(unsigned []rawAttribute, sigValue []byte, certs []*x509.Certificate, trust *facts.TrustStore) *stamp {
	for _, a := range unsigned {
		switch {
		case a.Type.Equal(oidRFC3161Token):
			return rfc3161(a.Value.Bytes, sigValue, certs, trust)
		case a.Type.Equal(oidCounterSignature):
			return counterSignature(a.Value.Bytes, sigValue, certs, trust)
		}
	}
	return nil
}

// tstInfo is RFC 3161's TSTInfo, as far as it is read.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	SerialNumber *big.Int
	GenTime      time.Time `asn1:"generalized"`
	// accuracy, ordering, nonce, tsa and extensions follow; unread.
}

func rfc3161(token, sigValue []byte, certs []*x509.Certificate, trust *facts.TrustStore) *stamp {
	st := &stamp{kind: "RFC 3161"}
	p7, err := parsePKCS7(token)
	if err != nil {
		st.err = fmt.Errorf("token does not parse: %v", err)
		return st
	}
	var info tstInfo
	if _, err := asn1.Unmarshal(p7.Content, &info); err != nil {
		st.err = fmt.Errorf("TSTInfo: %v", err)
		return st
	}
	st.at = info.GenTime
	h, err := hashOf(info.MessageImprint.HashAlgorithm.Algorithm)
	if err != nil {
		st.err = fmt.Errorf("message imprint: %v", err)
		return st
	}
	if !bytes.Equal(digest(h, sigValue), info.MessageImprint.HashedMessage) {
		st.err = errors.New("message imprint is not the digest of the signature it stamps")
		return st
	}
	if len(p7.Signers) != 1 {
		st.err = fmt.Errorf("token has %d signers", len(p7.Signers))
		return st
	}
	s := p7.Signers[0]
	tsa := p7.GetOnlySigner()
	if tsa == nil {
		st.err = errors.New("token carries no certificate for its signer")
		return st
	}
	attrs := make([]rawAttribute, 0, len(s.AuthenticatedAttributes))
	for _, a := range s.AuthenticatedAttributes {
		attrs = append(attrs, rawAttribute{Type: a.Type, Value: a.Value})
	}
	var ct asn1.ObjectIdentifier
	if err := attrValue(attrs, oidContentType, &ct); err != nil || !ct.Equal(oidTSTInfo) {
		st.err = errors.New("token content type is not TSTInfo")
		return st
	}
	st.err = verifyStampSigner(tsa, s.DigestAlgorithm.Algorithm, attrs, p7.Content, s.EncryptedDigest, append(p7.Certificates, certs...), st.at, trust)
	return st
}

// signerInfo is a PKCS#7 SignerInfo as encoded, for the legacy
// countersignature, which is one.
type signerInfo struct {
	Version         int
	IssuerAndSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	DigestAlgorithm pkix.AlgorithmIdentifier
	Attributes      []rawAttribute `asn1:"optional,tag:0"`
	SigAlgorithm    pkix.AlgorithmIdentifier
	Signature       []byte
	Unsigned        asn1.RawValue `asn1:"optional,tag:1"`
}

func counterSignature(der, sigValue []byte, certs []*x509.Certificate, trust *facts.TrustStore) *stamp {
	st := &stamp{kind: "countersignature"}
	var si signerInfo
	if rest, err := asn1.Unmarshal(der, &si); err != nil || len(rest) != 0 {
		st.err = fmt.Errorf("countersignature does not parse: %v", err)
		return st
	}
	if err := attrValue(si.Attributes, oidSigningTime, &st.at); err != nil {
		st.err = fmt.Errorf("signing time: %v", err)
		return st
	}
	var tsa *x509.Certificate
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, si.IssuerAndSerial.Issuer.FullBytes) && si.IssuerAndSerial.Serial != nil && c.SerialNumber.Cmp(si.IssuerAndSerial.Serial) == 0 {
			tsa = c
			break
		}
	}
	if tsa == nil {
		st.err = errors.New("no certificate for the countersigner")
		return st
	}
	st.err = verifyStampSigner(tsa, si.DigestAlgorithm.Algorithm, si.Attributes, sigValue, si.Signature, certs, st.at, trust)
	return st
}

// verifyStampSigner checks a timestamp signer: its message digest
// attribute is the digest of content, its signature over its attributes
// verifies, and its certificate chains for time stamping to a trusted
// root at at.
func verifyStampSigner(tsa *x509.Certificate, digestAlg asn1.ObjectIdentifier, attrs []rawAttribute, content, sig []byte, certs []*x509.Certificate, at time.Time, trust *facts.TrustStore) error {
	h, err := hashOf(digestAlg)
	if err != nil {
		return err
	}
	var md []byte
	if err := attrValue(attrs, oidMessageDigest, &md); err != nil {
		return err
	}
	if !bytes.Equal(md, digest(h, content)) {
		return errors.New("its message digest is not the digest of what it stamps")
	}
	der, err := attributesDER(attrs)
	if err != nil {
		return err
	}
	if err := checkSignature(tsa, h, der, sig); err != nil {
		return fmt.Errorf("its signature does not verify: %v", err)
	}
	opts := trust.VerifyOptions(certs, at)
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
	if _, err := tsa.Verify(opts); err != nil {
		return fmt.Errorf("time-stamping authority %q: %v", tsa.Subject.String(), err)
	}
	return nil
}
