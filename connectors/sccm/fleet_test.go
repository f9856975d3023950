package sccm_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sccm"
	"github.com/eucora/eucora/connectors/sccm/sccmsim"
	"github.com/eucora/eucora/connectors/sim/fleet"
	"github.com/eucora/eucora/deploy"
)

var fleetStart = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

type fleetSite struct {
	s     *sccmsim.Server
	f     *fleet.Fleet
	clock *fleet.Clock
	url   string
	c     connectors.Connector
	colls map[string]string
}

// startFleet runs a site over a generated fleet of n devices (n=500:
// ring-2 holds 50) on a fake clock, with a connector on the same clock.
func startFleet(t *testing.T, n int) fleetSite {
	t.Helper()
	f, err := fleet.Generate(fleet.GenerateOptions{N: n, Seed: 17, Sites: []string{"hq", "lyon"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := fleet.NewClock(fleetStart)
	s := sccmsim.New(sccmsim.Options{Fleet: f, Now: clock.Now})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cred := s.Credentials()
	c, err := sccm.New(sccm.Config{
		BaseURL: srv.URL + cred.BasePath,
		Auth: sccm.ClientCredentials{TokenURL: srv.URL + cred.TokenPath, ClientID: cred.ClientID,
			ClientSecret: cred.ClientSecret, Scope: cred.Scope},
		ContentSource:           `\\edge01\eucora-dp\sccm`,
		DistributionPointGroups: cred.DistributionPointGroups,
		ThrottleInitial:         time.Millisecond,
		PollInterval:            time.Millisecond,
		PollAttempts:            20,
		Now:                     clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return fleetSite{s: s, f: f, clock: clock, url: srv.URL, c: c, colls: cred.FleetCollections}
}

// fleetRelease is release(k) to a fleet ring's collection.
func (fs fleetSite) release(t *testing.T, k connectors.ReleaseKey, corr string) connectors.Release {
	r := release(t, k, corr)
	id := fs.colls[fleet.RingGroup(int(k.Ring))]
	if id == "" {
		t.Fatalf("no collection for %s in %v", fleet.RingGroup(int(k.Ring)), fs.colls)
	}
	r.Targets = []connectors.Target{{ID: id, Name: fleet.RingGroup(int(k.Ring))}}
	return r
}

func (fs fleetSite) query(t *testing.T, k connectors.ReleaseKey) connectors.Status {
	t.Helper()
	st, err := fs.c.Query(ctx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// check compares a release's status with what the fleet says a ring's
// devices report for an order.
func (fs fleetSite) check(t *testing.T, k connectors.ReleaseKey, o fleet.Order) connectors.Status {
	t.Helper()
	now := fs.clock.Now()
	want := fs.f.Expect(fleet.RingGroup(int(k.Ring)), o, now)
	st := fs.query(t, k)
	sum := st.Summary
	if sum.Pending != want.Pending || sum.Installed != want.Installed || sum.Failed != want.Failed || sum.NotInstalled != want.Uninstalled {
		t.Fatalf("%s at +%s: %+v, want %+v", k, now.Sub(fleetStart), sum, want)
	}
	for _, d := range st.Devices {
		id, _ := strconv.ParseInt(d.DeviceID, 10, 64)
		r := fs.f.Result(fs.f.Device(int(id-sccmsim.FleetResourceBase)).ID, o, now)
		if !d.At.Equal(r.At.Truncate(time.Microsecond)) && r.Done {
			t.Fatalf("device %s reports at %s, its check-in was %s", d.DeviceID, d.At, r.At)
		}
		if d.State == connectors.StateFailed && (d.ErrorCode != -2147023293 || d.Detail != "deployment failed") {
			t.Fatalf("failed device %+v", d)
		}
	}
	return st
}

// TestSimFleetQuery publishes through the connector to a fleet
// collection of 50 devices and follows them through their check-ins,
// a rate raised over the admin API, an uninstall and a redeploy.
func TestSimFleetQuery(t *testing.T) {
	fs := startFleet(t, 500)
	k2 := key("com.acme.ledger", "2.0", deploy.Ring2Pilot)
	fs.f.SetRate(k2.App, "", 0.3, time.Time{})
	r2 := fs.release(t, k2, "corr-r2")
	mustPublish(t, fs.c, r2)
	install := fleet.Order{Install: true, App: k2.App, Version: k2.Version, Attempt: 1, Since: fs.clock.Now()}
	if st := fs.check(t, k2, install); st.Summary.Pending != 50 {
		t.Fatalf("right after publish: %+v", st.Summary)
	}
	fs.clock.Advance(3 * time.Hour)
	fs.check(t, k2, install)
	fs.clock.Advance(6 * time.Hour)
	before := fs.check(t, k2, install).Summary
	if before.Pending != 0 || before.Failed == 0 {
		t.Fatalf("9 hours on: %+v", before)
	}

	// The rate of 2.0 goes to 1 through the admin API: ring 3 fails,
	// ring 2 keeps what it reported.
	resp, err := http.Post(fs.url+fleet.AdminPath+"/failure-rate", "application/json", strings.NewReader(`{"app": "com.acme.ledger", "version": "2.0", "rate": 1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("raising the rate: %v %v", resp, err)
	}
	resp.Body.Close()
	k3 := key("com.acme.ledger", "2.0", deploy.Ring3Department)
	mustPublish(t, fs.c, fs.release(t, k3, "corr-r3"))
	fs.clock.Advance(9 * time.Hour)
	if st := fs.query(t, k3); st.Summary.Failed != 175 {
		t.Errorf("ring 3 after the raise: %+v", st.Summary)
	}
	if st := fs.query(t, k2); st.Summary != before {
		t.Errorf("ring 2 after the raise: %+v, was %+v", st.Summary, before)
	}

	// Uninstall: in progress until each device checks in, then gone.
	if _, err := fs.c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r2}); err != nil {
		t.Fatal(err)
	}
	uninstall := fleet.Order{Since: fs.clock.Now()}
	fs.clock.Advance(2 * time.Hour)
	if st := fs.check(t, k2, uninstall); st.Summary.NotInstalled == 0 || st.Summary.Pending == 0 {
		t.Errorf("2 hours into the uninstall: %+v", st.Summary)
	}
	fs.clock.Advance(7 * time.Hour)
	if st := fs.check(t, k2, uninstall); st.Summary.NotInstalled != 50 || len(st.Assigned) != 0 {
		t.Errorf("after the uninstall: %+v assigned %v", st.Summary, st.Assigned)
	}

	// Redeploy: a new install deployment the clients are told to
	// evaluate again (a second attempt), at the rate of 1 now in force.
	if _, err := fs.c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: r2}); err != nil {
		t.Fatal(err)
	}
	redeploy := fleet.Order{Install: true, App: k2.App, Version: k2.Version, Attempt: 2, Since: fs.clock.Now()}
	fs.clock.Advance(9 * time.Hour)
	if st := fs.check(t, k2, redeploy); st.Summary.Failed != 50 {
		t.Errorf("after the redeploy: %+v", st.Summary)
	}
}

// TestSimFleetPinPrior pins ring 1 back to 1.0 before its devices check
// in for 2.0: none installs 2.0, the prior stays installed.
func TestSimFleetPinPrior(t *testing.T) {
	fs := startFleet(t, 500)
	k1 := key("com.acme.ledger", "1.0", deploy.Ring1Canary)
	k2 := key("com.acme.ledger", "2.0", deploy.Ring1Canary)
	mustPublish(t, fs.c, fs.release(t, k1, "corr-v1"))
	fs.clock.Advance(9 * time.Hour)
	if st := fs.query(t, k1); st.Summary.Installed != 20 {
		t.Fatalf("1.0 on ring 1: %+v", st.Summary)
	}
	r := fs.release(t, k2, "corr-v2")
	r.Prior = &k1
	mustPublish(t, fs.c, r)
	if st := fs.query(t, k2); st.Summary.Pending != 20 {
		t.Fatalf("2.0 right after publish: %+v", st.Summary)
	}
	if _, err := fs.c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: r}); err != nil {
		t.Fatal(err)
	}
	fs.clock.Advance(9 * time.Hour)
	if st := fs.query(t, k2); len(st.Devices) != 0 || len(st.Assigned) != 0 {
		t.Errorf("2.0 after the pin: %+v assigned %v, want no deployment", st.Summary, st.Assigned)
	}
	if st := fs.query(t, k1); st.Summary.Installed != 20 || len(st.Assigned) != 1 {
		t.Errorf("1.0 after the pin: %+v assigned %v", st.Summary, st.Assigned)
	}
}

// TestSimFleetScale reads a deployment to ring 3 of 50,000 devices
// (17,500, 350 pages of 50): each page renders its own rows only.
func TestSimFleetScale(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 devices")
	}
	fs := startFleet(t, 50000)
	k := key("com.acme.ledger", "2.0", deploy.Ring3Department)
	fs.f.SetRate(k.App, "", 0.1, time.Time{})
	mustPublish(t, fs.c, fs.release(t, k, "corr-scale"))
	o := fleet.Order{Install: true, App: k.App, Version: k.Version, Attempt: 1, Since: fs.clock.Now()}
	fs.clock.Advance(4 * time.Hour)
	if st := fs.check(t, k, o); len(st.Devices) != 17500 {
		t.Errorf("%d devices", len(st.Devices))
	}
}
