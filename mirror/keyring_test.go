package mirror

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/mirror/mirrortest"
)

// TestSignatureRefusalNamesKeyring: a Release refused for its signature
// names the key that signed it and the keyring it was checked against
// (where it came from, its digest, its keys), so an operator sees whether
// the keyring or the upstream is wrong.
func TestSignatureRefusalNamesKeyring(t *testing.T) {
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	stranger := mirrortest.NewGPG(t, "Stranger <x@example.invalid>")
	fpr := func(pub []byte) string {
		el, err := ReadKeyring(pub, "test")
		if err != nil {
			t.Fatal(err)
		}
		return fingerprint(el[0])
	}
	trusted, strange := fpr(g.Pub), fpr(stranger.Pub)

	cases := []struct {
		name   string
		signer *mirrortest.GPG
		opts   mirrortest.IndexOpts
		mutate func(u *mirrortest.Upstream)
		is     error
		signed string // fingerprint the message must name as the signer
	}{
		{name: "InRelease by an unknown key", signer: stranger, is: ErrUnknownKey, signed: strange},
		{name: "Release.gpg by an unknown key", signer: stranger, opts: mirrortest.IndexOpts{NoInRelease: true}, is: ErrUnknownKey, signed: strange},
		{name: "InRelease altered", signer: g, is: ErrBadSignature, signed: trusted, mutate: func(u *mirrortest.Upstream) {
			p := u.Path("dists/test/InRelease")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte("Label: Upstream"), []byte("Label: Upstreax"), 1), 0o644)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := mirrortest.NewUpstream(t)
			u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0"})
			c.opts.Signer, c.opts.Date = c.signer, time.Now().Add(-time.Minute)
			u.Index(c.opts)
			if c.mutate != nil {
				c.mutate(u)
			}
			srv := mirrortest.NewFaultServer(t, u.Dir)
			repo := testRepo(t)
			if err := repo.CreateMirror(&Mirror{Name: "up", URL: srv.URL, Dist: "test", KeyringFile: "/etc/eucora/upstream.gpg"}, g.Pub); err != nil {
				t.Fatal(err)
			}
			_, err := repo.Sync(context.Background(), "up", SyncOptions{Fetcher: fastFetcher()})
			if !errors.Is(err, c.is) {
				t.Fatalf("sync = %v, want %v", err, c.is)
			}
			msg := err.Error()
			t.Log(msg)
			for _, want := range []string{"signed by key " + c.signed, "mirror up keyring", "/etc/eucora/upstream.gpg", trusted, " Upstream <up@example.invalid>", "sha256 "} {
				if !strings.Contains(msg, want) {
					t.Errorf("refusal %q does not name %q", msg, want)
				}
			}
			if c.signed != trusted && strings.Count(msg, c.signed) != 1 {
				t.Errorf("refusal %q names the signing key wrongly", msg)
			}
		})
	}
}

// FuzzSignatureIssuer: reading the issuer of an upstream signature never
// panics and returns hex or nothing.
func FuzzSignatureIssuer(f *testing.F) {
	s, _ := testSigner(f)
	sig, err := s.DetachSign([]byte("Origin: x\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig)
	f.Add([]byte("-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"))
	f.Add([]byte{0x88, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		got := signatureIssuer(data)
		if strings.Trim(got, "0123456789ABCDEF") != "" {
			t.Fatalf("issuer %q is not upper-case hex", got)
		}
	})
}
