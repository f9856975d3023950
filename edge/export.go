package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// eventsPerRecord caps the events of one events record: an event is at
// most about 6 KiB encoded (object 1 KiB, detail 4 KiB), so a record stays
// well under transfer.MaxRecordSize.
var eventsPerRecord = 2000

// ExportOptions tune Export.
type ExportOptions struct {
	transfer.CreateOptions
	TTL time.Duration // 0: 90 days
}

// ExportResult describes a written edge bundle.
type ExportResult struct {
	BundleID    string           `json:"bundle_id"`
	Digest      digest.Digest    `json:"digest"`
	Sequence    uint64           `json:"sequence"`
	Predecessor digest.Digest    `json:"predecessor,omitempty"`
	Receipt     transfer.Receipt `json:"receipt"`
	Events      int              `json:"events"`
	FirstEvent  uint64           `json:"first_event,omitempty"`
	LastEvent   uint64           `json:"last_event,omitempty"`
	// Executions counts the execution records (reports of the hub's
	// orders for site-local planes).
	Executions int      `json:"executions,omitempty"`
	Volumes    []string `json:"volumes"`
	Bytes      int64    `json:"bytes"`
}

// Export writes a bundle for the hub into outDir, signed with the edge key:
// target "hub", the edge's next outgoing sequence, predecessor the last
// bundle it exported, carrying a receipt, a held record (every held
// digest, sorted) and events records with every event the hub has not
// acknowledged. The sequence is reserved (committed)
// before the bundle is written, so an interrupted export leaves a gap in
// the edge's sequence, never two different bundles with one sequence.
func (e *Edge) Export(ctx context.Context, outDir string, opts ExportOptions) (*ExportResult, error) {
	res, _, err := e.export(ctx, outDir, opts)
	return res, err
}

// ExportRequest builds an edge export for the network: the same records
// as Export, sequence reserved the same way, but signed as a
// manifest-only bundle (transfer.CreateManifest: nothing is compressed or
// written to disk), returned as the body of the hub's imports endpoint
// (client.Client.ImportSite), which reads only the envelope and records.
func (e *Edge) ExportRequest(ctx context.Context) (*api.ImportRequest, *ExportResult, error) {
	res, req, err := e.export(ctx, "", ExportOptions{})
	return req, res, err
}

// scratchPrefix names the scratch directories earlier versions wrote
// network exports into (DIR/edge/.export-*); one a kill left behind is
// removed by the next network export under the lock.
const scratchPrefix = ".export-"

// export writes the bundle into outDir, or, when outDir is "", only signs
// its manifest (the network flow); either way it returns the bundle also
// as an import request for the hub.
func (e *Edge) export(ctx context.Context, outDir string, opts ExportOptions) (*ExportResult, *api.ImportRequest, error) {
	unlock, err := e.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if outDir == "" {
		stale, _ := filepath.Glob(filepath.Join(e.dir.Edge(), scratchPrefix+"*"))
		for _, d := range stale {
			os.RemoveAll(d)
		}
	}
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, nil, err
	}
	st.Export.Seq++
	seq, pred := st.Export.Seq, st.Export.Digest
	if err := st.save(e.dir.Edge()); err != nil {
		return nil, nil, err
	}
	now := e.Clock().UTC()
	held := st.heldList()
	rc := st.receiptOf(now, held)
	rb, err := json.Marshal(rc)
	if err != nil {
		return nil, nil, err
	}
	hb, err := json.Marshal(transfer.HeldList{Site: st.Site, Digests: held})
	if err != nil {
		return nil, nil, err
	}
	recs := []transfer.RecordSource{{Type: transfer.RecordReceipt, Data: rb}, {Type: transfer.RecordHeld, Data: hb}}
	execs, err := st.executionRecords()
	if err != nil {
		return nil, nil, err
	}
	recs = append(recs, execs...)
	res := &ExportResult{Sequence: seq, Predecessor: pred, Receipt: rc, Events: len(st.Pending), Executions: len(execs)}
	// Events go in batches of at most eventsPerRecord, in chain order, so
	// no record approaches transfer.MaxRecordSize.
	for i := 0; i < len(st.Pending); i += eventsPerRecord {
		evs := st.Pending[i:min(len(st.Pending), i+eventsPerRecord)]
		batch := transfer.EventBatch{Origin: st.Site, First: evs[0].Seq, Last: evs[len(evs)-1].Seq, Events: evs}
		eb, err := json.Marshal(batch)
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, transfer.RecordSource{Type: transfer.RecordEvents, Data: eb})
		if res.FirstEvent == 0 {
			res.FirstEvent = batch.First
		}
		res.LastEvent = batch.Last
	}
	ttl := opts.TTL
	if ttl == 0 {
		ttl = exportTTL
	}
	hdr := transfer.Header{Source: st.Site, Target: transfer.HubEndpoint, Sequence: seq, Predecessor: pred, Created: now, Expires: now.Add(ttl)}
	var signed *transfer.Signed
	if outDir == "" {
		signed, err = transfer.CreateManifest(ctx, e.key, hdr, transfer.Content{Records: recs})
	} else {
		var out *transfer.Result
		if out, err = transfer.Create(ctx, outDir, e.key, hdr, transfer.Content{Records: recs}, opts.CreateOptions); err == nil {
			signed, res.Volumes, res.Bytes = out.Signed, out.Volumes, out.Bytes
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("export sequence %d: %w", seq, err)
	}
	st.Export.Digest = signed.Digest
	if err := st.save(e.dir.Edge()); err != nil {
		return nil, nil, err
	}
	res.BundleID, res.Digest = signed.BundleID, signed.Digest
	// The manifest lists the records in the order given, one each.
	byDigest := make(map[digest.Digest][]byte, len(recs))
	for i, r := range signed.Records {
		byDigest[r.Digest] = recs[i].Data
	}
	return res, api.NewImportRequest(signed.Envelope, byDigest), nil
}

// receipt describes what the edge holds at time now.
func (st *state) receipt(now time.Time) transfer.Receipt { return st.receiptOf(now, st.heldList()) }

// receiptOf is receipt given held, the state's heldList.
func (st *state) receiptOf(now time.Time, held []digest.Digest) transfer.Receipt {
	return transfer.Receipt{
		Site: st.Site, AppliedSeq: st.Applied.Seq, AppliedDigest: st.Applied.Digest,
		Objects: st.heldSummaryOf(held), ChainHead: st.Chain, Generated: now.UTC(),
	}
}

// Status is a summary of the edge's state.
type Status struct {
	Site        string    `json:"site"`
	EdgeKeyID   string    `json:"edge_key_id"`
	HubKeyID    string    `json:"hub_key_id"`
	Applied     Applied   `json:"last_applied"`
	TrustedTime time.Time `json:"trusted_hub_time,omitzero"`
	// LastMediaImport is when a bundle from media was last applied.
	LastMediaImport time.Time          `json:"last_media_import,omitzero"`
	Objects         int64              `json:"objects"`
	Bytes           int64              `json:"bytes"`
	ObjectsDigest   digest.Digest      `json:"objects_list_digest"`
	Intents         int                `json:"intents"`
	Approvals       int                `json:"approvals"`
	Exceptions      int                `json:"exceptions"`
	Artifacts       int                `json:"artifacts"`
	APT             []APTStatus        `json:"apt"`
	Pending         int                `json:"pending_events"`
	Chain           transfer.ChainHead `json:"chain_head"`
	ExportSeq       uint64             `json:"last_export_seq"`
	ExportDigest    digest.Digest      `json:"last_export_digest,omitempty"`
	// VulnFeed is the version of the vulnerability feed held, "" for none
	// ('eucora edge vuln show' for the rest).
	VulnFeed string `json:"vuln_feed_version,omitempty"`
}

// APTStatus is one APT assignment and whether the mirror serves it.
type APTStatus struct {
	transfer.APTPublication
	Installed bool `json:"installed"`
}

// Status reads the edge's state.
func (e *Edge) Status() (*Status, error) {
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	h := st.heldSummary()
	apt := []APTStatus{}
	for _, k := range sortedKeys(st.APT) {
		apt = append(apt, APTStatus{APTPublication: st.APT[k], Installed: st.Installed[k] == st.APT[k].Publication})
	}
	return &Status{
		Site: st.Site, EdgeKeyID: st.EdgeKey, HubKeyID: st.HubKeyID, Applied: st.Applied, TrustedTime: st.TrustedTime,
		LastMediaImport: st.LastMediaImport,
		Objects:         h.Count, Bytes: h.Bytes, ObjectsDigest: h.ListDigest,
		Intents: len(st.Intents), Approvals: len(st.Approvals), Exceptions: len(st.Exceptions),
		Artifacts: len(st.Artifacts), APT: apt, Pending: len(st.Pending), Chain: st.Chain, ExportSeq: st.Export.Seq, ExportDigest: st.Export.Digest,
		VulnFeed: vulnFeedVersion(st),
	}, nil
}

func vulnFeedVersion(st *state) string {
	if st.VulnFeed == nil {
		return ""
	}
	return st.VulnFeed.Version
}

// PendingEvents returns the events not yet acknowledged by the hub.
func (e *Edge) PendingEvents() ([]transfer.Event, error) {
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	return st.Pending, nil
}
