package deploy

import (
	"encoding/json"
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

	ProvenanceKey string `json:"provenance_key"` // key id of the packaging key that signed Artifact.Provenance

	// Docs are the deployment documentation items (install_doc,
	// uninstall_doc, detection_doc) when the package came with them.
	Docs map[EvidenceItem]DocRef `json:"docs,omitempty"`

	InspectedAt time.Time `json:"inspected_at"`
}

// IntakeReason is why one group of risk facts has its value.
type IntakeReason struct {
	Group  string `json:"group"`
	Reason string `json:"reason"`
}
