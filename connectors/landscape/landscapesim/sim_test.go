package landscapesim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/landscape/sigv2"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
)

// client signs legacy requests by hand, as Landscape's own Python client
// does (sorted parameters, RFC 3986, HmacSHA256, base64).
type client struct {
	t    *testing.T
	s    *Server
	srv  *httptest.Server
	cred Credentials
	now  func() time.Time
	// tamper, when set, changes the parameters after signing.
	tamper func(url.Values)
}

func start(t *testing.T, o Options) *client {
	t.Helper()
	s := New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &client{t: t, s: s, srv: srv, cred: s.Credentials(), now: time.Now}
}

type answer struct {
	status int
	body   []byte
}

func (a answer) err() (code, msg string) {
	var e struct{ Error, Message string }
	json.Unmarshal(a.body, &e)
	return e.Error, e.Message
}

func (c *client) send(method, action string, p map[string]string) answer {
	c.t.Helper()
	v := url.Values{}
	for k, x := range p {
		v.Set(k, x)
	}
	v.Set("action", action)
	v.Set("version", "2011-08-01")
	v.Set("access_key_id", c.cred.AccessKey)
	v.Set("signature_method", "HmacSHA256")
	v.Set("signature_version", "2")
	v.Set("timestamp", c.now().UTC().Format("2006-01-02T15:04:05Z"))
	u, _ := url.Parse(c.srv.URL + "/api/")
	v.Set("signature", sigv2.Sign(c.cred.SecretKey, sigv2.StringToSign(method, u.Host, "/api/", v)))
	if c.tamper != nil {
		c.tamper(v)
	}
	var req *http.Request
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, u.String()+"?"+v.Encode(), nil)
	} else {
		req, _ = http.NewRequest(method, u.String(), strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

func (c *client) ok(method, action string, p map[string]string, out any) {
	c.t.Helper()
	a := c.send(method, action, p)
	if a.status != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, action, a.status, a.body)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			c.t.Fatalf("%s: %v in %s", action, err, a.body)
		}
	}
}

func (c *client) refused(action string, p map[string]string, status int, code string) string {
	c.t.Helper()
	a := c.send(http.MethodPost, action, p)
	got, msg := a.err()
	if a.status != status || got != code {
		c.t.Fatalf("%s: %d %s, want %d %s", action, a.status, a.body, status, code)
	}
	if msg == "" {
		c.t.Errorf("%s: %s without a message", action, code)
	}
	return msg
}

func TestSignatureIsVerified(t *testing.T) {
	c := start(t, Options{})
	var comps []map[string]any
	c.ok(http.MethodGet, "GetComputers", nil, &comps)
	if len(comps) != len(DefaultComputers) {
		t.Fatalf("%d computers", len(comps))
	}
	c.ok(http.MethodPost, "GetComputers", map[string]string{"query": "tag:canary OR tag:lab"}, &comps)
	if len(comps) != 4 {
		t.Errorf("tag:canary OR tag:lab: %d computers", len(comps))
	}

	c.tamper = func(v url.Values) { v.Set("query", "tag:pilot") }
	msg := c.refused("GetComputers", map[string]string{"query": "tag:canary"}, http.StatusUnauthorized, "SignatureDoesNotMatch")
	if !strings.Contains(msg, `query=tag%3Apilot`) {
		t.Errorf("the refusal does not show the string the server signed: %s", msg)
	}
	c.tamper = func(v url.Values) { v.Del("signature") }
	c.refused("GetComputers", nil, http.StatusUnauthorized, "AuthFailure")
	c.tamper = func(v url.Values) { v.Set("signature_method", "HmacSHA1") }
	c.refused("GetComputers", nil, http.StatusUnauthorized, "AuthFailure")
	c.tamper = nil

	good := c.cred
	c.cred.SecretKey = "not-the-secret"
	c.refused("GetComputers", nil, http.StatusUnauthorized, "SignatureDoesNotMatch")
	c.cred = Credentials{AccessKey: "NOSUCHKEY", SecretKey: good.SecretKey}
	c.refused("GetComputers", nil, http.StatusUnauthorized, "InvalidCredentials")
	c.cred = good

	c.now = func() time.Time { return time.Now().Add(-16 * time.Minute) }
	msg = c.refused("GetComputers", nil, http.StatusUnauthorized, "AuthFailure")
	if !strings.Contains(msg, "15m0s") {
		t.Errorf("stale timestamp message %q does not name the window", msg)
	}
	c.now = func() time.Time { return time.Now().Add(16 * time.Minute) }
	c.refused("GetComputers", nil, http.StatusUnauthorized, "AuthFailure")
	c.now = func() time.Time { return time.Now().Add(-14 * time.Minute) }
	c.ok(http.MethodGet, "GetComputers", nil, nil)
}

// The signature covers the Host header as sent, port included, and the
// verb.
func TestSignatureCoversHostAndVerb(t *testing.T) {
	c := start(t, Options{})
	v := url.Values{"action": {"GetComputers"}, "version": {"2011-08-01"}, "access_key_id": {c.cred.AccessKey},
		"signature_method": {"HmacSHA256"}, "signature_version": {"2"}, "timestamp": {time.Now().UTC().Format(sigv2.TimeFormat)}}
	u, _ := url.Parse(c.srv.URL)
	for _, x := range []struct {
		name, method, host string
		ok                 bool
	}{
		{"as sent", "GET", u.Host, true},
		{"host upper case", "GET", strings.ToUpper(u.Host), true},
		{"without port", "GET", u.Hostname(), false},
		{"signed as POST", "POST", u.Host, false},
	} {
		sv := url.Values{}
		for k, vs := range v {
			sv[k] = vs
		}
		sv.Set("signature", sigv2.Sign(c.cred.SecretKey, sigv2.StringToSign(x.method, x.host, "/api/", v)))
		resp, err := http.Get(c.srv.URL + "/api/?" + sv.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (resp.StatusCode == 200) != x.ok {
			t.Errorf("%s: status %d", x.name, resp.StatusCode)
		}
	}
}

func TestBearerTokenAndKeyRotation(t *testing.T) {
	c := start(t, Options{})
	login := func(cred Credentials) (int, string) {
		b, _ := json.Marshal(map[string]string{"access_key": cred.AccessKey, "secret_key": cred.SecretKey})
		resp, err := http.Post(c.srv.URL+"/api/v2/login/access-key", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Token string }
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Token
	}
	get := func(tok, path string) int {
		req, _ := http.NewRequest("GET", c.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st, _ := login(Credentials{AccessKey: c.cred.AccessKey, SecretKey: "wrong"}); st != 401 {
		t.Errorf("login with a wrong secret: %d", st)
	}
	st, tok := login(c.cred)
	if st != 200 || tok == "" {
		t.Fatalf("login: %d %q", st, tok)
	}
	if got := get(tok, "/api/?action=GetComputers&version=2011-08-01"); got != 200 {
		t.Errorf("legacy API with the JWT: %d", got)
	}
	if got := get(tok, "/api/v2/activities"); got != 200 {
		t.Errorf("REST v2 with the JWT: %d", got)
	}
	if got := get("forged", "/api/v2/activities"); got != 401 {
		t.Errorf("REST v2 with a forged token: %d", got)
	}

	issued := c.s.Tokens().Issued
	c.s.Tokens().ExpireAll()
	if got := get(tok, "/api/?action=GetComputers&version=2011-08-01"); got != 401 {
		t.Errorf("legacy API with an expired JWT: %d", got)
	}
	c.refused("GetComputers", nil, http.StatusUnauthorized, "InvalidCredentials")
	if st, _ := login(c.cred); st != 401 {
		t.Errorf("login with the revoked key: %d", st)
	}
	fresh := c.s.Credentials()
	if fresh == c.cred || c.s.Tokens().Issued != issued+1 {
		t.Fatalf("Credentials after ExpireAll: %+v (issued %d, was %d)", fresh, c.s.Tokens().Issued, issued)
	}
	if again := c.s.Credentials(); again != fresh {
		t.Errorf("the new key changed again: %+v", again)
	}
	c.cred = fresh
	c.ok(http.MethodGet, "GetComputers", nil, nil)
}

func TestSchemaIsChecked(t *testing.T) {
	c := start(t, Options{})
	c.refused("GetComputers", map[string]string{"colour": "blue"}, 400, "UnknownParameter")
	c.refused("GetComputers", map[string]string{"limit": "ten"}, 400, "InvalidParameter")
	c.refused("GetComputers", map[string]string{"with_network": "yes"}, 400, "InvalidParameter")
	c.refused("InstallPackages", map[string]string{"query": "tag:canary"}, 400, "MissingParameter")
	c.refused("InstallPackages", map[string]string{"query": "tag:canary", "packages": "notepad"}, 400, "UnknownParameter")
	c.refused("FlyToTheMoon", nil, 400, "UnknownAction")
	c.refused("GetComputers", map[string]string{"query": "tag:canary OR"}, 400, "InvalidQuery")
	c.refused("GetComputers", map[string]string{"query": "colour:blue"}, 400, "InvalidQuery")
	c.refused("GetActivities", map[string]string{"query": "created-after:yesterday"}, 400, "InvalidQuery")

	// version is checked after the signature, before the action.
	u, _ := url.Parse(c.srv.URL + "/api/")
	v := url.Values{"action": {"GetComputers"}, "version": {"2099-01-01"}, "access_key_id": {c.cred.AccessKey},
		"signature_method": {"HmacSHA256"}, "signature_version": {"2"}, "timestamp": {time.Now().UTC().Format(sigv2.TimeFormat)}}
	v.Set("signature", sigv2.Sign(c.cred.SecretKey, sigv2.StringToSign("GET", u.Host, "/api/", v)))
	resp, _ := http.Get(u.String() + "?" + v.Encode())
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code, _ := (answer{resp.StatusCode, b}).err(); resp.StatusCode != 400 || code != "UnknownVersion" {
		t.Errorf("unknown version: %d %s", resp.StatusCode, b)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestScripts(t *testing.T) {
	c := start(t, Options{})
	var s map[string]any
	c.ok(http.MethodPost, "CreateScript", map[string]string{"title": "hello", "time_limit": "60", "code": b64("#!/bin/sh\necho hi\n")}, &s)
	id := int64(s["id"].(float64))
	if s["interpreter"] != "/bin/sh" {
		t.Errorf("interpreter %v", s["interpreter"])
	}
	c.refused("CreateScript", map[string]string{"title": "hello", "time_limit": "60", "code": b64("#!/bin/sh\n")}, 400, "DuplicateScript")
	c.refused("CreateScript", map[string]string{"title": "x", "time_limit": "60", "code": b64("echo no shebang\n")}, 400, "EmptyScriptInterpreter")
	c.refused("CreateScript", map[string]string{"title": "y", "time_limit": "60", "code": "!!not base64"}, 400, "ScriptEncoding")
	c.refused("CreateScript", map[string]string{"title": "z", "time_limit": "60", "code": b64("  ")}, 400, "EmptyScriptCode")
	c.refused("GetScriptCode", map[string]string{"script_id": "999"}, 400, "UnknownScript")
	var code string
	c.ok(http.MethodGet, "GetScriptCode", map[string]string{"script_id": itoa(id)}, &code)
	if code != "#!/bin/sh\necho hi\n" {
		t.Errorf("code %q", code)
	}
	// A script without a default user needs one at execution.
	c.refused("ExecuteScript", map[string]string{"query": "tag:canary", "script_id": itoa(id)}, 400, "RequiresUser")
	c.refused("ExecuteScript", map[string]string{"query": "tag:nobody", "script_id": itoa(id), "username": "root"}, 400, "UnknownComputers")
	var g map[string]any
	c.ok(http.MethodPost, "ExecuteScript", map[string]string{"query": "tag:canary", "script_id": itoa(id), "username": "root"}, &g)
	if g["type"] != "ActivityGroup" || g["activity_status"] != "undelivered" || g["parent_id"] != nil {
		t.Errorf("ExecuteScript answered %v", g)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestPackageProfiles(t *testing.T) {
	c := start(t, Options{})
	var p map[string]any
	c.ok(http.MethodPost, "CreatePackageProfile", map[string]string{"title": "Notepad Pin 1.0", "description": "d",
		"constraints.1": "depends notepad = 1.0"}, &p)
	if p["name"] != "notepad-pin-1-0" || p["version"] != "1" {
		t.Fatalf("profile %v", p)
	}
	c.refused("CreatePackageProfile", map[string]string{"title": "notepad pin 1 0", "description": "d", "constraints.1": "depends a1"},
		400, "DuplicatePackageProfile")
	c.refused("CreatePackageProfile", map[string]string{"title": "e", "description": "d"}, 400, "EmptyPackageProfile")
	c.refused("CreatePackageProfile", map[string]string{"title": "f", "description": "d", "constraints.1": "needs notepad"}, 400, "InvalidConstraintType")
	c.refused("CreatePackageProfile", map[string]string{"title": "g", "description": "d", "constraints.1": "depends notepad == 1"}, 400, "InvalidPackageConstraint")
	c.refused("CreatePackageProfile", map[string]string{"title": "h", "description": "d", "constraints.1": "depends a1", "material": "a1 install"},
		400, "InvalidParameterCombination")
	c.refused("CreatePackageProfile", map[string]string{"title": "!!!", "description": "d", "constraints.1": "depends a1"}, 400, "InvalidPackageProfileName")

	c.refused("AssociatePackageProfile", map[string]string{"name": "nope", "tags.1": "canary"}, 400, "UnknownPackageProfileName")
	c.refused("AssociatePackageProfile", map[string]string{"name": "notepad-pin-1-0", "tags.1": "canary", "all_computers": "true"}, 400, "InvalidParameterCombination")
	c.ok(http.MethodPost, "AssociatePackageProfile", map[string]string{"name": "notepad-pin-1-0", "tags.1": "canary", "tags.2": "brand-new"}, &p)
	if got := p["computers"].(map[string]any)["constrained"].([]any); len(got) != 2 {
		t.Errorf("constrained computers %v", got)
	}
	c.refused("DisassociatePackageProfile", map[string]string{"name": "notepad-pin-1-0", "tags.1": "never-seen"}, 400, "UnknownTag")
	c.ok(http.MethodPost, "DisassociatePackageProfile", map[string]string{"name": "notepad-pin-1-0", "tags.1": "brand-new"}, &p)
	if tags := p["tags"].([]any); len(tags) != 1 || tags[0] != "canary" {
		t.Errorf("tags %v", tags)
	}
	c.refused("EditPackageProfile", map[string]string{"name": "notepad-pin-1-0"}, 400, "MissingParameter")
	c.refused("EditPackageProfile", map[string]string{"name": "notepad-pin-1-0", "remove_constraints.1": "depends notepad = 1.0"}, 400, "EmptyPackageProfile")
	c.ok(http.MethodPost, "EditPackageProfile", map[string]string{"name": "notepad-pin-1-0",
		"add_constraints.1": "depends notepad = 0.9", "remove_constraints.1": "depends notepad = 1.0"}, &p)
	if cs := p["constraints"].([]any); len(cs) != 1 || cs[0].([]any)[1] != "notepad = 0.9" || p["version"] != "2" {
		t.Errorf("after edit %v", p)
	}
	var list []map[string]any
	c.ok(http.MethodGet, "GetPackageProfiles", map[string]string{"names.1": "notepad-pin-1-0"}, &list)
	if len(list) != 1 {
		t.Errorf("GetPackageProfiles names.1: %d", len(list))
	}
	c.ok(http.MethodPost, "RemovePackageProfile", map[string]string{"name": "notepad-pin-1-0"}, nil)
	c.refused("RemovePackageProfile", map[string]string{"name": "notepad-pin-1-0"}, 400, "UnknownPackageProfileName")
}

type act struct {
	ID             int64   `json:"id"`
	ParentID       *int64  `json:"parent_id"`
	ComputerID     *int64  `json:"computer_id"`
	Type           string  `json:"type"`
	Summary        string  `json:"summary"`
	ActivityStatus string  `json:"activity_status"`
	ResultText     *string `json:"result_text"`
	Changes        []struct {
		Package        string  `json:"package"`
		Type           string  `json:"type"`
		InstallVersion *string `json:"install_version"`
	} `json:"changes"`
}

// Children go undelivered, delivered, then to their outcome over Polls
// reads; the group follows them; a pinned version is what is installed.
func TestActivitiesProgressAndPin(t *testing.T) {
	c := start(t, Options{Polls: 2})
	c.s.SetOutcome("canary-2", Outcome{Status: "failed", ResultCode: 100, ResultText: "E: dpkg was interrupted"})
	c.ok(http.MethodPost, "CreatePackageProfile", map[string]string{"title": "pin", "description": "d", "constraints.1": "depends notepad = 1.2"}, nil)
	c.ok(http.MethodPost, "AssociatePackageProfile", map[string]string{"name": "pin", "tags.1": "canary"}, nil)
	var g act
	c.ok(http.MethodPost, "InstallPackages", map[string]string{"query": "tag:canary", "packages.1": "notepad"}, &g)
	if g.Summary != "Install package notepad" || g.ActivityStatus != "undelivered" {
		t.Fatalf("group %+v", g)
	}
	want := [][2]string{{"undelivered", "undelivered"}, {"delivered", "delivered"}, {"succeeded", "failed"}, {"succeeded", "failed"}}
	for i, w := range want {
		var kids []act
		c.ok(http.MethodGet, "GetActivities", map[string]string{"query": "parent-id:" + itoa(g.ID)}, &kids)
		if len(kids) != 2 || kids[0].ActivityStatus != w[0] || kids[1].ActivityStatus != w[1] {
			t.Fatalf("read %d: %+v, want %v", i+1, kids, w)
		}
		if v := kids[0].Changes[0].InstallVersion; kids[0].Type != "ChangePackagesRequest" || v == nil || *v != "1.2" {
			t.Fatalf("child %+v", kids[0])
		}
	}
	var groups []act
	c.ok(http.MethodGet, "GetActivities", map[string]string{"query": "id:" + itoa(g.ID)}, &groups)
	if len(groups) != 1 || groups[0].ActivityStatus != "failed" {
		t.Errorf("group after the children finished: %+v", groups)
	}
	for _, comp := range c.s.Computers() {
		if comp.Hostname == "canary-1" && comp.Installed["notepad"] != "1.2" || comp.Hostname == "canary-2" && comp.Installed["notepad"] != "" {
			t.Errorf("%s has %v", comp.Hostname, comp.Installed)
		}
	}
	// A second profile pinning another version on the same tag makes the
	// next install fail on every computer.
	c.s.SetOutcome("canary-2", Outcome{})
	c.ok(http.MethodPost, "CreatePackageProfile", map[string]string{"title": "pin2", "description": "d", "constraints.1": "depends notepad = 2.0"}, nil)
	c.ok(http.MethodPost, "AssociatePackageProfile", map[string]string{"name": "pin2", "tags.1": "canary"}, nil)
	c.ok(http.MethodPost, "InstallPackages", map[string]string{"query": "tag:canary", "packages.1": "notepad"}, &g)
	for range 3 {
		c.ok(http.MethodGet, "GetActivities", map[string]string{"query": "parent-id:" + itoa(g.ID)}, nil)
	}
	var kids []act
	c.ok(http.MethodGet, "GetActivities", map[string]string{"query": "parent-id:" + itoa(g.ID) + " status:failed"}, &kids)
	if len(kids) != 2 || kids[0].ResultText == nil || !strings.Contains(*kids[0].ResultText, "1.2 and 2.0") {
		t.Errorf("conflicting pins: %+v", kids)
	}
}

func TestPagingAndQueries(t *testing.T) {
	c := start(t, Options{PageSize: 3})
	var comps []map[string]any
	c.ok(http.MethodGet, "GetComputers", nil, &comps)
	if len(comps) != 3 {
		t.Errorf("default page: %d computers", len(comps))
	}
	seen := map[string]bool{}
	for off := 0; ; off += 5 {
		c.ok(http.MethodGet, "GetComputers", map[string]string{"limit": "5", "offset": itoa(int64(off))}, &comps)
		for _, x := range comps {
			seen[x["hostname"].(string)] = true
		}
		if len(comps) < 5 {
			break
		}
	}
	if len(seen) != len(DefaultComputers) {
		t.Errorf("paged through %d computers", len(seen))
	}
	for q, n := range map[string]int{
		"tag:pilot":                      3,
		"tag:pilot NOT hostname:pilot-2": 2,
		"tag:lab OR tag:canary":          4,
		"hostname:global-*":              3,
		"dept":                           2,
		"id:1":                           1,
	} {
		c.ok(http.MethodGet, "GetComputers", map[string]string{"query": q, "limit": "100"}, &comps)
		if len(comps) != n {
			t.Errorf("%q: %d computers, want %d", q, len(comps), n)
		}
	}
	var g act
	c.ok(http.MethodPost, "InstallPackages", map[string]string{"query": "tag:lab", "packages.1": "tool"}, &g)
	var acts []act
	past := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	c.ok(http.MethodGet, "GetActivities", map[string]string{"query": "computer:tag:lab created-after:" + past}, &acts)
	if len(acts) != 2 || acts[0].ComputerID == nil {
		t.Errorf("computer:tag:lab: %+v", acts)
	}
	future := time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05")
	c.ok(http.MethodGet, "GetActivities", map[string]string{"query": "computer:tag:lab created-after:" + future}, &acts)
	if len(acts) != 0 {
		t.Errorf("created in the future: %+v", acts)
	}
	c.ok(http.MethodGet, "GetActivities", map[string]string{"query": "type:ActivityGroup"}, &acts)
	if len(acts) != 1 || acts[0].ID != g.ID {
		t.Errorf("type:ActivityGroup: %+v", acts)
	}
}

// Eventual consistency: a new script is missing from the next
// ConsistencyDelay list answers.
func TestConsistencyDelay(t *testing.T) {
	c := start(t, Options{ConsistencyDelay: 2})
	c.ok(http.MethodPost, "CreateScript", map[string]string{"title": "late", "time_limit": "60", "code": b64("#!/bin/sh\n:\n")}, nil)
	for i, want := range []int{0, 0, 1, 1} {
		var list []map[string]any
		c.ok(http.MethodGet, "GetScripts", nil, &list)
		if len(list) != want {
			t.Errorf("list %d: %d scripts, want %d", i+1, len(list), want)
		}
	}
}

func TestRESTActivities(t *testing.T) {
	c := start(t, Options{PageSize: 1})
	var g act
	c.ok(http.MethodPost, "InstallPackages", map[string]string{"query": "tag:canary", "packages.1": "notepad"}, &g)
	c.ok(http.MethodPost, "RemovePackages", map[string]string{"query": "tag:lab", "packages.1": "notepad"}, nil)
	tok := c.s.issue(time.Hour)
	get := func(path string, out any) int {
		req, _ := http.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(out)
		return resp.StatusCode
	}
	var page struct {
		Count    int
		Results  []map[string]any
		Next     *string
		Previous *string
	}
	if st := get(c.srv.URL+"/api/v2/activities", &page); st != 200 || page.Count != 6 || len(page.Results) != 1 || page.Next == nil || page.Previous != nil {
		t.Fatalf("first page: %d %+v", st, page)
	}
	if st := get(*page.Next, &page); st != 200 || len(page.Results) != 1 || page.Previous == nil {
		t.Errorf("next page: %d %+v", st, page)
	}
	var one struct {
		ID       int64
		Children []act
	}
	if st := get(c.srv.URL+"/api/v2/activities/"+itoa(g.ID), &one); st != 200 || one.ID != g.ID || len(one.Children) != 2 {
		t.Errorf("activity %d: %d %+v", g.ID, st, one)
	}
	if st := get(c.srv.URL+"/api/v2/activities/99999", &one); st != 404 {
		t.Errorf("unknown activity: %d", st)
	}
}

// Faults see legacy requests by action.
func TestFaultsMatchTheAction(t *testing.T) {
	c := start(t, Options{})
	c.s.Faults().Add(sim.Fault{Match: "POST /api/InstallPackages", Status: 503, Body: `{"error":"Unavailable","message":"busy"}`})
	c.ok(http.MethodPost, "GetComputers", nil, nil)
	if a := c.send(http.MethodPost, "InstallPackages", map[string]string{"query": "tag:lab", "packages.1": "x1"}); a.status != 503 {
		t.Errorf("InstallPackages: %d", a.status)
	}
	_, per := c.s.Faults().Calls()
	if per["POST /api/InstallPackages"] != 1 || per["POST /api/GetComputers"] != 1 {
		t.Errorf("calls %v", per)
	}
}

// Count finds a repeated install: what a client that lost InstallPackages'
// answer and sent it again makes.
func TestCountSeesRepeatedInstalls(t *testing.T) {
	c := start(t, Options{})
	k := connectors.ReleaseKey{App: "notepad", Version: "1.0", Ring: deploy.Ring1Canary}
	marker := connectors.CorrelationMarker("c1", k)
	c.ok(http.MethodPost, "CreateScript", map[string]string{"title": "s", "time_limit": "60",
		"code": b64("#!/bin/sh\n# " + connectors.CorrelationMarker("c1", k.AppKey()) + "\n:\n")}, nil)
	c.ok(http.MethodPost, "CreatePackageProfile", map[string]string{"title": "p", "description": marker + " package=notepad targets=canary",
		"constraints.1": "depends notepad = 1.0"}, nil)
	c.ok(http.MethodPost, "AssociatePackageProfile", map[string]string{"name": "p", "tags.1": "canary"}, nil)
	install := map[string]string{"query": "tag:canary", "packages.1": "notepad"}
	c.ok(http.MethodPost, "InstallPackages", install, nil)
	if o, a := c.s.Count(k); o != 1 || a != 1 {
		t.Fatalf("count %d %d, want 1 1", o, a)
	}
	c.ok(http.MethodPost, "InstallPackages", install, nil)
	if o, a := c.s.Count(k); o != 1 || a != 2 {
		t.Errorf("after a repeated install: count %d %d, want 1 2", o, a)
	}
	other := k
	other.Ring = deploy.Ring2Pilot
	if o, a := c.s.Count(other); o != 1 || a != 0 {
		t.Errorf("ring 2: count %d %d, want 1 0", o, a)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, x := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0}, {"1.0", "1.1", -1}, {"1.10", "1.9", 1}, {"1.0~rc1", "1.0", -1}, {"1.0", "1.0-1", -1},
		{"1:0.1", "2.0", 1}, {"2.0-1", "2.0-1ubuntu1", -1}, {"1.0a", "1.0+", -1}, {"010", "10", 0},
	} {
		if got := compareVersions(x.a, x.b); got != x.want {
			t.Errorf("compare(%s, %s) = %d, want %d", x.a, x.b, got, x.want)
		}
		if got := compareVersions(x.b, x.a); got != -x.want {
			t.Errorf("compare(%s, %s) = %d, want %d", x.b, x.a, got, -x.want)
		}
	}
}
