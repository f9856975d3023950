package deploy

import (
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// cleanObject returns an object on which every SoD rule other than RBAC is
// satisfied for action a by principal "alex": someone else requested and
// packaged it, stage targets Ring 0, publish targets Ring 2 with a valid
// CAB approval by someone else.
func cleanObject(a Action) Object {
	o := Object{Kind: "intent", ID: "i-100", Scope: acmeFin, RequestedBy: "rita", PackagedBy: "pat", Ring: Ring2Pilot}
	switch a {
	case ActionStage:
		o.Ring = Ring0Lab
	case ActionPublish:
		o.CABRequired = true
		o.CABApproval = fixtureCAB(Subject(SubjectIntent, "i-100"))
	}
	return o
}

// TestSoDMatrix checks every role x action on a clean object (EUCORA-architecture.md section 5.5,
// 12, 14.1). "x" marks an allowed pair.
func TestSoDMatrix(t *testing.T) {
	matrix := map[Role]string{
		//                     read req pkg stg apr pub ret rqx apx scp cfg rem elv
		RolePlatformAdmin:     "x    .   .   .   .   .   .   .   .   .   x   .   .",
		RolePackagingEngineer: "x    x   x   x   .   .   .   x   .   .   .   .   .",
		RolePublisher:         "x    .   .   .   .   x   x   x   .   .   .   .   .",
		RoleCABApprover:       "x    .   .   .   x   .   .   .   .   .   .   .   .",
		RoleSecurityReviewer:  "x    .   .   .   .   .   .   .   x   .   .   .   .",
		RoleEndpointOps:       "x    x   .   .   .   .   .   .   .   x   .   x   x",
		RoleAuditor:           "x    .   .   .   .   .   .   .   .   .   .   .   .",
	}
	cells := 0
	for _, r := range Roles {
		marks := strings.Fields(matrix[r])
		if len(marks) != len(Actions) {
			t.Fatalf("matrix row %s has %d cells, want %d", r, len(marks), len(Actions))
		}
		for i, a := range Actions {
			cells++
			want := marks[i] == "x"
			p := Principal{ID: "alex", Role: r, Scope: acme}
			d := Authorize(p, a, cleanObject(a), t0)
			if d.Allowed != want {
				t.Errorf("%s %s: allowed %v, want %v: %v", r, a, d.Allowed, want, d.Reasons())
			}
			if len(d.Checks) == 0 || (d.Allowed == false && len(d.Reasons()) == 0) {
				t.Errorf("%s %s: no explanation", r, a)
			}
			if r == RoleAuditor && a != ActionRead && !slices.Contains(d.Failed(), "rbac.action") {
				t.Errorf("auditor %s: %v", a, d.Failed())
			}
		}
	}
	if cells != 7*13 {
		t.Fatalf("%d cells", cells)
	}
}

func TestSoDRules(t *testing.T) {
	pub := Principal{ID: "paula", Role: RolePublisher, Scope: acme}
	for _, tc := range []struct {
		name string
		p    Principal
		a    Action
		mut  func(*Object)
		fail string
	}{
		{"packaging engineer never publishes to production", Principal{ID: "pat2", Role: RolePackagingEngineer, Scope: acme}, ActionPublish, nil, "sod.packaging-no-production"},
		{"packaging engineer stages only Ring 0", Principal{ID: "pat2", Role: RolePackagingEngineer, Scope: acme}, ActionStage, func(o *Object) { o.Ring = Ring1Canary }, "sod.staging-only"},
		{"CAB approver cannot approve own request", Principal{ID: "rita", Role: RoleCABApprover, Scope: acme}, ActionApprove, nil, "sod.no-self-approval"},
		{"security reviewer cannot approve own exception", Principal{ID: "rita", Role: RoleSecurityReviewer, Scope: acme}, ActionApproveException, nil, "sod.no-self-approval"},
		{"packager cannot approve their artifact", Principal{ID: "pat", Role: RoleCABApprover, Scope: acme}, ActionApprove, nil, "sod.packager-separation"},
		{"packager cannot publish their artifact", Principal{ID: "pat", Role: RolePublisher, Scope: acme}, ActionPublish, nil, "sod.packager-separation"},
		{"CAB approver cannot publish what they approved", Principal{ID: "carol", Role: RolePublisher, Scope: acme}, ActionPublish, nil, "sod.cab-not-publisher"},
		{"publisher out of scope", Principal{ID: "paula", Role: RolePublisher, Scope: acmeHR}, ActionPublish, nil, "rbac.scope"},
		{"publisher without CAB approval", pub, ActionPublish, func(o *Object) { o.CABApproval = nil }, "publish.cab.present"},
		{"publisher with expired CAB approval", pub, ActionPublish, func(o *Object) { o.CABApproval.ExpiresAt = t0 }, "publish.cab.not-expired"},
		{"publisher with approval for another intent", pub, ActionPublish, func(o *Object) { o.CABApproval.Subject = "intent:i-1" }, "publish.cab.subject"},
		{"auditor cannot write", Principal{ID: "audrey", Role: RoleAuditor, Scope: Scope{}}, ActionApprove, nil, "rbac.action"},
		{"unknown action", pub, "delete", nil, "rbac.action"},
		{"approval with unknown requester", Principal{ID: "carol", Role: RoleCABApprover, Scope: acme}, ActionApprove, func(o *Object) { o.RequestedBy = "" }, "sod.no-self-approval"},
		{"publish with unknown packager", pub, ActionPublish, func(o *Object) { o.PackagedBy = "" }, "publish.packager-known"},
		{"unknown role", Principal{ID: "x", Role: "root", Scope: acme}, ActionRead, nil, "rbac.role"},
		{"malformed principal scope", Principal{ID: "x", Role: RoleAuditor, Scope: Scope{BU: "fin"}}, ActionRead, nil, "rbac.role"},
	} {
		obj := cleanObject(tc.a)
		if tc.mut != nil {
			tc.mut(&obj)
		}
		d := Authorize(tc.p, tc.a, obj, t0)
		if d.Allowed || !slices.Contains(d.Failed(), tc.fail) {
			t.Errorf("%s: allowed %v failed %v", tc.name, d.Allowed, d.Failed())
		}
		if err := d.Err(fmt.Sprintf("%s %s", tc.a, obj.ID)); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	// Publishing where CAB is not required needs no approval.
	obj := cleanObject(ActionPublish)
	obj.CABRequired, obj.CABApproval = false, nil
	if d := Authorize(pub, ActionPublish, obj, t0); !d.Allowed {
		t.Fatal(d.Reasons())
	}
	// Auditors with enterprise scope read everything.
	if d := Authorize(Principal{ID: "audrey", Role: RoleAuditor}, ActionRead, Object{Kind: "event", ID: "e-1", Scope: globexOpsNY}, t0); !d.Allowed {
		t.Fatal(d.Reasons())
	}
}

// Property: over random principals and objects, an allowed decision never
// breaks a separation-of-duties invariant.
func TestAuthorizeProperties(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	ids := []string{"pat", "rita", "carol", "paula", "sam"}
	scopes := []Scope{{}, acme, acmeFin, acmeFinLon, acmeHR, globex}
	pick := func(xs []string) string { return xs[r.Intn(len(xs))] }
	for i := 0; i < 5000; i++ {
		p := Principal{ID: pick(ids), Role: Roles[r.Intn(len(Roles))], Scope: scopes[r.Intn(len(scopes))]}
		a := Actions[r.Intn(len(Actions))]
		o := Object{Kind: "intent", ID: "i-100", Scope: scopes[r.Intn(len(scopes))], RequestedBy: pick(ids), PackagedBy: pick(ids),
			Ring: Ring(r.Intn(5)), CABRequired: r.Intn(2) == 0}
		if r.Intn(2) == 0 {
			o.CABApproval = fixtureCAB(Subject(SubjectIntent, "i-100"))
			o.CABApproval.Approver = pick(ids)
		}
		at := t0.Add(time.Duration(r.Intn(60*24)-24) * time.Hour)
		d := Authorize(p, a, o, at)
		again := Authorize(p, a, o, at)
		if !reflect.DeepEqual(d, again) {
			t.Fatal("not deterministic")
		}
		if !d.Allowed {
			continue
		}
		switch {
		case !p.Scope.Contains(o.Scope):
			t.Fatalf("allowed out of scope: %+v %s %+v", p, a, o)
		case p.Role == RoleAuditor && a != ActionRead:
			t.Fatalf("auditor wrote: %s", a)
		case a == ActionPublish && p.Role != RolePublisher:
			t.Fatalf("%s published", p.Role)
		case (a == ActionApprove || a == ActionApproveException) && (p.ID == o.RequestedBy || p.ID == o.PackagedBy || o.RequestedBy == ""):
			t.Fatalf("self or packager approval: %+v %+v", p, o)
		case a == ActionPublish && p.ID == o.PackagedBy:
			t.Fatalf("packager published")
		case a == ActionPublish && o.CABRequired && (o.CABApproval == nil || o.CABApproval.Approver == p.ID || !o.CABApproval.CheckCAB("intent:i-100", at).Allowed):
			t.Fatalf("published without a valid independent CAB approval")
		case a == ActionStage && o.Ring != Ring0Lab:
			t.Fatalf("staged into production")
		}
	}
}

// TestSoDTwoRolePersonMatrix tries "alex", who holds a requesting role and
// an approving role (two principals with one id), on every subject kind
// where an approval is given or used: for each kind, alex approving alex's
// own request must be refused, and carol approving it must hold.
func TestSoDTwoRolePersonMatrix(t *testing.T) {
	cab := Principal{ID: "alex", Role: RoleCABApprover, Scope: acme}
	sec := Principal{ID: "alex", Role: RoleSecurityReviewer, Scope: acme}
	byAlex := func(subject, requester string) *ApprovalRecord {
		a := fixtureCAB(subject)
		a.Approver, a.RequestedBy = "alex", requester
		return a
	}
	forAlex := func(subject string) *ApprovalRecord {
		a := fixtureCAB(subject)
		a.RequestedBy = "alex"
		return a
	}
	intent := fixtureIntent()
	intent.RequestedBy = "alex"
	other := fixtureIntent()
	other.ID = "i-099"
	app := fixtureApp()
	elev := passingElevation()
	elev.Principal.ID = "alex"
	elev.App.Privileged = true
	failing := passingPublish(t)
	failing.Artifact.ScanDecision = ScanFail
	failing.Intent.Ring = Ring0Lab
	failing.Principal = Principal{ID: "alex", Role: RolePackagingEngineer, Scope: acme}
	failing.Risk = fixtureRisk(t, Ring0Lab, 0.3, false)

	type kase struct {
		kind, name string
		want       bool
		rule       string // a failed rule when refused
		run        func() Decision
	}
	var cases []kase
	add := func(kind, name string, want bool, rule string, run func() Decision) {
		cases = append(cases, kase{kind, name, want, rule, run})
	}
	// intent: the approval is judged with the stored intent's requester, and checked again at publish.
	add("intent", "alex approves alex's intent", false, "sod.no-self-approval", func() Decision {
		return Authorize(cab, ActionApprove, Object{Kind: "intent", ID: intent.ID, Scope: acmeFin, RequestedBy: "alex"}, t0)
	})
	add("intent", "carol approves alex's intent", true, "", func() Decision {
		return Authorize(Principal{ID: "carol", Role: RoleCABApprover, Scope: acme}, ActionApprove, Object{Kind: "intent", ID: intent.ID, Scope: acmeFin, RequestedBy: "alex"}, t0)
	})
	add("intent", "publish on alex's approval naming rita", false, "publish.cab.not-requester", func() Decision {
		return Authorize(Principal{ID: "paula", Role: RolePublisher, Scope: acme}, ActionPublish, Object{Kind: "intent", ID: "i-100", Scope: acmeFin,
			RequestedBy: "alex", PackagedBy: "pat", Ring: Ring2Pilot, CABRequired: true, CABApproval: byAlex(Subject(SubjectIntent, "i-100"), "rita")}, t0)
	})
	// concurrency: used at intent creation by its requester.
	add("concurrency", "alex's approval naming rita", false, "concurrency.cab.not-requester", func() Decision {
		return CheckConcurrency(intent, []Intent{other}, byAlex(Subject(SubjectConcurrency, intent.ID), "rita"), t0)
	})
	add("concurrency", "alex's approval of alex", false, "concurrency.cab.not-self", func() Decision {
		return CheckConcurrency(intent, []Intent{other}, byAlex(Subject(SubjectConcurrency, intent.ID), "alex"), t0)
	})
	add("concurrency", "carol's approval for alex", true, "", func() Decision {
		return CheckConcurrency(intent, []Intent{other}, forAlex(Subject(SubjectConcurrency, intent.ID)), t0)
	})
	// scope-change: used by the endpoint-ops requester.
	add("scope-change", "alex's approval naming rita", false, "cab.not-requester", func() Decision {
		_, _, d := ChangeAppScope(app, acmeFin, "alex", byAlex(ScopeChangeSubject(app.ID, 2), "rita"), inventory, t0)
		return d
	})
	add("scope-change", "alex's approval of alex", false, "cab.not-self", func() Decision {
		_, _, d := ChangeAppScope(app, acmeFin, "alex", byAlex(ScopeChangeSubject(app.ID, 2), "alex"), inventory, t0)
		return d
	})
	add("scope-change", "carol's approval for alex", true, "", func() Decision {
		_, _, d := ChangeAppScope(app, acmeFin, "alex", forAlex(ScopeChangeSubject(app.ID, 2)), inventory, t0)
		return d
	})
	// elevation: used by the requester.
	add("elevation", "alex's approval naming rita", false, "jit.cab-not-self", func() Decision {
		r := elev
		r.CABApproval = byAlex(Subject(SubjectElevation, r.ID), "rita")
		return EvaluateElevation(r, DefaultElevationPolicy, t0).Decision
	})
	add("elevation", "carol's approval for alex", true, "", func() Decision {
		r := elev
		r.CABApproval = forAlex(Subject(SubjectElevation, r.ID))
		return EvaluateElevation(r, DefaultElevationPolicy, t0).Decision
	})
	// exception: judged with the intent's requester, and not usable by its approver.
	add("exception", "alex approves an exception alex requested", false, "sod.no-self-approval", func() Decision {
		return Authorize(sec, ActionApproveException, Object{Kind: "exception", ID: "ex-1", Scope: acmeFin, RequestedBy: "alex", PackagedBy: "pat"}, t0)
	})
	add("exception", "sam approves an exception alex requested", true, "", func() Decision {
		return Authorize(Principal{ID: "sam", Role: RoleSecurityReviewer, Scope: acme}, ActionApproveException, Object{Kind: "exception", ID: "ex-1", Scope: acmeFin, RequestedBy: "alex", PackagedBy: "pat"}, t0)
	})
	add("exception", "alex publishes on an exception alex approved", false, "sod.exception-not-publisher", func() Decision {
		r := failing
		ex := fixtureException()
		ex.ApprovedBy, ex.RequestedBy = "alex", "rita"
		r.Exception = ex
		return DecidePublish(r, t0)
	})
	// version: the lifecycle approval is judged with the stored version requester.
	add("version", "alex approves a version alex requested", false, "sod.no-self-approval", func() Decision {
		return Authorize(cab, ActionApprove, Object{Kind: "version", ID: "com.acme.ledger@2.4.1", Scope: acme, RequestedBy: "alex", PackagedBy: "pat", Ring: Ring0Lab}, t0)
	})
	kinds := map[string]bool{}
	for _, c := range cases {
		kinds[c.kind] = true
		d := c.run()
		if d.Allowed != c.want {
			t.Errorf("%s: %s: allowed %v, want %v: %v", c.kind, c.name, d.Allowed, c.want, d.Reasons())
		}
		if !c.want && !slices.Contains(d.Failed(), c.rule) {
			t.Errorf("%s: %s: failed %v, want %s among them", c.kind, c.name, d.Failed(), c.rule)
		}
	}
	for _, k := range append(slices.Clone(SubjectKinds), "exception", "version") {
		if !kinds[k] {
			t.Errorf("subject kind %s not tried", k)
		}
	}
}
