package intune_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/conformance"
	"github.com/eucora/eucora/connectors/httpx"
	"github.com/eucora/eucora/connectors/intune"
	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// ringGroups are the Entra groups each ring reaches in the fixtures, with
// two devices each; ring 1 also excludes a group.
func ringGroups() map[string][]intunesim.Device {
	g := map[string][]intunesim.Device{}
	for ring := 0; ring <= 4; ring++ {
		for _, s := range []string{"a", "b", "x"} {
			id := fmt.Sprintf("grp-ring%d-%s", ring, s)
			g[id] = []intunesim.Device{{ID: id + "-dev1", Name: id + "-PC1"}, {ID: id + "-dev2", Name: id + "-PC2"}}
		}
	}
	return g
}

func targets(ring deploy.Ring) []connectors.Target {
	t := []connectors.Target{{ID: fmt.Sprintf("grp-ring%d-a", ring)}, {ID: fmt.Sprintf("grp-ring%d-b", ring)}}
	if ring == deploy.Ring1Canary {
		t = append(t, connectors.Target{ID: fmt.Sprintf("grp-ring%d-x", ring), Exclude: true})
	}
	return t
}

// testHTTP is the production transport shape with short backoffs.
func testHTTP() *http.Client {
	return &http.Client{Transport: &httpx.Throttle{Next: &httpx.Limit{Next: http.DefaultTransport, Concurrent: 8}, Initial: time.Millisecond, MaxWait: time.Second}}
}

// startSim runs a simulator and returns it with a connector constructor.
func startSim(t testing.TB, o intunesim.Options, tune func(*intune.Config)) (*intunesim.Server, *httptest.Server, func() connectors.Connector) {
	t.Helper()
	if o.Groups == nil {
		o.Groups = ringGroups()
	}
	s := intunesim.New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cred := s.Credentials()
	return s, srv, func() connectors.Connector {
		cfg := intune.Config{
			BaseURL: srv.URL, LoginURL: srv.URL, Tenant: cred.Tenant, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret,
			HTTP: testHTTP(), PollInterval: time.Millisecond, TempDir: t.TempDir(),
		}
		if tune != nil {
			tune(&cfg)
		}
		c, err := intune.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// release is an MSI release of k with a setup file of its own bytes.
func release(k connectors.ReleaseKey, corr string) connectors.Release {
	body := []byte(fmt.Sprintf("MSI setup of %s\n%0500d", k.AppKey(), 7))
	return connectors.Release{
		Key: k, CorrelationID: corr, DisplayName: "Fixture " + k.App, Publisher: "Contoso",
		Content: connectors.Content{Name: k.App + "-" + k.Version + ".msi", Size: int64(len(body)), Digest: digest.FromBytes(body), Type: deploy.PlatformMSI, Open: conformance.Bytes(body)},
		Install: connectors.Install{
			RunAsSystem: true,
			Detection:   connectors.Detection{ProductCode: "{" + k.AppKey().UUID() + "}", ProductVersion: k.Version},
		},
		Targets:  targets(k.Ring),
		Required: true,
	}
}

// firstAppID is the id the simulator with SequentialIDs gives the first
// object it makes: the app in a fresh simulator.
const firstAppID = "00000000-0000-4000-8000-000000000001"

// plane is the plane under the conformance suite and the benchmark, its
// collections paged pageSize entities at a time (0: the simulator's 100).
func plane(pageSize int) conformance.Plane {
	return conformance.Plane{
		Kind: connectors.Intune,
		Start: func(t testing.TB) (conformance.Sim, func() connectors.Connector) {
			s, _, mk := startSim(t, intunesim.Options{PageSize: pageSize, ConsistencyDelay: 2, SequentialIDs: true}, nil)
			return s, mk
		},
		Release: func(t testing.TB, k connectors.ReleaseKey, corr string) connectors.Release {
			// The suite's keys have a BU without an acquisition, which
			// deploy.Scope.Validate refuses: the fixture completes the
			// scope (the suite only ever uses the key the fixture returns).
			if k.Scope.BU != "" && k.Scope.Acquisition == "" {
				k.Scope.Acquisition = "contoso"
			}
			return release(k, corr)
		},
		CreateMatch: "POST /beta/deviceAppManagement/mobileApps",
		AssignMatch: "POST /beta/deviceAppManagement/mobileApps/" + firstAppID + "/assign",
		Permanent: sim.Fault{Match: "POST /beta/deviceAppManagement/mobileApps", Status: 400,
			Body: `{"error":{"code":"BadRequest","message":"Win32LobApp validation failed: setupFilePath is not in the package","innerError":{"date":"2026-12-07T10:00:00","request-id":"r1","client-request-id":"c1"}}}`},
		Message: "setupFilePath is not in the package",
		Policy: sim.Fault{Match: "POST /beta/deviceAppManagement/mobileApps", Status: 403,
			Body: `{"error":{"code":"Forbidden","message":"Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementApps.ReadWrite.All","innerError":{"date":"2026-12-07T10:00:00","request-id":"r2","client-request-id":"c2"}}}`},
	}
}

func TestConformance(t *testing.T) {
	conformance.Run(t, plane(2))
	t.Log("\n" + conformance.Table(conformance.Results()))
}

// BenchmarkConnector is `make bench-connectors`: 1,000 publishes with 10%
// 429s and 1% dropped connections, serially and from 20 workers, paged as
// the simulator pages by default (100): each publish lists the tenant's
// line-of-business apps (Graph has no $filter for the " [key]" display-name
// suffix), so its calls grow by one per 100 apps.
func BenchmarkConnector(b *testing.B) { conformance.Bench(b, plane(0), 1000, 20) }
