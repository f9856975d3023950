package landscapesim

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eucora/eucora/connectors/sim/fleet"
)

// The legacy API: one endpoint, the action and version parameters, the
// action's own parameters checked against its schema.

type kind int

const (
	kStr kind = iota
	kInt
	kBool
	kList
)

type param struct {
	name     string
	kind     kind
	required bool
}

type action struct {
	params  []param
	handler func(s *Server, a *args) (any, *apiError)
}

// args are a request's checked parameters.
type args struct {
	v     map[string]string
	lists map[string][]string
}

func (a *args) str(name string) string { return a.v[name] }

func (a *args) has(name string) bool { _, ok := a.v[name]; return ok }

func (a *args) int(name string, def int) int {
	if v, ok := a.v[name]; ok {
		n, _ := strconv.Atoi(v)
		return n
	}
	return def
}

func (a *args) bool(name string) bool { return strings.EqualFold(a.v[name], "true") }

// common are the parameters every request may carry.
var common = map[string]bool{"action": true, "version": true, "access_key_id": true, "signature_method": true,
	"signature_version": true, "timestamp": true, "signature": true}

var listItem = regexp.MustCompile(`^(.+)\.([1-9][0-9]{0,5})$`)

func (ac action) parse(p url.Values) (*args, *apiError) {
	a := &args{v: map[string]string{}, lists: map[string][]string{}}
	decl := map[string]param{}
	for _, x := range ac.params {
		decl[x.name] = x
	}
	type item struct {
		n int
		v string
	}
	items := map[string][]item{}
	for k, vs := range p {
		if common[k] {
			continue
		}
		if m := listItem.FindStringSubmatch(k); m != nil {
			if d, ok := decl[m[1]]; ok && d.kind == kList {
				n, _ := strconv.Atoi(m[2])
				items[m[1]] = append(items[m[1]], item{n, vs[0]})
				continue
			}
		}
		d, ok := decl[k]
		if !ok || d.kind == kList {
			return nil, errorf(http.StatusBadRequest, "UnknownParameter", "Unknown parameter %q for action %s.", k, p.Get("action"))
		}
		switch d.kind {
		case kInt:
			if _, err := strconv.Atoi(vs[0]); err != nil {
				return nil, errorf(http.StatusBadRequest, "InvalidParameter", "Parameter %s: %q is not an integer.", k, vs[0])
			}
		case kBool:
			if !strings.EqualFold(vs[0], "true") && !strings.EqualFold(vs[0], "false") {
				return nil, errorf(http.StatusBadRequest, "InvalidParameter", "Parameter %s: %q is not true or false.", k, vs[0])
			}
		}
		a.v[k] = vs[0]
	}
	for name, its := range items {
		sort.Slice(its, func(i, j int) bool { return its[i].n < its[j].n })
		for _, it := range its {
			a.lists[name] = append(a.lists[name], it.v)
		}
	}
	for _, d := range ac.params {
		if !d.required {
			continue
		}
		if (d.kind == kList && len(a.lists[d.name]) == 0) || (d.kind != kList && !a.has(d.name)) {
			return nil, errorf(http.StatusBadRequest, "MissingParameter", "Missing parameter %s for action %s.", d.name, p.Get("action"))
		}
	}
	return a, nil
}

var actions = map[string]action{
	"GetComputers": {params: []param{{"query", kStr, false}, {"limit", kInt, false}, {"offset", kInt, false},
		{"with_network", kBool, false}, {"with_hardware", kBool, false}, {"with_annotations", kBool, false}}, handler: (*Server).getComputers},
	"GetScripts":    {params: []param{{"limit", kInt, false}, {"offset", kInt, false}}, handler: (*Server).getScripts},
	"GetScriptCode": {params: []param{{"script_id", kInt, true}}, handler: (*Server).getScriptCode},
	"CreateScript": {params: []param{{"title", kStr, true}, {"time_limit", kInt, true}, {"code", kStr, true},
		{"username", kStr, false}, {"access_group", kStr, false}}, handler: (*Server).createScript},
	"EditScript": {params: []param{{"script_id", kInt, true}, {"title", kStr, false}, {"time_limit", kInt, false},
		{"code", kStr, false}, {"username", kStr, false}}, handler: (*Server).editScript},
	"RemoveScript": {params: []param{{"script_id", kInt, true}}, handler: (*Server).removeScript},
	"ExecuteScript": {params: []param{{"query", kStr, true}, {"script_id", kInt, true}, {"username", kStr, false},
		{"deliver_after", kStr, false}}, handler: (*Server).executeScript},
	"GetPackageProfiles": {params: []param{{"names", kList, false}}, handler: (*Server).getProfiles},
	"CreatePackageProfile": {params: []param{{"title", kStr, true}, {"description", kStr, true}, {"source_computer_id", kInt, false},
		{"material", kStr, false}, {"constraints", kList, false}, {"access_group", kStr, false}}, handler: (*Server).createProfile},
	"EditPackageProfile": {params: []param{{"name", kStr, true}, {"title", kStr, false}, {"add_constraints", kList, false},
		{"remove_constraints", kList, false}}, handler: (*Server).editProfile},
	"AssociatePackageProfile": {params: []param{{"name", kStr, true}, {"tags", kList, false}, {"all_computers", kBool, false}},
		handler: func(s *Server, a *args) (any, *apiError) { return s.associate(a, true) }},
	"DisassociatePackageProfile": {params: []param{{"name", kStr, true}, {"tags", kList, false}, {"all_computers", kBool, false}},
		handler: func(s *Server, a *args) (any, *apiError) { return s.associate(a, false) }},
	"RemovePackageProfile": {params: []param{{"name", kStr, true}}, handler: (*Server).removeProfile},
	"InstallPackages": {params: []param{{"query", kStr, true}, {"packages", kList, true}, {"deliver_after", kStr, false},
		{"deliver_delay_window", kInt, false}}, handler: func(s *Server, a *args) (any, *apiError) { return s.packages("InstallPackages", a) }},
	"RemovePackages": {params: []param{{"query", kStr, true}, {"packages", kList, true}, {"deliver_after", kStr, false},
		{"deliver_delay_window", kInt, false}}, handler: func(s *Server, a *args) (any, *apiError) { return s.packages("RemovePackages", a) }},
	"UpgradePackages": {params: []param{{"query", kStr, true}, {"packages", kList, false}, {"security_only", kBool, false},
		{"deliver_after", kStr, false}, {"deliver_delay_window", kInt, false}},
		handler: func(s *Server, a *args) (any, *apiError) { return s.packages("UpgradePackages", a) }},
	"GetActivities": {params: []param{{"query", kStr, false}, {"limit", kInt, false}, {"offset", kInt, false}},
		handler: (*Server).getActivities},
	"CancelActivities": {params: []param{{"query", kStr, true}}, handler: (*Server).cancelActivities},
}

// versions are the legacy API versions the simulator answers.
var versions = map[string]bool{"2011-08-01": true, "2013-11-04": true}

// legacy serves /api/: u is the request's URL as the client sent it.
func (s *Server) legacy(w http.ResponseWriter, r *http.Request, u *url.URL) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The legacy API takes GET or POST.")
		return
	}
	p := u.Query()
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded") || (ct == "" && len(body) > 0):
			f, err := url.ParseQuery(string(body))
			if err != nil {
				writeError(w, http.StatusBadRequest, "InvalidParameter", "The body is not a form: "+err.Error())
				return
			}
			for k, vs := range f {
				p[k] = append(p[k], vs...)
			}
		case len(body) > 0:
			writeError(w, http.StatusBadRequest, "InvalidParameter", "POST the parameters as application/x-www-form-urlencoded, not "+ct+".")
			return
		}
	}
	for k, vs := range p {
		if len(vs) > 1 {
			writeError(w, http.StatusBadRequest, "InvalidParameter", fmt.Sprintf("Parameter %s given %d times.", k, len(vs)))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	if e := s.authenticate(r, p, u); e != nil {
		writeError(w, e.status, e.code, e.message)
		return
	}
	switch v := p.Get("version"); {
	case v == "":
		writeError(w, http.StatusBadRequest, "MissingParameter", "Missing parameter version.")
		return
	case !versions[v]:
		writeError(w, http.StatusBadRequest, "UnknownVersion", fmt.Sprintf("Unknown API version %q.", v))
		return
	}
	name := p.Get("action")
	ac, ok := actions[name]
	if !ok {
		if name == "" {
			writeError(w, http.StatusBadRequest, "MissingParameter", "Missing parameter action.")
		} else {
			writeError(w, http.StatusBadRequest, "UnknownAction", fmt.Sprintf("Unknown action %q.", name))
		}
		return
	}
	a, e := ac.parse(p)
	if e == nil {
		var out any
		if out, e = ac.handler(s, a); e == nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeError(w, e.status, e.code, e.message)
}

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

var creator = map[string]any{"id": 1, "name": "EUCORA simulator", "email": "simulator@eucora.invalid"}

// page applies limit and offset.
func page[T any](items []T, a *args, def int) []T {
	limit, offset := a.int("limit", def), a.int("offset", 0)
	if offset < 0 {
		offset = 0
	}
	if offset > len(items) {
		offset = len(items)
	}
	end := len(items)
	if limit >= 0 && offset+limit < end {
		end = offset + limit
	}
	return items[offset:end]
}

func badRequest(code, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, code, format, args...)
}

// --- computers

func (s *Server) computerJSON(c *computer) map[string]any {
	return map[string]any{
		"id": c.id, "title": c.hostname, "hostname": c.hostname, "comment": "", "total_memory": 2048, "total_swap": 1024,
		"reboot_required_flag": false, "update_manager_prompt": "normal", "clone_id": nil, "secrets_name": nil,
		"last_exchange_time": ts(c.created), "last_ping_time": ts(s.now()), "tags": nonNil(c.tags), "access_group": "global",
		"distribution": "24.04", "vm_info": "", "container_info": "", "annotations": map[string]string{},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) getComputers(a *args) (any, *apiError) {
	cs, err := s.matchComputers(a.str("query"))
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, c := range page(cs, a, s.opts.PageSize) {
		out = append(out, s.computerJSON(c))
	}
	return out, nil
}

// --- scripts

func scriptJSON(sc *script) map[string]any {
	interp, _, _ := strings.Cut(strings.TrimPrefix(sc.code, "#!"), "\n")
	return map[string]any{"id": sc.id, "title": sc.title, "time_limit": sc.timeLimit, "username": sc.username,
		"access_group": sc.group, "creator": creator, "interpreter": strings.TrimSpace(interp), "attachments": []string{}}
}

func (s *Server) script(a *args) (*script, *apiError) {
	id := int64(a.int("script_id", 0))
	for _, sc := range s.scripts {
		if sc.id == id {
			return sc, nil
		}
	}
	return nil, badRequest("UnknownScript", "Unknown script %d.", id)
}

func (s *Server) getScripts(a *args) (any, *apiError) {
	var visible []*script
	for _, sc := range s.scripts {
		if sc.hidden > 0 {
			sc.hidden--
			continue
		}
		visible = append(visible, sc)
	}
	out := []map[string]any{}
	for _, sc := range page(visible, a, s.opts.PageSize) {
		out = append(out, scriptJSON(sc))
	}
	return out, nil
}

func (s *Server) getScriptCode(a *args) (any, *apiError) {
	sc, err := s.script(a)
	if err != nil {
		return nil, err
	}
	return sc.code, nil
}

// decodeCode reads a script's base64 code and checks it as Landscape does.
func decodeCode(b64 string) (string, *apiError) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	switch {
	case err != nil:
		return "", badRequest("ScriptEncoding", "The script code is not base64: %v.", err)
	case !utf8.Valid(raw):
		return "", badRequest("ScriptEncoding", "The script code is not UTF-8.")
	case strings.TrimSpace(string(raw)) == "":
		return "", badRequest("EmptyScriptCode", "The script code is empty.")
	}
	if line, _, _ := strings.Cut(string(raw), "\n"); !strings.HasPrefix(line, "#!") || strings.TrimSpace(line[2:]) == "" {
		return "", badRequest("EmptyScriptInterpreter", "The script does not start with an interpreter line (#!).")
	}
	return string(raw), nil
}

func (s *Server) checkTitle(title string) *apiError {
	if strings.TrimSpace(title) == "" || len(title) > 255 || strings.ContainsAny(title, "\r\n") {
		return badRequest("InvalidParameter", "Invalid title %q: want one line of 1 to 255 characters.", title)
	}
	return nil
}

func checkGroup(g string) *apiError {
	if g != "" && g != "global" {
		return badRequest("UnknownAccessGroup", "Unknown access group %q.", g)
	}
	return nil
}

func (s *Server) createScript(a *args) (any, *apiError) {
	title := a.str("title")
	if err := s.checkTitle(title); err != nil {
		return nil, err
	}
	if err := checkGroup(a.str("access_group")); err != nil {
		return nil, err
	}
	for _, sc := range s.scripts {
		if sc.title == title {
			return nil, badRequest("DuplicateScript", "A script with the title %q already exists.", title)
		}
	}
	code, err := decodeCode(a.str("code"))
	if err != nil {
		return nil, err
	}
	if a.int("time_limit", 0) <= 0 {
		return nil, badRequest("InvalidParameter", "Parameter time_limit: want a positive number of seconds.")
	}
	s.nextID++
	sc := &script{id: s.nextID, title: title, code: code, timeLimit: a.int("time_limit", 0), username: a.str("username"),
		group: "global", created: s.now(), hidden: s.opts.ConsistencyDelay}
	s.scripts = append(s.scripts, sc)
	return scriptJSON(sc), nil
}

func (s *Server) editScript(a *args) (any, *apiError) {
	sc, err := s.script(a)
	if err != nil {
		return nil, err
	}
	if a.has("title") {
		if err := s.checkTitle(a.str("title")); err != nil {
			return nil, err
		}
		for _, o := range s.scripts {
			if o != sc && o.title == a.str("title") {
				return nil, badRequest("DuplicateScript", "A script with the title %q already exists.", a.str("title"))
			}
		}
	}
	code := sc.code
	if a.has("code") {
		if code, err = decodeCode(a.str("code")); err != nil {
			return nil, err
		}
	}
	if a.has("title") {
		sc.title = a.str("title")
	}
	if a.has("time_limit") {
		sc.timeLimit = a.int("time_limit", sc.timeLimit)
	}
	if a.has("username") {
		sc.username = a.str("username")
	}
	sc.code = code
	return scriptJSON(sc), nil
}

func (s *Server) removeScript(a *args) (any, *apiError) {
	sc, err := s.script(a)
	if err != nil {
		return nil, err
	}
	s.scripts = slices.DeleteFunc(s.scripts, func(x *script) bool { return x == sc })
	return nil, nil
}

// --- package profiles

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// profileName is the name Landscape derives from a title: lower case,
// every run of other characters a "-".
func profileName(title string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(title), "-"), "-")
}

var (
	constraintPkg = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	constraintVer = regexp.MustCompile(`^[0-9A-Za-z.+~:-]+$`)
)

// parseConstraint checks "depends|conflicts PKG [OP VERSION]".
func parseConstraint(text string) ([2]string, *apiError) {
	typ, rule, _ := strings.Cut(strings.TrimSpace(text), " ")
	if typ != "depends" && typ != "conflicts" {
		return [2]string{}, badRequest("InvalidConstraintType", "Invalid constraint type %q: want depends or conflicts.", typ)
	}
	f := strings.Fields(rule)
	ok := len(f) == 1 || len(f) == 3
	if ok {
		ok = constraintPkg.MatchString(f[0])
	}
	if ok && len(f) == 3 {
		ok = slices.Contains([]string{"=", "<<", "<=", ">=", ">>", "<", ">"}, f[1]) && constraintVer.MatchString(f[2])
	}
	if !ok {
		return [2]string{}, badRequest("InvalidPackageConstraint", "Invalid package constraint %q: want NAME [OP VERSION].", text)
	}
	return [2]string{typ, strings.Join(f, " ")}, nil
}

func (s *Server) profileByName(name string) (*profile, *apiError) {
	for _, p := range s.profiles {
		if p.name == name {
			return p, nil
		}
	}
	return nil, badRequest("UnknownPackageProfileName", "Unknown package profile %q.", name)
}

// constrained lists the computers a profile applies to.
func (s *Server) constrained(p *profile) []*computer {
	var out []*computer
	for _, c := range s.computers {
		if p.all || len(intersect(c.tags, p.tags)) > 0 {
			out = append(out, c)
		}
	}
	return out
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// complies reports whether a computer's packages satisfy a profile.
func complies(c *computer, p *profile) bool {
	for _, cs := range p.constraints {
		f := strings.Fields(cs[1])
		have, ok := c.installed[f[0]]
		if cs[0] == "conflicts" {
			if ok && (len(f) == 1 || satisfies(have, f[1], f[2])) {
				return false
			}
			continue
		}
		if !ok || (len(f) == 3 && !satisfies(have, f[1], f[2])) {
			return false
		}
	}
	return true
}

func satisfies(have, op, want string) bool {
	c := compareVersions(have, want)
	switch op {
	case "=":
		return c == 0
	case "<<", "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">=":
		return c >= 0
	case ">>", ">":
		return c > 0
	}
	return false
}

func (s *Server) profileJSON(p *profile) map[string]any {
	cons := [][]string{}
	for _, c := range p.constraints {
		cons = append(cons, []string{c[0], c[1]})
	}
	constrained, noncompliant := []int64{}, []int64{}
	for _, c := range s.constrained(p) {
		constrained = append(constrained, c.id)
		if !complies(c, p) {
			noncompliant = append(noncompliant, c.id)
		}
	}
	return map[string]any{
		"id": p.id, "name": p.name, "title": p.title, "description": p.description, "access_group": p.group,
		"creation_time": ts(p.created), "modification_time": ts(p.modified), "version": strconv.Itoa(p.version),
		"tags": nonNil(p.tags), "all_computers": p.all, "constraints": cons,
		"computers": map[string]any{"constrained": constrained, "non-compliant": noncompliant, "pending": []int64{}},
	}
}

func (s *Server) getProfiles(a *args) (any, *apiError) {
	names := a.lists["names"]
	out := []map[string]any{}
	for _, p := range s.profiles {
		if len(names) > 0 && !slices.Contains(names, p.name) {
			continue
		}
		if p.hidden > 0 {
			p.hidden--
			continue
		}
		out = append(out, s.profileJSON(p))
	}
	return out, nil
}

func (s *Server) createProfile(a *args) (any, *apiError) {
	title := a.str("title")
	if err := s.checkTitle(title); err != nil {
		return nil, err
	}
	if err := checkGroup(a.str("access_group")); err != nil {
		return nil, err
	}
	sources := 0
	for _, given := range []bool{a.has("source_computer_id"), a.has("material"), len(a.lists["constraints"]) > 0} {
		if given {
			sources++
		}
	}
	switch {
	case sources > 1:
		return nil, badRequest("InvalidParameterCombination", "source_computer_id, material and constraints are mutually exclusive.")
	case sources == 0:
		return nil, badRequest("EmptyPackageProfile", "A package profile needs constraints, material or a source computer.")
	}
	name := profileName(title)
	if name == "" {
		return nil, badRequest("InvalidPackageProfileName", "The title %q gives no profile name.", title)
	}
	for _, p := range s.profiles {
		if p.name == name {
			return nil, badRequest("DuplicatePackageProfile", "A package profile named %q already exists.", name)
		}
	}
	var cons [][2]string
	switch {
	case len(a.lists["constraints"]) > 0:
		for _, text := range a.lists["constraints"] {
			c, err := parseConstraint(text)
			if err != nil {
				return nil, err
			}
			cons = append(cons, c)
		}
	case a.has("material"):
		for _, line := range strings.Split(a.str("material"), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if len(f) != 2 || f[1] != "install" || !constraintPkg.MatchString(f[0]) {
				return nil, badRequest("InvalidPackageProfileMaterial", "Invalid material line %q: want \"PACKAGE install\".", line)
			}
			cons = append(cons, [2]string{"depends", f[0]})
		}
		if len(cons) == 0 {
			return nil, badRequest("NoFoundPackages", "The material names no packages.")
		}
	default:
		c := s.computer(int64(a.int("source_computer_id", 0)))
		if c.hostname == "" {
			return nil, badRequest("UnknownComputer", "Unknown computer %d.", c.id)
		}
		for _, pkg := range sortedKeys(boolSet(c.installed)) {
			cons = append(cons, [2]string{"depends", pkg + " = " + c.installed[pkg]})
		}
		if len(cons) == 0 {
			return nil, badRequest("NoFoundPackages", "Computer %d reports no packages.", c.id)
		}
	}
	now := s.now()
	s.nextID++
	p := &profile{id: s.nextID, name: name, title: title, description: a.str("description"), group: "global",
		created: now, modified: now, version: 1, constraints: cons, hidden: s.opts.ConsistencyDelay}
	s.profiles = append(s.profiles, p)
	return s.profileJSON(p), nil
}

func boolSet(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func (s *Server) editProfile(a *args) (any, *apiError) {
	p, err := s.profileByName(a.str("name"))
	if err != nil {
		return nil, err
	}
	add, remove := a.lists["add_constraints"], a.lists["remove_constraints"]
	if !a.has("title") && len(add) == 0 && len(remove) == 0 {
		return nil, badRequest("MissingParameter", "Nothing to change: give title, add_constraints or remove_constraints.")
	}
	cons := slices.Clone(p.constraints)
	for _, text := range remove {
		c, err := parseConstraint(text)
		if err != nil {
			return nil, err
		}
		cons = slices.DeleteFunc(cons, func(x [2]string) bool { return x == c })
	}
	for _, text := range add {
		c, err := parseConstraint(text)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(cons, c) {
			cons = append(cons, c)
		}
	}
	if len(cons) == 0 {
		return nil, badRequest("EmptyPackageProfile", "The edit leaves package profile %q without constraints.", p.name)
	}
	if a.has("title") {
		if err := s.checkTitle(a.str("title")); err != nil {
			return nil, err
		}
		p.title = a.str("title")
	}
	p.constraints, p.modified, p.version = cons, s.now(), p.version+1
	return s.profileJSON(p), nil
}

func (s *Server) associate(a *args, on bool) (any, *apiError) {
	p, err := s.profileByName(a.str("name"))
	if err != nil {
		return nil, err
	}
	tags, all := a.lists["tags"], a.bool("all_computers")
	switch {
	case len(tags) > 0 && all:
		return nil, badRequest("InvalidParameterCombination", "tags and all_computers=true are mutually exclusive.")
	case len(tags) == 0 && !all:
		return nil, badRequest("MissingParameter", "Give tags or all_computers=true.")
	}
	if !on {
		known := s.tagsInUse()
		for _, t := range tags {
			if !known[t] {
				return nil, badRequest("UnknownTag", "Unknown tag %q.", t)
			}
		}
	}
	for _, t := range tags {
		if strings.ContainsAny(t, " :\"") || t == "" {
			return nil, badRequest("InvalidParameter", "Invalid tag name %q.", t)
		}
		has := slices.Contains(p.tags, t)
		switch {
		case on && !has:
			p.tags = append(p.tags, t)
		case !on && has:
			p.tags = slices.DeleteFunc(p.tags, func(x string) bool { return x == t })
		}
	}
	sort.Strings(p.tags)
	if all {
		p.all = on
	}
	p.modified = s.now()
	return s.profileJSON(p), nil
}

func (s *Server) removeProfile(a *args) (any, *apiError) {
	p, err := s.profileByName(a.str("name"))
	if err != nil {
		return nil, err
	}
	s.profiles = slices.DeleteFunc(s.profiles, func(x *profile) bool { return x == p })
	return nil, nil
}

// --- activities

func isFinal(status string) bool {
	return status == "succeeded" || status == "failed" || status == "canceled"
}

// status is an activity's status; a group's is its children's.
func (s *Server) status(a *activity) string {
	if a.parent == 0 {
		return s.groupStatus(a)
	}
	return a.status
}

func (s *Server) groupStatus(g *activity) string {
	n := map[string]int{}
	for _, c := range g.children {
		n[c.status]++
	}
	switch total := len(g.children); {
	case total == 0 || n["succeeded"] == total:
		return "succeeded"
	case n["undelivered"]+n["scheduled"]+n["unapproved"] == total:
		if n["scheduled"] == total {
			return "scheduled"
		}
		return "undelivered"
	case n["undelivered"]+n["scheduled"]+n["unapproved"]+n["delivered"] > 0:
		return "delivered"
	case n["failed"] > 0:
		return "failed"
	case n["canceled"] == total:
		return "canceled"
	}
	return "succeeded"
}

// read counts a read of the activity (a group's read reads its children):
// a child goes undelivered, delivered, then to its outcome.
func (s *Server) read(a *activity) {
	if a.parent == 0 {
		for _, c := range a.children {
			s.read(c)
		}
		return
	}
	if isFinal(a.status) {
		return
	}
	now := s.now()
	if !a.after.IsZero() && now.Before(a.after) {
		a.status = "scheduled"
		return
	}
	if a.order != nil {
		a.status = "undelivered" // until the computer's check-in (settle)
		return
	}
	a.polls++
	switch {
	case a.polls > s.opts.Polls:
		s.complete(a, now)
	case a.polls > 1:
		a.status = "delivered"
		if a.delivery.IsZero() {
			a.delivery = now
		}
	default:
		a.status = "undelivered"
	}
}

func (s *Server) complete(a *activity, now time.Time) {
	c := s.computer(a.computer)
	o := a.outcome
	if o.Status == "" {
		o = s.outcomes[c.hostname]
	}
	if o.Status == "" {
		o.Status = "succeeded"
	}
	a.status, a.done = o.Status, now
	if a.delivery.IsZero() {
		a.delivery = now
	}
	switch o.Status {
	case "failed":
		code := o.ResultCode
		if code == 0 {
			code = 100
		}
		text := o.ResultText
		if text == "" {
			text = "The operation failed on " + c.hostname + "."
		}
		a.code, a.text = &code, &text
	case "succeeded":
		code, text := 0, "Succeeded."
		a.code, a.text = &code, &text
		for _, ch := range a.changes {
			switch ch.typ {
			case "remove":
				delete(c.installed, ch.pkg)
			default:
				if ch.install != "" {
					c.installed[ch.pkg] = ch.install
				}
			}
		}
	}
}

func optional(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func (s *Server) activityJSON(a *activity, children bool) map[string]any {
	m := map[string]any{
		"id": a.id, "parent_id": nil, "computer_id": nil, "type": a.typ, "summary": a.summary, "activity_status": s.status(a),
		"result_code": nil, "result_text": nil, "creation_time": ts(a.created), "delivery_time": ts(a.delivery),
		"completion_time": ts(a.done), "deliver_after_time": ts(a.after), "deliver_before_time": nil, "approval_time": nil,
		"creator": creator, "modification_time": ts(a.created), "deliver_delay_window": 0,
	}
	if a.parent != 0 {
		m["parent_id"], m["computer_id"] = a.parent, a.computer
		if a.code != nil {
			m["result_code"] = *a.code
		}
		if a.text != nil {
			m["result_text"] = *a.text
		}
	}
	if a.typ == "ChangePackagesRequest" {
		changes := []map[string]any{}
		for _, ch := range a.changes {
			changes = append(changes, map[string]any{"package": ch.pkg, "complemented": false, "type": ch.typ,
				"install_version": optional(ch.install), "remove_version": optional(ch.remove)})
		}
		m["changes"], m["package_ids"] = changes, []int64{}
	}
	if children {
		kids := []map[string]any{}
		for _, c := range a.children {
			kids = append(kids, s.activityJSON(c, false))
		}
		m["children"] = kids
	}
	return m
}

func (s *Server) getActivities(a *args) (any, *apiError) {
	acts, err := s.matchActivities(a.str("query"))
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, act := range page(acts, a, s.opts.PageSize) {
		s.read(act)
		out = append(out, s.activityJSON(act, false))
	}
	return out, nil
}

func (s *Server) cancelActivities(a *args) (any, *apiError) {
	acts, err := s.matchActivities(a.str("query"))
	if err != nil {
		return nil, err
	}
	ids := []int64{}
	for _, act := range acts {
		kids := act.children
		if act.parent != 0 {
			kids = []*activity{act}
		}
		for _, c := range kids {
			if c.status == "undelivered" || c.status == "scheduled" || c.status == "unapproved" {
				c.status, c.done = "canceled", s.now()
				ids = append(ids, c.id)
			}
		}
	}
	return ids, nil
}

func deliverAfter(a *args) (time.Time, *apiError) {
	v := a.str("deliver_after")
	if v == "" {
		return time.Time{}, nil
	}
	t, ok := parseDate(strings.TrimSuffix(v, "Z"))
	if !ok {
		return time.Time{}, badRequest("InvalidTime", "Invalid deliver_after %q: want YYYY-MM-DDTHH:MM:SSZ.", v)
	}
	return t, nil
}

// resolve is the version an install of pkg on c takes: the version the
// profiles associated with c pin, else the repository's newest; problem
// is why the install must fail (two pins, an unknown version).
func (s *Server) resolve(c *computer, pkg string) (version, problem string) {
	pins := map[string]bool{}
	for _, p := range s.profiles {
		if !p.all && len(intersect(c.tags, p.tags)) == 0 {
			continue
		}
		for _, cs := range p.constraints {
			if f := strings.Fields(cs[1]); cs[0] == "depends" && len(f) == 3 && f[0] == pkg && f[1] == "=" {
				pins[f[2]] = true
			}
		}
	}
	avail := s.opts.Packages[pkg]
	switch v := sortedKeys(pins); len(v) {
	case 0:
		if len(avail) > 0 {
			return avail[len(avail)-1], ""
		}
		return "", ""
	case 1:
		if s.opts.Packages != nil && !slices.Contains(avail, v[0]) {
			return v[0], fmt.Sprintf("E: Version '%s' for '%s' was not found", v[0], pkg)
		}
		return v[0], ""
	default:
		return "", fmt.Sprintf("Package profiles pin %s to %s at once: the constraints cannot be satisfied.", pkg, strings.Join(v, " and "))
	}
}

var verbs = map[string]string{"InstallPackages": "Install", "RemovePackages": "Remove", "UpgradePackages": "Upgrade"}

func summaryOf(verb string, pkgs []string) string {
	if len(pkgs) == 1 {
		return verb + " package " + pkgs[0]
	}
	return verb + " packages " + strings.Join(pkgs, ", ")
}

func (s *Server) packages(actionName string, a *args) (any, *apiError) {
	q, pkgs := a.str("query"), a.lists["packages"]
	after, err := deliverAfter(a)
	if err != nil {
		return nil, err
	}
	if a.int("deliver_delay_window", 0) < 0 {
		return nil, badRequest("InvalidParameter", "deliver_delay_window must not be negative.")
	}
	comps, err := s.matchComputers(q)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return nil, badRequest("UnknownComputers", "No computers match the query %q.", q)
	}
	for _, pkg := range pkgs {
		if !constraintPkg.MatchString(pkg) {
			return nil, badRequest("UnknownPackages", "Invalid package name %q.", pkg)
		}
		if s.opts.Packages != nil && s.opts.Packages[pkg] == nil {
			return nil, badRequest("UnknownPackages", "Unknown package %q.", pkg)
		}
	}
	now := s.now()
	g := s.newActivity(0, 0, "ActivityGroup", summaryOf(verbs[actionName], pkgs), now, after)
	g.action, g.packages, g.query = actionName, strings.Join(pkgs, ","), q
	var sig []string
	for _, c := range comps {
		var changes []change
		var problem string
		verb := verbs[actionName]
		for _, pkg := range pkgs {
			cur := c.installed[pkg]
			switch actionName {
			case "RemovePackages":
				changes = append(changes, change{pkg: pkg, typ: "remove", remove: cur})
			default:
				v, why := s.resolve(c, pkg)
				if why != "" {
					problem = why
				}
				typ := "install"
				if cur != "" && v != "" {
					switch compareVersions(v, cur) {
					case 1:
						typ = "upgrade"
					case -1:
						typ = "downgrade"
					}
				}
				if actionName == "UpgradePackages" && typ != "upgrade" {
					continue
				}
				changes = append(changes, change{pkg: pkg, typ: typ, install: v, remove: cur})
			}
		}
		if len(changes) == 0 {
			continue
		}
		if len(changes) == 1 {
			verb = strings.ToUpper(changes[0].typ[:1]) + changes[0].typ[1:]
		}
		var names []string
		for _, ch := range changes {
			names = append(names, ch.pkg)
			sig = append(sig, fmt.Sprintf("%d:%s:%s=%s", c.id, ch.pkg, ch.typ, ch.install))
		}
		child := s.newActivity(g.id, c.id, "ChangePackagesRequest", summaryOf(verb, names), now, after)
		child.changes = changes
		if problem != "" {
			child.outcome = Outcome{Status: "failed", ResultCode: 100, ResultText: problem}
		}
		if s.fleet != nil {
			ch := changes[0]
			s.order(child, ch.typ != "remove", s.releaseOfPackage(ch.pkg, ch.install), ch.install)
		}
		g.children = append(g.children, child)
	}
	sort.Strings(sig)
	s.markRedundant(g, strings.Join(sig, " "))
	return s.activityJSON(g, false), nil
}

// markRedundant records what the group does and whether it repeats the
// group before it that did the same while that one was pending or had
// succeeded (what a client that lost an answer and retried blindly makes).
func (s *Server) markRedundant(g *activity, sig string) {
	g.sig = sig
	for i := len(s.acts) - 1; i >= 0; i-- {
		prev := s.acts[i]
		if prev == g || prev.parent != 0 || prev.action != g.action || prev.packages != g.packages || prev.query != g.query {
			continue
		}
		if prev.sig == sig {
			for _, c := range prev.children {
				if c.status != "failed" && c.status != "canceled" {
					g.redundant = true
					break
				}
			}
		}
		return
	}
}

func (s *Server) newActivity(parent, comp int64, typ, summary string, now, after time.Time) *activity {
	s.nextID++
	a := &activity{id: s.nextID, parent: parent, computer: comp, typ: typ, summary: summary, status: "undelivered", created: now, after: after}
	if !after.IsZero() && now.Before(after) {
		a.status = "scheduled"
	}
	s.acts = append(s.acts, a)
	s.byID[a.id] = a
	return a
}

func (s *Server) executeScript(a *args) (any, *apiError) {
	sc, err := s.script(a)
	if err != nil {
		return nil, err
	}
	if sc.username == "" && a.str("username") == "" {
		return nil, badRequest("RequiresUser", "Script %d has no default user: give username.", sc.id)
	}
	after, err := deliverAfter(a)
	if err != nil {
		return nil, err
	}
	comps, err := s.matchComputers(a.str("query"))
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return nil, badRequest("UnknownComputers", "No computers match the query %q.", a.str("query"))
	}
	now := s.now()
	summary := "Run script: " + sc.title
	g := s.newActivity(0, 0, "ActivityGroup", summary, now, after)
	g.action, g.query, g.packages = "ExecuteScript", a.str("query"), strconv.FormatInt(sc.id, 10)
	for _, c := range comps {
		child := s.newActivity(g.id, c.id, "ExecuteScriptRequest", summary, now, after)
		child.script = sc.id
		if s.fleet != nil {
			app, version, ok := fleet.ReleaseOf(sc.code)
			s.order(child, ok, app, version)
		}
		g.children = append(g.children, child)
	}
	return s.activityJSON(g, false), nil
}
