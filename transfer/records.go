package transfer

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// Record types carried between hub and edge (docs/sync-records.md). The
// hub sends intent, approval, exception, time and ack records to a site;
// an edge sends receipt and events records to the hub.
const (
	RecordReceipt   = "receipt"
	RecordEvents    = "events"
	RecordTime      = "time"
	RecordAck       = "ack"
	RecordIntent    = "intent"
	RecordApproval  = "approval"
	RecordException = "exception"
	RecordArtifact  = "artifact"    // hub -> edge: deploy.Artifact of an intent, its bytes served as distribution-point content
	RecordAPT       = "apt"         // hub -> edge: an APT publication the edge serves byte-identical
	RecordHeld      = "held"        // edge -> hub: the full list of objects the edge holds
	RecordHubKeys   = "hub-keys"    // hub -> edge: the hub's current signing key and the staged next one
	RecordSite      = "site"        // hub -> edge: the site's own name, class and scope
	RecordApp       = "application" // hub -> edge: catalog entry of an intent's application
	RecordRisk      = "assessment"  // hub -> edge: the risk assessment an intent was published with
	RecordVulnFeed  = "vuln-feed"   // hub -> edge: the hub's signed statement about its current vulnerability feed file
)

// MaxRecordSize caps one record a reader will load and parse.
const MaxRecordSize = 16 << 20

// GenesisHash is the prev_hash of the first event of every origin's chain.
var GenesisHash = strings.Repeat("0", 64)

// ErrBadRecord: a record does not parse or breaks its schema's rules.
var ErrBadRecord = errors.New("malformed record")

// ErrChain: an event chain has a gap, an edit or a broken link.
var ErrChain = errors.New("event chain broken")

// Receipt is what an edge says it holds, signed (inside its bundle) by the
// edge key. The hub derives the site's next delta from it.
type Receipt struct {
	Site          string        `json:"site"`
	AppliedSeq    uint64        `json:"applied_seq"`              // highest hub sequence applied, 0 for none
	AppliedDigest digest.Digest `json:"applied_digest,omitempty"` // digest of that bundle
	Objects       HeldObjects   `json:"objects"`
	ChainHead     ChainHead     `json:"chain_head"`
	Generated     time.Time     `json:"generated"`
}

// HeldObjects summarises the objects an edge holds. ListDigest is
// HeldListDigest of their digests.
type HeldObjects struct {
	Count      int64         `json:"count"`
	Bytes      int64         `json:"bytes"`
	ListDigest digest.Digest `json:"list_digest"`
}

// ChainHead is the last event of an origin's chain: its sequence and
// hash (0 and GenesisHash for an empty chain).
type ChainHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// EventBatch is a contiguous run of one origin's audit events.
type EventBatch struct {
	Origin string  `json:"origin"`
	First  uint64  `json:"first"`
	Last   uint64  `json:"last"`
	Events []Event `json:"events"`
}

// Event is one audit event of an origin's hash chain, at an edge or at the
// hub: its fields are the canonical field set of every audit chain
// (docs/sync-records.md, "Hash chain rule"). Hash is EventHash(the event).
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Object  string    `json:"object"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
	// The hub's own events, and events posted to its API, also carry an
	// id, the caller's role, a correlation id and data; an edge's events
	// leave them empty, and an events record must not carry them.
	ID            string          `json:"id,omitempty"`
	Role          string          `json:"role,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
	PrevHash      string          `json:"prev_hash"`
	Hash          string          `json:"hash"`
}

// TimeAttestation is the hub's current time, signed (inside its bundle) by
// the hub key. An edge never trusts a time older than the newest it saw.
type TimeAttestation struct {
	Hub  string    `json:"hub"`
	Time time.Time `json:"time"`
}

// Ack is the hub acknowledging that it durably holds Origin's events up to
// and including Sequence, whose hash is Hash.
type Ack struct {
	Origin   string `json:"origin"`
	Sequence uint64 `json:"sequence"`
	Hash     string `json:"hash"`
}

// APTPublication names a signed APT publication (mirror package) the
// site serves under Prefix for distribution Dist. The publication manifest
// object and every object it lists travel in the bundle or are already held.
type APTPublication struct {
	Prefix      string        `json:"prefix"`
	Dist        string        `json:"dist"`
	Publication digest.Digest `json:"publication"`
}

// SiteInfo is what the hub says about the site a bundle is for: the edge
// judges intents against its own scope.
type SiteInfo struct {
	Name  string       `json:"name"`
	Class string       `json:"class"`
	Scope deploy.Scope `json:"scope"`
}

// IntentRisk is the risk assessment an intent was published with.
type IntentRisk struct {
	IntentID   string            `json:"intent_id"`
	Assessment deploy.Assessment `json:"assessment"`
}

// HubKeys is the hub's signing keys as a bundle announces them: Current
// signed the bundle; Next, when set, is staged and will sign later bundles.
type HubKeys struct {
	Current KeyRef  `json:"current"`
	Next    *KeyRef `json:"next,omitempty"`
}

// KeyRef is an Ed25519 public key with its id.
type KeyRef struct {
	KeyID     string `json:"key_id"`
	PublicPEM string `json:"public_pem"`
}

// HeldList is every object an edge holds, sorted ascending, no duplicates.
// HeldListDigest(Digests) equals the receipt's objects.list_digest.
type HeldList struct {
	Site    string          `json:"site"`
	Digests []digest.Digest `json:"digests"`
}

// HeldListDigest is the SHA-256 of the held objects' hex digests, sorted
// ascending, each followed by "\n" (the SHA-256 of "" for none). Input
// order does not matter; duplicates count once.
func HeldListDigest(ds []digest.Digest) digest.Digest {
	s := ds
	if !slices.IsSorted(s) {
		s = slices.Clone(ds)
		slices.Sort(s)
	}
	h := digest.New()
	var prev digest.Digest
	for i, d := range s {
		if i > 0 && d == prev {
			continue
		}
		prev = d
		h.Write([]byte(d.Hex() + "\n"))
	}
	return digest.FromHash(h)
}

// eventBody is an event without its hash: the fields EventHash covers.
type eventBody struct {
	Seq           uint64          `json:"seq"`
	Time          time.Time       `json:"time"`
	Actor         string          `json:"actor"`
	Action        string          `json:"action"`
	Object        string          `json:"object"`
	Outcome       string          `json:"outcome"`
	Detail        string          `json:"detail,omitempty"`
	ID            string          `json:"id,omitempty"`
	Role          string          `json:"role,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
	PrevHash      string          `json:"prev_hash"`
}

// CanonicalEvent returns the canonical JSON of e without its hash field
// (deploy.Canonical: keys sorted, no whitespace, '<' '>' '&' literal;
// detail, id, role, correlation_id and data omitted when empty, data also
// when it is JSON null). This is the one definition of what an audit
// event's hash covers, at the edge and at the hub.
func CanonicalEvent(e Event) ([]byte, error) {
	data := e.Data
	if t := bytes.TrimSpace(data); len(t) == 0 || string(t) == "null" {
		data = nil
	}
	body := eventBody{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Object: e.Object,
		Outcome: e.Outcome, Detail: e.Detail, ID: e.ID, Role: e.Role, CorrelationID: e.CorrelationID, Data: data, PrevHash: e.PrevHash}
	if c, ok := canonicalEventFast(body); ok {
		return c, nil
	}
	return deploy.Canonical(body)
}

// canonicalEventFast writes deploy.Canonical(b) directly, keys in sorted
// order, for the common event: no data and valid UTF-8 strings (each
// string encoded as deploy.Canonical encodes it). It reports false for
// anything else, which the general path handles.
// TestCanonicalEventFastPath checks it against deploy.Canonical.
func canonicalEventFast(b eventBody) ([]byte, bool) {
	if b.Data != nil {
		return nil, false
	}
	t, err := b.Time.MarshalJSON() // RFC 3339 digits and punctuation: nothing to escape
	if err != nil {
		return nil, false
	}
	var out, tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	out.Grow(256)
	first := true
	str := func(key, v string, always bool) bool {
		if v == "" && !always {
			return true
		}
		if !utf8.ValidString(v) {
			return false
		}
		tmp.Reset()
		if enc.Encode(v) != nil {
			return false
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		out.WriteString(`"` + key + `":`)
		out.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
		return true
	}
	out.WriteByte('{')
	ok := str("action", b.Action, true) && str("actor", b.Actor, true) && str("correlation_id", b.CorrelationID, false) &&
		str("detail", b.Detail, false) && str("id", b.ID, false) && str("object", b.Object, true) && str("outcome", b.Outcome, true) &&
		str("prev_hash", b.PrevHash, true) && str("role", b.Role, false)
	if !ok {
		return nil, false
	}
	out.WriteString(`,"seq":` + strconv.FormatUint(b.Seq, 10) + `,"time":`)
	out.Write(t)
	out.WriteByte('}')
	return out.Bytes(), true
}

// EventHash is the hash chain rule of every audit chain, the hub's and each
// edge's: hex(sha256(prev_hash || canonical event JSON without hash)),
// prev_hash being its 64 ASCII hex characters (GenesisHash for an origin's
// first event).
func EventHash(e Event) (string, error) {
	c, err := CanonicalEvent(e)
	if err != nil {
		return "", err
	}
	h := digest.New()
	h.Write([]byte(e.PrevHash))
	h.Write(c)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Seal sets e.Time to UTC, e.PrevHash to prev and e.Hash to its hash.
func (e *Event) Seal(prev string) error {
	e.Time = e.Time.UTC()
	e.PrevHash = prev
	h, err := EventHash(*e)
	if err != nil {
		return err
	}
	e.Hash = h
	return nil
}

// ChainError locates a break in an event chain.
type ChainError struct {
	Origin string
	Seq    uint64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("event chain of %s at seq %d: %s", e.Origin, e.Seq, e.Reason)
}

func (e *ChainError) Unwrap() error { return ErrChain }

// VerifyChain checks that events continue the chain whose head is head:
// sequences run head.Seq+1, head.Seq+2, ... with no gap, each event's
// prev_hash is the previous hash (head.Hash for the first) and each hash
// recomputes. A dropped event shows as a gap or a broken link; an edited
// one as a hash mismatch. It returns the new head.
func VerifyChain(origin string, head ChainHead, events []Event) (ChainHead, error) {
	for _, e := range events {
		if e.Seq != head.Seq+1 {
			return head, &ChainError{Origin: origin, Seq: e.Seq, Reason: fmt.Sprintf("expected seq %d (a gap or a reordering)", head.Seq+1)}
		}
		if e.PrevHash != head.Hash {
			return head, &ChainError{Origin: origin, Seq: e.Seq, Reason: fmt.Sprintf("prev_hash %s does not link to the previous hash %s", clipHash(e.PrevHash), clipHash(head.Hash))}
		}
		got, err := EventHash(e)
		if err != nil {
			return head, &ChainError{Origin: origin, Seq: e.Seq, Reason: err.Error()}
		}
		if got != e.Hash {
			return head, &ChainError{Origin: origin, Seq: e.Seq, Reason: fmt.Sprintf("hash %s, recomputed %s (the event was edited)", clipHash(e.Hash), clipHash(got))}
		}
		head = ChainHead{Seq: e.Seq, Hash: e.Hash}
	}
	return head, nil
}

// After returns the events of b that follow head, the receiver's last
// event of b's origin, checked to continue head's chain: batches overlap
// (an edge resends every unacknowledged event), so a receiver merges each
// event exactly once by taking only what follows its head. A batch that
// starts beyond head.Seq+1 is a gap (ChainError: wait for a batch that
// covers it); one whose copy of the head event has another hash is a fork.
// A batch entirely at or behind head returns no events and no error.
func (b EventBatch) After(head ChainHead) ([]Event, error) {
	if len(b.Events) == 0 {
		return nil, nil
	}
	if b.Events[0].Seq > head.Seq+1 {
		return nil, &ChainError{Origin: b.Origin, Seq: b.Events[0].Seq, Reason: fmt.Sprintf("batch starts after a gap: the receiver holds up to %d", head.Seq)}
	}
	var rest []Event
	for _, e := range b.Events {
		switch {
		case e.Seq == head.Seq && e.Hash != head.Hash:
			return nil, &ChainError{Origin: b.Origin, Seq: e.Seq, Reason: fmt.Sprintf("hash %s, the receiver holds %s for this event (a fork or an edit)", clipHash(e.Hash), clipHash(head.Hash))}
		case e.Seq > head.Seq:
			rest = append(rest, e)
		}
	}
	if _, err := VerifyChain(b.Origin, head, rest); err != nil {
		return nil, err
	}
	return rest, nil
}

func clipHash(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

// decodeRecord strictly decodes one JSON object: size-capped, unknown
// fields, duplicate or case-variant keys and trailing data are errors.
func decodeRecord(b []byte, v any, typ string) error {
	if len(b) > MaxRecordSize {
		return fmt.Errorf("%w: %s record of %d bytes exceeds %d", ErrBadRecord, typ, len(b), MaxRecordSize)
	}
	if err := deploy.CheckKeys(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadRecord, typ, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadRecord, typ, err)
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) != 0 {
		return fmt.Errorf("%w: %s: trailing data after the JSON object", ErrBadRecord, typ)
	}
	return nil
}

func badRecord(typ, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBadRecord, typ, fmt.Sprintf(format, args...))
}

func checkHash(typ, field, h string) error {
	if len(h) != 64 || strings.ToLower(h) != h {
		return badRecord(typ, "%s %q: want 64 lower-case hex characters", field, h)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return badRecord(typ, "%s %q: want 64 lower-case hex characters", field, h)
	}
	return nil
}

func checkName(typ, field, v string) error {
	if !validName(v) {
		return badRecord(typ, "%s %q: want 1-128 characters of A-Z a-z 0-9 . _ @ -", field, v)
	}
	return nil
}

func checkUTC(typ, field string, t time.Time) error {
	if t.IsZero() {
		return badRecord(typ, "%s missing", field)
	}
	if t.Location() != time.UTC {
		return badRecord(typ, "%s %s: want UTC (a trailing Z)", field, t.Format(time.RFC3339Nano))
	}
	return nil
}

// ParseReceipt strictly decodes and validates a receipt.
func ParseReceipt(b []byte) (Receipt, error) {
	var r Receipt
	if err := decodeRecord(b, &r, RecordReceipt); err != nil {
		return Receipt{}, err
	}
	if err := checkName(RecordReceipt, "site", r.Site); err != nil {
		return Receipt{}, err
	}
	if (r.AppliedSeq == 0) != (r.AppliedDigest == "") {
		return Receipt{}, badRecord(RecordReceipt, "applied_seq %d and applied_digest %q: both or neither", r.AppliedSeq, r.AppliedDigest)
	}
	if r.AppliedDigest != "" {
		if _, err := digest.Parse(string(r.AppliedDigest)); err != nil {
			return Receipt{}, badRecord(RecordReceipt, "applied_digest: %v", err)
		}
	}
	if r.Objects.Count < 0 || r.Objects.Bytes < 0 {
		return Receipt{}, badRecord(RecordReceipt, "objects: negative count or bytes")
	}
	if _, err := digest.Parse(string(r.Objects.ListDigest)); err != nil {
		return Receipt{}, badRecord(RecordReceipt, "objects.list_digest: %v", err)
	}
	if err := checkHash(RecordReceipt, "chain_head.hash", r.ChainHead.Hash); err != nil {
		return Receipt{}, err
	}
	if r.ChainHead.Seq == 0 && r.ChainHead.Hash != GenesisHash {
		return Receipt{}, badRecord(RecordReceipt, "chain_head: seq 0 must have the genesis hash")
	}
	if err := checkUTC(RecordReceipt, "generated", r.Generated); err != nil {
		return Receipt{}, err
	}
	return r, nil
}

// ParseEventBatch strictly decodes an events record and verifies that its
// events form an unbroken chain from First to Last (the link of the first
// event to the receiver's head is the receiver's to check: VerifyChain).
func ParseEventBatch(b []byte) (EventBatch, error) {
	var eb EventBatch
	if err := decodeRecord(b, &eb, RecordEvents); err != nil {
		return EventBatch{}, err
	}
	if err := checkName(RecordEvents, "origin", eb.Origin); err != nil {
		return EventBatch{}, err
	}
	if len(eb.Events) == 0 {
		return EventBatch{}, badRecord(RecordEvents, "no events")
	}
	if eb.First == 0 || eb.First != eb.Events[0].Seq || eb.Last != eb.Events[len(eb.Events)-1].Seq {
		return EventBatch{}, badRecord(RecordEvents, "first %d and last %d do not match the events (%d..%d)", eb.First, eb.Last, eb.Events[0].Seq, eb.Events[len(eb.Events)-1].Seq)
	}
	for i, e := range eb.Events {
		if err := validateEvent(e); err != nil {
			return EventBatch{}, badRecord(RecordEvents, "events[%d] (seq %d): %v", i, e.Seq, err)
		}
	}
	first := eb.Events[0]
	if first.Seq == 1 && first.PrevHash != GenesisHash {
		return EventBatch{}, badRecord(RecordEvents, "events[0] is seq 1 but prev_hash is not the genesis hash")
	}
	if _, err := VerifyChain(eb.Origin, ChainHead{Seq: first.Seq - 1, Hash: first.PrevHash}, eb.Events); err != nil {
		return EventBatch{}, fmt.Errorf("%w: %s: %w", ErrBadRecord, RecordEvents, err)
	}
	return eb, nil
}

func validateEvent(e Event) error {
	if e.Seq == 0 {
		return errors.New("seq 0: sequences start at 1")
	}
	if e.Time.IsZero() || e.Time.Location() != time.UTC {
		return errors.New("time: missing or not UTC")
	}
	for _, f := range []struct{ name, v string }{{"actor", e.Actor}, {"action", e.Action}, {"outcome", e.Outcome}} {
		if f.v == "" || len(f.v) > 256 {
			return fmt.Errorf("%s: want 1-256 characters", f.name)
		}
	}
	if len(e.Object) > 1024 || len(e.Detail) > 4096 {
		return errors.New("object or detail too long")
	}
	if e.ID != "" || e.Role != "" || e.CorrelationID != "" || e.Data != nil {
		return errors.New("id, role, correlation_id and data are fields of the hub's events, not of an edge's")
	}
	if err := checkHash(RecordEvents, "prev_hash", e.PrevHash); err != nil {
		return err
	}
	return checkHash(RecordEvents, "hash", e.Hash)
}

// ParseTimeAttestation strictly decodes a time record.
func ParseTimeAttestation(b []byte) (TimeAttestation, error) {
	var t TimeAttestation
	if err := decodeRecord(b, &t, RecordTime); err != nil {
		return TimeAttestation{}, err
	}
	if err := checkName(RecordTime, "hub", t.Hub); err != nil {
		return TimeAttestation{}, err
	}
	if err := checkUTC(RecordTime, "time", t.Time); err != nil {
		return TimeAttestation{}, err
	}
	return t, nil
}

// ParseAck strictly decodes an ack record.
func ParseAck(b []byte) (Ack, error) {
	var a Ack
	if err := decodeRecord(b, &a, RecordAck); err != nil {
		return Ack{}, err
	}
	if err := checkName(RecordAck, "origin", a.Origin); err != nil {
		return Ack{}, err
	}
	if a.Sequence == 0 {
		return Ack{}, badRecord(RecordAck, "sequence 0: nothing to acknowledge")
	}
	if err := checkHash(RecordAck, "hash", a.Hash); err != nil {
		return Ack{}, err
	}
	return a, nil
}

// ParseIntentRecord validates an intent record with deploy.ParseIntent.
func ParseIntentRecord(b []byte) (deploy.Intent, error) {
	return parseWith(RecordIntent, b, deploy.ParseIntent)
}

// ParseApprovalRecord validates an approval record with
// deploy.ParseApprovalRecord.
func ParseApprovalRecord(b []byte) (deploy.ApprovalRecord, error) {
	return parseWith(RecordApproval, b, deploy.ParseApprovalRecord)
}

// ParseExceptionRecord validates an exception record with
// deploy.ParseException.
func ParseExceptionRecord(b []byte) (deploy.Exception, error) {
	return parseWith(RecordException, b, deploy.ParseException)
}

// ParseArtifactRecord strictly decodes an artifact record and validates it
// with deploy.Artifact.Validate.
func ParseArtifactRecord(b []byte) (deploy.Artifact, error) {
	var a deploy.Artifact
	if err := decodeRecord(b, &a, RecordArtifact); err != nil {
		return deploy.Artifact{}, err
	}
	if err := a.Validate(); err != nil {
		return deploy.Artifact{}, badRecord(RecordArtifact, "%v", err)
	}
	// ValidatePath refuses backslashes and "." and "..": a name without
	// "/" that passes it is one plain component.
	if strings.Contains(a.Name, "/") || ValidatePath(a.Name) != nil {
		return deploy.Artifact{}, badRecord(RecordArtifact, "name %q: want a plain file name", a.Name)
	}
	return a, nil
}

// ParseAPTPublication strictly decodes an apt record.
func ParseAPTPublication(b []byte) (APTPublication, error) {
	var p APTPublication
	if err := decodeRecord(b, &p, RecordAPT); err != nil {
		return APTPublication{}, err
	}
	if err := ValidatePath(p.Prefix); err != nil {
		return APTPublication{}, badRecord(RecordAPT, "prefix: %v", err)
	}
	if err := ValidatePath(p.Dist); err != nil {
		return APTPublication{}, badRecord(RecordAPT, "dist: %v", err)
	}
	if _, err := digest.Parse(string(p.Publication)); err != nil {
		return APTPublication{}, badRecord(RecordAPT, "publication: %v", err)
	}
	return p, nil
}

// ParseHeldList strictly decodes a held record: digests well formed,
// strictly ascending.
func ParseHeldList(b []byte) (HeldList, error) {
	var h HeldList
	if err := decodeRecord(b, &h, RecordHeld); err != nil {
		return HeldList{}, err
	}
	if err := checkName(RecordHeld, "site", h.Site); err != nil {
		return HeldList{}, err
	}
	for i, d := range h.Digests {
		if _, err := digest.Parse(string(d)); err != nil {
			return HeldList{}, badRecord(RecordHeld, "digests[%d]: %v", i, err)
		}
		if i > 0 && d <= h.Digests[i-1] {
			return HeldList{}, badRecord(RecordHeld, "digests[%d]: not strictly ascending", i)
		}
	}
	if h.Digests == nil {
		h.Digests = []digest.Digest{}
	}
	return h, nil
}

// ParseSiteInfo strictly decodes a site record.
func ParseSiteInfo(b []byte) (SiteInfo, error) {
	var si SiteInfo
	if err := decodeRecord(b, &si, RecordSite); err != nil {
		return SiteInfo{}, err
	}
	if err := checkName(RecordSite, "name", si.Name); err != nil {
		return SiteInfo{}, err
	}
	if _, ok := deploy.TimeToCompliance(deploy.SiteClass(si.Class)); !ok {
		return SiteInfo{}, badRecord(RecordSite, "class %q: want online, intermittent or air-gapped", si.Class)
	}
	if err := si.Scope.Validate(); err != nil {
		return SiteInfo{}, badRecord(RecordSite, "scope: %v", err)
	}
	return si, nil
}

// ParseAppRecord strictly decodes an application record and validates it
// with deploy.Application.Validate.
func ParseAppRecord(b []byte) (deploy.Application, error) {
	var a deploy.Application
	if err := decodeRecord(b, &a, RecordApp); err != nil {
		return deploy.Application{}, err
	}
	if err := a.Validate(); err != nil {
		return deploy.Application{}, badRecord(RecordApp, "%v", err)
	}
	return a, nil
}

// ParseIntentRisk strictly decodes an assessment record.
func ParseIntentRisk(b []byte) (IntentRisk, error) {
	var r IntentRisk
	if err := decodeRecord(b, &r, RecordRisk); err != nil {
		return IntentRisk{}, err
	}
	if r.IntentID == "" || len(r.IntentID) > 128 {
		return IntentRisk{}, badRecord(RecordRisk, "intent_id: want 1-128 characters")
	}
	if r.Assessment.Model == "" {
		return IntentRisk{}, badRecord(RecordRisk, "assessment.model: required")
	}
	return r, nil
}

// ParseHubKeys strictly decodes a hub-keys record: every key parses and
// matches its id, and the next key differs from the current one.
func ParseHubKeys(b []byte) (HubKeys, error) {
	var k HubKeys
	if err := decodeRecord(b, &k, RecordHubKeys); err != nil {
		return HubKeys{}, err
	}
	check := func(field string, r KeyRef) error {
		pub, err := signing.ParsePublic([]byte(r.PublicPEM), field)
		if err != nil {
			return badRecord(RecordHubKeys, "%s: %v", field, err)
		}
		if pub.ID != r.KeyID {
			return badRecord(RecordHubKeys, "%s: key_id %q, the key's id is %s", field, r.KeyID, pub.ID)
		}
		return nil
	}
	if err := check("current", k.Current); err != nil {
		return HubKeys{}, err
	}
	if k.Next != nil {
		if err := check("next", *k.Next); err != nil {
			return HubKeys{}, err
		}
		if k.Next.KeyID == k.Current.KeyID {
			return HubKeys{}, badRecord(RecordHubKeys, "next key is the current key")
		}
	}
	return k, nil
}

// MaxVulnFeedSignatures bounds the signatures of a vuln-feed record.
const MaxVulnFeedSignatures = 8

// ParseVulnFeedStatement strictly decodes a vuln-feed record: a DSSE
// envelope (signing.Envelope) whose payload is the hub's statement about
// its current vulnerability feed file (packaging/vuln FeedStatement: the
// file's sha256, size and feed version; vuln.SignFeed makes it). Only the
// envelope's shape is checked here: base64 payload and 1 to
// MaxVulnFeedSignatures signatures, each with a key id and a base64
// signature. The receiver verifies the signature against the hub keys it
// trusts (vuln.VerifyStatement) and the file against the statement; the
// file itself travels as an object of the bundle, or is already held.
func ParseVulnFeedStatement(b []byte) (*signing.Envelope, error) {
	var env signing.Envelope
	if err := decodeRecord(b, &env, RecordVulnFeed); err != nil {
		return nil, err
	}
	if env.PayloadType == "" {
		return nil, badRecord(RecordVulnFeed, "payloadType missing")
	}
	if _, err := base64.StdEncoding.DecodeString(env.Payload); err != nil || env.Payload == "" {
		return nil, badRecord(RecordVulnFeed, "payload: want standard base64 of the feed statement")
	}
	if len(env.Signatures) == 0 {
		return nil, badRecord(RecordVulnFeed, "no signatures: the statement must be signed by a hub key")
	}
	if len(env.Signatures) > MaxVulnFeedSignatures {
		return nil, badRecord(RecordVulnFeed, "%d signatures, at most %d", len(env.Signatures), MaxVulnFeedSignatures)
	}
	for i, s := range env.Signatures {
		if s.KeyID == "" || len(s.KeyID) > 128 {
			return nil, badRecord(RecordVulnFeed, "signatures[%d].keyid: want 1-128 characters", i)
		}
		if _, err := base64.StdEncoding.DecodeString(s.Sig); err != nil || s.Sig == "" {
			return nil, badRecord(RecordVulnFeed, "signatures[%d].sig: want standard base64", i)
		}
	}
	return &env, nil
}

// parseWith applies the record size limit, then a deploy parser, and
// labels its errors with the record type.
func parseWith[T any](typ string, b []byte, parse func([]byte) (T, error)) (T, error) {
	var zero T
	if len(b) > MaxRecordSize {
		return zero, badRecord(typ, "%d bytes exceeds %d", len(b), MaxRecordSize)
	}
	v, err := parse(b)
	if err != nil {
		return zero, fmt.Errorf("%w: %s: %w", ErrBadRecord, typ, err)
	}
	return v, nil
}

// ReadRecord reads record r's bytes from store (where Bundle.Import put
// them), verifying size and digest, refusing records over MaxRecordSize.
func ReadRecord(store *cas.Store, r Record) ([]byte, error) {
	if r.Size > MaxRecordSize {
		return nil, badRecord(r.Type, "record %s is %d bytes, over the %d byte limit", r.Digest.Short(), r.Size, MaxRecordSize)
	}
	rc, err := store.OpenVerified(r.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s record %s: %w", r.Type, r.Digest.Short(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s record %s: %w", r.Type, r.Digest.Short(), err)
	}
	if int64(len(b)) != r.Size {
		return nil, badRecord(r.Type, "record %s is %d bytes, the manifest says %d", r.Digest.Short(), len(b), r.Size)
	}
	return b, nil
}

// ParseRecord validates b as a record of type typ and returns the parsed
// value. Unknown types return an error wrapping ErrBadRecord.
func ParseRecord(typ string, b []byte) (any, error) {
	switch typ {
	case RecordReceipt:
		return ParseReceipt(b)
	case RecordEvents:
		return ParseEventBatch(b)
	case RecordTime:
		return ParseTimeAttestation(b)
	case RecordAck:
		return ParseAck(b)
	case RecordIntent:
		return ParseIntentRecord(b)
	case RecordApproval:
		return ParseApprovalRecord(b)
	case RecordException:
		return ParseExceptionRecord(b)
	case RecordArtifact:
		return ParseArtifactRecord(b)
	case RecordAPT:
		return ParseAPTPublication(b)
	case RecordHeld:
		return ParseHeldList(b)
	case RecordHubKeys:
		return ParseHubKeys(b)
	case RecordSite:
		return ParseSiteInfo(b)
	case RecordApp:
		return ParseAppRecord(b)
	case RecordRisk:
		return ParseIntentRisk(b)
	case RecordVulnFeed:
		return ParseVulnFeedStatement(b)
	case RecordOrder:
		return ParseOrder(b)
	case RecordExecution:
		return ParseExecutionReport(b)
	}
	return nil, badRecord(typ, "unknown record type")
}

// ValidName reports whether s is a valid source, target, site or origin
// name (1-128 characters of A-Z a-z 0-9 . _ @ -, not starting with a
// punctuation character).
func ValidName(s string) bool { return validName(s) }
