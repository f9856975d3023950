package landscape_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/landscape"
	"github.com/eucora/eucora/connectors/landscape/landscapesim"
	"github.com/eucora/eucora/connectors/sim/fleet"
	"github.com/eucora/eucora/deploy"
)

var fleetStart = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

type fleetLandscape struct {
	f     *fleet.Fleet
	clock *fleet.Clock
	url   string
	c     *landscape.Client
}

// startFleet runs Landscape over a generated fleet of n computers (n=500:
// ring-2 holds 50) on a fake clock, with a connector signing by it.
func startFleet(t *testing.T, n int) fleetLandscape {
	t.Helper()
	f, err := fleet.Generate(fleet.GenerateOptions{N: n, Seed: 23, Platform: fleet.Linux, Sites: []string{"hq", "lyon"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := fleet.NewClock(fleetStart)
	_, url, mk := startSim(t, landscapesim.Options{Fleet: f, Now: clock.Now},
		func(c *landscape.Config) { c.PageSize, c.Now = 0, clock.Now })
	return fleetLandscape{f: f, clock: clock, url: url, c: mk()}
}

// release is a release of the package "ledger" for the application
// com.acme.ledger to a fleet ring's tag.
func (fl fleetLandscape) release(k connectors.ReleaseKey, corr string) connectors.Release {
	r := release(k, corr)
	r.Install.Detection.PackageName = "ledger"
	r.Targets = []connectors.Target{{ID: fleet.RingGroup(int(k.Ring))}}
	return r
}

func (fl fleetLandscape) ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func (fl fleetLandscape) query(t *testing.T, k connectors.ReleaseKey) connectors.Status {
	t.Helper()
	st, err := fl.c.Query(fl.ctx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// check compares a release's status with what the fleet says a ring's
// computers report for an order.
func (fl fleetLandscape) check(t *testing.T, k connectors.ReleaseKey, o fleet.Order) connectors.Status {
	t.Helper()
	now := fl.clock.Now()
	want := fl.f.Expect(fleet.RingGroup(int(k.Ring)), o, now)
	st := fl.query(t, k)
	sum := st.Summary
	if sum.Pending != want.Pending || sum.Installed != want.Installed || sum.Failed != want.Failed || sum.NotInstalled != want.Uninstalled {
		t.Fatalf("%s at +%s: %+v, want %+v", k, now.Sub(fleetStart), sum, want)
	}
	for _, d := range st.Devices {
		id, _ := strconv.Atoi(d.DeviceID)
		r := fl.f.Result(fl.f.Device(id-1).ID, o, now)
		if r.Done && !d.At.Equal(r.At) {
			t.Fatalf("computer %s reports at %s, its check-in was %s", d.DeviceID, d.At, r.At)
		}
		if d.State == connectors.StateFailed && (d.ErrorCode != 100 || !strings.Contains(d.Detail, "dpkg returned an error code")) {
			t.Fatalf("failed computer %+v", d)
		}
	}
	return st
}

// TestSimFleetQuery publishes through the connector to a fleet tag of 50
// computers and follows their activities through their check-ins, a
// rate raised over the admin API, an uninstall and a redeploy.
func TestSimFleetQuery(t *testing.T) {
	fl := startFleet(t, 500)
	k2 := key("com.acme.ledger", "2.0", deploy.Ring2Pilot)
	fl.f.SetRate(k2.App, "", 0.3, time.Time{})
	r2 := fl.release(k2, "corr-r2")
	if _, err := fl.c.Publish(fl.ctx(t), r2); err != nil {
		t.Fatal(err)
	}
	install := fleet.Order{Install: true, App: k2.App, Version: k2.Version, Attempt: 1, Since: fl.clock.Now()}
	if st := fl.check(t, k2, install); st.Summary.Pending != 50 {
		t.Fatalf("right after publish: %+v", st.Summary)
	}
	fl.clock.Advance(3 * time.Hour)
	fl.check(t, k2, install)
	fl.clock.Advance(6 * time.Hour)
	before := fl.check(t, k2, install).Summary
	if before.Pending != 0 || before.Failed == 0 {
		t.Fatalf("9 hours on: %+v", before)
	}

	resp, err := http.Post(fl.url+fleet.AdminPath+"/failure-rate", "application/json", strings.NewReader(`{"app": "com.acme.ledger", "version": "2.0", "rate": 1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("raising the rate: %v %v", resp, err)
	}
	resp.Body.Close()
	k3 := key("com.acme.ledger", "2.0", deploy.Ring3Department)
	if _, err := fl.c.Publish(fl.ctx(t), fl.release(k3, "corr-r3")); err != nil {
		t.Fatal(err)
	}
	fl.clock.Advance(9 * time.Hour)
	if st := fl.query(t, k3); st.Summary.Failed != 175 {
		t.Errorf("ring 3 after the raise: %+v", st.Summary)
	}
	if st := fl.query(t, k2); st.Summary != before {
		t.Errorf("ring 2 after the raise: %+v, was %+v", st.Summary, before)
	}

	if _, err := fl.c.Remediate(fl.ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r2}); err != nil {
		t.Fatal(err)
	}
	uninstall := fleet.Order{Since: fl.clock.Now()}
	fl.clock.Advance(2 * time.Hour)
	if st := fl.check(t, k2, uninstall); st.Summary.NotInstalled == 0 || st.Summary.Pending == 0 {
		t.Errorf("2 hours into the uninstall: %+v", st.Summary)
	}
	fl.clock.Advance(7 * time.Hour)
	if st := fl.check(t, k2, uninstall); st.Summary.NotInstalled != 50 {
		t.Errorf("after the uninstall: %+v", st.Summary)
	}

	// Redeploy runs the version's script: a second install attempt, at
	// the rate of 1 now in force.
	if _, err := fl.c.Remediate(fl.ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: r2}); err != nil {
		t.Fatal(err)
	}
	redeploy := fleet.Order{Install: true, App: k2.App, Version: k2.Version, Attempt: 2, Since: fl.clock.Now()}
	fl.clock.Advance(9 * time.Hour)
	if st := fl.check(t, k2, redeploy); st.Summary.Failed != 50 {
		t.Errorf("after the redeploy: %+v", st.Summary)
	}
}

// TestSimFleetPinPrior pins ring 1 back to 1.0: its computers downgrade
// at their next check-in.
func TestSimFleetPinPrior(t *testing.T) {
	fl := startFleet(t, 500)
	k1 := key("com.acme.ledger", "1.0", deploy.Ring1Canary)
	k2 := key("com.acme.ledger", "2.0", deploy.Ring1Canary)
	if _, err := fl.c.Publish(fl.ctx(t), fl.release(k1, "corr-v1")); err != nil {
		t.Fatal(err)
	}
	fl.clock.Advance(9 * time.Hour)
	if st := fl.query(t, k1); st.Summary.Installed != 20 {
		t.Fatalf("1.0 on ring 1: %+v", st.Summary)
	}
	r := fl.release(k2, "corr-v2")
	r.Prior = &k1
	if _, err := fl.c.Publish(fl.ctx(t), r); err != nil {
		t.Fatal(err)
	}
	fl.clock.Advance(9 * time.Hour)
	if st := fl.query(t, k2); st.Summary.Installed != 20 {
		t.Fatalf("2.0 on ring 1: %+v", st.Summary)
	}
	if _, err := fl.c.Remediate(fl.ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: r}); err != nil {
		t.Fatal(err)
	}
	pinned := fleet.Order{Install: true, App: k1.App, Version: k1.Version, Attempt: 2, Since: fl.clock.Now()}
	if st := fl.query(t, k1); st.Summary.Pending != 20 {
		t.Errorf("1.0 right after the pin: %+v, want the downgrade pending", st.Summary)
	}
	fl.clock.Advance(9 * time.Hour)
	if st := fl.query(t, k2); st.Summary.NotInstalled != 20 {
		t.Errorf("2.0 after the pin: %+v", st.Summary)
	}
	if st := fl.check(t, k1, pinned); st.Summary.Installed != 20 {
		t.Errorf("1.0 after the pin: %+v", st.Summary)
	}
}

// TestSimFleetScale runs 50,000 computers and reads a release on ring 2's
// 5,000.
func TestSimFleetScale(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 computers")
	}
	fl := startFleet(t, 50000)
	k := key("com.acme.ledger", "2.0", deploy.Ring2Pilot)
	fl.f.SetRate(k.App, "", 0.1, time.Time{})
	if _, err := fl.c.Publish(fl.ctx(t), fl.release(k, "corr-scale")); err != nil {
		t.Fatal(err)
	}
	o := fleet.Order{Install: true, App: k.App, Version: k.Version, Attempt: 1, Since: fl.clock.Now()}
	fl.clock.Advance(4 * time.Hour)
	if st := fl.check(t, k, o); len(st.Devices) != 5000 {
		t.Errorf("%d devices", len(st.Devices))
	}
}
