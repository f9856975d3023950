// Package chain judges a signer's certificate chain against the factory's
// trust store (facts.TrustStore) and says which facts.SignatureState it
// earns: trusted when it chains to a configured root inside its validity,
// expired when it would chain but a certificate is out of validity at the
// time judged, untrusted otherwise. The caller has already checked that
// the signature itself verifies with the leaf's key; this package never
// says anything about the content.
package chain

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/packaging/facts"
)

// Verdict is what Judge found.
type Verdict struct {
	State  facts.SignatureState // SigTrusted, SigExpired or SigUntrusted
	Chain  []string             // subjects leaf to root as verified, else the certificates as given
	Detail string               // why, for a person
}

// Judge verifies leaf with intermediates against trust at time at, with
// the code-signing key usage facts.TrustStore.VerifyOptions asks for. A
// leaf whose extended key usage is one of acceptEKU (a format's own signing
// usage, e.g. Apple's installer-package signing) is accepted for it too.
func Judge(leaf *x509.Certificate, intermediates []*x509.Certificate, trust *facts.TrustStore, at time.Time, acceptEKU ...asn1.ObjectIdentifier) Verdict {
	given := []string{leaf.Subject.String()}
	for _, c := range intermediates {
		given = append(given, c.Subject.String())
	}
	opts := trust.VerifyOptions(intermediates, at)
	usageNote := ""
	if hasEKU(leaf, acceptEKU) {
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
		usageNote = " (the leaf's Apple signing key usage is accepted for this format)"
	}
	chains, err := leaf.Verify(opts)
	if err == nil {
		return Verdict{State: facts.SigTrusted, Chain: subjects(chains[0]),
			Detail: "chains to the trusted root " + chains[0][len(chains[0])-1].Subject.String() + usageNote}
	}
	if trust == nil || trust.Roots == nil || len(trust.Subjects) == 0 {
		return Verdict{State: facts.SigUntrusted, Chain: given, Detail: "no trust store is configured, so no root is trusted"}
	}
	// Expired: the chain would verify at a time inside every certificate's
	// validity. Try the latest moment the leaf was valid, then its start.
	expired := ""
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired {
		expired = fmt.Sprintf("%s is outside its validity at %s", inv.Cert.Subject.String(), at.UTC().Format(time.RFC3339))
		for _, t := range []time.Time{earliestNotAfter(leaf, intermediates).Add(-time.Second), leaf.NotBefore.Add(time.Second)} {
			o := opts
			o.CurrentTime = t
			chains, err2 := leaf.Verify(o)
			if err2 == nil {
				return Verdict{State: facts.SigExpired, Chain: subjects(chains[0]),
					Detail: fmt.Sprintf("chains to the trusted root %s, but %s and no trusted timestamp vouches for the signing time",
						chains[0][len(chains[0])-1].Subject.String(), expired)}
			}
			err = err2
		}
		expired = "; also " + expired
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return Verdict{State: facts.SigUntrusted, Chain: given,
			Detail: "does not chain to a configured root (trusted: " + strings.Join(trust.Subjects, "; ") + ")" + expired}
	}
	return Verdict{State: facts.SigUntrusted, Chain: given, Detail: "chain does not verify: " + err.Error() + expired}
}

func hasEKU(c *x509.Certificate, want []asn1.ObjectIdentifier) bool {
	for _, u := range c.UnknownExtKeyUsage {
		if slices.ContainsFunc(want, u.Equal) {
			return true
		}
	}
	return false
}

func earliestNotAfter(leaf *x509.Certificate, rest []*x509.Certificate) time.Time {
	t := leaf.NotAfter
	for _, c := range rest {
		if c.NotAfter.Before(t) && c.NotAfter.After(leaf.NotBefore) {
			t = c.NotAfter
		}
	}
	return t
}

func subjects(cs []*x509.Certificate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Subject.String()
	}
	return out
}
