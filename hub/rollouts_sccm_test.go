package hub

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors/sccm/sccmsim"
	"github.com/eucora/eucora/connectors/sim/fleet"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
)

// TestRolloutSiteThroughSCCM: a Windows intent scoped to an air-gapped
// site goes through SCCM distribution points, not Intune (EUCORA-
// architecture.md section 8.4), even with an Intune plane registered: the
// orchestrator publishes to the ring's fleet collection, reads the
// deployment status of the fleet's devices (each checking in every
// second) and promotes Ring 0 to Ring 1 on it. Here the hub reaches the
// site's SCCM itself; executing from the site's edge is not built yet
// (docs/rollouts.md).
func TestRolloutSiteThroughSCCM(t *testing.T) {
	w := newRolloutWorld(t)
	w.pause = 20 * time.Millisecond // devices check in every second
	ctx := w.ctx
	f, err := fleet.Generate(fleet.GenerateOptions{N: 100, Seed: 3, Sites: []string{"berlin"}, CheckInMin: time.Second, CheckInMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := sccmsim.New(sccmsim.Options{Fleet: f})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cred := s.Credentials()
	creds, _ := json.Marshal(map[string]any{"token_url": srv.URL + cred.TokenPath, "client_id": cred.ClientID, "client_secret": cred.ClientSecret,
		"scope": cred.Scope, "site_id": cred.SiteID, "content_source": `\\berlin-dp01\eucora\sccm`, "distribution_point_groups": cred.DistributionPointGroups})
	berlin := deploy.Scope{Acquisition: "acme", BU: "ops", Site: "berlin"}
	must[api.Plane](t, "sccm plane")(w.admin.CreatePlane(ctx, api.PlaneRequest{Name: "sccm-berlin", Kind: "sccm", URL: srv.URL + cred.BasePath,
		Scope: berlin, Credentials: creds}))
	for ring := 0; ring <= 4; ring++ {
		id := cred.FleetCollections[fleet.RingGroup(ring)]
		must[api.RingTargets](t, "ring targets")(w.admin.SetRingTargets(ctx, "sccm-berlin", deploy.Ring(ring), []api.Target{{ID: id, Name: fleet.RingGroup(ring)}}))
	}
	must[api.Site](t, "site")(w.admin.CreateSite(ctx, api.SiteRequest{Name: "berlin", Class: "air-gapped", Scope: berlin}))
	first := w.stageScoped("5.0", berlin)
	r1 := nextIDForTest(first, deploy.Ring1Canary)
	w.passUntil("Ring 1 through SCCM", 600, func() bool { return w.rollout(r1).State == store.RolloutObserving && w.rollout(r1).Telemetry != nil })
	r0 := w.rollout(first)
	if r0.Plane != "sccm-berlin" || r0.PlaneKind != "sccm" || r0.SiteClass != deploy.SiteAirGapped || !strings.Contains(r0.PlaneReason, "section 8.4") {
		t.Fatalf("plane choice: %s %s %s %q", r0.Plane, r0.PlaneKind, r0.SiteClass, r0.PlaneReason)
	}
	ring0 := f.GroupSize(fleet.RingGroup(0))
	if m := r0.Telemetry.Measure; m.Targeted != ring0 || m.Installed != ring0 || r0.State != store.RolloutPromoted {
		t.Fatalf("Ring 0 on SCCM: %s %+v, want all %d of ring-0 installed", r0.State, m, ring0)
	}
	if rv, _ := w.n.srv.Store().State().RollbackValidation(rolloutApp, "5.0"); rv.Planes["sccm"] != first {
		t.Fatalf("SCCM rollback not validated in Ring 0: %+v", rv)
	}
	for _, a := range w.fleet.sim.Apps() {
		if strings.Contains(a.Notes, "@5.0/") {
			t.Fatalf("the air-gapped site's release went to Intune: %s", a.DisplayName)
		}
	}
}

// stageScoped is stage for an intent scoped to scope.
func (w *rolloutWorld) stageScoped(version string, scope deploy.Scope) string {
	w.t.Helper()
	w.scope = &scope
	defer func() { w.scope = nil }()
	return w.stage(version)
}
