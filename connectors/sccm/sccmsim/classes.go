package sccmsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

func props(kv ...any) map[string]kind {
	m := map[string]kind{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(kind)
	}
	return m
}

var (
	appSchema = schema{Class: "SMS_Application", Lazy: map[string]bool{"SDMPackageXML": true}, Props: props(
		"CI_ID", kInt, "CI_UniqueID", kString, "ModelName", kString, "ModelID", kInt, "CIVersion", kInt,
		"IsLatest", kBool, "IsExpired", kBool, "IsHidden", kBool, "IsDeployed", kBool, "IsSuperseded", kBool,
		"IsSuperseding", kBool, "IsEnabled", kBool, "LocalizedDisplayName", kString, "LocalizedDescription", kString,
		"Manufacturer", kString, "SoftwareVersion", kString, "NumberOfDeploymentTypes", kInt, "HasContent", kBool,
		"DateCreated", kTime, "DateLastModified", kTime, "CreatedBy", kString, "LastModifiedBy", kString,
		"SourceSite", kString, "SDMPackageXML", kString)}
	packageSchema = schema{Class: "SMS_ContentPackage", Props: props(
		"PackageID", kString, "Name", kString, "SecurityKey", kString, "PackageType", kInt, "SourceSite", kString,
		"SourceVersion", kInt, "LastRefreshTime", kTime)}
	dpGroupSchema = schema{Class: "SMS_DistributionPointGroup", Props: props(
		"GroupID", kString, "Name", kString, "Description", kString, "MemberCount", kInt)}
	distSchema = schema{Class: "SMS_DPGroupDistributionStatusDetails", Props: props(
		"GroupID", kString, "PackageID", kString, "ObjectID", kString, "ObjectType", kInt, "MessageState", kInt,
		"MessageID", kInt, "LastUpdateDate", kTime)}
	collSchema = schema{Class: "SMS_Collection", Lazy: map[string]bool{"CollectionRules": true}, Props: props(
		"CollectionID", kString, "Name", kString, "Comment", kString, "CollectionType", kInt, "LimitToCollectionID", kString,
		"LimitToCollectionName", kString, "MemberCount", kInt, "RefreshType", kInt, "RefreshSchedule", kObjectArray,
		"CurrentStatus", kInt, "IsBuiltIn", kBool, "LastChangeTime", kTime, "LastRefreshTime", kTime,
		"LastMemberChangeTime", kTime, "IncludeExcludeCollectionsCount", kInt, "CollectionRules", kObjectArray)}
	deviceSchema = schema{Class: "SMS_R_System", Props: props(
		"ResourceId", kInt, "Name", kString, "NetbiosName", kString, "Client", kInt, "Active", kInt, "ResourceType", kInt)}
	memberSchema = schema{Class: "SMS_FullCollectionMembership", Props: props(
		"CollectionID", kString, "ResourceID", kInt, "Name", kString, "IsDirect", kBool)}
	asgSchema = schema{Class: "SMS_ApplicationAssignment", Props: props(
		"AssignmentID", kInt, "AssignmentUniqueID", kString, "AssignmentName", kString, "AssignmentDescription", kString,
		"ApplicationName", kString, "AssignedCIs", kIntArray, "AppModelID", kInt, "AssignmentAction", kInt,
		"AssignmentType", kInt, "DesiredConfigType", kInt, "OfferTypeID", kInt, "TargetCollectionID", kString,
		"CollectionName", kString, "StartTime", kTime, "EnforcementDeadline", kTime, "UseGMTTimes", kBool,
		"OfferFlags", kInt, "Enabled", kBool, "NotifyUser", kBool, "UserUIExperience", kBool,
		"OverrideServiceWindows", kBool, "RebootOutsideOfServiceWindows", kBool, "SuppressReboot", kInt,
		"DPLocality", kInt, "WoLEnabled", kBool, "SoftDeadlineEnabled", kBool, "Priority", kInt, "SourceSite", kString,
		"DisableMomAlerts", kBool, "LogComplianceToWinEvent", kBool, "RequireApproval", kBool,
		"PersistOnWriteFilterDevices", kBool, "CreationTime", kTime, "LastModificationTime", kTime)}
	assetSchema = schema{Class: "SMS_AppDeploymentAssetDetails", Props: props(
		"AssignmentID", kInt, "AssignmentName", kString, "AppName", kString, "CollectionID", kString, "CollectionName", kString,
		"MachineID", kInt, "MachineName", kString, "AppStatusType", kInt, "EnforcementState", kInt, "StatusType", kInt,
		"ErrorCode", kInt, "UserName", kString, "LastComplianceMessageTime", kTime)}
	siteSchema = schema{Class: "SMS_Site", Props: props("SiteCode", kString, "SiteName", kString, "Version", kString, "Type", kInt)}
)

// Classes the simulator serves, by lower-case name.
var classes = map[string]*schema{}

func init() {
	for _, sc := range []*schema{&appSchema, &packageSchema, &dpGroupSchema, &distSchema, &collSchema, &deviceSchema,
		&memberSchema, &asgSchema, &assetSchema, &siteSchema,
		{Class: "SMS_Identification", Props: map[string]kind{}}, {Class: "SMS_ClientOperation", Props: map[string]kind{}}} {
		classes[strings.ToLower(sc.Class)] = sc
	}
}

func (s *Server) appRow(a *application) row {
	deployed, superseded := false, false
	for _, asg := range s.assignments {
		deployed = deployed || asg.appCI == a.ciID
	}
	for _, o := range s.apps {
		if o.latest && slices.Contains(o.info.SupersedesDTs, a.info.DeploymentType) {
			superseded = true
		}
	}
	return row{"CI_ID": a.ciID, "CI_UniqueID": a.modelName + "/" + strconv.FormatInt(a.ciVersion, 10), "ModelName": a.modelName,
		"ModelID": a.ciID - 16777216 + 16000000, "CIVersion": a.ciVersion, "IsLatest": a.latest, "IsExpired": false,
		"IsHidden": a.isHidden, "IsDeployed": deployed, "IsSuperseded": superseded, "IsSuperseding": len(a.info.SupersedesDTs) > 0,
		"IsEnabled": true, "LocalizedDisplayName": a.info.Title, "LocalizedDescription": a.info.Description,
		"Manufacturer": a.info.Publisher, "SoftwareVersion": a.info.Version, "NumberOfDeploymentTypes": int64(a.info.NumDeploymentTypes),
		"HasContent": true, "DateCreated": a.created, "DateLastModified": a.modified, "CreatedBy": "EUCORA\\svc-adminservice",
		"LastModifiedBy": "EUCORA\\svc-adminservice", "SourceSite": s.opt.SiteCode, "SDMPackageXML": a.xml}
}

func (s *Server) packageRow(p *contentPackage) row {
	return row{"PackageID": p.id, "Name": p.name, "SecurityKey": p.securityKey, "PackageType": int64(8),
		"SourceSite": s.opt.SiteCode, "SourceVersion": p.sourceVersion, "LastRefreshTime": p.updated}
}

func (s *Server) distRow(d *distribution) row {
	msg := map[int64]int64{1: 2330, 2: 2324, 3: 2329, 4: 2306}[d.state]
	return row{"GroupID": d.groupID, "PackageID": d.packageID, "ObjectID": d.objectID, "ObjectType": int64(31),
		"MessageState": d.state, "MessageID": msg, "LastUpdateDate": d.updated}
}

func (s *Server) collRow(c *collection) row {
	limitName := ""
	if l := s.collection(c.limitTo); l != nil {
		limitName = l.name
	}
	rules := make([]map[string]any, 0, len(c.rules))
	incl := 0
	for _, r := range c.rules {
		rules = append(rules, r)
		if t := r["@odata.type"]; t == "#AdminService.SMS_CollectionRuleIncludeCollection" || t == "#AdminService.SMS_CollectionRuleExcludeCollection" {
			incl++
		}
	}
	return row{"CollectionID": c.id, "Name": c.name, "Comment": c.comment, "CollectionType": c.ctype, "LimitToCollectionID": c.limitTo,
		"LimitToCollectionName": limitName, "MemberCount": int64(len(c.members)), "RefreshType": c.refreshType,
		"RefreshSchedule": []map[string]any{}, "CurrentStatus": int64(1), "IsBuiltIn": c.builtin, "LastChangeTime": c.changed,
		"LastRefreshTime": c.refreshed, "LastMemberChangeTime": c.memberChanged, "IncludeExcludeCollectionsCount": int64(incl),
		"CollectionRules": rules}
}

func (s *Server) deviceRow(d Device) row {
	return row{"ResourceId": d.ResourceID, "Name": d.Name, "NetbiosName": d.Name, "Client": int64(1), "Active": int64(1), "ResourceType": int64(5)}
}

func (s *Server) asgRow(a *assignment) row {
	r := row{}
	for p := range asgSchema.Props {
		r[p] = nil
	}
	for k, v := range a.props {
		r[k] = v
	}
	r["AssignmentID"], r["AssignedCIs"], r["CreationTime"], r["LastModificationTime"] = a.id, []int64{a.appCI}, a.created, a.modified
	if c := s.collection(a.coll); c != nil {
		r["CollectionName"] = c.name
	}
	r["SourceSite"] = s.opt.SiteCode
	return r
}

// assetRow is one device's state for a deployment; tick counts a status
// read (what moves a device along).
func (s *Server) assetRow(a *assignment, dev Device, tick bool) row {
	app := s.app(a.appCI)
	ast, es, code := int64(4), int64(4000), int64(0)
	content := "waiting"
	if app != nil {
		content = s.contentState(app, false)
	}
	key := deviceKey{a.id, dev.ResourceID}
	at := time.Time{}
	switch content {
	case "failed":
		ast, es, code = 5, 5003, -2016410105 // 0x87D00607: content not found
	case "waiting":
		ast, es = 2, 2001
	default:
		if s.fleet != nil {
			ast, es, code, at = s.fleetAsset(a, app, dev)
			break
		}
		if tick {
			s.devStates[key]++
		}
		if s.devStates[key] <= s.opt.InstallPolls {
			ast, es = 2, 2000
		} else if o, ok := s.outcomes[dev.Name]; ok {
			ast, es, code = int64(o.AppStatusType), int64(o.EnforcementState), o.ErrorCode
		} else {
			ast, es = 1, 1000
		}
	}
	title := ""
	if app != nil {
		title = app.info.Title
	}
	collName := ""
	if c := s.collection(a.coll); c != nil {
		collName = c.name
	}
	if at.IsZero() {
		at = s.now()
	}
	return row{"AssignmentID": a.id, "AssignmentName": a.props.str("AssignmentName"), "AppName": title, "CollectionID": a.coll,
		"CollectionName": collName, "MachineID": dev.ResourceID, "MachineName": dev.Name, "AppStatusType": ast,
		"EnforcementState": es, "StatusType": ast, "ErrorCode": code, "UserName": "", "LastComplianceMessageTime": at}
}

// rows returns the instances of a class that match q, moving the
// simulated site along for what a query of them observes.
func (s *Server) rows(class string, q query) []row {
	var out []row
	add := func(r row) {
		if q.match(r) {
			out = append(out, r)
		}
	}
	switch class {
	case "SMS_Application":
		for _, a := range s.apps {
			add(s.appRow(a))
		}
	case "SMS_ContentPackage":
		for _, p := range s.packages {
			r := s.packageRow(p)
			if p.pending > 0 {
				if q.match(r) {
					p.pending--
				}
				continue
			}
			add(r)
		}
	case "SMS_DistributionPointGroup":
		for _, g := range s.opt.DPGroups {
			add(row{"GroupID": g.GroupID, "Name": g.Name, "Description": "", "MemberCount": int64(1)})
		}
	case "SMS_DPGroupDistributionStatusDetails":
		for _, d := range s.dists {
			if q.match(s.distRow(d)) {
				s.tickDistribution(d)
				out = append(out, s.distRow(d))
			}
		}
	case "SMS_Collection":
		for _, c := range s.collections {
			add(s.collRow(c))
		}
	case "SMS_R_System":
		for _, d := range s.devices {
			add(s.deviceRow(d))
		}
	case "SMS_FullCollectionMembership":
		for _, c := range s.collections {
			for _, m := range c.members {
				d, _ := s.device(m)
				add(row{"CollectionID": c.id, "ResourceID": m, "Name": d.Name, "IsDirect": true})
			}
		}
	case "SMS_ApplicationAssignment":
		for _, a := range s.assignments {
			add(s.asgRow(a))
		}
	case "SMS_AppDeploymentAssetDetails":
		type hit struct {
			a *assignment
			d Device
		}
		var hits []hit
		for _, a := range s.assignments {
			c := s.collection(a.coll)
			if c == nil {
				continue
			}
			for _, m := range c.members {
				d, _ := s.device(m)
				if q.match(s.assetRow(a, d, false)) {
					hits = append(hits, hit{a, d})
				}
			}
		}
		// One read moves each distribution and each device one step.
		ticked := map[int64]bool{}
		for _, h := range hits {
			if app := s.app(h.a.appCI); app != nil && !ticked[app.ciID] {
				ticked[app.ciID] = true
				s.contentState(app, true)
			}
		}
		for _, h := range hits {
			out = append(out, s.assetRow(h.a, h.d, true))
		}
	case "SMS_Site":
		add(row{"SiteCode": s.opt.SiteCode, "SiteName": "EUCORA simulated site", "Version": "5.00.9128.1000", "Type": int64(2)})
	}
	return out
}

// lookup finds an instance by key; hidden is its consistency counter.
func (s *Server) lookup(class string, p wmiPath) (r row, hidden *int, ok bool) {
	num, _ := strconv.ParseInt(p.Key, 10, 64)
	switch class {
	case "SMS_Application":
		if a := s.app(num); a != nil && !p.Quoted {
			return s.appRow(a), &a.hidden, true
		}
	case "SMS_ContentPackage":
		for _, pk := range s.packages {
			if strings.EqualFold(pk.id, p.Key) && pk.pending == 0 {
				return s.packageRow(pk), nil, true
			}
		}
	case "SMS_DistributionPointGroup":
		for _, g := range s.opt.DPGroups {
			if strings.EqualFold(g.GroupID, p.Key) {
				return row{"GroupID": g.GroupID, "Name": g.Name, "Description": "", "MemberCount": int64(1)}, nil, true
			}
		}
	case "SMS_Collection":
		if c := s.collection(p.Key); c != nil {
			return s.collRow(c), &c.hidden, true
		}
	case "SMS_R_System":
		if d, found := s.device(num); found && !p.Quoted {
			return s.deviceRow(d), nil, true
		}
	case "SMS_ApplicationAssignment":
		for _, a := range s.assignments {
			if a.id == num && !p.Quoted {
				return s.asgRow(a), &a.hidden, true
			}
		}
	}
	return nil, nil, false
}

func (s *Server) serveWMI(w http.ResponseWriter, r *http.Request, rest string) {
	p, err := parsePath(rest)
	if err != nil {
		writeError(w, badRequest("The request URI is not valid: %v", err))
		return
	}
	sc := classes[strings.ToLower(p.Class)]
	if sc == nil {
		writeError(w, notFound("Resource not found for the segment '%s'.", p.Class))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var e *odataError
	switch {
	case p.Static:
		e = s.static(w, r, sc, p.Method)
	case p.Method != "":
		if r.Method != http.MethodPost {
			e = errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r.Method)
			break
		}
		e = s.instanceMethod(w, r, sc, p)
	case p.HasKey:
		switch r.Method {
		case http.MethodGet:
			e = s.getByKey(w, r, sc, p)
		case http.MethodPost:
			e = s.postKeyed(w, r, sc, p)
		case http.MethodPatch:
			e = s.patch(w, r, sc, p)
		case http.MethodDelete:
			e = s.delete(w, sc, p)
		default:
			e = errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r.Method)
		}
	default:
		switch r.Method {
		case http.MethodGet:
			e = s.list(w, r, sc)
		case http.MethodPost:
			e = s.create(w, r, sc)
		default:
			e = errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r.Method)
		}
	}
	if e != nil {
		writeError(w, e)
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, sc *schema) *odataError {
	if len(sc.Props) == 0 {
		return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s has no instances to list.", sc.Class)
	}
	q, e := parseQuery(r.URL.Query(), *sc)
	if e != nil {
		return e
	}
	if s.fleet != nil && sc.Class == "SMS_AppDeploymentAssetDetails" && assignmentLevel(q.filter) {
		s.listFleetAssets(w, r, sc, q)
		return nil
	}
	rows, next := page(s.rows(sc.Class, q), q, s.opt.PageSize, r)
	vals := make([]map[string]any, 0, len(rows))
	for _, x := range rows {
		vals = append(vals, render(x, *sc, q.sel, false))
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
	return nil
}

func (s *Server) getByKey(w http.ResponseWriter, r *http.Request, sc *schema, p wmiPath) *odataError {
	q, e := parseQuery(r.URL.Query(), *sc)
	if e != nil {
		return e
	}
	x, hidden, ok := s.lookup(sc.Class, p)
	if ok && hidden != nil && *hidden > 0 {
		*hidden--
		ok = false
	}
	if !ok {
		return notFound("No instance of %s with key '%s' was found.", sc.Class, p.Key)
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": contextURL(r, sc.Class), "value": []any{render(x, *sc, q.sel, true)}})
	return nil
}

func (s *Server) writeEntity(w http.ResponseWriter, r *http.Request, status int, sc *schema, x row) {
	out := render(x, *sc, nil, true)
	out["@odata.context"] = contextURL(r, sc.Class+"/$entity")
	writeJSON(w, status, out)
}

func (s *Server) writeMethod(w http.ResponseWriter, r *http.Request, method string, extra map[string]any) {
	out := map[string]any{"@odata.context": contextURL(r, "AdminService."+method), "ReturnValue": 0}
	for k, v := range extra {
		out[k] = v
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, sc *schema) *odataError {
	switch sc.Class {
	case "SMS_Application":
		return s.createApp(w, r)
	case "SMS_Collection":
		return s.createCollection(w, r)
	case "SMS_ApplicationAssignment":
		return s.createAssignment(w, r)
	}
	return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The simulator does not create %s instances.", sc.Class)
}

var appCreateSchema = schema{Class: "SMS_Application", Props: props("SDMPackageXML", kString, "IsHidden", kBool)}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) *odataError {
	b, e := decodeBody(r, appCreateSchema, "SDMPackageXML")
	if e != nil {
		return e
	}
	info, err := validateSDM(b.str("SDMPackageXML"), s.scope)
	if err != nil {
		return badRequest("SDMPackageXML: %v", err)
	}
	model := info.Scope + "/" + info.LogicalName
	for _, a := range s.apps {
		if strings.EqualFold(a.modelName, model) {
			return conflict("An application with ModelName '%s' already exists (CI_ID %d).", model, a.ciID)
		}
		if a.latest && strings.EqualFold(a.info.Title, info.Title) {
			return conflict("An application named '%s' already exists (CI_ID %d). Application names must be unique.", info.Title, a.ciID)
		}
	}
	if e := s.checkSupersedes(info, ""); e != nil {
		return e
	}
	now := s.now()
	a := &application{ciID: s.nextCI, modelName: model, ciVersion: 1, latest: true, isHidden: b.bool("IsHidden", false),
		info: info, xml: b.str("SDMPackageXML"), created: now, modified: now, hidden: s.opt.ConsistencyDelay}
	s.nextCI++
	s.apps = append(s.apps, a)
	s.packages = append(s.packages, &contentPackage{id: fmt.Sprintf("%s%05X", s.opt.SiteCode, s.nextPackage), name: info.Title,
		securityKey: model, sourceVersion: 1, pending: s.opt.ConsistencyDelay, updated: now})
	s.nextPackage++
	s.writeEntity(w, r, http.StatusCreated, &appSchema, s.appRow(a))
	return nil
}

// checkSupersedes refuses supersedence of a deployment type no latest
// application holds.
func (s *Server) checkSupersedes(info sdmInfo, self string) *odataError {
	for _, dt := range info.SupersedesDTs {
		found := false
		for _, a := range s.apps {
			found = found || (a.latest && a.modelName != self && a.info.DeploymentType == dt)
		}
		if !found {
			return badRequest("SDMPackageXML: the supersedence rule names deployment type %s, which no application holds.", dt)
		}
	}
	return nil
}

// postKeyed handles POST to an instance: a new revision of an
// application.
func (s *Server) postKeyed(w http.ResponseWriter, r *http.Request, sc *schema, p wmiPath) *odataError {
	if sc.Class != "SMS_Application" {
		return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The simulator does not update %s by POST.", sc.Class)
	}
	ci, _ := strconv.ParseInt(p.Key, 10, 64)
	cur := s.app(ci)
	if cur == nil || p.Quoted {
		return notFound("No instance of SMS_Application with key '%s' was found.", p.Key)
	}
	if !cur.latest {
		return conflict("CI_ID %d is revision %d of %s, not the latest: revise the latest revision.", ci, cur.ciVersion, cur.modelName)
	}
	b, e := decodeBody(r, appCreateSchema, "SDMPackageXML")
	if e != nil {
		return e
	}
	info, err := validateSDM(b.str("SDMPackageXML"), s.scope)
	if err != nil {
		return badRequest("SDMPackageXML: %v", err)
	}
	if model := info.Scope + "/" + info.LogicalName; !strings.EqualFold(model, cur.modelName) {
		return badRequest("SDMPackageXML: the package is application %s, not %s.", model, cur.modelName)
	}
	for _, a := range s.apps {
		if a.latest && a != cur && strings.EqualFold(a.info.Title, info.Title) {
			return conflict("An application named '%s' already exists (CI_ID %d). Application names must be unique.", info.Title, a.ciID)
		}
	}
	if e := s.checkSupersedes(info, cur.modelName); e != nil {
		return e
	}
	now := s.now()
	rev := &application{ciID: s.nextCI, modelName: cur.modelName, ciVersion: cur.ciVersion + 1, latest: true, isHidden: cur.isHidden,
		info: info, xml: b.str("SDMPackageXML"), created: cur.created, modified: now, hidden: s.opt.ConsistencyDelay}
	s.nextCI++
	cur.latest = false
	s.apps = append(s.apps, rev)
	// Deployments follow the latest revision; the content is sent again.
	for _, a := range s.assignments {
		if a.appCI == cur.ciID {
			a.appCI = rev.ciID
			a.rerun = now
			a.attempt++
			for k := range s.devStates {
				if k.assignment == a.id {
					delete(s.devStates, k)
				}
			}
		}
	}
	if pk := s.packageOf(cur.modelName); pk != nil {
		pk.sourceVersion++
		pk.updated = now
		for _, d := range s.dists {
			if d.packageID == pk.id {
				d.state, d.reads, d.updated = 2, 0, now
			}
		}
	}
	s.writeEntity(w, r, http.StatusCreated, &appSchema, s.appRow(rev))
	return nil
}

var collCreateSchema = schema{Class: "SMS_Collection", Props: props("Name", kString, "Comment", kString, "CollectionType", kInt,
	"LimitToCollectionID", kString, "RefreshType", kInt, "RefreshSchedule", kObjectArray)}

func (s *Server) createCollection(w http.ResponseWriter, r *http.Request) *odataError {
	b, e := decodeBody(r, collCreateSchema, "Name", "CollectionType", "LimitToCollectionID")
	if e != nil {
		return e
	}
	ct := b.int("CollectionType", 0)
	if ct != 1 && ct != 2 {
		return badRequest("CollectionType %d: want 1 (user) or 2 (device).", ct)
	}
	if ct != 2 {
		return badRequest("The simulator models device collections only (CollectionType 2).")
	}
	rt := b.int("RefreshType", 2)
	if rt != 1 && rt != 2 && rt != 4 && rt != 6 {
		return badRequest("RefreshType %d: want 1 (manual), 2 (periodic), 4 (incremental) or 6 (both).", rt)
	}
	lim := s.collection(b.str("LimitToCollectionID"))
	if lim == nil {
		return badRequest("The limiting collection '%s' does not exist.", b.str("LimitToCollectionID"))
	}
	name := strings.TrimSpace(b.str("Name"))
	for _, c := range s.collections {
		if strings.EqualFold(c.name, name) {
			return conflict("A collection named '%s' already exists (%s). Collection names must be unique.", name, c.id)
		}
	}
	now := s.now()
	c := &collection{id: fmt.Sprintf("%s%05X", s.opt.SiteCode, s.nextColl), name: name, comment: b.str("Comment"), ctype: ct,
		refreshType: rt, limitTo: lim.id, changed: now, createdAt: now, hidden: s.opt.ConsistencyDelay}
	s.nextColl++
	s.collections = append(s.collections, c)
	s.refresh(c)
	s.writeEntity(w, r, http.StatusCreated, &collSchema, s.collRow(c))
	return nil
}

var guidPattern = regexp.MustCompile(`^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$`)

var asgCreateSchema = func() schema {
	sc := schema{Class: "SMS_ApplicationAssignment", Props: map[string]kind{}}
	for k, v := range asgSchema.Props {
		switch k {
		case "AssignmentID", "CreationTime", "LastModificationTime":
		default:
			sc.Props[k] = v
		}
	}
	return sc
}()

func (s *Server) createAssignment(w http.ResponseWriter, r *http.Request) *odataError {
	b, e := decodeBody(r, asgCreateSchema, "ApplicationName", "AssignmentName", "AssignedCIs", "DesiredConfigType", "TargetCollectionID", "StartTime")
	if e != nil {
		return e
	}
	if a := b.int("AssignmentAction", 2); a != 2 {
		return badRequest("AssignmentAction %d: an application deployment is 2 (apply).", a)
	}
	if t := b.int("AssignmentType", 2); t != 2 {
		return badRequest("AssignmentType %d: an application deployment is 2.", t)
	}
	desired, offer := b.int("DesiredConfigType", 0), b.int("OfferTypeID", 0)
	if desired != 1 && desired != 2 {
		return badRequest("DesiredConfigType %d: want 1 (install) or 2 (uninstall).", desired)
	}
	if offer != 0 && offer != 2 {
		return badRequest("OfferTypeID %d: want 0 (required) or 2 (available).", offer)
	}
	if desired == 2 && offer != 0 {
		return badRequest("An uninstall deployment must be required (OfferTypeID 0).")
	}
	if offer == 0 && b.time("EnforcementDeadline").IsZero() {
		return badRequest("A required deployment needs an EnforcementDeadline.")
	}
	cis := b["AssignedCIs"].([]int64)
	if len(cis) != 1 {
		return badRequest("AssignedCIs: an application deployment assigns exactly one application, not %d.", len(cis))
	}
	app := s.app(cis[0])
	if app == nil {
		return badRequest("AssignedCIs: no application with CI_ID %d.", cis[0])
	}
	app = s.latestApp(app.modelName)
	if desired == 2 && !app.info.Uninstall {
		return badRequest("The application '%s' has no uninstall command line: it cannot be deployed to uninstall.", app.info.Title)
	}
	col := s.collection(b.str("TargetCollectionID"))
	if col == nil {
		return badRequest("The target collection '%s' does not exist.", b.str("TargetCollectionID"))
	}
	uid := b.str("AssignmentUniqueID")
	if uid == "" {
		uid = guidOf("assignment", strconv.FormatInt(s.nextAsg, 10))
		b["AssignmentUniqueID"] = uid
	}
	if !guidPattern.MatchString(uid) {
		return badRequest("AssignmentUniqueID '%s' is not a GUID in braces.", uid)
	}
	for _, a := range s.assignments {
		if strings.EqualFold(a.props.str("AssignmentUniqueID"), uid) {
			return conflict("A deployment with AssignmentUniqueID %s already exists (AssignmentID %d).", uid, a.id)
		}
		if a.coll == col.id && a.appCI == app.ciID && a.desired != desired {
			return conflict("The application '%s' is already deployed to collection %s with the opposite action; remove that deployment first.", app.info.Title, col.id)
		}
	}
	if _, ok := b["Enabled"]; !ok {
		b["Enabled"] = true
	}
	now := s.now()
	a := &assignment{id: s.nextAsg, props: b, appCI: app.ciID, coll: col.id, desired: desired, created: now, modified: now, hidden: s.opt.ConsistencyDelay,
		attempt: 1}
	s.nextAsg++
	s.assignments = append(s.assignments, a)
	s.writeEntity(w, r, http.StatusCreated, &asgSchema, s.asgRow(a))
	return nil
}

var asgPatchable = map[string]bool{"AssignmentDescription": true, "AssignmentName": true, "Enabled": true, "EnforcementDeadline": true,
	"OfferTypeID": true, "NotifyUser": true, "UserUIExperience": true, "OverrideServiceWindows": true, "RebootOutsideOfServiceWindows": true,
	"SuppressReboot": true, "StartTime": true, "SoftDeadlineEnabled": true, "WoLEnabled": true, "Priority": true, "DPLocality": true,
	"OfferFlags": true, "UseGMTTimes": true, "RequireApproval": true}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, sc *schema, p wmiPath) *odataError {
	if sc.Class != "SMS_ApplicationAssignment" {
		return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The simulator does not PATCH %s.", sc.Class)
	}
	id, _ := strconv.ParseInt(p.Key, 10, 64)
	var a *assignment
	for _, x := range s.assignments {
		if x.id == id && !p.Quoted {
			a = x
		}
	}
	if a == nil {
		return notFound("No instance of SMS_ApplicationAssignment with key '%s' was found.", p.Key)
	}
	b, e := decodeBody(r, asgCreateSchema)
	if e != nil {
		return e
	}
	for _, k := range sortedKeys(b) {
		if !asgPatchable[k] {
			return badRequest("The property '%s' of SMS_ApplicationAssignment cannot be modified.", k)
		}
	}
	next := body{}
	for k, v := range a.props {
		next[k] = v
	}
	for k, v := range b {
		next[k] = v
	}
	if o := next.int("OfferTypeID", 0); o != 0 && o != 2 || (a.desired == 2 && o != 0) {
		return badRequest("OfferTypeID %d is not valid for this deployment.", o)
	}
	if next.int("OfferTypeID", 0) == 0 && next.time("EnforcementDeadline").IsZero() {
		return badRequest("A required deployment needs an EnforcementDeadline.")
	}
	a.props, a.modified = next, s.now()
	s.writeEntity(w, r, http.StatusOK, &asgSchema, s.asgRow(a))
	return nil
}

func (s *Server) delete(w http.ResponseWriter, sc *schema, p wmiPath) *odataError {
	id, _ := strconv.ParseInt(p.Key, 10, 64)
	switch sc.Class {
	case "SMS_ApplicationAssignment":
		for i, a := range s.assignments {
			if a.id == id && !p.Quoted {
				s.assignments = slices.Delete(s.assignments, i, i+1)
				for k := range s.devStates {
					if k.assignment == a.id {
						delete(s.devStates, k)
					}
				}
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
		}
		return notFound("No instance of SMS_ApplicationAssignment with key '%s' was found.", p.Key)
	case "SMS_Collection":
		c := s.collection(p.Key)
		if c == nil {
			return notFound("No instance of SMS_Collection with key '%s' was found.", p.Key)
		}
		if c.builtin {
			return badRequest("The built-in collection %s cannot be deleted.", c.id)
		}
		if c.fleetGroup != "" {
			return badRequest("Collection %s holds the simulated fleet's group %s: it cannot be deleted.", c.id, c.fleetGroup)
		}
		for _, a := range s.assignments {
			if a.coll == c.id {
				return conflict("Collection %s is the target of deployment %d; remove the deployment first.", c.id, a.id)
			}
		}
		for _, o := range s.collections {
			if o.limitTo == c.id {
				return conflict("Collection %s limits collection %s.", c.id, o.id)
			}
		}
		s.collections = slices.DeleteFunc(s.collections, func(x *collection) bool { return x == c })
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The simulator does not delete %s instances.", sc.Class)
}

// Membership rule classes and their properties.
var ruleSchemas = map[string]schema{
	"#AdminService.SMS_CollectionRuleDirect": {Class: "SMS_CollectionRuleDirect",
		Props: props("ResourceClassName", kString, "ResourceID", kInt, "RuleName", kString)},
	"#AdminService.SMS_CollectionRuleIncludeCollection": {Class: "SMS_CollectionRuleIncludeCollection",
		Props: props("IncludeCollectionID", kString, "RuleName", kString)},
	"#AdminService.SMS_CollectionRuleExcludeCollection": {Class: "SMS_CollectionRuleExcludeCollection",
		Props: props("ExcludeCollectionID", kString, "RuleName", kString)},
	"#AdminService.SMS_CollectionRuleQuery": {Class: "SMS_CollectionRuleQuery",
		Props: props("QueryExpression", kString, "RuleName", kString, "QueryID", kInt, "LimitToCollectionID", kString)},
}

var ruleRequired = map[string][]string{
	"#AdminService.SMS_CollectionRuleDirect":            {"ResourceClassName", "ResourceID", "RuleName"},
	"#AdminService.SMS_CollectionRuleIncludeCollection": {"IncludeCollectionID", "RuleName"},
	"#AdminService.SMS_CollectionRuleExcludeCollection": {"ExcludeCollectionID", "RuleName"},
	"#AdminService.SMS_CollectionRuleQuery":             {"QueryExpression", "RuleName"},
}

var ruleKeyProp = map[string]string{
	"#AdminService.SMS_CollectionRuleDirect":            "ResourceID",
	"#AdminService.SMS_CollectionRuleIncludeCollection": "IncludeCollectionID",
	"#AdminService.SMS_CollectionRuleExcludeCollection": "ExcludeCollectionID",
	"#AdminService.SMS_CollectionRuleQuery":             "QueryID",
}

// decodeRule reads a collectionRule parameter.
func decodeRule(raw map[string]json.RawMessage) (map[string]any, *odataError) {
	var t string
	json.Unmarshal(raw["@odata.type"], &t)
	sc, ok := ruleSchemas[t]
	if !ok {
		if t == "" {
			return nil, badRequest("collectionRule: the rule has no @odata.type.")
		}
		return nil, badRequest("A type named '%s' could not be resolved by the model.", strings.TrimPrefix(t, "#"))
	}
	out := map[string]any{"@odata.type": t}
	for name, v := range raw {
		if name == "@odata.type" {
			continue
		}
		k, ok := sc.Props[name]
		if !ok {
			return nil, badRequest("The property '%s' does not exist on type 'AdminService.%s'.", name, sc.Class)
		}
		x, err := decodeValue(v, k)
		if err != nil {
			return nil, badRequest("Property '%s' of 'AdminService.%s': %v", name, sc.Class, err)
		}
		out[name] = x
	}
	for _, name := range ruleRequired[t] {
		if v, ok := out[name]; !ok || v == nil || v == "" {
			return nil, badRequest("The property '%s' is required on type 'AdminService.%s'.", name, sc.Class)
		}
	}
	return out, nil
}

var ruleParamSchema = schema{Class: "SMS_Collection", Props: props("collectionRule", kObject)}

func (s *Server) instanceMethod(w http.ResponseWriter, r *http.Request, sc *schema, p wmiPath) *odataError {
	key := sc.Class + "." + p.Method
	switch {
	case strings.EqualFold(key, "SMS_Collection.AddMembershipRule"), strings.EqualFold(key, "SMS_Collection.DeleteMembershipRule"),
		strings.EqualFold(key, "SMS_Collection.RequestRefresh"):
		c := s.collection(p.Key)
		if c == nil || !p.Quoted {
			return notFound("No instance of SMS_Collection with key '%s' was found.", p.Key)
		}
		switch strings.ToLower(p.Method) {
		case "requestrefresh":
			if _, e := decodeBody(r, schema{Class: "SMS_Collection", Props: props("includeSubcollections", kBool)}); e != nil {
				return e
			}
			s.refresh(c)
			s.writeMethod(w, r, "RequestRefresh", nil)
			return nil
		case "addmembershiprule":
			b, e := decodeBody(r, ruleParamSchema, "collectionRule")
			if e != nil {
				return e
			}
			rule, e := decodeRule(b["collectionRule"].(map[string]json.RawMessage))
			if e != nil {
				return e
			}
			if c.builtin {
				return badRequest("The membership rules of the built-in collection %s cannot be changed.", c.id)
			}
			if c.fleetGroup != "" {
				return badRequest("The membership of collection %s is the simulated fleet's group %s: its rules cannot be changed.", c.id, c.fleetGroup)
			}
			switch rule["@odata.type"] {
			case "#AdminService.SMS_CollectionRuleDirect":
				if rule["ResourceClassName"] != "SMS_R_System" {
					return badRequest("ResourceClassName '%v': a device collection's direct rules name SMS_R_System resources.", rule["ResourceClassName"])
				}
				if _, ok := s.device(rule["ResourceID"].(int64)); !ok {
					return badRequest("No SMS_R_System resource has ResourceID %d.", rule["ResourceID"])
				}
			case "#AdminService.SMS_CollectionRuleIncludeCollection", "#AdminService.SMS_CollectionRuleExcludeCollection":
				id := rule[ruleKeyProp[rule["@odata.type"].(string)]].(string)
				if strings.EqualFold(id, c.id) {
					return badRequest("Collection %s cannot include or exclude itself.", c.id)
				}
				if s.collection(id) == nil {
					return badRequest("The collection '%s' the rule names does not exist.", id)
				}
			case "#AdminService.SMS_CollectionRuleQuery":
				c.nextQueryID++
				rule["QueryID"] = c.nextQueryID
			}
			c.rules = append(c.rules, rule)
			c.changed = s.now()
			qid := int64(0)
			if n, ok := rule["QueryID"].(int64); ok {
				qid = n
			}
			s.writeMethod(w, r, "AddMembershipRule", map[string]any{"QueryID": qid})
			return nil
		default: // DeleteMembershipRule
			b, e := decodeBody(r, ruleParamSchema, "collectionRule")
			if e != nil {
				return e
			}
			rule, e := decodeRule(b["collectionRule"].(map[string]json.RawMessage))
			if e != nil {
				return e
			}
			if c.fleetGroup != "" {
				return badRequest("The membership of collection %s is the simulated fleet's group %s: its rules cannot be changed.", c.id, c.fleetGroup)
			}
			t := rule["@odata.type"].(string)
			kp := ruleKeyProp[t]
			for i, x := range c.rules {
				if x["@odata.type"] == t && fmt.Sprint(x[kp]) == fmt.Sprint(rule[kp]) {
					c.rules = slices.Delete(c.rules, i, i+1)
					c.changed = s.now()
					break
				}
			}
			// WMI answers success for a rule the collection does not hold.
			s.writeMethod(w, r, "DeleteMembershipRule", nil)
			return nil
		}
	case strings.EqualFold(key, "SMS_ContentPackage.AddDistributionPointGroup"):
		var pk *contentPackage
		for _, x := range s.packages {
			if strings.EqualFold(x.id, p.Key) && p.Quoted && x.pending == 0 {
				pk = x
			}
		}
		if pk == nil {
			return notFound("No instance of SMS_ContentPackage with key '%s' was found.", p.Key)
		}
		b, e := decodeBody(r, schema{Class: "SMS_ContentPackage", Props: props("DistributionPointGroup", kStringArray)}, "DistributionPointGroup")
		if e != nil {
			return e
		}
		groups := b["DistributionPointGroup"].([]string)
		if len(groups) == 0 {
			return badRequest("DistributionPointGroup: name at least one group.")
		}
		for _, g := range groups {
			if !slices.ContainsFunc(s.opt.DPGroups, func(x DPGroup) bool { return strings.EqualFold(x.GroupID, g) }) {
				return badRequest("No distribution point group has GroupID '%s'.", g)
			}
		}
		now := s.now()
		for _, g := range groups {
			if !slices.ContainsFunc(s.dists, func(d *distribution) bool { return d.packageID == pk.id && strings.EqualFold(d.groupID, g) }) {
				s.dists = append(s.dists, &distribution{groupID: g, packageID: pk.id, objectID: pk.securityKey, state: 2, updated: now})
			}
		}
		s.writeMethod(w, r, "AddDistributionPointGroup", nil)
		return nil
	case strings.EqualFold(key, "SMS_DistributionPointGroup.RemovePackages"):
		if !slices.ContainsFunc(s.opt.DPGroups, func(x DPGroup) bool { return strings.EqualFold(x.GroupID, p.Key) }) || !p.Quoted {
			return notFound("No instance of SMS_DistributionPointGroup with key '%s' was found.", p.Key)
		}
		b, e := decodeBody(r, schema{Class: "SMS_DistributionPointGroup", Props: props("PackageIDs", kStringArray)}, "PackageIDs")
		if e != nil {
			return e
		}
		ids := b["PackageIDs"].([]string)
		s.dists = slices.DeleteFunc(s.dists, func(d *distribution) bool {
			return strings.EqualFold(d.groupID, p.Key) && slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, d.packageID) })
		})
		s.writeMethod(w, r, "RemovePackages", nil)
		return nil
	}
	return notFound("The method '%s' is not found on type 'AdminService.%s'.", p.Method, sc.Class)
}

func (s *Server) static(w http.ResponseWriter, r *http.Request, sc *schema, method string) *odataError {
	key := sc.Class + "." + method
	switch {
	case strings.EqualFold(key, "SMS_Identification.GetSiteID"):
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r.Method)
		}
		s.writeMethod(w, r, "GetSiteID", map[string]any{"SiteID": s.opt.SiteID})
		return nil
	case strings.EqualFold(key, "SMS_ClientOperation.InitiateClientOperation"):
		if r.Method != http.MethodPost {
			return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r.Method)
		}
		b, e := decodeBody(r, schema{Class: "SMS_ClientOperation", Props: props("Type", kInt, "TargetCollectionID", kString,
			"RandomizationWindow", kInt, "TargetResourceIDs", kIntArray)}, "Type", "TargetCollectionID")
		if e != nil {
			return e
		}
		t := b.int("Type", 0)
		if t < 1 || t > 17 {
			return badRequest("Type %d is not a client operation.", t)
		}
		c := s.collection(b.str("TargetCollectionID"))
		if c == nil {
			return badRequest("The target collection '%s' does not exist.", b.str("TargetCollectionID"))
		}
		op := map[string]any{"OperationID": int64(len(s.clientOps) + 1), "Type": t, "TargetCollectionID": c.id}
		s.clientOps = append(s.clientOps, op)
		if t == 8 { // machine policy retrieval: the devices evaluate their deployments again
			now := s.now()
			for _, a := range s.assignments {
				if a.coll != c.id {
					continue
				}
				a.rerun = now
				a.attempt++
				for k := range s.devStates {
					if k.assignment == a.id {
						delete(s.devStates, k)
					}
				}
			}
		}
		s.writeMethod(w, r, "InitiateClientOperation", map[string]any{"OperationID": op["OperationID"]})
		return nil
	}
	return notFound("The method '%s' is not found on type 'AdminService.%s'.", method, sc.Class)
}
