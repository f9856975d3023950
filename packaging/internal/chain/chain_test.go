package chain

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/packaging/facts"
)

var installerEKU = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 4, 13}

func cert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool, nb, na time.Time, eku []x509.ExtKeyUsage, unknown []asn1.ObjectIdentifier) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: nb, NotAfter: na, ExtKeyUsage: eku, UnknownExtKeyUsage: unknown, KeyUsage: x509.KeyUsageDigitalSignature}
	if ca {
		tpl.IsCA, tpl.BasicConstraintsValid, tpl.KeyUsage = true, true, x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func TestJudge(t *testing.T) {
	now := time.Now()
	year := 365 * 24 * time.Hour
	root, rk := cert(t, "Root", nil, nil, true, now.Add(-year), now.Add(10*year), nil, nil)
	inter, ik := cert(t, "Intermediate", root, rk, true, now.Add(-year), now.Add(year), nil, nil)
	codeSign := []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	leaf, _ := cert(t, "Leaf", inter, ik, false, now.Add(-time.Hour), now.Add(year), codeSign, nil)
	installer, _ := cert(t, "Installer", inter, ik, false, now.Add(-time.Hour), now.Add(year), nil, []asn1.ObjectIdentifier{installerEKU})
	server, _ := cert(t, "TLS server", inter, ik, false, now.Add(-time.Hour), now.Add(year), []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil)
	old, _ := cert(t, "Old", inter, ik, false, now.Add(-2*time.Hour), now.Add(-time.Hour), codeSign, nil)
	other, ok := cert(t, "Other root", nil, nil, true, now.Add(-year), now.Add(10*year), nil, nil)
	stray, _ := cert(t, "Stray", other, ok, false, now.Add(-time.Hour), now.Add(year), codeSign, nil)
	strayOld, _ := cert(t, "Stray old", other, ok, false, now.Add(-2*time.Hour), now.Add(-time.Hour), codeSign, nil)
	trust := facts.NewTrustStore(root)
	for _, c := range []struct {
		name   string
		leaf   *x509.Certificate
		inter  []*x509.Certificate
		trust  *facts.TrustStore
		at     time.Time
		accept []asn1.ObjectIdentifier
		state  facts.SignatureState
		detail string
		chain  int
	}{
		{"code signing leaf", leaf, []*x509.Certificate{inter}, trust, now, nil, facts.SigTrusted, "chains to the trusted root CN=Root", 3},
		{"Apple installer usage accepted", installer, []*x509.Certificate{inter}, trust, now, []asn1.ObjectIdentifier{installerEKU}, facts.SigTrusted, "Apple signing key usage is accepted", 3},
		{"Apple installer usage not accepted", installer, []*x509.Certificate{inter}, trust, now, nil, facts.SigUntrusted, "chain does not verify", 2},
		{"TLS server usage", server, []*x509.Certificate{inter}, trust, now, []asn1.ObjectIdentifier{installerEKU}, facts.SigUntrusted, "chain does not verify", 2},
		{"missing intermediate", leaf, nil, trust, now, nil, facts.SigUntrusted, "does not chain to a configured root", 1},
		{"expired leaf", old, []*x509.Certificate{inter}, trust, now, nil, facts.SigExpired, "CN=Old is outside its validity", 3},
		{"intermediate expired by the time judged", leaf, []*x509.Certificate{inter}, trust, now.Add(2 * year), nil, facts.SigExpired, "no trusted timestamp", 3},
		{"untrusted root", stray, []*x509.Certificate{other}, trust, now, nil, facts.SigUntrusted, "trusted: CN=Root", 2},
		{"untrusted and expired", strayOld, []*x509.Certificate{other}, trust, now, nil, facts.SigUntrusted, "also CN=Stray old is outside its validity", 2},
		{"nil trust store", leaf, []*x509.Certificate{inter}, nil, now, nil, facts.SigUntrusted, "no trust store is configured", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(c.leaf, c.inter, c.trust, c.at, c.accept...)
			if v.State != c.state || !strings.Contains(v.Detail, c.detail) || len(v.Chain) != c.chain {
				t.Fatalf("Judge = %+v, want %s with %q and %d chain entries", v, c.state, c.detail, c.chain)
			}
		})
	}
}
