package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/clip"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/transfer"
)

// Hostile strings stored where people type free text: an application's
// name, an evidence pack's scope-diff summary, a pause reason, a refused
// bundle's reason (audit events). Site, app and plane names themselves
// are refused unless they match the API's name rules.
const (
	xssScript = `<script>window.__pwned=1;document.title='pwned'</script>`
	xssAttr   = `"><img src=x onerror="window.__pwned=2;document.title='pwned'">`
	xssSVG    = `'><svg onload="window.__pwned=3">`
	rtl       = "\u202Eexe.tnemucod"
)

var xssLong = strings.Repeat("W", 3000)

// browser starts headless Debian chromium for t (skipped without it,
// failed under CI=true).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			testtool.Missing(t, "chromium not installed (apt-get install chromium)")
		}
		path = p
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.DisableGPU, chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(alloc)
	// The first call starts the browser and must not carry a timeout.
	if err := chromedp.Do(bctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(func() { cancel(); cancelCtx(); cancelAlloc() })
	return ctx
}

// artifacts is where screenshots go: EUCORA_TEST_ARTIFACTS or a temp dir.
func artifacts(t *testing.T) string {
	if d := os.Getenv("EUCORA_TEST_ARTIFACTS"); d != "" {
		d = filepath.Join(d, "console")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// pageState is what a page looks like to the checks of the XSS cases.
type pageState struct {
	URL      string `json:"url"`
	Title    string `json:"title"`
	Pwned    any    `json:"pwned"`
	Scripts  int    `json:"scripts"`
	Imgs     int    `json:"imgs"`
	Handlers int    `json:"handlers"`
	// Unisolated counts text nodes holding a right-to-left override that
	// no <bdi> isolates: its reversal would run into the console's own
	// text around it.
	Unisolated int    `json:"unisolated"`
	Text       string `json:"text"`
}

const pageStateJS = `JSON.stringify({url: location.href, title: document.title, pwned: window.__pwned === undefined ? null : window.__pwned,
 scripts: document.scripts.length, imgs: document.images.length,
 handlers: document.querySelectorAll('[onload],[onerror],[onclick]').length, text: document.body.innerText,
 unisolated: (() => { const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); let bad = 0, n;
   while ((n = w.nextNode())) { if (n.nodeValue.includes('\u202e') && !n.parentElement.closest('bdi')) bad++; } return bad; })()})`

type consoleBrowser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

func (b *consoleBrowser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// navigate runs steps that load a page (a submit, a click, Enter on a
// link) and waits for it; it returns the page's HTTP status.
func (b *consoleBrowser) navigate(what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, steps...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// eval evaluates a JavaScript expression through DevTools (not subject
// to the page's CSP: the page itself runs no script).
func eval[T any](b *consoleBrowser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", clipForLog(expr), err)
	}
	return v
}

func (b *consoleBrowser) state() pageState {
	b.t.Helper()
	raw := eval[string](b, pageStateJS)
	var ps pageState
	if err := json.Unmarshal([]byte(raw), &ps); err != nil {
		b.t.Fatal(err)
	}
	return ps
}

// visit opens path, saves a screenshot and checks that no script ran and
// no hostile element was made.
func (b *consoleBrowser) visit(path, shot string) pageState {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
	return b.checked(shot)
}

func (b *consoleBrowser) checked(shot string) pageState {
	b.t.Helper()
	ps := b.state()
	if ps.Pwned != nil || ps.Title == "pwned" || ps.Scripts != 0 || ps.Imgs != 0 || ps.Handlers != 0 || ps.Unisolated != 0 {
		b.t.Errorf("%s: hostile content became markup: %+v", ps.URL, ps)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, shot+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return ps
}

// loginAs logs in through the form, typing the token.
func (b *consoleBrowser) loginAs(token string) pageState {
	b.t.Helper()
	b.run("login form", chromedp.Navigate(b.base+"/ui/login"), chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), token))
	b.navigate("login", chromedp.Submit(chromedp.ID("token")))
	return b.state()
}

func (b *consoleBrowser) logout() {
	b.t.Helper()
	b.navigate("logout", chromedp.Click(chromedp.CSS("form.logout button")))
}

func mustContain(t *testing.T, ps pageState, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(ps.Text, w) {
			t.Errorf("%s does not show %q; it shows:\n%s", ps.URL, clipForLog(w), clip.String(ps.Text, 1500))
		}
	}
}

func clipForLog(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// pendingCAB makes a version of app that waits for the CAB: packaged,
// staged and approved, assessed with privileged tooling (a CAB approval
// is always required), an intent for Ring 0 and an evidence pack whose
// scope-diff summary is hostile.
func (w *rolloutWorld) pendingCAB(app, version, summary string) string {
	t, ctx := w.t, w.ctx
	pat, carol := w.as("pat", deploy.RolePackagingEngineer), w.as("carol", deploy.RoleCABApprover)
	must[api.Version](t, "version")(pat.CreateVersion(ctx, app, api.VersionRequest{Version: version, OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}))
	body := []byte("MSI of " + app + " " + version)
	d := digest.FromBytes(body)
	if err := pat.PutBlob(ctx, d.Hex(), bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	must[api.Artifact](t, "artifact")(pat.CreateArtifact(ctx, app, version, api.ArtifactRequest{Platform: deploy.PlatformMSI, Name: "tool.msi",
		SHA256: d, Size: int64(len(body)), Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass}))
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		must[api.Version](t, "transition")(pat.Transition(ctx, app, version, to))
	}
	must[api.Version](t, "approve")(carol.Transition(ctx, app, version, deploy.StateApproved))
	f := map[string]float64{}
	for _, s := range deploy.ModelV1.Factors {
		f[string(s.Name)] = 0.2
	}
	in, _ := json.Marshal(map[string]any{"model": "v1.0", "factors": f, "privileged_tooling": true, "target_ring": deploy.Ring0Lab})
	as := must[api.Assessment](t, "assess")(pat.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-cab-" + version, AppID: app, Version: version, Input: in}))
	if !as.Assessment.CABRequired {
		t.Fatalf("assessment does not require the CAB: %+v", as.Assessment)
	}
	id := "cab-" + strings.ReplaceAll(version, ".", "-")
	scope := deploy.Scope{Acquisition: "acme"}
	now := time.Now().UTC().Truncate(time.Second)
	must[api.Intent](t, "intent")(pat.CreateIntent(ctx, api.IntentRequest{ID: id, AppID: app, Version: version, Artifact: d,
		Ring: deploy.Ring0Lab, Scope: &scope, Schedule: deploy.Schedule{NotBefore: now.Add(-time.Hour)}, AssessmentID: as.ID}))
	var pack deploy.EvidencePack
	if err := json.Unmarshal(evidencePack(t, id, version, as.Assessment, now), &pack); err != nil {
		t.Fatal(err)
	}
	pack.AppID = app
	pack.Artifacts = []deploy.ArtifactEvidence{{Name: "tool.msi", Platform: deploy.PlatformMSI, SHA256: d, Size: int64(len(body)),
		Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}}
	pack.ScopeDiff.Summary = summary
	pb, _ := json.Marshal(pack)
	must[api.EvidenceView](t, "evidence")(pat.StoreEvidence(ctx, pb))
	return id
}

// TestConsoleInChromium drives the console in headless chromium over a
// real single-node hub with an Intune rollout mid-way, a submission
// waiting for the CAB and hostile strings in every free-text field: each
// view's content, keyboard-only navigation and a keyboard-only pause, an
// auditor without write controls, a CAB approval by click, forged posts
// (another origin; the CSRF field removed) refused, a wrong role's 403,
// login and logout. Screenshots go to EUCORA_TEST_ARTIFACTS.
func TestConsoleInChromium(t *testing.T) {
	ctx := browser(t)
	w := newRolloutWorld(t)
	n := w.n
	admin := readToken(t, n)
	acme := deploy.Scope{Acquisition: "acme"}
	tokens := map[string]string{}
	for _, u := range []struct {
		name  string
		role  deploy.Role
		scope deploy.Scope
	}{{"eve", deploy.RoleEndpointOps, deploy.Scope{}}, {"carol", deploy.RoleCABApprover, deploy.Scope{}}, {"audra", deploy.RoleAuditor, deploy.Scope{}}, {"pat", deploy.RolePackagingEngineer, acme}} {
		tokens[u.name] = newToken(t, n, admin, u.name+"-ui", u.role, u.scope)
	}
	// Sites, one with a refused bundle whose reason is hostile.
	for _, s := range []api.SiteRequest{{Name: "lon", Class: api.ClassOnline, Scope: deploy.Scope{Acquisition: "acme", BU: "fin", Site: "lon"}},
		{Name: "ship", Class: api.ClassAirGapped, Scope: deploy.Scope{Acquisition: "acme", BU: "fin", Site: "ship"}}} {
		must[api.Site](t, "site")(w.admin.CreateSite(w.ctx, s))
	}
	if _, err := w.admin.CreateSite(w.ctx, api.SiteRequest{Name: xssScript, Class: api.ClassOnline}); err == nil {
		t.Fatal("a site named <script> was accepted")
	}
	refusal := xssScript + xssAttr + rtl + xssLong
	if err := w.as("eve", deploy.RoleEndpointOps).ReportImportRefusal(w.ctx, "lon", api.ImportRefusal{Code: transfer.RefusedBadSignature, Reason: refusal, Sequence: 3}); err != nil {
		t.Fatal(err)
	}
	// A rollout mid-way: Ring 0 judged on the plane, Ring 1 made.
	first := w.stage("1.0")
	ring1 := nextIDForTest(first, deploy.Ring1Canary)
	w.passUntil("ring 1 made", 200, func() bool { return w.rollout(ring1).IntentID != "" })
	// A hostile application waiting for the CAB.
	appName := xssScript + " " + xssAttr + " " + rtl
	must[api.App](t, "app")(w.as("pat", deploy.RolePackagingEngineer).CreateApp(w.ctx, api.AppRequest{ID: "com.acme.tool", Name: appName, Owner: "ops",
		Category: "tools", SupportTier: "tier-2", LicensingModel: "free", AllowedScope: acme}))
	cabIntent := w.pendingCAB("com.acme.tool", "2.0", xssSVG+xssAttr+xssLong)

	b := &consoleBrowser{t: t, ctx: ctx, base: n.url(), dir: artifacts(t)}
	// Unauthenticated: to the login.
	ps := b.visit("/ui/rollouts", "00-unauthenticated")
	if !strings.HasSuffix(ps.URL, "/ui/login") {
		t.Fatalf("unauthenticated /ui/rollouts ended at %s", ps.URL)
	}
	b.run("wrong token", chromedp.SendKeys(chromedp.ID("token"), "euc_not-a-token"))
	if st := b.navigate("wrong token", chromedp.Submit(chromedp.ID("token"))); st != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", st)
	}
	mustContain(t, b.checked("01-login-refused"), "login refused: unknown token")

	// Endpoint ops: every view but the CAB decision.
	ps = b.loginAs(tokens["eve"])
	if !strings.HasSuffix(ps.URL, "/ui/sites") {
		t.Fatalf("login landed on %s", ps.URL)
	}
	mustContain(t, b.checked("02-sites"), "lon", "ship", "2 of 2 sites", "1 refused", "air-gapped")
	mustContain(t, b.visit("/ui/sites?class=air-gapped", "03-sites-filtered"), "1 of 2 sites", "ship")
	if strings.Contains(b.state().Text, "\nlon\t") {
		t.Error("the class filter kept lon")
	}
	mustContain(t, b.visit("/ui/sites/lon", "04-site"), "Refusals", "bad_signature", xssScript, xssAttr, rtl, "Staleness of lon over time")
	mustContain(t, b.visit("/ui/rollouts", "05-rollouts"), rolloutApp+" 1.0", first, ring1, "5 / 5", "Install success rate per ring")
	mustContain(t, b.visit("/ui/cab", "06-cab-ops"), "Publish com.acme.tool 2.0", appName, xssSVG, "Scope diff and blast radius", "Your role may not decide them")
	mustContain(t, b.visit("/ui/drift", "07-drift"), "By site")
	mustContain(t, b.visit("/ui/audit", "08-audit"), "Every chain verifies", "sites.import", xssScript, rtl)

	// Keyboard only: Tab reaches every link, field and button of the page
	// in document order, and Enter on a link follows it.
	b.visit("/ui/rollouts", "09-keyboard")
	desc := `(e=>e.tagName.toLowerCase()+"|"+(e.getAttribute("href")||e.getAttribute("formaction")||e.id||e.name||e.textContent.trim().slice(0,30)))`
	want := eval[[]string](b, `Array.from(document.querySelectorAll('a[href],button,input:not([type=hidden]),select,textarea,summary')).map(`+desc+`)`)
	if len(want) < 8 {
		t.Fatalf("only %d focusable elements on the Rollouts view: %v", len(want), want)
	}
	var got []string
	for range want {
		b.run("tab", chromedp.KeyEvent(kb.Tab))
		d := eval[string](b, desc+`(document.activeElement)`)
		got = append(got, d)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Tab order:\n%s\nwant the document order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A keyboard-only pause: Tab to the Reason field of Ring 1, type the
	// (hostile) reason, Tab to Pause, Enter.
	reason := xssAttr + xssScript // typed key by key (U+202E has no key; it is in the other fields)
	b.run("focus reason", chromedp.Navigate(b.base+"/ui/rollouts"), chromedp.WaitReady(chromedp.CSS("body")))
	target := "input|reason-pause-" + ring1
	for i := 0; ; i++ {
		b.run("tab", chromedp.KeyEvent(kb.Tab))
		d := eval[string](b, desc+`(document.activeElement)`)
		if d == target {
			break
		}
		if i > len(want)+5 {
			t.Fatalf("Tab never reached %s", target)
		}
	}
	b.run("type reason", chromedp.KeyEvent(reason), chromedp.KeyEvent(kb.Tab))
	b.navigate("pause by Enter", chromedp.KeyEvent(kb.Enter))
	mustContain(t, b.checked("10-paused"), "pause of "+ring1+" recorded", "paused by token:eve", reason, "Resume")
	if ro := w.rollout(ring1); ro.State != store.RolloutPaused || ro.PauseReason != reason {
		t.Errorf("after the keyboard pause: state %s reason %q", ro.State, ro.PauseReason)
	}
	// Enter on a navigation link follows it.
	b.run("focus a link", chromedp.Focus(chromedp.CSS(`nav a[href="/ui/audit"]`)))
	b.navigate("Enter on a link", chromedp.KeyEvent(kb.Enter))
	if ps := b.state(); !strings.HasSuffix(ps.URL, "/ui/audit") {
		t.Errorf("Enter on the Audit link ended at %s", ps.URL)
	}

	// Forged posts. From another origin (a page on another port that posts
	// to the console's pause with a made-up token): refused by the
	// Origin/Sec-Fetch-Site check, audited.
	mark := lastCursor(t, n)
	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, `<!doctype html><form method="post" action="%s/ui/rollouts/%s/resume"><input type="hidden" name="csrf" value="guess"><button id="go">win a prize</button></form>`, n.url(), ring1)
	}))
	defer evil.Close()
	b.run("evil page", chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.ID("go")))
	if st := b.navigate("cross-site post", chromedp.Click(chromedp.ID("go"))); st != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", st)
	}
	mustContain(t, b.checked("11-forged-cross-site"), "cross-site form post refused")
	// From the console itself with the CSRF field removed (DevTools edits
	// the page; the page itself runs no script).
	b.run("strip csrf", chromedp.Navigate(b.base+"/ui/rollouts"), chromedp.WaitReady(chromedp.CSS("body")),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[int](`document.querySelectorAll('form.control input[name=csrf]').forEach(e => e.remove()), 0`)(ctx, t)
			return err
		}),
	)
	if st := b.navigate("post without csrf", chromedp.Click(chromedp.CSS(`form[action="/ui/rollouts/`+ring1+`/resume"] button`))); st != http.StatusForbidden {
		t.Errorf("post without its CSRF token: %d, want 403", st)
	}
	mustContain(t, b.checked("12-forged-no-csrf"), "form without this session's CSRF token")
	if ro := w.rollout(ring1); ro.State != store.RolloutPaused {
		t.Errorf("a forged resume changed the rollout: %s", ro.State)
	}
	findEvent(t, n, mark, "denied events of the forged posts", func(e store.Event) bool {
		return e.Action == "ui.rollout.control" && e.Outcome == "denied" && strings.Contains(e.Reason, "CSRF token")
	})
	findEvent(t, n, mark, "denied event of the cross-site post", func(e store.Event) bool {
		return e.Action == "ui.rollout.control" && e.Outcome == "denied" && strings.Contains(e.Reason, "cross-site")
	})
	b.logout()

	// The auditor: reads everything it may, sees no write control.
	b.loginAs(tokens["audra"])
	for i, p := range []string{"/ui/sites", "/ui/sites/lon", "/ui/rollouts", "/ui/cab", "/ui/drift", "/ui/audit"} {
		b.visit(p, fmt.Sprintf("13-auditor-%d", i))
		writes := eval[int](b, `document.querySelectorAll('main form[method=post], main textarea, main form.control button, main button[name=decision]').length`)
		if writes != 0 {
			t.Errorf("auditor sees %d write controls on %s", writes, p)
		}
	}
	b.logout()

	// A wrong role: the packaging engineer may not read the Audit view.
	b.loginAs(tokens["pat"])
	mark = lastCursor(t, n)
	mustContain(t, b.visit("/ui/audit", "14-wrong-role"), "403: Forbidden", "role packaging-engineer may not call GET /v1/events")
	findEvent(t, n, mark, "denied event of the wrong role", func(e store.Event) bool {
		return e.Action == "ui.audit" && e.Outcome == "denied" && e.Role == string(deploy.RolePackagingEngineer)
	})
	b.logout()

	// The CAB approver approves the hostile submission by clicking.
	b.loginAs(tokens["carol"])
	ps = b.visit("/ui/cab", "15-cab")
	mustContain(t, ps, "Publish com.acme.tool 2.0", appName, "Approve", "Deny")
	b.navigate("approve", chromedp.Click(chromedp.CSS(`form.cab-decide button[value=approved]`)))
	mustContain(t, b.checked("16-cab-approved"), "intent:"+cabIntent+" approved", "Nothing waits for the CAB")
	aps, err := n.srv.Store().State().Approvals()
	if err != nil || len(aps) == 0 || aps[len(aps)-1].Subject != "intent:"+cabIntent || aps[len(aps)-1].Approver != "carol-ui" {
		t.Errorf("approval not stored as the API stores it: %+v %v", aps, err)
	}
	b.logout()
	if ps := b.visit("/ui/cab", "17-logged-out"); !strings.HasSuffix(ps.URL, "/ui/login") {
		t.Errorf("after logout /ui/cab ended at %s", ps.URL)
	}
}
