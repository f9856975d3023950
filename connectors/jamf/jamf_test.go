package jamf_test

import (
	"bytes"
	"context"
	"crypto/sha3"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
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

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func key(app, version string, ring deploy.Ring) connectors.ReleaseKey {
	return connectors.ReleaseKey{App: app, Version: version, Ring: ring, Scope: deploy.Scope{Acquisition: "acme", BU: "finance"}}
}

func classOf(t *testing.T, err error) *connectors.Error {
	t.Helper()
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a *connectors.Error: %v", err)
	}
	return ce
}

// writes counts the requests that change the plane.
func writes(s *jamfsim.Server) int {
	n := 0
	_, per := s.Faults().Calls()
	for k, v := range per {
		if !strings.HasPrefix(k, "GET ") && !strings.Contains(k, "/token") {
			n += v
		}
	}
	return n
}

func TestPublishMakesOnePackageAndOneRingPolicy(t *testing.T) {
	s, mk := start(t, jamfsim.Options{HashPendingPolls: 3})
	c := mk()
	r := release(t, key("notepad", "1.0", deploy.Ring1Canary), "corr-1")
	pub, err := c.Publish(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Created != 2 || len(pub.Objects) != 2 || pub.Objects[0].Kind != "package" || pub.Objects[1].Kind != "policy" {
		t.Errorf("publication %+v", pub)
	}
	pkgs := s.Packages()
	if len(pkgs) != 1 {
		t.Fatalf("%d packages", len(pkgs))
	}
	p := pkgs[0]
	content, _ := r.Content.Open()
	b, _ := io.ReadAll(content)
	sum := sha3.Sum512(b)
	if p.Name != jamf.PackageName(r.Key) || p.FileName != p.Name || p.Uploads != 1 || !bytes.Equal(p.Content, b) ||
		p.HashValue != hex.EncodeToString(sum[:]) || p.Notes != connectors.CorrelationMarker("corr-1", r.Key.AppKey()) {
		t.Errorf("package %+v", p)
	}
	pols := s.Policies()
	if len(pols) != 1 {
		t.Fatalf("%d policies", len(pols))
	}
	pol := pols[0]
	if pol.Name != jamf.PolicyName(r.Key) || !pol.Enabled || !pol.Checkin || pol.Frequency != "Once per computer" ||
		!slices.Equal(pol.Groups, []int{1}) || !slices.Equal(pol.Excluded, []int{4}) || pol.SelfService ||
		len(pol.Packages) != 1 || pol.Packages[0] != (jamfsim.PolicyPackage{ID: p.ID, Action: "Install"}) ||
		pol.Description != connectors.CorrelationMarker("corr-1", r.Key) || pol.Flushes != 0 {
		t.Errorf("policy %+v", pol)
	}
	// Again: nothing is written.
	before := writes(s)
	again, err := mk().Publish(ctx(t), r)
	if err != nil || again.Created != 0 {
		t.Fatalf("again: %+v %v", again, err)
	}
	if n := writes(s) - before; n != 0 {
		t.Errorf("publishing the same release again wrote %d times", n)
	}
}

func TestRingsShareThePackageAndItsNotesGainMarkers(t *testing.T) {
	s, mk := start(t, jamfsim.Options{PageSize: 1})
	c := mk()
	r1 := release(t, key("editor", "3.1", deploy.Ring1Canary), "corr-r1")
	r2 := release(t, key("editor", "3.1", deploy.Ring2Pilot), "corr-r2")
	for _, r := range []connectors.Release{r1, r2, r2} {
		if _, err := c.Publish(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	pkgs := s.Packages()
	if len(pkgs) != 1 || pkgs[0].Uploads != 1 {
		t.Fatalf("packages %+v", pkgs)
	}
	want := connectors.CorrelationMarker("corr-r1", r1.Key.AppKey()) + "\n" + connectors.CorrelationMarker("corr-r2", r1.Key.AppKey())
	if pkgs[0].Notes != want {
		t.Errorf("notes %q, want %q", pkgs[0].Notes, want)
	}
	if len(s.Policies()) != 2 {
		t.Errorf("%d policies, want one per ring", len(s.Policies()))
	}
	// Find reads every page (one object per page here).
	found, err := mk().Find(ctx(t), "corr-r2")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range found {
		kinds = append(kinds, o.Kind+":"+o.Name)
		if o.Release == nil {
			t.Errorf("%s without its release key", o.Name)
		}
	}
	slices.Sort(kinds)
	if want := []string{"package:" + jamf.PackageName(r2.Key), "policy:" + jamf.PolicyName(r2.Key)}; !slices.Equal(kinds, want) {
		t.Errorf("found %v, want %v", kinds, want)
	}
}

func TestChangedContentOfAVersionIsRefused(t *testing.T) {
	s, mk := start(t, jamfsim.Options{})
	r := release(t, key("tool", "1", deploy.Ring1Canary), "corr")
	if _, err := mk().Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	other := []byte("other bytes")
	r.Content.Open, r.Content.Size, r.Content.Digest = conformance.Bytes(other), int64(len(other)), digest.FromBytes(other)
	_, err := mk().Publish(ctx(t), r)
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "must not change") {
		t.Errorf("changed content: %v", err)
	}
	if s.Packages()[0].Uploads != 1 {
		t.Error("the changed content was uploaded")
	}
}

func TestContentNotMatchingItsDigestIsRefused(t *testing.T) {
	_, mk := start(t, jamfsim.Options{})
	r := release(t, key("liar", "1", deploy.Ring1Canary), "corr")
	r.Content.Digest = digest.FromBytes([]byte("something else"))
	_, err := mk().Publish(ctx(t), r)
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "SHA-256") {
		t.Errorf("digest mismatch: %v", err)
	}
}

// corrupting flips bytes of every upload on the way to the plane.
func corrupting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/upload") {
			b, _ := io.ReadAll(r.Body)
			b = bytes.Replace(b, []byte("flat package"), []byte("FLAT PACKAGE"), 1)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, r)
	})
}

func TestAHashOtherThanWhatWasSentIsPermanent(t *testing.T) {
	s := jamfsim.New(jamfsim.Options{})
	srv := httptest.NewServer(corrupting(s.Handler()))
	t.Cleanup(srv.Close)
	cr := s.Credentials()
	c, _ := jamf.New(jamf.Config{BaseURL: srv.URL, ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, PollInterval: time.Millisecond})
	_, err := c.Publish(ctx(t), release(t, key("bent", "1", deploy.Ring1Canary), "corr"))
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "was uploaded") {
		t.Errorf("hash mismatch: %v", err)
	}
	if len(s.Policies()) != 0 {
		t.Error("a package with the wrong content was assigned")
	}
}

func TestUploadIsReplayedWholeAfterA401(t *testing.T) {
	s, mk := start(t, jamfsim.Options{})
	s.Faults().Add(sim.Fault{Match: "POST /api/v1/packages/1/upload", Count: 1, Status: 401,
		Body: jamfsim.ProErrorBody(401, "INVALID_TOKEN", "Unauthorized", "")})
	r := release(t, key("replay", "1", deploy.Ring1Canary), "corr")
	if _, err := mk().Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(must(r.Content.Open()))
	if p := s.Packages()[0]; p.Uploads != 1 || !bytes.Equal(p.Content, b) || s.Tokens().Issued != 2 {
		t.Errorf("after a 401 on upload: %d uploads, %d tokens, content %q", p.Uploads, s.Tokens().Issued, p.Content)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestHashStillPendingIsTransient(t *testing.T) {
	_, mk := start(t, jamfsim.Options{HashPendingPolls: 50}, func(c *jamf.Config) { c.PollAttempts = 3 })
	_, err := mk().Publish(ctx(t), release(t, key("slow", "1", deploy.Ring1Canary), "corr"))
	if ce := classOf(t, err); ce.Class != connectors.Transient || !strings.Contains(ce.Message, "no SHA3-512 after 3 polls") {
		t.Errorf("pending hash: %v", err)
	}
}

func TestNewVersionRepointsTheRingPolicyAndFlushesItsLogs(t *testing.T) {
	s, mk := start(t, jamfsim.Options{})
	c := mk()
	v1 := release(t, key("browser", "1", deploy.Ring1Canary), "corr-v1")
	v2 := release(t, key("browser", "2", deploy.Ring1Canary), "corr-v2")
	if _, err := c.Publish(ctx(t), v1); err != nil {
		t.Fatal(err)
	}
	st, err := c.Query(ctx(t), v1.Key)
	if err != nil || st.Summary.Installed != 2 {
		t.Fatalf("v1 installed on %d: %+v %v", st.Summary.Installed, st.Devices, err)
	}
	prior := v1.Key
	v2.Prior = &prior
	if _, err := c.Publish(ctx(t), v2); err != nil {
		t.Fatal(err)
	}
	pols := s.Policies()
	if len(pols) != 1 || !pols[0].Enabled || pols[0].Flushes != 1 || pols[0].Packages[0].ID != 2 ||
		pols[0].Description != connectors.CorrelationMarker("corr-v2", v2.Key) {
		t.Fatalf("ring policy after v2: %+v", pols)
	}
	st1, err := c.Query(ctx(t), v1.Key)
	if err != nil || len(st1.Assigned) != 0 || len(st1.Devices) != 0 {
		t.Errorf("v1 after v2: %+v %v", st1, err)
	}
	st2, err := c.Query(ctx(t), v2.Key)
	if err != nil || !slices.Equal(st2.Assigned, []string{"1"}) || st2.Summary.Installed != 2 {
		t.Errorf("v2: %+v %v", st2, err)
	}
}

func TestAPolicyLeftDisabledIsFlushedAndEnabled(t *testing.T) {
	s, mk := start(t, jamfsim.Options{})
	v1 := release(t, key("crashy", "1", deploy.Ring1Canary), "corr")
	v2 := release(t, key("crashy", "2", deploy.Ring1Canary), "corr")
	if _, err := mk().Publish(ctx(t), v1); err != nil {
		t.Fatal(err)
	}
	// The process dies right after disabling the policy for the switch.
	s.Faults().Add(sim.Fault{Match: "DELETE /JSSResource/logflush", Count: 1, Status: 500, Body: jamfsim.ClassicErrorBody(500, "Internal Server Error"), ContentType: "text/html"})
	_, err := mk().Publish(ctx(t), v2)
	if classOf(t, err).Class != connectors.Transient || s.Policies()[0].Enabled {
		t.Fatalf("first attempt: %v, policy %+v", err, s.Policies()[0])
	}
	if _, err := mk().Publish(ctx(t), v2); err != nil {
		t.Fatal(err)
	}
	if p := s.Policies()[0]; !p.Enabled || p.Flushes != 1 || p.Packages[0].ID != 2 {
		t.Errorf("after the retry: %+v", p)
	}
}

func TestQueryMapsPolicyLogsOntoInstallStates(t *testing.T) {
	s, mk := start(t, jamfsim.Options{CheckinPolls: 1})
	c := mk()
	s.SetOutcome(2, jamfsim.Failed)
	r := release(t, key("mapper", "1", deploy.Ring1Canary), "corr")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	st, err := c.Query(ctx(t), r.Key)
	if err != nil {
		t.Fatal(err)
	}
	// Computer 3 is a kiosk: excluded.
	if len(st.Devices) != 2 || st.Summary.Pending != 2 || st.Devices[0].Device != "mac-001" || st.Devices[0].DeviceID != "1" {
		t.Errorf("before check-in: %+v", st)
	}
	st, err = c.Query(ctx(t), r.Key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Summary.Installed != 1 || st.Summary.Failed != 1 || st.Devices[1].State != connectors.StateFailed || st.Devices[0].At.IsZero() {
		t.Errorf("after check-in: %+v", st)
	}
	if len(st.Objects) != 2 || st.Objects[0].CorrelationID != "corr" || st.Objects[1].Release == nil || *st.Objects[1].Release != r.Key {
		t.Errorf("objects %+v", st.Objects)
	}
	// A smart group's members come from the Jamf Pro API.
	r2 := release(t, key("mapper", "1", deploy.Ring2Pilot), "corr")
	if _, err := c.Publish(ctx(t), r2); err != nil {
		t.Fatal(err)
	}
	st, err = c.Query(ctx(t), r2.Key)
	if err != nil || len(st.Devices) != 3 || st.Devices[2].Device != "mac-006" {
		t.Errorf("smart group: %+v %v", st, err)
	}
	if _, per := s.Faults().Calls(); per["GET /api/v2/computer-groups/smart-group-membership/2"] == 0 {
		t.Error("smart group membership not read from the Jamf Pro API")
	}
	// A Self Service release is not installed until the user installs it.
	r3 := release(t, key("optional", "1", deploy.Ring3Department), "corr")
	r3.Required = false
	if _, err := c.Publish(ctx(t), r3); err != nil {
		t.Fatal(err)
	}
	if p := s.Policies()[2]; !p.SelfService || p.Checkin || !strings.HasPrefix(p.Description, "optional\n\neucora:correlation=corr ") {
		t.Errorf("self service policy %+v", p)
	}
	st, err = c.Query(ctx(t), r3.Key)
	if err != nil || st.Summary.NotInstalled != 4 {
		t.Errorf("self service: %+v %v", st.Summary, err)
	}
	_, err = c.Query(ctx(t), key("nothing", "1", deploy.Ring1Canary))
	if ce := classOf(t, err); !ce.NotFound || ce.Class != connectors.Permanent {
		t.Errorf("unknown release: %v", err)
	}
}

func TestCachePackageActionReportsPending(t *testing.T) {
	s, mk := start(t, jamfsim.Options{}, func(c *jamf.Config) { c.PackageAction = "Cache" })
	c := mk()
	r := release(t, key("cached", "1", deploy.Ring1Canary), "corr")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if a := s.Policies()[0].Packages[0].Action; a != "Cache" {
		t.Errorf("action %s", a)
	}
	st, err := c.Query(ctx(t), r.Key)
	if err != nil || st.Summary.Pending != 2 || st.Devices[0].Detail != "package cached" {
		t.Errorf("cached: %+v %v", st, err)
	}
}

func TestUninstallRunsTheScriptPolicyAndPublishUndoesIt(t *testing.T) {
	s, mk := start(t, jamfsim.Options{})
	c := mk()
	r := release(t, key("gone", "1", deploy.Ring1Canary), "corr-u")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		pub, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r})
		if err != nil {
			t.Fatal(err)
		}
		if len(pub.Objects) != 3 {
			t.Errorf("objects %+v", pub.Objects)
		}
	}
	scripts := s.Scripts()
	if len(scripts) != 1 || scripts[0].Name != jamf.ScriptName(r.Key) || scripts[0].Contents != "#!/bin/sh\n"+r.Install.UninstallCommand+"\n" {
		t.Fatalf("scripts %+v", scripts)
	}
	pols := s.Policies()
	if len(pols) != 2 || len(pols[0].Groups) != 0 || pols[1].Name != jamf.UninstallPolicyName(r.Key) ||
		!slices.Equal(pols[1].Groups, []int{1}) || !slices.Equal(pols[1].Scripts, []int{scripts[0].ID}) || len(pols[1].Packages) != 0 {
		t.Fatalf("policies %+v", pols)
	}
	st, err := c.Query(ctx(t), r.Key)
	if err != nil || len(st.Assigned) != 0 || st.Summary.NotInstalled != 2 {
		t.Errorf("after uninstall: %+v %v", st, err)
	}
	if objs, asg := s.Count(r.Key); objs != 1 || asg != 0 {
		t.Errorf("count %d %d after uninstall", objs, asg)
	}
	// Publishing again takes the uninstall policy off the ring first.
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	pols = s.Policies()
	if !slices.Equal(pols[0].Groups, []int{1}) || len(pols[1].Groups) != 0 {
		t.Errorf("after publishing again: %+v", pols)
	}
	// No command, no uninstall; another version's ring, no uninstall.
	r.Install.UninstallCommand = ""
	_, err = c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r})
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "no uninstall command") {
		t.Errorf("no command: %v", err)
	}
	v2 := release(t, key("gone", "2", deploy.Ring1Canary), "corr-u2")
	if _, err := c.Publish(ctx(t), v2); err != nil {
		t.Fatal(err)
	}
	old := release(t, key("gone", "1", deploy.Ring1Canary), "corr-u")
	_, err = c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: old})
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "not "+jamf.PackageName(old.Key)) {
		t.Errorf("uninstalling a version the ring does not hold: %v", err)
	}
}

func TestRedeploySupersedeAndPinPrior(t *testing.T) {
	s, mk := start(t, jamfsim.Options{})
	c := mk()
	v1 := release(t, key("app", "1", deploy.Ring1Canary), "c1")
	v2 := release(t, key("app", "2", deploy.Ring1Canary), "c2")
	for _, r := range []connectors.Release{v1, v2} {
		if _, err := c.Publish(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: v2}); err != nil {
		t.Fatal(err)
	}
	if p := s.Policies()[0]; p.Flushes != 2 || !p.Enabled {
		t.Errorf("redeploy: %+v", p)
	}
	_, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v2})
	if classOf(t, err).Class != connectors.Permanent {
		t.Errorf("pin-prior without a prior: %v", err)
	}
	prior := v1.Key
	v2.Prior = &prior
	pub, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v2})
	if err != nil || pub.Key != v1.Key {
		t.Fatalf("pin-prior: %+v %v", pub, err)
	}
	if p := s.Policies()[0]; p.Packages[0].ID != 1 || p.Description != connectors.CorrelationMarker("c2", v1.Key) {
		t.Errorf("pinned: %+v", p)
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Supersede, Release: v2}); err != nil {
		t.Fatal(err)
	}
	if p := s.Policies()[0]; p.Packages[0].ID != 2 || p.Flushes != 4 {
		t.Errorf("superseded: %+v", p)
	}
	missing := v2
	missing.Prior = &connectors.ReleaseKey{App: "app", Version: "0.9", Ring: 1}
	_, err = c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: missing})
	if ce := classOf(t, err); !ce.NotFound {
		t.Errorf("pin to a version the plane never held: %v", err)
	}
	_, err = c.Remediate(ctx(t), connectors.Remediation{Action: "reboot", Release: v2})
	if classOf(t, err).Class != connectors.Permanent {
		t.Errorf("unknown action: %v", err)
	}
}

func TestUserTokensRenewWithKeepAliveAndLogInAgain(t *testing.T) {
	s, mk := start(t, jamfsim.Options{TokenLifetime: 30 * time.Second}, func(c *jamf.Config) {
		cr := jamfsim.Credentials{Username: jamfsim.DefaultUsername, Password: jamfsim.DefaultPassword}
		c.ClientID, c.ClientSecret, c.Username, c.Password = "", "", cr.Username, cr.Password
	})
	c := mk()
	r := release(t, key("user", "1", deploy.Ring1Canary), "corr")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	_, per := s.Faults().Calls()
	// A 30 s token is always within Bearer's 60 s margin: every request
	// renews it.
	if per["POST /api/v1/auth/token"] != 1 || per["POST /api/v1/auth/keep-alive"] == 0 || per["POST /api/oauth/token"] != 0 {
		t.Errorf("token calls %v", per)
	}
	s.Tokens().ExpireAll()
	if _, err := c.Query(ctx(t), r.Key); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if _, per := s.Faults().Calls(); per["POST /api/v1/auth/token"] != 2 {
		t.Errorf("no new login after the token expired: %v", per)
	}
	if err := c.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, per := s.Faults().Calls(); per["POST /api/v1/auth/invalidate-token"] != 1 {
		t.Errorf("close did not invalidate: %v", per)
	}
	bad, _ := jamf.New(jamf.Config{BaseURL: "http://127.0.0.1:1", Username: "u", Password: "p", TokenPath: "/api/v1/oauth/token"})
	if bad == nil {
		t.Error("a user config with a token path refused")
	}
}

func TestTheV1OAuthTokenPath(t *testing.T) {
	s, mk := start(t, jamfsim.Options{}, func(c *jamf.Config) { c.TokenPath = "/api/v1/oauth/token" })
	if _, err := mk().Check(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, per := s.Faults().Calls(); per["POST /api/v1/oauth/token"] != 1 || per["POST /api/oauth/token"] != 0 {
		t.Errorf("calls %v", per)
	}
}

func TestBadCredentialsArePermanent(t *testing.T) {
	_, mk := start(t, jamfsim.Options{}, func(c *jamf.Config) { c.ClientSecret = "wrong" })
	_, err := mk().Check(ctx(t))
	if ce := classOf(t, err); ce.Class != connectors.Permanent || ce.Status != 401 || ce.Code != "invalid_client" {
		t.Errorf("bad secret: %v", err)
	}
}

func TestConfigRefusals(t *testing.T) {
	for _, cfg := range []jamf.Config{
		{BaseURL: "ftp://x", ClientID: "a", ClientSecret: "b"},
		{BaseURL: "https://x"},
		{BaseURL: "https://x", ClientID: "a"},
		{BaseURL: "https://x", ClientID: "a", ClientSecret: "b", Username: "u", Password: "p"},
		{BaseURL: "https://x", Username: "u"},
		{BaseURL: "https://x", ClientID: "a", ClientSecret: "b", TokenPath: "/oauth"},
		{BaseURL: "https://x", ClientID: "a", ClientSecret: "b", PackageAction: "Install Cached"},
	} {
		if _, err := jamf.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestAtMostFiveRequestsInFlight(t *testing.T) {
	s, mk := start(t, jamfsim.Options{MaxConcurrent: 5})
	var many []jamfsim.Computer
	for i := 1; i <= 20; i++ {
		many = append(many, jamfsim.Computer{ID: 100 + i, Name: "mac-" + strconv.Itoa(100+i)})
	}
	if err := s.SetMembers(3, many...); err != nil {
		t.Fatal(err)
	}
	s.Faults().Add(sim.Fault{Match: "GET /JSSResource/computerhistory", Delay: 5 * time.Millisecond})
	c := mk()
	r := release(t, key("wide", "1", deploy.Ring3Department), "corr")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	st, err := c.Query(ctx(t), r.Key)
	if err != nil || len(st.Devices) != 20 {
		t.Fatalf("query: %d devices, %v", len(st.Devices), err)
	}
	if most, refused := s.Concurrency(); most > 5 || refused != 0 {
		t.Errorf("%d requests in flight at once, %d refused", most, refused)
	}
}

func TestTheIngressCookieKeepsTheConnectorOnOneNode(t *testing.T) {
	s, mk := start(t, jamfsim.Options{IngressNodes: 3, ReplicationLag: 1000, HashPendingPolls: 1})
	c := mk()
	r := release(t, key("pinned", "1", deploy.Ring1Canary), "corr")
	for range 2 {
		if _, err := c.Publish(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Query(ctx(t), r.Key); err != nil {
		t.Fatal(err)
	}
	if objs, asg := s.Count(r.Key); objs != 1 || asg != 2 || s.Unpinned() != 1 {
		t.Errorf("%d packages, %d assignments, %d unpinned requests", objs, asg, s.Unpinned())
	}
}

func TestConsistencyDelayAfterACrashIsRetriedIntoOneObject(t *testing.T) {
	s, mk := start(t, jamfsim.Options{ConsistencyDelay: 3, HashPendingPolls: 1})
	r := release(t, key("eventual", "1", deploy.Ring1Canary), "corr")
	s.Faults().Add(sim.Fault{Match: "POST /api/v1/packages", Count: 1, DropAfterHandle: true})
	if _, err := mk().Publish(ctx(t), r); classOf(t, err).Class != connectors.Transient {
		t.Fatalf("crash: %v", err)
	}
	policy := connectors.RetryPolicy{Attempts: 10, Initial: time.Millisecond, Max: 5 * time.Millisecond, Budget: time.Minute}
	if _, err := connectors.WithRetry(mk(), policy).Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if objs, asg := s.Count(r.Key); objs != 1 || asg != 2 {
		t.Errorf("%d packages, %d assignments", objs, asg)
	}
	if _, per := s.Faults().Calls(); per["POST /api/v1/packages"] < 2 {
		t.Errorf("the duplicate-name conflict was not met: %v", per)
	}
}

func TestTargetsMustBeGroupIDs(t *testing.T) {
	s, mk := start(t, jamfsim.Options{})
	r := release(t, key("named", "1", deploy.Ring1Canary), "corr")
	r.Targets = []connectors.Target{{ID: "Ring 1 Canary"}}
	_, err := mk().Publish(ctx(t), r)
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "computer group id") {
		t.Errorf("named target: %v", err)
	}
	r.Targets = []connectors.Target{{ID: "4", Exclude: true}}
	if _, err := mk().Publish(ctx(t), r); classOf(t, err).Class != connectors.Permanent {
		t.Errorf("only exclusions: %v", err)
	}
	r.Targets = []connectors.Target{{ID: "99"}}
	_, err = mk().Publish(ctx(t), r)
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "Problem with computer group") {
		t.Errorf("unknown group: %v", err)
	}
	if total, _ := s.Faults().Calls(); total == 0 {
		t.Error("no call reached the plane for the unknown group")
	}
}

func TestGroups(t *testing.T) {
	s, mk := start(t, jamfsim.Options{})
	c := mk()
	name := jamf.RingGroupName(deploy.Ring1Canary, deploy.Scope{Acquisition: "acme"})
	if name != "eucora ring-1 acquisition=acme" {
		t.Errorf("ring group name %q", name)
	}
	tg, err := c.StaticGroup(ctx(t), name, []int{2, 1, 2})
	if err != nil || tg.ID != "5" || tg.Name != name {
		t.Fatalf("static group: %+v %v", tg, err)
	}
	before := writes(s)
	if again, err := c.StaticGroup(ctx(t), name, []int{1, 2}); err != nil || again != tg || writes(s) != before {
		t.Errorf("again: %+v %v, %d writes", again, err, writes(s)-before)
	}
	if _, err := c.StaticGroup(ctx(t), name, []int{1, 7}); err != nil {
		t.Fatal(err)
	}
	if g := s.Groups()[4]; !slices.Equal(g.Members, []int{1, 7}) {
		t.Errorf("members %v", g.Members)
	}
	if _, err := c.StaticGroup(ctx(t), "Ring 2 Pilot", []int{1}); classOf(t, err).Class != connectors.Permanent {
		t.Errorf("a smart group taken for a static one: %v", err)
	}
	if sg, err := c.SmartGroup(ctx(t), "ring 2 pilot"); err != nil || sg.ID != "2" || sg.Name != "Ring 2 Pilot" {
		t.Errorf("smart group: %+v %v", sg, err)
	}
	if _, err := c.SmartGroup(ctx(t), "Ring 9"); !classOf(t, err).NotFound {
		t.Errorf("unknown smart group: %v", err)
	}
	// A release can target the group StaticGroup made.
	r := release(t, key("grouped", "1", deploy.Ring1Canary), "corr")
	r.Targets = []connectors.Target{tg}
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Query(ctx(t), r.Key); err != nil || !slices.Equal(st.Assigned, []string{"5"}) || len(st.Devices) != 2 {
		t.Errorf("query: %+v %v", st, err)
	}
}

func TestCheckAndFindAcrossKinds(t *testing.T) {
	_, mk := start(t, jamfsim.Options{PageSize: 1})
	c := mk()
	chk, err := c.Check(ctx(t))
	if err != nil || chk.Plane != connectors.Jamf || chk.Detail != "0 packages" {
		t.Errorf("check: %+v %v", chk, err)
	}
	r := release(t, key("found", "1", deploy.Ring1Canary), "corr-f")
	for _, op := range []func() error{
		func() error { _, err := c.Publish(ctx(t), r); return err },
		func() error {
			_, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r})
			return err
		},
		func() error {
			_, err := c.Publish(ctx(t), release(t, key("other", "1", deploy.Ring1Canary), "corr-o"))
			return err
		},
	} {
		if err := op(); err != nil {
			t.Fatal(err)
		}
	}
	found, err := mk().Find(ctx(t), "corr-f")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range found {
		got = append(got, o.Kind+":"+o.Name)
	}
	want := []string{"package:" + jamf.PackageName(r.Key), "script:" + jamf.ScriptName(r.Key), "policy:" + jamf.PolicyName(r.Key), "policy:" + jamf.UninstallPolicyName(r.Key)}
	if !slices.Equal(got, want) {
		t.Errorf("found %v, want %v", got, want)
	}
	if chk, _ := c.Check(ctx(t)); chk.Detail != "2 packages" {
		t.Errorf("check: %+v", chk)
	}
}

func TestBodiesPassTheStrictSimulator(t *testing.T) {
	s, mk := start(t, jamfsim.Options{StrictXML: true, StrictJSON: true})
	c := mk()
	v1 := release(t, key("strict", "1", deploy.Ring1Canary), "c1")
	v1.Install.RebootBehavior = "force"
	v2 := release(t, key("strict", "2", deploy.Ring1Canary), "c2")
	v2.Required = false
	prior := v1.Key
	v2.Prior = &prior
	steps := []func() error{
		func() error { _, err := c.Publish(ctx(t), v1); return err },
		func() error { _, err := c.Publish(ctx(t), v2); return err },
		func() error {
			_, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v2})
			return err
		},
		func() error {
			_, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: v1})
			return err
		},
		func() error {
			_, err := c.Publish(ctx(t), release(t, key("strict", "1", deploy.Ring2Pilot), "c3"))
			return err
		},
		func() error { _, err := c.StaticGroup(ctx(t), "eucora ring-3 *", []int{7, 8}); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if len(s.Policies()) != 3 || len(s.Packages()) != 2 || len(s.Scripts()) != 1 {
		t.Errorf("%d policies, %d packages, %d scripts", len(s.Policies()), len(s.Packages()), len(s.Scripts()))
	}
}
