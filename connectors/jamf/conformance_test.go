package jamf_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/conformance"
	"github.com/eucora/eucora/connectors/jamf"
	"github.com/eucora/eucora/connectors/jamf/jamfsim"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// start runs a simulator with opt and returns it with a constructor of
// connectors (each a fresh process) built as production builds them.
func start(t testing.TB, opt jamfsim.Options, tweak ...func(*jamf.Config)) (*jamfsim.Server, func() *jamf.Connector) {
	t.Helper()
	s := jamfsim.New(opt)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cr := s.Credentials()
	return s, func() *jamf.Connector {
		cfg := jamf.Config{BaseURL: srv.URL, ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, PollInterval: time.Millisecond}
		for _, f := range tweak {
			f(&cfg)
		}
		c, err := jamf.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// targetsOf are the computer groups of DefaultGroups a ring reaches:
// ring 1 the canary group less the kiosks, ring 2 the pilot smart group,
// ring 3 the department group.
func targetsOf(r deploy.Ring) []connectors.Target {
	switch r {
	case deploy.Ring1Canary:
		return []connectors.Target{{ID: "1", Name: "Ring 1 Canary"}, {ID: "4", Name: "Kiosks", Exclude: true}}
	case deploy.Ring2Pilot:
		return []connectors.Target{{ID: "2", Name: "Ring 2 Pilot"}}
	}
	return []connectors.Target{{ID: "3", Name: "Ring 3 Department"}}
}

func release(t testing.TB, k connectors.ReleaseKey, corr string) connectors.Release {
	content := []byte(fmt.Sprintf("xar! flat package of %s", k.AppKey()))
	return connectors.Release{
		Key: k, CorrelationID: corr, DisplayName: k.App, Publisher: "EUCORA tests",
		Content: connectors.Content{Name: k.App + ".pkg", Size: int64(len(content)), Digest: digest.FromBytes(content),
			Type: deploy.Platform("macos"), Open: conformance.Bytes(content)},
		Install:  connectors.Install{UninstallCommand: "/usr/sbin/pkgutil --forget com.example." + k.App, Detection: connectors.Detection{BundleID: "com.example." + k.App}},
		Targets:  targetsOf(k.Ring),
		Required: true,
	}
}

// plane is the plane under the conformance suite and the benchmark.
func plane() conformance.Plane {
	return conformance.Plane{
		Kind: connectors.Jamf,
		Start: func(t testing.TB) (conformance.Sim, func() connectors.Connector) {
			s, mk := start(t, jamfsim.Options{HashPendingPolls: 2})
			return s, func() connectors.Connector { return mk() }
		},
		Release:     release,
		CreateMatch: "POST /api/v1/packages",
		AssignMatch: "POST /JSSResource/policies/id/0",
		Permanent: sim.Fault{Match: "POST /api/v1/packages", Status: 400,
			Body: jamfsim.ProErrorBody(400, "INVALID_FIELD", "must not contain the character '&'", "packageName")},
		Policy: sim.Fault{Match: "POST /api/v1/packages", Status: 403,
			Body: jamfsim.ProErrorBody(403, "INVALID_PRIVILEGE", "Forbidden: the API role lacks Create Packages", "")},
		Message: "must not contain the character '&'",
	}
}

func TestConformance(t *testing.T) { conformance.Run(t, plane()) }

// BenchmarkConnector is `make bench-connectors`: 1,000 publishes with 10%
// 429s and 1% dropped connections, serially and from 20 workers.
func BenchmarkConnector(b *testing.B) { conformance.Bench(b, plane(), 1000, 20) }
