package sitesync

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/packaging/vuln"
	"github.com/eucora/eucora/transfer"
)

// plan is what a site should hold now: its records (all of them) and
// every object they reference.
type plan struct {
	records []transfer.RecordSource // site, intents, apps, risks, artifacts, approvals, exceptions, apt
	objects map[digest.Digest]int64 // referenced content objects and sizes
	ack     *transfer.Ack
	// feed is the statement about the hub's current vulnerability feed
	// file, signed into a vuln-feed record when the bundle is written (the
	// plan has no key); nil when no feed was imported.
	feed *vuln.FeedStatement
	key  digest.Digest // content key (the ack is not part of it)
}

// plan computes the site's desired state from the replicated records and
// this node's APT publications. An error says what the records or the
// mirror lack, or that the state could not be read.
func (x *Syncer) plan(site store.Site, sync store.SiteSync) (*plan, error) {
	return x.planOf(site, sync, true)
}

// planOf is plan; without records it checks and collects the same
// objects but encodes no record and computes no content key (what Status
// needs: the pending objects, and why none can be planned).
func (x *Syncer) planOf(site store.Site, sync store.SiteSync, records bool) (*plan, error) {
	st := x.cfg.State
	pl := &plan{objects: map[digest.Digest]int64{}}
	add := func(typ string, v any) error {
		if !records {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		pl.records = append(pl.records, transfer.RecordSource{Type: typ, Data: b})
		return nil
	}
	intents, err := st.Intents()
	if err != nil {
		return nil, err
	}
	approvals, err := st.Approvals()
	if err != nil {
		return nil, err
	}
	exceptions, err := st.Exceptions()
	if err != nil {
		return nil, err
	}
	if err := add(transfer.RecordSite, transfer.SiteInfo{Name: site.Name, Class: site.Class, Scope: site.Scope}); err != nil {
		return nil, err
	}
	apps := map[string]bool{}
	for _, in := range intents {
		if in.Status != store.IntentPublished && in.Status != store.IntentPromoted {
			continue
		}
		if in.Scope == nil || !site.Scope.Overlaps(*in.Scope) {
			continue
		}
		if err := add(transfer.RecordIntent, in.Intent); err != nil {
			return nil, err
		}
		if !apps[in.AppID] {
			apps[in.AppID] = true
			app, err := st.App(in.AppID)
			if err != nil {
				return nil, fmt.Errorf("intent %s: application %s: %w", in.ID, in.AppID, err)
			}
			if err := add(transfer.RecordApp, app.Application); err != nil {
				return nil, err
			}
		}
		if in.AssessmentID != "" {
			as, err := st.Assessment(in.AssessmentID)
			if err != nil {
				return nil, fmt.Errorf("intent %s: assessment %s: %w", in.ID, in.AssessmentID, err)
			}
			if err := add(transfer.RecordRisk, transfer.IntentRisk{IntentID: in.ID, Assessment: as.Assessment}); err != nil {
				return nil, err
			}
		}
		arts, err := st.Artifacts(in.AppID, in.Version)
		if err != nil {
			return nil, err
		}
		found := false
		for _, a := range arts {
			if a.SHA256 == in.Artifact {
				found = true
				if err := add(transfer.RecordArtifact, a.Artifact); err != nil {
					return nil, err
				}
				pl.objects[a.SHA256] = a.Size
			}
		}
		if !found {
			return nil, fmt.Errorf("intent %s names artifact %s, which %s %s does not list", in.ID, in.Artifact.Short(), in.AppID, in.Version)
		}
		subject := deploy.Subject(deploy.SubjectIntent, in.ID)
		for _, a := range approvals {
			if a.Subject == subject {
				if err := add(transfer.RecordApproval, a); err != nil {
					return nil, err
				}
			}
		}
		for _, e := range exceptions {
			if e.IntentID == in.ID {
				if err := add(transfer.RecordException, e); err != nil {
					return nil, err
				}
			}
		}
	}
	// Orders for the site's local planes, each with the content it
	// installs (an intent rolled back still has its uninstall order).
	orders, err := st.SiteOrders(site.Name)
	if err != nil {
		return nil, err
	}
	for _, o := range orders {
		if err := add(transfer.RecordOrder, o); err != nil {
			return nil, err
		}
		pl.objects[o.Release.Content.Digest] = o.Release.Content.Size
	}
	if len(site.APT) > 0 {
		repo, err := mirror.OpenRepo(x.cfg.MirrorDir, x.cfg.CAS)
		if err != nil {
			return nil, err
		}
		for _, a := range site.APT {
			ds, ok, err := Publication(repo, a.Prefix, a.Dist)
			if err != nil {
				return nil, fmt.Errorf("apt %s %s: %w", a.Prefix, a.Dist, err)
			}
			if !ok {
				return nil, fmt.Errorf("apt %s %s is assigned to site %s but nothing is published there on this node ('eucora mirror apt publish SNAPSHOT --prefix %s --dist %s')", a.Prefix, a.Dist, site.Name, a.Prefix, a.Dist)
			}
			files, err := x.publicationObjects(repo, ds.Publication)
			if err != nil {
				return nil, fmt.Errorf("apt %s %s: %w", a.Prefix, a.Dist, err)
			}
			for _, f := range files {
				pl.objects[f.SHA256] = f.Size
			}
			if err := add(transfer.RecordAPT, transfer.APTPublication{Prefix: a.Prefix, Dist: a.Dist, Publication: ds.Publication}); err != nil {
				return nil, err
			}
		}
	}
	// The current vulnerability feed, so the site can re-check artifacts
	// offline: its file is an object like any other (sent while the site
	// does not hold it), its statement a record of every bundle.
	switch f, err := st.VulnFeed(""); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("vulnerability feed: %w", err)
	default:
		blob, err := digest.Parse(string(f.Blob))
		if err != nil || f.Size <= 0 {
			return nil, fmt.Errorf("vulnerability feed %s: blob %q of %d bytes: %v", f.ID, f.Blob, f.Size, err)
		}
		pl.feed = &vuln.FeedStatement{Schema: vuln.FeedStatementSchema, Name: path.Base(f.Name), SHA256: blob, Size: f.Size, Version: f.ID}
		pl.objects[blob] = f.Size
	}
	if sync.Chain.Seq > 0 {
		pl.ack = &transfer.Ack{Origin: site.Name, Sequence: sync.Chain.Seq, Hash: sync.Chain.Hash}
	}
	if !records {
		return pl, nil
	}
	// The content key: every record and object, in a fixed order.
	var lines []string
	for _, r := range pl.records {
		lines = append(lines, "record "+r.Type+" "+digest.FromBytes(r.Data).Hex())
	}
	if pl.feed != nil {
		b, err := json.Marshal(pl.feed)
		if err != nil {
			return nil, err
		}
		lines = append(lines, "record "+transfer.RecordVulnFeed+" "+digest.FromBytes(b).Hex())
	}
	for d := range pl.objects {
		lines = append(lines, "object "+d.Hex())
	}
	sort.Strings(lines)
	pl.key = digest.FromBytes([]byte(strings.Join(lines, "\n")))
	return pl, nil
}

// publicationObjects is repo.PublicationObjects, kept per publication:
// publications are content-addressed and never change, and every export
// and every sync-state read of every site assigned one needs its list.
func (x *Syncer) publicationObjects(repo *mirror.Repo, id digest.Digest) ([]mirror.FileRef, error) {
	if v, ok := x.pubObjects.Load(id); ok {
		return v.([]mirror.FileRef), nil
	}
	files, err := repo.PublicationObjects(id)
	if err != nil {
		return nil, err
	}
	x.pubObjects.Store(id, files)
	return files, nil
}

// Acknowledgements alone make a new export (for if_changed) only when this
// many site events, or this much time, have piled up since the last one:
// every import at the edge is itself an event, so acking each at once
// would make a new bundle on every network round.
const (
	ackEvery    = 1000
	ackInterval = time.Hour
)

// reusable reports whether the last export still says everything a new one
// would: same records and objects, on this node's disk, not about to
// expire, no acknowledgement due, and either applied by the site or
// computed from the same held list (a site that refused it as incomplete
// and reported what it holds gets a new one).
func (x *Syncer) reusable(pl *plan, ss store.SiteSync, last *store.ExportRecord, req api.ExportRequest, heldDigest digest.Digest, now time.Time) bool {
	return last.ContentKey == pl.key && last.ManifestOnly == req.ManifestOnly && last.Node == x.cfg.NodeID && last.Expires.After(now.Add(24*time.Hour)) &&
		!pl.ackDue(last, now) && (ss.LastAppliedSeq >= last.Sequence || last.HeldDigest == heldDigest) && x.exportOnDisk(last)
}

// ackDue reports whether the site's events acknowledged by last lag the
// hub's head enough to warrant a bundle carrying only a new ack.
func (pl *plan) ackDue(last *store.ExportRecord, now time.Time) bool {
	if pl.ack == nil || pl.ack.Sequence == last.AckSeq {
		return false
	}
	return pl.ack.Sequence-last.AckSeq >= ackEvery || now.Sub(last.Created) >= ackInterval
}

// heldBy returns what the site holds as far as the hub knows: the held
// list of its last receipt, or, from an edge that sends none, the plan's
// own objects when the receipt's list digest says it holds exactly those.
func (pl *plan) heldBy(st State, site string, ss store.SiteSync) ([]digest.Digest, error) {
	held, err := st.HeldList(site)
	if err != nil || ss.HeldKnown {
		return held, err
	}
	var all []digest.Digest
	for d := range pl.objects {
		all = append(all, d)
	}
	if ss.Held.ListDigest != "" && transfer.HeldListDigest(all) == ss.Held.ListDigest {
		return all, nil
	}
	return nil, nil
}

// delta returns the plan's objects the site does not hold, sorted.
func (pl *plan) delta(held []digest.Digest, full bool) []digest.Digest {
	has := map[digest.Digest]bool{}
	if !full {
		for _, d := range held {
			has[d] = true
		}
	}
	var out []digest.Digest
	for d := range pl.objects {
		if !has[d] {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Status is a site's sync state for central operations at now: where its
// exports and imports stand, what it still lacks, how stale it is.
func (x *Syncer) Status(site store.Site, now time.Time) (*api.SiteSync, error) {
	st := x.cfg.State
	ss, err := st.SiteSync(site.Name)
	if err != nil {
		return nil, err
	}
	v := &api.SiteSync{Site: site.Name, Class: site.Class, EdgeKeyID: site.EdgeKeyID, APT: store.APTViews(site.APT),
		ReservedSeq: ss.ReservedSeq, LastAppliedSeq: ss.LastAppliedSeq, LastImportSeq: ss.LastImportSeq,
		HeldObjects: ss.Held.Count, HeldBytes: ss.Held.Bytes, EventsReceived: ss.EventsReceived, LastEventSeq: ss.Chain.Seq,
		Gaps: store.SeqRangeViews(ss.Gaps), ChainOK: ss.ChainError == "", ChainError: ss.ChainError}
	if v.APT == nil {
		v.APT = []api.APTAssignment{}
	}
	if v.Gaps == nil {
		v.Gaps = []api.SeqRange{}
	}
	timeOf := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	if ss.LastExport != nil {
		v.LastExportedSeq, v.LastExportedAt = ss.LastExport.Sequence, timeOf(ss.LastExport.Created)
	}
	v.LastReceiptAt, v.LastImportAt = timeOf(ss.LastReceiptAt), timeOf(ss.LastImportAt)
	v.Sync = api.SyncSummary(v.LastExportedSeq, v.LastAppliedSeq)
	v.LastRefusalAt, v.LastRefusalReason, v.RefusalsSinceImport = timeOf(ss.LastRefusalAt), ss.LastRefusalReason, ss.RefusalsSinceImport
	if pl, err := x.planOf(site, ss, false); err != nil {
		v.PendingError = err.Error()
	} else {
		held, err := pl.heldBy(st, site.Name, ss)
		if err != nil {
			return nil, err
		}
		for _, d := range pl.delta(held, false) {
			v.PendingObjects++
			v.PendingBytes += pl.objects[d]
		}
	}
	since := site.CreatedAt
	if !ss.LastReceiptAt.IsZero() {
		since = ss.LastReceiptAt
	}
	if now.After(since) {
		v.StalenessSeconds = int64(now.Sub(since) / time.Second)
	}
	if ttc, ok := deploy.TimeToCompliance(deploy.SiteClass(site.Class)); ok {
		v.TimeToComplianceSeconds = int64(ttc / time.Second)
		v.Stale = now.Sub(since) > ttc
	}
	return v, nil
}

// Publication looks up what this node's mirror publishes under prefix and
// dist: what an export carries for an APT assignment, and what an
// assignment must name. found is false when nothing is published there.
func Publication(repo *mirror.Repo, prefix, dist string) (ds mirror.DistState, found bool, err error) {
	ps, err := repo.PrefixState(prefix)
	if err != nil {
		return mirror.DistState{}, false, err
	}
	ds, found = ps.Dists[dist]
	return ds, found, nil
}

// Published lists every PREFIX:DIST this node's mirror publishes, sorted.
func Published(repo *mirror.Repo) ([]string, error) {
	sts, err := repo.Prefixes()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, st := range sts {
		for d := range st.Dists {
			out = append(out, st.Prefix+":"+d)
		}
	}
	sort.Strings(out)
	return out, nil
}
