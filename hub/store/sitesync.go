package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// syncHandlers apply the hub's side of the hub <-> edge exchange
// (docs/sync-protocol.md): export sequence reservation and recording, and
// the merge of an edge's bundle.
var syncHandlers = map[string]handler{
	CmdExportReserve: withBody(applyExportReserve),
	CmdExportRecord:  withBody(applyExportRecord),
	CmdSiteImport:    withBody(siteImport),
}

// APTAssignment is an APT publication (prefix and distribution of the
// hub's mirror) a site serves.
type APTAssignment struct {
	Prefix string `json:"prefix"`
	Dist   string `json:"dist"`
}

// SiteSync is the hub's view of one site's sync, for central operations.
type SiteSync struct {
	// ReservedSeq is the last export sequence handed out; LastExport the
	// last export whose bundle was written and recorded.
	ReservedSeq uint64        `json:"reserved_seq"`
	LastExport  *ExportRecord `json:"last_export,omitempty"`

	// From the site's last receipt (never moves backwards).
	LastAppliedSeq    uint64               `json:"last_applied_seq"`
	LastAppliedDigest digest.Digest        `json:"last_applied_digest,omitempty"`
	LastReceiptAt     time.Time            `json:"last_receipt_at,omitzero"`
	Held              transfer.HeldObjects `json:"held"`
	HeldKnown         bool                 `json:"held_known"` // a held list arrived

	// The last edge bundle merged.
	LastImportSeq    uint64        `json:"last_import_seq"`
	LastImportDigest digest.Digest `json:"last_import_digest,omitempty"`
	LastImportAt     time.Time     `json:"last_import_at,omitzero"`

	// The edge's own event chain as the hub holds it.
	Chain          transfer.ChainHead `json:"chain"`
	EventsReceived uint64             `json:"events_received"`
	Gaps           []SeqRange         `json:"gaps"`
	ChainError     string             `json:"chain_error,omitempty"`

	// The last refused attempt to import one of the site's bundles (from
	// the audit record of the refusal) and the refusals recorded since the
	// last bundle merged.
	LastRefusalAt       time.Time `json:"last_refusal_at,omitzero"`
	LastRefusalReason   string    `json:"last_refusal_reason,omitempty"`
	RefusalsSinceImport uint64    `json:"refusals_since_import,omitempty"`
}

// ImportRefusalAction and ImportRefusalOutcome are the action and outcome
// of the audit record of a refused site bundle import (object "site/NAME"):
// applying such a record notes the refusal in the site's sync state.
const (
	ImportRefusalAction  = "sites.import"
	ImportRefusalOutcome = "refused"
)

// noteImportRefusal records a refused import of a registered site's bundle
// in its sync state. Other audit records change nothing.
func noteImportRefusal(b Batch, a *AuditInput) error {
	if a == nil || a.Action != ImportRefusalAction || a.Outcome != ImportRefusalOutcome {
		return nil
	}
	name, ok := strings.CutPrefix(a.Object, "site/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil
	}
	if _, err := loadSite(b, name); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	s, err := loadSync(b, name)
	if err != nil {
		return err
	}
	s.LastRefusalAt, s.LastRefusalReason = a.Time.UTC(), a.Reason
	s.RefusalsSinceImport++
	return setJSON(b, syncKey(name), s)
}

// SeqRange is a run of missing event sequences [From, To].
type SeqRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// VolumeInfo is one written volume of an export.
type VolumeInfo struct {
	Name   string        `json:"name"`
	Size   int64         `json:"size"`
	SHA256 digest.Digest `json:"sha256"`
}

// ExportRecord is a hub bundle written for a site.
type ExportRecord struct {
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
	// ContentKey identifies what the bundle says (records but the time
	// and the ack, and every object the records reference): an unchanged
	// key means a new export would tell the site nothing new.
	ContentKey digest.Digest `json:"content_key"`
	AckSeq     uint64        `json:"ack_seq,omitempty"` // the site event the bundle acknowledges
	// AnnouncedKey is the staged hub key the bundle announced, if any.
	AnnouncedKey string `json:"announced_key,omitempty"`
	// HeldDigest is the list digest of what the site held as the delta
	// was computed.
	HeldDigest digest.Digest `json:"held_digest,omitempty"`
	Node       string        `json:"node"` // the node whose disk holds the volumes
}

// Command bodies of site sync.
type (
	// SiteEnrollBody registers the edge key of a site.
	SiteEnrollBody struct {
		Name      string `json:"name"`
		PublicPEM string `json:"public_pem"`
	}
	// SiteAssignBody replaces the APT publications a site serves.
	SiteAssignBody struct {
		Name string          `json:"name"`
		APT  []APTAssignment `json:"apt"`
	}
	// ExportReserveBody reserves the next export sequence of a site.
	ExportReserveBody struct {
		Site string `json:"site"`
	}
	// SiteImportBody is an edge bundle whose signature the proposer
	// verified with the site's key, reduced to what the hub merges.
	SiteImportBody struct {
		Site     string                `json:"site"`
		Sequence uint64                `json:"sequence"`
		Digest   digest.Digest         `json:"digest"`
		BundleID string                `json:"bundle_id"`
		KeyID    string                `json:"key_id"`
		At       time.Time             `json:"at"`
		Receipt  transfer.Receipt      `json:"receipt"`
		Held     *transfer.HeldList    `json:"held,omitempty"`
		Batches  []transfer.EventBatch `json:"batches,omitempty"`
		// Executions are the edge's reports of the orders it holds.
		Executions []transfer.ExecutionReport `json:"executions,omitempty"`
	}
)

// ExportReservation is the result of site.export.reserve.
type ExportReservation struct {
	Sequence    uint64        `json:"sequence"`
	Predecessor digest.Digest `json:"predecessor,omitempty"`
}

// Import outcomes of site.import.
const (
	ImportApplied   = "applied"
	ImportDuplicate = "duplicate"
)

// SiteImportResult is what merging an edge bundle did.
type SiteImportResult struct {
	Outcome         string    `json:"outcome"`
	Sequence        uint64    `json:"sequence"`
	EventsAccepted  int       `json:"events_accepted"`
	EventsDuplicate int       `json:"events_duplicate"`
	ChainOK         bool      `json:"chain_ok"`
	ChainError      string    `json:"chain_error,omitempty"`
	Gap             *SeqRange `json:"gap,omitempty"`
	LastAppliedSeq  uint64    `json:"last_applied_seq"`
	Warnings        []string  `json:"warnings,omitempty"`
}

// ErrStale is returned for an edge bundle at or behind the last one merged
// that is not the same bundle.
var ErrStale = errors.New("stale bundle")

func loadSync(b Batch, site string) (SiteSync, error) {
	var s SiteSync
	raw, err := b.Get(syncKey(site))
	if errors.Is(err, ErrNotFound) {
		return SiteSync{Chain: transfer.ChainHead{Hash: transfer.GenesisHash}, Gaps: []SeqRange{}}, nil
	} else if err != nil {
		return s, err
	}
	return s, json.Unmarshal(raw, &s)
}

func applyExportReserve(b Batch, body ExportReserveBody) (any, error) {
	site, err := loadSite(b, body.Site)
	if err != nil {
		return nil, err
	}
	if site.EdgeKeyID == "" {
		return nil, fmt.Errorf("%w: site %s has no enrolled edge key ('eucora site enroll %s --edge-key EDGE.pub')", ErrInvalid, site.Name, site.Name)
	}
	s, err := loadSync(b, site.Name)
	if err != nil {
		return nil, err
	}
	s.ReservedSeq++
	r := ExportReservation{Sequence: s.ReservedSeq}
	if s.LastExport != nil {
		r.Predecessor = s.LastExport.Digest
	}
	return r, setJSON(b, syncKey(site.Name), s)
}

func applyExportRecord(b Batch, rec ExportRecord) (any, error) {
	s, err := loadSync(b, rec.Site)
	if err != nil {
		return nil, err
	}
	if rec.Sequence == 0 || rec.Sequence > s.ReservedSeq {
		return nil, fmt.Errorf("%w: export sequence %d was never reserved (last reserved %d)", ErrInvalid, rec.Sequence, s.ReservedSeq)
	}
	if s.LastExport != nil && rec.Sequence <= s.LastExport.Sequence {
		return nil, fmt.Errorf("%w: export sequence %d is not after the last recorded %d", ErrConflict, rec.Sequence, s.LastExport.Sequence)
	}
	s.LastExport = &rec
	if err := setJSON(b, exportKey(rec.Site, rec.Sequence), rec); err != nil {
		return nil, err
	}
	return rec, setJSON(b, syncKey(rec.Site), s)
}

// siteImport merges an edge bundle: exactly once by (origin, sequence),
// the edge's chain verified from the hub's copy of its head, the receipt
// never moving the site backwards. Every check runs before the first Set.
func siteImport(b Batch, body SiteImportBody) (any, error) {
	site, err := loadSite(b, body.Site)
	if err != nil {
		return nil, err
	}
	if site.EdgeKeyID == "" || site.EdgeKeyID != body.KeyID {
		return nil, fmt.Errorf("%w: bundle signed by key %s, site %s's enrolled key is %q", ErrInvalid, clipID(body.KeyID), site.Name, clipID(site.EdgeKeyID))
	}
	if body.Receipt.Site != site.Name {
		return nil, fmt.Errorf("%w: receipt is for site %q, not %q", ErrInvalid, body.Receipt.Site, site.Name)
	}
	s, err := loadSync(b, site.Name)
	if err != nil {
		return nil, err
	}
	res := &SiteImportResult{Sequence: body.Sequence, ChainOK: s.ChainError == "", ChainError: s.ChainError, LastAppliedSeq: s.LastAppliedSeq}
	if body.Sequence <= s.LastImportSeq {
		if body.Digest == s.LastImportDigest {
			res.Outcome = ImportDuplicate
			return res, nil
		}
		return nil, fmt.Errorf("%w: edge bundle sequence %d is at or behind the last merged sequence %d", ErrStale, body.Sequence, s.LastImportSeq)
	}
	if body.Held != nil {
		if body.Held.Site != site.Name {
			return nil, fmt.Errorf("%w: held list is for site %q", ErrInvalid, body.Held.Site)
		}
		if got := transfer.HeldListDigest(body.Held.Digests); got != body.Receipt.Objects.ListDigest {
			return nil, fmt.Errorf("%w: held list digest %s does not match the receipt's list_digest %s", ErrInvalid, got.Short(), body.Receipt.Objects.ListDigest.Short())
		}
	}
	for i, r := range body.Executions {
		if r.Site != site.Name {
			return nil, fmt.Errorf("%w: execution record %d is for site %q, not %q", ErrInvalid, i, r.Site, site.Name)
		}
	}
	for i, eb := range body.Batches {
		if eb.Origin != site.Name {
			return nil, fmt.Errorf("%w: events record %d has origin %q, not %q", ErrInvalid, i, eb.Origin, site.Name)
		}
	}

	// Events, batch by batch in chain order.
	var merged []transfer.Event
	head := s.Chain
	for _, eb := range body.Batches {
		if eb.Last <= head.Seq {
			// Entirely merged before; still check the overlap is ours.
			if _, err := eb.After(head); err != nil {
				s.ChainError = err.Error()
				break
			}
			continue
		}
		if eb.First > head.Seq+1 {
			res.Gap = &SeqRange{From: head.Seq + 1, To: eb.First - 1}
			break
		}
		evs, err := eb.After(head)
		if err == nil {
			head, err = transfer.VerifyChain(site.Name, head, evs)
		}
		if err != nil {
			s.ChainError = err.Error()
			break
		}
		merged = append(merged, evs...)
	}
	if len(merged) > 0 {
		ir, err := mergeEdgeEvents(b, site.Name, s.Chain, merged)
		var ce *transfer.ChainError
		switch {
		case errors.As(err, &ce):
			s.ChainError = err.Error()
		case err != nil:
			return nil, err
		default:
			res.EventsAccepted, res.EventsDuplicate = ir.Accepted, ir.Duplicates
			s.EventsReceived += uint64(ir.Accepted)
			s.Chain = head
			if s.ChainError != "" && res.Gap == nil && head.Seq == body.Receipt.ChainHead.Seq {
				// A later import that verified cleanly to the edge's head.
				s.ChainError = ""
			}
		}
	}
	if res.Gap != nil {
		s.Gaps = append(s.Gaps, *res.Gap)
		if len(s.Gaps) > 100 {
			s.Gaps = s.Gaps[len(s.Gaps)-100:]
		}
	}
	// Gaps at or below the merged head are closed.
	open := s.Gaps[:0]
	for _, g := range s.Gaps {
		if g.To > s.Chain.Seq {
			open = append(open, g)
		}
	}
	s.Gaps = open

	// Receipt: never backwards.
	rc := body.Receipt
	if rc.AppliedSeq > s.ReservedSeq {
		res.Warnings = append(res.Warnings, fmt.Sprintf("receipt names applied sequence %d, beyond the last export sequence %d this hub reserved", rc.AppliedSeq, s.ReservedSeq))
	}
	if rc.AppliedSeq >= s.LastAppliedSeq && !rc.Generated.Before(s.LastReceiptAt) {
		s.LastAppliedSeq, s.LastAppliedDigest, s.LastReceiptAt, s.Held = rc.AppliedSeq, rc.AppliedDigest, rc.Generated.UTC(), rc.Objects
		if body.Held != nil {
			s.HeldKnown = true
			if err := setJSON(b, heldKey(site.Name), body.Held.Digests); err != nil {
				return nil, err
			}
		}
	} else {
		res.Warnings = append(res.Warnings, fmt.Sprintf("receipt (applied sequence %d, generated %s) is older than the one held (%d, %s): kept the newer",
			rc.AppliedSeq, rc.Generated.Format(time.RFC3339), s.LastAppliedSeq, s.LastReceiptAt.Format(time.RFC3339)))
	}
	warn, err := mergeExecutions(b, site.Name, body.At, body.Sequence, body.Executions)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, warn...)
	s.LastImportSeq, s.LastImportDigest, s.LastImportAt = body.Sequence, body.Digest, body.At.UTC()
	s.RefusalsSinceImport = 0
	res.Outcome = ImportApplied
	res.ChainOK, res.ChainError, res.LastAppliedSeq = s.ChainError == "", s.ChainError, s.LastAppliedSeq
	return res, setJSON(b, syncKey(site.Name), s)
}

// mergeEdgeEvents appends an edge's events that continue its chain from
// head (verified). Under rule 2 the hub stores them with the edge's own
// hashes (ingestChained); before the chain-rule command it re-hashes them
// as the first hub did, keeping the edge's hashes in data, so a node of
// this version applies an old log exactly as the old node did.
func mergeEdgeEvents(b Batch, site string, head transfer.ChainHead, evs []transfer.Event) (IngestResult, error) {
	r, err := chainRuleOf(b)
	if err != nil {
		return IngestResult{}, err
	}
	if r.Rule >= ChainRuleCanonical {
		return ingestChained(b, site, head, evs)
	}
	in := make([]IngestEvent, len(evs))
	for i, e := range evs {
		data, _ := json.Marshal(map[string]string{"edge_hash": e.Hash, "edge_prev_hash": e.PrevHash})
		in[i] = IngestEvent{Sequence: e.Seq, ID: fmt.Sprintf("%s-%d", site, e.Seq),
			Time: e.Time, Actor: e.Actor, Action: e.Action, Object: e.Object, Outcome: e.Outcome, Reason: e.Detail, Data: data}
	}
	return ingest(b, EventsIngestBody{Origin: site, Events: in})
}

func clipID(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

// SiteSync returns a site's sync state (zero state before any exchange).
func (s *State) SiteSync(site string) (SiteSync, error) {
	var v SiteSync
	err := s.read(func(db *pebble.DB) error {
		var err error
		v, err = loadSync(dbBatch{db}, site)
		return err
	})
	return v, err
}

// Export returns one recorded export of a site.
func (s *State) Export(site string, seq uint64) (v ExportRecord, err error) {
	return v, s.read(func(db *pebble.DB) error { return getJSON(db, exportKey(site, seq), &v) })
}

// HeldList returns the digests a site's last receipt said it holds (nil
// before any held list arrived).
func (s *State) HeldList(site string) (v []digest.Digest, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, heldKey(site), &v) })
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return v, err
}

// dbBatch reads committed state through the Batch interface, so the
// processor's loaders serve reads too.
type dbBatch struct{ db *pebble.DB }

var _ Batch = dbBatch{}

func (d dbBatch) Get(k []byte) ([]byte, error) { return getRaw(d.db, k) }
func (d dbBatch) Set(k, v []byte) error        { return errors.New("read-only") }
func (d dbBatch) Delete(k []byte) error        { return errors.New("read-only") }
