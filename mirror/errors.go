package mirror

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Typed errors below wrap them and carry the facts.
var (
	// ErrBadSignature: a Release signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownKey: a Release is signed by a key not in the keyring.
	ErrUnknownKey = errors.New("signed by an unknown key")
	// ErrKeyring: a keyring or signing key cannot be used.
	ErrKeyring = errors.New("unusable keyring")
	// ErrExpired: a Release's Valid-Until is in the past.
	ErrExpired = errors.New("release expired")
	// ErrRollback: a Release is older than the one already mirrored.
	ErrRollback = errors.New("release older than the mirrored one")
	// ErrFetch: a download failed (HTTP status, network, stall, truncation).
	ErrFetch = errors.New("download failed")
	// ErrStalled: the server stopped sending for longer than the idle timeout.
	ErrStalled = errors.New("server stalled")
	// ErrMissingIndex: the Release lacks, or the server lacks, an index.
	ErrMissingIndex = errors.New("missing index")
	// ErrNotFound: no mirror, snapshot or publication by that name.
	ErrNotFound = errors.New("not found")
	// ErrExists: the name is taken (snapshots are immutable).
	ErrExists = errors.New("already exists")
	// ErrInvalid: a malformed name, argument or upstream file.
	ErrInvalid = errors.New("invalid")
	// ErrNotOffered: the upstream has no such distribution, or its Release
	// lists no index for a component or architecture asked for (found by
	// CheckUpstream, before a definition is saved).
	ErrNotOffered = errors.New("not offered by the upstream")
	// ErrInUse: a mirror cannot be deleted while snapshots of it are
	// published (without force).
	ErrInUse = errors.New("in use")
)

// DistNotFoundError reports an upstream that has neither InRelease nor
// Release for the distribution: most often a typo in the distribution or
// the URL.
type DistNotFoundError struct {
	URL, Dist string
	Err       error // the last fetch's error
}

func (e *DistNotFoundError) Error() string {
	return fmt.Sprintf("dist %s not found at %s (looked for dists/%s/InRelease and dists/%s/Release)", e.Dist, e.URL, e.Dist, e.Dist)
}

func (e *DistNotFoundError) Unwrap() error { return ErrNotOffered }

// SignatureError reports a Release whose signature was refused. It names
// the key that made the signature (when the signature says) and the
// keyring it was checked against, so the operator sees at once whether the
// keyring is the wrong one or the Release is.
type SignatureError struct {
	File   string
	Reason string
	Err    error // ErrBadSignature or ErrUnknownKey
	// Signer is the signature's issuer: key fingerprint, else key ID, in
	// upper-case hex; "" when the signature names none or is unreadable.
	Signer string
	// Keyring describes the keyring used: where it came from, its digest and
	// its keys' fingerprints and user IDs; "" when not known.
	Keyring string
}

func (e *SignatureError) Error() string {
	s := fmt.Sprintf("%s: %v: %s", e.File, e.Err, e.Reason)
	if e.Signer != "" {
		s += "; signed by key " + e.Signer
	}
	if e.Keyring != "" {
		s += "; checked against " + e.Keyring
	}
	return s
}
func (e *SignatureError) Unwrap() error { return e.Err }

// ExpiredError reports a Release past its Valid-Until.
type ExpiredError struct {
	File       string
	ValidUntil time.Time
	Now        time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("%s: Valid-Until %s is before now (%s): refusing an expired Release",
		e.File, e.ValidUntil.Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
}
func (e *ExpiredError) Unwrap() error { return ErrExpired }

// FetchError reports a failed download.
type FetchError struct {
	URL    string
	Status int // HTTP status, 0 for transport errors
	Reason string
	Err    error
}

func (e *FetchError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("fetch %s: HTTP %d %s", e.URL, e.Status, e.Reason)
	}
	return fmt.Sprintf("fetch %s: %s", e.URL, e.Reason)
}

func (e *FetchError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrFetch, e.Err}
	}
	return []error{ErrFetch}
}
