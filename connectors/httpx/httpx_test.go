package httpx

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors/sim"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"2.128", 2128 * time.Millisecond, true},
		{"0", 0, true},
		{" 1 ", time.Second, true},
		{"Mon, 07 Dec 2026 10:00:05 GMT", 5 * time.Second, true},
		{"Mon, 07 Dec 2026 09:59:00 GMT", 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
		{"1e9", 0, false},
		{"NaN", 0, false},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.v != "" {
			h.Set("Retry-After", c.v)
		}
		got, ok := RetryAfter(h, now)
		if got != c.want || ok != c.ok {
			t.Errorf("%q: %s %v, want %s %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"3", "2.128", "Mon, 07 Dec 2026 10:00:05 GMT", "", "-0", "inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Retry-After": {v}}
		if d, ok := RetryAfter(h, time.Now()); ok && (d < 0 || d > 24*time.Hour+time.Second) {
			t.Fatalf("%q: %s", v, d)
		}
	})
}

func TestThrottleHonoursRetryAfterAndReplaysTheBody(t *testing.T) {
	var faults sim.Faults
	faults.Add(sim.Fault{Count: 2, Status: 429, RetryAfter: "1.5"})
	faults.Add(sim.Fault{Count: 1, Status: 503})
	var bodies []string
	srv := httptest.NewServer(faults.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		w.WriteHeader(201)
	})))
	defer srv.Close()
	var waits []time.Duration
	c := &http.Client{Transport: &Throttle{Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}}
	resp, err := c.Post(srv.URL+"/x", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || len(bodies) != 1 || bodies[0] != `{"a":1}` {
		t.Fatalf("status %d bodies %q", resp.StatusCode, bodies)
	}
	if len(waits) != 3 || waits[0] != 1500*time.Millisecond || waits[1] != 1500*time.Millisecond || waits[2] <= 0 {
		t.Errorf("waits %v", waits)
	}
	if n, _ := faults.Calls(); n != 4 {
		t.Errorf("%d calls, want 4", n)
	}
}

func TestThrottleGivesUpAndReturnsThePlanesAnswer(t *testing.T) {
	var faults sim.Faults
	faults.Add(sim.Fault{Status: 429, RetryAfter: "0"})
	srv := httptest.NewServer(faults.Wrap(http.NotFoundHandler()))
	defer srv.Close()
	c := &http.Client{Transport: &Throttle{Attempts: 4, Sleep: func(context.Context, time.Duration) error { return nil }}}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n, _ := faults.Calls(); resp.StatusCode != 429 || n != 4 {
		t.Errorf("status %d after %d calls", resp.StatusCode, n)
	}
	// A wait longer than MaxWait is not taken.
	faults.ResetCalls()
	faults.Clear()
	faults.Add(sim.Fault{Status: 429, RetryAfter: "3600"})
	c = &http.Client{Transport: &Throttle{MaxWait: time.Minute, Sleep: func(context.Context, time.Duration) error { t.Fatal("slept"); return nil }}}
	resp, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n, _ := faults.Calls(); n != 1 {
		t.Errorf("%d calls", n)
	}
}

func TestLimitCapsConcurrencyUntilBodiesClose(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	c := &http.Client{Transport: &Limit{Concurrent: 5}}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, err := c.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
		})
	}
	for range 20 {
		release <- struct{}{}
	}
	wg.Wait()
	if p := peak.Load(); p > 5 || p < 1 {
		t.Errorf("peak %d requests in flight, cap 5", p)
	}
}

func TestBearerRenewsAnExpiredTokenAndContinues(t *testing.T) {
	tokens := &sim.Tokens{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tokens.Valid(r) {
			w.WriteHeader(401)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer srv.Close()
	b := &Bearer{Source: func(context.Context) (Token, error) {
		v, life := tokens.Issue()
		return Token{Value: v, Expires: time.Now().Add(life)}, nil
	}}
	c := &http.Client{Transport: b}
	post := func() string {
		resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return string(got)
	}
	post()
	post()
	if b.Fetches != 1 {
		t.Errorf("%d tokens fetched for two calls", b.Fetches)
	}
	tokens.ExpireAll()
	if got := post(); got != "payload" || b.Fetches != 2 {
		t.Errorf("after expiry: %q, %d fetches", got, b.Fetches)
	}
	// A token close to its expiry is renewed before use.
	b.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	post()
	if b.Fetches != 3 {
		t.Errorf("%d fetches, want a renewal ahead of expiry", b.Fetches)
	}
}
