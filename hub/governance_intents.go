package hub

import (
	"net/http"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
)

// Governance API, deployment intents and their publish and promotion
// gates.

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
