package hub

// Site-local planes (EUCORA-architecture.md section 8.4): an air-gapped or
// intermittent site's SCCM, Jamf or Linux plane is reached by the site's
// edge only. The hub registers the plane by name and kind (its URL and
// credentials stay at the site) and reaches it through siteRelay, a
// connector whose calls travel in bundles: Publish and Remediate record an
// order the site's next bundle carries, Query and Find answer from the
// edge's latest execution report. The orchestrator drives it like any
// other plane, so gates, rollback and reconciliation work the same at a
// site, at the pace of its bundles.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/planes"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/transfer"
)

// createSitePlane registers a site-local plane: a kind, a name and the
// site, no URL or credentials.
func (s *Server) createSitePlane(w http.ResponseWriter, r *http.Request, p *Principal, req api.PlaneRequest) {
	if !slices.Contains(planes.Kinds, connectors.Kind(req.Kind)) {
		writeInputError(w, badField("kind", "kind %q: want one of %v", req.Kind, planes.Kinds))
		return
	}
	site, err := s.store.State().Site(req.Site)
	if errors.Is(err, store.ErrNotFound) {
		writeInputError(w, badField("site", "site %q is not registered ('eucora site add %s --class air-gapped' first)", req.Site, req.Site))
		return
	} else if err != nil {
		writeStoreError(w, err)
		return
	}
	if req.URL != "" || len(req.Credentials) > 0 {
		writeInputError(w, badField("credentials", "plane %q is reached by site %s's edge: its URL and credentials stay at the site ('eucora edge plane add' there), the hub takes neither", req.Name, req.Site))
		return
	}
	if req.Scope == (deploy.Scope{}) {
		req.Scope = site.Scope
	}
	pl := store.Plane{Name: req.Name, Kind: req.Kind, Scope: req.Scope, Site: req.Site, CreatedAt: store.NowUTC(), CreatedBy: p.actor()}
	if err := store.ValidatePlane(pl); err != nil {
		writeInputError(w, badField("plane", "%s", strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")))
		return
	}
	if !p.Scope.Contains(req.Scope) {
		s.denyScope(w, r, p, "planes.create", fmt.Sprintf("plane scope %s is outside this token's scope %s", req.Scope, p.Scope))
		return
	}
	if _, err := s.store.State().Plane(req.Name); err == nil {
		writeError(w, http.StatusConflict, "plane %q: %v", req.Name, store.ErrConflict)
		return
	}
	s.apply(w, r, p, store.CmdPlaneCreate, "plane/"+pl.Name, pl, http.StatusCreated)
}

// siteRelay is a site-local plane's connector at the hub.
type siteRelay struct {
	s     *Server
	plane store.Plane
	actor string
}

var _ connectors.Connector = (*siteRelay)(nil)

func (c *siteRelay) Kind() connectors.Kind { return connectors.Kind(c.plane.Kind) }

func (c *siteRelay) fail(op string, class connectors.Class, format string, args ...any) *connectors.Error {
	return &connectors.Error{Plane: c.Kind(), Op: op, Class: class, Message: fmt.Sprintf(format, args...)}
}

// Publish records an order to publish the release at the site.
func (c *siteRelay) Publish(ctx context.Context, r connectors.Release) (connectors.Publication, error) {
	return c.order(ctx, transfer.OrderPublish, r)
}

// Remediate records an order to apply the remediation at the site.
func (c *siteRelay) Remediate(ctx context.Context, m connectors.Remediation) (connectors.Publication, error) {
	return c.order(ctx, m.Action, m.Release)
}

func (c *siteRelay) order(ctx context.Context, action connectors.Action, rel connectors.Release) (connectors.Publication, error) {
	op := "order " + string(action)
	if err := rel.Validate(); err != nil {
		return connectors.Publication{}, c.fail(op, connectors.Permanent, "%v", err)
	}
	rel.Content.Open = nil
	if prev, ok, err := c.orderFor(rel.Key); err == nil && ok && prev.Action == action && store.SameRelease(prev.Release, rel) {
		// The same order not yet run at the site: the store would return
		// it unchanged; answer without a Raft entry or an audit event.
		if ex, err := c.execution(prev); err == nil && !ex.Ran(prev) {
			return c.publication(prev, ex), nil
		}
	}
	o := transfer.Order{IntentID: rel.CorrelationID, Site: c.plane.Site, Plane: c.plane.Name, Kind: c.Kind(), Action: action, Release: rel,
		At: store.NowUTC()}
	audit := &store.AuditInput{ID: ulid.Make().String(), Time: o.At, Actor: c.actor, Action: "site.order", Object: "site/" + c.plane.Site,
		CorrelationID: o.IntentID, Reason: fmt.Sprintf("%s %s on plane %s: travels in site %s's next bundle", action, rel.Key, c.plane.Name, c.plane.Site)}
	cmd, err := store.NewCommand(store.CmdSiteOrder, store.SiteOrderBody{Order: o}, audit)
	if err != nil {
		return connectors.Publication{}, err
	}
	v, err := c.s.store.Apply(ctx, cmd)
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		return connectors.Publication{}, c.fail(op, connectors.Permanent, "%v", err)
	}
	if err != nil {
		return connectors.Publication{}, c.fail(op, connectors.Transient, "record the order: %v", err)
	}
	got, _ := v.(transfer.Order)
	ex, _ := c.execution(got) // none yet, or unreadable: the order is deferred
	return c.publication(got, ex), nil
}

// execution is the edge's latest report of o's intent at the site: the
// zero report before the first.
func (c *siteRelay) execution(o transfer.Order) (store.SiteExecution, error) {
	ex, err := c.s.store.State().SiteExecution(c.plane.Site, o.IntentID)
	if errors.Is(err, store.ErrNotFound) {
		return store.SiteExecution{}, nil
	}
	return ex, err
}

// publication is what an order is to the orchestrator: deferred until the
// site's edge reports it ran, with the objects it last reported.
func (c *siteRelay) publication(o transfer.Order, ex store.SiteExecution) connectors.Publication {
	pub := connectors.Publication{Key: o.Release.Key, Handle: fmt.Sprintf("site/%s/order/%d", c.plane.Site, o.Seq), Deferred: c.deferred(o, ex)}
	if ex.Status != nil {
		pub.Objects = ex.Status.Objects
	}
	return pub
}

// deferred says why order o has not run at the site yet, "" once the
// site's edge reported running it (ex is its latest report).
func (c *siteRelay) deferred(o transfer.Order, ex store.SiteExecution) string {
	if ex.Ran(o) {
		return ""
	}
	return fmt.Sprintf("order %d (%s) travels to site %s in its next bundle; its edge runs it on plane %s and reports back in the site's bundle (EUCORA-architecture.md section 8.4)",
		o.Seq, o.Action, c.plane.Site, c.plane.Name)
}

// orderFor finds the site's order whose release has key k.
func (c *siteRelay) orderFor(k connectors.ReleaseKey) (transfer.Order, bool, error) {
	orders, err := c.s.store.State().SiteOrders(c.plane.Site)
	if err != nil {
		return transfer.Order{}, false, err
	}
	for _, o := range orders {
		if o.Plane == c.plane.Name && o.Release.Key == k {
			return o, true, nil
		}
	}
	return transfer.Order{}, false, nil
}

// Query answers with the edge's latest report of the release's order: an
// empty status while none came back, an error of the plane's class when
// the edge reports its plane failed or it refused the order.
func (c *siteRelay) Query(_ context.Context, k connectors.ReleaseKey) (connectors.Status, error) {
	o, ok, err := c.orderFor(k)
	if err != nil {
		return connectors.Status{}, c.fail("query", connectors.Transient, "%v", err)
	}
	if !ok {
		e := c.fail("query", connectors.Permanent, "no order of site %s for %s", c.plane.Site, k)
		e.NotFound = true
		return connectors.Status{}, e
	}
	ex, err := c.execution(o)
	if err != nil {
		return connectors.Status{}, c.fail("query", connectors.Transient, "%v", err)
	}
	if ex.OrderSeq < o.Seq {
		switch {
		case ex.Refused != "":
			return connectors.Status{}, c.fail("query", connectors.Policy, "site %s's edge refused order %d offline: %s", c.plane.Site, o.Seq, ex.Refused)
		case ex.Error != "" && ex.ErrorClass != connectors.Transient.String():
			return connectors.Status{}, c.fail("query", connectors.Permanent, "site %s's edge: plane %s failed order %d: %s", c.plane.Site, c.plane.Name, o.Seq, ex.Error)
		}
	}
	if ex.Status == nil {
		return connectors.Status{Key: k, Deferred: c.deferred(o, ex)}, nil
	}
	st := *ex.Status
	st.Key = k
	if d := c.deferred(o, ex); d != "" {
		st.Deferred = d // else the site's plane's own (a job still running there)
	}
	return st, nil
}

// Find returns the objects the edge last reported for the intent.
func (c *siteRelay) Find(_ context.Context, correlationID string) ([]connectors.Object, error) {
	ex, err := c.s.store.State().SiteExecution(c.plane.Site, correlationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, c.fail("find", connectors.Transient, "%v", err)
	}
	if ex.Status == nil {
		return nil, nil
	}
	return ex.Status.Objects, nil
}

// Check says when the site's edge last reported.
func (c *siteRelay) Check(context.Context) (connectors.Check, error) {
	ss, err := c.s.store.State().SiteSync(c.plane.Site)
	if err != nil {
		return connectors.Check{}, c.fail("check", connectors.Transient, "%v", err)
	}
	orders, err := c.s.store.State().SiteOrders(c.plane.Site)
	if err != nil {
		return connectors.Check{}, c.fail("check", connectors.Transient, "%v", err)
	}
	n := 0
	for _, o := range orders {
		if o.Plane == c.plane.Name {
			n++
		}
	}
	last := "no bundle from the site yet"
	if !ss.LastImportAt.IsZero() {
		last = "last bundle from the site " + time.Since(ss.LastImportAt).Round(time.Second).String() + " ago"
	}
	return connectors.Check{Plane: c.Kind(), Detail: fmt.Sprintf("reached through site %s's edge: %d order(s), %s", c.plane.Site, n, last)}, nil
}
