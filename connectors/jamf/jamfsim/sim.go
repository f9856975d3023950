// Package jamfsim is a simulator of Jamf Pro as the jamf connector uses it:
// both token paths (an API client's OAuth client credentials at
// /api/oauth/token and /api/v1/oauth/token, a user's Basic login at
// /api/v1/auth/token with keep-alive and invalidate-token), the Jamf Pro
// API in JSON (packages with upload and an asynchronous SHA3-512 hash,
// scripts, smart computer groups and their membership, RSQL filters,
// page/page-size/sort paging with totalCount), and the Classic API in XML
// (policies, computer groups, computer history with policy logs, log
// flushes). Errors come in the shapes the service uses: the Jamf Pro API's
// {"httpStatus","errors":[...]} and the Classic API's HTML status page.
//
// Beyond the API it models what makes Jamf hard to drive safely: eventual
// consistency (objects invisible for N reads after create, a hash pending
// for N polls after upload), duplicate-name conflicts (switchable, since
// the 409 is unverified), XML strictness (Jamf ignores unknown elements;
// StrictXML refuses them), the Jamf Cloud ingress nodes a `jpro-ingress`
// cookie pins a client to, and the documented limit of 5 concurrent
// connections (observed always, refused with MaxConcurrent). Computers
// belong to groups and report policy logs after a policy reaches them
// (Completed by default, per-computer outcomes set by tests; with
// Options.Fleet, simulated computers that run policies at their
// check-ins, connectors/sim/fleet).
//
// Time in the simulator is counted in reads, not seconds: a computer runs
// a check-in policy on the CheckinPolls+1st read of its history, a hash
// shows on the HashPendingPolls+1st GET of its package by id. It does not
// evaluate smart group criteria (a smart group's members are given in
// Options or set with SetMembers); it answers the Classic API in XML only
// (Accept: application/json is not honoured); it does not model sites,
// categories, distribution points, policy triggers other than check-in and
// Self Service, the packages' manifest and export endpoints, computer
// inventory, or any Classic endpoint the connector does not call.
package jamfsim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/connectors/sim/fleet"
)

// Options configure a simulator. The zero value is a usable Jamf Pro with
// DefaultGroups and default credentials.
type Options struct {
	// PageSize is the most results one Jamf Pro API page holds (default
	// 100); a larger page-size is cut to it, and a request without
	// page-size gets it.
	PageSize int
	// ConsistencyDelay is the number of reads (GET by id or name, or a
	// list that would hold it) an object stays invisible after create.
	ConsistencyDelay int
	// HashPendingPolls is the number of GETs of a package after an upload
	// that still show no hashValue (default 0: the hash is there on the
	// first poll after the upload).
	HashPendingPolls int
	// AllowDuplicateNames makes the plane accept a second object with a
	// name already taken (the 409 Jamf answers is unverified, so the
	// connector must not depend on it).
	AllowDuplicateNames bool
	// StrictXML refuses Classic API bodies with unknown elements (Jamf
	// ignores them) with 400.
	StrictXML bool
	// StrictJSON refuses Jamf Pro API bodies with unknown fields with 400
	// INVALID_FIELD.
	StrictJSON bool
	// MaxConcurrent, when set, refuses a request that would make more
	// than this many in flight with 429 (Jamf documents at most 5).
	MaxConcurrent int
	// IngressNodes is the number of Jamf Cloud nodes behind the ingress
	// (default 1). A request without a valid jpro-ingress cookie lands on
	// the next node in turn and gets a cookie pinning it there.
	IngressNodes int
	// ReplicationLag is the number of reads an object stays invisible on
	// nodes other than the one that created it (default 3 when
	// IngressNodes > 1).
	ReplicationLag int
	// Groups are the computer groups and their computers (default
	// DefaultGroups()).
	Groups []Group
	// CheckinPolls is the number of reads of a computer's history before
	// it reports a policy that reaches it (default 0: the first read).
	CheckinPolls int
	// TokenLifetime is the lifetime of every token (default 20 minutes,
	// as Jamf Pro issues them).
	TokenLifetime time.Duration
	// Credentials a client must present (defaults: Default*).
	ClientID, ClientSecret, Username, Password string
	// Now is the simulator's clock (default time.Now).
	Now func() time.Time
	// Fleet, when set, is the computers instead of Groups: device i of
	// the fleet (in id order) is computer i+1 with its name, and each
	// fleet group is a static computer group named after it with the
	// id n+1, n its place in the sorted group names. A check-in policy
	// that reaches a computer (enabled, in scope, its logs flushed)
	// runs at the computer's first check-in by Now after that: its
	// policy log, dated at the check-in, is Completed, or Failed at the
	// fleet's rate for the release its package's notes name (an
	// uninstall script's run completes). Ongoing policies run once per
	// flush too. CheckinPolls does not apply. The fleet's admin API is
	// served under /_sim/fleet.
	Fleet *fleet.Fleet
}

// Default credentials.
const (
	DefaultClientID     = "eucora-sim-client"
	DefaultClientSecret = "eucora-sim-secret"
	DefaultUsername     = "eucora"
	DefaultPassword     = "eucora-sim-password"
)

// Group is a computer group the simulator starts with.
type Group struct {
	ID        int
	Name      string
	Smart     bool
	Computers []Computer
}

// Computer is a managed computer.
type Computer struct {
	ID   int
	Name string
}

// DefaultGroups are four groups: 1 "Ring 1 Canary" (static, computers
// 1-3), 2 "Ring 2 Pilot" (smart, 4-6), 3 "Ring 3 Department" (static,
// 7-10) and 4 "Kiosks" (static, computer 3, for exclusions).
func DefaultGroups() []Group {
	mk := func(from, to int) []Computer {
		var out []Computer
		for i := from; i <= to; i++ {
			out = append(out, Computer{ID: i, Name: fmt.Sprintf("mac-%03d", i)})
		}
		return out
	}
	return []Group{
		{ID: 1, Name: "Ring 1 Canary", Computers: mk(1, 3)},
		{ID: 2, Name: "Ring 2 Pilot", Smart: true, Computers: mk(4, 6)},
		{ID: 3, Name: "Ring 3 Department", Computers: mk(7, 10)},
		{ID: 4, Name: "Kiosks", Computers: mk(3, 3)},
	}
}

// Credentials is what a client needs to talk to the simulator.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Username     string `json:"username"`
	Password     string `json:"password"`
}

// Policy outcomes a computer reports in its policy logs.
const (
	Completed = "Completed"
	Failed    = "Failed"
	Pending   = "Pending"
)

// meta is what every stored object shares: its visibility after create.
type meta struct {
	id      int
	created time.Time
	hidden  int // reads left that miss it (ConsistencyDelay)
	node    int // the ingress node that created it
	lag     int // reads left that miss it on other nodes
}

// Server is one simulated Jamf Pro.
type Server struct {
	opt    Options
	faults sim.Faults
	tokens sim.Tokens

	mu        sync.Mutex
	next      map[string]int // the last id of each kind
	packages  map[int]*pkg
	scripts   map[int]*script
	policies  map[int]*policy
	groups    map[int]*group
	computers map[int]Computer
	logs      map[int][]policyLog // by computer
	seen      map[[2]int]int      // (computer, policy): history reads while scoped
	outcomes  map[int]string      // by computer
	revoked   map[string]bool
	fleet     *fleet.Fleet
	runs      map[[2]int]int // (computer, policy): fleet runs logged

	inflight, maxInflight, refused int
	unpinned, rr                   int

	handler http.Handler
}

// New returns a simulator with opt.
func New(opt Options) *Server {
	if opt.PageSize <= 0 {
		opt.PageSize = 100
	}
	if opt.IngressNodes <= 0 {
		opt.IngressNodes = 1
	}
	if opt.IngressNodes > 1 && opt.ReplicationLag == 0 {
		opt.ReplicationLag = 3
	}
	if opt.Fleet != nil {
		opt.Groups = fleetGroups(opt.Fleet)
	}
	if opt.Groups == nil {
		opt.Groups = DefaultGroups()
	}
	if opt.TokenLifetime <= 0 {
		opt.TokenLifetime = 20 * time.Minute
	}
	if opt.ClientID == "" {
		opt.ClientID, opt.ClientSecret = DefaultClientID, DefaultClientSecret
	}
	if opt.Username == "" {
		opt.Username, opt.Password = DefaultUsername, DefaultPassword
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Server{
		opt:       opt,
		packages:  map[int]*pkg{},
		scripts:   map[int]*script{},
		policies:  map[int]*policy{},
		groups:    map[int]*group{},
		computers: map[int]Computer{},
		logs:      map[int][]policyLog{},
		seen:      map[[2]int]int{},
		next:      map[string]int{},
		outcomes:  map[int]string{},
		revoked:   map[string]bool{},
		fleet:     opt.Fleet,
		runs:      map[[2]int]int{},
	}
	s.tokens.Lifetime = opt.TokenLifetime
	s.tokens.Now = opt.Now
	for _, g := range opt.Groups {
		ng := &group{meta: meta{id: g.ID, created: opt.Now()}, name: g.Name, smart: g.Smart}
		for _, c := range g.Computers {
			ng.members = append(ng.members, c.ID)
			s.computers[c.ID] = c
		}
		s.groups[g.ID] = ng
		s.next["group"] = max(s.next["group"], g.ID)
	}
	s.handler = fleet.Mount(s.observe(s.sticky(s.faults.Wrap(s.plane()))), opt.Fleet, opt.Now)
	return s
}

// Handler is the simulator's HTTP interface with the faults in front.
func (s *Server) Handler() http.Handler { return s.handler }

// Faults is the fault set in front of the plane.
func (s *Server) Faults() *sim.Faults { return &s.faults }

// Tokens is the token issuer.
func (s *Server) Tokens() *sim.Tokens { return &s.tokens }

// Credentials returns the credentials the simulator accepts.
func (s *Server) Credentials() Credentials {
	return Credentials{ClientID: s.opt.ClientID, ClientSecret: s.opt.ClientSecret, Username: s.opt.Username, Password: s.opt.Password}
}

var _ interface {
	Faults() *sim.Faults
	Tokens() *sim.Tokens
	Count(connectors.ReleaseKey) (int, int)
} = (*Server)(nil)

// Count reports the packages whose notes carry a correlation marker for
// k's AppKey, and the computer groups (included and excluded) in the scope
// of the package policies whose marker names k itself.
func (s *Server) Count(k connectors.ReleaseKey) (objects, assignments int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, rel := k.AppKey().String(), k.String()
	for _, p := range s.packages {
		if slices.Contains(markedReleases(p.Notes), app) {
			objects++
		}
	}
	for _, p := range s.policies {
		if len(p.Packages) > 0 && slices.Contains(markedReleases(p.SelfService.Description), rel) {
			assignments += len(p.Scope.Groups) + len(p.Scope.ExclGroups)
		}
	}
	return objects, assignments
}

// markedReleases returns the release keys named by the correlation markers
// in text ("eucora:correlation=ID release=KEY", any number of them).
func markedReleases(text string) []string {
	var out []string
	for _, f := range strings.Fields(text) {
		if k, ok := strings.CutPrefix(f, "release="); ok {
			out = append(out, k)
		}
	}
	return out
}

// Concurrency returns the most requests that were in flight at once and
// the number refused for going over MaxConcurrent.
func (s *Server) Concurrency() (maxInFlight, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInflight, s.refused
}

// InFlight returns the number of requests in flight now.
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight
}

// Unpinned returns the number of requests that came without a valid
// jpro-ingress cookie (and so were given one).
func (s *Server) Unpinned() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unpinned
}

// SetOutcome makes computer id report status ("Completed", "Failed",
// "Pending") for every policy that reaches it from now on.
func (s *Server) SetOutcome(computer int, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[computer] = status
}

// SetMembers replaces a group's computers (a smart group's criteria
// matching other computers, or an admin editing a static group).
func (s *Server) SetMembers(groupID int, computers ...Computer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupID]
	if g == nil {
		return fmt.Errorf("no computer group %d", groupID)
	}
	s.settleAll()
	g.members, g.set = nil, nil
	for _, c := range computers {
		s.computers[c.ID] = c
		g.members = append(g.members, c.ID)
	}
	s.rescopeAll()
	return nil
}

// PackageState is a package as a test sees it.
type PackageState struct {
	ID                   int
	Name, FileName       string
	Notes                string
	HashType, HashValue  string
	Uploads              int
	Content              []byte
	CloudTransferStatus  string
	PendingPollsAfterNow int
}

// Packages returns every package, by id.
func (s *Server) Packages() []PackageState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PackageState
	for _, id := range sortedKeys(s.packages) {
		p := s.packages[id]
		out = append(out, PackageState{ID: id, Name: p.PackageName, FileName: p.FileName, Notes: p.Notes,
			HashType: p.HashType, HashValue: p.HashValue, Uploads: p.uploads, Content: slices.Clone(p.content),
			CloudTransferStatus: p.CloudTransferStatus, PendingPollsAfterNow: p.pendingPolls})
	}
	return out
}

// PolicyState is a policy as a test sees it.
type PolicyState struct {
	ID          int
	Name        string
	Enabled     bool
	Checkin     bool
	Frequency   string
	Description string
	SelfService bool
	Groups      []int
	Excluded    []int
	Packages    []PolicyPackage
	Scripts     []int
	Flushes     int
}

// PolicyPackage is a package a policy acts on.
type PolicyPackage struct {
	ID     int
	Action string
}

// Policies returns every policy, by id.
func (s *Server) Policies() []PolicyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PolicyState
	for _, id := range sortedKeys(s.policies) {
		p := s.policies[id]
		st := PolicyState{ID: id, Name: p.Name, Enabled: p.Enabled, Checkin: p.TriggerCheckin, Frequency: p.Frequency,
			Description: p.SelfService.Description, SelfService: p.SelfService.Use, Groups: slices.Clone(p.Scope.Groups),
			Excluded: slices.Clone(p.Scope.ExclGroups), Scripts: slices.Clone(p.Scripts), Flushes: p.flushes}
		for _, pp := range p.Packages {
			st.Packages = append(st.Packages, PolicyPackage{ID: pp.id, Action: pp.action})
		}
		out = append(out, st)
	}
	return out
}

// GroupState is a computer group as a test sees it.
type GroupState struct {
	ID      int
	Name    string
	Smart   bool
	Members []int
}

// Groups returns every computer group, by id.
func (s *Server) Groups() []GroupState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []GroupState
	for _, id := range sortedKeys(s.groups) {
		g := s.groups[id]
		out = append(out, GroupState{ID: id, Name: g.name, Smart: g.smart, Members: slices.Clone(g.members)})
	}
	return out
}

// ScriptState is a script as a test sees it.
type ScriptState struct {
	ID       int
	Name     string
	Notes    string
	Contents string
}

// Scripts returns every script, by id.
func (s *Server) Scripts() []ScriptState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ScriptState
	for _, id := range sortedKeys(s.scripts) {
		sc := s.scripts[id]
		out = append(out, ScriptState{ID: id, Name: sc.Name, Notes: sc.Notes, Contents: sc.ScriptContents})
	}
	return out
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// newMeta returns the metadata of a new object of a kind ("package",
// "script", "policy", "group": each kind has its own ids, from 1) created
// now by a request routed to node.
func (s *Server) newMeta(kind string, node int) meta {
	s.next[kind]++
	return meta{id: s.next[kind], created: s.opt.Now(), hidden: s.opt.ConsistencyDelay, node: node, lag: s.opt.ReplicationLag}
}

// visible reports whether a read on node sees m, and counts the read
// against m's invisibility.
func (m *meta) visible(node int) bool {
	if m.hidden > 0 {
		m.hidden--
		return false
	}
	if node != m.node && m.lag > 0 {
		m.lag--
		return false
	}
	return true
}

// observe counts requests in flight and refuses those over MaxConcurrent.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.opt.MaxConcurrent > 0 && s.inflight >= s.opt.MaxConcurrent {
			s.refused++
			s.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			proError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS",
				fmt.Sprintf("more than %d concurrent connections", s.opt.MaxConcurrent), "")
			return
		}
		s.inflight++
		s.maxInflight = max(s.maxInflight, s.inflight)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inflight--
			s.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// ingressCookie is the Jamf Cloud sticky-session cookie.
const ingressCookie = "jpro-ingress"

type nodeKey struct{}

// sticky routes a request to the node its jpro-ingress cookie names, or
// to the next node in turn with a cookie pinning the client there.
func (s *Server) sticky(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node := -1
		if c, err := r.Cookie(ingressCookie); err == nil {
			if v, ok := strings.CutPrefix(c.Value, "node-"); ok {
				if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < s.opt.IngressNodes {
					node = n
				}
			}
		}
		if node < 0 {
			s.mu.Lock()
			node = s.rr % s.opt.IngressNodes
			s.rr++
			s.unpinned++
			s.mu.Unlock()
			http.SetCookie(w, &http.Cookie{Name: ingressCookie, Value: fmt.Sprintf("node-%d", node), Path: "/", HttpOnly: true, Secure: r.TLS != nil})
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nodeKey{}, node)))
	})
}

func nodeOf(r *http.Request) int {
	n, _ := r.Context().Value(nodeKey{}).(int)
	return n
}

// plane is the API behind the ingress: authentication, then the routes.
func (s *Server) plane() http.Handler {
	mux := http.NewServeMux()
	s.authRoutes(mux)
	s.proRoutes(mux)
	s.classicRoutes(mux)
	return mux
}
