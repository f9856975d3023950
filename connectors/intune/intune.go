// Package intune is the connector for Microsoft Intune through Microsoft
// Graph (EUCORA-architecture.md section 3.3; the plane's protocol is
// summarised in docs/connectors-intune.md).
//
// A release becomes one Graph mobileApp per application version (its
// AppKey): a win32LobApp whose content is a real .intunewin built by
// packaging/intunewin (or the release's own .intunewin), or, for macOS
// pkg/dmg, iOS ipa and Android apk content, a macOSPkgApp, macOSDmgApp,
// iosLobApp or androidLobApp whose file is encrypted the same way. Every
// ring then gets its group assignments on that app.
//
// Idempotency without idempotency keys: the app's displayName is derived
// from the AppKey and its notes carry one marker line per release key
// ("eucora:correlation=ID release=KEY targets=G1,!G2") and one for the
// committed content ("eucora:content=DIGEST version=N"), so a retry after
// any crash lists the apps, finds what an earlier attempt made, reuses an
// uncommitted content version, and merges assignments by reading the list
// and writing it whole through /assign.
package intune

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
	"github.com/eucora/eucora/internal/clip"
)

// Requirement is a requirement rule every Win32 app of the plane gets: a
// registry value or a file that must exist on a device before Intune
// installs there (e.g. the marker of EUCORA-managed devices).
type Requirement struct {
	RegistryKey   string `json:"registry_key,omitempty"`
	RegistryValue string `json:"registry_value,omitempty"`
	FilePath      string `json:"file_path,omitempty"`
	FileName      string `json:"file_name,omitempty"`
}

// Config configures a connector.
type Config struct {
	// BaseURL is Graph's root (default https://graph.microsoft.com).
	BaseURL string
	// LoginURL is the Entra ID authority (default
	// https://login.microsoftonline.com).
	LoginURL string
	// APIVersion is "beta" (default; supersedence, device status and
	// install summary are beta-only) or "v1.0".
	APIVersion string
	// Tenant, ClientID and ClientSecret are the app registration's
	// client credentials (permission DeviceManagementApps.ReadWrite.All).
	Tenant, ClientID, ClientSecret string
	// Scope is the token scope (default https://graph.microsoft.com/.default).
	Scope string
	// HTTP carries every request; its transport is wrapped with the
	// bearer token for Graph (never for the storage host). Default:
	// httpx.Throttle over httpx.Limit (20 requests/s, 8 at once).
	HTTP *http.Client
	// Logger receives the connector's progress (default: discarded).
	Logger *slog.Logger

	// PollInterval is the wait between polls of an asynchronous state
	// (upload URI, commit, publishing; default 2 s); PollLimit the most
	// polls of one state (default 300).
	PollInterval time.Duration
	PollLimit    int
	// BlockSize is the Azure Put Block size (default 6 MiB).
	BlockSize int
	// RenewBefore renews an upload URI that expires within this time
	// before the next block (default 5 minutes).
	RenewBefore time.Duration
	// Architectures and MinimumWindowsRelease are the Win32 apps'
	// built-in requirements (defaults "x64,x86" and "1607").
	Architectures         string
	MinimumWindowsRelease string
	// Requirements are extra requirement rules of every Win32 app.
	Requirements []Requirement
	// TempDir holds built packages while they upload (default
	// os.TempDir()).
	TempDir string
	// Sleep waits between polls (default a timer); Now is the clock.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// conn is the connector.
type conn struct {
	cfg    Config
	api    string // BaseURL + "/" + APIVersion
	host   string
	graph  *http.Client // with the bearer token
	plain  *http.Client // token endpoint and storage host
	bearer *httpx.Bearer
	log    *slog.Logger
}

var _ connectors.Connector = (*conn)(nil)

// New makes an Intune connector. It does not call the plane: Check does.
func New(cfg Config) (connectors.Connector, error) { return newConn(cfg) }

func newConn(cfg Config) (*conn, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://graph.microsoft.com"
	}
	if cfg.LoginURL == "" {
		cfg.LoginURL = "https://login.microsoftonline.com"
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = "beta"
	}
	if cfg.Scope == "" {
		cfg.Scope = "https://graph.microsoft.com/.default"
	}
	switch {
	case cfg.APIVersion != "beta" && cfg.APIVersion != "v1.0":
		return nil, fmt.Errorf("intune: API version %q: want beta or v1.0", cfg.APIVersion)
	case cfg.Tenant == "" || cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, fmt.Errorf("intune: the tenant, the client id and the client secret are all needed")
	case strings.ContainsAny(cfg.Tenant, "/?#"):
		return nil, fmt.Errorf("intune: tenant %q is not a tenant id or domain", cfg.Tenant)
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("intune: base URL %q: want an http(s) URL", cfg.BaseURL)
	}
	if l, err := url.Parse(cfg.LoginURL); err != nil || (l.Scheme != "https" && l.Scheme != "http") || l.Host == "" {
		return nil, fmt.Errorf("intune: login URL %q: want an http(s) URL", cfg.LoginURL)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.PollLimit <= 0 {
		cfg.PollLimit = 300
	}
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = 6 << 20
	}
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = 5 * time.Minute
	}
	if cfg.Architectures == "" {
		cfg.Architectures = "x64,x86"
	}
	if cfg.MinimumWindowsRelease == "" {
		cfg.MinimumWindowsRelease = "1607"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
	}
	plain := cfg.HTTP
	if plain == nil {
		plain = &http.Client{Transport: &httpx.Throttle{Next: &httpx.Limit{Next: http.DefaultTransport, Rate: 20, Burst: 20, Concurrent: 8}}}
	}
	next := plain.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c := &conn{cfg: cfg, api: base.String() + "/" + cfg.APIVersion, host: base.Host, plain: plain, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.bearer = &httpx.Bearer{Next: next, Source: c.token, Now: cfg.Now}
	c.graph = &http.Client{Transport: c.bearer, Timeout: plain.Timeout, CheckRedirect: plain.CheckRedirect, Jar: plain.Jar}
	return c, nil
}

func (c *conn) now() time.Time { return c.cfg.Now() }

func (c *conn) Kind() connectors.Kind { return connectors.Intune }

func (c *conn) sameHost(link string) bool {
	u, err := url.Parse(link)
	return err == nil && u.Host == c.host
}

// token is the client-credentials grant.
func (c *conn) token(ctx context.Context) (httpx.Token, error) {
	const op = "token"
	form := url.Values{"client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret}, "scope": {c.cfg.Scope}, "grant_type": {"client_credentials"}}
	u := strings.TrimRight(c.cfg.LoginURL, "/") + "/" + url.PathEscape(c.cfg.Tenant) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return httpx.Token{}, &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.plain.Do(req)
	if err != nil {
		return httpx.Token{}, netError(op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return httpx.Token{}, netError(op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return httpx.Token{}, classify(op, resp.StatusCode, resp.Header, body, c.now())
	}
	var t struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"`
		TokenType   string      `json:"token_type"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" || !strings.EqualFold(t.TokenType, "bearer") {
		return httpx.Token{}, &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, Status: resp.StatusCode, Message: "the token answer has no bearer access_token: " + clip.String(string(body), 200)}
	}
	tok := httpx.Token{Value: t.AccessToken}
	if secs, err := t.ExpiresIn.Int64(); err == nil && secs > 0 {
		tok.Expires = c.now().Add(time.Duration(secs) * time.Second)
	}
	return tok, nil
}

// poll calls f until it reports done, at most PollLimit times, waiting
// PollInterval between calls. Waiting for the plane's asynchronous work is
// not a retry: f's errors end the poll.
func (c *conn) poll(ctx context.Context, op string, f func() (bool, error)) error {
	for n := 1; ; n++ {
		done, err := f()
		if err != nil || done {
			return err
		}
		if n >= c.cfg.PollLimit {
			return &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Transient, Message: fmt.Sprintf("still pending after %d polls", n)}
		}
		if err := c.cfg.Sleep(ctx, c.cfg.PollInterval); err != nil {
			return &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.ClassOf(err), Err: err}
		}
	}
}

// Check authenticates and reads one page of the catalog.
func (c *conn) Check(ctx context.Context) (connectors.Check, error) {
	start := time.Now()
	var p page[json.RawMessage]
	if err := c.call(ctx, "check", http.MethodGet, "/deviceAppManagement/mobileApps?$top=25&$select=id", nil, &p); err != nil {
		return connectors.Check{}, err
	}
	return connectors.Check{Plane: connectors.Intune, Latency: time.Since(start), Detail: fmt.Sprintf("%d mobile apps on the first page", len(p.Value))}, nil
}
