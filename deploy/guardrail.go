package deploy

import (
	"fmt"
	"sort"
	"time"
)

// CheckTargetScope applies the segmentation guardrails of EUCORA-architecture.md section 5.4.1 to a
// deployment target: default deny; the target scope must be declared (at
// least an acquisition boundary: an enterprise-wide target crosses every
// boundary and is refused, one intent per boundary is needed) and valid;
// target ⊆ publisher scope; target ⊆ app scope.
func CheckTargetScope(target *Scope, publisher, app Scope) Decision {
	var j judge
	if target == nil {
		j.check("guardrail.scope-declared", false, "deployment intent declares no scope (mandatory: acquisition boundary, BU, site)")
		return j.decision()
	}
	if err := target.Validate(); err != nil {
		j.check("guardrail.scope-valid", false, fmt.Sprintf("target scope: %v", err))
		return j.decision()
	}
	j.check("guardrail.scope-declared", target.Acquisition != "", fmt.Sprintf("target scope %s names an acquisition boundary (default deny for cross-boundary targeting)", target))
	j.check("guardrail.within-publisher", publisher.Contains(*target), fmt.Sprintf("target scope %s ⊆ publisher scope %s", target, publisher))
	j.check("guardrail.within-app", app.Contains(*target), fmt.Sprintf("target scope %s ⊆ app allowed scope %s", target, app))
	return j.decision()
}

// Site is a site of the inventory, for blast-radius summaries.
type Site struct {
	Name    string `json:"name"`
	Scope   Scope  `json:"scope"` // the site's full scope (acquisition, BU, site)
	Devices int    `json:"devices"`
}

// BlastRadius summarises what a scope covers.
type BlastRadius struct {
	Sites   int `json:"sites"`
	BUs     int `json:"bus"`
	Devices int `json:"devices"`
}

// ScopeDiff is the previous -> requested scope of a change with its blast
// radius (EUCORA-architecture.md section 5.4.1: CAB evidence includes the scope diff and an explicit
// blast-radius summary).
type ScopeDiff struct {
	Previous     Scope       `json:"previous"`
	Requested    Scope       `json:"requested"`
	Change       string      `json:"change"` // "unchanged", "narrowed", "widened", "moved"
	Before       BlastRadius `json:"before"`
	After        BlastRadius `json:"after"`
	SitesAdded   []string    `json:"sites_added"`
	SitesRemoved []string    `json:"sites_removed"`
	Summary      string      `json:"summary"`
}

func coverage(s Scope, sites []Site) (BlastRadius, map[string]bool) {
	in := map[string]bool{}
	bus := map[string]bool{}
	var br BlastRadius
	for _, st := range sites {
		if s.Contains(st.Scope) {
			in[st.Name] = true
			bus[st.Scope.Acquisition+"/"+st.Scope.BU] = true
			br.Sites++
			br.Devices += st.Devices
		}
	}
	br.BUs = len(bus)
	return br, in
}

// DiffScope compares two scopes over a site inventory.
func DiffScope(prev, req Scope, sites []Site) ScopeDiff {
	d := ScopeDiff{Previous: prev, Requested: req, SitesAdded: []string{}, SitesRemoved: []string{}}
	var before, after map[string]bool
	d.Before, before = coverage(prev, sites)
	d.After, after = coverage(req, sites)
	for n := range after {
		if !before[n] {
			d.SitesAdded = append(d.SitesAdded, n)
		}
	}
	for n := range before {
		if !after[n] {
			d.SitesRemoved = append(d.SitesRemoved, n)
		}
	}
	sort.Strings(d.SitesAdded)
	sort.Strings(d.SitesRemoved)
	switch {
	case prev == req:
		d.Change = "unchanged"
	case prev.Contains(req):
		d.Change = "narrowed"
	case req.Contains(prev):
		d.Change = "widened"
	default:
		d.Change = "moved"
	}
	d.Summary = fmt.Sprintf("scope %s -> %s (%s): sites %d -> %d (+%d -%d), business units %d -> %d, devices %d -> %d",
		prev, req, d.Change, d.Before.Sites, d.After.Sites, len(d.SitesAdded), len(d.SitesRemoved), d.Before.BUs, d.After.BUs, d.Before.Devices, d.After.Devices)
	return d
}

// ChangeAppScope changes app's allowed scope (EUCORA-architecture.md section 5.4.1 "scope
// immutability"): it needs a CAB approval for ScopeChangeSubject(app.ID,
// app.ScopeVersion+1) that holds at time at, given for requester's request
// and not by requester (ApprovalRecord.CheckCABFor), and returns the application
// with the new scope and the next scope version, and the scope diff for the
// evidence pack. The input application is not modified.
func ChangeAppScope(app Application, requested Scope, requester string, approval *ApprovalRecord, sites []Site, at time.Time) (Application, ScopeDiff, Decision) {
	var j judge
	if err := requested.Validate(); err != nil {
		j.check("scope-change.valid", false, fmt.Sprintf("requested scope: %v", err))
		return app, ScopeDiff{}, j.decision()
	}
	j.check("scope-change.differs", requested != app.AllowedScope, fmt.Sprintf("requested scope %s differs from current %s", requested, app.AllowedScope))
	next := app.ScopeVersion + 1
	j.merge("", approval.CheckCABFor(ScopeChangeSubject(app.ID, next), requester, at))
	diff := DiffScope(app.AllowedScope, requested, sites)
	d := j.decision()
	if !d.Allowed {
		return app, diff, d
	}
	app.AllowedScope = requested
	app.ScopeVersion = next
	return app, diff, d
}
