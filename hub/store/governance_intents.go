package store

import (
	"errors"
	"fmt"
	"slices"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// intentHandlers apply deployment intents: their declaration (one active
// change per app and ring), the publish and promotion gates, and the
// records of stored evidence packs.
var intentHandlers = map[string]handler{
	CmdIntentCreate:   gov(applyIntentCreate),
	CmdIntentPublish:  gov(applyPublish),
	CmdIntentPromote:  gov(applyPromote),
	CmdEvidenceRecord: gov(applyEvidenceRecord),
}

// activeIntents returns the active intents of app.
func activeIntents(b Batch, app string) ([]string, []deploy.Intent, error) {
	ids, err := getRec[[]string](b, activeKey(app), "active intents")
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var out []deploy.Intent
	for _, id := range ids {
		in, err := getRec[IntentRecord](b, intentKey(id), "intent "+id)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, in.Intent)
	}
	return ids, out, nil
}

func applyIntentCreate(b Batch, kind string, body IntentCreateBody) (any, error) {
	in := body.Intent
	in.RequestedBy = body.Principal.ID
	in.Artifact = digest.Canonical(in.Artifact)
	if err := in.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	if ok, err := exists(b, intentKey(in.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("intent %q: %w", in.ID, ErrConflict)
	}
	app, err := getRec[AppRecord](b, appKey(in.AppID), "application "+in.AppID)
	if err != nil {
		return nil, err
	}
	if _, err := getRec[VersionRecord](b, versionKey(in.AppID, in.Version), "version "+in.AppID+" "+in.Version); err != nil {
		return nil, err
	}
	if _, err := getRec[ArtifactRecord](b, artifactKey(in.AppID, in.Version, in.Artifact), "artifact "+in.Artifact.String()); err != nil {
		return nil, err
	}
	as, err := getRec[AssessmentRecord](b, assessmentKey(body.AssessmentID), "assessment "+body.AssessmentID)
	if err != nil {
		return nil, fmt.Errorf("assessment_id: %w", err)
	}
	if as.AppID != in.AppID || as.Version != in.Version {
		return nil, invalidf("assessment_id: assessment %s is for %s %s, the intent deploys %s %s", as.ID, as.AppID, as.Version, in.AppID, in.Version)
	}
	conc, err := optApproval(b, body.ConcurrencyApproval, "concurrency_approval")
	if err != nil {
		return nil, err
	}
	ids, active, err := activeIntents(b, in.AppID)
	if err != nil {
		return nil, err
	}
	d := Combine(
		deploy.CheckTargetScope(in.Scope, body.Principal.Scope, app.AllowedScope),
		deploy.CheckConcurrency(in, active, conc, body.At),
	)
	if rec, err := decide(b, body.GovCtx, kind, "intent/"+in.ID, *in.Scope, as.Assessment.Model, body, nil, d); err != nil {
		if errors.Is(err, deploy.ErrDenied) && onlyFailed(d, "concurrency.") {
			if rerr := recordApprovalRequest(b, body.GovCtx, deploy.Subject(deploy.SubjectConcurrency, in.ID), *in.Scope); rerr != nil {
				return nil, rerr
			}
		}
		return rec, err
	}
	rec := IntentRecord{Intent: in, AssessmentID: body.AssessmentID, ConcurrencyApproval: body.ConcurrencyApproval, Status: IntentPending,
		CreatedAt: body.At.UTC(), LastDecision: body.DecisionID}
	if err := setJSON(b, activeKey(in.AppID), append(ids, in.ID)); err != nil {
		return nil, err
	}
	return rec, setJSON(b, intentKey(in.ID), rec)
}

// evidenceFor reports whether evidence d is recorded as stored for intent.
func evidenceFor(b Batch, d digest.Digest, intent string) (bool, error) {
	if d == "" {
		return false, nil
	}
	d, err := digest.Parse(string(d))
	if err != nil {
		return false, invalidf("evidence: %v", err)
	}
	rec, err := getRec[EvidenceRecord](b, evidenceKey(d.Hex()), "evidence")
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return rec.IntentID == intent, nil
}

func applyPublish(b Batch, kind string, body PublishBody) (any, error) {
	in, app, art, err := intentContext(b, body.IntentID)
	if err != nil {
		return nil, err
	}
	if in.Status != IntentPending {
		return nil, fmt.Errorf("intent %s is %s: %w", in.ID, in.Status, ErrConflict)
	}
	v, err := getRec[VersionRecord](b, versionKey(in.AppID, in.Version), "version "+in.AppID+" "+in.Version)
	if err != nil {
		return nil, err
	}
	as, err := getRec[AssessmentRecord](b, assessmentKey(in.AssessmentID), "assessment "+in.AssessmentID)
	if err != nil {
		return nil, err
	}
	cab, err := optApproval(b, body.Approval, "approval")
	if err != nil {
		return nil, err
	}
	conc, err := optApproval(b, in.ConcurrencyApproval, "concurrency_approval")
	if err != nil {
		return nil, err
	}
	var ex *deploy.Exception
	if body.Exception != "" {
		e, err := getRec[deploy.Exception](b, exceptionKey(body.Exception), "exception "+body.Exception)
		if err != nil {
			return nil, fmt.Errorf("exception: %w", err)
		}
		ex = &e
	}
	stored, err := evidenceFor(b, body.Evidence, in.ID)
	if err != nil {
		return nil, err
	}
	pack := body.Pack
	if pack != nil {
		// The pack must be the stored one: its canonical digest names it.
		if _, d, err := pack.CanonicalBytes(); err != nil || d != digest.Canonical(body.Evidence) {
			pack, stored = nil, false
		}
	}
	_, active, err := activeIntents(b, in.AppID)
	if err != nil {
		return nil, err
	}
	req := deploy.PublishRequest{Principal: body.Principal, App: app.Application, Version: v.ApplicationVersion, Artifact: art.Artifact,
		Intent: in.Intent, Risk: &as.Assessment, Evidence: pack, EvidenceStored: stored && pack != nil, CABApproval: cab, Exception: ex,
		ActiveIntents: active, ConcurrencyApproval: conc}
	d := deploy.DecidePublish(req, body.At)
	rec, derr := decide(b, body.GovCtx, kind, "intent/"+in.ID, *in.Scope, as.Assessment.Model, req, nil, d)
	if derr != nil {
		return rec, derr // the intent is unchanged; the decision record explains
	}
	in.LastDecision = body.DecisionID
	at := body.At.UTC()
	in.Status, in.PublishedAt = IntentPublished, &at
	if in.Ring.IsProduction() && v.State == deploy.StateApproved {
		ev, err := deploy.Transition(v.State, deploy.StatePublished)
		if err != nil {
			return nil, err
		}
		v.State = deploy.StatePublished
		v.PublishedAt = &at
		v.History = append(v.History, TransitionRecord{TransitionEvent: ev, By: body.Principal.ID, At: at, DecisionID: body.DecisionID})
		if err := setJSON(b, versionKey(v.AppID, v.Version), v); err != nil {
			return nil, err
		}
	}
	if err := setJSON(b, intentKey(in.ID), in); err != nil {
		return nil, err
	}
	return rec, nil
}

func applyPromote(b Batch, kind string, body PromoteBody) (any, error) {
	in, _, art, err := intentContext(b, body.IntentID)
	if err != nil {
		return nil, err
	}
	if in.Status != IntentPublished {
		return nil, fmt.Errorf("intent %s is %s (promotion judges a published intent): %w", in.ID, in.Status, ErrConflict)
	}
	as, err := getRec[AssessmentRecord](b, assessmentKey(in.AssessmentID), "assessment "+in.AssessmentID)
	if err != nil {
		return nil, err
	}
	cab, err := optApproval(b, body.Approval, "approval")
	if err != nil {
		return nil, err
	}
	stored, err := evidenceFor(b, body.Evidence, in.ID)
	if err != nil {
		return nil, err
	}
	pin := body.Measured
	pin.IntentID, pin.Ring, pin.Risk, pin.EvidenceStored, pin.CABApproval = in.ID, in.Ring, &as.Assessment, stored, cab
	next := in.Ring
	if next < deploy.MaxRing {
		next++
	}
	authz := deploy.Authorize(body.Principal, deploy.ActionPublish, deploy.Object{Kind: "intent", ID: in.ID, Scope: *in.Scope,
		RequestedBy: in.RequestedBy, PackagedBy: art.PackagedBy, Ring: next}, body.At)
	// The CAB rule of promotion is promotion.cab; drop Authorize's own.
	authz.Checks = slices.DeleteFunc(authz.Checks, func(c deploy.Check) bool { return c.Rule == "publish.cab" })
	d := Combine(authz, deploy.EvaluatePromotion(pin, body.At))
	rec, derr := decide(b, body.GovCtx, kind, "intent/"+in.ID, *in.Scope, as.Assessment.Model, pin, nil, d)
	if derr != nil {
		return rec, derr
	}
	in.Status, in.PromotedTo, in.LastDecision = IntentPromoted, &next, body.DecisionID
	ids, _, err := activeIntents(b, in.AppID)
	if err != nil {
		return nil, err
	}
	ids = slices.DeleteFunc(ids, func(s string) bool { return s == in.ID })
	if err := setJSON(b, activeKey(in.AppID), ids); err != nil {
		return nil, err
	}
	if err := setJSON(b, intentKey(in.ID), in); err != nil {
		return nil, err
	}
	return rec, nil
}

func applyEvidenceRecord(b Batch, kind string, body EvidenceRecordBody) (any, error) {
	r := body.Record
	r.Digest, r.Envelope = digest.Canonical(r.Digest), digest.Canonical(r.Envelope)
	for _, f := range []struct {
		name string
		d    digest.Digest
	}{{"digest", r.Digest}, {"envelope", r.Envelope}} {
		if _, err := digest.Parse(string(f.d)); err != nil {
			return nil, invalidf("%s: %v", f.name, err)
		}
	}
	if r.KeyID == "" {
		return nil, invalidf("key_id: required")
	}
	if cur, err := getRec[EvidenceRecord](b, evidenceKey(r.Digest.Hex()), "evidence"); err == nil {
		return cur, nil // write-once: storing the same pack again changes nothing
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	in, _, _, err := intentContext(b, r.IntentID)
	if err != nil {
		return nil, fmt.Errorf("intent_id: %w", err)
	}
	if r.AppID != in.AppID || r.Version != in.Version {
		return nil, invalidf("app_id: the pack is for %s %s, intent %s deploys %s %s", r.AppID, r.Version, in.ID, in.AppID, in.Version)
	}
	d := deploy.Authorize(body.Principal, deploy.ActionRead, deploy.Object{Kind: "evidence", ID: r.Digest.String(), Scope: *in.Scope}, body.At)
	if rec, err := decide(b, body.GovCtx, kind, "evidence/"+r.Digest.String(), *in.Scope, "", body, nil, d); err != nil {
		return rec, err
	}
	r.StoredBy, r.StoredAt = body.Principal.ID, body.At.UTC()
	return r, setJSON(b, evidenceKey(r.Digest.Hex()), r)
}
