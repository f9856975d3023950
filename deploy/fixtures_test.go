package deploy

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// t0 is the judgement time of most tests.
var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func dg(c byte) digest.Digest { return digest.Digest(strings.Repeat(string(c), 64)) }

var (
	acme        = Scope{Acquisition: "acme"}
	acmeFin     = Scope{Acquisition: "acme", BU: "fin"}
	acmeFinLon  = Scope{Acquisition: "acme", BU: "fin", Site: "lon"}
	acmeFinPar  = Scope{Acquisition: "acme", BU: "fin", Site: "par"}
	acmeHR      = Scope{Acquisition: "acme", BU: "hr"}
	acmeHRBer   = Scope{Acquisition: "acme", BU: "hr", Site: "ber"}
	globex      = Scope{Acquisition: "globex"}
	globexOpsNY = Scope{Acquisition: "globex", BU: "ops", Site: "ny"}
)

var inventory = []Site{
	{Name: "lon", Scope: acmeFinLon, Devices: 120},
	{Name: "par", Scope: acmeFinPar, Devices: 80},
	{Name: "ber", Scope: acmeHRBer, Devices: 300},
	{Name: "ny", Scope: globexOpsNY, Devices: 1000},
}

func fixtureApp() Application {
	return Application{ID: "com.acme.ledger", Name: "Ledger", Owner: "fin-apps", Category: "finance", SupportTier: "tier-1",
		LicensingModel: "per-device", AllowedScope: acme, ScopeVersion: 1, State: StateApproved}
}

func fixtureArtifact() Artifact {
	return Artifact{AppID: "com.acme.ledger", Version: "2.4.1", Platform: PlatformMSI, Name: "ledger-2.4.1.msi", SHA256: dg('a'), Size: 4096,
		Signing: Signing{State: SigKnownVendor, Signer: "CN=Acme Software"}, Provenance: dg('b'), SBOM: dg('c'), ScanReport: dg('d'),
		ScanDecision: ScanPass, PackagedBy: "pat"}
}

func fixtureIntent() Intent {
	s := acmeFin
	return Intent{ID: "i-100", AppID: "com.acme.ledger", Version: "2.4.1", Artifact: dg('a'), Ring: Ring2Pilot, Scope: &s,
		Schedule: Schedule{NotBefore: t0.Add(-48 * time.Hour), Deadline: t0.Add(72 * time.Hour)}, Constraints: []string{"maintenance-window"},
		RequestedBy: "rita"}
}

func fixtureRisk(t testing.TB, ring Ring, v float64, privileged bool) *Assessment {
	t.Helper()
	a, err := Score(RiskInput{Model: "v1.0", Factors: allFactors(v), PrivilegedTooling: privileged, TargetRing: ring})
	if err != nil {
		t.Fatal(err)
	}
	return &a
}

func fixtureCAB(subject string) *ApprovalRecord {
	return &ApprovalRecord{ID: "cab-7", Subject: subject, RequestedBy: "rita", Approver: "carol", ApproverRole: RoleCABApprover,
		Decision: Approved, Conditions: []string{"ring 2 capped at 500 devices"}, DecidedAt: t0.Add(-24 * time.Hour), ExpiresAt: t0.Add(30 * 24 * time.Hour)}
}

func fixtureException() *Exception {
	return &Exception{ID: "ex-1", IntentID: "i-100", Artifact: dg('a'), Findings: []string{"CVE-2026-0001"},
		Justification: "vendor fix due next quarter; vulnerable component not reachable", CompensatingControls: []string{"ring 2 capped at 500 devices", "EDR rule 4411 monitors the component"},
		AccountableOwner: "fin-apps", RequestedBy: "pat", ApprovedBy: "sam", ApproverRole: RoleSecurityReviewer,
		ApprovedAt: t0.Add(-24 * time.Hour), ExpiresAt: t0.Add(14 * 24 * time.Hour)}
}

func doc(c byte, mt string) *DocRef { return &DocRef{Digest: dg(c), MediaType: mt} }

func fixturePack(t testing.TB) EvidencePack {
	in := fixtureIntent()
	return EvidencePack{
		Schema: EvidenceSchema, IntentID: in.ID, AppID: in.AppID, Version: in.Version, CreatedAt: t0.Add(-time.Hour),
		Artifacts:      []ArtifactEvidence{{Name: "ledger-2.4.1.msi", Platform: PlatformMSI, SHA256: dg('a'), Size: 4096, Signing: Signing{State: SigKnownVendor, Signer: "CN=Acme Software", Timestamped: true}, Decision: ScanPass}},
		SBOM:           doc('c', "application/vnd.cyclonedx+json"),
		ScanReport:     doc('d', "application/json"),
		PolicyDecision: ScanPass,
		InstallDoc:     doc('1', "text/markdown"),
		UninstallDoc:   doc('2', "text/markdown"),
		DetectionDoc:   doc('3', "text/markdown"),
		RolloutPlan:    &RolloutPlan{Rings: []Ring{0, 1, 2, 3, 4}, Schedule: in.Schedule, Targeting: []string{"grp-fin-pilot"}, Exclusions: []string{"grp-fin-kiosk"}},
		RollbackPlans:  []RollbackPlan{{Plane: "intune", Strategy: "supersedence to 2.4.0 + targeted uninstall", Doc: doc('4', "text/markdown")}},
		TestEvidence:   TestEvidence{Lab: &TestResult{Passed: true, Report: *doc('5', "application/junit+xml")}, Ring0: &TestResult{Passed: true, Report: *doc('6', "application/json")}},
		Exceptions:     []Exception{},
		ScopeDiff:      ptr(DiffScope(acmeFin, acmeFin, inventory)),
		Risk:           fixtureRisk(t, Ring2Pilot, 0.3, false),
	}
}

func ptr[T any](v T) *T { return &v }

// testKey is a fixed Ed25519 key so signed evidence is reproducible.
func testKey() *signing.PrivateKey {
	priv := ed25519.NewKeyFromSeed([]byte("eucora-deploy-test-key-seed-0001"))
	return &signing.PrivateKey{Key: priv, ID: signing.KeyID(priv.Public().(ed25519.PublicKey))}
}
