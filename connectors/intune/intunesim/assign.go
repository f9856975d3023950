package intunesim

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// Well-known ids Intune gives the virtual groups.
const (
	allDevicesID = "adadadad-808e-44e2-905a-0b7873a8a531"
	allUsersID   = "acacacac-9df4-4c7d-9d50-4ef0226f57a9"
)

var intents = []string{"available", "required", "uninstall", "availableWithoutEnrollment"}

// assignment is one mobileAppAssignment.
type assignment struct {
	id       string
	intent   string
	target   map[string]any
	settings any
}

// targetKey names what an assignment targets: its type and group.
func targetKey(t map[string]any) string {
	typ, _ := t["@odata.type"].(string)
	g, _ := t["groupId"].(string)
	return strings.TrimPrefix(typ, "#microsoft.graph.") + ":" + g
}

func (x *assignment) group() string { g, _ := x.target["groupId"].(string); return g }
func (x *assignment) exclusion() bool {
	return x.target["@odata.type"] == "#microsoft.graph.exclusionGroupAssignmentTarget"
}

func (x *assignment) view() map[string]any {
	return map[string]any{
		"@odata.type": "#microsoft.graph.mobileAppAssignment",
		"id":          x.id, "intent": x.intent, "target": x.target, "settings": x.settings,
		"source": "direct", "sourceId": nil,
	}
}

// assignmentID is Intune's style of id: the group, the intent and
// whether it excludes.
func assignmentID(intent string, target map[string]any) string {
	g, _ := target["groupId"].(string)
	switch target["@odata.type"] {
	case "#microsoft.graph.allDevicesAssignmentTarget":
		g = allDevicesID
	case "#microsoft.graph.allLicensedUsersAssignmentTarget":
		g = allUsersID
	}
	ex := 0
	if target["@odata.type"] == "#microsoft.graph.exclusionGroupAssignmentTarget" {
		ex = 1
	}
	return fmt.Sprintf("%s_%d_%d", g, slices.Index(intents, intent), ex)
}

// parseAssignment validates one assignment body.
func (s *Server) parseAssignment(q *request, m map[string]any) (*assignment, error) {
	props, err := validate(m, assignmentSchema, q.beta(), true)
	if err != nil {
		return nil, err
	}
	x := &assignment{target: props["target"].(map[string]any), settings: props["settings"]}
	x.intent, _ = props["intent"].(string)
	if g := x.group(); g != "" && s.fleet != nil {
		if !s.fleet.HasGroup(g) {
			return nil, fmt.Errorf("The group '%s' does not exist in the tenant.", clipText(g))
		}
	} else if g != "" && s.groups != nil {
		if _, ok := s.groups[g]; !ok {
			return nil, fmt.Errorf("The group '%s' does not exist in the tenant.", clipText(g))
		}
	}
	x.id = assignmentID(x.intent, x.target)
	return x, nil
}

// assignmentsOf serves /mobileApps/{id}/assignments[/{aid}].
func (s *Server) assignmentsOf(q *request, a *app, rest []string) {
	ctx := "deviceAppManagement/mobileApps('" + a.id + "')/assignments"
	if len(rest) == 0 {
		switch q.r.Method {
		case http.MethodGet:
			var items []map[string]any
			for _, x := range a.assignments {
				items = append(items, x.view())
			}
			s.page(q, ctx, items)
		case http.MethodPost:
			body, ok := q.decode()
			if !ok {
				return
			}
			x, err := s.parseAssignment(q, body)
			if err != nil {
				q.badRequest("%s", err)
				return
			}
			if !s.assignable(q, a) {
				return
			}
			for _, y := range a.assignments {
				if targetKey(y.target) == targetKey(x.target) {
					q.fail(http.StatusConflict, "Conflict", fmt.Sprintf("The app already has an assignment for the target %s.", targetKey(x.target)))
					return
				}
			}
			a.assignments = append(a.assignments, x)
			s.retarget(a)
			v := x.view()
			v["@odata.context"] = q.context(ctx + "/$entity")
			q.reply(http.StatusCreated, v)
		default:
			q.methodNotAllowed()
		}
		return
	}
	i := slices.IndexFunc(a.assignments, func(x *assignment) bool { return x.id == rest[0] })
	if i < 0 || len(rest) > 1 {
		q.notFound(fmt.Sprintf("The assignment '%s' of the app '%s'", clipText(rest[0]), a.id))
		return
	}
	switch q.r.Method {
	case http.MethodGet:
		v := a.assignments[i].view()
		v["@odata.context"] = q.context(ctx + "/$entity")
		q.reply(http.StatusOK, v)
	case http.MethodDelete:
		a.assignments = slices.Delete(a.assignments, i, i+1)
		s.retarget(a)
		q.noContent()
	default:
		q.methodNotAllowed()
	}
}

// assignable refuses to assign a LOB app whose content is not published.
func (s *Server) assignable(q *request, a *app) bool {
	if a.publishing != "published" {
		q.badRequest("The app '%s' cannot be assigned: its publishingState is %s (commit its content first).", a.id, a.publishing)
		return false
	}
	return true
}

// assign serves POST /mobileApps/{id}/assign: the body's list replaces
// every assignment of the app.
func (s *Server) assign(q *request, a *app, rest []string) {
	if q.r.Method != http.MethodPost || len(rest) != 0 {
		q.methodNotAllowed()
		return
	}
	body, ok := q.decode()
	if !ok {
		return
	}
	list, isList := body["mobileAppAssignments"].([]any)
	if !isList || len(body) != 1 {
		q.badRequest("The assign body needs exactly one property, 'mobileAppAssignments', a collection.")
		return
	}
	var next []*assignment
	seen := map[string]bool{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			q.badRequest("mobileAppAssignments[%d] is not an object.", i)
			return
		}
		x, err := s.parseAssignment(q, m)
		if err != nil {
			q.badRequest("mobileAppAssignments[%d]: %s", i, err)
			return
		}
		if k := targetKey(x.target); seen[k] {
			q.badRequest("mobileAppAssignments[%d]: the target %s is assigned twice.", i, k)
			return
		} else {
			seen[k] = true
		}
		next = append(next, x)
	}
	if len(next) > 0 && !s.assignable(q, a) {
		return
	}
	a.assignments = next
	a.modified = s.o.Now()
	s.retarget(a)
	q.noContent()
}

// deviceState is what one device reports for one app.
type deviceState struct {
	device Device
	intent string // the intent the device acts on now ("" when no longer targeted)
	state  string // installState
	detail string
	code   int64
	polls  int
	sync   time.Time

	// With a fleet, state, detail, code and sync are what the device
	// reported when it last acted; order says it holds an action it has
	// not reported yet (intent required or uninstall), given at since.
	// attempts counts the required installs it was given.
	order    bool
	since    time.Time
	attempts int
}

// retarget recomputes which devices the app's assignments reach and sets
// every device whose intent changed to act on it: required installs
// (pendingInstall until InstallAfter reads), uninstall removes, available
// reports notInstalled until the user installs it.
func (s *Server) retarget(a *app) {
	if s.fleet != nil {
		s.retargetFleet(a)
		return
	}
	want := map[string]string{}
	devs := map[string]Device{}
	rank := map[string]int{"required": 3, "uninstall": 2, "available": 1, "availableWithoutEnrollment": 1}
	excluded := map[string]bool{}
	for _, x := range a.assignments {
		var members []Device
		switch x.target["@odata.type"] {
		case "#microsoft.graph.allDevicesAssignmentTarget", "#microsoft.graph.allLicensedUsersAssignmentTarget":
			for _, ds := range s.groups {
				members = append(members, ds...)
			}
		default:
			members = s.groups[x.group()]
		}
		for _, d := range members {
			devs[d.ID] = d
			if x.exclusion() {
				excluded[d.ID] = true
			} else if rank[x.intent] > rank[want[d.ID]] {
				want[d.ID] = x.intent
			}
		}
	}
	for id := range excluded {
		delete(want, id)
	}
	now := s.o.Now()
	for id, ds := range a.devices {
		if _, ok := want[id]; !ok {
			ds.intent = ""
		}
	}
	for id, intent := range want {
		ds := a.devices[id]
		if ds == nil {
			ds = &deviceState{device: devs[id], state: "notInstalled", sync: now}
			a.devices[id] = ds
		}
		if ds.intent == intent {
			continue
		}
		ds.intent, ds.sync = intent, now
		switch intent {
		case "required":
			ds.state, ds.detail, ds.code, ds.polls = "pendingInstall", "", 0, s.o.InstallAfter
		case "uninstall":
			ds.polls = s.o.InstallAfter
		}
	}
}

// report moves every device that is acting on the app on by one status
// read.
func (s *Server) report(a *app) {
	if s.fleet != nil {
		return // fleet devices report from the clock (fleetView)
	}
	now := s.o.Now()
	for _, ds := range a.devices {
		if ds.polls <= 0 {
			continue
		}
		if ds.polls--; ds.polls > 0 {
			continue
		}
		ds.sync = now
		switch ds.intent {
		case "required":
			out := Outcome{State: "installed"}
			if s.o.Outcome != nil {
				out = s.o.Outcome(a.id, ds.device)
			}
			ds.state, ds.detail, ds.code = out.State, out.Detail, out.ErrorCode
		case "uninstall":
			ds.state, ds.detail, ds.code = "notInstalled", "", 0
		}
	}
}

func (a *app) sortedDevices() []*deviceState {
	out := make([]*deviceState, 0, len(a.devices))
	for _, ds := range a.devices {
		out = append(out, ds)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].device.ID < out[j].device.ID })
	return out
}

// betaOnly refuses what v1.0 does not have.
func betaOnlySegment(q *request, segment string) bool {
	if !q.beta() {
		q.badRequest("Resource not found for the segment '%s'.", segment)
		return false
	}
	return true
}

func (s *Server) deviceStatuses(q *request, a *app, rest []string) {
	if !betaOnlySegment(q, "deviceStatuses") {
		return
	}
	if q.r.Method != http.MethodGet || len(rest) != 0 {
		q.methodNotAllowed()
		return
	}
	if s.fleet != nil {
		s.fleetStatuses(q, a)
		return
	}
	if q.r.URL.Query().Get("$skiptoken") == "" {
		s.report(a)
	}
	var items []map[string]any
	for _, ds := range a.sortedDevices() {
		items = append(items, installStatus(a, ds.device, ds.state, ds.detail, ds.code, ds.sync))
	}
	s.page(q, "deviceAppManagement/mobileApps('"+a.id+"')/deviceStatuses", items)
}

// installStatus is one mobileAppInstallStatus.
func installStatus(a *app, d Device, state, detail string, code int64, sync time.Time) map[string]any {
	return map[string]any{
		"@odata.type":                 "#microsoft.graph.mobileAppInstallStatus",
		"id":                          d.ID + "_" + a.id,
		"deviceName":                  d.Name,
		"deviceId":                    d.ID,
		"lastSyncDateTime":            graphTime(sync),
		"mobileAppInstallStatusValue": state,
		"installState":                state,
		"installStateDetail":          orDefault(detail, "noAdditionalDetails"),
		"errorCode":                   code,
		"osVersion":                   nil,
		"osDescription":               nil,
		"userName":                    nil,
		"userPrincipalName":           nilIfEmpty(d.UserPrincipalName),
		"displayVersion":              a.props["displayVersion"],
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) installSummary(q *request, a *app, rest []string) {
	if !betaOnlySegment(q, "installSummary") {
		return
	}
	if q.r.Method != http.MethodGet || len(rest) != 0 {
		q.methodNotAllowed()
		return
	}
	s.report(a)
	counts := map[string]int{}
	users := map[string]map[string]bool{}
	now, rel := s.o.Now(), s.releaseOf(a)
	for _, ds := range a.devices {
		st := ds.state
		if s.fleet != nil {
			st, _, _, _ = s.fleetView(a, ds, rel, now)
		}
		if st == "uninstallFailed" {
			st = "failed"
		}
		counts[st]++
		if u := ds.device.UserPrincipalName; u != "" {
			if users[st] == nil {
				users[st] = map[string]bool{}
			}
			users[st][u] = true
		}
	}
	q.reply(http.StatusOK, map[string]any{
		"@odata.context":            q.context("deviceAppManagement/mobileApps('" + a.id + "')/installSummary/$entity"),
		"@odata.type":               "#microsoft.graph.mobileAppInstallSummary",
		"id":                        a.id,
		"installedDeviceCount":      counts["installed"],
		"failedDeviceCount":         counts["failed"],
		"notApplicableDeviceCount":  counts["notApplicable"],
		"notInstalledDeviceCount":   counts["notInstalled"],
		"pendingInstallDeviceCount": counts["pendingInstall"],
		"installedUserCount":        len(users["installed"]),
		"failedUserCount":           len(users["failed"]),
		"notApplicableUserCount":    len(users["notApplicable"]),
		"notInstalledUserCount":     len(users["notInstalled"]),
		"pendingInstallUserCount":   len(users["pendingInstall"]),
	})
}

// maxSupersedence is the most supersedence links an app may have.
const maxSupersedence = 10

func (s *Server) relationshipsOf(q *request, a *app, rest []string) {
	if !betaOnlySegment(q, "relationships") {
		return
	}
	if q.r.Method != http.MethodGet || len(rest) != 0 {
		q.methodNotAllowed()
		return
	}
	s.page(q, "deviceAppManagement/mobileApps('"+a.id+"')/relationships", a.relationships)
}

// updateRelationships replaces the app's whole set of relationships.
func (s *Server) updateRelationships(q *request, a *app, rest []string) {
	if !betaOnlySegment(q, "updateRelationships") {
		return
	}
	if q.r.Method != http.MethodPost || len(rest) != 0 {
		q.methodNotAllowed()
		return
	}
	body, ok := q.decode()
	if !ok {
		return
	}
	list, isList := body["relationships"].([]any)
	if !isList || len(body) != 1 {
		q.badRequest("The updateRelationships body needs exactly one property, 'relationships', a collection.")
		return
	}
	var next []map[string]any
	sup := 0
	seen := map[string]bool{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			q.badRequest("relationships[%d] is not an object.", i)
			return
		}
		if err := check(m, relationship, fmt.Sprintf("relationships[%d]", i), true); err != nil {
			q.badRequest("%s", err)
			return
		}
		tid, _ := m["targetId"].(string)
		t := s.apps[tid]
		switch {
		case tid == a.id:
			q.badRequest("relationships[%d]: an app cannot supersede or depend on itself.", i)
			return
		case t == nil:
			q.badRequest("relationships[%d]: the target app '%s' does not exist.", i, clipText(tid))
			return
		case seen[tid]:
			q.badRequest("relationships[%d]: the target app '%s' is named twice.", i, tid)
			return
		}
		seen[tid] = true
		r := map[string]any{
			"@odata.type": m["@odata.type"], "id": a.id + "_" + tid, "targetId": tid,
			"targetDisplayName": t.props["displayName"], "targetDisplayVersion": t.props["displayVersion"],
			"targetPublisher": t.props["publisher"], "targetType": "child",
		}
		if m["@odata.type"] == "#microsoft.graph.mobileAppSupersedence" {
			sup++
			r["supersedenceType"] = m["supersedenceType"]
			r["supersededAppCount"], r["supersedingAppCount"] = 0, 0
		} else {
			r["dependencyType"] = m["dependencyType"]
			r["dependentAppCount"], r["dependsOnAppCount"] = 0, 0
		}
		next = append(next, r)
	}
	if sup > maxSupersedence {
		q.badRequest("An app can supersede at most %d apps; the request names %d.", maxSupersedence, sup)
		return
	}
	a.relationships = next
	a.modified = s.o.Now()
	q.noContent()
}
