package connectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
)

func TestReleaseKeyUUIDIsRFC9562Version5(t *testing.T) {
	// Python: uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "https://eucora.dev/release-key"), "notepad@1.0.0/ring-1/bu=finance")
	if got := formatUUID(eucoraNamespace); got != "7646a24a-4506-52a9-84a8-18a71b07e366" {
		t.Errorf("namespace %s", got)
	}
	k := ReleaseKey{App: "notepad", Version: "1.0.0", Ring: deploy.Ring1Canary, Scope: deploy.Scope{BU: "finance"}}
	if got := k.UUID(); got != "2df77d37-b78b-52df-b281-d214d51d0177" {
		t.Errorf("uuid %s", got)
	}
	if k.String() != "notepad@1.0.0/ring-1/bu=finance" {
		t.Errorf("string %s", k)
	}
}

func TestReleaseKeyNamesAreDeterministicAndDistinct(t *testing.T) {
	a := ReleaseKey{App: "notepad", Version: "1.0.0", Ring: 1}
	b := a
	b.Ring = 2
	if a.Name() != a.Name() || a.Name() == b.Name() || a.ID() == b.ID() || a.UUID() == b.UUID() {
		t.Errorf("names %s %s", a.Name(), b.Name())
	}
	if a.AppKey().Name() != b.AppKey().Name() {
		t.Errorf("app keys differ: %s %s", a.AppKey().Name(), b.AppKey().Name())
	}
	if a.AppKey().Name() != "eucora-notepad-1.0.0-"+a.AppKey().ID() {
		t.Errorf("app name %s", a.AppKey().Name())
	}
}

func TestReleaseKeyValidate(t *testing.T) {
	for _, k := range []ReleaseKey{{}, {App: "a"}, {App: "a", Version: "1", Ring: 7}, {App: "a", Version: "1", Scope: deploy.Scope{BU: "Bad Scope"}}} {
		if k.Validate() == nil {
			t.Errorf("%+v accepted", k)
		}
	}
	if err := (ReleaseKey{App: "a", Version: "1", Ring: 4}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestCorrelationMarkerRoundTrip(t *testing.T) {
	k := ReleaseKey{App: "a", Version: "1"}
	m := "Managed by EUCORA. " + CorrelationMarker("01JCORR", k) + " (do not edit)"
	if id, ok := ParseCorrelationMarker(m); !ok || id != "01JCORR" {
		t.Errorf("%q -> %q %v", m, id, ok)
	}
	for _, s := range []string{"", "eucora:correlation=", "nothing here"} {
		if _, ok := ParseCorrelationMarker(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
}

func TestClassOf(t *testing.T) {
	cases := []struct {
		err  error
		want Class
	}{
		{&Error{Class: Policy}, Policy},
		{fmt.Errorf("wrapped: %w", &Error{Class: Transient}), Transient},
		{context.DeadlineExceeded, Transient},
		{io.ErrUnexpectedEOF, Transient},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), Transient},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, Transient},
		{context.Canceled, Permanent},
		{errors.New("json: cannot unmarshal"), Permanent},
	}
	for _, c := range cases {
		if got := ClassOf(c.err); got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
	for status, want := range map[int]Class{400: Permanent, 401: Permanent, 403: Policy, 404: Permanent, 409: Permanent, 408: Transient, 429: Transient, 500: Transient, 502: Transient, 503: Transient} {
		if got := ClassOfStatus(status); got != want {
			t.Errorf("status %d: %s, want %s", status, got, want)
		}
	}
}

func TestRetryPolicyRetriesOnlyTransient(t *testing.T) {
	var waits []time.Duration
	p := RetryPolicy{Attempts: 5, Initial: time.Millisecond, Max: time.Second, Sleep: func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}}
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return &Error{Class: Transient, RetryAfter: 2 * time.Second}
		}
		return nil
	})
	if err != nil || calls != 3 || len(waits) != 2 {
		t.Fatalf("err %v calls %d waits %v", err, calls, waits)
	}
	for _, w := range waits {
		if w < 2*time.Second {
			t.Errorf("waited %s, less than the plane's Retry-After", w)
		}
	}
	for _, class := range []Class{Permanent, Policy} {
		calls = 0
		err = p.Do(context.Background(), func(context.Context) error { calls++; return &Error{Class: class} })
		if calls != 1 || ClassOf(err) != class {
			t.Errorf("%s: %d calls, %v", class, calls, err)
		}
	}
	calls = 0
	err = p.Do(context.Background(), func(context.Context) error {
		calls++
		return &Error{Class: Transient, Status: http.StatusServiceUnavailable}
	})
	if calls != 5 || ClassOf(err) != Transient {
		t.Errorf("exhausted: %d calls, %v", calls, err)
	}
}

func TestRetryPolicyWaitIsBoundedAndJittered(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second}
	seen := map[time.Duration]bool{}
	for n := 1; n <= 20; n++ {
		for range 20 {
			d := p.Wait(n, errors.New("x"))
			if d <= 0 || d > time.Second {
				t.Fatalf("attempt %d: wait %s outside (0, 1s]", n, d)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct waits in 400: no jitter", len(seen))
	}
}
