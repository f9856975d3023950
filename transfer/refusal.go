package transfer

import (
	"errors"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

var (
	// ErrForeign: the bundle is for another site, or not from the source
	// the importing side takes bundles from.
	ErrForeign = errors.New("bundle is for another side")
	// ErrStale: the bundle's sequence is at or behind what was last
	// applied (a replay or an out-of-order bundle).
	ErrStale = errors.New("stale or replayed bundle")
	// ErrNotEnrolled: the hub holds no edge key for the bundle's site.
	ErrNotEnrolled = errors.New("site has no enrolled edge key")
)

// RefusalCode says why a side refused a bundle. The same code names the
// refusal in the hub's API answers (api.Error.Code), in the audit event of
// the refusal, and (through Err) in the CLI's exit codes.
type RefusalCode string

// Refusal codes (docs/sync-protocol.md, "Refusals").
const (
	RefusedUnknownKey    RefusalCode = "unknown_key"
	RefusedBadSignature  RefusalCode = "bad_signature"
	RefusedForeign       RefusalCode = "foreign"
	RefusedExpired       RefusalCode = "expired"
	RefusedCorrupt       RefusalCode = "corrupt"
	RefusedStale         RefusalCode = "stale"
	RefusedMissingVolume RefusalCode = "missing_volume"
	RefusedNotEnrolled   RefusalCode = "not_enrolled"
)

// refusals is the one table between codes and the errors they stand for;
// the first error of a row is the code's sentinel.
var refusals = []struct {
	code RefusalCode
	errs []error
}{
	{RefusedUnknownKey, []error{ErrUnknownKey}},
	{RefusedBadSignature, []error{ErrBadSignature}},
	{RefusedMissingVolume, []error{ErrMissingVolume}},
	{RefusedExpired, []error{ErrExpired}},
	{RefusedForeign, []error{ErrForeign}},
	{RefusedStale, []error{ErrStale}},
	{RefusedNotEnrolled, []error{ErrNotEnrolled}},
	{RefusedCorrupt, []error{ErrCorrupt, ErrBadRecord, ErrMixedBundles}},
}

// Err is the sentinel error of the code, or nil for an unknown code.
func (c RefusalCode) Err() error {
	for _, r := range refusals {
		if r.code == c {
			return r.errs[0]
		}
	}
	return nil
}

// Known reports whether c is one of the refusal codes.
func (c RefusalCode) Known() bool { return c.Err() != nil }

// RefusalOf classifies err as a refusal of a bundle: its code, or false
// when err is not one (an I/O error, a cancelled context).
func RefusalOf(err error) (RefusalCode, bool) {
	if err == nil {
		return "", false
	}
	var r *RefusalError
	if errors.As(err, &r) {
		return r.Code, true
	}
	for _, row := range refusals {
		for _, e := range row.errs {
			if errors.Is(err, e) {
				return row.code, true
			}
		}
	}
	var me *digest.MismatchError
	if errors.As(err, &me) {
		return RefusedCorrupt, true
	}
	return "", false
}

// RefusalError is a bundle refused for Code. It unwraps to Err and to the
// code's sentinel, so errors.Is(err, ErrStale) holds for a stale refusal
// whatever Err says.
type RefusalError struct {
	Code RefusalCode
	Err  error
}

// Refuse returns err as a refusal for code.
func Refuse(code RefusalCode, err error) *RefusalError { return &RefusalError{Code: code, Err: err} }

func (e *RefusalError) Error() string { return e.Err.Error() }

// Unwrap returns the cause and the code's sentinel.
func (e *RefusalError) Unwrap() []error {
	if s := e.Code.Err(); s != nil && !errors.Is(e.Err, s) {
		return []error{e.Err, s}
	}
	return []error{e.Err}
}

// HubEndpoint is the hub's name in bundle headers (the source of every hub
// bundle, the target of every edge bundle) and the origin of the events the
// hub writes itself. No site may take this name.
const HubEndpoint = deploy.ReservedSiteName

// Narrow returns a new sentinel error with its own text that errors.Is
// also matches to class: a side's more specific kind of one of the
// refusal sentinels (the edge's "bundle is for another site" is an
// ErrForeign).
func Narrow(class error, text string) error { return &narrowed{class: class, text: text} }

type narrowed struct {
	class error
	text  string
}

func (e *narrowed) Error() string { return e.text }
func (e *narrowed) Unwrap() error { return e.class }
