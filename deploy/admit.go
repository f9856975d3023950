package deploy

import (
	"fmt"
	"time"
)

// SiteAdmission is what an edge appliance knows when it decides, offline,
// whether to act on an intent it received from the hub.
type SiteAdmission struct {
	Site        Scope           `json:"site"` // the edge's own site scope
	App         Application     `json:"app"`
	Artifact    Artifact        `json:"artifact"`
	Intent      Intent          `json:"intent"`
	Risk        *Assessment     `json:"risk"`
	CABApproval *ApprovalRecord `json:"cab_approval,omitempty"`
	Exception   *Exception      `json:"exception,omitempty"`
}

// AdmitAtSite applies, at an edge and at time at, the subset of the publish
// rules that need no hub state: the intent is well formed and targets this
// site within the app's allowed scope; the artifact is the intent's; the
// assessment reproduces with its model; CAB approval holds where the ring
// requires it; scan_pass OR approved_exception. The hub already checked the
// publisher's authority when it signed the bundle; an edge re-checks what
// can expire or be forged in transit.
func AdmitAtSite(r SiteAdmission, at time.Time) Decision {
	var j judge
	in := r.Intent
	if err := in.Validate(); err != nil {
		j.check("intent.valid", false, fmt.Sprintf("intent %s: %v", in.ID, err))
		return j.decision()
	}
	j.check("edge.site-in-target", in.Scope.Contains(r.Site), fmt.Sprintf("site %s ⊆ intent target %s", r.Site, in.Scope))
	j.check("guardrail.within-app", r.App.AllowedScope.Contains(*in.Scope), fmt.Sprintf("target scope %s ⊆ app allowed scope %s", in.Scope, r.App.AllowedScope))
	j.check("intent.matches", in.AppID == r.App.ID && in.AppID == r.Artifact.AppID && in.Version == r.Artifact.Version && in.Artifact == r.Artifact.SHA256,
		fmt.Sprintf("intent %s deploys %s %s artifact %s; artifact is %s %s %s", in.ID, in.AppID, in.Version, in.Artifact.Short(), r.Artifact.AppID, r.Artifact.Version, r.Artifact.SHA256.Short()))
	cabRequired := j.checkRisk(r.Risk, in.Ring, r.App.PrivilegedTools)
	if cabRequired {
		j.merge("", r.CABApproval.CheckCAB(Subject(SubjectIntent, in.ID), at))
	}
	j.merge("", CheckScanGate(r.Artifact, in.ID, r.Exception, at))
	return j.decision()
}
