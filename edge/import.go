package edge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/clip"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/transfer"
)

// Import outcomes, as recorded in the audit event and the result.
const (
	OutcomeApplied   = "applied"
	OutcomeDuplicate = "duplicate"
	OutcomeRefused   = "refused"
	OutcomeFailed    = "failed" // not a verdict on the bundle: I/O, space, interruption
)

// ImportOptions tune Import.
type ImportOptions struct {
	Workers   int
	Progress  progress.Func     // raw bytes consumed; never called concurrently (transfer serializes it), maybe from a worker goroutine
	OnPlanned func(total int64) // called once the bundle's payload size is known
	// ResetTrustedTime is the recovery of an edge whose trusted time a
	// wrong hub clock moved ahead (edge/DESIGN.md, Trusted time): the
	// bundle must still verify with the hub key, be for this site and be
	// newer than the last applied one, but its expiry and time bound are
	// judged against the local clock alone, and once applied its own hub
	// time replaces the trusted time, even if lower. Recorded in the audit
	// event.
	ResetTrustedTime bool
}

// ImportResult is what an import attempt did.
type ImportResult struct {
	Outcome     string        `json:"outcome"`
	BundleID    string        `json:"bundle_id,omitempty"`
	Digest      digest.Digest `json:"digest,omitempty"`
	Sequence    uint64        `json:"sequence,omitempty"`
	PreviousSeq uint64        `json:"previous_seq"`
	// Gap is set when sequences between the previous and this one were
	// never applied (the bundle is cumulative and was applied anyway).
	Gap []uint64 `json:"gap,omitempty"` // [first, last] missing sequence
	// PredecessorMismatch: the bundle names a predecessor other than the
	// last bundle applied.
	PredecessorMismatch bool           `json:"predecessor_mismatch,omitempty"`
	Predecessor         digest.Digest  `json:"predecessor,omitempty"`
	ObjectsAdded        int            `json:"objects_added"`
	BytesAdded          int64          `json:"bytes_added"`
	Records             map[string]int `json:"records,omitempty"`         // applied records by type
	IgnoredRecords      map[string]int `json:"ignored_records,omitempty"` // types this edge does not use
	Warnings            []string       `json:"warnings,omitempty"`
	Error               string         `json:"error,omitempty"`
	Event               transfer.Event `json:"event"` // the audit event recorded
	// Installed lists the APT assignments ("prefix dist") switched to a
	// new publication after the commit; InstallEvent is the audit event
	// of those installs and of any that failed (each failure is also a
	// warning).
	Installed    []string        `json:"apt_installed,omitempty"`
	InstallEvent *transfer.Event `json:"install_event,omitempty"`
	// VulnFeed is the version of the vulnerability feed the bundle brought
	// when it is new to the edge (verified and parsed; now the current one).
	VulnFeed string `json:"vuln_feed,omitempty"`
}

// Import verifies and applies one hub bundle given as volume files or
// directories of volumes (any order). See edge/DESIGN.md for the rules.
// Every attempt appends one audit event to the edge's chain. A refusal
// returns the result (Outcome "refused") and an error wrapping the cause;
// nothing but the event changes. A duplicate of the last applied bundle is
// a no-op returning Outcome "duplicate" and a nil error. Objects stream into
// the content store; the state (applied sequence, held objects, records,
// trusted time) changes in one atomic write after every object is present
// and verified, so a kill at any point leaves the old state or the new and
// a rerun resumes from the objects already stored. After the commit, each
// assigned APT publication not yet served is installed (a failure is a
// warning, retried by the next import or ReconcileAPT).
func (e *Edge) Import(ctx context.Context, paths []string, opts ImportOptions) (*ImportResult, error) {
	return e.apply(ctx, &volumeSource{paths: paths}, opts)
}

// bundleSource is where an import's bundle comes from: volumes on media
// (Import) or a hub over the network (ApplyManifest).
type bundleSource interface {
	// label names the attempt in the audit event until the manifest is known.
	label() string
	// open returns the manifest, verified with trust.
	open(trust signing.Trust) (*transfer.Signed, error)
	// load brings every object of the bundle into store and returns those
	// it added that were absent before (a refusal removes them again).
	load(ctx context.Context, store *cas.Store, opts ImportOptions) ([]digest.Digest, error)
}

// volumeSource reads a bundle from volume files.
type volumeSource struct {
	paths []string
	b     *transfer.Bundle
}

func (v *volumeSource) label() string { return "volumes " + strings.Join(v.paths, " ") }

func (v *volumeSource) open(trust signing.Trust) (*transfer.Signed, error) {
	files, err := transfer.ExpandPaths(v.paths)
	if err != nil {
		return nil, err
	}
	if v.b, err = transfer.OpenOne(files, trust); err != nil {
		return nil, err
	}
	return v.b.Signed, nil
}

func (v *volumeSource) load(ctx context.Context, store *cas.Store, opts ImportOptions) ([]digest.Digest, error) {
	if err := v.b.Complete(); err != nil {
		return nil, err
	}
	m := v.b.Manifest
	var fresh []digest.Digest
	for _, o := range m.Objects {
		for _, p := range o.Parts {
			if ok, _ := store.Has(p.Digest); !ok {
				fresh = append(fresh, p.Digest)
			}
		}
		if ok, _ := store.Has(o.Digest); !ok && len(o.Parts) > 1 {
			fresh = append(fresh, o.Digest)
		}
	}
	// Room for everything the import writes (parts and the objects joined
	// from them, net of what the store holds), checked before anything is
	// written (edge/DESIGN.md 24).
	need := v.b.SpaceNeeded(store)
	if err := store.CheckSpace(uint64(need.Total())); err != nil {
		var se *cas.SpaceError
		if errors.As(err, &se) {
			return nil, &SpaceError{BundleID: m.BundleID, Dir: se.Dir, Need: need, Free: se.Free}
		}
		return nil, err
	}
	if opts.OnPlanned != nil {
		opts.OnPlanned(m.TotalSize())
	}
	return fresh, v.b.Import(ctx, store, transfer.ImportOptions{Workers: opts.Workers, Progress: opts.Progress})
}

// apply is the one import path: verify, check, load objects, parse
// records, check references, commit, install APT publications.
func (e *Edge) apply(ctx context.Context, src bundleSource, opts ImportOptions) (*ImportResult, error) {
	unlock, err := e.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	res := &ImportResult{PreviousSeq: st.Applied.Seq}
	object := src.label()
	fail := func(cause error) (*ImportResult, error) { return e.recordFailure(st, res, object, cause) }

	b, err := src.open(e.trust(st))
	if err != nil {
		return fail(err)
	}
	m := b.Manifest
	res.BundleID, res.Digest, res.Sequence, res.Predecessor = m.BundleID, b.Digest, m.Sequence, m.Predecessor
	object = fmt.Sprintf("bundle %s seq %d digest %s", m.BundleID, m.Sequence, b.Digest)

	dup, err := e.checkHeader(st, b, opts.ResetTrustedTime)
	if err != nil {
		return fail(err)
	}
	if dup {
		res.Outcome = OutcomeDuplicate
		ev, err := st.appendEvent(transfer.Event{Time: e.Clock(), Actor: e.actor(), Action: "import",
			Object: clip.String(object, 1024), Outcome: OutcomeDuplicate, Detail: "already applied; nothing changed"})
		if err != nil {
			return nil, err
		}
		if err := st.save(e.dir.Edge()); err != nil {
			return nil, err
		}
		res.Event = ev
		return res, nil
	}

	fresh, err := src.load(ctx, e.store, opts)
	if err != nil {
		if isRefusal(err) {
			e.dropUnheld(st, fresh)
		}
		return fail(err)
	}
	// Every object must now be present and whole.
	for _, o := range m.Objects {
		if n, err := e.store.Size(o.Digest); err != nil || n != o.Size {
			return fail(fmt.Errorf("object %s missing or of the wrong size after import (%d bytes, want %d): %v", o.Digest.Short(), n, o.Size, err))
		}
	}
	recs, err := e.readRecords(m)
	if err == nil {
		for _, t := range recs.times {
			if err = e.checkTimeLead(st, m.BundleID, "hub time record", t.Time, opts.ResetTrustedTime); err != nil {
				break
			}
		}
	}
	trust := e.trust(st) // what the bundle verified with
	if err == nil {
		err = verifyVulnFeed(m, recs, trust)
	}
	if err == nil {
		err = e.checkReferences(st, m, recs)
	}
	if err == nil {
		err = e.parseVulnFeed(st, m, recs, trust)
	}
	if err != nil {
		if isRefusal(err) {
			e.dropUnheld(st, fresh)
		}
		return fail(err)
	}

	// Every check passed: build the new state and commit it in one write.
	if m.Sequence > st.Applied.Seq+1 {
		res.Gap = []uint64{st.Applied.Seq + 1, m.Sequence - 1}
		res.Warnings = append(res.Warnings, fmt.Sprintf("gap: sequences %d..%d were never applied here; this bundle is cumulative and was applied", st.Applied.Seq+1, m.Sequence-1))
	}
	if m.Predecessor != st.Applied.Digest {
		res.PredecessorMismatch = true
		res.Warnings = append(res.Warnings, fmt.Sprintf("predecessor: bundle names %s, the last applied bundle is %s",
			orNone(m.Predecessor), orNone(st.Applied.Digest)))
	}
	// Held objects are the bundle's content; record objects are applied
	// into the state and need not stay in the store.
	recordOnly := map[digest.Digest]bool{}
	for _, r := range m.Records {
		recordOnly[r.Digest] = true
	}
	for _, f := range m.Files {
		delete(recordOnly, f.Digest)
	}
	for _, o := range m.Objects {
		if recordOnly[o.Digest] {
			continue
		}
		if _, ok := st.Held[o.Digest]; !ok {
			res.ObjectsAdded++
			res.BytesAdded += o.Size
			st.Held[o.Digest] = o.Size
		}
	}
	before := st.TrustedTime
	if opts.ResetTrustedTime {
		st.TrustedTime = time.Time{} // the bundle's own times replace it
	}
	res.Warnings = append(res.Warnings, recs.apply(st, res)...)
	if u := recs.vulnFeed; u != nil {
		u.apply(st, m.Sequence, e.Clock().UTC())
		if res.Records == nil {
			res.Records = map[string]int{}
		}
		res.Records[transfer.RecordVulnFeed]++
		if u.parsed != nil {
			res.VulnFeed = u.parsed.Version
		}
	}
	if m.Created.After(st.TrustedTime) {
		st.TrustedTime = m.Created.UTC()
	}
	if opts.ResetTrustedTime {
		res.Warnings = append(res.Warnings, fmt.Sprintf("trusted time reset from %s to %s at the operator's request (--reset-trusted-time)",
			orNever(before), st.TrustedTime.Format(time.RFC3339)))
	}
	st.Applied = Applied{Seq: m.Sequence, Digest: b.Digest, BundleID: m.BundleID, At: e.Clock().UTC()}
	if _, media := src.(*volumeSource); media {
		st.LastMediaImport = st.Applied.At
	}
	detail := fmt.Sprintf("applied seq %d after %d; %d objects added (%d bytes)", m.Sequence, res.PreviousSeq, res.ObjectsAdded, res.BytesAdded)
	if res.VulnFeed != "" {
		detail += "; vulnerability feed " + res.VulnFeed
	}
	if len(res.Warnings) > 0 {
		detail += "; " + strings.Join(res.Warnings, "; ")
	}
	res.Outcome = OutcomeApplied
	ev, err := st.appendEvent(transfer.Event{Time: e.Clock(), Actor: e.actor(), Action: "import", Object: clip.String(object, 1024),
		Outcome: OutcomeApplied, Detail: clip.String(detail, 4096)})
	if err != nil {
		return nil, err
	}
	if err := st.save(e.dir.Edge()); err != nil {
		return nil, err
	}
	res.Event = ev
	for d := range recordOnly {
		if _, held := st.Held[d]; !held {
			e.store.Remove(d)
		}
	}
	// Switch the APT prefixes after the commit: the state already names
	// the assignments, so a failure here is retried, never lost.
	installed, warn, iev, err := e.installAPT(ctx, st)
	res.Installed, res.InstallEvent = installed, iev
	res.Warnings = append(res.Warnings, warn...)
	if err != nil {
		return res, err
	}
	return res, nil
}

// recordFailure appends the audit event of an import attempt on object
// that cause ended (refused or failed), saves st and returns res with
// cause. The caller holds the lock.
func (e *Edge) recordFailure(st *state, res *ImportResult, object string, cause error) (*ImportResult, error) {
	res.Outcome = outcomeOf(cause)
	res.Error = cause.Error()
	ev, err := st.appendEvent(transfer.Event{Time: e.Clock(), Actor: e.actor(), Action: "import",
		Object: clip.String(object, 1024), Outcome: res.Outcome, Detail: clip.String(cause.Error(), 4096)})
	if err == nil {
		err = st.save(e.dir.Edge())
	}
	if err != nil {
		return res, fmt.Errorf("%w (and recording the audit event failed: %v)", cause, err)
	}
	res.Event = ev
	return res, cause
}

// checkHeader applies the rules on the verified manifest alone: target,
// source, duplicate (true, nil), sequence, expiry and how far ahead its
// created time is (edge/DESIGN.md 2-4). reset judges expiry and time lead
// by the local clock alone (ImportOptions.ResetTrustedTime).
func (e *Edge) checkHeader(st *state, b *transfer.Signed, reset bool) (bool, error) {
	m := b.Manifest
	if m.Target != e.site {
		return false, fmt.Errorf("%w: bundle %s is for site %q, this edge is %q", ErrForeignTarget, m.BundleID, m.Target, e.site)
	}
	if m.Source != transfer.HubEndpoint {
		return false, fmt.Errorf("%w: bundle %s is signed by hub key %s but names source %q; an edge applies only bundles whose source is %q "+
			"(made by 'eucora hub export', or 'eucora bundle create --source hub')", ErrForeignSource, m.BundleID, clip.String(b.KeyID, 16), m.Source, transfer.HubEndpoint)
	}
	if m.Sequence == st.Applied.Seq && b.Digest == st.Applied.Digest {
		return true, nil
	}
	if m.Sequence == 0 {
		return false, fmt.Errorf("%w: bundle %s has sequence 0; hub bundles for a site start at 1", ErrStale, m.BundleID)
	}
	if m.Sequence <= st.Applied.Seq {
		kind := "older than"
		if m.Sequence == st.Applied.Seq {
			kind = "a different bundle with the same sequence as"
		}
		return false, fmt.Errorf("%w: bundle %s has sequence %d, %s the last applied sequence %d (%s)",
			ErrStale, m.BundleID, m.Sequence, kind, st.Applied.Seq, st.Applied.Digest.Short())
	}
	now := e.now(st)
	if reset {
		now = e.Clock().UTC()
	}
	if err := m.CheckExpiry(now); err != nil {
		if !reset && st.TrustedTime.After(e.Clock()) {
			err = fmt.Errorf("%w (judged at the newest hub time seen, %s, which is ahead of the local clock; if that time is wrong, "+
				"from a hub clock that ran ahead, import a newer hub bundle with --reset-trusted-time)", err, st.TrustedTime.Format(time.RFC3339))
		}
		return false, err
	}
	if err := e.checkTimeLead(st, m.BundleID, "created time", m.Created, reset); err != nil {
		return false, err
	}
	return false, nil
}

// checkTimeLead refuses a time more than MaxTimeLead ahead of max(local
// clock, trusted time), or of the local clock alone when reset.
func (e *Edge) checkTimeLead(st *state, bundleID, what string, t time.Time, reset bool) error {
	local := e.Clock().UTC()
	base, trusted := local, st.TrustedTime
	if reset {
		trusted = time.Time{}
	}
	if trusted.After(base) {
		base = trusted
	}
	if t.After(base.Add(MaxTimeLead)) {
		return &TimeAheadError{BundleID: bundleID, What: what, Time: t, Local: local, Trusted: trusted}
	}
	return nil
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.RFC3339)
}

func (e *Edge) actor() string { return eventActor + ":" + e.site }

// isRefusal reports whether err is a verdict on the bundle (as opposed to
// a local failure such as I/O, lack of space or an interruption).
func isRefusal(err error) bool {
	for _, t := range []error{transfer.ErrBadSignature, transfer.ErrUnknownKey, transfer.ErrCorrupt, transfer.ErrExpired,
		transfer.ErrMissingVolume, transfer.ErrMixedBundles, transfer.ErrBadRecord, ErrForeignTarget, ErrForeignSource, ErrStale, ErrIncomplete, ErrTimeAhead} {
		if errors.Is(err, t) {
			return true
		}
	}
	var me *digest.MismatchError
	return errors.As(err, &me)
}

func outcomeOf(err error) string {
	if isRefusal(err) {
		return OutcomeRefused
	}
	return OutcomeFailed
}

// dropUnheld removes objects a refused import added that no applied bundle
// holds, so a refusal leaves the store as it was.
func (e *Edge) dropUnheld(st *state, fresh []digest.Digest) {
	for _, d := range fresh {
		if _, held := st.Held[d]; !held {
			e.store.Remove(d)
		}
	}
}

// records are the parsed records of a bundle, validated before anything is
// applied.
type records struct {
	intents    []deploy.Intent
	approvals  []deploy.ApprovalRecord
	exceptions []deploy.Exception
	times      []transfer.TimeAttestation
	acks       []transfer.Ack
	artifacts  map[string]deploy.Artifact
	apt        map[string]transfer.APTPublication
	hubKeys    *transfer.HubKeys
	site       *transfer.SiteInfo
	apps       map[string]deploy.Application
	risks      map[string]deploy.Assessment
	orders     map[string]transfer.Order
	signer     string // key id that signed the bundle
	vulnFeed   *feedUpdate
	ignored    map[string]int
}

func (e *Edge) readRecords(m *transfer.Manifest) (*records, error) {
	rs := &records{ignored: map[string]int{}, artifacts: map[string]deploy.Artifact{}, apt: map[string]transfer.APTPublication{}, signer: m.KeyID,
		apps: map[string]deploy.Application{}, risks: map[string]deploy.Assessment{}, orders: map[string]transfer.Order{}}
	for _, r := range m.Records {
		switch r.Type {
		case transfer.RecordIntent, transfer.RecordApproval, transfer.RecordException, transfer.RecordTime, transfer.RecordAck,
			transfer.RecordArtifact, transfer.RecordAPT, transfer.RecordHubKeys, transfer.RecordSite, transfer.RecordApp, transfer.RecordRisk,
			transfer.RecordVulnFeed, transfer.RecordOrder:
		default:
			rs.ignored[r.Type]++
			continue
		}
		b, err := transfer.ReadRecord(e.store, r)
		if err != nil {
			return nil, err
		}
		v, err := transfer.ParseRecord(r.Type, b)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", r.Digest.Short(), err)
		}
		switch v := v.(type) {
		case deploy.Intent:
			rs.intents = append(rs.intents, v)
		case deploy.ApprovalRecord:
			rs.approvals = append(rs.approvals, v)
		case deploy.Exception:
			rs.exceptions = append(rs.exceptions, v)
		case transfer.TimeAttestation:
			rs.times = append(rs.times, v)
		case transfer.Ack:
			rs.acks = append(rs.acks, v)
		case deploy.Artifact:
			rs.artifacts[artifactKey(v)] = v
		case transfer.SiteInfo:
			if rs.site != nil {
				return nil, fmt.Errorf("%w: two site records", transfer.ErrBadRecord)
			}
			rs.site = &v
		case deploy.Application:
			rs.apps[v.ID] = v
		case transfer.IntentRisk:
			rs.risks[v.IntentID] = v.Assessment
		case *signing.Envelope:
			if rs.vulnFeed != nil {
				return nil, fmt.Errorf("%w: two vuln-feed records", transfer.ErrBadRecord)
			}
			rs.vulnFeed = &feedUpdate{env: v}
		case transfer.Order:
			if _, dup := rs.orders[v.IntentID]; dup {
				return nil, fmt.Errorf("%w: two order records for intent %s", transfer.ErrBadRecord, v.IntentID)
			}
			rs.orders[v.IntentID] = v
		case transfer.HubKeys:
			if rs.hubKeys != nil {
				return nil, fmt.Errorf("%w: two hub-keys records", transfer.ErrBadRecord)
			}
			rs.hubKeys = &v
		case transfer.APTPublication:
			if err := mirror.CheckPrefix(v.Prefix); err != nil {
				return nil, fmt.Errorf("%w: apt record %s: %v", transfer.ErrBadRecord, r.Digest.Short(), err)
			}
			if prev, ok := rs.apt[aptKey(v)]; ok && prev != v {
				return nil, fmt.Errorf("%w: apt records assign %s/%s twice (publications %s and %s)",
					transfer.ErrBadRecord, v.Prefix, v.Dist, prev.Publication.Short(), v.Publication.Short())
			}
			rs.apt[aptKey(v)] = v
		}
	}
	arts := make([]deploy.Artifact, 0, len(rs.artifacts))
	for _, k := range sortedKeys(rs.artifacts) {
		arts = append(arts, rs.artifacts[k])
	}
	if err := deploy.CheckArtifactNames(arts); err != nil {
		return nil, fmt.Errorf("%w: artifact records: %v", transfer.ErrBadRecord, err)
	}
	return rs, nil
}

// apply folds the records into st and returns warnings.
func (rs *records) apply(st *state, res *ImportResult) []string {
	var warn []string
	res.Records = map[string]int{}
	for _, in := range rs.intents {
		st.Intents[in.ID] = in
		res.Records[transfer.RecordIntent]++
	}
	for _, a := range rs.approvals {
		st.Approvals[a.ID] = a
		res.Records[transfer.RecordApproval]++
	}
	for _, x := range rs.exceptions {
		st.Exceptions[x.ID] = x
		res.Records[transfer.RecordException]++
	}
	// Artifacts, APT assignments, applications and assessments are
	// complete in every hub bundle.
	st.Artifacts, st.APT, st.Apps, st.Risks = rs.artifacts, rs.apt, rs.apps, rs.risks
	for typ, n := range map[string]int{transfer.RecordApp: len(rs.apps), transfer.RecordRisk: len(rs.risks)} {
		if n > 0 {
			res.Records[typ] = n
		}
	}
	warn = append(warn, rs.applyOrders(st, res)...)
	if rs.site != nil {
		if rs.site.Name != st.Site {
			warn = append(warn, fmt.Sprintf("site record names %q, this edge is %q: ignored", rs.site.Name, st.Site))
		} else {
			st.SiteInfo = rs.site
			res.Records[transfer.RecordSite]++
		}
	}
	if n := len(rs.artifacts); n > 0 {
		res.Records[transfer.RecordArtifact] = n
	}
	if n := len(rs.apt); n > 0 {
		res.Records[transfer.RecordAPT] = n
	}
	for k := range st.Installed {
		if _, ok := st.APT[k]; !ok {
			delete(st.Installed, k)
		}
	}
	if hk := rs.hubKeys; hk != nil {
		if hk.Current.KeyID != rs.signer {
			warn = append(warn, fmt.Sprintf("hub-keys record names current key %s but the bundle is signed by %s: ignored", clip.String(hk.Current.KeyID, 16), clip.String(rs.signer, 16)))
		} else {
			trusted := []transfer.KeyRef{hk.Current}
			if hk.Next != nil {
				trusted = append(trusted, *hk.Next)
				if !slices.ContainsFunc(st.HubKeys, func(k transfer.KeyRef) bool { return k.KeyID == hk.Next.KeyID }) {
					warn = append(warn, fmt.Sprintf("the hub announced its next signing key %s: trusted from now on", clip.String(hk.Next.KeyID, 16)))
				}
			}
			st.HubKeys = trusted
			res.Records[transfer.RecordHubKeys]++
		}
	}
	for _, t := range rs.times {
		if t.Time.After(st.TrustedTime) {
			st.TrustedTime = t.Time
		}
		res.Records[transfer.RecordTime]++
	}
	for _, a := range rs.acks {
		if w := st.ack(a); w != "" {
			warn = append(warn, w)
		} else {
			res.Records[transfer.RecordAck]++
		}
	}
	if len(rs.ignored) > 0 {
		res.IgnoredRecords = rs.ignored
		var types []string
		for t := range rs.ignored {
			types = append(types, t)
		}
		sort.Strings(types)
		warn = append(warn, "ignored record types this edge does not use: "+strings.Join(types, ", "))
	}
	if len(res.Records) == 0 {
		res.Records = nil
	}
	return warn
}

// ack prunes the pending events the hub acknowledged. It returns a warning
// (and prunes nothing) when the ack is for another origin, beyond the
// chain head, or names a hash other than the edge's own event.
func (st *state) ack(a transfer.Ack) string {
	if a.Origin != st.Site {
		return fmt.Sprintf("ack for origin %q ignored (this edge is %q)", a.Origin, st.Site)
	}
	if a.Sequence > st.Chain.Seq {
		return fmt.Sprintf("ack of event %d ignored: the chain head is %d", a.Sequence, st.Chain.Seq)
	}
	i := sort.Search(len(st.Pending), func(i int) bool { return st.Pending[i].Seq >= a.Sequence })
	if i == len(st.Pending) || st.Pending[i].Seq != a.Sequence {
		return "" // already acknowledged and pruned
	}
	if st.Pending[i].Hash != a.Hash {
		return fmt.Sprintf("ack of event %d names hash %s, the edge's event has %s: not pruned", a.Sequence, clip.String(a.Hash, 16), clip.String(st.Pending[i].Hash, 16))
	}
	st.Acked = transfer.ChainHead{Seq: a.Sequence, Hash: a.Hash}
	st.Pending = append([]transfer.Event{}, st.Pending[i+1:]...)
	return ""
}

func orNone(d digest.Digest) string {
	if d == "" {
		return "none"
	}
	return d.Short()
}
