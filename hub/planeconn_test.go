package hub

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/connectors/conformance"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

// TestPlaneConnectorAuditsEveryOperation drives a registered AWX
// simulator through the hub's connector stack: a 429 storm that the retry
// absorbs, a permanent refusal, a policy violation and a transient outage
// beyond the retry budget each end as one audit event naming the plane,
// the correlation id and the class, with a bounded number of calls and no
// second job.
func TestPlaneConnectorAuditsEveryOperation(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	s := awxsim.New(awxsim.Options{Password: planeSecret})
	t.Cleanup(s.Close)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	if _, err := ac.CreatePlane(ctx, api.PlaneRequest{Name: "awx-lab", Kind: "awx", URL: hs.URL, Credentials: awxCredentials(t, planeSecret)}); err != nil {
		t.Fatal(err)
	}
	retry := connectors.RetryPolicy{Attempts: 6, Initial: time.Millisecond, Max: 5 * time.Millisecond}
	conn, closeConn, err := n.srv.PlaneConnector("awx-lab", "node:test", retry)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn(ctx)
	release := func(version, corr string) connectors.Release {
		k := connectors.ReleaseKey{App: "htop", Version: version, Ring: deploy.Ring1Canary, Scope: deploy.Scope{Acquisition: "corp", BU: "finance"}}
		deb := []byte("!<arch>\nhtop " + version)
		return connectors.Release{Key: k, CorrelationID: corr, DisplayName: "htop",
			Content: connectors.Content{Name: "htop_" + version + "_all.deb", Size: int64(len(deb)), Type: "linux", Open: conformance.Bytes(deb)},
			Install: connectors.Install{Detection: connectors.Detection{PackageName: "htop"}},
			Targets: []connectors.Target{{ID: "canary-1"}, {ID: "canary-2"}}}
	}
	launch := "POST /api/v2/job_templates/1/launch/"
	cases := []struct {
		corr, version string
		faults        []sim.Fault
		wantOutcome   string
		wantJobs      int
	}{
		{"corr-storm", "1.0", []sim.Fault{{Match: launch, Status: 429, Count: 3}}, "ok", 1},
		{"corr-permanent", "1.1", []sim.Fault{{Match: launch, Status: 400, Body: `{"extra_vars":["Variables eucora_repo are not allowed on launch."]}`}}, "failed:permanent", 0},
		{"corr-policy", "1.2", []sim.Fault{{Match: launch, Status: 403, Body: `{"detail":"You do not have permission to perform this action."}`}}, "failed:policy", 0},
		{"corr-outage", "1.3", []sim.Fault{{Match: launch, Status: 502}}, "failed:transient", 0},
	}
	for _, c := range cases {
		s.Faults().Clear()
		for _, f := range c.faults {
			s.Faults().Add(f)
		}
		s.Faults().ResetCalls()
		_, err := conn.Publish(ctx, release(c.version, c.corr))
		if (err == nil) != (c.wantOutcome == "ok") {
			t.Errorf("%s: publish: %v", c.corr, err)
		}
		if calls, _ := s.Faults().Calls(); calls > 40 {
			t.Errorf("%s: %d calls, want a bounded number", c.corr, calls)
		}
		if jobs := jobsFor(s, c.corr); jobs != c.wantJobs {
			t.Errorf("%s: %d jobs on the plane, want %d", c.corr, jobs, c.wantJobs)
		}
	}
	s.Faults().Clear()

	page, err := ac.Events(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]api.Event{}
	for _, e := range page.Events {
		if e.Action == "connector.publish" {
			got[e.CorrelationID] = append(got[e.CorrelationID], e)
		}
	}
	for _, c := range cases {
		evs := got[c.corr]
		if len(evs) != 1 {
			t.Errorf("%s: %d connector.publish events, want 1: %+v", c.corr, len(evs), evs)
			continue
		}
		e := evs[0]
		if e.Object != "plane/awx-lab" || e.Outcome != c.wantOutcome || e.Actor != "node:test" || !strings.Contains(e.Reason, "htop@"+c.version) {
			t.Errorf("%s: event %+v, want object plane/awx-lab, outcome %s, actor node:test and the release", c.corr, e, c.wantOutcome)
		}
		if c.wantOutcome != "ok" && !strings.Contains(e.Reason, "class "+strings.TrimPrefix(c.wantOutcome, "failed:")) {
			t.Errorf("%s: reason %q does not name the class", c.corr, e.Reason)
		}
	}
}

// jobsFor counts the simulator's jobs launched with the correlation id.
func jobsFor(s *awxsim.Server, corr string) int {
	n := 0
	for _, j := range s.Jobs() {
		if j.ExtraVars["eucora_correlation_id"] == corr {
			n++
		}
	}
	return n
}
