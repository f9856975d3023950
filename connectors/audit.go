package connectors

import (
	"context"
	"time"
)

// Call is one connector operation as its caller's audit log records it:
// the plane, the operation, the release and correlation id it was for,
// and how it ended. Outcome is "ok" or "failed"; Class, Status and
// Message are set for a failure.
type Call struct {
	Plane         Kind          `json:"plane"`
	Op            string        `json:"op"` // publish, query, remediate:ACTION, find, check
	Release       string        `json:"release,omitempty"`
	CorrelationID string        `json:"correlation_id,omitempty"`
	Outcome       string        `json:"outcome"`
	Class         string        `json:"class,omitempty"` // transient, permanent, policy-violation
	Status        int           `json:"status,omitempty"`
	Message       string        `json:"message,omitempty"`
	Created       int           `json:"created,omitempty"`
	Duration      time.Duration `json:"duration_ns"`
}

// Recorder keeps the record of connector calls. RecordCall must not block
// the operation for long and must not fail it: a recorder that cannot
// record logs that itself.
type Recorder interface {
	RecordCall(ctx context.Context, c Call)
}

// WithAudit records every operation of c, once, when it ends. Wrapped
// outside WithRetry it records the operation's outcome after its retries
// (what the caller saw), not each attempt; WithLogging inside WithRetry
// logs the attempts.
func WithAudit(c Connector, r Recorder) Connector { return &auditing{c: c, r: r} }

type auditing struct {
	c Connector
	r Recorder
}

func (a *auditing) record(ctx context.Context, call Call, start time.Time, err error) {
	call.Plane, call.Duration, call.Outcome = a.c.Kind(), time.Since(start), "ok"
	if err != nil {
		call.Outcome, call.Class, call.Message = "failed", ClassOf(err).String(), err.Error()
		var ce *Error
		if asError(err, &ce) {
			call.Status = ce.Status
		}
	}
	a.r.RecordCall(ctx, call)
}

func (a *auditing) Kind() Kind { return a.c.Kind() }

func (a *auditing) Publish(ctx context.Context, r Release) (Publication, error) {
	start := time.Now()
	p, err := a.c.Publish(ctx, r)
	a.record(ctx, Call{Op: "publish", Release: r.Key.String(), CorrelationID: r.CorrelationID, Created: p.Created}, start, err)
	return p, err
}

func (a *auditing) Query(ctx context.Context, k ReleaseKey) (Status, error) {
	start := time.Now()
	s, err := a.c.Query(ctx, k)
	a.record(ctx, Call{Op: "query", Release: k.String()}, start, err)
	return s, err
}

func (a *auditing) Remediate(ctx context.Context, m Remediation) (Publication, error) {
	start := time.Now()
	p, err := a.c.Remediate(ctx, m)
	a.record(ctx, Call{Op: "remediate:" + string(m.Action), Release: m.Release.Key.String(), CorrelationID: m.Release.CorrelationID, Created: p.Created}, start, err)
	return p, err
}

func (a *auditing) Find(ctx context.Context, id string) ([]Object, error) {
	start := time.Now()
	o, err := a.c.Find(ctx, id)
	a.record(ctx, Call{Op: "find", CorrelationID: id}, start, err)
	return o, err
}

func (a *auditing) Check(ctx context.Context) (Check, error) {
	start := time.Now()
	c, err := a.c.Check(ctx)
	a.record(ctx, Call{Op: "check"}, start, err)
	return c, err
}

var _ Connector = (*auditing)(nil)
