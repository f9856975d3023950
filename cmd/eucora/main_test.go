package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runApp runs the eucora app in-process on args, reordered as main does
// (flags may follow positional arguments), and returns what it wrote to
// its Writer and the error run() would map to an exit code. Its ErrWriter
// output goes to the same buffer when withStderr is set and is dropped
// otherwise.
func runApp(t *testing.T, withStderr bool, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.ErrWriter = io.Discard
	if withStderr {
		app.ErrWriter = &out
	}
	err := app.Run(reorderArgs(app, append([]string{"eucora"}, args...)))
	return out.String(), err
}

// eucoraBin is the binary built once for black-box tests.
var eucoraBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eucora-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	eucoraBin = filepath.Join(dir, "eucora")
	build := exec.Command("go", "build", "-o", eucoraBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build eucora:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result of one eucora run.
type result struct {
	code           int
	stdout, stderr string
}

// eucora runs the built binary in dir.
func eucora(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(eucoraBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func mustRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := eucora(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("eucora %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("bad JSON output: %v\n%s", err, s)
	}
}

func TestHelpListsExitCodes(t *testing.T) {
	r := mustRun(t, t.TempDir(), "--help")
	for _, want := range []string{"EXIT CODES", "20  bad-signature", "21  corrupt", "22  stale", "23  missing-volume", "2  usage"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"bundle", "create", "--from", "x"},      // missing required flags
		{"bundle", "verify", "--trust", "k.pub"}, // no PATH
		{"bundle", "create", "--from", ".", "--out", "o", "--key", "k", "--volume-size", "lots"},
		{"--output", "yaml", "keys", "generate", "--out", ".", "--name", "x"},
		{"no-such-command"},
	} {
		r := eucora(t, dir, args...)
		if r.code != exitUsage {
			t.Errorf("eucora %v: exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
	r := eucora(t, dir, "bundle", "verify", "--output", "json", "--trust", "k.pub")
	var e map[string]any
	decodeJSON(t, r.stderr, &e)
	if e["exit_code"] != float64(exitUsage) || e["error"] == "" {
		t.Fatalf("JSON error: %v", e)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"30d": "720h0m0s", "7d12h": "180h0m0s", "90m": "1h30m0s"} {
		if got, err := parseDuration(in); err != nil || got.String() != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "soon"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
}
