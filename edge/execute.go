package edge

// Execution at the site (EUCORA-architecture.md sections 8.4, 10): the
// hub's orders for the site-local planes arrive in its bundles; Execute
// admits each one offline, applies it through the plane's connector (the
// same connectors the hub uses, pointed at the site's URLs), reads the
// plane's status API, and keeps a report per order. Every export carries
// the reports back, where they feed the same gates as a plane the hub
// reaches itself; time-to-compliance runs to the receipt that reports it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/transfer"
)

// applyOrders replaces the held orders with the bundle's (hub records are
// complete) and drops the reports of orders the hub no longer sends.
func (rs *records) applyOrders(st *state, res *ImportResult) []string {
	var warn []string
	orders := map[string]transfer.Order{}
	for id, o := range rs.orders {
		if o.Site != st.Site {
			warn = append(warn, fmt.Sprintf("order for intent %s is for site %q, this edge is %q: ignored", id, o.Site, st.Site))
			continue
		}
		orders[id] = o
	}
	st.Orders = orders
	for id := range st.Executions {
		if _, ok := orders[id]; !ok {
			delete(st.Executions, id)
		}
	}
	if n := len(orders); n > 0 {
		res.Records[transfer.RecordOrder] = n
	}
	return warn
}

// ExecuteOptions tune Execute.
type ExecuteOptions struct {
	// Retry is the connectors' retry policy (default: 3 attempts within
	// 30 s).
	Retry connectors.RetryPolicy
	Log   *slog.Logger
}

// Executed is what Execute did for one order.
type Executed struct {
	IntentID string `json:"intent_id"`
	Plane    string `json:"plane"`
	Seq      uint64 `json:"seq"`
	Action   string `json:"action"`
	// Outcome: executed (the plane took the order now), reported (taken
	// before; its status read again), refused (offline admission said no),
	// failed (the plane or the edge failed; Detail says why).
	Outcome string              `json:"outcome"`
	Detail  string              `json:"detail,omitempty"`
	Summary *connectors.Summary `json:"summary,omitempty"`
}

// ExecuteResult lists what one Execute pass did, by intent id.
type ExecuteResult struct {
	Orders []Executed `json:"orders"`
}

// Execute runs every held order once: a new order (a sequence not yet
// executed) is admitted offline and applied to its plane, and every
// order's release status is read from the plane. The reports and one
// audit event per change are kept for the next export. The edge lock is
// not held during plane calls, so imports and serving go on; a bundle
// applied meanwhile replaces orders, and a report of an order the new
// bundle dropped or replaced is not kept.
func (e *Edge) Execute(ctx context.Context, opts ExecuteOptions) (*ExecuteResult, error) {
	if opts.Retry.Attempts == 0 {
		opts.Retry = connectors.RetryPolicy{Attempts: 3, Initial: 200 * time.Millisecond, Max: 5 * time.Second, Budget: 30 * time.Second}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Snapshot under the lock: orders, reports, offline admissions.
	unlock, err := e.lock()
	if err != nil {
		return nil, err
	}
	st, err := loadState(e.dir.Edge())
	if err != nil {
		unlock()
		return nil, err
	}
	now := e.now(st)
	type job struct {
		order    transfer.Order
		report   transfer.ExecutionReport
		decision *deploy.Decision
		admitErr error
	}
	var jobs []job
	for _, id := range sortedKeys(st.Orders) {
		o := st.Orders[id]
		j := job{order: o, report: st.Executions[id]}
		if j.report.IntentID == "" {
			j.report = transfer.ExecutionReport{IntentID: id, Site: st.Site, Plane: o.Plane}
		}
		j.report.Plane = o.Plane
		if j.report.OrderSeq < o.Seq && needsAdmission(o.Action) {
			d, err := admitHeld(st, id, now)
			j.decision, j.admitErr = &d, err
		}
		jobs = append(jobs, j)
	}
	unlock()
	pf, err := loadPlanes(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	conns := map[string]connectors.Connector{}
	connErr := map[string]error{}
	connector := func(o transfer.Order) (connectors.Connector, error) {
		if c, ok := conns[o.Plane]; ok {
			return c, nil
		}
		if err, ok := connErr[o.Plane]; ok {
			return nil, err
		}
		c, p, err := pf.connector(o.Plane)
		if err == nil && p.Kind != o.Kind {
			err = fmt.Errorf("plane %s is registered at this edge as %s, the hub's order is for a %s plane", o.Plane, p.Kind, o.Kind)
		}
		if err != nil {
			connErr[o.Plane] = err
			return nil, err
		}
		c = connectors.WithRetry(connectors.WithLogging(c, log.With("plane_name", o.Plane)), opts.Retry)
		conns[o.Plane] = c
		return c, nil
	}
	defer func() {
		for _, c := range conns {
			if cl, ok := c.(interface{ Close(context.Context) error }); ok {
				cl.Close(context.WithoutCancel(ctx))
			}
		}
	}()

	res := &ExecuteResult{Orders: []Executed{}}
	var events []transfer.Event
	reports := map[string]transfer.ExecutionReport{}
	for _, j := range jobs {
		o, rep := j.order, j.report
		before := rep
		x := Executed{IntentID: o.IntentID, Plane: o.Plane, Seq: o.Seq, Action: string(o.Action)}
		event := func(action, outcome, detail string) {
			events = append(events, transfer.Event{Time: e.Clock().UTC(), Actor: e.actor(), Action: action, Object: "intent/" + o.IntentID,
				Outcome: outcome, Detail: detail})
		}
		conn, err := connector(o)
		switch {
		case err != nil:
			rep.Error, rep.ErrorClass = err.Error(), connectors.Permanent.String()
			x.Outcome, x.Detail = "failed", err.Error()
		case j.admitErr != nil || (j.decision != nil && !j.decision.Allowed):
			why := ""
			if j.admitErr != nil {
				why = j.admitErr.Error()
			} else {
				why = strings.Join(j.decision.Reasons(), "; ")
			}
			rep.Refused = why
			x.Outcome, x.Detail = "refused", why
		case rep.OrderSeq < o.Seq:
			detail, err := e.applyOrder(ctx, conn, o)
			if err != nil {
				rep.Error, rep.ErrorClass = err.Error(), connectors.ClassOf(err).String()
				x.Outcome, x.Detail = "failed", err.Error()
				break
			}
			rep.OrderSeq, rep.Action, rep.ExecutedAt, rep.Error, rep.ErrorClass, rep.Refused = o.Seq, o.Action, e.Clock().UTC(), "", "", ""
			x.Outcome, x.Detail = "executed", detail
			event("execution."+string(o.Action), "ok", fmt.Sprintf("order %d: %s %s on plane %s: %s", o.Seq, o.Action, o.Release.Key, o.Plane, detail))
		default:
			x.Outcome = "reported"
		}
		if x.Outcome == "executed" || x.Outcome == "reported" {
			st, err := conn.Query(ctx, o.Release.Key)
			if ce := (*connectors.Error)(nil); errors.As(err, &ce) && ce.NotFound {
				// The plane has not caught up yet; the next pass asks again.
				err, st = nil, connectors.Status{Key: o.Release.Key}
			}
			if err != nil {
				rep.Error, rep.ErrorClass = err.Error(), connectors.ClassOf(err).String()
				x.Outcome, x.Detail = "failed", err.Error()
			} else {
				rep.Status, rep.QueriedAt, rep.Error, rep.ErrorClass = &st, e.Clock().UTC(), "", ""
				x.Summary = &st.Summary
			}
		}
		if rep.Refused != before.Refused && rep.Refused != "" {
			event("execution.refused", "refused", fmt.Sprintf("order %d (%s %s): %s", o.Seq, o.Action, o.Release.Key, rep.Refused))
		}
		if rep.Error != before.Error && rep.Error != "" {
			event("execution.failed", "failed:"+rep.ErrorClass, fmt.Sprintf("order %d (%s on plane %s): %s", o.Seq, o.Action, o.Plane, rep.Error))
		}
		if rep.Status != nil && (before.Status == nil || before.Status.Summary != rep.Status.Summary) {
			s := rep.Status.Summary
			event("execution.status", "ok", fmt.Sprintf("%s on plane %s: %d installed, %d failed, %d pending, %d not installed", o.Release.Key, o.Plane,
				s.Installed, s.Failed, s.Pending, s.NotInstalled))
		}
		log.Info("order", "intent", o.IntentID, "plane", o.Plane, "seq", o.Seq, "action", o.Action, "outcome", x.Outcome, "detail", x.Detail)
		reports[o.IntentID] = rep
		res.Orders = append(res.Orders, x)
	}
	return res, e.keepReports(reports, events)
}

// applyOrder sends one order to its plane.
func (e *Edge) applyOrder(ctx context.Context, conn connectors.Connector, o transfer.Order) (string, error) {
	rel := o.Release
	d := rel.Content.Digest
	if o.Action == transfer.OrderPublish || o.Action == connectors.Redeploy || o.Action == connectors.Supersede {
		ok, err := e.store.Has(d)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", &connectors.Error{Plane: o.Kind, Op: string(o.Action), Class: connectors.Permanent,
				Message: fmt.Sprintf("content %s (%s) is not held at this edge: import the bundle that carries it", rel.Content.Name, d.Short())}
		}
	}
	rel.Content.Open = func() (io.ReadCloser, error) { return e.store.Open(d) }
	var pub connectors.Publication
	var err error
	if o.Action == transfer.OrderPublish {
		pub, err = conn.Publish(ctx, rel)
	} else {
		pub, err = conn.Remediate(ctx, connectors.Remediation{Action: o.Action, Release: rel})
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d object(s), %d created", len(pub.Objects), pub.Created), nil
}

// keepReports stores the reports of orders still held at the same
// sequence or one not yet executed, and seals the events onto the chain.
func (e *Edge) keepReports(reports map[string]transfer.ExecutionReport, events []transfer.Event) error {
	if len(reports) == 0 && len(events) == 0 {
		return nil
	}
	unlock, err := e.lock()
	if err != nil {
		return err
	}
	defer unlock()
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return err
	}
	if st.Executions == nil {
		st.Executions = map[string]transfer.ExecutionReport{}
	}
	ids := make([]string, 0, len(reports))
	for id := range reports {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := reports[id]
		o, ok := st.Orders[id]
		if !ok || o.Plane != r.Plane || r.OrderSeq > o.Seq {
			continue // a bundle applied meanwhile dropped or changed the order
		}
		st.Executions[id] = r
	}
	for _, ev := range events {
		if _, err := st.appendEvent(ev); err != nil {
			return err
		}
	}
	return st.save(e.dir.Edge())
}

// Executions returns the held orders and their reports, by intent id.
func (e *Edge) Executions() ([]transfer.Order, []transfer.ExecutionReport, error) {
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, nil, err
	}
	var orders []transfer.Order
	var reports []transfer.ExecutionReport
	for _, id := range sortedKeys(st.Orders) {
		orders = append(orders, st.Orders[id])
		if r, ok := st.Executions[id]; ok {
			reports = append(reports, r)
		}
	}
	return orders, reports, nil
}

// needsAdmission reports whether an action puts a release on devices
// (admitted offline first); taking one off (uninstall, pin back) is
// always allowed.
func needsAdmission(a connectors.Action) bool {
	return a == transfer.OrderPublish || a == connectors.Redeploy || a == connectors.Supersede
}

// executionRecords are the export's execution records, by intent id.
func (st *state) executionRecords() ([]transfer.RecordSource, error) {
	var out []transfer.RecordSource
	for _, id := range sortedKeys(st.Executions) {
		b, err := json.Marshal(st.Executions[id])
		if err != nil {
			return nil, err
		}
		out = append(out, transfer.RecordSource{Type: transfer.RecordExecution, Data: b})
	}
	return out, nil
}

// RunExecute calls Execute every interval until ctx ends (edge serve); a
// failed pass is logged and the next one runs on time.
func (e *Edge) RunExecute(ctx context.Context, every time.Duration, opts ExecuteOptions) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := e.Execute(ctx, opts); err != nil && ctx.Err() == nil {
			log.Warn("execute pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
