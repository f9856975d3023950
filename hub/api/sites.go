package api

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// Site sync API (docs/sync-protocol.md).

// Site classes.
const (
	ClassOnline       = "online"
	ClassIntermittent = "intermittent"
	ClassAirGapped    = "air-gapped"
)

// APTAssignment is an APT publication (prefix and distribution of the
// hub's mirror) a site serves.
type APTAssignment struct {
	Prefix string `json:"prefix"`
	Dist   string `json:"dist"`
}

// Site is a remote location served by an edge.
type Site struct {
	Name      string       `json:"name"`
	Class     string       `json:"class"`
	Scope     deploy.Scope `json:"scope"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by,omitempty"`
	EdgeKeyID string       `json:"edge_key_id,omitempty"`
	// EdgeKeyPEM is the enrolled edge's public key: the only key whose
	// bundles the hub accepts from this site.
	EdgeKeyPEM string `json:"edge_key_pem,omitempty"`
	// APT are the APT publications the site serves.
	APT []APTAssignment `json:"apt,omitempty"`
}

// SiteRequest is POST /v1/sites.
type SiteRequest struct {
	Name  string       `json:"name"`
	Class string       `json:"class"`
	Scope deploy.Scope `json:"scope"`
	// EdgeKeyPEM optionally enrols the site's edge key at creation.
	EdgeKeyPEM string `json:"edge_key_pem,omitempty"`
}

// EnrollRequest is PUT /v1/sites/{name}/edge-key.
type EnrollRequest struct {
	PublicKeyPEM string `json:"public_key_pem"`
}

// AssignRequest is PUT /v1/sites/{name}/apt: the complete list of APT
// publications the site serves.
type AssignRequest struct {
	Publications []APTAssignment `json:"publications"`
}

// AssignResult is the answer to PUT /v1/sites/{name}/apt: the site, whose
// APT list is the one now assigned, with the list it replaced and what
// the assignment added and removed (never nil).
type AssignResult struct {
	Site
	Before  []APTAssignment `json:"before"`
	Added   []APTAssignment `json:"added"`
	Removed []APTAssignment `json:"removed"`
}

// SeqRange is a run of missing event sequences [From, To].
type SeqRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// SiteSync is GET /v1/sites/{name}/sync.
type SiteSync struct {
	Site                    string          `json:"site"`
	Class                   string          `json:"class"`
	EdgeKeyID               string          `json:"edge_key_id,omitempty"`
	APT                     []APTAssignment `json:"apt"`
	LastExportedSeq         uint64          `json:"last_exported_seq"`
	LastExportedAt          *time.Time      `json:"last_exported_at"`
	ReservedSeq             uint64          `json:"reserved_seq"`
	LastAppliedSeq          uint64          `json:"last_applied_seq"`
	LastReceiptAt           *time.Time      `json:"last_receipt_at"`
	LastImportSeq           uint64          `json:"last_import_seq"`
	LastImportAt            *time.Time      `json:"last_import_at"`
	HeldObjects             int64           `json:"held_objects"`
	HeldBytes               int64           `json:"held_bytes"`
	PendingObjects          int             `json:"pending_objects"`
	PendingBytes            int64           `json:"pending_bytes"`
	PendingError            string          `json:"pending_error,omitempty"`
	EventsReceived          uint64          `json:"events_received"`
	LastEventSeq            uint64          `json:"last_event_seq"`
	Gaps                    []SeqRange      `json:"gaps"`
	ChainOK                 bool            `json:"chain_ok"`
	ChainError              string          `json:"chain_error,omitempty"`
	StalenessSeconds        int64           `json:"staleness_seconds"`
	TimeToComplianceSeconds int64           `json:"time_to_compliance_seconds"`
	Stale                   bool            `json:"stale"`
	// Sync sums up LastExportedSeq against LastAppliedSeq (SyncSummary).
	Sync string `json:"sync"`
	// The last refused import of one of the site's bundles, and the
	// refusals since the last one merged.
	LastRefusalAt       *time.Time `json:"last_refusal_at"`
	LastRefusalReason   string     `json:"last_refusal_reason,omitempty"`
	RefusalsSinceImport uint64     `json:"refusals_since_import"`
}

// SyncSummary is the Sync of a site that applied appliedSeq of the hub's
// exports up to exportedSeq: "nothing exported", "never received", "in
// sync" or "N export(s) unacknowledged".
func SyncSummary(exportedSeq, appliedSeq uint64) string {
	switch {
	case exportedSeq == 0:
		return "nothing exported"
	case appliedSeq == 0:
		return "never received"
	case appliedSeq >= exportedSeq:
		return "in sync"
	case exportedSeq-appliedSeq == 1:
		return "1 export unacknowledged"
	}
	return fmt.Sprintf("%d exports unacknowledged", exportedSeq-appliedSeq)
}

// ExportRequest is POST /v1/sites/{name}/exports.
type ExportRequest struct {
	VolumeSize int64 `json:"volume_size,omitempty"` // 0: the bundle default
	Full       bool  `json:"full,omitempty"`        // ignore what the site holds
	IfChanged  bool  `json:"if_changed,omitempty"`  // reuse the last export when it says the same
	// ManifestOnly signs the manifest and writes no volumes: for the
	// network flow, which fetches each object by digest.
	ManifestOnly bool `json:"manifest_only,omitempty"`
}

// VolumeInfo is one written volume of an export.
type VolumeInfo struct {
	Name   string        `json:"name"`
	Size   int64         `json:"size"`
	SHA256 digest.Digest `json:"sha256"`
}

// Export is a hub bundle written for a site (POST and GET
// /v1/sites/{name}/exports).
type Export struct {
	Site        string        `json:"site"`
	Sequence    uint64        `json:"sequence"`
	BundleID    string        `json:"bundle_id"`
	Digest      digest.Digest `json:"digest"`
	Predecessor digest.Digest `json:"predecessor,omitempty"`
	Created     time.Time     `json:"created"`
	Expires     time.Time     `json:"expires"`
	Objects     int           `json:"objects"`      // content objects carried (records excluded)
	ObjectBytes int64         `json:"object_bytes"` // their bytes
	Records     int           `json:"records"`
	Full        bool          `json:"full,omitempty"`
	// ManifestOnly exports have no volumes: objects are fetched by digest.
	ManifestOnly bool         `json:"manifest_only,omitempty"`
	Volumes      []VolumeInfo `json:"volumes"`
	// ContentKey identifies what the bundle says: an unchanged key means
	// a new export would tell the site nothing new.
	ContentKey   digest.Digest `json:"content_key"`
	AckSeq       uint64        `json:"ack_seq,omitempty"`       // the site event the bundle acknowledges
	AnnouncedKey string        `json:"announced_key,omitempty"` // the staged hub key the bundle announced
	// HeldDigest is the list digest of what the site held as the delta
	// was computed.
	HeldDigest digest.Digest `json:"held_digest,omitempty"`
	Node       string        `json:"node"` // the node whose disk holds the volumes
	// Reused is set when IfChanged found nothing new and the answer is
	// the previous export.
	Reused bool `json:"reused"`
}

// VolumeBytes is the size of all of an export's volumes.
func (x Export) VolumeBytes() int64 {
	var n int64
	for _, v := range x.Volumes {
		n += v.Size
	}
	return n
}

// ImportRequest is POST /v1/sites/{name}/imports: an edge bundle's signed
// manifest and its records, so the hub verifies everything itself.
// Envelope is the base64 of the exact MANIFEST.dsse.json bytes; Records
// maps each record's hex digest to the base64 of its bytes.
type ImportRequest struct {
	Envelope string            `json:"envelope"`
	Records  map[string]string `json:"records"`
}

// NewImportRequest builds the request body for a bundle: its exact
// envelope and the bytes of every record.
func NewImportRequest(envelope []byte, records map[digest.Digest][]byte) *ImportRequest {
	r := &ImportRequest{Envelope: base64.StdEncoding.EncodeToString(envelope), Records: map[string]string{}}
	for d, b := range records {
		r.Records[d.Hex()] = base64.StdEncoding.EncodeToString(b)
	}
	return r
}

// Import outcomes.
const (
	ImportApplied   = "applied"
	ImportDuplicate = "duplicate"
)

// ImportResult is what the hub did with an edge bundle.
type ImportResult struct {
	Outcome         string         `json:"outcome"`
	Sequence        uint64         `json:"sequence"`
	EventsAccepted  int            `json:"events_accepted"`
	EventsDuplicate int            `json:"events_duplicate"`
	ChainOK         bool           `json:"chain_ok"`
	ChainError      string         `json:"chain_error,omitempty"`
	Gap             *SeqRange      `json:"gap,omitempty"`
	LastAppliedSeq  uint64         `json:"last_applied_seq"`
	Warnings        []string       `json:"warnings,omitempty"`
	Site            string         `json:"site"`
	BundleID        string         `json:"bundle_id"`
	Digest          digest.Digest  `json:"digest"`
	Ignored         map[string]int `json:"ignored_records,omitempty"`
}

// ImportRefusal is POST /v1/sites/{name}/import-refusals: a site's bundle
// the client refused before uploading it, recorded by the hub as a refused
// import. The other fields come from the manifest as read.
type ImportRefusal struct {
	Code     transfer.RefusalCode `json:"code"`
	Reason   string               `json:"reason"`
	BundleID string               `json:"bundle_id,omitempty"`
	Sequence uint64               `json:"sequence,omitempty"`
	Digest   string               `json:"digest,omitempty"`
}
