package jamfsim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// policy is a Classic API policy, in the sections the simulator models.
type policy struct {
	meta
	Name                     string
	Enabled                  bool
	Trigger                  string
	TriggerCheckin           bool
	TriggerEnrollment        bool
	TriggerLogin             bool
	TriggerStartup           bool
	TriggerOther             string
	Frequency                string
	Scope                    scope
	SelfService              selfService
	Packages                 []policyPackage
	ScriptRefs               []policyScript
	Scripts                  []int
	RebootNoUser, RebootUser string
	flushes                  int
	// since is when the policy began to reach each computer it reaches
	// now (with a fleet: the check-in after it runs the policy).
	since map[int]time.Time
}

type scope struct {
	All                       bool
	Computers, Groups         []int
	Buildings, Departments    []int
	ExclComputers, ExclGroups []int
}

type selfService struct {
	Use         bool
	DisplayName string
	Button      string
	Description string
}

type policyPackage struct {
	id     int
	action string
	fut    bool
	feu    bool
}

type policyScript struct {
	id       int
	priority string
	params   [8]string
}

type policyLog struct {
	policy int
	name   string
	at     time.Time
	status string
}

// The Classic API's XML, as the simulator reads and writes it. Pointer
// fields tell a PUT what it sets; a section left out stays as it was.
type (
	idNameXML struct {
		ID   int    `xml:"id"`
		Name string `xml:"name,omitempty"`
	}
	policyXML struct {
		XMLName     xml.Name        `xml:"policy"`
		General     *generalXML     `xml:"general"`
		Scope       *scopeXML       `xml:"scope"`
		SelfService *selfServiceXML `xml:"self_service"`
		PackageConf *packageConfXML `xml:"package_configuration"`
		Scripts     *scriptsXML     `xml:"scripts"`
		Reboot      *rebootXML      `xml:"reboot"`
	}
	generalXML struct {
		ID                         *int       `xml:"id"`
		Name                       *string    `xml:"name"`
		Enabled                    *bool      `xml:"enabled"`
		Trigger                    *string    `xml:"trigger"`
		TriggerCheckin             *bool      `xml:"trigger_checkin"`
		TriggerEnrollmentComplete  *bool      `xml:"trigger_enrollment_complete"`
		TriggerLogin               *bool      `xml:"trigger_login"`
		TriggerLogout              *bool      `xml:"trigger_logout"`
		TriggerNetworkStateChanged *bool      `xml:"trigger_network_state_changed"`
		TriggerStartup             *bool      `xml:"trigger_startup"`
		TriggerOther               *string    `xml:"trigger_other"`
		Frequency                  *string    `xml:"frequency"`
		RetryEvent                 *string    `xml:"retry_event"`
		RetryAttempts              *int       `xml:"retry_attempts"`
		NotifyOnEachFailedRetry    *bool      `xml:"notify_on_each_failed_retry"`
		LocationUserOnly           *bool      `xml:"location_user_only"`
		TargetDrive                *string    `xml:"target_drive"`
		Offline                    *bool      `xml:"offline"`
		Category                   *idNameXML `xml:"category"`
		Site                       *idNameXML `xml:"site"`
	}
	scopeXML struct {
		AllComputers   *bool         `xml:"all_computers"`
		Computers      []idNameXML   `xml:"computers>computer"`
		ComputerGroups []idNameXML   `xml:"computer_groups>computer_group"`
		Buildings      []idNameXML   `xml:"buildings>building"`
		Departments    []idNameXML   `xml:"departments>department"`
		Exclusions     *exclusionXML `xml:"exclusions"`
	}
	exclusionXML struct {
		Computers      []idNameXML `xml:"computers>computer"`
		ComputerGroups []idNameXML `xml:"computer_groups>computer_group"`
		Buildings      []idNameXML `xml:"buildings>building"`
		Departments    []idNameXML `xml:"departments>department"`
	}
	selfServiceXML struct {
		UseForSelfService      *bool   `xml:"use_for_self_service"`
		SelfServiceDisplayName *string `xml:"self_service_display_name"`
		InstallButtonText      *string `xml:"install_button_text"`
		SelfServiceDescription *string `xml:"self_service_description"`
	}
	packageConfXML struct {
		Packages *packagesXML `xml:"packages"`
	}
	packagesXML struct {
		Size     *int           `xml:"size"`
		Packages []policyPkgXML `xml:"package"`
	}
	policyPkgXML struct {
		ID            int    `xml:"id"`
		Name          string `xml:"name,omitempty"`
		Action        string `xml:"action"`
		FUT           bool   `xml:"fut"`
		FEU           bool   `xml:"feu"`
		UpdateAutorun bool   `xml:"update_autorun"`
	}
	scriptsXML struct {
		Size    *int              `xml:"size"`
		Scripts []policyScriptXML `xml:"script"`
	}
	policyScriptXML struct {
		ID          int    `xml:"id"`
		Name        string `xml:"name,omitempty"`
		Priority    string `xml:"priority"`
		Parameter4  string `xml:"parameter4"`
		Parameter5  string `xml:"parameter5"`
		Parameter6  string `xml:"parameter6"`
		Parameter7  string `xml:"parameter7"`
		Parameter8  string `xml:"parameter8"`
		Parameter9  string `xml:"parameter9"`
		Parameter10 string `xml:"parameter10"`
		Parameter11 string `xml:"parameter11"`
	}
	rebootXML struct {
		Message            *string `xml:"message"`
		StartupDisk        *string `xml:"startup_disk"`
		NoUserLoggedIn     *string `xml:"no_user_logged_in"`
		UserLoggedIn       *string `xml:"user_logged_in"`
		MinutesUntilReboot *int    `xml:"minutes_until_reboot"`
	}
	policyListXML struct {
		XMLName  xml.Name    `xml:"policies"`
		Size     int         `xml:"size"`
		Policies []idNameXML `xml:"policy"`
	}
	idOnlyXML struct {
		XMLName xml.Name
		ID      int `xml:"id"`
	}
	computerGroupXML struct {
		XMLName           xml.Name      `xml:"computer_group"`
		ID                *int          `xml:"id"`
		Name              *string       `xml:"name"`
		IsSmart           *bool         `xml:"is_smart"`
		Site              *idNameXML    `xml:"site"`
		Criteria          *criteriaXML  `xml:"criteria"`
		Computers         *computersXML `xml:"computers"`
		ComputerAdditions *computersXML `xml:"computer_additions"`
		ComputerDeletions *computersXML `xml:"computer_deletions"`
	}
	criteriaXML struct {
		Size      *int        `xml:"size"`
		Criterion []criterion `xml:"criterion"`
	}
	computersXML struct {
		Size      *int          `xml:"size"`
		Computers []computerXML `xml:"computer"`
	}
	computerXML struct {
		ID            int    `xml:"id"`
		Name          string `xml:"name"`
		MacAddress    string `xml:"mac_address"`
		AltMacAddress string `xml:"alt_mac_address"`
		SerialNumber  string `xml:"serial_number"`
	}
	groupListXML struct {
		XMLName xml.Name        `xml:"computer_groups"`
		Size    int             `xml:"size"`
		Groups  []groupBriefXML `xml:"computer_group"`
	}
	groupBriefXML struct {
		ID      int    `xml:"id"`
		Name    string `xml:"name"`
		IsSmart bool   `xml:"is_smart"`
	}
	historyXML struct {
		XMLName    xml.Name        `xml:"computer_history"`
		General    *historyGeneral `xml:"general"`
		PolicyLogs *policyLogsXML  `xml:"policy_logs"`
	}
	historyGeneral struct {
		ID           int    `xml:"id"`
		Name         string `xml:"name"`
		UDID         string `xml:"udid"`
		SerialNumber string `xml:"serial_number"`
		MacAddress   string `xml:"mac_address"`
	}
	policyLogsXML struct {
		Logs []policyLogXML `xml:"policy_log"`
	}
	policyLogXML struct {
		PolicyID           int    `xml:"policy_id"`
		PolicyName         string `xml:"policy_name"`
		Username           string `xml:"username"`
		DateCompleted      string `xml:"date_completed"`
		DateCompletedEpoch int64  `xml:"date_completed_epoch"`
		DateCompletedUTC   string `xml:"date_completed_utc"`
		Status             string `xml:"status"`
	}
)

// knownXML lists, per element path, the child elements the Classic API
// documents for the bodies the simulator accepts; StrictXML refuses others.
var knownXML = func() map[string][]string {
	refs := []string{"id", "name"}
	computerRef := []string{"id", "name", "udid", "serial_number", "mac_address", "alt_mac_address"}
	scopeLists := []string{"computers", "computer_groups", "buildings", "departments", "users", "user_groups", "network_segments", "ibeacons", "jss_users", "jss_user_groups", "limit_to_users"}
	m := map[string][]string{
		"policy": {"general", "scope", "self_service", "package_configuration", "scripts", "printers", "dock_items",
			"account_maintenance", "reboot", "maintenance", "files_processes", "user_interaction", "disk_encryption"},
		"policy/general": {"id", "name", "enabled", "trigger", "trigger_checkin", "trigger_enrollment_complete", "trigger_login",
			"trigger_logout", "trigger_network_state_changed", "trigger_startup", "trigger_other", "frequency", "retry_event",
			"retry_attempts", "notify_on_each_failed_retry", "location_user_only", "target_drive", "offline", "category",
			"date_time_limitations", "network_limitations", "override_default_settings", "network_requirements", "site"},
		"policy/general/category": refs,
		"policy/general/site":     refs,
		"policy/scope":            append([]string{"all_computers", "all_jss_users", "limitations", "exclusions"}, scopeLists...),
		"policy/scope/exclusions": scopeLists,
		"policy/self_service": {"use_for_self_service", "self_service_display_name", "install_button_text", "reinstall_button_text",
			"self_service_description", "force_users_to_view_description", "self_service_icon", "feature_on_main_page", "self_service_categories", "notification", "notification_subject", "notification_message"},
		"policy/package_configuration":                  {"packages", "distribution_point"},
		"policy/package_configuration/packages":         {"size", "package"},
		"policy/package_configuration/packages/package": {"id", "name", "action", "fut", "feu", "update_autorun"},
		"policy/scripts":                                {"size", "script"},
		"policy/scripts/script":                         {"id", "name", "priority", "parameter4", "parameter5", "parameter6", "parameter7", "parameter8", "parameter9", "parameter10", "parameter11"},
		"policy/reboot": {"message", "startup_disk", "specify_startup", "no_user_logged_in", "user_logged_in", "minutes_until_reboot",
			"start_reboot_timer_immediately", "file_vault_2_reboot"},
		"computer_group":                             {"id", "name", "is_smart", "site", "criteria", "computers", "computer_additions", "computer_deletions"},
		"computer_group/site":                        refs,
		"computer_group/criteria":                    {"size", "criterion"},
		"computer_group/criteria/criterion":          {"name", "priority", "and_or", "search_type", "value", "opening_paren", "closing_paren"},
		"computer_group/computers":                   {"size", "computer"},
		"computer_group/computers/computer":          computerRef,
		"computer_group/computer_additions":          {"computer"},
		"computer_group/computer_additions/computer": computerRef,
		"computer_group/computer_deletions":          {"computer"},
		"computer_group/computer_deletions/computer": computerRef,
	}
	for _, l := range scopeLists {
		one := strings.TrimSuffix(l, "s")
		for _, base := range []string{"policy/scope/", "policy/scope/exclusions/"} {
			m[base+l] = []string{one}
			m[base+l+"/"+one] = computerRef
		}
	}
	return m
}()

// checkXML reports the first element of body that knownXML does not list
// (only under StrictXML) or the first syntax error.
func (s *Server) checkXML(body []byte, root string) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 {
				return fmt.Errorf("unexpected end of document inside <%s>", stack[len(stack)-1])
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(stack) == 0 {
				if name != root {
					return fmt.Errorf("the document is <%s>, want <%s>", name, root)
				}
			} else if s.opt.StrictXML {
				parent := strings.Join(stack, "/")
				allowed, modelled := knownXML[parent]
				if modelled && !slices.Contains(allowed, name) {
					return fmt.Errorf("unknown element <%s> in <%s>", name, parent)
				}
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
}

// readXML reads a Classic API body into v; it answers the error itself
// and returns false.
func (s *Server) readXML(w http.ResponseWriter, r *http.Request, root string, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		classicError(w, http.StatusBadRequest, "Error reading the request body: "+err.Error())
		return false
	}
	if err := s.checkXML(body, root); err != nil {
		classicError(w, http.StatusBadRequest, "Error in XML file: "+err.Error())
		return false
	}
	if err := xml.Unmarshal(body, v); err != nil {
		classicError(w, http.StatusBadRequest, "Error in XML file: "+err.Error())
		return false
	}
	return true
}

func (s *Server) classicRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /JSSResource/policies", s.classic(s.listPolicies))
	mux.HandleFunc("GET /JSSResource/policies/id/{id}", s.classic(s.getPolicy))
	mux.HandleFunc("GET /JSSResource/policies/name/{name}", s.classic(s.getPolicy))
	mux.HandleFunc("POST /JSSResource/policies/id/{id}", s.classic(s.createPolicy))
	mux.HandleFunc("PUT /JSSResource/policies/id/{id}", s.classic(s.putPolicy))
	mux.HandleFunc("PUT /JSSResource/policies/name/{name}", s.classic(s.putPolicy))
	mux.HandleFunc("DELETE /JSSResource/policies/id/{id}", s.classic(s.deletePolicy))
	mux.HandleFunc("DELETE /JSSResource/policies/name/{name}", s.classic(s.deletePolicy))

	mux.HandleFunc("GET /JSSResource/computergroups", s.classic(s.listGroups))
	mux.HandleFunc("GET /JSSResource/computergroups/id/{id}", s.classic(s.getGroup))
	mux.HandleFunc("GET /JSSResource/computergroups/name/{name}", s.classic(s.getGroup))
	mux.HandleFunc("POST /JSSResource/computergroups/id/{id}", s.classic(s.createGroup))
	mux.HandleFunc("PUT /JSSResource/computergroups/id/{id}", s.classic(s.putGroup))
	mux.HandleFunc("PUT /JSSResource/computergroups/name/{name}", s.classic(s.putGroup))
	mux.HandleFunc("DELETE /JSSResource/computergroups/id/{id}", s.classic(s.deleteGroup))

	mux.HandleFunc("GET /JSSResource/computerhistory/id/{id}", s.classic(s.computerHistory))
	mux.HandleFunc("GET /JSSResource/computerhistory/id/{id}/subset/{subset}", s.classic(s.computerHistory))
	mux.HandleFunc("DELETE /JSSResource/logflush/policy/id/{id}/interval/{interval}", s.classic(s.flushPolicyLogs))
}

var frequencies = []string{"Ongoing", "Once per computer", "Once per user per computer", "Once per user",
	"Once every day", "Once every week", "Once every month"}

var packageActions = []string{"Install", "Cache", "Install Cached", "Uninstall"}

var rebootChoices = []string{"Do not restart", "Restart immediately", "Restart if a package or update requires it", "Restart"}

// classicLookup finds the object the path names by id or by name
// (case-insensitively), if the request's node sees it.
func classicLookup[T interface{ getMeta() *meta }](r *http.Request, m map[int]T, nameOf func(T) string) (T, bool) {
	var zero T
	node := nodeOf(r)
	if v := r.PathValue("id"); v != "" {
		id, err := strconv.Atoi(v)
		o, ok := m[id]
		if err != nil || !ok || !o.getMeta().visible(node) {
			return zero, false
		}
		return o, true
	}
	name := r.PathValue("name")
	for _, id := range sortedKeys(m) {
		if o := m[id]; strings.EqualFold(nameOf(o), name) {
			if !o.getMeta().visible(node) {
				return zero, false
			}
			return o, true
		}
	}
	return zero, false
}

func (m *meta) getMeta() *meta { return m }

func notFound(w http.ResponseWriter) {
	classicError(w, http.StatusNotFound, "The server has not found anything matching the request URI")
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := policyListXML{}
	node := nodeOf(r)
	for _, id := range sortedKeys(s.policies) {
		if p := s.policies[id]; p.visible(node) {
			out.Policies = append(out.Policies, idNameXML{ID: id, Name: p.Name})
		}
	}
	out.Size = len(out.Policies)
	writeXML(w, http.StatusOK, out)
}

func (s *Server) groupRef(g *group) idNameXML { return idNameXML{ID: g.id, Name: g.name} }

func (s *Server) policyXML(p *policy) policyXML {
	t := func(b bool) *bool { return &b }
	str := func(v string) *string { return &v }
	id := p.id
	g := &generalXML{ID: &id, Name: str(p.Name), Enabled: t(p.Enabled), Trigger: str(p.Trigger),
		TriggerCheckin: t(p.TriggerCheckin), TriggerEnrollmentComplete: t(p.TriggerEnrollment), TriggerLogin: t(p.TriggerLogin),
		TriggerLogout: t(false), TriggerNetworkStateChanged: t(false), TriggerStartup: t(p.TriggerStartup),
		TriggerOther: str(p.TriggerOther), Frequency: str(p.Frequency), Offline: t(false),
		Category: &idNameXML{ID: -1, Name: "No category assigned"}, Site: &idNameXML{ID: -1, Name: "None"}}
	refs := func(ids []int, name func(int) string) []idNameXML {
		var out []idNameXML
		for _, id := range ids {
			out = append(out, idNameXML{ID: id, Name: name(id)})
		}
		return out
	}
	gname := func(id int) string {
		if g := s.groups[id]; g != nil {
			return g.name
		}
		return ""
	}
	cname := func(id int) string { return s.computers[id].Name }
	none := func(int) string { return "" }
	sc := &scopeXML{AllComputers: t(p.Scope.All), Computers: refs(p.Scope.Computers, cname), ComputerGroups: refs(p.Scope.Groups, gname),
		Buildings: refs(p.Scope.Buildings, none), Departments: refs(p.Scope.Departments, none),
		Exclusions: &exclusionXML{Computers: refs(p.Scope.ExclComputers, cname), ComputerGroups: refs(p.Scope.ExclGroups, gname)}}
	ss := &selfServiceXML{UseForSelfService: t(p.SelfService.Use), SelfServiceDisplayName: str(p.SelfService.DisplayName),
		InstallButtonText: str(p.SelfService.Button), SelfServiceDescription: str(p.SelfService.Description)}
	n := len(p.Packages)
	pc := &packageConfXML{Packages: &packagesXML{Size: &n}}
	for _, pp := range p.Packages {
		name := ""
		if k := s.packages[pp.id]; k != nil {
			name = k.PackageName
		}
		pc.Packages.Packages = append(pc.Packages.Packages, policyPkgXML{ID: pp.id, Name: name, Action: pp.action, FUT: pp.fut, FEU: pp.feu})
	}
	ns := len(p.ScriptRefs)
	scr := &scriptsXML{Size: &ns}
	for _, ps := range p.ScriptRefs {
		name := ""
		if k := s.scripts[ps.id]; k != nil {
			name = k.Name
		}
		scr.Scripts = append(scr.Scripts, policyScriptXML{ID: ps.id, Name: name, Priority: ps.priority,
			Parameter4: ps.params[0], Parameter5: ps.params[1], Parameter6: ps.params[2], Parameter7: ps.params[3],
			Parameter8: ps.params[4], Parameter9: ps.params[5], Parameter10: ps.params[6], Parameter11: ps.params[7]})
	}
	rb := &rebootXML{NoUserLoggedIn: str(p.RebootNoUser), UserLoggedIn: str(p.RebootUser), StartupDisk: str("Current Startup Disk")}
	return policyXML{General: g, Scope: sc, SelfService: ss, PackageConf: pc, Scripts: scr, Reboot: rb}
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := classicLookup(r, s.policies, func(p *policy) string { return p.Name })
	if !ok {
		notFound(w)
		return
	}
	writeXML(w, http.StatusOK, s.policyXML(p))
}

// resolveGroups turns references (by id, else by name) into group ids.
func (s *Server) resolveGroups(refs []idNameXML) ([]int, error) {
	var out []int
	for _, ref := range refs {
		id := ref.ID
		if id <= 0 && ref.Name != "" {
			for gid, g := range s.groups {
				if strings.EqualFold(g.name, ref.Name) {
					id = gid
				}
			}
		}
		if s.groups[id] == nil {
			return nil, fmt.Errorf("Problem with computer group in scope: %s", refText(ref))
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *Server) resolveComputers(refs []idNameXML) ([]int, error) {
	var out []int
	for _, ref := range refs {
		id := ref.ID
		if id <= 0 && ref.Name != "" {
			for cid, c := range s.computers {
				if strings.EqualFold(c.Name, ref.Name) {
					id = cid
				}
			}
		}
		if _, ok := s.computers[id]; !ok {
			return nil, fmt.Errorf("Problem with computer in scope: %s", refText(ref))
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func refText(ref idNameXML) string {
	if ref.Name != "" {
		return ref.Name
	}
	return strconv.Itoa(ref.ID)
}

func plainIDs(refs []idNameXML) []int {
	var out []int
	for _, r := range refs {
		out = append(out, r.ID)
	}
	return out
}

// apply sets what body sets on p, checking every reference; on error p is
// unchanged.
func (s *Server) apply(p *policy, body *policyXML) error {
	n := *p
	if g := body.General; g != nil {
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = strings.TrimSpace(*v)
			}
		}
		setB := func(dst *bool, v *bool) {
			if v != nil {
				*dst = *v
			}
		}
		set(&n.Name, g.Name)
		setB(&n.Enabled, g.Enabled)
		set(&n.Trigger, g.Trigger)
		setB(&n.TriggerCheckin, g.TriggerCheckin)
		setB(&n.TriggerEnrollment, g.TriggerEnrollmentComplete)
		setB(&n.TriggerLogin, g.TriggerLogin)
		setB(&n.TriggerStartup, g.TriggerStartup)
		set(&n.TriggerOther, g.TriggerOther)
		set(&n.Frequency, g.Frequency)
	}
	if n.Frequency == "" {
		n.Frequency = "Once per computer"
	}
	if !slices.Contains(frequencies, n.Frequency) {
		return fmt.Errorf("Problem with frequency: %q", n.Frequency)
	}
	if sc := body.Scope; sc != nil {
		var err error
		ns := scope{}
		if sc.AllComputers != nil {
			ns.All = *sc.AllComputers
		}
		if ns.Groups, err = s.resolveGroups(sc.ComputerGroups); err != nil {
			return err
		}
		if ns.Computers, err = s.resolveComputers(sc.Computers); err != nil {
			return err
		}
		ns.Buildings, ns.Departments = plainIDs(sc.Buildings), plainIDs(sc.Departments)
		if ex := sc.Exclusions; ex != nil {
			if ns.ExclGroups, err = s.resolveGroups(ex.ComputerGroups); err != nil {
				return err
			}
			if ns.ExclComputers, err = s.resolveComputers(ex.Computers); err != nil {
				return err
			}
		}
		n.Scope = ns
	}
	if ss := body.SelfService; ss != nil {
		if ss.UseForSelfService != nil {
			n.SelfService.Use = *ss.UseForSelfService
		}
		if ss.SelfServiceDisplayName != nil {
			n.SelfService.DisplayName = *ss.SelfServiceDisplayName
		}
		if ss.InstallButtonText != nil {
			n.SelfService.Button = *ss.InstallButtonText
		}
		if ss.SelfServiceDescription != nil {
			n.SelfService.Description = *ss.SelfServiceDescription
		}
	}
	if pc := body.PackageConf; pc != nil && pc.Packages != nil {
		n.Packages = nil
		for _, pp := range pc.Packages.Packages {
			id := pp.ID
			if id <= 0 && pp.Name != "" {
				for kid, k := range s.packages {
					if strings.EqualFold(k.PackageName, pp.Name) {
						id = kid
					}
				}
			}
			if s.packages[id] == nil {
				return fmt.Errorf("Problem with package in policy: %s", refText(idNameXML{ID: pp.ID, Name: pp.Name}))
			}
			action := pp.Action
			if action == "" {
				action = "Install"
			}
			if !slices.Contains(packageActions, action) {
				return fmt.Errorf("Problem with package action: %q", pp.Action)
			}
			n.Packages = append(n.Packages, policyPackage{id: id, action: action, fut: pp.FUT, feu: pp.FEU})
		}
	}
	if sx := body.Scripts; sx != nil {
		n.ScriptRefs, n.Scripts = nil, nil
		for _, ps := range sx.Scripts {
			if s.scripts[ps.ID] == nil {
				return fmt.Errorf("Problem with script in policy: %d", ps.ID)
			}
			pri := ps.Priority
			if pri == "" {
				pri = "After"
			}
			if pri != "Before" && pri != "After" {
				return fmt.Errorf("Problem with script priority: %q", ps.Priority)
			}
			n.ScriptRefs = append(n.ScriptRefs, policyScript{id: ps.ID, priority: pri, params: [8]string{ps.Parameter4, ps.Parameter5,
				ps.Parameter6, ps.Parameter7, ps.Parameter8, ps.Parameter9, ps.Parameter10, ps.Parameter11}})
			n.Scripts = append(n.Scripts, ps.ID)
		}
	}
	if rb := body.Reboot; rb != nil {
		if rb.NoUserLoggedIn != nil {
			n.RebootNoUser = *rb.NoUserLoggedIn
		}
		if rb.UserLoggedIn != nil {
			n.RebootUser = *rb.UserLoggedIn
		}
	}
	for _, v := range []string{n.RebootNoUser, n.RebootUser} {
		if v != "" && !slices.Contains(rebootChoices, v) {
			return fmt.Errorf("Problem with reboot option: %q", v)
		}
	}
	*p = n
	return nil
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != "0" {
		classicError(w, http.StatusConflict, "Error: a new policy is posted to id 0")
		return
	}
	var body policyXML
	if !s.readXML(w, r, "policy", &body) {
		return
	}
	if body.General == nil || body.General.Name == nil || strings.TrimSpace(*body.General.Name) == "" {
		classicError(w, http.StatusConflict, "Error: Policy name is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.TrimSpace(*body.General.Name)
	if !s.opt.AllowDuplicateNames && nameTaken(s.policies, 0, name, func(p *policy) string { return p.Name }) {
		classicError(w, http.StatusConflict, "Error: Duplicate name")
		return
	}
	p := &policy{Enabled: true, Trigger: "EVENT", Frequency: "Once per computer", SelfService: selfService{Button: "Install"}}
	if err := s.apply(p, &body); err != nil {
		classicError(w, http.StatusConflict, "Error: "+err.Error())
		return
	}
	p.meta = s.newMeta("policy", nodeOf(r))
	s.policies[p.id] = p
	s.rescope(p)
	writeXML(w, http.StatusCreated, idOnlyXML{XMLName: xml.Name{Local: "policy"}, ID: p.id})
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request) {
	var body policyXML
	if !s.readXML(w, r, "policy", &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := classicLookup(r, s.policies, func(p *policy) string { return p.Name })
	if !ok {
		notFound(w)
		return
	}
	if body.General != nil && body.General.Name != nil {
		name := strings.TrimSpace(*body.General.Name)
		if name == "" {
			classicError(w, http.StatusConflict, "Error: Policy name is required")
			return
		}
		if !s.opt.AllowDuplicateNames && nameTaken(s.policies, p.id, name, func(p *policy) string { return p.Name }) {
			classicError(w, http.StatusConflict, "Error: Duplicate name")
			return
		}
	}
	s.settle(p)
	if err := s.apply(p, &body); err != nil {
		classicError(w, http.StatusConflict, "Error: "+err.Error())
		return
	}
	s.rescope(p)
	writeXML(w, http.StatusCreated, idOnlyXML{XMLName: xml.Name{Local: "policy"}, ID: p.id})
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := classicLookup(r, s.policies, func(p *policy) string { return p.Name })
	if !ok {
		notFound(w)
		return
	}
	delete(s.policies, p.id)
	writeXML(w, http.StatusOK, idOnlyXML{XMLName: xml.Name{Local: "policy"}, ID: p.id})
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := groupListXML{}
	node := nodeOf(r)
	for _, id := range sortedKeys(s.groups) {
		if g := s.groups[id]; g.visible(node) {
			out.Groups = append(out.Groups, groupBriefXML{ID: id, Name: g.name, IsSmart: g.smart})
		}
	}
	out.Size = len(out.Groups)
	writeXML(w, http.StatusOK, out)
}

func (s *Server) groupXML(g *group) computerGroupXML {
	id, name, smart := g.id, g.name, g.smart
	nc, nm := len(g.criteria), len(g.members)
	out := computerGroupXML{ID: &id, Name: &name, IsSmart: &smart, Site: &idNameXML{ID: -1, Name: "None"},
		Criteria: &criteriaXML{Size: &nc, Criterion: g.criteria}, Computers: &computersXML{Size: &nm}}
	for _, cid := range g.members {
		out.Computers.Computers = append(out.Computers.Computers, computerXML{ID: cid, Name: s.computers[cid].Name})
	}
	return out
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := classicLookup(r, s.groups, func(g *group) string { return g.name })
	if !ok {
		notFound(w)
		return
	}
	writeXML(w, http.StatusOK, s.groupXML(g))
}

func (s *Server) computerRefs(list *computersXML) ([]int, error) {
	if list == nil {
		return nil, nil
	}
	var refs []idNameXML
	for _, c := range list.Computers {
		refs = append(refs, idNameXML{ID: c.ID, Name: c.Name})
	}
	ids, err := s.resolveComputers(refs)
	if err != nil {
		return nil, errors.New(strings.Replace(err.Error(), "in scope", "in computer group", 1))
	}
	return ids, nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != "0" {
		classicError(w, http.StatusConflict, "Error: a new computer group is posted to id 0")
		return
	}
	var body computerGroupXML
	if !s.readXML(w, r, "computer_group", &body) {
		return
	}
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
		classicError(w, http.StatusConflict, "Error: Computer group name is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.TrimSpace(*body.Name)
	if !s.opt.AllowDuplicateNames && nameTaken(s.groups, 0, name, func(g *group) string { return g.name }) {
		classicError(w, http.StatusConflict, "Error: Duplicate name")
		return
	}
	g := &group{name: name, smart: body.IsSmart != nil && *body.IsSmart}
	if body.Criteria != nil {
		g.criteria = body.Criteria.Criterion
	}
	if !g.smart {
		ids, err := s.computerRefs(body.Computers)
		if err != nil {
			classicError(w, http.StatusConflict, "Error: "+err.Error())
			return
		}
		g.members = ids
	}
	g.meta = s.newMeta("group", nodeOf(r))
	s.groups[g.id] = g
	writeXML(w, http.StatusCreated, idOnlyXML{XMLName: xml.Name{Local: "computer_group"}, ID: g.id})
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request) {
	var body computerGroupXML
	if !s.readXML(w, r, "computer_group", &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := classicLookup(r, s.groups, func(g *group) string { return g.name })
	if !ok {
		notFound(w)
		return
	}
	n := *g
	if body.Name != nil {
		name := strings.TrimSpace(*body.Name)
		if name == "" {
			classicError(w, http.StatusConflict, "Error: Computer group name is required")
			return
		}
		if !s.opt.AllowDuplicateNames && nameTaken(s.groups, g.id, name, func(g *group) string { return g.name }) {
			classicError(w, http.StatusConflict, "Error: Duplicate name")
			return
		}
		n.name = name
	}
	if body.IsSmart != nil && *body.IsSmart != g.smart {
		classicError(w, http.StatusConflict, "Error: a computer group cannot change between static and smart")
		return
	}
	if body.Criteria != nil {
		n.criteria = body.Criteria.Criterion
	}
	if !g.smart {
		if body.Computers != nil {
			ids, err := s.computerRefs(body.Computers)
			if err != nil {
				classicError(w, http.StatusConflict, "Error: "+err.Error())
				return
			}
			n.members = ids
		}
		add, err := s.computerRefs(body.ComputerAdditions)
		if err == nil {
			var del []int
			if del, err = s.computerRefs(body.ComputerDeletions); err == nil {
				for _, id := range add {
					if !slices.Contains(n.members, id) {
						n.members = append(n.members, id)
					}
				}
				n.members = slices.DeleteFunc(slices.Clone(n.members), func(id int) bool { return slices.Contains(del, id) })
			}
		}
		if err != nil {
			classicError(w, http.StatusConflict, "Error: "+err.Error())
			return
		}
	} else if body.Computers != nil || body.ComputerAdditions != nil || body.ComputerDeletions != nil {
		classicError(w, http.StatusConflict, "Error: the computers of a smart group come from its criteria")
		return
	}
	s.settleAll()
	n.set = nil
	*g = n
	s.rescopeAll()
	writeXML(w, http.StatusCreated, idOnlyXML{XMLName: xml.Name{Local: "computer_group"}, ID: g.id})
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := classicLookup(r, s.groups, func(g *group) string { return g.name })
	if !ok {
		notFound(w)
		return
	}
	s.settleAll()
	delete(s.groups, g.id)
	for _, p := range s.policies {
		drop := func(id int) bool { return id == g.id }
		p.Scope.Groups = slices.DeleteFunc(p.Scope.Groups, drop)
		p.Scope.ExclGroups = slices.DeleteFunc(p.Scope.ExclGroups, drop)
	}
	s.rescopeAll()
	writeXML(w, http.StatusOK, idOnlyXML{XMLName: xml.Name{Local: "computer_group"}, ID: g.id})
}

// reaches reports whether p's scope takes in computer c.
func (s *Server) reaches(p *policy, c int) bool {
	in := p.Scope.All || slices.Contains(p.Scope.Computers, c)
	for _, gid := range p.Scope.Groups {
		if g := s.groups[gid]; g != nil && g.has(c) {
			in = true
		}
	}
	if !in || slices.Contains(p.Scope.ExclComputers, c) {
		return false
	}
	for _, gid := range p.Scope.ExclGroups {
		if g := s.groups[gid]; g != nil && g.has(c) {
			return false
		}
	}
	return true
}

// checkIn runs, for computer c, every enabled check-in policy that
// reaches it and has not logged on it since its logs were last flushed:
// after CheckinPolls reads of c's history the policy logs the computer's
// outcome.
func (s *Server) checkIn(c int) {
	if s.fleet != nil {
		for _, pid := range sortedKeys(s.policies) {
			s.run(s.policies[pid], c)
		}
		return
	}
	for _, pid := range sortedKeys(s.policies) {
		p := s.policies[pid]
		if !p.Enabled || !p.TriggerCheckin || !s.reaches(p, c) {
			continue
		}
		if slices.ContainsFunc(s.logs[c], func(l policyLog) bool { return l.policy == pid }) && p.Frequency != "Ongoing" {
			continue
		}
		k := [2]int{c, pid}
		s.seen[k]++
		if s.seen[k] <= s.opt.CheckinPolls {
			continue
		}
		delete(s.seen, k)
		status := s.outcomes[c]
		if status == "" {
			status = Completed
		}
		s.logs[c] = append(s.logs[c], policyLog{policy: pid, name: p.Name, at: s.opt.Now(), status: status})
	}
}

func (s *Server) computerHistory(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := strconv.Atoi(r.PathValue("id"))
	c, ok := s.computers[id]
	if err != nil || !ok {
		notFound(w)
		return
	}
	subsets := map[string]bool{}
	if v := r.PathValue("subset"); v != "" {
		for _, sub := range strings.Split(v, "&") {
			subsets[strings.ToLower(strings.ReplaceAll(sub, "_", ""))] = true
		}
	} else {
		subsets["general"], subsets["policylogs"] = true, true
	}
	out := historyXML{}
	if subsets["general"] {
		out.General = &historyGeneral{ID: id, Name: c.Name, SerialNumber: fmt.Sprintf("C02SIM%05d", id)}
	}
	if subsets["policylogs"] {
		s.checkIn(id)
		out.PolicyLogs = &policyLogsXML{}
		for _, l := range s.logs[id] {
			out.PolicyLogs.Logs = append(out.PolicyLogs.Logs, policyLogXML{PolicyID: l.policy, PolicyName: l.name,
				Username: "", DateCompleted: l.at.Format("2006/01/02 at 3:04 PM"), DateCompletedEpoch: l.at.UnixMilli(),
				DateCompletedUTC: l.at.UTC().Format("2006-01-02T15:04:05.000-0700"), Status: l.status})
		}
	}
	writeXML(w, http.StatusOK, out)
}

// flushPolicyLogs deletes a policy's logs older than the interval
// ("Zero+Days" deletes them all), so the policy runs again on computers
// it already ran on.
func (s *Server) flushPolicyLogs(w http.ResponseWriter, r *http.Request) {
	n, unit, ok := strings.Cut(strings.ReplaceAll(r.PathValue("interval"), " ", "+"), "+")
	counts := map[string]int{"Zero": 0, "One": 1, "Two": 2, "Three": 3, "Six": 6}
	days := map[string]int{"Days": 1, "Weeks": 7, "Months": 30, "Years": 365}
	c, okc := counts[n]
	d, okd := days[unit]
	if !ok || !okc || !okd {
		classicError(w, http.StatusBadRequest, "Error: the interval is one of Zero, One, Two, Three or Six, then Days, Weeks, Months or Years")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, found := classicLookup(r, s.policies, func(p *policy) string { return p.Name })
	if !found {
		notFound(w)
		return
	}
	s.settle(p)
	cutoff := s.opt.Now().Add(-time.Duration(c*d) * 24 * time.Hour)
	for cid, logs := range s.logs {
		n := len(logs)
		s.logs[cid] = slices.DeleteFunc(logs, func(l policyLog) bool { return l.policy == p.id && !l.at.After(cutoff) })
		if _, ok := p.since[cid]; ok && len(s.logs[cid]) < n {
			p.since[cid] = s.opt.Now() // it runs again at its next check-in
		}
	}
	p.flushes++
	w.WriteHeader(http.StatusOK)
}
