package hub

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// TestHubKeyRotation stages a next key, which bundles announce; the switch
// waits for every enrolled site to have applied an announcing bundle; after
// it, bundles are signed by the new key, which edges that applied the
// announcement accept and edges that missed it refuse.
func TestHubKeyRotation(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	k1 := must[api.HubKey](t, "hub key")(ac.HubKey(ctx))
	pub1, _ := signing.ParsePublic([]byte(k1.PublicPEM), "hub key")
	lon, err := edge.Init(t.TempDir(), "lon", pub1)
	if err != nil {
		t.Fatal(err)
	}
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "lon", Class: api.ClassAirGapped, EdgeKeyPEM: string(signing.EncodePublic(lon.PublicKey()))}))
	// par goes dark before the rotation: the hub never hears from it again.
	par, err := edge.Init(t.TempDir(), "par", pub1)
	if err != nil {
		t.Fatal(err)
	}
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "par", Class: api.ClassAirGapped, EdgeKeyPEM: string(signing.EncodePublic(par.PublicKey()))}))

	exportTo := func(e *edge.Edge, site string) (*edge.ImportResult, error) {
		x := must[api.Export](t, "export")(ac.ExportSite(ctx, site, api.ExportRequest{}))
		return e.Import(ctx, download(t, ac, site, x, t.TempDir()), edge.ImportOptions{})
	}
	report := func(e *edge.Edge, site string) {
		dir := t.TempDir()
		if _, err := e.Export(ctx, dir, edge.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		req, _, err := importRequest(ctx, globAll(t, dir), signing.NewTrust(e.PublicKey()), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		must[api.ImportResult](t, "hub import")(ac.ImportSite(ctx, site, req))
	}
	if r, err := exportTo(lon, "lon"); err != nil || r.Records[transfer.RecordHubKeys] != 1 {
		t.Fatalf("first import: %v %+v", err, r)
	}
	if _, err := ac.SwitchHubKey(ctx, false); err == nil {
		t.Fatal("switched with nothing staged")
	}
	k := must[api.HubKey](t, "stage")(ac.StageHubKey(ctx))
	if k.KeyID != k1.KeyID || k.Next == nil {
		t.Fatalf("after staging: %+v", k)
	}
	if _, err := ac.StageHubKey(ctx); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("staged twice: %v", err)
	}
	// Nobody has applied an announcing bundle yet: the switch waits.
	var ae *client.APIError
	if _, err := ac.SwitchHubKey(ctx, false); !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("switch before any site knows the key: %v", err)
	}
	r, err := exportTo(lon, "lon")
	if err != nil || len(r.Warnings) == 0 {
		t.Fatalf("announcing import: %v %+v", err, r)
	}
	report(lon, "lon")
	// par still lags: only force switches.
	if _, err := ac.SwitchHubKey(ctx, false); !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("switch with par lagging: %v", err)
	}
	k2 := must[api.HubKey](t, "switch")(ac.SwitchHubKey(ctx, true))
	if k2.KeyID != k.Next.KeyID || len(k2.Previous) != 1 || k2.Previous[0].KeyID != k1.KeyID || k2.Next != nil {
		t.Fatalf("after the switch: %+v", k2)
	}
	// lon follows; par, which never saw the announcement, refuses.
	if r, err := exportTo(lon, "lon"); err != nil || r.Outcome != edge.OutcomeApplied {
		t.Fatalf("lon after the switch: %v %+v", err, r)
	}
	if _, err := exportTo(par, "par"); !errors.Is(err, transfer.ErrUnknownKey) {
		t.Fatalf("par after the switch: %v, want an unknown key", err)
	}
	if st, _ := lon.Status(); st.Applied.Seq != 3 {
		t.Fatalf("lon applied %d", st.Applied.Seq)
	}
}

func globAll(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s: %v", dir, err)
	}
	return files
}
