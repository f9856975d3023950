package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// Governance API, evidence packs: stored write-once in the content store,
// signed with the hub key, verified on read.

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
	if err := e.s.holdBlob(e.ctx, d, int64(len(b)), "evidence"); err != nil {
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

// recordEvidenceFailure records a refused evidence write as an audit event:
// without stored evidence, publish and promotion are refused.
func (s *Server) recordEvidenceFailure(r *http.Request, p *Principal, object string, err error) {
	s.metrics.evidenceFailures.Inc()
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
	// What the factory read from the version's files fills the pack's
	// artifact, SBOM, scan, policy and documentation items.
	arts, err := s.store.State().Artifacts(pack.AppID, pack.Version)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	held := make([]deploy.Artifact, len(arts))
	for i, a := range arts {
		held[i] = a.Artifact
	}
	if err := deploy.CompleteFromIntake(&pack, held); err != nil {
		writeInputError(w, deployError("", err))
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
