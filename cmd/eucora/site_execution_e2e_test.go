package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
)

// TestRolloutAirGappedSiteE2E is TestRolloutAirGappedSiteThroughEdge
// (hub/rollouts_site_test.go) with real processes: `eucora sim serve`
// simulating the site's SCCM with 200 devices at the site "hq" (the
// generated fleet's site, collection site-hq) that check in every 1-2 s,
// `eucora hub serve` with its orchestrator, and the CLI for the edge. The
// hub knows the site-local plane sccm-hq by name only; the edge holds its
// URL and credentials (EUCORA-architecture.md section 8.4). Every order and
// every result travels on media: hub export -> edge import -> edge execute
// -> edge execute (report) -> edge export -> hub import, round after round,
// until Ring 0 passed its gate on the site's SCCM numbers and Ring 1 is
// published at the site. The site's SCCM is then read through its
// AdminService as the connector reads it: one application and one install
// deployment for the release, unchanged by a duplicate bundle and another
// execute pass.
func TestRolloutAirGappedSiteE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: real processes, media round trips and device check-ins")
	}
	start := time.Now()
	tmp := t.TempDir()
	const site, planeName, app = "hq", "sccm-hq", "com.acme.ledger"
	siteScope := deploy.Scope{Acquisition: "acme", BU: "ops", Site: site}

	// 1. The site's SCCM, a separate process.
	sim := startProc(t, "sim", "serve", "--plane", "sccm", "--listen", freeAddr(t), "--fleet-size", "200", "--fleet-seed", "3",
		"--fleet-check-in", "1s-2s", "--output", "json")
	var started struct {
		URL         string `json:"url"`
		Credentials struct {
			ClientID                string            `json:"client_id"`
			ClientSecret            string            `json:"client_secret"`
			Scope                   string            `json:"scope"`
			TokenPath               string            `json:"token_path"`
			BasePath                string            `json:"base_path"`
			SiteID                  string            `json:"site_id"`
			DistributionPointGroups []string          `json:"distribution_point_groups"`
			FleetCollections        map[string]string `json:"fleet_collections"`
		} `json:"credentials"`
		Fleet struct {
			Devices  int    `json:"devices"`
			AdminURL string `json:"admin_url"`
		} `json:"fleet"`
	}
	waitFor(t, "the SCCM simulator", 30*time.Second, func() bool {
		return json.NewDecoder(strings.NewReader(sim.out.String())).Decode(&started) == nil && started.URL != ""
	})
	sc := started.Credentials
	var fl struct {
		Devices int            `json:"devices"`
		Groups  map[string]int `json:"groups"`
	}
	getJSON(t, started.Fleet.AdminURL, "", &fl)
	ring0 := fl.Groups["ring-0"]
	// The devices are the site's: the generated fleet puts all of them at
	// "hq", whose collection is site-hq.
	if started.Fleet.Devices != 200 || fl.Groups["site-"+site] != 200 || ring0 == 0 || sc.FleetCollections["ring-0"] == "" {
		t.Fatalf("simulator: %+v, fleet %+v", started, fl)
	}

	// 2. The hub and its people.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	hubURL, tokens := startHubWithPeople(t, ctx, tmp)
	as := hubArgsAs(hubURL, tokens)

	// 3. The edge, trusting the hub's key, and the site enrolling its key.
	edgeData := filepath.Join(tmp, "edge")
	mustRun(t, tmp, as("admin", "hub", "key", "--out", "hub.pub")...)
	mustRun(t, tmp, "edge", "init", "--data", edgeData, "--site", site, "--hub-key", "hub.pub")
	mustRun(t, tmp, as("admin", "site", "add", site, "--class", "air-gapped", "--scope", "acquisition=acme,bu=ops,site="+site,
		"--edge-key", filepath.Join(edgeData, "edge.pub"))...)

	// 4. The site-local plane: a name and ring collections at the hub, the
	// URL and credentials at the edge only.
	mustRun(t, tmp, as("admin", "plane", "add", planeName, "--kind", "sccm", "--site", site)...)
	for ring := 0; ring <= 4; ring++ {
		mustRun(t, tmp, as("admin", "plane", "ring", "set", planeName, fmt.Sprint(ring), "--group", sc.FleetCollections[fmt.Sprintf("ring-%d", ring)])...)
	}
	creds := filepath.Join(tmp, "sccm.json")
	os.WriteFile(creds, must(json.Marshal(map[string]any{"token_url": started.URL + sc.TokenPath, "client_id": sc.ClientID, "client_secret": sc.ClientSecret,
		"scope": sc.Scope, "site_id": sc.SiteID, "content_source": `\\hq-dp01\eucora\sccm`, "distribution_point_groups": sc.DistributionPointGroups})), 0o600)
	planeURL := started.URL + sc.BasePath
	if r := eucora(t, tmp, "edge", "plane", "add", planeName, "--data", edgeData, "--kind", "bigfix", "--url", planeURL, "--credentials", creds); r.code != exitUsage || !strings.Contains(r.stderr, `kind "bigfix": unknown plane kind`) {
		t.Fatalf("edge plane add --kind bigfix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The refused one registered nothing: the name is free without --replace.
	mustRun(t, tmp, "edge", "plane", "add", planeName, "--data", edgeData, "--kind", "sccm", "--url", planeURL, "--credentials", creds)

	// 5. A Windows MSI app, low risk (no CAB), published to Ring 0 at the site.
	pat, carol := client.New(hubURL, tokens["pat"]), client.New(hubURL, tokens["carol"])
	if _, err := pat.CreateApp(ctx, api.AppRequest{ID: app, Name: "Ledger", Owner: "fin-apps", Category: "finance",
		SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: deploy.Scope{Acquisition: "acme"}, LOB: true}); err != nil {
		t.Fatal(err)
	}
	const version = "1.0"
	first := stageMSI(t, ctx, pat, carol, app, version, siteScope)
	r1 := first + "-r1"

	status := func(arg string) []api.Rollout {
		t.Helper()
		var out struct {
			Rollouts []api.Rollout `json:"rollouts"`
		}
		decodeJSON(t, mustRun(t, tmp, as("eve", "rollout", "status", arg, "--output", "json")...).stdout, &out)
		return out.Rollouts
	}
	byIntent := func(rs []api.Rollout, id string) (api.Rollout, bool) {
		for _, r := range rs {
			if r.IntentID == id {
				return r, true
			}
		}
		return api.Rollout{}, false
	}
	// signature is what a media round can change at the hub.
	signature := func(rs []api.Rollout) string {
		var b strings.Builder
		for _, r := range rs {
			fmt.Fprintf(&b, "%s %s %v;", r.IntentID, r.State, r.PublishedAt != nil)
			if r.Telemetry != nil {
				fmt.Fprintf(&b, "%+v;", r.Telemetry.Measure)
			}
			if r.Gate != nil {
				fmt.Fprintf(&b, "%s;", r.Gate.Verdict)
			}
		}
		return b.String()
	}
	waitFor(t, "Ring 0's rollout at the hub", time.Minute, func() bool {
		r, ok := byIntent(status(app), first)
		return ok && r.Plane == planeName
	})

	// 6. Media both ways until Ring 0 passed at the site and Ring 1 is
	// published there.
	execute := func() edgeExecution {
		t.Helper()
		var res edgeExecution
		decodeJSON(t, mustRun(t, tmp, "edge", "execute", "--data", edgeData, "--output", "json").stdout, &res)
		for _, x := range res.Orders {
			if x.Outcome == "failed" || x.Outcome == "refused" {
				t.Fatalf("edge execute: order %+v", x)
			}
		}
		return res
	}
	done := func(rs []api.Rollout) bool {
		r0, _ := byIntent(rs, first)
		next, ok := byIntent(rs, r1)
		// The hub marks a site plane's ring published (and observing, with
		// empty telemetry) when it issues the order; Ring 1 is published
		// at the site once the edge reported the site's SCCM numbers of
		// its release.
		return r0.Telemetry != nil && r0.Telemetry.Measure.Targeted > 0 && r0.Telemetry.Measure.Installed == r0.Telemetry.Measure.Targeted &&
			r0.State == "promoted" && ok && next.Telemetry != nil && next.Telemetry.Measure.Targeted > 0
	}
	const maxRounds = 30
	rounds, executed, lastBundle := 0, map[string]int{}, ""
	rs := status(app)
	for !done(rs) {
		if rounds == maxRounds {
			t.Fatalf("after %d media round trips the rollout is not past Ring 0 at the site:\n%s", rounds,
				mustRun(t, tmp, as("eve", "rollout", "status", app)...).stdout)
		}
		rounds++
		usb, back := filepath.Join(tmp, "usb", fmt.Sprint(rounds)), filepath.Join(tmp, "back", fmt.Sprint(rounds))
		// Hub -> media -> edge.
		mustRun(t, tmp, as("admin", "hub", "export", "--site", site, "--out", usb)...)
		var imp struct {
			Outcome  string   `json:"outcome"`
			Sequence uint64   `json:"sequence"`
			Warnings []string `json:"warnings"`
		}
		decodeJSON(t, mustRun(t, tmp, "edge", "import", "--data", edgeData, "--output", "json", usb).stdout, &imp)
		if imp.Outcome != "applied" || len(imp.Warnings) > 0 {
			t.Fatalf("round %d: edge import: %+v", rounds, imp)
		}
		lastBundle = usb
		// The site executes the orders, the fleet checks in, the site
		// reads the results.
		for _, x := range execute().Orders {
			if x.Outcome == "executed" {
				executed[x.Action]++
			}
		}
		settled := func(res edgeExecution) bool {
			for _, x := range res.Orders {
				if x.Summary == nil || x.Summary.Pending > 0 || x.Summary.Unknown > 0 {
					return false
				}
			}
			return true
		}
		for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if settled(execute()) {
				break
			}
		}
		execute()
		// Edge -> media -> hub.
		mustRun(t, tmp, "edge", "export", "--data", edgeData, "--out", back)
		var hi struct {
			Warnings []string `json:"warnings"`
		}
		decodeJSON(t, mustRun(t, tmp, as("admin", "hub", "import", back, "--output", "json")...).stdout, &hi)
		if len(hi.Warnings) > 0 {
			t.Fatalf("round %d: hub import warnings: %v", rounds, hi.Warnings)
		}
		// Let the orchestrator act on what came back before the next
		// export (it passes every 200ms).
		before := signature(rs)
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if rs = status(app); signature(rs) != before {
				break
			}
		}
		rs = status(app)
	}

	// 7. Ring 0 passed its gate on the site's SCCM numbers.
	r0, _ := byIntent(rs, first)
	m := r0.Telemetry.Measure
	if r0.Plane != planeName || r0.PlaneKind != "sccm" || r0.SiteClass != deploy.SiteClass("air-gapped") {
		t.Errorf("Ring 0 on plane %q (%s), site class %q", r0.Plane, r0.PlaneKind, r0.SiteClass)
	}
	if m.Targeted != ring0 || m.Installed != ring0 || m.Failed != 0 {
		t.Errorf("Ring 0 at the site: %+v, want all %d devices of ring-0 installed", m, ring0)
	}
	if r0.Gate == nil || r0.Gate.Verdict != "pass" || r0.Gate.Decision == "" {
		t.Errorf("Ring 0 gate: %+v", r0.Gate)
	}
	if r0.Validation != "validated" {
		t.Errorf("Ring 0's rollback validation (uninstall, redeploy) at the site: %q", r0.Validation)
	}
	next, _ := byIntent(rs, r1)
	if next.Plane != planeName || next.Ring != deploy.Ring1Canary || next.Telemetry.Measure.Targeted != fl.Groups["ring-1"] {
		t.Errorf("Ring 1 at the site: %s on %q, telemetry %+v, want its %d ring-1 devices targeted", next.State, next.Plane, next.Telemetry, fl.Groups["ring-1"])
	}
	// Each order executed once at the site, though every bundle re-sends
	// the orders held.
	if want := map[string]int{"publish": 2, "uninstall": 1, "redeploy": 1}; fmt.Sprint(executed) != fmt.Sprint(want) {
		t.Errorf("orders executed at the site: %v, want %v (Ring 0 publish, uninstall, redeploy; Ring 1 publish)", executed, want)
	}
	text := mustRun(t, tmp, as("eve", "rollout", "status", app)...).stdout
	for _, want := range []string{planeName, "promoted"} {
		if !strings.Contains(text, want) {
			t.Errorf("rollout status does not show %q:\n%s", want, text)
		}
	}

	// The site's SCCM, read through its AdminService: the release is one
	// application, with one install deployment in each ring published.
	sccm := func() (apps int, deployments map[string]int) {
		t.Helper()
		tok := sccmToken(t, started.URL+sc.TokenPath, sc.ClientID, sc.ClientSecret, sc.Scope)
		var list struct {
			Next  string `json:"@odata.nextLink"`
			Value []struct {
				ModelName   string `json:"ModelName"`
				IsLatest    bool   `json:"IsLatest"`
				Description string `json:"LocalizedDescription"`
			} `json:"value"`
		}
		getJSON(t, planeURL+"/wmi/SMS_Application", tok, &list)
		models := map[string]bool{}
		for _, a := range list.Value {
			if a.IsLatest && strings.Contains(a.Description, "release="+app+"@"+version+"/") {
				models[a.ModelName] = true
			}
		}
		var ds struct {
			Next  string `json:"@odata.nextLink"`
			Value []struct {
				Description string `json:"AssignmentDescription"`
				Desired     int    `json:"DesiredConfigType"`
			} `json:"value"`
		}
		getJSON(t, planeURL+"/wmi/SMS_ApplicationAssignment", tok, &ds)
		if list.Next != "" || ds.Next != "" {
			t.Fatalf("the site's SCCM answered in pages (%q, %q): this test reads one", list.Next, ds.Next)
		}
		deployments = map[string]int{}
		for _, d := range ds.Value {
			if _, rel, ok := strings.Cut(d.Description, "release="+app+"@"+version+"/"); ok && d.Desired == 1 {
				ring, _, _ := strings.Cut(rel, "/")
				deployments[ring]++
			}
		}
		return len(models), deployments
	}
	apps, deps := sccm()
	if want := map[string]int{"ring-0": 1, "ring-1": 1}; apps != 1 || fmt.Sprint(deps) != fmt.Sprint(want) {
		t.Errorf("the site's SCCM holds %d application(s) and install deployments %v of %s %s, want 1 and %v", apps, deps, app, version, want)
	}

	// 8. Refusals and no-ops. The same bundle again is a duplicate; the
	// first, older one is refused as stale (exit 22); neither changes the
	// orders, and another execute pass creates nothing on the plane.
	var dup struct {
		Outcome string `json:"outcome"`
	}
	decodeJSON(t, mustRun(t, tmp, "edge", "import", "--data", edgeData, "--output", "json", lastBundle).stdout, &dup)
	if dup.Outcome != "duplicate" {
		t.Errorf("the last bundle again: outcome %q, want duplicate", dup.Outcome)
	}
	if rounds > 1 {
		old := filepath.Join(tmp, "usb", "1")
		r := eucora(t, tmp, "edge", "import", "--data", edgeData, old)
		if r.code != exitStale || !strings.Contains(r.stderr, "older than the last applied sequence") {
			t.Errorf("an older bundle: exit %d, want %d (stale)\n%s%s", r.code, exitStale, r.stdout, r.stderr)
		}
	}
	for _, x := range execute().Orders {
		if x.Outcome != "reported" {
			t.Errorf("execute after the duplicate and the stale bundle: %+v", x)
		}
	}
	if a2, d2 := sccm(); a2 != apps || fmt.Sprint(d2) != fmt.Sprint(deps) {
		t.Errorf("re-sent orders changed the site's SCCM: %d application(s), deployments %v, before %d, %v", a2, d2, apps, deps)
	}
	t.Logf("Ring 0 -> Ring 1 at an air-gapped site through SCCM in %d media round trips, orders executed %v, %d of %d ring-0 devices installed, %s wall time",
		rounds, executed, m.Installed, ring0, time.Since(start).Round(time.Millisecond))
}

// edgeExecution is `edge execute --output json`.
type edgeExecution struct {
	Orders []struct {
		IntentID string `json:"intent_id"`
		Plane    string `json:"plane"`
		Seq      uint64 `json:"seq"`
		Action   string `json:"action"`
		Outcome  string `json:"outcome"`
		Detail   string `json:"detail"`
		Summary  *struct {
			Installed int `json:"installed"`
			Failed    int `json:"failed"`
			Pending   int `json:"pending"`
			Unknown   int `json:"unknown"`
		} `json:"summary"`
	} `json:"orders"`
}

// stageMSI stages a version of app with a Windows MSI,
// packaged, staged, approved, assessed low risk and published to Ring 0
// in scope; it returns the intent id.
func stageMSI(t *testing.T, ctx context.Context, pat, carol *client.Client, app, version string, scope deploy.Scope) string {
	t.Helper()
	if _, err := pat.CreateVersion(ctx, app, api.VersionRequest{Version: version, OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}); err != nil {
		t.Fatal(err)
	}
	body := []byte("MSI of ledger " + version + strings.Repeat(".", 2000))
	d := digest.FromBytes(body)
	if err := pat.PutBlob(ctx, d.Hex(), bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	name := "ledger-" + version + ".msi"
	if _, err := pat.CreateArtifact(ctx, app, version, api.ArtifactRequest{Platform: deploy.PlatformMSI, Name: name, SHA256: d,
		Size: int64(len(body)), Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass}); err != nil {
		t.Fatal(err)
	}
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		if _, err := pat.Transition(ctx, app, version, to); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := carol.Transition(ctx, app, version, deploy.StateApproved); err != nil {
		t.Fatal(err)
	}
	f := map[string]float64{}
	for _, s := range deploy.ModelV1.Factors {
		f[string(s.Name)] = 0.3
	}
	in := must(json.Marshal(map[string]any{"model": "v1.0", "factors": f, "privileged_tooling": false, "target_ring": 0}))
	asID, intent := "as-"+version, "ledger-"+strings.ReplaceAll(version, ".", "-")
	a, err := pat.CreateAssessment(ctx, api.AssessmentRequest{ID: asID, AppID: app, Version: version, Input: in})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := pat.CreateIntent(ctx, api.IntentRequest{ID: intent, AppID: app, Version: version, Artifact: d, Ring: 0, Scope: &scope,
		Schedule: deploy.Schedule{NotBefore: now.Add(-time.Hour)}, AssessmentID: asID}); err != nil {
		t.Fatal(err)
	}
	doc := func(c byte) *deploy.DocRef {
		return &deploy.DocRef{Digest: digest.Digest("sha256:" + strings.Repeat(string(c), 64)), MediaType: "text/markdown"}
	}
	pack := deploy.EvidencePack{Schema: deploy.EvidenceSchema, IntentID: intent, AppID: app, Version: version, CreatedAt: now,
		Artifacts: []deploy.ArtifactEvidence{{Name: name, Platform: deploy.PlatformMSI, SHA256: d, Size: int64(len(body)), Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}},
		SBOM:      doc('c'), ScanReport: doc('d'), PolicyDecision: deploy.ScanPass, InstallDoc: doc('1'), UninstallDoc: doc('2'), DetectionDoc: doc('3'),
		TestEvidence: deploy.TestEvidence{Lab: &deploy.TestResult{Passed: true, Report: *doc('5')}}, Exceptions: []deploy.Exception{},
		ScopeDiff: &deploy.ScopeDiff{Previous: scope, Requested: scope, Change: "unchanged", Summary: "unchanged"}, Risk: &a.Assessment}
	ev, err := pat.StoreEvidence(ctx, must(json.Marshal(pack)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pat.Publish(ctx, intent, api.PublishRequest{Evidence: ev.Record.Digest}); err != nil {
		t.Fatal(err)
	}
	return intent
}

// sccmToken is the client-credentials token the SCCM connector gets from
// the CMG's Entra app.
func sccmToken(t *testing.T, tokenURL, id, secret, scope string) string {
	t.Helper()
	resp, err := http.PostForm(tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {scope}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("SCCM token: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// getJSON decodes GET u (with a bearer token if one is given) into v.
func getJSON(t *testing.T, u, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
