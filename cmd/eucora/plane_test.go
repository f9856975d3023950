package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/hub"
)

// startPlaneHub starts a one-node hub and returns the hub flags of its
// bootstrap platform-admin token.
func startPlaneHub(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	srv, err := hub.New(hub.Config{DataDir: dir, HTTPAddr: freeAddr(t), RaftAddr: freeAddr(t), NodeID: "n1", Bootstrap: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	select {
	case <-srv.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("hub not ready")
	}
	tokFile := filepath.Join(dir, hub.BootstrapTokenFile)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(tokFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no bootstrap token")
		}
	}
	return []string{"--hub", srv.URL(), "--token-file", tokFile}
}

// TestPlaneCommands registers an AWX simulator with plane add, lists and
// checks it with --output json, and checks that bad input is refused with
// a clear error and registers nothing.
func TestPlaneCommands(t *testing.T) {
	h := startPlaneHub(t)
	sim := awxsim.New(awxsim.Options{Password: "cmd-s3cret"})
	t.Cleanup(sim.Close)
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	repo := `"repo":{"url":"https://apt.example.org/eucora","dist":"stable"}`
	good := write("awx.json", `{"username":"admin","password":"cmd-s3cret",`+repo+`}`)
	wrong := write("wrong.json", `{"username":"admin","password":"nope",`+repo+`}`)
	notJSON := write("bad.json", "password: cmd-s3cret\n")

	out, code := runHubCLI(t, append([]string{"plane", "add", "awx-lab", "--kind", "awx", "--url", hs.URL, "--credentials", good, "-o", "json"}, h...)...)
	var added struct {
		Name  string
		KeyID string `json:"key_id"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &added) != nil || added.Name != "awx-lab" || !strings.HasPrefix(added.KeyID, "ck-") {
		t.Fatalf("plane add: %d %q", code, out)
	}
	if strings.Contains(out, "cmd-s3cret") {
		t.Errorf("plane add output carries the password: %s", out)
	}

	out, code = runHubCLI(t, append([]string{"plane", "check", "awx-lab", "-o", "json"}, h...)...)
	var chk struct {
		OK        bool
		LatencyMS int64 `json:"latency_ms"`
		Class     string
	}
	if code != 0 || json.Unmarshal([]byte(out), &chk) != nil || !chk.OK {
		t.Fatalf("plane check: %d %q", code, out)
	}

	if _, code := runHubCLI(t, append([]string{"plane", "add", "awx-wrong", "--kind", "awx", "--url", hs.URL, "--credentials", wrong}, h...)...); code != 0 {
		t.Fatalf("plane add awx-wrong: exit %d", code)
	}
	out, code = runHubCLI(t, append([]string{"plane", "check", "awx-wrong"}, h...)...)
	if code != exitError || !strings.Contains(out, "check failed") || !strings.Contains(out, "class permanent") {
		t.Errorf("failed check: exit %d %q", code, out)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown kind", []string{"plane", "add", "p1", "--kind", "puppet", "--url", hs.URL, "--credentials", good}, "--kind: kind \"puppet\": unknown plane kind"},
		{"credentials of another kind", []string{"plane", "add", "p1", "--kind", "intune", "--url", hs.URL, "--credentials", good}, "unknown field"},
		{"bad URL", []string{"plane", "add", "p1", "--kind", "awx", "--url", "ftp://x", "--credentials", good}, "--url: bad plane URL"},
		{"unreadable credentials", []string{"plane", "add", "p1", "--kind", "awx", "--url", hs.URL, "--credentials", filepath.Join(dir, "missing.json")}, "--credentials: open"},
		{"credentials not JSON", []string{"plane", "add", "p1", "--kind", "awx", "--url", hs.URL, "--credentials", notJSON}, "not JSON"},
		{"missing --kind", []string{"plane", "add", "p1", "--url", hs.URL, "--credentials", good}, "kind"},
	} {
		out, code := runHubCLI(t, append(c.args, h...)...)
		if code != exitUsage || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d %q, want exit %d and %q", c.name, code, out, exitUsage, c.want)
		}
		if strings.Contains(out, "cmd-s3cret") {
			t.Errorf("%s: the error quotes the credentials: %s", c.name, out)
		}
	}
	out, code = runHubCLI(t, append([]string{"plane", "add", "awx-lab", "--kind", "awx", "--url", hs.URL, "--credentials", good}, h...)...)
	if code == 0 || !strings.Contains(out, "already exists") {
		t.Errorf("duplicate name: exit %d %q", code, out)
	}

	out, code = runHubCLI(t, append([]string{"plane", "list", "--output", "json"}, h...)...)
	var list struct {
		Planes []struct{ Name, Kind, URL string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Planes) != 2 || list.Planes[0].Name != "awx-lab" || list.Planes[0].URL != hs.URL {
		t.Fatalf("plane list: %d %q", code, out)
	}
	if strings.Contains(out, "s3cret") || strings.Contains(out, "nope") {
		t.Errorf("plane list carries credentials: %s", out)
	}
}
