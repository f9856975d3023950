package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
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

func (s *Server) handleAppCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	app, err := DecodeAppRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdAppCreate, "app/"+app.ID, c, store.AppCreateBody{GovCtx: c, App: app}, http.StatusCreated)
}

func (s *Server) handleAppsList(w http.ResponseWriter, r *http.Request, p *Principal) {
	all, err := s.store.State().Apps()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := []api.App{}
	for _, a := range all {
		if p.Scope.Overlaps(a.AllowedScope) {
			out = append(out, a.View())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": out})
}

// scopedApp loads the application named in the path and its versions. When
// the application is missing or outside the caller's scope it answers the
// request itself and returns ok == false.
func (s *Server) scopedApp(w http.ResponseWriter, r *http.Request, p *Principal) (app store.AppRecord, vs []store.VersionRecord, ok bool) {
	st := s.store.State()
	app, err := st.App(r.PathValue("app"))
	if err != nil {
		writeStoreError(w, err)
		return app, nil, false
	}
	if !inScope(w, p, "application "+app.ID, app.AllowedScope) {
		return app, nil, false
	}
	if vs, err = st.Versions(app.ID); err != nil {
		writeStoreError(w, err)
		return app, nil, false
	}
	return app, vs, true
}

func (s *Server) handleAppGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	app, vs, ok := s.scopedApp(w, r, p)
	if !ok {
		return
	}
	st := s.store.State()
	view := api.AppView{App: app.View(), Versions: []api.AppVersion{}}
	for _, v := range vs {
		arts, err := st.Artifacts(app.ID, v.Version)
		if err != nil {
			writeStoreError(w, err)
			return
		}
		if arts == nil {
			arts = []store.ArtifactRecord{}
		}
		view.Versions = append(view.Versions, api.AppVersion{Version: v.View(), Artifacts: store.ArtifactViews(arts)})
	}
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) handleRetention(w http.ResponseWriter, r *http.Request, p *Principal) {
	at := govNow()
	if v := r.URL.Query().Get("at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "at: %q: want an RFC 3339 time", v)
			return
		}
		at = t.UTC()
	}
	app, vs, ok := s.scopedApp(w, r, p)
	if !ok {
		return
	}
	var rel []deploy.Release
	for _, v := range vs {
		if v.PublishedAt != nil {
			rel = append(rel, deploy.Release{Version: v.Version, ReleasedAt: *v.PublishedAt})
		}
	}
	verdicts, err := deploy.PlanRetention(rel, at)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, api.Retention{AppID: app.ID, LOB: app.LOB, At: at, Verdicts: verdicts})
}

func (s *Server) handleAppScope(w http.ResponseWriter, r *http.Request, p *Principal) {
	app := r.PathValue("app")
	req, err := DecodeScopeRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	all, err := s.store.State().Sites()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	sites := []deploy.Site{}
	for _, st := range all {
		sites = append(sites, deploy.Site{Name: st.Name, Scope: st.Scope})
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdAppScopeChange, "app/"+app, c, store.AppScopeBody{GovCtx: c, AppID: app, Scope: req.Scope, Approval: req.Approval, Sites: sites}, http.StatusOK)
}

func (s *Server) handleVersionCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	app := r.PathValue("app")
	v, err := DecodeVersionRequest(http.MaxBytesReader(w, r.Body, maxSmallBody), app)
	if err != nil {
		writeInputError(w, err)
		return
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdVersionCreate, "version/"+app+"/"+v.Version, c, store.VersionCreateBody{GovCtx: c, Version: v}, http.StatusCreated)
}

func (s *Server) handleTransition(w http.ResponseWriter, r *http.Request, p *Principal) {
	app, ver := r.PathValue("app"), r.PathValue("v")
	req, err := DecodeTransitionRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdVersionTransition, "version/"+app+"/"+ver, c, store.TransitionBody{GovCtx: c, AppID: app, Version: ver, To: req.To}, http.StatusOK)
}

func (s *Server) handleArtifactCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	app, ver := r.PathValue("app"), r.PathValue("v")
	a, err := DecodeArtifactRequest(http.MaxBytesReader(w, r.Body, maxSmallBody), app, ver, p.Name)
	if err != nil {
		writeInputError(w, err)
		return
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdArtifactCreate, "artifact/"+a.SHA256.String(), c, store.ArtifactCreateBody{GovCtx: c, Artifact: a}, http.StatusCreated)
}

func (s *Server) handleAssessmentCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	req, in, err := DecodeAssessmentRequest(http.MaxBytesReader(w, r.Body, maxGovBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdAssessmentCreate, "assessment/"+req.ID, c, store.AssessmentCreateBody{GovCtx: c, ID: req.ID, AppID: req.AppID,
		Version: req.Version, Artifact: req.Artifact, Input: in}, http.StatusCreated)
}

func (s *Server) handleAssessmentGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	st := s.store.State()
	a, err := st.Assessment(r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	app, err := st.App(a.AppID)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if inScope(w, p, "assessment "+a.ID, app.AllowedScope) {
		writeJSON(w, http.StatusOK, a.View())
	}
}

func (s *Server) handleApprovalCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	c := govCtx(p)
	a, err := DecodeApprovalRequest(http.MaxBytesReader(w, r.Body, maxSmallBody), c.Principal, c.At)
	if err != nil {
		writeInputError(w, err)
		return
	}
	s.govApply(w, r, p, store.CmdApprovalCreate, "approval/"+a.ID, c, store.ApprovalCreateBody{GovCtx: c, Record: a}, http.StatusCreated)
}

// intentScoped answers 403 and returns false when intent id exists and is
// outside p's scope.
func (s *Server) intentScoped(w http.ResponseWriter, p *Principal, what, id string) bool {
	in, err := s.store.State().Intent(id)
	if err != nil {
		return true // not linked to a stored intent: no scope to check
	}
	return inScope(w, p, what, *in.Scope)
}

func (s *Server) handleApprovalGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	a, err := s.store.State().Approval(r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if kind, id, _ := strings.Cut(a.Subject, ":"); kind == deploy.SubjectIntent && !s.intentScoped(w, p, "approval "+a.ID, id) {
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleExceptionCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, err := DecodeExceptionRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	if e.Artifact == "" {
		in, err := s.store.State().Intent(e.IntentID)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusUnprocessableEntity, "intent_id: no intent %q", e.IntentID)
			return
		} else if err != nil {
			writeStoreError(w, err)
			return
		}
		e.Artifact = in.Artifact
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdExceptionCreate, "exception/"+e.ID, c, store.ExceptionCreateBody{GovCtx: c, Exception: e}, http.StatusCreated)
}

func (s *Server) handleExceptionGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, err := s.store.State().Exception(r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if s.intentScoped(w, p, "exception "+e.ID, e.IntentID) {
		writeJSON(w, http.StatusOK, e)
	}
}

func (s *Server) handleIntentCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	req, in, err := DecodeIntentRequest(http.MaxBytesReader(w, r.Body, maxSmallBody), p.Name)
	if err != nil {
		writeInputError(w, err)
		return
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdIntentCreate, "intent/"+in.ID, c, store.IntentCreateBody{GovCtx: c, Intent: in, AssessmentID: req.AssessmentID,
		ConcurrencyApproval: req.ConcurrencyApproval}, http.StatusCreated)
}

func (s *Server) handleIntentsList(w http.ResponseWriter, r *http.Request, p *Principal) {
	all, err := s.store.State().Intents()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := []api.Intent{}
	for _, in := range all {
		if p.Scope.Overlaps(*in.Scope) {
			out = append(out, in.View())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"intents": out})
}

func (s *Server) handleIntentGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	st := s.store.State()
	in, err := st.Intent(r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if !inScope(w, p, "intent "+in.ID, *in.Scope) {
		return
	}
	all, err := st.Decisions()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	view := api.IntentView{Intent: in.View(), Decisions: []api.Decision{}}
	for _, d := range all {
		if d.Subject == "intent/"+in.ID {
			view.Decisions = append(view.Decisions, d.View())
		}
	}
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	req, err := DecodePublishRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	var pack *deploy.EvidencePack
	if req.Evidence != "" {
		// Verified on read: the bytes hash to the digest and are canonical.
		// An unreadable pack leaves Pack nil and the gate refuses.
		if pk, err := deploy.LoadEvidence(s.evidenceStore(r.Context()), req.Evidence); err == nil {
			pack = &pk
		} else {
			s.log.Warn("evidence unreadable at publish", "intent", id, "evidence", req.Evidence, "err", err)
		}
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdIntentPublish, "intent/"+id, c, store.PublishBody{GovCtx: c, IntentID: id, Approval: req.Approval,
		Exception: req.Exception, Evidence: req.Evidence, Pack: pack}, http.StatusOK)
}

func (s *Server) handlePromote(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	req, measured, err := DecodePromoteRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	c := govCtx(p)
	s.govApply(w, r, p, store.CmdIntentPromote, "intent/"+id, c, store.PromoteBody{GovCtx: c, IntentID: id, Measured: measured,
		Approval: req.Approval, Evidence: req.Evidence}, http.StatusOK)
}

func (s *Server) handleDecisionsList(w http.ResponseWriter, r *http.Request, p *Principal) {
	subject := r.URL.Query().Get("subject")
	all, err := s.store.State().Decisions()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := []api.Decision{}
	for _, d := range all {
		if (subject == "" || d.Subject == subject) && p.Scope.Overlaps(d.Scope) {
			out = append(out, d.View())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"decisions": out})
}

func (s *Server) handleDecisionGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	d, err := s.store.State().Decision(r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if inScope(w, p, "decision "+d.ID, d.Scope) {
		writeJSON(w, http.StatusOK, d.View())
	}
}

func (s *Server) handleElevation(w http.ResponseWriter, r *http.Request, p *Principal) {
	req, er, err := DecodeElevationRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	c := govCtx(p)
	er.Principal = c.Principal
	s.govApply(w, r, p, store.CmdElevationDecide, "elevation/"+req.ID, c, store.ElevationBody{GovCtx: c, Request: er, Approval: req.Approval}, http.StatusOK)
}

// Evidence.

// casEvidence is the hub's write-once evidence store: objects live in the
// node's content store, are replicated to a majority of voters and
// registered as blobs before a write counts.
type casEvidence struct {
	s   *Server
	ctx context.Context
}

var _ deploy.EvidenceStore = casEvidence{}

func (e casEvidence) PutEvidence(d digest.Digest, b []byte) error {
	had, err := e.s.cas.Has(d)
	if err != nil {
		return err
	}
	if !had {
		got, err := e.s.cas.PutBytes(b)
		if err != nil {
			return err
		}
		if got != d {
			return &digest.MismatchError{Object: "evidence " + d.String(), Want: string(d), Got: string(got), WantSize: -1, GotSize: int64(len(b))}
		}
	}
	// Replicate and register even when present: a previous write may have
	// stopped before reaching a majority.
	holders, _, err := e.s.replicate(e.ctx, d, int64(len(b)))
	if err != nil {
		return fmt.Errorf("evidence %s not on a majority: %w", d, err)
	}
	cmd, err := store.NewCommand(store.CmdBlobRegister, store.Blob{Digest: d.Hex(), Size: int64(len(b)), Holders: holders, CreatedAt: govNow()}, nil)
	if err != nil {
		return err
	}
	if _, err := e.s.store.Apply(e.ctx, cmd); err != nil {
		return err
	}
	if had {
		return fmt.Errorf("%w: %s", deploy.ErrEvidenceExists, d)
	}
	return nil
}

func (e casEvidence) GetEvidence(d digest.Digest) ([]byte, error) {
	rc, err := e.s.cas.OpenVerified(d)
	if errors.Is(err, cas.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", deploy.ErrEvidenceNotFound, d)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// evidenceStoreHook, when set (tests), replaces the evidence store.
var evidenceStoreHook atomic.Pointer[func(context.Context) deploy.EvidenceStore]

func (s *Server) evidenceStore(ctx context.Context) deploy.EvidenceStore {
	if h := evidenceStoreHook.Load(); h != nil {
		return (*h)(ctx)
	}
	return casEvidence{s: s, ctx: ctx}
}

// hubKey returns the hub's current signing key from the replicated
// identity (it changes on a key switch), or DIR/keys/hub.key while the
// identity cannot be read.
func (s *Server) hubKey() (*signing.PrivateKey, error) {
	k, _, err := s.hubKeyIdentity()
	return k, err
}

// hubKeyIdentity is hubKey that also returns the identity the key was read
// from, nil when it came from DIR/keys/hub.key.
func (s *Server) hubKeyIdentity() (*signing.PrivateKey, *store.Identity, error) {
	id, ierr := s.store.State().Identity()
	if ierr == nil {
		k, err := signing.ParsePrivate([]byte(id.PrivatePEM), "hub identity")
		if err != nil {
			return nil, nil, err
		}
		return k, &id, nil
	}
	k, err := signing.LoadPrivate(filepath.Join(s.dir.Keys(), "hub.key"))
	if err != nil {
		return nil, nil, fmt.Errorf("hub key: %v; identity: %w", err, ierr)
	}
	return k, nil, nil
}

// hubTrust trusts every key the hub has signed with: current, staged and
// retired (evidence signed before a key switch still verifies).
func (s *Server) hubTrust() (signing.Trust, error) {
	k, id, err := s.hubKeyIdentity()
	if err != nil {
		return signing.Trust{}, err
	}
	keys := []*signing.PublicKey{k.Public()}
	if id != nil {
		for _, r := range id.Previous {
			if pub, err := signing.ParsePublic([]byte(r.PublicPEM), "retired hub key "+r.KeyID); err == nil {
				keys = append(keys, pub)
			}
		}
	}
	return signing.NewTrust(keys...), nil
}

// recordEvidenceFailure records a refused evidence write as an audit event:
// without stored evidence, publish and promotion are refused.
func (s *Server) recordEvidenceFailure(r *http.Request, p *Principal, object string, err error) {
	a := s.audit(r, p, "gov.evidence.store", object)
	a.Outcome = "denied"
	a.Reason = fmt.Sprintf("evidence store not writable, publish and promotion refused: %v", err)
	cmd, cerr := store.NewCommand(store.CmdAuditRecord, struct{}{}, a)
	if cerr != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, aerr := s.store.Apply(ctx, cmd); aerr != nil {
		s.log.Warn("could not record evidence failure", "err", aerr)
	}
}

func (s *Server) handleEvidenceCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	pack, err := DecodeEvidencePack(http.MaxBytesReader(w, r.Body, maxGovBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	in, err := s.store.State().Intent(pack.IntentID)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusUnprocessableEntity, "intent_id: no intent %q", pack.IntentID)
		return
	} else if err != nil {
		writeStoreError(w, err)
		return
	}
	if !inScope(w, p, "intent "+in.ID, *in.Scope) {
		return
	}
	key, err := s.hubKey()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "hub signing key unavailable: %v", err)
		return
	}
	env, d, err := deploy.SignEvidence(pack, key)
	if err != nil {
		writeInputError(w, deployError("", err))
		return
	}
	envBytes, err := json.Marshal(env)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	es := s.evidenceStore(r.Context())
	object := "evidence/" + d.String()
	if _, err := deploy.StoreEvidence(es, pack); err != nil {
		s.recordEvidenceFailure(r, p, object, err)
		writeError(w, http.StatusServiceUnavailable, "evidence pack %s not stored: %v; publish and promotion stay refused until it is", d, err)
		return
	}
	envDigest := digest.FromBytes(envBytes)
	if err := es.PutEvidence(envDigest, envBytes); err != nil && !errors.Is(err, deploy.ErrEvidenceExists) {
		s.recordEvidenceFailure(r, p, object, err)
		writeError(w, http.StatusServiceUnavailable, "evidence envelope %s not stored: %v; publish and promotion stay refused until it is", envDigest, err)
		return
	}
	status := http.StatusCreated
	if _, err := s.store.State().Evidence(d); err == nil {
		status = http.StatusOK // write-once: the same pack again changes nothing
	}
	c := govCtx(p)
	rec := store.EvidenceRecord{Digest: d, Envelope: envDigest, KeyID: key.ID, IntentID: pack.IntentID, AppID: pack.AppID, Version: pack.Version}
	raw, ok := s.govApply(w, r, p, store.CmdEvidenceRecord, object, c, store.EvidenceRecordBody{GovCtx: c, Record: rec}, 0)
	if !ok {
		return
	}
	var stored store.EvidenceRecord
	json.Unmarshal(raw, &stored)
	writeJSON(w, status, api.EvidenceView{Record: stored.View(), Pack: &pack, Envelope: env, KeyID: key.ID})
}

func (s *Server) handleEvidenceGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	d, err := digest.Parse(r.PathValue("digest"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "digest: %v", err)
		return
	}
	st := s.store.State()
	rec, err := st.Evidence(d)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if in, err := st.Intent(rec.IntentID); err == nil && !inScope(w, p, "evidence "+d.String(), *in.Scope) {
		return
	}
	es := s.evidenceStore(r.Context())
	pack, err := deploy.LoadEvidence(es, d)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "evidence %s fails verification on read: %v", d, err)
		return
	}
	envBytes, err := es.GetEvidence(rec.Envelope)
	if err == nil && digest.FromBytes(envBytes) != rec.Envelope {
		err = fmt.Errorf("envelope bytes do not hash to %s", rec.Envelope)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "evidence envelope %s unreadable: %v", rec.Envelope, err)
		return
	}
	env, err := signing.ParseEnvelope(bytes.TrimSpace(envBytes))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "evidence envelope %s: %v", rec.Envelope, err)
		return
	}
	trust, err := s.hubTrust()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "hub key unavailable: %v", err)
		return
	}
	_, vd, keyID, err := deploy.VerifyEvidence(env, trust)
	if err == nil && vd != d {
		err = fmt.Errorf("envelope signs %s, not %s", vd, d)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "evidence %s signature does not verify: %v", d, err)
		return
	}
	writeJSON(w, http.StatusOK, api.EvidenceView{Record: rec.View(), Pack: &pack, Envelope: env, KeyID: keyID})
}
