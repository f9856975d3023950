package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/packaging"
	"github.com/eucora/eucora/packaging/docs"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/provenance"
	"github.com/eucora/eucora/packaging/sbom"
)

// Package intake: POST /v1/apps/{app}/versions/{v}/packages?name=FILE with
// the file as the body (packaging engineer only). The hub streams the body
// into its content store computing the SHA-256, reads the file's facts,
// checks the deployment documentation against them, writes the SBOMs,
// matches them against the current vulnerability feed, decides the policy,
// signs the provenance with the packaging key — all before the file is
// committed, so a refusal stores nothing — and then registers the
// artifact with its intake record. Query parameters:
//
//	name     the file's name (required; its extension is its claimed type)
//	docs     blob digest of the deployment documentation (docs.FileName);
//	         required for Windows packages (EUCORA-architecture.md section 7.2)
//	sbom     blob digest of a vendor SBOM (SPDX, CycloneDX or syft JSON) to
//	         add its components to the factory's own
//	run_id   the pipeline run id (default: a new ULID)
//	source   a source reference, URI[#gitCommit=HEX] (repeatable)
//	started  when the run started, RFC 3339 (default: when the request came)

// maxDocBlob bounds a documentation or vendor SBOM blob read whole.
const maxDocBlob = 32 << 20

// windowsKinds need deployment documentation.
var windowsKinds = map[facts.Kind]bool{facts.KindMSI: true, facts.KindPE: true, facts.KindMSIX: true, facts.KindAppx: true, facts.KindIntunewin: true}

// platformOf is the catalog platform of a kind.
func platformOf(k facts.Kind) deploy.Platform {
	switch k {
	case facts.KindPE:
		return deploy.PlatformEXE
	case facts.KindAppx:
		return deploy.PlatformMSIX
	}
	return deploy.Platform(k)
}

// intakeRun is one intake's inputs and what it derived, for the check that
// runs before the file is committed.
type intakeRun struct {
	app, version, name string
	runID              string
	sources            []provenance.ResourceDescriptor
	started            time.Time
	doc                *docs.Doc
	docsBlob           digest.Digest
	vendor             *sbom.Imported
	vendorBlob         digest.Digest

	// Derived, in the check.
	spdx, cdx    []byte
	report, dec  []byte
	scan         scanResult
	provEnvelope []byte
	provKey      string
	docItems     []docs.Item
}

func (s *Server) handlePackageAdd(w http.ResponseWriter, r *http.Request, p *Principal) {
	run, ok := s.intakeRequest(w, r, p)
	if !ok {
		return
	}
	trust, err := s.codeSignTrust()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	index, feed, err := s.vulnIndex()
	if err != nil {
		writeError(w, http.StatusConflict, "%v; nothing was stored", err)
		return
	}
	key, err := s.packagingKey(r, p)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	f, err := packaging.Intake(r.Context(), s.cas, r.Body, run.name, r.ContentLength, facts.Options{Trust: trust},
		func(f *facts.Facts) error { return s.deriveIntake(run, f, key, index) })
	if err != nil {
		writeIntakeError(w, run.name, err)
		return
	}
	// The file and everything derived from it, on a majority, registered.
	if err := s.holdBlob(r.Context(), digest.Digest(f.SHA256), f.Size, "package"); err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v; retry", err)
		return
	}
	in := &deploy.Intake{Kind: string(f.Kind), Components: len(components(f, run.vendor)), FeedVersion: feed.ID,
		Findings: run.scan.counts, Blocking: run.scan.blocking, ProvenanceKey: run.provKey, InspectedAt: store.NowUTC()}
	in.Facts, _ = json.Marshal(f)
	var provDigest digest.Digest
	blobs := []struct {
		b    []byte
		dst  *digest.Digest
		what string
	}{{run.spdx, &in.SPDX, "SPDX SBOM"}, {run.cdx, &in.CycloneDX, "CycloneDX SBOM"}, {run.report, &in.ScanReport, "scan report"},
		{run.dec, &in.PolicyDecision, "policy decision"}, {run.provEnvelope, &provDigest, "provenance"}}
	for _, b := range blobs {
		d, err := s.putBlob(r.Context(), b.b, b.what)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "%v; retry", err)
			return
		}
		*b.dst = d
	}
	if len(run.docItems) > 0 {
		in.Docs = map[deploy.EvidenceItem]deploy.DocRef{}
		for _, it := range run.docItems {
			d, err := s.putBlob(r.Context(), it.Body, it.Name)
			if err != nil {
				writeError(w, http.StatusServiceUnavailable, "%v; retry", err)
				return
			}
			in.Docs[deploy.EvidenceItem(it.Name)] = deploy.DocRef{Digest: d, MediaType: deploy.MediaDeploymentDoc, Title: it.Title}
		}
	}
	riskFacts, reasons := packaging.RiskFacts(f, true, &run.scan.counts)
	for _, r := range reasons {
		in.Reasons = append(in.Reasons, deploy.IntakeReason{Group: r.Group, Reason: r.Reason})
	}
	a := deploy.Artifact{AppID: run.app, Version: run.version, Platform: platformOf(f.Kind), Name: f.Name,
		SHA256: digest.Canonical(digest.Digest(f.SHA256)), Size: f.Size, Signing: packaging.Signing(f),
		Provenance: provDigest, SBOM: in.CycloneDX, ScanReport: in.ScanReport,
		ScanDecision: run.scan.decision, Facts: &riskFacts, Intake: in}
	c := govCtx(p)
	raw, ok := s.govApply(w, r, p, store.CmdArtifactCreate, "artifact/"+a.SHA256.String(), c, store.ArtifactCreateBody{GovCtx: c, Artifact: a}, 0)
	if !ok {
		return
	}
	var rec store.ArtifactRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, s.packageView(rec))
}

// intakeRequest reads and checks everything of an intake request but the
// body, before a byte of the body is read.
func (s *Server) intakeRequest(w http.ResponseWriter, r *http.Request, p *Principal) (*intakeRun, bool) {
	q := r.URL.Query()
	run := &intakeRun{app: r.PathValue("app"), version: r.PathValue("v"), name: q.Get("name"), runID: q.Get("run_id"), started: time.Now().UTC()}
	if run.name == "" {
		writeInputError(w, badField("name", "required: the package's file name (its extension says its type)"))
		return nil, false
	}
	if err := deploy.CheckArtifactName(run.name); err != nil {
		writeInputError(w, badField("name", "%v", err))
		return nil, false
	}
	kind, err := packaging.KindOf(run.name)
	if err != nil {
		writeInputError(w, badField("name", "%v", err))
		return nil, false
	}
	if run.runID == "" {
		run.runID = ulid.Make().String()
	}
	if v := q.Get("started"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || t.After(time.Now().Add(time.Minute)) {
			writeInputError(w, badField("started", "%q: want an RFC 3339 time not in the future", v))
			return nil, false
		}
		run.started = t.UTC()
	}
	for _, src := range q["source"] {
		rd, err := parseSource(src)
		if err != nil {
			writeInputError(w, badField("source", "%v", err))
			return nil, false
		}
		run.sources = append(run.sources, rd)
	}
	app, err := s.store.State().App(run.app)
	if err != nil {
		writeStoreError(w, err)
		return nil, false
	}
	if !inScope(w, p, "application "+run.app, app.AllowedScope) {
		return nil, false
	}
	if _, err := s.store.State().Version(run.app, run.version); err != nil {
		writeStoreError(w, err)
		return nil, false
	}
	if v := q.Get("docs"); v != "" {
		d, b, ok := s.readParamBlob(w, "docs", v)
		if !ok {
			return nil, false
		}
		doc, err := docs.Parse(b)
		if err != nil {
			writeInputError(w, badField("docs", "%v", err))
			return nil, false
		}
		run.doc, run.docsBlob = doc, d
	} else if windowsKinds[kind] {
		writeInputError(w, badField("docs", "a Windows package (.%s) needs its deployment documentation: silent install and uninstall, detection rules, exit codes and reboot behaviour in %s (EUCORA-architecture.md section 7.2)", kind, docs.FileName))
		return nil, false
	}
	if v := q.Get("sbom"); v != "" {
		d, b, ok := s.readParamBlob(w, "sbom", v)
		if !ok {
			return nil, false
		}
		imp, err := sbom.Import(b, facts.Limits{})
		if err != nil {
			writeInputError(w, badField("sbom", "%v", err))
			return nil, false
		}
		run.vendor, run.vendorBlob = &imp, d
	}
	return run, true
}

// readParamBlob reads the blob a query parameter names.
func (s *Server) readParamBlob(w http.ResponseWriter, field, v string) (digest.Digest, []byte, bool) {
	d, err := digest.Parse(v)
	if err != nil {
		writeInputError(w, badField(field, "%v", err))
		return "", nil, false
	}
	b, err := s.readBlob(d, maxDocBlob, field)
	if err != nil {
		writeInputError(w, badField(field, "%v (upload it first: PUT /v1/blobs/sha256/HEX)", err))
		return "", nil, false
	}
	return d, b, true
}

// parseSource reads "URI" or "URI#gitCommit=HEX".
func parseSource(v string) (provenance.ResourceDescriptor, error) {
	uri, frag, _ := strings.Cut(v, "#")
	if !strings.Contains(uri, ":") || strings.ContainsAny(uri, " \t\r\n") {
		return provenance.ResourceDescriptor{}, fmt.Errorf("%q: want a URI such as git+https://host/repo@ref, optionally #gitCommit=HEX", v)
	}
	rd := provenance.ResourceDescriptor{URI: uri}
	if frag != "" {
		k, h, ok := strings.Cut(frag, "=")
		if !ok || k != "gitCommit" || (len(h) != 40 && len(h) != 64) || strings.Trim(strings.ToLower(h), "0123456789abcdef") != "" {
			return rd, fmt.Errorf("%q: the fragment must be gitCommit=HEX (40 or 64 hex digits)", v)
		}
		rd.Digest = map[string]string{"gitCommit": strings.ToLower(h)}
	}
	return rd, nil
}

// components are the SBOM's components: the reader's, then the vendor
// SBOM's not already listed.
func components(f *facts.Facts, vendor *sbom.Imported) []facts.Component {
	out := append([]facts.Component{}, f.Components...)
	if vendor == nil {
		return out
	}
	seen := map[string]bool{}
	for _, c := range out {
		seen[c.PURL+"|"+c.Name+"@"+c.Version] = true
	}
	for _, c := range vendor.Components {
		if k := c.PURL + "|" + c.Name + "@" + c.Version; !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

// deriveIntake runs before the file is committed: documentation against
// the facts, SBOMs, the vulnerability policy and the signed provenance.
// Its error refuses the intake.
func (s *Server) deriveIntake(run *intakeRun, f *facts.Facts, key *signing.PrivateKey, index *vulnIndex) error {
	if run.doc != nil {
		if err := run.doc.Check(f); err != nil {
			return &intakeRefusal{field: "docs", err: err}
		}
		run.docItems = run.doc.Split()
	}
	withVendor := *f
	withVendor.Components = components(f, run.vendor)
	doc := sbom.Doc{Created: time.Now().UTC(), ToolVersion: s.version()}
	var err error
	if run.spdx, err = sbom.SPDX(&withVendor, doc); err != nil {
		return &intakeRefusal{field: "sbom", err: err}
	}
	if run.cdx, err = sbom.CycloneDX(&withVendor, doc); err != nil {
		return &intakeRefusal{field: "sbom", err: err}
	}
	if run.scan, run.report, run.dec, err = index.scan(digest.Digest(f.SHA256), withVendor.Components); err != nil {
		return err
	}
	subject, err := provenance.Artifact(f.Name, f.SHA256)
	if err != nil {
		return err
	}
	var inputs []provenance.ResourceDescriptor
	if run.docsBlob != "" {
		inputs = append(inputs, provenance.ResourceDescriptor{Name: docs.FileName, Digest: map[string]string{"sha256": run.docsBlob.Hex()}})
	}
	if run.vendorBlob != "" {
		inputs = append(inputs, provenance.ResourceDescriptor{Name: "vendor-sbom", Digest: map[string]string{"sha256": run.vendorBlob.Hex()}})
	}
	by := func(name string, b []byte) provenance.ResourceDescriptor {
		return provenance.ResourceDescriptor{Name: name, Digest: map[string]string{"sha256": digest.FromBytes(b).Hex()}}
	}
	id, err := s.store.State().Identity()
	if err != nil {
		return err
	}
	st, err := provenance.New(provenance.Run{App: run.app, Version: run.version, Subjects: []provenance.ResourceDescriptor{subject},
		Inputs: inputs, Sources: run.sources,
		Byproducts: []provenance.ResourceDescriptor{by("sbom.spdx.json", run.spdx), by("sbom.cdx.json", run.cdx), by("scan-report.json", run.report), by("policy-decision.json", run.dec)},
		BuilderID:  "https://eucora.dev/factory/hub/" + id.KeyID + "/" + s.cfg.NodeID, BuilderVersion: map[string]string{"eucora": s.version()},
		InvocationID: run.runID, StartedOn: run.started, FinishedOn: time.Now().UTC()})
	if err != nil {
		return &intakeRefusal{field: "provenance", err: err}
	}
	env, err := provenance.Sign(st, key)
	if err != nil {
		return err
	}
	run.provKey = key.ID
	run.provEnvelope, err = json.Marshal(env)
	return err
}

// intakeRefusal is a refusal of the request's inputs found once the facts
// were read (the documentation contradicts the file).
type intakeRefusal struct {
	field string
	err   error
}

func (e *intakeRefusal) Error() string { return e.field + ": " + e.err.Error() }
func (e *intakeRefusal) Unwrap() error { return e.err }

// writeIntakeError answers an intake failure: a defective file is 422 with
// code defective_package (CLI exit 21), a refused input 422 naming its
// field, a type the factory does not read 422 on name.
func writeIntakeError(w http.ResponseWriter, name string, err error) {
	var ref *intakeRefusal
	switch {
	case errors.Is(err, facts.ErrDefect):
		writeJSON(w, http.StatusUnprocessableEntity, api.Error{Error: err.Error() + "; nothing was stored", Code: api.CodeDefectivePackage})
	case errors.As(err, &ref):
		writeInputError(w, badField(ref.field, "%v; nothing was stored", ref.err))
	case errors.Is(err, packaging.ErrUnknownType):
		writeInputError(w, badField("name", "%v", err))
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusBadRequest, "%s: upload cancelled; nothing was stored", name)
	default:
		writeError(w, http.StatusInternalServerError, "%s: %v; nothing was stored", name, err)
	}
}

func (s *Server) version() string {
	if s.cfg.Version == "" {
		return "dev"
	}
	return s.cfg.Version
}
