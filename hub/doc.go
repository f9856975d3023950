// Package hub is EUCORA's control plane server: the Raft-replicated system
// of record (package hub/store), its authenticated HTTP API with one RBAC
// table (routes.go), proposing and forwarding to the Raft leader
// (cluster.go), blob replication to a majority before acknowledgement
// (blobs.go), site sync (package hub/sitesync, served by sitesync.go) and
// consistent backups (backup.go). See DESIGN.md beside this
// file for the invariants and the threat model, and docs/api.md for the API.
package hub
