package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/internal/tlsconf"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/mirror/debian"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/transfer"
)

// Exit codes. This is the only place errors become process exit codes; the
// table below is printed in --help. Append new codes; never renumber.
const (
	exitOK           = 0
	exitError        = 1
	exitUsage        = 2
	exitNotInit      = 10
	exitNoSpace      = 11
	exitBadSignature = 20
	exitCorrupt      = 21
	exitStale        = 22
	exitMissingVol   = 23
	exitDenied       = 24
	exitUnavailable  = 25
	exitBusy         = 26
	exitInterrupted  = 130
)

type exitCodeInfo struct {
	code int
	name string
	desc string
	// match reports whether err maps to this code; checked in table order.
	match func(error) bool
}

func is(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

func as[T error]() func(error) bool {
	return func(err error) bool {
		var t T
		return errors.As(err, &t)
	}
}

func anyOf(ms ...func(error) bool) func(error) bool {
	return func(err error) bool {
		for _, m := range ms {
			if m(err) {
				return true
			}
		}
		return false
	}
}

// exitCodes is the one table from errors to exit codes. Specific codes
// are tried in table order before usage and interrupted, so the more
// specific causes come first. A bundle refused by the hub matches the same
// transfer sentinels as one refused here (client.APIError unwraps a
// refusal code to its sentinel).
var exitCodes = []exitCodeInfo{
	{exitOK, "ok", "success", nil},
	{exitError, "error", "any other error", nil},
	{exitUsage, "usage", "bad command line: unknown flag, missing or malformed argument", anyOf(as[*usageError](), isMissingFlag, is(edge.ErrNotHubKey, edge.ErrHubDataDir, debian.ErrFilterSyntax, mirror.ErrNotOffered, tlsconf.ErrFlags, tlsconf.ErrBadName))},
	{exitNotInit, "not-initialised", "data directory or key not initialised", is(datadir.ErrNotInitialised, edge.ErrNotInitialised, mirror.ErrNotFound, signing.ErrKeyFile, transfer.ErrNotEnrolled)},
	{exitNoSpace, "no-space", "not enough free space for the work (a 64 MiB reserve is kept free), or the disk filled up", is(cas.ErrNoSpace, syscall.ENOSPC, syscall.EDQUOT)},
	{exitBadSignature, "bad-signature", "bad signature, or signed by an unknown or untrusted key",
		is(transfer.ErrBadSignature, transfer.ErrUnknownKey, signing.ErrBadSignature, signing.ErrUnknownKey, mirror.ErrBadSignature, mirror.ErrUnknownKey)},
	{exitCorrupt, "corrupt", "hash mismatch, truncated or corrupt data, malformed input",
		anyOf(as[*digest.MismatchError](), is(transfer.ErrCorrupt, transfer.ErrBadRecord, transfer.ErrChain, edge.ErrState, signing.ErrEnvelope, debian.ErrSyntax,
			deploy.ErrInvalidInput, hub.ErrBadBackup, facts.ErrDefect, tlsconf.ErrBadPEM, tlsconf.ErrMismatch), hubRefusedInput)},
	{exitStale, "stale", "stale, replayed, out-of-order or expired bundle; a bundle for another side or from an unregistered site",
		is(transfer.ErrExpired, transfer.ErrStale, transfer.ErrForeign, edge.ErrIncomplete, edge.ErrTimeAhead, mirror.ErrExpired, mirror.ErrRollback,
			errNotForHub, errUnregisteredSite)},
	{exitMissingVol, "missing-volume", "one or more bundle volumes are missing", is(transfer.ErrMissingVolume)},
	{exitDenied, "denied", "refused by policy: authentication, RBAC, separation of duties, guardrails", is(client.ErrDenied, deploy.ErrDenied)},
	{exitUnavailable, "unavailable", "hub unreachable or without a leader; retry later", is(client.ErrUnavailable)},
	{exitBusy, "busy", "the data directory is in use by another eucora process (the message names its pid)", is(datadir.ErrBusy, edge.ErrBusy)},
	{exitInterrupted, "interrupted", "interrupted by a signal", is(context.Canceled)},
}

// hubRefusedInput: the hub refused the request as malformed or invalid
// (400, 413, 422, naming the field), the same class as a local malformed
// input. A refused bundle (422 too) has its own code, matched by the
// refusal's sentinel instead.
func hubRefusedInput(err error) bool {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return false
	}
	if _, refused := transfer.RefusalOf(err); refused {
		return false
	}
	return ae.Status == 400 || ae.Status == 413 || ae.Status == 422
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	// Specific codes first, then usage, then interrupted.
	for _, e := range exitCodes {
		if e.code == exitUsage || e.code == exitInterrupted || e.match == nil {
			continue
		}
		if e.match(err) {
			return e.code
		}
	}
	for _, e := range exitCodes {
		if (e.code == exitUsage || e.code == exitInterrupted) && e.match(err) {
			return e.code
		}
	}
	return exitError
}

func exitName(code int) string {
	for _, e := range exitCodes {
		if e.code == code {
			return e.name
		}
	}
	return "error"
}

func exitCodeHelp() string {
	var b strings.Builder
	b.WriteString("EXIT CODES:\n")
	for _, e := range exitCodes {
		fmt.Fprintf(&b, "   %3d  %-16s %s\n", e.code, e.name, e.desc)
	}
	return strings.TrimRight(b.String(), "\n")
}

// usageError is a command-line mistake (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCodeError forces a specific exit code, for outcomes that are not Go
// errors of a package (for example "some volumes failed verification").
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

func withExitCode(code int, err error) error { return &exitCodeError{code: code, err: err} }

// isMissingFlag matches urfave/cli's required-flag error, whose type is
// unexported.
func isMissingFlag(err error) bool {
	return strings.HasPrefix(err.Error(), "Required flag")
}
