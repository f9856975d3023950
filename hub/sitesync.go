package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/sitesync"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/clip"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/transfer"
)

// Site sync routes: the HTTP face of package hub/sitesync, which plans,
// writes and finds exports and verifies imports. Exports are built on the
// node that serves the request (the leader: these routes are not local)
// into DIR/hub/exports/SITE/SEQ and served from there.

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
	// Every publication must exist here, where exports are built (this
	// node is the leader: the route is a write), or the site's list would
	// be replaced by one no export can carry.
	if len(req.Publications) > 0 {
		repo, err := mirror.OpenRepo(s.dir.Mirror(), s.cas)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		var unknown []string
		for _, a := range req.Publications {
			if _, found, err := sitesync.Publication(repo, a.Prefix, a.Dist); err != nil {
				writeError(w, http.StatusInternalServerError, "apt %s:%s: %v", a.Prefix, a.Dist, err)
				return
			} else if !found {
				unknown = append(unknown, a.Prefix+":"+a.Dist)
			}
		}
		if len(unknown) > 0 {
			published, err := sitesync.Published(repo)
			if err != nil {
				writeError(w, http.StatusInternalServerError, "%v", err)
				return
			}
			list := "none"
			if len(published) > 0 {
				list = strings.Join(published, ", ")
			}
			what := "publication " + unknown[0] + " is"
			if len(unknown) > 1 {
				what = "publications " + strings.Join(unknown, ", ") + " are"
			}
			writeJSON(w, http.StatusUnprocessableEntity, api.Error{Code: api.CodeUnknownPublication,
				Error: fmt.Sprintf("%s not published on this hub node (the leader, which builds the exports; published here: %s); site %s is unchanged. Publish with 'eucora mirror apt publish SNAPSHOT --prefix PREFIX --dist DIST' in this node's data directory",
					what, list, site.Name)})
			return
		}
	}
	raw, ok := s.apply(w, r, p, store.CmdSiteAssign, "site/"+site.Name, store.SiteAssignBody{Name: site.Name, APT: apt}, 0)
	if !ok {
		return
	}
	var after store.Site
	if err := json.Unmarshal(raw, &after); err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	res := api.AssignResult{Site: after.View(), Before: store.APTViews(site.APT), Added: []api.APTAssignment{}, Removed: []api.APTAssignment{}}
	if res.Before == nil {
		res.Before = []api.APTAssignment{}
	}
	in := func(list []api.APTAssignment, a api.APTAssignment) bool {
		for _, b := range list {
			if b == a {
				return true
			}
		}
		return false
	}
	for _, a := range res.Site.APT {
		if !in(res.Before, a) {
			res.Added = append(res.Added, a)
		}
	}
	for _, a := range res.Before {
		if !in(res.Site.APT, a) {
			res.Removed = append(res.Removed, a)
		}
	}
	writeJSON(w, http.StatusOK, res)
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
	x, err := s.siteSync.Export(r.Context(), s.auditOf(r, p), site, req)
	if err != nil {
		writeSyncError(w, err)
		return
	}
	status := http.StatusCreated
	if x.Reused {
		status = http.StatusOK
	}
	writeJSON(w, status, x)
}

// auditOf makes the audit events of the commands a sync request proposes.
func (s *Server) auditOf(r *http.Request, p *Principal) sitesync.Audit {
	return func(action, object string) *store.AuditInput { return s.audit(r, p, action, object) }
}

// writeSyncError answers an error of sitesync's Export or Import by its
// kind; others are the state's or a proposal's.
func writeSyncError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, sitesync.ErrNotEnrolled), errors.Is(err, sitesync.ErrUnplannable):
		writeError(w, http.StatusUnprocessableEntity, "%v", err)
	case errors.Is(err, sitesync.ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, "%v", err)
	case errors.Is(err, sitesync.ErrNoSpace):
		writeError(w, http.StatusInsufficientStorage, "%v", err)
	case errors.Is(err, sitesync.ErrInternal):
		writeError(w, http.StatusInternalServerError, "%v", err)
	default:
		writeStoreError(w, err)
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

func (s *Server) handleSiteExportManifest(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, ok := s.siteExport(w, r, p)
	if !ok {
		return
	}
	f, err := s.siteSync.OpenManifest(rec)
	if err != nil {
		writeError(w, http.StatusNotFound, "%v", err)
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
	f, err := s.siteSync.OpenVolume(rec, r.PathValue("file"))
	if err != nil {
		writeError(w, http.StatusNotFound, "%v", err)
		return
	}
	serveFile(w, r, f, "application/x-tar")
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
	f, err := s.siteSync.OpenObject(rec, d)
	if err != nil {
		writeError(w, http.StatusNotFound, "%v", err)
		return
	}
	w.Header().Set("ETag", `"`+d.Hex()+`"`)
	serveFile(w, r, f, "application/octet-stream")
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
	// The verified form goes to the merge as it is.
	v, err := s.siteSync.VerifyImport(site, http.MaxBytesReader(w, r.Body, maxImportBody))
	var refused *transfer.RefusalError
	var bad *sitesync.BodyError
	switch {
	case errors.As(err, &refused):
		s.refuseImport(w, r, p, site.Name, refused)
		return
	case errors.As(err, &bad):
		writeInputError(w, bodyInputError(bad))
		return
	case err != nil:
		writeInputError(w, jsonError(err)) // the body's reader: 413 past maxImportBody
		return
	}
	res, err := s.siteSync.Import(r.Context(), s.auditOf(r, p), v)
	switch {
	case errors.As(err, &refused):
		s.refuseImport(w, r, p, site.Name, refused) // stale, before proposing
	case errors.Is(err, store.ErrStale):
		// Slipped past the check (a race with another import): the
		// command's own audit event recorded the refusal.
		writeJSON(w, http.StatusConflict, api.Error{Error: err.Error(), Code: string(transfer.RefusedStale)})
	case err != nil:
		writeSyncError(w, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// bodyInputError is a malformed import body as the API answers it.
func bodyInputError(e *sitesync.BodyError) *InputError {
	status := http.StatusBadRequest
	if e.TooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	return &InputError{Status: status, Field: e.Field, Msg: e.Msg}
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
	if !sitesync.Reportable(rep.Code) {
		writeInputError(w, badField("code", "%q is not a refusal code (docs/sync-protocol.md)", clip.String(string(rep.Code), 64)))
		return
	}
	reason := fmt.Sprintf("refused by the importing client: bundle %s sequence %d digest %s: %s",
		clip.String(rep.BundleID, 64), rep.Sequence, clip.String(rep.Digest, 80), clip.String(rep.Reason, 2048))
	s.recordImportRefusal(r, p, site.Name, rep.Code, reason)
	writeJSON(w, http.StatusAccepted, map[string]any{"recorded": true, "code": rep.Code})
}

func (s *Server) handleSiteSync(w http.ResponseWriter, r *http.Request, p *Principal) {
	site, ok := s.scopedSite(w, r, p, "sites.sync")
	if !ok {
		return
	}
	view, err := s.siteSync.Status(site, store.NowUTC())
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}
