package deb

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/eucora/eucora/packaging/facts"
)

// FuzzInspect: no input panics, and every refusal is a DefectError.
func FuzzInspect(f *testing.F) {
	ctl := simpleControl(f)
	data := tarBuild(f, tarEntry{name: "./lib/systemd/system/a.service", body: "[Service]\nUser=x\n[Install]\nWantedBy=m\n"},
		tarEntry{name: "./lib/systemd/system/a.socket", body: "[Socket]\nListenStream=80\n"},
		tarEntry{name: "./usr/bin/s", body: "x", mode: 0o4755})
	f.Add(handDeb(f, ctl, data))
	f.Add(arBuild(arEntry{"debian-binary", []byte("2.0\n")}, arEntry{"control.tar", ctl}, arEntry{"data.tar", data}, arEntry{"_gpgorigin", []byte("-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n")}))
	for _, comp := range []string{"gzip", "xz", "zstd"} {
		f.Add(mustRead(f, buildDeb(f, minimalFiles(), comp)))
	}
	e, err := openpgp.NewEntity("fuzz", "", "fuzz@example", nil)
	if err != nil {
		f.Fatal(err)
	}
	kr := openpgp.EntityList{e}
	o := facts.Options{Limits: facts.Limits{MaxEntries: 1000, MaxMetadata: 1 << 20, MaxUncompressed: 16 << 20}}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, keyring := range []openpgp.EntityList{nil, kr} {
			got, err := InspectWithKeyring(bytes.NewReader(b), int64(len(b)), o, keyring)
			if err != nil {
				var d *facts.DefectError
				if !errors.As(err, &d) {
					t.Fatalf("error %v (%T) is not a DefectError", err, err)
				}
				continue
			}
			if got.Identity.Name == "" || got.Signature == nil || got.Files == nil {
				t.Fatalf("facts without identity, signature or files: %+v", got)
			}
		}
	})
}
