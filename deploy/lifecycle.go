package deploy

import "fmt"

// State is a catalog lifecycle state (EUCORA-architecture.md section 5.1):
// requested -> packaged -> staged -> approved -> published -> retired.
type State string

// Lifecycle states in order.
const (
	StateRequested State = "requested"
	StatePackaged  State = "packaged"
	StateStaged    State = "staged"
	StateApproved  State = "approved"
	StatePublished State = "published"
	StateRetired   State = "retired"
)

// States lists the lifecycle in order.
var States = []State{StateRequested, StatePackaged, StateStaged, StateApproved, StatePublished, StateRetired}

// Valid reports whether s is a lifecycle state.
func (s State) Valid() bool {
	for _, t := range States {
		if s == t {
			return true
		}
	}
	return false
}

// TransitionEvent is the audit event a legal transition produces.
type TransitionEvent struct {
	Action      string `json:"action"`   // e.g. "lifecycle.publish"
	Requires    Action `json:"requires"` // what the actor must be authorized for (see Authorize)
	From        State  `json:"from"`
	To          State  `json:"to"`
	Description string `json:"description"`
}

// TransitionError names an illegal transition.
type TransitionError struct {
	From, To State
}

func (e *TransitionError) Error() string {
	legal := LegalTransitions(e.From)
	return fmt.Sprintf("%v: %s -> %s (from %s the lifecycle allows %v)", ErrIllegalTransition, e.From, e.To, e.From, legal)
}

// Unwrap makes errors.Is(err, ErrIllegalTransition) true.
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

type transition struct {
	from, to     State
	action, desc string
}

// transitionAction maps each transition's audit action to the action an
// actor must be authorized for.
var transitionAction = map[string]Action{
	"lifecycle.package": ActionPackage,
	"lifecycle.stage":   ActionStage,
	"lifecycle.approve": ActionApprove,
	"lifecycle.publish": ActionPublish,
	"lifecycle.retire":  ActionRetire,
}

// transitions is the complete table of legal transitions. The chain moves
// one step forward at a time; any state before retired may be retired
// (withdrawn); nothing leaves retired.
var transitions = []transition{
	{StateRequested, StatePackaged, "lifecycle.package", "artifact built, hashed, signed and scanned by the packaging factory"},
	{StatePackaged, StateStaged, "lifecycle.stage", "artifact published to staging (Ring 0, Lab / Automation)"},
	{StateStaged, StateApproved, "lifecycle.approve", "release approved (CAB where required, evidence pack complete)"},
	{StateApproved, StatePublished, "lifecycle.publish", "published to production execution planes"},
	{StateRequested, StateRetired, "lifecycle.retire", "request withdrawn before packaging"},
	{StatePackaged, StateRetired, "lifecycle.retire", "packaged artifact withdrawn before staging"},
	{StateStaged, StateRetired, "lifecycle.retire", "staged artifact withdrawn before approval"},
	{StateApproved, StateRetired, "lifecycle.retire", "approved release withdrawn before publishing"},
	{StatePublished, StateRetired, "lifecycle.retire", "published release retired from the catalog"},
}

// Transition returns the audit event of from -> to, or a *TransitionError
// when the lifecycle does not allow it.
func Transition(from, to State) (TransitionEvent, error) {
	for _, t := range transitions {
		if t.from == from && t.to == to {
			return TransitionEvent{Action: t.action, Requires: transitionAction[t.action], From: from, To: to, Description: fmt.Sprintf("%s -> %s: %s", from, to, t.desc)}, nil
		}
	}
	return TransitionEvent{}, &TransitionError{From: from, To: to}
}

// LegalTransitions lists the states reachable from s in one step.
func LegalTransitions(s State) []State {
	var out []State
	for _, t := range transitions {
		if t.from == s {
			out = append(out, t.to)
		}
	}
	return out
}
