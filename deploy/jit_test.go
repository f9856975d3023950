package deploy

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func passingElevation() ElevationRequest {
	return ElevationRequest{
		ID:          "el-1",
		Principal:   Principal{ID: "ed", Role: RoleEndpointOps, Scope: acmeFin},
		Device:      DevicePosture{DeviceID: "LON-0042", Cohort: "fin-lon-laptops", Managed: true, Compliant: true, DiskEncrypted: true, EDRHealthy: true, PatchAgeDays: 12},
		DeviceScope: acmeFinLon,
		App:         AppClassification{AppID: "com.acme.ledger", RiskScore: 30, RiskModel: "v1.0"},
		Duration:    2 * time.Hour,
	}
}

func TestEvaluateElevation(t *testing.T) {
	d := EvaluateElevation(passingElevation(), DefaultElevationPolicy, t0)
	if !d.Allowed || d.Grant == nil || !d.Grant.NotAfter.Equal(t0.Add(2*time.Hour)) || d.Event.Outcome != "allow" || d.Event.CABRequired {
		t.Fatalf("%+v %v", d, d.Reasons())
	}
	// The grant is time- and scope-bound.
	g := *d.Grant
	for _, tc := range []struct {
		app, cohort string
		at          time.Time
		want        bool
	}{
		{"com.acme.ledger", "fin-lon-laptops", t0, true},
		{"com.acme.ledger", "fin-lon-laptops", t0.Add(2*time.Hour - time.Second), true},
		{"com.acme.ledger", "fin-lon-laptops", t0.Add(2 * time.Hour), false},
		{"com.acme.ledger", "fin-lon-laptops", t0.Add(-time.Second), false},
		{"com.acme.other", "fin-lon-laptops", t0, false},
		{"com.acme.ledger", "hr-ber-desktops", t0, false},
	} {
		if g.Valid(tc.app, tc.cohort, tc.at) != tc.want {
			t.Errorf("grant valid(%s, %s, %s) != %v", tc.app, tc.cohort, ts(tc.at), tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		mut  func(*ElevationRequest)
		fail string
	}{
		{"auditor", func(r *ElevationRequest) { r.Principal.Role = RoleAuditor }, "jit.role"},
		{"device outside scope", func(r *ElevationRequest) { r.DeviceScope = acmeHRBer }, "jit.scope"},
		{"unmanaged", func(r *ElevationRequest) { r.Device.Managed = false }, "jit.posture.managed"},
		{"non-compliant", func(r *ElevationRequest) { r.Device.Compliant = false }, "jit.posture.compliant"},
		{"unencrypted", func(r *ElevationRequest) { r.Device.DiskEncrypted = false }, "jit.posture.disk-encrypted"},
		{"EDR down", func(r *ElevationRequest) { r.Device.EDRHealthy = false }, "jit.posture.edr"},
		{"patch 31 days old", func(r *ElevationRequest) { r.Device.PatchAgeDays = 31 }, "jit.posture.patched"},
		{"too long", func(r *ElevationRequest) { r.Duration = 4*time.Hour + time.Second }, "jit.duration"},
		{"zero duration", func(r *ElevationRequest) { r.Duration = 0 }, "jit.duration"},
		{"risk 50.1 without CAB", func(r *ElevationRequest) { r.App.RiskScore = 50.1 }, "jit.cab.present"},
		{"privileged tool without CAB", func(r *ElevationRequest) { r.App.Privileged = true }, "jit.cab.present"},
		{"unknown model", func(r *ElevationRequest) { r.App.RiskModel = "v0" }, "jit.risk-model"},
		{"requester approved their own elevation", func(r *ElevationRequest) {
			r.App.Privileged = true
			r.CABApproval = fixtureCAB(Subject(SubjectElevation, "el-1"))
			r.CABApproval.Approver = "ed"
		}, "jit.cab-not-self"},
		{"CAB approval given for someone else's elevation", func(r *ElevationRequest) {
			r.App.Privileged = true
			r.CABApproval = fixtureCAB(Subject(SubjectElevation, "el-1")) // requested by rita
		}, "jit.cab.requester"},
		{"CAB approval for another request", func(r *ElevationRequest) {
			r.App.Privileged = true
			r.CABApproval = fixtureCAB(Subject(SubjectElevation, "el-2"))
		}, "jit.cab.subject"},
	} {
		r := passingElevation()
		tc.mut(&r)
		d := EvaluateElevation(r, DefaultElevationPolicy, t0)
		if d.Allowed || d.Grant != nil || !slices.Contains(d.Failed(), tc.fail) {
			t.Errorf("%s: %v %v", tc.name, d.Allowed, d.Failed())
		}
		if d.Event.Outcome != "deny" || !slices.Contains(d.Event.FailedRules, tc.fail) || d.Event.Time != "2026-11-28T12:00:00Z" {
			t.Errorf("%s: event %+v", tc.name, d.Event)
		}
	}
	// Risk exactly 50 needs no CAB; with CAB approval, risk > 50 is granted
	// and the grant ends no later than the approval.
	r := passingElevation()
	r.App.RiskScore = 50
	if d := EvaluateElevation(r, DefaultElevationPolicy, t0); !d.Allowed || d.Event.CABRequired {
		t.Fatal(d.Reasons())
	}
	r.App.RiskScore = 80
	r.CABApproval = fixtureCAB(Subject(SubjectElevation, "el-1"))
	r.CABApproval.RequestedBy = r.Principal.ID
	r.CABApproval.ExpiresAt = t0.Add(time.Hour)
	d = EvaluateElevation(r, DefaultElevationPolicy, t0)
	if !d.Allowed || !d.Grant.NotAfter.Equal(t0.Add(time.Hour)) || d.Event.CABApprovalID != "cab-7" || d.Event.NotAfter != "2026-11-28T13:00:00Z" {
		t.Fatalf("%+v %v", d.Grant, d.Reasons())
	}
	// SIEM events have flat, stable keys.
	b, _ := json.Marshal(d.Event)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"time", "event_type", "outcome", "request_id", "actor", "actor_role", "device_id", "cohort", "app_id", "risk_score", "privileged", "cab_required", "cab_approval_id", "not_after", "reasons"} {
		if _, ok := m[k]; !ok {
			t.Errorf("SIEM event lacks %s: %s", k, b)
		}
	}
}
