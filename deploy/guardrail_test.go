package deploy

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCheckTargetScopeNested(t *testing.T) {
	for _, tc := range []struct {
		name           string
		target         *Scope
		publisher, app Scope
		want           bool
		fail           string
	}{
		{"site within BU publisher within acquisition app", &acmeFinLon, acmeFin, acme, true, ""},
		{"BU within acquisition publisher and app", &acmeFin, acme, acme, true, ""},
		{"equal scopes", &acmeFinLon, acmeFinLon, acmeFinLon, true, ""},
		{"enterprise publisher and app, site target", &acmeFinLon, Scope{}, Scope{}, true, ""},
		{"target wider than publisher", &acme, acmeFin, acme, false, "guardrail.within-publisher"},
		{"sibling BU of publisher", &acmeHRBer, acmeFin, acme, false, "guardrail.within-publisher"},
		{"sibling site", &acmeFinPar, acmeFinLon, acme, false, "guardrail.within-publisher"},
		{"outside app scope", &acmeHR, acme, acmeFin, false, "guardrail.within-app"},
		{"cross acquisition", &globexOpsNY, Scope{}, acme, false, "guardrail.within-app"},
		{"BU-A app into BU-B", &acmeHRBer, acme, acmeFin, false, "guardrail.within-app"},
		{"undeclared scope", nil, Scope{}, Scope{}, false, "guardrail.scope-declared"},
		{"enterprise-wide target refused", &Scope{}, Scope{}, Scope{}, false, "guardrail.scope-declared"},
		{"malformed target", &Scope{Site: "lon"}, Scope{}, Scope{}, false, "guardrail.scope-valid"},
	} {
		d := CheckTargetScope(tc.target, tc.publisher, tc.app)
		if d.Allowed != tc.want || (tc.fail != "" && !slices.Contains(d.Failed(), tc.fail)) {
			t.Errorf("%s: allowed %v failed %v", tc.name, d.Allowed, d.Failed())
		}
	}
}

// Property: the guardrail allows exactly when target is declared and is a
// subset of both scopes, over every combination of the fixture scopes.
func TestCheckTargetScopeExhaustive(t *testing.T) {
	scopes := []Scope{{}, acme, acmeFin, acmeFinLon, acmeFinPar, acmeHR, acmeHRBer, globex, globexOpsNY}
	for _, tg := range scopes {
		for _, p := range scopes {
			for _, a := range scopes {
				target := tg
				want := tg.Acquisition != "" && p.Contains(tg) && a.Contains(tg)
				if got := CheckTargetScope(&target, p, a).Allowed; got != want {
					t.Fatalf("target %s publisher %s app %s: %v want %v", tg, p, a, got, want)
				}
			}
		}
	}
}

func TestDiffScope(t *testing.T) {
	d := DiffScope(acmeFin, acme, inventory)
	want := ScopeDiff{Previous: acmeFin, Requested: acme, Change: "widened",
		Before: BlastRadius{Sites: 2, BUs: 1, Devices: 200}, After: BlastRadius{Sites: 3, BUs: 2, Devices: 500},
		SitesAdded: []string{"ber"}, SitesRemoved: []string{},
		Summary: "scope acquisition=acme,bu=fin -> acquisition=acme (widened): sites 2 -> 3 (+1 -0), business units 1 -> 2, devices 200 -> 500"}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("%+v", d)
	}
	if d := DiffScope(acme, acmeFinLon, inventory); d.Change != "narrowed" || !reflect.DeepEqual(d.SitesRemoved, []string{"ber", "par"}) {
		t.Fatalf("%+v", d)
	}
	if d := DiffScope(acmeFin, globex, inventory); d.Change != "moved" || len(d.SitesAdded) != 1 || len(d.SitesRemoved) != 2 {
		t.Fatalf("%+v", d)
	}
	if d := DiffScope(acme, acme, inventory); d.Change != "unchanged" {
		t.Fatalf("%+v", d)
	}
}

func TestChangeAppScope(t *testing.T) {
	app := fixtureApp()
	app.AllowedScope = acmeFin
	ok := fixtureCAB(ScopeChangeSubject(app.ID, 2))
	got, diff, d := ChangeAppScope(app, acme, "rita", ok, inventory, t0)
	if !d.Allowed || got.AllowedScope != acme || got.ScopeVersion != 2 || diff.Change != "widened" || app.ScopeVersion != 1 {
		t.Fatalf("%+v %+v %v", got, diff, d.Reasons())
	}
	for _, tc := range []struct {
		name      string
		appr      *ApprovalRecord
		req       Scope
		requester string
		at        time.Time
		fail      string
	}{
		{"no CAB approval", nil, acme, "rita", t0, "cab.present"},
		{"approval for the wrong version", fixtureCAB(ScopeChangeSubject(app.ID, 3)), acme, "rita", t0, "cab.subject"},
		{"approval expired", ok, acme, "rita", ok.ExpiresAt, "cab.not-expired"},
		{"no change", ok, acmeFin, "rita", t0, "scope-change.differs"},
		{"invalid scope", ok, Scope{BU: "x"}, "rita", t0, "scope-change.valid"},
		{"approval given for someone else's request", ok, acme, "eve", t0, "cab.requester"},
		{"approver asks for the change", ok, acme, "carol", t0, "cab.not-requester"},
	} {
		got, _, d := ChangeAppScope(app, tc.req, tc.requester, tc.appr, inventory, tc.at)
		if d.Allowed || !slices.Contains(d.Failed(), tc.fail) || got.ScopeVersion != 1 || got.AllowedScope != acmeFin {
			t.Errorf("%s: %v %v %+v", tc.name, d.Allowed, d.Failed(), got)
		}
		if err := d.Err("scope change"); err == nil || !strings.Contains(err.Error(), "scope change denied") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
