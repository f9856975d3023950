package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/transfer"
)

// The edge's media refusals map to the documented exit codes.
func TestEdgeImportRefusalExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{fmt.Errorf("import: %w", &edge.TimeAheadError{BundleID: "b", What: "created time", Time: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}), exitStale},
		{fmt.Errorf("import: %w: source %q", edge.ErrForeignSource, "par"), exitStale},
		{fmt.Errorf("import: %w", &edge.SpaceError{BundleID: "b", Dir: "/x", Need: transfer.SpaceNeed{Parts: 10, Joined: 10}, Free: 5}), exitNoSpace},
		{fmt.Errorf("import: %w", &transfer.CorruptError{Volume: "v", Entry: "objects/x", Reason: "hash mismatch"}), exitCorrupt},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
