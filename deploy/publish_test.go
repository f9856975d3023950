package deploy

import (
	"slices"
	"testing"
)

func passingPublish(t *testing.T) PublishRequest {
	pack := fixturePack(t)
	return PublishRequest{
		Principal: Principal{ID: "paula", Role: RolePublisher, Scope: acme},
		App:       fixtureApp(), Artifact: fixtureArtifact(), Intent: fixtureIntent(),
		Version: ApplicationVersion{AppID: "com.acme.ledger", Version: "2.4.1", ReleaseNotes: "fixes", OSMatrix: []OSSupport{{OS: "windows"}}, State: StateApproved},
		Risk:    fixtureRisk(t, Ring2Pilot, 0.3, false), Evidence: &pack, EvidenceStored: true,
	}
}

func TestDecidePublish(t *testing.T) {
	r := passingPublish(t)
	if d := DecidePublish(r, t0); !d.Allowed {
		t.Fatalf("%v", d.Reasons())
	}
	for _, tc := range []struct {
		name string
		mut  func(*PublishRequest)
		fail string
	}{
		{"packaging engineer publishing", func(r *PublishRequest) { r.Principal = Principal{ID: "pete", Role: RolePackagingEngineer, Scope: acme} }, "sod.packaging-no-production"},
		{"publisher is the packager", func(r *PublishRequest) { r.Principal.ID = "pat" }, "sod.packager-separation"},
		{"publisher scope too narrow", func(r *PublishRequest) { r.Principal.Scope = acmeFinLon }, "guardrail.within-publisher"},
		{"app scope excludes target", func(r *PublishRequest) { r.App.AllowedScope = acmeHR }, "guardrail.within-app"},
		{"scan failed, no exception", func(r *PublishRequest) { r.Artifact.ScanDecision = ScanFail }, "scan.pass-or-exception"},
		{"high risk at Ring 2 without CAB", func(r *PublishRequest) { r.Risk = fixtureRisk(t, Ring2Pilot, 0.6, false) }, "publish.cab.present"},
		{"privileged app without CAB", func(r *PublishRequest) { r.App.PrivilegedTools = true }, "publish.cab.present"},
		{"assessment for another ring", func(r *PublishRequest) { r.Risk = fixtureRisk(t, Ring1Canary, 0.3, false) }, "risk.ring"},
		{"tampered score", func(r *PublishRequest) { r.Risk.Score = 10 }, "risk.reproducible"},
		{"no assessment", func(r *PublishRequest) { r.Risk = nil }, "risk.assessed"},
		{"evidence incomplete", func(r *PublishRequest) { r.Evidence.RollbackPlans = nil }, "evidence.rollback_plan"},
		{"no evidence", func(r *PublishRequest) { r.Evidence = nil }, "evidence.present"},
		{"evidence for another intent", func(r *PublishRequest) { r.Evidence.IntentID = "i-1" }, "evidence.intent"},
		{"evidence store unavailable", func(r *PublishRequest) { r.EvidenceStored = false }, "evidence.stored"},
		{"another active change", func(r *PublishRequest) { o := fixtureIntent(); o.ID = "i-9"; r.ActiveIntents = []Intent{o} }, "concurrency.one-active-change"},
		{"intent for another artifact", func(r *PublishRequest) { r.Intent.Artifact = dg('e') }, "intent.matches"},
		{"intent without scope", func(r *PublishRequest) { r.Intent.Scope = nil }, "intent.valid"},
		{"version not approved", func(r *PublishRequest) { r.Version.State = StateStaged }, "catalog.state"},
		{"version retired", func(r *PublishRequest) { r.Version.State = StateRetired }, "catalog.state"},
		{"malformed app scope", func(r *PublishRequest) { r.App.AllowedScope = Scope{BU: "fin"} }, "catalog.app-valid"},
		{"version without OS matrix", func(r *PublishRequest) { r.Version.OSMatrix = nil }, "catalog.version-valid"},
		{"artifact without packager", func(r *PublishRequest) { r.Artifact.PackagedBy = "" }, "catalog.artifact-valid"},
		{"catalog version mismatch", func(r *PublishRequest) { r.Version.Version = "2.4.0" }, "catalog.version"},
		{"intent requires exception records", func(r *PublishRequest) { r.Intent.RequiredEvidence = []EvidenceItem{EvidenceExceptions} }, "evidence.exception_records"},
	} {
		r := passingPublish(t)
		tc.mut(&r)
		d := DecidePublish(r, t0)
		if d.Allowed || !slices.Contains(d.Failed(), tc.fail) {
			t.Errorf("%s: allowed %v failed %v", tc.name, d.Allowed, d.Failed())
		}
	}

	// scan fail + valid exception + evidence including the exception + CAB:
	// allowed; the same request one second after expiry: denied.
	r = passingPublish(t)
	r.Artifact.ScanDecision = ScanFail
	r.Exception = fixtureException()
	r.Evidence.PolicyDecision = ScanException
	r.Evidence.Exceptions = []Exception{*r.Exception}
	r.Risk = fixtureRisk(t, Ring2Pilot, 0.6, false)
	r.CABApproval = fixtureCAB(Subject(SubjectIntent, "i-100"))
	r.CABApproval.ExceptionID = r.Exception.ID
	if d := DecidePublish(r, t0); !d.Allowed {
		t.Fatal(d.Reasons())
	}
	if d := DecidePublish(r, r.Exception.ExpiresAt); d.Allowed || !slices.Contains(d.Failed(), "exception.not-expired") {
		t.Fatal(d.Failed())
	}
	r.CABApproval.ExceptionID = ""
	if d := DecidePublish(r, t0); d.Allowed || !slices.Equal(d.Failed(), []string{"exception.cab-linked"}) {
		t.Fatal(d.Failed())
	}
	r.CABApproval.ExceptionID = r.Exception.ID
	r.Evidence.Exceptions[0].ID = "ex-other"
	if d := DecidePublish(r, t0); d.Allowed || !slices.Equal(d.Failed(), []string{"evidence.exception-included"}) {
		t.Fatal(d.Failed())
	}
	// Low risk does not waive the CAB link of an exception.
	r.Evidence.Exceptions[0].ID = r.Exception.ID
	r.Risk = fixtureRisk(t, Ring2Pilot, 0.3, false)
	r.CABApproval = nil
	if d := DecidePublish(r, t0); d.Allowed || !slices.Equal(d.Failed(), []string{"exception.cab-linked"}) {
		t.Fatal(d.Failed())
	}

	// High risk at Ring 1 publishes without CAB, but still needs complete evidence.
	r = passingPublish(t)
	r.Intent.Ring = Ring1Canary
	r.Risk = fixtureRisk(t, Ring1Canary, 0.9, false)
	if d := DecidePublish(r, t0); !d.Allowed {
		t.Fatal(d.Reasons())
	}
	r.Evidence.TestEvidence.Ring0 = nil
	if d := DecidePublish(r, t0); d.Allowed || !slices.Equal(d.Failed(), []string{"evidence.test_evidence_ring0"}) {
		t.Fatal(d.Failed())
	}

	// Ring 0 is staging: a packaging engineer (not the packager) may stage.
	r = passingPublish(t)
	r.Intent.Ring = Ring0Lab
	r.Version.State = StatePackaged
	r.Evidence, r.EvidenceStored = nil, false // test evidence does not exist before the lab
	r.Risk = fixtureRisk(t, Ring0Lab, 0.3, false)
	r.Principal = Principal{ID: "pete", Role: RolePackagingEngineer, Scope: acme}
	if d := DecidePublish(r, t0); !d.Allowed {
		t.Fatal(d.Reasons())
	}
	// ... not a requested (unpackaged) version ...
	r.Version.State = StateRequested
	if d := DecidePublish(r, t0); d.Allowed || !slices.Equal(d.Failed(), []string{"catalog.state"}) {
		t.Fatal(d.Failed())
	}
	r.Version.State = StatePackaged
	// ... and privileged tooling needs CAB even in Ring 0.
	r.App.PrivilegedTools = true
	if d := DecidePublish(r, t0); d.Allowed || !slices.Contains(d.Failed(), "stage.cab.present") {
		t.Fatal(d.Failed())
	}
}
