package connectors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy bounds the retries of transient failures.
type RetryPolicy struct {
	// Attempts is the most calls of one operation (default 8).
	Attempts int
	// Initial and Max bound the backoff between attempts (defaults 250 ms
	// and 30 s); each wait is a random time up to the exponential bound
	// ("full jitter"), never less than the plane's Retry-After.
	Initial, Max time.Duration
	// Budget is the most time an operation may take across attempts
	// (default 10 minutes).
	Budget time.Duration
	// Sleep waits d or until ctx is done (default: a timer). Tests set it
	// to record the waits instead of taking them.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 8
	}
	if p.Initial <= 0 {
		p.Initial = 250 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.Budget <= 0 {
		p.Budget = 10 * time.Minute
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Wait is the pause before attempt n+1 (n counted from 1) after err.
func (p RetryPolicy) Wait(n int, err error) time.Duration {
	p = p.withDefaults()
	bound := p.Initial << min(n-1, 30)
	if bound > p.Max || bound <= 0 {
		bound = p.Max
	}
	d := time.Duration(rand.Int64N(int64(bound)) + 1)
	var ce *Error
	if asError(err, &ce) && ce.RetryAfter > d {
		d = ce.RetryAfter
	}
	return d
}

// Do runs op until it succeeds, fails with a class other than Transient,
// or the attempts or the budget run out. The error of the last attempt is
// returned, saying how many attempts were made.
func (p RetryPolicy) Do(ctx context.Context, op func(ctx context.Context) error) error {
	p = p.withDefaults()
	start := time.Now()
	for n := 1; ; n++ {
		err := op(ctx)
		if err == nil || ClassOf(err) != Transient {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		if n >= p.Attempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, n)
		}
		d := p.Wait(n, err)
		if time.Since(start)+d > p.Budget {
			return fmt.Errorf("%w (gave up after %d attempts: the next wait of %s would pass the %s budget)", err, n, d.Round(time.Millisecond), p.Budget)
		}
		if serr := p.Sleep(ctx, d); serr != nil {
			return err
		}
	}
}

// WithRetry retries every operation of c that fails transiently, as p
// says. Retrying a whole operation is safe because every Connector method
// is idempotent.
func WithRetry(c Connector, p RetryPolicy) Connector { return &retrying{c: c, p: p} }

type retrying struct {
	c Connector
	p RetryPolicy
}

func (r *retrying) Kind() Kind { return r.c.Kind() }

func (r *retrying) Publish(ctx context.Context, rel Release) (out Publication, err error) {
	created := 0
	err = r.p.Do(ctx, func(ctx context.Context) error {
		var e error
		out, e = r.c.Publish(ctx, rel)
		created += out.Created
		return e
	})
	out.Created = created
	return out, err
}

func (r *retrying) Query(ctx context.Context, k ReleaseKey) (out Status, err error) {
	err = r.p.Do(ctx, func(ctx context.Context) error {
		var e error
		out, e = r.c.Query(ctx, k)
		return e
	})
	return out, err
}

func (r *retrying) Remediate(ctx context.Context, m Remediation) (out Publication, err error) {
	created := 0
	err = r.p.Do(ctx, func(ctx context.Context) error {
		var e error
		out, e = r.c.Remediate(ctx, m)
		created += out.Created
		return e
	})
	out.Created = created
	return out, err
}

func (r *retrying) Find(ctx context.Context, id string) (out []Object, err error) {
	err = r.p.Do(ctx, func(ctx context.Context) error {
		var e error
		out, e = r.c.Find(ctx, id)
		return e
	})
	return out, err
}

func (r *retrying) Check(ctx context.Context) (out Check, err error) {
	err = r.p.Do(ctx, func(ctx context.Context) error {
		var e error
		out, e = r.c.Check(ctx)
		return e
	})
	return out, err
}
