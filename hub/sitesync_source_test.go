package hub

import (
	"encoding/json"
	"testing"

	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// An edge bundle signed by the site's enrolled key is taken only when its
// source is that site (exactly) and its target the hub.
func TestVerifyImportRefusesWrongSource(t *testing.T) {
	key, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	site := store.Site{Name: "lon", EdgeKeyID: key.ID, EdgeKeyPEM: string(signing.EncodePublic(key.Public()))}
	rc, _ := json.Marshal(transfer.Receipt{Site: "lon", Objects: transfer.HeldObjects{ListDigest: transfer.HeldListDigest(nil)},
		ChainHead: transfer.ChainHead{Hash: transfer.GenesisHash}, Generated: store.NowUTC().Truncate(1e9)})
	body := func(source, target string) importBody {
		out, err := transfer.Create(t.Context(), t.TempDir(), key, transfer.Header{Source: source, Target: target, Sequence: 1},
			transfer.Content{Records: []transfer.RecordSource{{Type: transfer.RecordReceipt, Data: rc}}}, transfer.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(client.NewImportRequest(out.Signed.Envelope, map[digest.Digest][]byte{digest.FromBytes(rc): rc}))
		var b importBody
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	s := &Server{}
	if _, code, err := s.verifyImport(site, body("lon", "hub")); err != nil {
		t.Fatalf("the site's own bundle: %s %v", code, err)
	}
	for _, c := range []struct{ source, target string }{{"par", "hub"}, {"hub", "hub"}, {"LON", "hub"}, {"lon", "lon"}, {"lon", "par"}} {
		_, code, err := s.verifyImport(site, body(c.source, c.target))
		if err == nil || code != codeForeign {
			t.Errorf("source %q target %q: code %q, %v", c.source, c.target, code, err)
		}
	}
}
