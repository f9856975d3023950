// Package datadir is the one layout of a EUCORA data directory, shared by
// the hub, the edge and the mirror commands (default ./eucora-data):
//
//	cas/      content-addressed objects (package cas)
//	hub/      hub state: Raft log and snapshots, Pebble FSM, keys
//	edge/     edge state: Pebble, keys, import ledger
//	mirror/   APT mirror definitions, snapshots and published trees
//	keys/     keys this node owns
package datadir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Default is the data directory used when --data is not given.
const Default = "eucora-data"

// Dir is a data directory.
type Dir struct{ Root string }

// Open creates (if needed) and returns the data directory at root.
func Open(root string) (Dir, error) {
	if root == "" {
		root = Default
	}
	if err := os.MkdirAll(root, 0o750); err != nil {
		return Dir{}, fmt.Errorf("data directory %s: %w", root, err)
	}
	return Dir{Root: root}, nil
}

// CAS is the content store's directory.
func (d Dir) CAS() string { return filepath.Join(d.Root, "cas") }

// Hub is the hub state directory.
func (d Dir) Hub() string { return filepath.Join(d.Root, "hub") }

// Edge is the edge state directory.
func (d Dir) Edge() string { return filepath.Join(d.Root, "edge") }

// Mirror is the APT mirror state directory.
func (d Dir) Mirror() string { return filepath.Join(d.Root, "mirror") }

// Keys is the directory of keys this node owns.
func (d Dir) Keys() string { return filepath.Join(d.Root, "keys") }
