package sitesync

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// lonImport returns a new edge key, site "lon" enrolled with it, a receipt
// of site lon and imports(source, target): the body of POST
// /v1/sites/lon/imports for a bundle signed by that key from source to
// target that carries the receipt.
func lonImport(tb testing.TB) (key *signing.PrivateKey, site store.Site, receipt []byte, imports func(source, target string) []byte) {
	tb.Helper()
	key, err := signing.Generate()
	if err != nil {
		tb.Fatal(err)
	}
	site = store.Site{Name: "lon", EdgeKeyID: key.ID, EdgeKeyPEM: string(signing.EncodePublic(key.Public()))}
	receipt, _ = json.Marshal(transfer.Receipt{Site: "lon", Objects: transfer.HeldObjects{ListDigest: transfer.HeldListDigest(nil)},
		ChainHead: transfer.ChainHead{Hash: transfer.GenesisHash}, Generated: store.NowUTC().Truncate(1e9)})
	return key, site, receipt, func(source, target string) []byte {
		tb.Helper()
		out, err := transfer.Create(tb.Context(), tb.TempDir(), key, transfer.Header{Source: source, Target: target, Sequence: 1},
			transfer.Content{Records: []transfer.RecordSource{{Type: transfer.RecordReceipt, Data: receipt}}}, transfer.CreateOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		raw, _ := json.Marshal(api.NewImportRequest(out.Signed.Envelope, map[digest.Digest][]byte{digest.FromBytes(receipt): receipt}))
		return raw
	}
}

// An edge bundle signed by the site's enrolled key is taken only when its
// source is that site (exactly) and its target the hub.
func TestVerifyImportRefusesWrongSource(t *testing.T) {
	_, site, _, imports := lonImport(t)
	x := New(Config{})
	verify := func(source, target string) (string, error) {
		body, err := x.readImport(site, bytes.NewReader(imports(source, target)))
		if ir := (*transfer.RefusalError)(nil); errors.As(err, &ir) {
			return string(ir.Code), err
		} else if err != nil {
			t.Fatal(err)
		}
		_, err = x.verifyRecords(site, body)
		code, _ := transfer.RefusalOf(err)
		return string(code), err
	}
	if code, err := verify("lon", "hub"); err != nil {
		t.Fatalf("the site's own bundle: %s %v", code, err)
	}
	for _, c := range []struct{ source, target string }{{"par", "hub"}, {"hub", "hub"}, {"LON", "hub"}, {"lon", "lon"}, {"lon", "par"}} {
		code, err := verify(c.source, c.target)
		if err == nil || code != string(transfer.RefusedForeign) {
			t.Errorf("source %q target %q: code %q, %v", c.source, c.target, code, err)
		}
	}
}
