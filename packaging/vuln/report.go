package vuln

import (
	"encoding/json"
	"time"

	"github.com/eucora/eucora/internal/digest"
)

// Media types of the evidence items.
const (
	ReportMediaType   = "application/vnd.eucora.vuln-scan-report+json"     // scan_report
	DecisionMediaType = "application/vnd.eucora.vuln-policy-decision+json" // policy_decision
	ReportSchema      = "eucora.vuln-scan-report/v1"
)

// FeedInfo identifies the feed a report used.
type FeedInfo struct {
	Version   string        `json:"version"`
	Digest    digest.Digest `json:"digest"`
	Newest    time.Time     `json:"newest_modified"`
	Records   int           `json:"records"`
	Withdrawn int           `json:"withdrawn"`
	File      digest.Digest `json:"file_sha256"`
	Integrity []string      `json:"integrity"`
}

// Report is the scan_report evidence item: what was checked against which
// feed, every finding, what could not be checked, and the decision.
type Report struct {
	Schema              string               `json:"schema"`
	Artifact            digest.Digest        `json:"artifact,omitempty"`
	Feed                FeedInfo             `json:"feed"`
	Index               IndexStats           `json:"index"`
	Components          int                  `json:"components"`
	ComponentsChecked   int                  `json:"components_checked"`
	NotChecked          []string             `json:"not_checked,omitempty"`
	NotCheckedCount     int                  `json:"not_checked_count,omitempty"`
	Findings            []Finding            `json:"findings"`
	UnmatchedEcosystems []UnmatchedEcosystem `json:"unmatched_ecosystems,omitempty"`
	GitRangesIgnored    int                  `json:"git_ranges_ignored,omitempty"`
	Decision            Decision             `json:"decision"`
}

// NewReport assembles the report of scan s of an artifact against feed f
// (indexed as idx) and the decision d.
func NewReport(f *Feed, idx *Index, s *Scan, d Decision) *Report {
	return &Report{
		Schema:   ReportSchema,
		Artifact: d.Artifact,
		Feed: FeedInfo{Version: f.Version, Digest: f.Digest, Newest: f.Newest, Records: f.Count, Withdrawn: f.Withdrawn,
			File: f.SHA256, Integrity: f.Integrity},
		Index:               idx.Stats(),
		Components:          s.Components,
		ComponentsChecked:   s.Checked,
		NotChecked:          s.NotChecked,
		NotCheckedCount:     s.NotCheckedCount,
		Findings:            s.Findings,
		UnmatchedEcosystems: s.Unmatched,
		GitRangesIgnored:    s.GitRanges,
		Decision:            d,
	}
}

// JSON is the report as stored (content-addressed) for scan_report.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// JSON is the decision as stored for policy_decision.
func (d Decision) JSON() ([]byte, error) { return json.MarshalIndent(d, "", "  ") }
