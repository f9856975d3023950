package deploy

import (
	"fmt"
	"time"
)

// PublishRequest is everything the publish gate judges. Ring 0 intents are
// staging (ActionStage); Rings 1-4 are production publishing.
type PublishRequest struct {
	Principal Principal          `json:"principal"`
	App       Application        `json:"app"`
	Version   ApplicationVersion `json:"version"`
	Artifact  Artifact           `json:"artifact"`
	Intent    Intent             `json:"intent"`
	Risk      *Assessment        `json:"risk"`
	Evidence  *EvidencePack      `json:"evidence"`
	// EvidenceStored is true once the signed pack was written to the
	// evidence store; publish is refused otherwise (EUCORA-architecture.md section 5.7).
	EvidenceStored      bool            `json:"evidence_stored"`
	CABApproval         *ApprovalRecord `json:"cab_approval,omitempty"`
	Exception           *Exception      `json:"exception,omitempty"`
	ActiveIntents       []Intent        `json:"active_intents"`
	ConcurrencyApproval *ApprovalRecord `json:"concurrency_approval,omitempty"`
}

// DecidePublish is the publish gate (EUCORA-architecture.md section 5.4.1, 5.5, 5.6, 7.1, 9.3, 9.4,
// 14.1). It evaluates, in order, and reports every failed rule:
//
//	intent.*      the intent is well formed and names this app, version and artifact
//	catalog.*     the artifact is well formed; the version is approved (Rings 1-4)
//	              or at least packaged (Ring 0)
//	risk.*        the assessment is for this ring, reproducible from its input
//	              with its model, and CAB need is decided from it (privileged
//	              tooling of the app counts as privileged)
//	rbac.*/sod.*  Authorize(principal, publish or stage, intent) incl. CAB approval
//	guardrail.*   target ⊆ publisher scope and ⊆ app scope, declared
//	scan.*        scan_pass OR approved_exception (hard precondition); from
//	              Ring 1 an exception must be linked by the CAB record and
//	              included in the evidence pack
//	evidence.*    from Ring 1: the pack is complete and stored (write-once)
//	concurrency.* one active change per app and ring unless approved
func DecidePublish(r PublishRequest, at time.Time) Decision {
	var j judge
	in := r.Intent
	if err := in.Validate(); err != nil {
		j.check("intent.valid", false, fmt.Sprintf("intent %s: %v", in.ID, err))
		return j.decision()
	}
	j.check("intent.matches", in.AppID == r.App.ID && in.Version == r.Artifact.Version && in.AppID == r.Artifact.AppID && in.Artifact == r.Artifact.SHA256,
		fmt.Sprintf("intent %s deploys %s %s artifact %s; app %s, artifact %s %s %s", in.ID, in.AppID, in.Version, in.Artifact.Short(), r.App.ID, r.Artifact.AppID, r.Artifact.Version, r.Artifact.SHA256.Short()))
	if err := r.App.Validate(); err != nil {
		j.check("catalog.app-valid", false, fmt.Sprintf("application %s: %v", r.App.ID, err))
	}
	if err := r.Version.Validate(); err != nil {
		j.check("catalog.version-valid", false, fmt.Sprintf("version %s %s: %v", r.Version.AppID, r.Version.Version, err))
	}
	if err := r.Artifact.Validate(); err != nil {
		j.check("catalog.artifact-valid", false, fmt.Sprintf("artifact: %v", err))
	}
	j.check("catalog.version", r.Version.AppID == in.AppID && r.Version.Version == in.Version,
		fmt.Sprintf("catalog version %s %s, intent %s %s", r.Version.AppID, r.Version.Version, in.AppID, in.Version))
	if in.Ring.IsProduction() {
		j.check("catalog.state", r.Version.State == StateApproved || r.Version.State == StatePublished,
			fmt.Sprintf("%s %s is %s: publishing to %s needs an approved release", in.AppID, in.Version, orNone(string(r.Version.State)), in.Ring))
	} else {
		j.check("catalog.state", r.Version.State != "" && r.Version.State != StateRequested && r.Version.State != StateRetired,
			fmt.Sprintf("%s %s is %s: staging needs a packaged artifact", in.AppID, in.Version, orNone(string(r.Version.State))))
	}

	cabRequired := j.checkRisk(r.Risk, in.Ring, r.App.PrivilegedTools)

	action := ActionPublish
	if !in.Ring.IsProduction() {
		action = ActionStage
	}
	obj := Object{Kind: "intent", ID: in.ID, Scope: *in.Scope, RequestedBy: in.RequestedBy, PackagedBy: r.Artifact.PackagedBy,
		Ring: in.Ring, CABRequired: cabRequired, CABApproval: r.CABApproval}
	j.merge("", Authorize(r.Principal, action, obj, at))
	if action == ActionStage && cabRequired {
		// Privileged tooling needs CAB at every ring, staging included.
		j.merge("stage.", r.CABApproval.CheckCABFor(Subject(SubjectIntent, in.ID), in.RequestedBy, at))
	}
	j.merge("", CheckTargetScope(in.Scope, r.Principal.Scope, r.App.AllowedScope))
	j.merge("", CheckScanGate(r.Artifact, in.ID, r.Exception, at))
	if r.Exception != nil && r.Artifact.ScanDecision != ScanPass {
		j.check("sod.exception-not-publisher", r.Exception.ApprovedBy != r.Principal.ID,
			fmt.Sprintf("%s %s on exception %s approved by %s: nobody publishes on an exception they approved", action, in.ID, r.Exception.ID, r.Exception.ApprovedBy))
	}
	if r.Artifact.ScanDecision != ScanPass && r.Exception != nil && in.Ring.IsProduction() {
		// EUCORA-architecture.md section 7.1: the CAB record links the exception, and the evidence
		// pack carries it.
		linked := r.CABApproval != nil && r.CABApproval.ExceptionID == r.Exception.ID &&
			r.CABApproval.CheckCABFor(Subject(SubjectIntent, in.ID), in.RequestedBy, at).Allowed
		j.check("exception.cab-linked", linked, fmt.Sprintf("publishing on exception %s needs a valid CAB approval of intent %s linking it", r.Exception.ID, in.ID))
		included := false
		if r.Evidence != nil {
			for _, e := range r.Evidence.Exceptions {
				included = included || e.ID == r.Exception.ID
			}
		}
		j.check("evidence.exception-included", included, fmt.Sprintf("evidence pack includes exception record %s", r.Exception.ID))
	}
	if in.Ring.IsProduction() {
		j.merge("", r.Evidence.CheckComplete(in.RequiredEvidence...))
		if r.Evidence != nil {
			j.check("evidence.intent", r.Evidence.IntentID == in.ID, fmt.Sprintf("evidence pack is for intent %s, publishing %s", r.Evidence.IntentID, in.ID))
		}
		j.check("evidence.stored", r.EvidenceStored, "evidence pack stored write-once before publish (an unwritable evidence store refuses publish and promotion)")
	} else {
		j.check("evidence.staging", true, "staging to Ring 0 (Lab) produces the lab and Ring 0 test evidence; a complete evidence pack is required from Ring 1")
	}
	j.merge("", CheckConcurrency(in, r.ActiveIntents, r.ConcurrencyApproval, at))
	return j.decision()
}

// checkRisk re-scores an assessment with its model, checks it targets ring
// and returns whether CAB approval is required there (privileged tooling of
// the app counts as privileged).
func (j *judge) checkRisk(risk *Assessment, ring Ring, privilegedApp bool) bool {
	if risk == nil {
		j.check("risk.assessed", false, "no risk assessment")
		return false
	}
	re, err := Score(risk.Input)
	switch {
	case err != nil:
		j.check("risk.reproducible", false, fmt.Sprintf("risk assessment input: %v", err))
		return false
	case re.Score != risk.Score || re.Model != risk.Model:
		j.check("risk.reproducible", false, fmt.Sprintf("assessment says %s %g, its input scores %s %g", risk.Model, risk.Score, re.Model, re.Score))
		return false
	}
	j.check("risk.reproducible", true, fmt.Sprintf("risk %g reproduced with model %s", re.Score, re.Model))
	j.check("risk.ring", risk.Input.TargetRing == ring, fmt.Sprintf("assessment target %s, intent %s", risk.Input.TargetRing, ring))
	m, _ := LookupModel(re.Model)
	required, reasons := m.CABRequirement(re.Score, risk.Input.PrivilegedTooling || privilegedApp, ring)
	j.check("risk.cab-decision", true, fmt.Sprintf("CAB required: %v (%v)", required, reasons))
	return required
}
