package sccm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sccm"
	"github.com/eucora/eucora/connectors/sccm/sccmsim"
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

func mustPublish(t *testing.T, c connectors.Connector, r connectors.Release) connectors.Publication {
	t.Helper()
	p, err := c.Publish(ctx(t), r)
	if err != nil {
		t.Fatalf("publish %s: %v", r.Key, err)
	}
	return p
}

func classOf(t *testing.T, err error) *connectors.Error {
	t.Helper()
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a *connectors.Error: %v", err)
	}
	return ce
}

func latest(s *sccmsim.Server, suffix string) []sccmsim.Application {
	var out []sccmsim.Application
	for _, a := range s.Applications() {
		if a.IsLatest && strings.HasSuffix(a.ModelName, suffix) {
			out = append(out, a)
		}
	}
	return out
}

func deploymentsTo(s *sccmsim.Server, coll string) []sccmsim.Deployment {
	var out []sccmsim.Deployment
	for _, d := range s.Deployments() {
		if d.TargetCollectionID == coll {
			out = append(out, d)
		}
	}
	return out
}

func TestPublishMakesTheSiteObjects(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{})
	r := release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-a")
	pub := mustPublish(t, mk(), r)
	kinds := map[string]connectors.Object{}
	for _, o := range pub.Objects {
		kinds[o.Kind] = o
	}
	app, coll, dep := kinds["application"], kinds["collection"], kinds["deployment"]
	if !strings.HasPrefix(app.ID, "ScopeId_3F2504E0-4F89-41D3-9A0C-0305E82C3301/Application_"+r.Key.AppKey().UUID()) || app.CorrelationID != "corr-a" ||
		kinds["package"].ID == "" || coll.ID == "" || dep.ID == "" || pub.Created != 3 {
		t.Fatalf("%+v", pub)
	}
	// The collection holds exactly the targets, refreshed: the pilot
	// collection's three devices and the direct one.
	members, _ := s.Members(coll.ID)
	if !slices.Equal(members, []int64{16777220, 16777221, 16777222, 16777223}) {
		t.Errorf("members %v", members)
	}
	ds := deploymentsTo(s, coll.ID)
	if len(ds) != 1 || ds[0].DesiredConfigType != 1 || ds[0].OfferTypeID != 0 || !strings.HasSuffix(ds[0].AssignmentName, "_Install") {
		t.Errorf("deployments %+v", ds)
	}
}

func TestQueryReportsDevicesAndDistribution(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{DistributionPolls: 1, InstallPolls: 1})
	s.SetOutcome("PC-0002", sccmsim.Outcome{AppStatusType: 5, EnforcementState: 5000, ErrorCode: 1603})
	s.SetOutcome("PC-0003", sccmsim.Outcome{AppStatusType: 3, EnforcementState: 3000})
	c := mk()
	r := release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-q")
	mustPublish(t, c, r)
	var st connectors.Status
	var err error
	for range 5 { // each status read moves the site one step
		if st, err = c.Query(ctx(t), r.Key); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.Devices) != 4 || st.Summary.Installed != 2 || st.Summary.Failed != 1 || st.Summary.NotApplicable != 1 {
		t.Fatalf("%+v", st)
	}
	for _, d := range st.Devices {
		if d.Device == "PC-0002" && (d.ErrorCode != 1603 || d.State != connectors.StateFailed || d.Detail != "deployment failed") {
			t.Errorf("%+v", d)
		}
	}
	if !slices.Contains(objectNames(st, "distribution"), sccmsim.DefaultDPGroupID+": success") {
		t.Errorf("distribution %v", objectNames(st, "distribution"))
	}
	slices.Sort(st.Assigned)
	if !slices.Equal(st.Assigned, []string{"16777223", sccmsim.DefaultCollectionID}) {
		t.Errorf("assigned %v", st.Assigned)
	}
}

func objectNames(st connectors.Status, kind string) []string {
	var out []string
	for _, o := range st.Objects {
		if o.Kind == kind {
			out = append(out, o.Name)
		}
	}
	return out
}

func TestQueryWhileContentIsOnItsWayAndWhenItFails(t *testing.T) {
	_, mk := startSim(t, sccmsim.Options{DistributionPolls: 100})
	c := mk()
	r := release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-d")
	mustPublish(t, c, r)
	st, err := c.Query(ctx(t), r.Key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Summary.Pending != 4 || st.Devices[0].Detail != "waiting for content" {
		t.Errorf("%+v", st)
	}
	if !slices.Contains(objectNames(st, "distribution"), sccmsim.DefaultDPGroupID+": in-progress") {
		t.Errorf("distribution %v", objectNames(st, "distribution"))
	}

	_, mk2 := startSim(t, sccmsim.Options{DistributionFailure: 4})
	c2 := mk2()
	mustPublish(t, c2, r)
	for range 3 {
		if st, err = c2.Query(ctx(t), r.Key); err != nil {
			t.Fatal(err)
		}
	}
	if st.Summary.Failed != 4 || st.Devices[0].Detail != "failed to locate content" || st.Devices[0].ErrorCode != -2016410105 {
		t.Errorf("%+v", st)
	}
	if !slices.Contains(objectNames(st, "distribution"), sccmsim.DefaultDPGroupID+": failed") {
		t.Errorf("distribution %v", objectNames(st, "distribution"))
	}
}

func TestChangedInstallIsANewRevisionNotASecondApplication(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{ConsistencyDelay: 1})
	c := mk()
	r := release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-r")
	mustPublish(t, c, r)
	r.Install.InstallCommand = `msiexec /i setup.msi /qn ALLUSERS=1`
	if p := mustPublish(t, c, r); p.Created != 0 {
		t.Errorf("a revision created %d objects", p.Created)
	}
	apps := latest(s, r.Key.AppKey().UUID())
	if len(apps) != 1 || apps[0].CIVersion != 2 || !strings.Contains(apps[0].XML, "ALLUSERS=1") {
		t.Fatalf("%+v", apps)
	}
	if id, _ := connectors.ParseCorrelationMarker(apps[0].Description); id != "corr-r" {
		t.Errorf("the revision lost the correlation marker: %q", apps[0].Description)
	}
	// The deployment follows the latest revision.
	for _, d := range s.Deployments() {
		if d.CIID != apps[0].CIID {
			t.Errorf("deployment %d assigns CI %d, latest is %d", d.AssignmentID, d.CIID, apps[0].CIID)
		}
	}
	// The same again makes no third revision.
	mustPublish(t, c, r)
	if apps := latest(s, r.Key.AppKey().UUID()); apps[0].CIVersion != 2 {
		t.Errorf("revision %d after an unchanged publish", apps[0].CIVersion)
	}
}

func TestSupersedeRevisesTheNewApplication(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{})
	c := mk()
	v1 := release(t, key("editor", "1.0", deploy.Ring1Canary), "corr-1")
	v2 := release(t, key("editor", "2.0", deploy.Ring1Canary), "corr-2")
	mustPublish(t, c, v1)
	mustPublish(t, c, v2)
	if a := latest(s, v2.Key.AppKey().UUID()); len(a[0].Supersedes) != 0 {
		t.Fatalf("supersedes %v without a prior", a[0].Supersedes)
	}
	prior := v1.Key
	v2.Prior = &prior
	for range 2 {
		if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Supersede, Release: v2}); err != nil {
			t.Fatal(err)
		}
	}
	a := latest(s, v2.Key.AppKey().UUID())
	v1app := latest(s, v1.Key.AppKey().UUID())
	if len(a) != 1 || a[0].CIVersion != 2 || len(a[0].Supersedes) != 1 || len(v1app) != 1 {
		t.Fatalf("%+v", a)
	}
	// A later ring without a Prior does not take the supersedence back.
	v2r2 := release(t, key("editor", "2.0", deploy.Ring2Pilot), "corr-3")
	mustPublish(t, c, v2r2)
	if a := latest(s, v2.Key.AppKey().UUID()); a[0].CIVersion != 2 || len(a[0].Supersedes) != 1 {
		t.Errorf("%+v", a)
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Supersede, Release: v2r2}); classOf(t, err).Class != connectors.Permanent {
		t.Errorf("supersede without a prior: %v", err)
	}
}

func TestPublishWithAPriorThatIsNotThere(t *testing.T) {
	_, mk := startSim(t, sccmsim.Options{})
	r := release(t, key("editor", "2.0", deploy.Ring1Canary), "corr-2")
	prior := key("editor", "1.0", deploy.Ring1Canary)
	r.Prior = &prior
	_, err := mk().Publish(ctx(t), r)
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !ce.NotFound || !strings.Contains(ce.Message, "editor@1.0") {
		t.Errorf("%v", err)
	}
}

func TestUninstallThenRedeploy(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{})
	c := mk()
	r := release(t, key("notepad", "8.6", deploy.Ring2Pilot), "corr-u")
	pub := mustPublish(t, c, r)
	coll := ""
	for _, o := range pub.Objects {
		if o.Kind == "collection" {
			coll = o.ID
		}
	}
	for range 2 {
		if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r}); err != nil {
			t.Fatal(err)
		}
	}
	ds := deploymentsTo(s, coll)
	if len(ds) != 1 || ds[0].DesiredConfigType != 2 || !strings.HasSuffix(ds[0].AssignmentName, "_Uninstall") {
		t.Fatalf("%+v", ds)
	}
	var st connectors.Status
	for range 4 {
		var err error
		if st, err = c.Query(ctx(t), r.Key); err != nil {
			t.Fatal(err)
		}
	}
	if st.Summary.NotInstalled != 4 || len(st.Assigned) != 0 {
		t.Errorf("after uninstall %+v", st)
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: r}); err != nil {
		t.Fatal(err)
	}
	ds = deploymentsTo(s, coll)
	if len(ds) != 1 || ds[0].DesiredConfigType != 1 {
		t.Fatalf("after redeploy %+v", ds)
	}
	ops := s.ClientOperations()
	if len(ops) != 1 || ops[0]["Type"] != int64(8) || ops[0]["TargetCollectionID"] != coll {
		t.Errorf("client operations %v", ops)
	}
}

func TestUninstallWithoutAnUninstallCommand(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{})
	c := mk()
	r := release(t, key("notepad", "8.6", deploy.Ring2Pilot), "corr-u")
	r.Install.UninstallCommand = ""
	mustPublish(t, c, r)
	_, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: r})
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "no uninstall command") {
		t.Errorf("%v", err)
	}
	for _, d := range s.Deployments() {
		if d.DesiredConfigType != 1 {
			t.Errorf("an uninstall deployment was made: %+v", d)
		}
	}
}

func TestTargetsAreExactlyTheCollectionsRules(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{})
	c := mk()
	r := release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-t")
	mustPublish(t, c, r)
	coll, _ := s.CollectionByName(r.Key.Name())
	// The next publish of the key drops the device and excludes PC-0001
	// through a collection of its own.
	r.Targets = []connectors.Target{{ID: sccmsim.DefaultCollectionID}, {ID: "PS100011", Exclude: true}}
	_, err := c.Publish(ctx(t), r)
	if ce := classOf(t, err); ce.Status != 400 || !strings.Contains(ce.Message, "PS100011") {
		t.Fatalf("an unknown collection: %v", err)
	}
	s2, mk2 := startSim(t, sccmsim.Options{Collections: []sccmsim.Collection{
		{ID: sccmsim.DefaultCollectionID, Name: "Pilot workstations", Members: []int64{16777220, 16777221, 16777222}},
		{ID: "PS100011", Name: "Kiosks", Members: []int64{16777220}}}})
	c2 := mk2()
	r.Targets = release(t, r.Key, "corr-t").Targets
	mustPublish(t, c2, r)
	r.Targets = []connectors.Target{{ID: sccmsim.DefaultCollectionID}, {ID: "PS100011", Exclude: true}}
	mustPublish(t, c2, r)
	coll, _ = s2.CollectionByName(r.Key.Name())
	members, _ := s2.Members(coll)
	if !slices.Equal(members, []int64{16777221, 16777222}) {
		t.Errorf("members %v", members)
	}
	if rules := s2.Rules(coll); len(rules) != 2 {
		t.Errorf("rules %v", rules)
	}
	st, err := c2.Query(ctx(t), r.Key)
	if err != nil || !slices.Equal(st.Assigned, []string{sccmsim.DefaultCollectionID}) {
		t.Errorf("assigned %v %v", st.Assigned, err)
	}
}

func TestBadTargetsAreRefusedBeforeAnyCall(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{})
	for _, tg := range []connectors.Target{{ID: "All Workstations"}, {ID: "16777220", Exclude: true}, {ID: "entra:1234"}} {
		r := release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-b")
		r.Targets = []connectors.Target{tg}
		s.Faults().ResetCalls()
		_, err := mk().Publish(ctx(t), r)
		if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, tg.ID) {
			t.Errorf("%+v: %v", tg, err)
		}
		if n, _ := s.Faults().Calls(); n != 0 {
			t.Errorf("%+v: %d calls", tg, n)
		}
	}
}

func TestUnknownDeviceTarget(t *testing.T) {
	_, mk := startSim(t, sccmsim.Options{})
	r := release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-b")
	r.Targets = []connectors.Target{{ID: "16799999"}}
	_, err := mk().Publish(ctx(t), r)
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "16799999") {
		t.Errorf("%v", err)
	}
}

// postRaw posts to the simulator as another AdminService client would.
func postRaw(t *testing.T, s *sccmsim.Server, path string, body any) int {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	tok, _ := s.Tokens().Issue()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(mustJSON(body)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestPublishRefusesAnotherToolsApplicationOfTheSameName(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{})
	r := release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-f")
	// Publish once to learn the XML, in a scratch site; then plant it in
	// s under another GUID, as if another tool had made it.
	s0, mk0 := startSim(t, sccmsim.Options{})
	mustPublish(t, mk0(), r)
	xml := latest(s0, r.Key.AppKey().UUID())[0].XML
	xml = strings.ReplaceAll(xml, "Application_"+r.Key.AppKey().UUID(), "Application_00000000-0000-4000-8000-000000000001")
	if st := postRaw(t, s, "/AdminService/wmi/SMS_Application", map[string]any{"SDMPackageXML": xml}); st != http.StatusCreated {
		t.Fatalf("plant: %d", st)
	}
	_, err := mk().Publish(ctx(t), r)
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "did not make") {
		t.Errorf("%v", err)
	}
	if n := len(latest(s, "")); n != 1 {
		t.Errorf("%d applications", n)
	}
}

func TestFindPagesThroughTheSite(t *testing.T) {
	_, mk := startSim(t, sccmsim.Options{PageSize: 1})
	c := mk()
	for i := range 3 {
		mustPublish(t, c, release(t, key(fmt.Sprintf("app%d", i), "1.0", deploy.Ring1Canary), fmt.Sprintf("corr-%d", i)))
	}
	found, err := mk().Find(ctx(t), "corr-2")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range found {
		kinds[o.Kind]++
		if o.CorrelationID != "corr-2" {
			t.Errorf("%+v", o)
		}
	}
	if kinds["application"] != 1 || kinds["collection"] != 1 || kinds["deployment"] != 1 {
		t.Errorf("%v", found)
	}
	if _, err := c.Find(ctx(t), "has space"); classOf(t, err).Class != connectors.Permanent {
		t.Errorf("a bad id: %v", err)
	}
}

func TestQueryOfAnUnknownKey(t *testing.T) {
	_, mk := startSim(t, sccmsim.Options{})
	_, err := mk().Query(ctx(t), key("nothing", "1", deploy.Ring1Canary))
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !ce.NotFound {
		t.Errorf("%v", err)
	}
}

func TestCheck(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{PageSize: 1})
	c := mk()
	mustPublish(t, c, release(t, key("a", "1", deploy.Ring1Canary), "c-1"))
	mustPublish(t, c, release(t, key("b", "1", deploy.Ring1Canary), "c-2"))
	ck, err := mk().Check(ctx(t))
	if err != nil || ck.Plane != connectors.SCCM || !strings.Contains(ck.Detail, "1 applications on the first page, more pages follow") ||
		!strings.Contains(ck.Detail, "3F2504E0") {
		t.Errorf("%+v %v", ck, err)
	}
	s.Tokens().ExpireAll()
	if _, err := c.Check(ctx(t)); err != nil {
		t.Errorf("after token expiry: %v", err)
	}
}

func TestWrongCredentialsArePermanentWithTheIssuersWords(t *testing.T) {
	s := sccmsim.New(sccmsim.Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cred := s.Credentials()
	for _, cc := range []sccm.ClientCredentials{
		{TokenURL: srv.URL + cred.TokenPath, ClientID: cred.ClientID, ClientSecret: "wrong", Scope: cred.Scope},
		{TokenURL: srv.URL + cred.TokenPath, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret, Scope: "api://other/.default"},
	} {
		c, err := sccm.New(sccm.Config{BaseURL: srv.URL + "/AdminService", Auth: cc, ContentSource: `\\a\b`})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Check(ctx(t))
		if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "AADSTS") || ce.Op != "get token" {
			t.Errorf("%v", err)
		}
	}
}

func TestAccessDeniedFromWMIIsPolicy(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{})
	s.Faults().Add(sim.Fault{Match: "POST /AdminService/wmi/SMS_Collection", Status: 500,
		Body: `{"error":{"code":"500","message":"Access denied (0x80041003): the user has no rights on collection scope"}}`})
	s.Faults().ResetCalls()
	_, err := connectors.WithRetry(mk(), connectors.RetryPolicy{Attempts: 5, Initial: time.Millisecond}).Publish(ctx(t),
		release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-p"))
	if ce := classOf(t, err); ce.Class != connectors.Policy {
		t.Errorf("%v", err)
	}
	if _, per := s.Faults().Calls(); per["POST /AdminService/wmi/SMS_Collection"] != 1 {
		t.Errorf("the refusal was sent %d times", per["POST /AdminService/wmi/SMS_Collection"])
	}
}

func TestSiteIDIsReadOnceOrConfigured(t *testing.T) {
	s := sccmsim.New(sccmsim.Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cred := s.Credentials()
	cfg := sccm.Config{BaseURL: srv.URL + "/AdminService", ContentSource: `\\edge01\dp`, PollInterval: time.Millisecond,
		Auth: sccm.ClientCredentials{TokenURL: srv.URL + cred.TokenPath, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret, Scope: cred.Scope}}
	c, _ := sccm.New(cfg)
	mustPublish(t, c, release(t, key("a", "1", deploy.Ring1Canary), "c-1"))
	mustPublish(t, c, release(t, key("b", "1", deploy.Ring1Canary), "c-2"))
	if _, per := s.Faults().Calls(); per["GET /AdminService/wmi/SMS_Identification.GetSiteID"] != 1 {
		t.Errorf("site id read %d times", per["GET /AdminService/wmi/SMS_Identification.GetSiteID"])
	}
	cfg.SiteID = "{00000000-0000-4000-8000-0000000000AA}" // not this site's
	c, _ = sccm.New(cfg)
	_, err := c.Publish(ctx(t), release(t, key("c", "1", deploy.Ring1Canary), "c-3"))
	if ce := classOf(t, err); ce.Status != 400 || !strings.Contains(ce.Message, "AuthoringScopeId") {
		t.Errorf("%v", err)
	}
}

func TestNextLinkMustStayOnTheAdminService(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"value":[]}`))
	}))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/token"):
			w.Write([]byte(`{"access_token":"t","expires_in":3600}`))
		case strings.Contains(r.URL.Path, "GetSiteID"):
			w.Write([]byte(`{"SiteID":"{3F2504E0-4F89-41D3-9A0C-0305E82C3301}"}`))
		default:
			fmt.Fprintf(w, `{"value":[],"@odata.nextLink":%q}`, other.URL+"/AdminService/wmi/SMS_Application?$skip=1")
		}
	}))
	t.Cleanup(srv.Close)
	c, err := sccm.New(sccm.Config{BaseURL: srv.URL + "/AdminService", ContentSource: `\\a\b`,
		Auth: sccm.ClientCredentials{TokenURL: srv.URL + "/token", ClientID: "i", ClientSecret: "s", Scope: "x/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Find(ctx(t), "corr")
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !strings.Contains(ce.Message, "leaves the AdminService") {
		t.Errorf("%v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	auth := sccm.ClientCredentials{TokenURL: "https://login.example/t/oauth2/v2.0/token", ClientID: "i", ClientSecret: "s", Scope: "api://x/.default"}
	cases := []struct {
		cfg  sccm.Config
		want string
	}{
		{sccm.Config{BaseURL: "cm01/AdminService", Auth: auth, ContentSource: `\\a\b`}, "base URL"},
		{sccm.Config{BaseURL: "https://cm01/", Auth: auth, ContentSource: `\\a\b`}, "must end in /AdminService"},
		{sccm.Config{BaseURL: "https://cm01/AdminService", ContentSource: `\\a\b`}, "Windows integrated auth is not implemented"},
		{sccm.Config{BaseURL: "https://cm01/AdminService", Auth: sccm.ClientCredentials{TokenURL: "x"}, ContentSource: `\\a\b`}, "client id and secret"},
		{sccm.Config{BaseURL: "https://cm01/AdminService", Auth: sccm.ClientCredentials{TokenURL: "ftp://x", ClientID: "i", ClientSecret: "s", Scope: "y"}, ContentSource: `\\a\b`}, "not an http(s) URL"},
		{sccm.Config{BaseURL: "https://cm01/AdminService", Auth: auth, ContentSource: `C:\content`}, "UNC folder"},
		{sccm.Config{BaseURL: "https://cm01/AdminService", Auth: auth, ContentSource: `\\server`}, "UNC folder"},
		{sccm.Config{BaseURL: "https://cm01/AdminService", Auth: auth, ContentSource: `\\a\b`, SiteID: "PS1"}, "not a GUID"},
		{sccm.Config{BaseURL: "https://cm01/AdminService", Auth: auth, ContentSource: `\\a\b`, DistributionPointGroups: []string{" "}}, "distribution point group"},
	}
	for _, c := range cases {
		if _, err := sccm.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// headerAuth shows the Auth seam: a scheme the package does not
// implement (Negotiate) plugs in as a transport decorator.
type headerAuth struct{ token string }

func (h headerAuth) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+h.token)
		return next.RoundTrip(r)
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAuthIsPluggable(t *testing.T) {
	s := sccmsim.New(sccmsim.Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	tok, _ := s.Tokens().Issue()
	c, err := sccm.New(sccm.Config{BaseURL: srv.URL + "/AdminService", Auth: headerAuth{tok}, ContentSource: `\\a\b`})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(ctx(t)); err != nil {
		t.Error(err)
	}
}

func TestPinPriorRemakesAPriorCollectionThatIsGone(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{})
	c := mk()
	v1 := release(t, key("editor", "1.0", deploy.Ring1Canary), "corr-1")
	v2 := release(t, key("editor", "2.0", deploy.Ring1Canary), "corr-2")
	mustPublish(t, c, v1)
	prior := v1.Key
	v2.Prior = &prior
	mustPublish(t, c, v2)
	// An administrator removed the prior's deployment and collection.
	coll1, _ := s.CollectionByName(v1.Key.Name())
	for _, d := range deploymentsTo(s, coll1) {
		deleteRaw(t, s, fmt.Sprintf("/AdminService/wmi/SMS_ApplicationAssignment(%d)", d.AssignmentID))
	}
	deleteRaw(t, s, "/AdminService/wmi/SMS_Collection('"+coll1+"')")
	v2.Targets = []connectors.Target{{ID: "16777224"}} // the ring reaches one device now
	pub, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v2})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Key != v1.Key || pub.Created != 2 {
		t.Errorf("%+v", pub)
	}
	coll1, ok := s.CollectionByName(v1.Key.Name())
	members, _ := s.Members(coll1)
	if !ok || !slices.Equal(members, []int64{16777224}) {
		t.Errorf("prior collection %s members %v", coll1, members)
	}
	if ds := deploymentsTo(s, coll1); len(ds) != 1 || ds[0].DesiredConfigType != 1 {
		t.Errorf("prior deployments %+v", ds)
	}
	coll2, _ := s.CollectionByName(v2.Key.Name())
	if ds := deploymentsTo(s, coll2); len(ds) != 0 {
		t.Errorf("the new release is still deployed: %+v", ds)
	}
	st, err := c.Query(ctx(t), v1.Key)
	if err != nil || !slices.Equal(st.Assigned, []string{"16777224"}) {
		t.Errorf("%v %v", st.Assigned, err)
	}
	// Without the prior application on the site there is nothing to pin.
	gone := key("editor", "0.9", deploy.Ring1Canary)
	v2.Prior = &gone
	_, err = c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v2})
	if ce := classOf(t, err); ce.Class != connectors.Permanent || !ce.NotFound {
		t.Errorf("%v", err)
	}
}

func deleteRaw(t *testing.T, s *sccmsim.Server, path string) {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	tok, _ := s.Tokens().Issue()
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s: %d", path, resp.StatusCode)
	}
}
