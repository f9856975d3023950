package api

import (
	"encoding/json"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// Governance requests, as documented in docs/api.md ("Governance"). The
// hub fills in the caller (packager, requester, approver) and the time.
type (
	// AppRequest is POST /v1/apps.
	AppRequest struct {
		ID              string       `json:"id"`
		Name            string       `json:"name"`
		Owner           string       `json:"owner"`
		Category        string       `json:"category"`
		SupportTier     string       `json:"support_tier"`
		LicensingModel  string       `json:"licensing_model"`
		AllowedScope    deploy.Scope `json:"allowed_scope"`
		LOB             bool         `json:"lob,omitempty"`
		PrivilegedTools bool         `json:"privileged_tools,omitempty"`
	}
	// VersionRequest is POST /v1/apps/{app}/versions.
	VersionRequest struct {
		Version      string              `json:"version"`
		ReleaseNotes string              `json:"release_notes,omitempty"`
		OSMatrix     []deploy.OSSupport  `json:"os_matrix"`
		Dependencies []deploy.Dependency `json:"dependencies,omitempty"`
	}
	// ArtifactRequest is POST /v1/apps/{app}/versions/{v}/artifacts.
	ArtifactRequest struct {
		Platform     deploy.Platform     `json:"platform"`
		Name         string              `json:"name"`
		SHA256       digest.Digest       `json:"sha256"`
		Size         int64               `json:"size"`
		Signing      deploy.Signing      `json:"signing"`
		Provenance   digest.Digest       `json:"provenance,omitempty"`
		SBOM         digest.Digest       `json:"sbom,omitempty"`
		ScanReport   digest.Digest       `json:"scan_report,omitempty"`
		ScanDecision deploy.ScanDecision `json:"scan_decision"`
	}
	// AssessmentRequest is POST /v1/assessments.
	AssessmentRequest struct {
		ID       string          `json:"id"`
		AppID    string          `json:"app_id"`
		Version  string          `json:"version"`
		Artifact digest.Digest   `json:"artifact,omitempty"`
		Input    json.RawMessage `json:"input"`
	}
	// ApprovalRequest is POST /v1/approvals.
	ApprovalRequest struct {
		ID           string                  `json:"id"`
		Subject      string                  `json:"subject"`
		RequestedBy  string                  `json:"requested_by,omitempty"` // optional check: the hub takes the requester from the stored request
		Decision     deploy.ApprovalDecision `json:"decision"`
		Conditions   []string                `json:"conditions,omitempty"`
		ExpiresAt    time.Time               `json:"expires_at"`
		ExceptionID  string                  `json:"exception_id,omitempty"`
		EvidencePack string                  `json:"evidence_pack,omitempty"`
	}
	// ExceptionRequest is POST /v1/exceptions.
	ExceptionRequest struct {
		ID                   string        `json:"id"`
		IntentID             string        `json:"intent_id"`
		Artifact             digest.Digest `json:"artifact,omitempty"`
		Findings             []string      `json:"findings"`
		Justification        string        `json:"justification"`
		CompensatingControls []string      `json:"compensating_controls"`
		AccountableOwner     string        `json:"accountable_owner"`
		RequestedBy          string        `json:"requested_by,omitempty"` // optional check: the hub takes the intent's requester
		ExpiresAt            time.Time     `json:"expires_at"`
	}
	// IntentRequest is POST /v1/intents.
	IntentRequest struct {
		ID                  string                `json:"id"`
		AppID               string                `json:"app_id"`
		Version             string                `json:"version"`
		Artifact            digest.Digest         `json:"artifact"`
		Ring                deploy.Ring           `json:"ring"`
		Scope               *deploy.Scope         `json:"scope"`
		Schedule            deploy.Schedule       `json:"schedule"`
		Constraints         []string              `json:"constraints,omitempty"`
		RequiredEvidence    []deploy.EvidenceItem `json:"required_evidence,omitempty"`
		Exclusions          []string              `json:"exclusions,omitempty"`
		AssessmentID        string                `json:"assessment_id"`
		ConcurrencyApproval string                `json:"concurrency_approval,omitempty"`
	}
	// PublishRequest is POST /v1/intents/{id}:publish.
	PublishRequest struct {
		Approval  string        `json:"approval,omitempty"`
		Exception string        `json:"exception,omitempty"`
		Evidence  digest.Digest `json:"evidence,omitempty"`
	}
	// PromoteRequest is POST /v1/intents/{id}:promote.
	PromoteRequest struct {
		SiteClass             deploy.SiteClass `json:"site_class"`
		InstallAttempts       int              `json:"install_attempts"`
		InstallSuccesses      int              `json:"install_successes"`
		TimeToCompliance      string           `json:"time_to_compliance"`
		TransferWindow        string           `json:"transfer_window,omitempty"`
		AttributableIncidents int              `json:"attributable_incidents"`
		Planes                []string         `json:"planes"`
		RollbackValidated     []string         `json:"rollback_validated"`
		Approval              string           `json:"approval,omitempty"`
		Evidence              digest.Digest    `json:"evidence,omitempty"`
	}
	// ElevationRequest is POST /v1/elevations.
	ElevationRequest struct {
		ID          string                   `json:"id"`
		Device      deploy.DevicePosture     `json:"device"`
		DeviceScope deploy.Scope             `json:"device_scope"`
		App         deploy.AppClassification `json:"app"`
		Duration    string                   `json:"duration"`
		Approval    string                   `json:"approval,omitempty"`
	}
)

// Governance records as the API shows them.
type (
	// App is a catalog application.
	App struct {
		deploy.Application
		CreatedBy string    `json:"created_by"`
		CreatedAt time.Time `json:"created_at"`
	}
	// Transition is one lifecycle move of a version.
	Transition struct {
		deploy.TransitionEvent
		By         string    `json:"by"`
		At         time.Time `json:"at"`
		DecisionID string    `json:"decision_id"`
	}
	// Version is a catalog version with its lifecycle history.
	Version struct {
		deploy.ApplicationVersion
		RequestedBy string       `json:"requested_by"`
		CreatedAt   time.Time    `json:"created_at"`
		PublishedAt *time.Time   `json:"published_at,omitempty"`
		History     []Transition `json:"history"`
	}
	// Artifact is a catalog artifact.
	Artifact struct {
		deploy.Artifact
		CreatedAt time.Time `json:"created_at"`
	}
	// Assessment is a stored risk assessment: inputs, score, model
	// version, contributions and justification.
	Assessment struct {
		ID         string            `json:"id"`
		AppID      string            `json:"app_id"`
		Version    string            `json:"version"`
		Artifact   digest.Digest     `json:"artifact,omitempty"`
		Assessment deploy.Assessment `json:"assessment"`
		CreatedBy  string            `json:"created_by"`
		CreatedAt  time.Time         `json:"created_at"`
	}
	// Intent is a deployment intent and its progress.
	Intent struct {
		deploy.Intent
		AssessmentID        string       `json:"assessment_id"`
		ConcurrencyApproval string       `json:"concurrency_approval,omitempty"`
		Status              string       `json:"status"`
		CreatedAt           time.Time    `json:"created_at"`
		PublishedAt         *time.Time   `json:"published_at,omitempty"`
		PromotedTo          *deploy.Ring `json:"promoted_to,omitempty"`
		LastDecision        string       `json:"last_decision"` // id of the decision that last changed the intent
	}
	// Evidence says a signed evidence pack is stored write-once under
	// Digest (canonical bytes) with its DSSE envelope under Envelope.
	Evidence struct {
		Digest   digest.Digest `json:"digest"`
		Envelope digest.Digest `json:"envelope"`
		KeyID    string        `json:"key_id"`
		IntentID string        `json:"intent_id"`
		AppID    string        `json:"app_id"`
		Version  string        `json:"version"`
		StoredBy string        `json:"stored_by"`
		StoredAt time.Time     `json:"stored_at"`
	}
	// Decision is one explained policy decision with everything it was
	// judged on.
	Decision struct {
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

// Governance views.
type (
	// AppVersion is a version with its artifacts.
	AppVersion struct {
		Version
		Artifacts []Artifact `json:"artifacts"`
	}
	// AppView is GET /v1/apps/{app}.
	AppView struct {
		App      App          `json:"app"`
		Versions []AppVersion `json:"versions"`
	}
	// IntentView is GET /v1/intents/{id}: the intent and every decision
	// about it, oldest first.
	IntentView struct {
		Intent    Intent     `json:"intent"`
		Decisions []Decision `json:"decisions"`
	}
	// EvidenceView is the answer of POST and GET /v1/evidence.
	EvidenceView struct {
		Record   Evidence             `json:"record"`
		Pack     *deploy.EvidencePack `json:"pack,omitempty"`
		Envelope *signing.Envelope    `json:"envelope,omitempty"`
		KeyID    string               `json:"verified_key_id,omitempty"`
	}
	// Retention is GET /v1/apps/{app}/retention.
	Retention struct {
		AppID    string                    `json:"app_id"`
		LOB      bool                      `json:"lob"`
		At       time.Time                 `json:"at"`
		Verdicts []deploy.RetentionVerdict `json:"verdicts"`
	}
	// TransitionRequest is POST /v1/apps/{app}/versions/{v}:transition.
	TransitionRequest struct {
		To deploy.State `json:"to"`
	}
	// ScopeRequest is POST /v1/apps/{app}:scope.
	ScopeRequest struct {
		Scope    deploy.Scope `json:"scope"`
		Approval string       `json:"approval,omitempty"`
	}
)
