package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

func gdg(c byte) digest.Digest { return digest.Digest(strings.Repeat(string(c), 64)) }

var (
	acmeScope = deploy.Scope{Acquisition: "acme"}
	pat       = deploy.Principal{ID: "pat", Role: deploy.RolePackagingEngineer, Scope: acmeScope}
	patCAB    = deploy.Principal{ID: "pat", Role: deploy.RoleCABApprover}
	carol     = deploy.Principal{ID: "carol", Role: deploy.RoleCABApprover}
	rita      = deploy.Principal{ID: "rita", Role: deploy.RolePublisher, Scope: acmeScope}
)

type govLog struct {
	t    testing.TB
	cmds []Command
	n    int
}

func (g *govLog) add(typ string, mk func(c GovCtx) any, p deploy.Principal) {
	g.n++
	c := GovCtx{DecisionID: fmt.Sprintf("d-%03d", g.n), At: t0.Add(time.Duration(g.n) * time.Second), Principal: p}
	g.cmds = append(g.cmds, cmdOf(g.t, typ, mk(c), 100+g.n))
}

func allF(v float64) map[deploy.Factor]float64 {
	m := map[deploy.Factor]float64{}
	for _, f := range deploy.ModelV1.Factors {
		m[f.Name] = v
	}
	return m
}

func govPack(t testing.TB, intent string) deploy.EvidencePack {
	t.Helper()
	doc := func(c byte) *deploy.DocRef { return &deploy.DocRef{Digest: gdg(c), MediaType: "text/markdown"} }
	risk, err := deploy.Score(deploy.RiskInput{Model: "v1.0", Factors: allF(0.8), TargetRing: deploy.Ring2Pilot})
	if err != nil {
		t.Fatal(err)
	}
	fin := deploy.Scope{Acquisition: "acme", BU: "fin"}
	return deploy.EvidencePack{
		Schema: deploy.EvidenceSchema, IntentID: intent, AppID: "com.acme.ledger", Version: "2.4.1", CreatedAt: t0,
		Artifacts: []deploy.ArtifactEvidence{{Name: "ledger.msi", Platform: deploy.PlatformMSI, SHA256: gdg('a'), Size: 4096, Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}},
		SBOM:      doc('c'), ScanReport: doc('d'), PolicyDecision: deploy.ScanPass,
		InstallDoc: doc('1'), UninstallDoc: doc('2'), DetectionDoc: doc('3'),
		RolloutPlan:   &deploy.RolloutPlan{Rings: []deploy.Ring{0, 1, 2}, Schedule: deploy.Schedule{NotBefore: t0}, Targeting: []string{"grp-fin"}},
		RollbackPlans: []deploy.RollbackPlan{{Plane: "intune", Strategy: "supersedence"}},
		TestEvidence:  deploy.TestEvidence{Lab: &deploy.TestResult{Passed: true, Report: *doc('5')}, Ring0: &deploy.TestResult{Passed: true, Report: *doc('6')}},
		Exceptions:    []deploy.Exception{},
		ScopeDiff:     &deploy.ScopeDiff{Previous: fin, Requested: fin, Change: "unchanged", Summary: "unchanged"},
		Risk:          &risk,
	}
}

// governanceLog is a history through every governance command, with
// refusals interleaved. It returns the log and the index of each command.
func governanceLog(t testing.TB) ([]*raft.Log, map[string]int) {
	g := &govLog{t: t}
	idx := map[string]int{}
	mark := func(name string) { idx[name] = len(g.cmds) - 1 }
	fin := deploy.Scope{Acquisition: "acme", BU: "fin"}
	g.add(CmdAppCreate, func(c GovCtx) any {
		return AppCreateBody{GovCtx: c, App: deploy.Application{ID: "com.acme.ledger", Name: "Ledger", Owner: "fin-apps", Category: "finance",
			SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: acmeScope}}
	}, pat)
	g.add(CmdVersionCreate, func(c GovCtx) any {
		return VersionCreateBody{GovCtx: c, Version: deploy.ApplicationVersion{AppID: "com.acme.ledger", Version: "2.4.1", OSMatrix: []deploy.OSSupport{{OS: "windows"}}}}
	}, pat)
	g.add(CmdArtifactCreate, func(c GovCtx) any {
		return ArtifactCreateBody{GovCtx: c, Artifact: deploy.Artifact{AppID: "com.acme.ledger", Version: "2.4.1", Platform: deploy.PlatformMSI,
			Name: "ledger.msi", SHA256: gdg('a'), Size: 4096, Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass,
			PackagedBy: "someone-else"}}
	}, pat)
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		g.add(CmdVersionTransition, func(c GovCtx) any {
			return TransitionBody{GovCtx: c, AppID: "com.acme.ledger", Version: "2.4.1", To: to}
		}, pat)
	}
	g.add(CmdVersionTransition, func(c GovCtx) any {
		return TransitionBody{GovCtx: c, AppID: "com.acme.ledger", Version: "2.4.1", To: deploy.StateApproved}
	}, patCAB)
	mark("self-approve")
	g.add(CmdVersionTransition, func(c GovCtx) any {
		return TransitionBody{GovCtx: c, AppID: "com.acme.ledger", Version: "2.4.1", To: deploy.StateApproved}
	}, carol)
	g.add(CmdAssessmentCreate, func(c GovCtx) any {
		return AssessmentCreateBody{GovCtx: c, ID: "as-1", AppID: "com.acme.ledger", Version: "2.4.1", Artifact: gdg('a'),
			Input: deploy.RiskInput{Model: "v1.0", Factors: allF(0.8), TargetRing: deploy.Ring2Pilot}}
	}, rita)
	for _, id := range []string{"i-1", "i-2"} {
		g.add(CmdIntentCreate, func(c GovCtx) any {
			return IntentCreateBody{GovCtx: c, AssessmentID: "as-1", Intent: deploy.Intent{ID: id, AppID: "com.acme.ledger", Version: "2.4.1",
				Artifact: gdg('a'), Ring: deploy.Ring2Pilot, Scope: &fin, Schedule: deploy.Schedule{NotBefore: t0}}}
		}, rita)
	}
	mark("second-intent")
	g.add(CmdIntentPublish, func(c GovCtx) any { return PublishBody{GovCtx: c, IntentID: "i-1"} }, rita)
	mark("publish-without")
	g.add(CmdApprovalCreate, func(c GovCtx) any {
		return ApprovalCreateBody{GovCtx: c, Record: deploy.ApprovalRecord{ID: "cab-1", Subject: "intent:i-1", RequestedBy: "rita",
			Decision: deploy.Approved, ExpiresAt: t0.Add(24 * time.Hour)}}
	}, carol)
	pack := govPack(t, "i-1")
	_, pd, err := pack.CanonicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	g.add(CmdEvidenceRecord, func(c GovCtx) any {
		return EvidenceRecordBody{GovCtx: c, Record: EvidenceRecord{Digest: pd, Envelope: gdg('e'), KeyID: "k1", IntentID: "i-1", AppID: "com.acme.ledger", Version: "2.4.1"}}
	}, rita)
	g.add(CmdIntentPublish, func(c GovCtx) any {
		return PublishBody{GovCtx: c, IntentID: "i-1", Approval: "cab-1", Evidence: pd, Pack: &pack}
	}, rita)
	mark("publish")
	g.add(CmdIntentPromote, func(c GovCtx) any {
		return PromoteBody{GovCtx: c, IntentID: "i-1", Approval: "cab-1", Evidence: pd, Measured: deploy.PromotionInput{SiteClass: deploy.SiteOnline,
			InstallAttempts: 100, InstallSuccesses: 99, TimeToCompliance: time.Hour, Planes: []string{"intune"}, RollbackValidated: []string{"intune"}}}
	}, rita)
	mark("promote")
	g.add(CmdElevationDecide, func(c GovCtx) any {
		return ElevationBody{GovCtx: c, Request: deploy.ElevationRequest{ID: "el-1", Device: deploy.DevicePosture{DeviceID: "d1", Cohort: "fin",
			Managed: true, Compliant: true, DiskEncrypted: true, EDRHealthy: true, PatchAgeDays: 3}, DeviceScope: acmeScope,
			App: deploy.AppClassification{AppID: "com.acme.ledger", RiskScore: 20, RiskModel: "v1.0"}, Duration: time.Hour}}
	}, deploy.Principal{ID: "eve", Role: deploy.RoleEndpointOps, Scope: acmeScope})
	mark("elevation")
	g.add(CmdAppScopeChange, func(c GovCtx) any {
		return AppScopeBody{GovCtx: c, AppID: "com.acme.ledger", Scope: fin, Sites: []deploy.Site{{Name: "lon", Scope: deploy.Scope{Acquisition: "acme", BU: "fin", Site: "lon"}, Devices: 10}}}
	}, deploy.Principal{ID: "eve", Role: deploy.RoleEndpointOps, Scope: acmeScope})
	mark("scope-without-cab")
	logs := make([]*raft.Log, len(g.cmds))
	for i, c := range g.cmds {
		logs[i] = entry(t, uint64(i+1), c)
	}
	return logs, idx
}

// rawDump renders every key and value of the state except the applied index.
func rawDump(t testing.TB, st *State) string {
	t.Helper()
	var b strings.Builder
	err := st.read(func(db *pebble.DB) error {
		it, err := db.NewIter(nil)
		if err != nil {
			return err
		}
		defer it.Close()
		for it.First(); it.Valid(); it.Next() {
			if string(it.Key()) == string(keyApplied) {
				continue
			}
			fmt.Fprintf(&b, "%q=%s\n", it.Key(), it.Value())
		}
		return it.Error()
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestGovernanceProcessorDeterministic(t *testing.T) {
	logs, idx := governanceLog(t)
	f1, s1 := mustOpenFSM(t, t.TempDir())
	f2, s2 := mustOpenFSM(t, t.TempDir())
	res := f1.ApplyBatch(logs)
	for _, l := range logs {
		f2.Apply(l)
	}
	d1, d2 := rawDump(t, s1), rawDump(t, s2)
	if d1 != d2 {
		t.Fatalf("states differ:\n%s\n---\n%s", d1, d2)
	}
	for i, r := range res {
		name := ""
		for k, v := range idx {
			if v == i {
				name = k
			}
		}
		err := r.(Result).Err
		switch name {
		case "self-approve", "second-intent", "publish-without", "scope-without-cab":
			if !errors.Is(err, deploy.ErrDenied) {
				t.Errorf("%s: %v, want denied", name, err)
			}
		default:
			if err != nil {
				t.Errorf("command %d (%s): %v", i, name, err)
			}
		}
	}
	self := res[idx["self-approve"]].(Result)
	if rec := self.Value.(DecisionRecord); rec.Allowed || !strings.Contains(strings.Join(rec.Decision.Failed(), ","), "sod.no-self-approval") {
		t.Errorf("self-approval decision: %+v", rec)
	}
	if rec := res[idx["second-intent"]].(Result).Value.(DecisionRecord); !strings.Contains(strings.Join(rec.Decision.Failed(), ","), "concurrency.one-active-change") {
		t.Errorf("second intent: %+v", rec.Decision.Failed())
	}
	if rec := res[idx["publish-without"]].(Result).Value.(DecisionRecord); !strings.Contains(strings.Join(rec.Decision.Failed(), ","), "publish.cab.present") {
		t.Errorf("publish without approval: %v", rec.Decision.Failed())
	}
	pub := res[idx["publish"]].(Result).Value.(DecisionRecord)
	if !pub.Allowed || pub.ModelVersion != "v1.0" || len(pub.Inputs) == 0 || len(pub.Explanation) == 0 {
		t.Fatalf("publish decision: %+v", pub)
	}
	var in deploy.PublishRequest
	if err := json.Unmarshal(pub.Inputs, &in); err != nil || in.Risk == nil || in.Risk.Score != 80 || in.CABApproval == nil {
		t.Fatalf("stored publish inputs: %+v %v", in, err)
	}
	v, err := s1.Version("com.acme.ledger", "2.4.1")
	if err != nil || v.State != deploy.StatePublished || len(v.History) != 4 || v.PublishedAt == nil {
		t.Fatalf("version after publish: %+v %v", v, err)
	}
	arts, _ := s1.Artifacts("com.acme.ledger", "2.4.1")
	if len(arts) != 1 || arts[0].PackagedBy != "pat" {
		t.Fatalf("artifact packager is the caller: %+v", arts)
	}
	i1, _ := s1.Intent("i-1")
	if i1.Status != IntentPromoted || i1.PromotedTo == nil || *i1.PromotedTo != deploy.Ring3Department || i1.LastDecision != "d-015" {
		t.Fatalf("intent after promote: %+v", i1)
	}
	all, _ := s1.Decisions()
	var about []string
	for _, d := range all {
		if d.Subject == "intent/i-1" {
			about = append(about, fmt.Sprintf("%s:%v", d.Kind, d.Allowed))
		}
	}
	if want := "gov.intent.create:true gov.intent.publish:false gov.intent.publish:true gov.intent.promote:true"; strings.Join(about, " ") != want {
		t.Fatalf("decisions about i-1: %v, want %s", about, want)
	}
	if _, err := s1.Intent("i-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused intent stored: %v", err)
	}
	if g, err := s1.Grant("el-1"); err != nil || g.Principal != "eve" {
		t.Fatalf("grant: %+v %v", g, err)
	}
	// Every refusal is a denied audit event.
	evs, _ := s1.Events(0, 1000)
	denied := 0
	for _, e := range evs {
		if e.Outcome == "denied" {
			denied++
		}
	}
	if denied != 4 {
		t.Fatalf("%d denied events, want 4", denied)
	}
	if a, _ := s1.App("com.acme.ledger"); a.AllowedScope != acmeScope || a.ScopeVersion != 1 {
		t.Fatalf("refused scope change applied: %+v", a)
	}
}

// A refused command writes only its decision record and its audit event,
// and, when it is refused for want of a CAB approval alone, the approval
// request naming its requester.
func TestGovernanceRefusalWritesOnlyDecisionAndAudit(t *testing.T) {
	logs, idx := governanceLog(t)
	f, s := mustOpenFSM(t, t.TempDir())
	cut := idx["second-intent"]
	f.ApplyBatch(logs[:cut])
	before := rawDump(t, s)
	r := f.Apply(logs[cut]).(Result)
	if !errors.Is(r.Err, deploy.ErrDenied) {
		t.Fatalf("second intent: %v", r.Err)
	}
	after := rawDump(t, s)
	var added []string
	old := map[string]bool{}
	for _, l := range strings.Split(before, "\n") {
		old[l] = true
	}
	for _, l := range strings.Split(after, "\n") {
		if !old[l] {
			k, _, _ := strings.Cut(l, "=")
			added = append(added, k)
		}
	}
	for _, k := range added {
		switch {
		case strings.HasPrefix(k, `"gd/`), strings.HasPrefix(k, `"e/`), strings.HasPrefix(k, `"c/`), strings.HasPrefix(k, `"m/cursor`):
		case k == `"gw/concurrency:i-2"`:
		default:
			t.Errorf("refused intent wrote %s", k)
		}
	}
	if len(added) == 0 {
		t.Fatal("nothing recorded for the refusal")
	}
	if req, err := s.ApprovalRequest("concurrency:i-2"); err != nil || req.RequestedBy != "rita" {
		t.Fatalf("approval request of the refused concurrent intent: %+v %v", req, err)
	}
}

func TestGovernanceBadCommands(t *testing.T) {
	f, _ := mustOpenFSM(t, t.TempDir())
	c := GovCtx{DecisionID: "d-1", At: t0, Principal: pat}
	cases := []struct {
		typ  string
		body any
		want string
	}{
		{CmdAppCreate, AppCreateBody{GovCtx: c, App: deploy.Application{ID: "bad id"}}, "id"},
		{CmdAppCreate, AppCreateBody{GovCtx: GovCtx{At: t0, Principal: pat}}, "decision_id"},
		{CmdVersionTransition, TransitionBody{GovCtx: c, AppID: "x", Version: "1", To: "flying"}, "to"},
		{CmdVersionTransition, TransitionBody{GovCtx: c, AppID: "x", Version: "1", To: deploy.StatePublished}, "publishing an intent"},
		{CmdAssessmentCreate, AssessmentCreateBody{GovCtx: c, ID: "a", Input: deploy.RiskInput{Model: "v9"}}, "input.model"},
	}
	for i, k := range cases {
		r := f.Apply(entry(t, uint64(i+1), cmdOf(t, k.typ, k.body, i))).(Result)
		if !errors.Is(r.Err, ErrInvalid) || !strings.Contains(r.Err.Error(), k.want) {
			t.Errorf("%s: %v, want invalid mentioning %q", k.typ, r.Err, k.want)
		}
	}
}
