package authenticode_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/packaging/authenticode"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/signtest"
)

// unsignedExe is a real Windows amd64 program built by the local Go
// toolchain (the build cache makes it cheap after the first).
func unsignedExe(t *testing.T) string {
	t.Helper()
	return signtest.BuildPE(t, "amd64", nil)
}

func verifyPEFile(t *testing.T, path string, o facts.Options) (*facts.Signature, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return authenticode.VerifyPE(f, st.Size(), o)
}

func TestVerifyPE(t *testing.T) {
	p := signtest.NewPKI(t)
	exe := unsignedExe(t)
	year := 365 * 24 * time.Hour
	trust := p.Trust()
	signed := signtest.Sign(t, exe, p.Leaf)

	cases := []struct {
		name      string
		file      func(t *testing.T) string
		o         facts.Options
		want      facts.SignatureState
		detail    string // substring of Detail
		timestamp bool
		ossl      bool // osslsigncode verify -CAfile root succeeds
	}{
		{name: "unsigned", file: func(*testing.T) string { return exe }, o: facts.Options{Trust: trust}, want: facts.SigUnsigned, detail: "no certificate table"},
		{name: "trusted", file: func(*testing.T) string { return signed }, o: facts.Options{Trust: trust}, want: facts.SigTrusted, detail: "EUCORA Test Root", ossl: true},
		{name: "nil trust store trusts nothing", file: func(*testing.T) string { return signed }, want: facts.SigUntrusted, detail: "unknown authority", ossl: true},
		{name: "untrusted root", file: func(t *testing.T) string { return signtest.Sign(t, exe, p.UntrustedLeaf) }, o: facts.Options{Trust: trust}, want: facts.SigUntrusted, detail: "unknown authority"},
		{name: "rsa signer", file: func(t *testing.T) string { return signtest.Sign(t, exe, p.RSALeaf(t)) }, o: facts.Options{Trust: trust}, want: facts.SigTrusted, ossl: true},
		{name: "sha1 digest", file: func(t *testing.T) string { return signtest.Sign(t, exe, p.Leaf, "-h", "sha1") }, o: facts.Options{Trust: trust}, want: facts.SigTrusted, ossl: true},
		{name: "sha384 digest", file: func(t *testing.T) string { return signtest.Sign(t, exe, p.Leaf, "-h", "sha384") }, o: facts.Options{Trust: trust}, want: facts.SigTrusted, ossl: true},
		{name: "sha512 digest", file: func(t *testing.T) string { return signtest.Sign(t, exe, p.Leaf, "-h", "sha512") }, o: facts.Options{Trust: trust}, want: facts.SigTrusted, ossl: true},
		{name: "expired leaf without timestamp", file: func(t *testing.T) string { return signtest.Sign(t, exe, p.ExpiredLeaf) }, o: facts.Options{Trust: trust}, want: facts.SigExpired, detail: "no trusted timestamp"},
		{name: "expired leaf, RFC 3161 timestamp inside its validity", file: func(t *testing.T) string {
			return signtest.Sign(t, exe, p.ExpiredLeaf, p.TSAFlags(t, p.Now.Add(-18*30*24*time.Hour))...)
		}, o: facts.Options{Trust: trust}, want: facts.SigTrusted, detail: "RFC 3161 timestamp", timestamp: true, ossl: true},
		{name: "expired leaf, RFC 3161 timestamp after its expiry", file: func(t *testing.T) string {
			return signtest.Sign(t, exe, p.ExpiredLeaf, p.TSAFlags(t, p.Now)...)
		}, o: facts.Options{Trust: trust}, want: facts.SigExpired, detail: "outside the certificate's validity", timestamp: true},
		{name: "leaf expired by now, legacy countersignature while valid", file: func(t *testing.T) string {
			return signtest.Sign(t, exe, p.Leaf, "-t", p.LegacyTSA(t))
		}, o: facts.Options{Trust: trust, Now: p.Now.Add(2 * year)}, want: facts.SigTrusted, detail: "countersignature timestamp", timestamp: true, ossl: true},
		{name: "leaf expired by now, no timestamp", file: func(*testing.T) string { return signed }, o: facts.Options{Trust: trust, Now: p.Now.Add(2 * year)}, want: facts.SigExpired},
		{name: "timestamp by an untrusted store is ignored", file: func(t *testing.T) string {
			return signtest.Sign(t, exe, p.ExpiredLeaf, p.TSAFlags(t, p.Now.Add(-18*30*24*time.Hour))...)
		}, o: facts.Options{Trust: facts.NewTrustStore(p.UntrustedRoot.Cert)}, want: facts.SigUntrusted, detail: "not trusted", timestamp: true, ossl: true},
		{name: "tampered after signing", file: func(t *testing.T) string { return signtest.Tamper(t, signed, 0x600) }, o: facts.Options{Trust: trust}, want: facts.SigInvalid, detail: "file modified after signing: image hash"},
		{name: "tampered in the last section", file: func(t *testing.T) string { return signtest.Tamper(t, signed, lastSectionByte(t, signed)) }, o: facts.Options{Trust: trust}, want: facts.SigInvalid, detail: "file modified after signing"},
		{name: "tampered signature bytes", file: func(t *testing.T) string { return signtest.Tamper(t, signed, -300) }, o: facts.Options{Trust: trust}, want: facts.SigInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.file(t)
			sig, err := verifyPEFile(t, path, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if sig.State != c.want {
				t.Fatalf("state %s, want %s (%s)", sig.State, c.want, sig.Detail)
			}
			if !strings.Contains(sig.Detail, c.detail) {
				t.Errorf("detail %q does not say %q", sig.Detail, c.detail)
			}
			if sig.Format != "authenticode" {
				t.Errorf("format %q", sig.Format)
			}
			if (sig.Timestamp != nil) != c.timestamp {
				t.Errorf("timestamp %v, want present=%v", sig.Timestamp, c.timestamp)
			}
			if c.want != facts.SigUnsigned && c.want != facts.SigInvalid {
				if sig.Signer == "" || sig.Issuer == "" || sig.NotAfter == nil || len(sig.Chain) == 0 {
					t.Errorf("signer fields not filled: %+v", sig)
				}
			}
			if c.want == facts.SigTrusted && len(sig.Chain) != 3 {
				t.Errorf("chain %q, want leaf, intermediate, root", sig.Chain)
			}
			if c.want == facts.SigUnsigned {
				return
			}
			// Cross-check with osslsigncode verify against the same root.
			var extra []string
			if !c.o.Now.IsZero() {
				extra = []string{"-time", itoa(c.o.Now.Unix())}
			}
			ok, out := signtest.Verify(t, path, p.Root.Cert, extra...)
			if ok != c.ossl {
				t.Errorf("osslsigncode verify ok=%v, want %v:\n%s", ok, c.ossl, out)
			}
		})
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// lastSectionByte is an offset inside the raw data of the file's last
// section.
func lastSectionByte(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	h, err := authenticode.ParsePEHeaders(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	for _, s := range h.Sections {
		if s.SizeOfRawData > 0 && int64(s.PointerToRawData) > off {
			off = int64(s.PointerToRawData) + int64(s.SizeOfRawData)/2
		}
	}
	return off
}

func isDefect(err error) bool {
	var d *facts.DefectError
	return errors.As(err, &d) && errors.Is(err, facts.ErrDefect)
}
