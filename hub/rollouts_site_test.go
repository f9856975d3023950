package hub

import (
	"encoding/json"
	"fmt"
	"net/http"
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
	"github.com/eucora/eucora/transfer"
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

	var imports []time.Time
	// round carries the hub's bundle to the edge, executes its orders and
	// carries the edge's bundle back; it returns the orders executed.
	round := func(rounds int) int {
		t.Helper()
		executed := 0
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
		return executed
	}

	first := w.stageScoped("5.0", berlin)
	r1 := nextIDForTest(first, deploy.Ring1Canary)
	o := w.n.srv.orchestrator()
	rounds, executed, ordered := 0, 0, 0
	for ; rounds < 120; rounds++ {
		if _, err := o.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		// Ring 1 is published once the site ran its order (it waits in
		// Publishing, naming the site's next bundle, until then).
		if r := w.rollout(r1); r.State == store.RolloutPublishing && len(r.Waiting) == 1 && strings.Contains(r.Waiting[0], "travels to site berlin in its next bundle") {
			ordered++
		} else if sitePublished(r) {
			break
		}
		executed += round(rounds)
		time.Sleep(300 * time.Millisecond) // the fleet checks in every second
	}
	r0 := w.rollout(first)
	if r0.Plane != "sccm-berlin" || r0.State != store.RolloutPromoted || !sitePublished(w.rollout(r1)) {
		t.Fatalf("after %d media rounds: Ring 0 %s on %q, Ring 1 %s", rounds, r0.State, r0.Plane, w.rollout(r1).State)
	}
	if ordered == 0 {
		t.Error("Ring 1 never waited for the site to run its order: it counted as published when the hub issued it")
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
	for _, ev := range allEvents(t, w.admin) {
		if ev.Origin == "berlin" {
			evs[ev.Action]++
		}
	}
	for _, want := range []string{"execution.publish", "execution.uninstall", "execution.redeploy", "execution.status"} {
		if evs[want] == 0 {
			t.Errorf("no %s event from the site in the hub's audit log: %v", want, evs)
		}
	}

	// Enforcement at the site: someone deletes Ring 0's deployment on the
	// site's SCCM. The edge's next report shows it; enforcing, the hub
	// orders the release published again, and while that order travels
	// the drift stays open and no second order is made.
	pol := deploy.DriftPolicy{Phase: 2, Rules: []deploy.DriftRule{{Family: deploy.FamilyWindows, SiteClass: deploy.SiteAirGapped, Mode: deploy.DriftEnforce}}}
	if _, err := w.admin.SetDriftPolicy(ctx, pol); err != nil {
		t.Fatal(err)
	}
	var dep int64 // the connector's install deployment to its Ring 0 collection
	for _, d := range sim.Deployments() {
		if strings.Contains(d.AssignmentName, "-5.0-r0-") && d.DesiredConfigType == 1 {
			dep = d.AssignmentID
		}
	}
	tok, _ := sim.Tokens().Issue()
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, fmt.Sprintf("%s%s/wmi/SMS_ApplicationAssignment(%d)", srv.URL, cred.BasePath, dep), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete Ring 0's deployment %d on the site's SCCM: %v %v", dep, resp, err)
	}
	if got := round(rounds); got != 0 {
		t.Fatalf("%d orders executed with none new", got)
	}
	d, err := o.Reconcile(ctx, first)
	if err != nil || len(d) != 1 || d[0].Kind != deploy.DriftMissingAssignment || d[0].Remediated != 1 {
		t.Fatalf("deleted deployment at the site, enforcing: %+v %v", d, err)
	}
	order := must[transfer.Order](t, "order")(w.n.srv.Store().State().SiteOrder("berlin", first))
	ordersBefore := countEvents(t, w, "site.order")
	for i := 0; i < 3; i++ {
		again, err := o.Reconcile(ctx, first)
		if err != nil || len(again) != 1 || again[0].Remediated != 1 {
			t.Fatalf("reconcile %d while the order travels: %+v %v (want the drift kept, not remediated again)", i, again, err)
		}
	}
	if o2 := must[transfer.Order](t, "order")(w.n.srv.Store().State().SiteOrder("berlin", first)); o2.Seq != order.Seq {
		t.Fatalf("a second order (%d, was %d) while the first travels", o2.Seq, order.Seq)
	}
	if n := countEvents(t, w, "site.order"); n != ordersBefore {
		t.Fatalf("%d site.order events while the order travels, want none", n-ordersBefore)
	}
	if got := round(rounds); got != 1 {
		t.Fatalf("%d orders executed at the site, want the one republish", got)
	}
	if d, err := o.Reconcile(ctx, first); err != nil || len(d) != 0 {
		t.Fatalf("after the site ran the republish: %+v %v", d, err)
	}
	if _, a := sim.Count(k0); a != assigns {
		t.Fatalf("the site's SCCM has %d assignment(s) for Ring 0 after enforcement, want %d", a, assigns)
	}
	t.Logf("Ring 0 -> Ring 1 at an air-gapped site in %d media round trips, %d orders executed", rounds, executed)
}

// sitePublished says whether a site rollout's publish ran at the site: a
// publish step done after the order and a state past Publishing.
func sitePublished(r store.Rollout) bool {
	ordered := false
	for _, st := range r.Steps {
		switch {
		case st.Op == "publish" && st.Phase == "ordered":
			ordered = true
		case st.Op == "publish" && st.Phase == "done" && ordered:
			return r.State != store.RolloutPublishing
		}
	}
	return false
}

// countEvents counts the hub's audit events of an action.
func countEvents(t *testing.T, w *rolloutWorld, action string) int {
	t.Helper()
	n := 0
	for _, ev := range allEvents(t, w.admin) {
		if ev.Action == action {
			n++
		}
	}
	return n
}

func containsTime(ts []time.Time, t time.Time) bool {
	for _, x := range ts {
		if x.Equal(t) {
			return true
		}
	}
	return false
}
