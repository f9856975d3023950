package deploy

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

const intentDoc = `{"id":"i-100","app_id":"com.acme.ledger","version":"2.4.1",
"artifact":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ring":2,
"scope":{"acquisition":"acme","bu":"fin"},
"schedule":{"not_before":"2026-11-26T12:00:00Z","deadline":"2026-12-01T12:00:00Z"},
"constraints":["maintenance-window"],"required_evidence":["exception_records"],"exclusions":[],"requested_by":"rita"}`

func TestParseIntent(t *testing.T) {
	in, err := ParseIntent([]byte(intentDoc))
	if err != nil {
		t.Fatal(err)
	}
	if in.Ring != Ring2Pilot || *in.Scope != acmeFin || !in.Schedule.NotBefore.Equal(t0.Add(-48*time.Hour)) || in.RequiredEvidence[0] != EvidenceExceptions {
		t.Fatalf("%+v", in)
	}
	// Round trip.
	b, _ := json.Marshal(in)
	if in2, err := ParseIntent(b); err != nil || in2.ID != in.ID {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, field string }{
		{`"ring":2`, `"ring":5`, "ring"},
		{`"ring":2`, `"ring":true`, "ring"},
		{`"not_before":"2026-11-26T12:00:00Z"`, `"not_before":"yesterday"`, "schedule.not_before"},
		{`"constraints":["maintenance-window"]`, `"constraints":"x"`, "constraints"},
		{`"scope":{"acquisition":"acme","bu":"fin"}`, `"scope":"acme"`, "scope"},
		{`"ring":2`, `"ring":"2"`, "ring"},
		{`"scope":{"acquisition":"acme","bu":"fin"},`, ``, "scope"},
		{`"scope":{"acquisition":"acme","bu":"fin"}`, `"scope":null`, "scope"},
		{`"scope":{"acquisition":"acme","bu":"fin"}`, `"scope":{}`, "scope.acquisition"},
		{`"scope":{"acquisition":"acme","bu":"fin"}`, `"scope":{"bu":"fin"}`, "scope"},
		{`"scope":{"acquisition":"acme","bu":"fin"}`, `"scope":{"acquisition":"acme","region":"eu"}`, "region"},
		{`"id":"i-100"`, `"id":"../i"`, "id"},
		{`"id":"i-100",`, ``, "id"},
		{`"requested_by":"rita"`, `"requested_by":""`, "requested_by"},
		{`"artifact":"aaaa`, `"artifact":"zzzz`, "artifact"},
		{`"deadline":"2026-12-01T12:00:00Z"`, `"deadline":"2026-11-01T12:00:00Z"`, "schedule.deadline"},
		{`"not_before":"2026-11-26T12:00:00Z",`, ``, "schedule.not_before"},
		{`["exception_records"]`, `["selfie"]`, "required_evidence[0]"},
		{`["maintenance-window"]`, `[""]`, "constraints[0]"},
		{`"ring":2`, `"ring":2,"ring":3`, "ring"},
		{`"ring":2`, `"Ring":2`, "Ring"},
		{`"requested_by":"rita"`, `"Requested_By":"rita"`, "Requested_By"},
		{`"requested_by":"rita"`, `"requested_by":"rita","priority":1`, "priority"},
	} {
		doc := strings.Replace(intentDoc, tc.from, tc.to, 1)
		if doc == intentDoc {
			t.Fatalf("replacement %q not applied", tc.from)
		}
		_, err := ParseIntent([]byte(doc))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s -> %s: %v, want field %s", tc.from, tc.to, err, tc.field)
		}
	}
}

func TestConcurrency(t *testing.T) {
	cand := fixtureIntent()
	other := fixtureIntent()
	other.ID = "i-099"
	otherRing := fixtureIntent()
	otherRing.ID, otherRing.Ring = "i-098", Ring1Canary
	otherApp := fixtureIntent()
	otherApp.ID, otherApp.AppID = "i-097", "com.acme.other"
	appr := fixtureCAB(Subject(SubjectConcurrency, cand.ID))
	forOther := fixtureCAB(Subject(SubjectConcurrency, cand.ID))
	forOther.RequestedBy = "bob"
	selfApproved := fixtureCAB(Subject(SubjectConcurrency, cand.ID))
	selfApproved.Approver, selfApproved.RequestedBy = cand.RequestedBy, "bob" // a two-role person naming someone else
	for _, tc := range []struct {
		name   string
		active []Intent
		appr   *ApprovalRecord
		at     time.Time
		want   bool
	}{
		{"nothing active", nil, nil, t0, true},
		{"itself active (retry)", []Intent{cand}, nil, t0, true},
		{"other ring and other app", []Intent{otherRing, otherApp}, nil, t0, true},
		{"same app and ring", []Intent{otherRing, other}, nil, t0, false},
		{"same app and ring, approved", []Intent{other}, appr, t0, true},
		{"same app and ring, approval expired", []Intent{other}, appr, appr.ExpiresAt, false},
		{"same app and ring, approval for another intent", []Intent{other}, fixtureCAB(Subject(SubjectConcurrency, "i-1")), t0, false},
		{"same app and ring, approval given for another requester", []Intent{other}, forOther, t0, false},
		{"same app and ring, approved by the requester", []Intent{other}, selfApproved, t0, false},
	} {
		d := CheckConcurrency(cand, tc.active, tc.appr, tc.at)
		if d.Allowed != tc.want {
			t.Errorf("%s: %v %v", tc.name, d.Allowed, d.Reasons())
		}
		if !tc.want && tc.appr == nil && !slices.Contains(d.Failed(), "concurrency.one-active-change") {
			t.Errorf("%s: %v", tc.name, d.Failed())
		}
	}
}

func FuzzParseIntent(f *testing.F) {
	f.Add([]byte(intentDoc))
	f.Add([]byte(`{"id":"x","scope":{"acquisition":"a","acquisition":"b"}}`))
	f.Add([]byte(`{"schedule":{"not_before":"not a time"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseIntent(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error does not wrap ErrInvalidInput: %v", err)
			}
			return
		}
		if in.Scope == nil || in.Scope.Acquisition == "" || !in.Ring.Valid() {
			t.Fatalf("accepted invalid intent %+v", in)
		}
		// Accepted intents round-trip.
		out, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseIntent(out); err != nil {
			t.Fatalf("re-encoded intent rejected: %v\n%s", err, out)
		}
	})
}
