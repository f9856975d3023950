package api

import (
	"time"

	"github.com/eucora/eucora/deploy"
)

// Rollouts, as documented in docs/api.md ("Rollouts"): the ring targets of
// each plane, every intent's progress through its plane, the controls
// people apply, incidents and drift.
type (
	// Target is one plane group a ring reaches.
	Target struct {
		ID      string `json:"id"`
		Name    string `json:"name,omitempty"`
		Exclude bool   `json:"exclude,omitempty"`
	}
	// RingTargets is PUT/GET /v1/planes/{name}/rings/{ring}.
	RingTargets struct {
		Plane     string      `json:"plane"`
		Ring      deploy.Ring `json:"ring"`
		Targets   []Target    `json:"targets"`
		UpdatedBy string      `json:"updated_by,omitempty"`
		UpdatedAt time.Time   `json:"updated_at"`
	}
	// RingTargetsRequest is the body of PUT /v1/planes/{name}/rings/{ring}.
	RingTargetsRequest struct {
		Targets []Target `json:"targets"`
	}

	// RolloutStep is one recorded unit of the orchestrator's work.
	RolloutStep struct {
		Op      string    `json:"op"`
		Phase   string    `json:"phase"`
		At      time.Time `json:"at"`
		Detail  string    `json:"detail,omitempty"`
		Created int       `json:"created,omitempty"`
		Objects int       `json:"objects,omitempty"`
		Class   string    `json:"class,omitempty"`
	}
	// Telemetry is the last reading of a rollout's plane.
	Telemetry struct {
		At       time.Time          `json:"at"`
		Measure  deploy.RingMeasure `json:"measure"`
		Assigned []string           `json:"assigned,omitempty"`
		Objects  int                `json:"objects"`
	}
	// Gate is the last judgement of a rollout's promotion gate.
	Gate struct {
		At       time.Time          `json:"at"`
		Verdict  deploy.GateVerdict `json:"verdict"`
		Waiting  []string           `json:"waiting,omitempty"`
		Failing  []string           `json:"failing,omitempty"`
		Decision string             `json:"decision_id,omitempty"`
	}
	// Backoff is a plane's pause after it was unavailable or throttling.
	Backoff struct {
		Until    time.Time `json:"until"`
		Failures int       `json:"failures"`
		Class    string    `json:"class"`
		Message  string    `json:"message,omitempty"`
	}
	// Rollout is GET /v1/rollouts/{intent}: one intent's progress.
	Rollout struct {
		IntentID          string           `json:"intent_id"`
		AppID             string           `json:"app_id"`
		Version           string           `json:"version"`
		Ring              deploy.Ring      `json:"ring"`
		Scope             deploy.Scope     `json:"scope"`
		Base              string           `json:"base"`
		Prev              string           `json:"prev,omitempty"`
		Next              string           `json:"next,omitempty"`
		Rev               uint64           `json:"rev"`
		State             string           `json:"state"`
		OnFailure         string           `json:"on_failure"`
		Plane             string           `json:"plane,omitempty"`
		PlaneKind         string           `json:"plane_kind,omitempty"`
		PlaneReason       string           `json:"plane_reason,omitempty"`
		SiteClass         deploy.SiteClass `json:"site_class"`
		Targets           []Target         `json:"targets,omitempty"`
		Prior             string           `json:"prior,omitempty"`
		PublishedAt       *time.Time       `json:"published_at,omitempty"`
		Results           *deploy.DocRef   `json:"results,omitempty"`
		Validation        string           `json:"validation,omitempty"`
		RollbackValidated []string         `json:"rollback_validated,omitempty"`
		Telemetry         *Telemetry       `json:"telemetry,omitempty"`
		Gate              *Gate            `json:"gate,omitempty"`
		Backoff           *Backoff         `json:"backoff,omitempty"`
		Waiting           []string         `json:"waiting,omitempty"`
		PausedBy          string           `json:"paused_by,omitempty"`
		PauseReason       string           `json:"pause_reason,omitempty"`
		RollbackRequested bool             `json:"rollback_requested,omitempty"`
		RollbackAction    string           `json:"rollback_action,omitempty"`
		Steps             []RolloutStep    `json:"steps"`
		CreatedAt         time.Time        `json:"created_at"`
		UpdatedAt         time.Time        `json:"updated_at"`
	}
	// RolloutControl is the body of POST /v1/rollouts/{intent}:pause,
	// :resume, :rollback and :policy.
	RolloutControl struct {
		Reason    string `json:"reason,omitempty"`
		OnFailure string `json:"on_failure,omitempty"` // :policy: pause or rollback
	}
	// RolloutPromote is the body of POST /v1/rollouts/{intent}:promote: a
	// person's promotion, judged on the plane's telemetry like the
	// automatic one, with the CAB approval it needs if any.
	RolloutPromote struct {
		Approval string `json:"approval,omitempty"`
	}

	// IncidentRequest is the body of POST /v1/incidents.
	IncidentRequest struct {
		ID           string `json:"id"`
		AppID        string `json:"app_id"`
		Version      string `json:"version,omitempty"`
		IntentID     string `json:"intent_id,omitempty"`
		Severity     string `json:"severity"`
		Security     bool   `json:"security"`
		Attributable bool   `json:"attributable"`
		Summary      string `json:"summary"`
	}
	// Incident is a recorded incident.
	Incident struct {
		ID           string    `json:"id"`
		AppID        string    `json:"app_id"`
		Version      string    `json:"version,omitempty"`
		IntentID     string    `json:"intent_id,omitempty"`
		Severity     string    `json:"severity"`
		Security     bool      `json:"security"`
		Attributable bool      `json:"attributable"`
		Summary      string    `json:"summary"`
		ReportedBy   string    `json:"reported_by"`
		At           time.Time `json:"at"`
	}

	// Drift is one open drift of an intent on a plane (GET /v1/drift).
	Drift struct {
		deploy.Drift
		IntentID        string           `json:"intent_id"`
		AppID           string           `json:"app_id"`
		Plane           string           `json:"plane"`
		Site            string           `json:"site,omitempty"`
		Mode            deploy.DriftMode `json:"mode"`
		FirstSeen       time.Time        `json:"first_seen"`
		LastSeen        time.Time        `json:"last_seen"`
		Remediated      int              `json:"remediated,omitempty"`
		LastRemediation string           `json:"last_remediation,omitempty"`
	}
)

// RollbackValidation lists the plane kinds whose rollback was run and
// verified for an application version (kind -> the intent it ran in).
type RollbackValidation struct {
	AppID   string            `json:"app_id"`
	Version string            `json:"version"`
	Planes  map[string]string `json:"planes"`
}
