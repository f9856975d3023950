package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/hub/client"
)

func TestMediaSyncCLI(t *testing.T) {
	url, tok := startHub(t)
	h := []string{"--hub", url, "--token", tok}
	tmp := t.TempDir()
	run := func(want int, args ...string) string {
		t.Helper()
		if args[0] != "edge" {
			args = append(args, h...)
		}
		out, code := runHubCLI(t, args...)
		if code != want {
			t.Fatalf("eucora %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return out
	}
	hubKey := filepath.Join(tmp, "hub.pub")
	run(0, "hub", "key", "--out", hubKey)
	lon, imposter := filepath.Join(tmp, "lon"), filepath.Join(tmp, "imposter")
	run(0, "edge", "init", "--data", lon, "--site", "lon", "--hub-key", hubKey)
	run(0, "edge", "init", "--data", imposter, "--site", "lon", "--hub-key", hubKey)
	if out := run(0, "site", "add", "lon", "--class", "air-gapped", "--edge-key", filepath.Join(lon, "edge.pub")); !strings.Contains(out, "edge key") {
		t.Fatalf("site add --edge-key: %q", out)
	}

	// Hub -> edge on a folder standing in for a USB stick.
	usb := filepath.Join(tmp, "usb")
	var x struct {
		Export struct {
			Sequence uint64 `json:"sequence"`
		} `json:"export"`
		Files []string `json:"files"`
	}
	if err := json.Unmarshal([]byte(run(0, "hub", "export", "--site", "lon", "--out", usb, "-o", "json")), &x); err != nil || x.Export.Sequence != 1 || len(x.Files) != 1 {
		t.Fatalf("hub export: %v %+v", err, x)
	}
	if out := run(0, "edge", "import", "--data", lon, usb); !strings.Contains(out, "applied") {
		t.Fatalf("edge import: %q", out)
	}

	// Edge -> hub.
	back := filepath.Join(tmp, "back")
	run(0, "edge", "export", "--data", lon, "--out", back)
	var ir struct {
		Outcome        string `json:"outcome"`
		EventsAccepted int    `json:"events_accepted"`
		LastAppliedSeq uint64 `json:"last_applied_seq"`
	}
	if err := json.Unmarshal([]byte(run(0, "hub", "import", back, "-o", "json")), &ir); err != nil || ir.Outcome != "applied" || ir.EventsAccepted != 1 || ir.LastAppliedSeq != 1 {
		t.Fatalf("hub import: %v %+v", err, ir)
	}
	if out := run(0, "hub", "import", back); !strings.Contains(out, "duplicate") {
		t.Fatalf("second hub import: %q", out)
	}

	// A bundle claiming to be lon, signed by another key: exit 20.
	forged := filepath.Join(tmp, "forged")
	run(0, "edge", "export", "--data", imposter, "--out", forged)
	run(exitBadSignature, "hub", "import", forged)
	// A damaged volume: exit 21.
	run(0, "edge", "export", "--data", lon, "--out", filepath.Join(tmp, "back2"))
	vols, _ := filepath.Glob(filepath.Join(tmp, "back2", "*"))
	b, _ := os.ReadFile(vols[0])
	b[600] ^= 1 // inside the first entry's payload
	os.WriteFile(vols[0], b, 0o644)
	run(exitCorrupt, "hub", "import", vols[0])

	var st struct {
		LastExportedSeq uint64 `json:"last_exported_seq"`
		LastAppliedSeq  uint64 `json:"last_applied_seq"`
		EventsReceived  uint64 `json:"events_received"`
		ChainOK         bool   `json:"chain_ok"`
		Stale           bool   `json:"stale"`
		TTC             int64  `json:"time_to_compliance_seconds"`
	}
	if err := json.Unmarshal([]byte(run(0, "site", "status", "lon", "-o", "json")), &st); err != nil || st.LastExportedSeq != 1 ||
		st.LastAppliedSeq != 1 || st.EventsReceived != 1 || !st.ChainOK || st.Stale || st.TTC != 7*24*3600 {
		t.Fatalf("site status: %v %+v", err, st)
	}
	if out := run(0, "site", "status"); !strings.Contains(out, "lon") || !strings.Contains(out, "air-gapped") {
		t.Fatalf("site status table: %q", out)
	}
	run(exitUsage, "site", "assign", "lon", "--apt", "nodist")
	var gc struct {
		Removed int `json:"removed"`
		Kept    int `json:"kept"`
	}
	if err := json.Unmarshal([]byte(run(0, "edge", "gc", "--data", lon, "-o", "json")), &gc); err != nil || gc.Removed != 0 {
		t.Fatalf("edge gc with nothing to collect: %v %+v", err, gc)
	}
}

// TestImportRefusalExitCodes: a hub's refusal of a site's bundle exits as
// the same refusal would locally, whatever HTTP status carries it; other
// 4xx answers of the hub keep their classes.
func TestImportRefusalExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  *client.APIError
		want int
	}{
		{&client.APIError{Status: 422, Code: "unknown_key"}, exitBadSignature},
		{&client.APIError{Status: 422, Code: "bad_signature"}, exitBadSignature},
		{&client.APIError{Status: 422, Code: "corrupt"}, exitCorrupt},
		{&client.APIError{Status: 422, Code: "foreign"}, exitStale},
		{&client.APIError{Status: 422, Code: "expired"}, exitStale},
		{&client.APIError{Status: 409, Code: "stale"}, exitStale},
		// The site's edge key is not enrolled: a key not initialised.
		{&client.APIError{Status: 422, Code: "not_enrolled"}, exitNotInit},
		{&client.APIError{Status: 422, Code: "missing_volume"}, exitMissingVol},
		{&client.APIError{Status: 422, Code: "no_such_code"}, exitCorrupt},
		{&client.APIError{Status: 400}, exitCorrupt},
		{&client.APIError{Status: 413}, exitCorrupt},
	} {
		if got := exitCode(fmt.Errorf("hub import: %w", c.err)); got != c.want {
			t.Errorf("%d %q: exit %d, want %d", c.err.Status, c.err.Code, got, c.want)
		}
	}
}
