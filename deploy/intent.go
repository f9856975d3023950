package deploy

import (
	"fmt"
	"time"

	"github.com/eucora/eucora/internal/digest"
)

// Intent is a declarative deployment intent (EUCORA-architecture.md section 5.3, 5.6): which version
// of an application should be present in which ring for which scope, when,
// under which constraints, with which evidence.
type Intent struct {
	ID               string         `json:"id"`
	AppID            string         `json:"app_id"`
	Version          string         `json:"version"`
	Artifact         digest.Digest  `json:"artifact"` // SHA-256 of the artifact to deploy
	Ring             Ring           `json:"ring"`
	Scope            *Scope         `json:"scope"` // mandatory (EUCORA-architecture.md section 5.4.1)
	Schedule         Schedule       `json:"schedule"`
	Constraints      []string       `json:"constraints"`       // e.g. "maintenance-window", "on-ac-power"
	RequiredEvidence []EvidenceItem `json:"required_evidence"` // items beyond the mandatory ones
	Exclusions       []string       `json:"exclusions"`        // excluded groups or devices
	RequestedBy      string         `json:"requested_by"`
}

// Schedule is when an intent applies.
type Schedule struct {
	NotBefore time.Time `json:"not_before"`
	Deadline  time.Time `json:"deadline,omitzero"` // zero: no deadline
}

// Validate checks the intent's shape: ids, a ring 0-4, a declared and valid
// scope, a schedule whose deadline follows its start, known evidence items.
func (in Intent) Validate() error {
	for _, f := range []struct{ name, v string }{{"id", in.ID}, {"app_id", in.AppID}, {"version", in.Version}, {"requested_by", in.RequestedBy}} {
		if err := checkIdent(f.name, f.v); err != nil {
			return err
		}
	}
	if _, err := digest.Parse(string(in.Artifact)); err != nil {
		return fieldErrorf("artifact", "%v", err)
	}
	if !in.Ring.Valid() {
		return fieldErrorf("ring", "%d is not a ring (want 0-4)", int(in.Ring))
	}
	if in.Scope == nil {
		return fieldErrorf("scope", "missing: every deployment intent declares its scope (acquisition, bu, site)")
	}
	if err := in.Scope.Validate(); err != nil {
		return &FieldError{Field: "scope", Msg: err.Error()}
	}
	if in.Scope.Acquisition == "" {
		return fieldErrorf("scope.acquisition", "missing: an intent targets one acquisition boundary at most (default deny across boundaries)")
	}
	if in.Schedule.NotBefore.IsZero() {
		return fieldErrorf("schedule.not_before", "missing")
	}
	if !in.Schedule.Deadline.IsZero() && !in.Schedule.Deadline.After(in.Schedule.NotBefore) {
		return fieldErrorf("schedule.deadline", "must be after schedule.not_before")
	}
	for i, c := range in.Constraints {
		if c == "" {
			return fieldErrorf(fmt.Sprintf("constraints[%d]", i), "empty")
		}
	}
	for i, e := range in.RequiredEvidence {
		if !e.Valid() {
			return fieldErrorf(fmt.Sprintf("required_evidence[%d]", i), "unknown evidence item %q (want one of %v)", e, EvidenceItems)
		}
	}
	return nil
}

// ParseIntent strictly decodes and validates an intent document.
func ParseIntent(b []byte) (Intent, error) {
	var in Intent
	if err := decodeStrict(b, &in, "intent"); err != nil {
		return Intent{}, err
	}
	return in, in.Validate()
}

// CheckConcurrency enforces "one active change at a time" per application
// and ring (EUCORA-architecture.md section 5.6): candidate conflicts with any other active intent for
// the same application and ring, unless a CAB approval for
// Subject(SubjectConcurrency, candidate.ID) holds at time at, was given for
// candidate's requester and not by them (ApprovalRecord.CheckCABFor).
func CheckConcurrency(candidate Intent, active []Intent, approval *ApprovalRecord, at time.Time) Decision {
	var j judge
	var conflicts []string
	for _, a := range active {
		if a.ID != candidate.ID && a.AppID == candidate.AppID && a.Ring == candidate.Ring {
			conflicts = append(conflicts, a.ID)
		}
	}
	if len(conflicts) == 0 {
		j.check("concurrency.one-active-change", true, fmt.Sprintf("no other active change for %s at %s", candidate.AppID, candidate.Ring))
		return j.decision()
	}
	if approval == nil {
		j.check("concurrency.one-active-change", false, fmt.Sprintf("%s at %s already has active change(s) %v: one active change per app and ring unless explicitly approved", candidate.AppID, candidate.Ring, conflicts))
		return j.decision()
	}
	j.check("concurrency.one-active-change", true, fmt.Sprintf("%s at %s has active change(s) %v; concurrent change explicitly approved by %s", candidate.AppID, candidate.Ring, conflicts, approval.ID))
	j.merge("concurrency.", approval.CheckCABFor(Subject(SubjectConcurrency, candidate.ID), candidate.RequestedBy, at))
	return j.decision()
}
