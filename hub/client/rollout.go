package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

// SetRingTargets sets the groups a ring reaches on a plane.
func (c *Client) SetRingTargets(ctx context.Context, plane string, ring deploy.Ring, targets []api.Target) (api.RingTargets, error) {
	var out api.RingTargets
	return out, c.do(ctx, "PUT", fmt.Sprintf("/v1/planes/%s/rings/%d", esc(plane), int(ring)), api.RingTargetsRequest{Targets: targets}, &out)
}

// RingTargets lists a plane's ring groups.
func (c *Client) RingTargets(ctx context.Context, plane string) ([]api.RingTargets, error) {
	var out []api.RingTargets
	return out, c.do(ctx, "GET", "/v1/planes/"+esc(plane)+"/rings", nil, &out)
}

// Rollouts lists the rollouts (of one app when app is not empty).
func (c *Client) Rollouts(ctx context.Context, app string) ([]api.Rollout, error) {
	var out []api.Rollout
	path := "/v1/rollouts"
	if app != "" {
		path += "?app=" + url.QueryEscape(app)
	}
	return out, c.do(ctx, "GET", path, nil, &out)
}

// Rollout returns an intent's rollout.
func (c *Client) Rollout(ctx context.Context, intent string) (api.Rollout, error) {
	var out api.Rollout
	return out, c.do(ctx, "GET", "/v1/rollouts/"+esc(intent), nil, &out)
}

// ControlRollout pauses, resumes, rolls back or sets the failure policy
// of a rollout: control is "pause", "resume", "rollback" or "policy".
func (c *Client) ControlRollout(ctx context.Context, intent, control string, r api.RolloutControl) (api.Rollout, error) {
	var out api.Rollout
	return out, c.do(ctx, "POST", "/v1/rollouts/"+esc(intent)+":"+control, r, &out)
}

// PromoteRollout asks for a promotion judged on the plane's telemetry now.
func (c *Client) PromoteRollout(ctx context.Context, intent string, r api.RolloutPromote) (api.Rollout, error) {
	var out api.Rollout
	return out, c.do(ctx, "POST", "/v1/rollouts/"+esc(intent)+":promote", r, &out)
}

// ReconcileRollout compares a rollout's release with its plane now and
// returns the open drift.
func (c *Client) ReconcileRollout(ctx context.Context, intent string) ([]api.Drift, error) {
	var out []api.Drift
	return out, c.do(ctx, "POST", "/v1/rollouts/"+esc(intent)+":reconcile", struct{}{}, &out)
}

// CreateIncident records an incident.
func (c *Client) CreateIncident(ctx context.Context, r api.IncidentRequest) (api.Incident, error) {
	var out api.Incident
	return out, c.do(ctx, "POST", "/v1/incidents", r, &out)
}

// Incidents lists every incident.
func (c *Client) Incidents(ctx context.Context) ([]api.Incident, error) {
	var out []api.Incident
	return out, c.do(ctx, "GET", "/v1/incidents", nil, &out)
}

// Drift lists open drift, filtered by site, app and plane when set.
func (c *Client) Drift(ctx context.Context, site, app, plane string) ([]api.Drift, error) {
	q := url.Values{}
	for k, v := range map[string]string{"site": site, "app": app, "plane": plane} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/v1/drift"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []api.Drift
	return out, c.do(ctx, "GET", path, nil, &out)
}

// DriftPolicy returns the hub's drift policy.
func (c *Client) DriftPolicy(ctx context.Context) (deploy.DriftPolicy, error) {
	var out deploy.DriftPolicy
	return out, c.do(ctx, "GET", "/v1/drift/policy", nil, &out)
}

// SetDriftPolicy replaces the hub's drift policy.
func (c *Client) SetDriftPolicy(ctx context.Context, p deploy.DriftPolicy) (deploy.DriftPolicy, error) {
	var out deploy.DriftPolicy
	return out, c.do(ctx, "PUT", "/v1/drift/policy", p, &out)
}
