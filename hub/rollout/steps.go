package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
)

// step takes r's next step; it reports whether it recorded one.
func (o *Orchestrator) step(ctx context.Context, w *world, r store.Rollout) (bool, error) {
	switch r.State {
	case store.RolloutAwaitingPublish:
		return o.awaitPublish(ctx, r)
	case store.RolloutPublishing:
		return o.publish(ctx, w, r)
	case store.RolloutObserving:
		return o.observe(ctx, r)
	case store.RolloutValidating:
		return o.validate(ctx, r)
	case store.RolloutPromoting:
		return o.promote(ctx, r)
	case store.RolloutRollingBack:
		return o.rollBack(ctx, r)
	}
	return false, nil // paused and final states wait for a person
}

// publish puts the release on the plane: recorded before, done after.
func (o *Orchestrator) publish(ctx context.Context, w *world, r store.Rollout) (bool, error) {
	if r.Plane == "" {
		in, err := o.st.Intent(r.IntentID)
		if err != nil {
			return false, err
		}
		before := slices.Clone(r.Waiting)
		o.choose(in, &r)
		if r.Plane == "" {
			if sameStrings(before, r.Waiting) {
				return false, nil
			}
			return true, o.save(ctx, &r, "rollout.waiting", join(r.Waiting))
		}
	}
	if other := w.busy(r); other != "" {
		in, err := o.st.Intent(r.IntentID)
		if err != nil {
			return false, err
		}
		if in.ConcurrencyApproval == "" {
			why := []string{fmt.Sprintf("one active change per app and ring (EUCORA-architecture.md section 5.6): %s is acting on %s %s", other, r.AppID, r.Ring)}
			if sameStrings(why, r.Waiting) {
				return false, nil
			}
			r.Waiting = why
			return true, o.save(ctx, &r, "rollout.waiting", why[0])
		}
	}
	if o.backingOff(r) {
		return false, nil
	}
	conn, err := o.connector(r.Plane)
	if err != nil {
		r.Waiting = []string{fmt.Sprintf("plane %s: %v", r.Plane, err)}
		return true, o.save(ctx, &r, "rollout.waiting", r.Waiting[0])
	}
	rel, err := o.release(ctx, r)
	if err != nil {
		return false, err
	}
	r.Step(store.RolloutStep{Op: "publish", Phase: "begin", At: o.now(), Detail: fmt.Sprintf("%s to %d group(s) on %s", rel.Key, len(rel.Targets), r.Plane)})
	if err := o.save(ctx, &r, "rollout.publish", rel.Key.String()); err != nil {
		return false, err
	}
	pub, err := conn.Publish(ctx, rel)
	if err != nil {
		return true, o.planeFailure(ctx, &r, "publish", err)
	}
	at := o.now()
	if r.PublishedAt == nil {
		r.PublishedAt = &at
	}
	r.State, r.Backoff, r.Waiting = store.RolloutObserving, nil, nil
	r.Step(store.RolloutStep{Op: "publish", Phase: "done", At: at, Created: pub.Created, Objects: len(pub.Objects)})
	return true, o.save(ctx, &r, "rollout.published", fmt.Sprintf("%s on %s: %d object(s), %d created", rel.Key, r.Plane, len(pub.Objects), pub.Created))
}

// measure reads the plane's status of r's release and measures the ring.
func (o *Orchestrator) measure(ctx context.Context, r store.Rollout) (connectors.Status, deploy.RingMeasure, error) {
	conn, err := o.connector(r.Plane)
	if err != nil {
		return connectors.Status{}, deploy.RingMeasure{}, err
	}
	st, err := conn.Query(ctx, key(r))
	if err != nil {
		return st, deploy.RingMeasure{}, err
	}
	return st, deploy.MeasureRing(r.Ring, r.SiteClass, *r.PublishedAt, o.now(), deviceResults(st)), nil
}

func deviceResults(st connectors.Status) []deploy.DeviceResult {
	out := make([]deploy.DeviceResult, len(st.Devices))
	for i, d := range st.Devices {
		id := d.DeviceID
		if id == "" {
			id = d.Device
		}
		out[i] = deploy.DeviceResult{Device: id, Outcome: deploy.DeviceOutcome(d.State), At: d.At}
	}
	return out
}

// gate builds the ring gate of r on a measurement. withEvidence judges it
// as if the ring's results were stored (they are written when the gate
// passes, just before the promotion that checks them).
func (o *Orchestrator) gate(r store.Rollout, m deploy.RingMeasure, withEvidence bool) (deploy.RingGate, string, error) {
	in, err := o.st.Intent(r.IntentID)
	if err != nil {
		return deploy.RingGate{}, "", err
	}
	as, err := o.st.Assessment(in.AssessmentID)
	if err != nil {
		return deploy.RingGate{}, "", err
	}
	g := deploy.RingGate{IntentID: r.IntentID, Measure: m, Risk: &as.Assessment, EvidenceStored: withEvidence}
	if r.PlaneKind != "" {
		g.Planes = []string{r.PlaneKind}
	}
	incidents, err := o.st.Incidents()
	if err != nil {
		return g, "", err
	}
	for _, i := range incidents {
		if i.Counts(r.AppID, r.Version) {
			g.AttributableIncidents++
		}
	}
	rv, err := o.st.RollbackValidation(r.AppID, r.Version)
	if err != nil {
		return g, "", err
	}
	for k := range rv.Planes {
		g.RollbackValidated = append(g.RollbackValidated, k)
	}
	slices.Sort(g.RollbackValidated)
	approval, err := o.approvalFor(deploy.Subject(deploy.SubjectIntent, r.IntentID))
	if err != nil {
		return g, "", err
	}
	if approval != nil {
		g.CABApproval = approval
		return g, approval.ID, nil
	}
	return g, "", nil
}

// approvalFor returns the newest approved CAB record of a subject, if any.
func (o *Orchestrator) approvalFor(subject string) (*deploy.ApprovalRecord, error) {
	all, err := o.st.Approvals()
	if err != nil {
		return nil, err
	}
	var best *deploy.ApprovalRecord
	for i := range all {
		a := &all[i]
		if a.Subject != subject || a.Decision != deploy.Approved {
			continue
		}
		if best == nil || a.DecidedAt.After(best.DecidedAt) {
			best = a
		}
	}
	return best, nil
}

// observe reads install results, judges the gate and moves on: pass to
// Ring 0's rollback run or to promotion, fail to pause or rollback.
func (o *Orchestrator) observe(ctx context.Context, r store.Rollout) (bool, error) {
	if o.backingOff(r) {
		return false, nil
	}
	st, m, err := o.measure(ctx, r)
	if err != nil {
		if ce := (*connectors.Error)(nil); errors.As(err, &ce) && ce.NotFound {
			// Planes are eventually consistent; reconciliation reports a
			// release that stays missing.
			return false, nil
		}
		return true, o.planeFailure(ctx, &r, "query", err)
	}
	g, _, err := o.gate(r, m, true)
	if err != nil {
		return false, err
	}
	// Ring 0 validates the rollback itself: its gate is judged as if it
	// were validated, and a pass runs the rollback first.
	validate := r.Ring == deploy.Ring0Lab && r.PlaneKind != "" && !slices.Contains(g.RollbackValidated, r.PlaneKind)
	if validate {
		g.RollbackValidated = append(g.RollbackValidated, r.PlaneKind)
	}
	res := deploy.JudgeRing(g, o.now())
	changed := o.record(&r, st, m, res)
	switch res.Verdict {
	case deploy.GatePass:
		if validate {
			r.State, r.Validation = store.RolloutValidating, ""
			return true, o.save(ctx, &r, "rollout.validate-rollback", fmt.Sprintf("Ring 0 passed (%d/%d installed): running the rollback on %s to validate it", m.Installed, m.Targeted, r.Plane))
		}
		r.State = store.RolloutPromoting
		return true, o.save(ctx, &r, "rollout.gate-passed", join(res.Decision.Reasons()))
	case deploy.GateFail:
		if r.OnFailure == store.OnFailureRollback {
			r.State, r.RollbackRequested, r.PauseReason = store.RolloutRollingBack, true, join(res.Failing)
			return true, o.save(ctx, &r, "rollout.gate-failed", "rolling back: "+join(res.Failing))
		}
		r.State, r.PausedBy, r.PauseReason = store.RolloutPaused, Actor, join(res.Failing)
		return true, o.save(ctx, &r, "rollout.gate-failed", "paused: "+join(res.Failing))
	}
	if !changed {
		return false, nil
	}
	return true, o.save(ctx, &r, "rollout.observed", fmt.Sprintf("%d/%d installed, %d failed, %d waiting: %s", m.Installed, m.Targeted, m.Failed, m.Waiting, join(res.Waiting)))
}

// record puts a reading and its gate in r; it reports whether they
// changed enough to be worth a Raft entry (counts, verdict, reasons, or
// ObserveEvery passed).
func (o *Orchestrator) record(r *store.Rollout, st connectors.Status, m deploy.RingMeasure, res deploy.GateResult) bool {
	at := o.now()
	old, oldGate := r.Telemetry, r.Gate
	r.Telemetry = &store.Telemetry{At: at, Measure: m, Assigned: st.Assigned, Objects: len(st.Objects)}
	r.Gate = &store.GateRecord{At: at, Verdict: res.Verdict, Waiting: res.Waiting, Failing: res.Failing}
	r.Backoff = nil
	if old == nil || oldGate == nil {
		return true
	}
	om := old.Measure
	same := om.Installed == m.Installed && om.Failed == m.Failed && om.Waiting == m.Waiting && om.Targeted == m.Targeted &&
		oldGate.Verdict == res.Verdict && sameStrings(oldGate.Failing, res.Failing) && len(oldGate.Waiting) == len(res.Waiting)
	return !same || at.Sub(old.At) >= o.c.ObserveEvery
}

// validate runs Ring 0's rollback on the plane and checks the devices
// follow it: uninstall (every device reports it not installed), then
// install again (the gate passes again), then records the plane's
// rollback as validated for the version (section 10.2 "rollback validated
// for the plane(s)").
func (o *Orchestrator) validate(ctx context.Context, r store.Rollout) (bool, error) {
	if o.backingOff(r) {
		return false, nil
	}
	conn, err := o.connector(r.Plane)
	if err != nil {
		return false, err
	}
	rel, err := o.release(ctx, r)
	if err != nil {
		return false, err
	}
	switch r.Validation {
	case "":
		r.Step(store.RolloutStep{Op: "validate-uninstall", Phase: "begin", At: o.now()})
		if err := o.save(ctx, &r, "rollout.validate-uninstall", rel.Key.String()); err != nil {
			return false, err
		}
		if _, err := conn.Remediate(ctx, connectors.Remediation{Action: connectors.Uninstall, Release: rel}); err != nil {
			return true, o.planeFailure(ctx, &r, "validate-uninstall", err)
		}
		r.Validation = "uninstalling"
		r.Step(store.RolloutStep{Op: "validate-uninstall", Phase: "done", At: o.now()})
		return true, o.save(ctx, &r, "rollout.validate-uninstall", "uninstall assigned; waiting for the devices to report it")
	case "uninstalling":
		st, m, err := o.measure(ctx, r)
		if err != nil {
			return true, o.planeFailure(ctx, &r, "query", err)
		}
		left := m.Installed + m.Failed
		if m.Targeted == 0 || left > 0 {
			changed := r.Telemetry == nil || r.Telemetry.Measure.Installed != m.Installed
			r.Telemetry = &store.Telemetry{At: o.now(), Measure: m, Assigned: st.Assigned, Objects: len(st.Objects)}
			if !changed {
				return false, nil
			}
			return true, o.save(ctx, &r, "rollout.observed", fmt.Sprintf("rollback validation: %d device(s) still report the release installed", m.Installed))
		}
		r.Step(store.RolloutStep{Op: "validate-redeploy", Phase: "begin", At: o.now()})
		if err := o.save(ctx, &r, "rollout.validate-redeploy", fmt.Sprintf("all %d device(s) uninstalled: installing again", m.Targeted)); err != nil {
			return false, err
		}
		if _, err := conn.Remediate(ctx, connectors.Remediation{Action: connectors.Redeploy, Release: rel}); err != nil {
			return true, o.planeFailure(ctx, &r, "validate-redeploy", err)
		}
		r.Validation = "reinstalling"
		r.Step(store.RolloutStep{Op: "validate-redeploy", Phase: "done", At: o.now()})
		return true, o.save(ctx, &r, "rollout.validate-redeploy", "install assigned again")
	case "reinstalling":
		_, m, err := o.measure(ctx, r)
		if err != nil {
			return true, o.planeFailure(ctx, &r, "query", err)
		}
		if m.Installed*100 < m.Threshold*m.Targeted || m.Targeted == 0 {
			return false, nil
		}
		cmd, err := store.NewCommand(store.CmdRolloutValidate, store.RolloutValidateBody{AppID: r.AppID, Version: r.Version, PlaneKind: r.PlaneKind,
			IntentID: r.IntentID, At: o.now()}, o.audit("rollout.rollback-validated", r.IntentID, fmt.Sprintf("rollback on %s (%s) ran in Ring 0: %d device(s) uninstalled and reinstalled", r.Plane, r.PlaneKind, m.Targeted)))
		if err != nil {
			return false, err
		}
		if _, err := o.h.Apply(ctx, cmd); err != nil {
			return false, err
		}
		r.Validation, r.State = "validated", store.RolloutObserving
		return true, o.save(ctx, &r, "rollout.observing", "rollback validated")
	}
	return false, nil
}

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
			if sameStrings(why, r.Waiting) {
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
		if sameStrings(wait, r.Waiting) {
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

// rollBack applies the plane's rollback (section 10.3): the prior version
// pinned back where the ring held one, otherwise an uninstall from the
// ring's devices.
func (o *Orchestrator) rollBack(ctx context.Context, r store.Rollout) (bool, error) {
	if o.backingOff(r) {
		return false, nil
	}
	conn, err := o.connector(r.Plane)
	if err != nil {
		return false, err
	}
	rel, err := o.release(ctx, r)
	if err != nil {
		return false, err
	}
	action := connectors.Uninstall
	what := fmt.Sprintf("uninstall %s from the ring's devices (no earlier version at %s)", rel.Key, r.Ring)
	if rel.Prior != nil {
		action = connectors.PinPrior
		what = fmt.Sprintf("pin %s back to %s", r.Ring, rel.Prior)
	}
	r.Step(store.RolloutStep{Op: "rollback", Phase: "begin", At: o.now(), Detail: what})
	if err := o.save(ctx, &r, "rollout.rollback", what); err != nil {
		return false, err
	}
	pub, err := conn.Remediate(ctx, connectors.Remediation{Action: action, Release: rel})
	if err != nil {
		return true, o.planeFailure(ctx, &r, "rollback", err)
	}
	r.State, r.RollbackAction, r.Backoff, r.Waiting = store.RolloutRolledBack, what, nil, nil
	r.Step(store.RolloutStep{Op: "rollback", Phase: "done", At: o.now(), Objects: len(pub.Objects), Created: pub.Created})
	return true, o.save(ctx, &r, "rollout.rolled-back", what)
}

// measureOf is the measurement a gate result was judged on.
func measureOf(res deploy.GateResult, r *store.Rollout) deploy.RingMeasure {
	if r.Telemetry != nil {
		return r.Telemetry.Measure
	}
	return deploy.RingMeasure{Ring: res.Input.Ring, SiteClass: res.Input.SiteClass, Installed: res.Input.InstallSuccesses,
		Failed: res.Input.InstallAttempts - res.Input.InstallSuccesses, TimeToCompliance: res.Input.TimeToCompliance}
}

// GateError is a person's promotion refused because the ring's gate does
// not pass on the plane's telemetry now.
type GateError struct {
	Intent  string
	Verdict deploy.GateVerdict
	Reasons []string
}

func (e *GateError) Error() string {
	return fmt.Sprintf("intent %s: the promotion gate does not pass (%s): %s", e.Intent, e.Verdict, strings.Join(e.Reasons, "; "))
}

// PromoteNow is a person's promotion: the gate is judged on the plane's
// telemetry now, like the automatic one, and when it passes the rollout
// goes to promoting (a paused rollout too: the person decided). It fails
// with a *GateError naming what waits or fails otherwise.
func (o *Orchestrator) PromoteNow(ctx context.Context, intent, by string) (store.Rollout, deploy.GateResult, error) {
	r, err := o.st.Rollout(intent)
	if err != nil {
		return r, deploy.GateResult{}, err
	}
	if (r.State != store.RolloutObserving && r.State != store.RolloutPaused) || r.PublishedAt == nil {
		return r, deploy.GateResult{}, fmt.Errorf("rollout of intent %s is %s: promotion judges a ring whose release is on its plane: %w", intent, r.State, store.ErrConflict)
	}
	st, m, err := o.measure(ctx, r)
	if err != nil {
		return r, deploy.GateResult{}, err
	}
	g, _, err := o.gate(r, m, true)
	if err != nil {
		return r, deploy.GateResult{}, err
	}
	res := deploy.JudgeRing(g, o.now())
	if res.Verdict != deploy.GatePass {
		return r, res, &GateError{Intent: intent, Verdict: res.Verdict, Reasons: append(res.Failing, res.Waiting...)}
	}
	o.record(&r, st, m, res)
	r.State, r.PausedBy, r.PauseReason = store.RolloutPromoting, "", ""
	r.Step(store.RolloutStep{Op: "promote", Phase: "begin", At: o.now(), Detail: "requested by " + by})
	return r, res, o.save(ctx, &r, "rollout.promote-requested", fmt.Sprintf("%s: gate passes (%d/%d installed); promotion requested by %s", r.Ring, m.Installed, m.Targeted, by))
}
