package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
)

// The estate of the architecture document at full size: 50,000 devices,
// 5,000 applications, 500 sites, 5 rings. Its acquisitions are its
// acquisition boundaries (an intent targets one at most, deploy.Intent)
// and each has its own Intune tenant, registered as one plane scoped to
// it. A fraction of the estate keeps every acquisition's shape and has
// fewer of them.
const (
	appsPerAcq     = 500
	sitesPerAcq    = 50
	devicesPerSite = 100
	fullAcqs       = 10
)

// ringShare is how many of a site's 100 devices each ring holds (Lab,
// Canary, Pilot, Department, Global): across the full estate Rings 0-4
// hold 500, 2,000, 7,500, 10,000 and 30,000 devices.
var ringShare = [5]int{1, 4, 15, 20, 60}

// estate is one size of the estate.
type estate struct {
	acqs int
}

func estateOf(frac float64) estate {
	return estate{acqs: max(1, int(frac*fullAcqs+0.5))}
}

func (e estate) apps() int    { return e.acqs * appsPerAcq }
func (e estate) sites() int   { return e.acqs * sitesPerAcq }
func (e estate) devices() int { return e.acqs * sitesPerAcq * devicesPerSite }

func acqName(a int) string          { return fmt.Sprintf("acq%02d", a+1) }
func siteName(a, s int) string      { return fmt.Sprintf("%s-s%03d", acqName(a), s+1) }
func planeName(a int) string        { return "intune-" + acqName(a) }
func ringGroup(a int, r int) string { return fmt.Sprintf("%s-ring-%d", acqName(a), r) }

// hqSite is a site whose scope is the whole enterprise: every intent of
// every acquisition is in its scope (the worst case of a site's delta).
const hqSite = "hq"

// appRef is one application of the estate with its one active intent.
type appRef struct {
	acq      int
	n        int
	id       string
	version  string
	intent   string
	ring     deploy.Ring
	risky    bool // risk > 50: CAB approval beyond Ring 1
	body     []byte
	artifact digest.Digest
}

func (e estate) appRefs() []appRef {
	var out []appRef
	for a := range e.acqs {
		for n := range appsPerAcq {
			id := fmt.Sprintf("com.%s.app%04d", acqName(a), n+1)
			v := fmt.Sprintf("%d.%d.%d", 1+n%7, n%11, n%3)
			body := []byte(fmt.Sprintf("MSI setup of %s %s\n%0600d", id, v, n))
			out = append(out, appRef{acq: a, n: n, id: id, version: v, intent: fmt.Sprintf("i-%s-%04d", acqName(a), n+1),
				ring: deploy.Ring(n % 5), risky: n%10 == 7, body: body, artifact: digest.FromBytes(body)})
		}
	}
	return out
}

func (a appRef) scope() deploy.Scope { return deploy.Scope{Acquisition: acqName(a.acq)} }

func (a appRef) msiName() string { return strings.TrimPrefix(a.id, "com.") + "-" + a.version + ".msi" }

// The people of the estate's governance (enterprise-wide principals).
var (
	pat   = deploy.Principal{ID: "pat", Role: deploy.RolePackagingEngineer}
	carol = deploy.Principal{ID: "carol", Role: deploy.RoleCABApprover}
	rita  = deploy.Principal{ID: "rita", Role: deploy.RolePublisher}
	admin = deploy.Principal{ID: "admin", Role: deploy.RolePlatformAdmin}
)

// hub is a single-node hub store: real Raft (in-memory log and
// transport) over the real FSM and Pebble state, without the HTTP server.
type hub struct {
	st       *store.Store
	commands atomic.Int64
}

func openHub(ctx context.Context, dir string) (*hub, error) {
	addr, trans := raft.NewInmemTransport("")
	logs := raft.NewInmemStore()
	st, err := store.Open(store.Config{
		Dir: filepath.Join(dir, "hub"), NodeID: "bench", RaftAddr: string(addr), Logger: slog.New(slog.DiscardHandler), Fast: true,
		SnapshotThreshold: 1 << 40, SnapshotInterval: 24 * time.Hour,
		Raft: store.RaftDeps{Transport: trans, Logs: logs, Stable: logs, Snapshots: raft.NewInmemSnapshotStore()},
	})
	if err != nil {
		return nil, err
	}
	if err := st.Bootstrap(); err != nil {
		st.Close()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := st.WaitLeader(wctx); err != nil {
		st.Close()
		return nil, err
	}
	for !st.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	return &hub{st: st}, nil
}

// apply proposes one command as the hub's API would, with its audit event.
func (h *hub) apply(ctx context.Context, typ, object string, p deploy.Principal, body any) (any, error) {
	a := &store.AuditInput{ID: ulid.Make().String(), Time: time.Now().UTC(), Actor: "token:" + p.ID, Role: string(p.Role), Action: typ, Object: object}
	cmd, err := store.NewCommand(typ, body, a)
	if err != nil {
		return nil, err
	}
	h.commands.Add(1)
	v, err := h.st.Apply(ctx, cmd)
	if err != nil {
		return v, fmt.Errorf("%s %s: %w", typ, object, err)
	}
	return v, nil
}

func gov(p deploy.Principal) store.GovCtx {
	return store.GovCtx{DecisionID: ulid.Make().String(), At: time.Now().UTC().Truncate(time.Microsecond), Principal: p}
}

// populate registers the estate's sites, planes and ring groups, then
// every application through the governance commands a person's requests
// make: app, version, artifact, packaged, staged, CAB approval of the
// version, risk assessment, intent, (CAB approval of the intent where
// risk > 50 beyond Ring 1), evidence record and publish.
func (h *hub) populate(ctx context.Context, e estate, apps []appRef, planeURL func(acq int) string) error {
	now := time.Now().UTC().Truncate(time.Second)
	sites := []store.Site{{Name: hqSite, Class: store.ClassOnline, CreatedAt: now}}
	for a := range e.acqs {
		for s := range sitesPerAcq {
			sites = append(sites, store.Site{Name: siteName(a, s), Class: store.ClassOnline,
				Scope: deploy.Scope{Acquisition: acqName(a), BU: "ops", Site: siteName(a, s)}, CreatedAt: now})
		}
	}
	if err := parallel(16, len(sites), func(_, i int) error {
		_, err := h.apply(ctx, store.CmdSiteCreate, "site/"+sites[i].Name, admin, sites[i])
		return err
	}); err != nil {
		return err
	}
	for a := range e.acqs {
		// The bench's connectors are not built from the plane record:
		// its sealed credentials are a placeholder of the right shape.
		p := store.Plane{Name: planeName(a), Kind: "intune", URL: planeURL(a), Scope: deploy.Scope{Acquisition: acqName(a)},
			CreatedAt: now, CreatedBy: "admin", KeyID: "bench", Sealed: make([]byte, 64)}
		if _, err := h.apply(ctx, store.CmdPlaneCreate, "plane/"+p.Name, admin, p); err != nil {
			return err
		}
		for r := range 5 {
			rt := store.RingTargets{Plane: p.Name, Ring: deploy.Ring(r), Targets: []store.Target{{ID: ringGroup(a, r)}}, UpdatedBy: "admin", UpdatedAt: now}
			if _, err := h.apply(ctx, store.CmdRingTargets, "plane/"+p.Name, admin, rt); err != nil {
				return err
			}
		}
	}
	return parallel(48, len(apps), func(_, i int) error { return h.govern(ctx, apps[i], now) })
}

func (h *hub) govern(ctx context.Context, a appRef, now time.Time) error {
	scope := a.scope()
	if _, err := h.apply(ctx, store.CmdAppCreate, "app/"+a.id, pat, store.AppCreateBody{GovCtx: gov(pat), App: deploy.Application{
		ID: a.id, Name: fmt.Sprintf("App %d of %s", a.n+1, acqName(a.acq)), Owner: acqName(a.acq) + "-apps", Category: "business",
		SupportTier: "tier-2", LicensingModel: "per-device", AllowedScope: scope, LOB: true}}); err != nil {
		return err
	}
	if _, err := h.apply(ctx, store.CmdVersionCreate, "version/"+a.id, pat, store.VersionCreateBody{GovCtx: gov(pat),
		Version: deploy.ApplicationVersion{AppID: a.id, Version: a.version, OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}}); err != nil {
		return err
	}
	if _, err := h.apply(ctx, store.CmdArtifactCreate, "artifact/"+a.artifact.String(), pat, store.ArtifactCreateBody{GovCtx: gov(pat),
		Artifact: deploy.Artifact{AppID: a.id, Version: a.version, Platform: deploy.PlatformMSI, Name: a.msiName(), SHA256: a.artifact,
			Size: int64(len(a.body)), Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass}}); err != nil {
		return err
	}
	for _, to := range []struct {
		s deploy.State
		p deploy.Principal
	}{{deploy.StatePackaged, pat}, {deploy.StateStaged, pat}, {deploy.StateApproved, carol}} {
		if _, err := h.apply(ctx, store.CmdVersionTransition, "version/"+a.id, to.p, store.TransitionBody{GovCtx: gov(to.p), AppID: a.id, Version: a.version, To: to.s}); err != nil {
			return err
		}
	}
	// Ring 0 is staged by the packaging engineer; Rings 1-4 are the
	// publisher's.
	requester := rita
	if a.ring == deploy.Ring0Lab {
		requester = pat
	}
	factor := 0.3
	if a.risky {
		factor = 0.7
	}
	factors := map[deploy.Factor]float64{}
	for _, f := range deploy.ModelV1.Factors {
		factors[f.Name] = factor
	}
	asID := "as-" + a.intent
	v, err := h.apply(ctx, store.CmdAssessmentCreate, "assessment/"+asID, requester, store.AssessmentCreateBody{GovCtx: gov(requester), ID: asID,
		AppID: a.id, Version: a.version, Artifact: a.artifact, Input: deploy.RiskInput{Model: "v1.0", Factors: factors, TargetRing: a.ring}})
	if err != nil {
		return err
	}
	as, ok := v.(store.AssessmentRecord)
	if !ok {
		return fmt.Errorf("assessment %s: result is %T", asID, v)
	}
	if _, err := h.apply(ctx, store.CmdIntentCreate, "intent/"+a.intent, requester, store.IntentCreateBody{GovCtx: gov(requester), AssessmentID: asID,
		Intent: deploy.Intent{ID: a.intent, AppID: a.id, Version: a.version, Artifact: a.artifact, Ring: a.ring, Scope: &scope,
			Schedule: deploy.Schedule{NotBefore: now.Add(-time.Hour)}}}); err != nil {
		return err
	}
	pub := store.PublishBody{GovCtx: gov(requester), IntentID: a.intent}
	if a.risky && a.ring >= deploy.Ring2Pilot {
		cab := "cab-" + a.intent
		if _, err := h.apply(ctx, store.CmdApprovalCreate, "approval/"+cab, carol, store.ApprovalCreateBody{GovCtx: gov(carol), Record: deploy.ApprovalRecord{
			ID: cab, Subject: deploy.Subject(deploy.SubjectIntent, a.intent), RequestedBy: requester.ID, Decision: deploy.Approved, ExpiresAt: now.Add(30 * 24 * time.Hour)}}); err != nil {
			return err
		}
		pub.Approval = cab
	}
	if a.ring.IsProduction() {
		pack := evidencePack(a, as.Assessment, now)
		_, pd, err := pack.CanonicalBytes()
		if err != nil {
			return err
		}
		if _, err := h.apply(ctx, store.CmdEvidenceRecord, "evidence/"+pd.String(), rita, store.EvidenceRecordBody{GovCtx: gov(rita),
			Record: store.EvidenceRecord{Digest: pd, Envelope: digest.FromBytes([]byte("envelope of " + pd.String())), KeyID: "bench", IntentID: a.intent, AppID: a.id, Version: a.version}}); err != nil {
			return err
		}
		pub.GovCtx, pub.Evidence, pub.Pack = gov(rita), pd, &pack
	}
	_, err = h.apply(ctx, store.CmdIntentPublish, "intent/"+a.intent, requester, pub)
	return err
}

func evidencePack(a appRef, risk deploy.Assessment, at time.Time) deploy.EvidencePack {
	doc := func(what string) *deploy.DocRef {
		return &deploy.DocRef{Digest: digest.FromBytes([]byte(what + " of " + a.intent)), MediaType: "text/markdown"}
	}
	scope := a.scope()
	return deploy.EvidencePack{
		Schema: deploy.EvidenceSchema, IntentID: a.intent, AppID: a.id, Version: a.version, CreatedAt: at,
		Artifacts: []deploy.ArtifactEvidence{{Name: a.msiName(), Platform: deploy.PlatformMSI, SHA256: a.artifact, Size: int64(len(a.body)),
			Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}},
		SBOM: doc("sbom"), ScanReport: doc("scan"), PolicyDecision: deploy.ScanPass,
		InstallDoc: doc("install"), UninstallDoc: doc("uninstall"), DetectionDoc: doc("detection"),
		RolloutPlan:   &deploy.RolloutPlan{Rings: []deploy.Ring{0, 1, 2, 3, 4}, Schedule: deploy.Schedule{NotBefore: at}, Targeting: []string{"rings of " + planeName(a.acq)}},
		RollbackPlans: []deploy.RollbackPlan{{Plane: "intune", Strategy: "supersedence"}},
		TestEvidence:  deploy.TestEvidence{Lab: &deploy.TestResult{Passed: true, Report: *doc("lab")}, Ring0: &deploy.TestResult{Passed: true, Report: *doc("ring0")}},
		Exceptions:    []deploy.Exception{},
		ScopeDiff:     &deploy.ScopeDiff{Previous: scope, Requested: scope, Change: "unchanged", Summary: "unchanged"},
		Risk:          &risk,
	}
}

// parallel runs fn(w, i) for i in 0..n-1 on workers goroutines (w is
// the goroutine's number) and returns the first error.
func parallel(workers, n int, fn func(w, i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for w := range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(w, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				mu.Lock()
				stop := first != nil
				mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
