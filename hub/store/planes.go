package store

import (
	"fmt"
	"time"

	"github.com/eucora/eucora/deploy"
)

// planeHandlers apply the registry of execution planes
// (EUCORA-architecture.md section 14.1): a plane's record under its name.
// The record holds the plane's credentials only sealed (AES-256-GCM) with
// the hub's credentials key, which lives outside the Raft log and the
// state (hub/credentials.go): the log, the state and every backup carry
// ciphertext only.
var planeHandlers = map[string]handler{
	CmdPlaneCreate: withBody(applyPlaneCreate),
}

// Plane is a registered execution plane.
type Plane struct {
	Name      string       `json:"name"`
	Kind      string       `json:"kind"`
	URL       string       `json:"url"`
	Scope     deploy.Scope `json:"scope"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by,omitempty"`
	// KeyID names the credentials key Sealed was sealed with.
	KeyID string `json:"key_id"`
	// Sealed is nonce||AES-256-GCM(credentials), the plane's name the
	// additional data. Never put on the wire (View leaves it out).
	Sealed []byte `json:"sealed"`
}

// ValidatePlane checks a plane record's fields, naming the bad one. The
// kind's and URL's finer rules are the connector factory's
// (connectors/planes), applied by the hub before it proposes.
func ValidatePlane(p Plane) error {
	if !ValidName(p.Name) {
		return fmt.Errorf("%w: name %q: want 1-63 characters of a-z, 0-9, '.', '_', '-'", ErrInvalid, p.Name)
	}
	if p.Kind == "" || p.URL == "" {
		return fmt.Errorf("%w: plane %q needs a kind and a url", ErrInvalid, p.Name)
	}
	if p.KeyID == "" || len(p.Sealed) < 12+16 {
		return fmt.Errorf("%w: plane %q needs sealed credentials and their key id", ErrInvalid, p.Name)
	}
	if err := p.Scope.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func applyPlaneCreate(b Batch, p Plane) (any, error) {
	if err := ValidatePlane(p); err != nil {
		return nil, err
	}
	if ok, err := exists(b, planeKey(p.Name)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("plane %q: %w", p.Name, ErrConflict)
	}
	return p, setJSON(b, planeKey(p.Name), p)
}
