// Package rollout is the hub's orchestrator (EUCORA-architecture.md
// sections 5.6, 5.7, 10): it turns published deployment intents into plane
// actions through the connectors, reads install results from the planes'
// own status APIs, judges each ring's promotion gate on them
// (deploy.JudgeRing), validates rollback in Ring 0 by running it, promotes
// ring by ring through the governance commands (a promotion and the next
// ring's publish are decision records like a person's), pauses or rolls
// back on a failed gate, and reconciles every deployed release with its
// plane, recording drift and, where the drift policy says enforce,
// remediating it.
//
// The orchestrator keeps nothing it needs in memory. Each unit of work is
// recorded in the replicated store before it runs and after
// (store.Rollout, written with the compare-and-set rollout.save), and
// every connector call is idempotent from what the plane holds, so a
// leader change or a kill -9 at any instant resumes where the record
// stands without a duplicate plane object. It runs on the leader only;
// Pass is one sweep, which the hub calls on a timer.
//
// It reads the store through State and acts through Host (the hub: Raft
// proposals, plane connectors, the content and evidence stores), so it is
// tested with a real store and real simulators behind real connectors.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
)

// Actor is the principal id the orchestrator acts as: a publisher of the
// whole enterprise. It never stages (Ring 0 is a packaging engineer's) and
// never approves.
const Actor = "eucora-orchestrator"

// Principal is the orchestrator's principal in decision records.
var Principal = deploy.Principal{ID: Actor, Role: deploy.RolePublisher}

// State is what the orchestrator reads; *store.State is one.
type State interface {
	Intents() ([]store.IntentRecord, error)
	Intent(id string) (store.IntentRecord, error)
	Rollouts() ([]store.Rollout, error)
	RolloutHeads() ([]store.Rollout, error)
	Rollout(intent string) (store.Rollout, error)
	Planes() ([]store.Plane, error)
	AllRingTargets() ([]store.RingTargets, error)
	Site(name string) (store.Site, error)
	App(id string) (store.AppRecord, error)
	Artifact(app, v string, d digest.Digest) (store.ArtifactRecord, error)
	Assessment(id string) (store.AssessmentRecord, error)
	Approvals() ([]deploy.ApprovalRecord, error)
	Incidents() ([]store.Incident, error)
	RollbackValidation(app, version string) (store.RollbackValidation, error)
	DriftSet(intent, plane string) (store.DriftSet, error)
	Drift() ([]store.DriftSet, error)
	DriftPolicy() (deploy.DriftPolicy, error)
	InstalledSeen(intent string) ([]string, error)
}

var _ State = (*store.State)(nil)

// Host is what the orchestrator does through the hub.
type Host interface {
	// Apply proposes a command on the leader and returns its result
	// (store.Store.Apply).
	Apply(ctx context.Context, cmd store.Command) (any, error)
	// Connector returns the registered plane's connector, with retry,
	// logging and audit (hub.Server.PlaneConnector).
	Connector(plane, actor string) (connectors.Connector, func(context.Context), error)
	// Content returns the artifact's content opener and how it installs
	// (from its deployment documentation where the factory stored one).
	Content(ctx context.Context, art store.ArtifactRecord) (connectors.Content, connectors.Install, error)
	// Evidence returns the evidence pack stored for an intent (nil, ""
	// when none is).
	Evidence(ctx context.Context, intent string) (*deploy.EvidencePack, digest.Digest, error)
	// StoreDoc stores a document in the evidence store and returns its
	// reference.
	StoreDoc(ctx context.Context, mediaType, title string, body []byte) (deploy.DocRef, error)
	// StoreEvidence signs, stores and records an evidence pack and
	// returns its digest; it fails when the evidence store is not
	// writable (section 5.7: publish blocked, promotions paused).
	StoreEvidence(ctx context.Context, pack deploy.EvidencePack) (digest.Digest, error)
}

// Config tunes the orchestrator. Zero values take the defaults.
type Config struct {
	Now func() time.Time
	Log *slog.Logger
	// ReconcileEvery is how often each deployed release is compared with
	// its plane (default 1 minute).
	ReconcileEvery time.Duration
	// ObserveEvery is the most often an unchanged telemetry reading is
	// recorded (default 1 minute); a changed one is recorded at once.
	ObserveEvery time.Duration
	// BackoffInitial and BackoffMax bound a plane's pause after it was
	// unavailable (defaults 15 s and 30 min, doubling).
	BackoffInitial, BackoffMax time.Duration
	// PublishRetry is how long a refused publish of an orchestrator-made
	// intent waits before it is tried again (default 5 minutes; a new
	// CAB approval retries at once).
	PublishRetry time.Duration
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.ReconcileEvery <= 0 {
		c.ReconcileEvery = time.Minute
	}
	if c.ObserveEvery <= 0 {
		c.ObserveEvery = time.Minute
	}
	if c.BackoffInitial <= 0 {
		c.BackoffInitial = 15 * time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Minute
	}
	if c.PublishRetry <= 0 {
		c.PublishRetry = 5 * time.Minute
	}
	return c
}

// Orchestrator runs rollouts. Its in-memory state is a cache: of the
// connectors, of when each release was last reconciled, and of the
// devices reconciliation saw installed (to find reverts), which it reads
// from the store on first use and records there as it grows; losing it
// loses nothing recorded.
type Orchestrator struct {
	st State
	h  Host
	c  Config

	mu         sync.Mutex
	conns      map[string]planeConn
	installed  map[string]map[string]bool
	newlySeen  map[string][]string // seen installed, not yet recorded
	reconciled map[string]time.Time
}

type planeConn struct {
	c     connectors.Connector
	close func(context.Context)
}

// New makes an orchestrator.
func New(st State, h Host, c Config) *Orchestrator {
	return &Orchestrator{st: st, h: h, c: c.withDefaults(), conns: map[string]planeConn{},
		installed: map[string]map[string]bool{}, newlySeen: map[string][]string{}, reconciled: map[string]time.Time{}}
}

// Close releases the connectors.
func (o *Orchestrator) Close(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, pc := range o.conns {
		pc.close(ctx)
	}
	o.conns = map[string]planeConn{}
}

// Report counts what one pass did.
type Report struct {
	Rollouts   int      `json:"rollouts"`
	Started    int      `json:"started"`
	Steps      int      `json:"steps"`
	Reconciled int      `json:"reconciled"`
	PlaneReads int      `json:"plane_reads"`
	Drifts     int      `json:"drifts"`
	Errors     []string `json:"errors,omitempty"`
}

func (r *Report) fail(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

// Pass is one sweep: every published intent without a rollout gets one,
// every active rollout takes its next step, and every deployed release due
// for reconciliation is compared with its plane. Errors of one rollout do
// not stop the others; they are in the report (and the rollout's record
// when they are the plane's).
func (o *Orchestrator) Pass(ctx context.Context) (Report, error) {
	var rep Report
	intents, err := o.st.Intents()
	if err != nil {
		return rep, err
	}
	rollouts, err := o.st.Rollouts()
	if err != nil {
		return rep, err
	}
	have := make(map[string]bool, len(rollouts))
	for _, r := range rollouts {
		have[r.IntentID] = true
	}
	for _, in := range intents {
		if in.Status != store.IntentPublished || have[in.ID] {
			continue
		}
		if err := o.start(ctx, in); err != nil {
			rep.fail("start rollout of %s: %v", in.ID, err)
			continue
		}
		rep.Started++
	}
	if rep.Started > 0 {
		if rollouts, err = o.st.Rollouts(); err != nil {
			return rep, err
		}
	}
	w := world{rollouts: rollouts}
	for i := range rollouts {
		r := rollouts[i]
		if store.RolloutFinal(r.State) {
			continue
		}
		rep.Rollouts++
		stepped, err := o.step(ctx, &w, r)
		if stepped {
			rep.Steps++
		}
		if err != nil && !errors.Is(err, store.ErrConflict) {
			rep.fail("rollout %s: %v", r.IntentID, err)
		}
	}
	o.reconcileAll(ctx, &rep)
	return rep, ctx.Err()
}

// world is what one pass knows about every rollout (for one active change
// per app and ring at execution time).
type world struct{ rollouts []store.Rollout }

// busy returns another rollout of the same app, ring and acquisition that
// is acting on its plane.
func (w *world) busy(r store.Rollout) string {
	for _, x := range w.rollouts {
		if x.IntentID == r.IntentID || x.AppID != r.AppID || x.Ring != r.Ring || x.Scope.Acquisition != r.Scope.Acquisition {
			continue
		}
		switch x.State {
		case store.RolloutObserving, store.RolloutValidating, store.RolloutRollingBack, store.RolloutPromoting:
			return x.IntentID
		case store.RolloutPublishing, store.RolloutPaused:
			if x.PublishedAt != nil {
				return x.IntentID
			}
		}
	}
	return ""
}

func (o *Orchestrator) now() time.Time { return o.c.Now().UTC() }

func (o *Orchestrator) audit(action, intent, reason string) *store.AuditInput {
	return &store.AuditInput{ID: ulid.Make().String(), Time: o.now(), Actor: Actor, Role: string(deploy.RolePublisher),
		Action: action, Object: "intent/" + intent, CorrelationID: intent, Reason: reason}
}

// save writes r at the revision it was read at; on success r holds the
// stored record.
func (o *Orchestrator) save(ctx context.Context, r *store.Rollout, action, reason string) error {
	r.UpdatedAt = o.now()
	cmd, err := store.NewCommand(store.CmdRolloutSave, store.RolloutSaveBody{Rollout: *r, BaseRev: r.Rev}, o.audit(action, r.IntentID, reason))
	if err != nil {
		return err
	}
	v, err := o.h.Apply(ctx, cmd)
	if err != nil {
		return err
	}
	if got, ok := v.(store.Rollout); ok {
		*r = got
	}
	return nil
}

// connector returns the cached connector of a plane.
func (o *Orchestrator) connector(plane string) (connectors.Connector, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if pc, ok := o.conns[plane]; ok {
		return pc.c, nil
	}
	c, closeFn, err := o.h.Connector(plane, Actor)
	if err != nil {
		return nil, err
	}
	o.conns[plane] = planeConn{c: c, close: closeFn}
	return c, nil
}

// start makes the rollout record of a published intent that has none.
func (o *Orchestrator) start(ctx context.Context, in store.IntentRecord) error {
	at := o.now()
	r := store.Rollout{IntentID: in.ID, AppID: in.AppID, Version: in.Version, Ring: in.Ring, Scope: *in.Scope, Base: in.ID,
		State: store.RolloutPublishing, OnFailure: store.OnFailurePause, CreatedAt: at}
	o.choose(in, &r)
	return o.save(ctx, &r, "rollout.start", fmt.Sprintf("%s %s %s through %s", in.AppID, in.Version, in.Ring, orNone(r.Plane)))
}

// choose picks the plane, its ring targets and the prior release of r
// (EUCORA-architecture.md sections 3.3, 8.3, 8.4). Without a plane the
// rollout waits, saying what to register.
func (o *Orchestrator) choose(in store.IntentRecord, r *store.Rollout) {
	r.SiteClass = deploy.SiteOnline
	if in.Scope.Site != "" {
		if site, err := o.st.Site(in.Scope.Site); err == nil {
			r.SiteClass = deploy.SiteClass(site.Class)
		}
	}
	art, err := o.st.Artifact(in.AppID, in.Version, in.Artifact)
	if err != nil {
		r.Waiting = []string{fmt.Sprintf("artifact %s: %v", in.Artifact.Short(), err)}
		return
	}
	planes, _ := o.st.Planes()
	targets, _ := o.st.AllRingTargets()
	byKind := map[string]store.Plane{}
	var missingTargets []string
	for _, p := range planes { // name order: the first plane of a kind wins
		if !p.Scope.Contains(*in.Scope) {
			continue
		}
		if _, ok := byKind[p.Kind]; ok {
			continue
		}
		if ringTargetsOf(targets, p.Name, in.Ring) == nil {
			missingTargets = append(missingTargets, p.Name)
			continue
		}
		byKind[p.Kind] = p
	}
	choice, err := deploy.ChoosePlane(art.Platform, r.SiteClass, func(k string) bool { _, ok := byKind[k]; return ok })
	if err != nil {
		r.Waiting = []string{err.Error()}
		if len(missingTargets) > 0 {
			r.Waiting = append(r.Waiting, fmt.Sprintf("plane(s) %v have no groups for %s: eucora plane ring PLANE %d --group ID", missingTargets, in.Ring, int(in.Ring)))
		}
		return
	}
	p := byKind[choice.Kind]
	r.Plane, r.PlaneKind, r.PlaneReason, r.Waiting = p.Name, p.Kind, choice.Reason, nil
	r.Targets = ringTargetsOf(targets, p.Name, in.Ring).Targets
	r.Prior = o.priorVersion(*r)
}

func ringTargetsOf(all []store.RingTargets, plane string, ring deploy.Ring) *store.RingTargets {
	for i := range all {
		if all[i].Plane == plane && all[i].Ring == ring {
			return &all[i]
		}
	}
	return nil
}

// priorVersion is the version the ring held before r's: the newest other
// version of the app whose rollout at the same ring and scope reached its
// plane and was not rolled back.
func (o *Orchestrator) priorVersion(r store.Rollout) string {
	rollouts, _ := o.st.Rollouts()
	var best *store.Rollout
	for i := range rollouts {
		x := &rollouts[i]
		if x.AppID != r.AppID || x.Version == r.Version || x.Ring != r.Ring || x.Scope != r.Scope || x.PublishedAt == nil ||
			x.State == store.RolloutRolledBack || x.Plane != r.Plane {
			continue
		}
		if best == nil || x.PublishedAt.After(*best.PublishedAt) {
			best = x
		}
	}
	if best == nil {
		return ""
	}
	return best.Version
}

// key is the release key of r on its plane.
func key(r store.Rollout) connectors.ReleaseKey {
	return connectors.ReleaseKey{App: r.AppID, Version: r.Version, Ring: r.Ring, Scope: r.Scope}
}

// release builds what the connector publishes for r.
func (o *Orchestrator) release(ctx context.Context, r store.Rollout) (connectors.Release, error) {
	in, err := o.st.Intent(r.IntentID)
	if err != nil {
		return connectors.Release{}, err
	}
	art, err := o.st.Artifact(in.AppID, in.Version, in.Artifact)
	if err != nil {
		return connectors.Release{}, err
	}
	content, install, err := o.h.Content(ctx, art)
	if err != nil {
		return connectors.Release{}, err
	}
	rel := connectors.Release{Key: key(r), CorrelationID: r.IntentID, DisplayName: in.AppID + " " + in.Version, Content: content,
		Install: install, Required: true, Deadline: in.Schedule.Deadline}
	if app, err := o.st.App(in.AppID); err == nil {
		rel.DisplayName, rel.Publisher = app.Name+" "+in.Version, app.Owner
	}
	for _, t := range r.Targets {
		rel.Targets = append(rel.Targets, connectors.Target(t))
	}
	if r.Prior != "" {
		p := connectors.ReleaseKey{App: r.AppID, Version: r.Prior, Ring: r.Ring, Scope: r.Scope}
		rel.Prior = &p
	}
	return rel, nil
}

// planeFailure records a failed plane call: a transient failure (the plane
// unavailable or throttling) backs the rollout off, doubling up to
// BackoffMax, with one incident event per outage (section 5.7); any other
// failure pauses the rollout for a person, with the plane's words.
func (o *Orchestrator) planeFailure(ctx context.Context, r *store.Rollout, op string, err error) error {
	at := o.now()
	class := connectors.ClassOf(err)
	r.Step(store.RolloutStep{Op: op, Phase: "failed", At: at, Detail: err.Error(), Class: class.String()})
	if class == connectors.Transient {
		n := 1
		if r.Backoff != nil {
			n = r.Backoff.Failures + 1
		}
		wait := o.c.BackoffInitial << min(n-1, 20)
		wait = min(wait, o.c.BackoffMax)
		r.Backoff = &store.Backoff{Until: at.Add(wait), Failures: n, Class: class.String(), Message: err.Error()}
		r.Waiting = []string{fmt.Sprintf("plane %s unavailable (%s): its promotions are paused, next try at %s", r.Plane, class, r.Backoff.Until.Format(time.RFC3339))}
		action := "rollout.backoff"
		if n == 1 {
			action = "rollout.plane-unavailable"
		}
		return o.save(ctx, r, action, fmt.Sprintf("%s on plane %s failed (%d in a row): %v", op, r.Plane, n, err))
	}
	r.State, r.PausedBy, r.PauseReason = store.RolloutPaused, Actor, fmt.Sprintf("%s on plane %s failed (%s): %v", op, r.Plane, class, err)
	return o.save(ctx, r, "rollout.paused", r.PauseReason)
}

func (o *Orchestrator) backingOff(r store.Rollout) bool {
	return r.Backoff != nil && o.now().Before(r.Backoff.Until)
}

func orNone(s string) string {
	if s == "" {
		return "(no plane yet)"
	}
	return s
}

func join(xs []string) string { return strings.Join(xs, "; ") }
