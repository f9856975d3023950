package client

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/digest"
)

// DeniedError is a policy refusal (403) with the stored decision. It
// unwraps to ErrDenied and to deploy.ErrDenied.
type DeniedError struct {
	APIError
	Decision api.Decision
}

// Unwrap makes errors.As(err, **APIError), errors.Is(err, ErrDenied) and
// errors.Is(err, deploy.ErrDenied) true.
func (e *DeniedError) Unwrap() []error { return []error{&e.APIError, deploy.ErrDenied} }

func esc(s string) string { return url.PathEscape(s) }

// CreateApp registers an application.
func (c *Client) CreateApp(ctx context.Context, r api.AppRequest) (api.App, error) {
	var out api.App
	return out, c.do(ctx, "POST", "/v1/apps", r, &out)
}

// Apps lists the applications in the caller's scope.
func (c *Client) Apps(ctx context.Context) ([]api.App, error) {
	var out struct {
		Apps []api.App `json:"apps"`
	}
	return out.Apps, c.do(ctx, "GET", "/v1/apps", nil, &out)
}

// App returns an application with its versions and artifacts.
func (c *Client) App(ctx context.Context, id string) (api.AppView, error) {
	var out api.AppView
	return out, c.do(ctx, "GET", "/v1/apps/"+esc(id), nil, &out)
}

// AppRetention plans LOB retention at time at (zero: now).
func (c *Client) AppRetention(ctx context.Context, id string, at time.Time) (api.Retention, error) {
	var out api.Retention
	p := "/v1/apps/" + esc(id) + "/retention"
	if !at.IsZero() {
		p += "?at=" + url.QueryEscape(at.UTC().Format(time.RFC3339))
	}
	return out, c.do(ctx, "GET", p, nil, &out)
}

// CreateVersion registers a version of app.
func (c *Client) CreateVersion(ctx context.Context, app string, r api.VersionRequest) (api.Version, error) {
	var out api.Version
	return out, c.do(ctx, "POST", "/v1/apps/"+esc(app)+"/versions", r, &out)
}

// Transition moves a version along the lifecycle.
func (c *Client) Transition(ctx context.Context, app, version string, to deploy.State) (api.Version, error) {
	var out api.Version
	return out, c.do(ctx, "POST", "/v1/apps/"+esc(app)+"/versions/"+esc(version)+":transition", map[string]any{"to": to}, &out)
}

// CreateArtifact registers an artifact packaged by the caller.
func (c *Client) CreateArtifact(ctx context.Context, app, version string, r api.ArtifactRequest) (api.Artifact, error) {
	var out api.Artifact
	return out, c.do(ctx, "POST", "/v1/apps/"+esc(app)+"/versions/"+esc(version)+"/artifacts", r, &out)
}

// CreateAssessment stores a risk assessment.
func (c *Client) CreateAssessment(ctx context.Context, r api.AssessmentRequest) (api.Assessment, error) {
	var out api.Assessment
	return out, c.do(ctx, "POST", "/v1/assessments", r, &out)
}

// Assessment returns a stored risk assessment.
func (c *Client) Assessment(ctx context.Context, id string) (api.Assessment, error) {
	var out api.Assessment
	return out, c.do(ctx, "GET", "/v1/assessments/"+esc(id), nil, &out)
}

// CreateApproval records the caller's CAB decision.
func (c *Client) CreateApproval(ctx context.Context, r api.ApprovalRequest) (deploy.ApprovalRecord, error) {
	var out deploy.ApprovalRecord
	return out, c.do(ctx, "POST", "/v1/approvals", r, &out)
}

// CreateException records an exception approved by the caller.
func (c *Client) CreateException(ctx context.Context, r api.ExceptionRequest) (deploy.Exception, error) {
	var out deploy.Exception
	return out, c.do(ctx, "POST", "/v1/exceptions", r, &out)
}

// CreateIntent declares a deployment intent.
func (c *Client) CreateIntent(ctx context.Context, r api.IntentRequest) (api.Intent, error) {
	var out api.Intent
	return out, c.do(ctx, "POST", "/v1/intents", r, &out)
}

// Intents lists the intents in the caller's scope.
func (c *Client) Intents(ctx context.Context) ([]api.Intent, error) {
	var out struct {
		Intents []api.Intent `json:"intents"`
	}
	return out.Intents, c.do(ctx, "GET", "/v1/intents", nil, &out)
}

// Intent returns an intent with every decision about it.
func (c *Client) Intent(ctx context.Context, id string) (api.IntentView, error) {
	var out api.IntentView
	return out, c.do(ctx, "GET", "/v1/intents/"+esc(id), nil, &out)
}

// Publish runs the publish gate on an intent.
func (c *Client) Publish(ctx context.Context, id string, r api.PublishRequest) (api.Decision, error) {
	var out api.Decision
	return out, c.do(ctx, "POST", "/v1/intents/"+esc(id)+":publish", r, &out)
}

// Promote runs the promotion gate on an intent.
func (c *Client) Promote(ctx context.Context, id string, r api.PromoteRequest) (api.Decision, error) {
	var out api.Decision
	return out, c.do(ctx, "POST", "/v1/intents/"+esc(id)+":promote", r, &out)
}

// StoreEvidence signs and stores an evidence pack (write-once).
func (c *Client) StoreEvidence(ctx context.Context, pack json.RawMessage) (api.EvidenceView, error) {
	var out api.EvidenceView
	return out, c.do(ctx, "POST", "/v1/evidence", pack, &out)
}

// Evidence reads a stored pack, verified on read.
func (c *Client) Evidence(ctx context.Context, d digest.Digest) (api.EvidenceView, error) {
	var out api.EvidenceView
	return out, c.do(ctx, "GET", "/v1/evidence/"+esc(d.String()), nil, &out)
}

// Decisions lists stored decisions, optionally for one subject
// (e.g. "intent/i-1").
func (c *Client) Decisions(ctx context.Context, subject string) ([]api.Decision, error) {
	var out struct {
		Decisions []api.Decision `json:"decisions"`
	}
	p := "/v1/decisions"
	if subject != "" {
		p += "?subject=" + url.QueryEscape(subject)
	}
	return out.Decisions, c.do(ctx, "GET", p, nil, &out)
}

// Decision returns one stored decision.
func (c *Client) Decision(ctx context.Context, id string) (api.Decision, error) {
	var out api.Decision
	return out, c.do(ctx, "GET", "/v1/decisions/"+esc(id), nil, &out)
}

// Elevate asks for a JIT elevation.
func (c *Client) Elevate(ctx context.Context, r api.ElevationRequest) (api.Decision, error) {
	var out api.Decision
	return out, c.do(ctx, "POST", "/v1/elevations", r, &out)
}

// CreateIntentJSON declares an intent from a JSON document sent as is, so
// the hub's strict decoder sees (and names) any unknown field.
func (c *Client) CreateIntentJSON(ctx context.Context, doc json.RawMessage) (api.Intent, error) {
	var out api.Intent
	return out, c.do(ctx, "POST", "/v1/intents", doc, &out)
}

// PromoteJSON runs the promotion gate with a measured-results document sent as is.
func (c *Client) PromoteJSON(ctx context.Context, id string, doc json.RawMessage) (api.Decision, error) {
	var out api.Decision
	return out, c.do(ctx, "POST", "/v1/intents/"+esc(id)+":promote", doc, &out)
}

// ElevateJSON asks for a JIT elevation with a request document sent as is.
func (c *Client) ElevateJSON(ctx context.Context, doc json.RawMessage) (api.Decision, error) {
	var out api.Decision
	return out, c.do(ctx, "POST", "/v1/elevations", doc, &out)
}

// ChangeAppScope changes an application's allowed scope under a CAB
// approval of "scope-change:APP@N" (N = the next scope version).
func (c *Client) ChangeAppScope(ctx context.Context, app string, scope deploy.Scope, approval string) (api.App, error) {
	var out api.App
	return out, c.do(ctx, "POST", "/v1/apps/"+esc(app)+":scope", map[string]any{"scope": scope, "approval": approval}, &out)
}
