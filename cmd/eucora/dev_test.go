package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eucora/eucora/mirror/mirrortest"
	"github.com/eucora/eucora/mirror/sample"
)

// TestDev runs 'eucora dev' as a user would: it comes up, every printed
// command works as printed (in a shell, with the printed environment),
// the console answers, apt-get installs from both edges, the sample app
// rolls out by itself until it waits for CAB approval before Ring 2, and
// Ctrl-C stops everything and removes the directory.
func TestDev(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: a whole dev environment")
	}
	mirrortest.NeedTools(t, "apt-get", "sh")
	dir := filepath.Join(t.TempDir(), "dev")
	begun := time.Now()
	p := startProc(t, "dev", "--dir", dir, "--http", freeAddr(t), "--devices", "50", "--check-in", "1s-2s", "--output", "json")
	var res devResult
	waitFor(t, "eucora dev to come up", 2*time.Minute, func() bool {
		return json.NewDecoder(strings.NewReader(p.out.String())).Decode(&res) == nil && res.HubURL != ""
	})
	t.Logf("eucora dev: up in %d ms by its own clock, %s by the test's (hub, 5 simulators, 2 edges, APT, catalog)",
		res.StartupMillis, time.Since(begun).Round(time.Millisecond))
	if len(res.Tokens) != 5 || len(res.Planes) != 5 || len(res.Sites) != 2 || len(res.Catalog) != 2 || res.APT.Packages != len(sample.Default()) {
		t.Fatalf("eucora dev printed %+v", res)
	}

	// The console: a login page, and the token logs in.
	resp, err := http.Get(res.ConsoleURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Request.URL.Path, "login") {
		t.Fatalf("console %s: %s at %s, want the login page", res.ConsoleURL, resp.Status, resp.Request.URL)
	}

	// Both edges serve the hub's publication to apt-get.
	keyring, err := os.ReadFile(res.APT.Keyring)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, pk := range sample.Default() {
		names = append(names, pk.Name)
	}
	for _, s := range res.Sites {
		apt := mirrortest.NewAptClient(t, s.URL+"/apt/"+res.APT.Prefix, res.APT.Dist, keyring)
		waitFor(t, "edge "+s.Name+" to serve the publication", time.Minute, func() bool { _, err := apt.Run("update"); return err == nil })
		apt.MustRun(append([]string{"download"}, names...)...)
	}

	// Every printed command, as printed.
	env := append(os.Environ(), "EUCORA_HUB="+res.HubURL, "EUCORA_TOKEN="+res.token("admin"))
	for _, c := range res.Commands {
		cmd := exec.Command("sh", "-c", c.Run)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %s: %v\n%s", c.What, c.Run, err, out)
		}
		t.Logf("$ %s\n%s", c.Run, out)
	}
	// The printed environment line is what the commands ran with.
	if want := "EUCORA_TOKEN=$(cat " + res.tokenFile("admin") + ")"; res.Env[1] != want {
		t.Fatalf("env %v, want %s", res.Env, want)
	}

	// Ledger rolls out by itself and waits for CAB approval before Ring 2;
	// the approval the printed hint names lets it go on.
	ledger := res.Catalog[0]
	r1 := ledger.Intent + "-r1"
	type rollout struct {
		IntentID string `json:"intent_id"`
		State    string `json:"state"`
		Gate     *struct {
			Waiting []string `json:"waiting"`
		} `json:"gate"`
	}
	rollouts := func() []rollout {
		cmd := exec.Command(eucoraBin, "rollout", "status", ledger.App, "--output", "json")
		cmd.Env = env
		out, err := cmd.Output()
		var v struct {
			Rollouts []rollout `json:"rollouts"`
		}
		if err != nil || json.Unmarshal(out, &v) != nil {
			return nil
		}
		return v.Rollouts
	}
	waitFor(t, ledger.App+" to wait for CAB approval before Ring 2", 3*time.Minute, func() bool {
		for _, r := range rollouts() {
			if r.IntentID == r1 && r.Gate != nil && strings.Contains(strings.Join(r.Gate.Waiting, " "), "no CAB approval record for intent:"+r1) {
				return true
			}
		}
		return false
	})
	if !strings.Contains(res.Commands[0].What, r1) {
		t.Fatalf("the printed hint %q does not name %s", res.Commands[0].What, r1)
	}
	vpn := res.Catalog[1].Intent
	approve := exec.Command("sh", "-c", strings.NewReplacer("cab-"+vpn, "cab-"+r1, "intent:"+vpn, "intent:"+r1).Replace(res.Commands[2].Run))
	approve.Env = env
	if out, err := approve.CombinedOutput(); err != nil {
		t.Fatalf("approving %s: %v\n%s", r1, err, out)
	}
	waitFor(t, ledger.App+" to reach Ring 2 once approved", 3*time.Minute, func() bool {
		for _, r := range rollouts() {
			if r.IntentID == ledger.Intent+"-r2" {
				return true
			}
		}
		return false
	})

	p.cmd.Process.Signal(syscall.SIGINT)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("eucora dev on Ctrl-C: %v\n%s", err, p.out.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s after Ctrl-C: %v, want it removed", dir, err)
	}
}

// TestDevRefuses: bad flags and a busy port are refused with the flag
// named, and leave no directory behind; --keep keeps it.
func TestDevRefuses(t *testing.T) {
	tmp := t.TempDir()
	full := filepath.Join(tmp, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--http", "10.1.2.3:8440"}, "loopback only"},
		{[]string{"--http", "nonsense"}, "--http"},
		{[]string{"--devices", "1"}, "--devices"},
		{[]string{"--check-in", "5s-1s"}, "--check-in"},
		{[]string{"--check-in", "fast"}, "--check-in"},
		{[]string{"--dir", full}, "not empty"},
		{[]string{"--http", busy.Addr().String()}, "another hub"},
	} {
		d := filepath.Join(tmp, "d")
		args := append([]string{"dev"}, c.args...)
		if !strings.Contains(strings.Join(c.args, " "), "--dir") {
			args = append(args, "--dir", d)
		}
		r := eucora(t, tmp, args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("eucora %v: exit %d, stderr %q; want a refusal naming %q", args, r.code, r.stderr, c.want)
		}
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("eucora %v left %s behind", args, d)
		}
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Errorf("a refused --dir was changed: %v", ents)
	}
}

// TestDevKeep: with --keep the directory and its hub state stay after
// Ctrl-C, for a look at what the run left.
func TestDevKeep(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: a whole dev environment")
	}
	dir := filepath.Join(t.TempDir(), "kept")
	p := startProc(t, "dev", "--dir", dir, "--keep", "--http", freeAddr(t), "--devices", "10")
	waitFor(t, "eucora dev to come up", 2*time.Minute, func() bool { return strings.Contains(p.out.String(), "Ctrl-C stops everything and keeps") })
	for _, want := range []string{"Console  http://", "/ui/", "pat", "cab-approver", "intune-corp", "branch", "ship", "com.acme.ledger", "export EUCORA_HUB="} {
		if !strings.Contains(p.out.String(), want) {
			t.Errorf("eucora dev's text output lacks %q:\n%s", want, p.out.String())
		}
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("eucora dev on Ctrl-C: %v\n%s", err, p.out.String())
	}
	for _, f := range []string{"hub/bootstrap.token", "tokens/carol.token", "edges/ship/edge.pub", "logs/hub.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("--keep: %v", err)
		}
	}
}
