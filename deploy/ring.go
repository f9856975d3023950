package deploy

import "fmt"

// Ring is a rollout ring of the architecture document's ring model (section 10.1).
type Ring int

// The rings, 0 to 4.
const (
	Ring0Lab        Ring = 0 // Lab / Automation
	Ring1Canary     Ring = 1 // Canary
	Ring2Pilot      Ring = 2 // Pilot
	Ring3Department Ring = 3 // Department
	Ring4Global     Ring = 4 // Global
)

// MaxRing is the outermost ring.
const MaxRing = Ring4Global

var ringNames = [...]string{"Lab", "Canary", "Pilot", "Department", "Global"}

// Valid reports whether r is one of the five rings.
func (r Ring) Valid() bool { return r >= Ring0Lab && r <= MaxRing }

// String renders "Ring 1 (Canary)".
func (r Ring) String() string {
	if !r.Valid() {
		return fmt.Sprintf("Ring %d (invalid)", int(r))
	}
	return fmt.Sprintf("Ring %d (%s)", int(r), ringNames[r])
}

// IsProduction reports whether publishing into r reaches production
// devices. Ring 0 (Lab / Automation) is the staging ring; Rings 1-4 are
// production.
func (r Ring) IsProduction() bool { return r >= Ring1Canary }
