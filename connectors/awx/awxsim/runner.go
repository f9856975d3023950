package awxsim

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"
)

// Runner executes a job: what AWX's task dispatcher and ansible-runner do
// for a real AWX. The simulator calls Run once per job, in its own
// goroutine, with a context that is cancelled when the job is cancelled
// or the simulator closes.
type Runner interface {
	Run(ctx context.Context, run Run, sink Sink) (Result, error)
}

// Run is one job as its runner sees it.
type Run struct {
	Job      int
	Playbook string
	// JobType is the job's job_type: "run", or "check" for a dry run
	// (ansible-playbook --check: modules report what they would change
	// and change nothing; tasks marked check_mode: false still run).
	JobType string
	// Inventory is every enabled host of the job's inventory; Limit is
	// the job's limit pattern ("" is all hosts).
	Inventory []Host
	Limit     string
	ExtraVars map[string]any
}

// Host is an inventory host with its groups and variables.
type Host struct {
	Name   string         `json:"name"`
	Groups []string       `json:"groups,omitempty"`
	Vars   map[string]any `json:"variables,omitempty"`
}

// Hosts resolves the limit against the inventory as ansible does:
// patterns separated by ',' or ':', each a host name, a group name,
// "all" or "*", or a shell glob; "&pattern" intersects and "!pattern"
// excludes. It returns the hosts in inventory order and the patterns
// that matched nothing (ansible warns about those).
func (r Run) Hosts() (hosts []Host, unmatched []string) {
	return resolve(r.Inventory, r.Limit)
}

// SplitPattern splits a host pattern into its terms.
func SplitPattern(p string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(p, func(c rune) bool { return c == ',' || c == ':' }) {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func resolve(inv []Host, limit string) ([]Host, []string) {
	terms := SplitPattern(limit)
	if len(terms) == 0 {
		terms = []string{"all"}
	}
	match := func(h Host, pat string) bool {
		if pat == "all" || pat == "*" {
			return true
		}
		for _, n := range append([]string{h.Name}, h.Groups...) {
			if ok, _ := path.Match(pat, n); ok || n == pat {
				return true
			}
		}
		return false
	}
	in := make([]bool, len(inv))
	var and, not []string
	var unmatched []string
	for _, t := range terms {
		switch t[0] {
		case '&':
			and = append(and, t[1:])
			continue
		case '!':
			not = append(not, t[1:])
			continue
		}
		hit := false
		for i, h := range inv {
			if match(h, t) {
				in[i], hit = true, true
			}
		}
		if !hit {
			unmatched = append(unmatched, t)
		}
	}
	var out []Host
	for i, h := range inv {
		if !in[i] {
			continue
		}
		keep := true
		for _, p := range and {
			keep = keep && match(h, p)
		}
		for _, p := range not {
			keep = keep && !match(h, p)
		}
		if keep {
			out = append(out, h)
		}
	}
	return out, unmatched
}

// Sink receives a running job's output: its job events and its stdout.
type Sink interface {
	Event(Event)
	Stdout(text string)
}

// Event is one job event (GET /api/v2/jobs/{id}/job_events/): the event
// name ansible's callback raised (playbook_on_start, playbook_on_task_start,
// runner_on_ok, runner_on_failed, runner_on_unreachable,
// runner_on_skipped, playbook_on_stats, ...), the host and task it is
// about, and the event data.
type Event struct {
	Event   string         `json:"event"`
	Host    string         `json:"host_name,omitempty"`
	Play    string         `json:"play,omitempty"`
	Task    string         `json:"task,omitempty"`
	Changed bool           `json:"changed,omitempty"`
	Failed  bool           `json:"failed,omitempty"`
	Data    map[string]any `json:"event_data,omitempty"`
	Stdout  string         `json:"stdout,omitempty"`
}

// Summary is one host's counters at the end of a run
// (GET /api/v2/jobs/{id}/job_host_summaries/): ansible's own stats.
type Summary struct {
	Host     string `json:"host_name"`
	OK       int    `json:"ok"`
	Changed  int    `json:"changed"`
	Failures int    `json:"failures"`
	Dark     int    `json:"dark"`
	Skipped  int    `json:"skipped"`
	Rescued  int    `json:"rescued"`
	Ignored  int    `json:"ignored"`
}

// Failed is what AWX's "failed" of a host summary says: the host failed a
// task or was unreachable.
func (s Summary) Failed() bool { return s.Failures > 0 || s.Dark > 0 }

// Result is the end of a run: the per-host summaries, ansible-playbook's
// exit code (0 ok, 4 a host unreachable, else 2 a host failed, 1 and
// others an error of the run itself), and a job explanation when the run could not
// start.
type Result struct {
	Summaries   []Summary
	RC          int
	Explanation string
}

// Outcome is what the model runner makes of a host.
type Outcome int

// Host outcomes of the model runner.
const (
	HostOK          Outcome = iota // every task ok
	HostFailed                     // the package task fails (apt-get exits 100)
	HostUnreachable                // the first task finds the host unreachable
)

// ModelRunner is the simulator's deterministic model of an AWX run of
// EUCORA's APT playbook: no process is started; each host of the limit
// ends as SetOutcome says (ok by default), and an ok host's modelled
// package state follows the job's eucora_package, eucora_version and
// eucora_state. A check job (job type "check") changes nothing: its
// version check fails on a host whose modelled package is not the job's
// version, as the playbook's does. Its events and stdout have the shapes
// ansible's callback and default output have, so clients parse them as
// they would a real run. The zero value is ready to use.
type ModelRunner struct {
	mu        sync.Mutex
	outcomes  map[string]Outcome
	installed map[string]map[string]string
	runs      int
}

var _ Runner = (*ModelRunner)(nil)

// SetOutcome makes later runs end host as o.
func (m *ModelRunner) SetOutcome(host string, o Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.outcomes == nil {
		m.outcomes = map[string]Outcome{}
	}
	m.outcomes[host] = o
}

// SetInstalled changes host's modelled package by hand, outside any job
// (an administrator's apt-get on the device): version "" removes it.
func (m *ModelRunner) SetInstalled(host, pkg, version string) {
	state := "present"
	if version == "" {
		state = "absent"
	}
	m.apply(host, pkg, version, state)
}

// Installed returns the modelled packages of host: name to version.
func (m *ModelRunner) Installed(host string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for k, v := range m.installed[host] {
		out[k] = v
	}
	return out
}

// Runs counts the runs so far.
func (m *ModelRunner) Runs() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runs
}

// modelTasks are the tasks of EUCORA's playbook the model reports, by
// state (present, absent); the last one is the package task.
var modelTasks = map[string][]string{
	"present": {"check the release variables", "EUCORA repository source", "pin the release version", "update the package lists", "install the pinned version"},
	"absent":  {"check the release variables", "EUCORA repository source", "remove the package", "remove the pin"},
	// A check job of a present release: the command tasks are skipped,
	// the version check (check_mode: false) runs.
	"check": {"check the release variables", "EUCORA repository source", "pin the release version", "check the installed version"},
}

// Run implements Runner.
func (m *ModelRunner) Run(ctx context.Context, run Run, sink Sink) (Result, error) {
	m.mu.Lock()
	m.runs++
	outcomes := map[string]Outcome{}
	for k, v := range m.outcomes {
		outcomes[k] = v
	}
	m.mu.Unlock()

	str := func(k string) string { s, _ := run.ExtraVars[k].(string); return s }
	pkg, version, state := str("eucora_package"), str("eucora_version"), str("eucora_state")
	hosts, unmatched := run.Hosts()
	out := &stdout{sink: sink}
	for _, u := range unmatched {
		out.printf("[WARNING]: Could not match supplied host pattern, ignoring: %s\n", u)
	}
	if len(hosts) == 0 {
		out.printf("ERROR! Specified inventory, host pattern and/or --limit leaves us with no hosts to target.\n")
		return Result{RC: 1}, nil
	}
	play := "EUCORA release " + str("eucora_release")
	sink.Event(Event{Event: "playbook_on_start", Data: map[string]any{"playbook": run.Playbook}})
	sink.Event(Event{Event: "playbook_on_play_start", Play: play})
	out.printf("\nPLAY [%s] %s\n", play, stars(len(play)+8))

	check := run.JobType == "check"
	tasks := modelTasks[state]
	if check && state == "present" {
		tasks = modelTasks["check"]
	}
	// The playbook refuses a verification outside check mode.
	badVars := tasks == nil || pkg == "" || version == "" || (str("eucora_action") == "verify" && !check)
	if badVars {
		tasks = modelTasks["present"][:1]
	}
	sums := map[string]*Summary{}
	alive := map[string]bool{}
	for _, h := range hosts {
		sums[h.Name] = &Summary{Host: h.Name}
		alive[h.Name] = true
	}
	for ti, task := range tasks {
		if ctx.Err() != nil {
			return Result{RC: -1}, ctx.Err()
		}
		sink.Event(Event{Event: "playbook_on_task_start", Play: play, Task: task})
		out.printf("\nTASK [%s] %s\n", task, stars(len(task)+8))
		last := ti == len(tasks)-1
		for _, h := range hosts {
			if !alive[h.Name] {
				continue
			}
			s := sums[h.Name]
			ev := Event{Play: play, Task: task, Host: h.Name}
			switch o := outcomes[h.Name]; {
			case o == HostUnreachable:
				msg := fmt.Sprintf("Failed to connect to the host via local: %s is modelled unreachable", h.Name)
				ev.Event, ev.Failed, ev.Data = "runner_on_unreachable", true, map[string]any{"res": map[string]any{"msg": msg, "unreachable": true}}
				s.Dark++
				alive[h.Name] = false
				out.printf("fatal: [%s]: UNREACHABLE! => {\"changed\": false, \"msg\": %q, \"unreachable\": true}\n", h.Name, msg)
			case badVars:
				msg := "Assertion failed: eucora_package, eucora_version and eucora_state (present or absent) are required"
				ev.Event, ev.Failed, ev.Data = "runner_on_failed", true, map[string]any{"res": map[string]any{"msg": msg, "failed": true}}
				s.Failures++
				alive[h.Name] = false
				out.printf("fatal: [%s]: FAILED! => {\"changed\": false, \"msg\": %q}\n", h.Name, msg)
			case check && last:
				have, ok := m.Installed(h.Name)[pkg]
				stdout := "ii " + have
				if !ok {
					stdout = ""
				}
				if have == version {
					ev.Event, ev.Data = "runner_on_ok", map[string]any{"res": map[string]any{"changed": false, "rc": 0, "stdout": stdout}}
					s.OK++
					out.printf("ok: [%s]\n", h.Name)
					break
				}
				rc, stderr := 0, ""
				if !ok {
					rc, stderr = 1, "dpkg-query: no packages found matching "+pkg
				}
				ev.Event, ev.Failed = "runner_on_failed", true
				ev.Data = map[string]any{"res": map[string]any{"changed": false, "failed": true, "rc": rc, "stdout": stdout, "stderr": stderr}}
				s.Failures++
				alive[h.Name] = false
				out.printf("fatal: [%s]: FAILED! => {\"changed\": false, \"failed_when_result\": true, \"rc\": %d, \"stdout\": %q}\n", h.Name, rc, stdout)
			case o == HostFailed && last && !check:
				msg := "non-zero return code"
				stderr := fmt.Sprintf("E: Version '%s' for '%s' was not found", version, pkg)
				ev.Event, ev.Failed, ev.Data = "runner_on_failed", true, map[string]any{"res": map[string]any{"msg": msg, "rc": 100, "stderr": stderr, "failed": true}}
				s.Failures++
				alive[h.Name] = false
				out.printf("fatal: [%s]: FAILED! => {\"changed\": false, \"msg\": %q, \"rc\": 100, \"stderr\": %q}\n", h.Name, msg, stderr)
			default:
				changed := ti > 0 && ti != 3 && !check
				ev.Event, ev.Changed, ev.Data = "runner_on_ok", changed, map[string]any{"res": map[string]any{"changed": changed}}
				s.OK++
				if changed {
					s.Changed++
					out.printf("changed: [%s]\n", h.Name)
				} else {
					out.printf("ok: [%s]\n", h.Name)
				}
				if last && !check {
					m.apply(h.Name, pkg, version, state)
				}
			}
			sink.Event(ev)
		}
	}
	res := Result{}
	var failed, dark bool
	out.printf("\nPLAY RECAP %s\n", stars(len("PLAY RECAP")+1))
	stats := map[string]any{}
	for _, h := range hosts {
		s := *sums[h.Name]
		res.Summaries = append(res.Summaries, s)
		failed = failed || s.Failures > 0
		dark = dark || s.Dark > 0
		stats[h.Name] = map[string]any{"ok": s.OK, "changed": s.Changed, "failures": s.Failures, "unreachable": s.Dark, "skipped": s.Skipped, "rescued": 0, "ignored": 0}
		out.printf("%-26s : ok=%-4d changed=%-4d unreachable=%-4d failed=%-4d skipped=%-4d rescued=0    ignored=0   \n",
			h.Name, s.OK, s.Changed, s.Dark, s.Failures, s.Skipped)
	}
	sink.Event(Event{Event: "playbook_on_stats", Play: play, Data: map[string]any{"summaries": stats}})
	switch { // as ansible-playbook exits: unreachable hosts win over failed ones
	case dark:
		res.RC = 4
	case failed:
		res.RC = 2
	}
	return res, nil
}

func (m *ModelRunner) apply(host, pkg, version, state string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.installed == nil {
		m.installed = map[string]map[string]string{}
	}
	if m.installed[host] == nil {
		m.installed[host] = map[string]string{}
	}
	if state == "absent" {
		delete(m.installed[host], pkg)
		return
	}
	m.installed[host][pkg] = version
}

func stars(used int) string { return strings.Repeat("*", max(80-used, 3)) }

type stdout struct{ sink Sink }

func (s *stdout) printf(format string, args ...any) { s.sink.Stdout(fmt.Sprintf(format, args...)) }
