package sitesync

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// testHub is one hub node's sync without HTTP and without Raft: a real
// Pebble state in a temporary directory, changed only by the real state
// machine (store.FSM), to which Propose hands each command as the next
// committed log entry, as Raft would on a one-node cluster.
type testHub struct {
	t     testing.TB
	dir   string
	state *store.State
	cas   *cas.Store
	key   *signing.PrivateKey // the hub's signing key
	sync  *Syncer

	mu       sync.Mutex
	fsm      *store.FSM
	index    uint64
	proposed int // commands proposed through Propose
	events   int // audit events handed out
}

var _ State = (*store.State)(nil)
var _ Proposer = (*testHub)(nil)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestHub(t testing.TB) *testHub {
	t.Helper()
	h := &testHub{t: t, dir: t.TempDir()}
	var err error
	if h.state, err = store.OpenState(filepath.Join(h.dir, "state"), quiet); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.state.Close() })
	h.fsm = store.NewFSM(h.state, filepath.Join(h.dir, "tmp"), quiet)
	if h.cas, err = cas.Open(filepath.Join(h.dir, "cas")); err != nil {
		t.Fatal(err)
	}
	if h.key, err = signing.Generate(); err != nil {
		t.Fatal(err)
	}
	h.apply(store.CmdIdentityInit, store.Identity{KeyID: h.key.ID, PrivatePEM: string(signing.EncodePrivate(h.key)),
		PublicPEM: string(signing.EncodePublic(h.key.Public())), PeerSecret: "peer", CreatedAt: store.NowUTC()})
	h.sync = h.node("node1")
	return h
}

// node is the Syncer of a node named id with exports on its own disk; it
// shares this hub's state and (for brevity) content store.
func (h *testHub) node(id string) *Syncer {
	return New(Config{NodeID: id, Dir: filepath.Join(h.dir, id, "exports"), MirrorDir: filepath.Join(h.dir, "mirror"), CAS: h.cas,
		Key: func() (*signing.PrivateKey, error) { return h.key, nil }, State: h.state, Proposer: h})
}

// Propose commits cmd as the next log entry through the state machine.
func (h *testHub) Propose(_ context.Context, cmd store.Command) (json.RawMessage, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.proposed++
	return h.commit(cmd)
}

func (h *testHub) commit(cmd store.Command) (json.RawMessage, error) {
	b, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	h.index++
	res := h.fsm.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: b}).(store.Result)
	if res.Err != nil {
		return nil, res.Err
	}
	return json.Marshal(res.Value)
}

// audit is the Audit of a test caller.
func (h *testHub) audit(action, object string) *store.AuditInput {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events++
	return &store.AuditInput{ID: fmt.Sprintf("ev-%d", h.events), Time: store.NowUTC(), Actor: "token:test/t1", Role: string(deploy.RolePlatformAdmin),
		Action: action, Object: object}
}

// apply commits a setup command, failing the test if it is refused.
func (h *testHub) apply(typ string, body any) json.RawMessage {
	h.t.Helper()
	cmd, err := store.NewCommand(typ, body, h.audit(typ, "test"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	raw, err := h.commit(cmd)
	if err != nil {
		h.t.Fatalf("%s: %v", typ, err)
	}
	return raw
}

func (h *testHub) proposals() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.proposed
}

// site registers a site in scope; with an edge key it is enrolled.
func (h *testHub) site(name string, scope deploy.Scope, edge *signing.PrivateKey) store.Site {
	h.t.Helper()
	s := store.Site{Name: name, Class: store.ClassAirGapped, Scope: scope, CreatedAt: store.NowUTC(), CreatedBy: "test"}
	if edge != nil {
		s.EdgeKeyID, s.EdgeKeyPEM = edge.ID, string(signing.EncodePublic(edge.Public()))
	}
	h.apply(store.CmdSiteCreate, s)
	return h.loadSite(name)
}

func (h *testHub) loadSite(name string) store.Site {
	h.t.Helper()
	s, err := h.state.Site(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *testHub) syncState(site string) store.SiteSync {
	h.t.Helper()
	ss, err := h.state.SiteSync(site)
	if err != nil {
		h.t.Fatal(err)
	}
	return ss
}

// publish runs an application through the catalog and the gates to a
// published Ring 2 intent "i-1" in scope whose artifact is artifact, with
// its CAB approval: the records a site in scope is sent.
func (h *testHub) publish(artifact []byte, scope deploy.Scope) deploy.Intent {
	h.t.Helper()
	acme := deploy.Scope{Acquisition: "acme"}
	pat := deploy.Principal{ID: "pat", Role: deploy.RolePackagingEngineer, Scope: acme}
	carol := deploy.Principal{ID: "carol", Role: deploy.RoleCABApprover}
	rita := deploy.Principal{ID: "rita", Role: deploy.RolePublisher, Scope: acme}
	t0 := time.Now().UTC().Truncate(time.Second)
	n := 0
	gov := func(p deploy.Principal) store.GovCtx {
		n++
		return store.GovCtx{DecisionID: fmt.Sprintf("d-%03d", n), At: t0.Add(time.Duration(n) * time.Millisecond), Principal: p}
	}
	const app, version = "com.acme.ledger", "2.4.1"
	d, size := digest.FromBytes(artifact), int64(len(artifact))
	h.apply(store.CmdAppCreate, store.AppCreateBody{GovCtx: gov(pat), App: deploy.Application{ID: app, Name: "Ledger", Owner: "fin-apps",
		Category: "finance", SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: acme}})
	h.apply(store.CmdVersionCreate, store.VersionCreateBody{GovCtx: gov(pat), Version: deploy.ApplicationVersion{AppID: app, Version: version,
		OSMatrix: []deploy.OSSupport{{OS: "windows"}}}})
	h.apply(store.CmdArtifactCreate, store.ArtifactCreateBody{GovCtx: gov(pat), Artifact: deploy.Artifact{AppID: app, Version: version,
		Platform: deploy.PlatformMSI, Name: "ledger.msi", SHA256: d, Size: size, Signing: deploy.Signing{State: deploy.SigKnownVendor},
		ScanDecision: deploy.ScanPass, PackagedBy: "someone-else"}})
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		h.apply(store.CmdVersionTransition, store.TransitionBody{GovCtx: gov(pat), AppID: app, Version: version, To: to})
	}
	h.apply(store.CmdVersionTransition, store.TransitionBody{GovCtx: gov(carol), AppID: app, Version: version, To: deploy.StateApproved})
	factors := map[deploy.Factor]float64{}
	for _, f := range deploy.ModelV1.Factors {
		factors[f.Name] = 0.8
	}
	input := deploy.RiskInput{Model: "v1.0", Factors: factors, TargetRing: deploy.Ring2Pilot}
	h.apply(store.CmdAssessmentCreate, store.AssessmentCreateBody{GovCtx: gov(rita), ID: "as-1", AppID: app, Version: version, Artifact: d, Input: input})
	in := deploy.Intent{ID: "i-1", AppID: app, Version: version, Artifact: d, Ring: deploy.Ring2Pilot, Scope: &scope, Schedule: deploy.Schedule{NotBefore: t0}}
	h.apply(store.CmdIntentCreate, store.IntentCreateBody{GovCtx: gov(rita), AssessmentID: "as-1", Intent: in})
	h.apply(store.CmdApprovalCreate, store.ApprovalCreateBody{GovCtx: gov(carol), Record: deploy.ApprovalRecord{ID: "cab-1", Subject: "intent:i-1",
		RequestedBy: "rita", Decision: deploy.Approved, ExpiresAt: t0.Add(24 * time.Hour)}})
	risk, err := deploy.Score(input)
	if err != nil {
		h.t.Fatal(err)
	}
	doc := func(c byte) *deploy.DocRef {
		return &deploy.DocRef{Digest: digest.FromBytes([]byte{c}), MediaType: "text/markdown"}
	}
	pack := deploy.EvidencePack{Schema: deploy.EvidenceSchema, IntentID: "i-1", AppID: app, Version: version, CreatedAt: t0,
		Artifacts: []deploy.ArtifactEvidence{{Name: "ledger.msi", Platform: deploy.PlatformMSI, SHA256: d, Size: size,
			Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}},
		SBOM: doc('c'), ScanReport: doc('d'), PolicyDecision: deploy.ScanPass, InstallDoc: doc('1'), UninstallDoc: doc('2'), DetectionDoc: doc('3'),
		RolloutPlan:   &deploy.RolloutPlan{Rings: []deploy.Ring{0, 1, 2}, Schedule: deploy.Schedule{NotBefore: t0}, Targeting: []string{"grp-fin"}},
		RollbackPlans: []deploy.RollbackPlan{{Plane: "intune", Strategy: "supersedence"}},
		TestEvidence: deploy.TestEvidence{Lab: &deploy.TestResult{Passed: true, Report: *doc('5')},
			Ring0: &deploy.TestResult{Passed: true, Report: *doc('6')}},
		Exceptions: []deploy.Exception{}, ScopeDiff: &deploy.ScopeDiff{Previous: scope, Requested: scope, Change: "unchanged", Summary: "unchanged"},
		Risk: &risk}
	_, pd, err := pack.CanonicalBytes()
	if err != nil {
		h.t.Fatal(err)
	}
	h.apply(store.CmdEvidenceRecord, store.EvidenceRecordBody{GovCtx: gov(rita), Record: store.EvidenceRecord{Digest: pd,
		Envelope: digest.FromBytes([]byte("envelope")), KeyID: h.key.ID, IntentID: "i-1", AppID: app, Version: version}})
	h.apply(store.CmdIntentPublish, store.PublishBody{GovCtx: gov(rita), IntentID: "i-1", Approval: "cab-1", Evidence: pd, Pack: &pack})
	rec, err := h.state.Intent("i-1")
	if err != nil || rec.Status != store.IntentPublished {
		h.t.Fatalf("intent i-1: %s, %v", rec.Status, err)
	}
	return in
}

// edgeBundle is the import request body of an edge bundle of site signed
// by key, carrying recs; hdr's Source, Target and Sequence are set by the
// caller.
func edgeBundle(t testing.TB, key *signing.PrivateKey, hdr transfer.Header, recs ...transfer.RecordSource) []byte {
	t.Helper()
	out, err := transfer.Create(t.Context(), t.TempDir(), key, hdr, transfer.Content{Records: recs}, transfer.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byDigest := map[digest.Digest][]byte{}
	for _, r := range recs {
		byDigest[digest.FromBytes(r.Data)] = r.Data
	}
	raw, err := json.Marshal(api.NewImportRequest(out.Signed.Envelope, byDigest))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// receipt is the receipt and held-list records of an edge of site that
// applied hub bundle applied (0 for none) and holds held.
func receipt(t testing.TB, site string, applied uint64, appliedDigest digest.Digest, held map[digest.Digest]int64) []transfer.RecordSource {
	t.Helper()
	var ds []digest.Digest
	var bytes int64
	for d, n := range held {
		ds = append(ds, d)
		bytes += n
	}
	rc, _ := json.Marshal(transfer.Receipt{Site: site, AppliedSeq: applied, AppliedDigest: appliedDigest,
		Objects:   transfer.HeldObjects{Count: int64(len(ds)), Bytes: bytes, ListDigest: transfer.HeldListDigest(ds)},
		ChainHead: transfer.ChainHead{Hash: transfer.GenesisHash}, Generated: store.NowUTC().Truncate(time.Second)})
	hl, _ := json.Marshal(transfer.HeldList{Site: site, Digests: ds})
	return []transfer.RecordSource{{Type: transfer.RecordReceipt, Data: rc}, {Type: transfer.RecordHeld, Data: hl}}
}
