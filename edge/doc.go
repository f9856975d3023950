// Package edge is the appliance at a remote site: local store, content
// serving, sync with the hub over network or media, offline enforcement.
//
// Init creates an edge in a data directory (its Ed25519 key pair, the one
// trusted hub key, an empty state); Open opens it. Import verifies and
// applies a hub bundle from volumes, ApplyManifest one whose manifest and
// objects come over the network (one code path): both refuse older,
// replayed, foreign, tampered, expired, unknown-key and incomplete
// bundles, record every attempt in the edge's own audit hash chain, and
// install the APT publications the bundle assigns. Export writes a bundle
// for the hub with a signed receipt, the held list and every
// unacknowledged event; ExportRequest builds the same for the network.
// Status summarises the state. Admit runs the deploy package's offline
// admission rules on a held intent with the approvals and exceptions the
// edge holds. Server serves APT publications and distribution-point
// content, verified before serving, with metrics; Syncer runs the network
// flow against the hub, with a Bucket bandwidth cap.
//
// edge/DESIGN.md states the invariants and the threat model;
// docs/sync-records.md the record formats shared with the hub and
// docs/sync-protocol.md the hub <-> edge contract.
package edge
