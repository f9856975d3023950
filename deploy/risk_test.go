package deploy

import (
	"errors"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
)

func allFactors(v float64) map[Factor]float64 {
	m := map[Factor]float64{}
	for _, f := range ModelV1.FactorNames() {
		m[f] = v
	}
	return m
}

func TestModelV1WeightsAreTheSeeds(t *testing.T) {
	// EUCORA-architecture.md section 9.2: 20/15/10/10/15/10/10/10, in the architecture document table's order.
	want := []struct {
		f Factor
		w float64
	}{
		{FactorPrivilege, 20}, {FactorSupplyChain, 15}, {FactorExploitability, 10}, {FactorDataAccess, 10},
		{FactorSBOMVulnerability, 15}, {FactorBlastRadius, 10}, {FactorOperationalComplexity, 10}, {FactorHistory, 10},
	}
	if len(ModelV1.Factors) != len(want) {
		t.Fatalf("%d factors, want 8", len(ModelV1.Factors))
	}
	sum := 0.0
	for i, w := range want {
		got := ModelV1.Factors[i]
		if got.Name != w.f || got.Weight != w.w {
			t.Errorf("factor %d = %s/%v, want %s/%v", i, got.Name, got.Weight, w.f, w.w)
		}
		sum += got.Weight
	}
	if sum != 100 || ModelV1.CABThreshold != 50 || ModelV1.CABFreeRing != Ring1Canary {
		t.Errorf("sum %v threshold %v free ring %v", sum, ModelV1.CABThreshold, ModelV1.CABFreeRing)
	}
	m, err := LookupModel("v1.0")
	if err != nil || m != &ModelV1 {
		t.Fatal(m, err)
	}
	if _, err := LookupModel("v9.9"); !errors.Is(err, ErrUnknownModel) {
		t.Fatal(err)
	}
}

func TestSeedRubricValues(t *testing.T) {
	// EUCORA-architecture.md section 9.2.1 values must be present with their meaning.
	for _, tc := range []struct {
		f       Factor
		v       float64
		meaning string
	}{
		{FactorSupplyChain, 0.1, "signed + known vendor + consistent provenance"},
		{FactorSupplyChain, 0.4, "signed but unknown/unverified vendor"},
		{FactorSupplyChain, 0.9, "unsigned/uncertain provenance"},
		{FactorPrivilege, 0.2, "user-context install, no elevation"},
		{FactorPrivilege, 1.0, "admin required"},
		{FactorExploitability, 0.2, "no listeners, no macro/scripting capability"},
		{FactorExploitability, 0.6, "user-space listener or embedded scripting"},
		{FactorExploitability, 1.0, "privileged listener or exposed service with elevated context"},
		{FactorSBOMVulnerability, 0.0, "no High/Critical findings"},
		{FactorSBOMVulnerability, 0.7, "High present (no Critical)"},
		{FactorSBOMVulnerability, 1.0, "Critical present (blocked unless exception)"},
	} {
		s, _ := ModelV1.Spec(tc.f)
		if got := s.Meaning(tc.v); !strings.Contains(got, tc.meaning) || !strings.Contains(got, "EUCORA-architecture.md section 9.2.1") {
			t.Errorf("%s=%v meaning %q, want %q from the architecture document", tc.f, tc.v, got, tc.meaning)
		}
	}
	s, _ := ModelV1.Spec(FactorSupplyChain)
	if got := s.Meaning(0.25); !strings.HasPrefix(got, "between 0.1") || !strings.Contains(got, "and 0.4") {
		t.Errorf("between: %q", got)
	}
}

func TestScoreTable(t *testing.T) {
	mk := func(ring Ring, priv bool, kv ...any) RiskInput {
		f := allFactors(0)
		for i := 0; i < len(kv); i += 2 {
			f[kv[i].(Factor)] = kv[i+1].(float64)
		}
		return RiskInput{Model: "v1.0", Factors: f, PrivilegedTooling: priv, TargetRing: ring}
	}
	for _, tc := range []struct {
		name  string
		in    RiskInput
		score float64
		cab   bool
	}{
		{"all zero", mk(4, false), 0, false},
		{"all one is 100", RiskInput{Model: "v1.0", Factors: allFactors(1), TargetRing: 4}, 100, true},
		{"admin required alone = 20", mk(4, false, FactorPrivilege, 1.0), 20, false},
		{"user context = 0.2*20 = 4", mk(4, false, FactorPrivilege, 0.2), 4, false},
		{"unsigned = 0.9*15 = 13.5", mk(4, false, FactorSupplyChain, 0.9), 13.5, false},
		{"known vendor = 0.1*15 = 1.5 (no float noise)", mk(4, false, FactorSupplyChain, 0.1), 1.5, false},
		{"critical CVE = 15", mk(4, false, FactorSBOMVulnerability, 1.0), 15, false},
		{"exactly 50 at ring 4: no CAB (risk <= 50)", mk(4, false, FactorPrivilege, 1.0, FactorSupplyChain, 1.0, FactorSBOMVulnerability, 1.0), 50, false},
		{"50.1 at ring 2: CAB", mk(2, false, FactorPrivilege, 1.0, FactorSupplyChain, 1.0, FactorSBOMVulnerability, 1.0, FactorHistory, 0.01), 50.1, true},
		{"50.1 at ring 1: CAB bypassed at Canary", mk(1, false, FactorPrivilege, 1.0, FactorSupplyChain, 1.0, FactorSBOMVulnerability, 1.0, FactorHistory, 0.01), 50.1, false},
		{"50.1 at ring 0: CAB bypassed", mk(0, false, FactorPrivilege, 1.0, FactorSupplyChain, 1.0, FactorSBOMVulnerability, 1.0, FactorHistory, 0.01), 50.1, false},
		{"privileged tooling at ring 0, score 0: CAB", mk(0, true), 0, true},
		{"privileged tooling at ring 1: CAB", mk(1, true, FactorPrivilege, 1.0), 20, true},
		{"issue example 52.5 ring 2", RiskInput{Model: "v1.0", TargetRing: 2, Factors: map[Factor]float64{
			FactorPrivilege: 1, FactorSupplyChain: 0.4, FactorExploitability: 0.6, FactorDataAccess: 0.1,
			FactorSBOMVulnerability: 0.7, FactorBlastRadius: 0.4, FactorOperationalComplexity: 0.4, FactorHistory: 0.1}}, 52.5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Score(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if a.Score != tc.score || a.CABRequired != tc.cab {
				t.Fatalf("score %v cab %v, want %v %v; reasons %q", a.Score, a.CABRequired, tc.score, tc.cab, a.Reasons)
			}
			if a.Threshold != 50 || a.Model != "v1.0" || len(a.Contributions) != 8 || len(a.Reasons) == 0 {
				t.Fatalf("%+v", a)
			}
			sum := 0.0
			for _, c := range a.Contributions {
				if c.Contribution != round6(c.Weight*c.Value) || c.Meaning == "" {
					t.Errorf("%+v", c)
				}
				sum += c.Contribution
			}
			if round6(sum) != a.Score {
				t.Errorf("contributions sum %v, score %v", sum, a.Score)
			}
		})
	}
}

func TestScoreRejectsBadInput(t *testing.T) {
	base := func() RiskInput { return RiskInput{Model: "v1.0", Factors: allFactors(0.5), TargetRing: 1} }
	for _, tc := range []struct {
		name, field string
		mut         func(*RiskInput)
	}{
		{"above 1", "factors.history", func(in *RiskInput) { in.Factors[FactorHistory] = 1.0001 }},
		{"negative", "factors.privilege", func(in *RiskInput) { in.Factors[FactorPrivilege] = -0.1 }},
		{"unknown factor", "factors.karma", func(in *RiskInput) { in.Factors["karma"] = 0.1 }},
		{"missing factor", "factors.data_access", func(in *RiskInput) { delete(in.Factors, FactorDataAccess) }},
		{"unknown model", "model", func(in *RiskInput) { in.Model = "v2.0" }},
		{"empty model", "model", func(in *RiskInput) { in.Model = "" }},
		{"ring 5", "target_ring", func(in *RiskInput) { in.TargetRing = 5 }},
		{"ring -1", "target_ring", func(in *RiskInput) { in.TargetRing = -1 }},
	} {
		in := base()
		tc.mut(&in)
		_, err := Score(in)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: err %v, want field %s", tc.name, err, tc.field)
		}
	}
}

func TestParseRiskInput(t *testing.T) {
	good := `{"model":"v1.0","factors":{"privilege":1,"supply_chain":0.4,"exploitability":0.6,"data_access":0.1,"sbom_vulnerability":0.7,"blast_radius":0.4,"operational_complexity":0.4,"history":0.1},"privileged_tooling":false,"target_ring":2}`
	in, err := ParseRiskInput([]byte(good))
	if err != nil || in.Factors[FactorSBOMVulnerability] != 0.7 || in.TargetRing != 2 {
		t.Fatal(in, err)
	}
	for _, tc := range []struct{ doc, field string }{
		{strings.Replace(good, `"history":0.1`, `"history":1.5`, 1), "factors.history"},
		{strings.Replace(good, `"history":0.1`, `"history":0.1,"luck":0`, 1), "factors.luck"},
		{strings.Replace(good, `,"history":0.1`, ``, 1), "factors.history"},
		{strings.Replace(good, `"history":0.1`, `"history":null`, 1), "factors.history"},
		{strings.Replace(good, `"history":0.1`, `"history":"0.1"`, 1), "factors.history"},
		{strings.Replace(good, `"history":0.1`, `"history":0.1,"history":0.2`, 1), "factors.history"},
		{strings.Replace(good, `"model"`, `"Model"`, 1), "Model"},
		{strings.Replace(good, `"target_ring":2`, `"target_ring":2,"target_ring":0`, 1), "target_ring"},
		{strings.Replace(good, `"v1.0"`, `"v0.9"`, 1), "model"},
		{strings.Replace(good, `"model":"v1.0",`, ``, 1), "model"},
		{strings.Replace(good, `"privileged_tooling":false,`, ``, 1), "privileged_tooling"},
		{strings.Replace(good, `,"target_ring":2`, ``, 1), "target_ring"},
		{strings.Replace(good, `"target_ring":2`, `"target_ring":2.5`, 1), "target_ring"},
		{strings.Replace(good, `"target_ring":2`, `"target_ring":7`, 1), "target_ring"},
		{strings.Replace(good, `"target_ring":2`, `"target_ring":2,"note":"x"`, 1), "note"},
		{good + `{}`, "risk input"},
		{`[]`, "risk input"},
		{``, "risk input"},
		{`{"model":`, "risk input"},
	} {
		_, err := ParseRiskInput([]byte(tc.doc))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: err %v, want field %q", tc.doc, err, tc.field)
		}
	}
}

func randomInput(r *rand.Rand) RiskInput {
	f := map[Factor]float64{}
	for _, n := range ModelV1.FactorNames() {
		switch r.Intn(4) {
		case 0:
			f[n] = 0
		case 1:
			f[n] = 1
		default:
			f[n] = r.Float64()
		}
	}
	return RiskInput{Model: "v1.0", Factors: f, PrivilegedTooling: r.Intn(2) == 0, TargetRing: Ring(r.Intn(5))}
}

// Property: the score is within 0..100, deterministic, monotonic
// non-decreasing in every factor, and CAB is required exactly by the rule.
func TestScoreProperties(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 1000; i++ {
		in := randomInput(r)
		a, err := Score(in)
		if err != nil {
			t.Fatal(err)
		}
		if a.Score < 0 || a.Score > 100 {
			t.Fatalf("score %v out of range for %v", a.Score, in)
		}
		b, _ := Score(cloneInput(in))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("not deterministic: %+v vs %+v", a, b)
		}
		wantCAB := in.PrivilegedTooling || (a.Score > 50 && in.TargetRing >= Ring2Pilot)
		if a.CABRequired != wantCAB {
			t.Fatalf("cab %v want %v for %+v", a.CABRequired, wantCAB, a)
		}
		for _, f := range ModelV1.FactorNames() {
			up := cloneInput(in)
			up.Factors[f] = in.Factors[f] + (1-in.Factors[f])*r.Float64()
			c, err := Score(up)
			if err != nil {
				t.Fatal(err)
			}
			if c.Score < a.Score {
				t.Fatalf("not monotonic in %s: %v -> %v gives %v -> %v", f, in.Factors[f], up.Factors[f], a.Score, c.Score)
			}
			if c.CABRequired == false && a.CABRequired {
				t.Fatalf("raising %s dropped the CAB requirement", f)
			}
		}
	}
}

func TestScoreQuick(t *testing.T) {
	// testing/quick: any eight values in 0..1 give a score equal to the
	// weighted sum within 0..100.
	prop := func(vs [8]uint16, ring uint8) bool {
		in := RiskInput{Model: "v1.0", Factors: map[Factor]float64{}, TargetRing: Ring(ring % 5)}
		want := 0.0
		for i, s := range ModelV1.Factors {
			v := float64(vs[i]) / 65535
			in.Factors[s.Name] = v
			want += s.Weight * v
		}
		a, err := Score(in)
		return err == nil && a.Score >= 0 && a.Score <= 100 && a.Score == round6(want)
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 2000, Rand: rand.New(rand.NewSource(2))}); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseRiskInput(f *testing.F) {
	f.Add([]byte(`{"model":"v1.0","factors":{"privilege":1,"supply_chain":0.4,"exploitability":0.6,"data_access":0.1,"sbom_vulnerability":0.7,"blast_radius":0.4,"operational_complexity":0.4,"history":0.1},"privileged_tooling":false,"target_ring":2}`))
	f.Add([]byte(`{"model":"v1.0","factors":{},"privileged_tooling":true,"target_ring":0}`))
	f.Add([]byte(`{"model":"v1.0","factors":{"privilege":1e400}}`))
	f.Add([]byte(`{"a":{"b":[{"c":1,"c":2}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseRiskInput(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error does not wrap ErrInvalidInput: %v", err)
			}
			return
		}
		a, err := Score(in)
		if err != nil {
			t.Fatalf("parsed input does not score: %v", err)
		}
		if a.Score < 0 || a.Score > 100 {
			t.Fatalf("score %v", a.Score)
		}
	})
}

// TestModelRegistryVersions: an assessment is scored with the model its
// input names, so registering a new version never changes old scores.
func TestModelRegistryVersions(t *testing.T) {
	v2 := ModelV1
	v2.Version = "v-test"
	v2.Factors = append([]FactorSpec(nil), ModelV1.Factors...)
	v2.Factors[0].Weight = 30 // privilege reweighted
	v2.Factors[7].Weight = 0
	models[v2.Version] = &v2
	defer delete(models, v2.Version)

	in := RiskInput{Model: "v1.0", Factors: allFactors(0), TargetRing: 2}
	in.Factors[FactorPrivilege] = 1
	a1, err := Score(in)
	if err != nil || a1.Score != 20 {
		t.Fatal(a1.Score, err)
	}
	in.Model = "v-test"
	a2, err := Score(in)
	if err != nil || a2.Score != 30 || a2.Model != "v-test" {
		t.Fatal(a2.Score, err)
	}
	if got := ModelVersions(); !reflect.DeepEqual(got, []string{"v-test", "v1.0"}) {
		t.Fatal(got)
	}
	// Re-scoring the old assessment's input reproduces it exactly.
	again, _ := Score(a1.Input)
	if !reflect.DeepEqual(again, a1) {
		t.Fatal("old assessment does not reproduce")
	}
}
