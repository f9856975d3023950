package awx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/awx"
	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/deploy"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func key(app, version string, ring deploy.Ring) connectors.ReleaseKey {
	return connectors.ReleaseKey{App: app, Version: version, Ring: ring, Scope: deploy.Scope{Acquisition: "corp", BU: "finance"}}
}

// jobsBy counts the simulator's jobs by eucora_action.
func jobsBy(s *awxsim.Server) map[string]int {
	out := map[string]int{}
	for _, j := range s.Jobs() {
		a, _ := j.ExtraVars["eucora_action"].(string)
		out[a]++
	}
	return out
}

func wait(t *testing.T, c *awx.Client, pub connectors.Publication) awx.Job {
	t.Helper()
	id, err := strconv.Atoi(pub.Handle)
	if err != nil {
		t.Fatalf("handle %q: %v", pub.Handle, err)
	}
	j, err := c.Wait(ctx(t), id, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func errClass(t *testing.T, err error, class connectors.Class, text string) *connectors.Error {
	t.Helper()
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Class != class || !strings.Contains(err.Error(), text) {
		t.Fatalf("error %v: want class %s with %q", err, class, text)
	}
	return ce
}

func TestRemediationsAreIdempotent(t *testing.T) {
	s, mk := startSim(t, awxsim.Options{PageSize: 3})
	c := mk()
	v1 := release(key("editor", "1.0", deploy.Ring2Pilot), "corr-1")
	v2 := release(key("editor", "2.0", deploy.Ring2Pilot), "corr-2")
	prior := v1.Key
	v2.Prior = &prior
	for _, r := range []connectors.Release{v1, v2} {
		wait(t, c, must(c.Publish(ctx(t), r)))
	}
	for _, step := range []struct {
		action  connectors.Action
		created []int // per call
	}{
		{connectors.PinPrior, []int{1, 0}},
		{connectors.Uninstall, []int{1, 0}},
		{connectors.Redeploy, []int{1, 0}},
		{connectors.Supersede, []int{0}}, // v2's install job exists
		{connectors.PinPrior, []int{1}},  // the ring's latest job is a redeploy now
	} {
		for n, want := range step.created {
			pub, err := mk().Remediate(ctx(t), connectors.Remediation{Action: step.action, Release: v2})
			if err != nil {
				t.Fatalf("%s #%d: %v", step.action, n+1, err)
			}
			if pub.Created != want || len(pub.Objects) != 1 || pub.Objects[0].CorrelationID != "corr-2" {
				t.Fatalf("%s #%d: %+v, want %d created", step.action, n+1, pub, want)
			}
			wait(t, c, pub)
		}
	}
	if got := jobsBy(s); got["install"] != 2 || got["pin-prior"] != 2 || got["uninstall"] != 1 || got["redeploy"] != 1 {
		t.Fatalf("jobs by action: %v", got)
	}
	runner := s.Runner().(*awxsim.ModelRunner)
	if got := runner.Installed("pilot-1")["editor"]; got != "1.0" {
		t.Fatalf("pilot-1 holds editor %q after the last pin-prior, want 1.0", got)
	}
	// A redeploy whose job failed is launched again.
	runner.SetOutcome("pilot-2", awxsim.HostFailed)
	pub := must(c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: v2}))
	if j := wait(t, c, pub); j.Status != "failed" {
		t.Fatalf("redeploy with a failing host: %s", j.Status)
	}
	if pub := must(c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: v2})); pub.Created != 1 {
		t.Fatalf("redeploy after a failed redeploy created %d jobs", pub.Created)
	}
	_, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v1})
	errClass(t, err, connectors.Permanent, "names no prior release")
	_, err = c.Remediate(ctx(t), connectors.Remediation{Action: "explode", Release: v1})
	errClass(t, err, connectors.Permanent, `action "explode"`)
	s.WaitIdle(ctx(t))
}

func must(p connectors.Publication, err error) connectors.Publication {
	if err != nil {
		panic(err)
	}
	return p
}

func TestQueryMapsHostSummaries(t *testing.T) {
	runner := &awxsim.ModelRunner{}
	runner.SetOutcome("pilot-2", awxsim.HostFailed)
	runner.SetOutcome("pilot-3", awxsim.HostUnreachable)
	s, mk := startSim(t, awxsim.Options{Runner: runner})
	c := mk()
	r := release(key("viewer", "3.1", deploy.Ring2Pilot), "corr-q")
	pub := must(c.Publish(ctx(t), r))
	if j := wait(t, c, pub); j.Status != "failed" {
		t.Fatalf("job status %s, want failed (a host failed)", j.Status)
	}
	st, err := mk().Query(ctx(t), r.Key)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]connectors.DeviceState{}
	for _, d := range st.Devices {
		by[d.Device] = d
	}
	if len(st.Devices) != 3 || by["pilot-1"].State != connectors.StateInstalled || by["pilot-2"].State != connectors.StateFailed ||
		by["pilot-3"].State != connectors.StateUnknown || by["pilot-1"].DeviceID == "" || by["pilot-1"].At.IsZero() {
		t.Fatalf("devices %+v", st.Devices)
	}
	if d := by["pilot-2"].Detail; !strings.Contains(d, `task "install the pinned version"`) || !strings.Contains(d, "E: Version '3.1' for 'viewer' was not found") {
		t.Fatalf("failed host detail %q", d)
	}
	if d := by["pilot-3"].Detail; !strings.Contains(d, "unreachable") {
		t.Fatalf("unreachable host detail %q", d)
	}
	if st.Deferred != "" {
		t.Fatalf("finished job: deferred %q", st.Deferred)
	}
	if st.Summary != (connectors.Summary{Installed: 1, Failed: 1, Unknown: 1}) || st.Summary.Attempts() != 2 {
		t.Fatalf("summary %+v", st.Summary)
	}
	if strings.Join(st.Assigned, ",") != "pilot-1,pilot-2,pilot-3" || len(st.Objects) != 1 || st.Objects[0].Kind != "job" {
		t.Fatalf("assigned %v objects %+v", st.Assigned, st.Objects)
	}
	_, err = c.Query(ctx(t), key("viewer", "9.9", deploy.Ring2Pilot))
	if ce := errClass(t, err, connectors.Permanent, "no job for release"); !ce.NotFound {
		t.Fatalf("not found not set: %+v", ce)
	}
	s.WaitIdle(ctx(t))
}

func TestQueryWhileTheJobIsPending(t *testing.T) {
	s, mk := startSim(t, awxsim.Options{StartPolls: 1 << 20})
	c := mk()
	r := release(key("slow", "1.0", deploy.Ring1Canary), "corr-slow")
	pub := must(c.Publish(ctx(t), r))
	st, err := c.Query(ctx(t), r.Key)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(st.Assigned, ",") != "canary-1,canary-2" || len(st.Devices) != 0 || pub.Created != 1 {
		t.Fatalf("pending job: %+v", st)
	}
	// Reconciliation keeps its drift while the job runs (the hosts'
	// states are not final yet).
	if !strings.Contains(st.Deferred, "AWX job "+pub.Handle+" (install of slow@1.0/ring-1") || !strings.Contains(st.Deferred, "is pending") {
		t.Fatalf("pending job: deferred %q", st.Deferred)
	}
	id, _ := strconv.Atoi(pub.Handle)
	if j, err := c.Job(ctx(t), id); err != nil || j.Status != "pending" || j.Done() {
		t.Fatalf("job %+v %v", j, err)
	}
	if pub2 := must(mk().Publish(ctx(t), r)); pub2.Created != 0 || pub2.Handle != pub.Handle {
		t.Fatalf("publish while pending: %+v", pub2)
	}
	s.Close()
}

func TestTemplateThatCannotLaunchIsRefusedBeforeLaunching(t *testing.T) {
	tpl := awxsim.DefaultTemplate()
	tpl.AskVariables = false
	s, mk := startSim(t, awxsim.Options{Templates: []awxsim.TemplateSpec{tpl}, Inventories: []awxsim.InventorySpec{awxsim.DefaultInventory()}})
	_, err := mk().Publish(ctx(t), release(key("app", "1.0", deploy.Ring1Canary), "c"))
	errClass(t, err, connectors.Permanent, "ask_variables_on_launch is false")
	if n := len(s.Jobs()); n != 0 {
		t.Fatalf("%d jobs launched", n)
	}
	chk, err := mk().Check(ctx(t))
	if err != nil || !strings.Contains(chk.Detail, "cannot launch EUCORA releases") || chk.Plane != connectors.AWX {
		t.Fatalf("check: %+v %v", chk, err)
	}
}

func TestMissingTemplateAndBadCredentials(t *testing.T) {
	s := awxsim.New(awxsim.Options{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	defer s.Close()
	cred := s.Credentials()
	repo := awx.Repo{URL: "http://apt.invalid/x", Dist: "stable"}
	c, _ := awx.New(awx.Config{BaseURL: srv.URL, Username: cred.Username, Password: cred.Password, JobTemplate: "nope", Repo: repo})
	_, err := c.Check(ctx(t))
	if ce := errClass(t, err, connectors.Permanent, `no job template named "nope"`); !ce.NotFound {
		t.Fatal("not found not set")
	}
	c, _ = awx.New(awx.Config{BaseURL: srv.URL, Username: cred.Username, Password: "wrong", Repo: repo})
	_, err = c.Check(ctx(t))
	errClass(t, err, connectors.Permanent, "Invalid username/password.")
	ok, _ := awx.New(awx.Config{BaseURL: srv.URL, Username: cred.Username, Password: cred.Password, Repo: repo})
	chk, err := ok.Check(ctx(t))
	if err != nil || !strings.Contains(chk.Detail, `job template "eucora-apt" (id 1, playbook eucora-apt.yml) can launch`) {
		t.Fatalf("check: %+v %v", chk, err)
	}
}

func TestBadReleaseMakesNoCall(t *testing.T) {
	s, mk := startSim(t, awxsim.Options{})
	r := release(key("app", "one", deploy.Ring1Canary), "c")
	s.Faults().ResetCalls()
	_, err := mk().Publish(ctx(t), r)
	errClass(t, err, connectors.Permanent, `version "one" is not a Debian version`)
	if n, _ := s.Faults().Calls(); n != 0 {
		t.Fatalf("%d calls for a bad release", n)
	}
}

// Jobs that others launch on the same template (YAML extra_vars, no
// EUCORA variables) are skipped, not taken for EUCORA's.
func TestForeignJobsAreIgnored(t *testing.T) {
	s, mk, url := startSimURL(t, awxsim.Options{PageSize: 1})
	cred := s.Credentials()
	c := mk()
	r := release(key("tool", "1.0", deploy.Ring1Canary), "corr-tool")
	must(c.Publish(ctx(t), r))
	for _, body := range []string{`{"extra_vars": "", "limit": "lab-1"}`, `{"extra_vars": {"eucora_release": "tool@1.0/ring-1/x"}, "limit": "lab-2"}`} {
		req, _ := http.NewRequest("POST", url+"/api/v2/job_templates/1/launch/", strings.NewReader(body))
		req.SetBasicAuth(cred.Username, cred.Password)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("foreign launch: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	found, err := c.Find(ctx(t), "corr-tool")
	if err != nil || len(found) != 1 {
		t.Fatalf("find: %v %v", found, err)
	}
	if pub := must(c.Publish(ctx(t), r)); pub.Created != 0 {
		t.Fatalf("publish again after foreign jobs: %+v", pub)
	}
	s.WaitIdle(ctx(t))
}

// jobTypes counts the simulator's jobs by job type and eucora_action.
func jobTypes(s *awxsim.Server) map[string]int {
	out := map[string]int{}
	for _, j := range s.Jobs() {
		a, _ := j.ExtraVars["eucora_action"].(string)
		out[j.JobType+"/"+a]++
	}
	return out
}

// TestQueryVerifiesHostsWithCheckJobs: AWX knows a host only from the jobs
// that ran on it, so Query verifies the ring with a check job once that
// knowledge is older than VerifyAfter, and a host whose package was
// changed by hand since reports not-installed until a redeploy installs
// it again. A template that does not prompt for the job type is never
// sent a check job.
func TestQueryVerifiesHostsWithCheckJobs(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	later := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s, _, url := startSimURL(t, awxsim.Options{Now: clock}) // AWX and EUCORA on one clock
	cred := s.Credentials()
	c, err := awx.NewClient(awx.Config{BaseURL: url, Username: cred.Username, Password: cred.Password,
		Repo: awx.Repo{URL: "http://apt.eucora.invalid/eucora", Dist: "stable"}, VerifyAfter: time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	runner := s.Runner().(*awxsim.ModelRunner)
	r := release(key("editor", "2.0", deploy.Ring2Pilot), "corr-v")
	wait(t, c, must(c.Publish(ctx(t), r)))
	query := func(what string) map[string]connectors.InstallState {
		t.Helper()
		st, err := c.Query(ctx(t), r.Key)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, o := range st.Objects {
			if strings.Contains(o.Name, ": "+awx.ActionVerify+" ") {
				t.Fatalf("%s: objects %+v list a check job", what, st.Objects)
			}
		}
		if err := s.WaitIdle(ctx(t)); err != nil {
			t.Fatal(err)
		}
		return states(st)
	}
	// Fresh knowledge: no check job.
	if got := query("fresh"); got["pilot-1"] != connectors.StateInstalled || jobTypes(s)["check/verify"] != 0 {
		t.Fatalf("fresh: %v, jobs %v", got, jobTypes(s))
	}
	// A host downgraded by hand; an hour on, Query verifies (reporting
	// what it knew), and the next Query reports the check job's finding.
	runner.SetInstalled("pilot-2", "editor", "1.0")
	later(time.Hour)
	if got := query("stale"); got["pilot-2"] != connectors.StateInstalled || jobTypes(s)["check/verify"] != 1 {
		t.Fatalf("stale: %v, jobs %v", got, jobTypes(s))
	}
	st, err := c.Query(ctx(t), r.Key)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]connectors.DeviceState{}
	for _, d := range st.Devices {
		got[d.Device] = d
	}
	if got["pilot-1"].State != connectors.StateInstalled || got["pilot-3"].State != connectors.StateInstalled ||
		got["pilot-2"].State != connectors.StateNotInstalled || !strings.Contains(got["pilot-2"].Detail, "holds ii 1.0") {
		t.Fatalf("after the check job: %+v", st.Devices)
	}
	if jobTypes(s)["check/verify"] != 1 {
		t.Fatalf("a second check job while the first is fresh: %v", jobTypes(s))
	}
	if found, err := c.Find(ctx(t), "corr-v"); err != nil || len(found) != 2 {
		t.Fatalf("find lists the install and the check job: %+v %v", found, err)
	}
	// A check job changed nothing; a redeploy (not a check job: the ring's
	// latest job is still the install) installs again.
	if v := runner.Installed("pilot-2")["editor"]; v != "1.0" {
		t.Fatalf("the check job changed pilot-2: %q", v)
	}
	wait(t, c, must(c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: r})))
	if got := query("redeployed"); got["pilot-2"] != connectors.StateInstalled || runner.Installed("pilot-2")["editor"] != "2.0" {
		t.Fatalf("after the redeploy: %v", got)
	}
	if n, _ := s.Count(r.Key); n != 1 {
		t.Fatalf("%d install jobs, want 1", n)
	}

	// Without the job type prompt: no check job, Query reports the latest job.
	tpl := awxsim.DefaultTemplate()
	tpl.AskJobType = false
	s2, _, url2 := startSimURL(t, awxsim.Options{Templates: []awxsim.TemplateSpec{tpl}, Inventories: []awxsim.InventorySpec{awxsim.DefaultInventory()}})
	c2, _ := awx.NewClient(awx.Config{BaseURL: url2, Username: cred.Username, Password: cred.Password,
		Repo: awx.Repo{URL: "http://apt.eucora.invalid/eucora", Dist: "stable"}, VerifyAfter: time.Nanosecond})
	wait(t, c2, must(c2.Publish(ctx(t), r)))
	if st, err := c2.Query(ctx(t), r.Key); err != nil || states(st)["pilot-1"] != connectors.StateInstalled {
		t.Fatalf("query without the prompt: %+v %v", st, err)
	}
	if n := len(s2.Jobs()); n != 1 {
		t.Fatalf("%d jobs on a template that cannot run check jobs, want the install only", n)
	}
	if chk, err := c2.Check(ctx(t)); err != nil || !strings.Contains(chk.Detail, "cannot be verified") {
		t.Fatalf("check: %+v %v", chk, err)
	}
}
