package deploy

import (
	"slices"
	"testing"
)

func TestAdmitAtSite(t *testing.T) {
	ok := func() SiteAdmission {
		return SiteAdmission{Site: acmeFinLon, App: fixtureApp(), Artifact: fixtureArtifact(), Intent: fixtureIntent(),
			Risk: fixtureRisk(t, Ring2Pilot, 0.6, false), CABApproval: fixtureCAB(Subject(SubjectIntent, "i-100"))}
	}
	if d := AdmitAtSite(ok(), t0); !d.Allowed {
		t.Fatal(d.Reasons())
	}
	for _, tc := range []struct {
		name string
		mut  func(*SiteAdmission)
		fail string
	}{
		{"site outside target", func(r *SiteAdmission) { r.Site = acmeHRBer }, "edge.site-in-target"},
		{"target outside app scope", func(r *SiteAdmission) { r.App.AllowedScope = acmeHR }, "guardrail.within-app"},
		{"CAB approval expired offline", func(r *SiteAdmission) { r.CABApproval.ExpiresAt = t0 }, "cab.not-expired"},
		{"CAB approval missing", func(r *SiteAdmission) { r.CABApproval = nil }, "cab.present"},
		{"forged score", func(r *SiteAdmission) { r.Risk.Score = 10 }, "risk.reproducible"},
		{"other artifact", func(r *SiteAdmission) { r.Artifact.SHA256 = dg('9') }, "intent.matches"},
		{"scan failed, no exception", func(r *SiteAdmission) { r.Artifact.ScanDecision = ScanFail }, "scan.pass-or-exception"},
		{"exception expired offline", func(r *SiteAdmission) {
			r.Artifact.ScanDecision = ScanFail
			r.Exception = fixtureException()
			r.Exception.ExpiresAt = t0
		}, "exception.not-expired"},
		{"no scope", func(r *SiteAdmission) { r.Intent.Scope = nil }, "intent.valid"},
	} {
		r := ok()
		tc.mut(&r)
		d := AdmitAtSite(r, t0)
		if d.Allowed || !slices.Contains(d.Failed(), tc.fail) {
			t.Errorf("%s: %v", tc.name, d.Failed())
		}
	}
	// Low risk needs no CAB approval at the edge either.
	r := ok()
	r.Risk, r.CABApproval = fixtureRisk(t, Ring2Pilot, 0.3, false), nil
	if d := AdmitAtSite(r, t0); !d.Allowed {
		t.Fatal(d.Reasons())
	}
}
