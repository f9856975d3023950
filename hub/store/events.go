package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/eucora/eucora/transfer"
)

// eventHandlers apply the audit log: batches of events from an origin's
// chain (an edge's), deduplicated by (origin, sequence), and audit
// records. Every audited command of any table also appends its own event
// to the hub's chain (Processor.Process).
var eventHandlers = map[string]handler{
	CmdEventsIngest: withBody(applyEventsIngest),
	CmdAuditRecord:  applyAuditRecord,
	CmdChainRule:    withBody(applyChainRule),
}

func applyEventsIngest(b Batch, body EventsIngestBody) (any, error) { return ingest(b, body) }

// applyAuditRecord writes nothing itself: Process appends the audit event
// it carries. A refused site import also notes the refusal in the site's
// sync state.
func applyAuditRecord(b Batch, cmd Command) (any, error) {
	return nil, noteImportRefusal(b, cmd.Audit)
}

// ValidateIngest checks a batch's fields, naming the first bad one.
func ValidateIngest(body EventsIngestBody) error {
	if !ValidName(body.Origin) || body.Origin == HubOrigin {
		return fmt.Errorf("%w: origin %q: want a site name", ErrInvalid, body.Origin)
	}
	for i, e := range body.Events {
		switch {
		case e.Sequence == 0:
			return fmt.Errorf("%w: events[%d].sequence: must be >= 1", ErrInvalid, i)
		case e.Action == "":
			return fmt.Errorf("%w: events[%d].action: required", ErrInvalid, i)
		case e.Time.IsZero():
			return fmt.Errorf("%w: events[%d].time: required", ErrInvalid, i)
		case e.Outcome == "":
			return fmt.Errorf("%w: events[%d].outcome: required", ErrInvalid, i)
		}
	}
	return nil
}

func ingest(b Batch, body EventsIngestBody) (IngestResult, error) {
	var res IngestResult
	if err := ValidateIngest(body); err != nil {
		return res, err
	}
	l, err := openLedger(b, body.Origin)
	if err != nil {
		return res, err
	}
	for _, e := range body.Events {
		seq := e.Sequence
		if seq <= l.head.Contig {
			res.Duplicates++ // below the contiguous watermark: seen
			continue
		}
		k := dedupKey(body.Origin, seq)
		if seq <= l.head.MaxSeq {
			if ok, err := exists(b, k); err != nil {
				return res, err
			} else if ok {
				res.Duplicates++
				continue
			}
		}
		if seq == l.head.Contig+1 {
			// In order: advance the watermark, absorbing any sequences
			// that arrived early (their markers).
			l.head.Contig = seq
			for l.head.MaxSeq > l.head.Contig {
				ok, err := exists(b, dedupKey(body.Origin, l.head.Contig+1))
				if err != nil {
					return res, err
				}
				if !ok {
					break
				}
				l.head.Contig++
			}
		} else if err := b.Set(k, nil); err != nil {
			return res, err
		}
		id := e.ID
		if id == "" {
			id = fmt.Sprintf("%s-%d", body.Origin, e.Sequence)
		}
		c, err := l.append(b, e.Sequence, Event{
			ID: id, Time: e.Time.UTC(), Actor: e.Actor, Role: e.Role, Action: e.Action, Object: e.Object,
			CorrelationID: e.CorrelationID, Outcome: e.Outcome, Reason: e.Reason, Data: e.Data,
		})
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

// chainHead is the newest event of one origin's chain at the hub.
type chainHead struct {
	Count    uint64 `json:"count"`
	LastHash string `json:"last_hash"`
	LastSeq  uint64 `json:"last_seq"`
	// Dedup state: every sequence <= Contig was accepted; a sequence above
	// MaxSeq was not; between them a d/ marker records each accepted one.
	// In-order batches therefore need no lookups and no markers.
	Contig uint64 `json:"contig"`
	MaxSeq uint64 `json:"max_seq"`
	// Rule is the hash rule of the newest event: absent (0) for a chain
	// last appended under rule 1, before the chain-rule command.
	Rule int `json:"rule,omitempty"`
}

// ledger appends events of one origin: it reads the chain head, the
// global cursor and the chain rule once and writes the head and cursor
// back once.
type ledger struct {
	origin string
	head   chainHead
	cursor uint64
	rule   int // the hash rule new events get (chainRuleOf)
}

func openLedger(b Batch, origin string) (*ledger, error) {
	l := &ledger{origin: origin}
	if err := getJSON(batchGetter{b}, chainKey(origin), &l.head); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	r, err := chainRuleOf(b)
	if err != nil {
		return nil, err
	}
	l.rule = r.Rule
	l.cursor, err = getUint(batchGetter{b}, keyCursor)
	return l, err
}

// append links e into the chain and the global log, hashing it by the
// current rule. A zero seq means "next in the origin's chain" (the hub's
// own events).
func (l *ledger) append(b Batch, seq uint64, e Event) (uint64, error) {
	l.head.Count++
	if seq == 0 {
		seq = l.head.Count
	}
	e.Origin, e.Sequence, e.PrevHash, e.Cursor, e.Hash = l.origin, seq, l.head.LastHash, 0, ""
	// The stored value is the hash followed by the event's JSON (cursor
	// and hash zero), each event encoded once; under rule 1 those are the
	// very bytes the hash covers.
	var h string
	var err error
	if l.rule >= ChainRuleCanonical {
		if e.PrevHash == "" {
			e.PrevHash = transfer.GenesisHash
		}
		if h, err = EventHash(e); err != nil {
			return 0, err
		}
		l.head.Rule = ChainRuleCanonical
	}
	body, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	if l.rule < ChainRuleCanonical {
		sum := sha256.Sum256(body)
		h = hex.EncodeToString(sum[:])
	}
	e.Hash = h
	return l.store(b, e, body)
}

// store writes e (hashed, its JSON in body) under the next cursor and
// makes it the chain's newest event.
func (l *ledger) store(b Batch, e Event, body []byte) (uint64, error) {
	l.cursor++
	e.Cursor = l.cursor
	l.head.LastHash, l.head.LastSeq = e.Hash, e.Sequence
	l.head.MaxSeq = max(l.head.MaxSeq, e.Sequence)
	return e.Cursor, b.Set(eventKey(e.Cursor), append([]byte(e.Hash), body...))
}

func (l *ledger) close(b Batch) error {
	if err := setJSON(b, chainKey(l.origin), l.head); err != nil {
		return err
	}
	return setUint(b, keyCursor, l.cursor)
}

func appendEvent(b Batch, origin string, seq uint64, e Event) error {
	l, err := openLedger(b, origin)
	if err != nil {
		return err
	}
	if _, err := l.append(b, seq, e); err != nil {
		return err
	}
	return l.close(b)
}

// decodeEvent reads a stored event: 64 hex characters of hash, then the
// JSON the hash covers (with cursor and hash zero); the cursor is the key's.
func decodeEvent(key, v []byte) (Event, error) {
	var e Event
	cursor, ok := eventCursor(key)
	if len(v) < 64 || !ok {
		return e, fmt.Errorf("event %x: corrupt record", key)
	}
	if err := json.Unmarshal(v[64:], &e); err != nil {
		return e, fmt.Errorf("event %x: %w", key, err)
	}
	e.Hash = string(v[:64])
	e.Cursor = cursor
	return e, nil
}
