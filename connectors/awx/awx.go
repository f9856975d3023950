// Package awx is EUCORA's connector to AWX / Ansible Tower (REST API v2),
// the execution plane that runs Ansible: a release is a launch of a job
// template that runs EUCORA's APT playbook (Playbook) on the ring's
// inventory hosts, with the release in extra_vars (Vars).
//
// The plane objects are jobs. AWX keeps no content object of EUCORA's (the
// package lives in the EUCORA-published APT repository the playbook
// installs from), and a job cannot be named or described at launch, so
// the job's extra_vars carry the identity: eucora_correlation_id,
// eucora_release (the release key), eucora_action and the package, version
// and pin the job puts on its hosts. AWX refuses to filter on extra_vars
// (403 "Filtering on extra_vars is not allowed."), so every look-up lists
// the template's jobs newest first (/api/v2/job_templates/{id}/jobs/
// ?order_by=-id) and matches extra_vars here.
//
// Idempotency: Publish first looks for an install job of the release key
// and launches only when there is none, so a launch whose answer was lost
// is found on the retry instead of launched twice. A remediation launches
// only when the ring's latest job is not already that remediation.
//
// Devices are inventory hosts: Query maps the job_host_summaries of the
// ring's latest job (one host, one device) onto connectors.DeviceState,
// with the failing task's message from the job events. AWX has no agent
// on the hosts: what it knows of a host is what a job found there. So
// that a host changed by hand since (a package downgraded or removed)
// shows, Query verifies the ring's hosts with a check job (job_type
// "check", ansible-playbook --check: it changes nothing) once what it
// knows is older than Config.VerifyAfter, and reports the newest check
// job's findings over the latest job's.
package awx

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

// DefaultJobTemplate is the job template name a Config without one uses.
const DefaultJobTemplate = "eucora-apt"

// Config is how to reach one AWX and which template and repository the
// releases use.
type Config struct {
	// BaseURL is the AWX address (https://awx.example.org); the API is
	// under /api/v2/.
	BaseURL string
	// Username and Password authenticate the personal access token
	// request (POST /api/v2/tokens/ with Basic auth); calls then carry
	// the token (Bearer), renewed when it expires. Token, when set, is a
	// token made beforehand and used as it is.
	Username, Password string
	Token              string
	// JobTemplate is the name of the job template running EUCORA's
	// playbook (default DefaultJobTemplate). It must prompt for
	// variables and limit on launch.
	JobTemplate string
	// Repo is the EUCORA-published APT repository the hosts install from.
	Repo Repo
	// HTTP is the base client (its Transport, Timeout and CheckRedirect
	// are used; default http.DefaultTransport). The connector wraps its
	// transport in httpx's Limit, Throttle and Bearer.
	HTTP *http.Client
	// Logger logs each request at DEBUG (default: discard).
	Logger *slog.Logger
	// RateLimit (requests per second, 0: none), Burst and Concurrent
	// (default 8 in flight) cap the load on AWX, which has no rate
	// limiting of its own.
	RateLimit  float64
	Burst      int
	Concurrent int
	// ThrottleAttempts and ThrottleInitial tune the 429/503 handling
	// (httpx.Throttle's Attempts and Initial; defaults there).
	ThrottleAttempts int
	ThrottleInitial  time.Duration
	// VerifyAfter is how old what AWX knows of a ring's hosts (the end
	// of the ring's latest job, or of the newest check job since) may get
	// before Query launches a check job to verify them: 0 takes
	// DefaultVerifyAfter, a negative value never verifies (Query then
	// reports only what the latest job did, and a host changed by hand
	// goes unseen). The template must prompt for the job type.
	VerifyAfter time.Duration
	// Now is the clock VerifyAfter is measured on (default time.Now).
	Now func() time.Time
}

// DefaultVerifyAfter is the VerifyAfter of a Config without one.
const DefaultVerifyAfter = time.Hour

// Repo is an APT repository: "deb [signed-by=KEY] URL DIST COMPONENT".
type Repo struct {
	URL       string `json:"url"`
	Dist      string `json:"dist"`
	Component string `json:"component,omitempty"` // default "main"
	// Key is the repository's ASCII-armored OpenPGP public key; the
	// playbook installs it as the source's signed-by keyring. Empty: the
	// hosts already hold it at /etc/apt/keyrings/eucora.asc.
	Key string `json:"key,omitempty"`
}

// Client is the AWX connector. Besides the connectors.Connector methods
// it reads jobs, their events, host summaries and stdout, and waits for a
// job to finish.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	log  *slog.Logger
}

var _ connectors.Connector = (*Client)(nil)

// New returns the connector for cfg.
func New(cfg Config) (connectors.Connector, error) { return NewClient(cfg) }

// NewClient returns the connector for cfg as its concrete type.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("awx: base URL %q: want http(s)://host[:port]", cfg.BaseURL)
	}
	if cfg.Token == "" && (cfg.Username == "" || cfg.Password == "") {
		return nil, fmt.Errorf("awx: no credentials: set a username and password (for POST /api/v2/tokens/) or a token")
	}
	if cfg.JobTemplate == "" {
		cfg.JobTemplate = DefaultJobTemplate
	}
	if cfg.Repo.Component == "" {
		cfg.Repo.Component = "main"
	}
	if err := cfg.Repo.validate(); err != nil {
		return nil, fmt.Errorf("awx: repository: %w", err)
	}
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 8
	}
	if cfg.VerifyAfter == 0 {
		cfg.VerifyAfter = DefaultVerifyAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var base http.RoundTripper = http.DefaultTransport
	hc := &http.Client{}
	if cfg.HTTP != nil {
		if cfg.HTTP.Transport != nil {
			base = cfg.HTTP.Transport
		}
		hc.Timeout, hc.CheckRedirect, hc.Jar = cfg.HTTP.Timeout, cfg.HTTP.CheckRedirect, cfg.HTTP.Jar
	}
	limited := &httpx.Limit{Next: base, Rate: cfg.RateLimit, Burst: cfg.Burst, Concurrent: cfg.Concurrent}
	throttled := &httpx.Throttle{Next: limited, Attempts: cfg.ThrottleAttempts, Initial: cfg.ThrottleInitial}
	c := &Client{cfg: cfg, base: u, log: log}
	var source httpx.TokenSource
	if cfg.Token != "" {
		tok := cfg.Token
		source = func(context.Context) (httpx.Token, error) { return httpx.Token{Value: tok}, nil }
	} else {
		tc := &http.Client{Transport: throttled, Timeout: hc.Timeout}
		source = func(ctx context.Context) (httpx.Token, error) { return c.fetchToken(ctx, tc) }
	}
	hc.Transport = &httpx.Bearer{Next: throttled, Source: source}
	c.http = hc
	return c, nil
}

func (r Repo) validate() error {
	u, err := url.Parse(r.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(r.URL, " \t\n"):
		return fmt.Errorf("URL %q: want http(s)://host/path", r.URL)
	case !validWord(r.Dist, "/"):
		return fmt.Errorf("distribution %q: want letters, digits, '.', '_', '-', '/'", r.Dist)
	case !validWord(r.Component, ""):
		return fmt.Errorf("component %q: want letters, digits, '.', '_', '-'", r.Component)
	case r.Key != "" && !strings.Contains(r.Key, "-----BEGIN PGP PUBLIC KEY BLOCK-----"):
		return fmt.Errorf("key: want an ASCII-armored OpenPGP public key block")
	}
	return nil
}

func validWord(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-"+extra, c)
		if !ok {
			return false
		}
	}
	return true
}

// Kind implements connectors.Connector.
func (c *Client) Kind() connectors.Kind { return connectors.AWX }
