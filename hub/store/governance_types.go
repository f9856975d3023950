package store

import (
	"encoding/json"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// Records and command bodies of governance (governance.go). The records
// are what Pebble stores under the g* keys (keys.go) and what the API
// returns; the bodies are what the proposer puts in a command.

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
	// IntentRolledBack: the change was rolled back at its ring (by the
	// orchestrator, on a failed gate or a person's rollback).
	IntentRolledBack = "rolled-back"
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
