// Package awxsim is a simulator of the AWX / Ansible Tower REST API v2 as
// EUCORA's AWX connector (connectors/awx) uses it, faithful enough that a
// client written against AWX's documentation works unchanged: personal
// access tokens (POST /api/v2/tokens/ with Basic auth, then Bearer), job
// templates with their launch prompts (fields without prompt-on-launch
// land in ignored_fields), jobs that go new, pending, waiting, running and
// end successful, failed, error or canceled, job events, host summaries,
// stdout, check jobs (job_type "check" where the template prompts for
// it), cancel and relaunch, inventories and hosts, Django REST
// Framework pagination (page, page_size up to 200, relative next and
// previous) and error shapes ({"detail": ...} or {"field": [...]}), and
// AWX's refusal to filter on extra_vars (403).
//
// Jobs are executed by a pluggable Runner: ModelRunner, a deterministic
// model of an AWX run for the fault and conformance tests, or
// AnsibleRunner, which runs the real ansible-playbook with EUCORA's
// playbook against the job's inventory, so host summaries and events come
// from what ansible reported.
//
// The simulator is an http.Handler (Handler, with the faults of
// connectors/sim in front) usable in tests and standalone.
package awxsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sim"
)

// Options configure a simulator.
type Options struct {
	// PageSize is the default page size of list answers (AWX's is 25);
	// a client's page_size is honoured up to MaxPageSize.
	PageSize int
	// Username and Password are the Basic credentials of the simulator's
	// one user (default "admin" and "eucora-sim").
	Username, Password string
	// TokenLifetime is how long a personal access token lives (default
	// one hour; AWX's default is far longer).
	TokenLifetime time.Duration
	// Templates and Inventories are the plane's configuration; nil gives
	// DefaultTemplate on DefaultInventory.
	Templates   []TemplateSpec
	Inventories []InventorySpec
	// Runner executes jobs (default a new ModelRunner).
	Runner Runner
	// StartPolls keeps every job pending until its detail has been read
	// this many times (a busy dispatcher, deterministically).
	StartPolls int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MaxPageSize is AWX's largest page_size.
const MaxPageSize = 200

// TemplateSpec is a job template.
type TemplateSpec struct {
	Name, Description string
	Playbook          string // default "eucora-apt.yml"
	Inventory         string // inventory name; "" means none (launch must supply one)
	// The launch prompts ("Prompt on launch" in AWX's UI). AskJobType
	// lets a launch choose job_type "check" (ansible-playbook --check).
	AskVariables, AskLimit, AskInventory, AskJobType bool
	SurveyEnabled                                    bool
	AllowSimultaneous                                bool
	// ExtraVars are the template's own variables (a launch's extra_vars
	// are merged over them).
	ExtraVars map[string]any
}

// InventorySpec is an inventory with its hosts.
type InventorySpec struct {
	Name  string
	Hosts []Host
}

// DefaultTemplate is the template a simulator without Options.Templates
// has: EUCORA's APT playbook on DefaultInventory, prompting for variables,
// limit and job type, one job at a time.
func DefaultTemplate() TemplateSpec {
	return TemplateSpec{Name: "eucora-apt", Description: "EUCORA APT releases", Playbook: "eucora-apt.yml", Inventory: "eucora-devices",
		AskVariables: true, AskLimit: true, AskJobType: true}
}

// DefaultInventory is the inventory a simulator without
// Options.Inventories has: two or three devices per ring, each in its
// ring's group (ring0 ... ring4).
func DefaultInventory() InventorySpec {
	inv := InventorySpec{Name: "eucora-devices"}
	for ring, names := range [][]string{{"lab-1", "lab-2"}, {"canary-1", "canary-2"}, {"pilot-1", "pilot-2", "pilot-3"}, {"dept-1", "dept-2", "dept-3"}, {"global-1", "global-2", "global-3"}} {
		for _, n := range names {
			inv.Hosts = append(inv.Hosts, Host{Name: n, Groups: []string{fmt.Sprintf("ring%d", ring)}, Vars: map[string]any{"ansible_connection": "local"}})
		}
	}
	return inv
}

// Credentials is what a client needs to talk to the simulator.
type Credentials struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	JobTemplate string `json:"job_template"`
}

// Server is a running simulator.
type Server struct {
	o      Options
	faults sim.Faults
	tokens sim.Tokens
	runner Runner

	mu          sync.Mutex
	seq         map[string]int
	templates   []*template
	inventories []*inventory
	hosts       []*host
	jobs        []*job
	scopes      map[string]string // token value -> scope
	tokenRecs   int
	slots       map[int]chan struct{} // per template that disallows simultaneous jobs

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type template struct {
	id               int
	spec             TemplateSpec
	inventory        int
	created, updated time.Time
}

type inventory struct {
	id               int
	name             string
	created, updated time.Time
}

type host struct {
	id, inventory    int
	name, desc       string
	enabled          bool
	vars             string // JSON text, as AWX stores it
	groups           []string
	created, updated time.Time
}

type job struct {
	id, template, inventory int
	name, playbook, limit   string
	jobType                 string // "run" or "check"
	extraVars               string // JSON text
	vars                    map[string]any
	launchType              string
	status                  string
	explanation             string
	rc                      int
	created, modified       time.Time
	started, finished       time.Time
	hosts                   []Host // the inventory at launch
	events                  []*jobEvent
	stdout                  strings.Builder
	summaries               []*hostSummary
	reads                   int
	gate                    chan struct{} // closed when reads reach StartPolls
	cancelled               chan struct{} // closed on cancel
	cancelOnce              sync.Once
	done                    chan struct{}
}

type jobEvent struct {
	id, counter int
	created     time.Time
	uuid        string
	Event
}

type hostSummary struct {
	id, host int
	created  time.Time
	Summary
}

// New starts a simulator. Close stops its jobs.
func New(o Options) *Server {
	if o.PageSize <= 0 {
		o.PageSize = 25
	}
	o.PageSize = min(o.PageSize, MaxPageSize)
	if o.Username == "" {
		o.Username = "admin"
	}
	if o.Password == "" {
		o.Password = "eucora-sim"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Templates == nil && o.Inventories == nil {
		o.Templates = []TemplateSpec{DefaultTemplate()}
		o.Inventories = []InventorySpec{DefaultInventory()}
	}
	s := &Server{o: o, runner: o.Runner, seq: map[string]int{}, scopes: map[string]string{}, slots: map[int]chan struct{}{}}
	if s.runner == nil {
		s.runner = &ModelRunner{}
	}
	s.tokens.Lifetime = o.TokenLifetime
	s.tokens.Now = o.Now
	s.ctx, s.cancel = context.WithCancel(context.Background())
	now := o.Now()
	for _, is := range o.Inventories {
		inv := &inventory{id: s.next("inventory"), name: is.Name, created: now, updated: now}
		s.inventories = append(s.inventories, inv)
		for _, h := range is.Hosts {
			vars, _ := json.Marshal(h.Vars)
			if h.Vars == nil {
				vars = []byte("")
			}
			s.hosts = append(s.hosts, &host{id: s.next("host"), inventory: inv.id, name: h.Name, enabled: true, vars: string(vars),
				groups: slices.Clone(h.Groups), created: now, updated: now})
		}
	}
	for _, ts := range o.Templates {
		if ts.Playbook == "" {
			ts.Playbook = "eucora-apt.yml"
		}
		t := &template{id: s.next("template"), spec: ts, created: now, updated: now}
		for _, inv := range s.inventories {
			if inv.name == ts.Inventory {
				t.inventory = inv.id
			}
		}
		s.templates = append(s.templates, t)
	}
	return s
}

func (s *Server) next(kind string) int {
	s.seq[kind]++
	return s.seq[kind]
}

// Close cancels every job still running and waits for the runners.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Handler is the simulator's HTTP API with its faults in front.
func (s *Server) Handler() http.Handler { return s.faults.Wrap(s.routes()) }

// Faults is the fault set in front of the API.
func (s *Server) Faults() *sim.Faults { return &s.faults }

// Tokens is the simulator's token issuer.
func (s *Server) Tokens() *sim.Tokens { return &s.tokens }

// Runner is the runner executing the simulator's jobs.
func (s *Server) Runner() Runner { return s.runner }

// Credentials returns the simulator's user and its first job template.
func (s *Server) Credentials() Credentials {
	c := Credentials{Username: s.o.Username, Password: s.o.Password}
	if len(s.o.Templates) > 0 {
		c.JobTemplate = s.o.Templates[0].Name
	}
	return c
}

// EUCORA's job convention, as connectors/awx launches jobs: what Count
// reads from a job's extra_vars.
const (
	varRelease = "eucora_release" // the release key, ReleaseKey.String()
	varAction  = "eucora_action"  // install, redeploy, pin-prior, uninstall
)

// Count implements conformance.Sim for AWX, which holds no content object
// of its own (the package lives in the APT repository the playbook
// installs from): the plane object a release makes is its install job.
// objects is the number of install jobs (eucora_action "install") launched
// for the key; assignments is the number of targets (terms of the limit
// pattern) of those jobs. A release published once to n targets counts
// 1 and n; a second launch for the same key, the duplicate a lost launch
// response could cause, shows in both. Rollback, uninstall and redeploy
// jobs are remediations, not publications, and are not counted.
func (s *Server) Count(k connectors.ReleaseKey) (objects, assignments int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := k.String()
	for _, j := range s.jobs {
		if j.vars[varRelease] == want && j.vars[varAction] == "install" {
			objects++
			assignments += len(SplitPattern(j.limit))
		}
	}
	return objects, assignments
}

// JobView is a job as a test inspects it.
type JobView struct {
	ID        int
	Status    string
	JobType   string // "run" or "check"
	Limit     string
	ExtraVars map[string]any
	Stdout    string
	Events    []Event
	Summaries []Summary
	RC        int
}

// Jobs returns every job, oldest first.
func (s *Server) Jobs() []JobView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]JobView, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, s.view(j))
	}
	return out
}

// Job returns job id.
func (s *Server) Job(id int) (JobView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.job(id)
	if j == nil {
		return JobView{}, false
	}
	return s.view(j), true
}

func (s *Server) view(j *job) JobView {
	v := JobView{ID: j.id, Status: j.status, JobType: j.jobType, Limit: j.limit, ExtraVars: j.vars, Stdout: j.stdout.String(), RC: j.rc}
	for _, e := range j.events {
		v.Events = append(v.Events, e.Event)
	}
	for _, h := range j.summaries {
		v.Summaries = append(v.Summaries, h.Summary)
	}
	return v
}

// WaitIdle waits until no job is pending or running, or ctx ends.
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		var wait chan struct{}
		for _, j := range s.jobs {
			if !finished(j.status) {
				wait = j.done
				break
			}
		}
		s.mu.Unlock()
		if wait == nil {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) job(id int) *job {
	for _, j := range s.jobs {
		if j.id == id {
			return j
		}
	}
	return nil
}

// Job statuses.
const (
	statusNew        = "new"
	statusPending    = "pending"
	statusWaiting    = "waiting"
	statusRunning    = "running"
	statusSuccessful = "successful"
	statusFailed     = "failed"
	statusError      = "error"
	statusCanceled   = "canceled"
)

func finished(status string) bool {
	switch status {
	case statusSuccessful, statusFailed, statusError, statusCanceled:
		return true
	}
	return false
}

// launch creates a job of template t and hands it to the dispatcher. The
// caller holds s.mu.
func (s *Server) launch(t *template, inv int, limit, jobType string, vars map[string]any, launchType string) *job {
	now := s.o.Now()
	text, _ := json.Marshal(vars)
	j := &job{id: s.next("job"), template: t.id, inventory: inv, name: t.spec.Name, playbook: t.spec.Playbook, limit: limit, jobType: jobType,
		extraVars: string(text), vars: vars, launchType: launchType, status: statusNew, created: now, modified: now,
		gate: make(chan struct{}), cancelled: make(chan struct{}), done: make(chan struct{})}
	for _, h := range s.hosts {
		if h.inventory == inv && h.enabled {
			var hv map[string]any
			if h.vars != "" {
				json.Unmarshal([]byte(h.vars), &hv)
			}
			j.hosts = append(j.hosts, Host{Name: h.name, Groups: slices.Clone(h.groups), Vars: hv})
		}
	}
	if s.o.StartPolls <= 0 {
		close(j.gate)
	}
	s.jobs = append(s.jobs, j)
	j.status = statusPending
	s.wg.Add(1)
	go s.dispatch(t, j)
	return j
}

// dispatch runs a job once its gate opens and its template has a free
// slot, as AWX's dispatcher does.
func (s *Server) dispatch(t *template, j *job) {
	defer s.wg.Done()
	defer close(j.done)
	end := func(status, why string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		j.status, j.explanation = status, why
		j.finished, j.modified = s.o.Now(), s.o.Now()
	}
	select {
	case <-j.gate:
	case <-j.cancelled:
		end(statusCanceled, "")
		return
	case <-s.ctx.Done():
		end(statusCanceled, "The simulator was stopped.")
		return
	}
	if !t.spec.AllowSimultaneous {
		s.mu.Lock()
		slot := s.slots[t.id]
		if slot == nil {
			slot = make(chan struct{}, 1)
			s.slots[t.id] = slot
		}
		s.mu.Unlock()
		select {
		case slot <- struct{}{}:
			defer func() { <-slot }()
		case <-j.cancelled:
			end(statusCanceled, "")
			return
		case <-s.ctx.Done():
			end(statusCanceled, "The simulator was stopped.")
			return
		}
	}
	s.mu.Lock()
	j.status = statusWaiting
	j.status, j.started, j.modified = statusRunning, s.o.Now(), s.o.Now()
	run := Run{Job: j.id, Playbook: j.playbook, JobType: j.jobType, Inventory: j.hosts, Limit: j.limit, ExtraVars: j.vars}
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go func() {
		select {
		case <-j.cancelled:
			cancel()
		case <-ctx.Done():
		}
	}()
	res, err := s.runner.Run(ctx, run, &jobSink{s: s, j: j})
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	for _, sum := range res.Summaries {
		hs := &hostSummary{id: s.next("summary"), created: now, Summary: sum}
		for _, h := range s.hosts {
			if h.inventory == j.inventory && h.name == sum.Host {
				hs.host = h.id
			}
		}
		j.summaries = append(j.summaries, hs)
	}
	j.rc, j.finished, j.modified = res.RC, now, now
	select {
	case <-j.cancelled:
		j.status = statusCanceled
		return
	default:
	}
	switch {
	case err != nil:
		j.status, j.explanation = statusError, err.Error()
	case res.Explanation != "":
		j.status, j.explanation = statusError, res.Explanation
	case res.RC != 0:
		j.status = statusFailed
	default:
		j.status = statusSuccessful
		for _, h := range res.Summaries {
			if h.Failed() {
				j.status = statusFailed
			}
		}
	}
}

type jobSink struct {
	s *Server
	j *job
}

func (k *jobSink) Event(e Event) {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	k.j.events = append(k.j.events, &jobEvent{id: k.s.next("event"), counter: len(k.j.events) + 1, created: k.s.o.Now(),
		uuid: fmt.Sprintf("%08x-0000-4000-8000-%012x", k.j.id, len(k.j.events)+1), Event: e})
}

func (k *jobSink) Stdout(text string) {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	k.j.stdout.WriteString(text)
}
