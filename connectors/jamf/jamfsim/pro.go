package jamfsim

import (
	"bytes"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// pkg is a Jamf Pro package: its metadata as the API shows it, and the
// uploaded file.
type pkg struct {
	meta
	packageJSON
	content      []byte
	uploads      int
	pendingPolls int    // GETs left before the hash of the last upload shows
	pendingHash  string // that hash
}

// packageJSON is a package in the Jamf Pro API (GET /api/v1/packages/{id}).
type packageJSON struct {
	ID                   string `json:"id"`
	PackageName          string `json:"packageName"`
	FileName             string `json:"fileName"`
	CategoryID           string `json:"categoryId"`
	Info                 string `json:"info"`
	Notes                string `json:"notes"`
	Priority             int    `json:"priority"`
	OSRequirements       string `json:"osRequirements"`
	FillUserTemplate     bool   `json:"fillUserTemplate"`
	Indexed              bool   `json:"indexed"`
	FillExistingUsers    bool   `json:"fillExistingUsers"`
	SWU                  bool   `json:"swu"`
	RebootRequired       bool   `json:"rebootRequired"`
	SelfHealNotify       bool   `json:"selfHealNotify"`
	SelfHealingAction    string `json:"selfHealingAction"`
	OSInstall            bool   `json:"osInstall"`
	SerialNumber         string `json:"serialNumber"`
	ParentPackageID      string `json:"parentPackageId"`
	BasePath             string `json:"basePath"`
	SuppressUpdates      bool   `json:"suppressUpdates"`
	CloudTransferStatus  string `json:"cloudTransferStatus"`
	IgnoreConflicts      bool   `json:"ignoreConflicts"`
	SuppressFromDock     bool   `json:"suppressFromDock"`
	SuppressEula         bool   `json:"suppressEula"`
	SuppressRegistration bool   `json:"suppressRegistration"`
	InstallLanguage      string `json:"installLanguage"`
	MD5                  string `json:"md5"`
	SHA256               string `json:"sha256"`
	HashType             string `json:"hashType"`
	HashValue            string `json:"hashValue"`
	Size                 string `json:"size"`
	OSInstallerVersion   string `json:"osInstallerVersion"`
	Manifest             string `json:"manifest"`
	ManifestFileName     string `json:"manifestFileName"`
	Format               string `json:"format"`
}

// packageRequired are the fields POST and PUT /api/v1/packages need.
var packageRequired = []string{"packageName", "fileName", "categoryId", "priority", "fillUserTemplate", "rebootRequired",
	"osInstall", "suppressUpdates", "suppressFromDock", "suppressEula", "suppressRegistration"}

var packageFilterFields = []string{"id", "packageName", "fileName", "categoryId", "info", "notes", "priority", "hashType", "hashValue"}

func (p *pkg) field(name string) string {
	switch name {
	case "id":
		return strconv.Itoa(p.id)
	case "packageName":
		return p.PackageName
	case "fileName":
		return p.FileName
	case "categoryId":
		return p.CategoryID
	case "info":
		return p.Info
	case "notes":
		return p.Notes
	case "priority":
		return strconv.Itoa(p.Priority)
	case "hashType":
		return p.HashType
	case "hashValue":
		return p.HashValue
	}
	return ""
}

// script is a Jamf Pro script.
type script struct {
	meta
	scriptJSON
}

type scriptJSON struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Info           string `json:"info"`
	Notes          string `json:"notes"`
	Priority       string `json:"priority"`
	CategoryID     string `json:"categoryId"`
	CategoryName   string `json:"categoryName"`
	Parameter4     string `json:"parameter4"`
	Parameter5     string `json:"parameter5"`
	Parameter6     string `json:"parameter6"`
	Parameter7     string `json:"parameter7"`
	Parameter8     string `json:"parameter8"`
	Parameter9     string `json:"parameter9"`
	Parameter10    string `json:"parameter10"`
	Parameter11    string `json:"parameter11"`
	OSRequirements string `json:"osRequirements"`
	ScriptContents string `json:"scriptContents"`
}

var scriptFilterFields = []string{"id", "name", "info", "notes", "priority", "categoryId", "categoryName"}

func (sc *script) field(name string) string {
	switch name {
	case "id":
		return strconv.Itoa(sc.id)
	case "name":
		return sc.Name
	case "info":
		return sc.Info
	case "notes":
		return sc.Notes
	case "priority":
		return sc.Priority
	case "categoryId":
		return sc.CategoryID
	case "categoryName":
		return sc.CategoryName
	}
	return ""
}

// group is a computer group (static or smart).
type group struct {
	meta
	name        string
	smart       bool
	description string
	criteria    []criterion
	siteID      string
	members     []int
	set         map[int]bool // members, built when first asked (has)
}

// has reports whether computer c is a member.
func (g *group) has(c int) bool {
	if g.set == nil {
		g.set = make(map[int]bool, len(g.members))
		for _, m := range g.members {
			g.set[m] = true
		}
	}
	return g.set[c]
}

type criterion struct {
	Name         string `json:"name" xml:"name"`
	Priority     int    `json:"priority" xml:"priority"`
	AndOr        string `json:"andOr" xml:"and_or"`
	SearchType   string `json:"searchType" xml:"search_type"`
	Value        string `json:"value" xml:"value"`
	OpeningParen bool   `json:"openingParen" xml:"opening_paren"`
	ClosingParen bool   `json:"closingParen" xml:"closing_paren"`
}

func (s *Server) proRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/packages", s.pro(s.listPackages))
	mux.HandleFunc("POST /api/v1/packages", s.pro(s.createPackage))
	mux.HandleFunc("POST /api/v1/packages/delete-multiple", s.pro(s.deletePackages))
	mux.HandleFunc("GET /api/v1/packages/{id}", s.pro(s.getPackage))
	mux.HandleFunc("PUT /api/v1/packages/{id}", s.pro(s.putPackage))
	mux.HandleFunc("DELETE /api/v1/packages/{id}", s.pro(s.deletePackage))
	mux.HandleFunc("POST /api/v1/packages/{id}/upload", s.pro(s.uploadPackage))

	mux.HandleFunc("GET /api/v1/scripts", s.pro(s.listScripts))
	mux.HandleFunc("POST /api/v1/scripts", s.pro(s.createScript))
	mux.HandleFunc("GET /api/v1/scripts/{id}", s.pro(s.getScript))
	mux.HandleFunc("PUT /api/v1/scripts/{id}", s.pro(s.putScript))
	mux.HandleFunc("DELETE /api/v1/scripts/{id}", s.pro(s.deleteScript))

	mux.HandleFunc("GET /api/v2/computer-groups/smart-groups", s.pro(s.listSmartGroups))
	mux.HandleFunc("POST /api/v2/computer-groups/smart-groups", s.pro(s.createSmartGroup))
	mux.HandleFunc("GET /api/v2/computer-groups/smart-groups/{id}", s.pro(s.getSmartGroup))
	mux.HandleFunc("GET /api/v2/computer-groups/smart-group-membership/{id}", s.pro(s.smartGroupMembership))
}

// page cuts a list to the page the query asks for, sorted and filtered.
// It returns the page and the count of all matching items.
func page[T any](s *Server, r *http.Request, items []T, fields []string, get func(T, string) string) ([]T, int, error) {
	q := r.URL.Query()
	filter, err := parseRSQL(q.Get("filter"), fields)
	if err != nil {
		return nil, 0, fmt.Errorf("filter: %w", err)
	}
	var matched []T
	for _, it := range items {
		if filter == nil || filter.match(func(f string) string { return get(it, f) }) {
			matched = append(matched, it)
		}
	}
	var sorts []string
	for _, v := range q["sort"] {
		sorts = append(sorts, strings.Split(v, ",")...)
	}
	if len(sorts) == 0 {
		sorts = []string{"id:asc"}
	}
	for _, so := range sorts {
		f, dir, _ := strings.Cut(so, ":")
		if !slices.Contains(fields, f) {
			return nil, 0, fmt.Errorf("sort: field %q cannot be sorted on", f)
		}
		if dir != "" && dir != "asc" && dir != "desc" {
			return nil, 0, fmt.Errorf("sort: direction %q: want asc or desc", dir)
		}
	}
	slices.SortStableFunc(matched, func(a, b T) int {
		for _, so := range sorts {
			f, dir, _ := strings.Cut(so, ":")
			c := compare(get(a, f), get(b, f))
			if dir == "desc" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	size := s.opt.PageSize
	if v := q.Get("page-size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, 0, fmt.Errorf("page-size %q: want a positive number", v)
		}
		size = min(n, s.opt.PageSize)
	}
	pg := 0
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, 0, fmt.Errorf("page %q: want a number from 0", v)
		}
		pg = n
	}
	from := min(pg*size, len(matched))
	to := min(from+size, len(matched))
	return matched[from:to], len(matched), nil
}

type listJSON[T any] struct {
	TotalCount int `json:"totalCount"`
	Results    []T `json:"results"`
}

// decodeBody decodes a Jamf Pro API body into v, checking the required
// fields are present (null counts as missing) and, under StrictJSON, that
// no unknown field is. It answers the error itself and returns false.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any, required []string) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", "unreadable body: "+err.Error(), "")
		return false
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", "malformed JSON: "+err.Error(), "")
		return false
	}
	for _, f := range required {
		if m, ok := raw[f]; !ok || string(m) == "null" {
			proError(w, http.StatusBadRequest, "INVALID_FIELD", "must not be null", f)
			return false
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if s.opt.StrictJSON {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			proError(w, http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("must be of type %s", jsonType(te.Type.Kind().String())), te.Field)
			return false
		}
		field := ""
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			field = strings.Trim(f, `"`)
		}
		proError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), field)
		return false
	}
	return true
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "float64":
		return "number"
	case "bool":
		return "boolean"
	}
	return kind
}

func pathID(r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("id"))
	return n, err == nil && n > 0
}

func (s *Server) href(r *http.Request, p string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + p
}

func (s *Server) listPackages(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	node := nodeOf(r)
	var items []*pkg
	for _, id := range sortedKeys(s.packages) {
		if p := s.packages[id]; p.visible(node) {
			items = append(items, p)
		}
	}
	res, total, err := page(s, r, items, packageFilterFields, (*pkg).field)
	if err != nil {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), "")
		return
	}
	out := listJSON[packageJSON]{TotalCount: total, Results: []packageJSON{}}
	for _, p := range res {
		out.Results = append(out.Results, p.packageJSON)
	}
	writeJSON(w, http.StatusOK, out)
}

func validPackage(p *packageJSON) (string, string) {
	switch {
	case strings.TrimSpace(p.PackageName) == "":
		return "packageName", "must not be blank"
	case strings.TrimSpace(p.FileName) == "":
		return "fileName", "must not be blank"
	case strings.ContainsAny(p.FileName, `/\`):
		return "fileName", "must not contain a path separator"
	}
	switch ext := strings.ToLower(p.FileName[strings.LastIndexByte(p.FileName, '.')+1:]); ext {
	case "pkg", "dmg", "zip", "mpkg":
	default:
		return "fileName", "must end with .pkg, .dmg, .mpkg or .zip"
	}
	return "", ""
}

// nameTaken reports whether another object of the set, seen by reads or
// not yet, holds name (case-insensitively, as the database compares).
func nameTaken[T any](m map[int]T, self int, name string, nameOf func(T) string) bool {
	for id, o := range m {
		if id != self && strings.EqualFold(nameOf(o), name) {
			return true
		}
	}
	return false
}

func (s *Server) createPackage(w http.ResponseWriter, r *http.Request) {
	var body packageJSON
	if !s.decodeBody(w, r, &body, packageRequired) {
		return
	}
	if f, msg := validPackage(&body); f != "" {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", msg, f)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opt.AllowDuplicateNames && nameTaken(s.packages, 0, body.PackageName, func(p *pkg) string { return p.PackageName }) {
		proError(w, http.StatusConflict, "DUPLICATE_FIELD", "packageName must be unique", "packageName")
		return
	}
	p := &pkg{meta: s.newMeta("package", nodeOf(r)), packageJSON: body}
	p.ID = strconv.Itoa(p.id)
	p.Size = "" // the service sets it from the upload
	if p.CloudTransferStatus == "" {
		p.CloudTransferStatus = "NOT_APPLICABLE"
	}
	if p.SelfHealingAction == "" {
		p.SelfHealingAction = "nothing"
	}
	s.packages[p.id] = p
	writeJSON(w, http.StatusCreated, map[string]string{"id": p.ID, "href": s.href(r, "/api/v1/packages/"+p.ID)})
}

// lookupPackage returns the package the path names, if the request's node
// sees it; it answers 404 itself.
func (s *Server) lookupPackage(w http.ResponseWriter, r *http.Request) *pkg {
	id, ok := pathID(r)
	p := s.packages[id]
	if !ok || p == nil || !p.visible(nodeOf(r)) {
		proError(w, http.StatusNotFound, "INVALID_ID", fmt.Sprintf("Package with id %s does not exist", r.PathValue("id")), "id")
		return nil
	}
	return p
}

func (s *Server) getPackage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupPackage(w, r)
	if p == nil {
		return
	}
	if p.pendingHash != "" {
		if p.pendingPolls > 0 {
			p.pendingPolls--
		} else {
			p.HashType, p.HashValue, p.pendingHash = "SHA3_512", p.pendingHash, ""
			p.CloudTransferStatus = "READY"
		}
	}
	writeJSON(w, http.StatusOK, p.packageJSON)
}

func (s *Server) putPackage(w http.ResponseWriter, r *http.Request) {
	var body packageJSON
	if !s.decodeBody(w, r, &body, packageRequired) {
		return
	}
	if f, msg := validPackage(&body); f != "" {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", msg, f)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupPackage(w, r)
	if p == nil {
		return
	}
	if !s.opt.AllowDuplicateNames && nameTaken(s.packages, p.id, body.PackageName, func(p *pkg) string { return p.PackageName }) {
		proError(w, http.StatusConflict, "DUPLICATE_FIELD", "packageName must be unique", "packageName")
		return
	}
	// What the service computes stays unless the body sets it.
	keep := p.packageJSON
	p.packageJSON = body
	p.ID = keep.ID
	if body.HashType == "" && body.HashValue == "" {
		p.HashType, p.HashValue = keep.HashType, keep.HashValue
	}
	if body.Size == "" {
		p.Size = keep.Size
	}
	if body.CloudTransferStatus == "" {
		p.CloudTransferStatus = keep.CloudTransferStatus
	}
	writeJSON(w, http.StatusOK, p.packageJSON)
}

func (s *Server) removePackage(id int) {
	delete(s.packages, id)
	for _, pol := range s.policies {
		pol.Packages = slices.DeleteFunc(pol.Packages, func(pp policyPackage) bool { return pp.id == id })
	}
}

func (s *Server) deletePackage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupPackage(w, r)
	if p == nil {
		return
	}
	s.removePackage(p.id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deletePackages(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IDs []string `json:"ids"`
	}
	if !s.decodeBody(w, r, &body, []string{"ids"}) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range body.IDs {
		id, err := strconv.Atoi(v)
		if err != nil || s.packages[id] == nil {
			proError(w, http.StatusNotFound, "INVALID_ID", fmt.Sprintf("Package with id %s does not exist", v), "ids")
			return
		}
	}
	for _, v := range body.IDs {
		id, _ := strconv.Atoi(v)
		s.removePackage(id)
	}
	w.WriteHeader(http.StatusNoContent)
}

// uploadPackage stores the multipart field "file" as the package's file.
// The service hashes it asynchronously: the SHA3-512 shows after
// HashPendingPolls GETs of the package.
func (s *Server) uploadPackage(w http.ResponseWriter, r *http.Request) {
	f, _, err := r.FormFile("file")
	if err != nil {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", "the upload needs a multipart field named file: "+err.Error(), "file")
		return
	}
	defer f.Close()
	content, err := io.ReadAll(f)
	if err != nil {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", "unreadable upload: "+err.Error(), "file")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupPackage(w, r)
	if p == nil {
		return
	}
	sum := sha3.Sum512(content)
	p.content, p.uploads = content, p.uploads+1
	p.Size = strconv.Itoa(len(content))
	p.HashType, p.HashValue, p.CloudTransferStatus = "", "", "IN_PROGRESS"
	p.pendingHash, p.pendingPolls = hex.EncodeToString(sum[:]), s.opt.HashPendingPolls
	writeJSON(w, http.StatusCreated, map[string]string{"id": p.ID, "href": s.href(r, "/api/v1/packages/"+p.ID)})
}

func (s *Server) listScripts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	node := nodeOf(r)
	var items []*script
	for _, id := range sortedKeys(s.scripts) {
		if sc := s.scripts[id]; sc.visible(node) {
			items = append(items, sc)
		}
	}
	res, total, err := page(s, r, items, scriptFilterFields, (*script).field)
	if err != nil {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), "")
		return
	}
	out := listJSON[scriptJSON]{TotalCount: total, Results: []scriptJSON{}}
	for _, sc := range res {
		out.Results = append(out.Results, sc.scriptJSON)
	}
	writeJSON(w, http.StatusOK, out)
}

func validScript(sc *scriptJSON) (string, string) {
	if strings.TrimSpace(sc.Name) == "" {
		return "name", "must not be blank"
	}
	switch sc.Priority {
	case "":
		sc.Priority = "AFTER"
	case "BEFORE", "AFTER", "AT_REBOOT":
	default:
		return "priority", "must be one of BEFORE, AFTER, AT_REBOOT"
	}
	if sc.CategoryID == "" {
		sc.CategoryID, sc.CategoryName = "-1", "NONE"
	}
	return "", ""
}

func (s *Server) createScript(w http.ResponseWriter, r *http.Request) {
	var body scriptJSON
	if !s.decodeBody(w, r, &body, []string{"name"}) {
		return
	}
	if f, msg := validScript(&body); f != "" {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", msg, f)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opt.AllowDuplicateNames && nameTaken(s.scripts, 0, body.Name, func(sc *script) string { return sc.Name }) {
		proError(w, http.StatusConflict, "DUPLICATE_FIELD", "name must be unique", "name")
		return
	}
	sc := &script{meta: s.newMeta("script", nodeOf(r)), scriptJSON: body}
	sc.ID = strconv.Itoa(sc.id)
	s.scripts[sc.id] = sc
	writeJSON(w, http.StatusCreated, map[string]string{"id": sc.ID, "href": s.href(r, "/api/v1/scripts/"+sc.ID)})
}

func (s *Server) lookupScript(w http.ResponseWriter, r *http.Request) *script {
	id, ok := pathID(r)
	sc := s.scripts[id]
	if !ok || sc == nil || !sc.visible(nodeOf(r)) {
		proError(w, http.StatusNotFound, "INVALID_ID", fmt.Sprintf("Script with id %s does not exist", r.PathValue("id")), "id")
		return nil
	}
	return sc
}

func (s *Server) getScript(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc := s.lookupScript(w, r); sc != nil {
		writeJSON(w, http.StatusOK, sc.scriptJSON)
	}
}

func (s *Server) putScript(w http.ResponseWriter, r *http.Request) {
	var body scriptJSON
	if !s.decodeBody(w, r, &body, []string{"name"}) {
		return
	}
	if f, msg := validScript(&body); f != "" {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", msg, f)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.lookupScript(w, r)
	if sc == nil {
		return
	}
	if !s.opt.AllowDuplicateNames && nameTaken(s.scripts, sc.id, body.Name, func(sc *script) string { return sc.Name }) {
		proError(w, http.StatusConflict, "DUPLICATE_FIELD", "name must be unique", "name")
		return
	}
	body.ID = sc.ID
	sc.scriptJSON = body
	writeJSON(w, http.StatusOK, sc.scriptJSON)
}

func (s *Server) deleteScript(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.lookupScript(w, r)
	if sc == nil {
		return
	}
	delete(s.scripts, sc.id)
	for _, pol := range s.policies {
		pol.Scripts = slices.DeleteFunc(pol.Scripts, func(id int) bool { return id == sc.id })
	}
	w.WriteHeader(http.StatusNoContent)
}

// smartGroupJSON is a smart computer group in the Jamf Pro API.
type smartGroupJSON struct {
	ID              string      `json:"id"`
	Name            string      `json:"name"`
	Description     string      `json:"description"`
	Criteria        []criterion `json:"criteria"`
	SiteID          string      `json:"siteId"`
	MembershipCount int         `json:"membershipCount"`
}

func (g *group) smartJSON() smartGroupJSON {
	c := g.criteria
	if c == nil {
		c = []criterion{}
	}
	site := g.siteID
	if site == "" {
		site = "-1"
	}
	return smartGroupJSON{ID: strconv.Itoa(g.id), Name: g.name, Description: g.description, Criteria: c, SiteID: site, MembershipCount: len(g.members)}
}

func (g *group) field(name string) string {
	switch name {
	case "id":
		return strconv.Itoa(g.id)
	case "name":
		return g.name
	case "description":
		return g.description
	}
	return ""
}

func (s *Server) listSmartGroups(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	node := nodeOf(r)
	var items []*group
	for _, id := range sortedKeys(s.groups) {
		if g := s.groups[id]; g.smart && g.visible(node) {
			items = append(items, g)
		}
	}
	res, total, err := page(s, r, items, []string{"id", "name", "description"}, (*group).field)
	if err != nil {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), "")
		return
	}
	out := listJSON[smartGroupJSON]{TotalCount: total, Results: []smartGroupJSON{}}
	for _, g := range res {
		out.Results = append(out.Results, g.smartJSON())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createSmartGroup(w http.ResponseWriter, r *http.Request) {
	var body smartGroupJSON
	if !s.decodeBody(w, r, &body, []string{"name"}) {
		return
	}
	if strings.TrimSpace(body.Name) == "" {
		proError(w, http.StatusBadRequest, "INVALID_FIELD", "must not be blank", "name")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opt.AllowDuplicateNames && nameTaken(s.groups, 0, body.Name, func(g *group) string { return g.name }) {
		proError(w, http.StatusConflict, "DUPLICATE_FIELD", "name must be unique", "name")
		return
	}
	g := &group{meta: s.newMeta("group", nodeOf(r)), name: body.Name, smart: true, description: body.Description, criteria: body.Criteria, siteID: body.SiteID}
	s.groups[g.id] = g
	id := strconv.Itoa(g.id)
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "href": s.href(r, "/api/v2/computer-groups/smart-groups/"+id)})
}

func (s *Server) lookupSmartGroup(w http.ResponseWriter, r *http.Request) *group {
	id, ok := pathID(r)
	g := s.groups[id]
	if !ok || g == nil || !g.smart || !g.visible(nodeOf(r)) {
		proError(w, http.StatusNotFound, "INVALID_ID", fmt.Sprintf("Smart computer group with id %s does not exist", r.PathValue("id")), "id")
		return nil
	}
	return g
}

func (s *Server) getSmartGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.lookupSmartGroup(w, r); g != nil {
		writeJSON(w, http.StatusOK, g.smartJSON())
	}
}

func (s *Server) smartGroupMembership(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.lookupSmartGroup(w, r); g != nil {
		members := slices.Clone(g.members)
		if members == nil {
			members = []int{}
		}
		writeJSON(w, http.StatusOK, map[string][]int{"members": members})
	}
}
