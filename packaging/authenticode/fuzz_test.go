package authenticode_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/eucora/eucora/packaging/authenticode"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/signtest"
)

func checkVerdict(t *testing.T, sig *facts.Signature, err error) {
	t.Helper()
	if err != nil {
		if !isDefect(err) {
			t.Fatalf("error is not a DefectError: %v", err)
		}
		return
	}
	switch sig.State {
	case facts.SigTrusted, facts.SigUntrusted, facts.SigExpired, facts.SigInvalid, facts.SigUnsigned:
	default:
		t.Fatalf("state %q", sig.State)
	}
}

func FuzzVerifyPE(f *testing.F) {
	p := signtest.NewPKI(f)
	signed, err := os.ReadFile(signtest.Sign(f, signtest.BuildPE(f, "amd64", nil), p.Leaf))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(signed[:4096])
	f.Add([]byte("MZ"))
	trust := p.Trust()
	f.Fuzz(func(t *testing.T, b []byte) {
		sig, err := authenticode.VerifyPE(bytes.NewReader(b), int64(len(b)), facts.Options{Trust: trust})
		checkVerdict(t, sig, err)
	})
}

func FuzzVerifyMSI(f *testing.F) {
	p := signtest.NewPKI(f)
	msi := signtest.BuildMSI(f, signtest.MinimalWXS)
	for _, path := range []string{msi, signtest.Sign(f, msi, p.Leaf), signtest.Sign(f, msi, p.Leaf, "-add-msi-dse")} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	trust := p.Trust()
	f.Fuzz(func(t *testing.T, b []byte) {
		sig, err := authenticode.VerifyMSI(bytes.NewReader(b), int64(len(b)), facts.Options{Trust: trust})
		checkVerdict(t, sig, err)
	})
}
