package sccmsim

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors/sim/fleet"
)

// fleetErrorCode is what a fleet device's failed install reports:
// 0x80070643, MSI's fatal error during installation (exit code 1603).
const fleetErrorCode = -2147023293

// fleetCollections makes a collection of each fleet group (callers hold
// mu or own the server).
func (s *Server) fleetCollections() {
	if s.fleet == nil {
		return
	}
	now := s.now()
	for _, g := range s.fleet.Groups() {
		c := &collection{id: fmt.Sprintf("%s%05X", s.opt.SiteCode, s.nextColl), name: g, ctype: 2, refreshType: 2,
			limitTo: "SMS00001", changed: now, createdAt: now, fleetGroup: g, nextQueryID: 1,
			comment: "Simulated fleet group " + g,
			rules: []map[string]any{{"@odata.type": "#AdminService.SMS_CollectionRuleQuery", "RuleName": "fleet group " + g, "QueryID": int64(1),
				"QueryExpression": `select SMS_R_System.ResourceId from SMS_R_System where SMS_R_System.SystemGroupName = "` + g + `"`}}}
		s.nextColl++
		s.collections = append(s.collections, c)
		s.refresh(c)
	}
}

// refreshFleet sets a fleet collection's members: its group's devices.
func (s *Server) refreshFleet(c *collection) {
	idx := s.fleet.Members(c.fleetGroup)
	members := make([]int64, len(idx))
	for i, d := range idx {
		members[i] = FleetResourceBase + int64(d)
	}
	now := s.now()
	if len(c.members) != len(members) {
		c.memberChanged = now
	}
	c.members, c.refreshed = members, now
	s.joined(c, now)
}

// joined records when each member joined the collection (the time a
// deployment to it reaches the member, if the deployment is older).
func (s *Server) joined(c *collection, now time.Time) {
	next := make(map[int64]time.Time, len(c.members))
	for _, m := range c.members {
		if t, ok := c.since[m]; ok {
			next[m] = t
		} else {
			next[m] = now
		}
	}
	c.since = next
}

// fleetAsset is what a fleet device reports for a deployment whose
// content is there: in progress until its first check-in after the
// deployment reached it, then the outcome at that check-in.
func (s *Server) fleetAsset(a *assignment, app *application, dev Device) (ast, es, code int64, at time.Time) {
	i := int(dev.ResourceID - FleetResourceBase)
	if i < 0 || i >= s.fleet.Len() {
		return 4, 4000, 0, time.Time{}
	}
	since := a.created
	if a.rerun.After(since) {
		since = a.rerun
	}
	if c := s.collection(a.coll); c != nil {
		if t, ok := c.since[dev.ResourceID]; ok && t.After(since) {
			since = t
		}
	}
	appID, version := app.info.Title, app.info.Version
	if id, v, ok := fleet.ReleaseOf(app.info.Description); ok {
		appID, version = id, v
	}
	install := a.desired != 2
	r := s.fleet.Result(s.fleet.Device(i).ID, fleet.Order{Install: install, App: appID, Version: version, Attempt: a.attempt, Since: since}, s.clock())
	switch {
	case !r.Done:
		return 2, 2000, 0, r.At
	case r.Failed:
		return 5, 5002, fleetErrorCode, r.At
	}
	return 1, 1000, 0, r.At
}

// clock is the site's clock as it is, not made strictly increasing as
// now does (a read of 10,000 devices does not move it).
func (s *Server) clock() time.Time {
	if s.opt.Now != nil {
		return s.opt.Now().UTC()
	}
	return time.Now().UTC()
}

// assetConstant are the SMS_AppDeploymentAssetDetails properties every
// device of one deployment shares.
var assetConstant = map[string]bool{"AssignmentID": true, "AssignmentName": true, "AppName": true, "CollectionID": true, "CollectionName": true}

// assignmentLevel reports whether a filter reads only properties of the
// deployment (not of a device): then whole deployments match or not.
func assignmentLevel(e expr) bool {
	switch x := e.(type) {
	case nil:
		return true
	case cmpExpr:
		return assetConstant[x.prop]
	case andExpr:
		return assignmentLevel(x.l) && assignmentLevel(x.r)
	}
	return false
}

// listFleetAssets answers SMS_AppDeploymentAssetDetails for a filter on
// deployments (the connector's AssignmentID eq N): it renders only the
// rows of the page asked for, so reading 10,000 devices' states in pages
// is linear.
func (s *Server) listFleetAssets(w http.ResponseWriter, r *http.Request, sc *schema, q query) {
	type hit struct {
		a *assignment
		c *collection
	}
	var hits []hit
	total := 0
	ticked := map[int64]bool{}
	for _, a := range s.assignments {
		c := s.collection(a.coll)
		if c == nil || len(c.members) == 0 {
			continue
		}
		title := ""
		if app := s.app(a.appCI); app != nil {
			title = app.info.Title
		}
		probe := row{"AssignmentID": a.id, "AssignmentName": a.props.str("AssignmentName"), "AppName": title, "CollectionID": a.coll, "CollectionName": c.name}
		if !q.match(probe) {
			continue
		}
		hits = append(hits, hit{a, c})
		total += len(c.members)
	}
	// One read moves each distribution one step, as rows does.
	for _, h := range hits {
		if app := s.app(h.a.appCI); app != nil && !ticked[app.ciID] {
			ticked[app.ciID] = true
			s.contentState(app, true)
		}
	}
	start, stop, next := window(total, q, s.opt.PageSize, r)
	vals := make([]map[string]any, 0, stop-start)
	pos := 0
	for _, h := range hits {
		n := len(h.c.members)
		if pos+n <= start {
			pos += n
			continue
		}
		for j := max(start-pos, 0); j < n && pos+j < stop; j++ {
			d, _ := s.device(h.c.members[j])
			vals = append(vals, render(s.assetRow(h.a, d, false), *sc, q.sel, false))
		}
		pos += n
		if pos >= stop {
			break
		}
	}
	frag := sc.Class
	if len(q.sel) > 0 {
		frag += "(" + strings.Join(q.sel, ",") + ")"
	}
	out := map[string]any{"@odata.context": contextURL(r, frag), "value": vals}
	if next != "" {
		out["@odata.nextLink"] = next
	}
	writeJSON(w, http.StatusOK, out)
}
