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
	Name  string       `json:"name"`
	Kind  string       `json:"kind"`
	URL   string       `json:"url"`
	Scope deploy.Scope `json:"scope"`
	// Site, when set, makes the plane site-local: only that site's edge
	// reaches it, with credentials registered there ('eucora edge plane
	// add'); the hub holds no URL and no credentials and reaches the plane
	// through orders in the site's bundles (EUCORA-architecture.md
	// section 8.4).
	Site      string    `json:"site,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
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
	if p.Site != "" {
		switch {
		case p.Kind == "":
			return fmt.Errorf("%w: plane %q needs a kind", ErrInvalid, p.Name)
		case p.URL != "" || p.KeyID != "" || len(p.Sealed) > 0:
			return fmt.Errorf("%w: plane %q is reached by site %s's edge: its URL and credentials stay at the site ('eucora edge plane add' there), the hub takes neither", ErrInvalid, p.Name, p.Site)
		case p.Scope.Site != p.Site:
			return fmt.Errorf("%w: plane %q at site %s: its scope must name that site, not %q", ErrInvalid, p.Name, p.Site, p.Scope.Site)
		}
		if err := p.Scope.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return nil
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
	if p.Site != "" {
		if _, err := loadSite(b, p.Site); err != nil {
			return nil, fmt.Errorf("plane %q: %w", p.Name, err)
		}
	}
	if ok, err := exists(b, planeKey(p.Name)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("plane %q: %w", p.Name, ErrConflict)
	}
	return p, setJSON(b, planeKey(p.Name), p)
}
