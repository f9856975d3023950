// Package hub is EUCORA's control plane server: the Raft-replicated system
// of record, its authenticated HTTP API with RBAC, and site sync state.
package hub
