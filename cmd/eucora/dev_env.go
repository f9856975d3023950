package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// devEnv runs the parts of 'eucora dev' as the commands an operator would
// type, in this process: servers in goroutines logging to DIR/logs, and
// one-shot commands whose JSON answer is read back. Every part therefore
// goes through the same flags, checks and files as the printed commands.
type devEnv struct {
	dir     string
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	failed  []error // servers that stopped on their own
	logs    []*os.File
	hubURL  string
	hubArgs []string // --hub URL --token-file ADMIN
}

func newDevEnv(parent context.Context, dir string) (*devEnv, error) {
	for _, d := range []string{"logs", "tokens", "planes", "edges", "media", "keys"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	// An empty configuration file: a machine's /etc/eucora/*.toml must not
	// reach into the dev environment.
	if err := os.WriteFile(filepath.Join(dir, "dev.toml"), []byte("# eucora dev: no configuration\n"), 0o600); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(parent)
	return &devEnv{dir: dir, ctx: ctx, stop: stop}, nil
}

func (e *devEnv) path(elem ...string) string {
	return filepath.Join(append([]string{e.dir}, elem...)...)
}

// args completes a command line: the empty configuration file, and JSON
// without progress output.
func (e *devEnv) args(args []string) []string {
	return append(append([]string{"eucora"}, args...), "--config", e.path("dev.toml"), "--output", "json", "--quiet")
}

// run runs one command to completion and returns what it printed.
func (e *devEnv) run(args ...string) ([]byte, error) {
	var out bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &out
	if err := app.RunContext(e.ctx, reorderArgs(app, e.args(args))); err != nil {
		return nil, fmt.Errorf("eucora %s: %w", strings.Join(args, " "), err)
	}
	return out.Bytes(), nil
}

// asHub runs a hub client command as the platform admin.
func (e *devEnv) asHub(args ...string) ([]byte, error) { return e.run(append(args, e.hubArgs...)...) }

// serve starts a long-running command whose output goes to
// DIR/logs/NAME.log, and returns the first line it printed (the JSON a
// server prints once it listens), or nil for a command that prints none
// before it is ready: firstLine false.
func (e *devEnv) serve(name string, firstLine bool, args ...string) ([]byte, error) {
	f, err := os.OpenFile(e.path("logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	e.logs = append(e.logs, f)
	w := &firstLineWriter{f: f, line: make(chan []byte, 1)}
	app := newApp()
	app.Writer, app.ErrWriter = w, f // the JSON answer, then the logs
	argv := reorderArgs(app, e.args(args))
	done := make(chan error, 1)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		err := app.RunContext(e.ctx, argv)
		if err == nil && e.ctx.Err() == nil {
			err = errors.New("stopped")
		}
		if err != nil && e.ctx.Err() == nil {
			e.mu.Lock()
			e.failed = append(e.failed, fmt.Errorf("%s: %w (log: %s)", name, err, f.Name()))
			e.mu.Unlock()
		}
		done <- err
	}()
	if !firstLine {
		return nil, nil
	}
	select {
	case l := <-w.line:
		return l, nil
	case err := <-done:
		return nil, fmt.Errorf("%s: %w (log: %s)", name, err, f.Name())
	case <-e.ctx.Done():
		return nil, e.ctx.Err()
	}
}

// Failed is the first server that stopped before the environment did.
func (e *devEnv) Failed() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return errors.Join(e.failed...)
}

// waitHTTP polls url until it answers 200 or the deadline passes.
func (e *devEnv) waitHTTP(what, url string, d time.Duration) error {
	end := time.Now().Add(d)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := e.Failed(); err != nil {
			return err
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s did not become ready at %s within %s (logs in %s)", what, url, d, e.path("logs"))
		}
		select {
		case <-e.ctx.Done():
			return e.ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops every server and waits for them.
func (e *devEnv) Close() {
	e.stop()
	e.wg.Wait()
	for _, f := range e.logs {
		f.Close()
	}
}

// firstLineWriter appends to a log file and hands over the first JSON
// value written (what a server started with --output json prints once it
// listens).
type firstLineWriter struct {
	mu   sync.Mutex
	f    *os.File
	buf  []byte
	sent bool
	line chan []byte
}

func (w *firstLineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.sent {
		w.buf = append(w.buf, p...)
		var v json.RawMessage
		if json.NewDecoder(bytes.NewReader(w.buf)).Decode(&v) == nil {
			w.line <- v
			w.sent, w.buf = true, nil
		}
	}
	return w.f.Write(p)
}

// freeLoopback is an unused loopback address for a server that must know
// its port before it listens (the hub advertises its Raft address).
func freeLoopback() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// serveFiles serves dir read-only on a loopback port until the environment
// stops (the sample upstream APT repository), and returns its URL.
func (e *devEnv) serveFiles(dir string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	e.wg.Add(2)
	go func() { defer e.wg.Done(); srv.Serve(ln) }()
	go func() { defer e.wg.Done(); <-e.ctx.Done(); srv.Close() }()
	return "http://" + ln.Addr().String(), nil
}
