package deploy

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Factor names one risk factor of EUCORA-architecture.md section 9.2. The names are the keys
// of the risk input JSON.
type Factor string

// The eight factors of risk model v1.0.
const (
	FactorPrivilege             Factor = "privilege"
	FactorSupplyChain           Factor = "supply_chain"
	FactorExploitability        Factor = "exploitability"
	FactorDataAccess            Factor = "data_access"
	FactorSBOMVulnerability     Factor = "sbom_vulnerability"
	FactorBlastRadius           Factor = "blast_radius"
	FactorOperationalComplexity Factor = "operational_complexity"
	FactorHistory               Factor = "history"
)

// RubricLevel is one documented value of a factor and what it means.
type RubricLevel struct {
	Value   float64 `json:"value"`
	Meaning string  `json:"meaning"`
	Source  string  `json:"source"` // "EUCORA-architecture.md section 9.2.1" or "EUCORA v1.0"
}

// FactorSpec is one factor of a model: its weight and rubric.
type FactorSpec struct {
	Name     Factor        `json:"name"`
	Weight   float64       `json:"weight"`
	Examples string        `json:"examples"`
	Rubric   []RubricLevel `json:"rubric"` // ascending by value
}

// RiskModel is a versioned, immutable risk model. A new calibration is a
// new version; an assessment keeps the version it was scored with.
type RiskModel struct {
	Version string       `json:"version"`
	Factors []FactorSpec `json:"factors"` // in the architecture document's table order
	// CABThreshold: a score strictly above it requires CAB approval before
	// publishing beyond CABFreeRing.
	CABThreshold float64 `json:"cab_threshold"`
	// CABFreeRing is the outermost ring a score above the threshold may be
	// published to without CAB approval (Ring 1, Canary, in v1.0).
	CABFreeRing Ring `json:"cab_free_ring"`
}

// ModelV1 is risk model v1.0: EUCORA-architecture.md sections 9.1-9.3. Weights 20/15/10/10/
// 15/10/10/10 (sum 100), CAB threshold 50. Rubric values marked "EUCORA-architecture.md section 9.2.1"
// are the architecture document's; the others are EUCORA's v1.0 definitions for the factors
// the architecture document's stub rubric leaves open (docs/governance.md lists them).
var ModelV1 = RiskModel{
	Version:      "v1.0",
	CABThreshold: 50,
	CABFreeRing:  Ring1Canary,
	Factors: []FactorSpec{
		{FactorPrivilege, 20, "admin required, service install, system extensions", []RubricLevel{
			{0.2, "user-context install, no elevation", seedRubric},
			{1.0, "admin required / service install / driver, kernel or system extension", seedRubric},
		}},
		{FactorSupplyChain, 15, "signature validity, notarization, publisher reputation", []RubricLevel{
			{0.1, "signed + known vendor + consistent provenance", seedRubric},
			{0.4, "signed but unknown/unverified vendor", seedRubric},
			{0.9, "unsigned/uncertain provenance", seedRubric},
		}},
		{FactorExploitability, 10, "network listeners, exposed services, macros/scripting", []RubricLevel{
			{0.2, "no listeners, no macro/scripting capability", seedRubric},
			{0.6, "user-space listener or embedded scripting", seedRubric},
			{1.0, "privileged listener or exposed service with elevated context", seedRubric},
		}},
		{FactorDataAccess, 10, "credential store, wide filesystem access", []RubricLevel{
			{0.1, "own data only", eucoraRubric},
			{0.6, "wide filesystem access", eucoraRubric},
			{1.0, "credential store access", eucoraRubric},
		}},
		{FactorSBOMVulnerability, 15, "critical/high CVEs in dependencies", []RubricLevel{
			{0.0, "no High/Critical findings", seedRubric},
			{0.7, "High present (no Critical) with compensating controls possible", seedRubric},
			{1.0, "Critical present (blocked unless exception)", seedRubric},
		}},
		{FactorBlastRadius, 10, "scope size, ring level, BU/site count", []RubricLevel{
			{0.0, "Ring 0 (Lab) only", eucoraRubric},
			{0.2, "Ring 1 (Canary), one site, or at most 100 devices", eucoraRubric},
			{0.4, "Ring 2 (Pilot), one business unit, or at most 1,000 devices", eucoraRubric},
			{0.7, "Ring 3 (Department), one acquisition boundary, or at most 10,000 devices", eucoraRubric},
			{1.0, "Ring 4 (Global), the whole enterprise, or more than 10,000 devices", eucoraRubric},
		}},
		{FactorOperationalComplexity, 10, "offline import, reboots, special sequencing", []RubricLevel{
			{0.1, "none of offline import, reboot, special sequencing", eucoraRubric},
			{0.4, "one of offline import, reboot, special sequencing", eucoraRubric},
			{0.7, "two of offline import, reboot, special sequencing", eucoraRubric},
			{1.0, "all three of offline import, reboot, special sequencing", eucoraRubric},
		}},
		{FactorHistory, 10, "prior incidents, failure rate, rollback difficulty", []RubricLevel{
			{0.1, "no incidents, install failure rate below 5%, rollback easy", eucoraRubric},
			{0.6, "install failure rate of 5% or more, or rollback difficult", eucoraRubric},
			{1.0, "prior security or outage incident attributed to the app", eucoraRubric},
		}},
	},
}

const (
	seedRubric   = "EUCORA-architecture.md section 9.2.1"
	eucoraRubric = "EUCORA v1.0"
)

// models is the registry of risk models by version. Versions are never
// removed or changed: old assessments are re-explained with their model.
var models = map[string]*RiskModel{ModelV1.Version: &ModelV1}

// CurrentModelVersion is the model new assessments use.
const CurrentModelVersion = "v1.0"

// LookupModel returns the registered model of a version.
func LookupModel(version string) (*RiskModel, error) {
	m, ok := models[version]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownModel, version, strings.Join(ModelVersions(), ", "))
	}
	return m, nil
}

// ModelVersions lists registered versions, sorted.
func ModelVersions() []string {
	out := make([]string, 0, len(models))
	for v := range models {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Spec returns the spec of factor f, or false.
func (m *RiskModel) Spec(f Factor) (FactorSpec, bool) {
	for _, s := range m.Factors {
		if s.Name == f {
			return s, true
		}
	}
	return FactorSpec{}, false
}

// FactorNames lists the model's factors in table order.
func (m *RiskModel) FactorNames() []Factor {
	out := make([]Factor, len(m.Factors))
	for i, s := range m.Factors {
		out[i] = s.Name
	}
	return out
}

// Meaning explains a factor value with the rubric: the exact level, or the
// two levels it lies between.
func (s FactorSpec) Meaning(v float64) string {
	var below, above *RubricLevel
	for i := range s.Rubric {
		l := &s.Rubric[i]
		if l.Value == v {
			return fmt.Sprintf("%s (%s)", l.Meaning, l.Source)
		}
		if l.Value < v {
			below = l
		} else if above == nil {
			above = l
		}
	}
	switch {
	case below != nil && above != nil:
		return fmt.Sprintf("between %s (%s) and %s (%s)", fmtNum(below.Value), below.Meaning, fmtNum(above.Value), above.Meaning)
	case below != nil:
		return fmt.Sprintf("above %s (%s)", fmtNum(below.Value), below.Meaning)
	case above != nil:
		return fmt.Sprintf("below %s (%s)", fmtNum(above.Value), above.Meaning)
	}
	return "no rubric"
}

// RiskInput is what a risk assessment is computed from: the wire format of
// `eucora risk score --input` and of the hub's assessment API.
type RiskInput struct {
	Model             string             `json:"model"`
	Factors           map[Factor]float64 `json:"factors"`
	PrivilegedTooling bool               `json:"privileged_tooling"`
	TargetRing        Ring               `json:"target_ring"`
}

// Validate checks the input against its model: a registered model, every
// factor of the model present, no other factor, each value within 0..1
// (never clamped), a valid ring.
func (in RiskInput) Validate() (*RiskModel, error) { return in.validate(false) }

// ValidatePartial is Validate without requiring every factor: what
// BuildRiskInput completes from an artifact's facts may be left out.
func (in RiskInput) ValidatePartial() (*RiskModel, error) { return in.validate(true) }

func (in RiskInput) validate(partial bool) (*RiskModel, error) {
	if in.Model == "" {
		return nil, fieldErrorf("model", "missing (known: %s)", strings.Join(ModelVersions(), ", "))
	}
	m, err := LookupModel(in.Model)
	if err != nil {
		return nil, &FieldError{Field: "model", Msg: err.Error()}
	}
	var unknown []string
	for f := range in.Factors {
		if _, ok := m.Spec(f); !ok {
			unknown = append(unknown, string(f))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fieldErrorf("factors."+unknown[0], "unknown factor for model %s (known: %s)", m.Version, factorList(m))
	}
	for _, s := range m.Factors {
		v, ok := in.Factors[s.Name]
		field := "factors." + string(s.Name)
		if !ok && partial {
			continue
		}
		if !ok {
			return nil, fieldErrorf(field, "missing (model %s needs all of: %s)", m.Version, factorList(m))
		}
		if math.IsNaN(v) || v < 0 || v > 1 {
			return nil, fieldErrorf(field, "%v is outside 0..1 (values are never clamped)", v)
		}
	}
	if !in.TargetRing.Valid() {
		return nil, fieldErrorf("target_ring", "%d is not a ring (want 0-4)", int(in.TargetRing))
	}
	return m, nil
}

func factorList(m *RiskModel) string {
	names := make([]string, len(m.Factors))
	for i, s := range m.Factors {
		names[i] = string(s.Name)
	}
	return strings.Join(names, ", ")
}

// ParseRiskInput strictly decodes a risk input document. Every top-level
// field is required (a missing privileged_tooling must not silently mean
// false); unknown fields, duplicate keys, null or non-numeric factors and
// trailing data are errors naming the field. The result is validated.
func ParseRiskInput(b []byte) (RiskInput, error) { return parseRiskInput(b, false) }

// ParsePartialRiskInput is ParseRiskInput for an input whose missing
// factors an artifact's facts will supply (BuildRiskInput checks the
// completed input).
func ParsePartialRiskInput(b []byte) (RiskInput, error) { return parseRiskInput(b, true) }

func parseRiskInput(b []byte, partial bool) (RiskInput, error) {
	var raw struct {
		Model             *string                    `json:"model"`
		Factors           map[string]json.RawMessage `json:"factors"`
		PrivilegedTooling *bool                      `json:"privileged_tooling"`
		TargetRing        *int                       `json:"target_ring"`
	}
	if err := decodeStrict(b, &raw, "risk input"); err != nil {
		return RiskInput{}, err
	}
	switch {
	case raw.Model == nil:
		return RiskInput{}, fieldErrorf("model", "missing")
	case raw.Factors == nil:
		return RiskInput{}, fieldErrorf("factors", "missing")
	case raw.PrivilegedTooling == nil:
		return RiskInput{}, fieldErrorf("privileged_tooling", "missing (true or false)")
	case raw.TargetRing == nil:
		return RiskInput{}, fieldErrorf("target_ring", "missing (0-4)")
	}
	in := RiskInput{Model: *raw.Model, Factors: map[Factor]float64{}, PrivilegedTooling: *raw.PrivilegedTooling, TargetRing: Ring(*raw.TargetRing)}
	names := make([]string, 0, len(raw.Factors))
	for k := range raw.Factors {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var v *float64
		if err := json.Unmarshal(raw.Factors[k], &v); err != nil || v == nil {
			return RiskInput{}, fieldErrorf("factors."+k, "%s is not a number 0..1", clip(string(raw.Factors[k])))
		}
		in.Factors[Factor(k)] = *v
	}
	if _, err := in.validate(partial); err != nil {
		return RiskInput{}, err
	}
	return in, nil
}

// Contribution is one factor's share of a score.
type Contribution struct {
	Factor       Factor  `json:"factor"`
	Weight       float64 `json:"weight"`
	Value        float64 `json:"value"`
	Contribution float64 `json:"contribution"` // weight * value, rounded to 1e-6
	Meaning      string  `json:"meaning"`      // rubric explanation of the value
}

// Assessment is a scored risk assessment (EUCORA-architecture.md section 5.3 "Risk Assessment":
// inputs + computed score + threshold + justification). It is a pure
// function of its input and model version.
type Assessment struct {
	Model         string         `json:"model"`
	Input         RiskInput      `json:"input"`
	Score         float64        `json:"score"`
	Threshold     float64        `json:"threshold"`
	Contributions []Contribution `json:"contributions"` // model table order
	CABRequired   bool           `json:"cab_required"`
	Reasons       []string       `json:"reasons"` // the justification
}

// ContributionMap returns factor -> contribution.
func (a Assessment) ContributionMap() map[Factor]float64 {
	out := make(map[Factor]float64, len(a.Contributions))
	for _, c := range a.Contributions {
		out[c.Factor] = c.Contribution
	}
	return out
}

// round6 rounds to 6 decimal places so that, for example, 15 * 0.1 is
// reported as 1.5 and not 1.5000000000000002. Rounding is monotonic, so
// the score stays monotonic in every factor.
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// Score computes the assessment of in:
//
//	score = clamp(0..100, Σ weight_i * factor_i)
//
// with the weights of in.Model, rounded to 6 decimal places, and decides
// whether CAB approval is required for in.TargetRing (EUCORA-architecture.md section 9.3).
func Score(in RiskInput) (Assessment, error) {
	m, err := in.Validate()
	if err != nil {
		return Assessment{}, err
	}
	a := Assessment{Model: m.Version, Input: cloneInput(in), Threshold: m.CABThreshold}
	sum := 0.0
	for _, s := range m.Factors {
		v := in.Factors[s.Name]
		c := s.Weight * v
		sum += c
		a.Contributions = append(a.Contributions, Contribution{Factor: s.Name, Weight: s.Weight, Value: v, Contribution: round6(c), Meaning: s.Meaning(v)})
	}
	a.Score = round6(math.Min(100, math.Max(0, sum)))
	a.CABRequired, a.Reasons = m.CABRequirement(a.Score, in.PrivilegedTooling, in.TargetRing)
	return a, nil
}

func cloneInput(in RiskInput) RiskInput {
	f := make(map[Factor]float64, len(in.Factors))
	for k, v := range in.Factors {
		f[k] = v
	}
	in.Factors = f
	return in
}

// CABRequirement applies the architecture document's gates (9.3) to a score:
//   - score <= threshold (50): automated ring progression allowed, subject
//     to promotion gates;
//   - score > threshold: CAB approval required before publishing beyond
//     Ring 1; at Ring 0 and Ring 1 only the CAB approval itself is bypassed;
//   - privileged tooling: CAB approval always required, at every ring,
//     regardless of score.
func (m *RiskModel) CABRequirement(score float64, privileged bool, ring Ring) (bool, []string) {
	var reasons []string
	required := false
	s, t := fmtNum(score), fmtNum(m.CABThreshold)
	switch {
	case score <= m.CABThreshold:
		reasons = append(reasons, fmt.Sprintf("risk %s <= %s: automated ring progression allowed, subject to promotion gates (model %s)", s, t, m.Version))
	case ring > m.CABFreeRing:
		required = true
		reasons = append(reasons, fmt.Sprintf("risk %s > %s: CAB approval required before publishing beyond %s; target is %s (model %s)", s, t, m.CABFreeRing, ring, m.Version))
	default:
		reasons = append(reasons, fmt.Sprintf("risk %s > %s but target is %s: CAB approval is bypassed up to %s; evidence pack completeness and every non-CAB gate still apply (model %s)", s, t, ring, m.CABFreeRing, m.Version))
	}
	if privileged {
		required = true
		reasons = append(reasons, "privileged tooling: CAB approval always required, regardless of score and ring")
	}
	return required, reasons
}

// fmtNum prints a number without a trailing ".0" or float noise.
func fmtNum(x float64) string { return fmt.Sprintf("%g", round6(x)) }

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
