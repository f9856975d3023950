package intunesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// app is one mobileApp.
type app struct {
	id       string
	typ      string // "#microsoft.graph.win32LobApp"
	props    map[string]any
	created  time.Time
	modified time.Time
	// hidden counts the requests that still answer 404 (eventual
	// consistency right after create).
	hidden int

	publishing   string // notPublished, processing, published
	publishPolls int
	committed    string // committedContentVersion

	versions      []*contentVersion
	assignments   []*assignment
	relationships []map[string]any
	devices       map[string]*deviceState
	// sorted is devices by id, kept while no device is added (fleet
	// mode reads it once per page).
	sorted []*deviceState
}

func (a *app) typeName() string { return strings.TrimPrefix(a.typ, "#microsoft.graph.") }

// view renders the app as the API version shows it.
func (a *app) view(q *request) map[string]any {
	m := map[string]any{}
	s := appTypes[a.typ]
	for k, v := range a.props {
		if p, ok := s.props[k]; ok && p.beta && !q.beta() {
			continue
		}
		m[k] = v
	}
	m["@odata.type"] = a.typ
	m["id"] = a.id
	m["createdDateTime"] = graphTime(a.created)
	m["lastModifiedDateTime"] = graphTime(a.modified)
	m["publishingState"] = a.publishing
	var committed any
	if a.committed != "" {
		committed = a.committed
	}
	m["committedContentVersion"] = committed
	var size int64
	for _, cv := range a.versions {
		if cv.id == a.committed {
			for _, f := range cv.files {
				size += f.size
			}
		}
	}
	m["size"] = size
	for _, k := range []string{"displayName", "description", "publisher", "notes", "owner", "developer", "informationUrl", "privacyInformationUrl", "fileName"} {
		if _, ok := m[k]; !ok {
			m[k] = nil
		}
	}
	if _, ok := m["isFeatured"]; !ok {
		m["isFeatured"] = false
	}
	if q.beta() {
		m["isAssigned"] = len(a.assignments) > 0
		m["uploadState"] = 0
		if a.committed != "" {
			m["uploadState"] = 1
		}
		sup, dep := 0, 0
		for _, r := range a.relationships {
			if r["@odata.type"] == "#microsoft.graph.mobileAppSupersedence" {
				sup++
			} else {
				dep++
			}
		}
		m["supersededAppCount"], m["dependentAppCount"] = sup, dep
		if _, ok := m["roleScopeTagIds"]; !ok {
			m["roleScopeTagIds"] = []string{"0"}
		}
	}
	return m
}

// mobileApps serves /deviceAppManagement/mobileApps/...; rest is the path
// after "mobileApps".
func (s *Server) mobileApps(q *request, rest []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(rest) == 0 {
		switch q.r.Method {
		case http.MethodGet:
			s.listApps(q)
		case http.MethodPost:
			s.createApp(q)
		default:
			q.methodNotAllowed()
		}
		return
	}
	a := s.apps[rest[0]]
	if a == nil {
		q.notFound(fmt.Sprintf("The mobileApp with id '%s'", clipText(rest[0])))
		return
	}
	if a.hidden > 0 {
		a.hidden--
		q.notFound(fmt.Sprintf("The mobileApp with id '%s'", a.id))
		return
	}
	rest = rest[1:]
	// A type-cast segment: /mobileApps/{id}/microsoft.graph.win32LobApp/...
	if len(rest) > 0 && strings.HasPrefix(rest[0], "microsoft.graph.") {
		name := strings.TrimPrefix(rest[0], "microsoft.graph.")
		if _, isType := appTypes["#microsoft.graph."+name]; isType || name == "mobileLobApp" {
			if name != a.typeName() && name != "mobileLobApp" {
				q.badRequest("The app '%s' is a %s, not a %s.", a.id, a.typeName(), clipText(name))
				return
			}
			rest = rest[1:]
		} else {
			rest[0] = name // a namespace-qualified action: microsoft.graph.assign
		}
	}
	if len(rest) == 0 {
		switch q.r.Method {
		case http.MethodGet:
			s.getApp(q, a)
		case http.MethodPatch:
			s.patchApp(q, a)
		case http.MethodDelete:
			s.deleteApp(q, a)
		default:
			q.methodNotAllowed()
		}
		return
	}
	switch rest[0] {
	case "contentVersions":
		s.contentVersions(q, a, rest[1:])
	case "assignments":
		s.assignmentsOf(q, a, rest[1:])
	case "assign":
		s.assign(q, a, rest[1:])
	case "relationships":
		s.relationshipsOf(q, a, rest[1:])
	case "updateRelationships":
		s.updateRelationships(q, a, rest[1:])
	case "deviceStatuses":
		s.deviceStatuses(q, a, rest[1:])
	case "installSummary":
		s.installSummary(q, a, rest[1:])
	default:
		q.badRequest("Resource not found for the segment '%s'.", clipText(rest[0]))
	}
}

func (s *Server) createApp(q *request) {
	body, ok := q.decode()
	if !ok {
		return
	}
	t, _ := body["@odata.type"].(string)
	sch := appTypes[t]
	if sch == nil {
		if t == "" {
			q.badRequest("Cannot create an abstract class: a mobileApp needs an @odata.type naming its app type.")
		} else {
			q.badRequest("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", clipText(strings.TrimPrefix(t, "#")))
		}
		return
	}
	props, err := validate(body, sch, q.beta(), true)
	if err != nil {
		q.badRequest("%s", err)
		return
	}
	if t == "#microsoft.graph.win32LobApp" && !hasDetection(props) {
		q.badRequest("Win32LobApp validation failed: at least one detection rule is required (rules with ruleType 'detection', or beta detectionRules).")
		return
	}
	now := s.o.Now()
	a := &app{id: s.newID(), typ: t, props: props, created: now, modified: now, hidden: s.o.ConsistencyDelay, publishing: "notPublished", devices: map[string]*deviceState{}}
	delete(a.props, "committedContentVersion") // set by PATCH once content is committed
	s.apps[a.id] = a
	s.order = append(s.order, a.id)
	v := a.view(q)
	v["@odata.context"] = q.context("deviceAppManagement/mobileApps/$entity")
	q.w.Header().Set("Location", q.base+"/"+q.version+"/deviceAppManagement/mobileApps/"+a.id)
	q.reply(http.StatusCreated, v)
}

func hasDetection(props map[string]any) bool {
	if rules, ok := props["rules"].([]any); ok {
		for _, r := range rules {
			if m, ok := r.(map[string]any); ok && m["ruleType"] == "detection" {
				return true
			}
		}
	}
	d, ok := props["detectionRules"].([]any)
	return ok && len(d) > 0
}

func (s *Server) getApp(q *request, a *app) {
	if a.publishing == "processing" {
		if a.publishPolls--; a.publishPolls <= 0 {
			a.publishing = "published"
		}
	}
	v := project(a.view(q), selectOf(q.r.URL.Query().Get("$select")))
	v["@odata.context"] = q.context("deviceAppManagement/mobileApps/$entity")
	q.reply(http.StatusOK, v)
}

func (s *Server) patchApp(q *request, a *app) {
	body, ok := q.decode()
	if !ok {
		return
	}
	if t, _ := body["@odata.type"].(string); t != "" && t != a.typ {
		q.badRequest("The @odata.type '%s' does not match the app's type '%s'.", clipText(t), a.typ)
		return
	}
	props, err := validate(body, appTypes[a.typ], q.beta(), false)
	if err != nil {
		q.badRequest("%s", err)
		return
	}
	merged := map[string]any{}
	for k, v := range a.props {
		merged[k] = v
	}
	for k, v := range props {
		if k != "@odata.type" {
			merged[k] = v
		}
	}
	if a.typ == "#microsoft.graph.win32LobApp" && !hasDetection(merged) {
		q.badRequest("Win32LobApp validation failed: at least one detection rule is required.")
		return
	}
	if v, ok := props["committedContentVersion"]; ok {
		cv, _ := v.(string)
		found := a.version(cv)
		if found == nil {
			q.badRequest("The content version '%s' does not exist for the app '%s'.", clipText(cv), a.id)
			return
		}
		if !found.committed() {
			q.badRequest("The content version '%s' has files that are not committed.", cv)
			return
		}
		delete(merged, "committedContentVersion")
		if a.committed != cv {
			a.committed = cv
			a.publishing, a.publishPolls = "processing", s.o.ConsistencyDelay
			if a.publishPolls == 0 {
				a.publishing = "published"
			}
		}
	}
	a.props = merged
	a.modified = s.o.Now()
	q.noContent()
}

func (s *Server) deleteApp(q *request, a *app) {
	delete(s.apps, a.id)
	for i, id := range s.order {
		if id == a.id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	for _, cv := range a.versions {
		for _, f := range cv.files {
			delete(s.blobs, f.id)
		}
	}
	q.noContent()
}

// filterTerm is one term of the $filter the simulator understands.
var (
	isofTerm = regexp.MustCompile(`^isof\('microsoft\.graph\.([A-Za-z0-9]+)'\)$`)
	eqTerm   = regexp.MustCompile(`^(displayName|publisher|id) eq '((?:[^']|'')*)'$`)
)

// appFilter parses the $filter terms joined with "and": isof('microsoft.
// graph.TYPE') and PROPERTY eq 'VALUE' for displayName, publisher and id.
func appFilter(f string) (func(*app) bool, error) {
	if strings.TrimSpace(f) == "" {
		return func(*app) bool { return true }, nil
	}
	var preds []func(*app) bool
	for _, term := range strings.Split(f, " and ") {
		term = strings.TrimSpace(term)
		for strings.HasPrefix(term, "(") && strings.HasSuffix(term, ")") {
			term = strings.TrimSpace(term[1 : len(term)-1])
		}
		if m := isofTerm.FindStringSubmatch(term); m != nil {
			name := m[1]
			preds = append(preds, func(a *app) bool {
				return a.typeName() == name || name == "mobileLobApp"
			})
			continue
		}
		if m := eqTerm.FindStringSubmatch(term); m != nil {
			field, want := m[1], strings.ReplaceAll(m[2], "''", "'")
			preds = append(preds, func(a *app) bool {
				if field == "id" {
					return a.id == want
				}
				v, _ := a.props[field].(string)
				return v == want
			})
			continue
		}
		return nil, fmt.Errorf("Invalid filter clause: the simulator supports isof('microsoft.graph.TYPE') and displayName, publisher or id eq 'VALUE' joined by and, not '%s'.", clipText(term))
	}
	return func(a *app) bool {
		for _, p := range preds {
			if !p(a) {
				return false
			}
		}
		return true
	}, nil
}

func (s *Server) listApps(q *request) {
	match, err := appFilter(q.r.URL.Query().Get("$filter"))
	if err != nil {
		q.badRequest("%s", err)
		return
	}
	var items []map[string]any
	for _, id := range s.order {
		if a := s.apps[id]; match(a) {
			items = append(items, a.view(q))
		}
	}
	s.page(q, "deviceAppManagement/mobileApps", items)
}

// jsonInt reads a validated integer property.
func jsonInt(v any) int64 {
	if n, ok := v.(json.Number); ok {
		i, _ := n.Int64()
		return i
	}
	return 0
}
