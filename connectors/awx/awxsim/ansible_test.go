package awxsim_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/internal/testtool"
)

// probe is a playbook whose hosts end as their variables say: ok, failed
// (a failing task) or unreachable (an ssh host on a closed port).
const probe = `- name: probe
  hosts: all
  gather_facts: false
  tasks:
    - name: say hello
      ansible.builtin.command: echo hello
      changed_when: true
    - name: fail when asked
      ansible.builtin.fail:
        msg: "asked to fail on {{ inventory_hostname }}"
      when: make_fail | default(false)
    - name: skipped on most
      ansible.builtin.debug:
        msg: never
      when: false
`

// recap matches a PLAY RECAP line of ansible's default output.
var recap = regexp.MustCompile(`(?m)^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)`)

// recapSummaries parses ansible's PLAY RECAP.
func recapSummaries(stdout string) map[string]awxsim.Summary {
	out := map[string]awxsim.Summary{}
	for _, m := range recap.FindAllStringSubmatch(stdout, -1) {
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		out[m[1]] = awxsim.Summary{Host: m[1], OK: n(2), Changed: n(3), Dark: n(4), Failures: n(5), Skipped: n(6), Rescued: n(7), Ignored: n(8)}
	}
	return out
}

func TestAnsibleRunnerReportsWhatAnsibleReported(t *testing.T) {
	testtool.Need(t, "apt-get install ansible-core openssh-client", "ansible-playbook", "ssh")
	root := t.TempDir()
	local := func(name string, vars map[string]any) awxsim.Host {
		v := map[string]any{"ansible_connection": "local", "eucora_root": filepath.Join(root, name)}
		for k, x := range vars {
			v[k] = x
		}
		return awxsim.Host{Name: name, Groups: []string{"probe"}, Vars: v}
	}
	inv := awxsim.InventorySpec{Name: "probe", Hosts: []awxsim.Host{
		local("ok-1", nil),
		local("fail-1", map[string]any{"make_fail": true}),
		{Name: "dark-1", Groups: []string{"probe"}, Vars: map[string]any{"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1,
			"ansible_ssh_common_args": "-o ConnectTimeout=5 -o BatchMode=yes", "eucora_root": filepath.Join(root, "dark-1")}},
		local("elsewhere", nil),
		{Name: "system", Vars: map[string]any{"ansible_connection": "local"}},
	}}
	tpl := awxsim.TemplateSpec{Name: "probe", Playbook: "probe.yml", Inventory: "probe", AskVariables: true, AskLimit: true}
	runner := &awxsim.AnsibleRunner{Playbooks: map[string][]byte{"probe.yml": []byte(probe)}}
	s, c := start(t, awxsim.Options{Templates: []awxsim.TemplateSpec{tpl}, Inventories: []awxsim.InventorySpec{inv}, Runner: runner})

	res := launch(t, c, map[string]any{"extra_vars": map[string]any{"x": 1}, "limit": "probe,!elsewhere"})
	idle(t, s)
	j, _ := s.Job(int(res["job"].(float64)))
	if j.Status != "failed" || j.RC != 4 {
		t.Fatalf("job %s rc %d, want failed rc 4 (a host unreachable):\n%s", j.Status, j.RC, j.Stdout)
	}
	fromRecap := recapSummaries(j.Stdout)
	if len(fromRecap) != 3 || len(j.Summaries) != 3 {
		t.Fatalf("recap %v, summaries %v:\n%s", fromRecap, j.Summaries, j.Stdout)
	}
	for _, sum := range j.Summaries {
		if fromRecap[sum.Host] != sum {
			t.Errorf("%s: summary %+v, PLAY RECAP says %+v", sum.Host, sum, fromRecap[sum.Host])
		}
	}
	by := map[string]awxsim.Summary{}
	for _, sum := range j.Summaries {
		by[sum.Host] = sum
	}
	if by["ok-1"] != (awxsim.Summary{Host: "ok-1", OK: 1, Changed: 1, Skipped: 2}) || by["fail-1"].Failures != 1 || by["dark-1"].Dark != 1 {
		t.Fatalf("summaries %+v", by)
	}
	var failed, dark, stats bool
	for _, e := range j.Events {
		switch {
		case e.Event == "runner_on_failed" && e.Host == "fail-1":
			res, _ := e.Data["res"].(map[string]any)
			failed = e.Task == "fail when asked" && e.Failed && res["msg"] == "asked to fail on fail-1"
		case e.Event == "runner_on_unreachable" && e.Host == "dark-1":
			res, _ := e.Data["res"].(map[string]any)
			dark = strings.Contains(fmt.Sprint(res["msg"]), "port 1")
		case e.Event == "playbook_on_stats":
			stats = true
		}
	}
	if !failed || !dark || !stats || j.Events[0].Event != "playbook_on_start" {
		t.Fatalf("events (failed %v, unreachable %v, stats %v): %+v", failed, dark, stats, j.Events)
	}

	// A host acting on the machine's own root is refused before ansible runs.
	res = launch(t, c, map[string]any{"limit": "system"})
	idle(t, s)
	st, body := c.do("GET", fmt.Sprintf("/api/v2/jobs/%v/", res["job"]), nil)
	if st != 200 || body["status"] != "error" || !strings.Contains(body["job_explanation"].(string), "refusing to run") {
		t.Fatalf("system root: %v", body)
	}

	// A limit matching nothing: ansible's own error, no summaries.
	res = launch(t, c, map[string]any{"limit": "nosuch"})
	idle(t, s)
	j, _ = s.Job(int(res["job"].(float64)))
	if j.Status != "failed" || len(j.Summaries) != 0 || !strings.Contains(j.Stdout, "no hosts") {
		t.Fatalf("no hosts: %+v", j)
	}
}
