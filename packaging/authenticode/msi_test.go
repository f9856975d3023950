package authenticode_test

import (
	"os"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/authenticode"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/signtest"
)

func verifyMSIFile(t *testing.T, path string, o facts.Options) (*facts.Signature, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return authenticode.VerifyMSI(strings.NewReader(string(b)), int64(len(b)), o)
}

func TestVerifyMSI(t *testing.T) {
	p := signtest.NewPKI(t)
	msi := signtest.BuildMSI(t, signtest.MinimalWXS)
	trust := p.Trust()
	signed := signtest.Sign(t, msi, p.Leaf)
	cases := []struct {
		name   string
		file   func(t *testing.T) string
		o      facts.Options
		want   facts.SignatureState
		detail string
		ossl   bool
	}{
		{name: "unsigned", file: func(*testing.T) string { return msi }, o: facts.Options{Trust: trust}, want: facts.SigUnsigned},
		{name: "trusted", file: func(*testing.T) string { return signed }, o: facts.Options{Trust: trust}, want: facts.SigTrusted, ossl: true},
		{name: "with MsiDigitalSignatureEx", file: func(t *testing.T) string { return signtest.Sign(t, msi, p.Leaf, "-add-msi-dse") }, o: facts.Options{Trust: trust}, want: facts.SigTrusted, ossl: true},
		{name: "sha1 with MsiDigitalSignatureEx", file: func(t *testing.T) string { return signtest.Sign(t, msi, p.Leaf, "-h", "sha1", "-add-msi-dse") }, o: facts.Options{Trust: trust}, want: facts.SigTrusted, ossl: true},
		{name: "sha512", file: func(t *testing.T) string { return signtest.Sign(t, msi, p.Leaf, "-h", "sha512") }, o: facts.Options{Trust: trust}, want: facts.SigTrusted, ossl: true},
		{name: "untrusted root", file: func(t *testing.T) string { return signtest.Sign(t, msi, p.UntrustedLeaf) }, o: facts.Options{Trust: trust}, want: facts.SigUntrusted},
		{name: "nil trust", file: func(*testing.T) string { return signed }, want: facts.SigUntrusted, ossl: true},
		{name: "expired", file: func(t *testing.T) string { return signtest.Sign(t, msi, p.ExpiredLeaf) }, o: facts.Options{Trust: trust}, want: facts.SigExpired},
		{name: "expired, timestamped while valid", file: func(t *testing.T) string {
			return signtest.Sign(t, msi, p.ExpiredLeaf, p.TSAFlags(t, p.ExpiredLeaf.Cert.NotBefore.Add(24*60*60*1e9))...)
		}, o: facts.Options{Trust: trust}, want: facts.SigTrusted, detail: "RFC 3161", ossl: true},
		{name: "tampered string pool", file: func(t *testing.T) string { return signtest.TamperAt(t, signed, []byte("EUCORA Test Vendor")) }, o: facts.Options{Trust: trust}, want: facts.SigInvalid, detail: "file modified after signing: MSI content hash"},
		{name: "tampered string pool, with MsiDigitalSignatureEx", file: func(t *testing.T) string {
			return signtest.TamperAt(t, signtest.Sign(t, msi, p.Leaf, "-add-msi-dse"), []byte("EUCORA Test Vendor"))
		}, o: facts.Options{Trust: trust}, want: facts.SigInvalid, detail: "file modified after signing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.file(t)
			sig, err := verifyMSIFile(t, path, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if sig.State != c.want {
				t.Fatalf("state %s, want %s (%s)", sig.State, c.want, sig.Detail)
			}
			if !strings.Contains(sig.Detail, c.detail) {
				t.Errorf("detail %q does not say %q", sig.Detail, c.detail)
			}
			if c.want == facts.SigUnsigned {
				return
			}
			ok, out := signtest.Verify(t, path, p.Root.Cert)
			if ok != c.ossl {
				t.Errorf("osslsigncode verify ok=%v, want %v:\n%s", ok, c.ossl, out)
			}
		})
	}
}
