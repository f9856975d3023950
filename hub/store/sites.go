package store

import (
	"fmt"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// siteHandlers apply the site registry: a site's record, its enrolled
// edge key and the APT publications it serves. Its sync state is the sync
// table's (sitesync.go).
var siteHandlers = map[string]handler{
	CmdSiteCreate: withBody(applySiteCreate),
	CmdSiteEnroll: withBody(applySiteEnroll),
	CmdSiteAssign: withBody(applySiteAssign),
}

// ValidName reports whether s is a valid site, origin or node name: 1-63
// characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit
// (the regexp `^[a-z0-9][a-z0-9._-]{0,62}$`). The rule is deploy's, which
// an edge applies too when it is initialised.
func ValidName(s string) bool { return deploy.ValidName(s) }

// ValidateSite checks a site record's fields, naming the bad one.
func ValidateSite(s Site) error {
	if !ValidName(s.Name) {
		return fmt.Errorf("%w: name %q: want 1-63 characters of a-z, 0-9, '.', '_', '-'", ErrInvalid, s.Name)
	}
	if s.Name == HubOrigin {
		return fmt.Errorf("%w: name %q is reserved for the hub itself", ErrInvalid, s.Name)
	}
	switch s.Class {
	case ClassOnline, ClassIntermittent, ClassAirGapped:
	default:
		return fmt.Errorf("%w: class %q: want online, intermittent or air-gapped", ErrInvalid, s.Class)
	}
	if err := s.Scope.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func applySiteCreate(b Batch, s Site) (any, error) {
	if err := ValidateSite(s); err != nil {
		return nil, err
	}
	if ok, err := exists(b, siteKey(s.Name)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("site %q: %w", s.Name, ErrConflict)
	}
	return s, setJSON(b, siteKey(s.Name), s)
}

func applySiteEnroll(b Batch, body SiteEnrollBody) (any, error) {
	site, err := loadSite(b, body.Name)
	if err != nil {
		return nil, err
	}
	pub, err := signing.ParsePublic([]byte(body.PublicPEM), "edge key")
	if err != nil {
		return nil, fmt.Errorf("%w: public_pem: %v", ErrInvalid, err)
	}
	site.EdgeKeyID, site.EdgeKeyPEM = pub.ID, string(signing.EncodePublic(pub))
	return site, setJSON(b, siteKey(site.Name), site)
}

func applySiteAssign(b Batch, body SiteAssignBody) (any, error) {
	site, err := loadSite(b, body.Name)
	if err != nil {
		return nil, err
	}
	if err := ValidateAssignments(body.APT); err != nil {
		return nil, err
	}
	site.APT = body.APT
	return site, setJSON(b, siteKey(site.Name), site)
}

// ValidateAssignments checks APT assignments: valid paths, no duplicates.
func ValidateAssignments(as []APTAssignment) error {
	seen := map[APTAssignment]bool{}
	for i, a := range as {
		if err := transfer.ValidatePath(a.Prefix); err != nil {
			return fmt.Errorf("%w: apt[%d].prefix: %v", ErrInvalid, i, err)
		}
		if err := transfer.ValidatePath(a.Dist); err != nil {
			return fmt.Errorf("%w: apt[%d].dist: %v", ErrInvalid, i, err)
		}
		if seen[a] {
			return fmt.Errorf("%w: apt[%d]: %s %s listed twice", ErrInvalid, i, a.Prefix, a.Dist)
		}
		seen[a] = true
	}
	return nil
}

func loadSite(b Batch, name string) (Site, error) {
	return getRec[Site](b, siteKey(name), "site "+name)
}
