// Package sitesync is the hub's side of site sync (docs/sync-protocol.md):
// it plans what a site should hold from the replicated records and this
// node's APT publications, writes the site's export bundles and finds their
// files again, and verifies the bundles an edge sends back before they are
// merged.
//
// It runs on one hub node and knows neither HTTP nor Raft: the hub hands it
// a read view of the replicated state (State), a way to commit commands
// (Proposer), the audit event of the request at hand (Audit), and this
// node's id, key, content store and mirror as plain values. The invariants
// it keeps are in hub/DESIGN.md, "Site sync".
package sitesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// State is what site sync reads of the replicated state. Reads see
// committed state only; *store.State implements it.
type State interface {
	// Identity is the hub's identity: its current and staged keys.
	Identity() (store.Identity, error)
	// SiteSync is a site's sync state (the zero state before any exchange).
	SiteSync(site string) (store.SiteSync, error)
	// Export is one recorded export of a site; store.ErrNotFound if none.
	Export(site string, seq uint64) (store.ExportRecord, error)
	// HeldList is what the site's last held list said it holds (nil
	// before any arrived).
	HeldList(site string) ([]digest.Digest, error)

	// The governance records a site's bundles carry.
	Intents() ([]store.IntentRecord, error)
	App(id string) (store.AppRecord, error)
	Assessment(id string) (store.AssessmentRecord, error)
	Artifacts(app, version string) ([]store.ArtifactRecord, error)
	Approvals() ([]deploy.ApprovalRecord, error)
	Exceptions() ([]deploy.Exception, error)
	// VulnFeed is the current offline vulnerability feed for id "";
	// an error wrapping store.ErrNotFound when none was imported.
	VulnFeed(id string) (store.VulnFeed, error)
	// SiteOrders are the orders for the site's local planes.
	SiteOrders(site string) ([]transfer.Order, error)
}

// Proposer commits commands to the replicated state.
type Proposer interface {
	// Propose commits cmd and returns its result value as JSON once it is
	// applied. The error is the processor's (store.ErrConflict,
	// store.ErrStale, store.ErrInvalid, ...), store.ErrNotLeader, or an
	// unknown outcome (leadership lost after proposing): the command may
	// or may not have been applied.
	Propose(ctx context.Context, cmd store.Command) (json.RawMessage, error)
}

// ProposeFunc adapts a function to Proposer.
type ProposeFunc func(ctx context.Context, cmd store.Command) (json.RawMessage, error)

// Propose calls f.
func (f ProposeFunc) Propose(ctx context.Context, cmd store.Command) (json.RawMessage, error) {
	return f(ctx, cmd)
}

// Audit returns the audit event a command of the request at hand carries
// (who asks, correlation id, a new event id and time) for action on object.
// It is called once per command.
type Audit func(action, object string) *store.AuditInput

// Config is one node's side of site sync.
type Config struct {
	// NodeID is this node's id: exports record the node whose disk holds
	// them, and only this node's are served or reused.
	NodeID string
	// Dir holds this node's exports, Dir/SITE/SEQ (DIR/hub/exports).
	Dir string
	// MirrorDir is this node's APT mirror (mirror.OpenRepo); assigned
	// publications are read from it.
	MirrorDir string
	// CAS is this node's content store: exported objects are read from it
	// and every exported record is put in it.
	CAS *cas.Store
	// Key returns the hub's current signing key on this node (it changes
	// on a key switch).
	Key func() (*signing.PrivateKey, error)
	// State and Proposer are the replicated state and the way to change it.
	State    State
	Proposer Proposer
	// Now is the clock of expiry checks and export times (default
	// store.NowUTC).
	Now func() time.Time
}

// Syncer is one node's side of site sync. It is safe for concurrent use.
type Syncer struct {
	cfg Config
	// exportIndex caches, per "site/seq" export on this node's disk, the
	// objects its manifest lists.
	exportIndex sync.Map
	// pubObjects caches the object lists of APT publications by digest
	// (publications are content-addressed: immutable).
	pubObjects sync.Map
}

// New returns the Syncer of cfg.
func New(cfg Config) *Syncer {
	if cfg.Now == nil {
		cfg.Now = store.NowUTC
	}
	return &Syncer{cfg: cfg}
}

// WithState returns a Syncer like x that reads st instead (for example a
// reader that keeps what it read for the span of one request).
func (x *Syncer) WithState(st State) *Syncer {
	c := x.cfg
	c.State = st
	return New(c)
}

// Errors of Export and Import, by what the caller should answer; each
// error of these kinds reads as the whole explanation (the kind adds no
// words to it). Errors of none of these kinds come from the state or a
// proposal (see Proposer).
var (
	// ErrNotEnrolled: the site has no enrolled edge key, so it cannot
	// take bundles yet.
	ErrNotEnrolled = errors.New("site has no enrolled edge key")
	// ErrUnplannable: what the site should hold cannot be computed from
	// the records and this node's mirror (an assigned publication not
	// published here, an intent naming an artifact its version lacks).
	ErrUnplannable = errors.New("cannot plan the export")
	// ErrUnavailable: something the export needs is not on this node: an
	// object the site lacks, the hub key.
	ErrUnavailable = errors.New("not available on this node")
	// ErrNoSpace: this node's disk has no room for the export.
	ErrNoSpace = errors.New("no space for the export")
	// ErrInternal: this node failed (writing files, encoding); not the
	// request's nor the state's fault.
	ErrInternal = errors.New("internal failure")
)

// kindError is an error of one of the kinds above; its text is err's.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func kindf(kind error, format string, args ...any) error {
	return &kindError{kind, fmt.Errorf(format, args...)}
}

func kinded(kind, err error) error { return &kindError{kind, err} }

// propose commits a command of typ on object carrying audit's event.
func (x *Syncer) propose(ctx context.Context, audit Audit, typ, object string, body any) (json.RawMessage, error) {
	cmd, err := store.NewCommand(typ, body, audit(typ, object))
	if err != nil {
		return nil, kinded(ErrInternal, err)
	}
	return x.cfg.Proposer.Propose(ctx, cmd)
}

func (x *Syncer) exportDir(site string, seq uint64) string {
	return filepath.Join(x.cfg.Dir, site, strconv.FormatUint(seq, 10))
}
