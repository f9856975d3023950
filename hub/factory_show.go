package hub

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/packaging/provenance"
)

// handlePackageGet answers `eucora package show`: the artifact, its facts,
// the scan report's findings, the policy decision and the provenance,
// verified now against the registered packaging keys.
func (s *Server) handlePackageGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	app, ver := r.PathValue("app"), r.PathValue("v")
	d, err := digest.Parse(r.PathValue("hex"))
	if err != nil {
		writeInputError(w, badField("digest", "%v", err))
		return
	}
	a, err := s.store.State().App(app)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if !inScope(w, p, "application "+app, a.AllowedScope) {
		return
	}
	rec, err := s.store.State().Artifact(app, ver, d)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if rec.Intake == nil {
		writeError(w, http.StatusNotFound, "artifact %s of %s %s was registered by hand (eucora artifact add), not read by the factory: it has no package facts", d, app, ver)
		return
	}
	writeJSON(w, http.StatusOK, s.packageView(rec))
}

// packageView is the package as the API shows it.
func (s *Server) packageView(rec store.ArtifactRecord) api.Package {
	out := api.Package{Artifact: rec.View(), Facts: rec.Intake.Facts}
	if rec.Facts != nil {
		out.Derived = rec.Facts.Derive()
	}
	if b, err := s.readBlob(rec.Intake.ScanReport, maxDocBlob, "scan report"); err == nil {
		var report struct {
			Findings json.RawMessage `json:"findings"`
		}
		if json.Unmarshal(b, &report) == nil {
			out.Findings = report.Findings
		}
	}
	if b, err := s.readBlob(rec.Intake.PolicyDecision, maxDocBlob, "policy decision"); err == nil && json.Valid(b) {
		out.Decision = b
	}
	out.Provenance = s.verifyProvenance(rec)
	return out
}

// verifyProvenance checks the artifact's provenance envelope: signed by a
// registered packaging key and about this digest.
func (s *Server) verifyProvenance(rec store.ArtifactRecord) *api.Provenance {
	pv := &api.Provenance{Envelope: rec.Provenance, KeyID: rec.Intake.ProvenanceKey}
	fail := func(err error) *api.Provenance { pv.Error = err.Error(); return pv }
	d, err := digest.Parse(string(rec.Provenance))
	if err != nil {
		return fail(err)
	}
	b, err := s.readBlob(d, maxDocBlob, "provenance")
	if err != nil {
		return fail(err)
	}
	env, err := signing.ParseEnvelope(b)
	if err != nil {
		return fail(err)
	}
	trust, err := s.trustFor(RolePackaging)
	if err != nil {
		return fail(err)
	}
	st, keyID, err := provenance.Verify(env, trust, string(rec.SHA256))
	if err != nil {
		if errors.Is(err, signing.ErrUnknownKey) {
			err = errors.New(err.Error() + " (provenance is trusted only from a registered packaging key)")
		}
		return fail(err)
	}
	rd := st.Predicate.RunDetails
	pv.Verified, pv.KeyID, pv.Builder, pv.RunID, pv.Started, pv.Finished = true, keyID, rd.Builder.ID, rd.Metadata.InvocationID, rd.Metadata.StartedOn, rd.Metadata.FinishedOn
	return pv
}
