package deploy

import (
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"time"
)

func passingPromotion(t *testing.T, ring Ring) PromotionInput {
	return PromotionInput{IntentID: "i-100", Ring: ring, SiteClass: SiteOnline, InstallAttempts: 1000, InstallSuccesses: 1000,
		TimeToCompliance: 20 * time.Hour, Planes: []string{"intune", "sccm"}, RollbackValidated: []string{"sccm", "intune"},
		Risk: fixtureRisk(t, ring, 0.3, false), EvidenceStored: true}
}

func TestInstallSuccessThresholds(t *testing.T) {
	// EUCORA-architecture.md section 10.2: Ring 1 >= 98%, Ring 2 >= 97%, Rings 3-4 >= 99%.
	for _, tc := range []struct {
		ring                Ring
		successes, attempts int
		want                bool
	}{
		{Ring1Canary, 98, 100, true},
		{Ring1Canary, 97, 100, false},
		{Ring1Canary, 9799, 10000, false}, // 97.99% is not 98%
		{Ring1Canary, 49, 50, true},       // 98% exactly
		{Ring2Pilot, 97, 100, true},
		{Ring2Pilot, 96, 100, false},
		{Ring2Pilot, 9699, 10000, false},
		{Ring3Department, 99, 100, true},
		{Ring3Department, 98, 100, false},
		{Ring4Global, 99, 100, true},
		{Ring4Global, 9899, 10000, false},
		{Ring0Lab, 100, 100, true},
		{Ring0Lab, 99, 100, false},
		{Ring2Pilot, 0, 0, false},     // nothing measured
		{Ring2Pilot, 101, 100, false}, // impossible measurement
	} {
		in := passingPromotion(t, tc.ring)
		in.InstallSuccesses, in.InstallAttempts = tc.successes, tc.attempts
		d := EvaluatePromotion(in, t0)
		if d.Allowed != tc.want {
			t.Errorf("%s %d/%d: %v %v", tc.ring, tc.successes, tc.attempts, d.Allowed, d.Reasons())
		}
		if !tc.want && !slices.Contains(d.Failed(), "promotion.install-success") {
			t.Errorf("%s %d/%d: failed %v", tc.ring, tc.successes, tc.attempts, d.Failed())
		}
	}
	for r, want := range map[Ring]int{1: 98, 2: 97, 3: 99, 4: 99} {
		if got := InstallSuccessThreshold(r); got != want {
			t.Errorf("%s threshold %d want %d", r, got, want)
		}
	}
}

func TestTimeToCompliance(t *testing.T) {
	// EUCORA-architecture.md section 10.2: online <= 24h, intermittent <= 72h, air-gapped <= 7d.
	for _, tc := range []struct {
		class  SiteClass
		ttc    time.Duration
		window time.Duration
		want   bool
	}{
		{SiteOnline, 24 * time.Hour, 0, true},
		{SiteOnline, 24*time.Hour + time.Second, 0, false},
		{SiteIntermittent, 72 * time.Hour, 0, true},
		{SiteIntermittent, 72*time.Hour + time.Second, 0, false},
		{SiteAirGapped, 7 * 24 * time.Hour, 0, true},
		{SiteAirGapped, 7*24*time.Hour + time.Second, 0, false},
		{SiteAirGapped, 9 * 24 * time.Hour, 10 * 24 * time.Hour, true}, // next approved transfer window
		{SiteAirGapped, 11 * 24 * time.Hour, 10 * 24 * time.Hour, false},
		{SiteOnline, 30 * time.Hour, 40 * time.Hour, false}, // windows apply to air-gapped sites only
		{SiteOnline, 0, 0, false},                           // not measured
		{"lunar", time.Hour, 0, false},
	} {
		in := passingPromotion(t, Ring2Pilot)
		in.SiteClass, in.TimeToCompliance, in.TransferWindow = tc.class, tc.ttc, tc.window
		d := EvaluatePromotion(in, t0)
		if d.Allowed != tc.want || (!tc.want && !slices.Contains(d.Failed(), "promotion.time-to-compliance")) {
			t.Errorf("%s %s window %s: %v %v", tc.class, tc.ttc, tc.window, d.Allowed, d.Reasons())
		}
	}
	for c, want := range map[SiteClass]time.Duration{SiteOnline: 24 * time.Hour, SiteIntermittent: 72 * time.Hour, SiteAirGapped: 168 * time.Hour} {
		if got, ok := TimeToCompliance(c); !ok || got != want {
			t.Errorf("%s: %v", c, got)
		}
	}
}

func TestPromotionOtherGates(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*PromotionInput)
		fail string
	}{
		{"attributable incident", func(in *PromotionInput) { in.AttributableIncidents = 1 }, "promotion.no-incident"},
		{"rollback not validated for one plane", func(in *PromotionInput) { in.RollbackValidated = []string{"intune"} }, "promotion.rollback-validated"},
		{"no planes", func(in *PromotionInput) { in.Planes = nil }, "promotion.rollback-validated"},
		{"evidence store unavailable", func(in *PromotionInput) { in.EvidenceStored = false }, "promotion.evidence-stored"},
		{"no assessment", func(in *PromotionInput) { in.Risk = nil }, "promotion.cab"},
		{"high risk into Ring 3 without CAB", func(in *PromotionInput) { in.Risk = fixtureRisk(t, Ring3Department, 0.6, false) }, "promotion.cab.present"},
		{"privileged tooling without CAB", func(in *PromotionInput) { in.Risk = fixtureRisk(t, Ring3Department, 0.1, true) }, "promotion.cab.present"},
		{"CAB approval expired", func(in *PromotionInput) {
			in.Risk = fixtureRisk(t, Ring3Department, 0.6, false)
			in.CABApproval = fixtureCAB(Subject(SubjectIntent, "i-100"))
			in.CABApproval.ExpiresAt = t0
		}, "promotion.cab.not-expired"},
		{"invalid ring", func(in *PromotionInput) { in.Ring = 9 }, "promotion.ring"},
	} {
		in := passingPromotion(t, Ring2Pilot)
		tc.mut(&in)
		d := EvaluatePromotion(in, t0)
		if d.Allowed || !slices.Contains(d.Failed(), tc.fail) {
			t.Errorf("%s: %v %v", tc.name, d.Allowed, d.Failed())
		}
	}
	// Every failing gate is reported at once.
	in := passingPromotion(t, Ring1Canary)
	in.InstallSuccesses, in.TimeToCompliance, in.AttributableIncidents, in.RollbackValidated = 900, 48*time.Hour, 2, nil
	d := EvaluatePromotion(in, t0)
	if want := []string{"promotion.install-success", "promotion.time-to-compliance", "promotion.no-incident", "promotion.rollback-validated"}; !slices.Equal(d.Failed(), want) {
		t.Fatalf("failed %v want %v", d.Failed(), want)
	}
	// High risk from Ring 1 to Ring 2 passes with a valid CAB approval.
	in = passingPromotion(t, Ring1Canary)
	in.Risk = fixtureRisk(t, Ring2Pilot, 0.6, false)
	in.CABApproval = fixtureCAB(Subject(SubjectIntent, "i-100"))
	if d := EvaluatePromotion(in, t0); !d.Allowed {
		t.Fatal(d.Reasons())
	}
	// High risk from Ring 0 to Ring 1 needs no CAB (bypassed at Canary).
	in = passingPromotion(t, Ring0Lab)
	in.Risk = fixtureRisk(t, Ring1Canary, 0.9, false)
	if d := EvaluatePromotion(in, t0); !d.Allowed {
		t.Fatal(d.Reasons())
	}
}

// Property: the promotion gate is monotonic in install successes and
// antitone in time-to-compliance, and deterministic.
func TestPromotionProperties(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	classes := []SiteClass{SiteOnline, SiteIntermittent, SiteAirGapped}
	for i := 0; i < 2000; i++ {
		in := passingPromotion(t, Ring(r.Intn(5)))
		in.InstallAttempts = 1 + r.Intn(5000)
		in.InstallSuccesses = r.Intn(in.InstallAttempts + 1)
		in.SiteClass = classes[r.Intn(3)]
		in.TimeToCompliance = time.Duration(1+r.Intn(10*24*3600)) * time.Second
		d := EvaluatePromotion(in, t0)
		if !reflect.DeepEqual(d, EvaluatePromotion(in, t0)) {
			t.Fatal("not deterministic")
		}
		better := in
		better.InstallSuccesses += r.Intn(in.InstallAttempts - in.InstallSuccesses + 1)
		better.TimeToCompliance -= time.Duration(r.Int63n(int64(in.TimeToCompliance)))
		if d.Allowed && !EvaluatePromotion(better, t0).Allowed {
			t.Fatalf("better results failed: %+v -> %+v", in, better)
		}
		th := InstallSuccessThreshold(in.Ring)
		limit, _ := TimeToCompliance(in.SiteClass)
		want := float64(in.InstallSuccesses)/float64(in.InstallAttempts)*100 >= float64(th)-1e-9 && in.TimeToCompliance <= limit
		if d.Allowed != want && !(float64(in.InstallSuccesses)*100 == float64(th*in.InstallAttempts)) {
			t.Fatalf("allowed %v want %v for %+v", d.Allowed, want, in)
		}
	}
}
