package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
)

// reconcileAll compares every deployed release due for it with its plane
// (EUCORA-architecture.md section 5.6): a release stays desired from its
// publish until it is rolled back, promoted releases included (the ring
// keeps the version).
func (o *Orchestrator) reconcileAll(ctx context.Context, rep *Report) {
	rollouts, err := o.st.RolloutHeads()
	if err != nil {
		rep.fail("reconcile: %v", err)
		return
	}
	in, err := o.passInputs()
	if err != nil {
		rep.fail("reconcile: %v", err)
		return
	}
	// The open drift of every intent, read once: a pass records drift of
	// the intent it reconciles only, so the others' stay as read.
	sets, err := o.st.Drift()
	if err != nil {
		rep.fail("reconcile: drift: %v", err)
		return
	}
	in.open = make(map[string]store.DriftSet, len(sets))
	for _, d := range sets {
		in.open[d.IntentID+"\x00"+d.Plane] = d
	}
	now := o.now()
	for _, r := range rollouts {
		if !desired(r) {
			continue
		}
		o.mu.Lock()
		last, seen := o.reconciled[r.IntentID]
		o.mu.Unlock()
		if seen && now.Sub(last) < o.c.ReconcileEvery {
			continue
		}
		reads, n, err := o.reconcile(ctx, r, in)
		rep.PlaneReads += reads
		rep.Drifts += n
		if err != nil {
			rep.fail("reconcile %s: %v", r.IntentID, err)
			continue
		}
		rep.Reconciled++
		o.mu.Lock()
		o.reconciled[r.IntentID] = now
		o.mu.Unlock()
	}
	if err := o.recordSeen(ctx); err != nil {
		rep.fail("reconcile: %v", err)
	}
}

// seen returns the intent's memory of devices seen installed, read from
// the store the first time (a new leader's orchestrator finds a revert
// from its first pass).
func (o *Orchestrator) seen(intent string) (map[string]bool, error) {
	o.mu.Lock()
	m, ok := o.installed[intent]
	o.mu.Unlock()
	if ok {
		return m, nil
	}
	ds, err := o.st.InstalledSeen(intent)
	if err != nil {
		return nil, fmt.Errorf("devices seen installed: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if m, ok := o.installed[intent]; ok {
		return m, nil // another reconcile read it meanwhile
	}
	m = make(map[string]bool, len(ds))
	for _, d := range ds {
		m[d] = true
	}
	o.installed[intent] = m
	return m, nil
}

// seenPerCommand bounds the devices one record of them holds (about a
// megabyte of Raft entry): a first pass over a large estate records its
// millions in many.
const seenPerCommand = 50_000

// recordSeen records the devices seen installed for the first time since
// the last record, in commands of at most seenPerCommand devices; what
// fails to record stays to record with the next pass.
func (o *Orchestrator) recordSeen(ctx context.Context) error {
	o.mu.Lock()
	pending := o.newlySeen
	o.newlySeen = map[string][]string{}
	o.mu.Unlock()
	intents := slices.Sorted(maps.Keys(pending))
	for len(intents) > 0 {
		body := store.ReconcileSeenBody{Seen: map[string][]string{}}
		for n := 0; len(intents) > 0 && n < seenPerCommand; {
			id := intents[0]
			ds := pending[id]
			take := min(len(ds), seenPerCommand-n)
			body.Seen[id] = ds[:take]
			n += take
			if take == len(ds) {
				intents = intents[1:]
			} else {
				pending[id] = ds[take:]
			}
		}
		cmd, err := store.NewCommand(store.CmdReconcileSeen, body, nil)
		if err == nil {
			_, err = o.h.Apply(ctx, cmd)
		}
		if err != nil {
			o.mu.Lock()
			for _, id := range intents {
				o.newlySeen[id] = append(pending[id], o.newlySeen[id]...)
			}
			for id, ds := range body.Seen {
				o.newlySeen[id] = append(ds, o.newlySeen[id]...)
			}
			o.mu.Unlock()
			return fmt.Errorf("record devices seen installed: %w", err)
		}
	}
	return nil
}

// desired reports whether r's release should be on its plane now.
func desired(r store.Rollout) bool {
	if r.PublishedAt == nil || r.Plane == "" {
		return false
	}
	switch r.State {
	case store.RolloutObserving, store.RolloutPaused, store.RolloutPromoting, store.RolloutPromoted, store.RolloutCompleted:
		return true
	}
	return false
}

// Reconcile compares one rollout's release with its plane now, whatever
// its schedule; it returns the open drift after the pass.
func (o *Orchestrator) Reconcile(ctx context.Context, intent string) ([]store.DriftRecord, error) {
	r, err := o.st.Rollout(intent)
	if err != nil {
		return nil, err
	}
	if !desired(r) {
		return nil, fmt.Errorf("rollout of intent %s is %s: nothing of it is desired on a plane: %w", intent, r.State, store.ErrConflict)
	}
	in, err := o.passInputs()
	if err != nil {
		return nil, err
	}
	if _, _, err := o.reconcile(ctx, r, in); err != nil {
		return nil, err
	}
	if err := o.recordSeen(ctx); err != nil {
		return nil, err
	}
	set, err := o.st.DriftSet(intent, r.Plane)
	return set.Open, err
}

// reconcileInputs is what every rollout's reconciliation reads: the
// drift policy, every ring's targets, and (in a pass) the open drift of
// every intent by intent and plane; a nil open map reads each intent's.
type reconcileInputs struct {
	policy  deploy.DriftPolicy
	targets []store.RingTargets
	open    map[string]store.DriftSet
}

func (o *Orchestrator) passInputs() (reconcileInputs, error) {
	policy, err := o.st.DriftPolicy()
	if err != nil {
		return reconcileInputs{}, fmt.Errorf("drift policy: %w", err)
	}
	targets, err := o.st.AllRingTargets()
	if err != nil {
		return reconcileInputs{}, fmt.Errorf("ring targets: %w", err)
	}
	return reconcileInputs{policy: policy, targets: targets}, nil
}

// openDrift is the recorded open drift of r on its plane.
func (in reconcileInputs) openDrift(st State, r store.Rollout) (store.DriftSet, error) {
	if in.open == nil {
		return st.DriftSet(r.IntentID, r.Plane)
	}
	if d, ok := in.open[r.IntentID+"\x00"+r.Plane]; ok {
		return d, nil
	}
	return store.DriftSet{IntentID: r.IntentID, Plane: r.Plane}, nil
}

// reconcile reads the plane (status and the objects carrying the
// intent's correlation id), finds drift, remediates it when the policy
// enforces, and records the open drift when it changed. It returns the
// plane reads made and the drifts found. r need only hold what
// store.RolloutHeads fills in.
func (o *Orchestrator) reconcile(ctx context.Context, r store.Rollout, in reconcileInputs) (int, int, error) {
	conn, err := o.connector(r.Plane)
	if err != nil {
		return 0, 0, err
	}
	reads := 0
	obs := deploy.Observed{Held: true}
	st, err := conn.Query(ctx, key(r))
	reads++
	var ce *connectors.Error
	switch {
	case errors.As(err, &ce) && ce.NotFound:
		obs.Held = false
	case err != nil:
		return reads, 0, err
	case st.Deferred != "":
		// The plane has not run the latest call yet (a site's order in
		// transit): its state is from before it, so the drift recorded
		// stays as it is until the plane reports.
		return reads, 0, nil
	default:
		obs.Assigned = st.Assigned
		obs.Devices = st.Results()
	}
	if obs.Held {
		objs, err := conn.Find(ctx, r.IntentID)
		reads++
		if err != nil {
			return reads, 0, err
		}
		for _, x := range objs {
			po := deploy.PlaneObject{Kind: x.Kind, ID: x.ID}
			if x.Release != nil {
				po.Release = x.Release.String()
			}
			obs.Objects = append(obs.Objects, po)
		}
	}
	want := deploy.Desired{Release: key(r).String(), AppRelease: key(r).AppKey().String()}
	for _, t := range r.Targets {
		want.Targets = append(want.Targets, t.ID)
	}
	for _, rt := range in.targets {
		if rt.Plane == r.Plane && rt.Ring != r.Ring {
			for _, t := range rt.Targets {
				want.OtherTargets = append(want.OtherTargets, t.ID)
			}
		}
	}
	// The memory of devices once seen installed is read and grown under
	// the lock (a person's reconcile may run beside the loop's); it only
	// grows, in place: a reverted device is drift until it reports the
	// release installed again. What it learns is recorded with the pass.
	seen, err := o.seen(r.IntentID)
	if err != nil {
		return reads, 0, err
	}
	o.mu.Lock()
	drifts := deploy.DetectDrift(want, obs, seen)
	if obs.Held {
		for _, d := range obs.Devices {
			if d.Outcome == deploy.OutcomeInstalled && !seen[d.Device] {
				seen[d.Device] = true
				o.newlySeen[r.IntentID] = append(o.newlySeen[r.IntentID], d.Device)
			}
		}
	}
	o.mu.Unlock()

	cur, err := in.openDrift(o.st, r)
	if err != nil {
		return reads, len(drifts), err
	}
	if len(drifts) == 0 && len(cur.Open) == 0 {
		return reads, 0, nil // the common case: nothing drifted, nothing was open
	}
	var family deploy.OSFamily
	if it, err := o.st.Intent(r.IntentID); err == nil {
		if art, err := o.st.Artifact(it.AppID, it.Version, it.Artifact); err == nil {
			family = art.Platform.Family()
		}
	}
	mode, why := in.policy.Mode(family, r.SiteClass, r.Scope)
	at := o.now()
	open := make([]store.DriftRecord, 0, len(drifts))
	for _, d := range drifts {
		rec := store.DriftRecord{Drift: d, IntentID: r.IntentID, AppID: r.AppID, Plane: r.Plane, Site: r.Scope.Site, Mode: mode, FirstSeen: at, LastSeen: at}
		if i := slices.IndexFunc(cur.Open, func(x store.DriftRecord) bool { return x.Kind == d.Kind }); i >= 0 {
			rec.FirstSeen, rec.Remediated, rec.LastRemediation = cur.Open[i].FirstSeen, cur.Open[i].Remediated, cur.Open[i].LastRemediation
		}
		open = append(open, rec)
	}
	action := "drift.detected"
	var changes []string
	if mode == deploy.DriftEnforce && len(open) > 0 {
		changes, err = o.remediate(ctx, conn, r, open)
		if err != nil {
			changes = append(changes, "remediation failed: "+err.Error())
		}
		for i := range open {
			open[i].Remediated++
			open[i].LastRemediation = strings.Join(changes, "; ")
		}
		action = "drift.remediated"
	}
	if len(open) == 0 && len(cur.Open) == 0 {
		return reads, 0, nil
	}
	if len(open) == 0 {
		action = "drift.cleared"
	} else if action == "drift.detected" && sameDrift(cur.Open, open) {
		return reads, len(drifts), nil // nothing new to record
	}
	var reason []string
	for _, d := range open {
		reason = append(reason, fmt.Sprintf("%s: %s %v", d.Kind, d.Detail, d.Subjects))
	}
	if len(open) == 0 {
		reason = append(reason, fmt.Sprintf("%s on %s matches its intent again", key(r), r.Plane))
	}
	reason = append(reason, why)
	if len(changes) > 0 {
		reason = append(reason, "changed: "+strings.Join(changes, "; "))
	}
	a := o.audit(action, r.IntentID, strings.Join(reason, "; "))
	a.Object = "plane/" + r.Plane
	cmd, err := store.NewCommand(store.CmdDriftRecord, store.DriftRecordBody{IntentID: r.IntentID, Plane: r.Plane, Open: open, At: at}, a)
	if err != nil {
		return reads, len(drifts), err
	}
	_, err = o.h.Apply(ctx, cmd)
	return reads, len(drifts), err
}

// sameDrift reports whether two open sets name the same kinds, counts and
// subjects.
func sameDrift(a, b []store.DriftRecord) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].Count != b[i].Count || !slices.Equal(a[i].Subjects, b[i].Subjects) {
			return false
		}
	}
	return true
}

// remediate applies enforcement within policy: a missing object or a
// wrong assignment set is fixed by publishing the release again (which
// assigns exactly the ring's targets), a reverted device by asking the
// ring's devices to install again. An object edited outside EUCORA is
// reported, never overwritten. It returns what it changed.
func (o *Orchestrator) remediate(ctx context.Context, conn connectors.Connector, head store.Rollout, open []store.DriftRecord) ([]string, error) {
	r, err := o.st.Rollout(head.IntentID) // the whole record, to act on
	if err != nil {
		return nil, err
	}
	rel, err := o.release(ctx, r)
	if err != nil {
		return nil, err
	}
	var republish, redeploy bool
	for _, d := range open {
		switch d.Kind {
		case deploy.DriftMissingObject, deploy.DriftMissingAssignment, deploy.DriftExtraAssignment:
			republish = true
		case deploy.DriftDeviceReverted:
			redeploy = true
		}
	}
	var changes []string
	if republish {
		pub, err := conn.Publish(ctx, rel)
		if err != nil {
			return changes, err
		}
		changes = append(changes, fmt.Sprintf("published %s again: %d object(s), %d created, assigned to %d target(s)", rel.Key, len(pub.Objects), pub.Created, len(rel.Targets)))
	}
	if redeploy {
		if _, err := conn.Remediate(ctx, connectors.Remediation{Action: connectors.Redeploy, Release: rel}); err != nil {
			return changes, err
		}
		changes = append(changes, "asked the ring's devices to install "+rel.Key.String()+" again")
	}
	return changes, nil
}
