// Package transfer is the transfer bundle format: a signed manifest and
// plain tar volumes, each verifiable alone, streamed in constant memory.
// docs/bundle-format.md specifies the bytes; DESIGN.md in this directory
// states the invariants.
package transfer
