// Package conformance is the one suite every connector runs against its
// plane's simulator (restic's backend tests are the model). A plane
// package supplies a Plane; Run checks the Connector contract's promises:
// idempotent publish, crash-safe retries, throttling within a retry
// budget, error classes, rollback, and correlation.
package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
)

// Sim is what the suite needs to see of a running simulator.
type Sim interface {
	// Faults is the fault set in front of the plane.
	Faults() *sim.Faults
	// Tokens is the simulator's token issuer.
	Tokens() *sim.Tokens
	// Count reports how many content objects the plane holds for the
	// key's application version (its AppKey) and how many assignments
	// (or deployments, policies, launched jobs) it holds for the key
	// itself: what a duplicate would show up in.
	Count(k connectors.ReleaseKey) (objects, assignments int)
}

// Plane is one plane under test.
type Plane struct {
	Kind connectors.Kind
	// Start starts a fresh simulator and returns it with a constructor
	// of connectors talking to it, built as production builds them but
	// without WithRetry (the suite adds its own). Each call of the
	// constructor is a fresh process as far as the connector knows.
	Start func(t testing.TB) (Sim, func() connectors.Connector)
	// Release returns a release for k with content and targets the
	// simulator knows.
	Release func(t testing.TB, k connectors.ReleaseKey, correlationID string) connectors.Release
	// CreateMatch is the "METHOD /path" prefix of the request that
	// creates the content object (the crash case drops the connection
	// right after the plane acted on it).
	CreateMatch string
	// AssignMatch is the "METHOD /path" prefix of the request that makes
	// the ring's assignment.
	AssignMatch string
	// Permanent and Policy are faults that make the plane answer with a
	// permanent error and a policy refusal in its own error shape, on
	// the create request; Message is a text of Permanent's body the
	// error must carry.
	Permanent, Policy sim.Fault
	Message           string
}

// Result is one plane's line of the conformance table.
type Result struct {
	Plane           connectors.Kind `json:"plane"`
	Cases           int             `json:"cases"`
	Passed          int             `json:"passed"`
	Skipped         int             `json:"skipped"` // cases the plane has no step for
	Duplicates      int             `json:"duplicates"`
	CallsPerPublish float64         `json:"calls_per_publish"`
}

var (
	mu      sync.Mutex
	results = map[connectors.Kind]*Result{}
)

// Results returns every plane's result so far, by plane name.
func Results() []Result {
	mu.Lock()
	defer mu.Unlock()
	var out []Result
	for _, r := range results {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Plane < out[j].Plane })
	return out
}

// Table renders results as the table `make conformance` prints.
func Table(rs []Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %6s %7s %8s %11s %14s\n", "plane", "cases", "passed", "skipped", "duplicates", "calls/publish")
	for _, r := range rs {
		fmt.Fprintf(&b, "%-10s %6d %7d %8d %11d %14.1f\n", r.Plane, r.Cases, r.Passed, r.Skipped, r.Duplicates, r.CallsPerPublish)
	}
	return b.String()
}

func record(kind connectors.Kind, f func(*Result)) {
	mu.Lock()
	defer mu.Unlock()
	r := results[kind]
	if r == nil {
		r = &Result{Plane: kind}
		results[kind] = r
	}
	f(r)
}

// fast is the retry policy of the suite: real backoff shape, short waits.
var fast = connectors.RetryPolicy{Attempts: 12, Initial: time.Millisecond, Max: 20 * time.Millisecond, Budget: time.Minute}

func key(app, version string, ring deploy.Ring) connectors.ReleaseKey {
	return connectors.ReleaseKey{App: app, Version: version, Ring: ring, Scope: deploy.Scope{Acquisition: "corp", BU: "finance"}}
}

// Run runs every case for p.
func Run(t *testing.T, p Plane) {
	cases := []struct {
		name string
		run  func(t *testing.T, p Plane)
	}{
		{"PublishTwiceIsOneObject", publishTwice},
		{"CrashAfterCreateThenRetry", crashAfterCreate},
		{"CrashAfterAssignThenRetry", crashAfterAssign},
		{"ThrottleStormWithinBudget", throttleStorm},
		{"DroppedMidBody", droppedMidBody},
		{"PermanentErrorIsPermanent", permanentError},
		{"PolicyViolationNeverRetried", policyNotRetried},
		{"TokenExpiresMidRun", tokenExpiry},
		{"RollbackRestoresPriorAssignment", rollback},
		{"FindByCorrelationID", findByCorrelation},
	}
	for _, c := range cases {
		skipped := false
		ok := t.Run(c.name, func(t *testing.T) {
			defer func() { skipped = t.Skipped() }()
			c.run(t, p)
		})
		record(p.Kind, func(r *Result) {
			r.Cases++
			switch {
			case skipped:
				r.Skipped++
			case ok:
				r.Passed++
			}
		})
	}
	if out := os.Getenv(OutEnv); out != "" {
		mu.Lock()
		line, _ := json.Marshal(results[p.Kind])
		mu.Unlock()
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatalf("%s: %v", OutEnv, err)
		}
		defer f.Close()
		f.Write(append(line, '\n'))
	}
}

// OutEnv names a file Run appends each plane's Result to, as a JSON line
// (`make conformance` prints the table from it with
// `go run ./connectors/conformance/table FILE`).
const OutEnv = "EUCORA_CONFORMANCE_OUT"

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// checkOne fails unless the plane holds exactly one content object and
// the release's assignments once, recording any duplicate.
func checkOne(t *testing.T, p Plane, s Sim, r connectors.Release) {
	t.Helper()
	objs, asg := s.Count(r.Key)
	want := len(r.Targets)
	if objs != 1 || asg != want {
		if objs > 1 || asg > want {
			record(p.Kind, func(res *Result) { res.Duplicates += max(objs-1, 0) + max(asg-want, 0) })
		}
		t.Fatalf("plane holds %d content objects and %d assignments for %s, want 1 and %d", objs, asg, r.Key, want)
	}
}

func publishTwice(t *testing.T, p Plane) {
	s, mk := p.Start(t)
	ctx := ctxT(t)
	r := p.Release(t, key("notepad", "1.0.0", deploy.Ring1Canary), "corr-twice")
	c := mk()
	s.Faults().ResetCalls()
	first, err := c.Publish(ctx, r)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	calls, _ := s.Faults().Calls()
	record(p.Kind, func(res *Result) { res.CallsPerPublish = float64(calls) })
	if first.Created == 0 {
		t.Errorf("first publish created nothing: %+v", first)
	}
	second, err := c.Publish(ctx, r)
	if err != nil {
		t.Fatalf("publish again: %v", err)
	}
	if second.Created != 0 {
		t.Errorf("second publish created %d objects, want 0", second.Created)
	}
	checkOne(t, p, s, r)
	// Another ring of the same version reuses the content object.
	r2 := p.Release(t, key("notepad", "1.0.0", deploy.Ring2Pilot), "corr-twice")
	if _, err := c.Publish(ctx, r2); err != nil {
		t.Fatalf("publish ring 2: %v", err)
	}
	checkOne(t, p, s, r2)
	checkOne(t, p, s, r)
}

func crashAfter(t *testing.T, p Plane, match string) {
	if match == "" {
		t.Skip("the plane has no such step")
	}
	s, mk := p.Start(t)
	ctx := ctxT(t)
	r := p.Release(t, key("crashy", "2.1", deploy.Ring1Canary), "corr-crash")
	s.Faults().Add(sim.Fault{Match: match, Count: 1, DropAfterHandle: true})
	_, err := mk().Publish(ctx, r)
	if err == nil {
		t.Fatal("publish survived a dropped connection without noticing")
	}
	if cl := connectors.ClassOf(err); cl != connectors.Transient {
		t.Fatalf("dropped connection classed %s, want transient: %v", cl, err)
	}
	// A new process retries.
	if _, err := mk().Publish(ctx, r); err != nil {
		t.Fatalf("retry after the crash: %v", err)
	}
	checkOne(t, p, s, r)
}

func crashAfterCreate(t *testing.T, p Plane) { crashAfter(t, p, p.CreateMatch) }
func crashAfterAssign(t *testing.T, p Plane) { crashAfter(t, p, p.AssignMatch) }

func throttleStorm(t *testing.T, p Plane) {
	s, mk := p.Start(t)
	ctx := ctxT(t)
	r := p.Release(t, key("storm", "3.0", deploy.Ring2Pilot), "corr-storm")
	s.Faults().Add(sim.Fault{Count: 6, Status: 429, RetryAfter: "0.01"})
	s.Faults().Add(sim.Fault{Count: 6, Status: 429})
	s.Faults().Add(sim.Fault{Count: 3, Status: 503, RetryAfter: "0"})
	c := connectors.WithRetry(mk(), fast)
	if _, err := c.Publish(ctx, r); err != nil {
		t.Fatalf("publish through a 429 storm: %v", err)
	}
	checkOne(t, p, s, r)
}

func droppedMidBody(t *testing.T, p Plane) {
	s, mk := p.Start(t)
	ctx := ctxT(t)
	r := p.Release(t, key("halfway", "1.2", deploy.Ring1Canary), "corr-half")
	s.Faults().Add(sim.Fault{Match: "GET", Count: 2, DropMidBody: true})
	c := connectors.WithRetry(mk(), fast)
	if _, err := c.Publish(ctx, r); err != nil {
		t.Fatalf("publish with answers cut mid-body: %v", err)
	}
	checkOne(t, p, s, r)
}

func permanentError(t *testing.T, p Plane) {
	s, mk := p.Start(t)
	ctx := ctxT(t)
	r := p.Release(t, key("broken", "0.1", deploy.Ring1Canary), "corr-perm")
	f := p.Permanent
	f.Count = 1
	s.Faults().Add(f)
	s.Faults().ResetCalls()
	_, err := connectors.WithRetry(mk(), fast).Publish(ctx, r)
	if cl := connectors.ClassOf(err); cl != connectors.Permanent {
		t.Fatalf("class %s, want permanent: %v", cl, err)
	}
	if p.Message != "" && !strings.Contains(err.Error(), p.Message) {
		t.Errorf("error %q does not carry the plane's message %q", err, p.Message)
	}
	if _, per := s.Faults().Calls(); per[matchKey(per, f.Match)] > 1 {
		t.Errorf("a permanent error was retried: %d calls of %s", per[matchKey(per, f.Match)], f.Match)
	}
}

func policyNotRetried(t *testing.T, p Plane) {
	s, mk := p.Start(t)
	ctx := ctxT(t)
	r := p.Release(t, key("forbidden", "0.2", deploy.Ring1Canary), "corr-policy")
	f := p.Policy
	f.Count = 0 // every attempt would be refused: a retry would show
	s.Faults().Add(f)
	s.Faults().ResetCalls()
	_, err := connectors.WithRetry(mk(), fast).Publish(ctx, r)
	if cl := connectors.ClassOf(err); cl != connectors.Policy {
		t.Fatalf("class %s, want policy: %v", cl, err)
	}
	total := 0
	_, per := s.Faults().Calls()
	for k, n := range per {
		if strings.HasPrefix(k, f.Match) {
			total += n
		}
	}
	if total != 1 {
		t.Errorf("a policy refusal was sent %d times, want once", total)
	}
}

func matchKey(per map[string]int, prefix string) string {
	keys := make([]string, 0, len(per))
	for k := range per {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

func tokenExpiry(t *testing.T, p Plane) {
	s, mk := p.Start(t)
	ctx := ctxT(t)
	c := mk()
	if _, err := c.Publish(ctx, p.Release(t, key("tok", "1", deploy.Ring1Canary), "corr-tok")); err != nil {
		t.Fatal(err)
	}
	before := s.Tokens().Issued
	s.Tokens().ExpireAll()
	r := p.Release(t, key("tok", "2", deploy.Ring1Canary), "corr-tok2")
	if _, err := c.Publish(ctx, r); err != nil {
		t.Fatalf("publish after the token expired: %v", err)
	}
	if s.Tokens().Issued <= before {
		t.Errorf("no new token was fetched after expiry")
	}
	checkOne(t, p, s, r)
}

func rollback(t *testing.T, p Plane) {
	s, mk := p.Start(t)
	ctx := ctxT(t)
	c := mk()
	v1 := p.Release(t, key("editor", "1.0", deploy.Ring1Canary), "corr-v1")
	if _, err := c.Publish(ctx, v1); err != nil {
		t.Fatal(err)
	}
	v2 := p.Release(t, key("editor", "2.0", deploy.Ring1Canary), "corr-v2")
	prior := v1.Key
	v2.Prior = &prior
	if _, err := c.Publish(ctx, v2); err != nil {
		t.Fatal(err)
	}
	for range 2 { // remediation is idempotent too
		if _, err := c.Remediate(ctx, connectors.Remediation{Action: connectors.PinPrior, Release: v2}); err != nil {
			t.Fatalf("pin prior: %v", err)
		}
	}
	st1, err := c.Query(ctx, v1.Key)
	if err != nil {
		t.Fatalf("query v1: %v", err)
	}
	want := targetIDs(v1)
	if !sameSet(st1.Assigned, want) {
		t.Errorf("after rollback v1 is assigned to %v, want %v", st1.Assigned, want)
	}
	st2, err := c.Query(ctx, v2.Key)
	if err != nil {
		t.Fatalf("query v2: %v", err)
	}
	if len(st2.Assigned) != 0 {
		t.Errorf("after rollback v2 is still assigned to %v", st2.Assigned)
	}
	if objs, asg := s.Count(v1.Key); objs != 1 || asg != len(v1.Targets) {
		t.Errorf("v1: %d objects, %d assignments after rollback", objs, asg)
	}
}

func findByCorrelation(t *testing.T, p Plane) {
	_, mk := p.Start(t)
	ctx := ctxT(t)
	c := mk()
	r := p.Release(t, key("findme", "4.2", deploy.Ring3Department), "corr-find-42")
	pub, err := c.Publish(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	other := p.Release(t, key("other", "1.0", deploy.Ring3Department), "corr-other")
	if _, err := c.Publish(ctx, other); err != nil {
		t.Fatal(err)
	}
	found, err := mk().Find(ctx, "corr-find-42")
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	ids := map[string]bool{}
	for _, o := range found {
		if o.CorrelationID != "corr-find-42" {
			t.Errorf("found %s %s with correlation id %q", o.Kind, o.ID, o.CorrelationID)
		}
		ids[o.Kind+"/"+o.ID] = true
	}
	for _, o := range pub.Objects {
		if o.CorrelationID != "" && !ids[o.Kind+"/"+o.ID] {
			t.Errorf("published %s %s not found by its correlation id", o.Kind, o.ID)
		}
	}
	if len(found) == 0 {
		t.Error("nothing found by correlation id")
	}
	none, err := mk().Find(ctx, "corr-nobody")
	if err != nil || len(none) != 0 {
		t.Errorf("unknown correlation id: %v, %v", none, err)
	}
}

func targetIDs(r connectors.Release) []string {
	var out []string
	for _, t := range r.Targets {
		if !t.Exclude {
			out = append(out, t.ID)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Bytes returns a content opener over b, for Release fixtures.
func Bytes(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(b))), nil }
}
