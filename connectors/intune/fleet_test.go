package intune_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/intune"
	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/connectors/sim/fleet"
	"github.com/eucora/eucora/deploy"
)

var fleetStart = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// startFleet runs a simulator over a generated fleet of n devices (n=500:
// ring-2 holds 50) on a fake clock, with a connector on the same clock.
func startFleet(t *testing.T, n int) (*intunesim.Server, *fleet.Fleet, *fleet.Clock, string, connectors.Connector) {
	t.Helper()
	f, err := fleet.Generate(fleet.GenerateOptions{N: n, Seed: 13, Sites: []string{"hq", "lyon"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := fleet.NewClock(fleetStart)
	s, srv, mk := startSim(t, intunesim.Options{Fleet: f, Now: clock.Now}, func(c *intune.Config) { c.Now = clock.Now })
	return s, f, clock, srv.URL, mk()
}

// fleetRelease is release(k) to a fleet ring's group.
func fleetRelease(k connectors.ReleaseKey, corr string) connectors.Release {
	r := release(k, corr)
	r.Targets = []connectors.Target{{ID: fleet.RingGroup(int(k.Ring))}}
	return r
}

func query(t *testing.T, c connectors.Connector, k connectors.ReleaseKey) connectors.Status {
	t.Helper()
	st, err := c.Query(ctx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSimFleetQuery publishes to a fleet group of 50 devices through the
// connector and checks Query reports each device pending until its
// check-in, then installed or failed as the fleet decides, at the
// check-in's time.
func TestSimFleetQuery(t *testing.T) {
	_, f, clock, _, c := startFleet(t, 500)
	k := key("com.acme.ledger", "2.0", deploy.Ring2Pilot)
	if err := f.SetRate(k.App, "", 0.3, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx(t), fleetRelease(k, "corr-fleet")); err != nil {
		t.Fatal(err)
	}
	since := clock.Now()
	order := fleet.Order{Install: true, App: k.App, Version: k.Version, Attempt: 1, Since: since}
	if st := query(t, c, k); st.Summary.Pending != 50 || len(st.Devices) != 50 {
		t.Fatalf("right after publish: %+v (%d devices), want 50 pending", st.Summary, len(st.Devices))
	}
	for _, step := range []time.Duration{3 * time.Hour, 6 * time.Hour} {
		clock.Advance(step)
		want := f.Expect("ring-2", order, clock.Now())
		st := query(t, c, k)
		if st.Summary.Pending != want.Pending || st.Summary.Installed != want.Installed || st.Summary.Failed != want.Failed {
			t.Fatalf("at +%s: %+v, want %+v", clock.Now().Sub(since), st.Summary, want)
		}
		for _, d := range st.Devices {
			r := f.Result(d.DeviceID, order, clock.Now())
			wantState := map[bool]connectors.InstallState{false: connectors.StateInstalled, true: connectors.StateFailed}[r.Failed]
			if !r.Done {
				wantState = connectors.StatePending
			}
			if d.State != wantState || !d.At.Equal(r.At) {
				t.Fatalf("device %s: %s at %s, want %s at %s", d.DeviceID, d.State, d.At, wantState, r.At)
			}
			if d.State == connectors.StateFailed && (d.ErrorCode != -2147023293 || d.Detail != "seeInstallErrorCode") {
				t.Errorf("failed device %s reports %d %q", d.DeviceID, d.ErrorCode, d.Detail)
			}
		}
	}
	if want := f.Expect("ring-2", order, clock.Now()); want.Pending != 0 || want.Failed < 5 || want.Failed > 25 {
		t.Errorf("after 9 hours: %+v, want every device done and about 15 failed", want)
	}
}

// TestSimFleetRaiseRate raises the rate through the admin endpoint mid
// rollout: ring 2 installed before stays installed, ring 3 fails.
func TestSimFleetRaiseRate(t *testing.T) {
	_, f, clock, url, c := startFleet(t, 500)
	k2 := key("com.acme.ledger", "2.0", deploy.Ring2Pilot)
	if _, err := c.Publish(ctx(t), fleetRelease(k2, "corr-r2")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Hour)
	if st := query(t, c, k2); st.Summary.Installed != 50 {
		t.Fatalf("ring 2 at rate 0: %+v", st.Summary)
	}
	resp, err := http.Post(url+fleet.AdminPath+"/failure-rate", "application/json", strings.NewReader(`{"app": "com.acme.ledger", "version": "2.0", "rate": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	var ans fleet.RateAnswer
	json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if resp.StatusCode != 200 || !ans.From.Equal(clock.Now()) {
		t.Fatalf("raising the rate: %d %+v", resp.StatusCode, ans)
	}
	k3 := key("com.acme.ledger", "2.0", deploy.Ring3Department)
	if _, err := c.Publish(ctx(t), fleetRelease(k3, "corr-r3")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Hour)
	st := query(t, c, k3)
	if st.Summary.Installed != 0 || st.Summary.Failed != 175 || st.Summary.Pending != 0 {
		t.Errorf("after the raise: %+v, want ring 3's 175 failed (Query reports the ring's devices only)", st.Summary)
	}

	// The fault is fixed (the version's rate back to 0) and ring 3
	// redeployed: a second attempt on every device, which now succeeds.
	if err := f.SetRate("com.acme.ledger", "2.0", 0, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: fleetRelease(k3, "corr-r3")}); err != nil {
		t.Fatal(err)
	}
	if st := query(t, c, k3); st.Summary.Pending != 175 {
		t.Errorf("right after the redeploy: %+v, want ring 3's 175 pending", st.Summary)
	}
	clock.Advance(9 * time.Hour)
	if st := query(t, c, k3); st.Summary.Installed != 175 || st.Summary.Failed != 0 {
		t.Errorf("after the redeploy: %+v, want ring 3's 175 installed", st.Summary)
	}
}

// TestSimFleetUninstall uninstalls a release and pins the prior back:
// devices report not installed at their next check-in, and the prior is
// installed on them; a release whose assignment goes before the devices
// check in is never installed.
func TestSimFleetUninstall(t *testing.T) {
	_, f, clock, _, c := startFleet(t, 500)
	k2 := key("com.acme.ledger", "2.0", deploy.Ring2Pilot)
	r2 := fleetRelease(k2, "corr-v2")
	r2.Install.UninstallCommand = "msiexec /x {" + k2.AppKey().UUID() + "} /qn"
	if _, err := c.Publish(ctx(t), r2); err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Hour)
	if st := query(t, c, k2); st.Summary.Installed != 50 {
		t.Fatalf("before uninstall: %+v", st.Summary)
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r2}); err != nil {
		t.Fatal(err)
	}
	since := clock.Now()
	clock.Advance(2 * time.Hour)
	want := f.Expect("ring-2", fleet.Order{Since: since}, clock.Now())
	st := query(t, c, k2)
	if st.Summary.NotInstalled != want.Uninstalled || st.Summary.Installed != want.Pending || want.Pending == 0 || want.Uninstalled == 0 {
		t.Errorf("2 hours after uninstall: %+v, want %d not installed and %d still installed", st.Summary, want.Uninstalled, want.Pending)
	}
	clock.Advance(7 * time.Hour)
	if st := query(t, c, k2); st.Summary.NotInstalled != 50 || len(st.Assigned) != 0 {
		t.Errorf("9 hours after uninstall: %+v assigned %v", st.Summary, st.Assigned)
	}

	// Version 1.0 on ring 0; then 2.0 to ring 1, pinned back to 1.0
	// before any device of ring 1 checks in: none installs 2.0, all
	// install 1.0.
	k1r0 := key("com.acme.ledger", "1.0", deploy.Ring0Lab)
	k1r1 := key("com.acme.ledger", "1.0", deploy.Ring1Canary)
	k2r1 := key("com.acme.ledger", "2.0", deploy.Ring1Canary)
	if _, err := c.Publish(ctx(t), fleetRelease(k1r0, "corr-v1")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Hour)
	r := fleetRelease(k2r1, "corr-v2r1")
	r.Prior = &k1r1
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: r}); err != nil {
		t.Fatal(err)
	}
	if st := query(t, c, k1r1); st.Summary.Installed != 0 || st.Summary.Pending != 20 {
		t.Errorf("1.0 right after the pin: %+v, want ring 1's 20 pending", st.Summary)
	}
	clock.Advance(9 * time.Hour)
	if st := query(t, c, k2r1); st.Summary.Installed != 0 || st.Summary.Pending != 0 || st.Summary.NotInstalled != 20 || len(st.Assigned) != 0 {
		t.Errorf("2.0 pinned away from ring 1: %+v assigned %v, want ring 1's 20 (never installed) not installed", st.Summary, st.Assigned)
	}
	if st := query(t, c, k1r1); st.Summary.Installed != 20 || st.Summary.Pending != 0 {
		t.Errorf("1.0 pinned back on ring 1: %+v, want ring 1's 20 installed", st.Summary)
	}
}

// TestSimFleetScale runs a simulator of 50,000 devices and reads the
// status of a release assigned to ring 3's 17,500 through the connector
// (175 pages: each renders its own 100 devices only).
func TestSimFleetScale(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 devices")
	}
	_, f, clock, _, c := startFleet(t, 50000)
	k := key("com.acme.ledger", "2.0", deploy.Ring3Department)
	f.SetRate(k.App, "", 0.1, time.Time{})
	if _, err := c.Publish(ctx(t), fleetRelease(k, "corr-scale")); err != nil {
		t.Fatal(err)
	}
	order := fleet.Order{Install: true, App: k.App, Version: k.Version, Attempt: 1, Since: clock.Now()}
	clock.Advance(4 * time.Hour)
	want := f.Expect("ring-3", order, clock.Now())
	st := query(t, c, k)
	if len(st.Devices) != 17500 || st.Summary.Pending != want.Pending || st.Summary.Installed != want.Installed || st.Summary.Failed != want.Failed {
		t.Errorf("%d devices %+v, want %+v", len(st.Devices), st.Summary, want)
	}
}
