// Package jamf is the Jamf Pro execution plane (EUCORA-architecture.md
// section 3.3): it publishes a release as a Jamf Pro package (content
// uploaded once per application version, its SHA3-512 checked against
// what was sent) and a Classic API policy per ring that installs it on the
// ring's computer groups, reads install state from the computers' policy
// logs, rolls back by pointing the ring policy at the prior package, and
// uninstalls with a script policy.
//
// # Targets
//
// A Release's Target.ID is a Jamf Pro computer group id (decimal); a
// target with Exclude set goes to the policy's exclusions. Names are not
// accepted as ids, since a group can be renamed under a policy: resolve a
// smart group's name with Connector.SmartGroup, or make a static group of
// a ring's computers with Connector.StaticGroup (named RingGroupName), and
// use the Target either returns. Status.Assigned lists group ids.
//
// # Idempotency
//
// Names come from the release key (see PackageName, PolicyName). Every
// step looks the object up by name first (a package by an RSQL filter on
// packageName, a policy by GET .../policies/name/{name}) and creates it
// only when the plane holds none; a write happens only when what the plane
// holds differs from what the release wants. A ring policy that changes
// package is disabled, its logs flushed (so computers that ran the old
// package run the new one) and enabled again: a crash in between leaves it
// disabled, which the next call takes as "flush again". A duplicate-name
// conflict on create (the object exists but a read missed it) is
// transient: the retry finds it.
//
// # Correlation
//
// A package's notes carry one correlation marker per correlation id that
// published through it (connectors.CorrelationMarker with the AppKey); a
// policy's self-service description carries the marker of the intent that
// last set it (the Classic API gives policies no other free-text field; a
// Self Service policy shows the display name above it); a script's notes
// carry the marker of the intent that made it.
//
// # Transport
//
// Every request goes through httpx: Bearer (tokens from an API client's
// client credentials at /api/oauth/token, or a user's Basic login at
// /api/v1/auth/token renewed with keep-alive), Throttle and Limit with at
// most 5 requests in flight, as Jamf documents. A cookie jar keeps the
// Jamf Cloud `jpro-ingress` cookie, so every request of a connector reaches
// the node that saw its writes.
package jamf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
)

// Config configures a connector. Give either ClientID and ClientSecret
// (an API client) or Username and Password (a user account).
type Config struct {
	// BaseURL is the Jamf Pro server, e.g. https://example.jamfcloud.com.
	BaseURL string
	// ClientID and ClientSecret are an API client's credentials, granted
	// tokens at TokenPath.
	ClientID, ClientSecret string
	// TokenPath is the client-credentials endpoint (default
	// /api/oauth/token, as Jamf documents; some servers are called at
	// /api/v1/oauth/token).
	TokenPath string
	// Username and Password are a user's credentials for the token path
	// /api/v1/auth/token; the token is renewed with keep-alive and
	// invalidated by Close.
	Username, Password string
	// HTTP is the client whose transport, timeout and cookie jar the
	// connector builds on (default: http.DefaultTransport, no timeout, a
	// new jar).
	HTTP *http.Client
	// Logger logs each request at debug level (default: discard).
	Logger *slog.Logger
	// Concurrent is the most requests in flight (default 5, Jamf's
	// documented limit); Rate, when set, caps requests per second.
	Concurrent int
	Rate       float64
	// PollInterval is the wait between polls of a package's hash after an
	// upload (default 3 s); PollAttempts bounds them (default 200).
	PollInterval time.Duration
	PollAttempts int
	// PackageAction is what ring policies do with the package: "Install"
	// (default) or "Cache" (the package is cached and a device reports
	// pending until something installs the cached package).
	PackageAction string
	// CategoryID is the category of packages and scripts (default "-1",
	// none).
	CategoryID string
}

// Connector is the Jamf Pro plane.
type Connector struct {
	cfg    Config
	base   *url.URL
	client *http.Client // bearer-authenticated
	auth   *tokens
	log    *slog.Logger
}

var _ connectors.Connector = (*Connector)(nil)

// New returns the Jamf Pro connector for cfg (a *Connector).
func New(cfg Config) (connectors.Connector, error) { return NewConnector(cfg) }

// NewConnector is New returning the concrete type, for StaticGroup,
// SmartGroup and Close.
func NewConnector(cfg Config) (*Connector, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("jamf: base URL %q: want http(s)://host", cfg.BaseURL)
	}
	oauth, user := cfg.ClientID != "" || cfg.ClientSecret != "", cfg.Username != "" || cfg.Password != ""
	switch {
	case oauth && user:
		return nil, errors.New("jamf: give an API client (client id and secret) or a user (username and password), not both")
	case oauth && (cfg.ClientID == "" || cfg.ClientSecret == ""):
		return nil, errors.New("jamf: an API client needs both a client id and a client secret")
	case user && (cfg.Username == "" || cfg.Password == ""):
		return nil, errors.New("jamf: a user needs both a username and a password")
	case !oauth && !user:
		return nil, errors.New("jamf: no credentials: give an API client's id and secret or a user's name and password")
	}
	if cfg.TokenPath == "" {
		cfg.TokenPath = "/api/oauth/token"
	}
	if cfg.TokenPath != "/api/oauth/token" && cfg.TokenPath != "/api/v1/oauth/token" {
		return nil, fmt.Errorf("jamf: token path %q: want /api/oauth/token or /api/v1/oauth/token", cfg.TokenPath)
	}
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 5
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 3 * time.Second
	}
	if cfg.PollAttempts <= 0 {
		cfg.PollAttempts = 200
	}
	switch cfg.PackageAction {
	case "":
		cfg.PackageAction = "Install"
	case "Install", "Cache":
	default:
		return nil, fmt.Errorf("jamf: package action %q: want Install or Cache", cfg.PackageAction)
	}
	if cfg.CategoryID == "" {
		cfg.CategoryID = "-1"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var next http.RoundTripper = http.DefaultTransport
	var timeout time.Duration
	var jar http.CookieJar
	if cfg.HTTP != nil {
		if cfg.HTTP.Transport != nil {
			next = cfg.HTTP.Transport
		}
		timeout, jar = cfg.HTTP.Timeout, cfg.HTTP.Jar
	}
	if jar == nil {
		jar, _ = cookiejar.New(nil)
	}
	limited := &httpx.Throttle{Next: &cookies{jar: jar, next: &httpx.Limit{Next: next, Concurrent: cfg.Concurrent, Rate: cfg.Rate, Burst: cfg.Concurrent}}}
	c := &Connector{cfg: cfg, base: base, log: log}
	c.auth = &tokens{c: c, client: &http.Client{Transport: limited, Timeout: timeout}}
	c.client = &http.Client{Transport: &httpx.Bearer{Next: limited, Source: c.auth.fetch}, Timeout: timeout}
	return c, nil
}

// cookies sends and keeps the cookies of a jar on every attempt of a
// request (http.Client's own jar adds them once, before the transport: a
// request that first fetches a token would go without the jpro-ingress
// cookie the token answer set).
type cookies struct {
	jar  http.CookieJar
	next http.RoundTripper
}

func (c *cookies) RoundTrip(req *http.Request) (*http.Response, error) {
	if cs := c.jar.Cookies(req.URL); len(cs) > 0 {
		req = req.Clone(req.Context())
		req.Header.Del("Cookie")
		for _, ck := range cs {
			req.AddCookie(ck)
		}
	}
	resp, err := c.next.RoundTrip(req)
	if err == nil {
		if rc := resp.Cookies(); len(rc) > 0 {
			c.jar.SetCookies(req.URL, rc)
		}
	}
	return resp, err
}

// Kind names the plane.
func (c *Connector) Kind() connectors.Kind { return connectors.Jamf }

// Close invalidates a user's token (an API client's token just expires).
func (c *Connector) Close(ctx context.Context) error { return c.auth.invalidate(ctx) }

// Check authenticates and reads the first page of packages.
func (c *Connector) Check(ctx context.Context) (connectors.Check, error) {
	start := time.Now()
	var list proList[proPackage]
	if err := c.getJSON(ctx, "check", "/api/v1/packages", url.Values{"page": {"0"}, "page-size": {"1"}, "sort": {"id:asc"}}, &list); err != nil {
		return connectors.Check{Plane: connectors.Jamf}, err
	}
	return connectors.Check{Plane: connectors.Jamf, Latency: time.Since(start), Detail: fmt.Sprintf("%d packages", list.TotalCount)}, nil
}

// url is the address of path (already escaped) with query q.
func (c *Connector) url(path string, q url.Values) string {
	s := c.base.String() + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// request is one exchange with the plane.
type request struct {
	op, method, path string
	query            url.Values
	body             []byte
	contentType      string
	accept           string
	// open, when set, streams the body (an upload) and can be called
	// again for a replay; length is its size.
	open   func() (io.ReadCloser, error)
	length int64
	// auth, when set, authenticates the request itself (the token
	// endpoints).
	auth func(*http.Request)
}

// do sends req and returns the answer's status and body. A transport
// failure or a cut body is a transient *connectors.Error; an answer
// outside 2xx is classified by planeError.
func (c *Connector) do(ctx context.Context, client *http.Client, req request) (int, []byte, error) {
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, c.url(req.path, req.query), body)
	if err != nil {
		return 0, nil, &connectors.Error{Plane: connectors.Jamf, Op: req.op, Class: connectors.Permanent, Err: err}
	}
	if req.open != nil {
		rc, err := req.open()
		if err != nil {
			return 0, nil, &connectors.Error{Plane: connectors.Jamf, Op: req.op, Class: connectors.Permanent, Message: "opening the content", Err: err}
		}
		hr.Body, hr.GetBody, hr.ContentLength = rc, req.open, req.length
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	hr.Header.Set("Accept", req.accept)
	if req.auth != nil {
		req.auth(hr)
	}
	start := time.Now()
	resp, err := client.Do(hr)
	if err != nil {
		c.log.DebugContext(ctx, "jamf request failed", "method", req.method, "path", req.path, "err", err)
		if ce := (*connectors.Error)(nil); errors.As(err, &ce) {
			return 0, nil, ce
		}
		return 0, nil, &connectors.Error{Plane: connectors.Jamf, Op: req.op, Class: connectors.ClassOf(err), Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	c.log.DebugContext(ctx, "jamf request", "method", req.method, "path", req.path, "status", resp.StatusCode,
		"duration", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return resp.StatusCode, nil, &connectors.Error{Plane: connectors.Jamf, Op: req.op, Class: connectors.Transient,
			Status: resp.StatusCode, Message: "the answer was cut off", Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, b, planeError(req.op, resp.StatusCode, resp.Header, b)
	}
	return resp.StatusCode, b, nil
}

// Jamf Pro API error codes that mean the API role lacks a privilege.
var policyCodes = map[string]bool{"INVALID_PRIVILEGE": true, "PRIVILEGE_REQUIRED": true, "ACCESS_DENIED": true, "FORBIDDEN": true}

// planeError classifies an answer outside 2xx: by status
// (connectors.ClassOfStatus), except that a duplicate-name conflict is
// transient (the object exists and a retry's look-up finds it) and the
// Jamf Pro API's privilege codes are policy violations whatever the
// status.
func planeError(op string, status int, h http.Header, body []byte) *connectors.Error {
	code, msg := errorText(h.Get("Content-Type"), body)
	e := &connectors.Error{Plane: connectors.Jamf, Op: op, Class: connectors.ClassOfStatus(status), Status: status,
		Code: code, Message: msg, NotFound: status == http.StatusNotFound}
	if d, ok := httpx.RetryAfter(h, time.Now()); ok {
		e.RetryAfter = d
	}
	switch {
	case status == http.StatusConflict && (code == "DUPLICATE_FIELD" || strings.Contains(strings.ToLower(msg), "duplicate name")):
		e.Class = connectors.Transient
		e.Message += " (the object exists but was not seen yet: a retry finds it)"
	case policyCodes[code]:
		e.Class = connectors.Policy
	}
	return e
}

// decodeError is a 2xx answer the connector cannot read: transient when
// it ends early (a body cut where the plane closed cleanly), permanent
// otherwise.
func decodeError(op string, status int, err error) *connectors.Error {
	class := connectors.Permanent
	if s := err.Error(); strings.Contains(s, "unexpected end") || strings.Contains(s, "unexpected EOF") || errors.Is(err, io.ErrUnexpectedEOF) {
		class = connectors.Transient
	}
	return &connectors.Error{Plane: connectors.Jamf, Op: op, Class: class, Status: status, Err: err}
}

func (c *Connector) getJSON(ctx context.Context, op, path string, q url.Values, out any) error {
	status, b, err := c.do(ctx, c.client, request{op: op, method: http.MethodGet, path: path, query: q, accept: "application/json"})
	if err != nil {
		return err
	}
	if err := parseJSON(b, out); err != nil {
		return decodeError(op, status, err)
	}
	return nil
}

func (c *Connector) sendJSON(ctx context.Context, op, method, path string, in, out any) error {
	body, err := jsonBody(in)
	if err != nil {
		return &connectors.Error{Plane: connectors.Jamf, Op: op, Class: connectors.Permanent, Err: err}
	}
	status, b, err := c.do(ctx, c.client, request{op: op, method: method, path: path, body: body,
		contentType: "application/json", accept: "application/json"})
	if err != nil || out == nil {
		return err
	}
	if err := parseJSON(b, out); err != nil {
		return decodeError(op, status, err)
	}
	return nil
}

func (c *Connector) getXML(ctx context.Context, op, path string, out any) error {
	status, b, err := c.do(ctx, c.client, request{op: op, method: http.MethodGet, path: path, accept: "application/xml"})
	if err != nil {
		return err
	}
	if err := parseXML(b, out); err != nil {
		return decodeError(op, status, err)
	}
	return nil
}

// sendXML sends in to the Classic API and returns the id it answers with.
func (c *Connector) sendXML(ctx context.Context, op, method, path string, in any) (int, error) {
	body, err := xmlBody(in)
	if err != nil {
		return 0, &connectors.Error{Plane: connectors.Jamf, Op: op, Class: connectors.Permanent, Err: err}
	}
	status, b, err := c.do(ctx, c.client, request{op: op, method: method, path: path, body: body,
		contentType: "application/xml", accept: "application/xml"})
	if err != nil {
		return 0, err
	}
	var id idXML
	if len(bytes.TrimSpace(b)) == 0 {
		return 0, nil
	}
	if err := parseXML(b, &id); err != nil {
		return 0, decodeError(op, status, err)
	}
	return id.ID, nil
}

// isNotFound reports a 404 from the plane.
func isNotFound(err error) bool {
	var ce *connectors.Error
	return errors.As(err, &ce) && ce.NotFound
}

func permanent(op, format string, args ...any) *connectors.Error {
	return &connectors.Error{Plane: connectors.Jamf, Op: op, Class: connectors.Permanent, Message: fmt.Sprintf(format, args...)}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
