package jamf

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
)

// Query reports the version's package, the ring policy and, when the
// policy installs this version, its groups and every member computer's
// state from the computer's policy logs. When the ring's uninstall policy
// runs this release's uninstall script instead, the computers report from
// that policy's logs.
func (c *Connector) Query(ctx context.Context, k connectors.ReleaseKey) (connectors.Status, error) {
	st := connectors.Status{Key: k, Assigned: []string{}, Devices: []connectors.DeviceState{}}
	pk, err := c.findPackage(ctx, "find package", k)
	if err != nil {
		return st, err
	}
	if pk == nil {
		e := permanent("query", "Jamf Pro holds no package %s for %s", PackageName(k), k.AppKey())
		e.NotFound = true
		return st, e
	}
	st.Objects = append(st.Objects, pk.object(firstCorrelation(pk.Notes)))
	pol, err := c.policyByName(ctx, PolicyName(k))
	if err != nil {
		return st, err
	}
	installs := false
	var action string
	if pol != nil {
		st.Objects = append(st.Objects, policyObject(pol))
		if pol.Packages != nil {
			for _, p := range pol.Packages.Packages.Items {
				if p.ID == pk.id {
					installs, action = true, p.Action
				}
			}
		}
	}
	if installs && pol.Scope != nil && len(pol.Scope.ComputerGroups.Items) > 0 {
		for _, id := range ids(pol.Scope.ComputerGroups.Items) {
			st.Assigned = append(st.Assigned, strconv.Itoa(id))
		}
		mapper := installState(action, pol.General.TriggerCheckin)
		if st.Devices, err = c.devices(ctx, pol, mapper); err != nil {
			return st, err
		}
	} else {
		un, err := c.policyByName(ctx, UninstallPolicyName(k))
		if err != nil {
			return st, err
		}
		if un != nil && un.SelfService != nil && slices.ContainsFunc(markers(un.SelfService.Description), func(m marker) bool { return m.release == k.String() }) {
			st.Objects = append(st.Objects, policyObject(un))
			if st.Devices, err = c.devices(ctx, un, uninstallState); err != nil {
				return st, err
			}
		}
	}
	for _, d := range st.Devices {
		st.Summary.Add(d.State)
	}
	return st, nil
}

func firstCorrelation(text string) string {
	if m := markers(text); len(m) > 0 {
		return m[0].correlation
	}
	return ""
}

func policyObject(p *policyXML) connectors.Object {
	o := connectors.Object{Kind: "policy", ID: strconv.Itoa(p.General.ID), Name: p.General.Name}
	if p.SelfService != nil {
		if m := markers(p.SelfService.Description); len(m) > 0 {
			o.CorrelationID = m[0].correlation
			if k, err := parseReleaseKey(m[0].release); err == nil {
				o.Release = &k
			}
		}
	}
	return o
}

// stateMapper maps a computer's latest log of a policy (nil: none yet)
// onto an install state.
type stateMapper func(log *policyLogXML) (connectors.InstallState, string)

// installState maps the logs of a ring policy: Completed is installed
// (for a Cache policy: cached, still pending), Failed failed, Pending
// pending; no log is pending on a check-in policy and not installed on a
// Self Service one (the user has not installed it).
func installState(action string, checkin bool) stateMapper {
	return func(l *policyLogXML) (connectors.InstallState, string) {
		if l == nil {
			if !checkin {
				return connectors.StateNotInstalled, "available in Self Service"
			}
			return connectors.StatePending, "not reported since the policy reached it"
		}
		switch strings.ToLower(l.Status) {
		case "completed":
			if action == "Cache" {
				return connectors.StatePending, "package cached"
			}
			return connectors.StateInstalled, ""
		case "failed":
			return connectors.StateFailed, "policy failed"
		case "pending":
			return connectors.StatePending, "policy pending"
		}
		return connectors.StateUnknown, "policy log status " + l.Status
	}
}

// uninstallState maps the logs of an uninstall policy: Completed is not
// installed, Failed failed (the script failed: still installed, maybe).
func uninstallState(l *policyLogXML) (connectors.InstallState, string) {
	if l == nil {
		return connectors.StatePending, "uninstall not reported yet"
	}
	switch strings.ToLower(l.Status) {
	case "completed":
		return connectors.StateNotInstalled, "uninstalled"
	case "failed":
		return connectors.StateFailed, "uninstall script failed"
	case "pending":
		return connectors.StatePending, "uninstall pending"
	}
	return connectors.StateUnknown, "policy log status " + l.Status
}

// members returns the computers of a computer group: a static group's
// from the Classic API, a smart group's from the Jamf Pro API's
// membership (names come from the Classic group).
func (c *Connector) members(ctx context.Context, id int) ([]computerXML, error) {
	var g groupXML
	if err := c.getXML(ctx, "read computer group", "/JSSResource/computergroups/id/"+strconv.Itoa(id), &g); err != nil {
		return nil, err
	}
	var out []computerXML
	if g.Computers != nil {
		out = g.Computers.Items
	}
	if !g.IsSmart {
		return out, nil
	}
	var m proMembership
	if err := c.getJSON(ctx, "read smart group membership", "/api/v2/computer-groups/smart-group-membership/"+strconv.Itoa(id), nil, &m); err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, cmp := range out {
		names[cmp.ID] = cmp.Name
	}
	out = out[:0]
	for _, id := range m.Members {
		out = append(out, computerXML{ID: id, Name: names[id]})
	}
	return out, nil
}

// devices reports every computer the policy's groups reach (members of
// the included groups, less those of the excluded ones), from each
// computer's policy logs, at most Concurrent at a time.
func (c *Connector) devices(ctx context.Context, p *policyXML, state stateMapper) ([]connectors.DeviceState, error) {
	excluded := map[int]bool{}
	for _, id := range ids(p.Scope.Exclusions.ComputerGroups.Items) {
		ms, err := c.members(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			excluded[m.ID] = true
		}
	}
	var computers []computerXML
	seen := map[int]bool{}
	for _, id := range ids(p.Scope.ComputerGroups.Items) {
		ms, err := c.members(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if !excluded[m.ID] && !seen[m.ID] {
				seen[m.ID] = true
				computers = append(computers, m)
			}
		}
	}
	slices.SortFunc(computers, func(a, b computerXML) int { return a.ID - b.ID })
	out := make([]connectors.DeviceState, len(computers))
	errs := make([]error, len(computers))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(c.cfg.Concurrent, len(computers)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				out[i], errs[i] = c.device(ctx, computers[i], p.General.ID, state)
			}
		}()
	}
	for i := range computers {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *Connector) device(ctx context.Context, cmp computerXML, policyID int, state stateMapper) (connectors.DeviceState, error) {
	var h historyXML
	if err := c.getXML(ctx, "read policy logs", "/JSSResource/computerhistory/id/"+strconv.Itoa(cmp.ID)+"/subset/PolicyLogs", &h); err != nil {
		return connectors.DeviceState{}, err
	}
	d := connectors.DeviceState{Device: cmp.Name, DeviceID: strconv.Itoa(cmp.ID)}
	if d.Device == "" {
		d.Device = d.DeviceID
	}
	latest := latestLog(h.PolicyLogs.Items, policyID)
	d.State, d.Detail = state(latest)
	if latest != nil {
		d.At = logTime(latest)
	}
	return d, nil
}

// latestLog returns the newest log of the policy (the last one listed
// when times tie).
func latestLog(logs []policyLogXML, policyID int) *policyLogXML {
	var out *policyLogXML
	for i := range logs {
		l := &logs[i]
		if l.PolicyID != policyID {
			continue
		}
		if out == nil || !logTime(l).Before(logTime(out)) {
			out = l
		}
	}
	return out
}

func logTime(l *policyLogXML) time.Time {
	if l.DateCompletedEpoch > 0 {
		return time.UnixMilli(l.DateCompletedEpoch).UTC()
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, l.DateCompletedUTC); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// Find returns every package, script and policy whose free-text field
// carries a marker with the correlation id: it reads every package and
// script (paged) and every policy named "eucora:...".
func (c *Connector) Find(ctx context.Context, id string) ([]connectors.Object, error) {
	var out []connectors.Object
	match := func(kind, oid, name, text string) {
		for _, m := range markers(text) {
			if m.correlation != id {
				continue
			}
			o := connectors.Object{Kind: kind, ID: oid, Name: name, CorrelationID: id}
			if k, err := parseReleaseKey(m.release); err == nil {
				o.Release = &k
			}
			out = append(out, o)
			return
		}
	}
	if err := eachPage(ctx, c, "find packages", "/api/v1/packages", func(p proPackage) { match("package", p.ID, p.PackageName, p.Notes) }); err != nil {
		return nil, err
	}
	if err := eachPage(ctx, c, "find scripts", "/api/v1/scripts", func(s proScript) { match("script", s.ID, s.Name, s.Notes) }); err != nil {
		return nil, err
	}
	var list policyListXML
	if err := c.getXML(ctx, "find policies", "/JSSResource/policies", &list); err != nil {
		return nil, err
	}
	var ours []ref
	for _, p := range list.Policies {
		if strings.HasPrefix(p.Name, "eucora:") {
			ours = append(ours, p)
		}
	}
	pols := make([]*policyXML, len(ours))
	errs := make([]error, len(ours))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(c.cfg.Concurrent, len(ours)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var p policyXML
				err := c.getXML(ctx, "find policies", "/JSSResource/policies/id/"+strconv.Itoa(ours[i].ID), &p)
				if isNotFound(err) { // deleted since the list
					continue
				}
				pols[i], errs[i] = &p, err
			}
		}()
	}
	for i := range ours {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, p := range pols {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if p != nil && p.SelfService != nil {
			match("policy", strconv.Itoa(p.General.ID), p.General.Name, p.SelfService.Description)
		}
	}
	return out, nil
}

// eachPage calls fn for every item of a Jamf Pro API list, page by page,
// until it has read totalCount items or a page comes back empty.
func eachPage[T any](ctx context.Context, c *Connector, op, path string, fn func(T)) error {
	read := 0
	for pg := 0; ; pg++ {
		var list proList[T]
		q := url.Values{"page": {strconv.Itoa(pg)}, "page-size": {"200"}, "sort": {"id:asc"}}
		if err := c.getJSON(ctx, op, path, q, &list); err != nil {
			return err
		}
		for _, it := range list.Results {
			fn(it)
		}
		read += len(list.Results)
		if len(list.Results) == 0 || read >= list.TotalCount {
			return nil
		}
	}
}

// StaticGroup makes the plane hold a static computer group named name
// with exactly the given computers (ids), and returns it as a Target.
// RingGroupName names a ring's group.
func (c *Connector) StaticGroup(ctx context.Context, name string, computers []int) (connectors.Target, error) {
	const op = "static group"
	t := connectors.Target{Name: name}
	if strings.TrimSpace(name) == "" {
		return t, permanent(op, "a computer group needs a name")
	}
	want := slices.Clone(computers)
	slices.Sort(want)
	want = slices.Compact(want)
	body := groupXML{Name: name, Computers: &computerList{}}
	for _, id := range want {
		body.Computers.Items = append(body.Computers.Items, computerXML{ID: id})
	}
	var cur groupXML
	err := c.getXML(ctx, op, "/JSSResource/computergroups/name/"+url.PathEscape(name), &cur)
	switch {
	case isNotFound(err):
		id, err := c.sendXML(ctx, op, http.MethodPost, "/JSSResource/computergroups/id/0", body)
		t.ID = strconv.Itoa(id)
		return t, err
	case err != nil:
		return t, err
	}
	t.ID = strconv.Itoa(cur.ID)
	if cur.IsSmart {
		return t, permanent(op, "computer group %q (id %d) is a smart group, not a static one", name, cur.ID)
	}
	var have []int
	if cur.Computers != nil {
		for _, m := range cur.Computers.Items {
			have = append(have, m.ID)
		}
	}
	slices.Sort(have)
	if slices.Equal(slices.Compact(have), want) {
		return t, nil
	}
	_, err = c.sendXML(ctx, op, http.MethodPut, "/JSSResource/computergroups/id/"+t.ID, body)
	return t, err
}

// SmartGroup looks up a smart computer group by name and returns it as a
// Target; a name the plane does not know is NotFound.
func (c *Connector) SmartGroup(ctx context.Context, name string) (connectors.Target, error) {
	const op = "smart group"
	q := url.Values{"page": {"0"}, "page-size": {"10"}, "sort": {"id:asc"}, "filter": {`name=="` + strings.ReplaceAll(name, `"`, `\"`) + `"`}}
	var list proList[json.RawMessage]
	if err := c.getJSON(ctx, op, "/api/v2/computer-groups/smart-groups", q, &list); err != nil {
		return connectors.Target{}, err
	}
	for _, raw := range list.Results {
		var g proSmartGroup
		if parseJSON(raw, &g) == nil && strings.EqualFold(g.Name, name) {
			return connectors.Target{ID: g.ID, Name: g.Name}, nil
		}
	}
	e := permanent(op, "Jamf Pro has no smart computer group named %q", name)
	e.NotFound = true
	return connectors.Target{}, e
}
