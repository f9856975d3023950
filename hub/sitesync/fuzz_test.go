package sitesync

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// FuzzVerifyImport feeds arbitrary request bodies to the import decoder
// and verifier: it must never panic, a refusal always names a code, and
// nothing it accepts was not signed by the site's key.
func FuzzVerifyImport(f *testing.F) {
	key, site, rc, imports := lonImport(f)
	// A valid body: a receipt signed by the site's key.
	good := imports("lon", "hub")
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"records":{`), []byte(`"records":{"00":"AA==",`), 1))
	f.Add([]byte(`{"envelope":{"payloadType":"x","payload":"","signatures":[]},"records":{}}`))
	f.Add([]byte(`{"envelope":"` + base64.StdEncoding.EncodeToString([]byte("{}")) + `","records":null}`))
	f.Add([]byte(`{}`))
	f.Add(bytes.Replace(good, []byte(`"records":{`), []byte(`"records":{"`+digest.FromBytes(rc).Hex()+`":"AA==",`), 1))
	f.Add(bytes.Replace(good, []byte(`"envelope"`), []byte(`"Envelope"`), 1))
	f.Add([]byte(`{"records":{},"envelope":"e30="}`))
	// Cut short after the verified envelope, and before the last brace.
	f.Add(good[:bytes.Index(good, []byte(`,"records"`))])
	f.Add(good[:len(good)-1])
	x := New(Config{})
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := x.readImport(site, bytes.NewReader(data))
		var ir *transfer.RefusalError
		var be *BodyError
		switch {
		case errors.As(err, &ir):
			if !ir.Code.Known() {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		case errors.As(err, &be):
			return
		case err != nil:
			t.Fatalf("error neither a refusal nor a body error: %v", err)
		}
		v, err := x.verifyRecords(site, body)
		if err != nil {
			if _, ok := transfer.RefusalOf(err); !ok {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		sg, err := transfer.ReadSigned(body.Signed.Envelope, signing.NewTrust(key.Public()))
		if err != nil || sg.Source != "lon" || v.body.Receipt.Site != "lon" || v.body.KeyID != key.ID {
			t.Fatalf("accepted a body the site's key does not vouch for: %v", err)
		}
		if v.body.Digest != sg.Digest {
			t.Fatalf("digest %s, manifest %s", v.body.Digest, sg.Digest)
		}
	})
}
