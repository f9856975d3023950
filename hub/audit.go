package hub

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/time/rate"

	"github.com/eucora/eucora/hub/store"
)

// actorDenials keeps, per authenticated caller, the budget of denials
// recorded one by one and the count of those folded beyond it. Entries
// exist only for callers with a valid token, so the map is bounded by the
// number of tokens.
type actorDenials struct {
	mu     sync.Mutex
	actors map[string]*actorDenial
}

type actorDenial struct {
	p           Principal
	lim         *rate.Limiter
	folded      int
	first, last time.Time
	// the newest folded denial
	action, object, outcome, reason string
}

// fold reports whether p's denial is over p's budget; if so it is counted
// for p's next aggregate event instead of being recorded now.
func (d *actorDenials) fold(p *Principal, action, object, outcome, reason string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.actors == nil {
		d.actors = map[string]*actorDenial{}
	}
	key := p.actor()
	a := d.actors[key]
	if a == nil {
		a = &actorDenial{p: *p, lim: rate.NewLimiter(rate.Limit(ActorDeniedEventsPerSecond), 2*ActorDeniedEventsPerSecond)}
		d.actors[key] = a
	}
	if a.lim.Allow() {
		return false
	}
	now := store.NowUTC()
	if a.folded == 0 {
		a.first = now
	}
	a.folded++
	a.last = now
	a.action, a.object, a.outcome, a.reason = action, object, outcome, reason
	return true
}

// take returns the aggregate events due (one per caller with folded
// denials) and resets their counts; callers idle with a full budget are
// forgotten.
func (d *actorDenials) take(node string) []*store.AuditInput {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*store.AuditInput
	keys := make([]string, 0, len(d.actors))
	for k := range d.actors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := d.actors[k]
		if a.folded == 0 {
			if a.lim.Tokens() >= float64(a.lim.Burst()) {
				delete(d.actors, k)
			}
			continue
		}
		p := a.p
		out = append(out, &store.AuditInput{
			ID: ulid.Make().String(), Time: store.NowUTC(), Actor: p.actor(), Role: string(p.Role),
			Action: "denied.aggregate", Object: a.object, Outcome: a.outcome,
			Reason: fmt.Sprintf("%d denials of this caller from %s to %s beyond its budget of %d/s recorded together (count=%d; node %s); the newest: %s %s: %s",
				a.folded, a.first.Format(time.RFC3339Nano), a.last.Format(time.RFC3339Nano), ActorDeniedEventsPerSecond, a.folded, node, a.action, a.object, a.reason),
		})
		a.folded = 0
	}
	return out
}

// flushDenials records the aggregate denial events due on this node.
func (s *Server) flushDenials() {
	for _, a := range s.denials.take(s.cfg.NodeID) {
		s.recordAudit(a)
	}
}
