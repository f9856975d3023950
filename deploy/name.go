package deploy

import (
	"fmt"

	"github.com/eucora/eucora/internal/charset"
)

// Names of sites, event origins and hub nodes follow one rule, which the
// hub applies when a site is registered and an edge when it is initialised,
// so that no edge is set up under a name the hub cannot register:
// 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or a
// digit (the regexp `^[a-z0-9][a-z0-9._-]{0,62}$`; 63 is a DNS label's
// limit).
var (
	nameFirst = charset.Of("a-z0-9")
	nameRest  = charset.Of("a-z0-9._-")
)

// NameRule describes ValidName's rule, for messages.
const NameRule = "1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit"

// ReservedSiteName is the name the hub uses for itself (the origin of its
// own events, the target of the edges' exports); no site may take it.
const ReservedSiteName = "hub"

// ValidName reports whether s is a valid site, origin or node name.
func ValidName(s string) bool { return charset.Match(s, 1, 63, nameFirst, nameRest) }

// CheckSiteName refuses a name that is not a valid site name or is
// ReservedSiteName; the error wraps ErrInvalidInput.
func CheckSiteName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: site name %q: want %s (upper case letters, '@' and spaces are not allowed)", ErrInvalidInput, name, NameRule)
	}
	if name == ReservedSiteName {
		return fmt.Errorf("%w: site name %q is reserved for the hub itself", ErrInvalidInput, name)
	}
	return nil
}
