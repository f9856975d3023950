// Package sccmsim simulates a Configuration Manager site's AdminService
// (the SMS Provider's REST API, WMI route) closely enough for the sccm
// connector and other AdminService clients to run against it unchanged:
//
//   - routes /AdminService/wmi/<Class> with case-insensitive class names,
//     keys in parentheses (numeric and quoted), instance methods
//     POST /wmi/Class('key')/AdminService.Method and class methods
//     POST /wmi/Class.Method; PATCH and DELETE on keyed instances;
//   - OData collections {"@odata.context","value":[...]} (a GET by key
//     answers a collection of one, as the WMI route does), $filter with
//     eq, ne and and (anything else is refused in the OData error shape
//     {"error":{"code","message"}}), $select, $top and $skip, and
//     @odata.nextLink at Options.PageSize; lazy properties
//     (SDMPackageXML, CollectionRules) only in a GET by key;
//   - request bodies checked against each class: unknown properties,
//     wrong types, missing required ones and unknown @odata.type refused
//     with 400;
//   - SMS_Application from a validated SDMPackageXML (well formed, the
//     site's authoring scope, a title, a deployment type with an install
//     command, a detection method and a UNC content location), unique
//     ModelName and LocalizedDisplayName (409), revisions by POST to
//     SMS_Application(<CI_ID>) with a new CI_ID, CIVersion+1 and IsLatest;
//   - a content package (SMS_ContentPackage, SecurityKey = ModelName) per
//     application, distribution to DP groups with MessageState 2 turning
//     1 (or 3/4 when configured) after Options.DistributionPolls reads;
//   - collections with direct, include, exclude and query rules whose
//     membership is evaluated on RequestRefresh, limited to the limiting
//     collection; unique names;
//   - application deployments with a unique AssignmentUniqueID and no
//     install and uninstall deployment of one application to one
//     collection;
//   - per-device deployment state (SMS_AppDeploymentAssetDetails) for the
//     members of each deployment's collection: in progress for
//     Options.InstallPolls reads once the content is distributed, then the
//     device's outcome (success unless set), or failed to locate content
//     when distribution failed;
//   - with Options.Fleet, simulated devices (connectors/sim/fleet) in
//     collections named after the fleet's groups, which report a
//     deployment at their check-ins by the site's clock;
//   - eventual consistency: a GET by key answers 404 for the first
//     Options.ConsistencyDelay GETs after a create, and a new application's
//     content package appears in queries after that many reads;
//   - an Entra ID style token endpoint (client credentials) and bearer
//     tokens that expire (connectors/sim.Tokens), with the faults of
//     connectors/sim in front.
//
// Not modelled: Windows integrated auth, the /AdminService/v1.0 route,
// query-rule evaluation (a query rule reaches no device), nested include
// cycles beyond a collection including itself, maintenance windows,
// requirement rules, dependencies, user collections and user-targeted
// deployments, SMS_DeploymentSummary, application retirement and deletion.
package sccmsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/connectors/sim/fleet"
)

// Device is one client of the site (an SMS_R_System resource).
type Device struct {
	ResourceID int64
	Name       string
}

// Collection is a collection that exists when the simulator starts, with
// its members (direct rules).
type Collection struct {
	ID      string
	Name    string
	Members []int64
}

// DPGroup is a distribution point group.
type DPGroup struct {
	GroupID string // "{GUID}"
	Name    string
}

// Outcome is what a device reports for a deployment once it has acted:
// AppStatusType (1 success, 2 in progress, 3 requirements not met,
// 4 unknown, 5 error), EnforcementState (1000, 2000, 3000, 4000, 5000
// families) and an error code.
type Outcome struct {
	AppStatusType    int
	EnforcementState int
	ErrorCode        int64
}

// Options configure a simulator. Zero values take the defaults in
// brackets.
type Options struct {
	// PageSize is the most objects per answer before an
	// @odata.nextLink [50].
	PageSize int
	// ConsistencyDelay is how many GETs by key answer 404 right after an
	// object is created, and how many queries miss a new application's
	// content package [0].
	ConsistencyDelay int
	// SiteCode [PS1] and SiteID ({GUID}) [a fixed GUID] of the site.
	SiteCode string
	SiteID   string
	// TenantID, ClientID, ClientSecret and Scope are what the token
	// endpoint accepts [fixed values; Scope "https://ConfigMgrService/.default"].
	TenantID, ClientID, ClientSecret, Scope string
	// TokenLifetime of issued tokens [1 h].
	TokenLifetime time.Duration
	// Devices are the site's clients [PC-0001..PC-0006, ResourceIDs
	// 16777220..16777225].
	Devices []Device
	// Collections exist at start besides All Systems (SMS00001)
	// [PS100010 "Pilot workstations" with the first three devices].
	Collections []Collection
	// DPGroups are the distribution point groups [one, "All DPs"].
	DPGroups []DPGroup
	// DistributionPolls is how many status reads a distribution stays in
	// progress (MessageState 2) [1; negative: none]; DistributionFailure, 3 or 4, is the
	// MessageState it then ends in instead of 1 (success).
	DistributionPolls   int
	DistributionFailure int
	// InstallPolls is how many status reads a device stays in progress
	// once the content is there [1; negative: none].
	InstallPolls int
	// Outcomes are devices' outcomes by name [success].
	Outcomes map[string]Outcome
	// Now is the clock [time.Now].
	Now func() time.Time
	// Fleet, when set, is the site's clients instead of Devices and
	// Collections: device i of the fleet (in id order) is ResourceID
	// FleetResourceBase+i with its name, and each fleet group is a
	// device collection named after it with the id SITE + five hex
	// digits from 0x00100 in the order of the sorted group names
	// (Credentials.FleetCollections maps names to ids), its members the
	// group's, its rules fixed. A device of a deployment's collection is
	// in progress until its first check-in by Now after the deployment
	// (or its joining the collection, a new revision, or a machine
	// policy retrieval), then succeeds or fails (EnforcementState 5002,
	// 0x80070643) at the fleet's rate for the release in the
	// application's comment, at the check-in's time; an uninstall
	// deployment succeeds. InstallPolls and Outcomes do not apply. The
	// fleet's admin API is served under /_sim/fleet.
	Fleet *fleet.Fleet
}

// FleetResourceBase is the ResourceID of a fleet's first device.
const FleetResourceBase = 16777220

// Default fixture ids.
const (
	DefaultSiteID       = "{3F2504E0-4F89-41D3-9A0C-0305E82C3301}"
	DefaultCollectionID = "PS100010"
	DefaultDPGroupID    = "{9B1D6C54-6B52-4A3C-8A6B-3E9E2B1F0A11}"
)

// Credentials is what a client needs to reach the simulator (paths are
// relative to its URL).
type Credentials struct {
	TenantID     string `json:"tenant_id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope"`
	// TokenPath is the token endpoint ("/<tenant>/oauth2/v2.0/token").
	TokenPath string `json:"token_path"`
	// BasePath is the AdminService root ("/AdminService").
	BasePath string `json:"base_path"`
	SiteCode string `json:"site_code"`
	SiteID   string `json:"site_id"`
	// DistributionPointGroups are the DP groups' GroupIDs.
	DistributionPointGroups []string `json:"distribution_point_groups"`
	// Collections and Devices are the ids a release may target (with a
	// fleet, the fleet's collections and no devices).
	Collections []string `json:"collections"`
	Devices     []int64  `json:"devices"`
	// FleetCollections maps each fleet group to its collection's id.
	FleetCollections map[string]string `json:"fleet_collections,omitempty"`
}

type application struct {
	ciID      int64
	modelName string
	ciVersion int64
	latest    bool
	isHidden  bool
	info      sdmInfo
	xml       string
	created   time.Time
	modified  time.Time
	hidden    int
}

type contentPackage struct {
	id, name, securityKey string
	sourceVersion         int64
	pending               int
	updated               time.Time
}

type distribution struct {
	groupID, packageID, objectID string
	reads                        int
	state                        int64
	updated                      time.Time
}

type collection struct {
	id, name, comment        string
	ctype, refreshType       int64
	limitTo                  string
	builtin                  bool
	rules                    []map[string]any
	members                  []int64
	changed, refreshed       time.Time
	memberChanged, createdAt time.Time
	hidden                   int
	nextQueryID              int64
	// fleetGroup names the fleet group whose devices the collection
	// holds; since is when each member joined (with a fleet).
	fleetGroup string
	since      map[int64]time.Time
}

type assignment struct {
	id       int64
	props    body
	appCI    int64
	coll     string
	desired  int64
	created  time.Time
	modified time.Time
	hidden   int
	// rerun is when the devices were last told to evaluate the
	// deployment again, attempt the count of those times plus one (with
	// a fleet).
	rerun   time.Time
	attempt int
}

type deviceKey struct{ assignment, resource int64 }

// Server is one simulated site.
type Server struct {
	opt    Options
	faults sim.Faults
	tokens sim.Tokens
	scope  string

	mu          sync.Mutex
	last        time.Time
	apps        []*application
	nextCI      int64
	packages    []*contentPackage
	nextPackage int
	dists       []*distribution
	collections []*collection
	nextColl    int
	assignments []*assignment
	nextAsg     int64
	devices     []Device
	devIndex    map[int64]int
	devStates   map[deviceKey]int
	outcomes    map[string]Outcome
	clientOps   []map[string]any
	fleet       *fleet.Fleet
}

// New starts a simulated site.
func New(o Options) *Server {
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.SiteCode == "" {
		o.SiteCode = "PS1"
	}
	if o.SiteID == "" {
		o.SiteID = DefaultSiteID
	}
	if o.TenantID == "" {
		o.TenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	}
	if o.ClientID == "" {
		o.ClientID = "6731de76-14a6-49ae-97bc-6eba6914391e"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "eucora-sim-secret"
	}
	if o.Scope == "" {
		o.Scope = "https://ConfigMgrService/.default"
	}
	if o.Fleet != nil {
		o.Devices, o.Collections = make([]Device, o.Fleet.Len()), []Collection{}
		for i := range o.Devices {
			o.Devices[i] = Device{ResourceID: FleetResourceBase + int64(i), Name: o.Fleet.Device(i).Name}
		}
	}
	if o.Devices == nil {
		for i := range 6 {
			o.Devices = append(o.Devices, Device{ResourceID: 16777220 + int64(i), Name: fmt.Sprintf("PC-%04d", i+1)})
		}
	}
	if o.Collections == nil {
		o.Collections = []Collection{{ID: DefaultCollectionID, Name: "Pilot workstations", Members: []int64{16777220, 16777221, 16777222}}}
	}
	if o.DPGroups == nil {
		o.DPGroups = []DPGroup{{GroupID: DefaultDPGroupID, Name: "All DPs"}}
	}
	if o.DistributionPolls == 0 {
		o.DistributionPolls = 1
	}
	if o.InstallPolls == 0 {
		o.InstallPolls = 1
	}
	o.DistributionPolls, o.InstallPolls = max(o.DistributionPolls, 0), max(o.InstallPolls, 0)
	s := &Server{opt: o, nextCI: 16777217, nextPackage: 0x10, nextColl: 0x100, nextAsg: 16777217,
		devStates: map[deviceKey]int{}, outcomes: map[string]Outcome{}, devices: slices.Clone(o.Devices), fleet: o.Fleet,
		devIndex: make(map[int64]int, len(o.Devices))}
	for i, d := range s.devices {
		if _, dup := s.devIndex[d.ResourceID]; !dup {
			s.devIndex[d.ResourceID] = i
		}
	}
	s.scope = "ScopeId_" + strings.ToUpper(strings.Trim(o.SiteID, "{}"))
	s.tokens.Lifetime = o.TokenLifetime
	s.tokens.Now = o.Now
	for k, v := range o.Outcomes {
		s.outcomes[k] = v
	}
	now := s.now()
	all := &collection{id: "SMS00001", name: "All Systems", comment: "All Systems", ctype: 2, refreshType: 2, builtin: true,
		changed: now, createdAt: now}
	for _, d := range s.devices {
		all.members = append(all.members, d.ResourceID)
	}
	all.refreshed, all.memberChanged = now, now
	s.collections = append(s.collections, all)
	for _, c := range o.Collections {
		col := &collection{id: c.ID, name: c.Name, ctype: 2, refreshType: 2, limitTo: "SMS00001", changed: now, createdAt: now}
		for _, m := range c.Members {
			name := fmt.Sprint(m)
			if d, ok := s.device(m); ok {
				name = d.Name
			}
			col.rules = append(col.rules, map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleDirect",
				"ResourceClassName": "SMS_R_System", "ResourceID": m, "RuleName": name})
		}
		s.collections = append(s.collections, col)
		s.refresh(col)
	}
	s.fleetCollections()
	return s
}

// now is the site's clock, strictly increasing so that a change and a
// refresh never share a time stamp.
func (s *Server) now() time.Time {
	t := time.Now()
	if s.opt.Now != nil {
		t = s.opt.Now()
	}
	t = t.UTC().Truncate(time.Microsecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Microsecond)
	}
	s.last = t
	return t
}

// Faults is the fault set in front of the site.
func (s *Server) Faults() *sim.Faults { return &s.faults }

// Tokens is the token issuer.
func (s *Server) Tokens() *sim.Tokens { return &s.tokens }

// Credentials says how to reach the simulator.
func (s *Server) Credentials() Credentials {
	c := Credentials{TenantID: s.opt.TenantID, ClientID: s.opt.ClientID, ClientSecret: s.opt.ClientSecret, Scope: s.opt.Scope,
		TokenPath: "/" + s.opt.TenantID + "/oauth2/v2.0/token", BasePath: "/AdminService", SiteCode: s.opt.SiteCode, SiteID: s.opt.SiteID}
	for _, g := range s.opt.DPGroups {
		c.DistributionPointGroups = append(c.DistributionPointGroups, g.GroupID)
	}
	for _, col := range s.opt.Collections {
		c.Collections = append(c.Collections, col.ID)
	}
	if s.fleet != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		c.FleetCollections = map[string]string{}
		for _, col := range s.collections {
			if col.fleetGroup != "" {
				c.Collections = append(c.Collections, col.id)
				c.FleetCollections[col.fleetGroup] = col.id
			}
		}
		return c
	}
	for _, d := range s.opt.Devices {
		c.Devices = append(c.Devices, d.ResourceID)
	}
	return c
}

// Handler is the site's HTTP API with the faults in front (and, with a
// Fleet, the fleet's admin API under /_sim/fleet, without faults or
// tokens).
func (s *Server) Handler() http.Handler {
	return fleet.Mount(s.faults.Wrap(http.HandlerFunc(s.serve)), s.opt.Fleet, func() time.Time {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.now()
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/"+s.opt.TenantID+"/oauth2/v2.0/token" {
		s.serveToken(w, r)
		return
	}
	low := strings.ToLower(p)
	if !strings.HasPrefix(low, "/adminservice/") {
		writeError(w, notFound("No HTTP resource was found that matches the request URI '%s'.", p))
		return
	}
	if !s.tokens.Valid(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="AdminService"`)
		writeError(w, errorf(http.StatusUnauthorized, "Unauthorized", "Authorization has been denied for this request."))
		return
	}
	switch {
	case strings.HasPrefix(low, "/adminservice/wmi/"):
		s.serveWMI(w, r, p[len("/adminservice/wmi/"):])
	case strings.HasPrefix(low, "/adminservice/v1.0/") || low == "/adminservice/v1.0":
		writeError(w, errorf(http.StatusNotImplemented, "NotImplemented", "The simulator does not model the /AdminService/v1.0 route."))
	default:
		writeError(w, notFound("No HTTP resource was found that matches the request URI '%s'.", p))
	}
}

// serveToken is an Entra ID style token endpoint for the client
// credentials grant.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]any{"error": code, "error_description": desc, "error_codes": []int{}, "timestamp": s.now().Format(time.DateTime)})
	}
	if r.Method != http.MethodPost {
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "AADSTS900561: The endpoint only accepts POST requests.")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
	case r.PostForm.Get("client_id") != s.opt.ClientID:
		oauthErr(http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application with identifier '"+r.PostForm.Get("client_id")+"' was not found in the directory.")
	case r.PostForm.Get("client_secret") != s.opt.ClientSecret:
		oauthErr(http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
	case r.PostForm.Get("scope") != s.opt.Scope:
		oauthErr(http.StatusBadRequest, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.")
	default:
		tok, life := s.tokens.Issue()
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(life.Seconds()),
			"ext_expires_in": int(life.Seconds()), "access_token": tok})
	}
}

// ----- state inspection for tests -----

// Count reports the latest applications that are the key's application
// version (by ModelName or by the release in their comment) and the
// assignments of the key: for each install deployment of that
// application to a collection whose comment names the key, the
// collection's membership rules. A duplicate application, deployment or
// rule shows.
func (s *Server) Count(k connectors.ReleaseKey) (objects, assignments int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ak := k.AppKey()
	mine := map[int64]bool{}
	names := map[string]bool{}
	for _, a := range s.apps {
		if strings.HasSuffix(a.modelName, "/Application_"+ak.UUID()) || markerRelease(a.info.Description) == ak.String() {
			mine[a.ciID] = true
			if a.latest {
				names[a.modelName] = true
			}
		}
	}
	for _, asg := range s.assignments {
		if asg.desired != 1 || !mine[asg.appCI] {
			continue
		}
		col := s.collection(asg.coll)
		if col != nil && markerRelease(col.comment) == k.String() {
			assignments += len(col.rules)
		}
	}
	return len(names), assignments
}

func markerRelease(text string) string {
	_, rest, ok := strings.Cut(text, " release=")
	if !ok {
		return ""
	}
	rel, _, _ := strings.Cut(rest, " ")
	return rel
}

// Application is a summary of one application revision.
type Application struct {
	CIID        int64
	ModelName   string
	CIVersion   int64
	IsLatest    bool
	Title       string
	Description string
	Supersedes  []string // deployment types
	XML         string
}

// Applications lists every application revision.
func (s *Server) Applications() []Application {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Application
	for _, a := range s.apps {
		out = append(out, Application{CIID: a.ciID, ModelName: a.modelName, CIVersion: a.ciVersion, IsLatest: a.latest,
			Title: a.info.Title, Description: a.info.Description, Supersedes: slices.Clone(a.info.SupersedesDTs), XML: a.xml})
	}
	return out
}

// Deployment is a summary of one application deployment.
type Deployment struct {
	AssignmentID       int64
	AssignmentName     string
	TargetCollectionID string
	CIID               int64
	DesiredConfigType  int64
	OfferTypeID        int64
	Enabled            bool
}

// Deployments lists every application deployment.
func (s *Server) Deployments() []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Deployment
	for _, a := range s.assignments {
		out = append(out, Deployment{AssignmentID: a.id, AssignmentName: a.props.str("AssignmentName"), TargetCollectionID: a.coll,
			CIID: a.appCI, DesiredConfigType: a.desired, OfferTypeID: a.props.int("OfferTypeID", 0), Enabled: a.props.bool("Enabled", true)})
	}
	return out
}

// Members returns a collection's members as of its last refresh, and
// whether the collection exists.
func (s *Server) Members(collectionID string) ([]int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.collection(collectionID)
	if c == nil {
		return nil, false
	}
	return slices.Clone(c.members), true
}

// Rules returns a collection's membership rules.
func (s *Server) Rules(collectionID string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.collection(collectionID)
	if c == nil {
		return nil
	}
	out := make([]map[string]any, len(c.rules))
	for i, r := range c.rules {
		out[i] = map[string]any{}
		for k, v := range r {
			out[i][k] = v
		}
	}
	return out
}

// CollectionByName returns the id of the collection of that name.
func (s *Server) CollectionByName(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.collections {
		if strings.EqualFold(c.name, name) {
			return c.id, true
		}
	}
	return "", false
}

// SetOutcome sets what a device (by name) reports for deployments from
// now on.
func (s *Server) SetOutcome(device string, o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[device] = o
}

// SetDistributionFailure makes distributions still in progress end in
// MessageState 3 or 4 (0: success).
func (s *Server) SetDistributionFailure(state int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.DistributionFailure = state
}

// ClientOperations lists the InitiateClientOperation calls made.
func (s *Server) ClientOperations() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.clientOps)
}

// ----- helpers over the state (callers hold mu) -----

func (s *Server) device(id int64) (Device, bool) {
	if i, ok := s.devIndex[id]; ok {
		return s.devices[i], true
	}
	return Device{}, false
}

func (s *Server) collection(id string) *collection {
	for _, c := range s.collections {
		if strings.EqualFold(c.id, id) {
			return c
		}
	}
	return nil
}

func (s *Server) app(ci int64) *application {
	for _, a := range s.apps {
		if a.ciID == ci {
			return a
		}
	}
	return nil
}

func (s *Server) latestApp(modelName string) *application {
	for _, a := range s.apps {
		if a.latest && strings.EqualFold(a.modelName, modelName) {
			return a
		}
	}
	return nil
}

func (s *Server) packageOf(modelName string) *contentPackage {
	for _, p := range s.packages {
		if strings.EqualFold(p.securityKey, modelName) {
			return p
		}
	}
	return nil
}

// refresh evaluates a collection's membership from its rules.
func (s *Server) refresh(c *collection) {
	if c.fleetGroup != "" {
		s.refreshFleet(c)
		return
	}
	in := map[int64]bool{}
	for _, r := range c.rules {
		switch r["@odata.type"] {
		case "#AdminService.SMS_CollectionRuleDirect":
			in[r["ResourceID"].(int64)] = true
		case "#AdminService.SMS_CollectionRuleIncludeCollection":
			if inc := s.collection(r["IncludeCollectionID"].(string)); inc != nil {
				for _, m := range inc.members {
					in[m] = true
				}
			}
		}
	}
	for _, r := range c.rules {
		if r["@odata.type"] == "#AdminService.SMS_CollectionRuleExcludeCollection" {
			if ex := s.collection(r["ExcludeCollectionID"].(string)); ex != nil {
				for _, m := range ex.members {
					delete(in, m)
				}
			}
		}
	}
	if lim := s.collection(c.limitTo); lim != nil {
		allowed := map[int64]bool{}
		for _, m := range lim.members {
			allowed[m] = true
		}
		for m := range in {
			if !allowed[m] {
				delete(in, m)
			}
		}
	}
	var members []int64
	for m := range in {
		members = append(members, m)
	}
	slices.Sort(members)
	now := s.now()
	if !slices.Equal(members, c.members) {
		c.memberChanged = now
	}
	c.members, c.refreshed = members, now
	if s.fleet != nil {
		s.joined(c, now)
	}
}

// contentState says whether an application's content reached a DP group:
// "ok", "failed" (every distribution failed) or "waiting".
func (s *Server) contentState(a *application, tick bool) string {
	p := s.packageOf(a.modelName)
	if p == nil {
		return "waiting"
	}
	failed, any := 0, 0
	for _, d := range s.dists {
		if d.packageID != p.id {
			continue
		}
		if tick {
			s.tickDistribution(d)
		}
		any++
		switch d.state {
		case 1:
			return "ok"
		case 3, 4:
			failed++
		}
	}
	if any > 0 && failed == any {
		return "failed"
	}
	return "waiting"
}

func (s *Server) tickDistribution(d *distribution) {
	d.reads++
	if d.state == 2 && d.reads > s.opt.DistributionPolls {
		d.state = 1
		if f := s.opt.DistributionFailure; f == 3 || f == 4 {
			d.state = int64(f)
		}
		d.updated = s.now()
	}
}

func guidOf(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	h := strings.ToUpper(hex.EncodeToString(sum[:16]))
	return "{" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32] + "}"
}
