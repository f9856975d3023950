// Package landscape is EUCORA's connector to Canonical Landscape, the
// execution plane for Ubuntu and Debian computers, through Landscape's
// legacy query API (https://HOST/api/, version 2011-08-01): every request
// is signed with HMAC-SHA256 signature version 2 (Signer, package sigv2),
// or, with AuthToken, carries a JWT from the REST v2 access-key login.
//
// What a release is on Landscape. The package itself lives in the APT
// repository EUCORA publishes, which the computers use; Landscape is told
// what to do with it:
//
//   - a script per application version (the content object, titled
//     "eucora-APP-VERSION-ID" from the AppKey): it installs exactly that
//     version and fails unless dpkg then reports it; Redeploy runs it with
//     ExecuteScript. Its code's first comment is the correlation marker.
//   - a package profile per release key (the assignment, titled
//     "eucora-APP-VERSION-rN-ID"): the constraint "depends PKG = VERSION"
//     associated with the ring's tags pins the ring to the version. Its
//     description carries the correlation marker, the package and the
//     targets; Landscape cannot change a description after the profile is
//     made, so it anchors the release for good.
//   - an install activity: InstallPackages(PKG) on the ring's computers
//     ("tag:A OR tag:B"), whose ActivityGroup id is the job handle.
//
// Targets are Landscape tag names (Target.ID): package profiles associate
// with tags only, so a ring is its tags; a computer joins a ring by being
// tagged. Exclude targets are refused.
//
// Idempotency. Scripts and profiles are looked up by title before they are
// made (DuplicateScript and DuplicatePackageProfile mean another attempt
// made them). Activities carry no text of the caller's (the legacy API's
// package actions take none, and GetActivities cannot search summaries),
// so before starting an install the connector looks for one: a child
// activity on the ring's computers, created after the profile was last
// changed, that changes PKG to the pinned version and is pending or
// succeeded. A call that had to change the profile starts the install
// without looking (nothing started since the change can exist); a retry
// finds the profile in place and the install started, and starts none.
//
// Rollback (PinPrior) edits the release's profile to pin the prior version
// (one EditPackageProfile, so the ring is never pinned to two versions)
// and installs the package again, which downgrades it. Publish of a
// version first disassociates every other version's profile of the same
// ring and scope from the ring's tags. Query reports as Assigned the tags
// of the family's profiles that pin the key's version, and a device state
// from each ring computer's latest package activity.
package landscape

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
)

// APIVersion is the legacy API version the connector speaks.
const APIVersion = "2011-08-01"

// Auth is how requests authenticate.
type Auth string

const (
	// AuthSignature signs every legacy API request with the access key
	// (signature version 2). It works with every Landscape release.
	AuthSignature Auth = "signature"
	// AuthToken logs in with the access key at POST /api/v2/login/access-key
	// (Landscape 24.04 and later) and sends the JWT as a bearer token,
	// logging in again when it expires; the legacy API accepts it in
	// place of a signature. Job then reads activities from REST v2.
	AuthToken Auth = "token"
)

// Credentials are a Landscape API access key and its secret.
type Credentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// Config is how to reach one Landscape server.
type Config struct {
	// BaseURL is the server (https://landscape.example.org); the legacy
	// API is its /api/ and REST v2 its /api/v2/. A URL ending in /api or
	// /api/ is taken for the server.
	BaseURL string
	// AccessKey and SecretKey are the API credentials. Credentials, when
	// set, is asked instead, and asked again when Landscape refuses the
	// key (a key rotated mid-run: the hub's credential store has the new
	// one).
	AccessKey, SecretKey string
	Credentials          func(ctx context.Context) (Credentials, error)
	// Auth is AuthSignature (default) or AuthToken.
	Auth Auth
	// AccessGroup, when set, is the access group scripts and profiles are
	// made in (default Landscape's "global").
	AccessGroup string
	// ScriptUser runs the release scripts (default "root");
	// ScriptTimeLimit bounds one run (default 30 minutes).
	ScriptUser      string
	ScriptTimeLimit time.Duration
	// PageSize is the limit of each GetComputers, GetScripts and
	// GetActivities call (default 1000, Landscape's own default).
	PageSize int
	// HTTP is the base client (its Transport, Timeout, CheckRedirect and
	// Jar are used; default http.DefaultTransport). The connector wraps
	// its transport in httpx's Limit and Throttle and its own Signer (or
	// httpx.Bearer).
	HTTP *http.Client
	// Logger logs each request at DEBUG (default: discard).
	Logger *slog.Logger
	// RateLimit (requests per second, 0: none), Burst and Concurrent
	// (default 8 in flight) cap the load on the server.
	RateLimit  float64
	Burst      int
	Concurrent int
	// ThrottleAttempts and ThrottleInitial tune the 429/503 handling
	// (httpx.Throttle's Attempts and Initial; defaults there).
	ThrottleAttempts int
	ThrottleInitial  time.Duration
	// Now is the signing clock (default time.Now).
	Now func() time.Time
}

// Client is the Landscape connector.
type Client struct {
	cfg     Config
	root    *url.URL // the server, path "/"
	api     *url.URL // the legacy endpoint, ROOT/api/
	http    *http.Client
	log     *slog.Logger
	signer  *Signer
	bearer  *httpx.Bearer
	creds   func(ctx context.Context) (Credentials, error)
	page    int
	timeout time.Duration
}

var _ connectors.Connector = (*Client)(nil)

// New returns the connector for cfg.
func New(cfg Config) (connectors.Connector, error) { return NewClient(cfg) }

// NewClient is New with the concrete type, which also has Job.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("landscape: base URL %q: want http(s)://HOST[:PORT]", cfg.BaseURL)
	}
	p := strings.TrimSuffix(u.Path, "/")
	p = strings.TrimSuffix(p, "/api")
	root := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: p + "/"}
	api := root.JoinPath("api")
	api.Path += "/"

	creds := cfg.Credentials
	if creds == nil {
		if cfg.AccessKey == "" || cfg.SecretKey == "" {
			return nil, fmt.Errorf("landscape: no credentials: set AccessKey and SecretKey (or Credentials)")
		}
		static := Credentials{AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey}
		creds = func(context.Context) (Credentials, error) { return static, nil }
	}
	switch cfg.Auth {
	case "":
		cfg.Auth = AuthSignature
	case AuthSignature, AuthToken:
	default:
		return nil, fmt.Errorf("landscape: auth %q: want %q or %q", cfg.Auth, AuthSignature, AuthToken)
	}
	if cfg.ScriptUser == "" {
		cfg.ScriptUser = "root"
	}
	if cfg.ScriptTimeLimit <= 0 {
		cfg.ScriptTimeLimit = 30 * time.Minute
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 8
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	base := http.DefaultTransport
	hc := &http.Client{}
	if cfg.HTTP != nil {
		*hc = *cfg.HTTP
		if cfg.HTTP.Transport != nil {
			base = cfg.HTTP.Transport
		}
	}
	limit := &httpx.Limit{Next: base, Rate: cfg.RateLimit, Burst: cfg.Burst, Concurrent: cfg.Concurrent}
	throttle := func(next http.RoundTripper) http.RoundTripper {
		return &httpx.Throttle{Next: next, Attempts: cfg.ThrottleAttempts, Initial: cfg.ThrottleInitial}
	}
	c := &Client{cfg: cfg, root: root, api: api, log: log, creds: creds, page: cfg.PageSize}
	switch cfg.Auth {
	case AuthSignature:
		// The signer sits inside Throttle so a request sent again after a
		// 429 is signed again, with a fresh timestamp.
		c.signer = &Signer{Next: limit, Credentials: creds, Now: cfg.Now}
		hc.Transport = throttle(c.signer)
	case AuthToken:
		login := &http.Client{Transport: throttle(limit), Timeout: hc.Timeout}
		c.bearer = &httpx.Bearer{Next: limit, Source: c.loginSource(login)}
		hc.Transport = throttle(c.bearer)
	}
	c.http = hc
	return c, nil
}

// Kind names the plane.
func (c *Client) Kind() connectors.Kind { return connectors.Landscape }
