package awx_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/awx"
	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/connectors/conformance"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
)

// startSim starts a simulator with the deterministic runner and returns it
// with a constructor of connectors (each a fresh process) talking to it.
func startSim(t testing.TB, o awxsim.Options) (*awxsim.Server, func() *awx.Client) {
	t.Helper()
	s, mk, _ := startSimURL(t, o)
	return s, mk
}

// startSimURL is startSim that also returns the simulator's URL.
func startSimURL(t testing.TB, o awxsim.Options) (*awxsim.Server, func() *awx.Client, string) {
	t.Helper()
	s := awxsim.New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
	})
	cred := s.Credentials()
	return s, func() *awx.Client {
		c, err := awx.NewClient(awx.Config{
			BaseURL: srv.URL, Username: cred.Username, Password: cred.Password, JobTemplate: cred.JobTemplate,
			Repo:            awx.Repo{URL: "http://apt.eucora.invalid/eucora", Dist: "stable"},
			ThrottleInitial: time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}, srv.URL
}

// ringHosts are the default inventory's hosts per ring.
var ringHosts = map[deploy.Ring][]string{
	deploy.Ring0Lab:        {"lab-1", "lab-2"},
	deploy.Ring1Canary:     {"canary-1", "canary-2"},
	deploy.Ring2Pilot:      {"pilot-1", "pilot-2", "pilot-3"},
	deploy.Ring3Department: {"dept-1", "dept-2", "dept-3"},
	deploy.Ring4Global:     {"global-1", "global-2", "global-3"},
}

func release(k connectors.ReleaseKey, corr string) connectors.Release {
	deb := []byte("!<arch>\n" + k.App + " " + k.Version)
	r := connectors.Release{
		Key: k, CorrelationID: corr, DisplayName: k.App,
		Content: connectors.Content{Name: k.App + "_" + k.Version + "_all.deb", Size: int64(len(deb)), Type: "linux", Open: conformance.Bytes(deb)},
		Install: connectors.Install{Detection: connectors.Detection{PackageName: k.App}},
	}
	for _, h := range ringHosts[k.Ring] {
		r.Targets = append(r.Targets, connectors.Target{ID: h})
	}
	return r
}

// plane is the plane under the conformance suite and the benchmark.
func plane() conformance.Plane {
	launch := "POST /api/v2/job_templates/1/launch/"
	return conformance.Plane{
		Kind: connectors.AWX,
		Start: func(t testing.TB) (conformance.Sim, func() connectors.Connector) {
			s, mk := startSim(t, awxsim.Options{PageSize: 2})
			return s, func() connectors.Connector { return mk() }
		},
		Release: func(t testing.TB, k connectors.ReleaseKey, corr string) connectors.Release { return release(k, corr) },
		// The launch is the one step that makes a plane object; there is
		// no separate assignment step (the limit is part of the launch).
		CreateMatch: launch,
		AssignMatch: "",
		Permanent: sim.Fault{Match: launch, Status: 400,
			Body: `{"extra_vars":["Cannot parse as JSON (error: Expecting value: line 1 column 1 (char 0)) or YAML (error: None)."]}`},
		Policy:  sim.Fault{Match: launch, Status: 403, Body: `{"detail":"You do not have permission to perform this action."}`},
		Message: "extra_vars: Cannot parse as JSON",
	}
}

func TestConformance(t *testing.T) { conformance.Run(t, plane()) }

// BenchmarkConnector is `make bench-connectors`: 1,000 publishes with 10%
// 429s and 1% dropped connections, serially and from 20 workers.
func BenchmarkConnector(b *testing.B) { conformance.Bench(b, plane(), 1000, 20) }
