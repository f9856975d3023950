package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// Site sync API (docs/sync-protocol.md).

// EnrollRequest is PUT /v1/sites/{name}/edge-key.
type EnrollRequest struct {
	PublicKeyPEM string `json:"public_key_pem"`
}

// AssignRequest is PUT /v1/sites/{name}/apt: the complete list of APT
// publications the site serves.
type AssignRequest struct {
	Publications []store.APTAssignment `json:"publications"`
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

// Export is an export of the hub for a site.
type Export struct {
	store.ExportRecord
	Reused bool `json:"reused"`
}

// ImportRequest is POST /v1/sites/{name}/imports: an edge bundle's signed
// manifest and its records, so the hub verifies everything itself.
// Envelope is the base64 of the exact MANIFEST.dsse.json bytes; Records
// maps each record's hex digest to the base64 of its bytes.
type ImportRequest struct {
	Envelope string            `json:"envelope"`
	Records  map[string]string `json:"records"`
}

// ImportResult is what the hub did with an edge bundle.
type ImportResult struct {
	store.SiteImportResult
	Site     string         `json:"site"`
	BundleID string         `json:"bundle_id"`
	Digest   digest.Digest  `json:"digest"`
	Ignored  map[string]int `json:"ignored_records,omitempty"`
}

// SiteSync is GET /v1/sites/{name}/sync.
type SiteSync struct {
	Site                    string                `json:"site"`
	Class                   string                `json:"class"`
	EdgeKeyID               string                `json:"edge_key_id,omitempty"`
	APT                     []store.APTAssignment `json:"apt"`
	LastExportedSeq         uint64                `json:"last_exported_seq"`
	LastExportedAt          *time.Time            `json:"last_exported_at"`
	ReservedSeq             uint64                `json:"reserved_seq"`
	LastAppliedSeq          uint64                `json:"last_applied_seq"`
	LastReceiptAt           *time.Time            `json:"last_receipt_at"`
	LastImportSeq           uint64                `json:"last_import_seq"`
	LastImportAt            *time.Time            `json:"last_import_at"`
	HeldObjects             int64                 `json:"held_objects"`
	HeldBytes               int64                 `json:"held_bytes"`
	PendingObjects          int                   `json:"pending_objects"`
	PendingBytes            int64                 `json:"pending_bytes"`
	PendingError            string                `json:"pending_error,omitempty"`
	EventsReceived          uint64                `json:"events_received"`
	LastEventSeq            uint64                `json:"last_event_seq"`
	Gaps                    []store.SeqRange      `json:"gaps"`
	ChainOK                 bool                  `json:"chain_ok"`
	ChainError              string                `json:"chain_error,omitempty"`
	StalenessSeconds        int64                 `json:"staleness_seconds"`
	TimeToComplianceSeconds int64                 `json:"time_to_compliance_seconds"`
	Stale                   bool                  `json:"stale"`
	// Sync sums up LastExportedSeq against LastAppliedSeq: "nothing
	// exported", "never received", "in sync" or "N export(s)
	// unacknowledged".
	Sync string `json:"sync"`
	// The last refused import of one of the site's bundles, and the
	// refusals since the last one merged.
	LastRefusalAt       *time.Time `json:"last_refusal_at"`
	LastRefusalReason   string     `json:"last_refusal_reason,omitempty"`
	RefusalsSinceImport uint64     `json:"refusals_since_import"`
}

// SyncSummary is the Sync of a site that applied appliedSeq of the hub's
// exports up to exportedSeq.
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

func sitePath(name string, rest ...string) string {
	p := "/v1/sites/" + url.PathEscape(name)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// EnrollSite registers a site's edge public key.
func (c *Client) EnrollSite(ctx context.Context, name string, publicPEM []byte) (store.Site, error) {
	var s store.Site
	return s, c.do(ctx, "PUT", sitePath(name, "edge-key"), EnrollRequest{PublicKeyPEM: string(publicPEM)}, &s)
}

// AssignResult is the answer to PUT /v1/sites/{name}/apt: the site, whose
// APT list is the one now assigned, with the list it replaced and what
// the assignment added and removed (never nil).
type AssignResult struct {
	store.Site
	Before  []store.APTAssignment `json:"before"`
	Added   []store.APTAssignment `json:"added"`
	Removed []store.APTAssignment `json:"removed"`
}

// AssignAPT sets the APT publications a site serves. A publication the hub
// does not publish is refused with an *APIError (422) of Code
// "unknown_publication", and the site's list is left as it was.
func (c *Client) AssignAPT(ctx context.Context, name string, pubs []store.APTAssignment) (AssignResult, error) {
	var s AssignResult
	return s, c.do(ctx, "PUT", sitePath(name, "apt"), AssignRequest{Publications: pubs}, &s)
}

// ExportSite asks the hub for the site's next bundle.
func (c *Client) ExportSite(ctx context.Context, name string, r ExportRequest) (Export, error) {
	var e Export
	return e, c.do(ctx, "POST", sitePath(name, "exports"), r, &e)
}

// SiteExport returns a recorded export.
func (c *Client) SiteExport(ctx context.Context, name string, seq uint64) (Export, error) {
	var e Export
	return e, c.do(ctx, "GET", sitePath(name, "exports", strconv.FormatUint(seq, 10)), nil, &e)
}

// ExportManifest returns an export's exact DSSE envelope bytes.
func (c *Client) ExportManifest(ctx context.Context, name string, seq uint64) ([]byte, error) {
	resp, err := c.Raw(ctx, "GET", sitePath(name, "exports", strconv.FormatUint(seq, 10), "manifest"), nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	env, err := io.ReadAll(io.LimitReader(resp.Body, transfer.MaxManifestSize+1))
	if err == nil && len(env) > transfer.MaxManifestSize {
		err = fmt.Errorf("manifest of export %d exceeds %d bytes", seq, transfer.MaxManifestSize)
	}
	return env, err
}

// ExportPart opens one object or volume of an export from offset, with a
// Range request when offset > 0. The answer is 206 starting at offset, or
// 200 with the whole part when the server (or a proxy) ignored the Range:
// the caller checks StatusCode and Content-Range. kind is "objects" or
// "volumes".
func (c *Client) ExportPart(ctx context.Context, name string, seq uint64, kind, id string, offset int64) (*http.Response, error) {
	var h http.Header
	if offset > 0 {
		h = http.Header{"Range": []string{fmt.Sprintf("bytes=%d-", offset)}}
	}
	return c.Raw(ctx, "GET", sitePath(name, "exports", strconv.FormatUint(seq, 10), kind, id), nil, h)
}

// ImportSite hands an edge bundle to the hub.
func (c *Client) ImportSite(ctx context.Context, name string, r *ImportRequest) (ImportResult, error) {
	var out ImportResult
	return out, c.do(ctx, "POST", sitePath(name, "imports"), r, &out)
}

// SiteSyncState returns a site's sync state.
func (c *Client) SiteSyncState(ctx context.Context, name string) (SiteSync, error) {
	var s SiteSync
	return s, c.do(ctx, "GET", sitePath(name, "sync"), nil, &s)
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

// ImportRequestFromVolumes reads an edge bundle's volumes (any order),
// verifies them with trust, and returns the import request body and the
// verified manifest. The records are staged in a temporary content store
// under tmpDir, removed before returning.
func ImportRequestFromVolumes(ctx context.Context, files []string, trust signing.Trust, tmpDir string) (*ImportRequest, *transfer.Signed, error) {
	b, err := transfer.OpenOne(files, trust)
	if err != nil {
		return nil, nil, err
	}
	if err := b.Complete(); err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp(tmpDir, ".eucora-import-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	st, err := cas.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := b.Import(ctx, st, transfer.ImportOptions{}); err != nil {
		return nil, nil, err
	}
	recs := map[digest.Digest][]byte{}
	for _, r := range b.Manifest.Records {
		data, err := transfer.ReadRecord(st, r)
		if err != nil {
			return nil, nil, err
		}
		recs[r.Digest] = data
	}
	return NewImportRequest(b.Envelope, recs), b.Signed, nil
}

// KeySwitchRequest is POST /v1/hub/key/switch.
type KeySwitchRequest struct {
	// Force switches although some enrolled sites have not applied a
	// bundle announcing the staged key.
	Force bool `json:"force,omitempty"`
}

// StageHubKey creates the next hub key, announced by every bundle from now.
func (c *Client) StageHubKey(ctx context.Context) (HubKey, error) {
	var k HubKey
	return k, c.do(ctx, "POST", "/v1/hub/key/stage", struct{}{}, &k)
}

// SwitchHubKey makes the staged key the one that signs.
func (c *Client) SwitchHubKey(ctx context.Context, force bool) (HubKey, error) {
	var k HubKey
	return k, c.do(ctx, "POST", "/v1/hub/key/switch", KeySwitchRequest{Force: force}, &k)
}

// VolumeBytes is the size of all of an export's volumes.
func (x Export) VolumeBytes() int64 {
	var total int64
	for _, v := range x.Volumes {
		total += v.Size
	}
	return total
}

// DownloadExport copies an export's volumes into dir: free space checked
// first, each volume written under a temporary name, checked against its
// size and SHA-256, then renamed. progress (may be nil) gets byte counts.
// It returns the volume paths.
func (c *Client) DownloadExport(ctx context.Context, x Export, dir string, progress func(int64)) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := cas.CheckSpace(dir, uint64(x.VolumeBytes())); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var files []string
	for _, v := range x.Volumes {
		if v.Name != filepath.Base(v.Name) || strings.HasPrefix(v.Name, ".") {
			return nil, fmt.Errorf("hub named a volume %q", v.Name)
		}
		dst := filepath.Join(dir, v.Name)
		resp, err := c.ExportPart(ctx, x.Site, x.Sequence, "volumes", v.Name, 0)
		if err != nil {
			return nil, err
		}
		err = copyVerified(dst, resp.Body, v.SHA256, v.Size, progress)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		files = append(files, dst)
	}
	return files, nil
}

// copyVerified writes r to dst atomically, checking size and digest
// before the file takes its name.
func copyVerified(dst string, r io.Reader, want digest.Digest, size int64, progress func(int64)) error {
	f, err := atomicfile.Create(dst, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort() // a no-op after Commit
	ver := digest.NewVerifier(want, size)
	w := io.MultiWriter(f, ver)
	if progress != nil {
		w = io.MultiWriter(w, progressWriter(progress))
	}
	if _, err := io.Copy(w, r); err != nil {
		return err
	}
	if err := ver.Verify(); err != nil {
		return err
	}
	return f.Commit()
}

type progressWriter func(int64)

func (p progressWriter) Write(b []byte) (int, error) { p(int64(len(b))); return len(b), nil }

// ImportRefusal is POST /v1/sites/{name}/import-refusals: a site's bundle
// the client refused before uploading it, recorded by the hub as a refused
// import. Code is one of the import refusal codes (docs/sync-protocol.md)
// or "missing_volume"; the other fields come from the manifest as read.
type ImportRefusal struct {
	Code     string `json:"code"`
	Reason   string `json:"reason"`
	BundleID string `json:"bundle_id,omitempty"`
	Sequence uint64 `json:"sequence,omitempty"`
	Digest   string `json:"digest,omitempty"`
}

// ReportImportRefusal records at the hub a site's bundle refused locally.
func (c *Client) ReportImportRefusal(ctx context.Context, site string, r ImportRefusal) error {
	return c.do(ctx, "POST", sitePath(site, "import-refusals"), r, nil)
}
