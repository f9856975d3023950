package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/transfer"
)

// executionHandlers apply execution at sites (EUCORA-architecture.md
// section 8.4): a rollout step for a plane only a site reaches is an order
// the site's bundle carries; the site's edge executes it and reports back
// in its own bundle (merged by site.import).
var executionHandlers = map[string]handler{
	CmdSiteOrder: withBody(applySiteOrder),
}

// SiteOrderBody asks for an order: the orchestrator's publish or
// remediation of a release on a site-local plane. The sequence is the
// store's to assign.
type SiteOrderBody struct {
	Order transfer.Order `json:"order"`
}

// SiteExecution is a site edge's latest report of an intent's order as the
// hub merged it. Each device's At is when the hub first received the state
// it is in now (the receipt that reported it, which is what
// time-to-compliance counts to at a site: section 10.2).
type SiteExecution struct {
	transfer.ExecutionReport
	ReceivedAt time.Time `json:"received_at"`
	// Bundle is the sequence of the edge bundle that carried the report.
	Bundle uint64 `json:"bundle"`
}

// Ran says whether the report is of order o or a later one: whether the
// site's edge has run o (the zero report, none yet, has run nothing).
func (x SiteExecution) Ran(o transfer.Order) bool { return x.OrderSeq >= o.Seq && x.OrderSeq > 0 }

// applySiteOrder records an order at the next sequence, or returns the
// current one unchanged when it asks for the same action on the same
// release and the edge has not executed it yet (a retried step after a
// leader change makes no second order). An order the edge already
// executed is a new instruction: asked again, it gets a new sequence and
// runs again at the site (an enforcement that republishes).
func applySiteOrder(b Batch, body SiteOrderBody) (any, error) {
	o := body.Order
	o.Seq = 1
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	pl, err := getRec[Plane](b, planeKey(o.Plane), "plane "+o.Plane)
	if err != nil {
		return nil, err
	}
	if pl.Site != o.Site || string(pl.Kind) != string(o.Kind) {
		return nil, fmt.Errorf("%w: order for plane %s (%s) at site %s: the plane is a %s plane reached by %s", ErrInvalid, o.Plane, o.Kind, o.Site, pl.Kind, reachedBy(pl))
	}
	prev, err := getRec[transfer.Order](b, siteOrderKey(o.Site, o.IntentID), "order")
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, err
	default:
		o.Seq = prev.Seq + 1
		if prev.Action == o.Action && SameRelease(prev.Release, o.Release) {
			ex, err := getRec[SiteExecution](b, siteExecKey(o.Site, o.IntentID), "execution")
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			if !ex.Ran(prev) {
				return prev, nil
			}
		}
	}
	return o, setJSON(b, siteOrderKey(o.Site, o.IntentID), o)
}

func reachedBy(p Plane) string {
	if p.Site == "" {
		return "the hub"
	}
	return "site " + p.Site + "'s edge"
}

// SameRelease says whether two releases are exactly the same order.
func SameRelease(a, b connectors.Release) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// mergeExecutions folds a site bundle's execution reports into the store;
// it returns warnings for the reports it did not take (no order of the
// site for the intent, a sequence beyond the order's, an older report
// than the one held).
func mergeExecutions(b Batch, site string, at time.Time, bundle uint64, reports []transfer.ExecutionReport) ([]string, error) {
	var warn []string
	for _, r := range reports {
		o, err := getRec[transfer.Order](b, siteOrderKey(site, r.IntentID), "order")
		if errors.Is(err, ErrNotFound) {
			warn = append(warn, fmt.Sprintf("execution report for intent %s: no order of site %s for it: ignored", r.IntentID, site))
			continue
		}
		if err != nil {
			return nil, err
		}
		if r.OrderSeq > o.Seq || r.Plane != o.Plane {
			warn = append(warn, fmt.Sprintf("execution report for intent %s names order %d on plane %s; the hub's order is %d on %s: ignored",
				r.IntentID, r.OrderSeq, r.Plane, o.Seq, o.Plane))
			continue
		}
		next := SiteExecution{ExecutionReport: r, ReceivedAt: at.UTC(), Bundle: bundle}
		prev, err := getRec[SiteExecution](b, siteExecKey(site, r.IntentID), "execution")
		switch {
		case errors.Is(err, ErrNotFound):
			prev = SiteExecution{}
		case err != nil:
			return nil, err
		case r.OrderSeq < prev.OrderSeq || r.QueriedAt.Before(prev.QueriedAt):
			warn = append(warn, fmt.Sprintf("execution report for intent %s (order %d, queried %s) is older than the one held: kept the newer",
				r.IntentID, r.OrderSeq, r.QueriedAt.Format(time.RFC3339)))
			continue
		}
		receivedTimes(&next, prev)
		if err := setJSON(b, siteExecKey(site, r.IntentID), next); err != nil {
			return nil, err
		}
	}
	return warn, nil
}

// receivedTimes sets each device's At in next to when the hub first
// received the state it reports now: kept from prev when the state is
// unchanged, the receipt of next otherwise.
func receivedTimes(next *SiteExecution, prev SiteExecution) {
	if next.Status == nil {
		return
	}
	before := map[string]connectors.DeviceState{}
	if prev.Status != nil {
		for _, d := range prev.Status.Devices {
			before[d.ID()] = d
		}
	}
	for i := range next.Status.Devices {
		d := &next.Status.Devices[i]
		if p, ok := before[d.ID()]; ok && p.State == d.State {
			d.At = p.At
		} else {
			d.At = next.ReceivedAt
		}
	}
}

// SiteOrder returns the order of an intent at a site.
func (s *State) SiteOrder(site, intent string) (v transfer.Order, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, siteOrderKey(site, intent), &v) })
	return v, err
}

// SiteOrders lists a site's orders in intent id order.
func (s *State) SiteOrders(site string) (out []transfer.Order, err error) {
	err = scan(s, prefixSiteOrder+site+keySep, func(v transfer.Order) bool { out = append(out, v); return true })
	return out, err
}

// SiteExecution returns the latest execution report of an intent at a
// site (ErrNotFound before the first).
func (s *State) SiteExecution(site, intent string) (v SiteExecution, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, siteExecKey(site, intent), &v) })
	return v, err
}
