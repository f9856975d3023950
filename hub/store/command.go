package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/transfer"
)

// Errors returned by the store and by the command processor. Handlers turn
// them into HTTP statuses; nothing else inspects their text.
var (
	// ErrNotLeader is returned when a write or a linearizable read reaches a
	// node that is not the leader.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrNotFound is returned when a record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a create names a record that exists.
	ErrConflict = errors.New("already exists")
	// ErrHalted is returned by every apply after this node met a command it
	// does not understand: it stops applying rather than diverge.
	ErrHalted = errors.New("state machine halted on an unsupported command; upgrade this node")
	// ErrInvalid is returned for a command whose contents break a rule.
	ErrInvalid = errors.New("invalid command")
)

// UnsupportedCommandError reports a command type or version this binary does
// not implement. The FSM refuses it and halts (see DESIGN.md).
type UnsupportedCommandError struct {
	Type    string
	Version int
}

func (e *UnsupportedCommandError) Error() string {
	return fmt.Sprintf("unsupported command %q version %d", e.Type, e.Version)
}

// Command types: the whole vocabulary of the Raft log. Each has exactly
// one version today; a change to a body's meaning is a new version, and old
// versions stay decodable. Each type has one handler, in the table of the
// domain named beside it (see handlerTables in processor.go).
const (
	// cluster (cluster.go)
	CmdNodeUpsert = "node.upsert"
	CmdNodeRemove = "node.remove"

	// identity (identity.go)
	CmdIdentityInit = "identity.init"
	CmdKeyStage     = "identity.key.stage"
	CmdKeySwitch    = "identity.key.switch"

	// tokens (tokens.go)
	CmdTokenCreate = "token.create"
	CmdTokenRevoke = "token.revoke"

	// sites (sites.go)
	CmdSiteCreate = "site.create"
	CmdSiteEnroll = "site.enroll"
	CmdSiteAssign = "site.assign"

	// sync (sitesync.go, docs/sync-protocol.md)
	CmdExportReserve = "site.export.reserve"
	CmdExportRecord  = "site.export.record"
	CmdSiteImport    = "site.import"

	// execution at sites (siteexec.go)
	CmdSiteOrder = "site.order"

	// planes (planes.go)
	CmdPlaneCreate = "plane.create"

	// events (events.go)
	CmdEventsIngest = "events.ingest"
	CmdAuditRecord  = "audit.record"
	CmdChainRule    = "events.chain-rule"

	// blobs (blobs.go)
	CmdBlobRegister = "blob.register"

	// Governance (governance.go). catalog (governance_catalog.go):
	CmdAppCreate         = "gov.app.create"
	CmdVersionCreate     = "gov.version.create"
	CmdArtifactCreate    = "gov.artifact.create"
	CmdVersionTransition = "gov.version.transition"
	CmdAppScopeChange    = "gov.app.scope"
	// review (governance_review.go):
	CmdAssessmentCreate = "gov.assessment.create"
	CmdApprovalCreate   = "gov.approval.create"
	CmdExceptionCreate  = "gov.exception.create"
	CmdElevationDecide  = "gov.elevation.decide"
	// intents (governance_intents.go):
	CmdIntentCreate   = "gov.intent.create"
	CmdIntentPublish  = "gov.intent.publish"
	CmdIntentPromote  = "gov.intent.promote"
	CmdEvidenceRecord = "gov.evidence.record"

	CmdVulnFeedImport = "factory.vuln-feed"
	CmdCodeSignRoot   = "factory.codesign-root"
	CmdSigningKey     = "factory.signing-key"

	// The orchestrator's records (rollout.go).
	CmdRingTargets     = "rollout.ring-targets"
	CmdRolloutSave     = "rollout.save"
	CmdRolloutControl  = "rollout.control"
	CmdRolloutValidate = "rollout.rollback-validated"
	CmdIncidentCreate  = "ops.incident.create"
	CmdDriftRecord     = "rollout.drift"
	CmdDriftPolicySet  = "rollout.drift-policy"
	CmdReconcileSeen   = "rollout.reconcile-seen"
)

// supported maps each command type to the highest version this binary
// applies.
var supported = map[string]int{
	CmdNodeUpsert: 1, CmdNodeRemove: 1,
	CmdIdentityInit: 1, CmdKeyStage: 1, CmdKeySwitch: 1,
	CmdTokenCreate: 1, CmdTokenRevoke: 1,
	CmdSiteCreate: 1, CmdSiteEnroll: 1, CmdSiteAssign: 1,
	CmdExportReserve: 1, CmdExportRecord: 1, CmdSiteImport: 1, CmdSiteOrder: 1,
	CmdPlaneCreate:  1,
	CmdEventsIngest: 1, CmdAuditRecord: 1, CmdChainRule: 1,
	CmdBlobRegister: 1,
	CmdAppCreate:    1, CmdVersionCreate: 1, CmdArtifactCreate: 1, CmdVersionTransition: 1, CmdAppScopeChange: 1,
	CmdAssessmentCreate: 1, CmdApprovalCreate: 1, CmdExceptionCreate: 1, CmdElevationDecide: 1,
	CmdIntentCreate: 1, CmdIntentPublish: 1, CmdIntentPromote: 1, CmdEvidenceRecord: 1,
	CmdVulnFeedImport: 1, CmdCodeSignRoot: 1, CmdSigningKey: 1,
	CmdRingTargets: 1, CmdRolloutSave: 1, CmdRolloutControl: 1, CmdRolloutValidate: 1,
	CmdIncidentCreate: 1, CmdDriftRecord: 1, CmdDriftPolicySet: 1, CmdReconcileSeen: 1,
}

// Command is the envelope of every Raft log entry. Everything the FSM needs
// (ids, times, hashes) is inside it: Apply never reads a clock or a random
// source.
type Command struct {
	Type    string          `json:"type"`
	Version int             `json:"v"`
	Audit   *AuditInput     `json:"audit,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
}

// NewCommand builds a version-1 command with body encoded as JSON.
func NewCommand(typ string, body any, audit *AuditInput) (Command, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Command{}, err
	}
	return Command{Type: typ, Version: supported[typ], Audit: audit, Body: b}, nil
}

// AuditInput is the audit event a write carries; the processor appends it to
// the hub's chain with the outcome of the write.
type AuditInput struct {
	ID            string    `json:"id"`
	Time          time.Time `json:"time"`
	Actor         string    `json:"actor,omitempty"`
	Role          string    `json:"role,omitempty"`
	Action        string    `json:"action"`
	Object        string    `json:"object,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	// Outcome is preset for denied requests; otherwise the processor sets
	// "ok" or the failure class of the write.
	Outcome string `json:"outcome,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Node is a cluster member's addresses.
type Node struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// Identity is the hub's cluster-wide identity, created once at bootstrap:
// its Ed25519 signing key (edges will trust its public half) and the secret
// nodes use to authenticate to each other.
type Identity struct {
	KeyID      string    `json:"key_id"`
	PrivatePEM string    `json:"private_pem"`
	PublicPEM  string    `json:"public_pem"`
	PeerSecret string    `json:"peer_secret"`
	CreatedAt  time.Time `json:"created_at"`
	// Next is a staged key, announced to edges before it signs anything;
	// Previous are retired keys (public halves), oldest first.
	Next     *KeyPair     `json:"next,omitempty"`
	Previous []RetiredKey `json:"previous,omitempty"`
}

// Site classes.
const (
	ClassOnline       = "online"
	ClassIntermittent = "intermittent"
	ClassAirGapped    = "air-gapped"
)

// Site is a remote location served by an edge. Its sync state is a
// separate record (SiteSync).
type Site struct {
	Name      string       `json:"name"`
	Class     string       `json:"class"`
	Scope     deploy.Scope `json:"scope"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by,omitempty"`
	EdgeKeyID string       `json:"edge_key_id,omitempty"`
	// EdgeKeyPEM is the enrolled edge's public key: the only key whose
	// bundles the hub accepts from this site.
	EdgeKeyPEM string `json:"edge_key_pem,omitempty"`
	// APT are the APT publications the site serves.
	APT []APTAssignment `json:"apt,omitempty"`
}

// Token is an API credential. Only the SHA-256 of the secret is stored.
type Token struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Role      deploy.Role  `json:"role"`
	Scope     deploy.Scope `json:"scope"`
	Hash      string       `json:"hash"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by,omitempty"`
	RevokedAt *time.Time   `json:"revoked_at,omitempty"`
}

// Blob is the record of a blob acknowledged as durable on a majority.
type Blob struct {
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	Holders   []string  `json:"holders"`
	CreatedAt time.Time `json:"created_at"`
}

// Event is one entry of the append-only audit log. Cursor orders the whole
// log at the hub; Origin/Sequence identify it in its origin's chain, whose
// hashes link each event to the previous one of the same origin.
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

// HubOrigin is the origin of events the hub writes itself.
const HubOrigin = transfer.HubEndpoint

// Command bodies.
type (
	// NodeRemoveBody removes a node record.
	NodeRemoveBody struct {
		ID string `json:"id"`
	}
	// TokenRevokeBody revokes a token at a time chosen by the proposer.
	TokenRevokeBody struct {
		ID   string    `json:"id"`
		Time time.Time `json:"time"`
	}
	// IngestEvent is one event of an origin's batch.
	IngestEvent struct {
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
	// EventsIngestBody is a batch of events from one origin, applied in one
	// Raft entry and deduplicated by (origin, sequence).
	EventsIngestBody struct {
		Origin string        `json:"origin"`
		Events []IngestEvent `json:"events"`
	}
)

// IngestResult is what an events.ingest apply returns.
type IngestResult struct {
	Accepted    int    `json:"accepted"`
	Duplicates  int    `json:"duplicates"`
	FirstCursor uint64 `json:"first_cursor,omitempty"`
	LastCursor  uint64 `json:"last_cursor,omitempty"`
}

// NowUTC is the proposer's clock, truncated to microseconds so JSON round
// trips are exact.
func NowUTC() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
