package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/rollout"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
)

// ringSizes spread 500 simulated devices over the five rings.
var ringSizes = [5]int{5, 20, 50, 125, 300}

// intuneFleet is an Intune simulator with 500 devices in one Entra group
// per ring and a failure rate per app id that tests raise.
type intuneFleet struct {
	sim *intunesim.Server
	srv *httptest.Server
	mu  sync.Mutex
	// rates are failure rates (percent) by the app's Graph id, for the
	// devices of rings from fromRing on.
	rates    map[string]int
	fromRing map[string]int
}

func newIntuneFleet(t *testing.T) *intuneFleet {
	t.Helper()
	f := &intuneFleet{rates: map[string]int{}, fromRing: map[string]int{}}
	groups := map[string][]intunesim.Device{}
	for ring, n := range ringSizes {
		g := fmt.Sprintf("ring-%d", ring)
		for i := range n {
			id := fmt.Sprintf("r%d-dev%03d", ring, i)
			groups[g] = append(groups[g], intunesim.Device{ID: id, Name: strings.ToUpper(id)})
		}
	}
	f.sim = intunesim.New(intunesim.Options{Groups: groups, InstallAfter: 1, Outcome: func(appID string, d intunesim.Device) intunesim.Outcome {
		f.mu.Lock()
		rate, from := f.rates[appID], f.fromRing[appID]
		f.mu.Unlock()
		if ring := int(d.ID[1] - '0'); ring < from {
			rate = 0
		}
		h := fnv.New32a()
		h.Write([]byte(d.ID))
		if int(h.Sum32()%100) < rate {
			return intunesim.Outcome{State: "failed", Detail: "installFailed", ErrorCode: 0x80070643}
		}
		return intunesim.Outcome{State: "installed"}
	}})
	f.srv = httptest.NewServer(f.sim.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// failApp sets the failure rate of the Graph app of a version on the
// devices of rings from fromRing on.
func (f *intuneFleet) failApp(t *testing.T, version string, percent int, fromRing deploy.Ring) {
	t.Helper()
	for _, a := range f.sim.Apps() {
		if strings.Contains(a.Notes, "release="+rolloutApp+"@"+version+"/") {
			f.mu.Lock()
			f.rates[a.ID], f.fromRing[a.ID] = percent, int(fromRing)
			f.mu.Unlock()
			return
		}
	}
	t.Fatalf("no Intune app for version %s", version)
}

// rolloutWorld is a hub with an Intune plane, ring groups, the people of
// a rollout and an app whose versions the tests roll out.
type rolloutWorld struct {
	*govWorld
	fleet *intuneFleet
	admin *client.Client
	nodes []*testNode
	// scope, when set, is the scope stage gives its intent (default acme).
	scope *deploy.Scope
	// pause is the wall time between passes, for planes whose devices
	// check in on the clock.
	pause time.Duration
}

const rolloutApp = "com.acme.ledger"

func newRolloutWorld(t *testing.T) *rolloutWorld { return newRolloutCluster(t, 1) }

// newRolloutCluster is a rollout world on a cluster of size nodes; w.n is
// the leader at the start.
func newRolloutCluster(t *testing.T, size int) *rolloutWorld {
	t.Helper()
	nodes, adminTok := makeCluster(t, size, clusterOpts{})
	n := leaderOf(t, nodes)
	ctx := ctxT(t)
	w := &rolloutWorld{govWorld: &govWorld{t: t, n: n, ctx: ctx, users: map[string]*client.Client{}}, fleet: newIntuneFleet(t), admin: cli(n, adminTok), nodes: nodes}
	acme := deploy.Scope{Acquisition: "acme"}
	w.token("pat", deploy.RolePackagingEngineer, acme)
	w.token("carol", deploy.RoleCABApprover, deploy.Scope{})
	w.token("rita", deploy.RolePublisher, acme)
	w.token("eve", deploy.RoleEndpointOps, acme)
	w.token("sam", deploy.RoleSecurityReviewer, deploy.Scope{})
	cred := w.fleet.sim.Credentials()
	creds, _ := json.Marshal(map[string]string{"tenant": cred.Tenant, "client_id": cred.ClientID, "client_secret": cred.ClientSecret, "login_url": w.fleet.srv.URL})
	must[api.Plane](t, "plane")(w.admin.CreatePlane(ctx, api.PlaneRequest{Name: "intune-corp", Kind: "intune", URL: w.fleet.srv.URL, Credentials: creds}))
	// The operator copies the credentials key to every node
	// (hub/DESIGN.md "Plane credentials"): any leader can then publish.
	key, err := os.ReadFile(filepath.Join(n.dir, "hub", "keys", credentialsKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range nodes {
		if o != n {
			os.MkdirAll(filepath.Join(o.dir, "hub", "keys"), 0o700)
			if err := os.WriteFile(filepath.Join(o.dir, "hub", "keys", credentialsKeyFile), key, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for ring := range ringSizes {
		must[api.RingTargets](t, "ring targets")(w.admin.SetRingTargets(ctx, "intune-corp", deploy.Ring(ring), []api.Target{{ID: fmt.Sprintf("ring-%d", ring)}}))
	}
	must[api.App](t, "app")(w.as("pat", deploy.RolePackagingEngineer).CreateApp(ctx, api.AppRequest{ID: rolloutApp, Name: "Ledger", Owner: "fin-apps",
		Category: "finance", SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: acme, LOB: true}))
	return w
}

// stage packages a version (a real blob in the content store), has it
// approved, assessed at risk 30 and staged to Ring 0 by the packaging
// engineer with a complete evidence pack; it returns the Ring 0 intent.
func (w *rolloutWorld) stage(version string) string {
	t, ctx := w.t, w.ctx
	pat, carol := w.as("pat", deploy.RolePackagingEngineer), w.as("carol", deploy.RoleCABApprover)
	must[api.Version](t, "version")(pat.CreateVersion(ctx, rolloutApp, api.VersionRequest{Version: version, OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}))
	body := []byte(fmt.Sprintf("MSI of ledger %s\n%01000d", version, 3))
	d := digest.FromBytes(body)
	if err := pat.PutBlob(ctx, d.Hex(), bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	name := "ledger-" + version + ".msi"
	must[api.Artifact](t, "artifact")(pat.CreateArtifact(ctx, rolloutApp, version, api.ArtifactRequest{Platform: deploy.PlatformMSI, Name: name,
		SHA256: d, Size: int64(len(body)), Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass}))
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		must[api.Version](t, "transition")(pat.Transition(ctx, rolloutApp, version, to))
	}
	must[api.Version](t, "approve")(carol.Transition(ctx, rolloutApp, version, deploy.StateApproved))
	asID, intent := "as-"+version, "ledger-"+strings.ReplaceAll(version, ".", "-")
	as := must[api.Assessment](t, "assess")(pat.CreateAssessment(ctx, api.AssessmentRequest{ID: asID, AppID: rolloutApp, Version: version,
		Input: riskInput(0.3, deploy.Ring0Lab)}))
	scope := deploy.Scope{Acquisition: "acme"}
	if w.scope != nil {
		scope = *w.scope
	}
	now := time.Now().UTC().Truncate(time.Second)
	must[api.Intent](t, "intent")(pat.CreateIntent(ctx, api.IntentRequest{ID: intent, AppID: rolloutApp, Version: version, Artifact: d,
		Ring: deploy.Ring0Lab, Scope: &scope, Schedule: deploy.Schedule{NotBefore: now.Add(-time.Hour)}, AssessmentID: asID}))
	var pack deploy.EvidencePack
	if err := json.Unmarshal(evidencePack(t, intent, version, as.Assessment, now), &pack); err != nil {
		t.Fatal(err)
	}
	pack.Artifacts = []deploy.ArtifactEvidence{{Name: name, Platform: deploy.PlatformMSI, SHA256: d, Size: int64(len(body)),
		Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}}
	pack.TestEvidence.Ring0 = nil // Ring 0's results come from the plane
	pack.RolloutPlan, pack.RollbackPlans = nil, nil
	pb, _ := json.Marshal(pack)
	ev := must[api.EvidenceView](t, "evidence")(pat.StoreEvidence(ctx, pb))
	must[api.Decision](t, "stage")(pat.Publish(ctx, intent, api.PublishRequest{Evidence: ev.Record.Digest}))
	return intent
}

// passUntil steps the orchestrator until cond holds, at most max passes.
func (w *rolloutWorld) passUntil(what string, max int, cond func() bool) {
	w.t.Helper()
	o := w.n.srv.orchestrator()
	for i := 0; i < max; i++ {
		rep, err := o.Pass(w.ctx)
		if err != nil {
			w.t.Fatalf("%s: pass %d: %v", what, i, err)
		}
		for _, e := range rep.Errors {
			w.t.Logf("%s: pass %d: %s", what, i, e)
		}
		if cond() {
			return
		}
		time.Sleep(w.pause)
		if testing.Verbose() && i%10 == 0 {
			rs, _ := w.n.srv.Store().State().Rollouts()
			for _, r := range rs {
				w.t.Logf("pass %d: %s %s: %s %s waiting %v gate %+v tel %+v", i, r.IntentID, r.Ring, r.State, r.Validation, r.Waiting, r.Gate, r.Telemetry)
			}
		}
	}
	rs, _ := w.n.srv.Store().State().Rollouts()
	for _, r := range rs {
		w.t.Logf("rollout %s %s: %s waiting %v gate %+v", r.IntentID, r.Ring, r.State, r.Waiting, r.Gate)
	}
	w.t.Fatalf("%s: not reached in %d passes", what, max)
}

func (w *rolloutWorld) rollout(intent string) store.Rollout {
	r, err := w.n.srv.Store().State().Rollout(intent)
	if err != nil {
		return store.Rollout{}
	}
	return r
}

// TestRolloutThroughRings publishes a Windows app through Rings 0-4 on the
// Intune simulator with 500 devices: every ring is published by the
// orchestrator, judged on the plane's device statuses, Ring 0's rollback
// is really run, each promotion is a decision record, and every step is
// in the audit log. The next version fails on 20% of Ring 2's devices: the
// gate fails, the rollout pauses, a person rolls it back and Ring 2 is
// pinned back to the first version.
func TestRolloutThroughRings(t *testing.T) {
	w := newRolloutWorld(t)
	ctx := w.ctx
	first := w.stage("1.0")
	last := nextIDForTest(first, deploy.Ring4Global)
	w.passUntil("1.0 through Ring 4", 400, func() bool { return w.rollout(last).State == store.RolloutCompleted })

	st := w.n.srv.Store().State()
	for ring := deploy.Ring0Lab; ring <= deploy.MaxRing; ring++ {
		id := nextIDForTest(first, ring)
		r := w.rollout(id)
		in, err := st.Intent(id)
		if err != nil {
			t.Fatal(err)
		}
		wantState, wantIntent := store.RolloutPromoted, store.IntentPromoted
		if ring == deploy.MaxRing {
			wantState = store.RolloutCompleted
		}
		if r.State != wantState || in.Status != wantIntent || r.Plane != "intune-corp" || r.PlaneKind != "intune" || r.Telemetry == nil {
			t.Fatalf("%s: rollout %s intent %s plane %s telemetry %+v", ring, r.State, in.Status, r.Plane, r.Telemetry)
		}
		m := r.Telemetry.Measure
		if m.Targeted != ringSizes[ring] || m.Installed != ringSizes[ring] || m.Failed != 0 || !m.Compliant() {
			t.Errorf("%s: measured %+v, want all %d installed", ring, m, ringSizes[ring])
		}
		if r.Gate == nil || r.Gate.Decision == "" {
			t.Errorf("%s: no promotion decision: %+v", ring, r.Gate)
			continue
		}
		dec, err := st.Decision(r.Gate.Decision)
		if err != nil || !dec.Allowed || dec.Principal.ID != rollout.Actor || dec.Kind != store.CmdIntentPromote {
			t.Errorf("%s: decision %+v %v", ring, dec, err)
		}
		if ring > deploy.Ring0Lab && in.RequestedBy != rollout.Actor {
			t.Errorf("%s: requested by %s", ring, in.RequestedBy)
		}
	}
	if rv, _ := st.RollbackValidation(rolloutApp, "1.0"); rv.Planes["intune"] != first {
		t.Fatalf("rollback validation: %+v", rv)
	}
	// One Intune app for the version, one assignment per ring, on every device.
	var apps int
	for _, a := range w.fleet.sim.Apps() {
		if strings.Contains(a.Notes, "release="+rolloutApp+"@1.0/") {
			apps++
			if len(a.Assignments) != 5 {
				t.Errorf("app %s: %d assignments, want one per ring", a.ID, len(a.Assignments))
			}
		}
	}
	if apps != 1 {
		t.Fatalf("%d Intune apps for 1.0, want 1", apps)
	}
	// The audit log has every step, under the intents' correlation ids.
	page, err := w.admin.Events(ctx, "", 5000)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range page.Events {
		if e.Actor == rollout.Actor {
			actions[e.Action]++
		}
	}
	for _, a := range []string{"rollout.start", "rollout.publish", "rollout.published", "rollout.validate-rollback", "rollout.validate-uninstall",
		"rollout.validate-redeploy", "rollout.rollback-validated", "rollout.gate-passed", store.CmdIntentPromote, "rollout.advanced",
		store.CmdAssessmentCreate, store.CmdIntentCreate, store.CmdIntentPublish, "connector.publish", "connector.query", "rollout.completed"} {
		if actions[a] == 0 {
			t.Errorf("no %s event by the orchestrator (have %v)", a, actions)
		}
	}

	// 1.1 fails on a fifth of the devices from Ring 2 on.
	second := w.stage("1.1")
	r2 := nextIDForTest(second, deploy.Ring2Pilot)
	w.passUntil("1.1 on its plane", 20, func() bool { return w.rollout(second).PublishedAt != nil })
	w.fleet.failApp(t, "1.1", 20, deploy.Ring2Pilot)
	w.passUntil("1.1 Ring 2 gate fails", 300, func() bool { return w.rollout(r2).State == store.RolloutPaused })
	r := w.rollout(r2)
	if r.Gate == nil || r.Gate.Verdict != deploy.GateFail || !strings.Contains(strings.Join(r.Gate.Failing, " "), "promotion.install-success") || r.Prior != "1.0" {
		t.Fatalf("failed gate: %+v prior %q", r.Gate, r.Prior)
	}
	if _, err := st.Intent(nextIDForTest(second, deploy.Ring3Department)); err == nil {
		t.Fatal("a failed Ring 2 was promoted")
	}
	// Auditors cannot roll back; endpoint ops can.
	w.token("ann", deploy.RoleAuditor, deploy.Scope{})
	if _, err := w.as("ann", deploy.RoleAuditor).ControlRollout(ctx, r2, "rollback", api.RolloutControl{Reason: "x"}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("auditor rollback: %v", err)
	}
	if _, err := w.as("eve", deploy.RoleEndpointOps).ControlRollout(ctx, r2, "rollback", api.RolloutControl{Reason: "20% install failures in Pilot"}); err != nil {
		t.Fatal(err)
	}
	w.passUntil("1.1 rolled back", 20, func() bool { return w.rollout(r2).State == store.RolloutRolledBack })
	if in, _ := st.Intent(r2); in.Status != store.IntentRolledBack {
		t.Fatalf("intent after rollback: %s", in.Status)
	}
	// 1.0 is what the rings hold and what 1.1 rolled back to: it cannot be retired.
	w.refused("retire a version the rings hold", []string{"retention.rollback-target"}, func() error {
		_, err := w.as("rita", deploy.RolePublisher).Transition(ctx, rolloutApp, "1.0", deploy.StateRetired)
		return err
	})
	ret := must[api.Retention](t, "retention")(w.as("rita", deploy.RolePublisher).AppRetention(ctx, rolloutApp, time.Now().Add(365*24*time.Hour)))
	for _, v := range ret.Verdicts {
		if v.Version == "1.0" && (!v.Keep || !strings.Contains(v.Reason, "rollback target")) {
			t.Fatalf("retention of 1.0: %+v", v)
		}
	}
	// Ring 2 is assigned to 1.0 again and no longer to 1.1.
	for _, a := range w.fleet.sim.Apps() {
		has := slices.ContainsFunc(a.Assignments, func(x intunesim.Assignment) bool { return x.GroupID == "ring-2" })
		switch {
		case strings.Contains(a.Notes, "release="+rolloutApp+"@1.0/") && !has:
			t.Errorf("1.0 lost Ring 2 after the rollback")
		case strings.Contains(a.Notes, "release="+rolloutApp+"@1.1/") && has:
			t.Errorf("1.1 still assigned to Ring 2 after the rollback")
		}
	}
	checkRolloutHeads(t, w.n.srv.Store().State())
}

// checkRolloutHeads: the reconciliation pass's head-only scan gives, for
// every rollout, exactly the fields it documents, as the whole record has
// them.
func checkRolloutHeads(t *testing.T, st *store.State) {
	t.Helper()
	full, err := st.Rollouts()
	if err != nil {
		t.Fatal(err)
	}
	heads, err := st.RolloutHeads()
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != len(full) || len(full) < 5 {
		t.Fatalf("%d heads of %d rollouts", len(heads), len(full))
	}
	for i, r := range full {
		want := store.Rollout{IntentID: r.IntentID, AppID: r.AppID, Version: r.Version, Ring: r.Ring, Scope: r.Scope, State: r.State,
			Plane: r.Plane, SiteClass: r.SiteClass, Targets: r.Targets, Prior: r.Prior, PublishedAt: r.PublishedAt}
		if !reflect.DeepEqual(heads[i], want) {
			t.Errorf("head of %s:\n got %+v\nwant %+v", r.IntentID, heads[i], want)
		}
	}
}

// nextIDForTest is the orchestrator's name of the intent of a ring.
func nextIDForTest(base string, ring deploy.Ring) string {
	if ring == deploy.Ring0Lab {
		return base
	}
	return fmt.Sprintf("%s-r%d", base, int(ring))
}
