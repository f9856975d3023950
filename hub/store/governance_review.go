package store

import (
	"errors"
	"fmt"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// reviewHandlers apply the judgements people and models make about a
// change: risk assessments, CAB approvals, Security Reviewer exceptions
// and JIT elevation decisions.
var reviewHandlers = map[string]handler{
	CmdAssessmentCreate: gov(applyAssessmentCreate),
	CmdApprovalCreate:   gov(applyApprovalCreate),
	CmdExceptionCreate:  gov(applyExceptionCreate),
	CmdElevationDecide:  gov(applyElevation),
}

func applyAssessmentCreate(b Batch, kind string, body AssessmentCreateBody) (any, error) {
	if !deploy.ValidIdentifier(body.ID) {
		return nil, invalidf("id %q: want an identifier", body.ID)
	}
	if body.Artifact == "" {
		// Without an artifact there are no facts: check the input first.
		if _, err := deploy.Score(body.Input); err != nil {
			return nil, fieldInvalid("input.", err)
		}
	}
	body.Artifact = digest.Canonical(body.Artifact)
	app, err := getRec[AppRecord](b, appKey(body.AppID), "application "+body.AppID)
	if err != nil {
		return nil, err
	}
	if _, err := getRec[VersionRecord](b, versionKey(body.AppID, body.Version), "version "+body.AppID+" "+body.Version); err != nil {
		return nil, err
	}
	if body.Artifact != "" {
		art, err := getRec[ArtifactRecord](b, artifactKey(body.AppID, body.Version, body.Artifact), "artifact "+body.Artifact.String())
		if err != nil {
			return nil, err
		}
		// Facts the artifact carries decide their factors (deploy's
		// derivation rules): the assessor supplies the rest, and a value
		// that contradicts a derived one is refused.
		if art.Facts != nil {
			in := body.Input
			if body.Input, _, err = deploy.BuildRiskInput(in.Model, *art.Facts, in.Factors, in.PrivilegedTooling, in.TargetRing); err != nil {
				return nil, fieldInvalid("input.", err)
			}
		}
	}
	a, err := deploy.Score(body.Input)
	if err != nil {
		return nil, fieldInvalid("input.", err)
	}
	if ok, err := exists(b, assessmentKey(body.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("assessment %q: %w", body.ID, ErrConflict)
	}
	d := Combine(
		deploy.Authorize(body.Principal, deploy.ActionRead, deploy.Object{Kind: "application", ID: app.ID, Scope: app.AllowedScope}, body.At),
		check("risk.scored", true, "score %g with model %s; CAB required at %s: %v", a.Score, a.Model, a.Input.TargetRing, a.CABRequired),
	)
	if rec, err := decide(b, body.GovCtx, kind, "assessment/"+body.ID, app.AllowedScope, a.Model, body, a, d); err != nil {
		return rec, err
	}
	rec := AssessmentRecord{ID: body.ID, AppID: body.AppID, Version: body.Version, Artifact: body.Artifact, Assessment: a, CreatedBy: body.Principal.ID, CreatedAt: body.At.UTC()}
	return rec, setJSON(b, assessmentKey(body.ID), rec)
}

func applyApprovalCreate(b Batch, kind string, body ApprovalCreateBody) (any, error) {
	a := body.Record
	a.Approver, a.ApproverRole, a.DecidedAt = body.Principal.ID, body.Principal.Role, body.At.UTC()
	kindOf, id, err := deploy.ParseSubject(a.Subject)
	if err != nil {
		return nil, fieldInvalid("", err)
	}
	// The requester comes from the stored request, never from the body: a
	// requested_by in the body is only checked against it.
	claimed := a.RequestedBy
	obj := deploy.Object{Kind: "approval", ID: a.ID}
	if kindOf == deploy.SubjectIntent {
		in, _, art, err := intentContext(b, id)
		if err != nil {
			return nil, fmt.Errorf("subject: %w", err)
		}
		a.RequestedBy = in.RequestedBy
		obj.Kind, obj.ID, obj.Scope, obj.PackagedBy, obj.Ring = "intent", in.ID, *in.Scope, art.PackagedBy, in.Ring
	} else {
		req, err := getRec[ApprovalRequestRecord](b, approvalRequestKey(a.Subject), "approval request "+a.Subject)
		if errors.Is(err, ErrNotFound) {
			return nil, invalidf("subject: no request for %s is recorded: the requester asks for the change first (its refusal for want of a CAB approval records who asked), then a CAB approver approves it", a.Subject)
		} else if err != nil {
			return nil, err
		}
		a.RequestedBy, obj.Scope = req.RequestedBy, req.Scope
	}
	if claimed != "" && claimed != a.RequestedBy {
		return nil, invalidf("requested_by: %s was requested by %s, not %s (the requester is taken from the stored request; omit requested_by)", a.Subject, a.RequestedBy, claimed)
	}
	obj.RequestedBy = a.RequestedBy
	if err := a.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	if ok, err := exists(b, approvalKey(a.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("approval %q: %w", a.ID, ErrConflict)
	}
	if a.ExceptionID != "" {
		if _, err := getRec[deploy.Exception](b, exceptionKey(a.ExceptionID), "exception "+a.ExceptionID); err != nil {
			return nil, fmt.Errorf("exception_id: %w", err)
		}
	}
	d := deploy.Authorize(body.Principal, deploy.ActionApprove, obj, body.At)
	if rec, err := decide(b, body.GovCtx, kind, "approval/"+a.ID, obj.Scope, "", body, nil, d); err != nil {
		return rec, err
	}
	return a, setJSON(b, approvalKey(a.ID), a)
}

func applyExceptionCreate(b Batch, kind string, body ExceptionCreateBody) (any, error) {
	e := body.Exception
	e.Artifact = digest.Canonical(e.Artifact)
	e.ApprovedBy, e.ApproverRole, e.ApprovedAt = body.Principal.ID, body.Principal.Role, body.At.UTC()
	if !deploy.ValidIdentifier(e.IntentID) {
		return nil, invalidf("intent_id %q: want an identifier", e.IntentID)
	}
	in, _, art, err := intentContext(b, e.IntentID)
	if err != nil {
		return nil, fmt.Errorf("intent_id: %w", err)
	}
	// The exception is requested for its intent: the requester is the
	// stored intent's, never the reviewer's claim.
	if e.RequestedBy != "" && e.RequestedBy != in.RequestedBy {
		return nil, invalidf("requested_by: intent %s was requested by %s, not %s (the requester is taken from the stored intent; omit requested_by)", in.ID, in.RequestedBy, e.RequestedBy)
	}
	e.RequestedBy = in.RequestedBy
	if err := e.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	if ok, err := exists(b, exceptionKey(e.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("exception %q: %w", e.ID, ErrConflict)
	}
	if e.Artifact != in.Artifact {
		return nil, invalidf("artifact: intent %s deploys %s, not %s", in.ID, in.Artifact, e.Artifact)
	}
	obj := deploy.Object{Kind: "exception", ID: e.ID, Scope: *in.Scope, RequestedBy: e.RequestedBy, PackagedBy: art.PackagedBy}
	d := deploy.Authorize(body.Principal, deploy.ActionApproveException, obj, body.At)
	if rec, err := decide(b, body.GovCtx, kind, "exception/"+e.ID, *in.Scope, "", body, nil, d); err != nil {
		return rec, err
	}
	return e, setJSON(b, exceptionKey(e.ID), e)
}

func applyElevation(b Batch, kind string, body ElevationBody) (any, error) {
	req := body.Request
	req.Principal = body.Principal
	if !deploy.ValidIdentifier(req.ID) {
		return nil, invalidf("id %q: want an identifier", req.ID)
	}
	if ok, err := exists(b, grantKey(req.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("elevation %q: %w", req.ID, ErrConflict)
	}
	cab, err := optApproval(b, body.Approval, "approval")
	if err != nil {
		return nil, err
	}
	req.CABApproval = cab
	ed := deploy.EvaluateElevation(req, deploy.DefaultElevationPolicy, body.At)
	rec, derr := decide(b, body.GovCtx, kind, "elevation/"+req.ID, req.DeviceScope, req.App.RiskModel, req, struct {
		Grant *deploy.ElevationGrant `json:"grant,omitempty"`
		Event deploy.SIEMEvent       `json:"event"`
	}{ed.Grant, ed.Event}, ed.Decision)
	if derr != nil {
		if errors.Is(derr, deploy.ErrDenied) && onlyFailed(ed.Decision, "jit.cab") {
			if rerr := recordApprovalRequest(b, body.GovCtx, deploy.Subject(deploy.SubjectElevation, req.ID), req.DeviceScope); rerr != nil {
				return nil, rerr
			}
		}
		return rec, derr
	}
	return rec, setJSON(b, grantKey(req.ID), ed.Grant)
}
