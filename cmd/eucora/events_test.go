package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eucora/eucora/hub"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/hubtest"
	"github.com/eucora/eucora/internal/testtool"
)

// copyDataDir copies a committed data directory, keeping each file's
// permissions (owner-writable).
func copyDataDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm()|0o200)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startHubIn runs a one-node hub in process on an existing data directory
// and returns it once ready.
func startHubIn(t *testing.T, dir string) *hub.Server {
	t.Helper()
	srv, err := hub.New(hub.Config{DataDir: dir, HTTPAddr: freeAddr(t), RaftAddr: freeAddr(t), NodeID: "n1", Fast: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("hub not ready")
	}
	return srv
}

// TestEventsVerifyUpgradedDataDir runs 'eucora events verify' against a
// hub started on a data directory written by the rule-1 hub
// (hub/testdata/datadir-chains-v1): the log verifies across the rule
// boundary, a head an auditor exported before the upgrade is still found,
// a wrong head and an event edited on disk exit 21.
func TestEventsVerifyUpgradedDataDir(t *testing.T) {
	golden := filepath.Join("..", "..", "hub", "testdata", "datadir-chains-v1")
	dir := filepath.Join(t.TempDir(), "n1")
	copyDataDir(t, filepath.Join(golden, "n1"), dir)
	var old []api.Event
	b, err := os.ReadFile(filepath.Join(golden, "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &old); err != nil {
		t.Fatal(err)
	}
	var lonHead api.Event // the last edge event the old hub served
	for _, e := range old {
		if e.Origin == "lon" {
			lonHead = e
		}
	}
	srv := startHubIn(t, dir)
	h := []string{"--hub", srv.URL(), "--data", dir}
	if out, code := runHubCLI(t, append([]string{"site", "add", "rome", "--class", "online"}, h...)...); code != 0 {
		t.Fatalf("site add after the upgrade: %d %s", code, out)
	}
	verify := func(args ...string) (chainReport, string, int) {
		t.Helper()
		out, code := runHubCLI(t, append(append([]string{"events", "verify"}, args...), h...)...)
		var rep chainReport
		if code == 0 && strings.Contains(strings.Join(args, " "), "json") {
			decodeJSON(t, out, &rep)
		}
		return rep, out, code
	}
	head := "lon:" + itoa(lonHead.Sequence) + ":" + lonHead.Hash
	rep, out, code := verify("-o", "json", "--head", head)
	if code != 0 {
		t.Fatalf("events verify: exit %d\n%s", code, out)
	}
	if rep.RuleBoundary != uint64(len(old)+1) || rep.Events != uint64(len(old)+2) || len(rep.Heads) != 1 || len(rep.Chains) != 3 {
		t.Fatalf("report: %+v", rep)
	}
	for _, ch := range rep.Chains {
		if ch.Origin == "hub" && (ch.Rule1Events == 0 || ch.Rule1Events == ch.Events) {
			t.Errorf("the hub's chain does not cross the boundary: %+v", ch)
		}
	}
	if _, out, code := verify(); code != 0 || !strings.Contains(out, "by hash rule 1, from "+itoa(uint64(len(old)+1))) {
		t.Fatalf("text output: exit %d\n%s", code, out)
	}
	if _, out, code := verify("--head", "lon:"+itoa(lonHead.Sequence)+":"+strings.Repeat("0", 64)); code != exitCorrupt {
		t.Fatalf("a wrong --head: exit %d, want %d\n%s", code, exitCorrupt, out)
	}
	if _, out, code := verify("--head", "lon:2"); code != exitUsage {
		t.Fatalf("a malformed --head: exit %d, want %d\n%s", code, exitUsage, out)
	}

	// Edit an old event on disk: verify names it and exits 21.
	srv.Close()
	db, err := pebble.Open(filepath.Join(dir, "hub", "fsm"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := binary.BigEndian.AppendUint64([]byte("e/"), lonHead.Cursor)
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(v), `"outcome":"applied"`, `"outcome":"refused"`, 1)
	closer.Close()
	if edited == string(v) {
		t.Fatal("nothing to edit")
	}
	if err := db.Set(key, []byte(edited), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	srv = startHubIn(t, dir)
	defer srv.Close()
	h[1] = srv.URL()
	if _, out, code := verify(); code != exitCorrupt || !strings.Contains(out, "event chain of lon at seq "+itoa(lonHead.Sequence)) {
		t.Fatalf("an edited event: exit %d, want %d\n%s", code, exitCorrupt, out)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestEventHashByHandRecipe runs the by-hand recipe of docs/api.md
// (Events) with jq and sha256sum on every event a new hub serves: it gives
// each event's hash.
func TestEventHashByHandRecipe(t *testing.T) {
	testtool.Need(t, "apt-get install jq coreutils", "jq", "sha256sum", "sh")
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	var script []string
	for _, l := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(l, "    jq -cS '{seq: .sequence") || len(script) > 0 {
			script = append(script, strings.TrimPrefix(l, "    "))
			if strings.Contains(l, "sha256sum") {
				break
			}
		}
	}
	if len(script) == 0 || !strings.Contains(script[len(script)-1], "sha256sum") {
		t.Fatalf("docs/api.md has no by-hand recipe for an event's hash: %q", script)
	}
	dir, url, _ := hubtest.Start(t)
	h := []string{"--hub", url, "--data", dir}
	if out, code := runHubCLI(t, append([]string{"site", "add", "paris", "--class", "online"}, h...)...); code != 0 {
		t.Fatalf("site add: %d %s", code, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := client.New(url, readFile(t, filepath.Join(dir, hub.BootstrapTokenFile)))
	if _, err := cl.IngestEvents(ctx, api.EventsIngest{Origin: "paris", Events: []api.IngestEvent{
		{Sequence: 1, ID: "p-1", Time: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), Actor: "apt", Role: "endpoint", Action: "package.install",
			Object: "pkg/curl", CorrelationID: "c-1", Outcome: "ok", Reason: "a <b> & c", Data: json.RawMessage(`{"version":"8.5 <&>","n":2}`)},
		{Sequence: 2, Time: time.Date(2026, 11, 28, 12, 0, 1, 0, time.UTC), Action: "package.remove", Outcome: "failed"},
	}}); err != nil {
		t.Fatal(err)
	}
	page, err := cl.Events(ctx, "0", 1000)
	if err != nil || len(page.Events) < 5 {
		t.Fatalf("events: %v %d", err, len(page.Events))
	}
	work := t.TempDir()
	for _, e := range page.Events {
		b, _ := json.Marshal(e)
		os.WriteFile(filepath.Join(work, "event.json"), b, 0o644)
		cmd := exec.Command("sh", "-c", strings.Join(script, "\n"))
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		if got := strings.Fields(string(out)); err != nil || len(got) == 0 || got[0] != e.Hash {
			t.Fatalf("event %d (%s %s): the recipe gives %q (%v), the hub %s", e.Cursor, e.Origin, e.Action, out, err, e.Hash)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
