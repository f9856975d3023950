package edge

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

func record(t *testing.T, typ string, v any) transfer.RecordSource {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return transfer.RecordSource{Type: typ, Data: b}
}

// An intent that needs CAB approval is actionable at the edge only once a
// valid approval has arrived, and not after it expires.
func TestAdmitNeedsHeldApproval(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	artifact := []byte("ledger 2.4.1 msi bytes")
	sum := digest.FromBytes(artifact)
	scope := deploy.Scope{Acquisition: "acme", BU: "fin"}
	intent := deploy.Intent{ID: "i-100", AppID: "com.acme.ledger", Version: "2.4.1", Artifact: sum, Ring: deploy.Ring2Pilot, Scope: &scope,
		Schedule: deploy.Schedule{NotBefore: t0.Add(-48 * time.Hour)}, RequestedBy: "rita"}
	factors := map[deploy.Factor]float64{}
	for _, f := range deploy.ModelV1.FactorNames() {
		factors[f] = 0.6
	}
	risk, err := deploy.Score(deploy.RiskInput{Model: "v1.0", Factors: factors, TargetRing: deploy.Ring2Pilot})
	if err != nil || !risk.CABRequired {
		t.Fatalf("fixture risk must need CAB: %+v %v", risk, err)
	}
	ctx := AdmitContext{
		Site: deploy.Scope{Acquisition: "acme", BU: "fin", Site: "lon"},
		App: deploy.Application{ID: "com.acme.ledger", Name: "Ledger", Owner: "fin-apps", Category: "finance", SupportTier: "tier-1",
			LicensingModel: "per-device", AllowedScope: deploy.Scope{Acquisition: "acme"}, ScopeVersion: 1, State: deploy.StateApproved},
		Artifact: deploy.Artifact{AppID: "com.acme.ledger", Version: "2.4.1", Platform: deploy.PlatformMSI, Name: "ledger.msi", SHA256: sum,
			Size: int64(len(artifact)), Signing: deploy.Signing{State: deploy.SigKnownVendor, Signer: "CN=Acme"}, ScanDecision: deploy.ScanPass, PackagedBy: "pat"},
		Risk: &risk,
	}
	if _, err := e.Admit("i-100", ctx, t0); !errors.Is(err, ErrUnknownIntent) {
		t.Fatalf("unknown intent: %v", err)
	}
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{artifact},
		records: []transfer.RecordSource{record(t, transfer.RecordIntent, intent)}})
	mustImport(t, e, b1)
	d, err := e.Admit("i-100", ctx, t0)
	if err != nil || d.Allowed || !slices.Contains(d.Failed(), "cab.present") {
		t.Fatalf("without approval: %v %v", d.Failed(), err)
	}
	approval := deploy.ApprovalRecord{ID: "cab-7", Subject: deploy.Subject(deploy.SubjectIntent, "i-100"), RequestedBy: "rita", Approver: "carol",
		ApproverRole: deploy.RoleCABApprover, Decision: deploy.Approved, DecidedAt: t0.Add(-24 * time.Hour), ExpiresAt: t0.Add(7 * 24 * time.Hour)}
	self := approval
	self.ID, self.Approver = "cab-8", "rita" // self-approved: never valid
	b2 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, pred: b1.Signed.Digest,
		records: []transfer.RecordSource{record(t, transfer.RecordApproval, self)}})
	mustImport(t, e, b2)
	if d, _ := e.Admit("i-100", ctx, t0); d.Allowed || !slices.Contains(d.Failed(), "cab.not-self") {
		t.Fatalf("self-approved: %v", d.Failed())
	}
	b3 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 3, pred: b2.Signed.Digest,
		records: []transfer.RecordSource{record(t, transfer.RecordApproval, approval)}})
	mustImport(t, e, b3)
	if d, err := e.Admit("i-100", ctx, t0); err != nil || !d.Allowed {
		t.Fatalf("with approval: %v %v", d.Reasons(), err)
	}
	if d, _ := e.Admit("i-100", ctx, t0.Add(8*24*time.Hour)); d.Allowed || !slices.Contains(d.Failed(), "cab.not-expired") {
		t.Fatalf("expired approval: %v", d.Failed())
	}
}
