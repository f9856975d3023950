package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eucora/eucora/deploy"
)

// Batch is the write set one apply works on. Get sees earlier Sets of the
// same batch. The FSM passes a Pebble indexed batch; recovery tools may pass
// anything that keeps this contract.
type Batch interface {
	Get(key []byte) ([]byte, error) // ErrNotFound when absent
	Set(key, value []byte) error
	Delete(key []byte) error // deleting an absent key is not an error
}

// Processor applies decoded commands to a Batch. It is deterministic: the
// result depends only on the command and the batch's prior contents. It
// checks every precondition before its first Set, so a refused command
// writes nothing but (where it carries one) its audit event.
type Processor struct{}

// Process applies cmd. The returned value is the command's result; the error
// is a domain error (ErrConflict, ErrNotFound, ErrInvalid) or an
// *UnsupportedCommandError, on which the caller must halt.
func (Processor) Process(b Batch, cmd Command) (any, error) {
	if v, ok := supported[cmd.Type]; !ok || cmd.Version < 1 || cmd.Version > v {
		return nil, &UnsupportedCommandError{Type: cmd.Type, Version: cmd.Version}
	}
	res, err := apply(b, cmd)
	if cmd.Audit != nil {
		a := *cmd.Audit
		if a.Outcome == "" {
			a.Outcome, a.Reason = outcomeOf(err)
			// A site bundle merged before is audited as the duplicate it
			// is, not as a second "ok" import.
			if r, ok := res.(*SiteImportResult); ok && err == nil && r.Outcome == ImportDuplicate {
				a.Outcome, a.Reason = ImportDuplicate, fmt.Sprintf("bundle sequence %d was merged before: nothing changed", r.Sequence)
			}
		}
		if aerr := appendEvent(b, HubOrigin, 0, Event{
			ID: a.ID, Time: a.Time.UTC(), Actor: a.Actor, Role: a.Role, Action: a.Action, Object: a.Object,
			CorrelationID: a.CorrelationID, Outcome: a.Outcome, Reason: a.Reason,
		}); aerr != nil {
			return nil, aerr
		}
	}
	return res, err
}

func outcomeOf(err error) (string, string) {
	switch {
	case err == nil:
		return "ok", ""
	case errors.Is(err, deploy.ErrDenied):
		return "denied", err.Error()
	case errors.Is(err, ErrConflict):
		return "conflict", err.Error()
	case errors.Is(err, ErrNotFound):
		return "not-found", err.Error()
	default:
		return "failed", err.Error()
	}
}

func decode[T any](cmd Command) (T, error) {
	var v T
	if err := json.Unmarshal(cmd.Body, &v); err != nil {
		return v, fmt.Errorf("%w: %s body: %v", ErrInvalid, cmd.Type, err)
	}
	return v, nil
}

func exists(b Batch, k []byte) (bool, error) {
	_, err := b.Get(k)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func setJSON(b Batch, k []byte, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Set(k, j)
}

func setUint(b Batch, k []byte, n uint64) error {
	return b.Set(k, binary.BigEndian.AppendUint64(nil, n))
}

// ValidName reports whether s is a valid site, origin or node name: 1-63
// characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit
// (the regexp `^[a-z0-9][a-z0-9._-]{0,62}$`). The rule is deploy's, which
// an edge applies too when it is initialised.
func ValidName(s string) bool { return deploy.ValidName(s) }

// ValidateSite checks a site record's fields, naming the bad one.
func ValidateSite(s Site) error {
	if !ValidName(s.Name) {
		return fmt.Errorf("%w: name %q: want 1-63 characters of a-z, 0-9, '.', '_', '-'", ErrInvalid, s.Name)
	}
	if s.Name == HubOrigin {
		return fmt.Errorf("%w: name %q is reserved for the hub itself", ErrInvalid, s.Name)
	}
	switch s.Class {
	case ClassOnline, ClassIntermittent, ClassAirGapped:
	default:
		return fmt.Errorf("%w: class %q: want online, intermittent or air-gapped", ErrInvalid, s.Class)
	}
	if err := s.Scope.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func apply(b Batch, cmd Command) (any, error) {
	switch cmd.Type {
	case CmdAuditRecord:
		return nil, noteImportRefusal(b, cmd.Audit)
	case CmdNodeUpsert:
		n, err := decode[Node](cmd)
		if err != nil {
			return nil, err
		}
		if n.ID == "" || n.RaftAddr == "" || n.HTTPAddr == "" {
			return nil, fmt.Errorf("%w: node needs id, raft_addr and http_addr", ErrInvalid)
		}
		return nil, setJSON(b, nodeKey(n.ID), n)
	case CmdNodeRemove:
		n, err := decode[NodeRemoveBody](cmd)
		if err != nil {
			return nil, err
		}
		// Deletion of a node record is an overwrite with a tombstone-free
		// delete; membership history lives in the event log.
		return nil, b.Delete(nodeKey(n.ID))
	case CmdIdentityInit:
		id, err := decode[Identity](cmd)
		if err != nil {
			return nil, err
		}
		var cur Identity
		if raw, err := b.Get(keyIdentity); err == nil {
			// Created once: later inits are no-ops returning the first.
			if err := json.Unmarshal(raw, &cur); err != nil {
				return nil, err
			}
			return cur, nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if id.KeyID == "" || id.PrivatePEM == "" || id.PeerSecret == "" {
			return nil, fmt.Errorf("%w: identity needs key_id, private_pem and peer_secret", ErrInvalid)
		}
		return id, setJSON(b, keyIdentity, id)
	case CmdSiteCreate:
		s, err := decode[Site](cmd)
		if err != nil {
			return nil, err
		}
		if err := ValidateSite(s); err != nil {
			return nil, err
		}
		if ok, err := exists(b, siteKey(s.Name)); err != nil {
			return nil, err
		} else if ok {
			return nil, fmt.Errorf("site %q: %w", s.Name, ErrConflict)
		}
		return s, setJSON(b, siteKey(s.Name), s)
	case CmdTokenCreate:
		t, err := decode[Token](cmd)
		if err != nil {
			return nil, err
		}
		if _, err := deploy.ParseRole(string(t.Role)); err != nil {
			return nil, fmt.Errorf("%w: role: %v", ErrInvalid, err)
		}
		if t.ID == "" || len(t.Hash) != 64 {
			return nil, fmt.Errorf("%w: token needs id and a sha256 hash", ErrInvalid)
		}
		if ok, err := exists(b, tokenKey(t.ID)); err != nil {
			return nil, err
		} else if ok {
			return nil, fmt.Errorf("token %q: %w", t.ID, ErrConflict)
		}
		if ok, err := exists(b, hashKey(t.Hash)); err != nil {
			return nil, err
		} else if ok {
			return nil, fmt.Errorf("token secret: %w", ErrConflict)
		}
		if err := setJSON(b, tokenKey(t.ID), t); err != nil {
			return nil, err
		}
		return t, b.Set(hashKey(t.Hash), []byte(t.ID))
	case CmdTokenRevoke:
		r, err := decode[TokenRevokeBody](cmd)
		if err != nil {
			return nil, err
		}
		raw, err := b.Get(tokenKey(r.ID))
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("token %q: %w", r.ID, ErrNotFound)
		} else if err != nil {
			return nil, err
		}
		var t Token
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, err
		}
		if t.RevokedAt != nil {
			return t, nil // revoking twice is a no-op
		}
		at := r.Time.UTC()
		t.RevokedAt = &at
		return t, setJSON(b, tokenKey(t.ID), t)
	case CmdBlobRegister:
		bl, err := decode[Blob](cmd)
		if err != nil {
			return nil, err
		}
		if len(bl.Digest) != 64 || bl.Size < 0 {
			return nil, fmt.Errorf("%w: blob needs a sha256 hex digest and a size", ErrInvalid)
		}
		var cur Blob
		if err := getJSON(batchGetter{b}, blobKey(bl.Digest), &cur); err == nil {
			for _, h := range bl.Holders {
				if !slices.Contains(cur.Holders, h) {
					cur.Holders = append(cur.Holders, h)
				}
			}
			return cur, setJSON(b, blobKey(bl.Digest), cur)
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return bl, setJSON(b, blobKey(bl.Digest), bl)
	case CmdEventsIngest:
		body, err := decode[EventsIngestBody](cmd)
		if err != nil {
			return nil, err
		}
		return ingest(b, body)
	case CmdAppCreate, CmdVersionCreate, CmdArtifactCreate, CmdVersionTransition, CmdAssessmentCreate,
		CmdApprovalCreate, CmdExceptionCreate, CmdIntentCreate, CmdIntentPublish, CmdIntentPromote,
		CmdEvidenceRecord, CmdElevationDecide, CmdAppScopeChange:
		return applyGovernance(b, cmd)
	case CmdSiteEnroll, CmdSiteAssign, CmdExportReserve, CmdExportRecord, CmdSiteImport:
		return applySiteSync(b, cmd)
	case CmdKeyStage, CmdKeySwitch:
		return applyKeyRotation(b, cmd)
	}
	return nil, &UnsupportedCommandError{Type: cmd.Type, Version: cmd.Version}
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
}

type batchGetter struct{ b Batch }

func (g batchGetter) Get(k []byte) ([]byte, ioCloser, error) {
	v, err := g.b.Get(k)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errPebbleNotFound
	}
	return v, nopCloser{}, err
}

// ledger appends events of one origin: it reads the chain head and the
// global cursor once and writes them back once.
type ledger struct {
	origin string
	head   chainHead
	cursor uint64
}

func openLedger(b Batch, origin string) (*ledger, error) {
	l := &ledger{origin: origin}
	if err := getJSON(batchGetter{b}, chainKey(origin), &l.head); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	var err error
	l.cursor, err = getUint(batchGetter{b}, keyCursor)
	return l, err
}

// append links e into the chain and the global log. A zero seq means
// "next in the origin's chain" (the hub's own events).
func (l *ledger) append(b Batch, seq uint64, e Event) (uint64, error) {
	l.head.Count++
	if seq == 0 {
		seq = l.head.Count
	}
	e.Origin, e.Sequence, e.PrevHash, e.Cursor, e.Hash = l.origin, seq, l.head.LastHash, 0, ""
	// The stored value is the hash followed by the very bytes it covers,
	// so each event is encoded once.
	body, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(body)
	e.Hash = hex.EncodeToString(sum[:])
	l.cursor++
	e.Cursor = l.cursor
	l.head.LastHash, l.head.LastSeq = e.Hash, seq
	l.head.MaxSeq = max(l.head.MaxSeq, seq)
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
	if len(v) < 64 || len(key) != 10 {
		return e, fmt.Errorf("event %x: corrupt record", key)
	}
	if err := json.Unmarshal(v[64:], &e); err != nil {
		return e, fmt.Errorf("event %x: %w", key, err)
	}
	e.Hash = string(v[:64])
	e.Cursor = binary.BigEndian.Uint64(key[2:])
	return e, nil
}

// EventHash is the chain hash of e: hex SHA-256 of its JSON encoding with
// Cursor and Hash zeroed. PrevHash links it to its predecessor of the same
// origin.
func EventHash(e Event) string {
	e.Cursor, e.Hash = 0, ""
	j, _ := json.Marshal(e)
	sum := sha256.Sum256(j)
	return hex.EncodeToString(sum[:])
}

// VerifyChain checks that events (of one origin, in order, starting at the
// origin's first event or after prev) link correctly. It returns the index of
// the first bad event, or -1.
func VerifyChain(prev string, events []Event) int {
	for i, e := range events {
		if e.PrevHash != prev || EventHash(e) != e.Hash {
			return i
		}
		prev = e.Hash
	}
	return -1
}

// NowUTC is the proposer's clock, truncated to microseconds so JSON round
// trips are exact.
func NowUTC() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
