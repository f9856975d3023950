// Package httpx holds the HTTP-level decorators every connector's client
// is built from: Throttle (429 and 503 with Retry-After), Limit (a
// per-plane rate limit and concurrency cap), Bearer (tokens renewed before
// they expire and once on a 401) and the Retry-After parser. Each is an
// http.RoundTripper wrapping another, so a plane's transport reads
// Bearer(Throttle(Limit(http.DefaultTransport))).
package httpx

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RetryAfter reads a Retry-After header: delay-seconds (also fractional,
// as Graph sends "2.128") or an HTTP-date. ok is false when the header is
// missing or unreadable, so the caller falls back to its own backoff. A
// date in the past is a zero wait; a wait over a day is taken for a broken
// header (ok false).
func RetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if !(f >= 0 && f <= 86400) { // also refuses NaN
			return 0, false
		}
		return time.Duration(f * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = max(t.Sub(now), 0)
	if d > 24*time.Hour {
		return 0, false
	}
	return d, true
}

// replayable reports whether req can be sent again: no body, or a body
// GetBody can produce again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r2 := req.Clone(req.Context())
	r2.Body = body
	return r2, nil
}

// Sleeper waits d or until ctx is done.
type Sleeper func(ctx context.Context, d time.Duration) error

func timerSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Throttle retries a request the plane refused with 429 or 503 (which
// means it did not act on it) after the Retry-After the plane asked for,
// or an exponential backoff with jitter when it gave none. It gives up
// after Attempts answers or once a single wait would exceed MaxWait, and
// returns the plane's last answer for the connector to classify.
type Throttle struct {
	Next     http.RoundTripper
	Attempts int           // default 6
	Initial  time.Duration // default 500 ms
	MaxWait  time.Duration // default 60 s
	Sleep    Sleeper       // default a timer
	Now      func() time.Time
}

// RoundTrip implements http.RoundTripper.
func (t *Throttle) RoundTrip(req *http.Request) (*http.Response, error) {
	attempts, initial, maxWait := t.Attempts, t.Initial, t.MaxWait
	if attempts <= 0 {
		attempts = 6
	}
	if initial <= 0 {
		initial = 500 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	sleepFn, now := t.Sleep, t.Now
	if sleepFn == nil {
		sleepFn = timerSleep
	}
	if now == nil {
		now = time.Now
	}
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	cur := req
	for n := 1; ; n++ {
		resp, err := next.RoundTrip(cur)
		if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
			return resp, err
		}
		if n >= attempts || !replayable(req) {
			return resp, nil
		}
		d, ok := RetryAfter(resp.Header, now())
		if !ok {
			bound := initial << min(n-1, 20)
			d = time.Duration(rand.Int64N(int64(bound))) + bound/2
		}
		if d > maxWait {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := sleepFn(req.Context(), d); err != nil {
			return nil, err
		}
		if cur, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// Limit caps the rate of requests (Rate per second, Burst at once) and
// the number in flight (Concurrent; Jamf Pro documents at most 5). A slot
// is held until the response body is closed, so a streamed download
// counts as a connection for as long as it lasts.
type Limit struct {
	Next http.RoundTripper
	// Rate is requests per second; 0 means no rate limit.
	Rate  float64
	Burst int
	// Concurrent is the most requests in flight; 0 means no cap.
	Concurrent int

	once    sync.Once
	limiter *rate.Limiter
	slots   chan struct{}
}

func (l *Limit) init() {
	if l.Rate > 0 {
		l.limiter = rate.NewLimiter(rate.Limit(l.Rate), max(l.Burst, 1))
	}
	if l.Concurrent > 0 {
		l.slots = make(chan struct{}, l.Concurrent)
	}
}

// RoundTrip implements http.RoundTripper.
func (l *Limit) RoundTrip(req *http.Request) (*http.Response, error) {
	l.once.Do(l.init)
	ctx := req.Context()
	if l.limiter != nil {
		if err := l.limiter.Wait(ctx); err != nil {
			return nil, err
		}
	}
	release := func() {}
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		var once sync.Once
		release = func() { once.Do(func() { <-l.slots }) }
	}
	next := l.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releaseOnClose{ReadCloser: resp.Body, release: release}
	return resp, nil
}

type releaseOnClose struct {
	io.ReadCloser
	release func()
}

func (r *releaseOnClose) Close() error {
	err := r.ReadCloser.Close()
	r.release()
	return err
}

// Token is a bearer token and when it stops being valid.
type Token struct {
	Value   string
	Expires time.Time // zero: unknown, used until the plane answers 401
}

// TokenSource fetches a new token (a client-credentials grant, a basic-auth
// token call).
type TokenSource func(ctx context.Context) (Token, error)

// Bearer adds "Authorization: Bearer TOKEN" to every request. It fetches a
// token on first use and again once the token is within Margin of expiry;
// a 401 answer invalidates the token and the request is sent once more
// with a fresh one, so a token that expires mid-run renews and the run
// continues.
type Bearer struct {
	Next   http.RoundTripper
	Source TokenSource
	Margin time.Duration // default 60 s
	Now    func() time.Time

	mu  sync.Mutex
	tok Token
	// Fetches counts tokens fetched, for tests and logs.
	Fetches int
}

func (b *Bearer) token(ctx context.Context, stale string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now, margin := time.Now, b.Margin
	if b.Now != nil {
		now = b.Now
	}
	if margin <= 0 {
		margin = time.Minute
	}
	valid := b.tok.Value != "" && b.tok.Value != stale && (b.tok.Expires.IsZero() || now().Add(margin).Before(b.tok.Expires))
	if valid {
		return b.tok.Value, nil
	}
	t, err := b.Source(ctx)
	if err != nil {
		return "", err
	}
	b.tok = t
	b.Fetches++
	return t.Value, nil
}

// RoundTrip implements http.RoundTripper.
func (b *Bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	next := b.Next
	if next == nil {
		next = http.DefaultTransport
	}
	tok, err := b.token(req.Context(), "")
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable(req) {
		return resp, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if tok, err = b.token(req.Context(), tok); err != nil {
		return nil, err
	}
	r, err = rewind(req)
	if err != nil {
		return nil, err
	}
	r = r.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return next.RoundTrip(r)
}
