package sccm_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/conformance"
	"github.com/eucora/eucora/connectors/sccm"
	"github.com/eucora/eucora/connectors/sccm/sccmsim"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/internal/digest"
)

// startSim starts a simulated site behind an httptest server and returns
// it with a constructor of connectors built as production builds them
// (bearer through client credentials, throttle, limit), with short waits.
func startSim(t testing.TB, o sccmsim.Options) (*sccmsim.Server, func() connectors.Connector) {
	t.Helper()
	s := sccmsim.New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cred := s.Credentials()
	mk := func() connectors.Connector {
		c, err := sccm.New(sccm.Config{
			BaseURL: srv.URL + cred.BasePath,
			Auth: sccm.ClientCredentials{TokenURL: srv.URL + cred.TokenPath, ClientID: cred.ClientID,
				ClientSecret: cred.ClientSecret, Scope: cred.Scope},
			ContentSource:           `\\edge01\eucora-dp\sccm`,
			DistributionPointGroups: cred.DistributionPointGroups,
			ThrottleInitial:         time.Millisecond,
			PollInterval:            time.Millisecond,
			PollAttempts:            20,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return s, mk
}

// release is a release the simulator's default site can take: it targets
// the pilot collection (an include rule) and one device outside it (a
// direct rule).
func release(t testing.TB, k connectors.ReleaseKey, corr string) connectors.Release {
	payload := []byte("MSI payload of " + k.App + " " + k.Version)
	return connectors.Release{
		Key: k, CorrelationID: corr, DisplayName: "Notepad++", Publisher: "Notepad++ Team",
		Content: connectors.Content{Name: "setup.msi", Size: int64(len(payload)), Digest: digest.FromBytes(payload), Open: conformance.Bytes(payload)},
		Install: connectors.Install{
			InstallCommand:   `msiexec /i setup.msi /qn`,
			UninstallCommand: `msiexec /x {1B2C3D4E-0000-4000-8000-00000000000A} /qn`,
			Detection:        connectors.Detection{ProductCode: "{1B2C3D4E-0000-4000-8000-00000000000A}", ProductVersion: k.Version},
			RunAsSystem:      true,
		},
		Targets:  []connectors.Target{{ID: sccmsim.DefaultCollectionID, Name: "Pilot workstations"}, {ID: "16777223", Name: "PC-0004"}},
		Required: true,
	}
}

// plane is the plane under the conformance suite and the benchmark.
func plane() conformance.Plane {
	return conformance.Plane{
		Kind: connectors.SCCM,
		Start: func(t testing.TB) (conformance.Sim, func() connectors.Connector) {
			return startSim(t, sccmsim.Options{PageSize: 2, ConsistencyDelay: 2})
		},
		Release:     release,
		CreateMatch: "POST /AdminService/wmi/SMS_Application",
		AssignMatch: "POST /AdminService/wmi/SMS_ApplicationAssignment",
		Permanent: sim.Fault{Match: "POST /AdminService/wmi/SMS_Application", Status: 400,
			Body: `{"error":{"code":"BadRequest","message":"SDMPackageXML: the content location \\\\edge01\\eucora-dp is not reachable from the site server"}}`},
		Policy: sim.Fault{Match: "POST /AdminService/wmi/SMS_Application", Status: 403,
			Body: `{"error":{"code":"Forbidden","message":"The caller has no Application Administrator role on the scope Default."}}`},
		Message: "is not reachable from the site server",
	}
}

func TestConformance(t *testing.T) { conformance.Run(t, plane()) }

// BenchmarkConnector is `make bench-connectors`: 1,000 publishes with 10%
// 429s and 1% dropped connections, serially and from 20 workers.
func BenchmarkConnector(b *testing.B) { conformance.Bench(b, plane(), 1000, 20) }
