package hub

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
)

// Governance API (issue 4): the catalog, risk assessments, CAB approvals,
// exceptions, deployment intents with their publish and promotion gates,
// evidence packs, JIT elevation and LOB retention. Handlers decode and
// validate strictly, choose the decision id and time, and propose one
// command; the state machine evaluates every rule that depends on state
// (store/governance.go) and stores the explained decision. A policy
// refusal is 403 with the decision; it is recorded as a denied audit event.

// Governance roles per route (the route table below is the one RBAC table).
var (
	requestRoles  = []deploy.Role{deploy.RolePackagingEngineer, deploy.RoleEndpointOps}
	packagerRoles = []deploy.Role{deploy.RolePackagingEngineer}
	// Transitions: packaging engineers package and stage, CAB approvers
	// approve, publishers retire; deploy.Authorize decides which.
	transitionRoles = []deploy.Role{deploy.RolePackagingEngineer, deploy.RoleCABApprover, deploy.RolePublisher}
	releaseRoles    = []deploy.Role{deploy.RolePackagingEngineer, deploy.RolePublisher}
	cabRoles        = []deploy.Role{deploy.RoleCABApprover}
	securityRoles   = []deploy.Role{deploy.RoleSecurityReviewer}
	publisherRoles  = []deploy.Role{deploy.RolePublisher}
	elevationRoles  = []deploy.Role{deploy.RoleEndpointOps, deploy.RolePackagingEngineer}
	scopeRoles      = []deploy.Role{deploy.RoleEndpointOps}
)

// governanceRoutes are appended to Routes. Patterns with a ":verb" after a
// wildcard are dispatched by registerColonRoutes.
func governanceRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/v1/apps", Name: "apps.create", Roles: requestRoles, Write: true, handler: (*Server).handleAppCreate},
		{Method: "GET", Pattern: "/v1/apps", Name: "apps.list", Roles: allRoles, handler: (*Server).handleAppsList},
		{Method: "GET", Pattern: "/v1/apps/{app}", Name: "apps.get", Roles: allRoles, handler: (*Server).handleAppGet},
		{Method: "GET", Pattern: "/v1/apps/{app}/retention", Name: "apps.retention", Roles: allRoles, handler: (*Server).handleRetention},
		{Method: "POST", Pattern: "/v1/apps/{app}:scope", Name: "apps.scope", Roles: scopeRoles, Write: true, handler: (*Server).handleAppScope},
		{Method: "POST", Pattern: "/v1/apps/{app}/versions", Name: "versions.create", Roles: requestRoles, Write: true, handler: (*Server).handleVersionCreate},
		{Method: "POST", Pattern: "/v1/apps/{app}/versions/{v}:transition", Name: "versions.transition", Roles: transitionRoles, Write: true, handler: (*Server).handleTransition},
		{Method: "POST", Pattern: "/v1/apps/{app}/versions/{v}/artifacts", Name: "artifacts.create", Roles: packagerRoles, Write: true, handler: (*Server).handleArtifactCreate},
		{Method: "POST", Pattern: "/v1/assessments", Name: "assessments.create", Roles: releaseRoles, Write: true, handler: (*Server).handleAssessmentCreate},
		{Method: "GET", Pattern: "/v1/assessments/{id}", Name: "assessments.get", Roles: allRoles, handler: (*Server).handleAssessmentGet},
		{Method: "POST", Pattern: "/v1/approvals", Name: "approvals.create", Roles: cabRoles, Write: true, handler: (*Server).handleApprovalCreate},
		{Method: "GET", Pattern: "/v1/approvals/{id}", Name: "approvals.get", Roles: allRoles, handler: (*Server).handleApprovalGet},
		{Method: "POST", Pattern: "/v1/exceptions", Name: "exceptions.create", Roles: securityRoles, Write: true, handler: (*Server).handleExceptionCreate},
		{Method: "GET", Pattern: "/v1/exceptions/{id}", Name: "exceptions.get", Roles: allRoles, handler: (*Server).handleExceptionGet},
		{Method: "POST", Pattern: "/v1/intents", Name: "intents.create", Roles: releaseRoles, Write: true, handler: (*Server).handleIntentCreate},
		{Method: "GET", Pattern: "/v1/intents", Name: "intents.list", Roles: allRoles, handler: (*Server).handleIntentsList},
		{Method: "GET", Pattern: "/v1/intents/{id}", Name: "intents.get", Roles: allRoles, handler: (*Server).handleIntentGet},
		{Method: "POST", Pattern: "/v1/intents/{id}:publish", Name: "intents.publish", Roles: releaseRoles, Write: true, handler: (*Server).handlePublish},
		{Method: "POST", Pattern: "/v1/intents/{id}:promote", Name: "intents.promote", Roles: publisherRoles, Write: true, handler: (*Server).handlePromote},
		{Method: "POST", Pattern: "/v1/evidence", Name: "evidence.create", Roles: releaseRoles, Write: true, handler: (*Server).handleEvidenceCreate},
		{Method: "GET", Pattern: "/v1/evidence/{digest}", Name: "evidence.get", Roles: allRoles, handler: (*Server).handleEvidenceGet},
		{Method: "GET", Pattern: "/v1/decisions", Name: "decisions.list", Roles: allRoles, handler: (*Server).handleDecisionsList},
		{Method: "GET", Pattern: "/v1/decisions/{id}", Name: "decisions.get", Roles: allRoles, handler: (*Server).handleDecisionGet},
		{Method: "POST", Pattern: "/v1/elevations", Name: "elevations.create", Roles: elevationRoles, Write: true, handler: (*Server).handleElevation},
	}
}

// isColonRoute reports whether a pattern ends in "{wildcard}:verb", which
// net/http's mux cannot express.
func isColonRoute(pattern string) bool { return strings.Contains(pattern, "}:") }

// registerColonRoutes registers "METHOD /a/{w}:verb" routes as one handler
// per "METHOD /a/{w}" that splits the last segment at its last ':' and
// dispatches to the route of that verb (404 for an unknown verb).
func (s *Server) registerColonRoutes(mux *http.ServeMux, routes []Route) {
	type entry struct {
		wildcard string
		verbs    map[string]http.Handler
	}
	bases := map[string]*entry{}
	var order []string
	for _, rt := range routes {
		i := strings.LastIndex(rt.Pattern, "}:")
		base, verb := rt.Pattern[:i+1], rt.Pattern[i+2:]
		key := rt.Method + " " + base
		e, ok := bases[key]
		if !ok {
			w := base[strings.LastIndex(base, "{")+1 : len(base)-1]
			e = &entry{wildcard: w, verbs: map[string]http.Handler{}}
			bases[key] = e
			order = append(order, key)
		}
		e.verbs[verb] = s.metrics.instrument(rt.Name, s.wrap(rt))
	}
	for _, key := range order {
		e := bases[key]
		mux.Handle(key, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seg := r.PathValue(e.wildcard)
			i := strings.LastIndex(seg, ":")
			if i < 0 {
				writeError(w, http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
				return
			}
			h, ok := e.verbs[seg[i+1:]]
			if !ok {
				writeError(w, http.StatusNotFound, "no such endpoint: %s %s (unknown action %q)", r.Method, r.URL.Path, seg[i+1:])
				return
			}
			r.SetPathValue(e.wildcard, seg[:i])
			h.ServeHTTP(w, r)
		}))
	}
}

// govClock is the proposer's clock for governance decisions; tests pin it
// to judge validity boundaries to the second.
var govClock atomic.Pointer[func() time.Time]

func govNow() time.Time {
	if f := govClock.Load(); f != nil {
		return (*f)().UTC()
	}
	return store.NowUTC()
}

func (p *Principal) deployPrincipal() deploy.Principal {
	return deploy.Principal{ID: p.Name, Role: p.Role, Scope: p.Scope}
}

func govCtx(p *Principal) store.GovCtx {
	return store.GovCtx{DecisionID: ulid.Make().String(), At: govNow(), Principal: p.deployPrincipal()}
}

// govApply proposes a governance command. A policy refusal answers 403
// with the stored decision; other errors map as for every write.
func (s *Server) govApply(w http.ResponseWriter, r *http.Request, p *Principal, typ, object string, c store.GovCtx, body any, status int) (json.RawMessage, bool) {
	a := s.audit(r, p, typ, object)
	a.ID, a.Time = c.DecisionID, c.At // the audit event and the decision record share id and time
	cmd, err := store.NewCommand(typ, body, a)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return nil, false
	}
	start := time.Now()
	v, err := s.store.Apply(r.Context(), cmd)
	s.metrics.apply.Observe(time.Since(start).Seconds())
	if errors.Is(err, deploy.ErrDenied) {
		rec, _ := v.(store.DecisionRecord)
		writeJSON(w, http.StatusForbidden, api.Error{Error: err.Error(), Decision: new(rec.View())})
		return nil, false
	}
	if err != nil {
		writeStoreError(w, err)
		return nil, false
	}
	return writeApplied(w, v, status)
}

// inScope answers 403 and returns false when scope is outside p's.
func inScope(w http.ResponseWriter, p *Principal, what string, scope deploy.Scope) bool {
	if p.Scope.Overlaps(scope) {
		return true
	}
	writeError(w, http.StatusForbidden, "%s (scope %s) is outside this token's scope %s", what, scope, p.Scope)
	return false
}
