package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eucora/eucora/internal/digest"
)

// factoryHandlers apply the packaging factory's records
// (EUCORA-architecture.md section 7): offline vulnerability feeds, the
// code-signing roots a package's signature must chain to, and the
// registry of signing keys with their one role each (section 14.1: the
// packaging key signs provenance and nothing else).
var factoryHandlers = map[string]handler{
	CmdVulnFeedImport: withBody(applyVulnFeedImport),
	CmdCodeSignRoot:   withBody(applyCodeSignRoot),
	CmdSigningKey:     withBody(applySigningKey),
}

// VulnFeed is one imported OSV feed. Its blob holds the feed as imported;
// the newest imported feed is the one intake matches against.
type VulnFeed struct {
	ID         string        `json:"id"`   // the feed version (vuln.Feed.Version)
	Name       string        `json:"name"` // the file's name as imported
	Blob       digest.Digest `json:"blob"`
	Size       int64         `json:"size"`
	Records    int           `json:"records"`
	Newest     time.Time     `json:"newest"` // the newest record's modified time
	Source     string        `json:"source,omitempty"`
	ImportedBy string        `json:"imported_by"`
	ImportedAt time.Time     `json:"imported_at"`
}

// CodeSignRoot is a trusted code-signing root certificate.
type CodeSignRoot struct {
	Fingerprint string    `json:"fingerprint"` // SHA-256 of the DER, hex
	Subject     string    `json:"subject"`
	PEM         string    `json:"pem"`
	AddedBy     string    `json:"added_by"`
	AddedAt     time.Time `json:"added_at"`
}

// SigningKey is a signing key the hub knows, with its one role.
type SigningKey struct {
	KeyID     string    `json:"key_id"`
	Role      string    `json:"role"` // packaging, hub, edge, ...
	PublicPEM string    `json:"public_pem"`
	CreatedAt time.Time `json:"created_at"`
}

func applyVulnFeedImport(b Batch, f VulnFeed) (any, error) {
	if f.ID == "" || f.Records < 0 || f.Size <= 0 {
		return nil, fmt.Errorf("%w: vulnerability feed needs an id, a record count and a size", ErrInvalid)
	}
	if _, err := digest.Parse(string(f.Blob)); err != nil {
		return nil, fmt.Errorf("%w: vulnerability feed blob: %v", ErrInvalid, err)
	}
	if err := setJSON(b, vulnFeedKey(f.ID), f); err != nil {
		return nil, err
	}
	return f, b.Set(keyVulnFeed, []byte(f.ID))
}

func applyCodeSignRoot(b Batch, r CodeSignRoot) (any, error) {
	if len(r.Fingerprint) != 64 || r.PEM == "" {
		return nil, fmt.Errorf("%w: code-signing root needs a SHA-256 fingerprint and its PEM", ErrInvalid)
	}
	if ok, err := exists(b, codeSignRootKey(r.Fingerprint)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("code-signing root %s (%s): %w", r.Fingerprint[:16], r.Subject, ErrConflict)
	}
	return r, setJSON(b, codeSignRootKey(r.Fingerprint), r)
}

// applySigningKey registers a key once: a key's role never changes.
func applySigningKey(b Batch, k SigningKey) (any, error) {
	if k.KeyID == "" || k.Role == "" || k.PublicPEM == "" {
		return nil, fmt.Errorf("%w: signing key needs an id, a role and its public key", ErrInvalid)
	}
	prior, err := getRec[SigningKey](b, signingKeyKey(k.KeyID), "signing key "+k.KeyID)
	switch {
	case err == nil && prior.Role == k.Role && prior.PublicPEM == k.PublicPEM:
		return prior, nil
	case err == nil:
		return nil, fmt.Errorf("signing key %s is registered with role %s: a key has one role for life: %w", k.KeyID, prior.Role, ErrConflict)
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	return k, setJSON(b, signingKeyKey(k.KeyID), k)
}

// VulnFeed returns the feed with the id, or the current one for "".
func (s *State) VulnFeed(id string) (f VulnFeed, err error) {
	err = s.read(func(db *pebble.DB) error {
		if id == "" {
			v, err := getRaw(db, keyVulnFeed)
			if err != nil {
				return fmt.Errorf("no vulnerability feed imported (eucora vuln import FEED): %w", err)
			}
			id = string(v)
		}
		return getJSON(db, vulnFeedKey(id), &f)
	})
	return f, err
}

// CodeSignRoots returns every trusted code-signing root.
func (s *State) CodeSignRoots() (out []CodeSignRoot, err error) {
	err = scan(s, prefixCodeSignRoot, func(v CodeSignRoot) bool { out = append(out, v); return true })
	return out, err
}

// CodeSignRoot returns the root with the fingerprint.
func (s *State) CodeSignRoot(fp string) (r CodeSignRoot, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, codeSignRootKey(fp), &r) })
	return r, err
}

// SigningKeys returns every registered signing key.
func (s *State) SigningKeys() (out []SigningKey, err error) {
	err = scan(s, prefixSigningKey, func(v SigningKey) bool { out = append(out, v); return true })
	return out, err
}
