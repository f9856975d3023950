package jamf_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/jamf"
	"github.com/eucora/eucora/connectors/jamf/jamfsim"
	"github.com/eucora/eucora/connectors/sim/fleet"
	"github.com/eucora/eucora/deploy"
)

var fleetStart = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

type fleetPro struct {
	f     *fleet.Fleet
	clock *fleet.Clock
	url   string
	c     *jamf.Connector
}

// startFleet runs Jamf Pro over a generated fleet of n computers (n=500:
// ring-2 holds 50) on a fake clock.
func startFleet(t *testing.T, n int) fleetPro {
	t.Helper()
	f, err := fleet.Generate(fleet.GenerateOptions{N: n, Seed: 19, Platform: fleet.MacOS, Sites: []string{"hq", "lyon"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := fleet.NewClock(fleetStart)
	s := jamfsim.New(jamfsim.Options{Fleet: f, Now: clock.Now, TokenLifetime: 10000 * time.Hour})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cr := s.Credentials()
	c, err := jamf.NewConnector(jamf.Config{BaseURL: srv.URL, ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return fleetPro{f: f, clock: clock, url: srv.URL, c: c}
}

func (fp fleetPro) release(t *testing.T, k connectors.ReleaseKey, corr string) connectors.Release {
	r := release(t, k, corr)
	id := slices.Index(fp.f.Groups(), fleet.RingGroup(int(k.Ring))) + 1
	r.Targets = []connectors.Target{{ID: strconv.Itoa(id), Name: fleet.RingGroup(int(k.Ring))}}
	return r
}

func (fp fleetPro) query(t *testing.T, k connectors.ReleaseKey) connectors.Status {
	t.Helper()
	st, err := fp.c.Query(ctx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// check compares a release's status with what the fleet says a ring's
// computers report for an order.
func (fp fleetPro) check(t *testing.T, k connectors.ReleaseKey, o fleet.Order) connectors.Status {
	t.Helper()
	now := fp.clock.Now()
	want := fp.f.Expect(fleet.RingGroup(int(k.Ring)), o, now)
	st := fp.query(t, k)
	sum := st.Summary
	if sum.Pending != want.Pending || sum.Installed != want.Installed || sum.Failed != want.Failed || sum.NotInstalled != want.Uninstalled {
		t.Fatalf("%s at +%s: %+v, want %+v", k, now.Sub(fleetStart), sum, want)
	}
	for _, d := range st.Devices {
		id, _ := strconv.Atoi(d.DeviceID)
		r := fp.f.Result(fp.f.Device(id-1).ID, o, now)
		if r.Done && !d.At.Equal(r.At) {
			t.Fatalf("computer %s reports at %s, its check-in was %s", d.DeviceID, d.At, r.At)
		}
		if d.State == connectors.StateFailed && d.Detail != "policy failed" {
			t.Fatalf("failed computer %+v", d)
		}
	}
	return st
}

// TestSimFleetQuery publishes through the connector to a fleet group of
// 50 computers and follows their policy logs through their check-ins, a
// rate raised over the admin API, an uninstall and a redeploy.
func TestSimFleetQuery(t *testing.T) {
	fp := startFleet(t, 500)
	k2 := key("com.acme.ledger", "2.0", deploy.Ring2Pilot)
	fp.f.SetRate(k2.App, "", 0.3, time.Time{})
	r2 := fp.release(t, k2, "corr-r2")
	if _, err := fp.c.Publish(ctx(t), r2); err != nil {
		t.Fatal(err)
	}
	install := fleet.Order{Install: true, App: k2.App, Version: k2.Version, Attempt: 1, Since: fp.clock.Now()}
	if st := fp.check(t, k2, install); st.Summary.Pending != 50 {
		t.Fatalf("right after publish: %+v", st.Summary)
	}
	fp.clock.Advance(3 * time.Hour)
	fp.check(t, k2, install)
	fp.clock.Advance(6 * time.Hour)
	before := fp.check(t, k2, install).Summary
	if before.Pending != 0 || before.Failed == 0 {
		t.Fatalf("9 hours on: %+v", before)
	}

	resp, err := http.Post(fp.url+fleet.AdminPath+"/failure-rate", "application/json", strings.NewReader(`{"app": "com.acme.ledger", "version": "2.0", "rate": 1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("raising the rate: %v %v", resp, err)
	}
	resp.Body.Close()
	k3 := key("com.acme.ledger", "2.0", deploy.Ring3Department)
	if _, err := fp.c.Publish(ctx(t), fp.release(t, k3, "corr-r3")); err != nil {
		t.Fatal(err)
	}
	fp.clock.Advance(9 * time.Hour)
	if st := fp.query(t, k3); st.Summary.Failed != 175 {
		t.Errorf("ring 3 after the raise: %+v", st.Summary)
	}
	if st := fp.query(t, k2); st.Summary != before {
		t.Errorf("ring 2 after the raise: %+v, was %+v", st.Summary, before)
	}

	if _, err := fp.c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r2}); err != nil {
		t.Fatal(err)
	}
	uninstall := fleet.Order{Since: fp.clock.Now()}
	fp.clock.Advance(2 * time.Hour)
	if st := fp.check(t, k2, uninstall); st.Summary.NotInstalled == 0 || st.Summary.Pending == 0 {
		t.Errorf("2 hours into the uninstall: %+v", st.Summary)
	}
	fp.clock.Advance(7 * time.Hour)
	if st := fp.check(t, k2, uninstall); st.Summary.NotInstalled != 50 {
		t.Errorf("after the uninstall: %+v", st.Summary)
	}

	// Redeploy flushes the ring policy's logs: a second run, at the rate
	// of 1 now in force.
	if _, err := fp.c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: r2}); err != nil {
		t.Fatal(err)
	}
	redeploy := fleet.Order{Install: true, App: k2.App, Version: k2.Version, Attempt: 2, Since: fp.clock.Now()}
	fp.clock.Advance(9 * time.Hour)
	if st := fp.check(t, k2, redeploy); st.Summary.Failed != 50 {
		t.Errorf("after the redeploy: %+v", st.Summary)
	}
}

// TestSimFleetPinPrior repoints ring 1's policy at 2.0 and back to 1.0
// before its computers check in: they run 1.0 again, and 2.0 reaches
// none.
func TestSimFleetPinPrior(t *testing.T) {
	fp := startFleet(t, 500)
	k1 := key("com.acme.ledger", "1.0", deploy.Ring1Canary)
	k2 := key("com.acme.ledger", "2.0", deploy.Ring1Canary)
	if _, err := fp.c.Publish(ctx(t), fp.release(t, k1, "corr-v1")); err != nil {
		t.Fatal(err)
	}
	fp.clock.Advance(9 * time.Hour)
	if st := fp.query(t, k1); st.Summary.Installed != 20 {
		t.Fatalf("1.0 on ring 1: %+v", st.Summary)
	}
	r := fp.release(t, k2, "corr-v2")
	r.Prior = &k1
	if _, err := fp.c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if st := fp.query(t, k2); st.Summary.Pending != 20 {
		t.Fatalf("2.0 right after publish: %+v", st.Summary)
	}
	if _, err := fp.c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: r}); err != nil {
		t.Fatal(err)
	}
	pinned := fleet.Order{Install: true, App: k1.App, Version: k1.Version, Attempt: 2, Since: fp.clock.Now()}
	fp.clock.Advance(9 * time.Hour)
	if st := fp.query(t, k2); len(st.Devices) != 0 || len(st.Assigned) != 0 {
		t.Errorf("2.0 after the pin: %+v assigned %v", st.Summary, st.Assigned)
	}
	if st := fp.check(t, k1, pinned); st.Summary.Installed != 20 {
		t.Errorf("1.0 after the pin: %+v", st.Summary)
	}
}

// TestSimFleetScale runs 50,000 computers and reads a release on ring 2's
// 5,000 (a history read each, as the connector reads them).
func TestSimFleetScale(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 computers")
	}
	fp := startFleet(t, 50000)
	k := key("com.acme.ledger", "2.0", deploy.Ring2Pilot)
	fp.f.SetRate(k.App, "", 0.1, time.Time{})
	if _, err := fp.c.Publish(ctx(t), fp.release(t, k, "corr-scale")); err != nil {
		t.Fatal(err)
	}
	o := fleet.Order{Install: true, App: k.App, Version: k.Version, Attempt: 1, Since: fp.clock.Now()}
	fp.clock.Advance(4 * time.Hour)
	if st := fp.check(t, k, o); len(st.Devices) != 5000 {
		t.Errorf("%d devices", len(st.Devices))
	}
}
