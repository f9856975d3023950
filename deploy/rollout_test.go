package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestChoosePlane(t *testing.T) {
	all := func(string) bool { return true }
	only := func(kinds ...string) func(string) bool {
		return func(k string) bool { return slices.Contains(kinds, k) }
	}
	for _, tc := range []struct {
		p     Platform
		class SiteClass
		have  func(string) bool
		want  string // "" expects ErrNoPlane
	}{
		{PlatformMSI, SiteOnline, all, PlaneIntune},
		{PlatformIntuneW, SiteIntermittent, all, PlaneIntune},
		{PlatformMSI, SiteIntermittent, only(PlaneSCCM), PlaneSCCM},
		{PlatformMSI, SiteAirGapped, all, PlaneSCCM},
		{PlatformMSI, SiteAirGapped, only(PlaneIntune), ""}, // SCCM DP is mandatory offline
		{PlatformPKG, SiteOnline, all, PlaneIntune},
		{PlatformPKG, SiteOnline, only(PlaneJamf), PlaneJamf},
		{PlatformDMG, SiteIntermittent, all, PlaneJamf},
		{PlatformPKG, SiteAirGapped, only(PlaneIntune), ""},
		{PlatformDeb, SiteAirGapped, all, PlaneLandscape},
		{PlatformDeb, SiteOnline, only(PlaneAWX), PlaneAWX},
		{PlatformIPA, SiteOnline, all, PlaneIntune},
		{PlatformAPK, SiteAirGapped, all, ""},
		{PlatformDeb, SiteOnline, only(), ""},
	} {
		c, err := ChoosePlane(tc.p, tc.class, tc.have)
		if tc.want == "" {
			if !errors.Is(err, ErrNoPlane) {
				t.Errorf("%s %s: %+v %v, want ErrNoPlane", tc.p, tc.class, c, err)
			}
			continue
		}
		if err != nil || c.Kind != tc.want || !strings.Contains(c.Reason, "EUCORA-architecture.md section") {
			t.Errorf("%s %s: %+v %v, want %s", tc.p, tc.class, c, err, tc.want)
		}
	}
	if _, err := ChoosePlane(PlatformMSI, "lunar", all); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("unknown class: %v", err)
	}
}

func results(publish time.Time, installed, failed, pending int, step time.Duration) []DeviceResult {
	var out []DeviceResult
	for i := range installed {
		out = append(out, DeviceResult{Device: fmt.Sprintf("d%04d", i), Outcome: OutcomeInstalled, At: publish.Add(time.Duration(i+1) * step)})
	}
	for i := range failed {
		out = append(out, DeviceResult{Device: fmt.Sprintf("f%04d", i), Outcome: OutcomeFailed, At: publish.Add(step)})
	}
	for i := range pending {
		out = append(out, DeviceResult{Device: fmt.Sprintf("p%04d", i), Outcome: OutcomePending})
	}
	return out
}

func TestMeasureRing(t *testing.T) {
	pub := t0
	// Ring 1 needs 98%: of 100 devices the 98th install (at 98 minutes) reaches it.
	m := MeasureRing(Ring1Canary, SiteOnline, pub, pub.Add(3*time.Hour), results(pub, 99, 1, 0, time.Minute))
	if m.Targeted != 100 || m.Installed != 99 || m.Failed != 1 || m.TimeToCompliance != 98*time.Minute || !m.Compliant() || !m.Reachable() {
		t.Fatalf("%+v", m)
	}
	// 97 installed of 100 with 3 pending: not yet compliant, still reachable.
	m = MeasureRing(Ring1Canary, SiteOnline, pub, pub.Add(time.Hour), results(pub, 97, 0, 3, time.Minute))
	if m.Compliant() || !m.Reachable() || m.Waiting != 3 {
		t.Fatalf("%+v", m)
	}
	// 3 failed of 100: 98% is out of reach.
	m = MeasureRing(Ring1Canary, SiteOnline, pub, pub.Add(time.Hour), results(pub, 10, 3, 87, time.Minute))
	if m.Reachable() {
		t.Fatalf("%+v", m)
	}
	// Not-applicable devices do not count; a device reported twice counts once (last wins).
	rs := append(results(pub, 2, 0, 0, time.Minute), DeviceResult{Device: "na", Outcome: OutcomeNotApplicable},
		DeviceResult{Device: "d0000", Outcome: OutcomeFailed, At: pub.Add(time.Hour)})
	m = MeasureRing(Ring2Pilot, SiteOnline, pub, pub.Add(time.Hour), rs)
	if m.Targeted != 2 || m.Installed != 1 || m.Failed != 1 || m.NotApplicable != 1 {
		t.Fatalf("%+v", m)
	}
	// A report dated before the publish still measures (at least one second).
	m = MeasureRing(Ring0Lab, SiteOnline, pub, pub, []DeviceResult{{Device: "x", Outcome: OutcomeInstalled, At: pub.Add(-time.Minute)}})
	if m.TimeToCompliance != time.Second {
		t.Fatalf("%+v", m)
	}
	// Nothing reported.
	if m := MeasureRing(Ring3Department, SiteOnline, pub, pub, nil); m.Targeted != 0 || m.Compliant() || m.Reachable() {
		t.Fatalf("%+v", m)
	}
}

func gateFor(t *testing.T, ring Ring, m RingMeasure) RingGate {
	t.Helper()
	return RingGate{IntentID: "i-100", Measure: m, Planes: []string{PlaneIntune}, RollbackValidated: []string{PlaneIntune},
		Risk: fixtureRisk(t, ring, 0.3, false), EvidenceStored: true}
}

func TestJudgeRing(t *testing.T) {
	pub := t0
	at := pub.Add(3 * time.Hour)
	measure := func(ring Ring, class SiteClass, at time.Time, installed, failed, pending int, step time.Duration) RingMeasure {
		return MeasureRing(ring, class, pub, at, results(pub, installed, failed, pending, step))
	}
	for _, tc := range []struct {
		name string
		g    func() RingGate
		want GateVerdict
		rule string // a rule the reasons must name
	}{
		{"all installed", func() RingGate {
			return gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, at, 100, 0, 0, time.Minute))
		}, GatePass, ""},
		{"still reporting", func() RingGate {
			return gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, at, 50, 0, 50, time.Minute))
		},
			GateWait, "promotion.time-to-compliance"},
		{"unreachable", func() RingGate {
			return gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, at, 50, 3, 47, time.Minute))
		},
			GateFail, "promotion.install-success"},
		{"below threshold, all reported", func() RingGate {
			return gateFor(t, Ring3Department, measure(Ring3Department, SiteOnline, at, 98, 2, 0, time.Minute))
		}, GateFail, "promotion.install-success"},
		{"late", func() RingGate {
			return gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, pub.Add(30*time.Hour), 100, 0, 0, 15*time.Minute))
		}, GateFail, "promotion.time-to-compliance"},
		{"past target, not compliant", func() RingGate {
			return gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, pub.Add(25*time.Hour), 50, 0, 50, time.Minute))
		}, GateFail, "promotion.time-to-compliance"},
		{"air-gapped inside 7d", func() RingGate {
			return gateFor(t, Ring1Canary, measure(Ring1Canary, SiteAirGapped, pub.Add(5*24*time.Hour), 50, 0, 50, time.Minute))
		}, GateWait, "promotion.time-to-compliance"},
		{"incident", func() RingGate {
			g := gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, at, 100, 0, 0, time.Minute))
			g.AttributableIncidents = 1
			return g
		}, GateFail, "promotion.no-incident"},
		{"rollback not validated", func() RingGate {
			g := gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, at, 100, 0, 0, time.Minute))
			g.RollbackValidated = nil
			return g
		}, GateWait, "promotion.rollback-validated"},
		{"evidence store down", func() RingGate {
			g := gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, at, 100, 0, 0, time.Minute))
			g.EvidenceStored = false
			return g
		}, GateWait, "promotion.evidence-stored"},
		{"risk over 50 waits for CAB beyond Ring 1", func() RingGate {
			g := gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, at, 100, 0, 0, time.Minute))
			g.Risk = fixtureRisk(t, Ring1Canary, 0.9, false)
			return g
		}, GateWait, "promotion.cab"},
		{"privileged tooling waits for CAB", func() RingGate {
			g := gateFor(t, Ring0Lab, measure(Ring0Lab, SiteOnline, at, 10, 0, 0, time.Minute))
			g.Risk = fixtureRisk(t, Ring0Lab, 0.1, true)
			return g
		}, GateWait, "promotion.cab"},
		{"no device yet", func() RingGate {
			return gateFor(t, Ring1Canary, measure(Ring1Canary, SiteOnline, at, 0, 0, 0, time.Minute))
		},
			GateWait, "promotion.install-success"},
	} {
		g := tc.g()
		r := JudgeRing(g, pub.Add(g.Measure.Elapsed))
		if r.Verdict != tc.want {
			t.Errorf("%s: verdict %s, want %s (waiting %v, failing %v)", tc.name, r.Verdict, tc.want, r.Waiting, r.Failing)
			continue
		}
		all := strings.Join(append(r.Waiting, r.Failing...), "\n")
		if tc.rule != "" && !strings.Contains(all, tc.rule) {
			t.Errorf("%s: reasons %q do not name %s", tc.name, all, tc.rule)
		}
		if r.Verdict == GatePass && (len(r.Waiting) > 0 || len(r.Failing) > 0 || !r.Decision.Allowed) {
			t.Errorf("%s: pass with reasons %+v", tc.name, r)
		}
	}
}

func TestDetectDrift(t *testing.T) {
	want := Desired{Release: "app@1/ring-1/acme", AppRelease: "app@1/ring-0/", Targets: []string{"g1", "g2"}, OtherTargets: []string{"g0"}}
	if d := DetectDrift(want, Observed{}, nil); len(d) != 1 || d[0].Kind != DriftMissingObject {
		t.Fatalf("%+v", d)
	}
	got := Observed{Held: true, Assigned: []string{"g1", "g0", "g9"},
		Objects: []PlaneObject{{Kind: "app", ID: "1", Release: "app@1/ring-0/"}, {Kind: "app", ID: "2", Release: "app@2/ring-1/acme"}},
		Devices: []DeviceResult{{Device: "a", Outcome: OutcomeInstalled}, {Device: "b", Outcome: OutcomeNotInstalled}, {Device: "c", Outcome: OutcomeNotInstalled}}}
	d := DetectDrift(want, got, map[string]bool{"a": true, "b": true})
	kinds := map[DriftKind][]string{}
	for _, x := range d {
		kinds[x.Kind] = x.Subjects
	}
	if !slices.Equal(kinds[DriftMissingAssignment], []string{"g2"}) || !slices.Equal(kinds[DriftExtraAssignment], []string{"g9"}) ||
		len(kinds[DriftEditedObject]) != 1 || !slices.Equal(kinds[DriftDeviceReverted], []string{"b"}) || len(d) != 4 {
		t.Fatalf("%+v", d)
	}
	// No prior pass: no device reverts; a clean state has no drift.
	clean := Observed{Held: true, Assigned: []string{"g1", "g2"}, Devices: got.Devices}
	if d := DetectDrift(want, clean, nil); len(d) != 0 {
		t.Fatalf("%+v", d)
	}
	// Subjects are bounded, the count is not.
	var many []string
	for i := range 50 {
		many = append(many, fmt.Sprintf("x%02d", i))
	}
	d = DetectDrift(Desired{Release: "r", Targets: many}, Observed{Held: true}, nil)
	if len(d) != 1 || d[0].Count != 50 || len(d[0].Subjects) != MaxDriftSubjects {
		t.Fatalf("%+v", d)
	}
}

func TestDriftPolicy(t *testing.T) {
	p := DriftPolicy{Phase: 2, Rules: []DriftRule{{Family: FamilyLinux, SiteClass: SiteOnline, Mode: DriftEnforce}}}
	if err := p.Validate(); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "Phase 3") {
		t.Fatalf("linux enforce at phase 2: %v", err)
	}
	p.Phase = 3
	p.Rules = append(p.Rules, DriftRule{Family: FamilyLinux, SiteClass: SiteOnline, Acquisition: "acme", Mode: DriftDetect})
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if m, _ := p.Mode(FamilyLinux, SiteOnline, Scope{Acquisition: "other"}); m != DriftEnforce {
		t.Errorf("other acquisition: %s", m)
	}
	if m, _ := p.Mode(FamilyLinux, SiteOnline, Scope{Acquisition: "acme"}); m != DriftDetect {
		t.Errorf("acme (its own rule wins): %s", m)
	}
	if m, why := p.Mode(FamilyWindows, SiteOnline, Scope{}); m != DriftDetect || !strings.Contains(why, "no drift rule") {
		t.Errorf("no rule: %s %s", m, why)
	}
	for _, bad := range []DriftPolicy{{Phase: 4}, {Rules: []DriftRule{{Family: "beos", SiteClass: SiteOnline, Mode: DriftDetect}}},
		{Rules: []DriftRule{{Family: FamilyWindows, SiteClass: "moon", Mode: DriftDetect}}},
		{Rules: []DriftRule{{Family: FamilyWindows, SiteClass: SiteOnline, Mode: "fix"}}},
		{Rules: []DriftRule{{Family: FamilyWindows, SiteClass: SiteOnline, Acquisition: "A B", Mode: DriftDetect}}}} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
