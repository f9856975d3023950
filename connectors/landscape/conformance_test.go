package landscape_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/conformance"
	"github.com/eucora/eucora/connectors/landscape"
	"github.com/eucora/eucora/connectors/landscape/landscapesim"
	"github.com/eucora/eucora/connectors/sim"
)

// startSim starts a simulator and returns it with its URL and a
// constructor of connectors (each a fresh process) talking to it. The
// connectors ask the simulator for the current key whenever theirs is
// refused, as they would ask the hub's credential store.
func startSim(t testing.TB, o landscapesim.Options, tune func(*landscape.Config)) (*landscapesim.Server, string, func() *landscape.Client) {
	t.Helper()
	s := landscapesim.New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return s, srv.URL, func() *landscape.Client {
		cfg := landscape.Config{
			BaseURL: srv.URL,
			Credentials: func(context.Context) (landscape.Credentials, error) {
				c := s.Credentials()
				return landscape.Credentials{AccessKey: c.AccessKey, SecretKey: c.SecretKey}, nil
			},
			PageSize:        2,
			ThrottleInitial: time.Millisecond,
		}
		if tune != nil {
			tune(&cfg)
		}
		c, err := landscape.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// release is a release of package k.App reaching the ring's tag of the
// default computers.
func release(k connectors.ReleaseKey, corr string) connectors.Release {
	deb := []byte("!<arch>\n" + k.App + " " + k.Version)
	return connectors.Release{
		Key: k, CorrelationID: corr, DisplayName: k.App,
		Content: connectors.Content{Name: k.App + "_" + k.Version + "_all.deb", Size: int64(len(deb)), Type: "linux", Open: conformance.Bytes(deb)},
		Install: connectors.Install{Detection: connectors.Detection{PackageName: k.App}},
		Targets: []connectors.Target{{ID: landscapesim.RingTags[k.Ring]}},
	}
}

// plane is the plane under the conformance suite and the benchmark, with
// list calls of pageSize items (0: the connector's default, 1,000).
func plane(pageSize int) conformance.Plane {
	return conformance.Plane{
		Kind: connectors.Landscape,
		Start: func(t testing.TB) (conformance.Sim, func() connectors.Connector) {
			s, _, mk := startSim(t, landscapesim.Options{}, func(c *landscape.Config) { c.PageSize = pageSize })
			return s, func() connectors.Connector { return mk() }
		},
		Release: func(t testing.TB, k connectors.ReleaseKey, corr string) connectors.Release { return release(k, corr) },
		// The version's script is the content object; the install
		// activity is the step whose lost answer must not start a second
		// one (the profile association is covered in landscape_test.go).
		CreateMatch: "POST /api/CreateScript",
		AssignMatch: "POST /api/InstallPackages",
		Permanent: sim.Fault{Match: "POST /api/CreateScript", Status: 400,
			Body: `{"error":"ScriptEncoding","message":"The script code could not be decoded as UTF-8."}`},
		Policy: sim.Fault{Match: "POST /api/CreateScript", Status: 403,
			Body: `{"error":"Unauthorised","message":"You are not authorised to create scripts in access group global."}`},
		Message: "The script code could not be decoded as UTF-8.",
	}
}

// TestConformance pages every list two items at a time, so the suite walks
// pages on every lookup.
func TestConformance(t *testing.T) { conformance.Run(t, plane(2)) }

// BenchmarkConnector is `make bench-connectors`: 1,000 publishes with 10%
// 429s and 1% dropped connections, serially and from 20 workers, with the
// connector's default page size (1,000, Landscape's own): each publish
// lists the stored scripts, so its calls grow by one per 1,000 scripts.
func BenchmarkConnector(b *testing.B) { conformance.Bench(b, plane(0), 1000, 20) }
