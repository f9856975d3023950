package hub

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sccm/sccmsim"
	"github.com/eucora/eucora/connectors/sim/fleet"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/signing"
)

// TestRolloutAirGappedSiteThroughEdge: a Windows app rolled out to an
// air-gapped site whose SCCM only the site reaches (EUCORA-architecture.md
// section 8.4). The hub registers the plane by name, without URL or
// credentials; the site's edge registers it with both. Every step travels
// on media: the hub's bundle carries the orders (publish, Ring 0's
// uninstall and redeploy of the rollback validation, the next ring's
// publish), the edge admits and executes them against the site's SCCM
// simulator, whose fleet installs on check-in, and the edge's bundle
// carries the plane's per-device results back, where they feed the same
// gate. Time-to-compliance counts to the receipt that reported it.
func TestRolloutAirGappedSiteThroughEdge(t *testing.T) {
	w := newRolloutWorld(t)
	ctx := w.ctx
	f, err := fleet.Generate(fleet.GenerateOptions{N: 60, Seed: 5, Sites: []string{"berlin"}, CheckInMin: time.Second, CheckInMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sim := sccmsim.New(sccmsim.Options{Fleet: f})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	cred := sim.Credentials()
	creds, _ := json.Marshal(map[string]any{"token_url": srv.URL + cred.TokenPath, "client_id": cred.ClientID, "client_secret": cred.ClientSecret,
		"scope": cred.Scope, "site_id": cred.SiteID, "content_source": `\\berlin-dp01\eucora\sccm`, "distribution_point_groups": cred.DistributionPointGroups})

	hk := must[api.HubKey](t, "hub key")(w.admin.HubKey(ctx))
	hubPub, err := signing.ParsePublic([]byte(hk.PublicPEM), "hub key")
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.Init(t.TempDir(), "berlin", hubPub)
	if err != nil {
		t.Fatal(err)
	}
	berlin := deploy.Scope{Acquisition: "acme", BU: "ops", Site: "berlin"}
	must[api.Site](t, "site")(w.admin.CreateSite(ctx, api.SiteRequest{Name: "berlin", Class: api.ClassAirGapped, Scope: berlin,
		EdgeKeyPEM: string(signing.EncodePublic(e.PublicKey()))}))

	// The credentials of a site-local plane stay at the site.
	for _, bad := range []api.PlaneRequest{
		{Name: "sccm-berlin", Kind: "sccm", Site: "berlin", URL: srv.URL, Credentials: creds},
		{Name: "sccm-berlin", Kind: "sccm", Site: "berlin", Credentials: creds},
		{Name: "sccm-berlin", Kind: "bigfix", Site: "berlin"},
		{Name: "sccm-berlin", Kind: "sccm", Site: "nowhere"},
		{Name: "sccm-berlin", Kind: "sccm", Site: "berlin", Scope: deploy.Scope{Acquisition: "acme", BU: "ops", Site: "paris"}},
	} {
		if _, err := w.admin.CreatePlane(ctx, bad); err == nil {
			t.Fatalf("site plane %+v accepted", bad)
		}
	}
	pl := must[api.Plane](t, "site plane")(w.admin.CreatePlane(ctx, api.PlaneRequest{Name: "sccm-berlin", Kind: "sccm", Site: "berlin"}))
	if pl.Site != "berlin" || pl.URL != "" || pl.KeyID != "" || pl.Scope != berlin {
		t.Fatalf("site plane as registered: %+v", pl)
	}
	for ring := 0; ring <= 4; ring++ {
		id := cred.FleetCollections[fleet.RingGroup(ring)]
		must[api.RingTargets](t, "ring targets")(w.admin.SetRingTargets(ctx, "sccm-berlin", deploy.Ring(ring), []api.Target{{ID: id, Name: fleet.RingGroup(ring)}}))
	}
	if _, err := e.AddPlane("sccm-berlin", "sccm", srv.URL+cred.BasePath, []byte(`{"client_id": "x"}`), false); err == nil {
		t.Fatal("edge took a plane with incomplete credentials")
	}
	if _, err := e.AddPlane("sccm-berlin", "sccm", srv.URL+cred.BasePath, creds, false); err != nil {
		t.Fatal(err)
	}

	first := w.stageScoped("5.0", berlin)
	r1 := nextIDForTest(first, deploy.Ring1Canary)
	o := w.n.srv.orchestrator()
	var imports []time.Time
	rounds, executed := 0, 0
	for ; rounds < 120; rounds++ {
		if _, err := o.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		if r := w.rollout(r1); r.State == store.RolloutObserving && r.Telemetry != nil {
			break
		}
		// Hub -> media -> edge.
		x := must[api.Export](t, "export")(w.admin.ExportSite(ctx, "berlin", api.ExportRequest{}))
		if _, err := e.Import(ctx, download(t, w.admin, "berlin", x, t.TempDir()), edge.ImportOptions{}); err != nil && !strings.Contains(err.Error(), "stale") {
			t.Fatalf("round %d: edge import: %v", rounds, err)
		}
		res, err := e.Execute(ctx, edge.ExecuteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range res.Orders {
			switch x.Outcome {
			case "executed":
				executed++
			case "failed", "refused":
				t.Fatalf("round %d: order %+v", rounds, x)
			}
		}
		// Edge -> media -> hub.
		dir := t.TempDir()
		if _, err := e.Export(ctx, dir, edge.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		vols, _ := filepath.Glob(filepath.Join(dir, "*"))
		req, _, err := importRequest(ctx, vols, signing.NewTrust(e.PublicKey()), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ir := must[api.ImportResult](t, "hub import")(w.admin.ImportSite(ctx, "berlin", req))
		if len(ir.Warnings) > 0 {
			t.Fatalf("round %d: hub import warnings: %v", rounds, ir.Warnings)
		}
		ss := must[api.SiteSync](t, "sync")(w.admin.SiteSyncState(ctx, "berlin"))
		imports = append(imports, ss.LastImportAt.UTC())
		time.Sleep(300 * time.Millisecond) // the fleet checks in every second
	}
	r0 := w.rollout(first)
	if r0.Plane != "sccm-berlin" || r0.State != store.RolloutPromoted || w.rollout(r1).State != store.RolloutObserving {
		t.Fatalf("after %d media rounds: Ring 0 %s on %q, Ring 1 %s", rounds, r0.State, r0.Plane, w.rollout(r1).State)
	}
	// Publish, uninstall and redeploy in Ring 0, then Ring 1's publish:
	// each order executed once at the site.
	if executed != 4 {
		t.Errorf("%d orders executed at the site, want 4 (Ring 0 publish, uninstall, redeploy; Ring 1 publish)", executed)
	}
	if rv, _ := w.n.srv.Store().State().RollbackValidation(rolloutApp, "5.0"); rv.Planes["sccm"] != first {
		t.Fatalf("SCCM rollback at the site not validated in Ring 0: %+v", rv)
	}
	ring0 := f.GroupSize(fleet.RingGroup(0))
	if m := r0.Telemetry.Measure; m.Targeted != ring0 || m.Installed != ring0 {
		t.Fatalf("Ring 0 at the site: %+v, want all %d installed", m, ring0)
	}
	// Every device's time is the hub's receipt of the bundle that reported
	// it, at or after the publish.
	ex, err := w.n.srv.Store().State().SiteExecution("berlin", first)
	if err != nil || ex.Status == nil || len(ex.Status.Devices) != ring0 {
		t.Fatalf("execution record of Ring 0: %v %+v", err, ex)
	}
	for _, d := range ex.Status.Devices {
		if d.At.Before(*r0.PublishedAt) || !containsTime(imports, d.At) {
			t.Fatalf("device %s at %s: not the receipt of an edge bundle (publish %s)", d.Device, d.At, r0.PublishedAt)
		}
	}
	// The site's SCCM holds Ring 0's release once: executing again (the
	// edge's next pass, nothing new ordered) changes nothing on the plane.
	k0 := connectors.ReleaseKey{App: rolloutApp, Version: "5.0", Ring: deploy.Ring0Lab, Scope: berlin}
	objs, assigns := sim.Count(k0)
	if objs == 0 || assigns == 0 {
		t.Fatalf("the site's SCCM holds %d object(s), %d assignment(s) for %s", objs, assigns, k0)
	}
	again, err := e.Execute(ctx, edge.ExecuteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range again.Orders {
		if x.Outcome != "reported" {
			t.Errorf("second pass without new orders: %+v", x)
		}
	}
	if o2, a2 := sim.Count(k0); o2 != objs || a2 != assigns {
		t.Errorf("a second pass changed the plane: %d/%d objects/assignments, before %d/%d", o2, a2, objs, assigns)
	}
	// The edge's own events of what it did arrived in the hub's audit log.
	evs := map[string]int{}
	for after := ""; ; {
		page := must[api.EventPage](t, "events")(w.admin.Events(ctx, after, 1000))
		for _, ev := range page.Events {
			if ev.Origin == "berlin" {
				evs[ev.Action]++
			}
		}
		if page.Next == "" || len(page.Events) == 0 {
			break
		}
		after = page.Next
	}
	for _, want := range []string{"execution.publish", "execution.uninstall", "execution.redeploy", "execution.status"} {
		if evs[want] == 0 {
			t.Errorf("no %s event from the site in the hub's audit log: %v", want, evs)
		}
	}
	t.Logf("Ring 0 -> Ring 1 at an air-gapped site in %d media round trips, %d orders executed", rounds, executed)
}

func containsTime(ts []time.Time, t time.Time) bool {
	for _, x := range ts {
		if x.Equal(t) {
			return true
		}
	}
	return false
}
