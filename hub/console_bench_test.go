package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/ui"
	"github.com/eucora/eucora/internal/digest"
)

// benchIntents publishes count applications to Ring 0 in scope acme
// through the API (version, artifact blob, lifecycle, risk assessment,
// intent, evidence pack, publish gate), so every site's delta plan has
// records and objects to weigh.
func benchIntents(b *testing.B, n *testNode, admin string, count int) {
	ctx := context.Background()
	acme := deploy.Scope{Acquisition: "acme"}
	pat := cli(n, newToken(b, n, admin, "bench-pat", deploy.RolePackagingEngineer, acme))
	carol := cli(n, newToken(b, n, admin, "bench-carol", deploy.RoleCABApprover, deploy.Scope{}))
	check := func(what string, err error) {
		if err != nil {
			b.Fatalf("%s: %v", what, err)
		}
	}
	f := map[string]float64{}
	for _, s := range deploy.ModelV1.Factors {
		f[string(s.Name)] = 0.3
	}
	risk, _ := json.Marshal(map[string]any{"model": "v1.0", "factors": f, "privileged_tooling": false, "target_ring": deploy.Ring0Lab})
	now := time.Now().UTC().Truncate(time.Second)
	for i := range count {
		app, ver := fmt.Sprintf("com.acme.bench%02d", i), "1.0"
		_, err := pat.CreateApp(ctx, api.AppRequest{ID: app, Name: "Bench " + app, Owner: "ops", Category: "tools", SupportTier: "tier-2", LicensingModel: "free", AllowedScope: acme})
		check("app", err)
		_, err = pat.CreateVersion(ctx, app, api.VersionRequest{Version: ver, OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}})
		check("version", err)
		body := []byte(fmt.Sprintf("MSI of %s %01000d", app, i))
		d := digest.FromBytes(body)
		check("blob", pat.PutBlob(ctx, d.Hex(), bytes.NewReader(body), int64(len(body))))
		_, err = pat.CreateArtifact(ctx, app, ver, api.ArtifactRequest{Platform: deploy.PlatformMSI, Name: "bench.msi", SHA256: d, Size: int64(len(body)),
			Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass})
		check("artifact", err)
		for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
			_, err = pat.Transition(ctx, app, ver, to)
			check("transition", err)
		}
		_, err = carol.Transition(ctx, app, ver, deploy.StateApproved)
		check("approve", err)
		as, err := pat.CreateAssessment(ctx, api.AssessmentRequest{ID: fmt.Sprintf("as-bench-%d", i), AppID: app, Version: ver, Input: risk})
		check("assess", err)
		id := fmt.Sprintf("bench-%02d", i)
		_, err = pat.CreateIntent(ctx, api.IntentRequest{ID: id, AppID: app, Version: ver, Artifact: d, Ring: deploy.Ring0Lab, Scope: &acme,
			Schedule: deploy.Schedule{NotBefore: now.Add(-time.Hour)}, AssessmentID: as.ID})
		check("intent", err)
		doc := func(c byte) *deploy.DocRef { return &deploy.DocRef{Digest: hexDigest(c), MediaType: "text/markdown"} }
		pack := deploy.EvidencePack{Schema: deploy.EvidenceSchema, IntentID: id, AppID: app, Version: ver, CreatedAt: now,
			Artifacts: []deploy.ArtifactEvidence{{Name: "bench.msi", Platform: deploy.PlatformMSI, SHA256: d, Size: int64(len(body)), Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}},
			SBOM:      doc('c'), ScanReport: doc('d'), PolicyDecision: deploy.ScanPass, InstallDoc: doc('1'), UninstallDoc: doc('2'), DetectionDoc: doc('3'),
			TestEvidence: deploy.TestEvidence{Lab: &deploy.TestResult{Passed: true, Report: *doc('5')}}, Exceptions: []deploy.Exception{},
			ScopeDiff: &deploy.ScopeDiff{Previous: acme, Requested: acme, Change: "unchanged", Summary: "unchanged"}, Risk: &as.Assessment}
		pb, _ := json.Marshal(pack)
		ev, err := pat.StoreEvidence(ctx, pb)
		check("evidence", err)
		_, err = pat.Publish(ctx, id, api.PublishRequest{Evidence: ev.Record.Digest})
		check("publish", err)
	}
}

// BenchmarkConsoleSites500 renders the Sites view of a hub with 500 sites
// (made through the API, so by the real store commands: a third each
// online, intermittent and air-gapped) and 25 applications published to
// every site's scope, and reports the server time of one page: the request
// through the node's own handler (session, RBAC, linearizable read, every
// site's sync status, sort, plot, template), no network. Target: under
// 200 ms (docs/console.md). Run: make bench-console.
func BenchmarkConsoleSites500(b *testing.B) {
	nodes, admin := makeCluster(b, 1, clusterOpts{})
	n := nodes[0]
	ctx := context.Background()
	classes := []string{api.ClassOnline, api.ClassIntermittent, api.ClassAirGapped}
	for i := range 500 {
		s := api.SiteRequest{Name: fmt.Sprintf("site-%03d", i), Class: classes[i%3], Scope: deploy.Scope{Acquisition: "acme", BU: fmt.Sprintf("bu%d", i%10), Site: fmt.Sprintf("site-%03d", i)}}
		if _, err := cli(n, admin).CreateSite(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	benchIntents(b, n, admin, 25)
	// Log in once through the form.
	c := newConsoleClient(b, n.url())
	c.login(admin)
	u, _ := url.Parse(n.url() + "/ui/sites")
	var cookie *http.Cookie
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == ui.SessionCookie {
			cookie = ck
		}
	}
	if cookie == nil {
		b.Fatal("no session cookie after login")
	}
	for _, path := range []string{"/ui/sites", "/ui/sites?sort=staleness&dir=desc"} {
		b.Run(strings.TrimPrefix(path, "/ui/"), func(b *testing.B) {
			var size int
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				n.srv.mux.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "500 of 500 sites") {
					b.Fatalf("GET %s: %d", path, rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
