package hub

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/hub/ui"
)

// consoleClient is a browser-like HTTP client of the console: a cookie
// jar, no redirects followed (the tests look at each 303).
type consoleClient struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newConsoleClient(t testing.TB, base string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *consoleClient) do(method, path string, form url.Values, hdr map[string]string) (int, http.Header, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", page)
	}
	return m[1]
}

// login logs in with token and returns the session's CSRF token.
func (c *consoleClient) login(token string) string {
	c.t.Helper()
	_, _, page := c.do("GET", "/ui/login", nil, nil)
	st, h, _ := c.do("POST", "/ui/login", url.Values{"token": {token}, "csrf": {csrfOf(c.t, page)}}, nil)
	if st != http.StatusSeeOther || h.Get("Location") != "/ui/" {
		c.t.Fatalf("login: %d to %q", st, h.Get("Location"))
	}
	st, h, _ = c.do("GET", "/ui/", nil, nil)
	if st != http.StatusSeeOther {
		c.t.Fatalf("home: %d", st)
	}
	st, _, page = c.do("GET", h.Get("Location"), nil, nil)
	if st != http.StatusOK {
		c.t.Fatalf("first view %s: %d\n%s", h.Get("Location"), st, page)
	}
	return csrfOf(c.t, page)
}

// newToken creates a token and returns its secret.
func newToken(t testing.TB, n *testNode, admin, name string, role deploy.Role, scope deploy.Scope) string {
	t.Helper()
	nt, err := cli(n, admin).CreateToken(context.Background(), api.TokenRequest{Name: name, Role: role, Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return nt.Token
}

// eventsSince returns the events after cursor.
func eventsSince(t testing.TB, n *testNode, after uint64) []store.Event {
	t.Helper()
	evs, err := n.srv.Store().State().Events(after, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func lastCursor(t testing.TB, n *testNode) uint64 {
	t.Helper()
	c, err := n.srv.Store().State().LastCursor()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// findEvent waits for an event after cursor matching match (audit events
// of refusals are proposed on their own).
func findEvent(t testing.TB, n *testNode, after uint64, what string, match func(store.Event) bool) store.Event {
	t.Helper()
	var found store.Event
	eventually(t, what, func() bool {
		for _, e := range eventsSince(t, n, after) {
			if match(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// TestConsoleHTTP drives the console without a browser: redirects,
// headers, login, every view, RBAC refusals with their audit events,
// CSRF refusals, bad query strings and logout.
func TestConsoleHTTP(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	for _, s := range []api.SiteRequest{{Name: "lon", Class: api.ClassOnline}, {Name: "fra", Class: api.ClassIntermittent}, {Name: "ship", Class: api.ClassAirGapped}} {
		if _, err := cli(n, admin).CreateSite(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	auditor := newToken(t, n, admin, "audra", deploy.RoleAuditor, deploy.Scope{})
	packager := newToken(t, n, admin, "pat", deploy.RolePackagingEngineer, deploy.Scope{})

	c := newConsoleClient(t, n.url())
	// Unauthenticated: every page redirects to the login.
	for _, p := range []string{"/ui/", "/ui/sites", "/ui/sites/lon", "/ui/rollouts", "/ui/cab", "/ui/drift", "/ui/audit", "/ui/nope"} {
		if st, h, _ := c.do("GET", p, nil, nil); st != http.StatusSeeOther || h.Get("Location") != "/ui/login" {
			t.Errorf("GET %s unauthenticated: %d to %q, want 303 to /ui/login", p, st, h.Get("Location"))
		}
	}
	if st, h, _ := c.do("POST", "/ui/rollouts/x/pause", url.Values{"csrf": {"x"}}, nil); st != http.StatusSeeOther || h.Get("Location") != "/ui/login" {
		t.Errorf("POST unauthenticated: %d to %q", st, h.Get("Location"))
	}
	st, h, page := c.do("GET", "/ui/login", nil, nil)
	if st != http.StatusOK || h.Get("Content-Security-Policy") != ui.ContentSecurityPolicy || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
		t.Fatalf("login page: %d headers %v", st, h)
	}
	if ck := h.Get("Set-Cookie"); !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") || strings.Contains(ck, "Secure") {
		t.Errorf("login cookie over plain HTTP: %q (want HttpOnly, SameSite=Strict, no Secure)", ck)
	}
	if st, h, _ := c.do("GET", "/ui/static/console.css", nil, nil); st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %q", st, h.Get("Content-Type"))
	}
	// A wrong token, a login post without the form's token, from another site.
	loginCSRF := csrfOf(t, page)
	mark := lastCursor(t, n)
	if st, _, body := c.do("POST", "/ui/login", url.Values{"token": {"euc_wrong"}, "csrf": {loginCSRF}}, nil); st != http.StatusUnauthorized || !strings.Contains(body, "unknown token") {
		t.Errorf("wrong token: %d", st)
	}
	findEvent(t, n, mark, "denied event of a wrong login", func(e store.Event) bool {
		return e.Action == "ui.login" && e.Outcome == "denied" && strings.Contains(e.Reason, "401: unknown token")
	})
	_, _, page = c.do("GET", "/ui/login", nil, nil)
	if st, _, _ := c.do("POST", "/ui/login", url.Values{"token": {admin}}, nil); st != http.StatusForbidden {
		t.Errorf("login without its CSRF token: %d, want 403", st)
	}
	if st, _, _ := c.do("POST", "/ui/login", url.Values{"token": {admin}, "csrf": {csrfOf(t, page)}}, map[string]string{"Origin": "http://evil.example"}); st != http.StatusForbidden {
		t.Errorf("login posted from another origin: %d, want 403", st)
	}
	for _, bad := range []url.Values{{"token": {""}}, {"token": {"a b"}}, {"token": {strings.Repeat("x", 600)}}, {"token": {"x"}, "extra": {"1"}}, {"token": {"x", "y"}}} {
		_, _, page = c.do("GET", "/ui/login", nil, nil)
		bad.Set("csrf", csrfOf(t, page))
		if st, _, _ := c.do("POST", "/ui/login", bad, nil); st != http.StatusBadRequest {
			t.Errorf("login form %v: %d, want 400", bad, st)
		}
	}

	// The admin sees every view.
	csrf := c.login(admin)
	for _, p := range []struct{ path, want string }{
		{"/ui/sites", `href="/ui/sites/ship"`}, {"/ui/sites?class=air-gapped&sort=staleness&dir=desc", "1 of 3 sites"},
		{"/ui/sites/lon", "Bundles sent"}, {"/ui/rollouts", "No rollout in your scope"}, {"/ui/cab", "Nothing waits for the CAB"},
		{"/ui/drift", "No open drift"}, {"/ui/audit", "Every chain verifies"},
	} {
		st, _, body := c.do("GET", p.path, nil, nil)
		if st != http.StatusOK || !strings.Contains(body, p.want) {
			t.Errorf("GET %s: %d, want 200 with %q:\n%s", p.path, st, p.want, body)
		}
	}
	for _, p := range []string{"/ui/sites?class=moon", "/ui/sites?sort=x", "/ui/sites?dir=up", "/ui/sites?x=1", "/ui/audit?before=-1", "/ui/audit?correlation_id=%3Cx%3E", "/ui/drift?site=A+B", "/ui/rollouts?x=1"} {
		if st, _, body := c.do("GET", p, nil, nil); st != http.StatusBadRequest || !strings.Contains(body, "id=\"error\"") {
			t.Errorf("GET %s: %d, want 400 naming the parameter", p, st)
		}
	}
	if st, _, _ := c.do("GET", "/ui/sites/nosuch", nil, nil); st != http.StatusNotFound {
		t.Errorf("unknown site: %d", st)
	}
	// Forged posts: no token, another session's token, another origin.
	mark = lastCursor(t, n)
	for i, f := range []struct {
		form url.Values
		hdr  map[string]string
	}{
		{url.Values{}, nil},
		{url.Values{"csrf": {"forged"}}, nil},
		{url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		if st, _, _ := c.do("POST", "/ui/rollouts/x/pause", f.form, f.hdr); st != http.StatusForbidden {
			t.Errorf("forged post %d: %d, want 403", i, st)
		}
	}
	findEvent(t, n, mark, "denied event of a forged post", func(e store.Event) bool {
		return e.Action == "ui.rollout.control" && e.Outcome == "denied" && strings.Contains(e.Reason, "CSRF") && strings.HasPrefix(e.Actor, "token:bootstrap/")
	})
	// With the token the post reaches the API's RBAC: a platform admin may
	// not pause a rollout (403 as the API answers, audited) ...
	mark = lastCursor(t, n)
	if st, _, body := c.do("POST", "/ui/rollouts/x/pause", url.Values{"csrf": {csrf}, "reason": {"test"}}, nil); st != http.StatusForbidden || !strings.Contains(body, "role platform-admin may not call POST /v1/rollouts/{intent}:pause") {
		t.Errorf("admin's pause: %d\n%s", st, body)
	}
	findEvent(t, n, mark, "denied event of the admin's pause", func(e store.Event) bool {
		return e.Action == "rollouts.pause" && e.Outcome == "denied" && strings.HasPrefix(e.Actor, "token:bootstrap/")
	})
	// ... and endpoint ops may: the API's handler answers (no such rollout).
	co := newConsoleClient(t, n.url())
	opsCSRF := co.login(newToken(t, n, admin, "eve", deploy.RoleEndpointOps, deploy.Scope{}))
	if st, _, _ := co.do("POST", "/ui/rollouts/x/pause", url.Values{"csrf": {opsCSRF}, "reason": {"test"}}, nil); st != http.StatusSeeOther {
		t.Errorf("ops' pause: %d", st)
	}
	if _, _, body := co.do("GET", "/ui/rollouts", nil, nil); !strings.Contains(body, "pause of x refused (404)") {
		t.Errorf("flash of the refused pause missing:\n%s", body)
	}
	if st, _, _ := co.do("POST", "/ui/rollouts/x/pause", url.Values{"csrf": {csrf}}, nil); st != http.StatusForbidden {
		t.Errorf("another session's CSRF token: %d, want 403", st)
	}
	if st, _, _ := co.do("POST", "/ui/rollouts/x/explode", url.Values{"csrf": {opsCSRF}}, nil); st != http.StatusBadRequest {
		t.Errorf("unknown control: %d, want 400", st)
	}

	// The auditor reads sites and audit; a packaging engineer may read
	// neither: 403 and a denied event naming the API route.
	ca := newConsoleClient(t, n.url())
	ca.login(auditor)
	if st, _, body := ca.do("GET", "/ui/audit", nil, nil); st != http.StatusOK || strings.Contains(body, "class=\"control\"") {
		t.Errorf("auditor audit view: %d", st)
	}
	cp := newConsoleClient(t, n.url())
	cp.login(packager)
	mark = lastCursor(t, n)
	for _, p := range []string{"/ui/sites", "/ui/audit", "/ui/sites/lon"} {
		st, _, body := cp.do("GET", p, nil, nil)
		if st != http.StatusForbidden || !strings.Contains(body, "role packaging-engineer may not call") {
			t.Errorf("packager GET %s: %d\n%s", p, st, body)
		}
		if strings.Contains(body, `href="/ui/sites"`) || strings.Contains(body, `href="/ui/audit"`) {
			t.Errorf("packager's navigation links a view it may not read")
		}
	}
	findEvent(t, n, mark, "denied event of the packager's view", func(e store.Event) bool {
		return e.Action == "ui.audit" && e.Outcome == "denied" && e.Role == string(deploy.RolePackagingEngineer) && strings.Contains(e.Reason, "GET /v1/events")
	})

	// Logout ends the session; a revoked token ends its sessions.
	if st, h, _ := c.do("POST", "/ui/logout", url.Values{"csrf": {csrf}}, nil); st != http.StatusSeeOther || h.Get("Location") != "/ui/login" {
		t.Fatalf("logout: %d %q", st, h.Get("Location"))
	}
	if st, _, _ := c.do("GET", "/ui/sites", nil, nil); st != http.StatusSeeOther {
		t.Errorf("after logout: %d, want 303", st)
	}
	toks, err := n.srv.Store().State().Tokens()
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		if tk.Name == "audra" {
			if err := cli(n, admin).RevokeToken(ctx, tk.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st, _, _ := ca.do("GET", "/ui/audit", nil, nil); st != http.StatusSeeOther {
		t.Errorf("revoked token's session: %d, want 303 to login", st)
	}
}

// TestConsoleRBACMatrix logs in with a token of every role and checks each
// view against a matrix written apart from the route table: 200 where the
// role may read the API route the view shows, 403 otherwise, and the
// navigation links exactly the readable views.
func TestConsoleRBACMatrix(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	if _, err := cli(n, admin).CreateSite(ctxT(t), api.SiteRequest{Name: "lon", Class: api.ClassOnline}); err != nil {
		t.Fatal(err)
	}
	type row struct{ sites, rollouts, cab, drift, audit bool }
	matrix := map[deploy.Role]row{
		deploy.RolePlatformAdmin:     {true, true, true, true, true},
		deploy.RolePackagingEngineer: {false, true, true, true, false},
		deploy.RolePublisher:         {false, true, true, true, false},
		deploy.RoleCABApprover:       {false, true, true, true, false},
		deploy.RoleSecurityReviewer:  {true, true, true, true, true},
		deploy.RoleEndpointOps:       {true, true, true, true, true},
		deploy.RoleAuditor:           {true, true, true, true, true},
	}
	for _, role := range deploy.Roles {
		want, ok := matrix[role]
		if !ok {
			t.Fatalf("role %s missing from the matrix", role)
		}
		c := newConsoleClient(t, n.url())
		_, _, page := c.do("GET", "/ui/login", nil, nil)
		st, _, _ := c.do("POST", "/ui/login", url.Values{"token": {newToken(t, n, admin, "u-"+string(role), role, deploy.Scope{})}, "csrf": {csrfOf(t, page)}}, nil)
		if st != http.StatusSeeOther {
			t.Fatalf("%s: login %d", role, st)
		}
		for _, v := range []struct {
			path string
			ok   bool
		}{{"/ui/sites", want.sites}, {"/ui/sites/lon", want.sites}, {"/ui/rollouts", want.rollouts}, {"/ui/cab", want.cab}, {"/ui/drift", want.drift}, {"/ui/audit", want.audit}} {
			st, _, body := c.do("GET", v.path, nil, nil)
			if wantSt := map[bool]int{true: 200, false: 403}[v.ok]; st != wantSt {
				t.Errorf("%s GET %s: %d, want %d", role, v.path, st, wantSt)
			}
			base := strings.SplitN(strings.TrimPrefix(v.path, "/ui/"), "/", 2)[0]
			if linked := strings.Contains(body, `<li><a href="/ui/`+base+`"`); linked != v.ok {
				t.Errorf("%s: navigation links /ui/%s: %v, want %v", role, base, linked, v.ok)
			}
		}
	}
}
