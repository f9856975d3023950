package hub

import (
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

// TestSoDTwoRolePerson tries a person who holds both the requesting and the
// approving role (several tokens, one name) on every approval and sign-off
// path: intent:, concurrency:, scope-change: and elevation: CAB approvals,
// exceptions, and the lifecycle approval of a version. On each she may not
// approve her own request, neither by naming someone else in requested_by
// (422), nor plainly (403 sod.no-self-approval), nor by approving someone
// else's request and using the approval herself (403 at use); someone else's
// approval of her request holds (the control that makes the test able to
// fail).
func TestSoDTwoRolePerson(t *testing.T) {
	nodes, _ := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	pinClock(t, t0)
	acme := deploy.Scope{Acquisition: "acme"}
	fin := deploy.Scope{Acquisition: "acme", BU: "fin"}
	w := &govWorld{t: t, n: n, ctx: ctx, users: map[string]*client.Client{}}
	w.token("pat", deploy.RolePackagingEngineer, acme)
	w.token("carol", deploy.RoleCABApprover, deploy.Scope{})
	w.token("sam", deploy.RoleSecurityReviewer, deploy.Scope{})
	w.token("rita", deploy.RolePublisher, acme)
	w.token("eve", deploy.RoleEndpointOps, acme)
	// alice holds a requesting role and an approving role for every subject kind.
	for _, r := range []deploy.Role{deploy.RolePublisher, deploy.RoleEndpointOps, deploy.RoleCABApprover, deploy.RoleSecurityReviewer} {
		sc := acme
		if r == deploy.RoleCABApprover || r == deploy.RoleSecurityReviewer {
			sc = deploy.Scope{}
		}
		w.token("alice", r, sc)
	}
	pat, carol, sam, rita, eve := w.as("pat", deploy.RolePackagingEngineer), w.as("carol", deploy.RoleCABApprover),
		w.as("sam", deploy.RoleSecurityReviewer), w.as("rita", deploy.RolePublisher), w.as("eve", deploy.RoleEndpointOps)
	alicePub, aliceOps, aliceCAB, aliceSec := w.as("alice", deploy.RolePublisher), w.as("alice", deploy.RoleEndpointOps),
		w.as("alice", deploy.RoleCABApprover), w.as("alice", deploy.RoleSecurityReviewer)
	const app = "com.acme.ledger"
	exp := t0.Add(24 * time.Hour)
	cases := 0

	// claimRefused: a requested_by naming someone else is refused with 422
	// naming the field and the stored requester, and nothing is stored.
	claimRefused := func(what, id, requester string, fn func() error) {
		t.Helper()
		cases++
		err := fn()
		if err == nil || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "requested_by") ||
			!strings.Contains(err.Error(), "requested by "+requester) {
			t.Errorf("%s: %v, want 422 on requested_by naming %s", what, err, requester)
		}
		st := n.srv.Store().State()
		if _, aerr := st.Approval(id); aerr == nil {
			t.Errorf("%s: approval %s stored", what, id)
		}
		if _, eerr := st.Exception(id); eerr == nil {
			t.Errorf("%s: exception %s stored", what, id)
		}
	}
	denied := func(what string, rules []string, fn func() error) {
		t.Helper()
		cases++
		w.refused(what, rules, fn)
	}
	ok := func(what string, err error) {
		t.Helper()
		cases++
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	approve := func(c *client.Client, id, subject, requestedBy string) func() error {
		return func() error {
			_, err := c.CreateApproval(ctx, api.ApprovalRequest{ID: id, Subject: subject, RequestedBy: requestedBy, Decision: deploy.Approved, ExpiresAt: exp})
			return err
		}
	}

	// Catalog: a version packaged by pat, approved by carol; a second one whose scan failed.
	must[api.App](t, "create app")(pat.CreateApp(ctx, api.AppRequest{ID: app, Name: "Ledger", Owner: "fin-apps", Category: "finance",
		SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: acme}))
	for i, v := range []string{"2.4.1", "2.5.0"} {
		must[api.Version](t, "version")(pat.CreateVersion(ctx, app, api.VersionRequest{Version: v, OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}))
		scan := []deploy.ScanDecision{deploy.ScanPass, deploy.ScanFail}[i]
		must[api.Artifact](t, "artifact")(pat.CreateArtifact(ctx, app, v, api.ArtifactRequest{Platform: deploy.PlatformMSI,
			Name: "ledger-" + v + ".msi", SHA256: hexDigest("ab"[i]), Size: 4096, Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: scan}))
		for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
			must[api.Version](t, "transition")(pat.Transition(ctx, app, v, to))
		}
		must[api.Version](t, "approve version")(carol.Transition(ctx, app, v, deploy.StateApproved))
		must[api.Assessment](t, "assess")(rita.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-" + v, AppID: app, Version: v,
			Input: riskInput(0.8, deploy.Ring2Pilot)}))
	}
	intent := func(id, version string, ring deploy.Ring, approval string) api.IntentRequest {
		d := hexDigest('a')
		if version == "2.5.0" {
			d = hexDigest('b')
		}
		return api.IntentRequest{ID: id, AppID: app, Version: version, Artifact: d, Ring: ring, Scope: &fin,
			Schedule: deploy.Schedule{NotBefore: t0}, AssessmentID: "as-" + version, ConcurrencyApproval: approval}
	}

	// 1. intent: alice (publisher) requests, alice (CAB) may not approve.
	ok("alice's intent", func() error {
		_, err := alicePub.CreateIntent(ctx, intent("i-a", "2.4.1", deploy.Ring2Pilot, ""))
		return err
	}())
	claimRefused("intent: approval naming rita", "cab-i1", "alice", approve(aliceCAB, "cab-i1", "intent:i-a", "rita"))
	denied("intent: self-approval", []string{"sod.no-self-approval"}, approve(aliceCAB, "cab-i2", "intent:i-a", ""))
	ok("intent: carol approves", approve(carol, "cab-i3", "intent:i-a", "")())
	if a, _ := n.srv.Store().State().Approval("cab-i3"); a.RequestedBy != "alice" {
		t.Fatalf("intent approval requester %q, want the intent's", a.RequestedBy)
	}

	// 2. concurrency: a second change at ring 2, requested by alice.
	second := intent("i-b", "2.4.1", deploy.Ring2Pilot, "")
	denied("concurrency: alice asks", []string{"concurrency.one-active-change"}, func() error { _, err := alicePub.CreateIntent(ctx, second); return err })
	claimRefused("concurrency: approval naming rita", "cab-c1", "alice", approve(aliceCAB, "cab-c1", "concurrency:i-b", "rita"))
	denied("concurrency: self-approval", []string{"sod.no-self-approval"}, approve(aliceCAB, "cab-c2", "concurrency:i-b", ""))
	denied("concurrency: rita asks", []string{"concurrency.one-active-change"}, func() error { _, err := rita.CreateIntent(ctx, second); return err })
	ok("concurrency: alice approves rita's request", approve(aliceCAB, "cab-c3", "concurrency:i-b", "rita")())
	second.ConcurrencyApproval = "cab-c3"
	denied("concurrency: alice uses the approval she gave rita", []string{"concurrency.cab.requester", "concurrency.cab.not-requester"},
		func() error { _, err := alicePub.CreateIntent(ctx, second); return err })
	second.ConcurrencyApproval = ""
	denied("concurrency: alice asks again", []string{"concurrency.one-active-change"}, func() error { _, err := alicePub.CreateIntent(ctx, second); return err })
	ok("concurrency: carol approves", approve(carol, "cab-c4", "concurrency:i-b", "alice")())
	second.ConcurrencyApproval = "cab-c4"
	ok("concurrency: alice's approved change", func() error { _, err := alicePub.CreateIntent(ctx, second); return err }())

	// 3. scope-change: alice (endpoint ops) asks to narrow the app's scope.
	subj := deploy.ScopeChangeSubject(app, 2)
	scope := func(c *client.Client, approval string) func() error {
		return func() error { _, err := c.ChangeAppScope(ctx, app, fin, approval); return err }
	}
	denied("scope-change: alice asks", []string{"cab.present"}, scope(aliceOps, ""))
	claimRefused("scope-change: approval naming eve", "cab-s1", "alice", approve(aliceCAB, "cab-s1", subj, "eve"))
	denied("scope-change: self-approval", []string{"sod.no-self-approval"}, approve(aliceCAB, "cab-s2", subj, ""))
	denied("scope-change: eve asks", []string{"cab.present"}, scope(eve, ""))
	ok("scope-change: alice approves eve's request", approve(aliceCAB, "cab-s3", subj, "eve")())
	denied("scope-change: alice uses the approval she gave eve", []string{"cab.requester", "cab.not-requester"}, scope(aliceOps, "cab-s3"))
	denied("scope-change: alice asks again", []string{"cab.present"}, scope(aliceOps, ""))
	ok("scope-change: carol approves", approve(carol, "cab-s4", subj, "")())
	ok("scope-change: alice's approved change", scope(aliceOps, "cab-s4")())

	// 4. elevation: a privileged tool needs CAB.
	elevate := func(c *client.Client, approval string) func() error {
		return func() error {
			_, err := c.Elevate(ctx, api.ElevationRequest{ID: "el-1", DeviceScope: fin, Duration: "1h", Approval: approval,
				Device: deploy.DevicePosture{DeviceID: "pc-1", Cohort: "fin", Managed: true, Compliant: true, DiskEncrypted: true, EDRHealthy: true, PatchAgeDays: 2},
				App:    deploy.AppClassification{AppID: app, RiskScore: 20, RiskModel: "v1.0", Privileged: true}})
			return err
		}
	}
	denied("elevation: alice asks", []string{"jit.cab.present"}, elevate(aliceOps, ""))
	claimRefused("elevation: approval naming eve", "cab-e1", "alice", approve(aliceCAB, "cab-e1", "elevation:el-1", "eve"))
	denied("elevation: self-approval", []string{"sod.no-self-approval"}, approve(aliceCAB, "cab-e2", "elevation:el-1", ""))
	denied("elevation: eve asks", []string{"jit.cab.present"}, elevate(eve, ""))
	ok("elevation: alice approves eve's request", approve(aliceCAB, "cab-e3", "elevation:el-1", "eve")())
	denied("elevation: alice uses the approval she gave eve", []string{"jit.cab.requester", "jit.cab-not-self"}, elevate(aliceOps, "cab-e3"))
	denied("elevation: alice asks again", []string{"jit.cab.present"}, elevate(aliceOps, ""))
	ok("elevation: carol approves", approve(carol, "cab-e4", "elevation:el-1", "")())
	ok("elevation: alice's approved elevation", elevate(aliceOps, "cab-e4")())

	// 5. exception: alice (publisher) needs one for a failing artifact; alice (security reviewer) may not give it.
	ok("alice's failing intent", func() error {
		_, err := alicePub.CreateIntent(ctx, intent("i-e", "2.5.0", deploy.Ring1Canary, ""))
		return err
	}())
	exception := func(c *client.Client, id, intentID, requestedBy string) func() error {
		return func() error {
			_, err := c.CreateException(ctx, api.ExceptionRequest{ID: id, IntentID: intentID, RequestedBy: requestedBy, Findings: []string{"CVE-2026-1"},
				Justification: "not reachable", CompensatingControls: []string{"EDR rule"}, AccountableOwner: "fin-apps", ExpiresAt: exp})
			return err
		}
	}
	claimRefused("exception naming rita", "ex-1", "alice", exception(aliceSec, "ex-1", "i-e", "rita"))
	denied("exception: self-approval", []string{"sod.no-self-approval"}, exception(aliceSec, "ex-2", "i-e", ""))
	ok("exception: sam approves", exception(sam, "ex-3", "i-e", "")())
	if e, _ := n.srv.Store().State().Exception("ex-3"); e.RequestedBy != "alice" {
		t.Fatalf("exception requester %q, want the intent's", e.RequestedBy)
	}
	// ...nor approve one for rita's intent and publish on it herself.
	ok("rita's failing intent", func() error {
		_, err := rita.CreateIntent(ctx, intent("i-f", "2.5.0", deploy.Ring3Department, ""))
		return err
	}())
	ok("exception: alice approves rita's", exception(aliceSec, "ex-4", "i-f", "")())
	denied("exception: alice publishes on the exception she approved", []string{"sod.exception-not-publisher"}, func() error {
		_, err := alicePub.Publish(ctx, "i-f", api.PublishRequest{Exception: "ex-4"})
		return err
	})

	// 6. lifecycle approval of a version alice (endpoint ops) requested.
	must[api.Version](t, "alice's version")(aliceOps.CreateVersion(ctx, app, api.VersionRequest{Version: "3.0.0", OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}))
	must[api.Artifact](t, "artifact 3.0.0")(pat.CreateArtifact(ctx, app, "3.0.0", api.ArtifactRequest{Platform: deploy.PlatformMSI,
		Name: "ledger-3.msi", SHA256: hexDigest('c'), Size: 4096, Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass}))
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		must[api.Version](t, "transition 3.0.0")(pat.Transition(ctx, app, "3.0.0", to))
	}
	denied("version: self-approval", []string{"sod.no-self-approval"}, func() error { _, err := aliceCAB.Transition(ctx, app, "3.0.0", deploy.StateApproved); return err })
	ok("version: carol approves", func() error { _, err := carol.Transition(ctx, app, "3.0.0", deploy.StateApproved); return err }())

	// An approval needs a recorded request and a known subject kind.
	for _, subject := range []string{"concurrency:i-zz", "scope-change:com.acme.other@2", "elevation:el-zz", "deploy:i-a", "intent", ":x"} {
		cases++
		if _, err := carol.CreateApproval(ctx, api.ApprovalRequest{ID: "cab-z", Subject: subject, Decision: deploy.Approved, ExpiresAt: exp}); err == nil ||
			!strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "subject") {
			t.Errorf("approval of %s: %v, want 422 on subject", subject, err)
		}
	}
	t.Logf("%d cases over 6 subject kinds (intent, concurrency, scope-change, elevation, exception, version approval)", cases)
}
