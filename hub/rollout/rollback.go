package rollout

// Rollback: Ring 0's validation run and a ring's rollback on its plane
// (EUCORA-architecture.md section 10.3).

import (
	"context"
	"fmt"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/hub/store"
)

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
		return o.remediateStep(ctx, conn, &r, rel, connectors.Uninstall, "validate-uninstall", "uninstalling", rel.Key.String(),
			"uninstall assigned; waiting for the devices to report it")
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
		return o.remediateStep(ctx, conn, &r, rel, connectors.Redeploy, "validate-redeploy", "reinstalling",
			fmt.Sprintf("all %d device(s) uninstalled: installing again", m.Targeted), "install assigned again")
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

// remediateStep is one recorded remediation of Ring 0's rollback run:
// begun, applied on the plane, then done with the validation phase next.
func (o *Orchestrator) remediateStep(ctx context.Context, conn connectors.Connector, r *store.Rollout, rel connectors.Release,
	action connectors.Action, op, next, before, after string) (bool, error) {
	r.Step(store.RolloutStep{Op: op, Phase: "begin", At: o.now()})
	if err := o.save(ctx, r, "rollout."+op, before); err != nil {
		return false, err
	}
	if _, err := conn.Remediate(ctx, connectors.Remediation{Action: action, Release: rel}); err != nil {
		return true, o.planeFailure(ctx, r, op, err)
	}
	r.Validation = next
	r.Step(store.RolloutStep{Op: op, Phase: "done", At: o.now()})
	return true, o.save(ctx, r, "rollout."+op, after)
}
