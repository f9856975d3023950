package jamf

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"regexp"
	"strings"

	"github.com/eucora/eucora/internal/clip"
)

// The Jamf Pro API (JSON) as the connector reads and writes it.

// proPackage is a package (GET /api/v1/packages/{id} and list results).
// Its id is a string of digits.
type proPackage struct {
	ID                   string `json:"id"`
	PackageName          string `json:"packageName"`
	FileName             string `json:"fileName"`
	CategoryID           string `json:"categoryId"`
	Info                 string `json:"info"`
	Notes                string `json:"notes"`
	Priority             int    `json:"priority"`
	FillUserTemplate     bool   `json:"fillUserTemplate"`
	RebootRequired       bool   `json:"rebootRequired"`
	OSInstall            bool   `json:"osInstall"`
	SuppressUpdates      bool   `json:"suppressUpdates"`
	SuppressFromDock     bool   `json:"suppressFromDock"`
	SuppressEula         bool   `json:"suppressEula"`
	SuppressRegistration bool   `json:"suppressRegistration"`
	CloudTransferStatus  string `json:"cloudTransferStatus,omitempty"`
	SHA256               string `json:"sha256,omitempty"`
	HashType             string `json:"hashType,omitempty"`
	HashValue            string `json:"hashValue,omitempty"`
	Size                 string `json:"size,omitempty"`
}

// proList is a page of a Jamf Pro API list.
type proList[T any] struct {
	TotalCount int `json:"totalCount"`
	Results    []T `json:"results"`
}

// proCreated is the answer to a create or an upload.
type proCreated struct {
	ID   string `json:"id"`
	Href string `json:"href"`
}

// proScript is a script (GET /api/v1/scripts/{id}).
type proScript struct {
	ID             string `json:"id,omitempty"`
	Name           string `json:"name"`
	Info           string `json:"info,omitempty"`
	Notes          string `json:"notes"`
	Priority       string `json:"priority"`
	CategoryID     string `json:"categoryId,omitempty"`
	ScriptContents string `json:"scriptContents"`
}

// proSmartGroup is a smart computer group in the Jamf Pro API.
type proSmartGroup struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// proMembership is a smart group's membership: computer ids.
type proMembership struct {
	Members []int `json:"members"`
}

// proError is the Jamf Pro API's error body.
type proError struct {
	HTTPStatus int `json:"httpStatus"`
	Errors     []struct {
		Code        string  `json:"code"`
		Description string  `json:"description"`
		ID          string  `json:"id"`
		Field       *string `json:"field"`
	} `json:"errors"`
	// The OAuth endpoint answers in OAuth's own shape.
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// userToken is the answer of /api/v1/auth/token and keep-alive.
type userToken struct {
	Token   string `json:"token"`
	Expires string `json:"expires"`
}

// oauthToken is the answer of /api/oauth/token.
type oauthToken struct {
	AccessToken string  `json:"access_token"`
	TokenType   string  `json:"token_type"`
	ExpiresIn   float64 `json:"expires_in"`
}

// The Classic API (XML).

type ref struct {
	ID   int    `xml:"id"`
	Name string `xml:"name,omitempty"`
}

// The list types always encode, even empty, so a PUT says "none".
type (
	computerRefs struct {
		Items []ref `xml:"computer"`
	}
	groupRefs struct {
		Items []ref `xml:"computer_group"`
	}
	buildingRefs struct {
		Items []ref `xml:"building"`
	}
	departmentRefs struct {
		Items []ref `xml:"department"`
	}
)

type scopeXML struct {
	AllComputers   bool           `xml:"all_computers"`
	Computers      computerRefs   `xml:"computers"`
	ComputerGroups groupRefs      `xml:"computer_groups"`
	Buildings      buildingRefs   `xml:"buildings"`
	Departments    departmentRefs `xml:"departments"`
	Exclusions     exclusionsXML  `xml:"exclusions"`
}

type exclusionsXML struct {
	Computers      computerRefs   `xml:"computers"`
	ComputerGroups groupRefs      `xml:"computer_groups"`
	Buildings      buildingRefs   `xml:"buildings"`
	Departments    departmentRefs `xml:"departments"`
}

type generalXML struct {
	ID             int    `xml:"id,omitempty"`
	Name           string `xml:"name"`
	Enabled        bool   `xml:"enabled"`
	Trigger        string `xml:"trigger,omitempty"`
	TriggerCheckin bool   `xml:"trigger_checkin"`
	TriggerOther   string `xml:"trigger_other"`
	Frequency      string `xml:"frequency"`
}

type selfServiceXML struct {
	UseForSelfService bool   `xml:"use_for_self_service"`
	DisplayName       string `xml:"self_service_display_name"`
	InstallButtonText string `xml:"install_button_text,omitempty"`
	Description       string `xml:"self_service_description"`
}

type policyPackageXML struct {
	ID     int    `xml:"id"`
	Name   string `xml:"name,omitempty"`
	Action string `xml:"action"`
	FUT    bool   `xml:"fut"`
	FEU    bool   `xml:"feu"`
}

type packageConfXML struct {
	Packages struct {
		Size  int                `xml:"size"`
		Items []policyPackageXML `xml:"package"`
	} `xml:"packages"`
}

type policyScriptXML struct {
	ID       int    `xml:"id"`
	Name     string `xml:"name,omitempty"`
	Priority string `xml:"priority"`
}

type scriptsXML struct {
	Size  int               `xml:"size"`
	Items []policyScriptXML `xml:"script"`
}

type rebootXML struct {
	NoUserLoggedIn string `xml:"no_user_logged_in"`
	UserLoggedIn   string `xml:"user_logged_in"`
}

// policyXML is a Classic API policy. A section left nil is not sent, so a
// PUT leaves it as the plane holds it.
type policyXML struct {
	XMLName     xml.Name        `xml:"policy"`
	General     generalXML      `xml:"general"`
	Scope       *scopeXML       `xml:"scope,omitempty"`
	SelfService *selfServiceXML `xml:"self_service,omitempty"`
	Packages    *packageConfXML `xml:"package_configuration,omitempty"`
	Scripts     *scriptsXML     `xml:"scripts,omitempty"`
	Reboot      *rebootXML      `xml:"reboot,omitempty"`
}

type policyListXML struct {
	XMLName  xml.Name `xml:"policies"`
	Size     int      `xml:"size"`
	Policies []ref    `xml:"policy"`
}

type idXML struct {
	ID int `xml:"id"`
}

type computerXML struct {
	ID   int    `xml:"id"`
	Name string `xml:"name"`
}

type groupXML struct {
	XMLName   xml.Name      `xml:"computer_group"`
	ID        int           `xml:"id,omitempty"`
	Name      string        `xml:"name"`
	IsSmart   bool          `xml:"is_smart"`
	Computers *computerList `xml:"computers,omitempty"`
}

type computerList struct {
	Items []computerXML `xml:"computer"`
}

type historyXML struct {
	XMLName    xml.Name `xml:"computer_history"`
	PolicyLogs struct {
		Items []policyLogXML `xml:"policy_log"`
	} `xml:"policy_logs"`
}

type policyLogXML struct {
	PolicyID           int    `xml:"policy_id"`
	PolicyName         string `xml:"policy_name"`
	DateCompletedEpoch int64  `xml:"date_completed_epoch"`
	DateCompletedUTC   string `xml:"date_completed_utc"`
	Status             string `xml:"status"`
}

// parseXML decodes a Classic API body into v.
func parseXML(body []byte, v any) error {
	if err := xml.Unmarshal(body, v); err != nil {
		return fmt.Errorf("reading the Classic API's XML: %w", err)
	}
	return nil
}

// parseJSON decodes a Jamf Pro API body into v.
func parseJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("reading the Jamf Pro API's JSON: %w", err)
	}
	return nil
}

var (
	paragraph = regexp.MustCompile(`(?is)<p[^>]*>(.*?)</p>`)
	tag       = regexp.MustCompile(`(?s)<[^>]*>`)
	spaces    = regexp.MustCompile(`\s+`)
)

// errorText reads a plane's error body: the Jamf Pro API's JSON (code and
// description of the first error, the field it names), OAuth's
// {"error","error_description"}, or the Classic API's HTML status page
// (its paragraphs without the boilerplate). Anything else is its text,
// clipped.
func errorText(contentType string, body []byte) (code, message string) {
	text := strings.TrimSpace(string(body))
	if strings.HasPrefix(text, "{") {
		var e proError
		if json.Unmarshal(body, &e) == nil {
			if len(e.Errors) > 0 {
				c := e.Errors[0]
				msg := c.Description
				if c.Field != nil && *c.Field != "" {
					msg = fmt.Sprintf("%s: %s", *c.Field, c.Description)
				}
				for _, more := range e.Errors[1:] {
					msg += "; " + more.Description
				}
				return c.Code, clip.String(msg, 500)
			}
			if e.Error != "" {
				return e.Error, clip.String(e.ErrorDescription, 500)
			}
		}
	}
	if strings.Contains(strings.ToLower(contentType), "html") || strings.HasPrefix(strings.ToLower(text), "<html") {
		var parts []string
		for _, m := range paragraph.FindAllStringSubmatch(text, -1) {
			p := strings.TrimSpace(spaces.ReplaceAllString(html.UnescapeString(tag.ReplaceAllString(m[1], " ")), " "))
			if p == "" || strings.HasPrefix(p, "You can get technical details") {
				continue
			}
			parts = append(parts, p)
		}
		if len(parts) > 0 {
			return "", clip.String(strings.Join(parts, ": "), 500)
		}
		text = strings.TrimSpace(spaces.ReplaceAllString(html.UnescapeString(tag.ReplaceAllString(text, " ")), " "))
	}
	return "", clip.String(text, 300)
}
