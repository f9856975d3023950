package awxsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handler is one endpoint's methods.
type handler map[string]func(w http.ResponseWriter, r *http.Request) *apiError

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	add := func(pattern string, auth bool, h handler) {
		mux.HandleFunc(pattern+"{$}", func(w http.ResponseWriter, r *http.Request) {
			f := h[r.Method]
			if r.Method == http.MethodHead {
				f = h[http.MethodGet]
			}
			if auth {
				if err := s.authorize(w, r); err != nil {
					writeError(w, err)
					return
				}
			}
			if f == nil {
				writeError(w, detail(http.StatusMethodNotAllowed, "Method \"%s\" not allowed.", r.Method))
				return
			}
			if err := f(w, r); err != nil {
				writeError(w, err)
			}
		})
	}
	add("/api/v2/ping/", false, handler{"GET": s.ping})
	add("/api/v2/me/", true, handler{"GET": s.me})
	add("/api/v2/tokens/", true, handler{"GET": s.listTokens, "POST": s.createToken})
	add("/api/v2/job_templates/", true, handler{"GET": s.listTemplates})
	add("/api/v2/job_templates/{id}/", true, handler{"GET": s.getTemplate})
	add("/api/v2/job_templates/{id}/launch/", true, handler{"GET": s.launchInfo, "POST": s.launchJob})
	add("/api/v2/job_templates/{id}/jobs/", true, handler{"GET": s.listTemplateJobs})
	add("/api/v2/jobs/", true, handler{"GET": s.listJobs})
	add("/api/v2/jobs/{id}/", true, handler{"GET": s.getJob})
	add("/api/v2/jobs/{id}/job_events/", true, handler{"GET": s.listEvents})
	add("/api/v2/jobs/{id}/job_host_summaries/", true, handler{"GET": s.listSummaries})
	add("/api/v2/jobs/{id}/stdout/", true, handler{"GET": s.getStdout})
	add("/api/v2/jobs/{id}/cancel/", true, handler{"GET": s.cancelInfo, "POST": s.cancelJob})
	add("/api/v2/jobs/{id}/relaunch/", true, handler{"GET": s.relaunchInfo, "POST": s.relaunchJob})
	add("/api/v2/inventories/", true, handler{"GET": s.listInventories})
	add("/api/v2/inventories/{id}/", true, handler{"GET": s.getInventory})
	add("/api/v2/inventories/{id}/hosts/", true, handler{"GET": s.listInventoryHosts, "POST": s.createHost})
	add("/api/v2/hosts/{id}/", true, handler{"GET": s.getHost})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, detail(http.StatusNotFound, "Not found.")) })
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm=api authorization_url=/api/o/authorize/`)
	}
	writeJSON(w, e.status, e.body)
}

const notAuthenticated = "Authentication credentials were not provided. To establish a login session, visit /api/login/."

// authorize checks a Bearer token (and its scope) or Basic credentials.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) *apiError {
	scope := ""
	switch a := r.Header.Get("Authorization"); {
	case strings.HasPrefix(a, "Bearer "):
		if !s.tokens.Valid(r) {
			return detail(http.StatusUnauthorized, notAuthenticated)
		}
		s.mu.Lock()
		scope = s.scopes[strings.TrimPrefix(a, "Bearer ")]
		s.mu.Unlock()
	case strings.HasPrefix(a, "Basic "):
		u, p, _ := r.BasicAuth()
		if u != s.o.Username || p != s.o.Password {
			return detail(http.StatusUnauthorized, "Invalid username/password.")
		}
		scope = "write"
	default:
		return detail(http.StatusUnauthorized, notAuthenticated)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions && scope != "write" {
		return detail(http.StatusForbidden, "You do not have permission to perform this action.")
	}
	return nil
}

func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func pathID(r *http.Request) (int, *apiError) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		return 0, detail(http.StatusNotFound, "Not found.")
	}
	return id, nil
}

// decodeBody reads a JSON object body as DRF's JSONParser does.
func decodeBody(r *http.Request) (map[string]json.RawMessage, *apiError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, detail(http.StatusBadRequest, "JSON parse error - %v", err)
	}
	out := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(b)) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, detail(http.StatusBadRequest, "JSON parse error - %v", err)
	}
	return out, nil
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) *apiError {
	writeJSON(w, http.StatusOK, object{"ha": false, "version": "24.6.1", "active_node": "awxsim", "install_uuid": "00000000-0000-4000-8000-00000000a0c5",
		"instances": []object{{"node": "awxsim", "node_type": "hybrid", "heartbeat": stamp(s.o.Now()), "capacity": 100, "version": "24.6.1"}}})
	return nil
}

func (s *Server) userJSON() object {
	return object{"id": 1, "type": "user", "url": "/api/v2/users/1/", "username": s.o.Username, "is_superuser": true}
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) *apiError {
	writeJSON(w, http.StatusOK, object{"count": 1, "next": nil, "previous": nil, "results": []object{s.userJSON()}})
	return nil
}

// createToken is POST /api/v2/tokens/: a personal access token.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) *apiError {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	scope := "write"
	if raw, ok := body["scope"]; ok {
		if json.Unmarshal(raw, &scope) != nil || (scope != "read" && scope != "write") {
			return fieldError("scope", "Must be a simple space-separated string with allowed scopes ['read', 'write'].")
		}
	}
	var desc string
	if raw, ok := body["description"]; ok && json.Unmarshal(raw, &desc) != nil {
		return fieldError("description", "Not a valid string.")
	}
	if raw, ok := body["application"]; ok && string(raw) != "null" {
		return fieldError("application", "the simulator models personal access tokens only (application null)")
	}
	tok, life := s.tokens.Issue()
	s.mu.Lock()
	s.scopes[tok] = scope
	s.tokenRecs++
	id := s.tokenRecs
	s.mu.Unlock()
	now := s.o.Now()
	writeJSON(w, http.StatusCreated, object{"id": id, "type": "o_auth2_access_token", "url": fmt.Sprintf("/api/v2/tokens/%d/", id),
		"related":        object{"user": "/api/v2/users/1/", "activity_stream": fmt.Sprintf("/api/v2/tokens/%d/activity_stream/", id)},
		"summary_fields": object{"user": object{"id": 1, "username": s.o.Username}}, "created": stamp(now), "modified": stamp(now),
		"description": desc, "user": 1, "token": tok, "refresh_token": nil, "application": nil, "expires": stamp(now.Add(life)), "scope": scope})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	var objs []object
	for i := 1; i <= s.tokenRecs; i++ {
		objs = append(objs, object{"id": i, "type": "o_auth2_access_token", "url": fmt.Sprintf("/api/v2/tokens/%d/", i), "token": "************", "scope": "write"})
	}
	s.mu.Unlock()
	return s.writeList(w, r, listModel{name: "OAuth2AccessToken", ordering: "id", fields: []string{"scope"}}, objs)
}

func (s *Server) writeList(w http.ResponseWriter, r *http.Request, m listModel, objs []object) *apiError {
	page, err := s.list(r, m, objs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// Job templates.

var templateModel = listModel{name: "JobTemplate", noSearch: []string{"extra_vars"}, ordering: "name", fields: []string{"name", "description",
	"created", "modified", "job_type", "inventory", "project", "playbook", "status", "ask_variables_on_launch", "ask_limit_on_launch",
	"ask_inventory_on_launch", "ask_job_type_on_launch", "survey_enabled", "allow_simultaneous"}}

func (s *Server) template(id int) *template {
	for _, t := range s.templates {
		if t.id == id {
			return t
		}
	}
	return nil
}

func (s *Server) templateJSON(t *template) object {
	vars, _ := json.Marshal(t.spec.ExtraVars)
	if t.spec.ExtraVars == nil {
		vars = []byte("")
	}
	var inv any
	if t.inventory != 0 {
		inv = t.inventory
	}
	base := fmt.Sprintf("/api/v2/job_templates/%d/", t.id)
	return object{"id": t.id, "type": "job_template", "url": base,
		"related":        object{"launch": base + "launch/", "jobs": base + "jobs/", "inventory": fmt.Sprintf("/api/v2/inventories/%d/", t.inventory)},
		"summary_fields": object{"inventory": s.inventorySummary(t.inventory)},
		"created":        stamp(t.created), "modified": stamp(t.updated), "name": t.spec.Name, "description": t.spec.Description,
		"job_type": "run", "inventory": inv, "project": 1, "playbook": t.spec.Playbook, "forks": 0, "limit": "", "verbosity": 0,
		"extra_vars": string(vars), "job_tags": "", "skip_tags": "", "status": "never updated",
		"ask_variables_on_launch": t.spec.AskVariables, "ask_limit_on_launch": t.spec.AskLimit, "ask_inventory_on_launch": t.spec.AskInventory,
		"ask_tags_on_launch": false, "ask_skip_tags_on_launch": false, "ask_job_type_on_launch": t.spec.AskJobType, "ask_verbosity_on_launch": false,
		"ask_credential_on_launch": false, "ask_diff_mode_on_launch": false, "ask_scm_branch_on_launch": false,
		"survey_enabled": t.spec.SurveyEnabled, "allow_simultaneous": t.spec.AllowSimultaneous, "become_enabled": false}
}

func (s *Server) inventorySummary(id int) any {
	for _, inv := range s.inventories {
		if inv.id == id {
			return object{"id": inv.id, "name": inv.name, "kind": ""}
		}
	}
	return nil
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	objs := make([]object, 0, len(s.templates))
	for _, t := range s.templates {
		objs = append(objs, s.templateJSON(t))
	}
	s.mu.Unlock()
	return s.writeList(w, r, templateModel, objs)
}

func (s *Server) lookupTemplate(r *http.Request) (*template, *apiError) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	t := s.template(id)
	if t == nil {
		return nil, detail(http.StatusNotFound, "Not found.")
	}
	return t, nil
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTemplate(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.templateJSON(t))
	return nil
}

func (s *Server) launchInfo(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTemplate(r)
	if err != nil {
		return err
	}
	vars, _ := json.Marshal(t.spec.ExtraVars)
	if t.spec.ExtraVars == nil {
		vars = []byte("")
	}
	writeJSON(w, http.StatusOK, object{
		"can_start_without_user_input": t.inventory != 0, "passwords_needed_to_start": []string{},
		"ask_scm_branch_on_launch": false, "ask_variables_on_launch": t.spec.AskVariables, "ask_tags_on_launch": false,
		"ask_diff_mode_on_launch": false, "ask_skip_tags_on_launch": false, "ask_job_type_on_launch": t.spec.AskJobType,
		"ask_limit_on_launch": t.spec.AskLimit, "ask_verbosity_on_launch": false, "ask_inventory_on_launch": t.spec.AskInventory,
		"ask_credential_on_launch": false, "survey_enabled": t.spec.SurveyEnabled, "variables_needed_to_start": []string{},
		"credential_needed_to_start": false, "inventory_needed_to_start": t.inventory == 0,
		"job_template_data": object{"name": t.spec.Name, "id": t.id, "description": t.spec.Description},
		"defaults":          object{"extra_vars": string(vars), "limit": "", "inventory": s.inventorySummary(t.inventory), "job_tags": "", "skip_tags": ""},
	})
	return nil
}

// parseVars reads extra_vars as AWX does: a JSON object, or a string
// holding one ("" is none). YAML text is not modelled.
func parseVars(raw json.RawMessage) (map[string]any, *apiError) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if strings.TrimSpace(text) == "" {
			return map[string]any{}, nil
		}
		raw = json.RawMessage(text)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fieldError("extra_vars", fmt.Sprintf("Cannot parse as JSON (error: %v) or YAML (error: the simulator parses JSON only).", err))
	}
	m, ok := v.(map[string]any)
	if !ok {
		kind := map[bool]string{true: "list"}[func() bool { _, l := v.([]any); return l }()]
		if kind == "" {
			kind = fmt.Sprintf("%T", v)
		}
		return nil, fieldError("extra_vars", fmt.Sprintf("Input type `%s` is not a dictionary", kind))
	}
	return m, nil
}

// launchJob is POST /api/v2/job_templates/{id}/launch/.
func (s *Server) launchJob(w http.ResponseWriter, r *http.Request) *apiError {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTemplate(r)
	if err != nil {
		return err
	}
	ignored := object{}
	vars := map[string]any{}
	for k, v := range t.spec.ExtraVars {
		vars[k] = v
	}
	if raw, ok := body["extra_vars"]; ok {
		ev, err := parseVars(raw)
		if err != nil {
			return err
		}
		if t.spec.AskVariables || t.spec.SurveyEnabled {
			for k, v := range ev {
				vars[k] = v
			}
		} else if len(ev) > 0 {
			ignored["extra_vars"] = ev
		}
	}
	limit := ""
	if raw, ok := body["limit"]; ok {
		if json.Unmarshal(raw, &limit) != nil {
			return fieldError("limit", "Not a valid string.")
		}
		if len(limit) > 1024 {
			return fieldError("limit", "Ensure this field has no more than 1024 characters.")
		}
		if !t.spec.AskLimit {
			ignored["limit"], limit = limit, ""
		}
	}
	inv := t.inventory
	if raw, ok := body["inventory"]; ok {
		var id int
		if json.Unmarshal(raw, &id) != nil {
			return fieldError("inventory", fmt.Sprintf("Incorrect type. Expected pk value, received %s.", raw))
		}
		if s.inventorySummary(id) == nil {
			return fieldError("inventory", fmt.Sprintf("Invalid pk \"%d\" - object does not exist.", id))
		}
		if t.spec.AskInventory {
			inv = id
		} else {
			ignored["inventory"] = id
		}
	}
	jobType := "run"
	if raw, ok := body["job_type"]; ok {
		var v string
		if json.Unmarshal(raw, &v) != nil || (v != "run" && v != "check") {
			return fieldError("job_type", fmt.Sprintf("%s is not a valid choice.", raw))
		}
		if t.spec.AskJobType {
			jobType = v
		} else {
			ignored["job_type"] = v
		}
	}
	for _, k := range []string{"job_tags", "skip_tags", "verbosity", "diff_mode", "credentials", "scm_branch", "forks", "timeout", "labels", "execution_environment"} {
		if raw, ok := body[k]; ok {
			var v any
			json.Unmarshal(raw, &v)
			ignored[k] = v
		}
	}
	if inv == 0 {
		return fieldError("inventory", "Job Template 'inventory' is missing or undefined.")
	}
	j := s.launch(t, inv, limit, jobType, vars, "manual")
	out := s.jobJSON(j)
	out["job"] = j.id
	out["ignored_fields"] = ignored
	w.Header().Set("Location", fmt.Sprintf("/api/v2/jobs/%d/", j.id))
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// Jobs.

var jobModel = listModel{name: "Job", noSearch: []string{"extra_vars"}, ordering: "id", fields: []string{"name", "description", "created",
	"modified", "job_type", "inventory", "project", "playbook", "limit", "job_template", "unified_job_template", "launch_type", "status",
	"failed", "started", "finished", "elapsed", "job_explanation", "execution_node"}}

func (s *Server) jobJSON(j *job) object {
	base := fmt.Sprintf("/api/v2/jobs/%d/", j.id)
	var elapsed float64
	if !j.started.IsZero() {
		end := j.finished
		if end.IsZero() {
			end = s.o.Now()
		}
		elapsed = float64(end.Sub(j.started).Milliseconds()) / 1000
	}
	t := s.template(j.template)
	return object{"id": j.id, "type": "job", "url": base,
		"related": object{"job_template": fmt.Sprintf("/api/v2/job_templates/%d/", j.template), "inventory": fmt.Sprintf("/api/v2/inventories/%d/", j.inventory),
			"stdout": base + "stdout/", "job_events": base + "job_events/", "job_host_summaries": base + "job_host_summaries/",
			"cancel": base + "cancel/", "relaunch": base + "relaunch/"},
		"summary_fields": object{"job_template": object{"id": j.template, "name": t.spec.Name, "description": t.spec.Description},
			"inventory": s.inventorySummary(j.inventory), "created_by": object{"id": 1, "username": s.o.Username}},
		"created": stamp(j.created), "modified": stamp(j.modified), "name": j.name, "description": "", "job_type": j.jobType,
		"inventory": j.inventory, "project": 1, "playbook": j.playbook, "scm_branch": "", "forks": 0, "limit": j.limit, "verbosity": 0,
		"extra_vars": j.extraVars, "job_tags": "", "skip_tags": "", "unified_job_template": j.template, "job_template": j.template,
		"launch_type": j.launchType, "status": j.status, "failed": j.status == statusFailed || j.status == statusError,
		"started": stamp(j.started), "finished": stamp(j.finished), "canceled_on": nil, "elapsed": elapsed,
		"job_explanation": j.explanation, "execution_node": "awxsim", "controller_node": "awxsim", "artifacts": object{},
		"allow_simultaneous": t.spec.AllowSimultaneous, "passwords_needed_to_start": []string{}}
}

func (s *Server) jobList(w http.ResponseWriter, r *http.Request, keep func(*job) bool) *apiError {
	s.mu.Lock()
	var objs []object
	for _, j := range s.jobs {
		if keep(j) {
			objs = append(objs, s.jobJSON(j))
		}
	}
	s.mu.Unlock()
	return s.writeList(w, r, jobModel, objs)
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) *apiError {
	return s.jobList(w, r, func(*job) bool { return true })
}

func (s *Server) listTemplateJobs(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	t, err := s.lookupTemplate(r)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.jobList(w, r, func(j *job) bool { return j.template == t.id })
}

func (s *Server) lookupJob(r *http.Request) (*job, *apiError) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	j := s.job(id)
	if j == nil {
		return nil, detail(http.StatusNotFound, "Not found.")
	}
	return j, nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	out := s.jobJSON(j)
	j.reads++
	if j.reads == s.o.StartPolls {
		close(j.gate)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var eventModel = listModel{name: "JobEvent", ordering: "counter", fields: []string{"created", "modified", "job", "event", "counter",
	"event_level", "failed", "changed", "uuid", "parent_uuid", "host", "host_name", "playbook", "play", "task", "role", "stdout", "verbosity"}}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	j, err := s.lookupJob(r)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	objs := make([]object, 0, len(j.events))
	for _, e := range j.events {
		data := e.Data
		if data == nil {
			data = map[string]any{}
		}
		var hostID any
		for _, h := range s.hosts {
			if e.Host != "" && h.inventory == j.inventory && h.name == e.Host {
				hostID = h.id
			}
		}
		level := map[bool]int{true: 3, false: 2}[e.Host != ""]
		switch e.Event.Event {
		case "playbook_on_start", "playbook_on_stats":
			level = 0
		case "playbook_on_play_start":
			level = 1
		}
		objs = append(objs, object{"id": e.id, "type": "job_event", "url": fmt.Sprintf("/api/v2/job_events/%d/", e.id),
			"created": stamp(e.created), "modified": stamp(e.created), "job": j.id, "event": e.Event.Event, "counter": e.counter,
			"event_display": display(e.Event.Event), "event_data": data, "event_level": level, "failed": e.Failed, "changed": e.Changed,
			"uuid": e.uuid, "parent_uuid": "", "host": hostID, "host_name": e.Host, "playbook": j.playbook, "play": e.Play,
			"task": e.Task, "role": "", "stdout": e.Stdout, "start_line": 0, "end_line": 0, "verbosity": 0})
	}
	s.mu.Unlock()
	return s.writeList(w, r, eventModel, objs)
}

func display(event string) string {
	switch event {
	case "playbook_on_start":
		return "Playbook Started"
	case "playbook_on_play_start":
		return "Play Started"
	case "playbook_on_task_start":
		return "Task Started"
	case "runner_on_ok":
		return "Host OK"
	case "runner_on_failed":
		return "Host Failed"
	case "runner_on_unreachable":
		return "Host Unreachable"
	case "runner_on_skipped":
		return "Host Skipped"
	case "playbook_on_stats":
		return "Playbook Complete"
	}
	return event
}

var summaryModel = listModel{name: "JobHostSummary", ordering: "-id", fields: []string{"created", "modified", "job", "host", "host_name",
	"changed", "dark", "failures", "ok", "processed", "skipped", "failed", "ignored", "rescued"}}

func (s *Server) listSummaries(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	j, err := s.lookupJob(r)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	objs := make([]object, 0, len(j.summaries))
	for _, h := range j.summaries {
		var hostID any
		if h.host != 0 {
			hostID = h.host
		}
		objs = append(objs, object{"id": h.id, "type": "job_host_summary", "url": fmt.Sprintf("/api/v2/job_host_summaries/%d/", h.id),
			"summary_fields": object{"host": object{"id": hostID, "name": h.Host}, "job": object{"id": j.id, "name": j.name, "status": j.status}},
			"created":        stamp(h.created), "modified": stamp(h.created), "job": j.id, "host": hostID, "constructed_host": nil,
			"host_name": h.Host, "changed": h.Changed, "dark": h.Dark, "failures": h.Failures, "ok": h.OK,
			"processed": 1, "skipped": h.Skipped, "failed": h.Failed(), "ignored": h.Ignored, "rescued": h.Rescued})
	}
	s.mu.Unlock()
	return s.writeList(w, r, summaryModel, objs)
}

func (s *Server) getStdout(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	j, err := s.lookupJob(r)
	var text string
	if err == nil {
		text = j.stdout.String()
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	switch f := r.URL.Query().Get("format"); f {
	case "json":
		lines := strings.Count(text, "\n")
		writeJSON(w, http.StatusOK, object{"range": object{"start": 0, "end": lines, "absolute_end": lines}, "content": text})
	case "", "txt", "ansi", "txt_download", "ansi_download":
		if strings.HasSuffix(f, "_download") {
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="job_%d.txt"`, j.id))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, text)
	default:
		return detail(http.StatusNotFound, "Not found.")
	}
	return nil
}

func (s *Server) cancelInfo(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, object{"can_cancel": !finished(j.status)})
	return nil
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	j, err := s.lookupJob(r)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if finished(j.status) {
		s.mu.Unlock()
		return detail(http.StatusMethodNotAllowed, "Method \"POST\" not allowed.")
	}
	j.cancelOnce.Do(func() { close(j.cancelled) })
	done := j.done
	s.mu.Unlock()
	// AWX answers once the cancel is recorded; the simulator waits for the
	// runner to stop so a client reading the job next sees "canceled".
	select {
	case <-done:
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func failedHosts(j *job) []string {
	var out []string
	for _, h := range j.summaries {
		if h.Failed() {
			out = append(out, h.Host)
		}
	}
	return out
}

func (s *Server) relaunchInfo(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, object{"passwords_needed_to_start": []string{}, "retry_counts": object{"all": len(j.summaries), "failed": len(failedHosts(j))}})
	return nil
}

// relaunchJob is POST /api/v2/jobs/{id}/relaunch/: the same template,
// inventory, extra_vars and limit, or only the failed hosts.
func (s *Server) relaunchJob(w http.ResponseWriter, r *http.Request) *apiError {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	hosts := "all"
	if raw, ok := body["hosts"]; ok {
		if json.Unmarshal(raw, &hosts) != nil || (hosts != "all" && hosts != "failed") {
			return fieldError("hosts", fmt.Sprintf("%s is not a valid choice.", raw))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	limit := j.limit
	if hosts == "failed" {
		failed := failedHosts(j)
		if len(failed) == 0 {
			return fieldError("hosts", "No failed hosts found.")
		}
		limit = strings.Join(failed, ",")
	}
	vars := map[string]any{}
	for k, v := range j.vars {
		vars[k] = v
	}
	n := s.launch(s.template(j.template), j.inventory, limit, j.jobType, vars, "relaunch")
	out := s.jobJSON(n)
	out["job"] = n.id
	w.Header().Set("Location", fmt.Sprintf("/api/v2/jobs/%d/", n.id))
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// Inventories and hosts.

var (
	inventoryModel = listModel{name: "Inventory", ordering: "name", fields: []string{"name", "description", "created", "modified",
		"organization", "kind", "total_hosts", "has_active_failures"}}
	hostModel = listModel{name: "Host", ordering: "name", fields: []string{"name", "description", "created", "modified", "inventory",
		"enabled", "instance_id"}}
)

func (s *Server) inventoryJSON(inv *inventory) object {
	n := 0
	for _, h := range s.hosts {
		if h.inventory == inv.id {
			n++
		}
	}
	base := fmt.Sprintf("/api/v2/inventories/%d/", inv.id)
	return object{"id": inv.id, "type": "inventory", "url": base, "related": object{"hosts": base + "hosts/"},
		"created": stamp(inv.created), "modified": stamp(inv.updated), "name": inv.name, "description": "", "organization": 1,
		"kind": "", "host_filter": nil, "variables": "", "total_hosts": n, "has_active_failures": false}
}

func (s *Server) hostJSON(h *host) object {
	return object{"id": h.id, "type": "host", "url": fmt.Sprintf("/api/v2/hosts/%d/", h.id),
		"summary_fields": object{"inventory": s.inventorySummary(h.inventory), "groups": object{"count": len(h.groups), "results": groupRefs(h.groups)}},
		"created":        stamp(h.created), "modified": stamp(h.updated), "name": h.name, "description": h.desc, "inventory": h.inventory,
		"enabled": h.enabled, "instance_id": "", "variables": h.vars}
}

func groupRefs(gs []string) []object {
	out := []object{}
	for _, g := range gs {
		out = append(out, object{"name": g})
	}
	return out
}

func (s *Server) listInventories(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	var objs []object
	for _, inv := range s.inventories {
		objs = append(objs, s.inventoryJSON(inv))
	}
	s.mu.Unlock()
	return s.writeList(w, r, inventoryModel, objs)
}

func (s *Server) lookupInventory(r *http.Request) (*inventory, *apiError) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	for _, inv := range s.inventories {
		if inv.id == id {
			return inv, nil
		}
	}
	return nil, detail(http.StatusNotFound, "Not found.")
}

func (s *Server) getInventory(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, err := s.lookupInventory(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.inventoryJSON(inv))
	return nil
}

func (s *Server) listInventoryHosts(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	inv, err := s.lookupInventory(r)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	var objs []object
	for _, h := range s.hosts {
		if h.inventory == inv.id {
			objs = append(objs, s.hostJSON(h))
		}
	}
	s.mu.Unlock()
	return s.writeList(w, r, hostModel, objs)
}

// createHost is POST /api/v2/inventories/{id}/hosts/.
func (s *Server) createHost(w http.ResponseWriter, r *http.Request) *apiError {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	var name, desc, vars string
	enabled := true
	raw, ok := body["name"]
	if !ok {
		return fieldError("name", "This field is required.")
	}
	if json.Unmarshal(raw, &name) != nil {
		return fieldError("name", "Not a valid string.")
	}
	if strings.TrimSpace(name) == "" {
		return fieldError("name", "This field may not be blank.")
	}
	if len(name) > 512 {
		return fieldError("name", "Ensure this field has no more than 512 characters.")
	}
	if raw, ok := body["description"]; ok && json.Unmarshal(raw, &desc) != nil {
		return fieldError("description", "Not a valid string.")
	}
	if raw, ok := body["enabled"]; ok && json.Unmarshal(raw, &enabled) != nil {
		return fieldError("enabled", "Must be a valid boolean.")
	}
	if raw, ok := body["variables"]; ok {
		if json.Unmarshal(raw, &vars) != nil {
			return fieldError("variables", "Not a valid string.")
		}
		if strings.TrimSpace(vars) != "" {
			var m map[string]any
			if err := json.Unmarshal([]byte(vars), &m); err != nil {
				return fieldError("variables", fmt.Sprintf("Cannot parse as JSON (error: %v) or YAML (error: the simulator parses JSON only).", err))
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, err := s.lookupInventory(r)
	if err != nil {
		return err
	}
	for _, h := range s.hosts {
		if h.inventory == inv.id && h.name == name {
			return &apiError{status: http.StatusBadRequest, body: map[string][]string{"__all__": {"Host with this Name and Inventory already exists."}}}
		}
	}
	now := s.o.Now()
	h := &host{id: s.next("host"), inventory: inv.id, name: name, desc: desc, enabled: enabled, vars: vars, created: now, updated: now}
	s.hosts = append(s.hosts, h)
	writeJSON(w, http.StatusCreated, s.hostJSON(h))
	return nil
}

func (s *Server) getHost(w http.ResponseWriter, r *http.Request) *apiError {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hosts {
		if h.id == id {
			writeJSON(w, http.StatusOK, s.hostJSON(h))
			return nil
		}
	}
	return detail(http.StatusNotFound, "Not found.")
}
