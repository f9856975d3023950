package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/hub/ui"
	"github.com/eucora/eucora/internal/clip"
)

// The web console (docs/console.md): server-rendered pages under /ui/
// over the same tokens, the same RBAC table and the same handlers as the
// API. A login exchanges an API token for a session of this node (the
// session keeps the token's SHA-256 and authenticates it again on every
// request, principalByHash); each view is allowed exactly when the API
// route it shows is (consoleViews), and each action button posts to a
// handler that checks the session's CSRF token and then calls the API
// route's own handler, so separation of duties, scope checks and audit
// events are the API's.

// consoleView is one view of the console and the API route whose RBAC it
// takes.
type consoleView struct {
	name, label, href string
	route             string // Route.Name in Routes()
}

var consoleViews = []consoleView{
	{"sites", "Sites", "/ui/sites", "sites.sync"},
	{"rollouts", "Rollouts", "/ui/rollouts", "rollouts.list"},
	{"cab", "CAB queue", "/ui/cab", "intents.list"},
	{"drift", "Drift", "/ui/drift", "drift.list"},
	{"audit", "Audit", "/ui/audit", "events.list"},
}

// consoleControls are the rollout buttons and their API routes.
var consoleControls = []struct{ name, label, route string }{
	{"pause", "Pause", "rollouts.pause"},
	{"resume", "Resume", "rollouts.resume"},
	{"promote", "Promote", "rollouts.promote"},
	{"rollback", "Roll back", "rollouts.rollback"},
}

// console is one node's console: its templates, its sessions and the
// incremental verifier of the event log the Audit view shows.
type console struct {
	ui       *ui.Renderer
	sessions *ui.Sessions
	routes   map[string]Route
	chain    struct {
		sync.Mutex
		v    *store.ChainVerifier
		next uint64 // the next cursor to verify
		err  error  // the first failure; verification stops there
	}
}

// uiRequest is what a console handler knows about its request.
type uiRequest struct {
	p      *Principal
	sess   ui.Session
	layout ui.Layout
}

func (s *Server) registerConsole(mux *http.ServeMux) {
	r, err := ui.NewRenderer()
	if err != nil {
		panic(err) // the templates are embedded: a parse error is a build error (TestConsole* render every page)
	}
	c := &console{ui: r, sessions: ui.NewSessions(nil), routes: map[string]Route{}}
	for _, rt := range Routes() {
		c.routes[rt.Name] = rt
	}
	c.chain.v, c.chain.next = store.NewChainVerifier(), 1
	s.console = c
	handle := func(pattern, name string, h http.Handler) { mux.Handle(pattern, s.metrics.instrument(name, h)) }
	handle("GET /ui/static/", "ui.static", ui.Static())
	handle("GET /ui/login", "ui.login", s.uiBase(s.handleLoginForm))
	handle("POST /ui/login", "ui.login", s.uiBase(s.handleLogin))
	handle("POST /ui/logout", "ui.logout", s.uiBase(s.handleLogout))
	handle("GET /ui/{$}", "ui.home", s.uiBase(s.handleHome))
	handle("GET /ui", "ui.home", http.RedirectHandler("/ui/", http.StatusSeeOther))
	handle("GET /ui/sites", "ui.sites", s.uiView("sites", (*Server).uiSites))
	handle("GET /ui/sites/{name}", "ui.site", s.uiView("sites", (*Server).uiSite))
	handle("GET /ui/rollouts", "ui.rollouts", s.uiView("rollouts", (*Server).uiRollouts))
	handle("GET /ui/cab", "ui.cab", s.uiView("cab", (*Server).uiCAB))
	handle("GET /ui/drift", "ui.drift", s.uiView("drift", (*Server).uiDrift))
	handle("GET /ui/audit", "ui.audit", s.uiView("audit", (*Server).uiAudit))
	handle("POST /ui/rollouts/{intent}/{control}", "ui.rollout.control", s.uiBase(s.handleUIControl))
	handle("POST /ui/cab/decide", "ui.cab.decide", s.uiBase(s.handleUICAB))
	handle("/ui/", "ui.unknown", s.uiBase(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := s.uiSession(w, r); ok {
			s.uiError(w, r, nil, http.StatusNotFound, "Not found", fmt.Sprintf("no console page %s %s", r.Method, clip.String(r.URL.Path, 200)))
		}
	}))
}

// uiBase sets the correlation id and the security headers.
func (s *Server) uiBase(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cid := ulid.Make().String()
		w.Header().Set("X-Correlation-ID", cid)
		r = r.WithContext(context.WithValue(r.Context(), correlationKey, cid))
		ui.SecurityHeaders(w.Header())
		h(w, r)
	})
}

// uiSession authenticates the request's session as the API authenticates
// a token. Without a live session it answers a redirect to the login
// (303) and returns ok == false.
func (s *Server) uiSession(w http.ResponseWriter, r *http.Request) (*Principal, ui.Session, bool) {
	var cookie string
	if ck, err := r.Cookie(ui.SessionCookie); err == nil {
		cookie = ck.Value
	}
	sess, err := s.console.sessions.Get(cookie)
	if err != nil {
		http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
		return nil, sess, false
	}
	p, err := s.principalByHash(sess.TokenHash)
	if err != nil {
		// A revoked or deleted token ends its sessions at once.
		s.console.sessions.Delete(sess.ID)
		s.recordRefusal(r, nil, "ui.session", r.URL.Path, "denied", fmt.Sprintf("%d: %v", http.StatusUnauthorized, err))
		ui.SetCookie(w, r, ui.SessionCookie, "", "/ui/", -1)
		http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
		return nil, sess, false
	}
	return p, sess, true
}

// layout is the page frame of p's session: the views p may read.
func (s *Server) layout(p *Principal, sess ui.Session, current, title string) ui.Layout {
	l := ui.Layout{Title: title, CSRF: sess.CSRF, Node: s.cfg.NodeID, Now: store.NowUTC()}
	if p != nil {
		l.User, l.Role, l.Scope = p.Name, string(p.Role), p.Scope.String()
		if p.Scope.IsEnterprise() {
			l.Scope = "enterprise"
		}
		for _, v := range consoleViews {
			if authorize(s.console.routes[v.route], p) == "" {
				l.Nav = append(l.Nav, ui.NavItem{Name: v.label, Href: v.href, Current: v.name == current})
			}
		}
	}
	if sess.ID != "" {
		l.Flash, l.FlashError = s.console.sessions.TakeFlash(sess.ID)
	}
	return l
}

// uiView serves a read-only view: a session, the view's API route allowed
// for its principal (403 and a denied audit event otherwise, as the API
// answers), a linearizable read on the leader, then the page.
func (s *Server) uiView(view string, h func(s *Server, w http.ResponseWriter, r *http.Request, c *uiRequest)) http.Handler {
	var v consoleView
	for _, cv := range consoleViews {
		if cv.name == view {
			v = cv
		}
	}
	return s.uiBase(func(w http.ResponseWriter, r *http.Request) {
		p, sess, ok := s.uiSession(w, r)
		if !ok {
			return
		}
		c := &uiRequest{p: p, sess: sess, layout: s.layout(p, sess, view, v.label)}
		rt := s.console.routes[v.route]
		if reason := authorize(rt, p); reason != "" {
			s.recordRefusal(r, p, "ui."+view, r.URL.Path, "denied", fmt.Sprintf("%d: %s (the console's %s view shows %s %s)", http.StatusForbidden, reason, v.label, rt.Method, rt.Pattern))
			s.uiError(w, r, c, http.StatusForbidden, "Forbidden", reason)
			return
		}
		if s.store.IsLeader() {
			if err := s.store.VerifyRead(r.Context()); err != nil {
				s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", "this node could not confirm it leads the cluster: "+err.Error())
				return
			}
		} else {
			c.layout.Stale = "This node is a follower: the pages show its own copy of the state, which may lag the leader's; actions need the leader's console."
			if u, err := s.cluster.leaderURL(); err == nil {
				c.layout.Stale += " The leader is " + u + "/ui/."
			}
		}
		h(s, w, r, c)
	})
}

func (s *Server) uiRender(w http.ResponseWriter, status int, page string, data any) {
	if err := s.console.ui.Render(w, status, page, data); err != nil {
		s.log.Error("console render", "page", page, "err", err)
	}
}

// uiError renders a refused or failed request.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, c *uiRequest, status int, title, msg string) {
	var l ui.Layout
	if c != nil {
		l = c.layout
	} else {
		l = ui.Layout{Node: s.cfg.NodeID, Now: store.NowUTC()}
	}
	l.Title = title
	s.uiRender(w, status, "error", ui.ErrorPage{Layout: l, Status: status, Message: msg})
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	p, sess, ok := s.uiSession(w, r)
	if !ok {
		return
	}
	l := s.layout(p, sess, "", "")
	if len(l.Nav) == 0 {
		s.uiError(w, r, &uiRequest{p: p, sess: sess, layout: l}, http.StatusForbidden, "Forbidden", fmt.Sprintf("role %s may read none of the console's views", p.Role))
		return
	}
	http.Redirect(w, r, l.Nav[0].Href, http.StatusSeeOther)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	csrf := ui.RandomToken()
	ui.SetCookie(w, r, ui.LoginCookie, csrf, "/ui/login", 600)
	s.uiRender(w, status, "login", ui.LoginPage{Layout: ui.Layout{Title: "Log in", CSRF: csrf, Node: s.cfg.NodeID, Now: store.NowUTC()}, Error: msg})
}

func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	s.loginPage(w, r, http.StatusOK, "")
}

// readForm parses a console form post (urlencoded, at most
// ui.MaxFormBytes) and refuses one from another site.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, int, error) {
	if why := ui.CrossSite(r); why != "" {
		return nil, http.StatusForbidden, fmt.Errorf("cross-site form post refused: %s", why)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: want application/x-www-form-urlencoded", clip.String(ct, 80))
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ui.MaxFormBytes))
	if err != nil {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("form larger than %d bytes", ui.MaxFormBytes)
	}
	v, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("form: %v", err)
	}
	return v, 0, nil
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	v, status, err := readForm(w, r)
	if err != nil {
		s.recordRefusal(r, nil, "ui.login", r.URL.Path, "denied", fmt.Sprintf("%d: %v", status, err))
		s.loginPage(w, r, status, err.Error())
		return
	}
	f, err := ui.ParseLoginForm(v)
	if err != nil {
		s.loginPage(w, r, http.StatusBadRequest, err.Error())
		return
	}
	ck, cerr := r.Cookie(ui.LoginCookie)
	if cerr != nil || !ui.CheckCSRF(ui.Session{CSRF: ck.Value}, f.CSRF) {
		s.recordRefusal(r, nil, "ui.login", r.URL.Path, "denied", fmt.Sprintf("%d: login form without its CSRF token", http.StatusForbidden))
		s.loginPage(w, r, http.StatusForbidden, "the login form expired or was not this console's: log in again")
		return
	}
	hash := hashToken(f.Token)
	p, err := s.principalByHash(hash)
	if err != nil {
		s.recordRefusal(r, nil, "ui.login", r.URL.Path, "denied", fmt.Sprintf("%d: %v", http.StatusUnauthorized, err))
		s.loginPage(w, r, http.StatusUnauthorized, "login refused: "+err.Error())
		return
	}
	sess, cookie := s.console.sessions.Create(hash)
	a := s.audit(r, p, "ui.login", "console/session")
	a.Outcome, a.Reason = "ok", "console session opened on node "+s.cfg.NodeID
	s.recordAudit(a)
	ui.SetCookie(w, r, ui.LoginCookie, "", "/ui/login", -1)
	ui.SetCookie(w, r, ui.SessionCookie, cookie, "/ui/", int(ui.MaxLifetime/time.Second))
	_ = sess
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// uiPost authenticates a form post: a session, a same-site request, a
// form that parses and carries the session's CSRF token. A post without
// it, or with another, is refused 403 and audited.
func (s *Server) uiPost(w http.ResponseWriter, r *http.Request, action string) (*uiRequest, url.Values, bool) {
	p, sess, ok := s.uiSession(w, r)
	if !ok {
		return nil, nil, false
	}
	c := &uiRequest{p: p, sess: sess, layout: s.layout(p, sess, "", "")}
	v, status, err := readForm(w, r)
	if err == nil && !ui.CheckCSRF(sess, v.Get("csrf")) {
		status, err = http.StatusForbidden, fmt.Errorf("form without this session's CSRF token: reload the page and try again")
		if v.Get("csrf") != "" {
			err = fmt.Errorf("form with a CSRF token that is not this session's: reload the page and try again")
		}
	}
	if err != nil {
		s.recordRefusal(r, p, action, r.URL.Path, "denied", fmt.Sprintf("%d: %v", status, err))
		s.uiError(w, r, c, status, "Refused", err.Error())
		return nil, nil, false
	}
	return c, v, true
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	c, v, ok := s.uiPost(w, r, "ui.logout")
	if !ok {
		return
	}
	if _, err := ui.ParseActionForm(v); err != nil {
		s.uiError(w, r, c, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	s.console.sessions.Delete(c.sess.ID)
	a := s.audit(r, c.p, "ui.logout", "console/session")
	a.Outcome = "ok"
	s.recordAudit(a)
	ui.SetCookie(w, r, ui.SessionCookie, "", "/ui/", -1)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// captured is an API handler's answer, kept for the console.
type captured struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header { return c.h }
func (c *captured) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}
func (c *captured) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// callRoute runs the API route name for p with a JSON body, exactly as
// the API would after authentication: RBAC by the route table (403 and a
// denied event), then the route's own handler. It returns the status and
// a one-line outcome for people.
func (s *Server) callRoute(r *http.Request, p *Principal, name string, path string, values map[string]string, body any) (int, string) {
	rt := s.console.routes[name]
	if reason := authorize(rt, p); reason != "" {
		s.deny(r, rt, p, http.StatusForbidden, reason)
		return http.StatusForbidden, reason
	}
	b, err := json.Marshal(body)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	req := r.Clone(r.Context())
	req.Method, req.URL, req.RequestURI = rt.Method, &url.URL{Path: path}, path
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	req.Header = http.Header{"Content-Type": {"application/json"}, "X-Correlation-ID": {correlationID(r)}}
	for k, v := range values {
		req.SetPathValue(k, v)
	}
	out := &captured{h: http.Header{}}
	rt.handler(s, out, req, p)
	if out.status == 0 {
		out.status = http.StatusOK
	}
	if out.status < 300 {
		return out.status, ""
	}
	var e api.Error
	if json.Unmarshal(out.body.Bytes(), &e) != nil || e.Error == "" {
		return out.status, strings.TrimSpace(clip.String(out.body.String(), 2048))
	}
	msg := e.Error
	if e.Decision != nil {
		for _, ck := range e.Decision.Decision.Checks {
			if !ck.Pass {
				msg += "; " + ck.Rule + ": " + ck.Reason
			}
		}
	}
	return out.status, msg
}

// handleUIControl is a rollout button: POST /v1/rollouts/{intent}:CONTROL
// through its API handler.
func (s *Server) handleUIControl(w http.ResponseWriter, r *http.Request) {
	c, v, ok := s.uiPost(w, r, "ui.rollout.control")
	if !ok {
		return
	}
	intent, control := r.PathValue("intent"), r.PathValue("control")
	route := ""
	for _, k := range consoleControls {
		if k.name == control {
			route = k.route
		}
	}
	f, err := ui.ParseActionForm(v)
	if err == nil && route == "" {
		err = fmt.Errorf("control %q: want pause, resume, promote or rollback", clip.String(control, 64))
	}
	if err != nil {
		s.uiError(w, r, c, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	var body any = api.RolloutControl{Reason: f.Reason}
	if control == "promote" {
		body = api.RolloutPromote{}
	}
	status, msg := s.callRoute(r, c.p, route, "/v1/rollouts/"+intent+":"+control, map[string]string{"intent": intent}, body)
	if status == http.StatusForbidden && msg != "" && authorize(s.console.routes[route], c.p) != "" {
		s.uiError(w, r, c, status, "Forbidden", msg)
		return
	}
	if status >= 300 {
		s.console.sessions.SetFlash(c.sess.ID, fmt.Sprintf("%s of %s refused (%d): %s", control, intent, status, msg), true)
	} else {
		s.console.sessions.SetFlash(c.sess.ID, fmt.Sprintf("%s of %s recorded", control, intent), false)
	}
	http.Redirect(w, r, "/ui/rollouts#ro-"+url.PathEscape(intent), http.StatusSeeOther)
}

// handleUICAB is a CAB approve or deny button: POST /v1/approvals through
// its API handler.
func (s *Server) handleUICAB(w http.ResponseWriter, r *http.Request) {
	c, v, ok := s.uiPost(w, r, "ui.cab.decide")
	if !ok {
		return
	}
	f, err := ui.ParseCABForm(v)
	if err != nil {
		s.uiError(w, r, c, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	at := govNow()
	req := api.ApprovalRequest{ID: "cab-" + strings.ToLower(ulid.Make().String()), Subject: f.Subject, Decision: f.Decision,
		Conditions: f.Conditions, ExpiresAt: at.Add(time.Duration(f.Days) * 24 * time.Hour)}
	status, msg := s.callRoute(r, c.p, "approvals.create", "/v1/approvals", nil, req)
	if status == http.StatusForbidden && authorize(s.console.routes["approvals.create"], c.p) != "" {
		s.uiError(w, r, c, status, "Forbidden", msg)
		return
	}
	if status >= 300 {
		s.console.sessions.SetFlash(c.sess.ID, fmt.Sprintf("CAB decision on %s refused (%d): %s", f.Subject, status, msg), true)
	} else {
		s.console.sessions.SetFlash(c.sess.ID, fmt.Sprintf("CAB decision %s recorded: %s %s, valid %d days", req.ID, f.Subject, f.Decision, f.Days), false)
	}
	http.Redirect(w, r, "/ui/cab", http.StatusSeeOther)
}
