package hub

import (
	"errors"
	"net/http"
	"strings"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
)

// Governance API, review: risk assessments, CAB approvals, security
// exceptions, the decision records of every gate, and JIT elevation.

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
