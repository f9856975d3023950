package hub

// Rollout failure modes, drift and leader loss (docs/rollouts.md).

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
)

// graphDelete deletes a Graph object by hand, as an administrator in the
// Intune portal would: outside EUCORA.
func (f *intuneFleet) graphDelete(t *testing.T, path string) {
	t.Helper()
	cred := f.sim.Credentials()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cred.ClientID}, "client_secret": {cred.ClientSecret}, "scope": {cred.Scope}}
	resp, err := http.PostForm(f.srv.URL+"/"+cred.Tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest("DELETE", f.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s: %s", path, resp.Status)
	}
}

// appOf returns the simulator's app of a version.
func (f *intuneFleet) appOf(t *testing.T, version string) intunesim.App {
	t.Helper()
	for _, a := range f.sim.Apps() {
		if strings.Contains(a.Notes, "release="+rolloutApp+"@"+version+"/") {
			return a
		}
	}
	t.Fatalf("no Intune app for %s", version)
	return intunesim.App{}
}

// TestRolloutPlaneOutageAndEvidenceStore: an Intune outage pauses the
// plane's promotions with backoff and one incident event, and the rollout
// goes on once the plane answers again; an unwritable evidence store
// blocks the next ring's publish (EUCORA-architecture.md section 5.7).
func TestRolloutPlaneOutageAndEvidenceStore(t *testing.T) {
	w := newRolloutWorld(t)
	// Short backoffs for the test.
	w.n.srv.cfg.PlaneBackoff = 10 * time.Millisecond
	first := w.stage("2.0")
	w.fleet.sim.Faults().Add(sim.Fault{Status: 503, RetryAfter: "0"})
	w.passUntil("backoff", 20, func() bool {
		r := w.rollout(first)
		time.Sleep(20 * time.Millisecond) // past the backoff
		return r.Backoff != nil && r.Backoff.Failures >= 3
	})
	r := w.rollout(first)
	if r.PublishedAt != nil || r.State != store.RolloutPublishing || !strings.Contains(strings.Join(r.Waiting, " "), "unavailable") {
		t.Fatalf("during the outage: %+v", r)
	}
	page, _ := w.admin.Events(w.ctx, "", 5000)
	incidents := 0
	for _, e := range page.Events {
		if e.Action == "rollout.plane-unavailable" {
			incidents++
			if !strings.Contains(e.Reason, "transient") || e.CorrelationID != first {
				t.Errorf("incident event: %+v", e)
			}
		}
	}
	if incidents != 1 {
		t.Fatalf("%d plane-unavailable events for one outage, want 1", incidents)
	}
	w.fleet.sim.Faults().Clear()
	w.passUntil("published after the outage", 200, func() bool { return w.rollout(first).PublishedAt != nil })
	if objects, assignments := w.fleet.sim.Count(connectorsKey(first, "2.0", 0)); objects != 1 || assignments != 1 {
		t.Fatalf("after the outage: %d objects, %d assignments", objects, assignments)
	}

	// Ring 1's publish needs its evidence pack stored: with the store
	// failing the rollout waits, publishing nothing.
	failing := func(context.Context) deploy.EvidenceStore { return failingEvidence{} }
	evidenceStoreHook.Store(&failing)
	t.Cleanup(func() { evidenceStoreHook.Store(nil) })
	r1 := nextIDForTest(first, deploy.Ring1Canary)
	w.passUntil("ring 1 blocked", 200, func() bool {
		return w.rollout(first).State == store.RolloutPromoting && strings.Contains(strings.Join(w.rollout(first).Waiting, " "), "evidence store unavailable")
	})
	if _, err := w.n.srv.Store().State().Intent(r1); err == nil {
		t.Fatal("ring 1 intent made while its ring's results could not be stored")
	}
	evidenceStoreHook.Store(nil)
	w.passUntil("ring 1 published", 200, func() bool { return w.rollout(r1).PublishedAt != nil })
}

func connectorsKey(intent, version string, ring deploy.Ring) connectors.ReleaseKey {
	return connectors.ReleaseKey{App: rolloutApp, Version: version, Ring: ring, Scope: deploy.Scope{Acquisition: "acme"}}
}

// TestRolloutDriftDetectAndEnforce: an assignment deleted in the Intune
// portal and a device whose install was removed are drift; detect-only
// records them, enforce (once the policy says so for Windows) puts the
// assignment back and asks the device to install again, and the drift
// closes.
func TestRolloutDriftDetectAndEnforce(t *testing.T) {
	w := newRolloutWorld(t)
	ctx := w.ctx
	first := w.stage("3.0")
	w.passUntil("ring 1 observing", 200, func() bool { return w.rollout(first).State == store.RolloutPromoted })
	eve := w.as("eve", deploy.RoleEndpointOps)
	// Pause ring 1 so the rollout does not move on under the test.
	r1 := nextIDForTest(first, deploy.Ring1Canary)
	w.passUntil("ring 1 on its plane", 50, func() bool { return w.rollout(r1).PublishedAt != nil })
	if _, err := eve.ControlRollout(ctx, r1, "pause", api.RolloutControl{Reason: "drift drill"}); err != nil {
		t.Fatal(err)
	}
	if d, err := eve.ReconcileRollout(ctx, first); err != nil || len(d) != 0 {
		t.Fatalf("clean state: %+v %v", d, err)
	}
	app := w.fleet.appOf(t, "3.0")
	for _, x := range app.Assignments {
		if x.GroupID == "ring-0" {
			w.fleet.graphDelete(t, "/beta/deviceAppManagement/mobileApps/"+app.ID+"/assignments/"+x.ID)
		}
	}
	d, err := eve.ReconcileRollout(ctx, first)
	if err != nil || len(d) != 1 || d[0].Kind != deploy.DriftMissingAssignment || d[0].Mode != deploy.DriftDetect || d[0].Subjects[0] != "ring-0" {
		t.Fatalf("deleted assignment: %+v %v", d, err)
	}
	// A device of ring 1 that had installed reports it removed.
	if d, err := eve.ReconcileRollout(ctx, r1); err != nil || len(d) != 0 {
		t.Fatalf("ring 1 baseline: %+v %v", d, err)
	}
	if err := w.fleet.sim.SetDeviceState(app.ID, "r1-dev003", intunesim.Outcome{State: "notInstalled"}); err != nil {
		t.Fatal(err)
	}
	d, err = eve.ReconcileRollout(ctx, r1)
	if err != nil || len(d) != 1 || d[0].Kind != deploy.DriftDeviceReverted || !slices.Equal(d[0].Subjects, []string{"r1-dev003"}) {
		t.Fatalf("reverted device: %+v %v", d, err)
	}
	w.token("ann", deploy.RoleAuditor, deploy.Scope{})
	list, err := w.as("ann", deploy.RoleAuditor).Drift(ctx, "", rolloutApp, "")
	if err != nil || len(list) == 0 || list[0].IntentID != first || list[0].Plane != "intune-corp" {
		t.Fatalf("drift list: %+v %v", list, err)
	}
	// Enforce for Windows online: the assignment comes back.
	pol := deploy.DriftPolicy{Phase: 2, Rules: []deploy.DriftRule{{Family: deploy.FamilyWindows, SiteClass: deploy.SiteOnline, Mode: deploy.DriftEnforce}}}
	if _, err := w.admin.SetDriftPolicy(ctx, pol); err != nil {
		t.Fatal(err)
	}
	d, err = eve.ReconcileRollout(ctx, first)
	if err != nil || len(d) != 1 || d[0].Remediated != 1 || !strings.Contains(d[0].LastRemediation, "published") {
		t.Fatalf("enforced: %+v %v", d, err)
	}
	if !slices.ContainsFunc(w.fleet.appOf(t, "3.0").Assignments, func(x intunesim.Assignment) bool { return x.GroupID == "ring-0" }) {
		t.Fatal("enforcement did not put the ring 0 assignment back")
	}
	if d, err = eve.ReconcileRollout(ctx, first); err != nil || len(d) != 0 {
		t.Fatalf("after enforcement: %+v %v", d, err)
	}
	d, err = eve.ReconcileRollout(ctx, r1)
	if err != nil || len(d) != 1 || d[0].Kind != deploy.DriftDeviceReverted || !strings.Contains(d[0].LastRemediation, "install") {
		t.Fatalf("reverted device enforced: %+v %v", d, err)
	}
	// The device installs again on its next check-in (a status read) and the drift closes.
	for i := 0; i < 3 && len(d) > 0; i++ {
		if d, err = eve.ReconcileRollout(ctx, r1); err != nil {
			t.Fatal(err)
		}
	}
	if len(d) != 0 {
		t.Fatalf("reverted device after the redeploy: %+v", d)
	}
	// Linux enforcement before Phase 3 is refused, naming the rule.
	bad := deploy.DriftPolicy{Phase: 2, Rules: []deploy.DriftRule{{Family: deploy.FamilyLinux, SiteClass: deploy.SiteOnline, Mode: deploy.DriftEnforce}}}
	if _, err := w.admin.SetDriftPolicy(ctx, bad); err == nil || !strings.Contains(err.Error(), "Phase 3") {
		t.Fatalf("linux enforce at phase 2: %v", err)
	}
	// Every change of the drift is an audit event on the plane.
	page, _ := w.admin.Events(ctx, "", 5000)
	got := map[string]int{}
	for _, e := range page.Events {
		if strings.HasPrefix(e.Action, "drift.") && e.Object == "plane/intune-corp" {
			got[e.Action]++
		}
	}
	if got["drift.detected"] == 0 || got["drift.remediated"] == 0 || got["drift.cleared"] == 0 {
		t.Fatalf("drift events: %v", got)
	}
}

// TestRolloutLeaderKilledMidPublish kills the leader while its
// orchestrator is uploading the release's content to Intune; the next
// leader resumes the rollout from the store's record and the plane holds
// one app and one assignment (no duplicate).
func TestRolloutLeaderKilledMidPublish(t *testing.T) {
	w := newRolloutCluster(t, 3)
	first := w.stage("4.0")
	old := w.n
	// Hold the content upload back long enough to kill the leader in it.
	w.fleet.sim.Faults().Add(sim.Fault{Match: "PUT /blob/", Delay: 2 * time.Second, Count: 1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		old.srv.orchestrator().Pass(ctx)
	}()
	eventually(t, "the publish step begun", func() bool {
		r := w.rollout(first)
		return len(r.Steps) > 0 && r.Steps[len(r.Steps)-1].Op == "publish" && r.Steps[len(r.Steps)-1].Phase == "begin"
	})
	time.Sleep(300 * time.Millisecond) // inside the held upload
	old.crash()
	<-done
	var alive []*testNode
	for _, n := range w.nodes {
		if n != old {
			alive = append(alive, n)
		}
	}
	w.n = leaderOf(t, alive)
	w.passUntil("published by the new leader", 100, func() bool { return w.rollout(first).PublishedAt != nil })
	if objects, assignments := w.fleet.sim.Count(connectorsKey(first, "4.0", 0)); objects != 1 || assignments != 1 {
		t.Fatalf("after the leader kill: %d Intune apps, %d assignments for the release, want 1 and 1", objects, assignments)
	}
	r := w.rollout(first)
	begun := 0
	for _, s := range r.Steps {
		if s.Op == "publish" && s.Phase == "begin" {
			begun++
		}
	}
	if begun < 2 {
		t.Fatalf("steps %+v: want the publish begun by both leaders", r.Steps)
	}
}

// TestRolloutRevertFoundByTheNextLeader: the devices reconciliation saw
// installed are recorded in the store, so a device reverted after the
// leader died is drift on the new leader's first reconcile (it would be
// taken for a device that never installed otherwise).
func TestRolloutRevertFoundByTheNextLeader(t *testing.T) {
	w := newRolloutCluster(t, 3)
	ctx := w.ctx
	first := w.stage("6.0")
	r1 := nextIDForTest(first, deploy.Ring1Canary)
	w.passUntil("ring 1 on its plane", 300, func() bool { return w.rollout(r1).PublishedAt != nil })
	if _, err := w.as("eve", deploy.RoleEndpointOps).ControlRollout(ctx, r1, "pause", api.RolloutControl{Reason: "leader drill"}); err != nil {
		t.Fatal(err)
	}
	old := w.n
	eventually(t, "ring 1's devices seen installed", func() bool {
		d, err := old.srv.orchestrator().Reconcile(ctx, r1)
		if err != nil || len(d) != 0 {
			t.Fatalf("ring 1 baseline: %+v %v", d, err)
		}
		seen, _ := old.srv.Store().State().InstalledSeen(r1)
		return slices.Contains(seen, "r1-dev003")
	})
	old.crash()
	var alive []*testNode
	for _, n := range w.nodes {
		if n != old {
			alive = append(alive, n)
		}
	}
	w.n = leaderOf(t, alive)
	if seen, _ := w.n.srv.Store().State().InstalledSeen(r1); !slices.Contains(seen, "r1-dev003") {
		t.Fatalf("the new leader's store has not the devices seen installed: %v", seen)
	}
	if err := w.fleet.sim.SetDeviceState(w.fleet.appOf(t, "6.0").ID, "r1-dev003", intunesim.Outcome{State: "notInstalled"}); err != nil {
		t.Fatal(err)
	}
	d, err := w.n.srv.orchestrator().Reconcile(ctx, r1)
	if err != nil || len(d) != 1 || d[0].Kind != deploy.DriftDeviceReverted || !slices.Equal(d[0].Subjects, []string{"r1-dev003"}) {
		t.Fatalf("reverted device on the new leader's first reconcile: %+v %v", d, err)
	}
}
