package deploy

import (
	"slices"
	"testing"
	"time"
)

func TestCABApprovalRules(t *testing.T) {
	subj := Subject(SubjectIntent, "i-100")
	for _, tc := range []struct {
		name string
		mut  func(*ApprovalRecord)
		at   time.Time
		fail string // failed rule, "" for allow
	}{
		{"valid", func(*ApprovalRecord) {}, t0, ""},
		{"one second before expiry", func(*ApprovalRecord) {}, t0.Add(30*24*time.Hour - time.Second), ""},
		{"at the expiry second", func(*ApprovalRecord) {}, t0.Add(30 * 24 * time.Hour), "cab.not-expired"},
		{"after expiry", func(*ApprovalRecord) {}, t0.Add(30*24*time.Hour + time.Second), "cab.not-expired"},
		{"at the decision second", func(*ApprovalRecord) {}, t0.Add(-24 * time.Hour), ""},
		{"before the decision", func(*ApprovalRecord) {}, t0.Add(-24*time.Hour - time.Second), "cab.decided"},
		{"rejected", func(a *ApprovalRecord) { a.Decision = Rejected }, t0, "cab.decision"},
		{"wrong subject", func(a *ApprovalRecord) { a.Subject = Subject(SubjectIntent, "i-101") }, t0, "cab.subject"},
		{"not a CAB approver", func(a *ApprovalRecord) { a.ApproverRole = RolePublisher }, t0, "cab.role"},
		{"self approval", func(a *ApprovalRecord) { a.Approver = "rita" }, t0, "cab.not-self"},
		{"no expiry", func(a *ApprovalRecord) { a.ExpiresAt = time.Time{} }, t0, "cab.well-formed"},
		{"unknown role", func(a *ApprovalRecord) { a.ApproverRole = "root" }, t0, "cab.well-formed"},
	} {
		a := fixtureCAB(subj)
		tc.mut(a)
		d := a.CheckCAB(subj, tc.at)
		if tc.fail == "" {
			if !d.Allowed {
				t.Errorf("%s: denied %v", tc.name, d.Reasons())
			}
			continue
		}
		if d.Allowed || !slices.Contains(d.Failed(), tc.fail) {
			t.Errorf("%s: failed %v, want %s", tc.name, d.Failed(), tc.fail)
		}
	}
	var nilRec *ApprovalRecord
	if d := nilRec.CheckCAB(subj, t0); d.Allowed || d.Failed()[0] != "cab.present" {
		t.Fatal(d)
	}
}

func TestExceptionBoundarySecond(t *testing.T) {
	ex := fixtureException()
	exp := ex.ExpiresAt
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{exp.Add(-time.Second), true},
		{exp.Add(-time.Nanosecond), true},
		{exp, false}, // the expiry instant is already invalid
		{exp.Add(time.Second), false},
		{ex.ApprovedAt, true},
		{ex.ApprovedAt.Add(-time.Second), false},
	} {
		if d := ex.Check("i-100", dg('a'), tc.at); d.Allowed != tc.want {
			t.Errorf("at %s: allowed %v, want %v (%v)", ts(tc.at), d.Allowed, tc.want, d.Reasons())
		}
	}
}

func TestExceptionRules(t *testing.T) {
	for _, tc := range []struct {
		name, fail string
		mut        func(*Exception)
		intent     string
	}{
		{"valid", "", func(*Exception) {}, "i-100"},
		{"other intent", "exception.intent", func(*Exception) {}, "i-999"},
		{"other artifact", "exception.artifact", func(e *Exception) { e.Artifact = dg('f') }, "i-100"},
		{"not approved", "exception.approved", func(e *Exception) { e.ApprovedBy = ""; e.ApproverRole = "" }, "i-100"},
		{"approved by CAB, not security", "exception.role", func(e *Exception) { e.ApproverRole = RoleCABApprover }, "i-100"},
		{"self-approved", "exception.not-self", func(e *Exception) { e.ApprovedBy = "pat" }, "i-100"},
		{"no compensating controls", "exception.well-formed", func(e *Exception) { e.CompensatingControls = nil }, "i-100"},
		{"no owner", "exception.well-formed", func(e *Exception) { e.AccountableOwner = "" }, "i-100"},
		{"no expiry", "exception.well-formed", func(e *Exception) { e.ExpiresAt = time.Time{} }, "i-100"},
		{"no intent link", "exception.well-formed", func(e *Exception) { e.IntentID = "" }, "i-100"},
	} {
		e := fixtureException()
		tc.mut(e)
		d := e.Check(tc.intent, dg('a'), t0)
		if tc.fail == "" {
			if !d.Allowed {
				t.Errorf("%s: %v", tc.name, d.Reasons())
			}
		} else if d.Allowed || !slices.Contains(d.Failed(), tc.fail) {
			t.Errorf("%s: failed %v want %s", tc.name, d.Failed(), tc.fail)
		}
	}
}

func TestScanGate(t *testing.T) {
	a := fixtureArtifact()
	for _, tc := range []struct {
		name     string
		decision ScanDecision
		ex       *Exception
		at       time.Time
		want     bool
	}{
		{"scan pass", ScanPass, nil, t0, true},
		{"scan fail, no exception", ScanFail, nil, t0, false},
		{"scan fail, valid exception", ScanFail, fixtureException(), t0, true},
		{"scan exception decision, valid exception", ScanException, fixtureException(), t0, true},
		{"scan exception decision, none", ScanException, nil, t0, false},
		{"scan fail, exception expired at the second", ScanFail, fixtureException(), fixtureException().ExpiresAt, false},
		{"no scan decision", "", fixtureException(), t0, false},
	} {
		a.ScanDecision = tc.decision
		d := CheckScanGate(a, "i-100", tc.ex, tc.at)
		if d.Allowed != tc.want || d.Checks[0].Rule != "scan.pass-or-exception" {
			t.Errorf("%s: %v %v", tc.name, d.Allowed, d.Reasons())
		}
	}
}
