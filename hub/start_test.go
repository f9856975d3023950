package hub

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/datadir"
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestBusyPortLeavesNoState(t *testing.T) {
	for _, busy := range []string{"http", "raft"} {
		t.Run(busy, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "eucora-data")
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{DataDir: dir, HTTPAddr: freeAddr(t), RaftAddr: freeAddr(t), NodeID: "node1", Bootstrap: true, Fast: true,
				Logger: testLogger(t), DutyInterval: 200 * time.Millisecond}
			flag := "--http"
			if busy == "http" {
				cfg.HTTPAddr = held.Addr().String()
			} else {
				cfg.RaftAddr, flag = held.Addr().String(), "--raft"
			}
			_, err = New(cfg)
			if err == nil {
				t.Fatal("started on a busy port")
			}
			for _, want := range []string{held.Addr().String(), "already in use", flag} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if exists(dir) {
				t.Fatalf("the failed start left %s behind", dir)
			}
			// A directory that was there before stays, without hub state.
			os.Mkdir(dir, 0o750)
			if _, err := New(cfg); err == nil {
				t.Fatal("started on a busy port")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("the failed start left %v in an existing directory", ents)
			}
			os.Remove(dir)

			held.Close()
			srv, err := New(cfg)
			if err != nil {
				t.Fatalf("second start once the port is free: %v", err)
			}
			defer srv.Close()
			select {
			case <-srv.Ready():
			case <-time.After(30 * time.Second):
				t.Fatal("not ready")
			}
		})
	}
}

func TestSecondHubOnHeldDataDir(t *testing.T) {
	nodes, _ := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	second := freeAddr(t)
	_, err := New(Config{DataDir: n.dir, HTTPAddr: second, RaftAddr: freeAddr(t), NodeID: "node2", Bootstrap: true, Fast: true, Logger: testLogger(t)})
	var be *BusyError
	if !errors.As(err, &be) || !errors.Is(err, datadir.ErrBusy) {
		t.Fatalf("second hub on %s: %v, want a *BusyError", n.dir, err)
	}
	want := "another hub process holds " + n.dir + " (pid " + strconv.Itoa(os.Getpid()) + "); stop it or use another --data"
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	// The refused start holds nothing: its port is free, the first node serves.
	ln, err := net.Listen("tcp", second)
	if err != nil {
		t.Fatalf("the refused start kept its port: %v", err)
	}
	ln.Close()
	if _, err := cli(n, readToken(t, n)).Status(ctxT(t)); err != nil {
		t.Fatalf("first node after the refused start: %v", err)
	}
}

// TestSingleNodeStartLogsNoWarning starts a single-node hub as 'hub serve'
// does (production Raft timeouts, INFO log) and reads its log: a normal
// first start and a restart print no WARN or ERROR line.
func TestSingleNodeStartLogsNoWarning(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "eucora-data")
	cfg := Config{DataDir: dir, HTTPAddr: freeAddr(t), RaftAddr: freeAddr(t), NodeID: DefaultNodeID, Bootstrap: true}
	for _, run := range []string{"first start", "restart"} {
		var sink syncBuffer
		cfg.Logger = slog.New(slog.NewTextHandler(&sink, &slog.HandlerOptions{Level: slog.LevelInfo}))
		srv, err := New(cfg)
		if err != nil {
			t.Fatalf("%s: %v", run, err)
		}
		select {
		case <-srv.Ready():
		case <-time.After(60 * time.Second):
			srv.Close()
			t.Fatalf("%s: not ready", run)
		}
		if run == "first start" {
			for deadline := time.Now().Add(30 * time.Second); !exists(filepath.Join(dir, BootstrapTokenFile)); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no bootstrap token")
				}
			}
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		log := sink.String()
		if !strings.Contains(log, "hub serving") {
			t.Fatalf("%s: log not captured:\n%s", run, log)
		}
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				t.Errorf("%s: %s", run, line)
			}
		}
	}
}
