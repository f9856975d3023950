package blackbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eucora-bb-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "eucora")
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/eucora").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build eucora: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	id, dir, http, raft string
	cmd                 *exec.Cmd
	exited              chan struct{}
	log                 string
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (p *proc) url() string { return "http://" + p.http }

func (p *proc) start(t *testing.T, extra ...string) {
	t.Helper()
	args := append([]string{"hub", "serve", "--data", p.dir, "--http", p.http, "--raft", p.raft, "--node-id", p.id}, extra...)
	p.cmd = exec.Command(binary, args...)
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); f.Close(); close(exited) }(p.cmd, p.exited)
}

func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ready(p *proc) bool {
	resp, err := http.Get(p.url() + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// startCluster runs three processes: p[0] bootstraps, the others join.
func startCluster(t *testing.T) ([]*proc, string) {
	root := t.TempDir()
	ps := make([]*proc, 3)
	for i := range ps {
		id := fmt.Sprintf("n%d", i+1)
		ps[i] = &proc{id: id, dir: filepath.Join(root, id), http: freeAddr(t), raft: freeAddr(t), log: filepath.Join(root, id+".log")}
	}
	t.Cleanup(func() {
		for _, p := range ps {
			if p.cmd != nil && p.cmd.Process != nil {
				p.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		for _, p := range ps {
			if p.cmd != nil {
				select {
				case <-p.exited:
				case <-time.After(5 * time.Second):
					p.kill()
				}
			}
		}
		if t.Failed() {
			for _, p := range ps {
				b, _ := os.ReadFile(p.log)
				t.Logf("---- %s log (tail)\n%s", p.id, tail(string(b), 3000))
			}
		}
	})
	ps[0].start(t)
	var tok string
	waitFor(t, "bootstrap token", 30*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(ps[0].dir, "bootstrap.token"))
		tok = strings.TrimSpace(string(b))
		return err == nil && tok != ""
	})
	for _, p := range ps[1:] {
		p.start(t, "--join", ps[0].url(), "--token", tok)
	}
	for _, p := range ps {
		waitFor(t, p.id+" ready", 60*time.Second, func() bool { return ready(p) })
	}
	return ps, tok
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func leaderProc(t *testing.T, ps []*proc, tok string) *proc {
	t.Helper()
	var l *proc
	waitFor(t, "a leader", 30*time.Second, func() bool {
		for _, p := range ps {
			c := client.New(p.url(), tok)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s, err := c.Status(ctx)
			cancel()
			if err == nil && s.State == "leader" {
				l = p
				return true
			}
		}
		return false
	})
	return l
}

// Porcupine model: each key is a site that can be created once and read.
type opInput struct {
	create bool
}

type opOutput struct {
	ok      bool // create: created (true) or already existed; read: present
	unknown bool // create whose outcome the client never learned
}

var siteModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(keyed).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return false },
	Step: func(state, input, output any) (bool, any) {
		present := state.(bool)
		in, out := input.(keyed), output.(opOutput)
		if in.create {
			switch {
			case out.unknown:
				return true, true
			case out.ok:
				return !present, true
			default:
				return present, present
			}
		}
		return out.ok == present, present
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(keyed), output.(opOutput)
		verb := "read"
		if in.create {
			verb = "create"
		}
		return fmt.Sprintf("%s(%s) -> ok=%v unknown=%v", verb, in.key, out.ok, out.unknown)
	},
}

type keyed struct {
	opInput
	key string
}

func TestKillLeaderWhileWritingIsLinearizable(t *testing.T) {
	ps, tok := startCluster(t)
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	const clients, opsPerClient, keys = 6, 60, 100
	var mu sync.Mutex
	var history []porcupine.Operation
	var acked []string
	var done atomic.Int64
	var wg sync.WaitGroup
	for ci := 0; ci < clients; ci++ {
		wg.Add(1)
		go func(ci int) {
			defer wg.Done()
			p := ps[ci%len(ps)] // clients write through every node
			c := client.New(p.url(), tok)
			c.HTTP.Timeout = 10 * time.Second
			for i := 0; i < opsPerClient; i++ {
				key := fmt.Sprintf("k%d", (ci*7+i*3)%keys)
				create := i%2 == 0
				call := now()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var out opOutput
				var err error
				if create {
					_, err = c.CreateSite(ctx, api.SiteRequest{Name: key, Class: "online"})
					switch {
					case err == nil:
						out.ok = true
					case errors.Is(err, client.ErrConflict):
					default:
						out.unknown = true
					}
				} else {
					_, err = c.Site(ctx, key)
					switch {
					case err == nil:
						out.ok = true
					case errors.Is(err, client.ErrNotFound):
					default:
						cancel()
						done.Add(1)
						continue // a failed read has no effect: leave it out
					}
				}
				cancel()
				ret := now()
				if out.unknown {
					ret = 1 << 62 // may take effect at any later time
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: ci, Input: keyed{opInput{create}, key}, Call: call, Output: out, Return: ret})
				if create && out.ok {
					acked = append(acked, key)
				}
				mu.Unlock()
				done.Add(1)
			}
		}(ci)
	}
	waitFor(t, "a third of the operations", 60*time.Second, func() bool { return done.Load() >= clients*opsPerClient/3 })
	victim := leaderProc(t, ps, tok)
	victim.kill()
	t.Logf("SIGKILLed leader %s after %d operations", victim.id, done.Load())
	wg.Wait()
	victim.start(t)
	waitFor(t, victim.id+" ready again", 60*time.Second, func() bool { return ready(victim) })

	// Every acknowledged create is on every node (local reads).
	for _, p := range ps {
		c := client.New(p.url(), tok)
		c.Stale = true
		waitFor(t, "acknowledged writes on "+p.id, 60*time.Second, func() bool {
			sites, err := c.Sites(context.Background())
			if err != nil {
				return false
			}
			have := map[string]bool{}
			for _, s := range sites {
				have[s.Name] = true
			}
			for _, k := range acked {
				if !have[k] {
					return false
				}
			}
			return true
		})
	}
	res, info := porcupine.CheckOperationsVerbose(siteModel, history, 60*time.Second)
	if res != porcupine.Ok {
		path := filepath.Join(t.TempDir(), "history.html")
		porcupine.VisualizePath(siteModel, info, path)
		t.Fatalf("history of %d operations is not linearizable (%v); see %s", len(history), res, path)
	}
	t.Logf("%d operations, %d acknowledged creates, linearizable", len(history), len(acked))
}

func TestAcknowledgedBlobsSurviveKillOfAnyNode(t *testing.T) {
	ps, tok := startCluster(t)
	ctx := context.Background()
	type blob struct {
		hex  string
		data []byte
	}
	var blobs []blob
	for i := 0; i < 4; i++ {
		data := make([]byte, 64<<10+i*1000)
		rand.Read(data)
		sum := sha256.Sum256(data)
		b := blob{hex.EncodeToString(sum[:]), data}
		var err error
		for try := 0; try < 100; try++ { // retried through another node during an election
			if err = client.New(ps[(i+try)%3].url(), tok).PutBlob(ctx, b.hex, bytes.NewReader(data), int64(len(data))); !errors.Is(err, client.ErrUnavailable) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	for _, victim := range ps {
		victim.kill()
		for _, p := range ps {
			if p == victim {
				continue
			}
			c := client.New(p.url(), tok)
			for _, b := range blobs {
				var got []byte
				waitFor(t, fmt.Sprintf("blob via %s with %s down", p.id, victim.id), 60*time.Second, func() bool {
					rc, err := c.GetBlob(ctx, b.hex)
					if err != nil {
						return false
					}
					defer rc.Close()
					got, err = io.ReadAll(rc)
					return err == nil
				})
				if !bytes.Equal(got, b.data) {
					t.Fatalf("blob %s via %s differs", b.hex[:12], p.id)
				}
			}
		}
		victim.start(t)
		waitFor(t, victim.id+" ready again", 60*time.Second, func() bool { return ready(victim) })
	}
}

func TestEventBatchesAreIngestedExactlyOnceAcrossLeaderKill(t *testing.T) {
	ps, tok := startCluster(t)
	ctx := context.Background()
	var err error
	for try := 0; try < 100; try++ {
		if _, err = client.New(ps[try%3].url(), tok).CreateSite(ctx, api.SiteRequest{Name: "edge1", Class: "intermittent"}); !errors.Is(err, client.ErrUnavailable) {
			if errors.Is(err, client.ErrConflict) && try > 0 {
				err = nil // an earlier ambiguous attempt was applied
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	const batches, per = 40, 50
	killed := false
	for b := 0; b < batches; b++ {
		body := api.EventsIngest{Origin: "edge1"}
		for i := 0; i < per; i++ {
			body.Events = append(body.Events, api.IngestEvent{Sequence: uint64(b*per + i + 1), Time: time.Now().UTC(), Action: "apt.install", Outcome: "ok"})
		}
		if b == batches/2 && !killed {
			leaderProc(t, ps, tok).kill()
			killed = true
		}
		// Retry through every node until acknowledged: duplicates must not count.
		for try := 0; ; try++ {
			c := client.New(ps[try%3].url(), tok)
			c.HTTP.Timeout = 5 * time.Second
			if _, err := c.IngestEvents(ctx, body); err == nil {
				break
			}
			if try > 300 {
				t.Fatalf("batch %d never acknowledged", b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var alive *proc
	for _, p := range ps {
		if ready(p) {
			alive = p
		}
	}
	c := client.New(alive.url(), tok)
	seen := map[uint64]int{}
	after := ""
	for {
		page, err := c.Events(ctx, after, 5000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			if e.Origin == "edge1" {
				seen[e.Sequence]++
			}
		}
		if len(page.Events) < 5000 {
			break
		}
		after = page.Next
	}
	if len(seen) != batches*per {
		t.Fatalf("%d distinct events, want %d", len(seen), batches*per)
	}
	for s, n := range seen {
		if n != 1 {
			t.Fatalf("event %d stored %d times", s, n)
		}
	}
}

// TestSystemdNotifyAndGracefulSIGTERM checks that a node tells systemd it is
// ready (READY=1 on NOTIFY_SOCKET) and that SIGTERM on the leader exits 0
// and hands the cluster to another leader.
func TestSystemdNotifyAndGracefulSIGTERM(t *testing.T) {
	ps, tok := startCluster(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	victim := leaderProc(t, ps, tok)
	victim.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-victim.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("leader did not exit on SIGTERM")
	}
	if code := victim.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("SIGTERM exit code %d", code)
	}
	var others []*proc
	for _, p := range ps {
		if p != victim {
			others = append(others, p)
		}
	}
	if l := leaderProc(t, others, tok); l == victim {
		t.Fatal("no new leader")
	}
	// Restart it under a fake systemd.
	os.Setenv("NOTIFY_SOCKET", sock)
	victim.start(t)
	os.Unsetenv("NOTIFY_SOCKET")
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 256)
	n, _, err := conn.ReadFromUnix(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") {
		t.Fatalf("notify: %q %v", buf[:n], err)
	}
	if !ready(victim) {
		t.Fatal("notified ready but /readyz fails")
	}
}
