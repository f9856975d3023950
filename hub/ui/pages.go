package ui

import (
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

// The page types: what package hub reads from the state for each view.
// Every string in them is rendered as text by html/template, escaped for
// its context; none is ever marked as trusted HTML.

// NavItem is a link of the navigation bar.
type NavItem struct {
	Name, Href string
	Current    bool
}

// Layout is what every page of a session shows around its content.
type Layout struct {
	Title      string
	User, Role string
	Scope      string
	CSRF       string
	Nav        []NavItem
	Flash      string
	FlashError bool
	// Stale is set when the node read its local state without confirming
	// it leads (a follower): what it shows may lag the leader.
	Stale string
	Node  string
	Now   time.Time
}

// ErrorPage is a refused or failed request.
type ErrorPage struct {
	Layout
	Status  int
	Message string
}

// LoginPage is the login form.
type LoginPage struct {
	Layout // CSRF is the login form's token; no user, no navigation
	Error  string
}

// SortHeader is a sortable column heading of the Sites view.
type SortHeader struct {
	Label, Href string
	Current     bool
	Desc        bool
}

// SiteRow is one site of the Sites view: its sync status as GET
// /v1/sites/{name}/sync answers it, and the state the view filters on.
type SiteRow struct {
	api.SiteSync
	State string // one of SiteStates
}

// SitesPage is the Sites view.
type SitesPage struct {
	Layout
	Query   SitesQuery
	Classes []string
	States  []string
	Headers []SortHeader
	Rows    []SiteRow
	Total   int // sites in the caller's scope before filtering
	Plot    Plot
}

// Refusal is a refused import of a site's bundle, from its audit event.
type Refusal struct {
	Time   time.Time
	Code   string
	Reason string
	Actor  string
}

// SitePage is one site's page.
type SitePage struct {
	Layout
	Site          api.Site
	Sync          api.SiteSync
	State         string
	Exports       []api.Export
	ExportsHidden string // why the exports are not shown (the role may not read them)
	History       []api.Event
	Refusals      []Refusal
	HistoryHidden string
	Plot          Plot
}

// Control is an action button a role may use.
type Control struct {
	Name   string // pause, resume, rollback, promote
	Label  string
	Action string // the form's URL
	Reason bool   // the form asks for a reason
}

// RolloutRow is one ring of an application's rollout.
type RolloutRow struct {
	api.Rollout
	GateDecision *api.Decision
	Decisions    []api.Decision // the intent's decision records
	Controls     []Control
	SuccessRate  string
}

// AppRollouts is one application's rollouts, ring by ring.
type AppRollouts struct {
	AppID, Version string
	Rows           []RolloutRow
	Plot           Plot
}

// RolloutsPage is the Rollouts view.
type RolloutsPage struct {
	Layout
	Apps []AppRollouts
}

// CABItem is a submission waiting for a CAB decision.
type CABItem struct {
	Subject     string // KIND:ID, what an approval of it names
	Kind        string
	Title       string
	AppID       string
	AppName     string
	Version     string
	Ring        string
	RequestedBy string
	RequestedAt time.Time
	Scope       deploy.Scope
	Risk        *deploy.Assessment
	PackDigest  string
	Pack        *deploy.EvidencePack
	PackError   string
	Missing     []deploy.MissingItem
	Decisions   []api.Decision
	Rejections  []deploy.ApprovalRecord // earlier rejections of the subject
}

// ExceptionRow is an exception and when it expires.
type ExceptionRow struct {
	deploy.Exception
	Left string
}

// CABPage is the CAB queue.
type CABPage struct {
	Layout
	Items     []CABItem
	CanDecide bool
	Validity  []int
	Expiring  []ExceptionRow
	Horizon   string
}

// DriftGroup counts open drift for one site, plane or app.
type DriftGroup struct {
	Key   string
	Count int
}

// DriftPage is the Drift view.
type DriftPage struct {
	Layout
	Query   DriftQuery
	Rows    []api.Drift
	BySite  []DriftGroup
	ByPlane []DriftGroup
	ByApp   []DriftGroup
}

// ChainRow is one origin's event chain as the verifier saw it.
type ChainRow struct {
	Origin       string
	Events       uint64
	LastSequence uint64
	LastHash     string
	Status       string
	OK           bool
}

// AuditPage is the Audit view.
type AuditPage struct {
	Layout
	Query       AuditQuery
	Events      []api.Event
	Older       string // link to the page before, "" at the first event
	Searched    uint64 // events searched for the correlation id
	Chains      []ChainRow
	ChainError  string
	VerifiedTo  uint64
	ChainFailed bool
}
