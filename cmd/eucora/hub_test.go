package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/hub"
	"github.com/eucora/eucora/internal/signing"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runHubCLI runs the CLI in-process and returns stdout, with the error
// appended, and the exit code.
func runHubCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := runApp(t, false, args...)
	if err != nil {
		out += "\nerror: " + err.Error()
	}
	return out, exitCode(err)
}

func TestHubCommands(t *testing.T) {
	dir := t.TempDir()
	srv, err := hub.New(hub.Config{DataDir: dir, HTTPAddr: freeAddr(t), RaftAddr: freeAddr(t), NodeID: "n1", Bootstrap: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
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
	h := []string{"--hub", srv.URL(), "--token-file", tokFile}
	// Flags after the positional NAME are accepted.
	out, code := runHubCLI(t, append([]string{"site", "add", "berlin", "--class", "air-gapped", "--scope", "acquisition=acme"}, h...)...)
	if code != 0 || !strings.Contains(out, "site berlin added") {
		t.Fatalf("site add: %d %q", code, out)
	}
	// The exported hub key is the key the hub signs with, and an edge can
	// be initialised with it.
	keyFile := filepath.Join(t.TempDir(), "hub.pub")
	out, code = runHubCLI(t, append([]string{"hub", "key", "--out", keyFile, "-o", "json"}, h...)...)
	var hk struct {
		KeyID string `json:"key_id"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &hk) != nil {
		t.Fatalf("hub key: %d %q", code, out)
	}
	exported, err := signing.LoadPublic(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.LoadPrivate(filepath.Join(dir, "keys", "hub.key"))
	if err != nil {
		t.Fatal(err)
	}
	if exported.ID != signer.ID || hk.KeyID != signer.ID {
		t.Fatalf("exported key %s (reported %s), hub signs with %s", exported.ID, hk.KeyID, signer.ID)
	}
	if _, code := runHubCLI(t, "edge", "init", "--data", t.TempDir(), "--site", "berlin", "--hub-key", keyFile); code != 0 {
		t.Fatalf("edge init with the exported hub key: exit %d", code)
	}
	if _, code := runHubCLI(t, append([]string{"site", "add", "paris"}, h...)...); code != exitUsage {
		t.Fatalf("site add without --class: exit %d", code)
	}
	if _, code := runHubCLI(t, append([]string{"site", "add", "x", "--class", "online", "--scope", "bu=eu"}, h...)...); code != exitUsage {
		t.Fatalf("bad scope: exit %d", code)
	}
	out, code = runHubCLI(t, append([]string{"site", "list", "--output", "json"}, h...)...)
	var list struct {
		Sites []struct{ Name, Class string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Sites) != 1 || list.Sites[0].Class != "air-gapped" {
		t.Fatalf("site list: %d %q", code, out)
	}
	out, code = runHubCLI(t, append([]string{"token", "create", "--name", "audit", "--role", "auditor", "-o", "json"}, h...)...)
	var tok struct{ ID, Token string }
	if code != 0 || json.Unmarshal([]byte(out), &tok) != nil || !strings.HasPrefix(tok.Token, "euc_") {
		t.Fatalf("token create: %d %q", code, out)
	}
	// An auditor may read but not write: exit code 24.
	if _, code := runHubCLI(t, "site", "add", "rome", "--class", "online", "--hub", srv.URL(), "--token", tok.Token); code != exitDenied {
		t.Fatalf("auditor write: exit %d, want %d", code, exitDenied)
	}
	out, code = runHubCLI(t, "events", "tail", "--hub", srv.URL(), "--token", tok.Token)
	if code != 0 || !strings.Contains(out, "site.create") || !strings.Contains(out, "denied") {
		t.Fatalf("events tail: %d %q", code, out)
	}
	out, code = runHubCLI(t, append([]string{"status"}, h...)...)
	if code != 0 || !strings.Contains(out, "n1") || !strings.Contains(out, "leader") {
		t.Fatalf("status: %d %q", code, out)
	}
	if _, code := runHubCLI(t, "status", "--hub", "http://"+freeAddr(t), "--token", "x"); code != exitUnavailable {
		t.Fatalf("unreachable hub: exit %d", code)
	}
	backup := filepath.Join(t.TempDir(), "b.tar")
	if out, code := runHubCLI(t, append([]string{"hub", "backup", "--out", backup}, h...)...); code != 0 {
		t.Fatalf("backup: %d %q", code, out)
	}
	b, _ := os.ReadFile(backup)
	b[len(b)/3] ^= 1
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, b, 0o600)
	if _, code := runHubCLI(t, "hub", "restore", bad, "--data", t.TempDir()); code != exitCorrupt {
		t.Fatalf("restore of a damaged backup: exit %d", code)
	}
	if out, code := runHubCLI(t, "hub", "restore", backup, "--data", t.TempDir()); code != 0 {
		t.Fatalf("restore: %d %q", code, out)
	}
}
