package connectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Class is the failure class of EUCORA-architecture.md section 6.2; it
// decides retry.
type Class int

const (
	// Transient failures (throttling, timeouts, 5xx, a dropped
	// connection) are retried with backoff.
	Transient Class = iota + 1
	// Permanent failures (a malformed request, a missing object, bad
	// credentials) are reported with the plane's message, not retried.
	Permanent
	// Policy violations (the plane refused by its own policy or
	// permissions, or EUCORA's guardrails refused before calling) are
	// never retried and are audited as such.
	Policy
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Policy:
		return "policy"
	}
	return "unclassified"
}

// Error is a connector failure with its class and the plane's words.
type Error struct {
	Plane Kind
	Op    string // e.g. "create mobileApp", "upload content", "assign"
	Class Class
	// Status is the HTTP status of the plane's answer, 0 when there was
	// none (connection refused, dropped mid-body).
	Status int
	// Code and Message are the plane's error code and message.
	Code    string
	Message string
	// RetryAfter is the wait the plane asked for, if it asked.
	RetryAfter time.Duration
	// NotFound is set when the plane holds no such object.
	NotFound bool
	Err      error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s: %s", e.Plane, e.Op, e.Class)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.Status)
		if e.Code != "" {
			s += " " + e.Code
		}
		s += ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil && e.Message == "" {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns err's class: an *Error's own, Transient for timeouts,
// dropped connections and other network errors, Permanent for anything
// else (a bug is not fixed by retrying).
func ClassOf(err error) Class {
	if err == nil {
		return 0
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Class
	}
	if errors.Is(err, context.Canceled) {
		return Permanent
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || isConnReset(err) {
		return Transient
	}
	return Permanent
}

// ClassOfStatus is the class of an HTTP answer with this status: 408, 425,
// 429 and 5xx are transient, 401 (an expired token already renewed once)
// and other 4xx permanent, 403 a policy violation.
func ClassOfStatus(status int) Class {
	switch {
	case status == http.StatusForbidden:
		return Policy
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests, status >= 500:
		return Transient
	}
	return Permanent
}

// isConnReset reports a connection that broke mid-exchange: the request
// may or may not have been processed, so only an idempotent operation
// (which every Connector method is) may be retried.
func isConnReset(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "server closed idle connection")
}
