package landscape

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	textclip "github.com/eucora/eucora/internal/clip"
)

// The objects of Landscape's legacy API (version 2011-08-01) as its JSON
// answers carry them. Fields the connector does not use are left out;
// unknown fields are ignored.

// Person is an activity's or a script's creator.
type Person struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Computer is one managed computer (GetComputers).
type Computer struct {
	ID               int64    `json:"id"`
	Title            string   `json:"title"`
	Hostname         string   `json:"hostname"`
	Comment          string   `json:"comment"`
	Tags             []string `json:"tags"`
	AccessGroup      string   `json:"access_group"`
	LastPingTime     string   `json:"last_ping_time"`
	LastExchangeTime string   `json:"last_exchange_time"`
	Distribution     string   `json:"distribution"`
}

// Script is a stored script (GetScripts, CreateScript); its code is read
// with GetScriptCode.
type Script struct {
	ID          int64    `json:"id"`
	Title       string   `json:"title"`
	TimeLimit   int      `json:"time_limit"`
	Username    string   `json:"username"`
	AccessGroup string   `json:"access_group"`
	Interpreter string   `json:"interpreter"`
	Creator     *Person  `json:"creator"`
	Attachments []string `json:"attachments"`
}

// Constraint is one rule of a package profile: Type is "depends" or
// "conflicts", Rule is "name [op version]". Landscape answers a
// constraint as the pair ["depends", "mysql >= 5.1.0"].
type Constraint struct {
	Type string
	Rule string
}

// String renders the constraint as the API's requests take it:
// "depends mysql >= 5.1.0".
func (c Constraint) String() string { return c.Type + " " + c.Rule }

// UnmarshalJSON reads the pair form, and an object {"type","rule"} or
// {"constraint","package","rule","version"} as other API versions answer.
func (c *Constraint) UnmarshalJSON(b []byte) error {
	var pair []string
	if err := json.Unmarshal(b, &pair); err == nil {
		if len(pair) != 2 {
			return fmt.Errorf("constraint: want [type, rule], got %d elements", len(pair))
		}
		c.Type, c.Rule = pair[0], pair[1]
		return nil
	}
	var o struct {
		Type       string `json:"type"`
		Constraint string `json:"constraint"`
		Rule       string `json:"rule"`
		Package    string `json:"package"`
		Version    string `json:"version"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("constraint: %w", err)
	}
	c.Type = o.Type
	if c.Type == "" {
		c.Type = o.Constraint
	}
	c.Rule = o.Rule
	if o.Package != "" {
		c.Rule = strings.TrimSpace(o.Package + " " + o.Rule + " " + o.Version)
	}
	return nil
}

// MarshalJSON writes the pair form.
func (c Constraint) MarshalJSON() ([]byte, error) { return json.Marshal([]string{c.Type, c.Rule}) }

// ProfileComputers is a package profile's computers by compliance.
type ProfileComputers struct {
	Constrained  []int64 `json:"constrained"`
	NonCompliant []int64 `json:"non-compliant"`
	Pending      []int64 `json:"pending"`
}

// PackageProfile is a set of package constraints associated with tags
// (GetPackageProfiles, CreatePackageProfile). Landscape derives Name from
// the title; requests name the profile by Name.
type PackageProfile struct {
	ID               int64            `json:"id"`
	Name             string           `json:"name"`
	Title            string           `json:"title"`
	Description      string           `json:"description"`
	AccessGroup      string           `json:"access_group"`
	CreationTime     string           `json:"creation_time"`
	ModificationTime string           `json:"modification_time"`
	Version          json.RawMessage  `json:"version"`
	Tags             []string         `json:"tags"`
	AllComputers     bool             `json:"all_computers"`
	Constraints      []Constraint     `json:"constraints"`
	Computers        ProfileComputers `json:"computers"`
}

// Change is one package change of a ChangePackagesRequest activity.
type Change struct {
	Package        string  `json:"package"`
	Type           string  `json:"type"` // install, upgrade, downgrade, remove
	InstallVersion *string `json:"install_version"`
	RemoveVersion  *string `json:"remove_version"`
	Complemented   bool    `json:"complemented"`
}

// Activity is an activity group (the parent InstallPackages, ExecuteScript
// ... answer) or one computer's child activity (GetActivities).
type Activity struct {
	ID             int64      `json:"id"`
	ParentID       *int64     `json:"parent_id"`
	ComputerID     *int64     `json:"computer_id"`
	Type           string     `json:"type"`
	Summary        string     `json:"summary"`
	ActivityStatus string     `json:"activity_status"`
	ResultCode     *int64     `json:"result_code"`
	ResultText     *string    `json:"result_text"`
	CreationTime   string     `json:"creation_time"`
	DeliveryTime   *string    `json:"delivery_time"`
	CompletionTime *string    `json:"completion_time"`
	Creator        *Person    `json:"creator"`
	PackageIDs     []int64    `json:"package_ids"`
	Changes        []Change   `json:"changes"`
	Children       []Activity `json:"children"` // REST v2 only
}

// The activity statuses Landscape reports.
const (
	StatusUndelivered = "undelivered"
	StatusUnapproved  = "unapproved"
	StatusScheduled   = "scheduled"
	StatusDelivered   = "delivered"
	StatusSucceeded   = "succeeded"
	StatusFailed      = "failed"
	StatusCanceled    = "canceled"
)

// Pending reports whether the activity has not finished yet.
func (a Activity) Pending() bool {
	switch a.ActivityStatus {
	case StatusUndelivered, StatusUnapproved, StatusScheduled, StatusDelivered:
		return true
	}
	return false
}

// Live reports whether the activity is pending or succeeded: work that a
// retry must not start again.
func (a Activity) Live() bool { return a.Pending() || a.ActivityStatus == StatusSucceeded }

// ParseTime reads Landscape's "2012-03-06T18:52:09Z" (and RFC 3339 with
// fractions or an offset, as REST v2 answers); the zero time for "" or
// anything else.
func ParseTime(s string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04:05Z", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// decodeList reads a JSON array answer.
func decodeList[T any](data []byte) ([]T, error) {
	var out []T
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	if out == nil && strings.TrimSpace(string(data)) != "[]" {
		return nil, fmt.Errorf("want a JSON list, got %s", clip(strings.TrimSpace(string(data)), 40))
	}
	return out, nil
}

// ParseComputers reads a GetComputers answer.
func ParseComputers(data []byte) ([]Computer, error) { return decodeList[Computer](data) }

// ParseScripts reads a GetScripts answer.
func ParseScripts(data []byte) ([]Script, error) { return decodeList[Script](data) }

// ParseProfiles reads a GetPackageProfiles answer.
func ParseProfiles(data []byte) ([]PackageProfile, error) { return decodeList[PackageProfile](data) }

// ParseActivities reads a GetActivities answer.
func ParseActivities(data []byte) ([]Activity, error) { return decodeList[Activity](data) }

// ParseActivity reads the activity (group) InstallPackages, RemovePackages,
// UpgradePackages and ExecuteScript answer with, or a REST v2 activity.
func ParseActivity(data []byte) (Activity, error) {
	var a Activity
	if err := json.Unmarshal(data, &a); err != nil {
		return a, err
	}
	if a.ID <= 0 {
		return a, fmt.Errorf("activity without an id")
	}
	return a, nil
}

// ParseError reads Landscape's error answer {"error": CODE, "message":
// TEXT}; a MultiError's {"errors": [...]} sub-errors are joined into the
// message. A body of another shape gives its first line as the message.
// Both are clipped to printable lengths.
func ParseError(body []byte) (code, msg string) {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
		Errors  []struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		return "", clip(line, 300)
	}
	code, msg = text(e.Error), text(e.Message)
	if msg == "" {
		msg = text(e.Detail)
	}
	var subs []string
	for _, s := range e.Errors {
		subs = append(subs, strings.TrimSpace(s.Error+": "+s.Message))
	}
	if len(subs) > 0 {
		msg = strings.TrimSpace(msg + " (" + strings.Join(subs, "; ") + ")")
	}
	return clip(code, 100), clip(msg, 1000)
}

// text is a JSON string's value, or the raw JSON of anything else.
func text(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// clip bounds the plane's text in an error: valid UTF-8, at most n bytes
// and a "..." that says it was cut.
func clip(s string, n int) string {
	c := textclip.String(s, n)
	if c != strings.ToValidUTF8(s, "?") {
		c += "..."
	}
	return c
}
