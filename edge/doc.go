// Package edge is the appliance at a remote site: local store, content
// serving, sync with the hub over network or media, offline enforcement.
//
// Init creates an edge in a data directory (its Ed25519 key pair, the one
// trusted hub key, an empty state); Open opens it. Import verifies and
// applies a hub bundle, refusing older, replayed, foreign, tampered,
// expired and unknown-key bundles, and records every attempt in the edge's
// own audit hash chain. Export writes a bundle for the hub with a signed
// receipt and every unacknowledged event. Status summarises the state.
// Admit runs the deploy package's offline admission rules on a held
// intent with the approvals and exceptions the edge holds.
//
// edge/DESIGN.md states the invariants and the threat model;
// docs/sync-records.md the record formats shared with the hub.
package edge
