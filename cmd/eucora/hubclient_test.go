package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/hub"
)

// startTestHub runs a single-node hub in dir and waits for its bootstrap
// token.
func startTestHub(t *testing.T, dir string) *hub.Server {
	t.Helper()
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
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, hub.BootstrapTokenFile)); err == nil {
			return srv
		}
		if time.Now().After(deadline) {
			t.Fatal("no bootstrap token")
		}
	}
}

// TestTokenDiscovery: the CLI finds the bootstrap token in --data and
// EUCORA_DATA as well as ./eucora-data, and a 401 says where it looked
// and how to pass a token.
func TestTokenDiscovery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hubdata")
	srv := startTestHub(t, dir)
	t.Chdir(t.TempDir()) // no ./eucora-data here

	if out, code := runHubCLI(t, "site", "list", "--hub", srv.URL(), "--data", dir); code != 0 {
		t.Errorf("--data DIR: exit %d\n%s", code, out)
	}
	t.Setenv("EUCORA_DATA", dir)
	if out, code := runHubCLI(t, "site", "list", "--hub", srv.URL()); code != 0 {
		t.Errorf("EUCORA_DATA=DIR: exit %d\n%s", code, out)
	}
	os.Unsetenv("EUCORA_DATA")

	out, code := runHubCLI(t, "site", "list", "--hub", srv.URL())
	if code != exitDenied {
		t.Fatalf("no token anywhere: exit %d, want %d\n%s", code, exitDenied, out)
	}
	for _, want := range []string{"401", filepath.Join(datadir0, hub.BootstrapTokenFile) + " does not exist", "--data DIR", "EUCORA_DATA", "--token"} {
		if !strings.Contains(out, want) {
			t.Errorf("no token anywhere: message lacks %q:\n%s", want, out)
		}
	}

	out, code = runHubCLI(t, "site", "list", "--hub", srv.URL(), "--token", "eut_wrong")
	if code != exitDenied || !strings.Contains(out, "--token or EUCORA_TOKEN was refused") {
		t.Errorf("wrong --token: exit %d, want %d and a message naming --token:\n%s", code, exitDenied, out)
	}

	bad := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(bad, []byte("eut_wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = runHubCLI(t, "site", "list", "--hub", srv.URL(), "--token-file", bad)
	if code != exitDenied || !strings.Contains(out, "read from "+bad+" was refused") {
		t.Errorf("wrong --token-file: exit %d, want %d and a message naming the file:\n%s", code, exitDenied, out)
	}
}

const datadir0 = "eucora-data"
