package deploy

import (
	"fmt"
	"time"
)

// DevicePosture is the device state an elevation request is judged on.
type DevicePosture struct {
	DeviceID      string `json:"device_id"`
	Cohort        string `json:"cohort"` // device cohort the grant is bound to
	Managed       bool   `json:"managed"`
	Compliant     bool   `json:"compliant"`
	DiskEncrypted bool   `json:"disk_encrypted"`
	EDRHealthy    bool   `json:"edr_healthy"`
	PatchAgeDays  int    `json:"patch_age_days"` // days since the last OS security update
}

// AppClassification is what the elevation is for.
type AppClassification struct {
	AppID      string  `json:"app_id"`
	RiskScore  float64 `json:"risk_score"`
	RiskModel  string  `json:"risk_model"`
	Privileged bool    `json:"privileged"` // privileged tooling
}

// ElevationPolicy is the configurable part of JIT evaluation. The architecture document
// gives no numbers for these; DefaultElevationPolicy documents EUCORA's.
type ElevationPolicy struct {
	EligibleRoles   []Role        `json:"eligible_roles"`
	MaxDuration     time.Duration `json:"max_duration"`
	MaxPatchAgeDays int           `json:"max_patch_age_days"`
}

// DefaultElevationPolicy: endpoint operations and packaging engineers may
// request elevation; grants last at most 4 hours; devices must have had a
// security update within 30 days.
var DefaultElevationPolicy = ElevationPolicy{
	EligibleRoles:   []Role{RoleEndpointOps, RolePackagingEngineer},
	MaxDuration:     4 * time.Hour,
	MaxPatchAgeDays: 30,
}

// ElevationRequest is a JIT elevation request (EUCORA-architecture.md section 11.3).
type ElevationRequest struct {
	ID          string            `json:"id"`
	Principal   Principal         `json:"principal"`
	Device      DevicePosture     `json:"device"`
	DeviceScope Scope             `json:"device_scope"`
	App         AppClassification `json:"app"`
	Duration    time.Duration     `json:"duration"`
	CABApproval *ApprovalRecord   `json:"cab_approval,omitempty"`
}

// ElevationGrant is a time-bound, scope-bound approval (app + device
// cohort).
type ElevationGrant struct {
	RequestID string    `json:"request_id"`
	Principal string    `json:"principal"`
	AppID     string    `json:"app_id"`
	Cohort    string    `json:"cohort"`
	DeviceID  string    `json:"device_id"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"` // first instant the grant no longer holds
}

// Valid reports whether the grant covers app and cohort at time at.
func (g ElevationGrant) Valid(appID, cohort string, at time.Time) bool {
	return g.AppID == appID && g.Cohort == cohort && !at.Before(g.NotBefore) && at.Before(g.NotAfter)
}

// SIEMEvent is an elevation audit record with flat, stable keys for SIEM
// correlation (EUCORA-architecture.md section 11.3, 12).
type SIEMEvent struct {
	Time          string   `json:"time"` // RFC 3339, UTC
	EventType     string   `json:"event_type"`
	Outcome       string   `json:"outcome"` // "allow" or "deny"
	RequestID     string   `json:"request_id"`
	Actor         string   `json:"actor"`
	ActorRole     Role     `json:"actor_role"`
	DeviceID      string   `json:"device_id"`
	Cohort        string   `json:"cohort"`
	AppID         string   `json:"app_id"`
	RiskScore     float64  `json:"risk_score"`
	Privileged    bool     `json:"privileged"`
	CABRequired   bool     `json:"cab_required"`
	CABApprovalID string   `json:"cab_approval_id,omitempty"`
	NotAfter      string   `json:"not_after,omitempty"`
	FailedRules   []string `json:"failed_rules,omitempty"`
	Reasons       []string `json:"reasons"`
}

// ElevationDecision is the explained outcome with the grant (when allowed)
// and the audit event (always).
type ElevationDecision struct {
	Decision
	Grant *ElevationGrant `json:"grant,omitempty"`
	Event SIEMEvent       `json:"event"`
}

// EvaluateElevation judges a JIT request at time at:
//
//	jit.role        the requester's role is eligible
//	jit.scope       the device is within the requester's scope
//	jit.posture.*   managed, compliant, disk encrypted, EDR healthy, patched within MaxPatchAgeDays
//	jit.duration    0 < duration <= MaxDuration
//	jit.cab         risk > the model's threshold (50) or privileged tooling: a CAB
//	                approval for Subject(SubjectElevation, request id) must hold;
//	                the grant then ends no later than the approval's expiry
func EvaluateElevation(r ElevationRequest, pol ElevationPolicy, at time.Time) ElevationDecision {
	var j judge
	eligible := false
	for _, x := range pol.EligibleRoles {
		eligible = eligible || x == r.Principal.Role
	}
	j.check("jit.role", eligible && ValidIdentifier(r.Principal.ID), fmt.Sprintf("role %s eligible for elevation: %v (eligible: %v)", r.Principal.Role, eligible, pol.EligibleRoles))
	j.check("jit.scope", r.Principal.Scope.Contains(r.DeviceScope), fmt.Sprintf("device scope %s ⊆ requester scope %s", r.DeviceScope, r.Principal.Scope))
	d := r.Device
	j.check("jit.device", d.DeviceID != "" && d.Cohort != "", fmt.Sprintf("device %q cohort %q identified", d.DeviceID, d.Cohort))
	j.check("jit.posture.managed", d.Managed, fmt.Sprintf("device managed: %v", d.Managed))
	j.check("jit.posture.compliant", d.Compliant, fmt.Sprintf("device compliant: %v", d.Compliant))
	j.check("jit.posture.disk-encrypted", d.DiskEncrypted, fmt.Sprintf("disk encrypted: %v", d.DiskEncrypted))
	j.check("jit.posture.edr", d.EDRHealthy, fmt.Sprintf("EDR healthy: %v", d.EDRHealthy))
	j.check("jit.posture.patched", d.PatchAgeDays >= 0 && d.PatchAgeDays <= pol.MaxPatchAgeDays, fmt.Sprintf("last security update %d days ago (max %d)", d.PatchAgeDays, pol.MaxPatchAgeDays))
	j.check("jit.duration", r.Duration > 0 && r.Duration <= pol.MaxDuration, fmt.Sprintf("requested %s (max %s)", r.Duration, pol.MaxDuration))

	cabRequired := r.App.Privileged
	m, err := LookupModel(r.App.RiskModel)
	if err != nil {
		j.check("jit.risk-model", false, err.Error())
	} else {
		if r.App.RiskScore > m.CABThreshold {
			cabRequired = true
		}
		j.check("jit.cab-decision", true, fmt.Sprintf("app %s risk %g (threshold > %g), privileged %v: CAB gate %v", r.App.AppID, r.App.RiskScore, m.CABThreshold, r.App.Privileged, cabRequired))
	}
	notAfter := at.Add(r.Duration)
	if cabRequired {
		j.merge("jit.", r.CABApproval.CheckCABFor(Subject(SubjectElevation, r.ID), r.Principal.ID, at))
		if r.CABApproval != nil {
			j.check("jit.cab-not-self", r.CABApproval.Approver != r.Principal.ID,
				fmt.Sprintf("CAB approver %s, requester %s: nobody approves their own elevation", r.CABApproval.Approver, r.Principal.ID))
		}
		if r.CABApproval != nil && r.CABApproval.ExpiresAt.Before(notAfter) {
			notAfter = r.CABApproval.ExpiresAt
		}
	}
	out := ElevationDecision{Decision: j.decision()}
	ev := SIEMEvent{
		Time: ts(at), EventType: "eucora.jit.elevation", Outcome: "deny", RequestID: r.ID,
		Actor: r.Principal.ID, ActorRole: r.Principal.Role, DeviceID: d.DeviceID, Cohort: d.Cohort,
		AppID: r.App.AppID, RiskScore: r.App.RiskScore, Privileged: r.App.Privileged, CABRequired: cabRequired,
		FailedRules: out.Failed(), Reasons: out.Reasons(),
	}
	if cabRequired && r.CABApproval != nil {
		ev.CABApprovalID = r.CABApproval.ID
	}
	if out.Allowed {
		ev.Outcome = "allow"
		ev.NotAfter = ts(notAfter)
		out.Grant = &ElevationGrant{RequestID: r.ID, Principal: r.Principal.ID, AppID: r.App.AppID, Cohort: d.Cohort, DeviceID: d.DeviceID, NotBefore: at.UTC(), NotAfter: notAfter.UTC()}
	}
	out.Event = ev
	return out
}
