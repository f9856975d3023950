package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
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
			if slices.Equal(before, r.Waiting) {
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
			if slices.Equal(why, r.Waiting) {
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
	if n := len(r.Steps); n > 0 && r.Steps[n-1].Op == "publish" && r.Steps[n-1].Phase == "ordered" {
		return o.ordered(ctx, conn, r)
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
		r.PublishedAt = &at // time-to-compliance counts from here, at a site too
	}
	r.Backoff = nil
	if pub.Deferred != "" {
		r.Waiting = []string{pub.Deferred}
		r.Step(store.RolloutStep{Op: "publish", Phase: "ordered", At: at, Detail: pub.Handle})
		return true, o.save(ctx, &r, "rollout.ordered", fmt.Sprintf("%s on %s: %s", rel.Key, r.Plane, pub.Deferred))
	}
	r.State, r.Waiting = store.RolloutObserving, nil
	r.Step(store.RolloutStep{Op: "publish", Phase: "done", At: at, Created: pub.Created, Objects: len(pub.Objects)})
	return true, o.save(ctx, &r, "rollout.published", fmt.Sprintf("%s on %s: %d object(s), %d created", rel.Key, r.Plane, len(pub.Objects), pub.Created))
}

// ordered waits for a deferred publish (a site-local plane's order) to
// run: the ring is published once the plane reports it ran, not when the
// hub issued the order.
func (o *Orchestrator) ordered(ctx context.Context, conn connectors.Connector, r store.Rollout) (bool, error) {
	st, err := conn.Query(ctx, key(r))
	if err != nil {
		return true, o.planeFailure(ctx, &r, "query", err)
	}
	if st.Deferred != "" {
		return false, nil
	}
	r.State, r.Backoff, r.Waiting = store.RolloutObserving, nil, nil
	r.Step(store.RolloutStep{Op: "publish", Phase: "done", At: o.now(), Objects: len(st.Objects)})
	return true, o.save(ctx, &r, "rollout.published", fmt.Sprintf("%s on %s: the plane ran the order, %d object(s)", key(r), r.Plane, len(st.Objects)))
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
	return st, deploy.MeasureRing(r.Ring, r.SiteClass, *r.PublishedAt, o.now(), st.Results()), nil
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
		oldGate.Verdict == res.Verdict && slices.Equal(oldGate.Failing, res.Failing) && len(oldGate.Waiting) == len(res.Waiting)
	return !same || at.Sub(old.At) >= o.c.ObserveEvery
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
