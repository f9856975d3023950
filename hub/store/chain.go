package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eucora/eucora/transfer"
)

// Event hash rules (DESIGN.md, Events). A hub's log holds events of rule 1
// up to the chain-rule event and of rule 2 from it on; nothing is ever
// re-hashed, so a hash an auditor exported stays verifiable.
const (
	// ChainRuleLegacy is the first hub's rule: hex SHA-256 of the Event's
	// JSON with cursor 0 and hash "", prev_hash "" for an origin's first
	// event; the hub re-hashed edge events and kept the edge's hashes in
	// data.edge_hash and data.edge_prev_hash.
	ChainRuleLegacy = 1
	// ChainRuleCanonical is the rule of every audit chain, the hub's and
	// each edge's: transfer.EventHash of ChainEvent(e)
	// (docs/sync-records.md, "Hash chain rule"). The hub stores an edge's
	// events with the hashes the edge computed.
	ChainRuleCanonical = 2
)

// ActionChainRule is the action of the hub event that starts a rule: the
// first event hashed by it.
const ActionChainRule = CmdChainRule

// ChainRuleBody moves the hub's log to Rule. The leader proposes it when
// it finds a log of an older rule (every node then switches at the same
// log index); a node of an earlier version halts on it instead of
// hashing differently.
type ChainRuleBody struct {
	Rule  int       `json:"rule"`
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"`
}

// ChainRule is the hash rule the state hashes new events by, and the
// cursor of the first event hashed by it (0 when the state never moved
// off rule 1, or was born under this rule with no earlier events).
type ChainRule struct {
	Rule   int       `json:"rule"`
	Cursor uint64    `json:"cursor,omitempty"`
	Since  time.Time `json:"since,omitzero"`
}

// ChainRuleResult is what events.chain-rule returns.
type ChainRuleResult struct {
	Rule    int    `json:"rule"`
	Changed bool   `json:"changed"`
	Cursor  uint64 `json:"cursor,omitempty"`
}

func chainRuleOf(b Batch) (ChainRule, error) {
	var r ChainRule
	err := getJSON(batchGetter{b}, keyChainRule, &r)
	if errors.Is(err, ErrNotFound) {
		return ChainRule{Rule: ChainRuleLegacy}, nil
	}
	return r, err
}

// ChainRule returns the rule new events are hashed by.
func (s *State) ChainRule() (ChainRule, error) {
	var r ChainRule
	err := s.read(func(db *pebble.DB) error {
		err := getJSON(db, keyChainRule, &r)
		if errors.Is(err, ErrNotFound) {
			r, err = ChainRule{Rule: ChainRuleLegacy}, nil
		}
		return err
	})
	return r, err
}

// applyChainRule switches the log to body.Rule and appends the hub event
// that starts it (hashed by the new rule, prev_hash the hub's last event).
// A rule already in force changes nothing: two leaders may both propose.
func applyChainRule(b Batch, body ChainRuleBody) (any, error) {
	cur, err := chainRuleOf(b)
	if err != nil {
		return nil, err
	}
	if body.Rule != ChainRuleCanonical {
		return nil, fmt.Errorf("%w: rule %d: this hub knows rules %d and %d", ErrInvalid, body.Rule, ChainRuleLegacy, ChainRuleCanonical)
	}
	if cur.Rule >= body.Rule {
		return ChainRuleResult{Rule: cur.Rule, Cursor: cur.Cursor}, nil
	}
	cursor, err := getUint(batchGetter{b}, keyCursor)
	if err != nil {
		return nil, err
	}
	r := ChainRule{Rule: body.Rule, Cursor: cursor + 1, Since: body.Time.UTC()}
	if err := setJSON(b, keyChainRule, r); err != nil {
		return nil, err
	}
	data, _ := json.Marshal(map[string]any{"rule": body.Rule, "previous_rule": cur.Rule, "events_before": cursor})
	reason := fmt.Sprintf("events are hashed by rule %d (transfer.EventHash, docs/sync-records.md)", body.Rule)
	if cursor > 0 {
		reason = fmt.Sprintf("events from this one on are hashed by rule %d (transfer.EventHash, docs/sync-records.md); "+
			"the %d before it keep their rule-%d hashes", body.Rule, cursor, cur.Rule)
	}
	err = appendEvent(b, HubOrigin, 0, Event{ID: body.ID, Time: body.Time.UTC(), Actor: body.Actor, Action: ActionChainRule,
		Object: "events/chain-rule", Outcome: "ok", Reason: reason, Data: data})
	return ChainRuleResult{Rule: body.Rule, Changed: true, Cursor: r.Cursor}, err
}

// ChainEvent is e in the canonical field set of every audit chain: Sequence
// is seq, Reason is detail; Cursor (the hub's global order) and Origin (the
// chain's name) are not part of it.
func (e Event) ChainEvent() transfer.Event {
	return transfer.Event{Seq: e.Sequence, Time: e.Time, Actor: e.Actor, Action: e.Action, Object: e.Object, Outcome: e.Outcome,
		Detail: e.Reason, ID: e.ID, Role: e.Role, CorrelationID: e.CorrelationID, Data: e.Data, PrevHash: e.PrevHash, Hash: e.Hash}
}

// eventFromChain is the stored form of an event an origin chained itself
// (an edge's): its fields, prev_hash and hash exactly as the origin sent
// them.
func eventFromChain(origin string, e transfer.Event) Event {
	return Event{Time: e.Time, Origin: origin, Sequence: e.Seq, Actor: e.Actor, Role: e.Role, Action: e.Action, Object: e.Object,
		CorrelationID: e.CorrelationID, Outcome: e.Outcome, Reason: e.Detail, ID: e.ID, Data: e.Data, PrevHash: e.PrevHash, Hash: e.Hash}
}

// EventHash is e's hash by the rule of every audit chain (rule 2):
// transfer.EventHash of e.ChainEvent().
func EventHash(e Event) (string, error) { return transfer.EventHash(e.ChainEvent()) }

// legacyEventHash is e's hash by rule 1.
func legacyEventHash(e Event) string {
	e.Cursor, e.Hash = 0, ""
	j, _ := json.Marshal(e)
	sum := sha256.Sum256(j)
	return hex.EncodeToString(sum[:])
}

// ingestChained appends events an edge chained and hashed itself, with its
// hashes: they continue the edge's chain from head (the hub's copy of it,
// SiteSync.Chain), verified by the caller with transfer.VerifyChain. The
// hub's own chain of the origin must end where head does; a
// *transfer.ChainError says it does not, and nothing is written.
func ingestChained(b Batch, origin string, head transfer.ChainHead, evs []transfer.Event) (IngestResult, error) {
	var res IngestResult
	l, err := openLedger(b, origin)
	if err != nil {
		return res, err
	}
	// Where the hub's chain of origin ends, and the hash the next event
	// must link to. A chain last appended under rule 1 holds the hub's
	// re-hashes; the edge's own hash of its last event is head.Hash (and
	// that event's data.edge_hash).
	var end uint64
	link := transfer.GenesisHash
	if l.head.Count > 0 {
		end, link = l.head.LastSeq, l.head.LastHash
		if l.head.Rule < ChainRuleCanonical {
			link = head.Hash
		}
	}
	if end != head.Seq || link != head.Hash || l.head.Contig != l.head.LastSeq || l.head.MaxSeq != l.head.LastSeq {
		return res, &transfer.ChainError{Origin: origin, Seq: head.Seq + 1, Reason: fmt.Sprintf("the hub's chain of %s (%d events, "+
			"last sequence %d) does not end at the edge's event %d: it holds events posted through events:batch before the edge was enrolled",
			origin, l.head.Count, l.head.LastSeq, head.Seq)}
	}
	// Every event is checked before the first write.
	stored := make([]Event, len(evs))
	for i, te := range evs {
		if te.Seq != head.Seq+uint64(i)+1 || te.PrevHash != link {
			return res, &transfer.ChainError{Origin: origin, Seq: te.Seq, Reason: "does not continue the hub's chain of " + origin}
		}
		e := eventFromChain(origin, te)
		if h, err := EventHash(e); err != nil || h != e.Hash {
			return res, &transfer.ChainError{Origin: origin, Seq: te.Seq, Reason: "hash does not recompute (the event was edited)"}
		}
		stored[i], link = e, te.Hash
	}
	for _, e := range stored {
		h := e.Hash
		e.Hash = ""
		body, err := json.Marshal(e)
		if err != nil {
			return res, err
		}
		e.Hash = h
		l.head.Count++
		l.head.Contig, l.head.Rule = e.Sequence, ChainRuleCanonical
		c, err := l.store(b, e, body)
		if err != nil {
			return res, err
		}
		if res.FirstCursor == 0 {
			res.FirstCursor = c
		}
		res.LastCursor = c
		res.Accepted++
	}
	return res, l.close(b)
}

// ChainVerifier checks a hub's event log fed to Add in cursor order from
// its first event (State.Events, GET /v1/events): cursors run 1, 2, 3, ...
// with no gap; each origin's chain links (prev_hash is the origin's
// previous hash, "" before its first event under rule 1, GenesisHash
// under rule 2); each hash recomputes by the rule the event was written
// under: rule 1 before the hub's chain-rule event, rule 2 from it on. Where
// an edge's chain crosses the boundary, its first rule-2 event links to the
// edge's own hash of the one before, which that rule-1 event holds in
// data.edge_hash. A fork, an edit or a dropped event is reported, as a
// *transfer.ChainError, at the first event that shows it.
type ChainVerifier struct {
	cursor   uint64 // the last cursor seen
	rule     int
	boundary uint64
	chains   map[string]*verifiedChain
	origins  []string
}

type verifiedChain struct {
	ChainSummary
	last     Event
	lastRule int
}

// ChainSummary is one origin's chain as a ChainVerifier saw it.
type ChainSummary struct {
	Origin string `json:"origin"`
	Events uint64 `json:"events"`
	// Rule1Events were hashed by rule 1 (before the chain-rule event).
	Rule1Events  uint64 `json:"rule1_events"`
	LastSequence uint64 `json:"last_sequence"`
	LastHash     string `json:"last_hash"`
}

// NewChainVerifier returns a verifier expecting the log's first event.
func NewChainVerifier() *ChainVerifier {
	return &ChainVerifier{rule: ChainRuleLegacy, chains: map[string]*verifiedChain{}}
}

// Add checks e, the next event of the log.
func (v *ChainVerifier) Add(e Event) error {
	fail := func(format string, args ...any) error {
		return &transfer.ChainError{Origin: e.Origin, Seq: e.Sequence, Reason: fmt.Sprintf("cursor %d: ", e.Cursor) + fmt.Sprintf(format, args...)}
	}
	if e.Cursor != v.cursor+1 {
		return fail("expected cursor %d (an event is missing from the log, or the log is out of order)", v.cursor+1)
	}
	rule := v.rule
	if rule < ChainRuleCanonical && e.Origin == HubOrigin && e.Action == ActionChainRule {
		rule = ChainRuleCanonical
	}
	c := v.chains[e.Origin]
	if c == nil {
		c = &verifiedChain{ChainSummary: ChainSummary{Origin: e.Origin}}
	}
	var links []string
	switch {
	case c.Events == 0 && rule < ChainRuleCanonical:
		links = []string{""}
	case c.Events == 0:
		links = []string{transfer.GenesisHash}
	default:
		links = []string{c.last.Hash}
		if c.lastRule < ChainRuleCanonical && rule >= ChainRuleCanonical {
			var d struct {
				EdgeHash string `json:"edge_hash"`
			}
			if json.Unmarshal(c.last.Data, &d) == nil && d.EdgeHash != "" {
				links = append(links, d.EdgeHash)
			}
		}
	}
	if !slices.Contains(links, e.PrevHash) {
		return fail("prev_hash %s does not link to the previous event of %s (%s)", clip(e.PrevHash), e.Origin, clip(links[0]))
	}
	var got string
	if rule >= ChainRuleCanonical {
		h, err := EventHash(e)
		if err != nil {
			return fail("%v", err)
		}
		got = h
	} else {
		got = legacyEventHash(e)
	}
	if got != e.Hash {
		return fail("hash %s, recomputed by rule %d %s (the event was edited)", clip(e.Hash), rule, clip(got))
	}
	if rule != v.rule {
		v.rule, v.boundary = rule, e.Cursor
	}
	if c.Events == 0 {
		v.chains[e.Origin] = c
		v.origins = append(v.origins, e.Origin)
	}
	c.Events++
	if rule < ChainRuleCanonical {
		c.Rule1Events++
	}
	c.LastSequence, c.LastHash, c.last, c.lastRule = e.Sequence, e.Hash, e, rule
	v.cursor = e.Cursor
	return nil
}

// Boundary is the cursor of the chain-rule event, 0 before one was seen.
func (v *ChainVerifier) Boundary() uint64 { return v.boundary }

// Chains summarises every origin's chain, in order of first appearance.
func (v *ChainVerifier) Chains() []ChainSummary {
	out := make([]ChainSummary, len(v.origins))
	for i, o := range v.origins {
		out[i] = v.chains[o].ChainSummary
	}
	return out
}

// VerifyChains checks a whole log (from cursor 1) with a ChainVerifier.
func VerifyChains(events []Event) ([]ChainSummary, error) {
	v := NewChainVerifier()
	for _, e := range events {
		if err := v.Add(e); err != nil {
			return nil, err
		}
	}
	return v.Chains(), nil
}

func clip(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}
