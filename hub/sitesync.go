package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/clip"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/transfer"
)

// Site sync: the hub's side of docs/sync-protocol.md. Exports are built on
// the node that serves the request (the leader: these routes are not
// local) into DIR/hub/exports/SITE/SEQ and served from there.

// hubSource is the source name of every hub bundle and the target of
// every edge bundle.
const hubSource = "hub"

// exportsKept is how many exports per site stay on disk.
const exportsKept = 3

// maxImportBody caps POST /v1/sites/{name}/imports.
const maxImportBody = 256 << 20

var (
	syncWrite = []deploy.Role{deploy.RolePlatformAdmin, deploy.RoleEndpointOps}
	syncRead  = []deploy.Role{deploy.RolePlatformAdmin, deploy.RoleAuditor, deploy.RoleSecurityReviewer, deploy.RoleEndpointOps}
)

func siteSyncRoutes() []Route {
	return []Route{
		{Method: "PUT", Pattern: "/v1/sites/{name}/edge-key", Name: "sites.enroll", Roles: adminOnly, Write: true, handler: (*Server).handleSiteEnroll},
		{Method: "PUT", Pattern: "/v1/sites/{name}/apt", Name: "sites.assign", Roles: adminOnly, Write: true, handler: (*Server).handleSiteAssign},
		{Method: "POST", Pattern: "/v1/sites/{name}/exports", Name: "sites.export", Roles: syncWrite, Write: true, handler: (*Server).handleSiteExport},
		{Method: "GET", Pattern: "/v1/sites/{name}/exports/{seq}", Name: "sites.export.get", Roles: syncWrite, handler: (*Server).handleSiteExportGet},
		{Method: "GET", Pattern: "/v1/sites/{name}/exports/{seq}/manifest", Name: "sites.export.manifest", Roles: syncWrite, handler: (*Server).handleSiteExportManifest},
		{Method: "GET", Pattern: "/v1/sites/{name}/exports/{seq}/objects/{hex}", Name: "sites.export.object", Roles: syncWrite, handler: (*Server).handleSiteExportObject},
		{Method: "GET", Pattern: "/v1/sites/{name}/exports/{seq}/volumes/{file}", Name: "sites.export.volume", Roles: syncWrite, handler: (*Server).handleSiteExportVolume},
		{Method: "POST", Pattern: "/v1/sites/{name}/imports", Name: "sites.import", Roles: syncWrite, Write: true, handler: (*Server).handleSiteImport},
		{Method: "POST", Pattern: "/v1/sites/{name}/import-refusals", Name: "sites.import.refusal", Roles: syncWrite, Write: true, handler: (*Server).handleSiteImportRefusal},
		{Method: "GET", Pattern: "/v1/sites/{name}/sync", Name: "sites.sync", Roles: syncRead, handler: (*Server).handleSiteSync},
	}
}

// scopedSite loads the site named in the path if it is in p's scope,
// answering the request itself otherwise (siteInScope: 404 alike for a
// missing and an out-of-scope site, the latter audited).
func (s *Server) scopedSite(w http.ResponseWriter, r *http.Request, p *Principal, action string) (store.Site, bool) {
	return s.siteInScope(w, r, p, action, r.PathValue("name"))
}

func (s *Server) handleSiteEnroll(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.EnrollRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxSmallBody), &req); err != nil {
		writeInputError(w, err)
		return
	}
	if _, err := signing.ParsePublic([]byte(req.PublicKeyPEM), "edge key"); err != nil {
		writeInputError(w, badField("public_key_pem", "%v", err))
		return
	}
	site, ok := s.scopedSite(w, r, p, "sites.enroll")
	if !ok {
		return
	}
	s.apply(w, r, p, store.CmdSiteEnroll, "site/"+site.Name, store.SiteEnrollBody{Name: site.Name, PublicPEM: req.PublicKeyPEM}, http.StatusOK)
}

func (s *Server) handleSiteAssign(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.AssignRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxSmallBody), &req); err != nil {
		writeInputError(w, err)
		return
	}
	for i, a := range req.Publications {
		if err := mirror.CheckPrefix(a.Prefix); err != nil {
			writeInputError(w, badField(fmt.Sprintf("publications[%d].prefix", i), "%v", err))
			return
		}
		if err := mirror.CheckName("distribution", a.Dist); err != nil {
			writeInputError(w, badField(fmt.Sprintf("publications[%d].dist", i), "%v", err))
			return
		}
	}
	if err := store.ValidateAssignments(store.APTFromAPI(req.Publications)); err != nil {
		writeInputError(w, badField("publications", "%s", strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")))
		return
	}
	site, ok := s.scopedSite(w, r, p, "sites.assign")
	if !ok {
		return
	}
	apt := store.APTFromAPI(req.Publications)
	if apt == nil {
		apt = []store.APTAssignment{}
	}
	s.apply(w, r, p, store.CmdSiteAssign, "site/"+site.Name, store.SiteAssignBody{Name: site.Name, APT: apt}, http.StatusOK)
}

// sitePlan is what a site should hold now: its records (all of them) and
// every object they reference.
type sitePlan struct {
	records []transfer.RecordSource // intents, artifacts, approvals, exceptions, apt
	objects map[digest.Digest]int64 // referenced content objects and sizes
	ack     *transfer.Ack
	key     digest.Digest // ContentKey (the ack is not part of it)
}

// planSite computes the site's desired state from the replicated records
// and this node's APT publications.
func (s *Server) planSite(site store.Site, sync store.SiteSync) (*sitePlan, error) {
	st := s.store.State()
	pl := &sitePlan{objects: map[digest.Digest]int64{}}
	add := func(typ string, v any) error {
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
		if in.Scope == nil || !overlaps(site.Scope, *in.Scope) {
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
		for _, x := range exceptions {
			if x.IntentID == in.ID {
				if err := add(transfer.RecordException, x); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(site.APT) > 0 {
		repo, err := mirror.OpenRepo(s.dir.Mirror(), s.cas)
		if err != nil {
			return nil, err
		}
		for _, a := range site.APT {
			ps, err := repo.PrefixState(a.Prefix)
			if err != nil {
				return nil, fmt.Errorf("apt %s %s: %w", a.Prefix, a.Dist, err)
			}
			ds, ok := ps.Dists[a.Dist]
			if !ok {
				return nil, fmt.Errorf("apt %s %s is assigned to site %s but nothing is published there on this node ('eucora mirror apt publish SNAPSHOT --prefix %s --dist %s')", a.Prefix, a.Dist, site.Name, a.Prefix, a.Dist)
			}
			files, err := s.publicationObjects(repo, ds.Publication)
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
	if sync.Chain.Seq > 0 {
		pl.ack = &transfer.Ack{Origin: site.Name, Sequence: sync.Chain.Seq, Hash: sync.Chain.Hash}
	}
	// The content key: every record and object, in a fixed order.
	var lines []string
	for _, r := range pl.records {
		lines = append(lines, "record "+r.Type+" "+digest.FromBytes(r.Data).Hex())
	}
	for d := range pl.objects {
		lines = append(lines, "object "+d.Hex())
	}
	sort.Strings(lines)
	pl.key = digest.FromBytes([]byte(strings.Join(lines, "\n")))
	return pl, nil
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
func (s *Server) reusable(pl *sitePlan, ss store.SiteSync, last *store.ExportRecord, req api.ExportRequest, heldDigest digest.Digest, now time.Time) bool {
	return last.ContentKey == pl.key && last.ManifestOnly == req.ManifestOnly && last.Node == s.cfg.NodeID && last.Expires.After(now.Add(24*time.Hour)) &&
		!pl.ackDue(last, now) && (ss.LastAppliedSeq >= last.Sequence || last.HeldDigest == heldDigest) && s.exportOnDisk(last)
}

// ackDue reports whether the site's events acknowledged by last lag the
// hub's head enough to warrant a bundle carrying only a new ack.
func (pl *sitePlan) ackDue(last *store.ExportRecord, now time.Time) bool {
	if pl.ack == nil || pl.ack.Sequence == last.AckSeq {
		return false
	}
	return pl.ack.Sequence-last.AckSeq >= ackEvery || now.Sub(last.Created) >= ackInterval
}

// heldBy returns what the site holds as far as the hub knows: the held
// list of its last receipt, or, from an edge that sends none, the plan's
// own objects when the receipt's list digest says it holds exactly those.
func (pl *sitePlan) heldBy(st *store.State, site string, ss store.SiteSync) ([]digest.Digest, error) {
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

// publicationObjects is repo.PublicationObjects, kept per publication:
// publications are content-addressed and never change, and every export
// and every sync-state read of every site assigned one needs its list.
func (s *Server) publicationObjects(repo *mirror.Repo, id digest.Digest) ([]mirror.FileRef, error) {
	if v, ok := s.pubObjects.Load(id); ok {
		return v.([]mirror.FileRef), nil
	}
	files, err := repo.PublicationObjects(id)
	if err != nil {
		return nil, err
	}
	s.pubObjects.Store(id, files)
	return files, nil
}

// delta returns the plan's objects the site does not hold, sorted.
func (pl *sitePlan) delta(held []digest.Digest, full bool) []digest.Digest {
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

func (s *Server) exportDir(site string, seq uint64) string {
	return filepath.Join(s.dir.Hub(), "exports", site, strconv.FormatUint(seq, 10))
}

func (s *Server) handleSiteExport(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.ExportRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxSmallBody), &req); err != nil {
		writeInputError(w, err)
		return
	}
	if req.VolumeSize != 0 && req.VolumeSize < transfer.MinVolumeSize {
		writeInputError(w, badField("volume_size", "%d bytes is below the minimum of %d", req.VolumeSize, transfer.MinVolumeSize))
		return
	}
	site, ok := s.scopedSite(w, r, p, "sites.export")
	if !ok {
		return
	}
	if site.EdgeKeyID == "" {
		writeError(w, http.StatusUnprocessableEntity, "site %s has no enrolled edge key: 'eucora site enroll %s --edge-key EDGE.pub' first", site.Name, site.Name)
		return
	}
	st := s.store.State()
	sync, err := st.SiteSync(site.Name)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	pl, err := s.planSite(site, sync)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "cannot plan the export for site %s: %v", site.Name, err)
		return
	}
	held, err := pl.heldBy(st, site.Name, sync)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	now, heldDigest := store.NowUTC(), transfer.HeldListDigest(held)
	if last := sync.LastExport; req.IfChanged && last != nil && s.reusable(pl, sync, last, req, heldDigest, now) {
		x := last.View()
		x.Reused = true
		writeJSON(w, http.StatusOK, x)
		return
	}
	delta := pl.delta(held, req.Full)
	var need int64 = 1 << 20
	for _, d := range delta {
		if ok, _ := s.cas.Has(d); !ok {
			writeError(w, http.StatusServiceUnavailable, "object %s that site %s needs is not in this node's content store", d, site.Name)
			return
		}
		if !req.ManifestOnly { // volumes copy the objects; a manifest-only export serves them from the store
			need += pl.objects[d]
		}
	}
	for _, rc := range pl.records {
		need += int64(len(rc.Data)) * 2
	}
	base := filepath.Join(s.dir.Hub(), "exports")
	if err := os.MkdirAll(base, 0o750); err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if err := cas.CheckSpace(base, uint64(need+need/10)); err != nil {
		writeError(w, http.StatusInsufficientStorage, "export for site %s: %v", site.Name, err)
		return
	}
	key, err := s.hubKey()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "hub key not available on this node: %v", err)
		return
	}

	// Reserve the sequence before writing: an interrupted export leaves
	// a gap, never two bundles with one sequence.
	raw, err := s.cluster.propose(r.Context(), s.command(r, p, store.CmdExportReserve, "site/"+site.Name, store.ExportReserveBody{Site: site.Name}))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	var res store.ExportReservation
	if err := json.Unmarshal(raw, &res); err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	rec, err := s.writeExport(r.Context(), site, pl, delta, res, req, key, now)
	if err == nil {
		rec.HeldDigest = heldDigest
	}
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, cas.ErrNoSpace) {
			status = http.StatusInsufficientStorage
		}
		writeError(w, status, "export sequence %d for site %s: %v", res.Sequence, site.Name, err)
		return
	}
	if _, err := s.cluster.propose(r.Context(), s.command(r, p, store.CmdExportRecord, fmt.Sprintf("site/%s/export/%d", site.Name, rec.Sequence), rec)); err != nil {
		writeStoreError(w, err)
		return
	}
	s.pruneExports(site.Name, rec.Sequence)
	writeJSON(w, http.StatusCreated, rec.View())
}

// command builds a write carrying its audit event.
func (s *Server) command(r *http.Request, p *Principal, typ, object string, body any) store.Command {
	cmd, err := store.NewCommand(typ, body, s.audit(r, p, typ, object))
	if err != nil {
		panic(err) // bodies are plain structs: cannot fail to encode
	}
	return cmd
}

// writeExport writes the bundle for a reserved sequence and returns its
// record. Records are also put in the content store so the network flow
// can fetch them by digest.
func (s *Server) writeExport(ctx context.Context, site store.Site, pl *sitePlan, delta []digest.Digest, res store.ExportReservation,
	req api.ExportRequest, key *signing.PrivateKey, now time.Time) (*store.ExportRecord, error) {
	recs := append([]transfer.RecordSource{}, pl.records...)
	tb, _ := json.Marshal(transfer.TimeAttestation{Hub: s.cfg.NodeID, Time: now})
	recs = append(recs, transfer.RecordSource{Type: transfer.RecordTime, Data: tb})
	if pl.ack != nil {
		ab, _ := json.Marshal(pl.ack)
		recs = append(recs, transfer.RecordSource{Type: transfer.RecordAck, Data: ab})
	}
	hk, err := s.hubKeysRecord(key)
	if err != nil {
		return nil, err
	}
	hb, _ := json.Marshal(hk)
	recs = append(recs, transfer.RecordSource{Type: transfer.RecordHubKeys, Data: hb})
	var objs []transfer.ObjectSource
	var bytes int64
	for _, d := range delta {
		objs = append(objs, transfer.ObjectSource{Digest: d, Size: pl.objects[d], Open: s.casOpener(d)})
		bytes += pl.objects[d]
	}
	dir := s.exportDir(site.Name, res.Sequence)
	os.RemoveAll(dir) // a reserved sequence is written once; leftovers are an interrupted attempt
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	hdr := transfer.Header{Source: hubSource, Target: site.Name, Sequence: res.Sequence, Predecessor: res.Predecessor, Created: now}
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
		if _, err := s.cas.PutBytes(rc.Data); err != nil {
			return nil, err
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, transfer.ManifestEntry), signed.Envelope, 0o640); err != nil {
		return nil, err
	}
	rec := &store.ExportRecord{Site: site.Name, Sequence: res.Sequence, BundleID: signed.BundleID, Digest: signed.Digest,
		Predecessor: res.Predecessor, Created: signed.Created, Expires: signed.Expires, Objects: len(delta), ObjectBytes: bytes,
		Records: len(recs), Full: req.Full, ManifestOnly: req.ManifestOnly, ContentKey: pl.key, Node: s.cfg.NodeID, Volumes: []store.VolumeInfo{}}
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

func (s *Server) casOpener(d digest.Digest) func() (transfer.ReadAtCloser, error) {
	return func() (transfer.ReadAtCloser, error) { return s.cas.Open(d) }
}

// exportManifest returns the objects an export on this node carries, from
// its manifest (parsed once per export and kept while the export is).
func (s *Server) exportManifest(rec *store.ExportRecord) (map[digest.Digest]bool, error) {
	key := fmt.Sprintf("%s/%d", rec.Site, rec.Sequence)
	if v, ok := s.exportIndex.Load(key); ok {
		return v.(map[digest.Digest]bool), nil
	}
	env, err := os.ReadFile(filepath.Join(s.exportDir(rec.Site, rec.Sequence), transfer.ManifestEntry))
	if err != nil {
		return nil, s.exportGone(rec)
	}
	sg, err := transfer.ReadUnverified(env) // written by this node; the edge verifies
	if err != nil || sg.Digest != rec.Digest {
		return nil, fmt.Errorf("manifest on disk is not the recorded one (%v)", err)
	}
	objects := map[digest.Digest]bool{}
	for _, o := range sg.Objects {
		objects[o.Digest] = true
	}
	s.exportIndex.Store(key, objects)
	return objects, nil
}

// exportOnDisk reports whether an export's volumes are still on this node.
func (s *Server) exportOnDisk(rec *store.ExportRecord) bool {
	if _, err := s.exportManifest(rec); err != nil {
		return false
	}
	for _, v := range rec.Volumes {
		fi, err := os.Stat(filepath.Join(s.exportDir(rec.Site, rec.Sequence), v.Name))
		if err != nil || fi.Size() != v.Size {
			return false
		}
	}
	return true
}

// pruneExports removes a site's export directories older than the last
// exportsKept sequences.
func (s *Server) pruneExports(site string, last uint64) {
	ents, err := os.ReadDir(filepath.Join(s.dir.Hub(), "exports", site))
	if err != nil {
		return
	}
	for _, e := range ents {
		n, err := strconv.ParseUint(e.Name(), 10, 64)
		if err == nil && n+exportsKept <= last {
			s.exportIndex.Delete(fmt.Sprintf("%s/%d", site, n))
			os.RemoveAll(filepath.Join(s.dir.Hub(), "exports", site, e.Name()))
		}
	}
}

// siteExport loads the export named in the path, checking it lives on
// this node.
func (s *Server) siteExport(w http.ResponseWriter, r *http.Request, p *Principal) (*store.ExportRecord, bool) {
	site, ok := s.scopedSite(w, r, p, "sites.export.get")
	if !ok {
		return nil, false
	}
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "sequence %q: want a positive integer", r.PathValue("seq"))
		return nil, false
	}
	rec, err := s.store.State().Export(site.Name, seq)
	if err != nil {
		writeStoreError(w, fmt.Errorf("export %d of site %s: %w", seq, site.Name, err))
		return nil, false
	}
	return &rec, true
}

func (s *Server) handleSiteExportGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	if rec, ok := s.siteExport(w, r, p); ok {
		writeJSON(w, http.StatusOK, rec.View())
	}
}

// exportFile opens a file of an export on this node.
func (s *Server) exportFile(w http.ResponseWriter, rec *store.ExportRecord, name string) (*os.File, bool) {
	f, err := os.Open(filepath.Join(s.exportDir(rec.Site, rec.Sequence), name))
	if err != nil {
		writeError(w, http.StatusNotFound, "export %d of site %s: %v: export again", rec.Sequence, rec.Site, s.exportGone(rec))
		return nil, false
	}
	return f, true
}

// exportGone says why an export's files are not on this node.
func (s *Server) exportGone(rec *store.ExportRecord) error {
	if rec.Node != s.cfg.NodeID {
		return fmt.Errorf("written on node %s, not this one (%s)", rec.Node, s.cfg.NodeID)
	}
	return fmt.Errorf("no longer on disk (the last %d are kept)", exportsKept)
}

func (s *Server) handleSiteExportManifest(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, ok := s.siteExport(w, r, p)
	if !ok {
		return
	}
	f, ok := s.exportFile(w, rec, transfer.ManifestEntry)
	if !ok {
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/vnd.dsse.envelope.v1+json")
	io.Copy(w, f)
}

func (s *Server) handleSiteExportVolume(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, ok := s.siteExport(w, r, p)
	if !ok {
		return
	}
	name := r.PathValue("file")
	listed := false
	for _, v := range rec.Volumes {
		listed = listed || v.Name == name
	}
	if !listed {
		writeError(w, http.StatusNotFound, "export %d of site %s has no volume %q", rec.Sequence, rec.Site, name)
		return
	}
	if f, ok := s.exportFile(w, rec, name); ok {
		serveFile(w, r, f, "application/x-tar")
	}
}

// serveFile answers with f's bytes (Range honoured) and closes it.
func serveFile(w http.ResponseWriter, r *http.Request, f *os.File, contentType string) {
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

func (s *Server) handleSiteExportObject(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, ok := s.siteExport(w, r, p)
	if !ok {
		return
	}
	d, err := digest.Parse(r.PathValue("hex"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "object: %v", err)
		return
	}
	objects, err := s.exportManifest(rec)
	if err != nil {
		writeError(w, http.StatusNotFound, "export %d of site %s: %v: export again", rec.Sequence, rec.Site, err)
		return
	}
	if !objects[d] {
		writeError(w, http.StatusNotFound, "export %d of site %s does not carry object %s", rec.Sequence, rec.Site, d.Short())
		return
	}
	f, err := s.cas.Open(d)
	if err != nil {
		writeError(w, http.StatusNotFound, "object %s is no longer in this node's content store: export again", d.Short())
		return
	}
	w.Header().Set("ETag", `"`+d.Hex()+`"`)
	serveFile(w, r, f, "application/octet-stream")
}

// importBody is the request of POST /v1/sites/{name}/imports as read by
// readImport: the envelope (sent as base64 of the exact bytes or as the
// envelope JSON itself), verified against the site's key, and the records
// by digest hex, decoded.
type importBody struct {
	Signed  *transfer.Signed
	Records map[string][]byte
}

// clientRefusalCodes are the codes a client may report for a bundle it
// refused before uploading (POST /v1/sites/{name}/import-refusals).
var clientRefusalCodes = map[transfer.RefusalCode]bool{transfer.RefusedUnknownKey: true, transfer.RefusedBadSignature: true,
	transfer.RefusedForeign: true, transfer.RefusedExpired: true, transfer.RefusedCorrupt: true, transfer.RefusedStale: true,
	transfer.RefusedMissingVolume: true}

// recordImportRefusal records a refused import of site's bundle as the
// audit event that the site's sync state counts (store.ImportRefusalAction),
// within the refused-request budget.
func (s *Server) recordImportRefusal(r *http.Request, p *Principal, site string, code transfer.RefusalCode, reason string) {
	s.recordRefusal(r, p, store.ImportRefusalAction, "site/"+site, store.ImportRefusalOutcome, string(code)+": "+reason)
}

// refuseImport answers a refused bundle, 422 (409 for stale) with its
// code, and records the refusal (recordImportRefusal).
func (s *Server) refuseImport(w http.ResponseWriter, r *http.Request, p *Principal, site string, err error) {
	code, ok := transfer.RefusalOf(err)
	if !ok {
		code = transfer.RefusedCorrupt
	}
	s.recordImportRefusal(r, p, site, code, err.Error())
	status := http.StatusUnprocessableEntity
	if code == transfer.RefusedStale {
		status = http.StatusConflict
	}
	writeJSON(w, status, api.Error{Error: err.Error(), Code: string(code)})
}

func (s *Server) handleSiteImport(w http.ResponseWriter, r *http.Request, p *Principal) {
	// Authorise before reading a byte of the body: the site, the caller's
	// scope over it, the enrolled key.
	site, ok := s.scopedSite(w, r, p, "sites.import")
	if !ok {
		return
	}
	if site.EdgeKeyPEM == "" {
		s.refuseImport(w, r, p, site.Name, transfer.Refuse(transfer.RefusedNotEnrolled, fmt.Errorf("site %s has no enrolled edge key", site.Name)))
		return
	}
	release, ok := s.largeBody(w, r)
	if !ok {
		return
	}
	defer release()
	// Stream the body: the envelope is verified first, then only the
	// records its signed manifest lists are read, each bounded by its size.
	body, err := s.readImport(site, http.MaxBytesReader(w, r.Body, maxImportBody))
	var refused *transfer.RefusalError
	if errors.As(err, &refused) {
		s.refuseImport(w, r, p, site.Name, refused)
		return
	}
	if err != nil {
		writeInputError(w, err)
		return
	}
	res, err := s.verifyImport(site, body)
	if err != nil {
		s.refuseImport(w, r, p, site.Name, err)
		return
	}
	// A stale bundle is refused here, one audit event; should one slip
	// past (a race with another import), the command's own audit event
	// records the refusal and no second one is written.
	if ss, err := s.store.State().SiteSync(site.Name); err == nil && res.body.Sequence <= ss.LastImportSeq && res.body.Digest != ss.LastImportDigest {
		s.refuseImport(w, r, p, site.Name, transfer.Refuse(transfer.RefusedStale, fmt.Errorf("%w: edge bundle sequence %d is at or behind the last merged sequence %d", store.ErrStale, res.body.Sequence, ss.LastImportSeq)))
		return
	}
	raw, err := s.cluster.propose(r.Context(), s.command(r, p, store.CmdSiteImport, fmt.Sprintf("site/%s/bundle/%d", site.Name, res.body.Sequence), res.body))
	if errors.Is(err, store.ErrStale) {
		writeJSON(w, http.StatusConflict, api.Error{Error: err.Error(), Code: string(transfer.RefusedStale)})
		return
	}
	if err != nil {
		writeStoreError(w, err)
		return
	}
	var merged store.SiteImportResult
	if err := json.Unmarshal(raw, &merged); err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	out := merged.View()
	out.Site, out.BundleID, out.Digest, out.Ignored = site.Name, res.body.BundleID, res.body.Digest, res.ignored
	out.Warnings = append(out.Warnings, res.warnings...)
	writeJSON(w, http.StatusOK, out)
}

// handleSiteImportRefusal records a site's bundle that a client refused
// before uploading it (bad signature, damaged or missing volume...), so the
// hub's audit log holds every refused import, as if the hub had refused it.
func (s *Server) handleSiteImportRefusal(w http.ResponseWriter, r *http.Request, p *Principal) {
	site, ok := s.scopedSite(w, r, p, "sites.import")
	if !ok {
		return
	}
	var rep api.ImportRefusal
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxSmallBody), &rep); err != nil {
		writeInputError(w, err)
		return
	}
	if !clientRefusalCodes[rep.Code] {
		writeInputError(w, badField("code", "%q is not a refusal code (docs/sync-protocol.md)", clip.String(string(rep.Code), 64)))
		return
	}
	reason := fmt.Sprintf("refused by the importing client: bundle %s sequence %d digest %s: %s",
		clip.String(rep.BundleID, 64), rep.Sequence, clip.String(rep.Digest, 80), clip.String(rep.Reason, 2048))
	s.recordImportRefusal(r, p, site.Name, rep.Code, reason)
	writeJSON(w, http.StatusAccepted, map[string]any{"recorded": true, "code": rep.Code})
}

// readImport streams an import request body for site (readImportBody),
// verifying the envelope before any record is read.
func (s *Server) readImport(site store.Site, r io.Reader) (importBody, error) {
	var body importBody
	var err error
	body.Records, err = readImportBody(r, func(env []byte) (map[string]transfer.Record, error) {
		sg, err := s.verifyEnvelope(site, env, store.NowUTC())
		if err != nil {
			return nil, err
		}
		body.Signed = sg
		want := map[string]transfer.Record{}
		for _, rc := range sg.Manifest.Records {
			want[rc.Digest.Hex()] = rc
		}
		return want, nil
	})
	return body, err
}

type verifiedImport struct {
	body     store.SiteImportBody
	ignored  map[string]int
	warnings []string
}

// verifyEnvelope checks an edge bundle's envelope against the site's
// enrolled key: signature, source and target, expiry, sequence. It
// returns a *transfer.RefusalError.
func (s *Server) verifyEnvelope(site store.Site, env []byte, now time.Time) (*transfer.Signed, error) {
	pub, err := signing.ParsePublic([]byte(site.EdgeKeyPEM), "site "+site.Name+" edge key")
	if err != nil {
		return nil, transfer.Refuse(transfer.RefusedNotEnrolled, err)
	}
	if len(env) == 0 {
		return nil, transfer.Refuse(transfer.RefusedCorrupt, errors.New("envelope: want base64 of the MANIFEST.dsse.json bytes"))
	}
	sg, err := transfer.ReadSigned(env, signing.NewTrust(pub))
	switch {
	case errors.Is(err, transfer.ErrUnknownKey):
		return nil, transfer.Refuse(transfer.RefusedUnknownKey, fmt.Errorf("%w (site %s's enrolled key is %s)", err, site.Name, pub.ID[:16]))
	case errors.Is(err, transfer.ErrBadSignature):
		return nil, transfer.Refuse(transfer.RefusedBadSignature, err)
	case err != nil:
		return nil, transfer.Refuse(transfer.RefusedCorrupt, err)
	}
	m := sg.Manifest
	if m.Source != site.Name || m.Target != hubSource {
		return nil, transfer.Refuse(transfer.RefusedForeign, fmt.Errorf("bundle %s is from %q for %q; this import takes bundles from %q for %q", m.BundleID, m.Source, m.Target, site.Name, hubSource))
	}
	if err := m.CheckExpiry(now); err != nil {
		return nil, transfer.Refuse(transfer.RefusedExpired, err)
	}
	if m.Sequence == 0 {
		return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("bundle %s has sequence 0; edge bundles start at 1", m.BundleID))
	}
	return sg, nil
}

// hubTakesRecord reports whether the hub imports records of typ (others
// are counted as ignored).
func hubTakesRecord(typ string) bool {
	switch typ {
	case transfer.RecordReceipt, transfer.RecordHeld, transfer.RecordEvents:
		return true
	}
	return false
}

// verifyImport checks the records of an edge bundle whose envelope
// readImport verified and parses them. Errors are *transfer.RefusalError.
func (s *Server) verifyImport(site store.Site, body importBody) (*verifiedImport, error) {
	now := store.NowUTC()
	sg, m := body.Signed, body.Signed.Manifest
	// The body took a while to arrive: the bundle must still be unexpired.
	if err := m.CheckExpiry(now); err != nil {
		return nil, transfer.Refuse(transfer.RefusedExpired, err)
	}
	v := &verifiedImport{ignored: map[string]int{}, body: store.SiteImportBody{Site: site.Name, Sequence: m.Sequence, Digest: sg.Digest,
		BundleID: m.BundleID, KeyID: sg.KeyID, At: now}}
	recordObjects := map[digest.Digest]bool{}
	receipts := 0
	for _, rc := range m.Records {
		recordObjects[rc.Digest] = true
		if !hubTakesRecord(rc.Type) {
			v.ignored[rc.Type]++
			continue
		}
		data, ok := body.Records[rc.Digest.Hex()]
		if !ok {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("record %s (%s) listed in the manifest is missing from the request", rc.Digest.Short(), rc.Type))
		}
		if int64(len(data)) != rc.Size || digest.FromBytes(data) != rc.Digest {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("record %s (%s): %d bytes with digest %s, the manifest says %d bytes with digest %s",
				rc.Digest.Short(), rc.Type, len(data), digest.FromBytes(data).Short(), rc.Size, rc.Digest.Short()))
		}
		parsed, err := transfer.ParseRecord(rc.Type, data)
		if err != nil {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("record %s: %w", rc.Digest.Short(), err))
		}
		switch x := parsed.(type) {
		case transfer.Receipt:
			receipts++
			v.body.Receipt = x
		case transfer.HeldList:
			if v.body.Held != nil {
				return nil, transfer.Refuse(transfer.RefusedCorrupt, errors.New("bundle carries two held records"))
			}
			v.body.Held = &x
		case transfer.EventBatch:
			v.body.Batches = append(v.body.Batches, x)
		}
	}
	if receipts != 1 {
		return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("bundle %s carries %d receipt records, want exactly one", m.BundleID, receipts))
	}
	if v.body.Receipt.Site != site.Name {
		return nil, transfer.Refuse(transfer.RefusedForeign, fmt.Errorf("receipt is for site %q, not %q", v.body.Receipt.Site, site.Name))
	}
	for _, o := range m.Objects {
		if !recordObjects[o.Digest] {
			v.warnings = append(v.warnings, fmt.Sprintf("object %s is not a record: not imported (the hub takes records only)", o.Digest.Short()))
		}
	}
	if len(v.ignored) == 0 {
		v.ignored = nil
	}
	return v, nil
}

func (s *Server) handleSiteSync(w http.ResponseWriter, r *http.Request, p *Principal) {
	site, ok := s.scopedSite(w, r, p, "sites.sync")
	if !ok {
		return
	}
	view, err := s.siteSyncView(site, store.NowUTC())
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// siteSyncView is a site's sync state for central operations.
func (s *Server) siteSyncView(site store.Site, now time.Time) (*api.SiteSync, error) {
	st := s.store.State()
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
	if pl, err := s.planSite(site, ss); err != nil {
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

func fileDigest(path string) (digest.Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return digest.FromReader(f)
}
