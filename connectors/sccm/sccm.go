// Package sccm is the Configuration Manager (SCCM / ConfigMgr) connector:
// it publishes releases through the SMS Provider's AdminService REST API
// (the WMI route, /AdminService/wmi/<Class>) as applications, collections
// and application deployments, distributes their content to
// distribution-point groups, and reads per-device deployment state.
//
// What it makes for a release key (every name derived from the key, so a
// retry finds what an earlier attempt made; see names.go):
//
//   - one SMS_Application per application version, identified by its
//     ModelName "ScopeId_<site GUID>/Application_<AppKey UUIDv5>" and looked
//     up by ModelName (and LocalizedDisplayName, which the site keeps
//     unique) before it is created. Its SDMPackageXML is built here: a
//     script deployment type with the install and uninstall commands, exit
//     codes, the detection method of Release.Install.Detection, the content
//     location and, when the release has a Prior, a supersedence rule over
//     the prior's deployment type. A changed specification is a new
//     revision (POST to SMS_Application(<CI_ID>)), never a second
//     application.
//   - its SMS_ContentPackage (the site makes it with the application),
//     distributed to Config.DistributionPointGroups.
//   - one device collection per release key (application, version, ring,
//     scope), limited to All Systems (SMS00001), whose membership rules are
//     exactly the release's targets; see ParseTarget for what a Target ID
//     is. A changed rule set is followed by RequestRefresh.
//   - one SMS_ApplicationAssignment of the application to that collection,
//     named "<application>_<collection>_Install" with a deterministic
//     AssignmentUniqueID.
//
// The correlation marker is the application's administrator comment, the
// collection's Comment and the deployment's AssignmentDescription; Find
// reads them back.
//
// Content: the AdminService has no upload. The site server copies an
// application's content from the UNC folder its deployment type names;
// the connector names Config.ContentSource\<app>\<version>\, the layout an
// EUCORA edge serves distribution-point content in (/dp/sccm/APP/VERSION/
// NAME), and never opens Release.Content itself.
//
// Rollback: PinPrior deploys the prior application to the prior release's
// collection (made from the release's targets when it is gone) and removes
// the new release's deployment; Supersede publishes with the supersedence
// rule; Uninstall replaces the install deployment with a DesiredConfigType
// 2 (uninstall) deployment; Redeploy restores the install deployment and
// asks the collection's clients to fetch policy
// (SMS_ClientOperation.InitiateClientOperation, type 8).
package sccm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
)

// Config is how to reach one site's AdminService.
type Config struct {
	// BaseURL is the AdminService root: "https://cm01.example/AdminService"
	// on the intranet, or the CMG's
	// "https://cmg.example/CCM_Proxy_ServerAuth/<id>/AdminService".
	BaseURL string
	// Auth authenticates every request: ClientCredentials for a CMG.
	// Windows integrated auth (Negotiate) is not implemented.
	Auth Auth
	// SiteID is the site's GUID (the authoring scope of its
	// applications); empty asks SMS_Identification.GetSiteID once.
	SiteID string
	// ContentSource is the UNC folder under which the site finds release
	// content, as APP\VERSION\NAME (e.g. `\\edge01\eucora-dp\sccm`).
	ContentSource string
	// DistributionPointGroups are the GroupIDs of the DP groups every
	// application's content is distributed to; none distributes nothing.
	DistributionPointGroups []string
	// HTTP is the base client: its Transport is the innermost transport
	// and its Timeout bounds each request. Nil uses http.DefaultTransport.
	HTTP   *http.Client
	Logger *slog.Logger
	// Rate (requests per second, with Burst) and Concurrent cap the calls
	// to the SMS Provider; zero means no limit.
	Rate       float64
	Burst      int
	Concurrent int
	// ThrottleInitial is the first backoff after a 429 or 503 without
	// Retry-After (default 500 ms).
	ThrottleInitial time.Duration
	// PollInterval and PollAttempts bound the waits for what the site
	// makes asynchronously: an object a GET by key does not see yet, the
	// content package of a new application (defaults 2 s and 15).
	PollInterval time.Duration
	PollAttempts int
	// Now is the clock of deployment start times (default time.Now).
	Now func() time.Time
}

type connector struct {
	c   *client
	cfg Config

	mu    sync.Mutex
	scope string // ScopeId_<GUID>, once known
}

var _ connectors.Connector = (*connector)(nil)

// New returns the connector for cfg. It checks the configuration, not the
// plane: Check does that.
func New(cfg Config) (connectors.Connector, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	src := strings.TrimRight(cfg.ContentSource, `\`)
	if !strings.HasPrefix(src, `\\`) || len(strings.Split(strings.TrimPrefix(src, `\\`), `\`)) < 2 {
		return nil, fmt.Errorf(`sccm: content source %q: want a UNC folder, \\server\share[\path]`, cfg.ContentSource)
	}
	cfg.ContentSource = src
	for _, g := range cfg.DistributionPointGroups {
		if strings.TrimSpace(g) == "" {
			return nil, errors.New("sccm: an empty distribution point group id")
		}
	}
	if cfg.SiteID != "" {
		if _, err := scopeOfSiteID(cfg.SiteID); err != nil {
			return nil, fmt.Errorf("sccm: %w", err)
		}
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.PollAttempts <= 0 {
		cfg.PollAttempts = 15
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &connector{c: c, cfg: cfg}, nil
}

func (c *connector) Kind() connectors.Kind { return connectors.SCCM }

// scopeOfSiteID turns a site GUID ("{9C7C...}") into its authoring scope
// id ("ScopeId_9C7C...").
func scopeOfSiteID(id string) (string, error) {
	g := strings.ToUpper(strings.Trim(strings.TrimSpace(id), "{}"))
	if !productCodePattern.MatchString("{" + g + "}") {
		return "", fmt.Errorf("site id %q is not a GUID", id)
	}
	return "ScopeId_" + g, nil
}

// authoringScope is the site's ScopeId_<GUID>.
func (c *connector) authoringScope(ctx context.Context) (string, error) {
	c.mu.Lock()
	s := c.scope
	c.mu.Unlock()
	if s != "" {
		return s, nil
	}
	id := c.cfg.SiteID
	if id == "" {
		var r struct {
			SiteID string `json:"SiteID"`
		}
		raw, err := c.c.do(ctx, "read site id", http.MethodGet, c.c.url("wmi/SMS_Identification.GetSiteID"), nil)
		if err != nil {
			return "", err
		}
		v, found, err := parseEntity(raw)
		if err == nil && found {
			err = json.Unmarshal(v, &r)
		}
		if err != nil || r.SiteID == "" {
			return "", planeErr("read site id", connectors.Permanent, "SMS_Identification.GetSiteID answered no SiteID")
		}
		id = r.SiteID
	}
	s, err := scopeOfSiteID(id)
	if err != nil {
		return "", planeErr("read site id", connectors.Permanent, "%v", err)
	}
	c.mu.Lock()
	c.scope = s
	c.mu.Unlock()
	return s, nil
}

// poll calls f until it reports done, up to PollAttempts times with
// PollInterval between: the wait for what the site makes asynchronously.
// It is not a retry of failures: an error from f ends it.
func (c *connector) poll(ctx context.Context, op, what string, f func() (bool, error)) error {
	for i := 1; ; i++ {
		done, err := f()
		if err != nil || done {
			return err
		}
		if i >= c.cfg.PollAttempts {
			return planeErr(op, connectors.Transient, "%s: not there after %d polls", what, i)
		}
		t := time.NewTimer(c.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return &connectors.Error{Plane: connectors.SCCM, Op: op, Class: connectors.ClassOf(ctx.Err()), Err: context.Cause(ctx)}
		case <-t.C:
		}
	}
}

// getVisible reads an object by key that a list query has just shown,
// polling while the site still answers 404 for it.
func getVisible[T any](ctx context.Context, c *connector, op, keyed string) (T, error) {
	var x T
	err := c.poll(ctx, op, keyed, func() (bool, error) {
		var err error
		x, err = get[T](ctx, c.c, op, keyed)
		var ce *connectors.Error
		if errors.As(err, &ce) && ce.NotFound {
			return false, nil
		}
		return err == nil, err
	})
	return x, err
}

// validate checks a release as this plane needs it. The key's scope
// values are checked one by one: the nesting rule of deploy.Scope is the
// hub's, and a release from a fixture may name a bare BU.
func validate(r connectors.Release) error {
	k := r.Key
	scope := k.Scope
	r.Key.Scope = deploy.Scope{}
	if err := r.Validate(); err != nil {
		return err
	}
	for _, v := range []string{scope.Acquisition, scope.BU, scope.Site} {
		if v == "" {
			continue
		}
		if err := (deploy.Scope{Acquisition: v}).Validate(); err != nil {
			return fmt.Errorf("release %s: %w", k, err)
		}
	}
	for _, t := range r.Targets {
		if _, err := parseTarget(t); err != nil {
			return fmt.Errorf("release %s: %w", k, err)
		}
	}
	return nil
}

func badInput(op string, err error) error {
	return &connectors.Error{Plane: connectors.SCCM, Op: op, Class: connectors.Permanent, Message: err.Error(), Err: err}
}

func filter(clauses ...string) url.Values {
	return url.Values{"$filter": {strings.Join(clauses, " and ")}}
}

func selecting(q url.Values, fields ...string) url.Values {
	q.Set("$select", strings.Join(fields, ","))
	return q
}

// Check authenticates, reads the site id and one page of applications.
func (c *connector) Check(ctx context.Context) (connectors.Check, error) {
	start := time.Now()
	scope, err := c.authoringScope(ctx)
	if err != nil {
		return connectors.Check{}, err
	}
	raw, err := c.c.do(ctx, "check", http.MethodGet,
		c.c.url("wmi/SMS_Application")+"?"+selecting(filter("IsLatest eq true"), "CI_ID", "LocalizedDisplayName").Encode(), nil)
	if err != nil {
		return connectors.Check{}, err
	}
	vals, next, err := parseCollection(raw)
	if err != nil {
		return connectors.Check{}, planeErr("check", connectors.Permanent, "SMS_Application: %v", err)
	}
	more := ""
	if next != "" {
		more = ", more pages follow"
	}
	return connectors.Check{Plane: connectors.SCCM, Latency: time.Since(start),
		Detail: fmt.Sprintf("site %s: %d applications on the first page%s", strings.TrimPrefix(scope, "ScopeId_"), len(vals), more)}, nil
}
