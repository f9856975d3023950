package hub

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/charset"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	TokenID string
	Name    string
	Role    deploy.Role
	Scope   deploy.Scope
}

func (p *Principal) actor() string {
	if p == nil {
		return "anonymous"
	}
	return "token:" + p.Name + "/" + p.TokenID
}

// Route is one API endpoint and who may call it. Routes is the one RBAC
// table of the hub: every endpoint is declared here with its allowed roles.
type Route struct {
	Method  string
	Pattern string
	Name    string        // metric label and audit action
	Roles   []deploy.Role // nil: no authentication (health, metrics)
	// Write marks a state change: it is forwarded to the leader and
	// audited. No write lists RoleAuditor (checked by a test).
	Write bool
	// Enterprise requires a token whose scope is the whole enterprise.
	Enterprise bool
	// Local routes are served by the receiving node, never forwarded.
	Local bool
	// NodeCert routes are called by hub nodes only: with TLS they need a
	// client certificate signed by the cluster CA (hub/tls.go), checked
	// before forwarding.
	NodeCert bool
	handler  func(s *Server, w http.ResponseWriter, r *http.Request, p *Principal)
}

var (
	allRoles   = deploy.Roles
	adminOnly  = []deploy.Role{deploy.RolePlatformAdmin}
	eventRead  = []deploy.Role{deploy.RolePlatformAdmin, deploy.RoleAuditor, deploy.RoleSecurityReviewer, deploy.RoleEndpointOps}
	eventWrite = []deploy.Role{deploy.RolePlatformAdmin, deploy.RoleEndpointOps}
	blobWrite  = []deploy.Role{deploy.RolePlatformAdmin, deploy.RolePackagingEngineer, deploy.RolePublisher}
	tokenRead  = []deploy.Role{deploy.RolePlatformAdmin, deploy.RoleAuditor}
)

// Routes returns the API table.
func Routes() []Route {
	return append([]Route{
		{Method: "GET", Pattern: "/healthz", Name: "healthz", Local: true, handler: (*Server).handleHealthz},
		{Method: "GET", Pattern: "/readyz", Name: "readyz", Local: true, handler: (*Server).handleReadyz},
		{Method: "GET", Pattern: "/metrics", Name: "metrics", Local: true, handler: (*Server).handleMetrics},
		{Method: "GET", Pattern: "/v1/status", Name: "status", Roles: allRoles, Local: true, handler: (*Server).handleStatus},
		{Method: "GET", Pattern: "/v1/hub/key", Name: "hub.key", Roles: allRoles, Local: true, handler: (*Server).handleHubKey},
		{Method: "GET", Pattern: "/v1/sites", Name: "sites.list", Roles: allRoles, handler: (*Server).handleSitesList},
		{Method: "GET", Pattern: "/v1/sites/{name}", Name: "sites.get", Roles: allRoles, handler: (*Server).handleSiteGet},
		{Method: "POST", Pattern: "/v1/sites", Name: "sites.create", Roles: adminOnly, Write: true, handler: (*Server).handleSiteCreate},
		{Method: "GET", Pattern: "/v1/tokens", Name: "tokens.list", Roles: tokenRead, handler: (*Server).handleTokensList},
		{Method: "POST", Pattern: "/v1/tokens", Name: "tokens.create", Roles: adminOnly, Write: true, handler: (*Server).handleTokenCreate},
		{Method: "DELETE", Pattern: "/v1/tokens/{id}", Name: "tokens.revoke", Roles: adminOnly, Write: true, handler: (*Server).handleTokenRevoke},
		{Method: "PUT", Pattern: "/v1/blobs/sha256/{hex}", Name: "blobs.put", Roles: blobWrite, Write: true, handler: (*Server).handleBlobPut},
		{Method: "GET", Pattern: "/v1/blobs/sha256/{hex}", Name: "blobs.get", Roles: allRoles, handler: (*Server).handleBlobGet},
		{Method: "HEAD", Pattern: "/v1/blobs/sha256/{hex}", Name: "blobs.head", Roles: allRoles, handler: (*Server).handleBlobGet},
		{Method: "GET", Pattern: "/v1/events", Name: "events.list", Roles: eventRead, Enterprise: true, handler: (*Server).handleEventsList},
		{Method: "POST", Pattern: "/v1/events:batch", Name: "events.ingest", Roles: eventWrite, Write: true, handler: (*Server).handleEventsBatch},
		{Method: "POST", Pattern: "/v1/cluster/join", Name: "cluster.join", Roles: adminOnly, Write: true, Enterprise: true, NodeCert: true, handler: (*Server).handleJoin},
		{Method: "DELETE", Pattern: "/v1/cluster/nodes/{id}", Name: "cluster.remove", Roles: adminOnly, Write: true, Enterprise: true, handler: (*Server).handleRemove},
		{Method: "GET", Pattern: "/v1/backup", Name: "backup", Roles: adminOnly, Enterprise: true, handler: (*Server).handleBackup},
	}, append(append(append(append(governanceRoutes(), siteSyncRoutes()...), keyRoutes()...), planeRoutes()...), append(factoryRoutes(), rolloutRoutes()...)...)...)
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	var colon []Route
	for _, rt := range Routes() {
		if isColonRoute(rt.Pattern) {
			colon = append(colon, rt)
			continue
		}
		mux.Handle(rt.Method+" "+rt.Pattern, s.metrics.instrument(rt.Name, s.wrap(rt)))
	}
	s.registerColonRoutes(mux, colon)
	s.registerConsole(mux) // the web console under /ui/ (hub/console.go)
	// Peer endpoints: authenticated by the cluster's peer secret, local.
	mux.Handle("POST /internal/v1/apply", s.metrics.instrument("internal.apply", s.peerOnly("internal.apply", s.cluster.handleApply)))
	mux.Handle("GET /internal/v1/blobs/{hex}", s.metrics.instrument("internal.blob", s.peerOnly("internal.blob", s.handleInternalBlob)))
	mux.Handle("POST /internal/v1/blobs/{hex}/fetch", s.metrics.instrument("internal.fetch", s.peerOnly("internal.fetch", s.handleInternalFetch)))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
	}))
	return mux
}

// Correlation ids match `^[A-Za-z0-9._:-]{1,128}$`.
var correlationChars = charset.Of("A-Za-z0-9._:-")

func validCorrelationID(s string) bool {
	return charset.Match(s, 1, 128, correlationChars, correlationChars)
}

type ctxKey int

const correlationKey ctxKey = 1

func correlationID(r *http.Request) string {
	v, _ := r.Context().Value(correlationKey).(string)
	return v
}

func isStale(r *http.Request) bool {
	return (r.Method == "GET" || r.Method == "HEAD") && r.URL.Query().Get("stale") == "true"
}

// wrap applies, in order: correlation id, forwarding to the leader,
// authentication, RBAC, linearizable-read barrier, then the handler.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cid := r.Header.Get("X-Correlation-ID")
		if !validCorrelationID(cid) {
			cid = ulid.Make().String()
		}
		w.Header().Set("X-Correlation-ID", cid)
		r.Header.Set("X-Correlation-ID", cid)
		r = r.WithContext(context.WithValue(r.Context(), correlationKey, cid))
		if rt.NodeCert {
			if err := s.checkNodeCert(r); err != nil {
				s.deny(r, rt, nil, http.StatusForbidden, err.Error())
				writeError(w, http.StatusForbidden, "%v", err)
				return
			}
		}
		if !rt.Local && !isStale(r) && !s.store.IsLeader() {
			s.cluster.forward(w, r)
			return
		}
		var p *Principal
		if rt.Roles != nil {
			var err error
			p, err = s.authenticate(r)
			if err != nil {
				s.deny(r, rt, nil, http.StatusUnauthorized, err.Error())
				w.Header().Set("WWW-Authenticate", `Bearer realm="eucora"`)
				writeError(w, http.StatusUnauthorized, "%v", err)
				return
			}
			if reason := authorize(rt, p); reason != "" {
				s.deny(r, rt, p, http.StatusForbidden, reason)
				writeError(w, http.StatusForbidden, "%s", reason)
				return
			}
		}
		if !rt.Local && !rt.Write && !isStale(r) {
			if err := s.store.VerifyRead(r.Context()); err != nil {
				writeStoreError(w, err)
				return
			}
		}
		rt.handler(s, w, r, p)
	})
}

// authorize returns why p may not call rt, or "".
func authorize(rt Route, p *Principal) string {
	if !slices.Contains(rt.Roles, p.Role) {
		return fmt.Sprintf("role %s may not call %s %s", p.Role, rt.Method, rt.Pattern)
	}
	if rt.Enterprise && !p.Scope.IsEnterprise() {
		return fmt.Sprintf("%s %s needs an enterprise-wide token; this token's scope is %s", rt.Method, rt.Pattern, p.Scope)
	}
	return ""
}

var (
	errNoToken        = errors.New("missing bearer token (Authorization: Bearer TOKEN)")
	errTwoAuthHeaders = errors.New("more than one Authorization header: send exactly one (Authorization: Bearer TOKEN)")
)

// bearerToken returns the credentials of the request's one Authorization
// header. The scheme is matched case-insensitively (RFC 7235 section 2.1);
// several Authorization headers are refused, since proxies and servers
// disagree on which one counts.
func bearerToken(r *http.Request) (string, error) {
	hs := r.Header.Values("Authorization")
	switch {
	case len(hs) == 0:
		return "", errNoToken
	case len(hs) > 1:
		return "", errTwoAuthHeaders
	}
	scheme, secret, ok := strings.Cut(strings.TrimLeft(hs[0], " \t"), " ")
	secret = strings.Trim(secret, " \t")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return "", errNoToken
	}
	return secret, nil
}

func (s *Server) authenticate(r *http.Request) (*Principal, error) {
	secret, err := bearerToken(r)
	if err != nil {
		return nil, err
	}
	return s.principalByHash(hashToken(secret))
}

// principalByHash is the principal of the token whose SHA-256 is hash:
// the API's bearer tokens and the console's sessions (which keep only the
// hash) are authenticated by this one rule.
func (s *Server) principalByHash(hash string) (*Principal, error) {
	t, err := s.store.State().TokenByHash(hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("unknown token")
	}
	if err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return nil, fmt.Errorf("token %s was revoked at %s", t.ID, t.RevokedAt.Format(time.RFC3339))
	}
	return &Principal{TokenID: t.ID, Name: t.Name, Role: t.Role, Scope: t.Scope}, nil
}

// deny records a denied request as an audit event. It never blocks the
// answer for long and never fails it.
func (s *Server) deny(r *http.Request, rt Route, p *Principal, status int, reason string) {
	s.recordRefusal(r, p, rt.Name, r.URL.Path, "denied", fmt.Sprintf("%d: %s", status, reason))
}

// recordRefusal records a refused request as an audit event with outcome
// and reason. Each is a Raft entry: a flood of bad requests must not
// become a flood of writes. Anonymous refusals beyond a per-node budget are
// only counted; an authenticated caller's are never dropped: beyond the
// caller's own budget they are folded into a per-caller aggregate event
// (hub/audit.go), so an anonymous flood cannot hide an insider's attempts.
func (s *Server) recordRefusal(r *http.Request, p *Principal, action, object, outcome, reason string) {
	if p == nil {
		if !s.denyLimit.Allow() {
			s.metrics.deniedDropped.Inc()
			return
		}
	} else if s.denials.fold(p, action, object, outcome, reason) {
		s.metrics.deniedFolded.Inc()
		return
	}
	a := s.audit(r, p, action, object)
	a.Outcome, a.Reason = outcome, reason
	s.recordAudit(a)
}

// recordAudit proposes a lone audit event, logging a failure.
func (s *Server) recordAudit(a *store.AuditInput) {
	cmd, err := store.NewCommand(store.CmdAuditRecord, struct{}{}, a)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := s.cluster.propose(ctx, cmd); err != nil {
		s.log.Warn("could not record an audit event", "action", a.Action, "outcome", a.Outcome, "err", err)
	}
}

func (s *Server) audit(r *http.Request, p *Principal, action, object string) *store.AuditInput {
	a := &store.AuditInput{
		ID: ulid.Make().String(), Time: store.NowUTC(), Actor: p.actor(), Action: action, Object: object,
		CorrelationID: correlationID(r),
	}
	if p != nil {
		a.Role = string(p.Role)
	}
	return a
}

// peerOnly admits requests carrying the cluster's peer secret; others are
// refused 401 and recorded as denials like any unauthenticated call.
func (s *Server) peerOnly(name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkNodeCert(r); err != nil {
			s.recordRefusal(r, nil, name, r.URL.Path, "denied", fmt.Sprintf("%d: %v", http.StatusForbidden, err))
			writeError(w, http.StatusForbidden, "%v", err)
			return
		}
		id, err := s.store.State().Identity()
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "cluster identity not replicated to this node yet")
			return
		}
		got, err := bearerToken(r)
		if err != nil || subtle.ConstantTimeCompare([]byte(got), []byte(id.PeerSecret)) != 1 {
			reason := "peer endpoint: bad peer credentials"
			if err != nil {
				reason = "peer endpoint: " + err.Error()
			}
			s.recordRefusal(r, nil, name, r.URL.Path, "denied", fmt.Sprintf("%d: %s", http.StatusUnauthorized, reason))
			writeError(w, http.StatusUnauthorized, "%s", reason)
			return
		}
		h(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, api.Error{Error: fmt.Sprintf(format, args...)})
}

// writeStoreError maps store errors to statuses.
func writeStoreError(w http.ResponseWriter, err error) {
	var uc *store.UnsupportedCommandError
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "%v", err)
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrStale):
		writeError(w, http.StatusConflict, "%v", err)
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, "%v", err)
	case errors.As(err, &uc):
		writeError(w, http.StatusUnprocessableEntity, "%v", err)
	case errors.Is(err, store.ErrNotLeader), errors.Is(err, store.ErrHalted):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "%v; retry", err)
	default:
		// Leadership lost after proposing, timeouts: the outcome is unknown.
		writeError(w, http.StatusServiceUnavailable, "outcome unknown, retry if idempotent: %v", err)
	}
}
