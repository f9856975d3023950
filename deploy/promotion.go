package deploy

import (
	"fmt"
	"time"
)

// SiteClass is a site's connectivity class (EUCORA-architecture.md section 8.1).
type SiteClass string

// Site classes.
const (
	SiteOnline       SiteClass = "online"
	SiteIntermittent SiteClass = "intermittent"
	SiteAirGapped    SiteClass = "air-gapped"
)

// TimeToCompliance returns the EUCORA-architecture.md section 10.2 time-to-compliance target of a
// site class: online 24h, intermittent 72h, air-gapped 7d.
func TimeToCompliance(c SiteClass) (time.Duration, bool) {
	switch c {
	case SiteOnline:
		return 24 * time.Hour, true
	case SiteIntermittent:
		return 72 * time.Hour, true
	case SiteAirGapped:
		return 7 * 24 * time.Hour, true
	}
	return 0, false
}

// InstallSuccessThreshold returns the install success rate, in percent,
// results in ring r must reach before promotion (EUCORA-architecture.md section 10.2): Ring 1 98%,
// Ring 2 97%, Rings 3-4 99%. Ring 0 (Lab / Automation) has no number in the architecture document;
// EUCORA requires 100% there because lab automation is deterministic and
// any failure is a defect.
func InstallSuccessThreshold(r Ring) int {
	switch r {
	case Ring0Lab:
		return 100
	case Ring1Canary:
		return 98
	case Ring2Pilot:
		return 97
	default:
		return 99
	}
}

// PromotionInput is what the promotion gate judges: the measured results
// of an intent's current ring, and what promotion to the next ring needs.
type PromotionInput struct {
	IntentID         string        `json:"intent_id"`
	Ring             Ring          `json:"ring"`       // the ring whose results are judged
	SiteClass        SiteClass     `json:"site_class"` // the slowest class among the ring's sites
	InstallAttempts  int           `json:"install_attempts"`
	InstallSuccesses int           `json:"install_successes"`
	TimeToCompliance time.Duration `json:"time_to_compliance"` // measured, nanoseconds in JSON
	// TransferWindow: for air-gapped sites, the next approved transfer
	// window when it is later than 7d (EUCORA-architecture.md section 10.2 "or next approved
	// transfer window"); zero otherwise.
	TransferWindow        time.Duration `json:"transfer_window,omitzero"`
	AttributableIncidents int           `json:"attributable_incidents"`
	Planes                []string      `json:"planes"`             // execution planes the intent uses
	RollbackValidated     []string      `json:"rollback_validated"` // planes whose rollback was validated
	Risk                  *Assessment   `json:"risk"`               // the intent's assessment
	// EvidenceStored is true once the ring's results were written to the
	// evidence store; promotion is refused otherwise (EUCORA-architecture.md section 5.7).
	EvidenceStored bool            `json:"evidence_stored"`
	CABApproval    *ApprovalRecord `json:"cab_approval,omitempty"`
}

// EvaluatePromotion is the pure promotion gate of EUCORA-architecture.md section 10.2. It judges
// every gate and returns pass only when all pass, with every reason:
//
//	promotion.install-success     successes/attempts >= the ring's threshold (integer percent, no rounding)
//	promotion.time-to-compliance  measured <= the site class target
//	promotion.no-incident         no security incident attributable to the package
//	promotion.rollback-validated  rollback validated for every plane used
//	promotion.evidence-stored     the ring's results are in the evidence store
//	promotion.cab                 CAB approval, when the next ring requires it (EUCORA-architecture.md section 9.3), holds at time at
func EvaluatePromotion(in PromotionInput, at time.Time) Decision {
	var j judge
	if !in.Ring.Valid() {
		j.check("promotion.ring", false, fmt.Sprintf("ring %d is not a ring (want 0-4)", int(in.Ring)))
		return j.decision()
	}
	next := in.Ring
	if next < MaxRing {
		next++
	}
	th := InstallSuccessThreshold(in.Ring)
	switch {
	case in.InstallAttempts <= 0:
		j.check("promotion.install-success", false, fmt.Sprintf("%s: no install results measured (need >= %d%%)", in.Ring, th))
	case in.InstallSuccesses < 0 || in.InstallSuccesses > in.InstallAttempts:
		j.check("promotion.install-success", false, fmt.Sprintf("%s: %d successes of %d attempts is not a valid measurement", in.Ring, in.InstallSuccesses, in.InstallAttempts))
	default:
		// successes/attempts >= th/100, in integers.
		ok := in.InstallSuccesses*100 >= th*in.InstallAttempts
		j.check("promotion.install-success", ok, fmt.Sprintf("%s install success %d/%d = %s%% (need >= %d%%)", in.Ring, in.InstallSuccesses, in.InstallAttempts, pct(in.InstallSuccesses, in.InstallAttempts), th))
	}
	limit, ok := TimeToCompliance(in.SiteClass)
	if !ok {
		j.check("promotion.time-to-compliance", false, fmt.Sprintf("unknown site class %q (want online, intermittent, air-gapped)", in.SiteClass))
	} else {
		why := string(in.SiteClass)
		if in.SiteClass == SiteAirGapped && in.TransferWindow > limit {
			limit, why = in.TransferWindow, "air-gapped, next approved transfer window"
		}
		switch {
		case in.TimeToCompliance <= 0:
			j.check("promotion.time-to-compliance", false, fmt.Sprintf("time-to-compliance not measured (%s target <= %s)", why, fmtDur(limit)))
		default:
			j.check("promotion.time-to-compliance", in.TimeToCompliance <= limit, fmt.Sprintf("time-to-compliance %s (%s target <= %s)", fmtDur(in.TimeToCompliance), why, fmtDur(limit)))
		}
	}
	j.check("promotion.no-incident", in.AttributableIncidents == 0, fmt.Sprintf("%d security incident(s) attributable to the package (need 0)", in.AttributableIncidents))
	validated := map[string]bool{}
	for _, p := range in.RollbackValidated {
		validated[p] = true
	}
	var missing []string
	for _, p := range in.Planes {
		if !validated[p] {
			missing = append(missing, p)
		}
	}
	switch {
	case len(in.Planes) == 0:
		j.check("promotion.rollback-validated", false, "no execution planes named: rollback cannot be shown validated")
	case len(missing) > 0:
		j.check("promotion.rollback-validated", false, fmt.Sprintf("rollback not validated for plane(s) %v", missing))
	default:
		j.check("promotion.rollback-validated", true, fmt.Sprintf("rollback validated for plane(s) %v", in.Planes))
	}
	j.check("promotion.evidence-stored", in.EvidenceStored, fmt.Sprintf("%s results stored in the evidence store (an unwritable evidence store refuses promotion)", in.Ring))
	if in.Risk == nil {
		j.check("promotion.cab", false, "no risk assessment: cannot decide whether CAB approval is required")
		return j.decision()
	}
	m, err := LookupModel(in.Risk.Model)
	if err != nil {
		j.check("promotion.cab", false, err.Error())
		return j.decision()
	}
	required, reasons := m.CABRequirement(in.Risk.Score, in.Risk.Input.PrivilegedTooling, next)
	if !required {
		j.check("promotion.cab", true, fmt.Sprintf("CAB approval not required for %s: %s", next, reasons[0]))
		return j.decision()
	}
	j.check("promotion.cab-required", true, fmt.Sprintf("CAB approval required for %s: %v", next, reasons))
	j.merge("promotion.", in.CABApproval.CheckCAB(Subject(SubjectIntent, in.IntentID), at))
	return j.decision()
}

func pct(n, d int) string {
	// two decimals, computed in integers so it is exact and deterministic.
	x := n * 10000 / d
	return fmt.Sprintf("%d.%02d", x/100, x%100)
}

func fmtDur(d time.Duration) string {
	if d >= 7*24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
