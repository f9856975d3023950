package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// Governance state (issue 4): the catalog, risk assessments, CAB approvals,
// exceptions, deployment intents, evidence records and every policy
// decision, each stored with its inputs, model version and explanation.
//
// Every governance command carries a GovCtx chosen by the proposer: the
// decision id, the judgement time and the caller as a deploy.Principal.
// Decisions that depend on state (separation of duties against the stored
// packager and requester, one active change per app and ring, scope
// subsets) are evaluated here, inside the deterministic processor, at the
// command's time, so two concurrent writes cannot both pass a check the
// other would have failed. A refused command writes its decision record
// and its audit event and nothing else.

// GovCtx is the part of every governance command the proposer chooses: the
// id of the decision record the command writes, the judgement time and the
// caller.
type GovCtx struct {
	DecisionID string           `json:"decision_id"`
	At         time.Time        `json:"at"`
	Principal  deploy.Principal `json:"principal"`
}

// Intent statuses. Pending and published intents are active: they count
// for "one active change per app and ring". A passed promotion completes
// the change at its ring.
const (
	IntentPending   = "pending"
	IntentPublished = "published"
	IntentPromoted  = "promoted"
)

// Records.
type (
	// AppRecord is a catalog application.
	AppRecord struct {
		deploy.Application
		CreatedBy string    `json:"created_by"`
		CreatedAt time.Time `json:"created_at"`
	}
	// TransitionRecord is one lifecycle move of a version.
	TransitionRecord struct {
		deploy.TransitionEvent
		By         string    `json:"by"`
		At         time.Time `json:"at"`
		DecisionID string    `json:"decision_id"`
	}
	// VersionRecord is a catalog version with its lifecycle history.
	VersionRecord struct {
		deploy.ApplicationVersion
		RequestedBy string             `json:"requested_by"`
		CreatedAt   time.Time          `json:"created_at"`
		PublishedAt *time.Time         `json:"published_at,omitempty"`
		History     []TransitionRecord `json:"history"`
	}
	// ArtifactRecord is a catalog artifact; PackagedBy is the caller who
	// registered it.
	ArtifactRecord struct {
		deploy.Artifact
		CreatedAt time.Time `json:"created_at"`
	}
	// AssessmentRecord is a stored risk assessment: inputs, score, model
	// version, contributions and justification (deploy.Assessment).
	AssessmentRecord struct {
		ID         string            `json:"id"`
		AppID      string            `json:"app_id"`
		Version    string            `json:"version"`
		Artifact   digest.Digest     `json:"artifact,omitempty"`
		Assessment deploy.Assessment `json:"assessment"`
		CreatedBy  string            `json:"created_by"`
		CreatedAt  time.Time         `json:"created_at"`
	}
	// IntentRecord is a deployment intent and its progress.
	IntentRecord struct {
		deploy.Intent
		AssessmentID        string       `json:"assessment_id"`
		ConcurrencyApproval string       `json:"concurrency_approval,omitempty"`
		Status              string       `json:"status"`
		CreatedAt           time.Time    `json:"created_at"`
		PublishedAt         *time.Time   `json:"published_at,omitempty"`
		PromotedTo          *deploy.Ring `json:"promoted_to,omitempty"`
		LastDecision        string       `json:"last_decision"` // id of the decision that last changed the intent
	}
	// ApprovalRequestRecord is who asked for a change that needs a CAB
	// approval of Subject before anything about it is stored: the
	// concurrent intent, the scope change, the elevation. The refusal of
	// the attempt for want of that approval records it (with the decision
	// record and the audit event); a later attempt by someone else
	// replaces it. An approval of Subject takes its requester from here,
	// never from the approver, and the change itself checks again that the
	// approval was given for its requester and not by them.
	ApprovalRequestRecord struct {
		Subject     string       `json:"subject"`
		RequestedBy string       `json:"requested_by"`
		Scope       deploy.Scope `json:"scope"` // what the change concerns; the approver's scope must cover it
		RequestedAt time.Time    `json:"requested_at"`
		DecisionID  string       `json:"decision_id"` // the refusal that recorded the request
	}
	// EvidenceRecord says a signed evidence pack is stored write-once in the
	// content store under Digest (canonical bytes) with its DSSE envelope
	// under Envelope.
	EvidenceRecord struct {
		Digest   digest.Digest `json:"digest"`
		Envelope digest.Digest `json:"envelope"`
		KeyID    string        `json:"key_id"`
		IntentID string        `json:"intent_id"`
		AppID    string        `json:"app_id"`
		Version  string        `json:"version"`
		StoredBy string        `json:"stored_by"`
		StoredAt time.Time     `json:"stored_at"`
	}
	// DecisionRecord is one explained policy decision with everything it
	// was judged on.
	DecisionRecord struct {
		ID           string           `json:"id"`
		Kind         string           `json:"kind"`    // command type, e.g. gov.intent.publish
		Subject      string           `json:"subject"` // e.g. intent/i-1
		Scope        deploy.Scope     `json:"scope"`
		At           time.Time        `json:"at"`
		Principal    deploy.Principal `json:"principal"`
		ModelVersion string           `json:"model_version,omitempty"`
		Allowed      bool             `json:"allowed"`
		Decision     deploy.Decision  `json:"decision"`
		Explanation  []string         `json:"explanation"`
		Inputs       json.RawMessage  `json:"inputs"`
		Result       json.RawMessage  `json:"result,omitempty"`
	}
)

// Command bodies.
type (
	// AppCreateBody registers an application.
	AppCreateBody struct {
		GovCtx
		App deploy.Application `json:"app"`
	}
	// VersionCreateBody registers a version (state requested).
	VersionCreateBody struct {
		GovCtx
		Version deploy.ApplicationVersion `json:"version"`
	}
	// ArtifactCreateBody registers an artifact packaged by the caller.
	ArtifactCreateBody struct {
		GovCtx
		Artifact deploy.Artifact `json:"artifact"`
	}
	// TransitionBody moves a version along the lifecycle.
	TransitionBody struct {
		GovCtx
		AppID   string       `json:"app_id"`
		Version string       `json:"version"`
		To      deploy.State `json:"to"`
	}
	// AssessmentCreateBody stores a risk assessment of input.
	AssessmentCreateBody struct {
		GovCtx
		ID       string           `json:"id"`
		AppID    string           `json:"app_id"`
		Version  string           `json:"version"`
		Artifact digest.Digest    `json:"artifact,omitempty"`
		Input    deploy.RiskInput `json:"input"`
	}
	// ApprovalCreateBody records a CAB decision by the caller.
	ApprovalCreateBody struct {
		GovCtx
		Record deploy.ApprovalRecord `json:"record"`
	}
	// ExceptionCreateBody records a Security Reviewer's approved exception.
	ExceptionCreateBody struct {
		GovCtx
		Exception deploy.Exception `json:"exception"`
	}
	// IntentCreateBody declares a deployment intent requested by the caller.
	IntentCreateBody struct {
		GovCtx
		Intent              deploy.Intent `json:"intent"`
		AssessmentID        string        `json:"assessment_id"`
		ConcurrencyApproval string        `json:"concurrency_approval,omitempty"`
	}
	// PublishBody runs the publish gate. Pack is the evidence pack the
	// proposer read (verified) from the content store under Evidence.
	PublishBody struct {
		GovCtx
		IntentID  string               `json:"intent_id"`
		Approval  string               `json:"approval,omitempty"`
		Exception string               `json:"exception,omitempty"`
		Evidence  digest.Digest        `json:"evidence,omitempty"`
		Pack      *deploy.EvidencePack `json:"pack,omitempty"`
	}
	// PromoteBody runs the promotion gate on measured results.
	PromoteBody struct {
		GovCtx
		IntentID string                `json:"intent_id"`
		Measured deploy.PromotionInput `json:"measured"`
		Approval string                `json:"approval,omitempty"`
		Evidence digest.Digest         `json:"evidence,omitempty"`
	}
	// EvidenceRecordBody records a stored evidence pack.
	EvidenceRecordBody struct {
		GovCtx
		Record EvidenceRecord `json:"record"`
	}
	// AppScopeBody changes an application's allowed scope under a CAB
	// approval of ScopeChangeSubject(app, scope_version+1). Sites is the
	// inventory the proposer read, for the blast-radius summary.
	AppScopeBody struct {
		GovCtx
		AppID    string        `json:"app_id"`
		Scope    deploy.Scope  `json:"scope"`
		Approval string        `json:"approval,omitempty"`
		Sites    []deploy.Site `json:"sites"`
	}
	// ElevationBody judges a JIT elevation request.
	ElevationBody struct {
		GovCtx
		Request  deploy.ElevationRequest `json:"request"`
		Approval string                  `json:"approval,omitempty"`
	}
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// fieldInvalid turns a deploy validation error into ErrInvalid naming the
// field under prefix.
func fieldInvalid(prefix string, err error) error {
	var fe *deploy.FieldError
	if errors.As(err, &fe) {
		return invalidf("%s%s: %s", prefix, fe.Field, fe.Msg)
	}
	return invalidf("%s%v", prefix, err)
}

func getRec[T any](b Batch, k []byte, what string) (T, error) {
	var v T
	raw, err := b.Get(k)
	if errors.Is(err, ErrNotFound) {
		return v, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(raw, &v)
}

func (c GovCtx) validate() error {
	if c.DecisionID == "" || !deploy.ValidIdentifier(c.DecisionID) {
		return invalidf("decision_id %q: want an identifier", c.DecisionID)
	}
	if c.At.IsZero() {
		return invalidf("at: required")
	}
	if !deploy.ValidIdentifier(c.Principal.ID) {
		return invalidf("principal.id %q: want an identifier", c.Principal.ID)
	}
	return nil
}

// Combine merges decisions: it allows only if there is at least one check
// and every check passed (deploy's default deny).
func Combine(ds ...deploy.Decision) deploy.Decision {
	var out deploy.Decision
	for _, d := range ds {
		out.Checks = append(out.Checks, d.Checks...)
	}
	out.Allowed = len(out.Checks) > 0
	for _, c := range out.Checks {
		out.Allowed = out.Allowed && c.Pass
	}
	return out
}

func check(rule string, pass bool, format string, args ...any) deploy.Decision {
	return deploy.Decision{Allowed: pass, Checks: []deploy.Check{{Rule: rule, Pass: pass, Reason: fmt.Sprintf(format, args...)}}}
}

// decide writes the decision record of c and returns it with a
// *deploy.DeniedError when d denies.
func decide(b Batch, c GovCtx, kind, subject string, scope deploy.Scope, model string, inputs, result any, d deploy.Decision) (DecisionRecord, error) {
	in, err := json.Marshal(inputs)
	if err != nil {
		return DecisionRecord{}, err
	}
	rec := DecisionRecord{ID: c.DecisionID, Kind: kind, Subject: subject, Scope: scope, At: c.At.UTC(), Principal: c.Principal,
		ModelVersion: model, Allowed: d.Allowed, Decision: d, Explanation: d.Reasons(), Inputs: in}
	if rec.Decision.Checks == nil {
		rec.Decision.Checks = []deploy.Check{}
	}
	if rec.Explanation == nil {
		rec.Explanation = []string{}
	}
	if result != nil {
		if rec.Result, err = json.Marshal(result); err != nil {
			return rec, err
		}
	}
	if err := setJSON(b, decisionKey(c.DecisionID), rec); err != nil {
		return rec, err
	}
	return rec, d.Err(kind + " " + subject)
}

func applyGovernance(b Batch, cmd Command) (any, error) {
	switch cmd.Type {
	case CmdAppCreate:
		return govCmd(b, cmd, applyAppCreate)
	case CmdVersionCreate:
		return govCmd(b, cmd, applyVersionCreate)
	case CmdArtifactCreate:
		return govCmd(b, cmd, applyArtifactCreate)
	case CmdVersionTransition:
		return govCmd(b, cmd, applyTransition)
	case CmdAssessmentCreate:
		return govCmd(b, cmd, applyAssessmentCreate)
	case CmdApprovalCreate:
		return govCmd(b, cmd, applyApprovalCreate)
	case CmdExceptionCreate:
		return govCmd(b, cmd, applyExceptionCreate)
	case CmdIntentCreate:
		return govCmd(b, cmd, applyIntentCreate)
	case CmdIntentPublish:
		return govCmd(b, cmd, applyPublish)
	case CmdIntentPromote:
		return govCmd(b, cmd, applyPromote)
	case CmdEvidenceRecord:
		return govCmd(b, cmd, applyEvidenceRecord)
	case CmdElevationDecide:
		return govCmd(b, cmd, applyElevation)
	case CmdAppScopeChange:
		return govCmd(b, cmd, applyScopeChange)
	}
	return nil, &UnsupportedCommandError{Type: cmd.Type, Version: cmd.Version}
}

type govBody interface{ ctx() GovCtx }

func (c GovCtx) ctx() GovCtx { return c }

func govCmd[T govBody](b Batch, cmd Command, fn func(Batch, string, T) (any, error)) (any, error) {
	body, err := decode[T](cmd)
	if err != nil {
		return nil, err
	}
	c := body.ctx()
	if err := c.validate(); err != nil {
		return nil, err
	}
	if ok, err := exists(b, decisionKey(c.DecisionID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("decision %q: %w", c.DecisionID, ErrConflict)
	}
	return fn(b, cmd.Type, body)
}

func applyAppCreate(b Batch, kind string, body AppCreateBody) (any, error) {
	app := body.App
	if app.ScopeVersion == 0 {
		app.ScopeVersion = 1
	}
	if err := app.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	if ok, err := exists(b, appKey(app.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("application %q: %w", app.ID, ErrConflict)
	}
	d := deploy.Authorize(body.Principal, deploy.ActionRequest, deploy.Object{Kind: "application", ID: app.ID, Scope: app.AllowedScope}, body.At)
	if rec, err := decide(b, body.GovCtx, kind, "app/"+app.ID, app.AllowedScope, "", body, nil, d); err != nil {
		return rec, err
	}
	rec := AppRecord{Application: app, CreatedBy: body.Principal.ID, CreatedAt: body.At.UTC()}
	return rec, setJSON(b, appKey(app.ID), rec)
}

func applyVersionCreate(b Batch, kind string, body VersionCreateBody) (any, error) {
	v := body.Version
	v.State = deploy.StateRequested
	if err := v.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	app, err := getRec[AppRecord](b, appKey(v.AppID), "application "+v.AppID)
	if err != nil {
		return nil, err
	}
	if ok, err := exists(b, versionKey(v.AppID, v.Version)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("version %s %s: %w", v.AppID, v.Version, ErrConflict)
	}
	subject := "version/" + v.AppID + "/" + v.Version
	d := deploy.Authorize(body.Principal, deploy.ActionRequest, deploy.Object{Kind: "version", ID: v.AppID + "@" + v.Version, Scope: app.AllowedScope}, body.At)
	if rec, err := decide(b, body.GovCtx, kind, subject, app.AllowedScope, "", body, nil, d); err != nil {
		return rec, err
	}
	rec := VersionRecord{ApplicationVersion: v, RequestedBy: body.Principal.ID, CreatedAt: body.At.UTC(), History: []TransitionRecord{}}
	return rec, setJSON(b, versionKey(v.AppID, v.Version), rec)
}

func applyArtifactCreate(b Batch, kind string, body ArtifactCreateBody) (any, error) {
	a := body.Artifact
	a.PackagedBy = body.Principal.ID // the packager is the caller, never a claim
	a.SHA256, a.Provenance, a.SBOM, a.ScanReport = digest.Canonical(a.SHA256), digest.Canonical(a.Provenance), digest.Canonical(a.SBOM), digest.Canonical(a.ScanReport)
	if err := a.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	app, err := getRec[AppRecord](b, appKey(a.AppID), "application "+a.AppID)
	if err != nil {
		return nil, err
	}
	v, err := getRec[VersionRecord](b, versionKey(a.AppID, a.Version), "version "+a.AppID+" "+a.Version)
	if err != nil {
		return nil, err
	}
	if ok, err := exists(b, artifactKey(a.AppID, a.Version, a.SHA256)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("artifact %s: %w", a.SHA256, ErrConflict)
	}
	arts, err := artifactsOf(b, a.AppID, a.Version)
	if err != nil {
		return nil, err
	}
	var held []deploy.Artifact
	for _, x := range arts {
		held = append(held, x.Artifact)
	}
	if err := deploy.CheckArtifactNames(append(held, a)); err != nil {
		return nil, fmt.Errorf("name: %v: %w", err, ErrConflict)
	}
	d := Combine(
		deploy.Authorize(body.Principal, deploy.ActionPackage, deploy.Object{Kind: "artifact", ID: a.SHA256.String(), Scope: app.AllowedScope}, body.At),
		check("catalog.version-open", v.State != deploy.StateRetired, "version %s %s is %s: artifacts are added to versions that are not retired", a.AppID, a.Version, v.State),
	)
	if rec, err := decide(b, body.GovCtx, kind, "artifact/"+a.SHA256.String(), app.AllowedScope, "", body, nil, d); err != nil {
		return rec, err
	}
	idx, err := getRec[[]string](b, artifactIndexKey(a.AppID, a.Version), "artifacts")
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err := setJSON(b, artifactIndexKey(a.AppID, a.Version), append(idx, a.SHA256.Hex())); err != nil {
		return nil, err
	}
	rec := ArtifactRecord{Artifact: a, CreatedAt: body.At.UTC()}
	return rec, setJSON(b, artifactKey(a.AppID, a.Version, a.SHA256), rec)
}

// packagerFor returns the packager an actor is separated from: the actor
// itself when it packaged any of the artifacts, else the first packager.
func packagerFor(arts []ArtifactRecord, actor string) string {
	first := ""
	for _, a := range arts {
		if a.PackagedBy == actor {
			return actor
		}
		if first == "" {
			first = a.PackagedBy
		}
	}
	return first
}

// artifactsOf reads the artifacts a transition needs. The Batch interface
// has no iteration, so the version's artifact digests are tracked on the
// artifact keys' own index.
func artifactsOf(b Batch, app, version string) ([]ArtifactRecord, error) {
	idx, err := getRec[[]string](b, artifactIndexKey(app, version), "artifacts")
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ArtifactRecord
	for _, h := range idx {
		a, err := getRec[ArtifactRecord](b, artifactHexKey(app, version, h), "artifact "+h)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func applyTransition(b Batch, kind string, body TransitionBody) (any, error) {
	if !body.To.Valid() {
		return nil, invalidf("to: unknown state %q (want one of %v)", body.To, deploy.States)
	}
	if body.To == deploy.StatePublished {
		return nil, invalidf("to: a version becomes published by publishing an intent to a production ring (POST /v1/intents/{id}:publish)")
	}
	app, err := getRec[AppRecord](b, appKey(body.AppID), "application "+body.AppID)
	if err != nil {
		return nil, err
	}
	v, err := getRec[VersionRecord](b, versionKey(body.AppID, body.Version), "version "+body.AppID+" "+body.Version)
	if err != nil {
		return nil, err
	}
	ev, err := deploy.Transition(v.State, body.To)
	if err != nil {
		return nil, fmt.Errorf("%w: to: %v", ErrInvalid, err)
	}
	arts, err := artifactsOf(b, body.AppID, body.Version)
	if err != nil {
		return nil, err
	}
	obj := deploy.Object{Kind: "version", ID: body.AppID + "@" + body.Version, Scope: app.AllowedScope,
		RequestedBy: v.RequestedBy, PackagedBy: packagerFor(arts, body.Principal.ID), Ring: deploy.Ring0Lab}
	d := deploy.Authorize(body.Principal, ev.Requires, obj, body.At)
	if body.To == deploy.StatePackaged || body.To == deploy.StateStaged || body.To == deploy.StateApproved {
		d = Combine(d, check("catalog.artifact-present", len(arts) > 0, "%s %s has %d registered artifact(s) (need at least one)", body.AppID, body.Version, len(arts)))
	}
	subject := "version/" + body.AppID + "/" + body.Version
	if rec, err := decide(b, body.GovCtx, kind, subject, app.AllowedScope, "", body, ev, d); err != nil {
		return rec, err
	}
	v.State = body.To
	v.History = append(v.History, TransitionRecord{TransitionEvent: ev, By: body.Principal.ID, At: body.At.UTC(), DecisionID: body.DecisionID})
	return v, setJSON(b, versionKey(body.AppID, body.Version), v)
}

func applyAssessmentCreate(b Batch, kind string, body AssessmentCreateBody) (any, error) {
	if !deploy.ValidIdentifier(body.ID) {
		return nil, invalidf("id %q: want an identifier", body.ID)
	}
	a, err := deploy.Score(body.Input)
	if err != nil {
		return nil, fieldInvalid("input.", err)
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
		if _, err := getRec[ArtifactRecord](b, artifactKey(body.AppID, body.Version, body.Artifact), "artifact "+body.Artifact.String()); err != nil {
			return nil, err
		}
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

// intentContext loads an intent with its application and artifact.
func intentContext(b Batch, id string) (IntentRecord, AppRecord, ArtifactRecord, error) {
	in, err := getRec[IntentRecord](b, intentKey(id), "intent "+id)
	if err != nil {
		return in, AppRecord{}, ArtifactRecord{}, err
	}
	app, err := getRec[AppRecord](b, appKey(in.AppID), "application "+in.AppID)
	if err != nil {
		return in, app, ArtifactRecord{}, err
	}
	art, err := getRec[ArtifactRecord](b, artifactKey(in.AppID, in.Version, in.Artifact), "artifact "+in.Artifact.String())
	return in, app, art, err
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

// recordApprovalRequest records that c's principal asked for a change
// that needs a CAB approval of subject (see ApprovalRequestRecord).
func recordApprovalRequest(b Batch, c GovCtx, subject string, scope deploy.Scope) error {
	return setJSON(b, approvalRequestKey(subject), ApprovalRequestRecord{Subject: subject, RequestedBy: c.Principal.ID, Scope: scope,
		RequestedAt: c.At.UTC(), DecisionID: c.DecisionID})
}

// onlyFailed reports whether d fails and every failed rule has one of
// prefixes: the refusal is for want of an approval alone.
func onlyFailed(d deploy.Decision, prefixes ...string) bool {
	failed := d.Failed()
	for _, r := range failed {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(r, p) }) {
			return false
		}
	}
	return len(failed) > 0
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

// activeIntents returns the active intents of app.
func activeIntents(b Batch, app string) ([]string, []deploy.Intent, error) {
	ids, err := getRec[[]string](b, activeKey(app), "active intents")
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var out []deploy.Intent
	for _, id := range ids {
		in, err := getRec[IntentRecord](b, intentKey(id), "intent "+id)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, in.Intent)
	}
	return ids, out, nil
}

func optApproval(b Batch, id, field string) (*deploy.ApprovalRecord, error) {
	if id == "" {
		return nil, nil
	}
	a, err := getRec[deploy.ApprovalRecord](b, approvalKey(id), "approval "+id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return &a, nil
}

func applyIntentCreate(b Batch, kind string, body IntentCreateBody) (any, error) {
	in := body.Intent
	in.RequestedBy = body.Principal.ID
	in.Artifact = digest.Canonical(in.Artifact)
	if err := in.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	if ok, err := exists(b, intentKey(in.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("intent %q: %w", in.ID, ErrConflict)
	}
	app, err := getRec[AppRecord](b, appKey(in.AppID), "application "+in.AppID)
	if err != nil {
		return nil, err
	}
	if _, err := getRec[VersionRecord](b, versionKey(in.AppID, in.Version), "version "+in.AppID+" "+in.Version); err != nil {
		return nil, err
	}
	if _, err := getRec[ArtifactRecord](b, artifactKey(in.AppID, in.Version, in.Artifact), "artifact "+in.Artifact.String()); err != nil {
		return nil, err
	}
	as, err := getRec[AssessmentRecord](b, assessmentKey(body.AssessmentID), "assessment "+body.AssessmentID)
	if err != nil {
		return nil, fmt.Errorf("assessment_id: %w", err)
	}
	if as.AppID != in.AppID || as.Version != in.Version {
		return nil, invalidf("assessment_id: assessment %s is for %s %s, the intent deploys %s %s", as.ID, as.AppID, as.Version, in.AppID, in.Version)
	}
	conc, err := optApproval(b, body.ConcurrencyApproval, "concurrency_approval")
	if err != nil {
		return nil, err
	}
	ids, active, err := activeIntents(b, in.AppID)
	if err != nil {
		return nil, err
	}
	d := Combine(
		deploy.CheckTargetScope(in.Scope, body.Principal.Scope, app.AllowedScope),
		deploy.CheckConcurrency(in, active, conc, body.At),
	)
	if rec, err := decide(b, body.GovCtx, kind, "intent/"+in.ID, *in.Scope, as.Assessment.Model, body, nil, d); err != nil {
		if errors.Is(err, deploy.ErrDenied) && onlyFailed(d, "concurrency.") {
			if rerr := recordApprovalRequest(b, body.GovCtx, deploy.Subject(deploy.SubjectConcurrency, in.ID), *in.Scope); rerr != nil {
				return nil, rerr
			}
		}
		return rec, err
	}
	rec := IntentRecord{Intent: in, AssessmentID: body.AssessmentID, ConcurrencyApproval: body.ConcurrencyApproval, Status: IntentPending,
		CreatedAt: body.At.UTC(), LastDecision: body.DecisionID}
	if err := setJSON(b, activeKey(in.AppID), append(ids, in.ID)); err != nil {
		return nil, err
	}
	return rec, setJSON(b, intentKey(in.ID), rec)
}

// evidenceFor reports whether evidence d is recorded as stored for intent.
func evidenceFor(b Batch, d digest.Digest, intent string) (bool, error) {
	if d == "" {
		return false, nil
	}
	d, err := digest.Parse(string(d))
	if err != nil {
		return false, invalidf("evidence: %v", err)
	}
	rec, err := getRec[EvidenceRecord](b, evidenceKey(d.Hex()), "evidence")
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return rec.IntentID == intent, nil
}

func applyPublish(b Batch, kind string, body PublishBody) (any, error) {
	in, app, art, err := intentContext(b, body.IntentID)
	if err != nil {
		return nil, err
	}
	if in.Status != IntentPending {
		return nil, fmt.Errorf("intent %s is %s: %w", in.ID, in.Status, ErrConflict)
	}
	v, err := getRec[VersionRecord](b, versionKey(in.AppID, in.Version), "version "+in.AppID+" "+in.Version)
	if err != nil {
		return nil, err
	}
	as, err := getRec[AssessmentRecord](b, assessmentKey(in.AssessmentID), "assessment "+in.AssessmentID)
	if err != nil {
		return nil, err
	}
	cab, err := optApproval(b, body.Approval, "approval")
	if err != nil {
		return nil, err
	}
	conc, err := optApproval(b, in.ConcurrencyApproval, "concurrency_approval")
	if err != nil {
		return nil, err
	}
	var ex *deploy.Exception
	if body.Exception != "" {
		e, err := getRec[deploy.Exception](b, exceptionKey(body.Exception), "exception "+body.Exception)
		if err != nil {
			return nil, fmt.Errorf("exception: %w", err)
		}
		ex = &e
	}
	stored, err := evidenceFor(b, body.Evidence, in.ID)
	if err != nil {
		return nil, err
	}
	pack := body.Pack
	if pack != nil {
		// The pack must be the stored one: its canonical digest names it.
		if _, d, err := pack.CanonicalBytes(); err != nil || d != digest.Canonical(body.Evidence) {
			pack, stored = nil, false
		}
	}
	_, active, err := activeIntents(b, in.AppID)
	if err != nil {
		return nil, err
	}
	req := deploy.PublishRequest{Principal: body.Principal, App: app.Application, Version: v.ApplicationVersion, Artifact: art.Artifact,
		Intent: in.Intent, Risk: &as.Assessment, Evidence: pack, EvidenceStored: stored && pack != nil, CABApproval: cab, Exception: ex,
		ActiveIntents: active, ConcurrencyApproval: conc}
	d := deploy.DecidePublish(req, body.At)
	rec, derr := decide(b, body.GovCtx, kind, "intent/"+in.ID, *in.Scope, as.Assessment.Model, req, nil, d)
	if derr != nil {
		return rec, derr // the intent is unchanged; the decision record explains
	}
	in.LastDecision = body.DecisionID
	at := body.At.UTC()
	in.Status, in.PublishedAt = IntentPublished, &at
	if in.Ring.IsProduction() && v.State == deploy.StateApproved {
		ev, err := deploy.Transition(v.State, deploy.StatePublished)
		if err != nil {
			return nil, err
		}
		v.State = deploy.StatePublished
		v.PublishedAt = &at
		v.History = append(v.History, TransitionRecord{TransitionEvent: ev, By: body.Principal.ID, At: at, DecisionID: body.DecisionID})
		if err := setJSON(b, versionKey(v.AppID, v.Version), v); err != nil {
			return nil, err
		}
	}
	if err := setJSON(b, intentKey(in.ID), in); err != nil {
		return nil, err
	}
	return rec, nil
}

func applyPromote(b Batch, kind string, body PromoteBody) (any, error) {
	in, _, art, err := intentContext(b, body.IntentID)
	if err != nil {
		return nil, err
	}
	if in.Status != IntentPublished {
		return nil, fmt.Errorf("intent %s is %s (promotion judges a published intent): %w", in.ID, in.Status, ErrConflict)
	}
	as, err := getRec[AssessmentRecord](b, assessmentKey(in.AssessmentID), "assessment "+in.AssessmentID)
	if err != nil {
		return nil, err
	}
	cab, err := optApproval(b, body.Approval, "approval")
	if err != nil {
		return nil, err
	}
	stored, err := evidenceFor(b, body.Evidence, in.ID)
	if err != nil {
		return nil, err
	}
	pin := body.Measured
	pin.IntentID, pin.Ring, pin.Risk, pin.EvidenceStored, pin.CABApproval = in.ID, in.Ring, &as.Assessment, stored, cab
	next := in.Ring
	if next < deploy.MaxRing {
		next++
	}
	authz := deploy.Authorize(body.Principal, deploy.ActionPublish, deploy.Object{Kind: "intent", ID: in.ID, Scope: *in.Scope,
		RequestedBy: in.RequestedBy, PackagedBy: art.PackagedBy, Ring: next}, body.At)
	// The CAB rule of promotion is promotion.cab; drop Authorize's own.
	authz.Checks = slices.DeleteFunc(authz.Checks, func(c deploy.Check) bool { return c.Rule == "publish.cab" })
	d := Combine(authz, deploy.EvaluatePromotion(pin, body.At))
	rec, derr := decide(b, body.GovCtx, kind, "intent/"+in.ID, *in.Scope, as.Assessment.Model, pin, nil, d)
	if derr != nil {
		return rec, derr
	}
	in.Status, in.PromotedTo, in.LastDecision = IntentPromoted, &next, body.DecisionID
	ids, _, err := activeIntents(b, in.AppID)
	if err != nil {
		return nil, err
	}
	ids = slices.DeleteFunc(ids, func(s string) bool { return s == in.ID })
	if err := setJSON(b, activeKey(in.AppID), ids); err != nil {
		return nil, err
	}
	if err := setJSON(b, intentKey(in.ID), in); err != nil {
		return nil, err
	}
	return rec, nil
}

func applyEvidenceRecord(b Batch, kind string, body EvidenceRecordBody) (any, error) {
	r := body.Record
	r.Digest, r.Envelope = digest.Canonical(r.Digest), digest.Canonical(r.Envelope)
	for _, f := range []struct {
		name string
		d    digest.Digest
	}{{"digest", r.Digest}, {"envelope", r.Envelope}} {
		if _, err := digest.Parse(string(f.d)); err != nil {
			return nil, invalidf("%s: %v", f.name, err)
		}
	}
	if r.KeyID == "" {
		return nil, invalidf("key_id: required")
	}
	if cur, err := getRec[EvidenceRecord](b, evidenceKey(r.Digest.Hex()), "evidence"); err == nil {
		return cur, nil // write-once: storing the same pack again changes nothing
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	in, _, _, err := intentContext(b, r.IntentID)
	if err != nil {
		return nil, fmt.Errorf("intent_id: %w", err)
	}
	if r.AppID != in.AppID || r.Version != in.Version {
		return nil, invalidf("app_id: the pack is for %s %s, intent %s deploys %s %s", r.AppID, r.Version, in.ID, in.AppID, in.Version)
	}
	d := deploy.Authorize(body.Principal, deploy.ActionRead, deploy.Object{Kind: "evidence", ID: r.Digest.String(), Scope: *in.Scope}, body.At)
	if rec, err := decide(b, body.GovCtx, kind, "evidence/"+r.Digest.String(), *in.Scope, "", body, nil, d); err != nil {
		return rec, err
	}
	r.StoredBy, r.StoredAt = body.Principal.ID, body.At.UTC()
	return r, setJSON(b, evidenceKey(r.Digest.Hex()), r)
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

func applyScopeChange(b Batch, kind string, body AppScopeBody) (any, error) {
	if err := body.Scope.Validate(); err != nil {
		return nil, invalidf("scope: %v", err)
	}
	app, err := getRec[AppRecord](b, appKey(body.AppID), "application "+body.AppID)
	if err != nil {
		return nil, err
	}
	cab, err := optApproval(b, body.Approval, "approval")
	if err != nil {
		return nil, err
	}
	next, diff, change := deploy.ChangeAppScope(app.Application, body.Scope, body.Principal.ID, cab, body.Sites, body.At)
	authz := deploy.Authorize(body.Principal, deploy.ActionChangeScope, deploy.Object{Kind: "application", ID: app.ID, Scope: body.Scope}, body.At)
	d := Combine(authz, change)
	if rec, err := decide(b, body.GovCtx, kind, "app/"+app.ID, app.AllowedScope, "", body, diff, d); err != nil {
		if errors.Is(err, deploy.ErrDenied) && onlyFailed(d, "cab.") {
			if rerr := recordApprovalRequest(b, body.GovCtx, deploy.ScopeChangeSubject(app.ID, app.ScopeVersion+1), app.AllowedScope); rerr != nil {
				return nil, rerr
			}
		}
		return rec, err
	}
	app.Application = next
	return app, setJSON(b, appKey(app.ID), app)
}
