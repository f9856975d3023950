package deploy

import (
	"fmt"
	"sort"
)

// ArtifactFacts are the observed facts risk factors derive from. Every
// group is optional: a nil group means "not known", and that factor must be
// supplied by the assessor. When a group is present the written rule below
// decides the factor and a manual value may not contradict it.
type ArtifactFacts struct {
	// Supply chain (rubric EUCORA-architecture.md section 9.2.1 "publisher trust").
	Signature  SignatureState `json:"signature,omitempty"`
	Provenance string         `json:"provenance,omitempty"` // "consistent", "inconsistent" or "" (unknown)

	Privilege  *PrivilegeFacts  `json:"privilege,omitempty"`
	Exposure   *ExposureFacts   `json:"exposure,omitempty"`
	DataAccess *DataAccessFacts `json:"data_access,omitempty"`
	Vulns      *VulnCounts      `json:"vulnerabilities,omitempty"`
	Blast      *BlastFacts      `json:"blast,omitempty"`
	Operations *OperationsFacts `json:"operations,omitempty"`
	History    *HistoryFacts    `json:"history,omitempty"`
}

// PrivilegeFacts: what installing and running the artifact needs.
type PrivilegeFacts struct {
	RequiresAdmin   bool `json:"requires_admin"`
	InstallsService bool `json:"installs_service"`
	InstallsDriver  bool `json:"installs_driver"` // driver, kernel or system extension
}

// ExposureFacts: network listeners and scripting.
type ExposureFacts struct {
	Listeners           int  `json:"listeners"`            // network listeners of any kind
	PrivilegedListeners int  `json:"privileged_listeners"` // listeners or exposed services running elevated
	Scripting           bool `json:"scripting"`            // macros or embedded scripting
}

// DataAccessFacts: what data the application reaches.
type DataAccessFacts struct {
	CredentialStore bool `json:"credential_store"`
	WideFilesystem  bool `json:"wide_filesystem"`
}

// VulnCounts are scanner finding counts by severity.
type VulnCounts struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
}

// BlastFacts: how far a deployment reaches.
type BlastFacts struct {
	Ring    Ring  `json:"ring"`
	Scope   Scope `json:"scope"`
	Devices int   `json:"devices"` // targeted devices; 0 = unknown
}

// OperationsFacts: what makes a rollout operationally hard.
type OperationsFacts struct {
	OfflineImport     bool `json:"offline_import"`
	Reboot            bool `json:"reboot"`
	SpecialSequencing bool `json:"special_sequencing"`
}

// HistoryFacts: the application's track record.
type HistoryFacts struct {
	Incidents         int     `json:"incidents"`    // security or outage incidents attributed to the app
	FailureRate       float64 `json:"failure_rate"` // install failure rate 0..1 over the previous release
	RollbackDifficult bool    `json:"rollback_difficult"`
}

// Derivation is one factor value derived from facts, with the rule used.
type Derivation struct {
	Factor Factor  `json:"factor"`
	Value  float64 `json:"value"`
	Rule   string  `json:"rule"`
}

// Derive applies the written v1.0 derivation rules to the facts present.
// The result is ordered by the model's factor order.
//
//	supply_chain: invalid signature, unsigned, or provenance "inconsistent" -> 0.9;
//	              signed-unknown-vendor, or signed-known-vendor with unknown provenance -> 0.4;
//	              signed-known-vendor with provenance "consistent" -> 0.1.
//	privilege:    admin, service or driver/kernel/system extension -> 1.0; else 0.2.
//	exploitability: a privileged listener -> 1.0; a listener or scripting -> 0.6; else 0.2.
//	data_access:  credential store -> 1.0; wide filesystem -> 0.6; else 0.1.
//	sbom_vulnerability: any Critical -> 1.0; any High -> 0.7; else 0.0.
//	blast_radius: the largest of ring (0:0.0 1:0.2 2:0.4 3:0.7 4:1.0), scope
//	              breadth (site 0.2, BU 0.4, acquisition 0.7, enterprise 1.0)
//	              and device count (<=100 0.2, <=1000 0.4, <=10000 0.7, more 1.0).
//	operational_complexity: 0, 1, 2, 3 of offline import / reboot / special
//	              sequencing -> 0.1, 0.4, 0.7, 1.0.
//	history:      an attributed incident -> 1.0; failure rate >= 5% or rollback
//	              difficult -> 0.6; else 0.1.
func (f ArtifactFacts) Derive() []Derivation {
	var out []Derivation
	add := func(fac Factor, v float64, rule string, args ...any) {
		out = append(out, Derivation{Factor: fac, Value: v, Rule: fmt.Sprintf(rule, args...)})
	}
	if f.Privilege != nil {
		p := f.Privilege
		switch {
		case p.InstallsDriver:
			add(FactorPrivilege, 1.0, "installs a driver, kernel or system extension -> 1.0")
		case p.InstallsService:
			add(FactorPrivilege, 1.0, "installs a service -> 1.0")
		case p.RequiresAdmin:
			add(FactorPrivilege, 1.0, "admin required -> 1.0")
		default:
			add(FactorPrivilege, 0.2, "user-context install, no elevation -> 0.2")
		}
	}
	if f.Signature != "" {
		switch {
		case f.Signature == SigInvalid:
			add(FactorSupplyChain, 0.9, "signature does not verify -> 0.9 (uncertain provenance)")
		case f.Signature == SigUnsigned:
			add(FactorSupplyChain, 0.9, "unsigned -> 0.9")
		case f.Provenance == "inconsistent":
			add(FactorSupplyChain, 0.9, "provenance inconsistent -> 0.9 (uncertain provenance)")
		case f.Signature == SigUnknownVendor:
			add(FactorSupplyChain, 0.4, "signed but unknown/unverified vendor -> 0.4")
		case f.Signature == SigKnownVendor && f.Provenance == "consistent":
			add(FactorSupplyChain, 0.1, "signed + known vendor + consistent provenance -> 0.1")
		case f.Signature == SigKnownVendor:
			add(FactorSupplyChain, 0.4, "signed by a known vendor but provenance unverified -> 0.4")
		}
	}
	if f.Exposure != nil {
		e := f.Exposure
		switch {
		case e.PrivilegedListeners > 0:
			add(FactorExploitability, 1.0, "%d privileged listener(s) or exposed elevated service(s) -> 1.0", e.PrivilegedListeners)
		case e.Listeners > 0:
			add(FactorExploitability, 0.6, "%d user-space listener(s) -> 0.6", e.Listeners)
		case e.Scripting:
			add(FactorExploitability, 0.6, "embedded macro/scripting capability -> 0.6")
		default:
			add(FactorExploitability, 0.2, "no listeners, no macro/scripting capability -> 0.2")
		}
	}
	if f.DataAccess != nil {
		switch {
		case f.DataAccess.CredentialStore:
			add(FactorDataAccess, 1.0, "credential store access -> 1.0")
		case f.DataAccess.WideFilesystem:
			add(FactorDataAccess, 0.6, "wide filesystem access -> 0.6")
		default:
			add(FactorDataAccess, 0.1, "own data only -> 0.1")
		}
	}
	if f.Vulns != nil {
		v := f.Vulns
		switch {
		case v.Critical > 0:
			add(FactorSBOMVulnerability, 1.0, "%d Critical finding(s) -> 1.0 (blocked unless exception)", v.Critical)
		case v.High > 0:
			add(FactorSBOMVulnerability, 0.7, "%d High finding(s), no Critical -> 0.7", v.High)
		default:
			add(FactorSBOMVulnerability, 0.0, "no High/Critical findings -> 0.0")
		}
	}
	if f.Blast != nil {
		v, rule := blastRadius(*f.Blast)
		add(FactorBlastRadius, v, "%s", rule)
	}
	if f.Operations != nil {
		o := f.Operations
		n := 0
		for _, b := range []bool{o.OfflineImport, o.Reboot, o.SpecialSequencing} {
			if b {
				n++
			}
		}
		v := [...]float64{0.1, 0.4, 0.7, 1.0}[n]
		add(FactorOperationalComplexity, v, "%d of offline import / reboot / special sequencing -> %g", n, v)
	}
	if f.History != nil {
		h := f.History
		switch {
		case h.Incidents > 0:
			add(FactorHistory, 1.0, "%d attributed incident(s) -> 1.0", h.Incidents)
		case h.FailureRate >= 0.05:
			add(FactorHistory, 0.6, "install failure rate %g >= 5%% -> 0.6", h.FailureRate)
		case h.RollbackDifficult:
			add(FactorHistory, 0.6, "rollback difficult -> 0.6")
		default:
			add(FactorHistory, 0.1, "no incidents, failure rate below 5%%, rollback easy -> 0.1")
		}
	}
	order := map[Factor]int{}
	for i, n := range ModelV1.FactorNames() {
		order[n] = i
	}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].Factor] < order[out[j].Factor] })
	return out
}

func blastRadius(b BlastFacts) (float64, string) {
	ringV := [...]float64{0.0, 0.2, 0.4, 0.7, 1.0}
	best, why := 0.0, ""
	consider := func(v float64, what string) {
		if v > best || why == "" {
			best, why = v, what
		}
	}
	if b.Ring.Valid() {
		consider(ringV[b.Ring], b.Ring.String())
	}
	var sv float64
	var sw string
	switch {
	case b.Scope.Site != "":
		sv, sw = 0.2, "scope of one site"
	case b.Scope.BU != "":
		sv, sw = 0.4, "scope of one business unit"
	case b.Scope.Acquisition != "":
		sv, sw = 0.7, "scope of one acquisition boundary"
	default:
		sv, sw = 1.0, "enterprise-wide scope"
	}
	consider(sv, sw)
	if b.Devices > 0 {
		var dv float64
		switch {
		case b.Devices <= 100:
			dv = 0.2
		case b.Devices <= 1000:
			dv = 0.4
		case b.Devices <= 10000:
			dv = 0.7
		default:
			dv = 1.0
		}
		consider(dv, fmt.Sprintf("%d devices", b.Devices))
	}
	return best, fmt.Sprintf("largest of ring, scope breadth and device count: %s -> %g", why, best)
}

// FactorConflictError reports a manual factor value that contradicts a
// value derived from facts.
type FactorConflictError struct {
	Derivation Derivation
	Manual     float64
}

func (e *FactorConflictError) Error() string {
	return fmt.Sprintf("factors.%s: manual value %g contradicts %g derived from artifact facts (%s)", e.Derivation.Factor, e.Manual, e.Derivation.Value, e.Derivation.Rule)
}

// Unwrap makes errors.Is(err, ErrInvalidInput) true.
func (e *FactorConflictError) Unwrap() error { return ErrInvalidInput }

// BuildRiskInput combines derived factors with manual ones: facts decide
// where they exist, manual values fill the rest, and a manual value that
// differs from a derived one is an error. The input is validated.
func BuildRiskInput(model string, facts ArtifactFacts, manual map[Factor]float64, privileged bool, ring Ring) (RiskInput, []Derivation, error) {
	in := RiskInput{Model: model, Factors: map[Factor]float64{}, PrivilegedTooling: privileged, TargetRing: ring}
	for k, v := range manual {
		in.Factors[k] = v
	}
	ds := facts.Derive()
	for _, d := range ds {
		if v, ok := manual[d.Factor]; ok && v != d.Value {
			return RiskInput{}, nil, &FactorConflictError{Derivation: d, Manual: v}
		}
		in.Factors[d.Factor] = d.Value
	}
	if _, err := in.Validate(); err != nil {
		return RiskInput{}, nil, err
	}
	return in, ds, nil
}
