package sitesync

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

var (
	acmeFin    = deploy.Scope{Acquisition: "acme", BU: "fin"}
	acmeFinLon = deploy.Scope{Acquisition: "acme", BU: "fin", Site: "lon"}
)

// signedManifest reads and verifies the manifest of an export on disk
// with the hub's key, as an edge would.
func signedManifest(t *testing.T, h *testHub, x *Syncer, rec *store.ExportRecord) *transfer.Signed {
	t.Helper()
	f, err := x.OpenManifest(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := transfer.ReadSigned(env, signing.NewTrust(h.key.Public()))
	if err != nil {
		t.Fatalf("export %d: %v", rec.Sequence, err)
	}
	return sg
}

func recordTypes(sg *transfer.Signed) []string {
	var out []string
	for _, r := range sg.Records {
		out = append(out, r.Type)
	}
	slices.Sort(out)
	return out
}

// contentObjects are the objects of a bundle that are not its records.
func contentObjects(sg *transfer.Signed) []digest.Digest {
	recs := map[digest.Digest]bool{}
	for _, r := range sg.Records {
		recs[r.Digest] = true
	}
	var out []digest.Digest
	for _, o := range sg.Objects {
		if !recs[o.Digest] {
			out = append(out, o.Digest)
		}
	}
	return out
}

func exportRecord(t *testing.T, h *testHub, site string, seq uint64) *store.ExportRecord {
	t.Helper()
	rec, err := h.state.Export(site, seq)
	if err != nil {
		t.Fatal(err)
	}
	return &rec
}

// An export carries every record a site in scope should hold and, as
// objects, only what the site's last held list lacks; it is reused while
// nothing changed and chained to its predecessor when something did.
func TestExportPlansRecordsAndDelta(t *testing.T) {
	h := newTestHub(t)
	ctx := t.Context()
	edge, _ := signing.Generate()
	lon := h.site("lon", acmeFinLon, edge)
	par := h.site("par", deploy.Scope{Acquisition: "globex"}, edge)
	artifact := []byte("ledger 2.4.1 installer")
	if _, err := h.cas.PutBytes(artifact); err != nil {
		t.Fatal(err)
	}
	h.publish(artifact, acmeFin)
	d := digest.FromBytes(artifact)

	st, err := h.sync.Status(lon, store.NowUTC())
	if err != nil || st.PendingObjects != 1 || st.PendingBytes != int64(len(artifact)) || st.PendingError != "" {
		t.Fatalf("status before any export: %+v, %v", st, err)
	}
	x1, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if x1.Sequence != 1 || x1.Objects != 1 || x1.ObjectBytes != int64(len(artifact)) || x1.Predecessor != "" || x1.Reused || len(x1.Volumes) == 0 {
		t.Fatalf("first export: %+v", x1)
	}
	rec1 := exportRecord(t, h, "lon", 1)
	sg := signedManifest(t, h, h.sync, rec1)
	want := []string{transfer.RecordApp, transfer.RecordApproval, transfer.RecordArtifact, transfer.RecordHubKeys, transfer.RecordIntent,
		transfer.RecordRisk, transfer.RecordSite, transfer.RecordTime}
	slices.Sort(want)
	if got := recordTypes(sg); !slices.Equal(got, want) {
		t.Fatalf("records of lon's export: %v, want %v", got, want)
	}
	if got := contentObjects(sg); !slices.Equal(got, []digest.Digest{d}) || sg.Source != transfer.HubEndpoint || sg.Target != "lon" {
		t.Fatalf("manifest: source %q target %q content objects %v, want [%s]", sg.Source, sg.Target, got, d)
	}
	if f, err := h.sync.OpenObject(rec1, d); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}

	// A site out of the intent's scope is sent its own record and the
	// hub's, nothing of the intent.
	xp, err := h.sync.Export(ctx, h.audit, par, api.ExportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := recordTypes(signedManifest(t, h, h.sync, exportRecord(t, h, "par", xp.Sequence))); xp.Objects != 0 ||
		!slices.Equal(got, []string{transfer.RecordHubKeys, transfer.RecordSite, transfer.RecordTime}) {
		t.Fatalf("par's export: %d objects, records %v", xp.Objects, got)
	}

	// Nothing changed: if_changed returns the same export.
	again, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{IfChanged: true})
	if err != nil || !again.Reused || again.Sequence != 1 || again.Digest != x1.Digest {
		t.Fatalf("if_changed with nothing new: %+v, %v", again, err)
	}

	// The site applied it and holds the artifact: the next export
	// carries no object, names its predecessor, and the site lacks
	// nothing.
	imp := edgeBundle(t, edge, transfer.Header{Source: "lon", Target: transfer.HubEndpoint, Sequence: 1},
		receipt(t, "lon", 1, x1.Digest, map[digest.Digest]int64{d: int64(len(artifact))})...)
	v, err := h.sync.VerifyImport(lon, bytes.NewReader(imp))
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.sync.Import(ctx, h.audit, v)
	if err != nil || res.Outcome != store.ImportApplied || res.LastAppliedSeq != 1 || res.Site != "lon" {
		t.Fatalf("import: %+v, %v", res, err)
	}
	x2, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{})
	if err != nil || x2.Sequence != 2 || x2.Objects != 0 || x2.Predecessor != x1.Digest {
		t.Fatalf("export after the receipt: %+v, %v", x2, err)
	}
	if st, err := h.sync.Status(lon, store.NowUTC()); err != nil || st.PendingObjects != 0 || st.LastAppliedSeq != 1 || st.LastExportedSeq != 2 {
		t.Fatalf("status after the receipt: %+v, %v", st, err)
	}
	full, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{Full: true, ManifestOnly: true})
	if err != nil || full.Sequence != 3 || full.Objects != 1 || len(full.Volumes) != 0 || !full.ManifestOnly {
		t.Fatalf("full manifest-only export: %+v, %v", full, err)
	}

	// Exports beyond the last three are pruned from disk; their records
	// stay and say so.
	if _, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sync.OpenManifest(rec1); err == nil || !strings.Contains(err.Error(), "export 1 of site lon: no longer on disk (the last 3 are kept): export again") {
		t.Fatalf("pruned export: %v", err)
	}
	rec4 := exportRecord(t, h, "lon", 4)
	if _, err := h.node("node2").OpenManifest(rec4); err == nil || !strings.Contains(err.Error(), "written on node node1, not this one (node2)") {
		t.Fatalf("another node's export: %v", err)
	}
	if _, err := h.sync.OpenVolume(rec4, "nope.tar"); err == nil || err.Error() != `export 4 of site lon has no volume "nope.tar"` {
		t.Fatalf("unlisted volume: %v", err)
	}
	if f, err := h.sync.OpenVolume(rec4, rec4.Volumes[0].Name); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	if _, err := h.sync.OpenObject(rec4, d); err == nil || !strings.Contains(err.Error(), "does not carry object") {
		t.Fatalf("object the export does not carry: %v", err)
	}
}

// An export the hub cannot make is refused by kind before a sequence is
// reserved: nothing is proposed and the site's sync state is unchanged.
func TestExportRefusalsReserveNothing(t *testing.T) {
	h := newTestHub(t)
	edge, _ := signing.Generate()
	lon := h.site("lon", acmeFinLon, edge)
	h.publish([]byte("not in the content store"), acmeFin)
	bare := h.site("bare", acmeFinLon, nil)
	h.site("apt", deploy.Scope{Acquisition: "globex"}, edge)
	h.apply(store.CmdSiteAssign, store.SiteAssignBody{Name: "apt", APT: []store.APTAssignment{{Prefix: "ubuntu", Dist: "noble"}}})
	apt := h.loadSite("apt")
	noKey := h.node("node1")
	noKey.cfg.Key = func() (*signing.PrivateKey, error) { return nil, errors.New("no key file") }
	par := h.site("par", deploy.Scope{Acquisition: "globex"}, edge)

	for _, c := range []struct {
		name string
		x    *Syncer
		site store.Site
		kind error
		msg  string
	}{
		{"not enrolled", h.sync, bare, ErrNotEnrolled, "site bare has no enrolled edge key: 'eucora site enroll bare --edge-key EDGE.pub' first"},
		{"object missing", h.sync, lon, ErrUnavailable, "that site lon needs is not in this node's content store"},
		{"publication not here", h.sync, apt, ErrUnplannable, "cannot plan the export for site apt: apt ubuntu noble"},
		{"no hub key", noKey, par, ErrUnavailable, "hub key not available on this node: no key file"},
	} {
		before := h.proposals()
		_, err := c.x.Export(t.Context(), h.audit, c.site, api.ExportRequest{})
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %v saying %q", c.name, err, c.kind, c.msg)
		}
		if h.proposals() != before || h.syncState(c.site.Name).ReservedSeq != 0 {
			t.Errorf("%s: proposed %d commands, reserved %d", c.name, h.proposals()-before, h.syncState(c.site.Name).ReservedSeq)
		}
	}
}

// An edge bundle is verified once and the verified form merged as it is:
// a bundle behind the last merged one is refused (stale) before anything
// is proposed; the same bundle again is a duplicate; a bundle whose
// record does not match its manifest, or that expired, is refused.
func TestImportVerifiesOnceAndMerges(t *testing.T) {
	h := newTestHub(t)
	ctx := t.Context()
	edge, _ := signing.Generate()
	lon := h.site("lon", acmeFinLon, edge)
	hdr := transfer.Header{Source: "lon", Target: transfer.HubEndpoint, Sequence: 2}
	first := edgeBundle(t, edge, hdr, receipt(t, "lon", 0, "", nil)...)
	v, err := h.sync.VerifyImport(lon, bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if b := v.Body(); b.Site != "lon" || b.Sequence != 2 || b.KeyID != edge.ID || b.Receipt.Site != "lon" || b.Held == nil {
		t.Fatalf("verified body: %+v", b)
	}
	// Verified once: merging later does not check the bundle again, so a
	// clock past its expiry changes nothing now.
	h.sync.cfg.Now = func() time.Time { return store.NowUTC().Add(365 * 24 * time.Hour) }
	if res, err := h.sync.Import(ctx, h.audit, v); err != nil || res.Outcome != store.ImportApplied {
		t.Fatalf("merge: %+v, %v", res, err)
	}
	if _, err := h.sync.VerifyImport(lon, bytes.NewReader(first)); !isRefusal(err, transfer.RefusedExpired) {
		t.Fatalf("verify past expiry: %v", err)
	}
	h.sync.cfg.Now = store.NowUTC

	v, err = h.sync.VerifyImport(lon, bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := h.sync.Import(ctx, h.audit, v); err != nil || res.Outcome != store.ImportDuplicate {
		t.Fatalf("the same bundle again: %+v, %v", res, err)
	}

	behind := edgeBundle(t, edge, transfer.Header{Source: "lon", Target: transfer.HubEndpoint, Sequence: 1}, receipt(t, "lon", 0, "", nil)...)
	v, err = h.sync.VerifyImport(lon, bytes.NewReader(behind))
	if err != nil {
		t.Fatal(err)
	}
	before := h.proposals()
	if _, err := h.sync.Import(ctx, h.audit, v); !isRefusal(err, transfer.RefusedStale) || !errors.Is(err, store.ErrStale) {
		t.Fatalf("a bundle behind the last merged: %v", err)
	}
	if h.proposals() != before {
		t.Fatal("a stale bundle was proposed")
	}

	// A record that is not the one the manifest lists.
	recs := receipt(t, "lon", 0, "", nil)
	tampered := edgeBundle(t, edge, transfer.Header{Source: "lon", Target: transfer.HubEndpoint, Sequence: 3}, recs...)
	orig := digest.FromBytes(recs[0].Data).Hex()
	body := bytes.Replace(tampered, []byte(`"`+orig+`":"`), []byte(`"`+orig+`":"AAAA`), 1)
	if _, err := h.sync.VerifyImport(lon, bytes.NewReader(body)); !isRefusal(err, transfer.RefusedCorrupt) {
		t.Fatalf("tampered record: %v", err)
	}
	// Another site's key.
	other, _ := signing.Generate()
	if _, err := h.sync.VerifyImport(lon, bytes.NewReader(edgeBundle(t, other, hdr, recs...))); !isRefusal(err, transfer.RefusedUnknownKey) {
		t.Fatalf("bundle signed by another key: %v", err)
	}
	if ss := h.syncState("lon"); ss.LastImportSeq != 2 {
		t.Fatalf("last import %d after refusals, want 2", ss.LastImportSeq)
	}
}

func isRefusal(err error, code transfer.RefusalCode) bool {
	got, ok := transfer.RefusalOf(err)
	var re *transfer.RefusalError
	return ok && got == code && errors.As(err, &re)
}

// A body cut short after a verified envelope is a malformed body (never
// the reader's bare io.EOF, which the hub would answer as "EOF").
func TestReadImportBodyCutShort(t *testing.T) {
	h := newTestHub(t)
	edge, _ := signing.Generate()
	lon := h.site("lon", acmeFinLon, edge)
	good := edgeBundle(t, edge, transfer.Header{Source: "lon", Target: transfer.HubEndpoint, Sequence: 1}, receipt(t, "lon", 0, "", nil)...)
	afterEnvelope := bytes.Index(good, []byte(`,"records"`))
	if afterEnvelope < 0 || !bytes.HasSuffix(good, []byte("}}")) {
		t.Fatalf("unexpected request layout: %.80s", good)
	}
	for _, body := range [][]byte{good[:afterEnvelope], good[:len(good)-1], append(good[:afterEnvelope:afterEnvelope], "  \n"...)} {
		_, err := h.sync.VerifyImport(lon, bytes.NewReader(body))
		var be *BodyError
		if !errors.As(err, &be) || be.TooLarge || !strings.HasPrefix(be.Msg, "malformed JSON: body ends at byte ") {
			t.Errorf("body cut at %d: %v (%T)", len(body), err, err)
		}
	}
}

// The exports directory is the configured one: SITE/SEQ under it.
func TestExportDirLayout(t *testing.T) {
	x := New(Config{Dir: "/data/hub/exports"})
	if got := x.exportDir("lon", 12); got != filepath.Join("/data/hub/exports", "lon", "12") {
		t.Fatal(got)
	}
}
