package client

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
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

// Governance answers.
type (
	// AppVersion is a version with its artifacts.
	AppVersion struct {
		store.VersionRecord
		Artifacts []store.ArtifactRecord `json:"artifacts"`
	}
	// AppView is GET /v1/apps/{app}.
	AppView struct {
		App      store.AppRecord `json:"app"`
		Versions []AppVersion    `json:"versions"`
	}
	// IntentView is GET /v1/intents/{id}.
	IntentView struct {
		Intent    store.IntentRecord     `json:"intent"`
		Decisions []store.DecisionRecord `json:"decisions"`
	}
	// EvidenceView is POST and GET /v1/evidence.
	EvidenceView struct {
		Record   store.EvidenceRecord `json:"record"`
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
)

// DeniedError is a policy refusal (403) with the stored decision. It
// unwraps to ErrDenied and to deploy.ErrDenied.
type DeniedError struct {
	APIError
	Decision store.DecisionRecord
}

// Unwrap makes errors.As(err, **APIError), errors.Is(err, ErrDenied) and
// errors.Is(err, deploy.ErrDenied) true.
func (e *DeniedError) Unwrap() []error { return []error{&e.APIError, deploy.ErrDenied} }

func esc(s string) string { return url.PathEscape(s) }

// CreateApp registers an application.
func (c *Client) CreateApp(ctx context.Context, r AppRequest) (store.AppRecord, error) {
	var out store.AppRecord
	return out, c.do(ctx, "POST", "/v1/apps", r, &out)
}

// Apps lists the applications in the caller's scope.
func (c *Client) Apps(ctx context.Context) ([]store.AppRecord, error) {
	var out struct {
		Apps []store.AppRecord `json:"apps"`
	}
	return out.Apps, c.do(ctx, "GET", "/v1/apps", nil, &out)
}

// App returns an application with its versions and artifacts.
func (c *Client) App(ctx context.Context, id string) (AppView, error) {
	var out AppView
	return out, c.do(ctx, "GET", "/v1/apps/"+esc(id), nil, &out)
}

// AppRetention plans LOB retention at time at (zero: now).
func (c *Client) AppRetention(ctx context.Context, id string, at time.Time) (Retention, error) {
	var out Retention
	p := "/v1/apps/" + esc(id) + "/retention"
	if !at.IsZero() {
		p += "?at=" + url.QueryEscape(at.UTC().Format(time.RFC3339))
	}
	return out, c.do(ctx, "GET", p, nil, &out)
}

// CreateVersion registers a version of app.
func (c *Client) CreateVersion(ctx context.Context, app string, r VersionRequest) (store.VersionRecord, error) {
	var out store.VersionRecord
	return out, c.do(ctx, "POST", "/v1/apps/"+esc(app)+"/versions", r, &out)
}

// Transition moves a version along the lifecycle.
func (c *Client) Transition(ctx context.Context, app, version string, to deploy.State) (store.VersionRecord, error) {
	var out store.VersionRecord
	return out, c.do(ctx, "POST", "/v1/apps/"+esc(app)+"/versions/"+esc(version)+":transition", map[string]any{"to": to}, &out)
}

// CreateArtifact registers an artifact packaged by the caller.
func (c *Client) CreateArtifact(ctx context.Context, app, version string, r ArtifactRequest) (store.ArtifactRecord, error) {
	var out store.ArtifactRecord
	return out, c.do(ctx, "POST", "/v1/apps/"+esc(app)+"/versions/"+esc(version)+"/artifacts", r, &out)
}

// CreateAssessment stores a risk assessment.
func (c *Client) CreateAssessment(ctx context.Context, r AssessmentRequest) (store.AssessmentRecord, error) {
	var out store.AssessmentRecord
	return out, c.do(ctx, "POST", "/v1/assessments", r, &out)
}

// Assessment returns a stored risk assessment.
func (c *Client) Assessment(ctx context.Context, id string) (store.AssessmentRecord, error) {
	var out store.AssessmentRecord
	return out, c.do(ctx, "GET", "/v1/assessments/"+esc(id), nil, &out)
}

// CreateApproval records the caller's CAB decision.
func (c *Client) CreateApproval(ctx context.Context, r ApprovalRequest) (deploy.ApprovalRecord, error) {
	var out deploy.ApprovalRecord
	return out, c.do(ctx, "POST", "/v1/approvals", r, &out)
}

// CreateException records an exception approved by the caller.
func (c *Client) CreateException(ctx context.Context, r ExceptionRequest) (deploy.Exception, error) {
	var out deploy.Exception
	return out, c.do(ctx, "POST", "/v1/exceptions", r, &out)
}

// CreateIntent declares a deployment intent.
func (c *Client) CreateIntent(ctx context.Context, r IntentRequest) (store.IntentRecord, error) {
	var out store.IntentRecord
	return out, c.do(ctx, "POST", "/v1/intents", r, &out)
}

// Intents lists the intents in the caller's scope.
func (c *Client) Intents(ctx context.Context) ([]store.IntentRecord, error) {
	var out struct {
		Intents []store.IntentRecord `json:"intents"`
	}
	return out.Intents, c.do(ctx, "GET", "/v1/intents", nil, &out)
}

// Intent returns an intent with every decision about it.
func (c *Client) Intent(ctx context.Context, id string) (IntentView, error) {
	var out IntentView
	return out, c.do(ctx, "GET", "/v1/intents/"+esc(id), nil, &out)
}

// Publish runs the publish gate on an intent.
func (c *Client) Publish(ctx context.Context, id string, r PublishRequest) (store.DecisionRecord, error) {
	var out store.DecisionRecord
	return out, c.do(ctx, "POST", "/v1/intents/"+esc(id)+":publish", r, &out)
}

// Promote runs the promotion gate on an intent.
func (c *Client) Promote(ctx context.Context, id string, r PromoteRequest) (store.DecisionRecord, error) {
	var out store.DecisionRecord
	return out, c.do(ctx, "POST", "/v1/intents/"+esc(id)+":promote", r, &out)
}

// StoreEvidence signs and stores an evidence pack (write-once).
func (c *Client) StoreEvidence(ctx context.Context, pack json.RawMessage) (EvidenceView, error) {
	var out EvidenceView
	return out, c.do(ctx, "POST", "/v1/evidence", pack, &out)
}

// Evidence reads a stored pack, verified on read.
func (c *Client) Evidence(ctx context.Context, d digest.Digest) (EvidenceView, error) {
	var out EvidenceView
	return out, c.do(ctx, "GET", "/v1/evidence/"+esc(d.String()), nil, &out)
}

// Decisions lists stored decisions, optionally for one subject
// (e.g. "intent/i-1").
func (c *Client) Decisions(ctx context.Context, subject string) ([]store.DecisionRecord, error) {
	var out struct {
		Decisions []store.DecisionRecord `json:"decisions"`
	}
	p := "/v1/decisions"
	if subject != "" {
		p += "?subject=" + url.QueryEscape(subject)
	}
	return out.Decisions, c.do(ctx, "GET", p, nil, &out)
}

// Decision returns one stored decision.
func (c *Client) Decision(ctx context.Context, id string) (store.DecisionRecord, error) {
	var out store.DecisionRecord
	return out, c.do(ctx, "GET", "/v1/decisions/"+esc(id), nil, &out)
}

// Elevate asks for a JIT elevation.
func (c *Client) Elevate(ctx context.Context, r ElevationRequest) (store.DecisionRecord, error) {
	var out store.DecisionRecord
	return out, c.do(ctx, "POST", "/v1/elevations", r, &out)
}

// CreateIntentJSON declares an intent from a JSON document sent as is, so
// the hub's strict decoder sees (and names) any unknown field.
func (c *Client) CreateIntentJSON(ctx context.Context, doc json.RawMessage) (store.IntentRecord, error) {
	var out store.IntentRecord
	return out, c.do(ctx, "POST", "/v1/intents", doc, &out)
}

// PromoteJSON runs the promotion gate with a measured-results document sent as is.
func (c *Client) PromoteJSON(ctx context.Context, id string, doc json.RawMessage) (store.DecisionRecord, error) {
	var out store.DecisionRecord
	return out, c.do(ctx, "POST", "/v1/intents/"+esc(id)+":promote", doc, &out)
}

// ElevateJSON asks for a JIT elevation with a request document sent as is.
func (c *Client) ElevateJSON(ctx context.Context, doc json.RawMessage) (store.DecisionRecord, error) {
	var out store.DecisionRecord
	return out, c.do(ctx, "POST", "/v1/elevations", doc, &out)
}

// ChangeAppScope changes an application's allowed scope under a CAB
// approval of "scope-change:APP@N" (N = the next scope version).
func (c *Client) ChangeAppScope(ctx context.Context, app string, scope deploy.Scope, approval string) (store.AppRecord, error) {
	var out store.AppRecord
	return out, c.do(ctx, "POST", "/v1/apps/"+esc(app)+":scope", map[string]any{"scope": scope, "approval": approval}, &out)
}
