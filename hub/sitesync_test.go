package hub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// publishedIntent registers an application whose artifact bytes are a
// hub blob, and publishes a low-risk Ring 0 intent for it in scope.
func publishedIntent(t *testing.T, w *govWorld, artifact []byte, scope deploy.Scope) deploy.Intent {
	t.Helper()
	ctx := w.ctx
	acme := deploy.Scope{Acquisition: "acme"}
	w.token("pat", deploy.RolePackagingEngineer, acme)
	w.token("carol", deploy.RoleCABApprover, deploy.Scope{})
	w.token("rita", deploy.RolePublisher, acme)
	pat, carol, rita := w.as("pat", deploy.RolePackagingEngineer), w.as("carol", deploy.RoleCABApprover), w.as("rita", deploy.RolePublisher)
	const app = "com.acme.ledger"
	d := digest.FromBytes(artifact)
	if err := pat.PutBlob(ctx, d.Hex(), bytes.NewReader(artifact), int64(len(artifact))); err != nil {
		t.Fatal(err)
	}
	must[api.App](t, "create app")(pat.CreateApp(ctx, api.AppRequest{ID: app, Name: "Ledger", Owner: "fin-apps", Category: "finance",
		SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: acme, LOB: true}))
	must[api.Version](t, "create version")(pat.CreateVersion(ctx, app, api.VersionRequest{Version: "2.4.1",
		OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}))
	must[api.Artifact](t, "create artifact")(pat.CreateArtifact(ctx, app, "2.4.1", api.ArtifactRequest{Platform: deploy.PlatformMSI,
		Name: "ledger.msi", SHA256: d, Size: int64(len(artifact)), Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass}))
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		must[api.Version](t, "transition "+string(to))(pat.Transition(ctx, app, "2.4.1", to))
	}
	must[api.Version](t, "approve")(carol.Transition(ctx, app, "2.4.1", deploy.StateApproved))
	as := must[api.Assessment](t, "assess")(rita.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-1", AppID: app, Version: "2.4.1",
		Artifact: d, Input: riskInput(0.8, deploy.Ring2Pilot)}))
	now := time.Now().UTC().Truncate(time.Second)
	in := must[api.Intent](t, "intent")(rita.CreateIntent(ctx, api.IntentRequest{ID: "i-1", AppID: app, Version: "2.4.1", Artifact: d,
		Ring: deploy.Ring2Pilot, Scope: &scope, Schedule: deploy.Schedule{NotBefore: now}, AssessmentID: "as-1"}))
	var pack deploy.EvidencePack
	if err := json.Unmarshal(evidencePack(t, "i-1", "2.4.1", as.Assessment, now), &pack); err != nil {
		t.Fatal(err)
	}
	pack.Artifacts[0].SHA256, pack.Artifacts[0].Size = d, int64(len(artifact))
	pb, _ := json.Marshal(pack)
	ev := must[api.EvidenceView](t, "store evidence")(rita.StoreEvidence(ctx, pb))
	must[deploy.ApprovalRecord](t, "cab")(carol.CreateApproval(ctx, api.ApprovalRequest{ID: "cab-1", Subject: "intent:i-1", RequestedBy: "rita",
		Decision: deploy.Approved, ExpiresAt: now.Add(24 * time.Hour)}))
	must[api.Decision](t, "publish")(rita.Publish(ctx, "i-1", api.PublishRequest{Approval: "cab-1", Evidence: ev.Record.Digest}))
	return in.Intent
}

// download writes every volume of an export into dir.
func download(t *testing.T, c *client.Client, site string, x api.Export, dir string) []string {
	t.Helper()
	files, err := c.DownloadExport(ctxT(t), x, dir, nil)
	if err != nil {
		t.Fatalf("download export %d of %s: %v", x.Sequence, site, err)
	}
	return files
}

func TestSiteSyncRoundTrip(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	w := &govWorld{t: t, n: n, ctx: ctx, users: map[string]*client.Client{}}
	fin := deploy.Scope{Acquisition: "acme", BU: "fin"}
	artifact := bytes.Repeat([]byte("ledger installer "), 20000)
	in := publishedIntent(t, w, artifact, fin)

	hk := must[api.HubKey](t, "hub key")(ac.HubKey(ctx))
	hubPub, err := signing.ParsePublic([]byte(hk.PublicPEM), "hub key")
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.Init(t.TempDir(), "lon", hubPub)
	if err != nil {
		t.Fatal(err)
	}
	// A site must be enrolled before it can be exported to.
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "lon", Class: api.ClassAirGapped, Scope: deploy.Scope{Acquisition: "acme", BU: "fin", Site: "lon"}}))
	if _, err := ac.ExportSite(ctx, "lon", api.ExportRequest{}); err == nil || !strings.Contains(err.Error(), "enroll") {
		t.Fatalf("export before enrolment: %v", err)
	}
	site := must[api.Site](t, "enrol")(ac.EnrollSite(ctx, "lon", signing.EncodePublic(e.PublicKey())))
	if site.EdgeKeyID != e.PublicKey().ID {
		t.Fatalf("enrolled %s, want %s", site.EdgeKeyID, e.PublicKey().ID)
	}
	// Nothing published on this node under the prefix: the assignment is
	// refused (TestSiteAssignChecksPublications has the cases).
	if _, err := ac.AssignAPT(ctx, "lon", []api.APTAssignment{{Prefix: "ubuntu", Dist: "jammy"}}); err == nil || !strings.Contains(err.Error(), "not published") {
		t.Fatalf("assignment of an unpublished publication: %v", err)
	}
	must[api.AssignResult](t, "unassign")(ac.AssignAPT(ctx, "lon", nil))

	sync0 := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "lon"))
	if sync0.PendingObjects != 1 || sync0.PendingBytes != int64(len(artifact)) || sync0.LastExportedSeq != 0 || !sync0.ChainOK {
		t.Fatalf("sync before any export: %+v", sync0)
	}
	if sync0.Sync != "nothing exported" {
		t.Errorf("sync summary before any export: %q", sync0.Sync)
	}

	// 1. The first export carries the artifact and the records.
	x1 := must[api.Export](t, "export 1")(ac.ExportSite(ctx, "lon", api.ExportRequest{}))
	if x1.Sequence != 1 || x1.Objects != 1 || x1.ObjectBytes != int64(len(artifact)) || x1.Predecessor != "" || len(x1.Volumes) != 1 {
		t.Fatalf("export 1: %+v", x1)
	}
	if v := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "lon")); v.Sync != "never received" {
		t.Errorf("sync summary after export 1, nothing received: %q", v.Sync)
	}
	vols := download(t, ac, "lon", x1, t.TempDir())
	res, err := e.Import(ctx, vols, edge.ImportOptions{})
	if err != nil || res.Outcome != edge.OutcomeApplied || res.Records[transfer.RecordIntent] != 1 || res.Records[transfer.RecordApproval] != 1 {
		t.Fatalf("edge import 1: %v %+v", err, res)
	}
	if ok, _ := e.Store().Has(in.Artifact); !ok {
		t.Fatal("the artifact did not reach the edge")
	}
	// The edge judges the intent offline from what the hub sent: allowed
	// now, refused once the CAB approval has expired.
	now := time.Now().UTC()
	if d, err := e.AdmitHeld(in.ID, now); err != nil || !d.Allowed {
		t.Fatalf("offline admission now: %v %+v", err, d)
	}
	d, err := e.AdmitHeld(in.ID, now.Add(25*time.Hour))
	if err != nil || d.Allowed || !failedRule(d, "cab.not-expired") {
		t.Fatalf("offline admission after the approval expired: %v %+v", err, d)
	}

	// 2. The edge reports back; the hub merges its events.
	out := t.TempDir()
	if _, err := e.Export(ctx, out, edge.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	req, _, err := importRequest(ctx, files, signing.NewTrust(e.PublicKey()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ir := must[api.ImportResult](t, "hub import")(ac.ImportSite(ctx, "lon", req))
	if ir.Outcome != store.ImportApplied || ir.EventsAccepted != 1 || !ir.ChainOK || ir.LastAppliedSeq != 1 {
		t.Fatalf("hub import: %+v", ir)
	}
	again := must[api.ImportResult](t, "hub import again")(ac.ImportSite(ctx, "lon", req))
	if again.Outcome != store.ImportDuplicate || again.EventsAccepted != 0 {
		t.Fatalf("duplicate import: %+v", again)
	}
	if ev := lastEvent(t, n); ev.Action != store.CmdSiteImport || ev.Outcome != store.ImportDuplicate {
		t.Errorf("a duplicate import is audited as %s %s, want site.import duplicate", ev.Action, ev.Outcome)
	}

	// 3. The next export is a delta: no objects (the site holds the
	// artifact), and acknowledges the edge's event.
	// Nothing new but an acknowledgement: if_changed reuses the applied export.
	if r := must[api.Export](t, "export if changed")(ac.ExportSite(ctx, "lon", api.ExportRequest{IfChanged: true})); !r.Reused || r.Sequence != 1 {
		t.Fatalf("export with only an ack pending: %+v", r)
	}
	x2 := must[api.Export](t, "export 2")(ac.ExportSite(ctx, "lon", api.ExportRequest{}))
	if x2.Sequence != 2 || x2.Objects != 0 || x2.Predecessor != x1.Digest || x2.Reused {
		t.Fatalf("export 2: %+v", x2)
	}
	x3 := must[api.Export](t, "export 3")(ac.ExportSite(ctx, "lon", api.ExportRequest{IfChanged: true}))
	if !x3.Reused || x3.Sequence != 2 {
		t.Fatalf("an unchanged if_changed export made a new bundle: %+v", x3)
	}
	// A manifest-only export (the network flow) writes no volumes and is
	// not what a media request reuses.
	mo := must[api.Export](t, "manifest-only export")(ac.ExportSite(ctx, "lon", api.ExportRequest{IfChanged: true, ManifestOnly: true}))
	if mo.Reused || !mo.ManifestOnly || len(mo.Volumes) != 0 || mo.Sequence != 3 {
		t.Fatalf("manifest-only export: %+v", mo)
	}
	if menv, err := ac.ExportManifest(ctx, "lon", mo.Sequence); err != nil {
		t.Fatal(err)
	} else if msg, err := transfer.ReadSigned(menv, signing.NewTrust(hubPub)); err != nil || msg.Digest != mo.Digest {
		t.Fatalf("manifest-only export's manifest: %v", err)
	}
	if r := must[api.Export](t, "media export")(ac.ExportSite(ctx, "lon", api.ExportRequest{IfChanged: true})); r.Reused && r.ManifestOnly {
		t.Fatalf("a media request reused a manifest-only export: %+v", r)
	}
	// The network flow's pieces: manifest and objects by digest.
	env := must[[]byte](t, "manifest")(ac.ExportManifest(ctx, "lon", 2))
	sg, err := transfer.ReadSigned(env, signing.NewTrust(hubPub))
	if err != nil || sg.Digest != x2.Digest {
		t.Fatalf("manifest of export 2: %v", err)
	}
	xf := must[api.Export](t, "export full")(ac.ExportSite(ctx, "lon", api.ExportRequest{Full: true}))
	resp, err := ac.ExportPart(ctx, "lon", xf.Sequence, "objects", in.Artifact.Hex(), 100)
	if err != nil {
		t.Fatal(err)
	}
	tail, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(tail, artifact[100:]) {
		t.Fatalf("ranged object read %d bytes, want %d", len(tail), len(artifact)-100)
	}
	if _, err := ac.ExportPart(ctx, "lon", x2.Sequence, "objects", in.Artifact.Hex(), 0); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("an object the export does not carry: %v", err)
	}
	vols = download(t, ac, "lon", xf, t.TempDir())
	res, err = e.Import(ctx, vols, edge.ImportOptions{})
	if err != nil || res.Outcome != edge.OutcomeApplied || res.Records[transfer.RecordAck] != 1 {
		t.Fatalf("edge import of the full export: %v %+v", err, res)
	}
	if st, _ := e.Status(); st.Pending != 1 { // the ack pruned the first event; this import's event is pending
		t.Fatalf("edge pending events after the ack: %d", st.Pending)
	}

	sync1 := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "lon"))
	if sync1.LastExportedSeq != xf.Sequence || sync1.LastAppliedSeq != 1 || sync1.PendingObjects != 0 || sync1.EventsReceived != 1 ||
		sync1.LastEventSeq != 1 || !sync1.ChainOK || sync1.Stale || sync1.TimeToComplianceSeconds != 7*24*3600 || sync1.LastReceiptAt == nil {
		t.Fatalf("sync state: %+v", sync1)
	}
	if want := fmt.Sprintf("%d exports unacknowledged", xf.Sequence-1); sync1.Sync != want {
		t.Errorf("sync summary: %q, want %q", sync1.Sync, want)
	}
	// Central operations alert on the same state from /metrics.
	mresp, err := http.Get(n.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{`eucora_site_last_applied_sequence{class="air-gapped",site="lon"} 1`, `eucora_site_chain_ok{class="air-gapped",site="lon"} 1`,
		`eucora_site_stale{class="air-gapped",site="lon"} 0`, `eucora_site_events_received_total{class="air-gapped",site="lon"} 1`} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestSiteImportRefusals(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	hk := must[api.HubKey](t, "hub key")(ac.HubKey(ctx))
	hubPub, _ := signing.ParsePublic([]byte(hk.PublicPEM), "hub key")
	lon, err := edge.Init(t.TempDir(), "lon", hubPub)
	if err != nil {
		t.Fatal(err)
	}
	par, err := edge.Init(t.TempDir(), "par", hubPub)
	if err != nil {
		t.Fatal(err)
	}
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "lon", Class: api.ClassOnline, EdgeKeyPEM: string(signing.EncodePublic(lon.PublicKey()))}))
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "par", Class: api.ClassOnline}))
	exportOf := func(e *edge.Edge) (*api.ImportRequest, *transfer.Signed) {
		out := t.TempDir()
		if _, err := e.Export(ctx, out, edge.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(out, "*"))
		req, sg, err := importRequest(ctx, files, signing.NewTrust(e.PublicKey()), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return req, sg
	}
	parReq, _ := exportOf(par)
	good, sg := exportOf(lon)
	before := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "lon"))

	tampered := *good
	tampered.Records = map[string]string{}
	for k, v := range good.Records {
		b, _ := base64.StdEncoding.DecodeString(v)
		b[len(b)/2] ^= 1
		tampered.Records[k] = base64.StdEncoding.EncodeToString(b)
	}
	cases := []struct {
		name, site, code string
		req              *api.ImportRequest
	}{
		{"not enrolled", "par", string(transfer.RefusedNotEnrolled), parReq},
		{"another site's key", "lon", string(transfer.RefusedUnknownKey), parReq},
		{"tampered record", "lon", string(transfer.RefusedCorrupt), &tampered},
		{"missing record", "lon", string(transfer.RefusedCorrupt), &api.ImportRequest{Envelope: good.Envelope, Records: map[string]string{}}},
		{"garbage envelope", "lon", string(transfer.RefusedCorrupt), &api.ImportRequest{Envelope: base64.StdEncoding.EncodeToString([]byte("{}")), Records: good.Records}},
	}
	for _, c := range cases {
		_, err := ac.ImportSite(ctx, c.site, c.req)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 422 {
			t.Errorf("%s: %v, want 422", c.name, err)
			continue
		}
		// The refusal is an audit event with its code.
		ev := lastEvent(t, n)
		if ev.Action != "sites.import" || ev.Outcome != "refused" || !strings.HasPrefix(ev.Reason, c.code+":") {
			t.Errorf("%s: audit event %+v, want refused with code %s", c.name, ev, c.code)
		}
	}
	after := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "lon"))
	// Refusals are counted and the last one named, nothing else changes.
	if after.RefusalsSinceImport != 4 || after.LastRefusalAt == nil || !strings.HasPrefix(after.LastRefusalReason, string(transfer.RefusedCorrupt)+":") ||
		before.RefusalsSinceImport != 0 || before.LastRefusalAt != nil {
		t.Errorf("refusals in the sync state: before %d %v, after %d %v %q, want 0 none, then 4 and the last (corrupt)",
			before.RefusalsSinceImport, before.LastRefusalAt, after.RefusalsSinceImport, after.LastRefusalAt, after.LastRefusalReason)
	}
	if par := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "par")); par.RefusalsSinceImport != 1 ||
		!strings.HasPrefix(par.LastRefusalReason, string(transfer.RefusedNotEnrolled)+":") {
		t.Errorf("par after one refusal: %d %q", par.RefusalsSinceImport, par.LastRefusalReason)
	}
	after.StalenessSeconds, before.StalenessSeconds = 0, 0
	after.LastRefusalAt, after.LastRefusalReason, after.RefusalsSinceImport = nil, "", 0
	if a, b := mustJSON(t, after), mustJSON(t, before); a != b {
		t.Fatalf("a refusal changed the sync state:\n%s\n%s", b, a)
	}
	// The good bundle applies; an older one after a newer is stale (409).
	if r := must[api.ImportResult](t, "import")(ac.ImportSite(ctx, "lon", good)); r.Outcome != store.ImportApplied || r.Sequence != sg.Sequence {
		t.Fatalf("good import: %+v", r)
	}
	older, _ := exportOf(lon)
	newer, _ := exportOf(lon)
	must[api.ImportResult](t, "import newer")(ac.ImportSite(ctx, "lon", newer))
	var ae *client.APIError
	if v := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "lon")); v.RefusalsSinceImport != 0 || v.LastRefusalAt == nil {
		t.Errorf("after a merged import: %d refusals since, last %v; want 0 and the last one kept", v.RefusalsSinceImport, v.LastRefusalAt)
	}
	cur0, _ := n.srv.Store().State().LastCursor()
	if _, err := ac.ImportSite(ctx, "lon", older); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != string(transfer.RefusedStale) || lastEvent(t, n).Outcome != "refused" {
		t.Fatalf("older after newer: %v", err)
	}
	if v := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "lon")); v.RefusalsSinceImport != 1 || !strings.HasPrefix(v.LastRefusalReason, string(transfer.RefusedStale)+":") {
		t.Errorf("after a stale refusal: %d refusals since, last %q", v.RefusalsSinceImport, v.LastRefusalReason)
	}
	// One refused import, one audit event.
	if cur, _ := n.srv.Store().State().LastCursor(); cur-cur0 != 1 {
		got := cur - cur0
		t.Fatalf("a stale import wrote %d audit events, want 1", got)
	}
}

// importEvents counts the hub's audit events of action sites.import.
func importEvents(t *testing.T, n *testNode) int {
	t.Helper()
	evs, err := n.srv.Store().State().Events(0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	c := 0
	for _, e := range evs {
		if e.Action == "sites.import" {
			c++
		}
	}
	return c
}

// TestSiteImportRefusalReport: a bundle a client refused locally is
// recorded at the hub as one refused import with the client's code; an
// unknown code is a 400 that records nothing, and the site's sync state
// never changes.
func TestSiteImportRefusalReport(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "lon", Class: api.ClassAirGapped}))
	before := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "lon"))
	for _, code := range []transfer.RefusalCode{transfer.RefusedBadSignature, transfer.RefusedCorrupt, transfer.RefusedMissingVolume} {
		n0 := importEvents(t, n)
		if err := ac.ReportImportRefusal(ctx, "lon", api.ImportRefusal{Code: code, Reason: "flipped byte", BundleID: "01B", Sequence: 3}); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		ev := lastEvent(t, n)
		if got := importEvents(t, n) - n0; got != 1 || ev.Outcome != "refused" || ev.Object != "site/lon" ||
			!strings.HasPrefix(ev.Reason, string(code)+": refused by the importing client: bundle 01B sequence 3") || !strings.Contains(ev.Reason, "flipped byte") {
			t.Errorf("%s: %d events, last %+v", code, got, ev)
		}
	}
	n0 := importEvents(t, n)
	var ae *client.APIError
	if err := ac.ReportImportRefusal(ctx, "lon", api.ImportRefusal{Code: "applied"}); !errors.As(err, &ae) || ae.Status != 422 {
		t.Errorf("unknown code: %v, want 422", err)
	}
	if err := ac.ReportImportRefusal(ctx, "nowhere", api.ImportRefusal{Code: transfer.RefusedCorrupt}); !errors.As(err, &ae) || ae.Status != 404 {
		t.Errorf("unknown site: %v, want 404", err)
	}
	if got := importEvents(t, n) - n0; got != 0 {
		t.Errorf("rejected reports wrote %d import events", got)
	}
	after := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, "lon"))
	// The reports count as refused attempts in site status; nothing else moves.
	if after.RefusalsSinceImport != 3 || after.LastRefusalAt == nil || !strings.HasPrefix(after.LastRefusalReason, string(transfer.RefusedMissingVolume)+": refused by the importing client") {
		t.Errorf("refusals in sync state: %d, last %v %q", after.RefusalsSinceImport, after.LastRefusalAt, after.LastRefusalReason)
	}
	after.RefusalsSinceImport, after.LastRefusalAt, after.LastRefusalReason = 0, nil, ""
	after.StalenessSeconds, before.StalenessSeconds = 0, 0
	if a, b := mustJSON(t, after), mustJSON(t, before); a != b {
		t.Fatalf("a reported refusal changed the sync state:\n%s\n%s", b, a)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func failedRule(d deploy.Decision, rule string) bool {
	for _, c := range d.Checks {
		if c.Rule == rule && !c.Pass {
			return true
		}
	}
	return false
}
