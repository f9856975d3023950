package deploy

import (
	"fmt"
	"strings"

	"github.com/eucora/eucora/internal/charset"
)

// Scope is a segment of the enterprise (EUCORA-architecture.md section 5.4): an acquisition boundary,
// a business unit within it, and a site within that. An empty field means
// "every value": Scope{Acquisition: "acme"} covers every BU and site of
// acme, and the zero Scope covers the whole enterprise.
//
// Scopes nest: a BU is only meaningful within an acquisition and a site
// within a BU, so a Scope with BU set must have Acquisition set, and one
// with Site set must have BU set.
type Scope struct {
	Acquisition string `json:"acquisition,omitempty"`
	BU          string `json:"bu,omitempty"`
	Site        string `json:"site,omitempty"`
}

// Scope values match `^[a-z0-9][a-z0-9._-]{0,62}$`.
var (
	scopeFirst = charset.Of("a-z0-9")
	scopeRest  = charset.Of("a-z0-9._-")
)

func validScopeValue(s string) bool { return charset.Match(s, 1, 63, scopeFirst, scopeRest) }

// Validate checks names and nesting.
func (s Scope) Validate() error {
	for _, f := range []struct{ name, v string }{{"acquisition", s.Acquisition}, {"bu", s.BU}, {"site", s.Site}} {
		if f.v != "" && !validScopeValue(f.v) {
			return fmt.Errorf("scope.%s %q: want 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit", f.name, f.v)
		}
	}
	if s.BU != "" && s.Acquisition == "" {
		return fmt.Errorf("scope.bu %q needs scope.acquisition", s.BU)
	}
	if s.Site != "" && s.BU == "" {
		return fmt.Errorf("scope.site %q needs scope.bu", s.Site)
	}
	return nil
}

// Contains reports whether t ⊆ s: every field s fixes, t fixes to the same
// value.
func (s Scope) Contains(t Scope) bool {
	return within(s.Acquisition, t.Acquisition) && within(s.BU, t.BU) && within(s.Site, t.Site)
}

func within(outer, inner string) bool { return outer == "" || outer == inner }

// Overlaps reports whether one of s and t contains the other: a record in
// scope t concerns a caller or site in scope s.
func (s Scope) Overlaps(t Scope) bool { return s.Contains(t) || t.Contains(s) }

// IsEnterprise reports whether s is the unrestricted scope.
func (s Scope) IsEnterprise() bool { return s == Scope{} }

// String renders s as "acquisition=a,bu=b,site=c" ("*" for the enterprise).
func (s Scope) String() string {
	var parts []string
	if s.Acquisition != "" {
		parts = append(parts, "acquisition="+s.Acquisition)
	}
	if s.BU != "" {
		parts = append(parts, "bu="+s.BU)
	}
	if s.Site != "" {
		parts = append(parts, "site="+s.Site)
	}
	if len(parts) == 0 {
		return "*"
	}
	return strings.Join(parts, ",")
}

// ParseScope parses "acquisition=a,bu=b,site=c" (any subset, any order;
// "" or "*" is the enterprise) and validates the result.
func ParseScope(text string) (Scope, error) {
	var s Scope
	text = strings.TrimSpace(text)
	if text == "" || text == "*" {
		return s, nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(text, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Scope{}, fmt.Errorf("scope %q: %q is not key=value", text, kv)
		}
		if seen[k] {
			return Scope{}, fmt.Errorf("scope %q: %s given twice", text, k)
		}
		seen[k] = true
		switch k {
		case "acquisition":
			s.Acquisition = v
		case "bu":
			s.BU = v
		case "site":
			s.Site = v
		default:
			return Scope{}, fmt.Errorf("scope %q: unknown key %q (want acquisition, bu, site)", text, k)
		}
	}
	return s, s.Validate()
}
