package rollout

// Promotion: the ring's results into the evidence store, the promotion
// decision, the next ring's assessment, intent, evidence pack and publish.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
)

// promote writes the ring's results into the evidence store, proposes the
// promotion, makes the next ring's intent and hands over to it.
func (o *Orchestrator) promote(ctx context.Context, r store.Rollout) (bool, error) {
	in, err := o.st.Intent(r.IntentID)
	if err != nil {
		return false, err
	}
	if in.Status == store.IntentPublished {
		st, m, err := o.measure(ctx, r)
		if err != nil {
			return true, o.planeFailure(ctx, &r, "query", err)
		}
		g, approval, err := o.gate(r, m, true)
		if err != nil {
			return false, err
		}
		res := deploy.JudgeRing(g, o.now())
		if res.Verdict != deploy.GatePass {
			r.State = store.RolloutObserving
			o.record(&r, st, m, res)
			return true, o.save(ctx, &r, "rollout.observing", "gate no longer passes: "+join(append(res.Failing, res.Waiting...)))
		}
		d, err := o.ringEvidence(ctx, in, &r, res)
		if err != nil {
			why := []string{fmt.Sprintf("evidence store unavailable: promotion paused until the ring's results are stored (EUCORA-architecture.md section 5.7): %v", err)}
			if slices.Equal(why, r.Waiting) {
				return false, nil
			}
			r.Waiting = why
			return true, o.save(ctx, &r, "rollout.waiting", why[0])
		}
		id := ulid.Make().String()
		c := store.GovCtx{DecisionID: id, At: o.now(), Principal: Principal}
		body := store.PromoteBody{GovCtx: c, IntentID: in.ID, Measured: res.Input, Approval: approval, Evidence: d}
		a := o.audit(store.CmdIntentPromote, in.ID, "")
		a.ID, a.Time = c.DecisionID, c.At
		cmd, err := store.NewCommand(store.CmdIntentPromote, body, a)
		if err != nil {
			return false, err
		}
		if _, err := o.h.Apply(ctx, cmd); err != nil {
			if errors.Is(err, deploy.ErrDenied) {
				r.State = store.RolloutObserving
				r.Waiting = []string{"promotion refused: " + err.Error()}
				return true, o.save(ctx, &r, "rollout.observing", r.Waiting[0])
			}
			return false, err
		}
		r.Gate = &store.GateRecord{At: c.At, Verdict: deploy.GatePass, Decision: id}
		r.Waiting = nil
		r.Step(store.RolloutStep{Op: "promote", Phase: "done", At: c.At, Detail: "decision " + id})
		if err := o.save(ctx, &r, "rollout.promoted", fmt.Sprintf("%s passed its gate: decision %s", r.Ring, id)); err != nil {
			return true, err
		}
		return true, nil
	}
	if r.Ring == deploy.MaxRing {
		r.State = store.RolloutCompleted
		return true, o.save(ctx, &r, "rollout.completed", fmt.Sprintf("%s %s passed every ring", r.AppID, r.Version))
	}
	next, err := o.makeNext(ctx, in, r)
	if err != nil {
		return false, err
	}
	r.State, r.Next = store.RolloutPromoted, next
	return true, o.save(ctx, &r, "rollout.advanced", fmt.Sprintf("%s promoted; %s is intent %s", r.Ring, r.Ring+1, next))
}

// ringEvidence writes the ring's measured results into the evidence store
// (a document the next ring's pack links: Ring 0's is its test evidence)
// and makes sure the intent has a stored evidence pack; it returns the
// pack's digest. A failure means the evidence store is not writable.
func (o *Orchestrator) ringEvidence(ctx context.Context, in store.IntentRecord, r *store.Rollout, res deploy.GateResult) (digest.Digest, error) {
	if r.Results == nil {
		body, err := json.Marshal(struct {
			Schema   string             `json:"schema"`
			IntentID string             `json:"intent_id"`
			Plane    string             `json:"plane"`
			Measure  deploy.RingMeasure `json:"measure"`
			Gate     deploy.Decision    `json:"gate"`
		}{"eucora.ring-results/v1", in.ID, r.Plane, measureOf(res, r), res.Decision})
		if err != nil {
			return "", err
		}
		ref, err := o.h.StoreDoc(ctx, "application/vnd.eucora.ring-results+json", fmt.Sprintf("%s results of intent %s", in.Ring, in.ID), body)
		if err != nil {
			return "", err
		}
		r.Results = &ref
	}
	pack, d, err := o.h.Evidence(ctx, in.ID)
	if err != nil || pack != nil {
		return d, err
	}
	p, err := o.packFor(ctx, in)
	if err != nil {
		return "", err
	}
	return o.h.StoreEvidence(ctx, p)
}

// packFor builds an evidence pack for an intent: the previous ring's pack
// carried over (artifacts, SBOM, scan, docs, lab tests), with the
// intent's own id and assessment, Ring 0's results as its test evidence,
// and the rollout and rollback plans filled in where the pack had none.
func (o *Orchestrator) packFor(ctx context.Context, in store.IntentRecord) (deploy.EvidencePack, error) {
	as, err := o.st.Assessment(in.AssessmentID)
	if err != nil {
		return deploy.EvidencePack{}, err
	}
	p := deploy.EvidencePack{Schema: deploy.EvidenceSchema}
	r, err := o.st.Rollout(in.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return p, err
	}
	if r.Prev != "" {
		prev, _, err := o.h.Evidence(ctx, r.Prev)
		if err != nil {
			return p, err
		}
		if prev != nil {
			p = *prev
		}
		if pr, err := o.st.Rollout(r.Prev); err == nil && pr.Ring == deploy.Ring0Lab && pr.Results != nil {
			p.TestEvidence.Ring0 = &deploy.TestResult{Passed: true, Report: *pr.Results}
		}
	}
	p.IntentID, p.AppID, p.Version, p.CreatedAt, p.Risk = in.ID, in.AppID, in.Version, o.now(), &as.Assessment
	if p.RolloutPlan == nil {
		plan := &deploy.RolloutPlan{Schedule: in.Schedule, Exclusions: in.Exclusions}
		for ring := in.Ring; ring <= deploy.MaxRing; ring++ {
			plan.Rings = append(plan.Rings, ring)
		}
		for _, t := range r.Targets {
			plan.Targeting = append(plan.Targeting, r.Plane+":"+t.ID)
		}
		p.RolloutPlan = plan
	}
	if r.PlaneKind != "" && !slices.ContainsFunc(p.RollbackPlans, func(x deploy.RollbackPlan) bool { return x.Plane == r.PlaneKind }) {
		p.RollbackPlans = append(p.RollbackPlans, deploy.RollbackPlan{Plane: r.PlaneKind, Strategy: RollbackStrategy(r.PlaneKind)})
	}
	return p, nil
}

// RollbackStrategy is what a plane's rollback does (section 10.3), as
// the connectors implement it.
func RollbackStrategy(kind string) string {
	switch kind {
	case deploy.PlaneIntune:
		return "supersedence and version pinning to the prior app, or targeted uninstall"
	case deploy.PlaneSCCM:
		return "rollback deployment of the prior application to the ring's collections, content kept on the DPs, or uninstall"
	case deploy.PlaneJamf:
		return "policy back to the prior package, or the uninstall script"
	case deploy.PlaneLandscape, deploy.PlaneAWX:
		return "apt pinning and downgrade to the prior version, or package removal"
	}
	return "uninstall from the ring's devices"
}

// nextIntentID names the intent of ring n of the chain that started with
// base.
func nextIntentID(base string, n deploy.Ring) string {
	if i := strings.LastIndex(base, "-r"); i > 0 && len(base)-i == 3 && base[i+2] >= '0' && base[i+2] <= '4' {
		base = base[:i]
	}
	return fmt.Sprintf("%s-r%d", base, int(n))
}

// makeNext creates the next ring's assessment, intent and rollout record
// (each step skipped when a crashed run already made it).
func (o *Orchestrator) makeNext(ctx context.Context, in store.IntentRecord, r store.Rollout) (string, error) {
	ring := r.Ring + 1
	id := nextIntentID(r.Base, ring)
	if _, err := o.st.Intent(id); errors.Is(err, store.ErrNotFound) {
		as, err := o.st.Assessment(in.AssessmentID)
		if err != nil {
			return "", err
		}
		asID := "as-" + id
		if _, err := o.st.Assessment(asID); errors.Is(err, store.ErrNotFound) {
			input := as.Assessment.Input
			input.TargetRing = ring
			c := store.GovCtx{DecisionID: ulid.Make().String(), At: o.now(), Principal: Principal}
			if err := o.gov(ctx, store.CmdAssessmentCreate, "assessment/"+asID, c,
				store.AssessmentCreateBody{GovCtx: c, ID: asID, AppID: in.AppID, Version: in.Version, Input: input}); err != nil {
				return "", fmt.Errorf("assessment of %s: %w", id, err)
			}
		} else if err != nil {
			return "", err
		}
		next := in.Intent
		next.ID, next.Ring = id, ring
		c := store.GovCtx{DecisionID: ulid.Make().String(), At: o.now(), Principal: Principal}
		if err := o.gov(ctx, store.CmdIntentCreate, "intent/"+id, c, store.IntentCreateBody{GovCtx: c, Intent: next, AssessmentID: asID}); err != nil {
			return "", fmt.Errorf("intent %s: %w", id, err)
		}
	} else if err != nil {
		return "", err
	}
	if _, err := o.st.Rollout(id); errors.Is(err, store.ErrNotFound) {
		nin, err := o.st.Intent(id)
		if err != nil {
			return "", err
		}
		nr := store.Rollout{IntentID: id, AppID: in.AppID, Version: in.Version, Ring: ring, Scope: *in.Scope, Base: r.Base, Prev: r.IntentID,
			State: store.RolloutAwaitingPublish, OnFailure: r.OnFailure, CreatedAt: o.now()}
		o.choose(nin, &nr)
		if err := o.save(ctx, &nr, "rollout.start", fmt.Sprintf("%s %s %s after %s", in.AppID, in.Version, ring, r.IntentID)); err != nil && !errors.Is(err, store.ErrConflict) {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	return id, nil
}

// gov proposes a governance command as the orchestrator.
func (o *Orchestrator) gov(ctx context.Context, typ, object string, c store.GovCtx, body any) error {
	a := o.audit(typ, "", "")
	a.ID, a.Time, a.Object, a.CorrelationID = c.DecisionID, c.At, object, strings.TrimPrefix(object, "intent/")
	cmd, err := store.NewCommand(typ, body, a)
	if err != nil {
		return err
	}
	_, err = o.h.Apply(ctx, cmd)
	return err
}

// awaitPublish publishes an intent the orchestrator made once its publish
// gate can pass: its evidence pack stored, a CAB approval where the risk
// or privileged tooling needs one (section 9.3). A refusal is recorded
// with its reasons and tried again after PublishRetry, or at once when a
// CAB approval appears.
func (o *Orchestrator) awaitPublish(ctx context.Context, r store.Rollout) (bool, error) {
	in, err := o.st.Intent(r.IntentID)
	if err != nil {
		return false, err
	}
	if in.Status == store.IntentPublished {
		r.State, r.Waiting, r.Backoff = store.RolloutPublishing, nil, nil
		return true, o.save(ctx, &r, "rollout.publishing", "intent published")
	}
	if in.Status != store.IntentPending {
		return false, nil
	}
	as, err := o.st.Assessment(in.AssessmentID)
	if err != nil {
		return false, err
	}
	app, err := o.st.App(in.AppID)
	if err != nil {
		return false, err
	}
	m, err := deploy.LookupModel(as.Assessment.Model)
	if err != nil {
		return false, err
	}
	needCAB, why := m.CABRequirement(as.Assessment.Score, as.Assessment.Input.PrivilegedTooling || app.PrivilegedTools, in.Ring)
	approval, err := o.approvalFor(deploy.Subject(deploy.SubjectIntent, in.ID))
	if err != nil {
		return false, err
	}
	newApproval := approval != nil && (r.Gate == nil || r.Gate.Decision != approval.ID)
	if needCAB && approval == nil {
		wait := []string{fmt.Sprintf("waiting for CAB approval of intent %s (eucora approve --subject intent:%s): %s", in.ID, in.ID, join(why))}
		if slices.Equal(wait, r.Waiting) {
			return false, nil
		}
		r.Waiting = wait
		return true, o.save(ctx, &r, "rollout.waiting", wait[0])
	}
	if o.backingOff(r) && !newApproval {
		return false, nil
	}
	pack, d, err := o.h.Evidence(ctx, in.ID)
	if err != nil {
		return false, err
	}
	if pack == nil {
		p, err := o.packFor(ctx, in)
		if err != nil {
			return false, err
		}
		if d, err = o.h.StoreEvidence(ctx, p); err != nil {
			r.Waiting = []string{fmt.Sprintf("evidence store unavailable: publish blocked (EUCORA-architecture.md section 5.7): %v", err)}
			r.Backoff = &store.Backoff{Until: o.now().Add(o.c.BackoffInitial), Failures: 1, Class: "evidence"}
			return true, o.save(ctx, &r, "rollout.waiting", r.Waiting[0])
		}
		pack = &p
	}
	c := store.GovCtx{DecisionID: ulid.Make().String(), At: o.now(), Principal: Principal}
	body := store.PublishBody{GovCtx: c, IntentID: in.ID, Evidence: d, Pack: pack}
	if approval != nil {
		body.Approval = approval.ID
		r.Gate = &store.GateRecord{At: c.At, Verdict: deploy.GateWait, Decision: approval.ID}
	}
	err = o.gov(ctx, store.CmdIntentPublish, "intent/"+in.ID, c, body)
	if errors.Is(err, deploy.ErrDenied) {
		r.Waiting = []string{"publish gate refused (decision " + c.DecisionID + "): " + err.Error()}
		r.Backoff = &store.Backoff{Until: o.now().Add(o.c.PublishRetry), Failures: 1, Class: "publish-gate"}
		return true, o.save(ctx, &r, "rollout.waiting", r.Waiting[0])
	}
	if err != nil {
		return false, err
	}
	r.State, r.Waiting, r.Backoff = store.RolloutPublishing, nil, nil
	return true, o.save(ctx, &r, "rollout.publishing", "published by decision "+c.DecisionID)
}

// measureOf is the measurement a gate result was judged on.
func measureOf(res deploy.GateResult, r *store.Rollout) deploy.RingMeasure {
	if r.Telemetry != nil {
		return r.Telemetry.Measure
	}
	return deploy.RingMeasure{Ring: res.Input.Ring, SiteClass: res.Input.SiteClass, Installed: res.Input.InstallSuccesses,
		Failed: res.Input.InstallAttempts - res.Input.InstallSuccesses, TimeToCompliance: res.Input.TimeToCompliance}
}
