package store

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// ReconcileSeenBody records devices reconciliation saw with a release
// installed, by intent id: the memory that finds a device reverted by
// hand (EUCORA-architecture.md section 5.6), kept in the store so a new
// leader finds reverts from its first pass. The set only grows; a body
// holds only what a pass saw for the first time.
type ReconcileSeenBody struct {
	Seen map[string][]string `json:"seen"`
}

// maxSeenPerCommand bounds the devices one command may add.
const maxSeenPerCommand = 1 << 20

func applyReconcileSeen(b Batch, body ReconcileSeenBody) (any, error) {
	n := 0
	intents := make([]string, 0, len(body.Seen))
	for id, ds := range body.Seen {
		if id == "" || len(ds) == 0 {
			return nil, fmt.Errorf("%w: seen: an intent id with at least one device", ErrInvalid)
		}
		for _, d := range ds {
			if d == "" {
				return nil, fmt.Errorf("%w: seen[%s]: an empty device id", ErrInvalid, id)
			}
		}
		if n += len(ds); n > maxSeenPerCommand {
			return nil, fmt.Errorf("%w: seen: more than %d devices in one command", ErrInvalid, maxSeenPerCommand)
		}
		intents = append(intents, id)
	}
	sort.Strings(intents) // the batch is written in one order on every node
	added := 0
	for _, id := range intents {
		have, err := getRec[[]string](b, seenKey(id), "seen "+id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		merged := append(slices.Clone(have), body.Seen[id]...)
		slices.Sort(merged)
		merged = slices.Compact(merged)
		if len(merged) == len(have) {
			continue
		}
		added += len(merged) - len(have)
		if err := setJSON(b, seenKey(id), merged); err != nil {
			return nil, err
		}
	}
	return added, nil
}

// InstalledSeen lists, sorted, the devices reconciliation has seen with
// the intent's release installed (none before the first).
func (s *State) InstalledSeen(intent string) (out []string, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, seenKey(intent), &out) })
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return out, err
}
