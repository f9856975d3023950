package awx

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
)

// Job actions (Vars.Action).
const (
	ActionInstall   = "install"   // Publish and Supersede
	ActionRedeploy  = "redeploy"  // Remediate Redeploy
	ActionPinPrior  = "pin-prior" // Remediate PinPrior: the prior version installed and pinned
	ActionUninstall = "uninstall" // Remediate Uninstall
	// ActionVerify is a check job Query launches: the ring's latest job's
	// variables, run with job_type "check" to find which hosts still hold
	// its version. It changes nothing and is not a plane object of the
	// release.
	ActionVerify = "verify"
)

// VerifyTask is the playbook's task whose result a check job reads: it
// runs in check mode too and fails on a host that does not hold the
// job's version.
const VerifyTask = "check the installed version"

// Vars are the extra_vars of every job EUCORA launches: the release's
// identity (what Find, Query and the retry of a lost launch match on) and
// what the playbook puts on the hosts.
type Vars struct {
	CorrelationID string `json:"eucora_correlation_id"`
	// Release is the key the job acts for (ReleaseKey.String); Key is the
	// same key as an object.
	Release string                `json:"eucora_release"`
	Key     connectors.ReleaseKey `json:"eucora_key"`
	Action  string                `json:"eucora_action"`
	// Marker is connectors.CorrelationMarker, recorded in the pin file.
	Marker string `json:"eucora_marker"`
	// Package and Version are the Debian package and the version the job
	// puts on the hosts (for pin-prior, the prior release's version).
	Package string `json:"eucora_package"`
	Version string `json:"eucora_version"`
	// State is "present" (install and pin) or "absent" (remove and unpin).
	State string `json:"eucora_state"`
	// Pin is the apt preferences "Pin:" value ("version 1.2-1").
	Pin   string `json:"eucora_pin,omitempty"`
	Prior string `json:"eucora_prior,omitempty"`
	// The APT repository: "deb [signed-by=...] URL DIST COMPONENT".
	RepoURL       string `json:"eucora_repo_url"`
	RepoDist      string `json:"eucora_repo_dist"`
	RepoComponent string `json:"eucora_repo_component"`
	RepoKey       string `json:"eucora_repo_key,omitempty"`
}

// ParseVars reads a job's extra_vars (AWX returns them as JSON text); ok
// is false for a job EUCORA did not launch (or whose extra_vars are YAML,
// which only jobs launched by others have).
func ParseVars(extra string) (v Vars, ok bool) {
	if err := json.Unmarshal([]byte(extra), &v); err != nil {
		return Vars{}, false
	}
	return v, v.Release != "" && v.Action != "" && v.Key.App != ""
}

// puts reports whether the job installs key's version of key's app.
func (v Vars) puts(k connectors.ReleaseKey) bool {
	return v.State == "present" && v.Key.App == k.App && v.Version == k.Version
}

// sameRing reports whether two keys are the same app, ring and scope: the
// slot whose latest job says what the ring's hosts should hold.
func sameRing(a, b connectors.ReleaseKey) bool {
	return a.App == b.App && a.Ring == b.Ring && a.Scope == b.Scope
}

// Debian package names and versions (Debian policy 5.6.1, 5.6.12).
var (
	debName    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	debVersion = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`)
)

// PackageName is the Debian package a release installs: its detection
// rule's package name, or else the app name.
func PackageName(r connectors.Release) string {
	if p := r.Install.Detection.PackageName; p != "" {
		return p
	}
	return r.Key.App
}

// checkRelease checks what this plane needs of a release. (It does not
// call Release.Validate: the content opener is not used here, the APT
// repository holds the package.)
func checkRelease(r connectors.Release) error {
	k := r.Key
	switch {
	case k.App == "":
		return fmt.Errorf("release key: app is empty")
	case !k.Ring.Valid():
		return fmt.Errorf("release %s: ring %d is not one of 0-4", k, int(k.Ring))
	case !debVersion.MatchString(k.Version):
		return fmt.Errorf("release %s: version %q is not a Debian version (digits first, then letters, digits, '.', '+', '~', '-')", k, k.Version)
	case r.CorrelationID == "" || strings.ContainsAny(r.CorrelationID, " \t\r\n"):
		return fmt.Errorf("release %s: correlation id %q: want a non-empty id without spaces", k, r.CorrelationID)
	case !debName.MatchString(PackageName(r)):
		return fmt.Errorf("release %s: package name %q is not a Debian package name (lower-case letters, digits, '+', '-', '.')", k, PackageName(r))
	}
	_, err := Limit(r.Targets)
	if err != nil {
		return fmt.Errorf("release %s: %w", k, err)
	}
	return nil
}

// Limit is the job limit (an ansible host pattern) of targets: their ids
// (inventory host or group names) joined by ',', excluded ones as "!id".
func Limit(ts []connectors.Target) (string, error) {
	var in, out []string
	for _, t := range ts {
		if t.ID == "" || strings.ContainsAny(t.ID, ",:!&~ \t\r\n") {
			return "", fmt.Errorf("target %q: want an inventory host or group name (no spaces, ',', ':', '!', '&', '~')", t.ID)
		}
		if t.Exclude {
			out = append(out, "!"+t.ID)
		} else {
			in = append(in, t.ID)
		}
	}
	if len(in) == 0 {
		return "", fmt.Errorf("no targets to include: the ring reaches no host on this plane")
	}
	return strings.Join(append(in, out...), ","), nil
}

// LimitTargets is the inverse of Limit: the included target ids of a
// job's limit.
func LimitTargets(limit string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(limit, func(c rune) bool { return c == ',' || c == ':' }) {
		if t = strings.TrimSpace(t); t != "" && t[0] != '!' && t[0] != '&' {
			out = append(out, t)
		}
	}
	return out
}

// vars builds a job's extra_vars.
func (c *Client) vars(r connectors.Release, action, version, state string) Vars {
	v := Vars{
		CorrelationID: r.CorrelationID, Release: r.Key.String(), Key: r.Key, Action: action,
		Marker:  connectors.CorrelationMarker(r.CorrelationID, r.Key),
		Package: PackageName(r), Version: version, State: state,
		RepoURL: c.cfg.Repo.URL, RepoDist: c.cfg.Repo.Dist, RepoComponent: c.cfg.Repo.Component, RepoKey: c.cfg.Repo.Key,
	}
	if state == "present" {
		v.Pin = "version " + version
	}
	if r.Prior != nil {
		v.Prior = r.Prior.String()
	}
	return v
}

// Wire types of AWX's API v2, with the fields the connector reads.

// JobTemplate is GET /api/v2/job_templates/ (one result).
type JobTemplate struct {
	ID                int    `json:"id"`
	Name              string `json:"name"`
	Inventory         *int   `json:"inventory"`
	Playbook          string `json:"playbook"`
	AskVariables      bool   `json:"ask_variables_on_launch"`
	AskLimit          bool   `json:"ask_limit_on_launch"`
	SurveyEnabled     bool   `json:"survey_enabled"`
	AllowSimultaneous bool   `json:"allow_simultaneous"`
}

// LaunchInfo is GET /api/v2/job_templates/{id}/launch/.
type LaunchInfo struct {
	CanStartWithoutUserInput bool     `json:"can_start_without_user_input"`
	PasswordsNeeded          []string `json:"passwords_needed_to_start"`
	VariablesNeeded          []string `json:"variables_needed_to_start"`
	AskVariables             bool     `json:"ask_variables_on_launch"`
	AskLimit                 bool     `json:"ask_limit_on_launch"`
	AskJobType               bool     `json:"ask_job_type_on_launch"`
	SurveyEnabled            bool     `json:"survey_enabled"`
	InventoryNeeded          bool     `json:"inventory_needed_to_start"`
	CredentialNeeded         bool     `json:"credential_needed_to_start"`
}

// problem says why EUCORA cannot launch the template, "" when it can.
func (l LaunchInfo) problem() string {
	switch {
	case !l.AskVariables && !l.SurveyEnabled:
		return "it does not prompt for variables on launch (ask_variables_on_launch is false): the release's extra_vars would be ignored"
	case !l.AskLimit:
		return "it does not prompt for a limit on launch (ask_limit_on_launch is false): the job would run on every host of its inventory"
	case len(l.PasswordsNeeded) > 0:
		return fmt.Sprintf("it needs passwords to start (%s)", strings.Join(l.PasswordsNeeded, ", "))
	case len(l.VariablesNeeded) > 0:
		return fmt.Sprintf("its survey needs variables to start (%s)", strings.Join(l.VariablesNeeded, ", "))
	case l.InventoryNeeded:
		return "it has no inventory"
	case l.CredentialNeeded:
		return "it needs a credential to start"
	}
	return ""
}

// Launched is the answer of POST /api/v2/job_templates/{id}/launch/.
type Launched struct {
	Job           int            `json:"job"`
	IgnoredFields map[string]any `json:"ignored_fields"`
	Status        string         `json:"status"`
}

// Job is GET /api/v2/jobs/{id}/ (and an entry of a jobs list).
type Job struct {
	ID          int        `json:"id"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Failed      bool       `json:"failed"`
	Created     time.Time  `json:"created"`
	Started     *time.Time `json:"started"`
	Finished    *time.Time `json:"finished"`
	Elapsed     float64    `json:"elapsed"`
	Explanation string     `json:"job_explanation"`
	ExtraVars   string     `json:"extra_vars"`
	JobType     string     `json:"job_type"`
	Limit       string     `json:"limit"`
	LaunchType  string     `json:"launch_type"`
	Template    int        `json:"job_template"`
}

// Done reports whether the job has finished: successful, failed, error or
// canceled.
func (j Job) Done() bool {
	switch j.Status {
	case "successful", "failed", "error", "canceled":
		return true
	}
	return false
}

// HostSummary is one entry of GET /api/v2/jobs/{id}/job_host_summaries/.
type HostSummary struct {
	ID       int       `json:"id"`
	Host     *int      `json:"host"`
	HostName string    `json:"host_name"`
	OK       int       `json:"ok"`
	Changed  int       `json:"changed"`
	Failures int       `json:"failures"`
	Dark     int       `json:"dark"`
	Skipped  int       `json:"skipped"`
	Rescued  int       `json:"rescued"`
	Ignored  int       `json:"ignored"`
	Failed   bool      `json:"failed"`
	Modified time.Time `json:"modified"`
}

// JobEvent is one entry of GET /api/v2/jobs/{id}/job_events/.
type JobEvent struct {
	ID        int            `json:"id"`
	Counter   int            `json:"counter"`
	Event     string         `json:"event"`
	HostName  string         `json:"host_name"`
	Play      string         `json:"play"`
	Task      string         `json:"task"`
	Failed    bool           `json:"failed"`
	Changed   bool           `json:"changed"`
	EventData map[string]any `json:"event_data"`
	Created   time.Time      `json:"created"`
}

// Message is the event's module message ("msg", then stderr), for a
// failed host's detail.
func (e JobEvent) Message() string {
	res, _ := e.EventData["res"].(map[string]any)
	var parts []string
	for _, k := range []string{"msg", "stderr"} {
		if s, ok := res[k].(string); ok && strings.TrimSpace(s) != "" {
			parts = append(parts, strings.TrimSpace(s))
		}
	}
	return clip(strings.Join(parts, ": "), 500)
}
