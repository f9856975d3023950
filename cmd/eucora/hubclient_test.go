package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/hub"
	"github.com/eucora/eucora/hub/hubtest"
)

// TestTokenDiscovery: the CLI finds the bootstrap token in --data and
// EUCORA_DATA as well as ./eucora-data, and a 401 says where it looked
// and how to pass a token.
func TestTokenDiscovery(t *testing.T) {
	dir, url, _ := hubtest.Start(t)
	t.Chdir(t.TempDir()) // no ./eucora-data here

	if out, code := runHubCLI(t, "site", "list", "--hub", url, "--data", dir); code != 0 {
		t.Errorf("--data DIR: exit %d\n%s", code, out)
	}
	t.Setenv("EUCORA_DATA", dir)
	if out, code := runHubCLI(t, "site", "list", "--hub", url); code != 0 {
		t.Errorf("EUCORA_DATA=DIR: exit %d\n%s", code, out)
	}
	os.Unsetenv("EUCORA_DATA")

	out, code := runHubCLI(t, "site", "list", "--hub", url)
	if code != exitDenied {
		t.Fatalf("no token anywhere: exit %d, want %d\n%s", code, exitDenied, out)
	}
	for _, want := range []string{"401", filepath.Join(datadir0, hub.BootstrapTokenFile) + " does not exist", "--data DIR", "EUCORA_DATA", "--token"} {
		if !strings.Contains(out, want) {
			t.Errorf("no token anywhere: message lacks %q:\n%s", want, out)
		}
	}

	out, code = runHubCLI(t, "site", "list", "--hub", url, "--token", "eut_wrong")
	if code != exitDenied || !strings.Contains(out, "--token or EUCORA_TOKEN was refused") {
		t.Errorf("wrong --token: exit %d, want %d and a message naming --token:\n%s", code, exitDenied, out)
	}

	bad := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(bad, []byte("eut_wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = runHubCLI(t, "site", "list", "--hub", url, "--token-file", bad)
	if code != exitDenied || !strings.Contains(out, "read from "+bad+" was refused") {
		t.Errorf("wrong --token-file: exit %d, want %d and a message naming the file:\n%s", code, exitDenied, out)
	}
}

const datadir0 = "eucora-data"

// TestEventsTailFilters: --origin and --outcome keep only matching
// events; --output json writes one JSON object per line.
func TestEventsTailFilters(t *testing.T) {
	dir, url, _ := hubtest.Start(t)
	h := []string{"--hub", url, "--data", dir}
	if out, code := runHubCLI(t, append([]string{"site", "add", "plant-7", "--class", "air-gapped"}, h...)...); code != 0 {
		t.Fatalf("site add: %d %s", code, out)
	}
	if _, code := runHubCLI(t, append([]string{"site", "add", "plant-7", "--class", "air-gapped"}, h...)...); code == 0 {
		t.Fatal("second site add of the same name succeeded")
	}
	lines := func(args ...string) []map[string]any {
		t.Helper()
		out, code := runHubCLI(t, append(append([]string{"events", "tail", "-o", "json"}, args...), h...)...)
		if code != 0 {
			t.Fatalf("events tail %v: exit %d\n%s", args, code, out)
		}
		var evs []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l == "" {
				continue
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("events tail %v: a line is not one JSON object: %q: %v", args, l, err)
			}
			evs = append(evs, e)
		}
		return evs
	}
	all := lines()
	outcomes := map[any]int{}
	for _, e := range all {
		outcomes[e["outcome"]]++
	}
	if outcomes["ok"] == 0 || len(outcomes) < 2 {
		t.Fatalf("want ok and other outcomes in the log, got %v", outcomes)
	}
	for outcome, n := range outcomes {
		got := lines("--outcome", outcome.(string))
		if len(got) != n {
			t.Errorf("--outcome %s: %d events, want %d", outcome, len(got), n)
		}
		for _, e := range got {
			if e["outcome"] != outcome {
				t.Errorf("--outcome %s printed %v", outcome, e)
			}
		}
	}
	if got := lines("--origin", "hub"); len(got) != len(all) {
		t.Errorf("--origin hub: %d events, want all %d", len(got), len(all))
	}
	if got := lines("--origin", "plant-7"); len(got) != 0 {
		t.Errorf("--origin plant-7 (nothing imported): %d events", len(got))
	}
}

// TestVolumeSizeMinimum: a --volume-size below the minimum is a usage
// error (exit 2) that names the minimum, which --help states too.
func TestVolumeSizeMinimum(t *testing.T) {
	tmp := t.TempDir()
	for _, args := range [][]string{
		{"bundle", "create", "--from", tmp, "--out", filepath.Join(tmp, "out"), "--key", filepath.Join(tmp, "k.key"), "--volume-size", "100KiB"},
		{"edge", "export", "--data", filepath.Join(tmp, "edge"), "--out", filepath.Join(tmp, "out"), "--volume-size", "1000000"},
		{"hub", "export", "--site", "s", "--out", filepath.Join(tmp, "out"), "--volume-size", "512KiB", "--hub", "http://127.0.0.1:1", "--token", "x"},
	} {
		out, code := runHubCLI(t, args...)
		if code != exitUsage || !strings.Contains(out, "below the minimum of "+minVolumeSize) {
			t.Errorf("%v: exit %d, want %d naming the minimum %s:\n%s", args[:2], code, exitUsage, minVolumeSize, out)
		}
		help, _ := runHubCLI(t, args[0], args[1], "--help")
		if !strings.Contains(help, "minimum "+minVolumeSize) {
			t.Errorf("%v --help does not state the minimum:\n%s", args[:2], help)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "edge")); err == nil {
		t.Error("a refused edge export left a data directory behind")
	}
}
