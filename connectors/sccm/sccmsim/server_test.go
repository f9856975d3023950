package sccmsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors/sccm/sccmsim"
)

// client talks to a simulator as any AdminService client would.
type client struct {
	t   *testing.T
	s   *sccmsim.Server
	url string
	tok string
}

func start(t *testing.T, o sccmsim.Options) *client {
	t.Helper()
	s := sccmsim.New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	tok, _ := s.Tokens().Issue()
	return &client{t: t, s: s, url: srv.URL, tok: tok}
}

// do sends a request to a path below /AdminService/wmi/ (or an absolute
// URL) and returns the status and the decoded answer.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = c.url + "/AdminService/wmi/" + path
	}
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			rd = strings.NewReader(string(b))
		}
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

func q(filter string, more ...string) string {
	v := url.Values{"$filter": {filter}}
	for i := 0; i+1 < len(more); i += 2 {
		v.Set(more[i], more[i+1])
	}
	return "?" + v.Encode()
}

func values(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	vs, ok := m["value"].([]any)
	if !ok {
		t.Fatalf("not a collection: %v", m)
	}
	var out []map[string]any
	for _, v := range vs {
		out = append(out, v.(map[string]any))
	}
	return out
}

// errorShape checks an answer is {"error":{"code","message"}} and returns
// the message.
func errorShape(t *testing.T, m map[string]any) string {
	t.Helper()
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("not the OData error shape: %v", m)
	}
	if _, ok := e["code"].(string); !ok {
		t.Fatalf("no code: %v", m)
	}
	msg, _ := e["message"].(string)
	if msg == "" {
		t.Fatalf("no message: %v", m)
	}
	return msg
}

func sampleXML(t *testing.T) string {
	b, err := os.ReadFile("../testdata/sdmpackage.xml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (c *client) createApp(xml string) (int64, map[string]any) {
	c.t.Helper()
	st, m := c.do("POST", "SMS_Application", map[string]any{"SDMPackageXML": xml})
	if st != http.StatusCreated {
		c.t.Fatalf("create application: %d %v", st, m)
	}
	return int64(m["CI_ID"].(float64)), m
}

func TestTokenEndpointAndBearer(t *testing.T) {
	s := sccmsim.New(sccmsim.Options{TokenLifetime: time.Hour})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cr := s.Credentials()
	post := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(srv.URL+cr.TokenPath, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {cr.ClientID}, "client_secret": {cr.ClientSecret}, "scope": {cr.Scope}}
	st, m := post(good)
	if st != 200 || m["token_type"] != "Bearer" || m["expires_in"] != float64(3600) || m["access_token"] == "" {
		t.Fatalf("%d %v", st, m)
	}
	for _, c := range []struct {
		key, val, code string
		status         int
	}{
		{"grant_type", "password", "unsupported_grant_type", 400},
		{"client_id", "nobody", "unauthorized_client", 400},
		{"client_secret", "wrong", "invalid_client", 401},
		{"scope", "api://x/.default", "invalid_scope", 400},
	} {
		f := url.Values{}
		for k, v := range good {
			f[k] = v
		}
		f.Set(c.key, c.val)
		if st, m := post(f); st != c.status || m["error"] != c.code || !strings.HasPrefix(m["error_description"].(string), "AADSTS") {
			t.Errorf("%s=%s: %d %v", c.key, c.val, st, m)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/AdminService/wmi/SMS_Site", nil)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	c := &client{t: t, s: s, url: srv.URL, tok: m["access_token"].(string)}
	if st, _ := c.do("GET", "SMS_Site", nil); st != 200 {
		t.Errorf("with the token: %d", st)
	}
	s.Tokens().ExpireAll()
	if st, m := c.do("GET", "SMS_Site", nil); st != 401 || errorShape(t, m) == "" {
		t.Errorf("after expiry: %d", st)
	}
}

func TestRoutesAndErrorShape(t *testing.T) {
	c := start(t, sccmsim.Options{})
	cases := []struct {
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"GET", "SMS_Nothing", nil, 404, "Resource not found for the segment 'SMS_Nothing'"},
		{"GET", "SMS_Application(abc)", nil, 400, "want a number"},
		{"GET", "SMS_Application(99)", nil, 404, "No instance of SMS_Application"},
		{"GET", "SMS_Collection('NOPE0000')", nil, 404, "No instance"},
		{"GET", "SMS_Collection" + q("Name eq 'a' or Name eq 'b'"), nil, 400, "only eq, ne and and"},
		{"GET", "SMS_Collection" + q("Nmae eq 'a'"), nil, 400, "Could not find a property named 'Nmae' on type 'AdminService.SMS_Collection'"},
		{"GET", "SMS_Collection?$select=Name,Bogus", nil, 400, "Could not find a property named 'Bogus'"},
		{"GET", "SMS_Collection?$top=-1", nil, 400, "Invalid value '-1' for $top"},
		{"GET", "SMS_Collection?$orderby=Name", nil, 400, "$orderby"},
		{"GET", "SMS_Collection?$expand=x", nil, 400, "'$expand' is not supported"},
		{"PUT", "SMS_Collection", nil, 405, "does not support http method 'PUT'"},
		{"POST", "SMS_Collection", `[1]`, 400, "not a JSON object"},
		{"POST", "SMS_Collection", map[string]any{"Name": "x", "CollectionType": 2, "LimitToCollectionID": "SMS00001", "Colour": "red"}, 400,
			"The property 'Colour' does not exist on type 'AdminService.SMS_Collection'"},
		{"POST", "SMS_Collection", map[string]any{"Name": "x", "CollectionType": "2", "LimitToCollectionID": "SMS00001"}, 400, "Edm.Int32"},
		{"POST", "SMS_Collection", map[string]any{"Name": "x", "CollectionType": 2}, 400, "The property 'LimitToCollectionID' is required"},
		{"POST", "SMS_Collection", map[string]any{"@odata.type": "#AdminService.SMS_Package", "Name": "x", "CollectionType": 2, "LimitToCollectionID": "SMS00001"},
			400, "A type named 'AdminService.SMS_Package' could not be resolved"},
		{"POST", "SMS_Collection", map[string]any{"Name": "Pilot workstations", "CollectionType": 2, "LimitToCollectionID": "SMS00001"}, 409, "already exists"},
		{"POST", "SMS_Collection", map[string]any{"Name": "x", "CollectionType": 2, "LimitToCollectionID": "PS1FFFFF"}, 400, "limiting collection"},
		{"POST", "SMS_Collection", map[string]any{"Name": "x", "CollectionType": 2, "LimitToCollectionID": "SMS00001", "RefreshType": 3}, 400, "RefreshType 3"},
		{"POST", "SMS_Collection('SMS00001')/AdminService.AddMembershipRule", map[string]any{"collectionRule": map[string]any{
			"@odata.type": "#AdminService.SMS_CollectionRuleDirect", "ResourceClassName": "SMS_R_System", "ResourceID": 16777220, "RuleName": "x"}}, 400, "built-in"},
		{"POST", "SMS_Collection('PS100010')/AdminService.AddMembershipRule", map[string]any{"collectionRule": map[string]any{
			"@odata.type": "#AdminService.SMS_CollectionRuleMagic", "RuleName": "x"}}, 400, "SMS_CollectionRuleMagic' could not be resolved"},
		{"POST", "SMS_Collection('PS100010')/AdminService.AddMembershipRule", map[string]any{"collectionRule": map[string]any{
			"@odata.type": "#AdminService.SMS_CollectionRuleDirect", "ResourceClassName": "SMS_R_System", "ResourceID": 1, "RuleName": "x"}}, 400, "No SMS_R_System resource has ResourceID 1"},
		{"POST", "SMS_Collection('PS100010')/AdminService.AddMembershipRule", map[string]any{"collectionRule": map[string]any{
			"@odata.type": "#AdminService.SMS_CollectionRuleDirect", "ResourceID": 16777220, "RuleName": "x"}}, 400, "'ResourceClassName' is required"},
		{"POST", "SMS_Collection('PS100010')/AdminService.AddMembershipRule", map[string]any{"collectionRule": map[string]any{
			"@odata.type": "#AdminService.SMS_CollectionRuleIncludeCollection", "IncludeCollectionID": "PS100010", "RuleName": "x"}}, 400, "itself"},
		{"POST", "SMS_Collection('PS100010')/AdminService.Frobnicate", map[string]any{}, 404, "The method 'Frobnicate' is not found"},
		{"GET", "SMS_Collection('PS100010')/AdminService.RequestRefresh", nil, 405, "does not support"},
		{"POST", "SMS_ClientOperation.InitiateClientOperation", map[string]any{"Type": 8}, 400, "'TargetCollectionID' is required"},
		{"POST", "SMS_ClientOperation.InitiateClientOperation", map[string]any{"Type": 99, "TargetCollectionID": "PS100010"}, 400, "not a client operation"},
		{"POST", "SMS_Application", map[string]any{"SDMPackageXML": "<AppMgmtDigest"}, 400, "not well formed"},
		{"POST", "SMS_Application", map[string]any{}, 400, "'SDMPackageXML' is required"},
		{"DELETE", "SMS_Collection('SMS00001')", nil, 400, "built-in"},
		{"GET", c.url + "/AdminService/v1.0/Device", nil, 501, "v1.0"},
	}
	for _, x := range cases {
		st, m := c.do(x.method, x.path, x.body)
		if st != x.status {
			t.Errorf("%s %s: %d %v, want %d", x.method, x.path, st, m, x.status)
			continue
		}
		if msg := errorShape(t, m); !strings.Contains(msg, x.msg) {
			t.Errorf("%s %s: %q, want %q", x.method, x.path, msg, x.msg)
		}
	}
}

func TestClassNamesAreCaseInsensitive(t *testing.T) {
	c := start(t, sccmsim.Options{})
	for _, p := range []string{"SMS_R_System", "sms_r_system", "Sms_R_System(16777220)", "SMS_IDENTIFICATION.GetSiteID", "sms_identification.getsiteid"} {
		if st, m := c.do("GET", p, nil); st/100 != 2 {
			t.Errorf("%s: %d %v", p, st, m)
		}
	}
	st, m := c.do("POST", "SMS_Identification.GetSiteID", map[string]any{})
	if st != 201 || m["SiteID"] != sccmsim.DefaultSiteID || m["ReturnValue"] != float64(0) {
		t.Errorf("%d %v", st, m)
	}
}

func TestPagingSelectAndTop(t *testing.T) {
	c := start(t, sccmsim.Options{PageSize: 2})
	var names []string
	next := "SMS_R_System?$select=Name"
	pages := 0
	for next != "" {
		st, m := c.do("GET", next, nil)
		if st != 200 {
			t.Fatalf("%d %v", st, m)
		}
		if ctx, _ := m["@odata.context"].(string); !strings.HasSuffix(ctx, "$metadata#SMS_R_System(Name)") {
			t.Errorf("context %q", ctx)
		}
		for _, v := range values(t, m) {
			if len(v) != 1 {
				t.Errorf("$select=Name gave %v", v)
			}
			names = append(names, v["Name"].(string))
		}
		next, _ = m["@odata.nextLink"].(string)
		pages++
	}
	if pages != 3 || len(names) != 6 || names[0] != "PC-0001" || names[5] != "PC-0006" {
		t.Errorf("%d pages: %v", pages, names)
	}
	names = nil
	next = "SMS_R_System?$top=3&$skip=1"
	for next != "" {
		_, m := c.do("GET", next, nil)
		for _, v := range values(t, m) {
			names = append(names, v["Name"].(string))
		}
		next, _ = m["@odata.nextLink"].(string)
	}
	if !slices.Equal(names, []string{"PC-0002", "PC-0003", "PC-0004"}) {
		t.Errorf("$top=3&$skip=1: %v", names)
	}
}

func TestLazyPropertiesOnlyByKey(t *testing.T) {
	c := start(t, sccmsim.Options{})
	ci, _ := c.createApp(sampleXML(t))
	_, m := c.do("GET", "SMS_Application", nil)
	if _, ok := values(t, m)[0]["SDMPackageXML"]; ok {
		t.Error("a list carries the lazy SDMPackageXML")
	}
	_, m = c.do("GET", "SMS_Application?$select=CI_ID,SDMPackageXML", nil)
	if v := values(t, m)[0]; v["SDMPackageXML"] != nil {
		t.Errorf("a selected lazy property in a list: %v", v)
	}
	_, m = c.do("GET", "SMS_Application("+itoa(ci)+")", nil)
	if vs := values(t, m); len(vs) != 1 || !strings.Contains(vs[0]["SDMPackageXML"].(string), "AppMgmtDigest") {
		t.Errorf("by key: %v", m)
	}
	_, m = c.do("GET", "SMS_Collection('PS100010')", nil)
	if rules := values(t, m)[0]["CollectionRules"].([]any); len(rules) != 3 {
		t.Errorf("rules %v", rules)
	}
	_, m = c.do("GET", "SMS_Collection"+q("CollectionID eq 'PS100010'"), nil)
	if _, ok := values(t, m)[0]["CollectionRules"]; ok {
		t.Error("a list carries the lazy CollectionRules")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestApplicationValidation(t *testing.T) {
	c := start(t, sccmsim.Options{})
	g := sampleXML(t)
	cases := []struct {
		name, xml, want string
	}{
		{"wrong root namespace", strings.Replace(g, `xmlns="http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest" xmlns:xsi`, `xmlns="urn:x" xmlns:xsi`, 1), "root element"},
		{"another site's scope", strings.ReplaceAll(g, "ScopeId_3F2504E0", "ScopeId_00000000"), "not this site's"},
		{"bad logical name", strings.Replace(g, "Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e01", "App_1", 1), "not Application_<GUID>"},
		{"no title", strings.ReplaceAll(g, "7-Zip 23.01 (x64)", ""), "no title"},
		{"no install command", strings.ReplaceAll(g, `msiexec /i "7z2301-x64.msi" /qn`, ""), "no install command"},
		{"no detection", strings.Replace(g, `Name="MethodBody"`, `Name="X"`, 1), "no detection method"},
		{"local content", strings.Replace(g, `\\cm01\sources$\7zip\23.01\`, `C:\src`, 1), "UNC folder"},
		{"missing deployment type", strings.Replace(g, `LogicalName="DeploymentType_0c7a6b1e-55b2-4a07-8d4c-3b1f9e3d2a10" Version="3"/>`,
			`LogicalName="DeploymentType_0c7a6b1e-55b2-4a07-8d4c-3b1f9e3d2a11" Version="3"/>`, 1), "does not hold"},
		{"supersedes nothing", strings.Replace(g, "</Installer>", `</Installer><Supersedes><DeploymentTypeRule xmlns="http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules" Id="SupersedenceRule_1"><DeploymentTypeIntentExpression DesiredState="Prohibited"><DeploymentTypeApplicabilityReference><ApplicationReference LogicalName="Application_1"/><DeploymentTypeReference LogicalName="DeploymentType_00000000-0000-0000-0000-000000000000"/></DeploymentTypeApplicabilityReference></DeploymentTypeIntentExpression></DeploymentTypeRule></Supersedes>`, 1), "no application holds"},
	}
	for _, x := range cases {
		st, m := c.do("POST", "SMS_Application", map[string]any{"SDMPackageXML": x.xml})
		if st != 400 || !strings.Contains(errorShape(t, m), x.want) {
			t.Errorf("%s: %d %v, want %q", x.name, st, m, x.want)
		}
	}
	ci, m := c.createApp(g)
	if m["ModelName"] != "ScopeId_3F2504E0-4F89-41D3-9A0C-0305E82C3301/Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e01" ||
		m["CIVersion"] != float64(1) || m["IsLatest"] != true || m["LocalizedDisplayName"] != "7-Zip 23.01 (x64)" || ci != 16777217 {
		t.Errorf("%v", m)
	}
	if st, m := c.do("POST", "SMS_Application", map[string]any{"SDMPackageXML": g}); st != 409 || !strings.Contains(errorShape(t, m), "ModelName") {
		t.Errorf("duplicate ModelName: %d %v", st, m)
	}
	other := strings.ReplaceAll(g, "Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e01", "Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e02")
	if st, m := c.do("POST", "SMS_Application", map[string]any{"SDMPackageXML": other}); st != 409 || !strings.Contains(errorShape(t, m), "names must be unique") {
		t.Errorf("duplicate name: %d %v", st, m)
	}
}

func TestRevisions(t *testing.T) {
	c := start(t, sccmsim.Options{})
	g := sampleXML(t)
	ci, _ := c.createApp(g)
	coll := c.newCollection("Ring 1")
	dep := c.deploy(ci, coll, 1, "{11111111-1111-4111-8111-111111111111}")
	st, m := c.do("POST", "SMS_Application("+itoa(ci)+")", map[string]any{"SDMPackageXML": strings.Replace(g, "/qn</Arg>", "/qn REBOOT=0</Arg>", 1)})
	if st != 201 || m["CIVersion"] != float64(2) || m["IsLatest"] != true || int64(m["CI_ID"].(float64)) == ci {
		t.Fatalf("%d %v", st, m)
	}
	rev := int64(m["CI_ID"].(float64))
	_, m = c.do("GET", "SMS_Application"+q("ModelName eq '"+m["ModelName"].(string)+"'"), nil)
	vs := values(t, m)
	if len(vs) != 2 || vs[0]["IsLatest"] != false || vs[1]["IsLatest"] != true {
		t.Errorf("%v", vs)
	}
	if st, m := c.do("POST", "SMS_Application("+itoa(ci)+")", map[string]any{"SDMPackageXML": g}); st != 409 || !strings.Contains(errorShape(t, m), "not the latest") {
		t.Errorf("revising an old revision: %d %v", st, m)
	}
	other := strings.ReplaceAll(g, "Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e01", "Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e02")
	if st, m := c.do("POST", "SMS_Application("+itoa(rev)+")", map[string]any{"SDMPackageXML": other}); st != 400 || !strings.Contains(errorShape(t, m), "not ScopeId") {
		t.Errorf("revising with another application's package: %d %v", st, m)
	}
	_, m = c.do("GET", "SMS_ApplicationAssignment("+itoa(dep)+")", nil)
	if cis := values(t, m)[0]["AssignedCIs"].([]any); len(cis) != 1 || int64(cis[0].(float64)) != rev {
		t.Errorf("the deployment does not follow the revision: %v", cis)
	}
}

func (c *client) newCollection(name string) string {
	c.t.Helper()
	st, m := c.do("POST", "SMS_Collection", map[string]any{"Name": name, "CollectionType": 2, "LimitToCollectionID": "SMS00001", "RefreshType": 4, "Comment": "c"})
	if st != 201 {
		c.t.Fatalf("collection: %d %v", st, m)
	}
	return m["CollectionID"].(string)
}

func (c *client) deploy(ci int64, coll string, desired int, uid string) int64 {
	c.t.Helper()
	st, m := c.do("POST", "SMS_ApplicationAssignment", deployment(ci, coll, desired, uid))
	if st != 201 {
		c.t.Fatalf("deploy: %d %v", st, m)
	}
	return int64(m["AssignmentID"].(float64))
}

func deployment(ci int64, coll string, desired int, uid string) map[string]any {
	return map[string]any{"ApplicationName": "7-Zip", "AssignmentName": "7-Zip_" + coll + "_" + itoa(int64(desired)), "AssignedCIs": []int64{ci},
		"AssignmentAction": 2, "AssignmentType": 2, "DesiredConfigType": desired, "OfferTypeID": 0, "TargetCollectionID": coll,
		"StartTime": "2026-12-07T10:00:00Z", "EnforcementDeadline": "2026-12-07T10:00:00Z", "AssignmentUniqueID": uid}
}

func TestMembershipIsEvaluatedOnRefresh(t *testing.T) {
	c := start(t, sccmsim.Options{Collections: []sccmsim.Collection{
		{ID: "PS100010", Name: "Pilot", Members: []int64{16777220, 16777221, 16777222}},
		{ID: "PS100011", Name: "Kiosks", Members: []int64{16777221}}}})
	coll := c.newCollection("Ring 1")
	rule := func(method string, r map[string]any) {
		t.Helper()
		if st, m := c.do("POST", "SMS_Collection('"+coll+"')/AdminService."+method, map[string]any{"collectionRule": r}); st != 201 || m["ReturnValue"] != float64(0) {
			t.Fatalf("%s: %d %v", method, st, m)
		}
	}
	rule("AddMembershipRule", map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleIncludeCollection", "IncludeCollectionID": "PS100010", "RuleName": "Pilot"})
	rule("AddMembershipRule", map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleExcludeCollection", "ExcludeCollectionID": "PS100011", "RuleName": "Kiosks"})
	rule("AddMembershipRule", map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleDirect", "ResourceClassName": "SMS_R_System", "ResourceID": 16777225, "RuleName": "PC-0006"})
	rule("AddMembershipRule", map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleQuery", "QueryExpression": "select * from SMS_R_System", "RuleName": "q"})
	if m, _ := c.s.Members(coll); len(m) != 0 {
		t.Fatalf("members before a refresh: %v", m)
	}
	_, before := c.do("GET", "SMS_Collection('"+coll+"')", nil)
	if st, _ := c.do("POST", "SMS_Collection('"+coll+"')/AdminService.RequestRefresh", map[string]any{}); st != 201 {
		t.Fatal(st)
	}
	if m, _ := c.s.Members(coll); !slices.Equal(m, []int64{16777220, 16777222, 16777225}) {
		t.Errorf("members %v", m)
	}
	_, after := c.do("GET", "SMS_Collection('"+coll+"')", nil)
	b, a := values(t, before)[0], values(t, after)[0]
	if a["MemberCount"] != float64(3) || a["LastRefreshTime"].(string) <= a["LastChangeTime"].(string) || b["LastRefreshTime"].(string) >= b["LastChangeTime"].(string) {
		t.Errorf("times: before %v / %v, after %v / %v", b["LastChangeTime"], b["LastRefreshTime"], a["LastChangeTime"], a["LastRefreshTime"])
	}
	rule("DeleteMembershipRule", map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleExcludeCollection", "ExcludeCollectionID": "PS100011", "RuleName": "Kiosks"})
	rule("DeleteMembershipRule", map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleExcludeCollection", "ExcludeCollectionID": "PS100011", "RuleName": "Kiosks"}) // gone: still success
	c.do("POST", "SMS_Collection('"+coll+"')/AdminService.RequestRefresh", map[string]any{})
	if m, _ := c.s.Members(coll); !slices.Equal(m, []int64{16777220, 16777221, 16777222, 16777225}) {
		t.Errorf("members %v", m)
	}
	_, m := c.do("GET", "SMS_FullCollectionMembership"+q("CollectionID eq '"+coll+"'"), nil)
	if len(values(t, m)) != 4 {
		t.Errorf("%v", m)
	}
}

func TestDeploymentRules(t *testing.T) {
	c := start(t, sccmsim.Options{})
	g := sampleXML(t)
	ci, _ := c.createApp(g)
	coll := c.newCollection("Ring 1")
	dep := c.deploy(ci, coll, 1, "{11111111-1111-4111-8111-111111111111}")
	cases := []struct {
		name   string
		mod    func(map[string]any)
		status int
		want   string
	}{
		{"same unique id", func(m map[string]any) {}, 409, "AssignmentUniqueID"},
		{"opposite action", func(m map[string]any) {
			m["DesiredConfigType"], m["AssignmentUniqueID"] = 2, "{22222222-2222-4222-8222-222222222222}"
		}, 409, "opposite action"},
		{"available uninstall", func(m map[string]any) { m["DesiredConfigType"], m["OfferTypeID"] = 2, 2 }, 400, "must be required"},
		{"required without deadline", func(m map[string]any) { delete(m, "EnforcementDeadline") }, 400, "EnforcementDeadline"},
		{"two applications", func(m map[string]any) { m["AssignedCIs"] = []int64{ci, ci} }, 400, "exactly one"},
		{"unknown application", func(m map[string]any) { m["AssignedCIs"] = []int64{5} }, 400, "no application with CI_ID 5"},
		{"unknown collection", func(m map[string]any) { m["TargetCollectionID"] = "PS1FFFFF" }, 400, "does not exist"},
		{"bad unique id", func(m map[string]any) { m["AssignmentUniqueID"] = "not-a-guid" }, 400, "not a GUID"},
		{"bad start time", func(m map[string]any) { m["StartTime"] = "tomorrow" }, 400, "Edm.DateTimeOffset"},
		{"assigned CIs as text", func(m map[string]any) { m["AssignedCIs"] = "16777217" }, 400, "Collection(Edm.Int32)"},
	}
	for _, x := range cases {
		body := deployment(ci, coll, 1, "{11111111-1111-4111-8111-111111111111}")
		x.mod(body)
		st, m := c.do("POST", "SMS_ApplicationAssignment", body)
		if st != x.status || !strings.Contains(errorShape(t, m), x.want) {
			t.Errorf("%s: %d %v, want %d %q", x.name, st, m, x.status, x.want)
		}
	}
	// PATCH changes what may change and nothing else.
	if st, m := c.do("PATCH", "SMS_ApplicationAssignment("+itoa(dep)+")", map[string]any{"OfferTypeID": 2}); st != 200 || m["OfferTypeID"] != float64(2) {
		t.Errorf("patch: %d %v", st, m)
	}
	if st, m := c.do("PATCH", "SMS_ApplicationAssignment("+itoa(dep)+")", map[string]any{"TargetCollectionID": "PS100010"}); st != 400 || !strings.Contains(errorShape(t, m), "cannot be modified") {
		t.Errorf("patch of a key: %d %v", st, m)
	}
	// A collection with a deployment is not deleted; without one it is.
	if st, _ := c.do("DELETE", "SMS_Collection('"+coll+"')", nil); st != 409 {
		t.Errorf("delete a targeted collection: %d", st)
	}
	if st, _ := c.do("DELETE", "SMS_ApplicationAssignment("+itoa(dep)+")", nil); st != 204 {
		t.Errorf("delete deployment: %d", st)
	}
	if st, _ := c.do("DELETE", "SMS_ApplicationAssignment("+itoa(dep)+")", nil); st != 404 {
		t.Errorf("delete again: %d", st)
	}
	if st, _ := c.do("DELETE", "SMS_Collection('"+coll+"')", nil); st != 204 {
		t.Errorf("delete collection: %d", st)
	}
	// An application without an uninstall command cannot be uninstalled.
	noUn := strings.ReplaceAll(strings.ReplaceAll(g, "msiexec /x {23170F69-40C1-2702-2301-000001000000} /qn", ""), "7-Zip 23.01 (x64)", "7-Zip nouninstall")
	noUn = strings.ReplaceAll(noUn, "Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e01", "Application_5d1f1a9e-7c2b-4b7e-9f59-0a4f6f1c2e03")
	ci2, _ := c.createApp(noUn)
	st, m := c.do("POST", "SMS_ApplicationAssignment", deployment(ci2, "PS100010", 2, "{33333333-3333-4333-8333-333333333333}"))
	if st != 400 || !strings.Contains(errorShape(t, m), "no uninstall command") {
		t.Errorf("uninstall without a command: %d %v", st, m)
	}
}

func TestEventualConsistency(t *testing.T) {
	c := start(t, sccmsim.Options{ConsistencyDelay: 2})
	ci, m := c.createApp(sampleXML(t))
	model := m["ModelName"].(string)
	for i := range 2 {
		if st, _ := c.do("GET", "SMS_Application("+itoa(ci)+")", nil); st != 404 {
			t.Errorf("GET %d after create: %d", i+1, st)
		}
	}
	if st, _ := c.do("GET", "SMS_Application("+itoa(ci)+")", nil); st != 200 {
		t.Errorf("third GET: %d", st)
	}
	// A query shows the application at once; its content package only
	// after two reads.
	if _, m := c.do("GET", "SMS_Application"+q("ModelName eq '"+model+"'"), nil); len(values(t, m)) != 1 {
		t.Errorf("the query misses the new application")
	}
	for i := range 2 {
		if _, m := c.do("GET", "SMS_ContentPackage"+q("SecurityKey eq '"+model+"'"), nil); len(values(t, m)) != 0 {
			t.Errorf("read %d: the content package is there already", i+1)
		}
	}
	_, m = c.do("GET", "SMS_ContentPackage"+q("SecurityKey eq '"+model+"'"), nil)
	if vs := values(t, m); len(vs) != 1 || vs[0]["PackageID"] != "PS100010" {
		t.Errorf("%v", m)
	}
	coll := c.newCollection("Ring 1")
	if st, _ := c.do("GET", "SMS_Collection('"+coll+"')", nil); st != 404 {
		t.Errorf("new collection by key: %d", st)
	}
}

func TestDistributionAndDeviceStates(t *testing.T) {
	c := start(t, sccmsim.Options{DistributionPolls: 2, InstallPolls: 1, Collections: []sccmsim.Collection{
		{ID: "PS100010", Name: "Pilot", Members: []int64{16777220, 16777221}}}})
	c.s.SetOutcome("PC-0002", sccmsim.Outcome{AppStatusType: 5, EnforcementState: 5000, ErrorCode: 1603})
	ci, m := c.createApp(sampleXML(t))
	model := m["ModelName"].(string)
	dep := c.deploy(ci, "PS100010", 1, "{11111111-1111-4111-8111-111111111111}")
	states := func() []string {
		_, m := c.do("GET", "SMS_AppDeploymentAssetDetails"+q("AssignmentID eq "+itoa(dep)), nil)
		var out []string
		for _, v := range values(t, m) {
			out = append(out, v["MachineName"].(string)+"="+itoa(int64(v["AppStatusType"].(float64)))+"/"+itoa(int64(v["EnforcementState"].(float64))))
		}
		return out
	}
	if got := states(); !slices.Equal(got, []string{"PC-0001=2/2001", "PC-0002=2/2001"}) {
		t.Errorf("before distribution: %v", got)
	}
	if st, m := c.do("POST", "SMS_ContentPackage('PS100010')/AdminService.AddDistributionPointGroup", map[string]any{"DistributionPointGroup": []string{"{00000000-0000-0000-0000-000000000000}"}}); st != 400 || !strings.Contains(errorShape(t, m), "No distribution point group") {
		t.Errorf("unknown group: %d %v", st, m)
	}
	for range 2 { // adding twice is one distribution
		if st, m := c.do("POST", "SMS_ContentPackage('PS100010')/AdminService.AddDistributionPointGroup", map[string]any{"DistributionPointGroup": []string{sccmsim.DefaultDPGroupID}}); st != 201 {
			t.Fatalf("%d %v", st, m)
		}
	}
	dist := func() []float64 {
		_, m := c.do("GET", "SMS_DPGroupDistributionStatusDetails"+q("ObjectID eq '"+model+"' and GroupID eq '"+sccmsim.DefaultDPGroupID+"'"), nil)
		var out []float64
		for _, v := range values(t, m) {
			out = append(out, v["MessageState"].(float64))
		}
		return out
	}
	for i, want := range []float64{2, 2, 1, 1} {
		if got := dist(); !slices.Equal(got, []float64{want}) {
			t.Errorf("status read %d: %v, want %v", i+1, got, want)
		}
	}
	if got := states(); !slices.Equal(got, []string{"PC-0001=2/2000", "PC-0002=2/2000"}) {
		t.Errorf("installing: %v", got)
	}
	if got := states(); !slices.Equal(got, []string{"PC-0001=1/1000", "PC-0002=5/5000"}) {
		t.Errorf("done: %v", got)
	}
	// A machine policy retrieval makes the devices evaluate again.
	if st, m := c.do("POST", "SMS_ClientOperation.InitiateClientOperation", map[string]any{"Type": 8, "TargetCollectionID": "PS100010"}); st != 201 || m["OperationID"] != float64(1) {
		t.Errorf("%d %v", st, m)
	}
	c.s.SetOutcome("PC-0002", sccmsim.Outcome{AppStatusType: 1, EnforcementState: 1000})
	states()
	if got := states(); !slices.Equal(got, []string{"PC-0001=1/1000", "PC-0002=1/1000"}) {
		t.Errorf("after the nudge: %v", got)
	}
	// RemovePackages takes the content off the group.
	if st, _ := c.do("POST", "SMS_DistributionPointGroup('"+sccmsim.DefaultDPGroupID+"')/AdminService.RemovePackages", map[string]any{"PackageIDs": []string{"PS100010"}}); st != 201 {
		t.Errorf("remove packages: %d", st)
	}
	if got := dist(); len(got) != 0 {
		t.Errorf("after RemovePackages: %v", got)
	}
}

func TestDistributionFailure(t *testing.T) {
	c := start(t, sccmsim.Options{DistributionPolls: 1, DistributionFailure: 3, Collections: []sccmsim.Collection{
		{ID: "PS100010", Name: "Pilot", Members: []int64{16777220}}}})
	ci, m := c.createApp(sampleXML(t))
	dep := c.deploy(ci, "PS100010", 1, "{11111111-1111-4111-8111-111111111111}")
	c.do("POST", "SMS_ContentPackage('PS100010')/AdminService.AddDistributionPointGroup", map[string]any{"DistributionPointGroup": []string{sccmsim.DefaultDPGroupID}})
	var last map[string]any
	for range 3 {
		_, last = c.do("GET", "SMS_AppDeploymentAssetDetails"+q("AssignmentID eq "+itoa(dep)), nil)
	}
	v := values(t, last)[0]
	if v["AppStatusType"] != float64(5) || v["EnforcementState"] != float64(5003) || v["ErrorCode"] != float64(-2016410105) {
		t.Errorf("%v", v)
	}
	_, m = c.do("GET", "SMS_DPGroupDistributionStatusDetails"+q("ObjectID eq '"+m["ModelName"].(string)+"'"), nil)
	if values(t, m)[0]["MessageState"] != float64(3) {
		t.Errorf("%v", m)
	}
}

func TestNoPollsMeansAtOnce(t *testing.T) {
	c := start(t, sccmsim.Options{DistributionPolls: -1, InstallPolls: -1, Collections: []sccmsim.Collection{
		{ID: "PS100010", Name: "Pilot", Members: []int64{16777220}}}})
	ci, _ := c.createApp(sampleXML(t))
	dep := c.deploy(ci, "PS100010", 1, "{11111111-1111-4111-8111-111111111111}")
	c.do("POST", "SMS_ContentPackage('PS100010')/AdminService.AddDistributionPointGroup", map[string]any{"DistributionPointGroup": []string{sccmsim.DefaultDPGroupID}})
	_, m := c.do("GET", "SMS_AppDeploymentAssetDetails"+q("AssignmentID eq "+itoa(dep)), nil)
	if v := values(t, m)[0]; v["AppStatusType"] != float64(1) {
		t.Errorf("%v", v)
	}
}
