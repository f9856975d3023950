package facts

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// TrustStore is the configured set of code-signing roots (EUCORA's "known
// vendors"): a signature whose chain reaches one of them is SigTrusted.
type TrustStore struct {
	Roots    *x509.CertPool
	Subjects []string // root subjects, for messages
}

// NewTrustStore trusts certs as roots.
func NewTrustStore(certs ...*x509.Certificate) *TrustStore {
	t := &TrustStore{Roots: x509.NewCertPool()}
	for _, c := range certs {
		t.Roots.AddCert(c)
		t.Subjects = append(t.Subjects, c.Subject.String())
	}
	return t
}

// LoadTrustStore reads PEM certificate bundles; every certificate in them
// becomes a root. A file with no certificate is an error naming it.
func LoadTrustStore(paths ...string) (*TrustStore, error) {
	var certs []*x509.Certificate
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		n := 0
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: certificate %d: %w", p, n+1, err)
			}
			certs = append(certs, c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no PEM CERTIFICATE block: a trust store file holds the code-signing root certificates to trust", p)
		}
	}
	return NewTrustStore(certs...), nil
}

// VerifyOptions returns x509 options for a code-signing chain judged at
// at, with the intermediates the file itself carries. A nil store trusts
// nothing (never the system roots).
func (t *TrustStore) VerifyOptions(intermediates []*x509.Certificate, at time.Time) x509.VerifyOptions {
	pool := x509.NewCertPool()
	for _, c := range intermediates {
		pool.AddCert(c)
	}
	roots := x509.NewCertPool()
	if t != nil && t.Roots != nil {
		roots = t.Roots
	}
	return x509.VerifyOptions{Roots: roots, Intermediates: pool, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
}
