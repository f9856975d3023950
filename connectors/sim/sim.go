// Package sim is what every plane simulator shares: switchable faults
// (throttling with and without Retry-After, 5xx, slow answers, connections
// dropped mid-body or after the plane acted, token expiry), a token issuer,
// and call counting. A plane simulator (connectors/<plane>/sim) is an
// http.Handler modelling the plane's real API; wrapping it in Faults gives
// tests and `eucora sim serve` the failures the real service has.
package sim

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault is one injected failure. It hits requests whose "METHOD /path"
// starts with Match ("" matches every request), Count times (0: until
// removed), after Skip matching requests passed untouched.
type Fault struct {
	Match string
	Skip  int
	Count int
	// Every, when over 1, hits only every Every-th matching request (10
	// hits a tenth of them: "10% injected 429s", deterministically).
	Every int

	// Status, when set, answers instead of the plane: 429, 500, 502,
	// 503, 504. RetryAfter is the Retry-After header to send with it
	// ("" sends none: the client must back off on its own).
	Status     int
	RetryAfter string
	// Body is the answer's body with Status (default: a Graph-style error
	// object); planes set their own error shape.
	Body string
	// ContentType of Body (default application/json).
	ContentType string
	// Delay holds the answer back this long (a slow plane).
	Delay time.Duration
	// DropMidBody sends the status line, the headers and half of the
	// plane's body, then closes the connection.
	DropMidBody bool
	// DropAfterHandle lets the plane act on the request, then closes the
	// connection without an answer: the client does not know whether it
	// took effect (what a client crash right after the call looks like
	// to the plane).
	DropAfterHandle bool

	seen, hits int
}

// Faults is a set of faults in front of a plane handler, safe for
// concurrent use; tests add faults while the simulator runs.
type Faults struct {
	mu     sync.Mutex
	faults []*Fault
	calls  map[string]int
	total  int
}

// Add switches a fault on.
func (f *Faults) Add(x Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &x)
}

// Clear switches every fault off.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Calls returns the number of requests seen (faulted ones included) and
// a copy of the count per "METHOD /path".
func (f *Faults) Calls() (int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.calls))
	for k, v := range f.calls {
		out[k] = v
	}
	return f.total, out
}

// ResetCalls sets the call counts to zero.
func (f *Faults) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.total = nil, 0
}

// pick counts the request and returns the fault that hits it, if any.
func (f *Faults) pick(r *http.Request) *Fault {
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[key]++
	f.total++
	for _, x := range f.faults {
		if !strings.HasPrefix(key, x.Match) {
			continue
		}
		if x.seen++; x.seen <= x.Skip {
			continue
		}
		if x.Every > 1 && (x.seen-x.Skip)%x.Every != 0 {
			continue
		}
		if x.Count > 0 && x.hits >= x.Count {
			continue
		}
		x.hits++
		return x
	}
	return nil
}

// Wrap puts the faults in front of plane.
func (f *Faults) Wrap(plane http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := f.pick(r)
		if x == nil {
			plane.ServeHTTP(w, r)
			return
		}
		if x.Delay > 0 {
			select {
			case <-time.After(x.Delay):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case x.Status != 0:
			if x.RetryAfter != "" {
				w.Header().Set("Retry-After", x.RetryAfter)
			}
			ct, body := x.ContentType, x.Body
			if ct == "" {
				ct = "application/json"
			}
			if body == "" {
				body = `{"error":{"code":"` + strings.ReplaceAll(http.StatusText(x.Status), " ", "") + `","message":"injected by the simulator"}}`
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(x.Status)
			w.Write([]byte(body))
		case x.DropAfterHandle:
			rec := &discard{header: http.Header{}}
			plane.ServeHTTP(rec, r)
			hangUp(w)
		case x.DropMidBody:
			rec := &buffer{header: http.Header{}}
			plane.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.status())
			w.Write(rec.body[:len(rec.body)/2])
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			hangUp(w)
		default:
			plane.ServeHTTP(w, r)
		}
	})
}

// hangUp closes the client's connection without a (complete) answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

type buffer struct {
	header http.Header
	code   int
	body   []byte
}

func (b *buffer) Header() http.Header { return b.header }
func (b *buffer) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}
func (b *buffer) WriteHeader(c int) {
	if b.code == 0 {
		b.code = c
	}
}
func (b *buffer) status() int {
	if b.code == 0 {
		return http.StatusOK
	}
	return b.code
}

// Tokens issues bearer tokens that expire after Lifetime (default one
// hour) and can all be expired at once, to model a token expiring mid-run.
type Tokens struct {
	Lifetime time.Duration
	Now      func() time.Time

	mu     sync.Mutex
	issued map[string]time.Time
	// Issued counts the tokens handed out.
	Issued int
}

// Issue returns a new token and its lifetime.
func (t *Tokens) Issue() (string, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.issued == nil {
		t.issued = map[string]time.Time{}
	}
	life := t.Lifetime
	if life <= 0 {
		life = time.Hour
	}
	b := make([]byte, 24)
	rand.Read(b)
	v := hex.EncodeToString(b)
	t.issued[v] = t.now().Add(life)
	t.Issued++
	return v, life
}

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Valid reports whether the request's bearer token was issued and has not
// expired.
func (t *Tokens) Valid(r *http.Request) bool {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.issued[v]
	return ok && t.now().Before(exp)
}

// ExpireAll makes every token issued so far invalid.
func (t *Tokens) ExpireAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.issued {
		t.issued[k] = time.Time{}
	}
}
