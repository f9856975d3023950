package landscape_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/landscape"
	"github.com/eucora/eucora/connectors/landscape/landscapesim"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
)

func key(app, version string, ring deploy.Ring) connectors.ReleaseKey {
	return connectors.ReleaseKey{App: app, Version: version, Ring: ring, Scope: deploy.Scope{Acquisition: "acme", BU: "finance"}}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func class(t *testing.T, err error) *connectors.Error {
	t.Helper()
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a *connectors.Error, got %v", err)
	}
	return ce
}

// settle reads the release until no device is pending (the simulator
// moves activities on as they are read).
func settle(t *testing.T, c connectors.Connector, k connectors.ReleaseKey) connectors.Status {
	t.Helper()
	for range 10 {
		st, err := c.Query(ctx(t), k)
		if err != nil {
			t.Fatalf("query %s: %v", k, err)
		}
		if st.Summary.Pending == 0 {
			return st
		}
	}
	t.Fatalf("%s: devices still pending after 10 reads", k)
	return connectors.Status{}
}

func groups(s *landscapesim.Server, action string) []landscapesim.GroupState {
	var out []landscapesim.GroupState
	for _, g := range s.Groups() {
		if g.Action == action {
			out = append(out, g)
		}
	}
	return out
}

func TestPublishInstallsPinnedVersionAndReportsDevices(t *testing.T) {
	s, _, mk := startSim(t, landscapesim.Options{}, nil)
	s.SetOutcome("canary-2", landscapesim.Outcome{Status: "failed", ResultCode: 100, ResultText: "E: Unable to fetch some archives"})
	c := mk()
	r := release(key("notepad", "1.2.0", deploy.Ring1Canary), "corr-1")
	pub, err := c.Publish(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Created != 3 || pub.Handle == "" || len(pub.Objects) != 3 {
		t.Fatalf("publication %+v", pub)
	}
	ps := s.Profiles()
	if len(ps) != 1 || !slices.Equal(ps[0].Tags, []string{"canary"}) || !slices.Equal(ps[0].Constraints, []string{"depends notepad = 1.2.0"}) {
		t.Fatalf("profiles %+v", ps)
	}
	if !strings.HasPrefix(ps[0].Description, "eucora:correlation=corr-1 release=notepad@1.2.0/ring-1/acquisition=acme,bu=finance package=notepad targets=canary") {
		t.Errorf("description %q", ps[0].Description)
	}
	if g := groups(s, "InstallPackages"); len(g) != 1 || g[0].Query != "tag:canary" || g[0].Packages != "notepad" {
		t.Errorf("install groups %+v", g)
	}

	first, err := c.Query(ctx(t), r.Key)
	if err != nil {
		t.Fatal(err)
	}
	if first.Summary.Pending != 2 || !slices.Equal(first.Assigned, []string{"canary"}) {
		t.Errorf("first read: %+v", first)
	}
	st := settle(t, c, r.Key)
	if st.Summary.Installed != 1 || st.Summary.Failed != 1 || len(st.Devices) != 2 {
		t.Fatalf("settled: %+v", st)
	}
	if d := st.Devices[1]; d.Device != "canary-2" || d.State != connectors.StateFailed || d.ErrorCode != 100 || !strings.Contains(d.Detail, "Unable to fetch") || d.At.IsZero() {
		t.Errorf("failed device %+v", d)
	}
	if d := st.Devices[0]; d.Device != "canary-1" || d.State != connectors.StateInstalled {
		t.Errorf("installed device %+v", d)
	}
	for _, comp := range s.Computers() {
		if comp.Hostname == "canary-1" && comp.Installed["notepad"] != "1.2.0" {
			t.Errorf("canary-1 has %v", comp.Installed)
		}
	}

	// Job reads the same group by its handle.
	devs, err := c.Job(ctx(t), pub.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || devs[0].State != connectors.StateInstalled || devs[1].State != connectors.StateFailed {
		t.Errorf("job %s: %+v", pub.Handle, devs)
	}

	// A publish after the install finished (one computer failed) starts
	// no new install: the succeeded child stands.
	again, err := c.Publish(ctx(t), r)
	if err != nil || again.Created != 0 || again.Handle != pub.Handle {
		t.Errorf("publish again: %+v, %v", again, err)
	}
}

// The association's answer is lost: the retry finds the tag associated
// and the install started, or starts it, never twice.
func TestLostAnswersStartOneInstall(t *testing.T) {
	for _, step := range []string{"POST /api/CreatePackageProfile", "POST /api/AssociatePackageProfile", "POST /api/InstallPackages", "POST /api/CreateScript"} {
		t.Run(strings.TrimPrefix(step, "POST /api/"), func(t *testing.T) {
			s, _, mk := startSim(t, landscapesim.Options{}, nil)
			r := release(key("lost", "1.0", deploy.Ring2Pilot), "corr-lost")
			s.Faults().Add(sim.Fault{Match: step, Count: 1, DropAfterHandle: true})
			if _, err := mk().Publish(ctx(t), r); class(t, err).Class != connectors.Transient {
				t.Fatalf("lost answer: %v", err)
			}
			pub, err := mk().Publish(ctx(t), r)
			if err != nil {
				t.Fatal(err)
			}
			if g := groups(s, "InstallPackages"); len(g) != 1 || pub.Handle != itoa(g[0].ID) {
				t.Errorf("install groups %+v, handle %s", g, pub.Handle)
			}
			if o, a := s.Count(r.Key); o != 1 || a != 1 {
				t.Errorf("count %d %d", o, a)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A failed install is retried by the next publish; a pending one is not.
func TestFailedInstallIsStartedAgain(t *testing.T) {
	s, _, mk := startSim(t, landscapesim.Options{}, nil)
	s.SetOutcome("lab-1", landscapesim.Outcome{Status: "failed"})
	s.SetOutcome("lab-2", landscapesim.Outcome{Status: "failed"})
	c := mk()
	r := release(key("flaky", "3", deploy.Ring0Lab), "corr-flaky")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx(t), r); err != nil { // still pending
		t.Fatal(err)
	}
	if n := len(groups(s, "InstallPackages")); n != 1 {
		t.Fatalf("%d installs while the first is pending", n)
	}
	if st := settle(t, c, r.Key); st.Summary.Failed != 2 {
		t.Fatalf("settled %+v", st.Summary)
	}
	s.SetOutcome("lab-1", landscapesim.Outcome{})
	s.SetOutcome("lab-2", landscapesim.Outcome{})
	pub, err := c.Publish(ctx(t), r)
	if err != nil || pub.Created != 1 {
		t.Fatalf("publish after the failure: %+v, %v", pub, err)
	}
	if st := settle(t, c, r.Key); st.Summary.Installed != 2 {
		t.Errorf("after the new install: %+v", st.Summary)
	}
}

// Publishing a newer version takes the ring's tag from the older
// version's profile, so the ring is never pinned twice; rollback pins
// the older version again with one edit and downgrades.
func TestSupersedeAndRollback(t *testing.T) {
	s, _, mk := startSim(t, landscapesim.Options{}, nil)
	c := mk()
	v1 := release(key("editor", "1.0", deploy.Ring2Pilot), "corr-v1")
	v2 := release(key("editor", "2.0", deploy.Ring2Pilot), "corr-v2")
	other := release(key("editor", "1.0", deploy.Ring1Canary), "corr-v1c")
	for _, r := range []connectors.Release{v1, other} {
		if _, err := c.Publish(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, c, v1.Key)
	if _, err := c.Publish(ctx(t), v2); err != nil { // no Prior: supersedes all the same
		t.Fatal(err)
	}
	pinned := func() map[string][]string {
		out := map[string][]string{}
		for _, p := range s.Profiles() {
			for _, tag := range p.Tags {
				out[tag] = append(out[tag], p.Constraints...)
			}
		}
		return out
	}
	if p := pinned(); !slices.Equal(p["pilot"], []string{"depends editor = 2.0"}) || !slices.Equal(p["canary"], []string{"depends editor = 1.0"}) {
		t.Fatalf("pins after v2: %v", p)
	}
	if st := settle(t, c, v2.Key); st.Summary.Installed != 3 {
		t.Fatalf("v2: %+v", st.Summary)
	}
	st1 := settle(t, c, v1.Key)
	if len(st1.Assigned) != 0 || st1.Summary.NotInstalled != 3 {
		t.Errorf("v1 after v2: assigned %v, %+v", st1.Assigned, st1.Summary)
	}

	prior := v1.Key
	v2.Prior = &prior
	s.Faults().ResetCalls()
	for range 2 {
		if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v2}); err != nil {
			t.Fatal(err)
		}
	}
	_, per := s.Faults().Calls()
	if per["POST /api/EditPackageProfile"] != 1 || per["POST /api/InstallPackages"] != 1 || per["POST /api/AssociatePackageProfile"] != 0 {
		t.Errorf("two pin-priors made %v", per)
	}
	if p := pinned(); !slices.Equal(p["pilot"], []string{"depends editor = 1.0"}) {
		t.Errorf("pins after rollback: %v", p)
	}
	st1 = settle(t, c, v1.Key)
	if !slices.Equal(st1.Assigned, []string{"pilot"}) || st1.Summary.Installed != 3 {
		t.Errorf("v1 after rollback: %v %+v", st1.Assigned, st1.Summary)
	}
	for _, comp := range s.Computers() {
		if strings.HasPrefix(comp.Hostname, "pilot-") && comp.Installed["editor"] != "1.0" {
			t.Errorf("%s runs editor %s", comp.Hostname, comp.Installed["editor"])
		}
	}
	st2 := settle(t, c, v2.Key)
	if len(st2.Assigned) != 0 || st2.Summary.NotInstalled != 3 {
		t.Errorf("v2 after rollback: %v %+v", st2.Assigned, st2.Summary)
	}
	var downgrades int
	for _, g := range groups(s, "InstallPackages") {
		if strings.Contains(g.Query, "pilot") {
			downgrades++
		}
	}
	if downgrades != 3 {
		t.Errorf("%d installs on pilot, want v1, v2 and the downgrade", downgrades)
	}
	// Publishing v2 again restores its pin.
	v2.Prior = nil
	if _, err := c.Publish(ctx(t), v2); err != nil {
		t.Fatal(err)
	}
	if p := pinned(); !slices.Equal(p["pilot"], []string{"depends editor = 2.0"}) {
		t.Errorf("pins after publishing v2 again: %v", p)
	}
}

func TestUninstallAndRedeploy(t *testing.T) {
	s, _, mk := startSim(t, landscapesim.Options{}, nil)
	c := mk()
	r := release(key("viewer", "5.1", deploy.Ring3Department), "corr-u")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	settle(t, c, r.Key)

	s.Faults().ResetCalls()
	for range 2 {
		if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: r}); err != nil {
			t.Fatal(err)
		}
	}
	if g := groups(s, "ExecuteScript"); len(g) != 1 {
		t.Fatalf("two redeploys while the first is pending: %d script runs", len(g))
	}
	if st := settle(t, c, r.Key); st.Summary.Installed != 2 {
		t.Errorf("after redeploy: %+v", st.Summary)
	}

	for range 2 {
		if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r}); err != nil {
			t.Fatal(err)
		}
	}
	if g := groups(s, "RemovePackages"); len(g) != 1 || g[0].Query != "tag:department" {
		t.Fatalf("removals %+v", g)
	}
	st := settle(t, c, r.Key)
	if len(st.Assigned) != 0 || st.Summary.NotInstalled != 2 {
		t.Errorf("after uninstall: %v %+v", st.Assigned, st.Summary)
	}
	for _, comp := range s.Computers() {
		if _, ok := comp.Installed["viewer"]; ok {
			t.Errorf("%s still has viewer", comp.Hostname)
		}
	}
	// Uninstalling a version the ring does not run is refused.
	newer := release(key("viewer", "6.0", deploy.Ring3Department), "corr-6")
	if _, err := c.Publish(ctx(t), newer); err != nil {
		t.Fatal(err)
	}
	_, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r})
	if ce := class(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Error(), "pinned to viewer 6.0") {
		t.Errorf("uninstall of the superseded version: %v", err)
	}
}

// A key rotated mid-run: a connector with a credential source takes the
// new key and carries on; one with a fixed key reports the refusal as
// permanent with Landscape's words.
func TestRotatedKey(t *testing.T) {
	s, url, mk := startSim(t, landscapesim.Options{}, nil)
	cred := s.Credentials()
	fixed, err := landscape.NewClient(landscape.Config{BaseURL: url, AccessKey: cred.AccessKey, SecretKey: cred.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	rotating := mk()
	for _, c := range []*landscape.Client{fixed, rotating} {
		if _, err := c.Check(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	s.Tokens().ExpireAll()
	_, err = fixed.Check(ctx(t))
	if ce := class(t, err); ce.Class != connectors.Permanent || ce.Code != "InvalidCredentials" || ce.Status != 401 || !strings.Contains(ce.Message, "revoked") {
		t.Errorf("fixed key after rotation: %v", err)
	}
	s.Faults().ResetCalls()
	chk, err := rotating.Check(ctx(t))
	if err != nil {
		t.Fatalf("rotating: %v", err)
	}
	if n, _ := s.Faults().Calls(); n != 2 || chk.Detail != "2 computers on the first page" {
		t.Errorf("rotation took %d calls (want the refused one and one more): %+v", n, chk)
	}
}

func TestSignatureRefusals(t *testing.T) {
	s, url, _ := startSim(t, landscapesim.Options{}, nil)
	cred := s.Credentials()
	for _, x := range []struct {
		name string
		cfg  landscape.Config
		code string
	}{
		{"wrong secret", landscape.Config{AccessKey: cred.AccessKey, SecretKey: cred.SecretKey + "x"}, "SignatureDoesNotMatch"},
		{"unknown key", landscape.Config{AccessKey: "AKNOBODY", SecretKey: cred.SecretKey}, "InvalidCredentials"},
		{"clock an hour slow", landscape.Config{AccessKey: cred.AccessKey, SecretKey: cred.SecretKey,
			Now: func() time.Time { return time.Now().Add(-time.Hour) }}, "AuthFailure"},
	} {
		x.cfg.BaseURL = url
		c, err := landscape.NewClient(x.cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Publish(ctx(t), release(key("sig", "1", deploy.Ring0Lab), "corr-sig"))
		if ce := class(t, err); ce.Class != connectors.Permanent || ce.Code != x.code || ce.Status != 401 {
			t.Errorf("%s: %v", x.name, err)
		}
	}
	if len(s.Scripts()) != 0 {
		t.Errorf("a refused request made %d scripts", len(s.Scripts()))
	}
}

// AuthToken: every legacy call carries the JWT of the access-key login,
// which is fetched again when it expires; Job reads REST v2.
func TestTokenAuth(t *testing.T) {
	s, _, mk := startSim(t, landscapesim.Options{}, func(c *landscape.Config) { c.Auth = landscape.AuthToken })
	c := mk()
	r := release(key("tok", "1", deploy.Ring1Canary), "corr-tok")
	pub, err := c.Publish(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	_, per := s.Faults().Calls()
	if per["POST /api/v2/login/access-key"] != 1 {
		t.Errorf("logins %v", per)
	}
	issued := s.Tokens().Issued
	s.Tokens().ExpireAll()
	r2 := release(key("tok", "2", deploy.Ring1Canary), "corr-tok2")
	if _, err := c.Publish(ctx(t), r2); err != nil {
		t.Fatalf("publish after expiry: %v", err)
	}
	if s.Tokens().Issued != issued+2 { // a new key (rotated with the tokens) and a new JWT
		t.Errorf("issued %d, was %d", s.Tokens().Issued, issued)
	}
	s.Faults().ResetCalls()
	var devs []connectors.DeviceState
	for range 5 {
		if devs, err = c.Job(ctx(t), pub.Handle); err != nil {
			t.Fatal(err)
		}
	}
	if len(devs) != 2 || devs[0].Device != "canary-1" || devs[0].State == connectors.StateUnknown {
		t.Errorf("job: %+v", devs)
	}
	if _, per := s.Faults().Calls(); per["GET /api/v2/activities/"+pub.Handle] != 5 {
		t.Errorf("Job did not read REST v2: %v", per)
	}
}

// Eventual consistency: GetScripts and GetPackageProfiles do not list
// what was just made; the Duplicate* answer says it exists, and the
// retry finds it.
func TestConsistencyDelayAfterLostCreate(t *testing.T) {
	s, _, mk := startSim(t, landscapesim.Options{ConsistencyDelay: 3}, nil)
	r := release(key("slow", "1.0", deploy.Ring1Canary), "corr-slow")
	s.Faults().Add(sim.Fault{Match: "POST /api/CreateScript", Count: 1, DropAfterHandle: true})
	s.Faults().Add(sim.Fault{Match: "POST /api/CreatePackageProfile", Count: 1, DropAfterHandle: true})
	c := connectors.WithRetry(mk(), connectors.RetryPolicy{Attempts: 10, Initial: time.Millisecond, Max: 5 * time.Millisecond})
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if o, a := s.Count(r.Key); o != 1 || a != 1 || len(s.Scripts()) != 1 || len(s.Profiles()) != 1 {
		t.Errorf("count %d %d, %d scripts, %d profiles", o, a, len(s.Scripts()), len(s.Profiles()))
	}
	_, per := s.Faults().Calls()
	if per["POST /api/CreateScript"] < 2 || per["POST /api/CreatePackageProfile"] < 2 {
		t.Errorf("the duplicate answers were not met: %v", per)
	}
}

// Many computers, a small page: every device is reported.
func TestPagingReachesEveryComputer(t *testing.T) {
	var comps []landscapesim.ComputerSpec
	for _, h := range []string{"a1", "a2", "a3", "a4", "a5"} {
		comps = append(comps, landscapesim.ComputerSpec{Hostname: h, Tags: []string{"canary"}})
	}
	s, _, mk := startSim(t, landscapesim.Options{Computers: comps}, nil)
	c := mk()
	r := release(key("wide", "1", deploy.Ring1Canary), "corr-wide")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	st := settle(t, c, r.Key)
	if len(st.Devices) != 5 || st.Summary.Installed != 5 {
		t.Errorf("devices %+v", st.Summary)
	}
	_, per := s.Faults().Calls()
	if per["GET /api/GetComputers"] < 3 {
		t.Errorf("GetComputers was not paged: %v", per)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	s, _, mk := startSim(t, landscapesim.Options{}, nil)
	c := mk()
	good := release(key("notepad", "1.0", deploy.Ring1Canary), "corr")
	for name, r := range map[string]connectors.Release{
		"package name":   func() connectors.Release { r := good; r.Install.Detection.PackageName = "Note Pad"; return r }(),
		"version":        func() connectors.Release { r := good; r.Key.Version = "v1 beta"; return r }(),
		"tag with colon": func() connectors.Release { r := good; r.Targets = []connectors.Target{{ID: "tag:canary"}}; return r }(),
		"exclude": func() connectors.Release {
			r := good
			r.Targets = append(r.Targets, connectors.Target{ID: "lab", Exclude: true})
			return r
		}(),
		"no targets":  func() connectors.Release { r := good; r.Targets = nil; return r }(),
		"correlation": func() connectors.Release { r := good; r.CorrelationID = "a b"; return r }(),
		"app with @":  func() connectors.Release { r := good; r.Key.App = "a@b"; return r }(),
	} {
		_, err := c.Publish(ctx(t), r)
		if ce := class(t, err); ce.Class != connectors.Permanent || ce.Err == nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n, _ := s.Faults().Calls(); n != 0 {
		t.Errorf("bad input reached the plane: %d calls", n)
	}
	prior := key("notepad", "1.0", deploy.Ring2Pilot)
	bad := good
	bad.Prior = &prior
	_, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: bad})
	if ce := class(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Error(), "same ring") {
		t.Errorf("prior of another ring: %v", err)
	}
	if _, err := c.Query(ctx(t), good.Key); !class(t, err).NotFound {
		t.Errorf("query of nothing: %v", err)
	}
}

func TestNoComputersCarryTheTag(t *testing.T) {
	_, _, mk := startSim(t, landscapesim.Options{}, nil)
	r := release(key("lonely", "1", deploy.Ring1Canary), "corr-l")
	r.Targets = []connectors.Target{{ID: "empty-ring"}}
	_, err := mk().Publish(ctx(t), r)
	if ce := class(t, err); ce.Class != connectors.Permanent || ce.Code != "UnknownComputers" || !strings.Contains(ce.Message, "empty-ring") {
		t.Errorf("publish to a tag no computer carries: %v", err)
	}
}

func TestFindAndCheck(t *testing.T) {
	_, _, mk := startSim(t, landscapesim.Options{}, nil)
	c := mk()
	r1 := release(key("finder", "1.0", deploy.Ring1Canary), "corr-f")
	r2 := release(key("finder", "1.0", deploy.Ring2Pilot), "corr-f2")
	for _, r := range []connectors.Release{r1, r2} {
		if _, err := c.Publish(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	found, err := mk().Find(ctx(t), "corr-f")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]connectors.ReleaseKey{}
	for _, o := range found {
		if o.Release == nil {
			t.Fatalf("%+v without its release", o)
		}
		kinds[o.Kind] = *o.Release
	}
	// The script was made by the first intent; ring 2's profile by the
	// second.
	if len(found) != 2 || kinds["script"] != r1.Key.AppKey() || kinds["packageProfile"] != r1.Key {
		t.Errorf("found %+v", found)
	}
	if found, err := mk().Find(ctx(t), "corr-f2"); err != nil || len(found) != 1 || found[0].Kind != "packageProfile" {
		t.Errorf("corr-f2: %+v %v", found, err)
	}
	if _, err := c.Find(ctx(t), ""); class(t, err).Class != connectors.Permanent {
		t.Errorf("empty correlation id: %v", err)
	}
	chk, err := c.Check(ctx(t))
	if err != nil || chk.Plane != connectors.Landscape || chk.Detail != "2 computers on the first page" {
		t.Errorf("check %+v %v", chk, err)
	}
}

// A changed install command replaces the script's code and keeps the
// correlation marker of the intent that made it.
func TestScriptFollowsTheInstallCommand(t *testing.T) {
	s, _, mk := startSim(t, landscapesim.Options{}, nil)
	c := mk()
	r := release(key("cmd", "1.0", deploy.Ring1Canary), "corr-first")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	r2 := release(key("cmd", "1.0", deploy.Ring2Pilot), "corr-second")
	r2.Install.InstallCommand = "apt-get install -y ./cmd_1.0_all.deb"
	if _, err := c.Publish(ctx(t), r2); err != nil {
		t.Fatal(err)
	}
	sc := s.Scripts()
	if len(sc) != 1 || !strings.Contains(sc[0].Code, "apt-get install -y ./cmd_1.0_all.deb") || !strings.Contains(sc[0].Code, "correlation=corr-first ") {
		t.Errorf("script %+v", sc)
	}
}

func TestConfigRefusals(t *testing.T) {
	for name, cfg := range map[string]landscape.Config{
		"no URL":         {AccessKey: "a", SecretKey: "b"},
		"ftp URL":        {BaseURL: "ftp://landscape.example", AccessKey: "a", SecretKey: "b"},
		"no credentials": {BaseURL: "https://landscape.example"},
		"unknown auth":   {BaseURL: "https://landscape.example", AccessKey: "a", SecretKey: "b", Auth: "basic"},
	} {
		if _, err := landscape.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
