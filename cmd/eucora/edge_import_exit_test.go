package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// An edge whose trusted time was moved to 2099 refuses a fresh hub bundle
// as expired and names the recovery; 'edge import --reset-trusted-time'
// with that bundle applies it and brings the trusted time back.
func TestEdgeCLIResetTrustedTime(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
	writeTree(t, filepath.Join(dir, "src1"), 1, 2, 3000)
	writeTree(t, filepath.Join(dir, "src2"), 2, 2, 3000)
	hubBundle(t, dir, "src1", "b1", "keys/hub.key", "lon", "1")
	hubBundle(t, dir, "src2", "b2", "keys/hub.key", "lon", "2")
	mustRun(t, dir, "edge", "init", "--data", "data", "--site", "lon", "--hub-key", "keys/hub.pub")
	mustRun(t, dir, "edge", "import", "--data", "data", "b1")
	// What a 2099 hub time did to an edge before the bound existed.
	p := filepath.Join(dir, "data", "edge", "state.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st["trusted_time"] = "2099-01-01T00:00:00Z"
	b, _ = json.Marshal(st)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := eucora(t, dir, "edge", "import", "--data", "data", "b2")
	if r.code != exitStale || !strings.Contains(r.stderr, "--reset-trusted-time") {
		t.Fatalf("bricked import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mustRun(t, dir, "edge", "import", "--data", "data", "--reset-trusted-time", "b2")
	if !strings.Contains(r.stdout, "applied bundle") || !strings.Contains(r.stdout, "trusted time reset from 2099-01-01T00:00:00Z") {
		t.Fatalf("reset import: %s", r.stdout)
	}
	b, _ = os.ReadFile(p)
	var after struct {
		TrustedTime time.Time `json:"trusted_time"`
	}
	if err := json.Unmarshal(b, &after); err != nil || after.TrustedTime.IsZero() || after.TrustedTime.Year() >= 2099 {
		t.Fatalf("trusted time after the reset: %v %v", after.TrustedTime, err)
	}
}
