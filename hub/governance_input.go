package hub

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/digest"
)

// Governance request bodies (docs/api.md, "Governance"). Every decoder is
// strict (unknown fields, trailing data and wrong types are 400 naming the
// field) and validates with the deploy rules (422 naming the field), so a
// refused body never reaches the state machine.

const maxGovBody = deploy.MaxDocumentSize

// deployError maps a deploy validation error to a 422 naming the field.
func deployError(prefix string, err error) error {
	var fe *deploy.FieldError
	if errors.As(err, &fe) {
		return badField(prefix+fe.Field, "%s", fe.Msg)
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	if prefix != "" {
		return badField(prefix[:len(prefix)-1], "%v", err)
	}
	return &InputError{Status: http.StatusUnprocessableEntity, Msg: err.Error()}
}

// DecodeAppRequest decodes and validates an application.
func DecodeAppRequest(r io.Reader) (deploy.Application, error) {
	var v api.AppRequest
	if err := decodeJSON(r, &v); err != nil {
		return deploy.Application{}, err
	}
	app := deploy.Application{ID: v.ID, Name: v.Name, Owner: v.Owner, Category: v.Category, SupportTier: v.SupportTier,
		LicensingModel: v.LicensingModel, AllowedScope: v.AllowedScope, ScopeVersion: 1, State: deploy.StateRequested,
		LOB: v.LOB, PrivilegedTools: v.PrivilegedTools}
	if err := app.Validate(); err != nil {
		return app, deployError("", err)
	}
	return app, nil
}

// DecodeVersionRequest decodes and validates a version of app.
func DecodeVersionRequest(r io.Reader, app string) (deploy.ApplicationVersion, error) {
	var v api.VersionRequest
	if err := decodeJSON(r, &v); err != nil {
		return deploy.ApplicationVersion{}, err
	}
	av := deploy.ApplicationVersion{AppID: app, Version: v.Version, ReleaseNotes: v.ReleaseNotes, OSMatrix: v.OSMatrix,
		Dependencies: v.Dependencies, State: deploy.StateRequested}
	if err := av.Validate(); err != nil {
		return av, deployError("", err)
	}
	return av, nil
}

// DecodeArtifactRequest decodes and validates an artifact of app version v
// packaged by packager.
func DecodeArtifactRequest(r io.Reader, app, v, packager string) (deploy.Artifact, error) {
	var a api.ArtifactRequest
	if err := decodeJSON(r, &a); err != nil {
		return deploy.Artifact{}, err
	}
	art := deploy.Artifact{AppID: app, Version: v, Platform: a.Platform, Name: a.Name, SHA256: a.SHA256, Size: a.Size, Signing: a.Signing,
		Provenance: a.Provenance, SBOM: a.SBOM, ScanReport: a.ScanReport, ScanDecision: a.ScanDecision, PackagedBy: packager}
	if err := art.Validate(); err != nil {
		return art, deployError("", err)
	}
	art.SHA256, art.Provenance, art.SBOM, art.ScanReport = digest.Canonical(art.SHA256), digest.Canonical(art.Provenance), digest.Canonical(art.SBOM), digest.Canonical(art.ScanReport)
	return art, nil
}

// DecodeTransitionRequest decodes a lifecycle transition.
func DecodeTransitionRequest(r io.Reader) (api.TransitionRequest, error) {
	var v api.TransitionRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, err
	}
	if !v.To.Valid() {
		return v, badField("to", "unknown state %q (want one of %v)", v.To, deploy.States)
	}
	return v, nil
}

// DecodeAssessmentRequest decodes the request and strictly parses its
// risk input.
func DecodeAssessmentRequest(r io.Reader) (api.AssessmentRequest, deploy.RiskInput, error) {
	var v api.AssessmentRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, deploy.RiskInput{}, err
	}
	for _, f := range []struct{ name, v string }{{"id", v.ID}, {"app_id", v.AppID}, {"version", v.Version}} {
		if !deploy.ValidIdentifier(f.v) {
			return v, deploy.RiskInput{}, badField(f.name, "%q: want 1-128 characters of A-Z, a-z, 0-9, '.', '_', '+', '-'", f.v)
		}
	}
	if v.Artifact != "" {
		d, err := digest.Parse(string(v.Artifact))
		if err != nil {
			return v, deploy.RiskInput{}, badField("artifact", "%v", err)
		}
		v.Artifact = d
	}
	if len(v.Input) == 0 || string(v.Input) == "null" {
		return v, deploy.RiskInput{}, badField("input", "missing: a risk input document")
	}
	parse := deploy.ParseRiskInput
	if v.Artifact != "" {
		// The artifact's facts may supply factors (checked in the store).
		parse = deploy.ParsePartialRiskInput
	}
	in, err := parse(v.Input)
	if err != nil {
		return v, in, deployError("input.", err)
	}
	return v, in, nil
}

// DecodeApprovalRequest decodes and validates an approval as if decided at
// time at by approver.
func DecodeApprovalRequest(r io.Reader, approver deploy.Principal, at time.Time) (deploy.ApprovalRecord, error) {
	var v api.ApprovalRequest
	if err := decodeJSON(r, &v); err != nil {
		return deploy.ApprovalRecord{}, err
	}
	a := deploy.ApprovalRecord{ID: v.ID, Subject: v.Subject, RequestedBy: v.RequestedBy, Approver: approver.ID, ApproverRole: approver.Role,
		Decision: v.Decision, Conditions: v.Conditions, DecidedAt: at, ExpiresAt: v.ExpiresAt.UTC(), ExceptionID: v.ExceptionID, EvidencePack: v.EvidencePack}
	// requested_by is optional: the state machine takes the requester from
	// the stored request and refuses a body value that disagrees.
	check := a
	if check.RequestedBy == "" {
		check.RequestedBy = "unset" // filled from the stored request later
	}
	if err := check.Validate(); err != nil {
		return a, deployError("", err)
	}
	return a, nil
}

// DecodeExceptionRequest decodes an exception; the caller validates it once
// the artifact and approval are filled in.
func DecodeExceptionRequest(r io.Reader) (deploy.Exception, error) {
	var v api.ExceptionRequest
	if err := decodeJSON(r, &v); err != nil {
		return deploy.Exception{}, err
	}
	e := deploy.Exception{ID: v.ID, IntentID: v.IntentID, Artifact: v.Artifact, Findings: v.Findings, Justification: v.Justification,
		CompensatingControls: v.CompensatingControls, AccountableOwner: v.AccountableOwner, RequestedBy: v.RequestedBy, ExpiresAt: v.ExpiresAt.UTC()}
	check := e
	if check.Artifact == "" {
		check.Artifact = digest.Digest(fmt.Sprintf("%064d", 0)) // filled from the intent later
	}
	if check.RequestedBy == "" {
		check.RequestedBy = "unset" // the intent's requester, filled in by the state machine
	}
	if err := check.Validate(); err != nil {
		return e, deployError("", err)
	}
	e.Artifact = digest.Canonical(e.Artifact)
	return e, nil
}

// DecodeIntentRequest decodes and validates an intent requested by
// requester.
func DecodeIntentRequest(r io.Reader, requester string) (api.IntentRequest, deploy.Intent, error) {
	var v api.IntentRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, deploy.Intent{}, err
	}
	in := deploy.Intent{ID: v.ID, AppID: v.AppID, Version: v.Version, Artifact: v.Artifact, Ring: v.Ring, Scope: v.Scope,
		Schedule: deploy.Schedule{NotBefore: v.Schedule.NotBefore.UTC(), Deadline: v.Schedule.Deadline.UTC()}, Constraints: v.Constraints,
		RequiredEvidence: v.RequiredEvidence, Exclusions: v.Exclusions, RequestedBy: requester}
	if err := in.Validate(); err != nil {
		return v, in, deployError("", err)
	}
	in.Artifact = digest.Canonical(in.Artifact)
	if !deploy.ValidIdentifier(v.AssessmentID) {
		return v, in, badField("assessment_id", "%q: want the id of a stored risk assessment", v.AssessmentID)
	}
	if v.ConcurrencyApproval != "" && !deploy.ValidIdentifier(v.ConcurrencyApproval) {
		return v, in, badField("concurrency_approval", "%q: want an approval id", v.ConcurrencyApproval)
	}
	return v, in, nil
}

func checkOptIDs(fields ...[2]string) error {
	for _, f := range fields {
		if f[1] != "" && !deploy.ValidIdentifier(f[1]) {
			return badField(f[0], "%q: want an id", f[1])
		}
	}
	return nil
}

// DecodePublishRequest decodes a publish request (an empty body is no
// approval, exception or evidence).
func DecodePublishRequest(r io.Reader) (api.PublishRequest, error) {
	var v api.PublishRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, err
	}
	if err := checkOptIDs([2]string{"approval", v.Approval}, [2]string{"exception", v.Exception}); err != nil {
		return v, err
	}
	if v.Evidence != "" {
		d, err := digest.Parse(string(v.Evidence))
		if err != nil {
			return v, badField("evidence", "%v", err)
		}
		v.Evidence = d
	}
	return v, nil
}

// DecodePromoteRequest decodes the measured inputs of a promotion.
func DecodePromoteRequest(r io.Reader) (api.PromoteRequest, deploy.PromotionInput, error) {
	var v api.PromoteRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, deploy.PromotionInput{}, err
	}
	if _, ok := deploy.TimeToCompliance(v.SiteClass); !ok {
		return v, deploy.PromotionInput{}, badField("site_class", "%q: want online, intermittent or air-gapped", v.SiteClass)
	}
	ttc, err := time.ParseDuration(v.TimeToCompliance)
	if err != nil || ttc <= 0 {
		return v, deploy.PromotionInput{}, badField("time_to_compliance", "%q: want a positive duration such as 36h", v.TimeToCompliance)
	}
	var tw time.Duration
	if v.TransferWindow != "" {
		if tw, err = time.ParseDuration(v.TransferWindow); err != nil || tw < 0 {
			return v, deploy.PromotionInput{}, badField("transfer_window", "%q: want a duration such as 240h", v.TransferWindow)
		}
	}
	switch {
	case v.InstallAttempts < 0:
		return v, deploy.PromotionInput{}, badField("install_attempts", "%d: want 0 or more", v.InstallAttempts)
	case v.InstallSuccesses < 0 || v.InstallSuccesses > v.InstallAttempts:
		return v, deploy.PromotionInput{}, badField("install_successes", "%d: want 0..install_attempts (%d)", v.InstallSuccesses, v.InstallAttempts)
	case v.AttributableIncidents < 0:
		return v, deploy.PromotionInput{}, badField("attributable_incidents", "%d: want 0 or more", v.AttributableIncidents)
	}
	if err := checkOptIDs([2]string{"approval", v.Approval}); err != nil {
		return v, deploy.PromotionInput{}, err
	}
	if v.Evidence != "" {
		d, err := digest.Parse(string(v.Evidence))
		if err != nil {
			return v, deploy.PromotionInput{}, badField("evidence", "%v", err)
		}
		v.Evidence = d
	}
	return v, deploy.PromotionInput{SiteClass: v.SiteClass, InstallAttempts: v.InstallAttempts, InstallSuccesses: v.InstallSuccesses,
		TimeToCompliance: ttc, TransferWindow: tw, AttributableIncidents: v.AttributableIncidents, Planes: v.Planes, RollbackValidated: v.RollbackValidated}, nil
}

// DecodeElevationRequest decodes a JIT elevation request.
func DecodeElevationRequest(r io.Reader) (api.ElevationRequest, deploy.ElevationRequest, error) {
	var v api.ElevationRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, deploy.ElevationRequest{}, err
	}
	if !deploy.ValidIdentifier(v.ID) {
		return v, deploy.ElevationRequest{}, badField("id", "%q: want an id", v.ID)
	}
	if err := v.DeviceScope.Validate(); err != nil {
		return v, deploy.ElevationRequest{}, badField("device_scope", "%v", err)
	}
	d, err := time.ParseDuration(v.Duration)
	if err != nil || d <= 0 {
		return v, deploy.ElevationRequest{}, badField("duration", "%q: want a positive duration such as 2h", v.Duration)
	}
	if err := checkOptIDs([2]string{"approval", v.Approval}); err != nil {
		return v, deploy.ElevationRequest{}, err
	}
	return v, deploy.ElevationRequest{ID: v.ID, Device: v.Device, DeviceScope: v.DeviceScope, App: v.App, Duration: d}, nil
}

// DecodeEvidencePack reads and strictly parses an evidence pack body.
func DecodeEvidencePack(r io.Reader) (deploy.EvidencePack, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return deploy.EvidencePack{}, jsonError(err)
	}
	if len(b) == 0 {
		return deploy.EvidencePack{}, &InputError{Status: http.StatusBadRequest, Msg: "empty body: an evidence pack is required"}
	}
	p, err := deploy.ParseEvidencePack(b)
	if err != nil {
		var fe *deploy.FieldError
		if errors.As(err, &fe) {
			return p, &InputError{Status: http.StatusUnprocessableEntity, Field: fe.Field, Msg: fe.Msg}
		}
		return p, &InputError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	return p, nil
}

// DecodeScopeRequest decodes an allowed-scope change.
func DecodeScopeRequest(r io.Reader) (api.ScopeRequest, error) {
	var v api.ScopeRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, err
	}
	if err := v.Scope.Validate(); err != nil {
		return v, badField("scope", "%v", err)
	}
	return v, checkOptIDs([2]string{"approval", v.Approval})
}
