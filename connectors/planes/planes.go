// Package planes builds an execution plane's connector from what the hub
// stores about a registered plane: its kind, its URL and its credentials
// file (JSON whose fields are the kind's credential fields, see Fields).
// It is the one place that knows which connector packages this build has.
package planes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/awx"
	"github.com/eucora/eucora/connectors/intune"
	"github.com/eucora/eucora/connectors/jamf"
	"github.com/eucora/eucora/connectors/landscape"
	"github.com/eucora/eucora/connectors/sccm"
)

// Errors of New and Validate.
var (
	// ErrUnknownKind is returned for a kind EUCORA does not know.
	ErrUnknownKind = errors.New("unknown plane kind")
	// ErrNotInBuild is returned for a known kind whose connector this
	// binary does not contain.
	ErrNotInBuild = errors.New("connector not in this build")
	// ErrCredentials is returned for a credentials document that is not
	// the kind's JSON object.
	ErrCredentials = errors.New("bad credentials")
	// ErrURL is returned for a URL that is not absolute http(s).
	ErrURL = errors.New("bad plane URL")
)

// Kinds are the plane kinds EUCORA knows, in the order help lists them.
var Kinds = []connectors.Kind{connectors.Intune, connectors.Jamf, connectors.SCCM, connectors.Landscape, connectors.AWX}

// Fields documents, per kind in this build, the fields of its credentials
// file.
var Fields = map[connectors.Kind]string{
	connectors.AWX:       `{"username": "...", "password": "..."} or {"token": "..."}, and "repo": {"url": "...", "dist": "..."} (the EUCORA APT repository hosts install from; optional "component", "key"); optional "job_template", "verify_after" (how old what AWX knows of a ring's hosts may get before a check job verifies them, a Go duration: default 1h, "off" never)`,
	connectors.Jamf:      `{"client_id": "...", "client_secret": "..."} or {"username": "...", "password": "..."}`,
	connectors.Landscape: `{"access_key": "...", "secret_key": "..."}; optional "auth": "signature" (default) or "token"`,
	connectors.Intune:    `{"tenant": "...", "client_id": "...", "client_secret": "..."} (an Entra app with DeviceManagementApps.ReadWrite.All; the URL is the Graph root, https://graph.microsoft.com); optional "login_url", "scope"`,
	connectors.SCCM:      `{"token_url": "...", "client_id": "...", "client_secret": "...", "scope": "..."} (the CMG's Entra app; the URL is the AdminService root) and "content_source": "\\\\server\\share\\path" (where the site finds release content); optional "site_id", "distribution_point_groups": [...]`,
}

type intuneCreds struct {
	Tenant       string `json:"tenant"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	LoginURL     string `json:"login_url"`
	Scope        string `json:"scope"`
}

type sccmCreds struct {
	TokenURL                string   `json:"token_url"`
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	Scope                   string   `json:"scope"`
	SiteID                  string   `json:"site_id"`
	ContentSource           string   `json:"content_source"`
	DistributionPointGroups []string `json:"distribution_point_groups"`
}

type awxCreds struct {
	Username    string    `json:"username"`
	Password    string    `json:"password"`
	Token       string    `json:"token"`
	JobTemplate string    `json:"job_template"`
	Repo        *awx.Repo `json:"repo"`
	VerifyAfter string    `json:"verify_after"`
}

type jamfCreds struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Username     string `json:"username"`
	Password     string `json:"password"`
}

type landscapeCreds struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
	Auth      string `json:"auth"`
}

// Validate checks kind, URL and credentials without building a
// connector: what `plane add` refuses before anything is stored. Its
// errors never quote the credentials.
func Validate(kind, rawURL string, credentials []byte) error {
	_, err := New(kind, rawURL, credentials)
	return err
}

// New returns the connector of a plane of this kind at rawURL with these
// credentials. Errors name the kind and the bad field, never a secret.
func New(kind, rawURL string, credentials []byte) (connectors.Connector, error) {
	k := connectors.Kind(kind)
	if !slices.Contains(Kinds, k) {
		return nil, fmt.Errorf("kind %q: %w (want one of %s)", kind, ErrUnknownKind, kindList())
	}
	if _, ok := Fields[k]; !ok {
		return nil, fmt.Errorf("kind %s: %w", kind, ErrNotInBuild)
	}
	if err := checkURL(rawURL); err != nil {
		return nil, err
	}
	switch k {
	case connectors.AWX:
		var c awxCreds
		if err := decode(k, credentials, &c); err != nil {
			return nil, err
		}
		if c.Token == "" && (c.Username == "" || c.Password == "") {
			return nil, fmt.Errorf("kind awx: %w: want username and password, or token", ErrCredentials)
		}
		if c.Repo == nil {
			return nil, fmt.Errorf("kind awx: %w: want \"repo\": {\"url\": ..., \"dist\": ...}, the APT repository the hosts install from", ErrCredentials)
		}
		var verify time.Duration
		switch c.VerifyAfter {
		case "":
		case "off":
			verify = -1
		default:
			d, err := time.ParseDuration(c.VerifyAfter)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("kind awx: %w: verify_after %q: want a positive duration (\"30m\") or \"off\"", ErrCredentials, c.VerifyAfter)
			}
			verify = d
		}
		return built(k, func() (connectors.Connector, error) {
			return awx.New(awx.Config{BaseURL: rawURL, Username: c.Username, Password: c.Password, Token: c.Token, JobTemplate: c.JobTemplate, Repo: *c.Repo,
				VerifyAfter: verify})
		})
	case connectors.Jamf:
		var c jamfCreds
		if err := decode(k, credentials, &c); err != nil {
			return nil, err
		}
		if (c.ClientID == "" || c.ClientSecret == "") && (c.Username == "" || c.Password == "") {
			return nil, fmt.Errorf("kind jamf: %w: want client_id and client_secret, or username and password", ErrCredentials)
		}
		return built(k, func() (connectors.Connector, error) {
			return jamf.New(jamf.Config{BaseURL: rawURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Username: c.Username, Password: c.Password})
		})
	case connectors.Landscape:
		var c landscapeCreds
		if err := decode(k, credentials, &c); err != nil {
			return nil, err
		}
		if c.AccessKey == "" || c.SecretKey == "" {
			return nil, fmt.Errorf("kind landscape: %w: want access_key and secret_key", ErrCredentials)
		}
		auth := landscape.Auth(c.Auth)
		switch auth {
		case "", landscape.AuthSignature, landscape.AuthToken:
		default:
			return nil, fmt.Errorf("kind landscape: %w: auth %q: want signature or token", ErrCredentials, c.Auth)
		}
		return built(k, func() (connectors.Connector, error) {
			return landscape.New(landscape.Config{BaseURL: rawURL, AccessKey: c.AccessKey, SecretKey: c.SecretKey, Auth: auth})
		})
	case connectors.Intune:
		var c intuneCreds
		if err := decode(k, credentials, &c); err != nil {
			return nil, err
		}
		if c.Tenant == "" || c.ClientID == "" || c.ClientSecret == "" {
			return nil, fmt.Errorf("kind intune: %w: want tenant, client_id and client_secret", ErrCredentials)
		}
		if c.LoginURL != "" {
			if err := checkURL(c.LoginURL); err != nil {
				return nil, fmt.Errorf("kind intune: login_url: %w", err)
			}
		}
		return built(k, func() (connectors.Connector, error) {
			return intune.New(intune.Config{BaseURL: rawURL, LoginURL: c.LoginURL, Tenant: c.Tenant, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scope: c.Scope})
		})
	case connectors.SCCM:
		var c sccmCreds
		if err := decode(k, credentials, &c); err != nil {
			return nil, err
		}
		if c.TokenURL == "" || c.ClientID == "" || c.ClientSecret == "" {
			return nil, fmt.Errorf("kind sccm: %w: want token_url, client_id and client_secret (Windows integrated auth is not implemented)", ErrCredentials)
		}
		if err := checkURL(c.TokenURL); err != nil {
			return nil, fmt.Errorf("kind sccm: token_url: %w", err)
		}
		return built(k, func() (connectors.Connector, error) {
			return sccm.New(sccm.Config{BaseURL: rawURL, SiteID: c.SiteID, ContentSource: c.ContentSource, DistributionPointGroups: c.DistributionPointGroups,
				Auth: sccm.ClientCredentials{TokenURL: c.TokenURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scope: c.Scope}})
		})
	}
	return nil, fmt.Errorf("kind %s: %w", kind, ErrNotInBuild)
}

func kindList() string {
	var s []string
	for _, k := range Kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w %q: %v", ErrURL, raw, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w %q: want an absolute http:// or https:// URL", ErrURL, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w: the URL must not carry credentials (put them in the credentials file)", ErrURL)
	}
	return nil
}

// decode reads a credentials document strictly: one JSON object, no
// unknown field. The decoder's messages name fields, not values.
func decode(k connectors.Kind, data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("kind %s: %w: not JSON (syntax error at byte %d); want %s", k, ErrCredentials, se.Offset, Fields[k])
		case errors.As(err, &te) && te.Field != "":
			return fmt.Errorf("kind %s: %w: field %q: want a string; want %s", k, ErrCredentials, te.Field, Fields[k])
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return fmt.Errorf("kind %s: %w: %s; want %s", k, ErrCredentials, strings.TrimPrefix(err.Error(), "json: "), Fields[k])
		}
		return fmt.Errorf("kind %s: %w: not a JSON object; want %s", k, ErrCredentials, Fields[k])
	}
	if d.More() {
		return fmt.Errorf("kind %s: %w: more than one JSON value", k, ErrCredentials)
	}
	return nil
}

// built returns what a connector's constructor returns, its refusal of a
// configuration (all of which came from the credentials document, the URL
// being checked already) marked ErrCredentials.
func built(k connectors.Kind, mk func() (connectors.Connector, error)) (connectors.Connector, error) {
	c, err := mk()
	if err != nil {
		return nil, fmt.Errorf("kind %s: %w: %v", k, ErrCredentials, err)
	}
	return c, nil
}
