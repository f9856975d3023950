package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/rollout"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/packaging/docs"
)

// Rollouts (EUCORA-architecture.md sections 5.6, 10): the leader runs the
// orchestrator (hub/rollout) on a timer; the API shows every rollout and
// lets people pause, resume, promote and roll back, record incidents, set
// each plane's ring groups and the drift policy, and list open drift.

var (
	rolloutRead    = deploy.Roles
	rolloutControl = []deploy.Role{deploy.RolePublisher, deploy.RoleEndpointOps}
	rolloutPause   = []deploy.Role{deploy.RolePublisher, deploy.RoleEndpointOps, deploy.RoleCABApprover}
	incidentWrite  = []deploy.Role{deploy.RoleEndpointOps, deploy.RoleSecurityReviewer}
)

func rolloutRoutes() []Route {
	return []Route{
		{Method: "PUT", Pattern: "/v1/planes/{name}/rings/{ring}", Name: "planes.rings.set", Roles: adminOnly, Write: true, handler: (*Server).handleRingTargetsSet},
		{Method: "GET", Pattern: "/v1/planes/{name}/rings", Name: "planes.rings.list", Roles: adminOnly, handler: (*Server).handleRingTargetsList},
		{Method: "GET", Pattern: "/v1/rollouts", Name: "rollouts.list", Roles: rolloutRead, handler: (*Server).handleRolloutsList},
		{Method: "GET", Pattern: "/v1/rollouts/{intent}", Name: "rollouts.get", Roles: rolloutRead, handler: (*Server).handleRolloutGet},
		{Method: "POST", Pattern: "/v1/rollouts/{intent}:pause", Name: "rollouts.pause", Roles: rolloutPause, Write: true, handler: rolloutControlHandler(store.ControlPause)},
		{Method: "POST", Pattern: "/v1/rollouts/{intent}:resume", Name: "rollouts.resume", Roles: rolloutControl, Write: true, handler: rolloutControlHandler(store.ControlResume)},
		{Method: "POST", Pattern: "/v1/rollouts/{intent}:rollback", Name: "rollouts.rollback", Roles: rolloutControl, Write: true, handler: rolloutControlHandler(store.ControlRollback)},
		{Method: "POST", Pattern: "/v1/rollouts/{intent}:policy", Name: "rollouts.policy", Roles: []deploy.Role{deploy.RolePublisher}, Write: true, handler: rolloutControlHandler(store.ControlPolicy)},
		{Method: "POST", Pattern: "/v1/rollouts/{intent}:promote", Name: "rollouts.promote", Roles: []deploy.Role{deploy.RolePublisher}, Write: true, handler: (*Server).handleRolloutPromote},
		{Method: "POST", Pattern: "/v1/rollouts/{intent}:reconcile", Name: "rollouts.reconcile", Roles: rolloutControl, Write: true, handler: (*Server).handleRolloutReconcile},
		{Method: "POST", Pattern: "/v1/incidents", Name: "incidents.create", Roles: incidentWrite, Write: true, handler: (*Server).handleIncidentCreate},
		{Method: "GET", Pattern: "/v1/incidents", Name: "incidents.list", Roles: rolloutRead, handler: (*Server).handleIncidentsList},
		{Method: "GET", Pattern: "/v1/drift", Name: "drift.list", Roles: rolloutRead, handler: (*Server).handleDriftList},
		{Method: "GET", Pattern: "/v1/drift/policy", Name: "drift.policy.get", Roles: rolloutRead, handler: (*Server).handleDriftPolicyGet},
		{Method: "PUT", Pattern: "/v1/drift/policy", Name: "drift.policy.set", Roles: adminOnly, Write: true, handler: (*Server).handleDriftPolicySet},
	}
}

// orchestrator returns the leader's orchestrator, making it on first use.
func (s *Server) orchestrator() *rollout.Orchestrator {
	s.orch.Lock()
	defer s.orch.Unlock()
	if s.orch.o == nil {
		s.orch.o = rollout.New(s.store.State(), rolloutHost{s}, rollout.Config{Log: s.log.With("component", "rollout"),
			ReconcileEvery: s.cfg.ReconcileInterval, ObserveEvery: s.cfg.ReconcileInterval, BackoffInitial: s.cfg.PlaneBackoff})
	}
	return s.orch.o
}

// rollouts runs the orchestrator while this node leads.
func (s *Server) rollouts() {
	defer s.wg.Done()
	if s.cfg.RolloutInterval < 0 {
		return
	}
	t := time.NewTicker(s.cfg.RolloutInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			s.dropOrchestrator()
			return
		case <-t.C:
		}
		if !s.store.IsLeader() || !s.isReady() {
			s.dropOrchestrator()
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Minute)
		rep, err := s.orchestrator().Pass(ctx)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotLeader) && !errors.Is(err, context.Canceled) {
			s.log.Warn("rollout pass", "err", err)
		}
		for _, e := range rep.Errors {
			s.log.Warn("rollout", "err", e)
		}
	}
}

// dropOrchestrator forgets the orchestrator (its connectors and memory)
// when this node stops leading.
func (s *Server) dropOrchestrator() {
	s.orch.Lock()
	o := s.orch.o
	s.orch.o = nil
	s.orch.Unlock()
	if o != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		o.Close(ctx)
		cancel()
	}
}

// rolloutHost is the hub as the orchestrator acts through it.
type rolloutHost struct{ s *Server }

var _ rollout.Host = rolloutHost{}

func (h rolloutHost) Apply(ctx context.Context, cmd store.Command) (any, error) {
	return h.s.store.Apply(ctx, cmd)
}

func (h rolloutHost) Connector(plane, actor string) (connectors.Connector, func(context.Context), error) {
	return h.s.PlaneConnector(plane, actor, connectors.RetryPolicy{Attempts: 3, Initial: 100 * time.Millisecond, Max: 2 * time.Second, Budget: 30 * time.Second})
}

// Content opens the artifact from this node's content store; its
// deployment documentation, where the factory stored it, says how it
// installs.
func (h rolloutHost) Content(ctx context.Context, art store.ArtifactRecord) (connectors.Content, connectors.Install, error) {
	d := digest.Canonical(art.SHA256)
	ok, err := h.s.cas.Has(d)
	if err != nil {
		return connectors.Content{}, connectors.Install{}, err
	}
	if !ok {
		// A leader that was not among the blob's holders fetches it.
		rec, err := h.s.store.State().Blob(d.Hex())
		if err == nil {
			err = h.s.fetchBlob(ctx, d, rec.Size, h.s.peerSources(rec.Holders))
		}
		if err != nil {
			return connectors.Content{}, connectors.Install{}, fmt.Errorf("artifact %s %s (%s) is not in this node's content store and could not be fetched: %w", art.Name, d.Short(), art.Platform, err)
		}
	}
	c := connectors.Content{Name: art.Name, Size: art.Size, Digest: d, Type: art.Platform,
		Open: func() (io.ReadCloser, error) { return h.s.cas.OpenVerified(d) }}
	in, err := h.install(art)
	return c, in, err
}

// install is the release's install from the factory's deployment
// documentation, or the platform's conventions when there is none.
func (h rolloutHost) install(art store.ArtifactRecord) (connectors.Install, error) {
	if art.Intake != nil && len(art.Intake.Docs) > 0 {
		var doc docs.Doc
		for _, item := range []deploy.EvidenceItem{deploy.EvidenceInstallDoc, deploy.EvidenceUninstallDoc, deploy.EvidenceDetectionDoc} {
			ref, ok := art.Intake.Docs[item]
			if !ok {
				continue
			}
			b, err := h.s.readBlob(ref.Digest, docs.MaxSize, string(item))
			if err != nil {
				return connectors.Install{}, err
			}
			var part docs.Doc
			if err := json.Unmarshal(b, &part); err != nil {
				return connectors.Install{}, fmt.Errorf("%s %s: %w", item, ref.Digest.Short(), err)
			}
			switch item {
			case deploy.EvidenceInstallDoc:
				doc.Install, doc.ExitCodes, doc.Reboot = part.Install, part.ExitCodes, part.Reboot
			case deploy.EvidenceUninstallDoc:
				doc.Uninstall = part.Uninstall
			case deploy.EvidenceDetectionDoc:
				doc.Detection = part.Detection
			}
		}
		if len(doc.Detection) > 0 {
			return doc.ConnectorInstall(), nil
		}
	}
	name := art.Name
	in := connectors.Install{RunAsSystem: true}
	switch art.Platform.Family() {
	case deploy.FamilyWindows:
		in.InstallCommand = fmt.Sprintf(`msiexec /i "%s" /qn /norestart`, name)
		in.UninstallCommand = fmt.Sprintf(`msiexec /x "%s" /qn /norestart`, name)
		if art.Platform != deploy.PlatformMSI {
			in.InstallCommand, in.UninstallCommand = fmt.Sprintf(`"%s" /S`, name), fmt.Sprintf(`"%s" /S /uninstall`, name)
		}
		in.Detection = connectors.Detection{FilePath: `C:\Program Files\` + art.AppID, FileName: name}
	case deploy.FamilyMacOS, deploy.FamilyIOS, deploy.FamilyAndroid:
		in.Detection = connectors.Detection{BundleID: art.AppID, BundleVersion: art.Version}
	default:
		in.Detection = connectors.Detection{PackageName: art.AppID}
	}
	return in, nil
}

// Evidence returns the newest evidence pack stored for an intent.
func (h rolloutHost) Evidence(ctx context.Context, intent string) (*deploy.EvidencePack, digest.Digest, error) {
	recs, err := h.s.store.State().EvidenceOf(intent)
	if err != nil || len(recs) == 0 {
		return nil, "", err
	}
	rec := recs[len(recs)-1]
	pack, err := deploy.LoadEvidence(h.s.evidenceStore(ctx), rec.Digest)
	if err != nil {
		return nil, "", fmt.Errorf("evidence %s of intent %s: %w", rec.Digest.Short(), intent, err)
	}
	return &pack, rec.Digest, nil
}

func (h rolloutHost) StoreDoc(ctx context.Context, mediaType, title string, body []byte) (deploy.DocRef, error) {
	d := digest.FromBytes(body)
	if err := h.s.evidenceStore(ctx).PutEvidence(d, body); err != nil && !errors.Is(err, deploy.ErrEvidenceExists) {
		return deploy.DocRef{}, err
	}
	return deploy.DocRef{Digest: d, MediaType: mediaType, Title: title}, nil
}

func (h rolloutHost) StoreEvidence(ctx context.Context, pack deploy.EvidencePack) (digest.Digest, error) {
	return h.s.storeEvidencePack(ctx, pack, rollout.Principal, "node:"+h.s.cfg.NodeID)
}

// storeEvidencePack completes a pack from the factory's intake, signs it
// with the hub key, stores it and its envelope write-once and records it.
func (s *Server) storeEvidencePack(ctx context.Context, pack deploy.EvidencePack, p deploy.Principal, actor string) (digest.Digest, error) {
	arts, err := s.store.State().Artifacts(pack.AppID, pack.Version)
	if err != nil {
		return "", err
	}
	held := make([]deploy.Artifact, len(arts))
	for i, a := range arts {
		held[i] = a.Artifact
	}
	if err := deploy.CompleteFromIntake(&pack, held); err != nil {
		return "", err
	}
	key, err := s.hubKey()
	if err != nil {
		return "", err
	}
	env, d, err := deploy.SignEvidence(pack, key)
	if err != nil {
		return "", err
	}
	envBytes, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	es := s.evidenceStore(ctx)
	if _, err := deploy.StoreEvidence(es, pack); err != nil && !errors.Is(err, deploy.ErrEvidenceExists) {
		return "", err
	}
	envDigest := digest.FromBytes(envBytes)
	if err := es.PutEvidence(envDigest, envBytes); err != nil && !errors.Is(err, deploy.ErrEvidenceExists) {
		return "", err
	}
	if _, err := s.store.State().Evidence(d); err == nil {
		return d, nil
	}
	c := store.GovCtx{DecisionID: newID(), At: store.NowUTC(), Principal: p}
	rec := store.EvidenceRecord{Digest: d, Envelope: envDigest, KeyID: key.ID, IntentID: pack.IntentID, AppID: pack.AppID, Version: pack.Version}
	a := &store.AuditInput{ID: c.DecisionID, Time: c.At, Actor: actor, Role: string(p.Role), Action: store.CmdEvidenceRecord,
		Object: "evidence/" + d.String(), CorrelationID: pack.IntentID}
	cmd, err := store.NewCommand(store.CmdEvidenceRecord, store.EvidenceRecordBody{GovCtx: c, Record: rec}, a)
	if err != nil {
		return "", err
	}
	if _, err := s.store.Apply(ctx, cmd); err != nil {
		return "", err
	}
	return d, nil
}

func (s *Server) handleRingTargetsSet(w http.ResponseWriter, r *http.Request, p *Principal) {
	name := r.PathValue("name")
	n, err := strconv.Atoi(r.PathValue("ring"))
	if err != nil || !deploy.Ring(n).Valid() {
		writeError(w, http.StatusBadRequest, "ring %q: want 0-4", r.PathValue("ring"))
		return
	}
	req, err := DecodeRingTargetsRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	pl, err := s.store.State().Plane(name)
	if err != nil {
		writeStoreError(w, fmt.Errorf("plane %q: %w", name, err))
		return
	}
	if !p.Scope.Contains(pl.Scope) {
		s.denyScope(w, r, p, "planes.rings.set", fmt.Sprintf("plane scope %s is outside this token's scope %s", pl.Scope, p.Scope))
		return
	}
	rt := store.RingTargets{Plane: name, Ring: deploy.Ring(n), Targets: store.TargetsFromAPI(req.Targets), UpdatedBy: p.actor(), UpdatedAt: store.NowUTC()}
	s.apply(w, r, p, store.CmdRingTargets, "plane/"+name, rt, http.StatusOK)
}

func (s *Server) handleRingTargetsList(w http.ResponseWriter, r *http.Request, p *Principal) {
	all, err := s.store.State().AllRingTargets()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := []api.RingTargets{}
	for _, rt := range all {
		if rt.Plane == r.PathValue("name") {
			out = append(out, rt.View())
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRolloutsList(w http.ResponseWriter, r *http.Request, p *Principal) {
	all, err := s.store.State().Rollouts()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	app := r.URL.Query().Get("app")
	out := []api.Rollout{}
	for _, x := range all {
		if (app == "" || x.AppID == app) && p.Scope.Overlaps(x.Scope) {
			out = append(out, x.View())
		}
	}
	slices.SortStableFunc(out, func(a, b api.Rollout) int {
		if c := strings.Compare(a.AppID+"\x00"+a.Version, b.AppID+"\x00"+b.Version); c != 0 {
			return c
		}
		return int(a.Ring) - int(b.Ring)
	})
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) rolloutInScope(w http.ResponseWriter, p *Principal, intent string) (store.Rollout, bool) {
	ro, err := s.store.State().Rollout(intent)
	if err != nil {
		writeStoreError(w, fmt.Errorf("rollout of intent %q: %w", intent, err))
		return ro, false
	}
	return ro, inScope(w, p, "rollout of intent "+intent, ro.Scope)
}

func (s *Server) handleRolloutGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	if ro, ok := s.rolloutInScope(w, p, r.PathValue("intent")); ok {
		writeJSON(w, http.StatusOK, ro.View())
	}
}

func rolloutControlHandler(control string) func(s *Server, w http.ResponseWriter, r *http.Request, p *Principal) {
	return func(s *Server, w http.ResponseWriter, r *http.Request, p *Principal) {
		var req api.RolloutControl
		if err := decodeStrict(w, r, &req, maxSmallBody); err != nil {
			writeInputError(w, err)
			return
		}
		if len(req.Reason) > 1024 {
			writeInputError(w, badField("reason", "longer than 1024 characters"))
			return
		}
		intent := r.PathValue("intent")
		if _, ok := s.rolloutInScope(w, p, intent); !ok {
			return
		}
		body := store.RolloutControlBody{IntentID: intent, Control: control, OnFailure: req.OnFailure, Reason: req.Reason, By: p.actor(), At: store.NowUTC()}
		s.apply(w, r, p, store.CmdRolloutControl, "intent/"+intent, body, http.StatusOK)
	}
}

// handleRolloutPromote judges the ring's gate on the plane's telemetry now
// and, when it passes, hands the rollout to the orchestrator to promote.
func (s *Server) handleRolloutPromote(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.RolloutPromote
	if err := decodeStrict(w, r, &req, maxSmallBody); err != nil {
		writeInputError(w, err)
		return
	}
	intent := r.PathValue("intent")
	if _, ok := s.rolloutInScope(w, p, intent); !ok {
		return
	}
	ro, gate, err := s.orchestrator().PromoteNow(r.Context(), intent, p.actor())
	var ge *rollout.GateError
	if errors.As(err, &ge) {
		writeJSON(w, http.StatusConflict, api.Error{Error: err.Error()})
		return
	}
	if err != nil {
		writeStoreError(w, err)
		return
	}
	_ = gate
	writeJSON(w, http.StatusOK, ro.View())
}

func (s *Server) handleRolloutReconcile(w http.ResponseWriter, r *http.Request, p *Principal) {
	intent := r.PathValue("intent")
	if _, ok := s.rolloutInScope(w, p, intent); !ok {
		return
	}
	open, err := s.orchestrator().Reconcile(r.Context(), intent)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := []api.Drift{}
	for _, d := range open {
		out = append(out, api.Drift(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleIncidentCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	req, err := DecodeIncidentRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	if req.ID == "" {
		req.ID = strings.ToLower(newID())
	}
	in := store.Incident{ID: req.ID, AppID: req.AppID, Version: req.Version, IntentID: req.IntentID, Severity: req.Severity, Security: req.Security,
		Attributable: req.Attributable, Summary: req.Summary, ReportedBy: p.actor(), At: store.NowUTC()}
	s.apply(w, r, p, store.CmdIncidentCreate, "incident/"+req.ID, in, http.StatusCreated)
}

func (s *Server) handleIncidentsList(w http.ResponseWriter, r *http.Request, p *Principal) {
	all, err := s.store.State().Incidents()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, store.Views(all, store.Incident.View))
}

func (s *Server) handleDriftList(w http.ResponseWriter, r *http.Request, p *Principal) {
	sets, err := s.store.State().Drift()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	q := r.URL.Query()
	out := []api.Drift{}
	for _, d := range store.DriftViews(sets) {
		if (q.Get("site") == "" || d.Site == q.Get("site")) && (q.Get("app") == "" || d.AppID == q.Get("app")) && (q.Get("plane") == "" || d.Plane == q.Get("plane")) {
			out = append(out, d)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDriftPolicyGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	pol, err := s.store.State().DriftPolicy()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if pol.Rules == nil {
		pol.Rules = []deploy.DriftRule{}
	}
	writeJSON(w, http.StatusOK, pol)
}

func (s *Server) handleDriftPolicySet(w http.ResponseWriter, r *http.Request, p *Principal) {
	pol, err := DecodeDriftPolicy(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	s.apply(w, r, p, store.CmdDriftPolicySet, "drift/policy", pol, http.StatusOK)
}

func newID() string { return ulid.Make().String() }

// DecodeRingTargetsRequest decodes and validates the body of PUT
// /v1/planes/{name}/rings/{ring}.
func DecodeRingTargetsRequest(r io.Reader) (api.RingTargetsRequest, error) {
	var v api.RingTargetsRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, err
	}
	if err := store.ValidateTargets(store.TargetsFromAPI(v.Targets)); err != nil {
		msg := strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
		field, rest, _ := strings.Cut(msg, ": ")
		return v, badField(field, "%s", rest)
	}
	return v, nil
}

// DecodeDriftPolicy decodes and validates the body of PUT /v1/drift/policy.
func DecodeDriftPolicy(r io.Reader) (deploy.DriftPolicy, error) {
	var p deploy.DriftPolicy
	if err := decodeJSON(r, &p); err != nil {
		return p, err
	}
	if err := p.Validate(); err != nil {
		return p, deployError("", err)
	}
	return p, nil
}

// DecodeIncidentRequest decodes and validates the body of POST
// /v1/incidents (the id may be empty: the hub makes one).
func DecodeIncidentRequest(r io.Reader) (api.IncidentRequest, error) {
	var v api.IncidentRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, err
	}
	i := store.Incident{ID: v.ID, AppID: v.AppID, Version: v.Version, IntentID: v.IntentID, Severity: v.Severity, Security: v.Security,
		Attributable: v.Attributable, Summary: v.Summary}
	if i.ID == "" {
		i.ID = "x"
	}
	if err := store.ValidateIncident(i); err != nil {
		msg := strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
		field, rest, _ := strings.Cut(msg, " ")
		return v, badField(strings.TrimSuffix(field, ":"), "%s", rest)
	}
	return v, nil
}
