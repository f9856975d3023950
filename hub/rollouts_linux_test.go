package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/awx"
	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/rollout"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// The Linux app: its id is the Debian package the playbook installs (the
// hub's default detection for a deb without deployment documentation).
const (
	linuxApp   = "acme-ledger-cli"
	linuxPlane = "awx-lyon"
	linuxSite  = "lyon"
)

// linuxScope is the site the Linux rollout goes to.
var linuxScope = deploy.Scope{Acquisition: "acme", BU: "ops", Site: linuxSite}

// linuxHosts are the AWX inventory's devices by ring group: small, since
// every job is a real ansible-playbook run.
var linuxHosts = map[string][]string{"lyon-ring0": {"lyon-lab-1"}, "lyon-ring1": {"lyon-ws-1", "lyon-ws-2"}}

// linuxDeb builds a real .deb of linuxApp with dpkg-deb (a version file
// and a script, no maintainer scripts) and returns its bytes.
func linuxDeb(t *testing.T, version string) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pkg")
	for p, body := range map[string]string{
		"DEBIAN/control": fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: Acme Packaging <pkg@acme.example>\n"+
			"Section: utils\nPriority: optional\nDescription: Acme ledger command line\n rolled out by EUCORA through AWX\n", linuxApp, version),
		"usr/share/" + linuxApp + "/version": version + "\n",
		"usr/bin/" + linuxApp:                "#!/bin/sh\necho " + linuxApp + " " + version + "\n",
	} {
		f := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(f), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "usr/bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(f, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), linuxApp+"_"+version+"_all.deb")
	mirrortest.Run(t, "", nil, "dpkg-deb", "--root-owner-group", "-Znone", "--build", dir, out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// linuxRepo publishes the debs as EUCORA publishes an APT repository: an
// upstream (indexed and signed with gpg) mirrored, snapshotted and
// published signed by an EUCORA key with EUCORA's mirror, served over
// HTTP. It returns the repository as the AWX plane's credentials name it.
func linuxRepo(t *testing.T, debs map[string][]byte) awx.Repo {
	t.Helper()
	u := mirrortest.NewUpstream(t)
	for version, b := range debs {
		p := u.Path(fmt.Sprintf("pool/main/a/%s/%s_%s_all.deb", linuxApp, linuxApp, version))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := mirrortest.NewGPG(t, "Acme upstream <up@acme.example>")
	u.Index(mirrortest.IndexOpts{Signer: g})
	up := mirrortest.NewFaultServer(t, u.Dir)
	dir := t.TempDir()
	objects, err := cas.Open(filepath.Join(dir, "cas"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := mirror.OpenRepo(filepath.Join(dir, "mirror"), objects)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.CreateMirror(&mirror.Mirror{Name: "acme", URL: up.URL, Dist: "test", Filter: linuxApp}, g.Pub); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := repo.Sync(ctx, "acme", mirror.SyncOptions{Fetcher: &mirror.Fetcher{IdleTimeout: 5 * time.Second, Retries: 1, Backoff: 10 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateSnapshot("acme", "s1"); err != nil {
		t.Fatal(err)
	}
	key, err := mirror.GenerateKey(t.TempDir(), "publish", "EUCORA lyon")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := mirror.LoadSigner(key.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := repo.Publish(ctx, "s1", mirror.PublishOptions{Prefix: "eucora", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Packages != len(debs) {
		t.Fatalf("published %d packages, want %d", pr.Packages, len(debs))
	}
	srv := httptest.NewServer(mirror.NewHandler(repo, nil))
	t.Cleanup(srv.Close)
	asc, err := os.ReadFile(key.PublicASC)
	if err != nil {
		t.Fatal(err)
	}
	return awx.Repo{URL: srv.URL + "/eucora", Dist: pr.Dist, Component: "main", Key: string(asc)}
}

// linuxWorld is a hub with a site, an AWX plane for it whose simulator
// runs the real ansible-playbook with EUCORA's playbook against throwaway
// device roots, and the people of a rollout.
type linuxWorld struct {
	*govWorld
	admin *client.Client
	awx   *awxsim.Server
	conn  *awx.Client // the test's own view of the plane (no audit, no check jobs)
	roots map[string]string
	debs  map[string][]byte
}

func newLinuxWorld(t *testing.T, versions ...string) *linuxWorld {
	t.Helper()
	nodes, adminTok := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	// Every job is a real ansible run: the test needs more than ctxT's minute.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	w := &linuxWorld{govWorld: &govWorld{t: t, n: n, ctx: ctx, users: map[string]*client.Client{}}, admin: cli(n, adminTok),
		roots: map[string]string{}, debs: map[string][]byte{}}
	for _, v := range versions {
		w.debs[v] = linuxDeb(t, v)
	}
	repo := linuxRepo(t, w.debs)

	base := t.TempDir()
	inv := awxsim.InventorySpec{Name: "eucora-devices"}
	for group, names := range linuxHosts {
		for _, name := range names {
			w.roots[name] = filepath.Join(base, name)
			inv.Hosts = append(inv.Hosts, awxsim.Host{Name: name, Groups: []string{group}, Vars: map[string]any{
				"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3", "eucora_root": w.roots[name]}})
		}
	}
	slices.SortFunc(inv.Hosts, func(a, b awxsim.Host) int { return strings.Compare(a.Name, b.Name) })
	w.awx = awxsim.New(awxsim.Options{
		Templates:   []awxsim.TemplateSpec{awxsim.DefaultTemplate()},
		Inventories: []awxsim.InventorySpec{inv},
		Runner:      &awxsim.AnsibleRunner{Playbooks: map[string][]byte{awx.PlaybookName: awx.Playbook()}, Env: []string{"ANSIBLE_PIPELINING=1"}},
	})
	hs := httptest.NewServer(w.awx.Handler())
	t.Cleanup(func() { hs.Close(); w.awx.Close() })
	cred := w.awx.Credentials()
	conn, err := awx.NewClient(awx.Config{BaseURL: hs.URL, Username: cred.Username, Password: cred.Password, Repo: repo, VerifyAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	w.conn = conn

	acme := deploy.Scope{Acquisition: "acme"}
	w.token("pat", deploy.RolePackagingEngineer, acme)
	w.token("carol", deploy.RoleCABApprover, deploy.Scope{})
	w.token("eve", deploy.RoleEndpointOps, acme)
	must[api.Site](t, "site")(w.admin.CreateSite(ctx, api.SiteRequest{Name: linuxSite, Class: api.ClassIntermittent, Scope: deploy.Scope{Acquisition: "acme", BU: "ops"}}))
	// The site's AWX: the hosts install from the site's EUCORA repository;
	// what AWX knows of a ring's hosts is verified by a check job once it
	// is 2 s old (a test's pace; the default is an hour).
	creds, _ := json.Marshal(map[string]any{"username": cred.Username, "password": cred.Password, "job_template": cred.JobTemplate, "repo": repo, "verify_after": "2s"})
	must[api.Plane](t, "plane")(w.admin.CreatePlane(ctx, api.PlaneRequest{Name: linuxPlane, Kind: "awx", URL: hs.URL, Scope: linuxScope, Credentials: creds}))
	// Rings 0 and 1 have AWX groups; Ring 2 has none, so the rollout stops there.
	for ring, group := range []string{"lyon-ring0", "lyon-ring1"} {
		must[api.RingTargets](t, "ring targets")(w.admin.SetRingTargets(ctx, linuxPlane, deploy.Ring(ring), []api.Target{{ID: group}}))
	}
	must[api.App](t, "app")(w.as("pat", deploy.RolePackagingEngineer).CreateApp(ctx, api.AppRequest{ID: linuxApp, Name: "Ledger CLI", Owner: "fin-apps",
		Category: "finance", SupportTier: "tier-2", LicensingModel: "free", AllowedScope: acme, LOB: true}))
	// Background reconciliation waits an hour: the test reconciles itself.
	n.srv.cfg.ReconcileInterval = time.Hour
	return w
}

// stage uploads the version's real .deb as its artifact blob, has it
// approved, assessed at risk 30 and staged to Ring 0 of the site by the
// packaging engineer; it returns the Ring 0 intent.
func (w *linuxWorld) stage(version string) string {
	t, ctx := w.t, w.ctx
	pat, carol := w.as("pat", deploy.RolePackagingEngineer), w.as("carol", deploy.RoleCABApprover)
	must[api.Version](t, "version")(pat.CreateVersion(ctx, linuxApp, api.VersionRequest{Version: version, OSMatrix: []deploy.OSSupport{{OS: "ubuntu", Versions: "22.04, 24.04", Arch: "all"}}}))
	body := w.debs[version]
	d := digest.FromBytes(body)
	if err := pat.PutBlob(ctx, d.Hex(), bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	name := linuxApp + "_" + version + "_all.deb"
	must[api.Artifact](t, "artifact")(pat.CreateArtifact(ctx, linuxApp, version, api.ArtifactRequest{Platform: deploy.PlatformDeb, Name: name,
		SHA256: d, Size: int64(len(body)), Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass}))
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		must[api.Version](t, "transition")(pat.Transition(ctx, linuxApp, version, to))
	}
	must[api.Version](t, "approve")(carol.Transition(ctx, linuxApp, version, deploy.StateApproved))
	asID, intent := "as-cli-"+version, "cli-"+strings.NewReplacer(".", "-", "~", "-", "+", "-").Replace(version)
	as := must[api.Assessment](t, "assess")(pat.CreateAssessment(ctx, api.AssessmentRequest{ID: asID, AppID: linuxApp, Version: version,
		Input: riskInput(0.3, deploy.Ring0Lab)}))
	scope := linuxScope
	now := time.Now().UTC().Truncate(time.Second)
	must[api.Intent](t, "intent")(pat.CreateIntent(ctx, api.IntentRequest{ID: intent, AppID: linuxApp, Version: version, Artifact: d,
		Ring: deploy.Ring0Lab, Scope: &scope, Schedule: deploy.Schedule{NotBefore: now.Add(-time.Hour)}, AssessmentID: asID}))
	var pack deploy.EvidencePack
	if err := json.Unmarshal(evidencePack(t, intent, version, as.Assessment, now), &pack); err != nil {
		t.Fatal(err)
	}
	pack.AppID = linuxApp
	pack.Artifacts = []deploy.ArtifactEvidence{{Name: name, Platform: deploy.PlatformDeb, SHA256: d, Size: int64(len(body)),
		Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}}
	pack.ScopeDiff = &deploy.ScopeDiff{Previous: scope, Requested: scope, Change: "unchanged", Summary: "unchanged: the lyon site"}
	pack.TestEvidence.Ring0 = nil // Ring 0's results come from the plane
	pack.RolloutPlan, pack.RollbackPlans = nil, nil
	pb, _ := json.Marshal(pack)
	ev := must[api.EvidenceView](t, "evidence")(pat.StoreEvidence(ctx, pb))
	must[api.Decision](t, "stage")(pat.Publish(ctx, intent, api.PublishRequest{Evidence: ev.Record.Digest}))
	return intent
}

func (w *linuxWorld) rollout(intent string) store.Rollout {
	r, err := w.n.srv.Store().State().Rollout(intent)
	if err != nil {
		return store.Rollout{}
	}
	return r
}

// passUntil steps the orchestrator until cond holds. The AWX jobs are real
// ansible runs that take seconds each, so passes are paced by poll (at
// most ten a second) within a budget instead of counted.
func (w *linuxWorld) passUntil(what string, cond func() bool) {
	w.t.Helper()
	o := w.n.srv.orchestrator()
	passes, last := 0, time.Now()
	ok := poll(8*time.Minute, func() bool {
		rep, err := o.Pass(w.ctx)
		if err != nil {
			w.t.Fatalf("%s: pass %d: %v", what, passes, err)
		}
		passes++
		for _, e := range rep.Errors {
			w.t.Logf("%s: pass %d: %s", what, passes, e)
		}
		if cond() {
			return true
		}
		if testing.Verbose() && time.Since(last) > 10*time.Second {
			last = time.Now()
			w.logRollouts(fmt.Sprintf("%s, pass %d", what, passes))
		}
		return false
	})
	if !ok {
		w.logRollouts("at the end")
		w.t.Fatalf("%s: not reached in %d passes", what, passes)
	}
}

func (w *linuxWorld) logRollouts(when string) {
	rs, _ := w.n.srv.Store().State().Rollouts()
	for _, r := range rs {
		w.t.Logf("%s: %s %s: %s %s waiting %v gate %+v tel %+v", when, r.IntentID, r.Ring, r.State, r.Validation, r.Waiting, r.Gate, r.Telemetry)
	}
	for _, j := range w.awx.Jobs() {
		w.t.Logf("%s: AWX job %d %s %s %v of %v on %s", when, j.ID, j.JobType, j.Status, j.ExtraVars["eucora_action"], j.ExtraVars["eucora_version"], j.Limit)
	}
}

// idle waits until AWX has no job pending or running.
func (w *linuxWorld) idle() {
	w.t.Helper()
	if err := w.awx.WaitIdle(w.ctx); err != nil {
		w.t.Fatal(err)
	}
}

// holds is the package's status and version in a device root, from the
// root's own dpkg database.
func (w *linuxWorld) holds(host string) string {
	out, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(w.roots[host], "var/lib/dpkg"), "-W", "-f=${db:Status-Abbrev}${Version}", linuxApp).CombinedOutput()
	if err != nil {
		return "none"
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// downgrade is an administrator on the device installing another version
// by hand with the device's own apt (its sources are the EUCORA
// repository, which holds every published version), past EUCORA's pin.
func (w *linuxWorld) downgrade(host, version string) {
	w.t.Helper()
	root := w.roots[host]
	cmd := exec.CommandContext(w.ctx, "apt-get", "-q", "-y", "--allow-downgrades", "-o", "Dpkg::Use-Pty=0", "install", linuxApp+"="+version)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+filepath.Join(root, "etc/apt/apt.conf"), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("apt-get install %s=%s on %s by hand: %v\n%s", linuxApp, version, host, err, out)
	}
}

// hostIDs maps the plane's host names to its host ids (the device ids of
// its status reports), read through the connector.
func (w *linuxWorld) hostIDs(version string, ring deploy.Ring) map[string]string {
	w.t.Helper()
	st, err := w.conn.Query(w.ctx, connectors.ReleaseKey{App: linuxApp, Version: version, Ring: ring, Scope: linuxScope})
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range st.Devices {
		out[d.Device] = d.DeviceID
	}
	return out
}

// TestRolloutLinuxAnsibleDrift is issue 13's Linux end-to-end test: a
// Linux package to a site through the real Ansible plane (the AWX
// simulator running the real ansible-playbook with EUCORA's playbook,
// which installs from an EUCORA-published, signed APT repository into
// throwaway device roots), Rings 0 and 1 on the plane's host summaries,
// then a device downgraded by hand: detected as device-reverted by a
// check job, detect-only under the default policy and in Phase 2, and in
// Phase 3 with a Linux enforce rule for the site remediated by a redeploy
// job that reinstalls it, after which the drift clears.
func TestRolloutLinuxAnsibleDrift(t *testing.T) {
	testtool.Need(t, "apt-get install ansible-core", "ansible-playbook")
	mirrortest.NeedTools(t, "apt-get", "dpkg", "dpkg-query", "dpkg-deb", "apt-ftparchive", "gpg", "gpgv")
	machineStatus, _ := os.ReadFile("/var/lib/dpkg/status")
	const prior, version = "1.0-1", "2.0-1"
	w := newLinuxWorld(t, prior, version)
	ctx := w.ctx
	first := w.stage(version)
	r1 := nextIDForTest(first, deploy.Ring1Canary)
	r2 := nextIDForTest(first, deploy.Ring2Pilot)

	// Ring 0 and Ring 1 through the real playbook; Ring 2 has no AWX group.
	w.passUntil("ring 1 installed and promoted", func() bool {
		r := w.rollout(r1)
		return r.State == store.RolloutPromoted && r.Telemetry != nil && r.Telemetry.Measure.Installed == len(linuxHosts["lyon-ring1"]) &&
			len(w.rollout(r2).Waiting) > 0
	})
	for ring, id := range []string{first, r1} {
		r := w.rollout(id)
		hosts := linuxHosts[fmt.Sprintf("lyon-ring%d", ring)]
		if r.Plane != linuxPlane || r.PlaneKind != "awx" || r.SiteClass != deploy.SiteIntermittent || !strings.Contains(r.PlaneReason, "Landscape") || r.Telemetry == nil {
			t.Fatalf("%s: plane %s (%s) at a %s site: %s", id, r.Plane, r.PlaneKind, r.SiteClass, r.PlaneReason)
		}
		if m := r.Telemetry.Measure; m.Targeted != len(hosts) || m.Installed != len(hosts) || m.Failed != 0 || !m.Compliant() {
			t.Errorf("%s: measured %+v, want all %d installed", id, m, len(hosts))
		}
		if r.Gate == nil || r.Gate.Decision == "" {
			t.Errorf("%s: no promotion decision: %+v", id, r.Gate)
		} else if dec, err := w.n.srv.Store().State().Decision(r.Gate.Decision); err != nil || !dec.Allowed || dec.Principal.ID != rollout.Actor {
			t.Errorf("%s: decision %+v %v", id, dec, err)
		}
		for _, h := range hosts {
			if got := w.holds(h); got != "ii "+version {
				t.Errorf("%s holds %q, want installed %s", h, got, version)
			}
		}
	}
	if rv, _ := w.n.srv.Store().State().RollbackValidation(linuxApp, version); rv.Planes["awx"] != first {
		t.Fatalf("rollback validation: %+v", rv)
	}
	if !strings.Contains(strings.Join(w.rollout(r2).Waiting, " "), "no groups for Ring 2") {
		t.Errorf("ring 2 waits for %v, want its AWX groups", w.rollout(r2).Waiting)
	}
	if pin, _ := os.ReadFile(filepath.Join(w.roots["lyon-ws-1"], "etc/apt/preferences.d", "eucora-"+linuxApp+".pref")); !strings.Contains(string(pin), "correlation="+r1) ||
		!strings.Contains(string(pin), "Pin: version "+version+"\n") {
		t.Errorf("the pin file of lyon-ws-1 does not name ring 1's intent and version:\n%s", pin)
	}
	jobs := map[string]int{}
	for _, j := range w.awx.Jobs() {
		jobs[fmt.Sprintf("%s/%v", j.JobType, j.ExtraVars["eucora_action"])]++
		if j.Status != "successful" {
			t.Errorf("AWX job %d %v: %s\n%s", j.ID, j.ExtraVars["eucora_action"], j.Status, j.Stdout)
		}
	}
	if jobs["run/install"] != 2 || jobs["run/uninstall"] != 1 || jobs["run/redeploy"] != 1 {
		t.Fatalf("AWX jobs by type and action: %v, want ring 0 and 1 installed and ring 0's rollback validated once", jobs)
	}

	// A device that had installed the release is downgraded by hand.
	eve := w.as("eve", deploy.RoleEndpointOps)
	if d, err := eve.ReconcileRollout(ctx, r1); err != nil || len(d) != 0 {
		t.Fatalf("ring 1 baseline: %+v %v", d, err)
	}
	w.idle()
	const victim = "lyon-ws-2"
	w.downgrade(victim, prior)
	if got := w.holds(victim); got != "ii "+prior {
		t.Fatalf("%s holds %q after the downgrade, want %s", victim, got, prior)
	}
	// Reconciliation reads the plane; AWX learns what the host holds from
	// the check job Query launches once its knowledge is old enough.
	var drift []api.Drift
	var err error
	if !poll(5*time.Minute, func() bool {
		if drift, err = eve.ReconcileRollout(ctx, r1); err != nil || len(drift) > 0 {
			return true
		}
		w.idle()
		return false
	}) {
		t.Fatal("the downgrade was never detected")
	}
	ids := w.hostIDs(version, deploy.Ring1Canary)
	if err != nil || len(drift) != 1 || drift[0].Kind != deploy.DriftDeviceReverted || drift[0].Mode != deploy.DriftDetect ||
		!slices.Equal(drift[0].Subjects, []string{ids[victim]}) || drift[0].Plane != linuxPlane || drift[0].Site != linuxSite || drift[0].Remediated != 0 {
		t.Fatalf("downgraded device (%s is host %s): %+v %v", victim, ids[victim], drift, err)
	}
	if got := w.holds(victim); got != "ii "+prior {
		t.Fatalf("detect-only changed %s: it holds %q", victim, got)
	}
	list, err := eve.Drift(ctx, linuxSite, linuxApp, "")
	if err != nil || len(list) != 1 || list[0].IntentID != r1 {
		t.Fatalf("drift list --site %s: %+v %v", linuxSite, list, err)
	}

	// Linux enforcement before Phase 3 is refused.
	enforce := []deploy.DriftRule{{Family: deploy.FamilyLinux, SiteClass: deploy.SiteIntermittent, Acquisition: "acme", Mode: deploy.DriftEnforce}}
	_, err = w.admin.SetDriftPolicy(ctx, deploy.DriftPolicy{Phase: 2, Rules: enforce})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 422 || !strings.Contains(err.Error(), "Phase 3") {
		t.Fatalf("linux enforce at phase 2: %v", err)
	}
	if d, err := eve.ReconcileRollout(ctx, r1); err != nil || len(d) != 1 || d[0].Mode != deploy.DriftDetect || d[0].Remediated != 0 {
		t.Fatalf("after the refused policy: %+v %v", d, err)
	}

	// Phase 3, enforce for Linux at the site's class and acquisition: the
	// orchestrator redeploys through AWX and the device is reinstalled.
	if _, err := w.admin.SetDriftPolicy(ctx, deploy.DriftPolicy{Phase: 3, Rules: enforce}); err != nil {
		t.Fatal(err)
	}
	drift, err = eve.ReconcileRollout(ctx, r1)
	if err != nil || len(drift) != 1 || drift[0].Mode != deploy.DriftEnforce || drift[0].Remediated != 1 || !strings.Contains(drift[0].LastRemediation, "install") {
		t.Fatalf("enforced: %+v %v", drift, err)
	}
	w.idle()
	var redeploy *awxsim.JobView
	for _, j := range w.awx.Jobs() {
		if j.ExtraVars["eucora_action"] == awx.ActionRedeploy && j.Limit == "lyon-ring1" {
			redeploy = &j
		}
	}
	if redeploy == nil || redeploy.JobType != "run" || redeploy.Status != "successful" || !strings.Contains(redeploy.Stdout, "changed: ["+victim+"]") {
		t.Fatalf("no successful redeploy job of ring 1 that changed %s: %+v", victim, redeploy)
	}
	for _, h := range linuxHosts["lyon-ring1"] {
		if got := w.holds(h); got != "ii "+version {
			t.Errorf("after the redeploy %s holds %q, want %s", h, got, version)
		}
	}
	st, err := w.conn.Query(ctx, connectors.ReleaseKey{App: linuxApp, Version: version, Ring: deploy.Ring1Canary, Scope: linuxScope})
	if err != nil || st.Summary.Installed != 2 || st.Summary.NotInstalled != 0 {
		t.Fatalf("the plane after the redeploy: %+v %v", st, err)
	}
	if d, err := eve.ReconcileRollout(ctx, r1); err != nil || len(d) != 0 {
		t.Fatalf("after the remediation: %+v %v", d, err)
	}
	if list, err := eve.Drift(ctx, linuxSite, linuxApp, ""); err != nil || len(list) != 0 {
		t.Fatalf("drift list after the remediation: %+v %v", list, err)
	}

	// Every change of the drift is an audit event on the plane, and so is
	// the orchestrator's remediation through the connector.
	page, err := w.admin.Events(ctx, "", 5000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range page.Events {
		if e.Object != "plane/"+linuxPlane || e.CorrelationID != r1 {
			continue
		}
		switch {
		case strings.HasPrefix(e.Action, "drift."):
			got[e.Action]++
		case e.Action == "connector.remediate" && e.Actor == rollout.Actor && e.Outcome == "ok" && strings.Contains(e.Reason, string(connectors.Redeploy)):
			got[e.Action]++
		}
	}
	if got["drift.detected"] == 0 || got["drift.remediated"] == 0 || got["drift.cleared"] == 0 || got["connector.remediate"] != 1 {
		t.Fatalf("audit events on plane/%s: %v", linuxPlane, got)
	}
	if testing.Verbose() {
		w.logRollouts("at the end")
	}
	// The machine's own packages were never touched.
	if now, _ := os.ReadFile("/var/lib/dpkg/status"); !bytes.Equal(now, machineStatus) {
		t.Error("the machine's /var/lib/dpkg/status changed during the test")
	}
}
