package deploy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/digest"
)

// Exception is a controlled policy exception (EUCORA-architecture.md section 7.1, 9.5): it lets an
// artifact whose scan failed be published, with an explicit expiry,
// compensating controls, a named accountable owner, Security Reviewer
// approval and audit linkage to one deployment intent.
type Exception struct {
	ID                   string        `json:"id"`
	IntentID             string        `json:"intent_id"`     // linked deployment intent
	Artifact             digest.Digest `json:"artifact"`      // SHA-256 of the excepted artifact
	Findings             []string      `json:"findings"`      // e.g. CVE ids the exception covers
	Justification        string        `json:"justification"` // why
	CompensatingControls []string      `json:"compensating_controls"`
	AccountableOwner     string        `json:"accountable_owner"`
	RequestedBy          string        `json:"requested_by"`
	ApprovedBy           string        `json:"approved_by"`
	ApproverRole         Role          `json:"approver_role"`
	ApprovedAt           time.Time     `json:"approved_at"`
	ExpiresAt            time.Time     `json:"expires_at"` // first instant the exception is invalid
}

// Validate checks the exception's shape.
func (e Exception) Validate() error {
	if err := checkIdent("id", e.ID); err != nil {
		return err
	}
	if err := checkIdent("intent_id", e.IntentID); err != nil {
		return err
	}
	if _, err := digest.Parse(string(e.Artifact)); err != nil {
		return fieldErrorf("artifact", "%v", err)
	}
	if err := checkText("justification", e.Justification); err != nil {
		return err
	}
	if len(e.CompensatingControls) == 0 {
		return fieldErrorf("compensating_controls", "at least one compensating control is required (EUCORA-architecture.md section 9.5)")
	}
	for i, c := range e.CompensatingControls {
		if c == "" {
			return fieldErrorf(fmt.Sprintf("compensating_controls[%d]", i), "empty")
		}
	}
	if err := checkIdent("accountable_owner", e.AccountableOwner); err != nil {
		return err
	}
	if err := checkIdent("requested_by", e.RequestedBy); err != nil {
		return err
	}
	if e.ExpiresAt.IsZero() {
		return fieldErrorf("expires_at", "missing: an exception needs an explicit expiry (EUCORA-architecture.md section 9.5)")
	}
	if e.ApprovedBy != "" {
		if err := checkIdent("approved_by", e.ApprovedBy); err != nil {
			return err
		}
		if e.ApprovedAt.IsZero() {
			return fieldErrorf("approved_at", "missing")
		}
		if !e.ExpiresAt.After(e.ApprovedAt) {
			return fieldErrorf("expires_at", "must be after approved_at")
		}
	}
	return nil
}

// Check decides whether e is an approved exception for artifact and intent
// at time at. It holds while ApprovedAt <= at < ExpiresAt: at the expiry
// instant itself the exception is already invalid.
func (e *Exception) Check(intentID string, artifact digest.Digest, at time.Time) Decision {
	var j judge
	if e == nil {
		j.check("exception.present", false, "no exception record")
		return j.decision()
	}
	if err := e.Validate(); err != nil {
		j.check("exception.well-formed", false, fmt.Sprintf("exception %s malformed: %v", e.ID, err))
		return j.decision()
	}
	j.check("exception.approved", e.ApprovedBy != "", fmt.Sprintf("exception %s has no Security Reviewer approval", e.ID))
	j.check("exception.role", e.ApproverRole == RoleSecurityReviewer, fmt.Sprintf("exception %s approved with role %q (need %s)", e.ID, e.ApproverRole, RoleSecurityReviewer))
	j.check("exception.not-self", e.ApprovedBy != e.RequestedBy, fmt.Sprintf("exception %s approved by %s, requested by %s (nobody approves their own request)", e.ID, e.ApprovedBy, e.RequestedBy))
	j.check("exception.intent", e.IntentID == intentID, fmt.Sprintf("exception %s is linked to intent %s, need %s", e.ID, e.IntentID, intentID))
	j.check("exception.artifact", e.Artifact == artifact, fmt.Sprintf("exception %s covers artifact %s, need %s", e.ID, e.Artifact.Short(), artifact.Short()))
	j.check("exception.in-force", !at.Before(e.ApprovedAt), fmt.Sprintf("exception %s approved at %s, judged at %s", e.ID, ts(e.ApprovedAt), ts(at)))
	j.check("exception.not-expired", at.Before(e.ExpiresAt), fmt.Sprintf("exception %s expires at %s, judged at %s", e.ID, ts(e.ExpiresAt), ts(at)))
	return j.decision()
}

// CheckScanGate enforces the hard publish precondition of EUCORA-architecture.md section 7.1:
// scan_pass OR approved_exception. A scan decision of "fail" or
// "exception" needs an exception that holds at time at.
func CheckScanGate(a Artifact, intentID string, ex *Exception, at time.Time) Decision {
	var j judge
	if a.ScanDecision == ScanPass {
		j.check("scan.pass-or-exception", true, fmt.Sprintf("artifact %s scan decision: pass", a.SHA256.Short()))
		return j.decision()
	}
	if !a.ScanDecision.Valid() {
		j.check("scan.pass-or-exception", false, fmt.Sprintf("artifact %s has no scan decision: publish is blocked without a pass or approved exception", a.SHA256.Short()))
		return j.decision()
	}
	d := ex.Check(intentID, a.SHA256, at)
	if d.Allowed && a.Intake != nil && len(a.Intake.Blocking) > 0 {
		// The factory found the blocking findings: the exception must name
		// each of them (by id or alias).
		var missing []string
		for _, f := range a.Intake.Blocking {
			if !slices.ContainsFunc(ex.Findings, func(x string) bool {
				return strings.EqualFold(x, f.ID) || slices.ContainsFunc(f.Aliases, func(al string) bool { return strings.EqualFold(x, al) })
			}) {
				missing = append(missing, f.ID)
			}
		}
		ok := len(missing) == 0
		var jj judge
		jj.check("exception.covers-findings", ok, fmt.Sprintf("exception %s covers %s; the factory's blocking findings not covered: %s", ex.ID, strings.Join(ex.Findings, ", "), orNone(strings.Join(missing, ", "))))
		d.Checks, d.Allowed = append(d.Checks, jj.checks...), ok
	}
	if d.Allowed {
		j.check("scan.pass-or-exception", true, fmt.Sprintf("artifact %s scan decision %s, approved exception %s in force until %s", a.SHA256.Short(), a.ScanDecision, ex.ID, ts(ex.ExpiresAt)))
		j.merge("", d)
		return j.decision()
	}
	j.check("scan.pass-or-exception", false, fmt.Sprintf("artifact %s scan decision %s and no valid approved exception: Critical/High findings block publish", a.SHA256.Short(), a.ScanDecision))
	j.merge("", d)
	return j.decision()
}

// ParseException strictly decodes and validates an exception record.
func ParseException(b []byte) (Exception, error) {
	var e Exception
	if err := decodeStrict(b, &e, "exception"); err != nil {
		return Exception{}, err
	}
	return e, e.Validate()
}
