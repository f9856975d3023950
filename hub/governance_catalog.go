package hub

import (
	"fmt"
	"net/http"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
)

// Governance API, the catalog: applications, their versions and
// lifecycle transitions, artifacts, LOB retention and scope changes.

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
	// A version a ring holds or a rollout would roll back to is kept
	// whatever its age (EUCORA-architecture.md section 7.5).
	for i, v := range verdicts {
		ids, err := s.store.State().RollbackNeeds(app.ID, v.Version)
		if err != nil {
			writeStoreError(w, err)
			return
		}
		if len(ids) > 0 {
			verdicts[i].Keep = true
			verdicts[i].Reason += fmt.Sprintf("; held by or the rollback target of rollout(s) %v", ids)
		}
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
