package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/config"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConfigCheck: a good file passes; a bad one exits 2 listing every
// problem with its file, line and key, in text and JSON.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "hub.toml")
	writeFile(t, good, "[hub.serve]\ndata = \"/var/lib/eucora/hub\"\nhttp = \"0.0.0.0:8440\"\nrollout-interval = \"10s\"\nbootstrap = true\n\n[hub.export]\nvolume-size = \"700MiB\"\n")
	r := eucora(t, dir, "config", "check", good)
	if r.code != 0 || !strings.Contains(r.stdout, "ok ([hub.export], [hub.serve])") {
		t.Fatalf("good file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, bad, "[hub.serve]\nhttp = 8440\nrollout-interval = \"often\"\nbootstrp = true\n\n[edge.serv]\nlisten = \"x\"\n")
	r = eucora(t, dir, "config", "check", good, bad, "--output", "json")
	if r.code != exitUsage {
		t.Fatalf("bad file: exit %d, want %d\n%s%s", r.code, exitUsage, r.stdout, r.stderr)
	}
	var res struct {
		OK    bool `json:"ok"`
		Files []struct {
			File     string `json:"file"`
			OK       bool   `json:"ok"`
			Problems []struct {
				File, Key, Message string
				Line               int
			} `json:"problems"`
		} `json:"files"`
	}
	decodeJSON(t, r.stdout, &res)
	if res.OK || len(res.Files) != 2 || !res.Files[0].OK || res.Files[1].OK {
		t.Fatalf("verdicts: %s", r.stdout)
	}
	want := []struct {
		line int
		key  string
		text string
	}{
		{2, "hub.serve.http", "is the integer 8440; --http wants a string"},
		{3, "hub.serve.rollout-interval", `"often": --rollout-interval wants a duration`},
		{4, "hub.serve.bootstrp", "'eucora hub serve' has no flag --bootstrp"},
		{6, "edge.serv", "'eucora edge' has no flag --serv"},
	}
	ps := res.Files[1].Problems
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d: %s", len(ps), len(want), r.stdout)
	}
	for i, w := range want {
		if ps[i].File != bad || ps[i].Line != w.line || ps[i].Key != w.key || !strings.Contains(ps[i].Message, w.text) {
			t.Errorf("problem %d: %+v, want line %d key %s with %q", i, ps[i], w.line, w.key, w.text)
		}
	}
	// Text output names file:line for each.
	r = eucora(t, dir, "config", "check", bad)
	if r.code != exitUsage || !strings.Contains(r.stdout, bad+":3: key hub.serve.rollout-interval:") {
		t.Errorf("text: exit %d\n%s", r.code, r.stdout)
	}
	if r := eucora(t, dir, "config", "check", filepath.Join(dir, "missing.toml")); r.code != exitUsage || !strings.Contains(r.stdout, "no such file") {
		t.Errorf("missing file: exit %d\n%s", r.code, r.stdout)
	}
}

// TestConfigRefusesToStart: a command whose file has a problem does not
// start, changes nothing (no data directory), and says where the problem
// is; a command's own complaint about a value from the file names it too.
func TestConfigRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edge.toml")
	writeFile(t, cfg, "[edge.serve]\ndata = \"d\"\nlisten = [\"127.0.0.1:0\"]\n")
	r := eucora(t, dir, "edge", "serve", "--config", cfg)
	if r.code != exitUsage || !strings.Contains(r.stderr, cfg+":3: key edge.serve.listen: is an array; --listen wants a string") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "d")); !os.IsNotExist(err) {
		t.Errorf("a refused start left a data directory: %v", err)
	}
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
	mustRun(t, dir, "edge", "init", "--data", "d", "--site", "lon", "--hub-key", "keys/hub.pub")
	writeFile(t, cfg, "[edge.serve]\ndata = \"d\"\n\ninterval = \"soon\"\n")
	cmd := exec.Command(eucoraBin, "edge", "serve")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "EUCORA_CONFIG="+cfg)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != exitUsage || !strings.Contains(string(out), "--interval \"soon\"") || !strings.Contains(string(out), cfg+":4, key edge.serve.interval") {
		t.Errorf("semantic error from the file: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

// notifySocket listens on a unixgram socket for sd_notify datagrams.
func notifySocket(t *testing.T) (path string, msgs <-chan string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return path, ch
}

// awaitNotify waits for a datagram holding want, returning it.
func awaitNotify(t *testing.T, msgs <-chan string, want string) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("notify socket closed before %q", want)
			}
			for _, l := range strings.Split(m, "\n") {
				if l == want {
					return m
				}
			}
		case <-deadline:
			t.Fatalf("no %q from the process within a minute", want)
		}
	}
}

// TestServeSystemdNotify: the real 'hub serve' and 'edge serve', configured
// by a TOML file, send READY=1 once serving, WATCHDOG=1 pings while
// healthy, and STOPPING=1 on SIGTERM, to the unixgram socket NOTIFY_SOCKET
// names. The hub listens where the file says.
func TestServeSystemdNotify(t *testing.T) {
	t.Run("hub", func(t *testing.T) {
		dir := t.TempDir()
		httpAddr := freeAddr(t)
		cfg := filepath.Join(dir, "hub.toml")
		writeFile(t, cfg, "[hub.serve]\ndata = \"hubdata\"\nhttp = \""+httpAddr+"\"\nraft = \""+freeAddr(t)+"\"\nnode-id = \"n1\"\nlog-format = \"json\"\n")
		sock, msgs := notifySocket(t)
		cmd := exec.Command(eucoraBin, "hub", "serve", "--config", cfg)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		logs := make(chan string, 1)
		go func() {
			var b strings.Builder
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				b.WriteString(sc.Text() + "\n")
			}
			logs <- b.String()
		}()
		ready := awaitNotify(t, msgs, "READY=1")
		if !strings.Contains(ready, "STATUS=serving http://"+httpAddr) {
			t.Errorf("READY datagram %q does not name the configured address %s", ready, httpAddr)
		}
		awaitNotify(t, msgs, "WATCHDOG=1")
		awaitNotify(t, msgs, "WATCHDOG=1")
		cmd.Process.Signal(syscall.SIGTERM)
		awaitNotify(t, msgs, "STOPPING=1")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("after SIGTERM: %v", err)
		}
		// --log-format json from the file: every line is a JSON object.
		for _, l := range strings.Split(strings.TrimSpace(<-logs), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil || m["msg"] == nil {
				t.Errorf("log line is not JSON: %q", l)
			}
		}
	})
	t.Run("edge", func(t *testing.T) {
		dir := t.TempDir()
		mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
		mustRun(t, dir, "edge", "init", "--data", "data", "--site", "lon", "--hub-key", "keys/hub.pub")
		cfg := filepath.Join(dir, "edge.toml")
		writeFile(t, cfg, "[edge.serve]\ndata = \"data\"\nlisten = \"127.0.0.1:0\"\n")
		sock, msgs := notifySocket(t)
		cmd := exec.Command(eucoraBin, "edge", "serve")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "EUCORA_CONFIG="+cfg, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		if m := awaitNotify(t, msgs, "READY=1"); !strings.Contains(m, "STATUS=serving 127.0.0.1:") {
			t.Errorf("READY datagram %q", m)
		}
		awaitNotify(t, msgs, "WATCHDOG=1")
		cmd.Process.Signal(syscall.SIGTERM)
		awaitNotify(t, msgs, "STOPPING=1")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("after SIGTERM: %v", err)
		}
	})
}

// keyTable renders the configuration keys of the command at path as the
// Markdown table docs/config.md holds.
func keyTable(t *testing.T, path string) string {
	t.Helper()
	cmds := newApp().Commands
	var cmd *cli.Command
	for _, name := range strings.Fields(path) {
		cmd = findCommand(cmds, name)
		if cmd == nil {
			t.Fatalf("no command %q", path)
		}
		cmds = cmd.Subcommands
	}
	var b strings.Builder
	b.WriteString("| key | value | default | environment | meaning |\n|---|---|---|---|---|\n")
	for _, f := range cmd.Flags {
		name := f.Names()[0]
		if slices.Contains(config.Excluded, name) {
			continue
		}
		var def, env, usage string
		if d, ok := f.(cli.DocGenerationFlag); ok {
			if d.TakesValue() {
				def = d.GetDefaultText()
			}
			if e := d.GetEnvVars(); len(e) > 0 {
				env = "`" + strings.Join(e, "`, `") + "`"
			}
			usage = d.GetUsage()
		}
		if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", name, config.Kind(f), def, env, strings.ReplaceAll(usage, "|", "\\|"))
	}
	return b.String()
}

// TestConfigDocKeys: docs/config.md lists every key of the serve
// commands, as the command tree has them (-update rewrites the tables).
func TestConfigDocKeys(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "config.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, cmd := range []string{"hub serve", "edge serve"} {
		begin, end := "<!-- keys: "+cmd+" -->\n", "<!-- end keys -->"
		i := strings.Index(doc, begin)
		if i < 0 {
			t.Fatalf("docs/config.md has no %q marker", begin)
		}
		j := strings.Index(doc[i:], end)
		if j < 0 {
			t.Fatalf("docs/config.md: no %q after %q", end, begin)
		}
		got, want := doc[i+len(begin):i+j], keyTable(t, cmd)
		if got != want {
			if *update {
				doc = doc[:i+len(begin)] + want + doc[i+j:]
				continue
			}
			t.Errorf("docs/config.md's keys of %s differ from the command tree (go test ./cmd/eucora -run TestConfigDocKeys -update):\n%s", cmd, lineDiff(got, want))
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
