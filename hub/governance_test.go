package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
)

func hexDigest(c byte) digest.Digest { return digest.Digest("sha256:" + strings.Repeat(string(c), 64)) }

// pinClock makes governance decisions use *at; it returns a setter.
func pinClock(t *testing.T, start time.Time) func(time.Time) {
	cur := start
	f := func() time.Time { return cur }
	govClock.Store(&f)
	t.Cleanup(func() { govClock.Store(nil) })
	return func(at time.Time) {
		g := func() time.Time { return at }
		govClock.Store(&g)
	}
}

type govWorld struct {
	t     *testing.T
	n     *testNode
	ctx   context.Context
	users map[string]*client.Client
}

func (w *govWorld) token(name string, role deploy.Role, scope deploy.Scope) {
	w.t.Helper()
	nt, err := cli(w.n, readToken(w.t, w.n)).CreateToken(w.ctx, api.TokenRequest{Name: name, Role: role, Scope: scope})
	if err != nil {
		w.t.Fatal(err)
	}
	key := name + "/" + string(role)
	w.users[key] = cli(w.n, nt.Token)
}

func (w *govWorld) as(name string, role deploy.Role) *client.Client {
	return w.users[name+"/"+string(role)]
}

// govState renders the governance state a refusal must not change (the
// decision records and the audit log excepted).
func govState(t *testing.T, n *testNode) string {
	t.Helper()
	st := n.srv.Store().State()
	apps, _ := st.Apps()
	var parts []any
	for _, a := range apps {
		vs, _ := st.Versions(a.ID)
		parts = append(parts, a, vs)
		for _, v := range vs {
			arts, _ := st.Artifacts(a.ID, v.Version)
			parts = append(parts, arts)
		}
	}
	ins, _ := st.Intents()
	parts = append(parts, ins)
	for _, id := range []string{"cab-1", "cab-x"} {
		a, err := st.Approval(id)
		parts = append(parts, a, err == nil)
	}
	for _, id := range []string{"ex-1"} {
		e, err := st.Exception(id)
		parts = append(parts, e, err == nil)
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

func lastEvent(t *testing.T, n *testNode) store.Event {
	t.Helper()
	cur, _ := n.srv.Store().State().LastCursor()
	evs, _ := n.srv.Store().State().Events(cur-1, 1)
	if len(evs) != 1 {
		t.Fatal("no events")
	}
	return evs[0]
}

// refused runs fn, which must be refused by policy with every rule in
// rules among the failed ones; state must not change and the refusal must
// be the newest audit event, denied.
func (w *govWorld) refused(what string, rules []string, fn func() error) api.Decision {
	w.t.Helper()
	before := govState(w.t, w.n)
	err := fn()
	var de *client.DeniedError
	if !errors.As(err, &de) || !errors.Is(err, client.ErrDenied) || !errors.Is(err, deploy.ErrDenied) {
		w.t.Fatalf("%s: %v, want a policy denial", what, err)
	}
	failed := de.Decision.Decision.Failed()
	for _, r := range rules {
		if !slices.Contains(failed, r) {
			w.t.Errorf("%s: failed rules %v lack %s", what, failed, r)
		}
	}
	if de.Decision.Allowed || len(de.Decision.Explanation) == 0 || len(de.Decision.Inputs) == 0 {
		w.t.Errorf("%s: stored decision lacks explanation or inputs: %+v", what, de.Decision)
	}
	if after := govState(w.t, w.n); after != before {
		w.t.Errorf("%s: a refusal changed state:\n%s\n%s", what, before, after)
	}
	ev := lastEvent(w.t, w.n)
	if ev.Outcome != "denied" || !strings.HasPrefix(ev.Action, "gov.") || ev.ID != de.Decision.ID {
		w.t.Errorf("%s: newest audit event %+v, want a denied governance event", what, ev)
	}
	stored, err := w.n.srv.Store().State().Decision(de.Decision.ID)
	if err != nil || stored.Allowed {
		w.t.Errorf("%s: decision %s not stored: %v", what, de.Decision.ID, err)
	}
	return de.Decision
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func riskInput(v float64, ring deploy.Ring) json.RawMessage {
	f := map[string]float64{}
	for _, s := range deploy.ModelV1.Factors {
		f[string(s.Name)] = v
	}
	b, _ := json.Marshal(map[string]any{"model": "v1.0", "factors": f, "privileged_tooling": false, "target_ring": ring})
	return b
}

func evidencePack(t *testing.T, intent, version string, risk deploy.Assessment, at time.Time) json.RawMessage {
	doc := func(c byte) *deploy.DocRef { return &deploy.DocRef{Digest: hexDigest(c), MediaType: "text/markdown"} }
	fin := deploy.Scope{Acquisition: "acme", BU: "fin"}
	p := deploy.EvidencePack{
		Schema: deploy.EvidenceSchema, IntentID: intent, AppID: "com.acme.ledger", Version: version, CreatedAt: at,
		Artifacts: []deploy.ArtifactEvidence{{Name: "ledger.msi", Platform: deploy.PlatformMSI, SHA256: hexDigest('a'), Size: 4096, Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}},
		SBOM:      doc('c'), ScanReport: doc('d'), PolicyDecision: deploy.ScanPass,
		InstallDoc: doc('1'), UninstallDoc: doc('2'), DetectionDoc: doc('3'),
		RolloutPlan:   &deploy.RolloutPlan{Rings: []deploy.Ring{0, 1, 2, 3}, Schedule: deploy.Schedule{NotBefore: at}, Targeting: []string{"grp-fin"}},
		RollbackPlans: []deploy.RollbackPlan{{Plane: "intune", Strategy: "supersedence"}},
		TestEvidence:  deploy.TestEvidence{Lab: &deploy.TestResult{Passed: true, Report: *doc('5')}, Ring0: &deploy.TestResult{Passed: true, Report: *doc('6')}},
		Exceptions:    []deploy.Exception{},
		ScopeDiff:     &deploy.ScopeDiff{Previous: fin, Requested: fin, Change: "unchanged", Summary: "unchanged"},
		Risk:          &risk,
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type failingEvidence struct{}

func (failingEvidence) PutEvidence(digest.Digest, []byte) error {
	return errors.New("disk full (injected)")
}
func (failingEvidence) GetEvidence(d digest.Digest) ([]byte, error) {
	return nil, fmt.Errorf("%w: %s", deploy.ErrEvidenceNotFound, d)
}

// TestGovernanceEndToEnd walks one release through the hub: registration,
// lifecycle, separation of duties, scope guardrails, the publish gate with
// CAB and evidence, exceptions at their expiry second, promotion, JIT and
// retention, checking that every refusal is explained, stored, audited
// and changes nothing.
func TestGovernanceEndToEnd(t *testing.T) {
	nodes, _ := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	setClock := pinClock(t, t0)
	acme := deploy.Scope{Acquisition: "acme"}
	fin := deploy.Scope{Acquisition: "acme", BU: "fin"}
	w := &govWorld{t: t, n: n, ctx: ctx, users: map[string]*client.Client{}}
	w.token("pat", deploy.RolePackagingEngineer, acme)
	w.token("pat", deploy.RoleCABApprover, deploy.Scope{}) // the same person holding a second role
	w.token("carol", deploy.RoleCABApprover, deploy.Scope{})
	w.token("rita", deploy.RolePublisher, acme)
	w.token("sam", deploy.RoleSecurityReviewer, deploy.Scope{})
	w.token("eve", deploy.RoleEndpointOps, acme)
	pat, patCAB, carol, rita, sam := w.as("pat", deploy.RolePackagingEngineer), w.as("pat", deploy.RoleCABApprover),
		w.as("carol", deploy.RoleCABApprover), w.as("rita", deploy.RolePublisher), w.as("sam", deploy.RoleSecurityReviewer)
	const app = "com.acme.ledger"

	// 1. The packaging engineer registers the app, a version and an artifact, and stages.
	must[api.App](t, "create app")(pat.CreateApp(ctx, api.AppRequest{ID: app, Name: "Ledger", Owner: "fin-apps", Category: "finance",
		SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: acme, LOB: true}))
	for _, v := range []string{"2.4.1", "2.5.0"} {
		must[api.Version](t, "create version")(pat.CreateVersion(ctx, app, api.VersionRequest{Version: v, OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}))
	}
	art := must[api.Artifact](t, "create artifact")(pat.CreateArtifact(ctx, app, "2.4.1", api.ArtifactRequest{Platform: deploy.PlatformMSI,
		Name: "ledger.msi", SHA256: hexDigest('a'), Size: 4096, Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass}))
	if art.PackagedBy != "pat" {
		t.Fatalf("packager %q, want the caller", art.PackagedBy)
	}
	must[api.Artifact](t, "create failing artifact")(pat.CreateArtifact(ctx, app, "2.5.0", api.ArtifactRequest{Platform: deploy.PlatformMSI,
		Name: "ledger-2.5.msi", SHA256: hexDigest('b'), Size: 4096, Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanFail}))
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		must[api.Version](t, "transition "+string(to))(pat.Transition(ctx, app, "2.4.1", to))
	}
	must[api.Version](t, "package 2.5.0")(pat.Transition(ctx, app, "2.5.0", deploy.StatePackaged))
	// An illegal move is 422, not a policy decision.
	if _, err := pat.Transition(ctx, app, "2.4.1", deploy.StateRequested); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("illegal transition: %v", err)
	}

	// 2. Self-approval is refused: pat, holding the CAB role, cannot approve his own version.
	w.refused("self-approval", []string{"sod.no-self-approval", "sod.packager-separation"}, func() error {
		_, err := patCAB.Transition(ctx, app, "2.4.1", deploy.StateApproved)
		return err
	})
	v := must[api.Version](t, "approve")(carol.Transition(ctx, app, "2.4.1", deploy.StateApproved))
	if v.State != deploy.StateApproved || len(v.History) != 3 || v.History[2].By != "carol" || v.History[2].Action != "lifecycle.approve" {
		t.Fatalf("approved version: %+v", v)
	}

	// 3. A stored risk assessment: inputs, score, model version, contributions, justification.
	as := must[api.Assessment](t, "assess")(rita.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-1", AppID: app, Version: "2.4.1",
		Artifact: hexDigest('a'), Input: riskInput(0.8, deploy.Ring2Pilot)}))
	got := must[api.Assessment](t, "read assessment")(carol.Assessment(ctx, "as-1"))
	if got.Assessment.Score != 80 || got.Assessment.Model != "v1.0" || len(got.Assessment.Contributions) != 8 || !got.Assessment.CABRequired ||
		len(got.Assessment.Reasons) == 0 || got.Assessment.Input.TargetRing != deploy.Ring2Pilot || got.Assessment.Score != as.Assessment.Score {
		t.Fatalf("stored assessment: %+v", got)
	}

	// 4. Intents: out-of-scope targets are refused; one active change per app and ring.
	w.refused("out-of-scope intent", []string{"guardrail.within-publisher", "guardrail.within-app"}, func() error {
		g := deploy.Scope{Acquisition: "globex"}
		_, err := rita.CreateIntent(ctx, api.IntentRequest{ID: "i-x", AppID: app, Version: "2.4.1", Artifact: hexDigest('a'), Ring: deploy.Ring2Pilot,
			Scope: &g, Schedule: deploy.Schedule{NotBefore: t0}, AssessmentID: "as-1"})
		return err
	})
	intent := api.IntentRequest{ID: "i-1", AppID: app, Version: "2.4.1", Artifact: hexDigest('a'), Ring: deploy.Ring2Pilot, Scope: &fin,
		Schedule: deploy.Schedule{NotBefore: t0}, AssessmentID: "as-1"}
	in := must[api.Intent](t, "intent")(rita.CreateIntent(ctx, intent))
	if in.RequestedBy != "rita" || in.Status != store.IntentPending {
		t.Fatalf("intent: %+v", in)
	}
	intent.ID = "i-2"
	w.refused("second active change", []string{"concurrency.one-active-change"}, func() error {
		_, err := rita.CreateIntent(ctx, intent)
		return err
	})

	// 5. The packager cannot publish; a risk-80 Ring 2 intent needs CAB and evidence.
	w.refused("packager publishes", []string{"sod.packaging-no-production"}, func() error {
		_, err := pat.Publish(ctx, "i-1", api.PublishRequest{})
		return err
	})
	w.refused("publish without CAB or evidence", []string{"publish.cab.present", "evidence.present", "evidence.stored"}, func() error {
		_, err := rita.Publish(ctx, "i-1", api.PublishRequest{})
		return err
	})
	ev := must[api.EvidenceView](t, "store evidence")(rita.StoreEvidence(ctx, evidencePack(t, "i-1", "2.4.1", as.Assessment, t0)))
	if ev.Record.IntentID != "i-1" || ev.Record.KeyID == "" || ev.Envelope == nil {
		t.Fatalf("evidence: %+v", ev.Record)
	}
	again := must[api.EvidenceView](t, "store evidence again")(rita.StoreEvidence(ctx, evidencePack(t, "i-1", "2.4.1", as.Assessment, t0)))
	if again.Record != ev.Record {
		t.Fatalf("write-once evidence changed: %+v -> %+v", ev.Record, again.Record)
	}
	read := must[api.EvidenceView](t, "read evidence")(carol.Evidence(ctx, ev.Record.Digest))
	if read.KeyID != ev.Record.KeyID || read.Pack == nil || read.Pack.IntentID != "i-1" {
		t.Fatalf("evidence read: %+v", read)
	}
	w.refused("publish without CAB", []string{"publish.cab.present"}, func() error {
		_, err := rita.Publish(ctx, "i-1", api.PublishRequest{Evidence: ev.Record.Digest})
		return err
	})
	// A CAB approval of one's own request is refused too.
	w.refused("packager approves the intent", []string{"sod.packager-separation"}, func() error {
		_, err := patCAB.CreateApproval(ctx, api.ApprovalRequest{ID: "cab-x", Subject: "intent:i-1", RequestedBy: "rita", Decision: deploy.Approved, ExpiresAt: t0.Add(time.Hour)})
		return err
	})
	must[deploy.ApprovalRecord](t, "cab")(carol.CreateApproval(ctx, api.ApprovalRequest{ID: "cab-1", Subject: "intent:i-1", RequestedBy: "rita",
		Decision: deploy.Approved, Conditions: []string{"ring 2 capped at 500 devices"}, ExpiresAt: t0.Add(24 * time.Hour)}))
	setClock(t0.Add(time.Minute))
	pub := must[api.Decision](t, "publish")(rita.Publish(ctx, "i-1", api.PublishRequest{Approval: "cab-1", Evidence: ev.Record.Digest}))
	var inputs deploy.PublishRequest
	if err := json.Unmarshal(pub.Inputs, &inputs); err != nil {
		t.Fatal(err)
	}
	if !pub.Allowed || pub.ModelVersion != "v1.0" || len(pub.Explanation) == 0 || inputs.Risk == nil || inputs.Risk.Score != 80 ||
		inputs.CABApproval == nil || inputs.CABApproval.ID != "cab-1" || inputs.Evidence == nil || !inputs.EvidenceStored || !pub.At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("publish decision: %+v", pub)
	}
	view := must[api.IntentView](t, "intent show")(carol.Intent(ctx, "i-1"))
	var kinds []string
	for _, d := range view.Decisions {
		kinds = append(kinds, fmt.Sprintf("%s:%v", d.Kind, d.Allowed))
	}
	if view.Intent.Status != store.IntentPublished || strings.Join(kinds, " ") !=
		"gov.intent.create:true gov.intent.publish:false gov.intent.publish:false gov.intent.publish:false gov.intent.publish:true" {
		t.Fatalf("intent view: %s %v", view.Intent.Status, kinds)
	}
	if av := must[api.AppView](t, "app show")(rita.App(ctx, app)); av.Versions[0].State != deploy.StatePublished || av.Versions[0].PublishedAt == nil {
		t.Fatalf("published version: %+v", av.Versions[0])
	}

	// 6. Exceptions hold while approved_at <= at < expires_at: refused at the expiry second.
	setClock(t0.Add(2 * time.Minute))
	must[api.Assessment](t, "assess 2.5.0")(pat.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-2", AppID: app, Version: "2.5.0",
		Input: riskInput(0.1, deploy.Ring0Lab)}))
	must[api.Intent](t, "staging intent")(pat.CreateIntent(ctx, api.IntentRequest{ID: "i-s", AppID: app, Version: "2.5.0", Artifact: hexDigest('b'),
		Ring: deploy.Ring0Lab, Scope: &fin, Schedule: deploy.Schedule{NotBefore: t0}, AssessmentID: "as-2"}))
	expiry := t0.Add(time.Hour)
	exReq := api.ExceptionRequest{ID: "ex-1", IntentID: "i-s", Findings: []string{"CVE-2026-0001"}, Justification: "vendor fix next quarter",
		CompensatingControls: []string{"EDR rule 4411"}, AccountableOwner: "fin-apps", RequestedBy: "pat", ExpiresAt: expiry}
	w.token("pat", deploy.RoleSecurityReviewer, deploy.Scope{})
	w.refused("exception approved by its requester", []string{"sod.no-self-approval", "sod.packager-separation"}, func() error {
		_, err := w.as("pat", deploy.RoleSecurityReviewer).CreateException(ctx, exReq)
		return err
	})
	ex := must[deploy.Exception](t, "exception")(sam.CreateException(ctx, exReq))
	if ex.ApprovedBy != "sam" || ex.ApproverRole != deploy.RoleSecurityReviewer || ex.Artifact != digest.MustParse(string(hexDigest('b'))) {
		t.Fatalf("exception: %+v", ex)
	}
	w.refused("publish without the exception", []string{"scan.pass-or-exception"}, func() error {
		_, err := pat.Publish(ctx, "i-s", api.PublishRequest{})
		return err
	})
	setClock(expiry)
	w.refused("exception at its expiry second", []string{"scan.pass-or-exception", "exception.not-expired"}, func() error {
		_, err := pat.Publish(ctx, "i-s", api.PublishRequest{Exception: "ex-1"})
		return err
	})
	setClock(expiry.Add(-time.Second))
	if d := must[api.Decision](t, "publish on exception")(pat.Publish(ctx, "i-s", api.PublishRequest{Exception: "ex-1"})); !d.Allowed {
		t.Fatalf("staging on exception: %+v", d)
	}

	// 7. Promotion gate on measured results.
	w.refused("promotion below threshold", []string{"promotion.install-success"}, func() error {
		_, err := rita.Promote(ctx, "i-1", api.PromoteRequest{SiteClass: deploy.SiteOnline, InstallAttempts: 100, InstallSuccesses: 96,
			TimeToCompliance: "24h", Planes: []string{"intune"}, RollbackValidated: []string{"intune"}, Approval: "cab-1", Evidence: ev.Record.Digest})
		return err
	})
	prom := must[api.Decision](t, "promote")(rita.Promote(ctx, "i-1", api.PromoteRequest{SiteClass: deploy.SiteOnline, InstallAttempts: 100,
		InstallSuccesses: 97, TimeToCompliance: "24h", Planes: []string{"intune"}, RollbackValidated: []string{"intune"}, Approval: "cab-1", Evidence: ev.Record.Digest}))
	if !prom.Allowed || !slices.Contains(ruleNames(prom.Decision), "promotion.cab.not-expired") {
		t.Fatalf("promotion: %+v", prom.Decision)
	}

	// 8. An unwritable evidence store refuses the write (audited) and so the publish.
	as3 := must[api.Assessment](t, "assess ring 1")(rita.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-3", AppID: app, Version: "2.4.1",
		Input: riskInput(0.8, deploy.Ring1Canary)}))
	must[api.Intent](t, "ring 1 intent")(rita.CreateIntent(ctx, api.IntentRequest{ID: "i-3", AppID: app, Version: "2.4.1", Artifact: hexDigest('a'),
		Ring: deploy.Ring1Canary, Scope: &fin, Schedule: deploy.Schedule{NotBefore: t0}, AssessmentID: "as-3"}))
	fail := func(context.Context) deploy.EvidenceStore { return failingEvidence{} }
	evidenceStoreHook.Store(&fail)
	t.Cleanup(func() { evidenceStoreHook.Store(nil) })
	pack3 := evidencePack(t, "i-3", "2.4.1", as3.Assessment, t0)
	_, err := rita.StoreEvidence(ctx, pack3)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("unwritable evidence store: %v", err)
	}
	if e := lastEvent(t, n); e.Action != "gov.evidence.store" || e.Outcome != "denied" || !strings.Contains(e.Reason, "injected") {
		t.Fatalf("evidence failure audit: %+v", e)
	}
	p3, perr := deploy.ParseEvidencePack(pack3)
	if perr != nil {
		t.Fatal(perr)
	}
	_, d3, _ := p3.CanonicalBytes()
	w.refused("publish with unstored evidence", []string{"evidence.present", "evidence.stored"}, func() error {
		_, err := rita.Publish(ctx, "i-3", api.PublishRequest{Evidence: d3})
		return err
	})
	evidenceStoreHook.Store(nil)

	// 9. JIT elevation and LOB retention.
	el := must[api.Decision](t, "elevation")(w.as("eve", deploy.RoleEndpointOps).Elevate(ctx, api.ElevationRequest{ID: "el-1",
		Device:      deploy.DevicePosture{DeviceID: "pc-1", Cohort: "fin", Managed: true, Compliant: true, DiskEncrypted: true, EDRHealthy: true, PatchAgeDays: 2},
		DeviceScope: fin, App: deploy.AppClassification{AppID: app, RiskScore: 20, RiskModel: "v1.0"}, Duration: "1h"}))
	if !el.Allowed || !strings.Contains(string(el.Result), `"grant"`) {
		t.Fatalf("elevation: %+v", el)
	}
	w.refused("elevation beyond max duration", []string{"jit.duration"}, func() error {
		_, err := w.as("eve", deploy.RoleEndpointOps).Elevate(ctx, api.ElevationRequest{ID: "el-2",
			Device:      deploy.DevicePosture{DeviceID: "pc-1", Cohort: "fin", Managed: true, Compliant: true, DiskEncrypted: true, EDRHealthy: true},
			DeviceScope: fin, App: deploy.AppClassification{AppID: app, RiskScore: 20, RiskModel: "v1.0"}, Duration: "9h"})
		return err
	})
	ret := must[api.Retention](t, "retention")(carol.AppRetention(ctx, app, t0.Add(24*time.Hour)))
	if !ret.LOB || len(ret.Verdicts) != 1 || ret.Verdicts[0].Version != "2.4.1" || !ret.Verdicts[0].Keep {
		t.Fatalf("retention: %+v", ret)
	}
	// A second active change at one ring needs an explicit CAB approval.
	i4 := api.IntentRequest{ID: "i-4", AppID: app, Version: "2.4.1", Artifact: hexDigest('a'), Ring: deploy.Ring1Canary, Scope: &fin,
		Schedule: deploy.Schedule{NotBefore: t0}, AssessmentID: "as-3"}
	w.refused("concurrent change", []string{"concurrency.one-active-change"}, func() error {
		_, err := rita.CreateIntent(ctx, i4)
		return err
	})
	must[deploy.ApprovalRecord](t, "concurrency cab")(carol.CreateApproval(ctx, api.ApprovalRequest{ID: "cab-c", Subject: "concurrency:i-4",
		RequestedBy: "rita", Decision: deploy.Approved, ExpiresAt: t0.Add(24 * time.Hour)}))
	i4.ConcurrencyApproval = "cab-c"
	must[api.Intent](t, "approved concurrent change")(rita.CreateIntent(ctx, i4))

	// Reads are scoped: an auditor of another acquisition sees none of it.
	w.token("gil", deploy.RoleAuditor, deploy.Scope{Acquisition: "globex"})
	gil := w.as("gil", deploy.RoleAuditor)
	if apps, err := gil.Apps(ctx); err != nil || len(apps) != 0 {
		t.Fatalf("out-of-scope app list: %v %v", apps, err)
	}
	for what, read := range map[string]func() error{
		"app":       func() error { _, err := gil.App(ctx, app); return err },
		"intent":    func() error { _, err := gil.Intent(ctx, "i-1"); return err },
		"decision":  func() error { _, err := gil.Decision(ctx, pub.ID); return err },
		"evidence":  func() error { _, err := gil.Evidence(ctx, ev.Record.Digest); return err },
		"exception": func() error { _, err := gil.Raw(ctx, "GET", "/v1/exceptions/ex-1", nil, nil); return err },
		"approval":  func() error { _, err := gil.Raw(ctx, "GET", "/v1/approvals/cab-1", nil, nil); return err },
	} {
		if err := read(); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("out-of-scope %s read: %v", what, err)
		}
	}
	// ...except the refused attempt to target globex, which concerns it.
	// (The concurrency approval is judged in the scope of the recorded
	// request, the intent's, so globex does not see it.)
	ds, err := gil.Decisions(ctx, "")
	var seen []string
	for _, d := range ds {
		seen = append(seen, d.Subject)
	}
	if err != nil || strings.Join(seen, " ") != "intent/i-x" {
		t.Fatalf("decisions visible to globex: %v %v", seen, err)
	}
	// Decisions are listed per subject and readable one by one.
	ds = must[[]api.Decision](t, "decisions")(carol.Decisions(ctx, "intent/i-1"))
	if len(ds) != len(view.Decisions)+2 { // + the two promotion decisions
		t.Fatalf("%d decisions about i-1", len(ds))
	}

	// 10. The allowed scope changes only under a CAB approval of the next scope version.
	eve := w.as("eve", deploy.RoleEndpointOps)
	w.refused("scope change without CAB", []string{"cab.present"}, func() error {
		_, err := eve.ChangeAppScope(ctx, app, fin, "")
		return err
	})
	must[deploy.ApprovalRecord](t, "scope cab")(carol.CreateApproval(ctx, api.ApprovalRequest{ID: "cab-s", Subject: deploy.ScopeChangeSubject(app, 2),
		RequestedBy: "eve", Decision: deploy.Approved, ExpiresAt: t0.Add(24 * time.Hour)}))
	narrowed := must[api.App](t, "scope change")(eve.ChangeAppScope(ctx, app, fin, "cab-s"))
	if narrowed.AllowedScope != fin || narrowed.ScopeVersion != 2 {
		t.Fatalf("scope change: %+v", narrowed)
	}
	sd := must[[]api.Decision](t, "scope decisions")(carol.Decisions(ctx, "app/"+app))
	if last := sd[len(sd)-1]; !last.Allowed || !strings.Contains(string(last.Result), `"change":"narrowed"`) {
		t.Fatalf("scope decision: %+v", last)
	}
}

func ruleNames(d deploy.Decision) []string {
	var out []string
	for _, c := range d.Checks {
		out = append(out, c.Rule)
	}
	return out
}

func TestGovernanceBadInput(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	nt, err := ac.CreateToken(ctx, api.TokenRequest{Name: "pat", Role: deploy.RolePackagingEngineer})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := ac.CreateToken(ctx, api.TokenRequest{Name: "rita", Role: deploy.RolePublisher})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		tok                string
		method, path, body string
		want               int
		mention            string
	}{
		{nt.Token, "POST", "/v1/apps", `{"id":"a","colour":"red"}`, 400, "colour"},
		{nt.Token, "POST", "/v1/apps", `{"id":"a b","name":"x","owner":"o","category":"c","support_tier":"t","licensing_model":"l"}`, 422, "id"},
		{nt.Token, "POST", "/v1/apps", `{"id":"a","name":"x","owner":"o","category":"c","support_tier":"t","licensing_model":"l","allowed_scope":{"bu":"x"}}`, 422, "allowed_scope"},
		{nt.Token, "POST", "/v1/apps", `{"id":"a"} {}`, 400, "trailing"},
		{nt.Token, "POST", "/v1/apps/a/versions", `{"version":"1","os_matrix":[]}`, 422, "os_matrix"},
		{nt.Token, "POST", "/v1/apps/a/versions/1/artifacts", `{"platform":"bat"}`, 422, "platform"},
		{nt.Token, "POST", "/v1/apps/a/versions/1:transition", `{"to":"flying"}`, 422, "to"},
		{nt.Token, "POST", "/v1/apps/a/versions/1:explode", `{}`, 404, "explode"},
		{pt.Token, "POST", "/v1/assessments", `{"id":"x","app_id":"a","version":"1","input":{"model":"v1.0"}}`, 422, "input.factors"},
		{pt.Token, "POST", "/v1/assessments", `{"id":"x","app_id":"a","version":"1"}`, 422, "input"},
		{pt.Token, "POST", "/v1/intents", `{"id":"i","app_id":"a","version":"1","artifact":"sha256:` + strings.Repeat("a", 64) + `","ring":7}`, 422, "ring"},
		{pt.Token, "POST", "/v1/intents", `{"id":"i","app_id":"a","version":"1","artifact":"sha256:` + strings.Repeat("a", 64) + `","ring":1,"schedule":{"not_before":"2026-11-28T12:00:00Z"}}`, 422, "scope"},
		{pt.Token, "POST", "/v1/intents/i:promote", `{"site_class":"moon"}`, 422, "site_class"},
		{pt.Token, "POST", "/v1/intents/i:promote", `{"site_class":"online","time_to_compliance":"soon"}`, 422, "time_to_compliance"},
		{pt.Token, "POST", "/v1/intents/i:publish", `{"evidence":"md5:x"}`, 422, "evidence"},
		{pt.Token, "POST", "/v1/evidence", `{"schema":"nope"}`, 422, "schema"},
		{pt.Token, "GET", "/v1/apps/a/retention?at=yesterday", ``, 400, "at"},
		{pt.Token, "GET", "/v1/evidence/xyz", ``, 400, "digest"},
	}
	before := govState(t, n)
	for _, c := range cases {
		resp, err := cli(n, c.tok).Raw(ctx, c.method, c.path, strings.NewReader(c.body), nil)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s %s %.60s: accepted", c.method, c.path, c.body)
			continue
		}
		ae, ok := err.(*client.APIError)
		if !ok || ae.Status != c.want || !strings.Contains(ae.Message, c.mention) {
			t.Errorf("%s %s %.60s: %v, want %d mentioning %q", c.method, c.path, c.body, err, c.want, c.mention)
		}
	}
	if govState(t, n) != before {
		t.Error("bad input changed state")
	}
}

// TestGovernanceThroughFollower sends governance writes to a follower of a
// three-node cluster: they are forwarded to the leader, judged once, and
// their decisions replicate; evidence reaches a majority before it counts.
func TestGovernanceThroughFollower(t *testing.T) {
	nodes, admin := makeCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	leader := leaderOf(t, nodes)
	var f *testNode
	for _, n := range nodes {
		if n != leader {
			f = n
			break
		}
	}
	acme := deploy.Scope{Acquisition: "acme"}
	w := &govWorld{t: t, n: f, ctx: ctx, users: map[string]*client.Client{}}
	for _, u := range []struct {
		name  string
		role  deploy.Role
		scope deploy.Scope
	}{{"pat", deploy.RolePackagingEngineer, acme}, {"pat", deploy.RoleCABApprover, deploy.Scope{}}, {"rita", deploy.RolePublisher, acme}} {
		nt, err := cli(f, admin).CreateToken(ctx, api.TokenRequest{Name: u.name, Role: u.role, Scope: u.scope})
		if err != nil {
			t.Fatal(err)
		}
		w.users[u.name+"/"+string(u.role)] = cli(f, nt.Token)
	}
	pat, rita := w.as("pat", deploy.RolePackagingEngineer), w.as("rita", deploy.RolePublisher)
	const app = "com.acme.ledger"
	must[api.App](t, "app")(pat.CreateApp(ctx, api.AppRequest{ID: app, Name: "Ledger", Owner: "fin", Category: "finance",
		SupportTier: "tier-1", LicensingModel: "free", AllowedScope: acme}))
	must[api.Version](t, "version")(pat.CreateVersion(ctx, app, api.VersionRequest{Version: "1.0", OSMatrix: []deploy.OSSupport{{OS: "windows"}}}))
	must[api.Artifact](t, "artifact")(pat.CreateArtifact(ctx, app, "1.0", api.ArtifactRequest{Platform: deploy.PlatformMSI, Name: "l.msi",
		SHA256: hexDigest('a'), Size: 1, Signing: deploy.Signing{State: deploy.SigUnsigned}, ScanDecision: deploy.ScanPass}))
	must[api.Version](t, "package")(pat.Transition(ctx, app, "1.0", deploy.StatePackaged))
	must[api.Version](t, "stage")(pat.Transition(ctx, app, "1.0", deploy.StateStaged))
	_, err := w.as("pat", deploy.RoleCABApprover).Transition(ctx, app, "1.0", deploy.StateApproved)
	var de *client.DeniedError
	if !errors.As(err, &de) || !slices.Contains(de.Decision.Decision.Failed(), "sod.no-self-approval") {
		t.Fatalf("self-approval through a follower: %v", err)
	}
	for _, n := range nodes {
		eventually(t, "decision on "+n.id, func() bool {
			d, err := n.srv.Store().State().Decision(de.Decision.ID)
			return err == nil && !d.Allowed
		})
	}
	as := must[api.Assessment](t, "assess")(rita.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-1", AppID: app, Version: "1.0",
		Input: riskInput(0.2, deploy.Ring1Canary)}))
	fin := deploy.Scope{Acquisition: "acme", BU: "fin"}
	must[api.Intent](t, "intent")(rita.CreateIntent(ctx, api.IntentRequest{ID: "i-1", AppID: app, Version: "1.0", Artifact: hexDigest('a'),
		Ring: deploy.Ring1Canary, Scope: &fin, Schedule: deploy.Schedule{NotBefore: time.Now().UTC()}, AssessmentID: "as-1"}))
	pack := evidencePack(t, "i-1", "1.0", as.Assessment, time.Now().UTC().Truncate(time.Second))
	ev := must[api.EvidenceView](t, "evidence")(rita.StoreEvidence(ctx, pack))
	b, err := leader.srv.Store().State().Blob(ev.Record.Digest.Hex())
	if err != nil || len(b.Holders) < 2 {
		t.Fatalf("evidence blob %+v %v: want a majority of holders", b, err)
	}
	if got := must[api.EvidenceView](t, "read evidence")(rita.Evidence(ctx, ev.Record.Digest)); got.KeyID != ev.Record.KeyID {
		t.Fatalf("evidence read through follower: %+v", got.Record)
	}
}
