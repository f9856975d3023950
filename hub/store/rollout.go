package store

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eucora/eucora/deploy"
)

// rolloutHandlers apply the orchestrator's records (EUCORA-architecture.md
// sections 5.6, 10): which plane groups each ring reaches, the progress of
// every intent's rollout through its plane, the people's controls (pause,
// resume, roll back), incidents, open drift and the drift policy.
//
// The orchestrator (hub/rollout) owns a rollout's progress and writes it
// with rollout.save, a compare-and-set on the record's revision: a save
// based on an older revision (a person paused it meanwhile, another
// leader moved it on) is refused with ErrConflict and changes nothing, so
// a step is recorded before it runs and after, and a leader that lost the
// race rereads instead of overwriting.
var rolloutHandlers = map[string]handler{
	CmdRingTargets:     withBody(applyRingTargets),
	CmdRolloutSave:     withBody(applyRolloutSave),
	CmdRolloutControl:  withBody(applyRolloutControl),
	CmdIncidentCreate:  withBody(applyIncidentCreate),
	CmdDriftRecord:     withBody(applyDriftRecord),
	CmdDriftPolicySet:  withBody(applyDriftPolicy),
	CmdRolloutValidate: withBody(applyRolloutValidate),
	CmdReconcileSeen:   withBody(applyReconcileSeen),
}

// Rollout states. Active states are worked on by the orchestrator;
// promoted and rolled-back are final for the intent.
const (
	RolloutAwaitingPublish = "awaiting-publish" // an intent the orchestrator made, its publish gate not yet passed
	RolloutPublishing      = "publishing"       // publishing the release to the plane
	RolloutObserving       = "observing"        // reading install results and judging the gate
	RolloutValidating      = "validating-rollback"
	RolloutPromoting       = "promoting" // the gate passed: promoting and making the next ring's intent
	RolloutPaused          = "paused"
	RolloutRollingBack     = "rolling-back"
	RolloutPromoted        = "promoted"
	RolloutRolledBack      = "rolled-back"
	RolloutCompleted       = "completed" // Ring 4 passed its gate: nothing further to promote to
)

// RolloutFinal reports whether a state is final.
func RolloutFinal(state string) bool {
	return state == RolloutPromoted || state == RolloutRolledBack || state == RolloutCompleted
}

// What a failed gate does (per rollout).
const (
	OnFailurePause    = "pause"
	OnFailureRollback = "rollback"
)

// Target is one plane group a ring reaches (connectors.Target).
type Target struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Exclude bool   `json:"exclude,omitempty"`
}

// RingTargets are the groups one ring reaches on one plane.
type RingTargets struct {
	Plane     string      `json:"plane"`
	Ring      deploy.Ring `json:"ring"`
	Targets   []Target    `json:"targets"`
	UpdatedBy string      `json:"updated_by,omitempty"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// RolloutStep is one recorded unit of the orchestrator's work: begun
// before it runs, done or failed after.
type RolloutStep struct {
	Op      string    `json:"op"`    // publish, query, validate-uninstall, validate-redeploy, rollback, promote, advance, remediate
	Phase   string    `json:"phase"` // begin, done, failed
	At      time.Time `json:"at"`
	Detail  string    `json:"detail,omitempty"`
	Created int       `json:"created,omitempty"`
	Objects int       `json:"objects,omitempty"`
	Class   string    `json:"class,omitempty"` // the connector's error class of a failure
}

// MaxRolloutSteps bounds the steps a record keeps (the audit log has all).
const MaxRolloutSteps = 64

// Telemetry is the last reading of the plane for a rollout.
type Telemetry struct {
	At      time.Time          `json:"at"`
	Measure deploy.RingMeasure `json:"measure"`
	// Assigned are the target ids the plane reports the release assigned to.
	Assigned []string `json:"assigned,omitempty"`
	Objects  int      `json:"objects"`
}

// GateRecord is the last judgement of a rollout's gate.
type GateRecord struct {
	At       time.Time          `json:"at"`
	Verdict  deploy.GateVerdict `json:"verdict"`
	Waiting  []string           `json:"waiting,omitempty"`
	Failing  []string           `json:"failing,omitempty"`
	Decision string             `json:"decision_id,omitempty"` // the promotion's decision record, once proposed
}

// Backoff is a plane's pause after it was unavailable or throttling.
type Backoff struct {
	Until    time.Time `json:"until"`
	Failures int       `json:"failures"`
	Class    string    `json:"class"`
	Message  string    `json:"message,omitempty"`
}

// Rollout is one intent's progress through its execution plane.
type Rollout struct {
	IntentID string       `json:"intent_id"`
	AppID    string       `json:"app_id"`
	Version  string       `json:"version"`
	Ring     deploy.Ring  `json:"ring"`
	Scope    deploy.Scope `json:"scope"`
	// Base is the first intent of the chain the orchestrator promotes
	// ring by ring; Prev the intent of the ring before, Next the one made
	// for the ring after.
	Base string `json:"base"`
	Prev string `json:"prev,omitempty"`
	Next string `json:"next,omitempty"`

	Rev       uint64 `json:"rev"`
	State     string `json:"state"`
	OnFailure string `json:"on_failure"`

	Plane       string           `json:"plane,omitempty"`
	PlaneKind   string           `json:"plane_kind,omitempty"`
	PlaneReason string           `json:"plane_reason,omitempty"`
	SiteClass   deploy.SiteClass `json:"site_class"`
	Targets     []Target         `json:"targets,omitempty"`
	// Prior is the release key text of the version a rollback returns to
	// ("" when the ring held no earlier version: rollback uninstalls).
	Prior string `json:"prior,omitempty"`

	PublishedAt *time.Time `json:"published_at,omitempty"` // when the plane held the release
	// Results is the ring's measured results as stored in the evidence
	// store when its gate passed.
	Results *deploy.DocRef `json:"results,omitempty"`
	// Validation is Ring 0's rollback run: "", "uninstalling",
	// "reinstalling", "validated".
	Validation        string      `json:"validation,omitempty"`
	RollbackValidated []string    `json:"rollback_validated,omitempty"`
	Telemetry         *Telemetry  `json:"telemetry,omitempty"`
	Gate              *GateRecord `json:"gate,omitempty"`
	Backoff           *Backoff    `json:"backoff,omitempty"`
	// Waiting says what the rollout waits for outside the gate (a plane,
	// a publish gate, another change of the app and ring).
	Waiting []string `json:"waiting,omitempty"`

	PausedBy    string `json:"paused_by,omitempty"`
	PauseReason string `json:"pause_reason,omitempty"`
	// RollbackRequested is set by a person's rollback (or a failed gate
	// under OnFailureRollback); RollbackAction is what was done.
	RollbackRequested bool   `json:"rollback_requested,omitempty"`
	RollbackAction    string `json:"rollback_action,omitempty"`

	Steps     []RolloutStep `json:"steps"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// Step appends a step, keeping the last MaxRolloutSteps.
func (r *Rollout) Step(s RolloutStep) {
	r.Steps = append(r.Steps, s)
	if n := len(r.Steps) - MaxRolloutSteps; n > 0 {
		r.Steps = slices.Delete(r.Steps, 0, n)
	}
}

// RolloutSaveBody is the orchestrator's write of a rollout: the record as
// it should be, and the revision it was read at (0 to create it).
type RolloutSaveBody struct {
	Rollout Rollout `json:"rollout"`
	BaseRev uint64  `json:"base_rev"`
}

// Controls a person applies to a rollout.
const (
	ControlPause    = "pause"
	ControlResume   = "resume"
	ControlRollback = "rollback"
	ControlPolicy   = "policy" // set OnFailure
)

// RolloutControlBody is a person's control of a rollout.
type RolloutControlBody struct {
	IntentID  string    `json:"intent_id"`
	Control   string    `json:"control"`
	OnFailure string    `json:"on_failure,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
}

// RolloutValidateBody records that a plane's rollback was validated for an
// application version (in Ring 0).
type RolloutValidateBody struct {
	AppID     string    `json:"app_id"`
	Version   string    `json:"version"`
	PlaneKind string    `json:"plane_kind"`
	IntentID  string    `json:"intent_id"`
	At        time.Time `json:"at"`
}

// RollbackValidation lists the plane kinds whose rollback was run and
// verified for an application version.
type RollbackValidation struct {
	AppID   string            `json:"app_id"`
	Version string            `json:"version"`
	Planes  map[string]string `json:"planes"` // kind -> intent the validation ran in
}

// Incident severities.
var incidentSeverities = []string{"low", "medium", "high", "critical"}

// Incident is a security or operational incident recorded by endpoint ops
// (`eucora incident add`); an attributable security incident fails the
// promotion gate of the app version's rings.
type Incident struct {
	ID           string    `json:"id"`
	AppID        string    `json:"app_id"`
	Version      string    `json:"version,omitempty"` // "" covers every version of the app
	IntentID     string    `json:"intent_id,omitempty"`
	Severity     string    `json:"severity"`
	Security     bool      `json:"security"`
	Attributable bool      `json:"attributable"`
	Summary      string    `json:"summary"`
	ReportedBy   string    `json:"reported_by"`
	At           time.Time `json:"at"`
}

// Counts reports whether the incident fails the gate of app version v.
func (i Incident) Counts(app, v string) bool {
	return i.Security && i.Attributable && i.AppID == app && (i.Version == "" || i.Version == v)
}

// DriftRecord is one open drift of an intent on a plane.
type DriftRecord struct {
	deploy.Drift
	IntentID  string           `json:"intent_id"`
	AppID     string           `json:"app_id"`
	Plane     string           `json:"plane"`
	Site      string           `json:"site,omitempty"`
	Mode      deploy.DriftMode `json:"mode"`
	FirstSeen time.Time        `json:"first_seen"`
	LastSeen  time.Time        `json:"last_seen"`
	// Remediated counts enforcement runs; LastRemediation says what the
	// last one changed.
	Remediated      int    `json:"remediated,omitempty"`
	LastRemediation string `json:"last_remediation,omitempty"`
}

// DriftSet is the open drift of one intent on one plane.
type DriftSet struct {
	IntentID string        `json:"intent_id"`
	Plane    string        `json:"plane"`
	Open     []DriftRecord `json:"open"`
}

// DriftRecordBody replaces the open drift of an intent on a plane with
// what a reconciliation pass found (an empty Open closes it all).
type DriftRecordBody struct {
	IntentID string        `json:"intent_id"`
	Plane    string        `json:"plane"`
	Open     []DriftRecord `json:"open"`
	At       time.Time     `json:"at"`
}

// ValidateTargets checks a ring's targets: at least one, ids of 1-256
// characters, none named twice.
func ValidateTargets(ts []Target) error {
	if len(ts) == 0 {
		return fmt.Errorf("%w: targets: a ring needs at least one group", ErrInvalid)
	}
	seen := map[string]bool{}
	for i, t := range ts {
		if t.ID == "" || len(t.ID) > 256 {
			return fmt.Errorf("%w: targets[%d].id: want 1-256 characters", ErrInvalid, i)
		}
		if seen[t.ID] {
			return fmt.Errorf("%w: targets[%d].id: %q is named twice", ErrInvalid, i, t.ID)
		}
		seen[t.ID] = true
	}
	return nil
}

func applyRingTargets(b Batch, rt RingTargets) (any, error) {
	if !ValidName(rt.Plane) {
		return nil, fmt.Errorf("%w: plane %q", ErrInvalid, rt.Plane)
	}
	if !rt.Ring.Valid() {
		return nil, fmt.Errorf("%w: ring %d: want 0-4", ErrInvalid, int(rt.Ring))
	}
	if err := ValidateTargets(rt.Targets); err != nil {
		return nil, err
	}
	if _, err := getRec[Plane](b, planeKey(rt.Plane), "plane "+rt.Plane); err != nil {
		return nil, err
	}
	return rt, setJSON(b, ringTargetsKey(rt.Plane, rt.Ring), rt)
}

func applyRolloutSave(b Batch, body RolloutSaveBody) (any, error) {
	r := body.Rollout
	if r.IntentID == "" || r.State == "" {
		return nil, fmt.Errorf("%w: rollout needs an intent id and a state", ErrInvalid)
	}
	in, err := getRec[IntentRecord](b, intentKey(r.IntentID), "intent "+r.IntentID)
	if err != nil {
		return nil, err
	}
	cur, err := getRec[Rollout](b, rolloutKey(r.IntentID), "rollout "+r.IntentID)
	switch {
	case errors.Is(err, ErrNotFound):
		if body.BaseRev != 0 {
			return nil, fmt.Errorf("rollout %s does not exist (saved at rev %d): %w", r.IntentID, body.BaseRev, ErrConflict)
		}
	case err != nil:
		return nil, err
	case cur.Rev != body.BaseRev:
		return nil, fmt.Errorf("rollout %s is at rev %d, the save was based on %d: %w", r.IntentID, cur.Rev, body.BaseRev, ErrConflict)
	case RolloutFinal(cur.State):
		return nil, fmt.Errorf("rollout %s is %s: %w", r.IntentID, cur.State, ErrConflict)
	}
	r.Rev = body.BaseRev + 1
	if err := updateRollbackNeeds(b, cur, r); err != nil {
		return nil, err
	}
	if r.State == RolloutRolledBack && in.Status != IntentRolledBack {
		// The change at this ring is over: it no longer counts as active.
		in.Status = IntentRolledBack
		if err := dropActive(b, in.AppID, in.ID); err != nil {
			return nil, err
		}
		if err := setJSON(b, intentKey(in.ID), in); err != nil {
			return nil, err
		}
	}
	return r, setJSON(b, rolloutKey(r.IntentID), r)
}

func dropActive(b Batch, app, id string) error {
	ids, _, err := activeIntents(b, app)
	if err != nil {
		return err
	}
	return setJSON(b, activeKey(app), slices.DeleteFunc(ids, func(s string) bool { return s == id }))
}

func applyRolloutControl(b Batch, c RolloutControlBody) (any, error) {
	r, err := getRec[Rollout](b, rolloutKey(c.IntentID), "rollout of intent "+c.IntentID)
	if err != nil {
		return nil, err
	}
	if RolloutFinal(r.State) {
		return nil, fmt.Errorf("rollout of intent %s is %s: %w", c.IntentID, r.State, ErrConflict)
	}
	switch c.Control {
	case ControlPause:
		if r.State == RolloutRollingBack {
			return nil, fmt.Errorf("rollout of intent %s is rolling back: %w", c.IntentID, ErrConflict)
		}
		if r.State != RolloutPaused {
			r.State, r.PausedBy, r.PauseReason = RolloutPaused, c.By, c.Reason
		}
	case ControlResume:
		if r.State != RolloutPaused {
			return nil, fmt.Errorf("rollout of intent %s is %s, not paused: %w", c.IntentID, r.State, ErrConflict)
		}
		r.State, r.PausedBy, r.PauseReason = RolloutObserving, "", ""
		if r.PublishedAt == nil {
			r.State = RolloutPublishing
		}
		r.Backoff = nil
	case ControlRollback:
		if r.PublishedAt == nil && r.State != RolloutPaused {
			return nil, fmt.Errorf("%w: intent %s has published nothing to its plane to roll back", ErrInvalid, c.IntentID)
		}
		r.State, r.RollbackRequested = RolloutRollingBack, true
		r.PauseReason = c.Reason
	case ControlPolicy:
		if c.OnFailure != OnFailurePause && c.OnFailure != OnFailureRollback {
			return nil, fmt.Errorf("%w: on_failure %q: want pause or rollback", ErrInvalid, c.OnFailure)
		}
		r.OnFailure = c.OnFailure
	default:
		return nil, fmt.Errorf("%w: control %q: want pause, resume, rollback or policy", ErrInvalid, c.Control)
	}
	r.Step(RolloutStep{Op: c.Control, Phase: "done", At: c.At, Detail: fmt.Sprintf("by %s: %s", c.By, c.Reason)})
	r.Rev++
	r.UpdatedAt = c.At
	return r, setJSON(b, rolloutKey(r.IntentID), r)
}

func applyRolloutValidate(b Batch, v RolloutValidateBody) (any, error) {
	if v.AppID == "" || v.Version == "" || v.PlaneKind == "" || v.IntentID == "" {
		return nil, fmt.Errorf("%w: rollback validation needs an app, a version, a plane kind and the intent it ran in", ErrInvalid)
	}
	rv, err := getRec[RollbackValidation](b, validationKey(v.AppID, v.Version), "rollback validation")
	if errors.Is(err, ErrNotFound) {
		rv, err = RollbackValidation{AppID: v.AppID, Version: v.Version}, nil
	}
	if err != nil {
		return nil, err
	}
	if rv.Planes == nil {
		rv.Planes = map[string]string{}
	}
	rv.Planes[v.PlaneKind] = v.IntentID
	return rv, setJSON(b, validationKey(v.AppID, v.Version), rv)
}

// ValidateIncident checks an incident's fields, naming the bad one.
func ValidateIncident(i Incident) error {
	switch {
	case !ValidName(i.ID):
		return fmt.Errorf("%w: id %q", ErrInvalid, i.ID)
	case i.AppID == "":
		return fmt.Errorf("%w: app_id: required (the application the incident is about)", ErrInvalid)
	case !slices.Contains(incidentSeverities, i.Severity):
		return fmt.Errorf("%w: severity %q: want one of %v", ErrInvalid, i.Severity, incidentSeverities)
	case i.Summary == "" || len(i.Summary) > 4096:
		return fmt.Errorf("%w: summary: want 1-4096 characters", ErrInvalid)
	case i.Attributable && !i.Security:
		return fmt.Errorf("%w: attributable: only a security incident is attributed to a package (section 10.2)", ErrInvalid)
	}
	return nil
}

func applyIncidentCreate(b Batch, i Incident) (any, error) {
	if err := ValidateIncident(i); err != nil {
		return nil, err
	}
	if _, err := getRec[AppRecord](b, appKey(i.AppID), "application "+i.AppID); err != nil {
		return nil, err
	}
	if ok, err := exists(b, incidentKey(i.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("incident %q: %w", i.ID, ErrConflict)
	}
	return i, setJSON(b, incidentKey(i.ID), i)
}

func applyDriftRecord(b Batch, d DriftRecordBody) (any, error) {
	if d.IntentID == "" || !ValidName(d.Plane) {
		return nil, fmt.Errorf("%w: drift needs an intent id and a plane", ErrInvalid)
	}
	for i, x := range d.Open {
		if !slices.Contains(deploy.DriftKinds, x.Kind) {
			return nil, fmt.Errorf("%w: open[%d].kind %q", ErrInvalid, i, x.Kind)
		}
	}
	if _, err := getRec[IntentRecord](b, intentKey(d.IntentID), "intent "+d.IntentID); err != nil {
		return nil, err
	}
	set := DriftSet{IntentID: d.IntentID, Plane: d.Plane, Open: d.Open}
	if len(d.Open) == 0 {
		return set, b.Delete(driftKey(d.IntentID, d.Plane))
	}
	return set, setJSON(b, driftKey(d.IntentID, d.Plane), set)
}

func applyDriftPolicy(b Batch, p deploy.DriftPolicy) (any, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return p, setJSON(b, keyDriftPolicy, p)
}

// needs is what a rollout keeps from retirement: the version its ring
// holds (from its publish until it is rolled back) and, while it is not
// final, the prior version it would roll back to.
func needs(r Rollout) []string {
	var out []string
	if r.IntentID == "" {
		return nil
	}
	if r.PublishedAt != nil && r.State != RolloutRolledBack {
		out = append(out, r.Version)
	}
	if r.Prior != "" && !RolloutFinal(r.State) {
		out = append(out, r.Prior)
	}
	return out
}

// updateRollbackNeeds keeps the index rn/<app>\x00<version> (the intents
// whose rollouts need the version) in line with a rollout's change.
func updateRollbackNeeds(b Batch, before, after Rollout) error {
	old, cur := needs(before), needs(after)
	for _, v := range old {
		if !slices.Contains(cur, v) {
			if err := editNeeds(b, after.AppID, v, after.IntentID, false); err != nil {
				return err
			}
		}
	}
	for _, v := range cur {
		if !slices.Contains(old, v) {
			if err := editNeeds(b, after.AppID, v, after.IntentID, true); err != nil {
				return err
			}
		}
	}
	return nil
}

func editNeeds(b Batch, app, version, intent string, add bool) error {
	ids, err := rollbackNeeds(b, app, version)
	if err != nil {
		return err
	}
	i := slices.Index(ids, intent)
	switch {
	case add && i < 0:
		ids = append(ids, intent)
		slices.Sort(ids)
	case !add && i >= 0:
		ids = slices.Delete(ids, i, i+1)
	default:
		return nil
	}
	if len(ids) == 0 {
		return b.Delete(needsKey(app, version))
	}
	return setJSON(b, needsKey(app, version), ids)
}

// rollbackNeeds lists the intents whose rollouts need a version.
func rollbackNeeds(b Batch, app, version string) ([]string, error) {
	ids, err := getRec[[]string](b, needsKey(app, version), "rollback needs")
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return ids, err
}
