package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub"
	"github.com/eucora/eucora/internal/datadir"
)

func pathExists(p string) bool { _, err := os.Lstat(p); return err == nil }

// TestCommandsNeedingDataCreateNone: a command that needs an existing data
// directory, run where there is none, exits 10 naming the directory and the
// command that creates one, and leaves nothing behind.
func TestCommandsNeedingDataCreateNone(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k.key"), []byte("x"), 0o600)
	const mirrorInit, edgeInit = "eucora mirror apt create NAME", "eucora edge init --data DIR"
	for _, c := range []struct {
		args []string
		init string
	}{
		{[]string{"mirror", "apt", "sync", "X"}, mirrorInit},
		{[]string{"mirror", "apt", "list"}, mirrorInit},
		{[]string{"mirror", "apt", "snapshot", "X"}, mirrorInit},
		{[]string{"mirror", "apt", "snapshots"}, mirrorInit},
		{[]string{"mirror", "apt", "published"}, mirrorInit},
		{[]string{"mirror", "apt", "verify", "S"}, mirrorInit},
		{[]string{"mirror", "apt", "serve", "--listen", "127.0.0.1:0"}, mirrorInit},
		{[]string{"edge", "import", "media"}, edgeInit},
		{[]string{"edge", "status"}, edgeInit},
		{[]string{"edge", "export", "--out", "out"}, edgeInit},
		{[]string{"edge", "gc"}, edgeInit},
		{[]string{"edge", "serve", "--listen", "127.0.0.1:0"}, edgeInit},
	} {
		for _, data := range []string{"", filepath.Join("wrong", "place")} {
			args := c.args
			shown := "eucora-data"
			if data != "" {
				args = append(append([]string{}, args...), "--data", data)
				shown = data
			}
			r := eucora(t, dir, args...)
			if r.code != exitNotInit {
				t.Errorf("%v: exit %d, want %d\n%s", args, r.code, exitNotInit, r.stderr)
			}
			for _, want := range []string{shown + " does not exist", "--data", c.init} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("%v: message does not say %q:\n%s", args, want, r.stderr)
				}
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Fatalf("%v left %v behind", args, ents)
			}
		}
	}
	// A hub client command reads the token from the data directory and
	// creates none either.
	r := eucora(t, dir, "site", "list", "--hub", "http://"+freeAddr(t))
	if ents, _ := os.ReadDir(dir); len(ents) != 1 || r.code == 0 {
		t.Fatalf("site list: exit %d, left %v", r.code, ents)
	}
}

// TestRefusedMirrorCreateLeavesNoDataDir: mirror apt create may make the
// data directory, but not when it is refused.
func TestRefusedMirrorCreateLeavesNoDataDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keyring.gpg"), []byte("not a keyring"), 0o644)
	r := eucora(t, dir, "mirror", "apt", "create", "bad name!", "--url", "http://"+freeAddr(t)+"/debian", "--dist", "bookworm", "--keyring", "keyring.gpg")
	if r.code == 0 {
		t.Fatalf("refused create exited 0:\n%s", r.stdout)
	}
	if pathExists(filepath.Join(dir, "eucora-data")) {
		t.Fatalf("refused mirror create left eucora-data behind (%s)", r.stderr)
	}
}

// syncBuf collects a child process's output while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startIn starts the eucora binary in dir; it is stopped with SIGTERM at
// the end of the test.
func startIn(t *testing.T, dir string, args ...string) (*exec.Cmd, *syncBuf) {
	t.Helper()
	cmd := exec.Command(eucoraBin, args...)
	cmd.Dir = dir
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd, &out
}

// TestHubServeRefusals: hub serve on a busy port leaves no data directory
// and says the address is in use; once the port is free it starts; a
// second hub serve on the data directory it holds is refused with exit 26
// naming the first one's pid.
func TestHubServeRefusals(t *testing.T) {
	dir := t.TempDir()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr, raftAddr := held.Addr().String(), freeAddr(t)
	r := eucora(t, dir, "hub", "serve", "--http", httpAddr, "--raft", raftAddr)
	if r.code == 0 || !strings.Contains(r.stderr, "http address "+httpAddr+" is already in use") || !strings.Contains(r.stderr, "--http") {
		t.Fatalf("busy port: exit %d\n%s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("hub serve on a busy port left %v behind", ents)
	}
	held.Close()

	first, out := startIn(t, dir, "hub", "serve", "--http", httpAddr, "--raft", raftAddr)
	waitFor(t, "the hub to be ready", 60*time.Second, func() bool { return strings.Contains(out.String(), "hub ready") })
	r = eucora(t, dir, "hub", "serve", "--http", freeAddr(t), "--raft", freeAddr(t))
	want := "another hub process holds eucora-data (pid " + strconv.Itoa(first.Process.Pid) + "); stop it or use another --data"
	if r.code != exitBusy || !strings.Contains(r.stderr, want) {
		t.Fatalf("second hub serve: exit %d, want %d and %q:\n%s", r.code, exitBusy, want, r.stderr)
	}
	if !httpOK("http://" + httpAddr + "/healthz") {
		t.Fatal("the first hub stopped serving")
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			t.Errorf("single-node start logged: %s", line)
		}
	}
}

// TestEdgeInitRefusalsCLI: a site name the hub would refuse, a key that is
// not the hub's and a hub's data directory are usage errors that create
// nothing.
func TestEdgeInitRefusalsCLI(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "apt", "--type", "openpgp")
	mustRun(t, dir, "edge", "init", "--data", "other", "--site", "plant-9", "--hub-key", "keys/hub.pub")
	os.MkdirAll(filepath.Join(dir, "hubdata", "hub"), 0o750)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--data", "e", "--site", "Plant_7@HQ", "--hub-key", "keys/hub.pub"}, []string{`site name "Plant_7@HQ"`, "1-63 characters of a-z"}},
		{[]string{"--data", "e", "--site", "plant-7", "--hub-key", "keys/hub.key"}, []string{"keys/hub.key is a private key"}},
		{[]string{"--data", "e", "--site", "plant-7", "--hub-key", "keys/apt.asc"}, []string{"keys/apt.asc is an OpenPGP public key"}},
		{[]string{"--data", "e", "--site", "plant-7", "--hub-key", "other/edge.pub"}, []string{"other/edge.pub is the public key of edge plant-9"}},
		{[]string{"--data", "hubdata", "--site", "plant-7", "--hub-key", "keys/hub.pub"}, []string{"hubdata holds " + filepath.Join("hubdata", "hub"), "a hub's data directory"}},
	} {
		r := eucora(t, dir, append([]string{"edge", "init"}, c.args...)...)
		if r.code != exitUsage {
			t.Errorf("edge init %v: exit %d, want %d\n%s", c.args, r.code, exitUsage, r.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("edge init %v: message does not say %q:\n%s", c.args, w, r.stderr)
			}
		}
		if pathExists(filepath.Join(dir, "e")) || pathExists(filepath.Join(dir, "hubdata", "edge")) {
			t.Fatalf("edge init %v wrote state", c.args)
		}
	}
}

// accessLines reads the JSON access log lines of a file or output.
func accessLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// TestServeAccessLog: edge serve and mirror apt serve log every request
// (to stderr by default, to --access-log FILE as JSON lines whatever
// --quiet says, not at all with off).
func TestServeAccessLog(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
	mustRun(t, dir, "edge", "init", "--data", "edge", "--site", "lon", "--hub-key", "keys/hub.pub")
	os.Mkdir(filepath.Join(dir, "mirror"), 0o750)
	get := func(base, path string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("User-Agent", "access-log-test/1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	serve := func(args ...string) (string, *syncBuf) {
		t.Helper()
		cmd := exec.Command(eucoraBin, args...)
		cmd.Dir = dir
		var errb syncBuf
		cmd.Stderr = &errb
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		var started struct{ Listen string }
		if err := json.NewDecoder(stdout).Decode(&started); err != nil {
			t.Fatalf("%v: no start line: %v\n%s", args, err, errb.String())
		}
		return "http://" + started.Listen, &errb
	}
	check := func(what string, lines []map[string]any, path string, status int) {
		t.Helper()
		for _, l := range lines {
			if l["path"] == path {
				if l["level"] != "INFO" || l["method"] != "GET" || l["status"] != float64(status) || l["user_agent"] != "access-log-test/1" ||
					!strings.HasPrefix(l["remote"].(string), "127.0.0.1:") || l["bytes"] == nil || l["duration_ms"] == nil {
					t.Errorf("%s: line %v", what, l)
				}
				return
			}
		}
		t.Errorf("%s: no line for %s in %v", what, path, lines)
	}
	logFile := filepath.Join(dir, "access.log")

	base, stderr := serve("edge", "serve", "--data", "edge", "--listen", "127.0.0.1:0", "--output", "json")
	get(base, "/healthz")
	waitFor(t, "edge access log on stderr", 10*time.Second, func() bool { return len(accessLines(t, stderr.String())) > 0 })
	check("edge serve, stderr", accessLines(t, stderr.String()), "/healthz", 200)

	base, stderr = serve("edge", "serve", "--data", "edge", "--listen", "127.0.0.1:0", "--output", "json", "--quiet", "--access-log", logFile)
	get(base, "/dp/sha256/"+strings.Repeat("ab", 32))
	waitFor(t, "edge access log file", 10*time.Second, func() bool { b, _ := os.ReadFile(logFile); return len(accessLines(t, string(b))) > 0 })
	b, _ := os.ReadFile(logFile)
	check("edge serve, file", accessLines(t, string(b)), "/dp/sha256/"+strings.Repeat("ab", 32), 404)
	if n := len(accessLines(t, stderr.String())); n != 0 {
		t.Errorf("with --access-log FILE, %d request lines on stderr", n)
	}

	base, stderr = serve("mirror", "apt", "serve", "--data", "mirror", "--listen", "127.0.0.1:0", "--output", "json", "--access-log", logFile)
	get(base, "/")
	waitFor(t, "mirror access log file", 10*time.Second, func() bool { b, _ := os.ReadFile(logFile); return len(accessLines(t, string(b))) > 1 })
	b, _ = os.ReadFile(logFile)
	check("mirror apt serve, file", accessLines(t, string(b))[1:], "/", 200)

	base, stderr = serve("edge", "serve", "--data", "edge", "--listen", "127.0.0.1:0", "--output", "json", "--access-log", "off")
	get(base, "/healthz")
	get(base, "/healthz") // a second answered request: the first one's line would be written by now
	if n := len(accessLines(t, stderr.String())); n != 0 {
		t.Errorf("with --access-log off, %d request lines on stderr", n)
	}
}

// TestRefusalsNameKeysAndFiles: an unknown signing key is named in full
// with the key files trusted; missing volumes are named by file.
func TestRefusalsNameKeysAndFiles(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "other")
	var gen struct {
		KeyID string `json:"key_id"`
	}
	decodeJSON(t, mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "signer", "--output", "json").stdout, &gen)
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	for i := range 3 {
		b := make([]byte, 700<<10)
		rand.Read(b) // incompressible, so the bundle takes several volumes
		os.WriteFile(filepath.Join(dir, "src", "f"+strconv.Itoa(i)), b, 0o644)
	}
	mustRun(t, dir, "bundle", "create", "--from", "src", "--out", "b", "--key", "keys/signer.key", "--volume-size", "1MiB",
		"--target", "plant-7", "--source", "hub", "--seq", "1", "--quiet")
	vols, _ := filepath.Glob(filepath.Join(dir, "b", "*.tar"))
	if len(vols) < 3 {
		t.Fatalf("want 3 or more volumes, got %v", vols)
	}

	r := eucora(t, dir, "bundle", "verify", "--trust", "keys/hub.pub", "--trust", "keys/other.pub", "b")
	if r.code != exitBadSignature {
		t.Fatalf("verify with other keys: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"signed by key " + gen.KeyID, "from keys/hub.pub", "from keys/other.pub"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("bundle verify does not say %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	mustRun(t, dir, "edge", "init", "--data", "edge", "--site", "plant-7", "--hub-key", "keys/hub.pub")
	r = eucora(t, dir, "edge", "import", "--data", "edge", "b")
	if r.code != exitBadSignature {
		t.Fatalf("edge import signed by another key: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"signed by key " + gen.KeyID, "from " + filepath.Join("edge", "edge", "hub.pub")} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("edge import does not say %q:\n%s", want, r.stderr)
		}
	}

	// Volume 2 missing: verify names its file even without --complete.
	missing := filepath.Base(vols[1])
	os.Remove(vols[1])
	r = eucora(t, dir, "bundle", "verify", "--trust", "keys/signer.pub", "b")
	if !strings.Contains(r.stdout, "MISSING volume(s) 2 of") || !strings.Contains(r.stdout, missing) {
		t.Fatalf("bundle verify with volume 2 missing does not name %s:\n%s", missing, r.stdout)
	}
}

func TestBusyExitCode(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("import: %w", edge.ErrBusy),
		&hub.BusyError{DataDir: "d", Lock: &datadir.BusyError{File: "d/hub/lock", PID: 7}},
	} {
		if got := exitCode(err); got != exitBusy {
			t.Errorf("%v: exit %d, want %d", err, got, exitBusy)
		}
	}
	if !strings.Contains(exitCodeHelp(), "26  busy") {
		t.Fatal("--help does not list exit 26")
	}
}
