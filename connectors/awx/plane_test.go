package awx_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/awx"
	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// The fixture package: a name no machine has installed, so the check that
// the machine's own dpkg database never mentions it is meaningful.
const fixturePkg = "eucora-fixture-hello"

// buildDeb writes a real .deb of fixturePkg into the upstream pool: a
// version file and a script, outside /usr/share/doc (which minimal images
// exclude from dpkg).
func buildDeb(t *testing.T, u *mirrortest.Upstream, version string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pkg")
	for p, body := range map[string]string{
		"DEBIAN/control": fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: EUCORA tests <test@example.invalid>\n"+
			"Section: utils\nPriority: optional\nDescription: EUCORA AWX plane fixture\n installed into throwaway device roots\n", fixturePkg, version),
		"usr/share/" + fixturePkg + "/version": version + "\n",
		"usr/bin/" + fixturePkg:                "#!/bin/sh\necho " + fixturePkg + " " + version + "\n",
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
	out := u.Path(fmt.Sprintf("pool/main/e/%s/%s_%s_all.deb", fixturePkg, fixturePkg, version))
	os.MkdirAll(filepath.Dir(out), 0o755)
	mirrortest.Run(t, "", nil, "dpkg-deb", "--root-owner-group", "-Znone", "--build", dir, out)
}

// publishedRepo builds an upstream with versions of the fixture, mirrors,
// snapshots and publishes it with EUCORA's mirror (signed by an EUCORA
// key), serves the publication over HTTP and returns the repository as a
// connector sees it.
func publishedRepo(t *testing.T, versions ...string) awx.Repo {
	t.Helper()
	u := mirrortest.NewUpstream(t)
	for _, v := range versions {
		buildDeb(t, u, v)
	}
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u.Index(mirrortest.IndexOpts{Signer: g})
	up := mirrortest.NewFaultServer(t, u.Dir)

	dir := t.TempDir()
	store, err := cas.Open(filepath.Join(dir, "cas"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := mirror.OpenRepo(filepath.Join(dir, "mirror"), store)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.CreateMirror(&mirror.Mirror{Name: "up", URL: up.URL, Dist: "test", Filter: fixturePkg}, g.Pub); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := repo.Sync(ctx, "up", mirror.SyncOptions{Fetcher: &mirror.Fetcher{IdleTimeout: 5 * time.Second, Retries: 1, Backoff: 10 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateSnapshot("up", "s1"); err != nil {
		t.Fatal(err)
	}
	key, err := mirror.GenerateKey(t.TempDir(), "publish", "EUCORA test")
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
	if pr.Packages != len(versions) {
		t.Fatalf("published %d packages, want every version (%d)", pr.Packages, len(versions))
	}
	srv := httptest.NewServer(mirror.NewHandler(repo, nil))
	t.Cleanup(srv.Close)
	asc, err := os.ReadFile(key.PublicASC)
	if err != nil {
		t.Fatal(err)
	}
	return awx.Repo{URL: srv.URL + "/eucora", Dist: pr.Dist, Component: "main", Key: string(asc)}
}

// installed is the fixture's status and version in a device root, from
// the root's own dpkg database.
func installed(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${db:Status-Abbrev}${Version}", fixturePkg).CombinedOutput()
	if err != nil {
		return "none"
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

var recapLine = regexp.MustCompile(`(?m)^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)`)

// checkSummariesAreAnsibles compares the host summaries AWX's API serves
// with the PLAY RECAP ansible printed in the job's stdout.
func checkSummariesAreAnsibles(t *testing.T, c *awx.Client, id int) []awx.HostSummary {
	t.Helper()
	out, err := c.Stdout(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := c.Summaries(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	recap := map[string]string{}
	for _, m := range recapLine.FindAllStringSubmatch(out, -1) {
		recap[m[1]] = strings.Join(m[2:], " ")
	}
	if len(recap) == 0 || len(recap) != len(sums) {
		t.Fatalf("job %d: %d host summaries, %d recap lines:\n%s", id, len(sums), len(recap), out)
	}
	for _, s := range sums {
		got := fmt.Sprintf("%d %d %d %d %d %d %d", s.OK, s.Changed, s.Dark, s.Failures, s.Skipped, s.Rescued, s.Ignored)
		if recap[s.HostName] != got {
			t.Errorf("job %d %s: summary %s, ansible's recap %s", id, s.HostName, got, recap[s.HostName])
		}
	}
	return sums
}

func states(st connectors.Status) map[string]connectors.InstallState {
	out := map[string]connectors.InstallState{}
	for _, d := range st.Devices {
		out[d.Device] = d.State
	}
	return out
}

// TestRealPlaneInstallsPinsAndRollsBack is issue 11 item 8: the AWX
// simulator runs its jobs with the real ansible-playbook and EUCORA's
// playbook, which installs, pins and rolls back a package from an
// EUCORA-published APT repository into throwaway roots that stand for
// devices, without touching the machine's own packages.
func TestRealPlaneInstallsPinsAndRollsBack(t *testing.T) {
	testtool.Need(t, "apt-get install ansible-core", "ansible-playbook")
	mirrortest.NeedTools(t, "apt-get", "dpkg", "dpkg-query", "dpkg-deb", "apt-ftparchive", "gpg", "gpgv")
	hostStatus, _ := os.ReadFile("/var/lib/dpkg/status")
	hostLog, _ := os.ReadFile("/var/log/dpkg.log")

	repo := publishedRepo(t, "1.0-1", "2.0-1")
	base := t.TempDir()
	roots := map[string]string{}
	dev := func(name, ring string) awxsim.Host {
		roots[name] = filepath.Join(base, name)
		return awxsim.Host{Name: name, Groups: []string{ring}, Vars: map[string]any{"ansible_connection": "local", "eucora_root": roots[name]}}
	}
	// A device whose root cannot be made: its root path runs through a file.
	if err := os.WriteFile(filepath.Join(base, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := awxsim.Host{Name: "dev-broken", Groups: []string{"ring2"},
		Vars: map[string]any{"ansible_connection": "local", "eucora_root": filepath.Join(base, "file", "root")}}
	inv := awxsim.InventorySpec{Name: "eucora-devices", Hosts: []awxsim.Host{dev("dev-1", "ring1"), dev("dev-2", "ring1"), broken}}
	s := awxsim.New(awxsim.Options{
		Templates:   []awxsim.TemplateSpec{awxsim.DefaultTemplate()},
		Inventories: []awxsim.InventorySpec{inv},
		Runner:      &awxsim.AnsibleRunner{Playbooks: map[string][]byte{awx.PlaybookName: awx.Playbook()}},
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	cred := s.Credentials()
	c, err := awx.NewClient(awx.Config{BaseURL: srv.URL, Username: cred.Username, Password: cred.Password, Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	run := func(what string, pub connectors.Publication, err error, want string) int {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if pub.Created != 1 {
			t.Fatalf("%s launched %d jobs, want 1", what, pub.Created)
		}
		id, _ := strconv.Atoi(pub.Handle)
		j, err := c.Wait(ctx(t), id, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != want {
			out, _ := c.Stdout(ctx(t), id)
			t.Fatalf("%s: job %d %s (%s), want %s:\n%s", what, id, j.Status, j.Explanation, want, out)
		}
		return id
	}
	checkRoots := func(when, version string) {
		t.Helper()
		for _, d := range []string{"dev-1", "dev-2"} {
			r := roots[d]
			if got := installed(t, r); got != "ii "+version {
				t.Errorf("%s: %s holds %q, want installed %s", when, d, got, version)
			}
			if got := readFile(filepath.Join(r, "usr/share", fixturePkg, "version")); got != version+"\n" {
				t.Errorf("%s: %s's package file says %q, want %s", when, d, got, version)
			}
			if fi, err := os.Stat(filepath.Join(r, "usr/bin", fixturePkg)); err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf("%s: %s's script: %v", when, d, err)
			}
			pin := readFile(filepath.Join(r, "etc/apt/preferences.d", "eucora-"+fixturePkg+".pref"))
			if !strings.Contains(pin, "Package: "+fixturePkg+"\nPin: version "+version+"\nPin-Priority: 1001\n") {
				t.Errorf("%s: %s's pin file:\n%s", when, d, pin)
			}
		}
	}

	// Install 1.0-1 on ring 1.
	v1 := release(key(fixturePkg, "1.0-1", deploy.Ring1Canary), "corr-real-1")
	v1.Targets = []connectors.Target{{ID: "ring1"}}
	pub, err := c.Publish(ctx(t), v1)
	id := run("publish 1.0-1", pub, err, "successful")
	checkRoots("after install", "1.0-1")
	if pin := readFile(filepath.Join(roots["dev-1"], "etc/apt/preferences.d", "eucora-"+fixturePkg+".pref")); !strings.Contains(pin, "# Pinned by EUCORA: "+connectors.CorrelationMarker("corr-real-1", v1.Key)+"\n") {
		t.Errorf("the pin file does not carry the correlation marker:\n%s", pin)
	}
	for _, s := range checkSummariesAreAnsibles(t, c, id) {
		if s.Failed || s.Changed == 0 || s.OK == 0 {
			t.Errorf("first install on %s: %+v", s.HostName, s)
		}
	}
	evs, err := c.Events(ctx(t), id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e awx.JobEvent) bool {
		return e.Event == "runner_on_ok" && e.HostName == "dev-1" && e.Task == "install the pinned version" && e.Changed
	}) {
		t.Errorf("no changed runner_on_ok event of the install task on dev-1: %+v", evs)
	}
	st, err := c.Query(ctx(t), v1.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got := states(st); got["dev-1"] != connectors.StateInstalled || got["dev-2"] != connectors.StateInstalled || len(got) != 2 ||
		!slices.Equal(st.Assigned, []string{"ring1"}) {
		t.Fatalf("query 1.0-1: %+v", st)
	}
	// Publishing again finds the job: ansible does not run again.
	if pub, err := c.Publish(ctx(t), v1); err != nil || pub.Created != 0 || pub.Handle != strconv.Itoa(id) {
		t.Fatalf("publish again: %+v %v", pub, err)
	}

	// Upgrade to 2.0-1.
	v2 := release(key(fixturePkg, "2.0-1", deploy.Ring1Canary), "corr-real-2")
	v2.Targets = v1.Targets
	prior := v1.Key
	v2.Prior = &prior
	pub, err = c.Publish(ctx(t), v2)
	run("publish 2.0-1", pub, err, "successful")
	checkRoots("after the upgrade", "2.0-1")

	// Roll back: the prior version installed again and pinned (a downgrade).
	pub, err = c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v2})
	id = run("pin prior", pub, err, "successful")
	checkRoots("after the rollback", "1.0-1")
	checkSummariesAreAnsibles(t, c, id)
	if pub, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v2}); err != nil || pub.Created != 0 {
		t.Fatalf("pin prior again: %+v %v", pub, err)
	}
	st1, err := c.Query(ctx(t), v1.Key)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := c.Query(ctx(t), v2.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got := states(st1); got["dev-1"] != connectors.StateInstalled || got["dev-2"] != connectors.StateInstalled || !slices.Equal(st1.Assigned, []string{"ring1"}) {
		t.Fatalf("1.0-1 after the rollback: %+v", st1)
	}
	if got := states(st2); got["dev-1"] != connectors.StateNotInstalled || len(st2.Assigned) != 0 {
		t.Fatalf("2.0-1 after the rollback: %+v", st2)
	}

	// A device that cannot take the release: ansible's failure, in its words.
	vb := release(key(fixturePkg, "1.0-1", deploy.Ring2Pilot), "corr-real-b")
	vb.Targets = []connectors.Target{{ID: "dev-broken"}}
	pub, err = c.Publish(ctx(t), vb)
	id = run("publish to the broken device", pub, err, "failed")
	checkSummariesAreAnsibles(t, c, id)
	stb, err := c.Query(ctx(t), vb.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(stb.Devices) != 1 || stb.Devices[0].State != connectors.StateFailed || !strings.Contains(stb.Devices[0].Detail, `task "device root layout"`) ||
		!strings.Contains(stb.Devices[0].Detail, "Not a directory") {
		t.Fatalf("broken device: %+v", stb.Devices)
	}

	// Uninstall: the package and its pin leave the roots.
	pub, err = c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: v2})
	run("uninstall", pub, err, "successful")
	for _, d := range []string{"dev-1", "dev-2"} {
		r := roots[d]
		if got := installed(t, r); got != "none" && !strings.HasPrefix(got, "un") {
			t.Errorf("%s still holds the package after uninstall: %q", d, got)
		}
		for _, p := range []string{filepath.Join("usr/share", fixturePkg, "version"), filepath.Join("etc/apt/preferences.d", "eucora-"+fixturePkg+".pref")} {
			if _, err := os.Stat(filepath.Join(r, p)); !os.IsNotExist(err) {
				t.Errorf("%s: %s after uninstall: %v", d, p, err)
			}
		}
		if log := readFile(filepath.Join(r, "var/log/dpkg.log")); !strings.Contains(log, "remove "+fixturePkg) {
			t.Errorf("%s: the root's dpkg log has no removal:\n%s", d, log)
		}
	}
	if st2, err = c.Query(ctx(t), v2.Key); err != nil || states(st2)["dev-1"] != connectors.StateNotInstalled || len(st2.Assigned) != 0 {
		t.Errorf("2.0-1 after uninstall: %+v %v", st2, err)
	}

	// The machine's own packages were never touched.
	if now, _ := os.ReadFile("/var/lib/dpkg/status"); !bytes.Equal(now, hostStatus) || bytes.Contains(now, []byte(fixturePkg)) {
		t.Errorf("the machine's /var/lib/dpkg/status changed during the test")
	}
	if now, _ := os.ReadFile("/var/log/dpkg.log"); bytes.Contains(now[min(len(hostLog), len(now)):], []byte(fixturePkg)) {
		t.Errorf("dpkg logged the fixture into the machine's /var/log/dpkg.log")
	}
}
