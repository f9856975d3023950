package deploy

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
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

func TestParseApprovalAndException(t *testing.T) {
	a := fixtureCAB("intent:i-100")
	b, _ := json.Marshal(a)
	got, err := ParseApprovalRecord(b)
	if err != nil || got.ID != a.ID || !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, field string }{
		{`"decision":"approved"`, `"decision":"maybe"`, "decision"},
		{`"approver":"carol"`, `"approver":"carol","approver":"rita"`, "approver"},
		{`"approver":"carol"`, `"Approver":"carol"`, "Approver"},
		{`"id":"cab-7"`, `"id":"cab-7","extra":1`, "extra"},
		{`"approver_role":"cab-approver"`, `"approver_role":"root"`, "approver_role"},
	} {
		doc := strings.Replace(string(b), tc.from, tc.to, 1)
		var fe *FieldError
		if _, err := ParseApprovalRecord([]byte(doc)); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: %v", tc.to, err)
		}
	}
	e := fixtureException()
	b, _ = json.Marshal(e)
	if got, err := ParseException(b); err != nil || got.AccountableOwner != e.AccountableOwner {
		t.Fatal(err)
	}
	doc := strings.Replace(string(b), `"compensating_controls":["ring 2 capped at 500 devices","EDR rule 4411 monitors the component"]`, `"compensating_controls":[]`, 1)
	var fe *FieldError
	if _, err := ParseException([]byte(doc)); !errors.As(err, &fe) || fe.Field != "compensating_controls" {
		t.Fatal(err)
	}
}

func FuzzParseApprovalRecord(f *testing.F) {
	b, _ := json.Marshal(fixtureCAB("intent:i-100"))
	f.Add(b)
	f.Add([]byte(`{"id":"a","decided_at":"2026-01-01T00:00:00Z","expires_at":"2025-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseApprovalRecord(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error does not wrap ErrInvalidInput: %v", err)
			}
			return
		}
		if !a.ExpiresAt.After(a.DecidedAt) || a.Approver == "" {
			t.Fatalf("accepted %+v", a)
		}
		// A parsed approval is judged without panicking, and never holds
		// at or after its expiry.
		if a.CheckCAB(a.Subject, a.ExpiresAt).Allowed {
			t.Fatal("approval holds at its expiry")
		}
	})
}

func FuzzParseException(f *testing.F) {
	b, _ := json.Marshal(fixtureException())
	f.Add(b)
	f.Add([]byte(`{"id":"x","compensating_controls":[""]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseException(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error does not wrap ErrInvalidInput: %v", err)
			}
			return
		}
		if len(e.CompensatingControls) == 0 || e.ExpiresAt.IsZero() || e.AccountableOwner == "" {
			t.Fatalf("accepted %+v", e)
		}
		if e.Check(e.IntentID, e.Artifact, e.ExpiresAt).Allowed {
			t.Fatal("exception holds at its expiry")
		}
	})
}
