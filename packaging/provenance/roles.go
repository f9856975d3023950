package provenance

import (
	"errors"
	"fmt"
)

// KeyRole is the one role a signing key has in the hub's key registry.
type KeyRole string

// Key roles.
const (
	RolePackaging KeyRole = "packaging" // the packaging factory: provenance
	RolePublisher KeyRole = "publisher" // production publish actions
	RoleApprover  KeyRole = "approver"  // CAB approvals and exception approvals
	RoleHub       KeyRole = "hub"       // evidence packs, hub -> edge bundles
	RoleEdge      KeyRole = "edge"      // edge -> hub bundles
)

// Use is what a signature is for.
type Use string

// Uses.
const (
	UseProvenance Use = "provenance" // an artifact's provenance statement
	UsePublish    Use = "publish"    // a publish action
	UseApproval   Use = "approval"   // an approval
	UseEvidence   Use = "evidence"   // an evidence pack
	UseBundle     Use = "bundle"     // a transfer bundle
)

// ErrKeyUse: a key signed, or is asked to sign, what its role may not.
var ErrKeyUse = errors.New("signing key used outside its role")

// KeyRoles are the roles, in a fixed order.
func KeyRoles() []KeyRole {
	return []KeyRole{RolePackaging, RolePublisher, RoleApprover, RoleHub, RoleEdge}
}

// Uses are the uses, in a fixed order.
func Uses() []Use {
	return []Use{UseProvenance, UsePublish, UseApproval, UseEvidence, UseBundle}
}

// allowed is the separation of duties (EUCORA-architecture.md sections 2,
// 12 and 14.1): packaging signs provenance and nothing else, and nothing
// else signs provenance; publishing and approval are separate roles; the
// hub signs its evidence and its bundles, an edge its bundles.
var allowed = map[KeyRole]map[Use]bool{
	RolePackaging: {UseProvenance: true},
	RolePublisher: {UsePublish: true},
	RoleApprover:  {UseApproval: true},
	RoleHub:       {UseEvidence: true, UseBundle: true},
	RoleEdge:      {UseBundle: true},
}

// KeyUseError is a refused use of a signing key.
type KeyUseError struct {
	KeyID string // may be empty when the rule is asked without a key
	Role  KeyRole
	Use   Use
}

func (e *KeyUseError) Error() string {
	key := "a key"
	if e.KeyID != "" {
		id := e.KeyID
		if len(id) > 16 {
			id = id[:16]
		}
		key = "key " + id
	}
	const cite = " (separation of duties, EUCORA-architecture.md section 14.1)"
	switch {
	case allowed[e.Role] == nil:
		return fmt.Sprintf("%s has role %q, which is not a signing key role (packaging, publisher, approver, hub, edge)%s", key, string(e.Role), cite)
	case !validUse(e.Use):
		return fmt.Sprintf("%s cannot sign %q: not a signed use (provenance, publish, approval, evidence, bundle)%s", key, string(e.Use), cite)
	case e.Role == RolePackaging:
		return fmt.Sprintf("%s is a packaging key, which signs provenance and nothing else: it cannot sign %s%s", key, useText(e.Use), cite)
	case e.Use == UseProvenance:
		return fmt.Sprintf("provenance is signed by the packaging key only; %s has the %s role%s", key, e.Role, cite)
	}
	return fmt.Sprintf("%s has the %s role, which does not sign %s%s", key, e.Role, useText(e.Use), cite)
}

// Unwrap makes errors.Is(err, ErrKeyUse) true.
func (e *KeyUseError) Unwrap() error { return ErrKeyUse }

func validUse(u Use) bool {
	for _, x := range Uses() {
		if x == u {
			return true
		}
	}
	return false
}

func useText(u Use) string {
	switch u {
	case UsePublish:
		return "a publish"
	case UseApproval:
		return "an approval"
	case UseEvidence:
		return "an evidence pack"
	case UseBundle:
		return "a bundle"
	}
	return string(u)
}

// CheckUse is the separation-of-duties rule the hub applies to every
// signature it accepts or makes: nil when a key of role may sign use, else
// a *KeyUseError. The packaging role signs provenance and nothing else;
// provenance is signed by the packaging role only; publisher signs
// publish, approver approval, hub evidence and bundle, edge bundle. An
// unknown role or use is refused.
func CheckUse(role KeyRole, use Use) error {
	return CheckKeyUse("", role, use)
}

// CheckKeyUse is CheckUse naming the key in the error.
func CheckKeyUse(keyID string, role KeyRole, use Use) error {
	if allowed[role][use] {
		return nil
	}
	return &KeyUseError{KeyID: keyID, Role: role, Use: use}
}
