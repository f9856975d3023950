package api

import (
	"time"

	"github.com/eucora/eucora/deploy"
)

// Plane registry API (EUCORA-architecture.md section 14.1): platform
// admin only. Credentials go in once, in a PlaneRequest, and never come
// out: no answer carries them.

// PlaneRequest is POST /v1/planes.
type PlaneRequest struct {
	Name  string       `json:"name"`
	Kind  string       `json:"kind"`
	URL   string       `json:"url"`
	Scope deploy.Scope `json:"scope"`
	// Credentials is the plane's credentials document (JSON whose fields
	// are the kind's credential fields), as bytes.
	Credentials []byte `json:"credentials"`
	// Site registers a site-local plane: only that site's edge reaches it
	// (URL and credentials are given to the edge, not here).
	Site string `json:"site,omitempty"`
}

// Plane is a registered execution plane as the API shows it: never its
// credentials, only the id of the key they are sealed with.
type Plane struct {
	Name  string       `json:"name"`
	Kind  string       `json:"kind"`
	URL   string       `json:"url"`
	Scope deploy.Scope `json:"scope"`
	// Site names the site whose edge reaches a site-local plane.
	Site      string    `json:"site,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	KeyID     string    `json:"key_id"`
}

// PlaneCheck is POST /v1/planes/{name}/check: the outcome of
// authenticating to the plane and reading one page through its
// connector.
type PlaneCheck struct {
	Plane string `json:"plane"`
	Kind  string `json:"kind"`
	OK    bool   `json:"ok"`
	// Latency is the check's duration in milliseconds.
	LatencyMS int64  `json:"latency_ms"`
	Detail    string `json:"detail,omitempty"`
	// Class is the failure class (transient, permanent, policy) when the
	// check failed; Error the connector's message.
	Class string `json:"class,omitempty"`
	Error string `json:"error,omitempty"`
}
