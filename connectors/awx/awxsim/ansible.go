package awxsim

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

//go:embed callback/eucora_awx_events.py
var callbackPlugin []byte

// AnsibleRunner runs each job with the real ansible-playbook, as AWX's
// execution environment does: the job's inventory (hosts, groups and host
// variables), its extra_vars and its limit are handed to
// ansible-playbook, its output is the job's stdout, and a callback plugin
// (callback/eucora_awx_events.py, what AWX's own callback does, reduced)
// records every event ansible raises and ansible's own per-host stats,
// which become the job's events and host summaries.
//
// It is meant for throwaway device roots: unless AllowSystemRoot is set, a
// run refuses (job status "error") when a host of its limit has no
// eucora_root host variable or has "/", so a test can never install into
// the machine running it.
type AnsibleRunner struct {
	// Playbooks maps a job template's playbook name to its text.
	Playbooks map[string][]byte
	// Command is the ansible-playbook to run (default "ansible-playbook").
	Command string
	// Dir is where each job's private directory is made (default the
	// system temporary directory); it is removed after the run.
	Dir string
	// Env adds to the environment of ansible-playbook.
	Env []string
	// AllowSystemRoot lets hosts act on "/".
	AllowSystemRoot bool
	// Timeout bounds one run (default 10 minutes).
	Timeout time.Duration
}

var _ Runner = (*AnsibleRunner)(nil)

// errSystemRoot is the explanation of a run refused for acting on "/".
var errSystemRoot = errors.New("refusing to run: a host of the limit has no eucora_root (or has \"/\") and AllowSystemRoot is off")

// Run implements Runner.
func (a *AnsibleRunner) Run(ctx context.Context, run Run, sink Sink) (Result, error) {
	book, ok := a.Playbooks[run.Playbook]
	if !ok {
		return Result{Explanation: fmt.Sprintf("Playbook not found for project: %s", run.Playbook)}, nil
	}
	if !a.AllowSystemRoot {
		hosts, _ := run.Hosts()
		for _, h := range hosts {
			root, _ := h.Vars["eucora_root"].(string)
			if filepath.Clean("/"+root) == "/" {
				return Result{Explanation: errSystemRoot.Error() + ": " + h.Name}, nil
			}
		}
	}
	cmdName := a.Command
	if cmdName == "" {
		cmdName = "ansible-playbook"
	}
	dir, err := os.MkdirTemp(a.Dir, fmt.Sprintf("awxsim-job%d-", run.Job))
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"callback", "home", "tmp", "remote_tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return Result{}, err
		}
	}
	inv, err := json.Marshal(inventoryDoc(run.Inventory))
	if err != nil {
		return Result{}, err
	}
	extra, err := json.Marshal(run.ExtraVars)
	if err != nil {
		return Result{}, err
	}
	events := filepath.Join(dir, "events.jsonl")
	for name, data := range map[string][]byte{
		"project/" + run.Playbook:       book,
		"inventory.json":                inv,
		"extra_vars.json":               extra,
		"ansible.cfg":                   nil,
		"callback/eucora_awx_events.py": callbackPlugin,
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return Result{}, err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return Result{}, err
		}
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := []string{"-i", filepath.Join(dir, "inventory.json"), "-e", "@" + filepath.Join(dir, "extra_vars.json")}
	if run.Limit != "" {
		args = append(args, "--limit", run.Limit)
	}
	if run.JobType == "check" {
		args = append(args, "--check") // what AWX runs for job_type "check"
	}
	args = append(args, filepath.Join(dir, "project", run.Playbook))
	cmd := exec.CommandContext(ctx, cmdName, args...)
	cmd.Dir = filepath.Join(dir, "project")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	// A fixed environment: no proxy or ansible settings of the caller leak
	// in (an http_proxy would send apt's 127.0.0.1 fetches elsewhere).
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(dir, "home"), "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
		"ANSIBLE_CONFIG=" + filepath.Join(dir, "ansible.cfg"),
		"ANSIBLE_CALLBACK_PLUGINS=" + filepath.Join(dir, "callback"),
		"ANSIBLE_CALLBACKS_ENABLED=eucora_awx_events", "ANSIBLE_STDOUT_CALLBACK=default",
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_HOST_KEY_CHECKING=0",
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(dir, "tmp"), "ANSIBLE_REMOTE_TMP=" + filepath.Join(dir, "remote_tmp"),
		"ANSIBLE_PYTHON_INTERPRETER=auto_silent", "ANSIBLE_COLLECTIONS_PATH=" + filepath.Join(dir, "collections"),
		"EUCORA_AWX_EVENTS=" + events,
	}, a.Env...)
	w := &sinkWriter{sink: sink}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	w.flush()
	rc := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return Result{}, fmt.Errorf("ansible-playbook: %w", err)
		}
		rc = ee.ExitCode()
	}
	if ctx.Err() != nil {
		return Result{RC: rc}, ctx.Err()
	}
	res, perr := replay(events, sink)
	res.RC = rc
	if perr != nil {
		return res, perr
	}
	return res, nil
}

// inventoryDoc renders hosts as a YAML/JSON inventory: every host with its
// variables under all, and each group's members under all.children.
func inventoryDoc(hosts []Host) map[string]any {
	hs := map[string]any{}
	groups := map[string]map[string]any{}
	for _, h := range hosts {
		vars := h.Vars
		if vars == nil {
			vars = map[string]any{}
		}
		hs[h.Name] = vars
		for _, g := range h.Groups {
			if groups[g] == nil {
				groups[g] = map[string]any{}
			}
			groups[g][h.Name] = map[string]any{}
		}
	}
	children := map[string]any{}
	for g, members := range groups {
		children[g] = map[string]any{"hosts": members}
	}
	all := map[string]any{"hosts": hs}
	if len(children) > 0 {
		all["children"] = children
	}
	return map[string]any{"all": all}
}

// callbackEvent is one line the callback plugin writes.
type callbackEvent struct {
	Counter   int                       `json:"counter"`
	Event     string                    `json:"event"`
	Host      string                    `json:"host_name"`
	Play      string                    `json:"play"`
	Task      string                    `json:"task"`
	Changed   bool                      `json:"changed"`
	Failed    bool                      `json:"failed"`
	Action    string                    `json:"task_action"`
	Playbook  string                    `json:"playbook"`
	Res       map[string]any            `json:"res"`
	Summaries map[string]map[string]int `json:"summaries"`
}

// ParseEvents reads the callback plugin's JSON lines: the job events and,
// from the playbook_on_stats event, ansible's per-host stats.
func ParseEvents(data []byte) ([]Event, []Summary, error) {
	var evs []Event
	var sums []Summary
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var ce callbackEvent
		if err := json.Unmarshal(sc.Bytes(), &ce); err != nil {
			return evs, sums, fmt.Errorf("event line %d: %w", line, err)
		}
		if ce.Event == "" {
			return evs, sums, fmt.Errorf("event line %d: no event name", line)
		}
		data := map[string]any{}
		if ce.Res != nil {
			data["res"] = ce.Res
		}
		if ce.Action != "" {
			data["task_action"] = ce.Action
		}
		if ce.Playbook != "" {
			data["playbook"] = ce.Playbook
		}
		if ce.Event == "playbook_on_stats" {
			names := make([]string, 0, len(ce.Summaries))
			for h := range ce.Summaries {
				names = append(names, h)
			}
			sort.Strings(names)
			stats := map[string]any{}
			for _, h := range names {
				st := ce.Summaries[h]
				stats[h] = st
				sums = append(sums, Summary{Host: h, OK: st["ok"], Changed: st["changed"], Failures: st["failures"],
					Dark: st["unreachable"], Skipped: st["skipped"], Rescued: st["rescued"], Ignored: st["ignored"]})
			}
			data["summaries"] = stats
		}
		evs = append(evs, Event{Event: ce.Event, Host: ce.Host, Play: ce.Play, Task: ce.Task, Changed: ce.Changed, Failed: ce.Failed, Data: data})
	}
	return evs, sums, sc.Err()
}

func replay(path string, sink Sink) (Result, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Result{}, nil // ansible stopped before the first event (no hosts, a syntax error)
	}
	if err != nil {
		return Result{}, err
	}
	evs, sums, err := ParseEvents(data)
	for _, e := range evs {
		sink.Event(e)
	}
	return Result{Summaries: sums}, err
}

// sinkWriter hands output to a sink line by line.
type sinkWriter struct {
	mu   sync.Mutex
	sink Sink
	buf  []byte
}

func (w *sinkWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if i := bytes.LastIndexByte(w.buf, '\n'); i >= 0 {
		w.sink.Stdout(string(w.buf[:i+1]))
		w.buf = append(w.buf[:0], w.buf[i+1:]...)
	}
	return len(p), nil
}

func (w *sinkWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.sink.Stdout(string(w.buf))
		w.buf = nil
	}
}
