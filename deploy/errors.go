package deploy

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test with errors.Is; the CLI maps ErrInvalidInput
// to the "corrupt/malformed input" exit code and ErrDenied to "denied", the
// hub maps them to HTTP 422 and 403.
var (
	// ErrInvalidInput reports malformed or out-of-range input. The error
	// text names the offending field (for example "factors.privilege").
	ErrInvalidInput = errors.New("invalid input")
	// ErrDenied reports a refusal by policy: RBAC, separation of duties,
	// segmentation guardrails, gates, expired approvals or exceptions.
	ErrDenied = errors.New("denied by policy")
	// ErrIllegalTransition reports a lifecycle transition that the catalog
	// lifecycle does not allow.
	ErrIllegalTransition = errors.New("illegal lifecycle transition")
	// ErrUnknownModel reports a risk model version that is not registered.
	ErrUnknownModel = errors.New("unknown risk model")
	// ErrEvidenceExists reports an attempt to overwrite evidence that is
	// already stored (evidence is write-once).
	ErrEvidenceExists = errors.New("evidence already stored")
	// ErrEvidenceNotFound reports a digest the evidence store does not hold.
	ErrEvidenceNotFound = errors.New("evidence not found")
	// ErrNoPlane reports that no registered execution plane can carry an
	// intent (ChoosePlane): the text names the plane kind it needs.
	ErrNoPlane = errors.New("no execution plane for the intent")
)

// FieldError is ErrInvalidInput for one named field.
type FieldError struct {
	Field string // JSON path of the field, e.g. "factors.privilege"
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalidInput) true.
func (e *FieldError) Unwrap() error { return ErrInvalidInput }

func fieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// DeniedError is ErrDenied carrying the reasons of the refusing Decision.
type DeniedError struct {
	What    string   // what was refused, e.g. "publish intent i-1"
	Reasons []string // every failed rule, in evaluation order
}

func (e *DeniedError) Error() string {
	msg := e.What + " denied"
	for i, r := range e.Reasons {
		if i == 0 {
			msg += ": "
		} else {
			msg += "; "
		}
		msg += r
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Unwrap() error { return ErrDenied }
