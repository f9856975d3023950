package intune

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/packaging/intunewin"
)

// mobileApp is what the connector reads of a Graph mobileApp.
type mobileApp struct {
	ODataType               string    `json:"@odata.type"`
	ID                      string    `json:"id"`
	DisplayName             string    `json:"displayName"`
	Notes                   string    `json:"notes"`
	PublishingState         string    `json:"publishingState"`
	CommittedContentVersion string    `json:"committedContentVersion"`
	CreatedDateTime         time.Time `json:"createdDateTime"`
}

// typeName is the app's type without the namespace: "win32LobApp".
func (a mobileApp) typeName() string { return strings.TrimPrefix(a.ODataType, "#microsoft.graph.") }

// rawAssignment is an assignment as read, kept whole so it is written back
// unchanged.
type rawAssignment map[string]any

func (x rawAssignment) id() string     { s, _ := x["id"].(string); return s }
func (x rawAssignment) intent() string { s, _ := x["intent"].(string); return s }
func (x rawAssignment) target() map[string]any {
	t, _ := x["target"].(map[string]any)
	return t
}
func (x rawAssignment) targetType() string {
	s, _ := x.target()["@odata.type"].(string)
	return strings.TrimPrefix(s, "#microsoft.graph.")
}
func (x rawAssignment) group() string { s, _ := x.target()["groupId"].(string); return s }

// key is what makes two assignments the same for the merge.
func (x rawAssignment) key() string { return x.targetType() + ":" + x.group() + ":" + x.intent() }

// contentFile is what the connector reads of a mobileAppContentFile.
type contentFile struct {
	ID                                string    `json:"id"`
	Name                              string    `json:"name"`
	Size                              int64     `json:"size"`
	SizeEncrypted                     int64     `json:"sizeEncrypted"`
	IsCommitted                       bool      `json:"isCommitted"`
	UploadState                       string    `json:"uploadState"`
	AzureStorageURI                   string    `json:"azureStorageUri"`
	AzureStorageURIExpirationDateTime time.Time `json:"azureStorageUriExpirationDateTime"`
}

// deviceStatus is one mobileAppInstallStatus.
type deviceStatus struct {
	DeviceName         string    `json:"deviceName"`
	DeviceID           string    `json:"deviceId"`
	InstallState       string    `json:"installState"`
	InstallStateDetail string    `json:"installStateDetail"`
	ErrorCode          int64     `json:"errorCode"`
	LastSyncDateTime   time.Time `json:"lastSyncDateTime"`
}

// installSummary is a mobileAppInstallSummary.
type installSummary struct {
	Installed     int `json:"installedDeviceCount"`
	Failed        int `json:"failedDeviceCount"`
	NotApplicable int `json:"notApplicableDeviceCount"`
	NotInstalled  int `json:"notInstalledDeviceCount"`
	Pending       int `json:"pendingInstallDeviceCount"`
}

// installStates maps Graph's installState onto EUCORA's.
var installStates = map[string]connectors.InstallState{
	"installed":       connectors.StateInstalled,
	"failed":          connectors.StateFailed,
	"uninstallFailed": connectors.StateFailed,
	"notInstalled":    connectors.StateNotInstalled,
	"pendingInstall":  connectors.StatePending,
	"notApplicable":   connectors.StateNotApplicable,
	"unknown":         connectors.StateUnknown,
}

func installState(s string) connectors.InstallState {
	if st, ok := installStates[s]; ok {
		return st
	}
	return connectors.StateUnknown
}

// marker is one line of an app's notes.
type marker struct {
	Correlation string
	Release     string // ReleaseKey.String()
	Targets     []connectors.Target
}

func (m marker) String() string {
	ts := make([]string, len(m.Targets))
	for i, t := range m.Targets {
		ts[i] = t.ID
		if t.Exclude {
			ts[i] = "!" + t.ID
		}
	}
	return "eucora:correlation=" + m.Correlation + " release=" + m.Release + " targets=" + strings.Join(ts, ",")
}

// groups are the include targets' group ids.
func (m marker) groups() []string {
	var out []string
	for _, t := range m.Targets {
		if !t.Exclude {
			out = append(out, t.ID)
		}
	}
	return out
}

func (m marker) has(group string) bool {
	for _, t := range m.Targets {
		if t.ID == group {
			return true
		}
	}
	return false
}

// notes is an app's notes: free text, EUCORA's marker lines and the
// content line.
type notes struct {
	other   []string
	markers []marker
	// content is the digest of the committed content, when recorded.
	content string
}

func parseNotes(s string) notes {
	var n notes
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "eucora:correlation="):
			var m marker
			for _, f := range strings.Fields(t) {
				k, v, _ := strings.Cut(f, "=")
				switch k {
				case "eucora:correlation":
					m.Correlation = v
				case "release":
					m.Release = v
				case "targets":
					for _, id := range strings.Split(v, ",") {
						if ex := strings.HasPrefix(id, "!"); ex {
							m.Targets = append(m.Targets, connectors.Target{ID: id[1:], Exclude: true})
						} else if id != "" {
							m.Targets = append(m.Targets, connectors.Target{ID: id})
						}
					}
				}
			}
			if m.Correlation != "" && m.Release != "" {
				n.markers = append(n.markers, m)
			}
		case strings.HasPrefix(t, "eucora:content="):
			f := strings.Fields(t)
			n.content = strings.TrimPrefix(f[0], "eucora:content=")
		case t != "":
			n.other = append(n.other, line)
		}
	}
	return n
}

func (n notes) String() string {
	lines := append([]string(nil), n.other...)
	ms := append([]marker(nil), n.markers...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Release < ms[j].Release })
	for _, m := range ms {
		lines = append(lines, m.String())
	}
	if n.content != "" {
		lines = append(lines, "eucora:content="+n.content)
	}
	return strings.Join(lines, "\n")
}

// marker returns the line of a release key.
func (n notes) marker(k connectors.ReleaseKey) (marker, bool) {
	for _, m := range n.markers {
		if m.Release == k.String() {
			return m, true
		}
	}
	return marker{}, false
}

// with returns the notes with m as the line of its release (replacing an
// older one).
func (n notes) with(m marker) notes {
	out := n
	out.markers = nil
	for _, x := range n.markers {
		if x.Release != m.Release {
			out.markers = append(out.markers, x)
		}
	}
	out.markers = append(out.markers, m)
	return out
}

// hasEUCORA reports whether the notes carry any EUCORA line.
func (n notes) hasEUCORA() bool { return len(n.markers) > 0 || n.content != "" }

// parseKey reads ReleaseKey.String(): "app@version/ring-N/scope".
func parseKey(s string) (connectors.ReleaseKey, bool) {
	at := strings.Index(s, "@")
	if at <= 0 {
		return connectors.ReleaseKey{}, false
	}
	rest := s[at+1:]
	i := strings.LastIndex(rest, "/ring-")
	if i < 0 {
		return connectors.ReleaseKey{}, false
	}
	ringScope := rest[i+len("/ring-"):]
	ringText, scopeText, ok := strings.Cut(ringScope, "/")
	ring, err := strconv.Atoi(ringText)
	if !ok || err != nil {
		return connectors.ReleaseKey{}, false
	}
	k := connectors.ReleaseKey{App: s[:at], Version: rest[:i], Ring: deploy.Ring(ring)}
	if scopeText != "*" && scopeText != "" {
		for _, part := range strings.Split(scopeText, ",") {
			name, v, _ := strings.Cut(part, "=")
			switch name {
			case "acquisition":
				k.Scope.Acquisition = v
			case "bu":
				k.Scope.BU = v
			case "site":
				k.Scope.Site = v
			default:
				return connectors.ReleaseKey{}, false
			}
		}
	}
	return k, k.String() == s
}

// displayName is the app's name: deterministic from the AppKey, with the
// release's display name in front when it has one.
func displayName(r connectors.Release) string {
	name := r.Key.AppKey().Name()
	if r.DisplayName == "" {
		return name
	}
	return r.DisplayName + " [" + name + "]"
}

// namedFor reports whether an app's displayName is the one of appKey.
func namedFor(displayName string, appKey connectors.ReleaseKey) bool {
	name := appKey.Name()
	return displayName == name || strings.HasSuffix(displayName, " ["+name+"]")
}

// appType is the Graph app type for a content type.
func appType(t deploy.Platform) (string, error) {
	switch t {
	case "", deploy.PlatformMSI, deploy.PlatformMSIX, deploy.PlatformIntuneW:
		return "win32LobApp", nil
	case deploy.PlatformPKG:
		return "macOSPkgApp", nil
	case deploy.PlatformDMG:
		return "macOSDmgApp", nil
	case deploy.PlatformIPA:
		return "iosLobApp", nil
	case deploy.PlatformAPK:
		return "androidLobApp", nil
	}
	return "", fmt.Errorf("Intune does not deploy %q content (Linux packages go to Landscape or AWX)", t)
}

func odata(t string) string { return "#microsoft.graph." + t }

// appBody is the create body of the release's app.
func (c *conn) appBody(r connectors.Release, typ string, n notes, p *payload) (map[string]any, error) {
	publisher := r.Publisher
	if publisher == "" {
		publisher = "EUCORA"
	}
	m := map[string]any{
		"@odata.type": odata(typ),
		"displayName": displayName(r),
		"description": fmt.Sprintf("%s %s, published by EUCORA.", r.Key.App, r.Key.Version),
		"publisher":   publisher,
		"notes":       n.String(),
		"fileName":    p.appFileName,
	}
	d := r.Install.Detection
	switch typ {
	case "win32LobApp":
		if err := c.win32Body(m, r, p); err != nil {
			return nil, err
		}
	case "macOSPkgApp", "macOSDmgApp":
		if d.BundleID == "" {
			return nil, fmt.Errorf("a macOS %s needs detection.bundle_id (the primary bundle id)", typ)
		}
		v := orDefault(d.BundleVersion, r.Key.Version)
		m["primaryBundleId"], m["primaryBundleVersion"] = d.BundleID, v
		m["includedApps"] = []any{map[string]any{"@odata.type": odata("macOSIncludedApp"), "bundleId": d.BundleID, "bundleVersion": v}}
		m["minimumSupportedOperatingSystem"] = map[string]any{"@odata.type": odata("macOSMinimumOperatingSystem"), "v11_0": true}
		m["ignoreVersionDetection"] = false
	case "iosLobApp":
		if d.BundleID == "" {
			return nil, fmt.Errorf("an iOS app needs detection.bundle_id")
		}
		m["bundleId"] = d.BundleID
		m["applicableDeviceType"] = map[string]any{"@odata.type": odata("iosDeviceType"), "iPad": true, "iPhoneAndIPod": true}
		m["minimumSupportedOperatingSystem"] = map[string]any{"@odata.type": odata("iosMinimumOperatingSystem"), "v15_0": true}
		m["versionNumber"] = r.Key.Version
		m["buildNumber"] = orDefault(d.BundleVersion, r.Key.Version)
	case "androidLobApp":
		if d.PackageName == "" {
			return nil, fmt.Errorf("an Android app needs detection.package_name (the package id)")
		}
		m["packageId"] = d.PackageName
		m["minimumSupportedOperatingSystem"] = map[string]any{"@odata.type": odata("androidMinimumOperatingSystem"), "v8_0": true}
		m["versionName"] = r.Key.Version
		m["versionCode"] = orDefault(d.BundleVersion, r.Key.Version)
	}
	return m, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// defaultReturnCodes are the return codes the Intune console proposes.
var defaultReturnCodes = []connectors.ReturnCode{{Code: 0, Type: "success"}, {Code: 1707, Type: "success"}, {Code: 3010, Type: "softReboot"}, {Code: 1641, Type: "hardReboot"}, {Code: 1618, Type: "retry"}}

var returnCodeTypes = map[string]bool{"success": true, "softReboot": true, "hardReboot": true, "retry": true, "failed": true}

func (c *conn) win32Body(m map[string]any, r connectors.Release, p *payload) error {
	in := r.Install
	d := in.Detection
	isMSI := strings.EqualFold(path.Ext(p.setupFile), ".msi")
	install, uninstall := in.InstallCommand, in.UninstallCommand
	if isMSI && install == "" {
		install = fmt.Sprintf(`msiexec /i "%s" /qn`, p.setupFile)
	}
	if isMSI && uninstall == "" && d.ProductCode != "" {
		uninstall = fmt.Sprintf("msiexec /x %s /qn", d.ProductCode)
	}
	if install == "" || uninstall == "" {
		return fmt.Errorf("a Win32 app needs install.install_command and install.uninstall_command (defaulted only for an MSI with a product code)")
	}
	var rules []any
	switch {
	case d.ProductCode != "":
		op := "notConfigured"
		if d.ProductVersion != "" {
			op = "equal"
		}
		rules = append(rules, map[string]any{"@odata.type": odata("win32LobAppProductCodeRule"), "ruleType": "detection", "productCode": d.ProductCode, "productVersionOperator": op, "productVersion": nilIfEmpty(d.ProductVersion)})
	case d.RegistryKey != "":
		rules = append(rules, map[string]any{"@odata.type": odata("win32LobAppRegistryRule"), "ruleType": "detection", "check32BitOn64System": false, "keyPath": d.RegistryKey, "valueName": nilIfEmpty(d.RegistryValue), "operationType": "exists", "operator": "notConfigured", "comparisonValue": nil})
	case d.FilePath != "":
		if d.FileName == "" {
			return fmt.Errorf("a file detection needs detection.file_name with detection.file_path")
		}
		rules = append(rules, map[string]any{"@odata.type": odata("win32LobAppFileSystemRule"), "ruleType": "detection", "check32BitOn64System": false, "path": d.FilePath, "fileOrFolderName": d.FileName, "operationType": "exists", "operator": "notConfigured", "comparisonValue": nil})
	default:
		return fmt.Errorf("a Win32 app needs a detection rule: detection.product_code, registry_key or file_path")
	}
	for _, q := range c.cfg.Requirements {
		switch {
		case q.RegistryKey != "":
			rules = append(rules, map[string]any{"@odata.type": odata("win32LobAppRegistryRule"), "ruleType": "requirement", "check32BitOn64System": false, "keyPath": q.RegistryKey, "valueName": nilIfEmpty(q.RegistryValue), "operationType": "exists", "operator": "notConfigured", "comparisonValue": nil})
		case q.FilePath != "" && q.FileName != "":
			rules = append(rules, map[string]any{"@odata.type": odata("win32LobAppFileSystemRule"), "ruleType": "requirement", "check32BitOn64System": false, "path": q.FilePath, "fileOrFolderName": q.FileName, "operationType": "exists", "operator": "notConfigured", "comparisonValue": nil})
		default:
			return fmt.Errorf("requirement %+v: want a registry key, or a file path and name", q)
		}
	}
	codes := in.ReturnCodes
	if len(codes) == 0 {
		codes = defaultReturnCodes
	}
	var rc []any
	for _, x := range codes {
		if !returnCodeTypes[x.Type] {
			return fmt.Errorf("return code %d: type %q is not one of success, softReboot, hardReboot, retry, failed", x.Code, x.Type)
		}
		rc = append(rc, map[string]any{"@odata.type": odata("win32LobAppReturnCode"), "returnCode": x.Code, "type": x.Type})
	}
	runAs := "user"
	if in.RunAsSystem {
		runAs = "system"
	}
	restart := orDefault(in.RebootBehavior, "basedOnReturnCode")
	switch restart {
	case "basedOnReturnCode", "allow", "suppress", "force":
	default:
		return fmt.Errorf("reboot behavior %q is not one of basedOnReturnCode, allow, suppress, force", restart)
	}
	minutes := int(in.MaxRunTime / time.Minute)
	if minutes <= 0 {
		minutes = 60
	}
	m["installCommandLine"], m["uninstallCommandLine"] = install, uninstall
	m["setupFilePath"] = p.setupFile
	m["applicableArchitectures"] = c.cfg.Architectures
	m["minimumSupportedWindowsRelease"] = c.cfg.MinimumWindowsRelease
	m["displayVersion"] = r.Key.Version
	m["installExperience"] = map[string]any{"@odata.type": odata("win32LobAppInstallExperience"), "runAsAccount": runAs, "deviceRestartBehavior": restart, "maxRunTimeInMinutes": minutes}
	m["returnCodes"] = rc
	m["rules"] = rules
	if isMSI && d.ProductCode != "" {
		m["msiInformation"] = map[string]any{"@odata.type": odata("win32LobAppMsiInformation"), "productCode": d.ProductCode, "productVersion": nilIfEmpty(d.ProductVersion),
			"upgradeCode": nil, "requiresReboot": false, "packageType": "perMachine", "productName": orDefault(r.DisplayName, r.Key.App), "publisher": orDefault(r.Publisher, "EUCORA")}
	} else {
		m["msiInformation"] = nil
	}
	return nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// assignmentBody is the assignment of one target.
func assignmentBody(typ, intent string, t connectors.Target, deadline time.Time) rawAssignment {
	target := map[string]any{"@odata.type": odata("groupAssignmentTarget"), "groupId": t.ID}
	if t.Exclude {
		target["@odata.type"] = odata("exclusionGroupAssignmentTarget")
	}
	x := rawAssignment{"@odata.type": odata("mobileAppAssignment"), "intent": intent, "target": target, "settings": nil}
	if t.Exclude {
		return x
	}
	switch typ {
	case "win32LobApp":
		s := map[string]any{"@odata.type": odata("win32LobAppAssignmentSettings"), "notifications": "showAll", "deliveryOptimizationPriority": "notConfigured", "restartSettings": nil, "installTimeSettings": nil}
		if !deadline.IsZero() && intent == "required" {
			s["installTimeSettings"] = map[string]any{"@odata.type": odata("mobileAppInstallTimeSettings"), "useLocalTime": false, "startDateTime": nil, "deadlineDateTime": deadline.UTC().Format(time.RFC3339)}
		}
		x["settings"] = s
	case "macOSPkgApp", "macOSDmgApp":
		x["settings"] = map[string]any{"@odata.type": odata("macOsLobAppAssignmentSettings"), "uninstallOnDeviceRemoval": false}
	case "iosLobApp":
		x["settings"] = map[string]any{"@odata.type": odata("iosLobAppAssignmentSettings"), "uninstallOnDeviceRemoval": false, "isRemovable": true, "preventManagedAppBackup": false}
	}
	return x
}

// payload is the encrypted content file of an app.
type payload struct {
	name          string // the file entry's name
	size, sizeEnc int64
	info          intunewin.EncryptionInfo
	open          func() (io.ReadCloser, error)
	// appFileName is the app's fileName; setupFile the Win32 setup file.
	appFileName, setupFile string
	cleanup                func()
}

// appObject is the plane object of an app for a release.
func appObject(a mobileApp, corr string, k connectors.ReleaseKey) connectors.Object {
	return connectors.Object{Kind: "mobileApp", ID: a.ID, Name: a.DisplayName, CorrelationID: corr, Release: &k}
}

func assignmentObject(x rawAssignment, corr string, k connectors.ReleaseKey) connectors.Object {
	return connectors.Object{Kind: "assignment", ID: x.id(), Name: x.intent() + " " + x.targetType() + " " + x.group(), CorrelationID: corr, Release: &k}
}
