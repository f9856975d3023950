package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// stateVersion is the version of the state file's schema.
const stateVersion = 1

// state is everything an edge knows besides object bytes and keys. It is
// one JSON file replaced atomically (internal/atomicfile), so every change
// of an import, export or refusal commits in one step (edge/DESIGN.md).
type state struct {
	Version  int    `json:"version"`
	Site     string `json:"site"`
	HubKeyID string `json:"hub_key_id"`
	// HubKeys are the hub keys trusted now, from the last hub-keys record
	// applied (the current key and a staged next one); empty: only the
	// enrolment key DIR/edge/hub.pub.
	HubKeys []transfer.KeyRef `json:"hub_keys,omitempty"`
	EdgeKey string            `json:"edge_key_id"`

	Applied     Applied   `json:"applied"`
	TrustedTime time.Time `json:"trusted_time,omitzero"` // newest hub time seen
	// LastMediaImport is when a bundle carried on media was last applied
	// (edge import); network rounds do not move it.
	LastMediaImport time.Time `json:"last_media_import,omitzero"`

	// Held maps each object the edge holds (applied bundles' objects) to
	// its size. encoding/json writes map keys sorted.
	Held map[digest.Digest]int64 `json:"held"`

	Intents    map[string]deploy.Intent         `json:"intents"`
	Approvals  map[string]deploy.ApprovalRecord `json:"approvals"`
	Exceptions map[string]deploy.Exception      `json:"exceptions"`

	// Artifacts (by artifactKey) and APT assignments (by aptKey) are
	// replaced whole by every applied bundle: hub records are complete.
	// Installed is the publication the mirror serves per aptKey; it lags
	// APT after a failed install until a later import or serve start
	// reconciles it.
	Artifacts map[string]deploy.Artifact         `json:"artifacts"`
	APT       map[string]transfer.APTPublication `json:"apt"`
	Installed map[string]digest.Digest           `json:"installed"`

	// SiteInfo, Apps (by id) and Risks (by intent id) are what offline
	// admission needs besides intents and approvals; replaced whole by
	// every applied bundle too.
	SiteInfo *transfer.SiteInfo            `json:"site_info,omitempty"`
	Apps     map[string]deploy.Application `json:"apps,omitempty"`
	Risks    map[string]deploy.Assessment  `json:"risks,omitempty"`

	// VulnFeed is the vulnerability feed the edge holds (the file is a
	// held object): replaced by a bundle bringing a new one, kept by a
	// bundle that carries none.
	VulnFeed *VulnFeed `json:"vuln_feed,omitempty"`

	// Orders (by intent id) are the hub's orders for the site-local
	// planes, replaced whole by every applied bundle; Executions (by
	// intent id) the edge's reports of them, sent in every export
	// (execute.go).
	Orders     map[string]transfer.Order           `json:"orders,omitempty"`
	Executions map[string]transfer.ExecutionReport `json:"executions,omitempty"`

	// Chain is the head of the edge's own event chain; Pending are the
	// events the hub has not acknowledged, in order.
	// Acked is the last event the hub acknowledged (seq 0 and the genesis
	// hash for none): Pending continues the chain from it.
	Chain   transfer.ChainHead `json:"chain"`
	Acked   transfer.ChainHead `json:"acked"`
	Pending []transfer.Event   `json:"pending"`

	// Export is the edge's own outgoing sequence: Seq is the last sequence
	// reserved, Digest the digest of the last bundle written.
	Export struct {
		Seq    uint64        `json:"seq"`
		Digest digest.Digest `json:"digest,omitempty"`
	} `json:"export"`
}

// Applied is the last hub bundle the edge applied.
type Applied struct {
	Seq      uint64        `json:"seq"`
	Digest   digest.Digest `json:"digest,omitempty"`
	BundleID string        `json:"bundle_id,omitempty"`
	At       time.Time     `json:"at,omitzero"`
}

func newState(site, hubKeyID, edgeKeyID string) *state {
	return &state{
		Version: stateVersion, Site: site, HubKeyID: hubKeyID, EdgeKey: edgeKeyID,
		Held: map[digest.Digest]int64{}, Intents: map[string]deploy.Intent{},
		Approvals: map[string]deploy.ApprovalRecord{}, Exceptions: map[string]deploy.Exception{},
		Artifacts: map[string]deploy.Artifact{}, APT: map[string]transfer.APTPublication{}, Installed: map[string]digest.Digest{},
		Chain: transfer.ChainHead{Hash: transfer.GenesisHash}, Acked: transfer.ChainHead{Hash: transfer.GenesisHash}, Pending: []transfer.Event{},
	}
}

func statePath(edgeDir string) string { return filepath.Join(edgeDir, "state.json") }

// loadState reads and checks the state file. ErrNotInitialised if absent.
func loadState(edgeDir string) (*state, error) {
	p := statePath(edgeDir)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist (run 'eucora edge init')", ErrNotInitialised, p)
	}
	if err != nil {
		return nil, err
	}
	var st state
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrState, p, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("%w: %s: version %d, this build reads %d", ErrState, p, st.Version, stateVersion)
	}
	if st.Held == nil || st.Intents == nil || st.Approvals == nil || st.Exceptions == nil {
		return nil, fmt.Errorf("%w: %s: missing maps", ErrState, p)
	}
	// State files written before artifacts and APT assignments existed.
	if st.Artifacts == nil {
		st.Artifacts = map[string]deploy.Artifact{}
	}
	if st.APT == nil {
		st.APT = map[string]transfer.APTPublication{}
	}
	if st.Installed == nil {
		st.Installed = map[string]digest.Digest{}
	}
	// The pending events must continue the chain from the last
	// acknowledged event to the recorded head: an edited, dropped or
	// reordered event is caught here.
	head, err := transfer.VerifyChain(st.Site, st.Acked, st.Pending)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrState, p, err)
	}
	if head != st.Chain {
		return nil, fmt.Errorf("%w: %s: pending events end at event %d, the chain head is %d", ErrState, p, head.Seq, st.Chain.Seq)
	}
	return &st, nil
}

// save replaces the state file atomically.
func (st *state) save(edgeDir string) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(statePath(edgeDir), append(b, '\n'), 0o600)
}

// appendEvent seals e onto the chain and queues it for the hub.
func (st *state) appendEvent(e transfer.Event) (transfer.Event, error) {
	e.Seq = st.Chain.Seq + 1
	if err := e.Seal(st.Chain.Hash); err != nil {
		return e, err
	}
	st.Chain = transfer.ChainHead{Seq: e.Seq, Hash: e.Hash}
	st.Pending = append(st.Pending, e)
	return e, nil
}

// heldSummary counts the held objects and digests their sorted list.
func (st *state) heldSummary() transfer.HeldObjects { return st.heldSummaryOf(st.heldList()) }

// heldSummaryOf is heldSummary given ds, the state's heldList.
func (st *state) heldSummaryOf(ds []digest.Digest) transfer.HeldObjects {
	var bytes int64
	for _, n := range st.Held {
		bytes += n
	}
	return transfer.HeldObjects{Count: int64(len(ds)), Bytes: bytes, ListDigest: transfer.HeldListDigest(ds)}
}

// artifactKey is the state's key of an artifact: app/version@sha256-hex.
func artifactKey(a deploy.Artifact) string { return a.AppID + "/" + a.Version + "@" + a.SHA256.Hex() }

// aptKey is the state's key of an APT assignment: "prefix dist".
func aptKey(p transfer.APTPublication) string { return p.Prefix + " " + p.Dist }

// heldList is every held digest, sorted ascending.
func (st *state) heldList() []digest.Digest {
	ds := make([]digest.Digest, 0, len(st.Held))
	for d := range st.Held {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds
}
