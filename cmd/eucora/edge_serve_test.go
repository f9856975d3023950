package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/internal/digest"
)

// TestIncompleteExitCode: ErrIncomplete is a refusal of the bundle, exit 22.
func TestIncompleteExitCode(t *testing.T) {
	err := fmt.Errorf("import: %w", &edge.IncompleteError{BundleID: "X", Missing: []digest.Digest{digest.FromBytes(nil)}, Count: 1})
	if got := exitCode(err); got != exitStale {
		t.Fatalf("exit %d, want %d", got, exitStale)
	}
}

func TestEdgeServeUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"edge", "serve", "--data", "d", "--hub", "http://127.0.0.1:1"},
		{"edge", "serve", "--data", "d", "--bandwidth", "lots"},
		{"edge", "serve", "--data", "d", "--interval", "soon"},
		{"edge", "serve", "--data", "d", "--hub", "hub.example:8440", "--token-file", "t"},
	} {
		if r := eucora(t, dir, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, exitUsage, r.stderr)
		}
	}
}

// TestEdgeServeCLI: edge serve prints its listen address (JSON with
// --output json), answers health, readiness and metrics, and stops
// cleanly on SIGTERM.
func TestEdgeServeCLI(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
	mustRun(t, dir, "edge", "init", "--data", "data", "--site", "lon", "--hub-key", "keys/hub.pub")
	cmd := exec.Command(eucoraBin, "edge", "serve", "--data", "data", "--listen", "127.0.0.1:0", "--output", "json")
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no start line: %v", err)
	}
	var started struct {
		Site   string `json:"site"`
		Listen string `json:"listen"`
	}
	decodeJSON(t, line, &started)
	if started.Site != "lon" || !strings.HasPrefix(started.Listen, "127.0.0.1:") {
		t.Fatalf("start line %q", line)
	}
	base := "http://" + started.Listen
	getBody := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := getBody("/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	// Readiness follows the start-up reconcile, which runs in the background.
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := getBody("/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready (last %d)", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := getBody("/metrics"); code != 200 || !strings.Contains(body, "eucora_edge_last_applied_sequence 0") {
		t.Fatalf("metrics %d:\n%s", code, body)
	}
	if code, _ := getBody("/dp/sha256/" + strings.Repeat("ab", 32)); code != 404 {
		t.Fatalf("unknown object: %d", code)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
}
