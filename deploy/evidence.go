package deploy

import (
	"errors"
	"fmt"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// EvidenceSchema is the schema of EvidencePack documents.
const EvidenceSchema = "eucora.evidence-pack/v1"

// EvidencePayloadType is the DSSE payload type of a signed evidence pack.
const EvidencePayloadType = "application/vnd.eucora.evidence-pack+json"

// EvidenceItem names one item of an evidence pack (EUCORA-architecture.md section 9.4, 5.4.1).
type EvidenceItem string

// Evidence items. All but EvidenceExceptions are required in every pack;
// EvidenceExceptions is required when any artifact's policy decision is not
// "pass" (EUCORA-architecture.md section 7.1: the CAB record links the exception).
const (
	EvidenceArtifactHashes     EvidenceItem = "artifact_hashes"
	EvidenceArtifactSignatures EvidenceItem = "artifact_signatures"
	EvidenceSBOM               EvidenceItem = "sbom"
	EvidenceScanReport         EvidenceItem = "scan_report"
	EvidencePolicyDecision     EvidenceItem = "policy_decision"
	EvidenceInstallDoc         EvidenceItem = "install_doc"
	EvidenceUninstallDoc       EvidenceItem = "uninstall_doc"
	EvidenceDetectionDoc       EvidenceItem = "detection_doc"
	EvidenceRolloutPlan        EvidenceItem = "rollout_plan"
	EvidenceRollbackPlan       EvidenceItem = "rollback_plan"
	EvidenceTestLab            EvidenceItem = "test_evidence_lab"
	EvidenceTestRing0          EvidenceItem = "test_evidence_ring0"
	EvidenceExceptions         EvidenceItem = "exception_records"
	EvidenceScopeDiff          EvidenceItem = "scope_diff"
	EvidenceRiskAssessment     EvidenceItem = "risk_assessment"
)

// EvidenceItems lists every item in pack order.
var EvidenceItems = []EvidenceItem{
	EvidenceArtifactHashes, EvidenceArtifactSignatures, EvidenceSBOM, EvidenceScanReport, EvidencePolicyDecision,
	EvidenceInstallDoc, EvidenceUninstallDoc, EvidenceDetectionDoc, EvidenceRolloutPlan, EvidenceRollbackPlan,
	EvidenceTestLab, EvidenceTestRing0, EvidenceExceptions, EvidenceScopeDiff, EvidenceRiskAssessment,
}

// Valid reports whether e is a known item.
func (e EvidenceItem) Valid() bool {
	for _, x := range EvidenceItems {
		if e == x {
			return true
		}
	}
	return false
}

// DocRef references a stored document by content address.
type DocRef struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"media_type"` // e.g. "application/vnd.cyclonedx+json"
	Title     string        `json:"title,omitempty"`
}

func (d *DocRef) present() bool {
	if d == nil || d.MediaType == "" {
		return false
	}
	_, err := digest.Parse(string(d.Digest))
	return err == nil
}

// ArtifactEvidence is an artifact's hash and signature record.
type ArtifactEvidence struct {
	Name     string        `json:"name"`
	Platform Platform      `json:"platform"`
	SHA256   digest.Digest `json:"sha256"`
	Size     int64         `json:"size"`
	Signing  Signing       `json:"signing"`
	Decision ScanDecision  `json:"policy_decision"`
	// Provenance is the digest of the artifact's signed provenance
	// envelope, for artifacts the factory took in.
	Provenance digest.Digest `json:"provenance,omitempty"`
}

// RolloutPlan is the rings, schedule, targeting and exclusions of a rollout.
type RolloutPlan struct {
	Rings      []Ring   `json:"rings"`
	Schedule   Schedule `json:"schedule"`
	Targeting  []string `json:"targeting"`
	Exclusions []string `json:"exclusions"`
}

// RollbackPlan is one plane's rollback strategy (EUCORA-architecture.md section 10.3).
type RollbackPlan struct {
	Plane    string  `json:"plane"`    // intune, sccm, jamf, landscape, ansible, ...
	Strategy string  `json:"strategy"` // e.g. "supersedence + targeted uninstall"
	Doc      *DocRef `json:"doc,omitempty"`
}

// TestResult is lab or Ring 0 test evidence.
type TestResult struct {
	Passed bool   `json:"passed"`
	Report DocRef `json:"report"`
}

// TestEvidence is lab and Ring 0 results.
type TestEvidence struct {
	Lab   *TestResult `json:"lab,omitempty"`
	Ring0 *TestResult `json:"ring0,omitempty"`
}

// EvidencePack is everything a CAB submission includes (EUCORA-architecture.md section 9.4) plus the
// scope diff with blast radius (5.4.1) and the risk assessment. It is
// content-addressed by the SHA-256 of its canonical JSON and signed by the
// hub. CreatedAt is chosen by the caller, never read from a clock.
type EvidencePack struct {
	Schema         string             `json:"schema"`
	IntentID       string             `json:"intent_id"`
	AppID          string             `json:"app_id"`
	Version        string             `json:"version"`
	CreatedAt      time.Time          `json:"created_at"`
	Artifacts      []ArtifactEvidence `json:"artifacts"`
	SBOM           *DocRef            `json:"sbom"`
	ScanReport     *DocRef            `json:"scan_report"`
	PolicyDecision ScanDecision       `json:"policy_decision"`
	InstallDoc     *DocRef            `json:"install_doc"`
	UninstallDoc   *DocRef            `json:"uninstall_doc"`
	DetectionDoc   *DocRef            `json:"detection_doc"`
	RolloutPlan    *RolloutPlan       `json:"rollout_plan"`
	RollbackPlans  []RollbackPlan     `json:"rollback_plans"`
	TestEvidence   TestEvidence       `json:"test_evidence"`
	Exceptions     []Exception        `json:"exceptions"`
	ScopeDiff      *ScopeDiff         `json:"scope_diff"`
	Risk           *Assessment        `json:"risk_assessment"`
}

// MissingItem names a missing or incomplete evidence item and why.
type MissingItem struct {
	Item   EvidenceItem `json:"item"`
	Reason string       `json:"reason"`
}

// Missing returns every missing item, in EvidenceItems order. extra lists
// items an intent additionally requires (Intent.RequiredEvidence); they are
// checked like the mandatory ones (exception_records then becomes
// mandatory).
func (p *EvidencePack) Missing(extra ...EvidenceItem) []MissingItem {
	var out []MissingItem
	miss := func(i EvidenceItem, format string, args ...any) {
		out = append(out, MissingItem{Item: i, Reason: fmt.Sprintf(format, args...)})
	}
	needExceptions := false
	for _, e := range extra {
		needExceptions = needExceptions || e == EvidenceExceptions
	}
	if p.PolicyDecision != "" && p.PolicyDecision != ScanPass {
		needExceptions = true
	}
	if len(p.Artifacts) == 0 {
		miss(EvidenceArtifactHashes, "no artifacts listed")
		miss(EvidenceArtifactSignatures, "no artifacts listed")
	} else {
		for i, a := range p.Artifacts {
			if _, err := digest.Parse(string(a.SHA256)); err != nil || a.Size <= 0 {
				miss(EvidenceArtifactHashes, "artifacts[%d] %q: no valid SHA-256 and size", i, a.Name)
				break
			}
		}
		for i, a := range p.Artifacts {
			if a.Signing.State == "" {
				miss(EvidenceArtifactSignatures, "artifacts[%d] %q: no signature record", i, a.Name)
				break
			}
		}
		for _, a := range p.Artifacts {
			if a.Decision != "" && a.Decision != ScanPass {
				needExceptions = true
			}
		}
	}
	if !p.SBOM.present() {
		miss(EvidenceSBOM, "no SBOM reference (SPDX or CycloneDX)")
	}
	if !p.ScanReport.present() {
		miss(EvidenceScanReport, "no vulnerability scan report reference")
	}
	if !p.PolicyDecision.Valid() {
		miss(EvidencePolicyDecision, "policy decision %q is not pass, fail or exception", p.PolicyDecision)
	}
	if !p.InstallDoc.present() {
		miss(EvidenceInstallDoc, "no install documentation")
	}
	if !p.UninstallDoc.present() {
		miss(EvidenceUninstallDoc, "no uninstall documentation")
	}
	if !p.DetectionDoc.present() {
		miss(EvidenceDetectionDoc, "no detection documentation")
	}
	if p.RolloutPlan == nil || len(p.RolloutPlan.Rings) == 0 || p.RolloutPlan.Schedule.NotBefore.IsZero() || len(p.RolloutPlan.Targeting) == 0 {
		miss(EvidenceRolloutPlan, "rollout plan needs rings, a schedule and targeting")
	}
	if len(p.RollbackPlans) == 0 {
		miss(EvidenceRollbackPlan, "no plane-specific rollback plan")
	}
	for i, r := range p.RollbackPlans {
		if r.Plane == "" || r.Strategy == "" {
			miss(EvidenceRollbackPlan, "rollback_plans[%d]: plane and strategy required", i)
			break
		}
	}
	if p.TestEvidence.Lab == nil || !p.TestEvidence.Lab.Report.present() {
		miss(EvidenceTestLab, "no lab test results")
	}
	if p.TestEvidence.Ring0 == nil || !p.TestEvidence.Ring0.Report.present() {
		miss(EvidenceTestRing0, "no Ring 0 test results")
	}
	if needExceptions && len(p.Exceptions) == 0 {
		miss(EvidenceExceptions, "policy decision is not pass: the exception record must be included")
	}
	for i, e := range p.Exceptions {
		if err := e.Validate(); err != nil {
			miss(EvidenceExceptions, "exceptions[%d]: %v", i, err)
			break
		}
	}
	if p.ScopeDiff == nil {
		miss(EvidenceScopeDiff, "no scope diff (previous -> requested scope) with blast-radius summary")
	} else if p.ScopeDiff.Summary == "" {
		miss(EvidenceScopeDiff, "scope diff has no blast-radius summary")
	}
	if p.Risk == nil {
		miss(EvidenceRiskAssessment, "no risk assessment")
	} else if _, err := LookupModel(p.Risk.Model); err != nil {
		miss(EvidenceRiskAssessment, "%v", err)
	}
	return out
}

// CheckComplete is the completeness gate: allowed when nothing is missing,
// otherwise one failed check per missing item.
func (p *EvidencePack) CheckComplete(extra ...EvidenceItem) Decision {
	var j judge
	if p == nil {
		j.check("evidence.present", false, "no evidence pack")
		return j.decision()
	}
	ms := p.Missing(extra...)
	for _, m := range ms {
		j.check("evidence."+string(m.Item), false, fmt.Sprintf("evidence item %s missing: %s", m.Item, m.Reason))
	}
	if len(ms) == 0 {
		j.check("evidence.complete", true, fmt.Sprintf("evidence pack for intent %s complete (%d items)", p.IntentID, len(EvidenceItems)))
	}
	return j.decision()
}

// normalized returns a copy with every time in UTC so the canonical bytes
// do not depend on the caller's time zone.
func (p EvidencePack) normalized() EvidencePack {
	p.CreatedAt = p.CreatedAt.UTC()
	if p.RolloutPlan != nil {
		rp := *p.RolloutPlan
		rp.Schedule.NotBefore = rp.Schedule.NotBefore.UTC()
		rp.Schedule.Deadline = rp.Schedule.Deadline.UTC()
		p.RolloutPlan = &rp
	}
	if p.Exceptions != nil {
		ex := make([]Exception, len(p.Exceptions))
		for i, e := range p.Exceptions {
			e.ApprovedAt, e.ExpiresAt = e.ApprovedAt.UTC(), e.ExpiresAt.UTC()
			ex[i] = e
		}
		p.Exceptions = ex
	}
	return p
}

// Validate checks the pack's identity fields (completeness is separate).
func (p *EvidencePack) Validate() error {
	if p.Schema != EvidenceSchema {
		return fieldErrorf("schema", "%q: want %q", p.Schema, EvidenceSchema)
	}
	for _, f := range []struct{ name, v string }{{"intent_id", p.IntentID}, {"app_id", p.AppID}, {"version", p.Version}} {
		if err := checkIdent(f.name, f.v); err != nil {
			return err
		}
	}
	if p.CreatedAt.IsZero() {
		return fieldErrorf("created_at", "missing")
	}
	return nil
}

// CanonicalBytes returns the pack's canonical JSON (see Canonical) and its
// content address, the SHA-256 of those bytes.
func (p EvidencePack) CanonicalBytes() ([]byte, digest.Digest, error) {
	b, err := Canonical(p.normalized())
	if err != nil {
		return nil, "", err
	}
	return b, digest.FromBytes(b), nil
}

// ParseEvidencePack strictly decodes a pack (unknown fields, duplicate keys
// and trailing data are errors) and validates its identity fields.
func ParseEvidencePack(b []byte) (EvidencePack, error) {
	var p EvidencePack
	if err := decodeStrict(b, &p, "evidence pack"); err != nil {
		return EvidencePack{}, err
	}
	if err := p.Validate(); err != nil {
		return EvidencePack{}, err
	}
	return p, nil
}

// ErrNotCanonical reports stored or signed evidence bytes that are not the
// canonical encoding of the pack they decode to.
var ErrNotCanonical = errors.New("evidence pack bytes are not canonical")

// SignEvidence signs the pack's canonical bytes with the hub key in a DSSE
// envelope. Ed25519 signatures are deterministic, so the same pack and key
// always give the same envelope.
func SignEvidence(p EvidencePack, key *signing.PrivateKey) (*signing.Envelope, digest.Digest, error) {
	if err := p.Validate(); err != nil {
		return nil, "", err
	}
	b, d, err := p.CanonicalBytes()
	if err != nil {
		return nil, "", err
	}
	return signing.Sign(key, EvidencePayloadType, b), d, nil
}

// VerifyEvidence checks a signed pack against trusted keys and returns the
// pack, its content address and the signing key id. The payload must be
// the canonical encoding of the pack it decodes to.
func VerifyEvidence(env *signing.Envelope, trust signing.Trust) (EvidencePack, digest.Digest, string, error) {
	payload, keyID, err := signing.Verify(env, trust, EvidencePayloadType)
	if err != nil {
		return EvidencePack{}, "", "", err
	}
	p, d, err := decodeCanonicalPack(payload)
	if err != nil {
		return EvidencePack{}, "", "", err
	}
	return p, d, keyID, nil
}

func decodeCanonicalPack(b []byte) (EvidencePack, digest.Digest, error) {
	p, err := ParseEvidencePack(b)
	if err != nil {
		return EvidencePack{}, "", err
	}
	c, d, err := p.CanonicalBytes()
	if err != nil {
		return EvidencePack{}, "", err
	}
	if string(c) != string(b) {
		return EvidencePack{}, "", ErrNotCanonical
	}
	return p, d, nil
}

// EvidenceStore is the write-once store the hub keeps packs in (EUCORA-architecture.md section 5.2
// "Evidence Store: immutable, WORM capable"). Implementations are declared
// by their users (the hub's Raft-backed store; MemEvidenceStore for tests).
type EvidenceStore interface {
	// PutEvidence stores b under d. It must never overwrite or delete:
	// when d is already stored it returns ErrEvidenceExists and changes
	// nothing. It must be safe to retry.
	PutEvidence(d digest.Digest, b []byte) error
	// GetEvidence returns the bytes stored under d, or ErrEvidenceNotFound.
	GetEvidence(d digest.Digest) ([]byte, error)
}

// StoreEvidence writes the pack's canonical bytes to s under their digest.
// Storing the same pack twice is a no-op that returns the same digest. A
// failure to write must make the caller refuse publish and promotion
// (EUCORA-architecture.md section 5.7); see PublishRequest.EvidenceStored.
func StoreEvidence(s EvidenceStore, p EvidencePack) (digest.Digest, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	b, d, err := p.CanonicalBytes()
	if err != nil {
		return "", err
	}
	if err := s.PutEvidence(d, b); err != nil && !errors.Is(err, ErrEvidenceExists) {
		return "", fmt.Errorf("evidence store: %w", err)
	}
	return d, nil
}

// LoadEvidence reads a pack and verifies it on read: the bytes must hash to
// d (*digest.MismatchError otherwise) and be canonical.
func LoadEvidence(s EvidenceStore, d digest.Digest) (EvidencePack, error) {
	b, err := s.GetEvidence(d)
	if err != nil {
		return EvidencePack{}, err
	}
	if got := digest.FromBytes(b); got != d {
		return EvidencePack{}, &digest.MismatchError{Object: "evidence pack " + d.String(), Want: string(d), Got: string(got), WantSize: -1, GotSize: int64(len(b))}
	}
	p, _, err := decodeCanonicalPack(b)
	return p, err
}

// MemEvidenceStore is an in-memory write-once EvidenceStore. It is not
// safe for concurrent use.
type MemEvidenceStore struct{ m map[digest.Digest][]byte }

var _ EvidenceStore = (*MemEvidenceStore)(nil)

// NewMemEvidenceStore returns an empty store.
func NewMemEvidenceStore() *MemEvidenceStore {
	return &MemEvidenceStore{m: map[digest.Digest][]byte{}}
}

// PutEvidence implements EvidenceStore.
func (s *MemEvidenceStore) PutEvidence(d digest.Digest, b []byte) error {
	if _, ok := s.m[d]; ok {
		return fmt.Errorf("%w: %s", ErrEvidenceExists, d)
	}
	s.m[d] = append([]byte(nil), b...)
	return nil
}

// GetEvidence implements EvidenceStore.
func (s *MemEvidenceStore) GetEvidence(d digest.Digest) ([]byte, error) {
	b, ok := s.m[d]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrEvidenceNotFound, d)
	}
	return append([]byte(nil), b...), nil
}

// ArtifactEvidenceFrom is the evidence record of a catalog artifact.
func ArtifactEvidenceFrom(a Artifact) ArtifactEvidence {
	return ArtifactEvidence{Name: a.Name, Platform: a.Platform, SHA256: a.SHA256, Size: a.Size, Signing: a.Signing, Decision: a.ScanDecision, Provenance: a.Provenance}
}
