package awxsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/deploy"
)

type client struct {
	t    *testing.T
	url  string
	auth string
}

func start(t *testing.T, o awxsim.Options) (*awxsim.Server, *client) {
	t.Helper()
	s := awxsim.New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	c := &client{t: t, url: srv.URL}
	cred := s.Credentials()
	st, body := c.do("POST", "/api/v2/tokens/", map[string]any{"description": "test", "application": nil, "scope": "write"}, basic(cred.Username, cred.Password))
	if st != 201 {
		t.Fatalf("token: %d %v", st, body)
	}
	c.auth = "Bearer " + body["token"].(string)
	return s, c
}

func basic(u, p string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(u, p)
	return req.Header.Get("Authorization")
}

// do sends a request; auth "" uses the client's token, "-" sends none.
func (c *client) do(method, path string, body any, auth ...string) (int, map[string]any) {
	c.t.Helper()
	st, _, raw := c.raw(method, path, body, auth...)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			c.t.Fatalf("%s %s: %d, not a JSON object: %s", method, path, st, raw)
		}
	}
	return st, m
}

func (c *client) raw(method, path string, body any, auth ...string) (int, http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	a := c.auth
	if len(auth) > 0 {
		a = auth[0]
	}
	if a != "-" {
		req.Header.Set("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

func results(m map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range m["results"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

func wantDetail(t *testing.T, st int, body map[string]any, status int, detail string) {
	t.Helper()
	if st != status || body["detail"] != detail {
		t.Fatalf("got %d %v, want %d {detail: %q}", st, body, status, detail)
	}
}

func idle(t *testing.T, s *awxsim.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTokensAndAuth(t *testing.T) {
	s, c := start(t, awxsim.Options{})
	cred := s.Credentials()
	st, body := c.do("GET", "/api/v2/job_templates/", nil, "-")
	wantDetail(t, st, body, 401, "Authentication credentials were not provided. To establish a login session, visit /api/login/.")
	st, body = c.do("POST", "/api/v2/tokens/", map[string]any{"scope": "write"}, basic(cred.Username, "wrong"))
	wantDetail(t, st, body, 401, "Invalid username/password.")
	st, body = c.do("POST", "/api/v2/tokens/", map[string]any{"scope": "admin"}, basic(cred.Username, cred.Password))
	if st != 400 || fmt.Sprint(body["scope"]) != "[Must be a simple space-separated string with allowed scopes ['read', 'write'].]" {
		t.Fatalf("bad scope: %d %v", st, body)
	}
	st, body = c.do("POST", "/api/v2/tokens/", map[string]any{"scope": "read"}, basic(cred.Username, cred.Password))
	if st != 201 || body["scope"] != "read" || body["expires"] == nil || body["refresh_token"] != nil {
		t.Fatalf("read token: %d %v", st, body)
	}
	read := "Bearer " + body["token"].(string)
	if st, _ := c.do("GET", "/api/v2/job_templates/", nil, read); st != 200 {
		t.Fatalf("a read token cannot read: %d", st)
	}
	st, body = c.do("POST", "/api/v2/job_templates/1/launch/", map[string]any{}, read)
	wantDetail(t, st, body, 403, "You do not have permission to perform this action.")
	if len(s.Jobs()) != 0 {
		t.Fatal("a refused launch made a job")
	}
	s.Tokens().ExpireAll()
	st, body = c.do("GET", "/api/v2/job_templates/", nil)
	wantDetail(t, st, body, 401, "Authentication credentials were not provided. To establish a login session, visit /api/login/.")
	// Basic auth works on every endpoint, as AWX allows.
	if st, _ := c.do("GET", "/api/v2/me/", nil, basic(cred.Username, cred.Password)); st != 200 {
		t.Fatalf("basic auth: %d", st)
	}
	if st, _ := c.do("GET", "/api/v2/ping/", nil, "-"); st != 200 {
		t.Fatalf("ping without auth: %d", st)
	}
}

func TestPaginationAndFilters(t *testing.T) {
	inv := awxsim.InventorySpec{Name: "many"}
	for i := range 205 {
		inv.Hosts = append(inv.Hosts, awxsim.Host{Name: fmt.Sprintf("h%03d", i)})
	}
	tpls := []awxsim.TemplateSpec{{Name: "a", Inventory: "many"}, {Name: "b", Inventory: "many"}, {Name: "c", Inventory: "many"}}
	_, c := start(t, awxsim.Options{Templates: tpls, Inventories: []awxsim.InventorySpec{inv}})

	st, body := c.do("GET", "/api/v2/job_templates/?page_size=1", nil)
	if st != 200 || body["count"].(float64) != 3 || body["next"] != "/api/v2/job_templates/?page=2&page_size=1" || body["previous"] != nil {
		t.Fatalf("page 1: %d %v", st, body)
	}
	_, body = c.do("GET", body["next"].(string), nil)
	if r := results(body); len(r) != 1 || r[0]["name"] != "b" || body["previous"] != "/api/v2/job_templates/?page=1&page_size=1" {
		t.Fatalf("page 2: %v", body)
	}
	st, body = c.do("GET", "/api/v2/job_templates/?page=4&page_size=1", nil)
	wantDetail(t, st, body, 404, "Invalid page.")
	st, body = c.do("GET", "/api/v2/job_templates/?page=x", nil)
	wantDetail(t, st, body, 404, "Invalid page.")
	_, body = c.do("GET", "/api/v2/job_templates/?name=c", nil)
	if r := results(body); len(r) != 1 || r[0]["name"] != "c" {
		t.Fatalf("name filter: %v", body)
	}
	_, body = c.do("GET", "/api/v2/job_templates/?name__in=a,c&order_by=-name", nil)
	if r := results(body); len(r) != 2 || r[0]["name"] != "c" || r[1]["name"] != "a" {
		t.Fatalf("__in and order_by: %v", body)
	}
	_, body = c.do("GET", "/api/v2/job_templates/?not__name=a", nil)
	if body["count"].(float64) != 2 {
		t.Fatalf("not__: %v", body)
	}
	// page_size is capped at 200.
	_, body = c.do("GET", "/api/v2/inventories/1/hosts/?page_size=500", nil)
	if len(results(body)) != 200 || body["count"].(float64) != 205 || body["next"] == nil {
		t.Fatalf("page_size 500: %d results, count %v, next %v", len(results(body)), body["count"], body["next"])
	}
	// AWX refuses to filter on extra_vars, in any lookup and on every list.
	for _, p := range []string{"/api/v2/jobs/?extra_vars__icontains=corr", "/api/v2/job_templates/1/jobs/?extra_vars=x",
		"/api/v2/jobs/?not__extra_vars__contains=x", "/api/v2/job_templates/?extra_vars__contains=x"} {
		st, body := c.do("GET", p, nil)
		wantDetail(t, st, body, 403, "Filtering on extra_vars is not allowed.")
	}
	st, body = c.do("GET", "/api/v2/jobs/?colour=red", nil)
	wantDetail(t, st, body, 400, "Job has no field named 'colour'")
	st, body = c.do("GET", "/api/v2/job_templates/?order_by=colour", nil)
	wantDetail(t, st, body, 400, "Cannot resolve keyword 'colour' into field.")
}

func launch(t *testing.T, c *client, body any) map[string]any {
	t.Helper()
	st, out := c.do("POST", "/api/v2/job_templates/1/launch/", body)
	if st != 201 {
		t.Fatalf("launch: %d %v", st, out)
	}
	return out
}

func eucoraVars(pkg, version, state string) map[string]any {
	return map[string]any{"eucora_package": pkg, "eucora_version": version, "eucora_state": state, "eucora_release": pkg + "@" + version + "/ring-1/*",
		"eucora_action": "install", "eucora_repo_url": "http://apt.invalid/", "eucora_repo_dist": "stable", "eucora_pin": "version " + version}
}

func TestLaunchPromptsAndValidation(t *testing.T) {
	tpls := []awxsim.TemplateSpec{awxsim.DefaultTemplate(), {Name: "fixed", Inventory: "eucora-devices", ExtraVars: map[string]any{"fixed": 1}}}
	s, c := start(t, awxsim.Options{Templates: tpls, Inventories: []awxsim.InventorySpec{awxsim.DefaultInventory()}})
	st, info := c.do("GET", "/api/v2/job_templates/2/launch/", nil)
	if st != 200 || info["ask_variables_on_launch"] != false || info["ask_limit_on_launch"] != false || info["can_start_without_user_input"] != true {
		t.Fatalf("launch info: %d %v", st, info)
	}
	st, out, raw := c.raw("POST", "/api/v2/job_templates/2/launch/", map[string]any{"extra_vars": map[string]any{"x": 1}, "limit": "canary-1", "job_tags": "a"})
	var res map[string]any
	json.Unmarshal(raw, &res)
	ign, _ := res["ignored_fields"].(map[string]any)
	if st != 201 || ign["limit"] != "canary-1" || ign["extra_vars"] == nil || ign["job_tags"] != "a" || out.Get("Location") != fmt.Sprintf("/api/v2/jobs/%v/", res["job"]) {
		t.Fatalf("launch without prompts: %d %v %v", st, res, out)
	}
	if res["limit"] != "" || !strings.Contains(res["extra_vars"].(string), `"fixed":1`) || strings.Contains(res["extra_vars"].(string), `"x"`) {
		t.Fatalf("ignored fields were applied: %v", res)
	}
	for _, bad := range []struct {
		body  any
		field string
		msg   string
	}{
		{map[string]any{"extra_vars": "not json"}, "extra_vars", "Cannot parse as JSON"},
		{map[string]any{"extra_vars": []int{1}}, "extra_vars", "Input type `list` is not a dictionary"},
		{map[string]any{"extra_vars": "[1]"}, "extra_vars", "Input type `list` is not a dictionary"},
		{map[string]any{"limit": 5}, "limit", "Not a valid string."},
		{map[string]any{"inventory": 99}, "inventory", `Invalid pk "99" - object does not exist.`},
	} {
		before := len(s.Jobs())
		st, body := c.do("POST", "/api/v2/job_templates/1/launch/", bad.body)
		msgs, _ := body[bad.field].([]any)
		if st != 400 || len(msgs) != 1 || !strings.Contains(msgs[0].(string), bad.msg) {
			t.Errorf("%v: %d %v, want 400 {%s: [%s...]}", bad.body, st, body, bad.field, bad.msg)
		}
		if len(s.Jobs()) != before {
			t.Errorf("%v: a refused launch made a job", bad.body)
		}
	}
	st, body := c.do("POST", "/api/v2/job_templates/1/launch/", "{not json")
	if st != 400 || !strings.HasPrefix(body["detail"].(string), "JSON parse error") {
		t.Fatalf("bad JSON: %d %v", st, body)
	}
	// extra_vars as a JSON string are accepted as AWX accepts them.
	res = launch(t, c, map[string]any{"extra_vars": `{"eucora_package":"p"}`, "limit": "canary-1"})
	if !strings.Contains(res["extra_vars"].(string), `"eucora_package":"p"`) || res["limit"] != "canary-1" {
		t.Fatalf("string extra_vars: %v", res)
	}
	st, body = c.do("PUT", "/api/v2/job_templates/1/launch/", map[string]any{})
	wantDetail(t, st, body, 405, `Method "PUT" not allowed.`)
	st, body = c.do("GET", "/api/v2/job_templates/1/bogus/", nil)
	wantDetail(t, st, body, 404, "Not found.")
	st, body = c.do("GET", "/api/v2/job_templates/99/", nil)
	wantDetail(t, st, body, 404, "Not found.")
}

func TestJobLifecycleWithModelRunner(t *testing.T) {
	runner := &awxsim.ModelRunner{}
	runner.SetOutcome("canary-2", awxsim.HostFailed)
	runner.SetOutcome("pilot-1", awxsim.HostUnreachable)
	s, c := start(t, awxsim.Options{Runner: runner, StartPolls: 2})

	res := launch(t, c, map[string]any{"extra_vars": eucoraVars("hello", "1.0", "present"), "limit": "canary-1"})
	id := int(res["job"].(float64))
	if res["status"] != "pending" {
		t.Fatalf("launched job status %v, want pending", res["status"])
	}
	// The dispatcher holds the job until it has been read twice.
	if _, j := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil); j["status"] != "pending" {
		t.Fatalf("first poll: %v", j["status"])
	}
	if runner.Runs() != 0 {
		t.Fatal("the job ran before StartPolls reads")
	}
	c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil)
	idle(t, s)
	_, j := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil)
	if j["status"] != "successful" || j["failed"] != false || j["started"] == nil || j["finished"] == nil {
		t.Fatalf("job: %v", j)
	}
	if got := runner.Installed("canary-1"); got["hello"] != "1.0" {
		t.Fatalf("modelled packages of canary-1: %v", got)
	}

	// One host fails, one is unreachable, one is fine.
	res = launch(t, c, map[string]any{"extra_vars": eucoraVars("hello", "2.0", "present"), "limit": "canary-1,canary-2,pilot-1"})
	id = int(res["job"].(float64))
	c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil)
	c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil)
	idle(t, s)
	_, j = c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil)
	if v, _ := s.Job(id); j["status"] != "failed" || j["failed"] != true || v.RC != 4 {
		t.Fatalf("job with a failed and an unreachable host: %v rc %d, want failed rc 4", j["status"], v.RC)
	}
	_, sums := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/job_host_summaries/", id), nil)
	by := map[string]map[string]any{}
	for _, r := range results(sums) {
		by[r["host_name"].(string)] = r
	}
	if by["canary-1"]["failed"] != false || by["canary-1"]["ok"].(float64) != 5 || by["canary-2"]["failed"] != true ||
		by["canary-2"]["failures"].(float64) != 1 || by["pilot-1"]["dark"].(float64) != 1 || by["pilot-1"]["failed"] != true ||
		by["canary-1"]["host"] == nil {
		t.Fatalf("host summaries: %v", by)
	}
	if runner.Installed("canary-1")["hello"] != "2.0" || runner.Installed("canary-2")["hello"] != "" {
		t.Fatalf("modelled packages: %v %v", runner.Installed("canary-1"), runner.Installed("canary-2"))
	}
	_, evs := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/job_events/?event=runner_on_failed", id), nil)
	if r := results(evs); len(r) != 1 || r[0]["host_name"] != "canary-2" || r[0]["task"] != "install the pinned version" || r[0]["failed"] != true {
		t.Fatalf("failed events: %v", evs)
	}
	_, evs = c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/job_events/?event__in=playbook_on_start,playbook_on_stats", id), nil)
	if r := results(evs); len(r) != 2 || r[1]["event"] != "playbook_on_stats" || r[0]["counter"].(float64) >= r[1]["counter"].(float64) {
		t.Fatalf("start and stats events: %v", evs)
	}
	st, hdr, text := c.raw("GET", fmt.Sprintf("/api/v2/jobs/%d/stdout/?format=txt", id), nil)
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || !strings.Contains(string(text), "PLAY RECAP") ||
		!strings.Contains(string(text), "fatal: [canary-2]: FAILED!") || !strings.Contains(string(text), "pilot-1") {
		t.Fatalf("stdout: %d\n%s", st, text)
	}
	_, js := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/stdout/?format=json", id), nil)
	if js["content"] != string(text) {
		t.Fatalf("stdout json: %v", js)
	}

	// Relaunch on the failed hosts: the same extra_vars, limit = failed hosts.
	st, info := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/relaunch/", id), nil)
	if st != 200 || info["retry_counts"].(map[string]any)["failed"].(float64) != 2 {
		t.Fatalf("relaunch info: %v", info)
	}
	st, rel := c.do("POST", fmt.Sprintf("/api/v2/jobs/%d/relaunch/", id), map[string]any{"hosts": "failed"})
	if st != 201 || rel["limit"] != "canary-2,pilot-1" || rel["launch_type"] != "relaunch" || rel["extra_vars"] != j["extra_vars"] {
		t.Fatalf("relaunch: %d %v", st, rel)
	}
	for range 2 {
		c.do("GET", fmt.Sprintf("/api/v2/jobs/%v/", rel["id"]), nil)
	}
	st, body := c.do("POST", "/api/v2/jobs/1/relaunch/", map[string]any{"hosts": "failed"})
	if st != 400 || fmt.Sprint(body["hosts"]) != "[No failed hosts found.]" {
		t.Fatalf("relaunch of failed hosts of a successful job: %d %v", st, body)
	}
	st, body = c.do("POST", "/api/v2/jobs/1/relaunch/", map[string]any{"hosts": "some"})
	if st != 400 || body["hosts"] == nil {
		t.Fatalf("relaunch hosts=some: %d %v", st, body)
	}

	// A limit that matches no host fails the job as ansible does.
	res = launch(t, c, map[string]any{"extra_vars": eucoraVars("hello", "1.0", "present"), "limit": "nosuch"})
	id = int(res["job"].(float64))
	c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil)
	c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil)
	idle(t, s)
	v, _ := s.Job(id)
	if v.Status != "failed" || v.RC != 1 || !strings.Contains(v.Stdout, "no hosts to target") || len(v.Summaries) != 0 {
		t.Fatalf("no-hosts job: %+v", v)
	}
}

func TestCancel(t *testing.T) {
	s, c := start(t, awxsim.Options{StartPolls: 1000})
	res := launch(t, c, map[string]any{"extra_vars": eucoraVars("hello", "1.0", "present"), "limit": "canary-1"})
	id := int(res["job"].(float64))
	if _, info := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/cancel/", id), nil); info["can_cancel"] != true {
		t.Fatalf("cancel info: %v", info)
	}
	if st, _ := c.do("POST", fmt.Sprintf("/api/v2/jobs/%d/cancel/", id), nil); st != 202 {
		t.Fatalf("cancel: %d", st)
	}
	idle(t, s)
	if _, j := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil); j["status"] != "canceled" {
		t.Fatalf("after cancel: %v", j["status"])
	}
	st, body := c.do("POST", fmt.Sprintf("/api/v2/jobs/%d/cancel/", id), nil)
	wantDetail(t, st, body, 405, `Method "POST" not allowed.`)
	if _, info := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/cancel/", id), nil); info["can_cancel"] != false {
		t.Fatalf("cancel info after cancel: %v", info)
	}
}

func TestHosts(t *testing.T) {
	_, c := start(t, awxsim.Options{})
	st, h := c.do("POST", "/api/v2/inventories/1/hosts/", map[string]any{"name": "new-1", "variables": `{"eucora_root": "/tmp/x"}`})
	if st != 201 || h["name"] != "new-1" || h["inventory"].(float64) != 1 || h["enabled"] != true {
		t.Fatalf("create host: %d %v", st, h)
	}
	st, body := c.do("POST", "/api/v2/inventories/1/hosts/", map[string]any{"name": "new-1"})
	if st != 400 || fmt.Sprint(body["__all__"]) != "[Host with this Name and Inventory already exists.]" {
		t.Fatalf("duplicate host: %d %v", st, body)
	}
	for _, bad := range []map[string]any{{}, {"name": ""}, {"name": 3}, {"name": "x", "variables": "{"}, {"name": "x", "enabled": "yes"}} {
		if st, body := c.do("POST", "/api/v2/inventories/1/hosts/", bad); st != 400 || len(body) != 1 {
			t.Errorf("%v: %d %v", bad, st, body)
		}
	}
	_, body = c.do("GET", "/api/v2/inventories/1/hosts/?name__startswith=new", nil)
	if r := results(body); len(r) != 1 || r[0]["variables"] != `{"eucora_root": "/tmp/x"}` {
		t.Fatalf("host list: %v", body)
	}
	if st, _ := c.do("GET", fmt.Sprintf("/api/v2/hosts/%v/", h["id"]), nil); st != 200 {
		t.Fatalf("host detail: %d", st)
	}
	_, body = c.do("GET", "/api/v2/inventories/?name=eucora-devices", nil)
	if r := results(body); len(r) != 1 || r[0]["total_hosts"].(float64) != 14 {
		t.Fatalf("inventories: %v", body)
	}
}

func TestCountIsInstallJobsAndTargets(t *testing.T) {
	s, c := start(t, awxsim.Options{})
	k := connectors.ReleaseKey{App: "hello", Version: "1.0", Ring: deploy.Ring1Canary}
	vars := eucoraVars("hello", "1.0", "present")
	vars["eucora_release"] = k.String()
	launch(t, c, map[string]any{"extra_vars": vars, "limit": "canary-1,canary-2"})
	if o, a := s.Count(k); o != 1 || a != 2 {
		t.Fatalf("after one launch: %d %d", o, a)
	}
	vars["eucora_action"] = "pin-prior"
	launch(t, c, map[string]any{"extra_vars": vars, "limit": "canary-1,canary-2"})
	if o, a := s.Count(k); o != 1 || a != 2 {
		t.Fatalf("a remediation counted: %d %d", o, a)
	}
	vars["eucora_action"] = "install"
	launch(t, c, map[string]any{"extra_vars": vars, "limit": "canary-1:canary-2"})
	if o, a := s.Count(k); o != 2 || a != 4 {
		t.Fatalf("a duplicate launch: %d %d", o, a)
	}
	idle(t, s)
}

func TestLimitPatterns(t *testing.T) {
	inv := awxsim.DefaultInventory().Hosts
	for _, c := range []struct {
		limit, want string
		unmatched   string
	}{
		{"", "lab-1 lab-2 canary-1 canary-2 pilot-1 pilot-2 pilot-3 dept-1 dept-2 dept-3 global-1 global-2 global-3", ""},
		{"canary-1", "canary-1", ""},
		{"ring2,!pilot-2", "pilot-1 pilot-3", ""},
		{"ring2:&pilot-[12]", "pilot-1 pilot-2", ""},
		{"dept-*,nosuch", "dept-1 dept-2 dept-3", "nosuch"},
		{"all:!ring0:!ring2:!ring3:!ring4", "canary-1 canary-2", ""},
	} {
		hosts, unmatched := awxsim.Run{Inventory: inv, Limit: c.limit}.Hosts()
		var names []string
		for _, h := range hosts {
			names = append(names, h.Name)
		}
		if strings.Join(names, " ") != c.want || strings.Join(unmatched, " ") != c.unmatched {
			t.Errorf("limit %q: %v (unmatched %v), want %s (unmatched %q)", c.limit, names, unmatched, c.want, c.unmatched)
		}
	}
}

// TestCheckJobs: job_type "check" is taken from a launch when the template
// prompts for it (else it is an ignored field); a check job changes no
// modelled package and its version check fails on a host holding another
// version; the playbook's guard refuses a verification that is not a
// check job.
func TestCheckJobs(t *testing.T) {
	runner := &awxsim.ModelRunner{}
	tpls := []awxsim.TemplateSpec{awxsim.DefaultTemplate(), {Name: "no-type", Inventory: "eucora-devices", AskVariables: true, AskLimit: true}}
	s, c := start(t, awxsim.Options{Runner: runner, Templates: tpls, Inventories: []awxsim.InventorySpec{awxsim.DefaultInventory()}})
	if _, info := c.do("GET", "/api/v2/job_templates/1/launch/", nil); info["ask_job_type_on_launch"] != true {
		t.Fatalf("launch info: %v", info)
	}
	launch(t, c, map[string]any{"extra_vars": eucoraVars("hello", "1.0", "present"), "limit": "canary-1,canary-2"})
	idle(t, s)
	runner.SetInstalled("canary-2", "hello", "0.9") // by hand
	verify := eucoraVars("hello", "1.0", "present")
	verify["eucora_action"] = "verify"
	res := launch(t, c, map[string]any{"extra_vars": verify, "limit": "canary-1,canary-2", "job_type": "check"})
	idle(t, s)
	id := int(res["job"].(float64))
	_, j := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/", id), nil)
	if res["job_type"] != "check" || j["job_type"] != "check" || j["status"] != "failed" {
		t.Fatalf("check job: %v", j)
	}
	_, evs := c.do("GET", fmt.Sprintf("/api/v2/jobs/%d/job_events/?task=check+the+installed+version", id), nil)
	got := map[string]string{}
	for _, e := range results(evs) {
		got[e["host_name"].(string)] = e["event"].(string)
	}
	if got["canary-1"] != "runner_on_ok" || got["canary-2"] != "runner_on_failed" {
		t.Fatalf("version check events: %v", got)
	}
	if runner.Installed("canary-2")["hello"] != "0.9" || runner.Installed("canary-1")["hello"] != "1.0" {
		t.Fatal("a check job changed a modelled package")
	}
	// A verification run as a normal job fails its assertion and changes nothing.
	launch(t, c, map[string]any{"extra_vars": verify, "limit": "canary-2"})
	idle(t, s)
	if js := s.Jobs(); js[len(js)-1].Status != "failed" || runner.Installed("canary-2")["hello"] != "0.9" {
		t.Fatalf("verification as a run job: %+v", js[len(js)-1])
	}
	// Without the prompt job_type is ignored; a bad value is refused.
	st, out, raw := c.raw("POST", "/api/v2/job_templates/2/launch/", map[string]any{"extra_vars": eucoraVars("hello", "1.0", "present"), "limit": "lab-1", "job_type": "check"})
	var r2 map[string]any
	json.Unmarshal(raw, &r2)
	if ign, _ := r2["ignored_fields"].(map[string]any); st != 201 || ign["job_type"] != "check" || r2["job_type"] != "run" {
		t.Fatalf("job_type without the prompt: %d %v %v", st, r2, out)
	}
	st, body := c.do("POST", "/api/v2/job_templates/1/launch/", map[string]any{"job_type": "scan"})
	if msgs, _ := body["job_type"].([]any); st != 400 || len(msgs) != 1 || !strings.Contains(msgs[0].(string), "is not a valid choice") {
		t.Fatalf("bad job_type: %d %v", st, body)
	}
	idle(t, s)
}
