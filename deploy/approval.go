package deploy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ApprovalDecision is a CAB outcome.
type ApprovalDecision string

// CAB outcomes.
const (
	Approved ApprovalDecision = "approved"
	Rejected ApprovalDecision = "rejected"
)

// Approval subjects name what an approval record approves. They are plain
// strings so the hub can index them.
const (
	SubjectIntent      = "intent"       // publish intent ID (EUCORA-architecture.md section 9.3)
	SubjectScopeChange = "scope-change" // app allowed scope change (EUCORA-architecture.md section 5.4.1)
	SubjectConcurrency = "concurrency"  // a second active change per app and ring (EUCORA-architecture.md section 5.6)
	SubjectElevation   = "elevation"    // JIT elevation (EUCORA-architecture.md section 11.3)
)

// SubjectKinds lists the approval subject kinds in a stable order.
var SubjectKinds = []string{SubjectIntent, SubjectScopeChange, SubjectConcurrency, SubjectElevation}

// Subject renders an approval subject, e.g. "intent:i-42".
func Subject(kind, id string) string { return kind + ":" + id }

// ParseSubject splits an approval subject into its kind (one of
// SubjectKinds) and the id of what it approves; any other form is a
// *FieldError on "subject".
func ParseSubject(s string) (kind, id string, err error) {
	kind, id, ok := strings.Cut(s, ":")
	if !ok || id == "" {
		return "", "", fieldErrorf("subject", "%q: want KIND:ID with KIND one of %s", clip(s), strings.Join(SubjectKinds, ", "))
	}
	if !slices.Contains(SubjectKinds, kind) {
		return "", "", fieldErrorf("subject", "%q: unknown kind %q (want one of %s)", clip(s), clip(kind), strings.Join(SubjectKinds, ", "))
	}
	return kind, id, nil
}

// ScopeChangeSubject is the subject of a CAB approval for changing app's
// allowed scope to its version newVersion.
func ScopeChangeSubject(appID string, newVersion int) string {
	return Subject(SubjectScopeChange, fmt.Sprintf("%s@%d", appID, newVersion))
}

// ApprovalRecord is a CAB decision (EUCORA-architecture.md section 5.3: approver, decision,
// conditions, expiry, exception link).
type ApprovalRecord struct {
	ID           string           `json:"id"`
	Subject      string           `json:"subject"`      // what is approved, see Subject
	RequestedBy  string           `json:"requested_by"` // principal id of the requester, taken from the stored request (never from the approver)
	Approver     string           `json:"approver"`     // principal id
	ApproverRole Role             `json:"approver_role"`
	Decision     ApprovalDecision `json:"decision"`
	Conditions   []string         `json:"conditions,omitempty"`
	DecidedAt    time.Time        `json:"decided_at"`
	ExpiresAt    time.Time        `json:"expires_at"`             // first instant the approval no longer holds
	ExceptionID  string           `json:"exception_id,omitempty"` // linked exception, if any
	EvidencePack string           `json:"evidence_pack,omitempty"`
}

// Validate checks the record's shape (not whether it holds at a time).
func (a ApprovalRecord) Validate() error {
	if err := checkIdent("id", a.ID); err != nil {
		return err
	}
	if a.Subject == "" {
		return fieldErrorf("subject", "missing")
	}
	if _, _, err := ParseSubject(a.Subject); err != nil {
		return err
	}
	if err := checkIdent("requested_by", a.RequestedBy); err != nil {
		return err
	}
	if err := checkIdent("approver", a.Approver); err != nil {
		return err
	}
	if _, err := ParseRole(string(a.ApproverRole)); err != nil {
		return &FieldError{Field: "approver_role", Msg: err.Error()}
	}
	if a.Decision != Approved && a.Decision != Rejected {
		return fieldErrorf("decision", "%q: want approved or rejected", a.Decision)
	}
	if a.DecidedAt.IsZero() {
		return fieldErrorf("decided_at", "missing")
	}
	if !a.ExpiresAt.After(a.DecidedAt) {
		return fieldErrorf("expires_at", "must be after decided_at (an approval needs an explicit expiry)")
	}
	return nil
}

// CheckCAB decides whether a is a CAB approval of subject that holds at
// time at: well formed, decision approved, by a CAB approver, not by the
// requester, for this subject, decided no later than at and not expired
// (valid while at < ExpiresAt).
func (a *ApprovalRecord) CheckCAB(subject string, at time.Time) Decision {
	var j judge
	a.judgeCAB(&j, subject, at)
	return j.decision()
}

// judgeCAB records CheckCAB's checks in j and reports whether a was
// present and well formed (its own checks were judged).
func (a *ApprovalRecord) judgeCAB(j *judge, subject string, at time.Time) bool {
	if a == nil {
		j.check("cab.present", false, fmt.Sprintf("no CAB approval record for %s", subject))
		return false
	}
	if err := a.Validate(); err != nil {
		j.check("cab.well-formed", false, fmt.Sprintf("approval %s malformed: %v", a.ID, err))
		return false
	}
	j.check("cab.subject", a.Subject == subject, fmt.Sprintf("approval %s is for %q, need %q", a.ID, a.Subject, subject))
	j.check("cab.decision", a.Decision == Approved, fmt.Sprintf("approval %s decision is %s", a.ID, a.Decision))
	j.check("cab.role", a.ApproverRole == RoleCABApprover, fmt.Sprintf("approval %s decided by %s with role %s (need %s)", a.ID, a.Approver, a.ApproverRole, RoleCABApprover))
	j.check("cab.not-self", a.Approver != a.RequestedBy, fmt.Sprintf("approval %s: approver %s vs requester %s (nobody approves their own request)", a.ID, a.Approver, a.RequestedBy))
	j.check("cab.decided", !at.Before(a.DecidedAt), fmt.Sprintf("approval %s decided at %s, judged at %s", a.ID, ts(a.DecidedAt), ts(at)))
	j.check("cab.not-expired", at.Before(a.ExpiresAt), fmt.Sprintf("approval %s expires at %s, judged at %s", a.ID, ts(a.ExpiresAt), ts(at)))
	return true
}

// CheckCABFor is CheckCAB for a change that requester asks for, judged
// where the approval is used: the approval must have been given for
// requester's request (cab.requester) and not by requester
// (cab.not-requester). Principal ids are person ids, shared by all of a
// person's tokens, so holding two roles does not get round it.
func (a *ApprovalRecord) CheckCABFor(subject, requester string, at time.Time) Decision {
	var j judge
	if a.judgeCAB(&j, subject, at) {
		j.check("cab.requester", requester != "" && a.RequestedBy == requester,
			fmt.Sprintf("approval %s was given for a request by %s; this change is requested by %s", a.ID, a.RequestedBy, orNone(requester)))
		j.check("cab.not-requester", a.Approver != requester,
			fmt.Sprintf("approval %s decided by %s, change requested by %s (nobody approves their own request)", a.ID, a.Approver, orNone(requester)))
	}
	return j.decision()
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ParseApprovalRecord strictly decodes and validates an approval record
// (as carried by hub API requests and hub-to-edge bundles).
func ParseApprovalRecord(b []byte) (ApprovalRecord, error) {
	var a ApprovalRecord
	if err := decodeStrict(b, &a, "approval"); err != nil {
		return ApprovalRecord{}, err
	}
	return a, a.Validate()
}
