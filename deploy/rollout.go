package deploy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Plane kinds as the rollout domain names them (the same words as
// connectors.Kind; deploy imports no connector).
const (
	PlaneIntune    = "intune"
	PlaneSCCM      = "sccm"
	PlaneJamf      = "jamf"
	PlaneLandscape = "landscape"
	PlaneAWX       = "awx"
)

// OSFamily is the device family an artifact installs on.
type OSFamily string

// Device families.
const (
	FamilyWindows OSFamily = "windows"
	FamilyMacOS   OSFamily = "macos"
	FamilyLinux   OSFamily = "linux"
	FamilyIOS     OSFamily = "ios"
	FamilyAndroid OSFamily = "android"
)

// Family returns the device family of a package type.
func (p Platform) Family() OSFamily {
	switch p {
	case PlatformMSI, PlatformEXE, PlatformMSIX, PlatformIntuneW:
		return FamilyWindows
	case PlatformPKG, PlatformDMG:
		return FamilyMacOS
	case PlatformDeb:
		return FamilyLinux
	case PlatformIPA:
		return FamilyIOS
	case PlatformAPK:
		return FamilyAndroid
	}
	return ""
}

// PlaneChoice is the execution plane an intent goes through and why.
type PlaneChoice struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// ChoosePlane applies the plane choice of EUCORA-architecture.md sections
// 3.3, 8.3 and 8.4 to a package type and the class of the site it goes
// to; have reports whether a plane of a kind is registered for the
// intent's scope. Windows goes through Intune online and intermittent and
// through SCCM distribution points air-gapped (SCCM where Intune is not
// registered at an intermittent site); macOS through Intune online (Jamf
// where only Jamf is registered) and Jamf otherwise; Linux through
// Landscape, or the Ansible plane (AWX) where Landscape is not registered;
// mobile through Intune and never to an air-gapped site (section 7.5).
func ChoosePlane(p Platform, class SiteClass, have func(kind string) bool) (PlaneChoice, error) {
	if _, ok := TimeToCompliance(class); !ok {
		return PlaneChoice{}, fieldErrorf("site_class", "unknown site class %q (want online, intermittent, air-gapped)", class)
	}
	first := func(why string, kinds ...string) (PlaneChoice, error) {
		for _, k := range kinds {
			if have(k) {
				return PlaneChoice{Kind: k, Reason: fmt.Sprintf("%s %s: %s", p.Family(), class, why)}, nil
			}
		}
		return PlaneChoice{}, fmt.Errorf("%w: %s %s at a %s site needs a registered %s plane covering the intent's scope (%s)",
			ErrNoPlane, p.Family(), p, class, strings.Join(kinds, " or "), why)
	}
	switch fam := p.Family(); {
	case fam == FamilyWindows && class == SiteAirGapped:
		return first("SCCM distribution points are the authoritative content channel (EUCORA-architecture.md section 8.4)", PlaneSCCM)
	case fam == FamilyWindows && class == SiteIntermittent:
		return first("Intune with local caching, SCCM where Intune is not available (EUCORA-architecture.md section 8.3)", PlaneIntune, PlaneSCCM)
	case fam == FamilyWindows:
		return first("Intune is the primary plane (EUCORA-architecture.md section 3.3)", PlaneIntune)
	case fam == FamilyMacOS && class == SiteOnline:
		return first("Intune primary, Jamf where only Jamf manages the devices (EUCORA-architecture.md section 3.3)", PlaneIntune, PlaneJamf)
	case fam == FamilyMacOS && class == SiteAirGapped:
		return first("Jamf packages via controlled import (EUCORA-architecture.md section 8.3)", PlaneJamf)
	case fam == FamilyMacOS:
		return first("Jamf with local distribution points (EUCORA-architecture.md section 8.3)", PlaneJamf, PlaneIntune)
	case fam == FamilyLinux:
		return first("signed APT repository enforced by Landscape or Ansible (EUCORA-architecture.md section 7.4)", PlaneLandscape, PlaneAWX)
	case (fam == FamilyIOS || fam == FamilyAndroid) && class == SiteAirGapped:
		return PlaneChoice{}, fmt.Errorf("%w: %s apps cannot go to an air-gapped site: mobile devices need periodic MDM check-in (EUCORA-architecture.md section 7.5)", ErrNoPlane, fam)
	case fam == FamilyIOS || fam == FamilyAndroid:
		return first("Intune for mobile (EUCORA-architecture.md section 3.3)", PlaneIntune)
	}
	return PlaneChoice{}, fieldErrorf("platform", "unknown platform %q (want one of %v)", p, platforms)
}

// DeviceOutcome is a device's state for a release, as the plane reports it.
type DeviceOutcome string

// Device outcomes (the same words as connectors.InstallState).
const (
	OutcomeInstalled     DeviceOutcome = "installed"
	OutcomeFailed        DeviceOutcome = "failed"
	OutcomePending       DeviceOutcome = "pending"
	OutcomeNotInstalled  DeviceOutcome = "not-installed"
	OutcomeNotApplicable DeviceOutcome = "not-applicable"
	OutcomeUnknown       DeviceOutcome = "unknown"
)

// DeviceResult is one device's report: its outcome and when the plane
// last heard from it about the release.
type DeviceResult struct {
	Device  string        `json:"device"`
	Outcome DeviceOutcome `json:"outcome"`
	At      time.Time     `json:"at,omitzero"`
}

// RingMeasure is what a ring's devices reported, measured against the
// ring's install success threshold.
type RingMeasure struct {
	Ring      Ring      `json:"ring"`
	SiteClass SiteClass `json:"site_class"`
	// Targeted counts the devices the plane reports for the release,
	// not-applicable ones excluded.
	Targeted  int `json:"targeted"`
	Installed int `json:"installed"`
	Failed    int `json:"failed"`
	// Waiting counts devices with no verdict yet (pending, not yet
	// installed, unknown).
	Waiting       int `json:"waiting"`
	NotApplicable int `json:"not_applicable"`
	// Threshold is the ring's install success threshold in percent.
	Threshold int `json:"threshold"`
	// TimeToCompliance runs from the publish to the install that brought
	// the ring to its threshold of Targeted; zero while it is not reached.
	TimeToCompliance time.Duration `json:"time_to_compliance"`
	// Elapsed is the time from the publish to the measurement.
	Elapsed time.Duration `json:"elapsed"`
}

// Compliant reports whether the ring reached its threshold.
func (m RingMeasure) Compliant() bool { return m.TimeToCompliance > 0 }

// Reachable reports whether the threshold can still be reached: the
// devices that failed are at most the share the threshold leaves.
func (m RingMeasure) Reachable() bool {
	return m.Targeted > 0 && (m.Targeted-m.Failed)*100 >= m.Threshold*m.Targeted
}

// MeasureRing counts device results of a ring published at publishedAt,
// measured at at. Devices are counted once (the last report of a device
// named twice wins). Reports dated before the publish count as at the
// publish (a plane's clock a little behind the hub's).
func MeasureRing(ring Ring, class SiteClass, publishedAt, at time.Time, results []DeviceResult) RingMeasure {
	m := RingMeasure{Ring: ring, SiteClass: class, Threshold: InstallSuccessThreshold(ring), Elapsed: max(at.Sub(publishedAt), 0)}
	last := make(map[string]DeviceResult, len(results))
	for _, r := range results {
		last[r.Device] = r
	}
	var installedAt []time.Time
	for _, r := range last {
		switch r.Outcome {
		case OutcomeNotApplicable:
			m.NotApplicable++
			continue
		case OutcomeInstalled:
			m.Installed++
			installedAt = append(installedAt, r.At)
		case OutcomeFailed:
			m.Failed++
		default:
			m.Waiting++
		}
		m.Targeted++
	}
	// k = ceil(threshold * targeted / 100) installs reach the threshold.
	k := (m.Threshold*m.Targeted + 99) / 100
	if k > 0 && len(installedAt) >= k {
		slices.SortFunc(installedAt, func(a, b time.Time) int { return a.Compare(b) })
		ttc := installedAt[k-1].Sub(publishedAt)
		// At least one second: a measured time is never zero.
		m.TimeToCompliance = max(ttc.Truncate(time.Second), time.Second)
	}
	return m
}

// GateVerdict is the outcome of a ring's gate: promote, keep waiting, or
// stop (pause or roll back, per the rollout's policy).
type GateVerdict string

// Gate verdicts.
const (
	GatePass GateVerdict = "pass"
	GateWait GateVerdict = "wait"
	GateFail GateVerdict = "fail"
)

// RingGate is everything the automatic gate of a ring judges: the
// measurement from the planes and the rest of EvaluatePromotion's input.
type RingGate struct {
	IntentID string      `json:"intent_id"`
	Measure  RingMeasure `json:"measure"`
	// TransferWindow is, for an air-gapped site, the next approved
	// transfer window when it is later than 7d.
	TransferWindow        time.Duration   `json:"transfer_window,omitzero"`
	AttributableIncidents int             `json:"attributable_incidents"`
	Planes                []string        `json:"planes"`
	RollbackValidated     []string        `json:"rollback_validated"`
	Risk                  *Assessment     `json:"risk"`
	EvidenceStored        bool            `json:"evidence_stored"`
	CABApproval           *ApprovalRecord `json:"cab_approval,omitempty"`
}

// GateResult is a judged gate: the verdict, the promotion decision it
// rests on, and the reasons it waits or fails.
type GateResult struct {
	Verdict  GateVerdict    `json:"verdict"`
	Decision Decision       `json:"decision"`
	Input    PromotionInput `json:"input"`
	Waiting  []string       `json:"waiting,omitempty"`
	Failing  []string       `json:"failing,omitempty"`
}

// PromotionInput is the input of EvaluatePromotion this gate builds from
// its measurement.
func (g RingGate) PromotionInput() PromotionInput {
	m := g.Measure
	return PromotionInput{IntentID: g.IntentID, Ring: m.Ring, SiteClass: m.SiteClass,
		InstallAttempts: m.Installed + m.Failed, InstallSuccesses: m.Installed, TimeToCompliance: m.TimeToCompliance,
		TransferWindow: g.TransferWindow, AttributableIncidents: g.AttributableIncidents, Planes: g.Planes,
		RollbackValidated: g.RollbackValidated, Risk: g.Risk, EvidenceStored: g.EvidenceStored, CABApproval: g.CABApproval}
}

// JudgeRing evaluates a ring's promotion gate (EvaluatePromotion, section
// 10.2) on measured results and sorts every failed rule into waiting or
// failing:
//
//	install-success     fails once the devices that failed make the
//	                    threshold unreachable; waits while devices are
//	                    still to report
//	time-to-compliance  fails once the target passed without the ring
//	                    reaching its threshold, or reached it late; waits
//	                    before that
//	no-incident         fails
//	rollback-validated, evidence-stored, cab*  wait (for Ring 0's rollback
//	                    run, the evidence store, a CAB approval)
//
// The verdict is pass when the decision allows, fail when any rule fails,
// wait otherwise.
func JudgeRing(g RingGate, at time.Time) GateResult {
	in := g.PromotionInput()
	d := EvaluatePromotion(in, at)
	r := GateResult{Decision: d, Input: in}
	if d.Allowed {
		r.Verdict = GatePass
		return r
	}
	m := g.Measure
	limit, _ := TimeToCompliance(m.SiteClass)
	if m.SiteClass == SiteAirGapped && g.TransferWindow > limit {
		limit = g.TransferWindow
	}
	for _, c := range d.Checks {
		if c.Pass {
			continue
		}
		fail := false
		switch c.Rule {
		case "promotion.install-success":
			switch {
			case m.Targeted == 0:
				c.Reason = fmt.Sprintf("%s: no device reports on the release yet", m.Ring)
			case !m.Reachable():
				fail = true
				c.Reason = fmt.Sprintf("%s: %d of %d devices failed: %d%% can no longer be reached", m.Ring, m.Failed, m.Targeted, m.Threshold)
			default:
				c.Reason += fmt.Sprintf("; %d device(s) still to report", m.Waiting)
			}
		case "promotion.time-to-compliance":
			if m.Compliant() || m.Elapsed > limit {
				fail = true
				if !m.Compliant() {
					c.Reason = fmt.Sprintf("%s: %d/%d installed %s after publish, past the %s target of %s", m.Ring, m.Installed, m.Targeted, fmtDur(m.Elapsed.Truncate(time.Second)), m.SiteClass, fmtDur(limit))
				}
			} else {
				c.Reason = fmt.Sprintf("%s: compliance not reached yet, %s of %s elapsed", m.Ring, fmtDur(m.Elapsed.Truncate(time.Second)), fmtDur(limit))
			}
		case "promotion.no-incident", "promotion.ring":
			fail = true
		}
		if fail {
			r.Failing = append(r.Failing, c.Rule+": "+c.Reason)
		} else {
			r.Waiting = append(r.Waiting, c.Rule+": "+c.Reason)
		}
	}
	r.Verdict = GateWait
	if len(r.Failing) > 0 {
		r.Verdict = GateFail
	}
	return r
}

// DriftKind names a difference between an intent's desired state and what
// a plane holds (EUCORA-architecture.md section 5.6).
type DriftKind string

// Drift kinds.
const (
	// DriftMissingObject: the plane holds nothing for the release.
	DriftMissingObject DriftKind = "missing-object"
	// DriftMissingAssignment: a target of the ring is not assigned.
	DriftMissingAssignment DriftKind = "missing-assignment"
	// DriftExtraAssignment: the release is assigned to a target the ring
	// does not name.
	DriftExtraAssignment DriftKind = "extra-assignment"
	// DriftEditedObject: an object carrying the intent's correlation id
	// is not one EUCORA made for the release (renamed, re-keyed or
	// duplicated outside EUCORA).
	DriftEditedObject DriftKind = "edited-object"
	// DriftDeviceReverted: a device that had installed the release
	// reports it not installed (removed or downgraded by hand).
	DriftDeviceReverted DriftKind = "device-reverted"
)

// DriftKinds lists every kind.
var DriftKinds = []DriftKind{DriftMissingObject, DriftMissingAssignment, DriftExtraAssignment, DriftEditedObject, DriftDeviceReverted}

// Drift is one difference found.
type Drift struct {
	Kind DriftKind `json:"kind"`
	// Subjects are the targets, objects or devices concerned (sorted, at
	// most MaxDriftSubjects; Count has the total).
	Subjects []string `json:"subjects"`
	Count    int      `json:"count"`
	Detail   string   `json:"detail"`
}

// MaxDriftSubjects bounds the subjects a drift lists.
const MaxDriftSubjects = 20

// PlaneObject is one object a plane holds that carries an intent's
// correlation id.
type PlaneObject struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Release string `json:"release,omitempty"` // the release key the object names, "" when the plane does not record it
}

// Observed is what a reconciliation pass read from a plane for one
// intent's release.
type Observed struct {
	// Held is false when the plane holds nothing for the release.
	Held     bool           `json:"held"`
	Assigned []string       `json:"assigned"`
	Objects  []PlaneObject  `json:"objects"`
	Devices  []DeviceResult `json:"devices"`
}

// Desired is what the intent says the plane should hold.
type Desired struct {
	// Release is the release key's text ("app@version/ring-N/scope").
	Release string `json:"release"`
	// AppRelease is the text of the application version's key, which
	// the plane's content object names ("app@version/ring-0/").
	AppRelease string `json:"app_release"`
	// Targets are the ring's target ids on the plane.
	Targets []string `json:"targets"`
	// OtherTargets are targets other rings of the same app version hold
	// on the plane, which are not extra.
	OtherTargets []string `json:"other_targets,omitempty"`
}

// DetectDrift compares a plane's state for a release with the desired one.
// installedBefore names the devices the previous pass saw installed (nil
// on a first pass: device reverts are found from the second pass on). The
// result is sorted by kind, deterministic for the same input.
func DetectDrift(want Desired, got Observed, installedBefore map[string]bool) []Drift {
	if !got.Held {
		return []Drift{{Kind: DriftMissingObject, Subjects: []string{want.Release}, Count: 1,
			Detail: fmt.Sprintf("the plane holds nothing for %s", want.Release)}}
	}
	var out []Drift
	assigned := toSet(got.Assigned)
	desired := toSet(want.Targets)
	other := toSet(want.OtherTargets)
	var missing, extra []string
	for t := range desired {
		if !assigned[t] {
			missing = append(missing, t)
		}
	}
	for t := range assigned {
		if !desired[t] && !other[t] {
			extra = append(extra, t)
		}
	}
	out = appendDrift(out, DriftMissingAssignment, missing, "ring target(s) not assigned on the plane")
	out = appendDrift(out, DriftExtraAssignment, extra, "assignment(s) the ring does not name")
	var edited []string
	for _, o := range got.Objects {
		if o.Release != "" && o.Release != want.Release && o.Release != want.AppRelease {
			edited = append(edited, fmt.Sprintf("%s/%s names %s", o.Kind, o.ID, o.Release))
		}
	}
	out = appendDrift(out, DriftEditedObject, edited, "object(s) with the intent's correlation id that EUCORA did not make for this release")
	if installedBefore != nil {
		var reverted []string
		for _, d := range got.Devices {
			if installedBefore[d.Device] && (d.Outcome == OutcomeNotInstalled || d.Outcome == OutcomeFailed) {
				reverted = append(reverted, d.Device)
			}
		}
		out = appendDrift(out, DriftDeviceReverted, reverted, "device(s) that had installed the release report it not installed")
	}
	return out
}

func appendDrift(out []Drift, k DriftKind, subjects []string, what string) []Drift {
	if len(subjects) == 0 {
		return out
	}
	sort.Strings(subjects)
	d := Drift{Kind: k, Count: len(subjects), Detail: fmt.Sprintf("%d %s", len(subjects), what)}
	d.Subjects = subjects[:min(len(subjects), MaxDriftSubjects)]
	return append(out, d)
}

func toSet(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// DriftMode is what reconciliation does with drift.
type DriftMode string

// Drift modes (EUCORA-architecture.md section 7.4).
const (
	DriftDetect  DriftMode = "detect"
	DriftEnforce DriftMode = "enforce"
)

// DriftRule sets the mode for a device family at a site class, within an
// acquisition boundary ("" covers every acquisition).
type DriftRule struct {
	Family      OSFamily  `json:"family"`
	SiteClass   SiteClass `json:"site_class"`
	Acquisition string    `json:"acquisition,omitempty"`
	Mode        DriftMode `json:"mode"`
}

// DriftPolicy is the hub's drift policy: the roadmap phase and the rules.
// With no rule matching, drift is detected only.
type DriftPolicy struct {
	// Phase is the delivery roadmap phase (EUCORA-architecture.md section
	// 15); Linux drift is enforced only from Phase 3.
	Phase int         `json:"phase"`
	Rules []DriftRule `json:"rules"`
}

// Validate checks every rule, and that no Linux rule enforces before
// Phase 3 (section 7.4).
func (p DriftPolicy) Validate() error {
	if p.Phase < 0 || p.Phase > 3 {
		return fieldErrorf("phase", "%d: want 0-3 (the roadmap phases of EUCORA-architecture.md section 15)", p.Phase)
	}
	for i, r := range p.Rules {
		f := fmt.Sprintf("rules[%d]", i)
		switch r.Family {
		case FamilyWindows, FamilyMacOS, FamilyLinux, FamilyIOS, FamilyAndroid:
		default:
			return fieldErrorf(f+".family", "%q: want windows, macos, linux, ios or android", r.Family)
		}
		if _, ok := TimeToCompliance(r.SiteClass); !ok {
			return fieldErrorf(f+".site_class", "%q: want online, intermittent or air-gapped", r.SiteClass)
		}
		if r.Acquisition != "" && !validScopeValue(r.Acquisition) {
			return fieldErrorf(f+".acquisition", "%q is not a scope value", r.Acquisition)
		}
		switch r.Mode {
		case DriftDetect:
		case DriftEnforce:
			if r.Family == FamilyLinux && p.Phase < 3 {
				return fieldErrorf(f+".mode", "Linux drift is detect-only before Phase 3 (EUCORA-architecture.md section 7.4); the policy is at Phase %d", p.Phase)
			}
		default:
			return fieldErrorf(f+".mode", "%q: want detect or enforce", r.Mode)
		}
	}
	return nil
}

// Mode returns the mode for a family at a site class within a scope: the
// last matching rule's (a rule naming the acquisition beats one that does
// not), detect when none matches.
func (p DriftPolicy) Mode(f OSFamily, class SiteClass, scope Scope) (DriftMode, string) {
	mode, why := DriftDetect, fmt.Sprintf("no drift rule for %s at %s sites: detect only", f, class)
	best := -1
	for _, r := range p.Rules {
		if r.Family != f || r.SiteClass != class || (r.Acquisition != "" && r.Acquisition != scope.Acquisition) {
			continue
		}
		rank := 0
		if r.Acquisition != "" {
			rank = 1
		}
		if rank >= best {
			best, mode = rank, r.Mode
			why = fmt.Sprintf("drift rule %s %s acquisition %q: %s (phase %d)", f, class, r.Acquisition, r.Mode, p.Phase)
		}
	}
	return mode, why
}
