package deploy

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/eucora/eucora/internal/digest"
)

// Intake is what the factory derived from an artifact's file itself
// (EUCORA-architecture.md section 7): the reader's facts, the SBOMs, the
// offline vulnerability policy's report and decision, the deployment
// documentation and the provenance it signed. It is nil for an artifact
// registered by hand (`eucora artifact add`), whose facts are declared,
// not read. Every digest names a blob in the hub's content store.
type Intake struct {
	Kind  string          `json:"kind"`  // deb, msi, exe, ...
	Facts json.RawMessage `json:"facts"` // packaging/facts.Facts as the reader returned them
	// Reasons say why each group of the artifact's risk facts (Artifact.Facts) has its value.
	Reasons []IntakeReason `json:"reasons"`

	SPDX       digest.Digest `json:"spdx"`      // SPDX 2.3 JSON
	CycloneDX  digest.Digest `json:"cyclonedx"` // CycloneDX JSON
	Components int           `json:"components"`

	ScanReport     digest.Digest `json:"scan_report"`     // the policy's report: feed version, findings, unmatched components
	PolicyDecision digest.Digest `json:"policy_decision"` // the decision document
	FeedVersion    string        `json:"feed_version,omitempty"`
	Findings       VulnCounts    `json:"findings"`
	// Blocking are the findings that failed the policy; an exception must
	// name each of them for the artifact to pass the publish gate.
	Blocking []BlockingFinding `json:"blocking,omitempty"`

	ProvenanceKey string `json:"provenance_key"` // key id of the packaging key that signed Artifact.Provenance

	// Docs are the deployment documentation items (install_doc,
	// uninstall_doc, detection_doc) when the package came with them.
	Docs map[EvidenceItem]DocRef `json:"docs,omitempty"`

	InspectedAt time.Time `json:"inspected_at"`
}

// BlockingFinding is one finding that failed the vulnerability policy.
type BlockingFinding struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
}

// IntakeReason is why one group of risk facts has its value.
type IntakeReason struct {
	Group  string `json:"group"`
	Reason string `json:"reason"`
}

// Media types of the documents the factory writes.
const (
	MediaCycloneDX     = "application/vnd.cyclonedx+json"
	MediaSPDX          = "application/spdx+json"
	MediaScanReport    = "application/vnd.eucora.scan-report+json"
	MediaDeploymentDoc = "application/vnd.eucora.deployment-doc+json"
)

// CompleteFromIntake fills the evidence items the factory derived for the
// pack's version from the artifacts the factory took in (those with an
// Intake; hand-registered ones are left as the pack lists them): each
// artifact's hash, signature, policy decision and provenance, the SBOM,
// the scan report, the policy decision and the deployment documentation.
// A value the pack already carries must be the factory's: a contradiction
// is an error naming the item, so a hand-fed item can never stand in for
// a fact EUCORA read from the file.
func CompleteFromIntake(p *EvidencePack, arts []Artifact) error {
	var made []Artifact
	for _, a := range arts {
		if a.Intake != nil {
			made = append(made, a)
		}
	}
	if len(made) == 0 {
		return nil
	}
	worst := ScanPass
	for _, a := range made {
		ev := ArtifactEvidenceFrom(a)
		found := false
		for i, have := range p.Artifacts {
			if digest.Canonical(have.SHA256) != digest.Canonical(a.SHA256) {
				continue
			}
			found = true
			if have != ev && (have.Provenance != "" || have.Signing != ev.Signing || have.Decision != ev.Decision || have.Size != ev.Size || have.Name != ev.Name || have.Platform != ev.Platform) {
				return fieldErrorf(fmt.Sprintf("artifacts[%d]", i), "%s contradicts the factory's record of %s (signing %s, policy %s): leave the artifact out and the hub fills it", have.Name, a.SHA256, ev.Signing.State, ev.Decision)
			}
			p.Artifacts[i] = ev
		}
		if !found {
			p.Artifacts = append(p.Artifacts, ev)
		}
		if a.ScanDecision == ScanFail || (a.ScanDecision == ScanException && worst == ScanPass) {
			worst = a.ScanDecision
		}
	}
	first := made[0].Intake
	set := func(field string, dst **DocRef, want DocRef, alt ...digest.Digest) error {
		if *dst == nil || (*dst).Digest == "" {
			*dst = &want
			return nil
		}
		got := digest.Canonical((*dst).Digest)
		if got == digest.Canonical(want.Digest) {
			return nil
		}
		for _, d := range alt {
			if got == digest.Canonical(d) {
				return nil
			}
		}
		return fieldErrorf(field, "%s is not the factory's %s: leave it out and the hub fills it", (*dst).Digest, want.Digest)
	}
	if err := set("sbom", &p.SBOM, DocRef{Digest: first.CycloneDX, MediaType: MediaCycloneDX, Title: "CycloneDX SBOM"}, first.SPDX); err != nil {
		return err
	}
	if err := set("scan_report", &p.ScanReport, DocRef{Digest: first.ScanReport, MediaType: MediaScanReport, Title: "offline OSV scan, feed " + first.FeedVersion}); err != nil {
		return err
	}
	decision := worst
	if worst == ScanFail && len(p.Exceptions) > 0 {
		decision = ScanException // failed, publishable only with the linked exception
	}
	switch {
	case p.PolicyDecision == "":
		p.PolicyDecision = decision
	case p.PolicyDecision != decision:
		return fieldErrorf("policy_decision", "%q, but the factory's policy decided %q for this version's artifacts", p.PolicyDecision, decision)
	}
	for _, a := range made {
		if len(a.Intake.Docs) == 0 {
			continue
		}
		for item, dst := range map[EvidenceItem]**DocRef{EvidenceInstallDoc: &p.InstallDoc, EvidenceUninstallDoc: &p.UninstallDoc, EvidenceDetectionDoc: &p.DetectionDoc} {
			if ref, ok := a.Intake.Docs[item]; ok {
				if err := set(string(item), dst, ref); err != nil {
					return err
				}
			}
		}
		break
	}
	return nil
}
