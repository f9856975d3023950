package api

import (
	"encoding/json"
	"time"
)

// Event is one entry of the hub's append-only audit log. Cursor orders the
// whole log at the hub; Origin and Sequence identify it in its origin's
// chain, whose hashes link each event to the previous one of the origin.
type Event struct {
	Cursor        uint64          `json:"cursor"`
	ID            string          `json:"id"`
	Time          time.Time       `json:"time"`
	Origin        string          `json:"origin"`
	Sequence      uint64          `json:"sequence"`
	Actor         string          `json:"actor,omitempty"`
	Role          string          `json:"role,omitempty"`
	Action        string          `json:"action"`
	Object        string          `json:"object,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Outcome       string          `json:"outcome"`
	Reason        string          `json:"reason,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
	PrevHash      string          `json:"prev_hash"`
	Hash          string          `json:"hash"`
}

// EventPage is GET /v1/events: events after a cursor, and the cursor to
// ask for next.
type EventPage struct {
	Events []Event `json:"events"`
	Next   string  `json:"next"`
}

// IngestEvent is one event of an origin's batch.
type IngestEvent struct {
	Sequence      uint64          `json:"sequence"`
	ID            string          `json:"id"`
	Time          time.Time       `json:"time"`
	Actor         string          `json:"actor,omitempty"`
	Role          string          `json:"role,omitempty"`
	Action        string          `json:"action"`
	Object        string          `json:"object,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Outcome       string          `json:"outcome"`
	Reason        string          `json:"reason,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
}

// EventsIngest is POST /v1/events:batch: a batch of events from one origin,
// deduplicated by (origin, sequence).
type EventsIngest struct {
	Origin string        `json:"origin"`
	Events []IngestEvent `json:"events"`
}

// IngestResult is the answer of POST /v1/events:batch.
type IngestResult struct {
	Accepted    int    `json:"accepted"`
	Duplicates  int    `json:"duplicates"`
	FirstCursor uint64 `json:"first_cursor,omitempty"`
	LastCursor  uint64 `json:"last_cursor,omitempty"`
}
