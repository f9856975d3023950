// Package landscapesim is a simulator of Canonical Landscape's legacy query
// API (GET or POST form to /api/, version 2011-08-01) and of the REST v2
// access-key login and activities, for tests and `eucora sim serve`.
//
// It verifies every legacy request's signature version 2 exactly as the
// server does (package sigv2: the canonical query of the received
// parameters, the Host header, the path, HMAC-SHA256 with the key's
// secret) and refuses a wrong signature, an unknown or revoked key and a
// timestamp outside the window with Landscape's error shape
// {"error": CODE, "message": TEXT} and 401. A request may instead carry
// a JWT from POST /api/v2/login/access-key as a bearer token.
//
// It keeps state like the service: computers with tags and installed
// packages, stored scripts, package profiles (name derived from the
// title, constraints, tag associations), and activity groups with one
// child activity per computer that goes undelivered, delivered, then
// succeeded (or the outcome a test set for the computer) over Polls
// reads. A package change resolves its version from the package
// profiles associated with the computer, as Landscape's profiles pin
// packages; two profiles pinning different versions make it fail.
// Parameters are checked against the action's documented schema
// (unknown, missing and mistyped parameters are refused), lists page by
// limit and offset, and the documented error codes are answered
// (UnknownComputers, DuplicateScript, DuplicatePackageProfile,
// UnknownScript, UnknownPackageProfileName, ...).
//
// With Options.Fleet the computers are simulated devices
// (connectors/sim/fleet) whose activities end at their check-ins.
//
// Faults (connectors/sim) see a legacy request as "METHOD /api/ACTION"
// (POST /api/InstallPackages): the legacy API has one path, and the
// action is what routes it.
package landscapesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/connectors/sim/fleet"
)

// ComputerSpec is a computer the simulator starts with.
type ComputerSpec struct {
	Hostname string
	Tags     []string
	// Installed maps package names to installed versions.
	Installed map[string]string
}

// DefaultComputers are the computers a simulator without Options.Computers
// has: two or three per ring, tagged with the ring's tag (RingTags).
var DefaultComputers = []ComputerSpec{
	{Hostname: "lab-1", Tags: []string{"lab"}},
	{Hostname: "lab-2", Tags: []string{"lab"}},
	{Hostname: "canary-1", Tags: []string{"canary"}},
	{Hostname: "canary-2", Tags: []string{"canary"}},
	{Hostname: "pilot-1", Tags: []string{"pilot"}},
	{Hostname: "pilot-2", Tags: []string{"pilot"}},
	{Hostname: "pilot-3", Tags: []string{"pilot"}},
	{Hostname: "dept-1", Tags: []string{"department"}},
	{Hostname: "dept-2", Tags: []string{"department"}},
	{Hostname: "global-1", Tags: []string{"global-ring"}},
	{Hostname: "global-2", Tags: []string{"global-ring"}},
	{Hostname: "global-3", Tags: []string{"global-ring"}},
}

// RingTags are DefaultComputers' tags by ring (0 to 4).
var RingTags = []string{"lab", "canary", "pilot", "department", "global-ring"}

// Outcome is how a computer's activities end.
type Outcome struct {
	// Status is "succeeded" (default), "failed" or "canceled".
	Status     string
	ResultCode int
	ResultText string
}

// Options configure a simulator.
type Options struct {
	// Computers are the managed computers (default DefaultComputers).
	Computers []ComputerSpec
	// PageSize is the limit of a list action that names none (default
	// 1000, Landscape's).
	PageSize int
	// Polls is how many reads (GetActivities, REST v2) see a new child
	// activity pending, undelivered then delivered, before its outcome
	// (default 2; negative: 0, finished on the first read).
	Polls int
	// ConsistencyDelay is eventual consistency: a new script or package
	// profile is missing from the next ConsistencyDelay list answers
	// (GetScripts, GetPackageProfiles) that would show it, while reads by
	// id or name see it at once. (New activities pending for Polls reads
	// are the other delay.)
	ConsistencyDelay int
	// SignatureWindow is how far a signed request's timestamp may be from
	// the simulator's clock (default 15 minutes, AWS's; Landscape does
	// not document its own).
	SignatureWindow time.Duration
	// TokenLifetime is a REST v2 JWT's lifetime (default one hour).
	TokenLifetime time.Duration
	// Packages is the APT repository the computers install from:
	// package name to versions, oldest first. Nil: every package exists
	// at every version; an unpinned install takes the newest listed.
	Packages map[string][]string
	// AccessKey and SecretKey, when set, are the first API key (default
	// generated).
	AccessKey, SecretKey string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Fleet, when set, is the computers instead of Computers: device i
	// of the fleet (in id order) is computer i+1, its host name the
	// device's name and its tags the device's groups (a fleet group is a
	// tag). A child activity goes undelivered until the computer's first
	// check-in by Now after it was made (or its deliver_after), then
	// ends at that check-in: an install (or a run of a release's script)
	// fails at the fleet's rate for the release whose profile pins the
	// version (the script's marker), with result code 100 and dpkg's
	// error; a removal succeeds. Polls does not apply. The fleet's admin
	// API is served under /_sim/fleet.
	Fleet *fleet.Fleet
}

// Credentials are what a client needs: an access key and its secret.
type Credentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// Server is a simulated Landscape.
type Server struct {
	opts   Options
	faults sim.Faults
	tokens sim.Tokens
	tokMu  sync.Mutex // serializes Issue with the lifetime set for it

	mu        sync.Mutex
	nextID    int64
	computers []*computer
	scripts   []*script
	profiles  []*profile
	acts      []*activity
	byID      map[int64]*activity
	outcomes  map[string]Outcome
	keys      map[string]*apiKey
	current   string // the access key Credentials hands out
	byComp    map[int64]*computer

	fleet    *fleet.Fleet
	due      dueHeap           // fleet children not done, by check-in
	attempts map[[2]string]int // (computer id, app@version): installs asked
}

type computer struct {
	id        int64
	hostname  string
	tags      []string
	installed map[string]string
	created   time.Time
}

type script struct {
	id        int64
	title     string
	code      string
	timeLimit int
	username  string
	group     string
	created   time.Time
	hidden    int
}

type profile struct {
	id          int64
	name        string
	title       string
	description string
	group       string
	created     time.Time
	modified    time.Time
	version     int
	tags        []string
	all         bool
	constraints [][2]string
	hidden      int
}

type change struct {
	pkg, typ, install, remove string
}

type activity struct {
	id       int64
	parent   int64 // 0: a group
	computer int64 // 0: a group
	typ      string
	summary  string
	status   string // children only; a group's is derived
	code     *int
	text     *string
	created  time.Time
	after    time.Time // deliver_after
	delivery time.Time
	done     time.Time
	changes  []change
	script   int64
	polls    int
	outcome  Outcome
	children []*activity
	// order is what a fleet computer's child asks of it.
	order *fleet.Order
	// groups: what made it, for Count's duplicate detection
	action    string
	packages  string
	query     string
	sig       string
	redundant bool
}

type apiKey struct {
	secret string
	token  string // backs the key's validity: Tokens().ExpireAll revokes it
}

// New returns a simulator.
func New(o Options) *Server {
	if o.Fleet != nil {
		o.Computers = make([]ComputerSpec, o.Fleet.Len())
		for i := range o.Computers {
			d := o.Fleet.Device(i)
			o.Computers[i] = ComputerSpec{Hostname: d.Name, Tags: d.Groups}
		}
	}
	if o.Computers == nil {
		o.Computers = DefaultComputers
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.Polls == 0 {
		o.Polls = 2
	} else if o.Polls < 0 {
		o.Polls = 0
	}
	if o.SignatureWindow <= 0 {
		o.SignatureWindow = 15 * time.Minute
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = time.Hour
	}
	s := &Server{opts: o, byID: map[int64]*activity{}, outcomes: map[string]Outcome{}, keys: map[string]*apiKey{},
		byComp: map[int64]*computer{}, fleet: o.Fleet, attempts: map[[2]string]int{}}
	s.tokens.Now = o.Now
	for _, c := range o.Computers {
		s.nextID++
		inst := map[string]string{}
		for k, v := range c.Installed {
			inst[k] = v
		}
		s.computers = append(s.computers, &computer{id: s.nextID, hostname: c.Hostname, tags: slices.Clone(c.Tags), installed: inst, created: s.now()})
		s.byComp[s.nextID] = s.computers[len(s.computers)-1]
	}
	if o.AccessKey != "" && o.SecretKey != "" {
		s.keys[o.AccessKey] = &apiKey{secret: o.SecretKey, token: s.issue(keyLifetime)}
		s.current = o.AccessKey
	} else {
		s.mintKey()
	}
	return s
}

// keyLifetime: API keys do not expire; only Tokens().ExpireAll revokes
// them.
const keyLifetime = 100 * 365 * 24 * time.Hour

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now().UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

// issue hands out a token of the given lifetime.
func (s *Server) issue(life time.Duration) string {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	s.tokens.Lifetime = life
	v, _ := s.tokens.Issue()
	return v
}

// tokenValid asks Tokens whether a token it issued is still valid.
func (s *Server) tokenValid(v string) bool {
	return s.tokens.Valid(&http.Request{Header: http.Header{"Authorization": {"Bearer " + v}}})
}

// mintKey makes a new API key the current one; s.mu held or not yet
// shared.
func (s *Server) mintKey() {
	b := make([]byte, 20)
	rand.Read(b)
	secret := hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(secret))
	id := "EUCORASIM" + strings.ToUpper(hex.EncodeToString(sum[:]))[:11]
	s.keys[id] = &apiKey{secret: secret, token: s.issue(keyLifetime)}
	s.current = id
}

// Credentials returns the current API key. After Tokens().ExpireAll has
// revoked it, a new key is made (an administrator rotating the key): a
// client that asks again when refused gets the new one.
func (s *Server) Credentials() Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[s.current]; k == nil || !s.tokenValid(k.token) {
		s.mintKey()
	}
	return Credentials{AccessKey: s.current, SecretKey: s.keys[s.current].secret}
}

// Faults is the fault set in front of the simulator.
func (s *Server) Faults() *sim.Faults { return &s.faults }

// Tokens issues the REST v2 JWTs and backs the API keys' validity:
// ExpireAll expires every JWT and revokes every key issued so far.
func (s *Server) Tokens() *sim.Tokens { return &s.tokens }

type ctxKey struct{}

// legacyAction matches an action name.
var legacyAction = regexp.MustCompile(`^[A-Za-z]{1,64}$`)

// Handler is the simulator's HTTP handler with the faults in front.
func (s *Server) Handler() http.Handler {
	inner := s.faults.Wrap(http.HandlerFunc(s.serve))
	return fleet.Mount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/" && r.URL.Path != "/api" {
			inner.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "InvalidParameter", "the request body could not be read: "+err.Error())
			return
		}
		action := r.URL.Query().Get("action")
		if r.Method == http.MethodPost && action == "" {
			if f, err := url.ParseQuery(string(body)); err == nil {
				action = f.Get("action")
			}
		}
		orig := r.URL
		r2 := r.Clone(context.WithValue(r.Context(), ctxKey{}, orig))
		u := *orig
		if legacyAction.MatchString(action) {
			u.Path, u.RawPath = "/api/"+action, ""
		}
		r2.URL = &u
		r2.Body = io.NopCloser(bytes.NewReader(body))
		inner.ServeHTTP(w, r2)
	}), s.opts.Fleet, s.now)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if orig, ok := r.Context().Value(ctxKey{}).(*url.URL); ok {
		s.legacy(w, r, orig)
		return
	}
	switch {
	case r.URL.Path == "/api/v2/login/access-key":
		s.login(w, r)
	case r.URL.Path == "/api/v2/activities" || r.URL.Path == "/api/v2/activities/":
		s.restActivities(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/v2/activities/"):
		s.restActivity(w, r, strings.TrimPrefix(r.URL.Path, "/api/v2/activities/"))
	default:
		writeError(w, http.StatusNotFound, "NotFound", "no such resource: "+r.URL.Path)
	}
}

// Count reports the scripts made for the key's application version (its
// AppKey), and for the key: the tags associated with the profiles of the
// key's ring and scope that pin the key's version, plus every install
// activity group that repeated the one before it (same packages, query
// and versions while that one was still pending or had succeeded), the
// duplicates a lost answer would make.
func (s *Server) Count(k connectors.ReleaseKey) (objects, assignments int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	ak := " release=" + k.AppKey().String()
	for _, sc := range s.scripts {
		for _, line := range strings.Split(sc.code, "\n") {
			if strings.HasPrefix(line, "# eucora:correlation=") && (strings.HasSuffix(line, ak) || strings.Contains(line, ak+" ")) {
				objects++
				break
			}
		}
	}
	pkgs := map[string]bool{}
	for _, p := range s.profiles {
		rel, ok := markerRelease(p.description)
		if !ok || !sameFamily(rel, k) {
			continue
		}
		pins := false
		for _, c := range p.constraints {
			if f := strings.Fields(c[1]); c[0] == "depends" && len(f) == 3 && f[1] == "=" && f[2] == k.Version {
				pkgs[f[0]], pins = true, true
			}
		}
		if pins {
			assignments += len(p.tags)
		}
	}
	for _, g := range s.acts {
		if g.parent != 0 || !g.redundant || g.action != "InstallPackages" {
			continue
		}
		for _, c := range g.children {
			if len(c.changes) > 0 && pkgs[c.changes[0].pkg] && c.changes[0].install == k.Version {
				assignments++
				break
			}
		}
	}
	return objects, assignments
}

// markerRelease reads the release key text of a correlation marker.
func markerRelease(text string) (string, bool) {
	if !strings.HasPrefix(text, "eucora:correlation=") {
		return "", false
	}
	_, rest, ok := strings.Cut(text, " release=")
	if !ok {
		return "", false
	}
	rel, _, _ := strings.Cut(rest, " ")
	return rel, rel != ""
}

// sameFamily reports whether a key text names k's app, ring and scope.
func sameFamily(rel string, k connectors.ReleaseKey) bool {
	i := strings.LastIndex(rel, "/ring-")
	at := strings.LastIndex(rel[:max(i, 0)], "@")
	if i < 0 || at < 0 {
		return false
	}
	want := k.String()
	j := strings.LastIndex(want, "/ring-")
	wat := strings.LastIndex(want[:j], "@")
	return rel[:at] == want[:wat] && rel[i:] == want[j:]
}

// SetOutcome makes the activities a computer completes from now on end
// with o (a zero Outcome restores success).
func (s *Server) SetOutcome(hostname string, o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Status == "" {
		delete(s.outcomes, hostname)
		return
	}
	s.outcomes[hostname] = o
}

// ComputerState is a computer as a test sees it.
type ComputerState struct {
	ID        int64
	Hostname  string
	Tags      []string
	Installed map[string]string
}

// Computers returns the computers, by id.
func (s *Server) Computers() []ComputerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	var out []ComputerState
	for _, c := range s.computers {
		inst := map[string]string{}
		for k, v := range c.installed {
			inst[k] = v
		}
		out = append(out, ComputerState{ID: c.id, Hostname: c.hostname, Tags: slices.Clone(c.tags), Installed: inst})
	}
	return out
}

// ProfileState is a package profile as a test sees it.
type ProfileState struct {
	ID          int64
	Name, Title string
	Description string
	Tags        []string
	Constraints []string // "depends pkg = 1.0"
}

// Profiles returns the package profiles, by id.
func (s *Server) Profiles() []ProfileState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ProfileState
	for _, p := range s.profiles {
		ps := ProfileState{ID: p.id, Name: p.name, Title: p.title, Description: p.description, Tags: slices.Clone(p.tags)}
		for _, c := range p.constraints {
			ps.Constraints = append(ps.Constraints, c[0]+" "+c[1])
		}
		out = append(out, ps)
	}
	return out
}

// ScriptState is a stored script as a test sees it.
type ScriptState struct {
	ID    int64
	Title string
	Code  string
}

// Scripts returns the stored scripts, by id.
func (s *Server) Scripts() []ScriptState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ScriptState
	for _, sc := range s.scripts {
		out = append(out, ScriptState{ID: sc.id, Title: sc.title, Code: sc.code})
	}
	return out
}

// GroupState is an activity group as a test sees it.
type GroupState struct {
	ID       int64
	Action   string // InstallPackages, RemovePackages, UpgradePackages, ExecuteScript
	Packages string // comma-separated
	Query    string
	Summary  string
	Status   string
	// Computers maps hostnames to their child activity's status.
	Computers map[string]string
}

// Groups returns the activity groups, by id, without counting as a read.
func (s *Server) Groups() []GroupState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	var out []GroupState
	for _, g := range s.acts {
		if g.parent != 0 {
			continue
		}
		gs := GroupState{ID: g.id, Action: g.action, Packages: g.packages, Query: g.query, Summary: g.summary, Status: s.groupStatus(g),
			Computers: map[string]string{}}
		for _, c := range g.children {
			gs.Computers[s.computer(c.computer).hostname] = c.status
		}
		out = append(out, gs)
	}
	return out
}

func (s *Server) computer(id int64) *computer {
	if c := s.byComp[id]; c != nil {
		return c
	}
	return &computer{id: id}
}

// tagsInUse are the tags computers and profiles carry.
func (s *Server) tagsInUse() map[string]bool {
	out := map[string]bool{}
	for _, c := range s.computers {
		for _, t := range c.tags {
			out[t] = true
		}
	}
	for _, p := range s.profiles {
		for _, t := range p.tags {
			out[t] = true
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
