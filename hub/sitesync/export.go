package sitesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/packaging/vuln"
	"github.com/eucora/eucora/transfer"
)

// exportsKept is how many exports per site stay on disk.
const exportsKept = 3

// Export writes the next bundle for site (req as validated by the caller:
// a volume size of 0 or at least transfer.MinVolumeSize), or, with
// req.IfChanged, returns the last one (Reused set) when a new one would say
// nothing new. It reserves the sequence before writing (an interrupted
// export leaves a gap, never two bundles with one sequence), records the
// export once every file is written, and prunes the site's older exports.
// Errors are of the kinds ErrNotEnrolled, ErrUnplannable, ErrUnavailable,
// ErrNoSpace and ErrInternal, or the state's and the proposals' (a site
// removed meanwhile, a conflicting record).
func (x *Syncer) Export(ctx context.Context, audit Audit, site store.Site, req api.ExportRequest) (api.Export, error) {
	if site.EdgeKeyID == "" {
		return api.Export{}, kindf(ErrNotEnrolled, "site %s has no enrolled edge key: 'eucora site enroll %s --edge-key EDGE.pub' first", site.Name, site.Name)
	}
	st := x.cfg.State
	sync, err := st.SiteSync(site.Name)
	if err != nil {
		return api.Export{}, err
	}
	pl, err := x.plan(site, sync)
	if err != nil {
		return api.Export{}, kindf(ErrUnplannable, "cannot plan the export for site %s: %w", site.Name, err)
	}
	held, err := pl.heldBy(st, site.Name, sync)
	if err != nil {
		return api.Export{}, err
	}
	now, heldDigest := x.cfg.Now(), transfer.HeldListDigest(held)
	if last := sync.LastExport; req.IfChanged && last != nil && x.reusable(pl, sync, last, req, heldDigest, now) {
		v := last.View()
		v.Reused = true
		return v, nil
	}
	delta := pl.delta(held, req.Full)
	var need int64 = 1 << 20
	for _, d := range delta {
		if ok, _ := x.cfg.CAS.Has(d); !ok {
			return api.Export{}, kindf(ErrUnavailable, "object %s that site %s needs is not in this node's content store", d, site.Name)
		}
		if !req.ManifestOnly { // volumes copy the objects; a manifest-only export serves them from the store
			need += pl.objects[d]
		}
	}
	for _, rc := range pl.records {
		need += int64(len(rc.Data)) * 2
	}
	if err := os.MkdirAll(x.cfg.Dir, 0o750); err != nil {
		return api.Export{}, kinded(ErrInternal, err)
	}
	if err := cas.CheckSpace(x.cfg.Dir, uint64(need+need/10)); err != nil {
		return api.Export{}, kindf(ErrNoSpace, "export for site %s: %w", site.Name, err)
	}
	key, err := x.cfg.Key()
	if err != nil {
		return api.Export{}, kindf(ErrUnavailable, "hub key not available on this node: %w", err)
	}

	raw, err := x.propose(ctx, audit, store.CmdExportReserve, "site/"+site.Name, store.ExportReserveBody{Site: site.Name})
	if err != nil {
		return api.Export{}, err
	}
	var res store.ExportReservation
	if err := json.Unmarshal(raw, &res); err != nil {
		return api.Export{}, kinded(ErrInternal, err)
	}
	rec, err := x.writeExport(ctx, site, pl, delta, res, req, key, now)
	if err != nil {
		kind := ErrInternal
		if errors.Is(err, cas.ErrNoSpace) {
			kind = ErrNoSpace
		}
		return api.Export{}, kindf(kind, "export sequence %d for site %s: %w", res.Sequence, site.Name, err)
	}
	rec.HeldDigest = heldDigest
	if _, err := x.propose(ctx, audit, store.CmdExportRecord, fmt.Sprintf("site/%s/export/%d", site.Name, rec.Sequence), rec); err != nil {
		return api.Export{}, err
	}
	x.prune(site.Name, rec.Sequence)
	return rec.View(), nil
}

// writeExport writes the bundle for a reserved sequence and returns its
// record. Records are also put in the content store so the network flow
// can fetch them by digest.
func (x *Syncer) writeExport(ctx context.Context, site store.Site, pl *plan, delta []digest.Digest, res store.ExportReservation,
	req api.ExportRequest, key *signing.PrivateKey, now time.Time) (*store.ExportRecord, error) {
	recs := append([]transfer.RecordSource{}, pl.records...)
	tb, _ := json.Marshal(transfer.TimeAttestation{Hub: x.cfg.NodeID, Time: now})
	recs = append(recs, transfer.RecordSource{Type: transfer.RecordTime, Data: tb})
	if pl.ack != nil {
		ab, _ := json.Marshal(pl.ack)
		recs = append(recs, transfer.RecordSource{Type: transfer.RecordAck, Data: ab})
	}
	hk, err := x.hubKeys(key)
	if err != nil {
		return nil, err
	}
	hb, _ := json.Marshal(hk)
	recs = append(recs, transfer.RecordSource{Type: transfer.RecordHubKeys, Data: hb})
	if f := pl.feed; f != nil {
		// Signed with the key that signs the bundle, so the edge verifies
		// it with the trust it verifies the bundle with, and keeps it to
		// re-verify the feed file offline.
		env, err := vuln.SignFeed(key, &vuln.Feed{Name: f.Name, SHA256: f.SHA256, Size: f.Size, Version: f.Version})
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(env)
		if err != nil {
			return nil, err
		}
		recs = append(recs, transfer.RecordSource{Type: transfer.RecordVulnFeed, Data: vb})
	}
	var objs []transfer.ObjectSource
	var bytes int64
	for _, d := range delta {
		objs = append(objs, transfer.ObjectSource{Digest: d, Size: pl.objects[d], Open: x.casOpener(d)})
		bytes += pl.objects[d]
	}
	dir := x.exportDir(site.Name, res.Sequence)
	os.RemoveAll(dir) // a reserved sequence is written once; leftovers are an interrupted attempt
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	hdr := transfer.Header{Source: transfer.HubEndpoint, Target: site.Name, Sequence: res.Sequence, Predecessor: res.Predecessor, Created: now}
	content := transfer.Content{Records: recs, Objects: objs}
	var signed *transfer.Signed
	var volumes []string
	if req.ManifestOnly {
		signed, err = transfer.CreateManifest(ctx, key, hdr, content)
	} else {
		var out *transfer.Result
		if out, err = transfer.Create(ctx, dir, key, hdr, content, transfer.CreateOptions{VolumeSize: req.VolumeSize}); err == nil {
			signed, volumes = out.Signed, out.Volumes
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for _, rc := range recs {
		if _, err := x.cfg.CAS.PutBytes(rc.Data); err != nil {
			return nil, err
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, transfer.ManifestEntry), signed.Envelope, 0o640); err != nil {
		return nil, err
	}
	rec := &store.ExportRecord{Site: site.Name, Sequence: res.Sequence, BundleID: signed.BundleID, Digest: signed.Digest,
		Predecessor: res.Predecessor, Created: signed.Created, Expires: signed.Expires, Objects: len(delta), ObjectBytes: bytes,
		Records: len(recs), Full: req.Full, ManifestOnly: req.ManifestOnly, ContentKey: pl.key, Node: x.cfg.NodeID, Volumes: []store.VolumeInfo{}}
	if pl.ack != nil {
		rec.AckSeq = pl.ack.Sequence
	}
	if hk.Next != nil {
		rec.AnnouncedKey = hk.Next.KeyID
	}
	for _, v := range volumes {
		d, n, err := fileDigest(v)
		if err != nil {
			return nil, err
		}
		rec.Volumes = append(rec.Volumes, store.VolumeInfo{Name: filepath.Base(v), Size: n, SHA256: d})
	}
	return rec, nil
}

// hubKeys is the hub-keys record every bundle carries: the key that signs
// it and, while one is staged, the next key (docs/sync-protocol.md, key
// rotation).
func (x *Syncer) hubKeys(current *signing.PrivateKey) (transfer.HubKeys, error) {
	hk := transfer.HubKeys{Current: transfer.KeyRef{KeyID: current.ID, PublicPEM: string(signing.EncodePublic(current.Public()))}}
	id, err := x.cfg.State.Identity()
	if err != nil {
		return hk, err
	}
	if id.Next != nil && id.KeyID == current.ID {
		hk.Next = &transfer.KeyRef{KeyID: id.Next.KeyID, PublicPEM: id.Next.PublicPEM}
	}
	return hk, nil
}

func (x *Syncer) casOpener(d digest.Digest) func() (transfer.ReadAtCloser, error) {
	return func() (transfer.ReadAtCloser, error) { return x.cfg.CAS.Open(d) }
}

func fileDigest(path string) (digest.Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return digest.FromReader(f)
}

// prune removes a site's export directories older than the last
// exportsKept sequences.
func (x *Syncer) prune(site string, last uint64) {
	ents, err := os.ReadDir(filepath.Join(x.cfg.Dir, site))
	if err != nil {
		return
	}
	for _, e := range ents {
		n, err := strconv.ParseUint(e.Name(), 10, 64)
		if err == nil && n+exportsKept <= last {
			x.exportIndex.Delete(fmt.Sprintf("%s/%d", site, n))
			os.RemoveAll(filepath.Join(x.cfg.Dir, site, e.Name()))
		}
	}
}

// manifestObjects returns the objects an export on this node carries, from
// its manifest (parsed once per export and kept while the export is).
func (x *Syncer) manifestObjects(rec *store.ExportRecord) (map[digest.Digest]bool, error) {
	key := fmt.Sprintf("%s/%d", rec.Site, rec.Sequence)
	if v, ok := x.exportIndex.Load(key); ok {
		return v.(map[digest.Digest]bool), nil
	}
	env, err := os.ReadFile(filepath.Join(x.exportDir(rec.Site, rec.Sequence), transfer.ManifestEntry))
	if err != nil {
		return nil, x.gone(rec)
	}
	sg, err := transfer.ReadUnverified(env) // written by this node; the edge verifies
	if err != nil || sg.Digest != rec.Digest {
		return nil, fmt.Errorf("manifest on disk is not the recorded one (%v)", err)
	}
	objects := map[digest.Digest]bool{}
	for _, o := range sg.Objects {
		objects[o.Digest] = true
	}
	x.exportIndex.Store(key, objects)
	return objects, nil
}

// exportOnDisk reports whether an export's volumes are still on this node.
func (x *Syncer) exportOnDisk(rec *store.ExportRecord) bool {
	if _, err := x.manifestObjects(rec); err != nil {
		return false
	}
	for _, v := range rec.Volumes {
		fi, err := os.Stat(filepath.Join(x.exportDir(rec.Site, rec.Sequence), v.Name))
		if err != nil || fi.Size() != v.Size {
			return false
		}
	}
	return true
}

// gone says why an export's files are not on this node.
func (x *Syncer) gone(rec *store.ExportRecord) error {
	if rec.Node != x.cfg.NodeID {
		return fmt.Errorf("written on node %s, not this one (%s)", rec.Node, x.cfg.NodeID)
	}
	return fmt.Errorf("no longer on disk (the last %d are kept)", exportsKept)
}

// The Open functions return a file of a recorded export for serving; the
// caller closes it. Every error means this node cannot serve it (a 404):
// its text says why and what to do.

// OpenManifest opens the signed manifest (MANIFEST.dsse.json) of rec.
func (x *Syncer) OpenManifest(rec *store.ExportRecord) (*os.File, error) {
	return x.openFile(rec, transfer.ManifestEntry)
}

// OpenVolume opens the volume of rec named name (one its record lists).
func (x *Syncer) OpenVolume(rec *store.ExportRecord, name string) (*os.File, error) {
	listed := false
	for _, v := range rec.Volumes {
		listed = listed || v.Name == name
	}
	if !listed {
		return nil, fmt.Errorf("export %d of site %s has no volume %q", rec.Sequence, rec.Site, name)
	}
	return x.openFile(rec, name)
}

// OpenObject opens a content object rec's manifest lists, from this node's
// content store.
func (x *Syncer) OpenObject(rec *store.ExportRecord, d digest.Digest) (*os.File, error) {
	objects, err := x.manifestObjects(rec)
	if err != nil {
		return nil, fmt.Errorf("export %d of site %s: %v: export again", rec.Sequence, rec.Site, err)
	}
	if !objects[d] {
		return nil, fmt.Errorf("export %d of site %s does not carry object %s", rec.Sequence, rec.Site, d.Short())
	}
	f, err := x.cfg.CAS.Open(d)
	if err != nil {
		return nil, fmt.Errorf("object %s is no longer in this node's content store: export again", d.Short())
	}
	return f, nil
}

func (x *Syncer) openFile(rec *store.ExportRecord, name string) (*os.File, error) {
	f, err := os.Open(filepath.Join(x.exportDir(rec.Site, rec.Sequence), name))
	if err != nil {
		return nil, fmt.Errorf("export %d of site %s: %v: export again", rec.Sequence, rec.Site, x.gone(rec))
	}
	return f, nil
}
