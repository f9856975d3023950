package jamfsim

import (
	"bytes"
	"context"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
)

// client talks to a simulator with a token of its own.
type client struct {
	t     testing.TB
	base  string
	token string
	http  *http.Client
}

func newSim(t testing.TB, opt Options) (*Server, *client) {
	t.Helper()
	s := New(opt)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c := &client{t: t, base: srv.URL, http: &http.Client{}}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.opt.ClientID}, "client_secret": {s.opt.ClientSecret}}
	status, body := c.raw("POST", "/api/oauth/token", "application/x-www-form-urlencoded", form.Encode(), nil)
	if status != 200 {
		t.Fatalf("token: %d %s", status, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal([]byte(body), &tok)
	c.token = tok.AccessToken
	return s, c
}

func (c *client) raw(method, path, ct, body string, hdr http.Header) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) json(method, path string, in any) (int, string) {
	c.t.Helper()
	b, _ := json.Marshal(in)
	if s, ok := in.(string); ok {
		b = []byte(s)
	}
	return c.raw(method, path, "application/json", string(b), nil)
}

func (c *client) xml(method, path, body string) (int, string) {
	c.t.Helper()
	return c.raw(method, path, "application/xml", body, nil)
}

func newPackage(name string) map[string]any {
	return map[string]any{"packageName": name, "fileName": name, "categoryId": "-1", "priority": 10, "fillUserTemplate": false,
		"rebootRequired": false, "osInstall": false, "suppressUpdates": false, "suppressFromDock": false, "suppressEula": false,
		"suppressRegistration": false, "notes": "eucora:correlation=c1 release=app@1/ring-0/*"}
}

func createPackage(t *testing.T, c *client, name string) string {
	t.Helper()
	status, body := c.json("POST", "/api/v1/packages", newPackage(name))
	if status != 201 {
		t.Fatalf("create %s: %d %s", name, status, body)
	}
	var out struct{ ID, Href string }
	json.Unmarshal([]byte(body), &out)
	if out.ID == "" || !strings.HasSuffix(out.Href, "/api/v1/packages/"+out.ID) {
		t.Fatalf("create answer %s", body)
	}
	return out.ID
}

func proErr(t *testing.T, body string) ProErrorCause {
	t.Helper()
	var e ProError
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not a Jamf Pro error: %s", body)
	}
	return e.Errors[0]
}

func TestTokenPaths(t *testing.T) {
	s, c := newSim(t, Options{})
	anon := &client{t: t, base: c.base, http: c.http}
	cr := s.Credentials()
	form := func(id, secret string) string {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()
	}
	for _, p := range []string{"/api/oauth/token", "/api/v1/oauth/token"} {
		status, body := anon.raw("POST", p, "application/x-www-form-urlencoded", form(cr.ClientID, cr.ClientSecret), nil)
		if status != 200 || !strings.Contains(body, `"token_type":"Bearer"`) || !strings.Contains(body, `"expires_in":1200`) {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
	if status, body := anon.raw("POST", "/api/oauth/token", "application/x-www-form-urlencoded", form(cr.ClientID, "wrong"), nil); status != 401 || !strings.Contains(body, "invalid_client") {
		t.Errorf("bad secret: %d %s", status, body)
	}
	if status, _ := anon.raw("POST", "/api/oauth/token", "application/json", `{}`, nil); status != 400 {
		t.Errorf("json token request: %d", status)
	}

	// The user path: Basic login, keep-alive, invalidate.
	login := func(user, pass string) (int, string) {
		req, _ := http.NewRequest("POST", c.base+"/api/v1/auth/token", nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, _ := login(cr.Username, "nope"); status != 401 {
		t.Errorf("bad password: %d", status)
	}
	status, body := login(cr.Username, cr.Password)
	var tok struct{ Token, Expires string }
	json.Unmarshal([]byte(body), &tok)
	if _, err := time.Parse(time.RFC3339Nano, tok.Expires); status != 200 || tok.Token == "" || err != nil {
		t.Fatalf("login: %d %s", status, body)
	}
	user := &client{t: t, base: c.base, http: c.http, token: tok.Token}
	status, body = user.raw("POST", "/api/v1/auth/keep-alive", "", "", nil)
	var renewed struct{ Token string }
	json.Unmarshal([]byte(body), &renewed)
	if status != 200 || renewed.Token == "" || renewed.Token == tok.Token {
		t.Fatalf("keep-alive: %d %s", status, body)
	}
	if status, body := user.raw("GET", "/api/v1/packages", "", "", nil); status != 401 || proErr(t, body).Code != "INVALID_TOKEN" {
		t.Errorf("old token after keep-alive: %d %s", status, body)
	}
	user.token = renewed.Token
	if status, _ := user.raw("GET", "/JSSResource/policies", "", "", nil); status != 200 {
		t.Errorf("renewed token on the Classic API: %d", status)
	}
	if status, _ := user.raw("POST", "/api/v1/auth/invalidate-token", "", "", nil); status != 204 {
		t.Errorf("invalidate: %d", status)
	}
	status, body = user.raw("GET", "/JSSResource/policies", "", "", nil)
	if status != 401 || !strings.Contains(body, "<title>Status page</title>") || !strings.Contains(body, "Unauthorized") {
		t.Errorf("invalidated token on the Classic API: %d %s", status, body)
	}
	s.Tokens().ExpireAll()
	if status, _ := c.raw("GET", "/api/v1/packages", "", "", nil); status != 401 {
		t.Errorf("expired token: %d", status)
	}
}

func TestPackagesFilterPageSort(t *testing.T) {
	_, c := newSim(t, Options{PageSize: 2})
	for _, n := range []string{"beta.pkg", "alpha.pkg", "bravo.pkg", "charlie.dmg", "Bingo.pkg"} {
		createPackage(t, c, n)
	}
	get := func(q string) (int, []string, int) {
		t.Helper()
		status, body := c.raw("GET", "/api/v1/packages?"+q, "", "", nil)
		var list struct {
			TotalCount int
			Results    []struct{ PackageName string }
		}
		json.Unmarshal([]byte(body), &list)
		var names []string
		for _, r := range list.Results {
			names = append(names, r.PackageName)
		}
		return status, names, list.TotalCount
	}
	cases := []struct {
		q     string
		names string
		total int
	}{
		{"", "beta.pkg alpha.pkg", 5},
		{"page=2", "Bingo.pkg", 5},
		{"page=0&page-size=500&sort=packageName:desc", "charlie.dmg bravo.pkg", 5},
		{"filter=" + url.QueryEscape(`packageName=="b*"`) + "&sort=packageName:asc&page-size=10", "beta.pkg Bingo.pkg", 3},
		{"filter=" + url.QueryEscape(`packageName=="ALPHA.PKG"`), "alpha.pkg", 1},
		{"filter=" + url.QueryEscape(`packageName=="a*",fileName=="*.dmg"`), "alpha.pkg charlie.dmg", 2},
		{"filter=" + url.QueryEscape(`id=gt=2;packageName!="charlie.dmg"`), "bravo.pkg Bingo.pkg", 2},
		{"filter=" + url.QueryEscape(`id=in=(1,5)`), "beta.pkg Bingo.pkg", 2},
		{"filter=" + url.QueryEscape(`notes=="*release=app@1/ring-0/*"`) + "&page=1", "bravo.pkg charlie.dmg", 5},
	}
	for _, cs := range cases {
		status, names, total := get(cs.q)
		if status != 200 || strings.Join(names, " ") != cs.names || total != cs.total {
			t.Errorf("%s: %d %v total %d, want %s total %d", cs.q, status, names, total, cs.names, cs.total)
		}
	}
	for _, q := range []string{"filter=" + url.QueryEscape(`owner=="x"`), "filter=" + url.QueryEscape(`packageName=="x`), "sort=owner:asc", "page-size=0"} {
		if status, body := c.raw("GET", "/api/v1/packages?"+q, "", "", nil); status != 400 || proErr(t, body).Code != "INVALID_FIELD" {
			t.Errorf("%s: %d %s", q, status, body)
		}
	}
}

func TestPackageValidationAndDuplicates(t *testing.T) {
	_, c := newSim(t, Options{})
	missing := newPackage("a.pkg")
	delete(missing, "priority")
	wrong := newPackage("b.pkg")
	wrong["rebootRequired"] = "yes"
	unknown := newPackage("c.pkg")
	unknown["colour"] = "blue"
	badName := newPackage("d.exe")
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"missing field", missing, "priority"},
		{"wrong type", wrong, "rebootRequired"},
		{"file type", badName, "fileName"},
		{"not json", "{", ""},
	}
	for _, cs := range cases {
		status, body := c.json("POST", "/api/v1/packages", cs.body)
		if status != 400 {
			t.Errorf("%s: %d %s", cs.name, status, body)
			continue
		}
		if e := proErr(t, body); e.Code != "INVALID_FIELD" || cs.field != "" && (e.Field == nil || *e.Field != cs.field) {
			t.Errorf("%s: %s", cs.name, body)
		}
	}
	if status, body := c.json("POST", "/api/v1/packages", unknown); status != 201 {
		t.Errorf("an unknown field is ignored by default: %d %s", status, body)
	}
	strict, sc := newSim(t, Options{StrictJSON: true})
	if status, body := sc.json("POST", "/api/v1/packages", unknown); status != 400 || *proErr(t, body).Field != "colour" {
		t.Errorf("strict: %d %s", status, body)
	}
	if len(strict.Packages()) != 0 {
		t.Error("a refused create stored a package")
	}
	createPackage(t, c, "dup.pkg")
	status, body := c.json("POST", "/api/v1/packages", newPackage("DUP.pkg"))
	if e := proErr(t, body); status != 409 || e.Code != "DUPLICATE_FIELD" {
		t.Errorf("duplicate: %d %s", status, body)
	}
	_, lax := newSim(t, Options{AllowDuplicateNames: true})
	createPackage(t, lax, "dup.pkg")
	createPackage(t, lax, "dup.pkg")
}

func upload(t *testing.T, c *client, id, field string, content []byte) (int, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile(field, "x.pkg")
	w.Write(content)
	mw.Close()
	return c.raw("POST", "/api/v1/packages/"+id+"/upload", mw.FormDataContentType(), b.String(), nil)
}

func TestUploadHashIsPendingThenSHA3(t *testing.T) {
	s, c := newSim(t, Options{HashPendingPolls: 2})
	id := createPackage(t, c, "x.pkg")
	if status, body := upload(t, c, id, "upload", []byte("abc")); status != 400 || *proErr(t, body).Field != "file" {
		t.Errorf("wrong field: %d %s", status, body)
	}
	if status, body := upload(t, c, "999", "file", []byte("abc")); status != 404 || proErr(t, body).Code != "INVALID_ID" {
		t.Errorf("unknown package: %d %s", status, body)
	}
	content := []byte("the package bytes")
	if status, body := upload(t, c, id, "file", content); status != 201 || !strings.Contains(body, `"id":"`+id+`"`) {
		t.Fatalf("upload: %d %s", status, body)
	}
	sum := sha3.Sum512(content)
	for poll := 1; poll <= 3; poll++ {
		_, body := c.raw("GET", "/api/v1/packages/"+id, "", "", nil)
		var p packageJSON
		json.Unmarshal([]byte(body), &p)
		if poll <= 2 && (p.HashValue != "" || p.CloudTransferStatus != "IN_PROGRESS") {
			t.Errorf("poll %d: hash already there: %s", poll, body)
		}
		if poll == 3 && (p.HashType != "SHA3_512" || p.HashValue != hex.EncodeToString(sum[:]) || p.Size != "17" || p.CloudTransferStatus != "READY") {
			t.Errorf("poll 3: %s", body)
		}
	}
	if ps := s.Packages(); ps[0].Uploads != 1 || string(ps[0].Content) != string(content) {
		t.Errorf("state %+v", ps[0])
	}
	// A PUT without hash fields keeps the computed hash.
	put := newPackage("x.pkg")
	put["notes"] = "changed"
	if status, body := c.json("PUT", "/api/v1/packages/"+id, put); status != 200 || !strings.Contains(body, hex.EncodeToString(sum[:])) {
		t.Errorf("put: %d %s", status, body)
	}
}

func TestConsistencyDelayHidesNewObjects(t *testing.T) {
	_, c := newSim(t, Options{ConsistencyDelay: 2})
	id := createPackage(t, c, "late.pkg")
	for i := range 2 {
		if status, _ := c.raw("GET", "/api/v1/packages/"+id, "", "", nil); status != 404 {
			t.Errorf("read %d after create: %d", i, status)
		}
	}
	if status, _ := c.raw("GET", "/api/v1/packages/"+id, "", "", nil); status != 200 {
		t.Errorf("third read: %d", status)
	}
	// The database knows it even while reads miss it.
	c2 := newPackage("late.pkg")
	if status, _ := c.json("POST", "/api/v1/packages", c2); status != 409 {
		t.Errorf("duplicate of a hidden package: %d", status)
	}
}

const policyBody = `<policy><general><name>eucora:app-1:ring-1</name><enabled>true</enabled><trigger_checkin>true</trigger_checkin><frequency>Once per computer</frequency></general>
<scope><all_computers>false</all_computers><computer_groups><computer_group><id>1</id></computer_group></computer_groups>
<exclusions><computer_groups><computer_group><name>Kiosks</name></computer_group></computer_groups></exclusions></scope>
<self_service><use_for_self_service>false</use_for_self_service><self_service_description>eucora:correlation=c1 release=app@1/ring-1/*</self_service_description></self_service>
<package_configuration><packages><size>1</size><package><id>PKG</id><action>Install</action><fut>false</fut><feu>false</feu></package></packages></package_configuration></policy>`

func TestPoliciesXML(t *testing.T) {
	s, c := newSim(t, Options{})
	pkg := createPackage(t, c, "app.pkg")
	body := strings.Replace(policyBody, "PKG", pkg, 1)
	status, out := c.xml("POST", "/JSSResource/policies/id/0", body)
	if status != 201 || !strings.Contains(out, "<policy><id>") {
		t.Fatalf("create: %d %s", status, out)
	}
	if status, out := c.xml("POST", "/JSSResource/policies/id/0", body); status != 409 || !strings.Contains(out, "Error: Duplicate name") {
		t.Errorf("duplicate: %d %s", status, out)
	}
	status, out = c.raw("GET", "/JSSResource/policies/name/"+url.PathEscape("eucora:app-1:ring-1"), "", "", nil)
	if status != 200 || !strings.Contains(out, "<computer_group><id>1</id><name>Ring 1 Canary</name></computer_group>") ||
		!strings.Contains(out, "<computer_groups><computer_group><id>4</id><name>Kiosks</name></computer_group></computer_groups><buildings></buildings><departments></departments></exclusions>") || !strings.Contains(out, "<action>Install</action>") {
		t.Errorf("get by name: %d %s", status, out)
	}
	// A PUT of one section leaves the others.
	if status, out := c.xml("PUT", "/JSSResource/policies/id/"+pkgPolicyID(s), `<policy><general><enabled>false</enabled></general></policy>`); status != 201 {
		t.Fatalf("put: %d %s", status, out)
	}
	p := s.Policies()[0]
	if p.Enabled || len(p.Groups) != 1 || len(p.Excluded) != 1 || len(p.Packages) != 1 || !p.Checkin {
		t.Errorf("after a general-only PUT: %+v", p)
	}
	if status, out := c.raw("GET", "/JSSResource/policies", "", "", nil); status != 200 || !strings.Contains(out, "<size>1</size>") {
		t.Errorf("list: %d %s", status, out)
	}
	refused := []struct{ name, body, text string }{
		{"unknown group", strings.Replace(body, "<id>1</id>", "<id>99</id>", 1), "Problem with computer group"},
		{"unknown package", strings.Replace(policyBody, "PKG", "77", 1), "Problem with package"},
		{"bad action", strings.Replace(body, "Install</action>", "Reinstall</action>", 1), "Problem with package action"},
		{"no name", `<policy><general><enabled>true</enabled></general></policy>`, "name is required"},
		{"bad frequency", strings.Replace(body, "Once per computer", "Hourly", 1), "frequency"},
	}
	for _, r := range refused {
		b := strings.Replace(r.body, "eucora:app-1:ring-1", "other-"+r.name, 1)
		if status, out := c.xml("POST", "/JSSResource/policies/id/0", b); status != 409 || !strings.Contains(out, r.text) {
			t.Errorf("%s: %d %s", r.name, status, out)
		}
	}
	bad := []struct{ name, body string }{
		{"malformed", `<policy><general><name>x</name></general>`},
		{"wrong type", `<policy><general><name>y</name><enabled>maybe</enabled></general></policy>`},
		{"wrong root", `<computer_group><name>z</name></computer_group>`},
	}
	for _, b := range bad {
		if status, out := c.xml("POST", "/JSSResource/policies/id/0", b.body); status != 400 || !strings.Contains(out, "Error in XML file") {
			t.Errorf("%s: %d %s", b.name, status, out)
		}
	}
	extra := `<policy><general><name>extra</name><colour>blue</colour></general></policy>`
	if status, out := c.xml("POST", "/JSSResource/policies/id/0", extra); status != 201 {
		t.Errorf("an unknown element is ignored by default: %d %s", status, out)
	}
	_, strict := newSim(t, Options{StrictXML: true})
	if status, out := strict.xml("POST", "/JSSResource/policies/id/0", strings.Replace(extra, "extra", "extra2", 1)); status != 400 || !strings.Contains(out, "unknown element &lt;colour&gt;") {
		t.Errorf("strict: %d %s", status, out)
	}
	if status, out := strict.xml("POST", "/JSSResource/policies/id/0", `<policy><general><name>fine</name><trigger_startup>false</trigger_startup></general><maintenance/></policy>`); status != 201 {
		t.Errorf("strict refuses documented elements: %d %s", status, out)
	}
	if status, _ := c.raw("DELETE", "/JSSResource/policies/name/extra", "", "", nil); status != 200 {
		t.Errorf("delete by name: %d", status)
	}
	if status, out := c.raw("GET", "/JSSResource/policies/name/extra", "", "", nil); status != 404 || !strings.Contains(out, "Not Found") {
		t.Errorf("deleted: %d %s", status, out)
	}
}

func pkgPolicyID(s *Server) string { return strconv.Itoa(s.Policies()[0].ID) }

func itoa(n int) string { return strconv.Itoa(n) }

func TestPolicyLogsAndFlush(t *testing.T) {
	s, c := newSim(t, Options{CheckinPolls: 1})
	pkg := createPackage(t, c, "app.pkg")
	c.xml("POST", "/JSSResource/policies/id/0", strings.Replace(policyBody, "PKG", pkg, 1))
	s.SetOutcome(2, Failed)
	logs := func(computer int) string {
		_, out := c.raw("GET", "/JSSResource/computerhistory/id/"+itoa(computer)+"/subset/PolicyLogs", "", "", nil)
		return out
	}
	if out := logs(1); strings.Contains(out, "<policy_log>") || strings.Contains(out, "<general>") {
		t.Errorf("first read (before check-in): %s", out)
	}
	if out := logs(1); !strings.Contains(out, "<status>Completed</status>") || !strings.Contains(out, "<policy_name>eucora:app-1:ring-1</policy_name>") {
		t.Errorf("second read: %s", out)
	}
	logs(2)
	if out := logs(2); !strings.Contains(out, "<status>Failed</status>") {
		t.Errorf("failing computer: %s", out)
	}
	logs(3)
	if out := logs(3); strings.Contains(out, "<policy_log>") {
		t.Errorf("computer 3 is excluded (Kiosks) but logged: %s", out)
	}
	if out := logs(7); strings.Contains(out, "<policy_log>") {
		t.Errorf("computer 7 is out of scope but logged: %s", out)
	}
	if _, out := c.raw("GET", "/JSSResource/computerhistory/id/1/subset/General&policy_logs", "", "", nil); !strings.Contains(out, "<general><id>1</id><name>mac-001</name>") || strings.Count(out, "<policy_log>") != 1 {
		t.Errorf("subsets: %s", out)
	}
	if status, _ := c.raw("DELETE", "/JSSResource/logflush/policy/id/"+pkgPolicyID(s)+"/interval/Once+Fortnight", "", "", nil); status != 400 {
		t.Errorf("bad interval: %d", status)
	}
	if status, _ := c.raw("DELETE", "/JSSResource/logflush/policy/id/"+pkgPolicyID(s)+"/interval/Zero+Days", "", "", nil); status != 200 {
		t.Fatalf("flush: %d", status)
	}
	if out := logs(1); strings.Contains(out, "<policy_log>") {
		t.Errorf("after the flush: %s", out)
	}
	if out := logs(1); strings.Count(out, "<policy_log>") != 1 {
		t.Errorf("the policy did not run again after the flush: %s", out)
	}
	if s.Policies()[0].Flushes != 1 {
		t.Errorf("flushes %d", s.Policies()[0].Flushes)
	}
}

func TestComputerGroups(t *testing.T) {
	s, c := newSim(t, Options{})
	status, out := c.xml("POST", "/JSSResource/computergroups/id/0", `<computer_group><name>eucora ring-1 *</name><is_smart>false</is_smart><computers><computer><id>1</id></computer><computer><name>mac-002</name></computer></computers></computer_group>`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, out)
	}
	g := s.Groups()[len(s.Groups())-1]
	if g.Smart || len(g.Members) != 2 {
		t.Fatalf("group %+v", g)
	}
	id := itoa(g.ID)
	c.xml("PUT", "/JSSResource/computergroups/id/"+id, `<computer_group><computer_additions><computer><id>5</id></computer></computer_additions><computer_deletions><computer><id>1</id></computer></computer_deletions></computer_group>`)
	if g := s.Groups()[len(s.Groups())-1]; len(g.Members) != 2 || g.Members[0] != 2 || g.Members[1] != 5 {
		t.Errorf("after additions and deletions: %+v", g)
	}
	if status, out := c.xml("POST", "/JSSResource/computergroups/id/0", `<computer_group><name>bad</name><computers><computer><id>999</id></computer></computers></computer_group>`); status != 409 || !strings.Contains(out, "Problem with computer") {
		t.Errorf("unknown computer: %d %s", status, out)
	}
	if status, _ := c.xml("POST", "/JSSResource/computergroups/id/0", `<computer_group><name>Kiosks</name></computer_group>`); status != 409 {
		t.Errorf("duplicate: %d", status)
	}
	if status, out := c.raw("GET", "/JSSResource/computergroups/name/Ring%202%20Pilot", "", "", nil); status != 200 || !strings.Contains(out, "<is_smart>true</is_smart>") || strings.Count(out, "<computer>") != 3 {
		t.Errorf("smart group by name: %d %s", status, out)
	}
	if status, out := c.raw("GET", "/JSSResource/computergroups", "", "", nil); status != 200 || !strings.Contains(out, "<size>5</size>") {
		t.Errorf("list: %d %s", status, out)
	}
	// The Jamf Pro API's smart groups and membership.
	status, out = c.raw("GET", "/api/v2/computer-groups/smart-groups?filter="+url.QueryEscape(`name=="ring 2 pilot"`), "", "", nil)
	if status != 200 || !strings.Contains(out, `"totalCount":1`) || !strings.Contains(out, `"membershipCount":3`) {
		t.Errorf("smart groups: %d %s", status, out)
	}
	if status, out := c.raw("GET", "/api/v2/computer-groups/smart-group-membership/2", "", "", nil); status != 200 || out != `{"members":[4,5,6]}` {
		t.Errorf("membership: %d %s", status, out)
	}
	if status, _ := c.raw("GET", "/api/v2/computer-groups/smart-group-membership/1", "", "", nil); status != 404 {
		t.Errorf("membership of a static group: %d", status)
	}
	status, out = c.json("POST", "/api/v2/computer-groups/smart-groups", map[string]any{"name": "Macs on 15", "criteria": []map[string]any{
		{"name": "Operating System Version", "priority": 0, "andOr": "and", "searchType": "greater than or equal", "value": "15.0"}}, "siteId": "-1"})
	if status != 201 || !strings.Contains(out, `"href":"`) {
		t.Errorf("create smart group: %d %s", status, out)
	}
}

func TestMaxConcurrentRefusesTheSixth(t *testing.T) {
	s, c := newSim(t, Options{MaxConcurrent: 5})
	s.Faults().Add(sim.Fault{Match: "GET /JSSResource/policies", Delay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/JSSResource/policies", nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	for s.InFlight() < 5 {
		time.Sleep(time.Millisecond)
	}
	status, body := c.raw("GET", "/api/v1/packages", "", "", nil)
	if status != 429 || proErr(t, body).Code != "TOO_MANY_REQUESTS" {
		t.Errorf("sixth request: %d %s", status, body)
	}
	cancel()
	wg.Wait()
	if most, refused := s.Concurrency(); most != 5 || refused != 1 {
		t.Errorf("observed %d in flight, %d refused", most, refused)
	}
}

func TestIngressNodesNeedTheStickyCookie(t *testing.T) {
	s, c := newSim(t, Options{IngressNodes: 2, ReplicationLag: 2})
	// No jar: every request lands on the next node.
	id := createPackage(t, c, "sticky.pkg") // node 1 (the token request was node 0)
	if status, _ := c.raw("GET", "/api/v1/packages/"+id, "", "", nil); status != 404 {
		t.Errorf("another node saw the new package at once: %d", status)
	}
	jar, _ := cookiejar.New(nil)
	c.http = &http.Client{Jar: jar}
	_ = createPackage(t, c, "sticky2.pkg") // pins the client to node 1
	id2 := s.Packages()[1].ID
	for range 3 {
		if status, _ := c.raw("GET", "/api/v1/packages/"+itoa(id2), "", "", nil); status != 200 {
			t.Errorf("the pinned node did not see its own write: %d", status)
		}
	}
	before := s.Unpinned()
	c.raw("GET", "/api/v1/packages", "", "", nil)
	if s.Unpinned() != before {
		t.Error("a request with the cookie counted as unpinned")
	}
}

func TestCountByMarkers(t *testing.T) {
	s, c := newSim(t, Options{})
	k := connectors.ReleaseKey{App: "app", Version: "1", Ring: deploy.Ring1Canary}
	p := newPackage("app.pkg")
	p["notes"] = "Managed by EUCORA\n" + connectors.CorrelationMarker("c1", k.AppKey()) + "\n" + connectors.CorrelationMarker("c2", k.AppKey())
	c.json("POST", "/api/v1/packages", p)
	c.xml("POST", "/JSSResource/policies/id/0", strings.Replace(policyBody, "PKG", "1", 1))
	if objs, asg := s.Count(k); objs != 1 || asg != 2 {
		t.Errorf("count %d %d, want 1 package and 2 groups", objs, asg)
	}
	if objs, asg := s.Count(connectors.ReleaseKey{App: "app", Version: "2", Ring: 1}); objs != 0 || asg != 0 {
		t.Errorf("other version: %d %d", objs, asg)
	}
}

func TestRSQL(t *testing.T) {
	rec := map[string]string{"id": "12", "name": "Ring 1 / Canary", "notes": "a;b"}
	get := func(f string) string { return rec[f] }
	fields := []string{"id", "name", "notes"}
	cases := []struct {
		q    string
		want bool
	}{
		{`name=="ring 1 / canary"`, true},
		{`name=="Ring*"`, true},
		{`name=="*Canary"`, true},
		{`name=="*1 / C*"`, true},
		{`name=="Ring"`, false},
		{`name!="Ring*"`, false},
		{`id=gt=9`, true},
		{`id<12`, false},
		{`id>=12 and name=="R*"`, true},
		{`id==1 or notes=="a;b"`, true},
		{`(id==1,id==2);name==x`, false},
		{`id=out=(1,2,3)`, true},
		{`id=in=(12)`, true},
		{`notes=='a;b'`, true},
	}
	for _, c := range cases {
		e, err := parseRSQL(c.q, fields)
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		if got := e.match(get); got != c.want {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
	for _, q := range []string{`owner==x`, `name=="x`, `name~x`, `id=in=1`, `(id==1`, `id==1)`, `==x`} {
		if _, err := parseRSQL(q, fields); err == nil {
			t.Errorf("%s parsed", q)
		}
	}
}
