package api

import (
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/transfer"
)

// NodeStatus is one member in a Status.
type NodeStatus struct {
	ID        string `json:"id"`
	RaftAddr  string `json:"raft_addr"`
	HTTPAddr  string `json:"http_addr"`
	Suffrage  string `json:"suffrage"`
	Reachable bool   `json:"reachable"`
}

// Status is GET /v1/status: the answering node's view of the cluster.
type Status struct {
	NodeID       string       `json:"node_id"`
	LeaderID     string       `json:"leader_id"`
	LeaderHTTP   string       `json:"leader_http"`
	State        string       `json:"state"`
	Term         uint64       `json:"term"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"`
	Halted       string       `json:"halted,omitempty"`
	Nodes        []NodeStatus `json:"nodes"`
}

// JoinRequest is POST /v1/cluster/join.
type JoinRequest struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// RetiredKey is a former hub signing key, public half only.
type RetiredKey struct {
	KeyID     string    `json:"key_id"`
	PublicPEM string    `json:"public_pem"`
	RetiredAt time.Time `json:"retired_at"`
}

// HubKey is GET /v1/hub/key: the public half of the hub's Ed25519 signing
// key, which edges trust for bundles, evidence and time.
type HubKey struct {
	KeyID     string `json:"key_id"`
	PublicPEM string `json:"public_pem"`
	// Next is a staged key (announced to edges, not yet signing);
	// Previous are retired keys, oldest first.
	Next     *transfer.KeyRef `json:"next,omitempty"`
	Previous []RetiredKey     `json:"previous,omitempty"`
}

// KeySwitchRequest is POST /v1/hub/key/switch.
type KeySwitchRequest struct {
	// Force switches although some enrolled sites have not applied a
	// bundle announcing the staged key.
	Force bool `json:"force,omitempty"`
}

// TokenRequest is POST /v1/tokens.
type TokenRequest struct {
	Name  string       `json:"name"`
	Role  deploy.Role  `json:"role"`
	Scope deploy.Scope `json:"scope"`
}

// Token is a token as GET /v1/tokens lists it: never its secret or hash.
// Token holds the secret only in the answer of POST /v1/tokens, the one
// time it is shown.
type Token struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Role      deploy.Role  `json:"role"`
	Scope     deploy.Scope `json:"scope"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by,omitempty"`
	RevokedAt *time.Time   `json:"revoked_at,omitempty"`
	Token     string       `json:"token,omitempty"`
}
