package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eucora/eucora/mirror/mirrortest"
)

// proc is a eucora process run for a test, stopped with SIGTERM at cleanup.
type proc struct {
	cmd *exec.Cmd
	out syncBuf // written by the process's copier, read by the test
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(eucoraBin, args...)}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("eucora %s:\n%s", strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}

func httpOK(u string) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// flakyProxy forwards to the hub and misbehaves like a thin, unreliable
// link: it cuts the first response of every object it serves after
// cutAfter bytes, stalls every seventh request for a while, and refuses
// every fifth connection outright. It records the Range headers it saw.
type flakyProxy struct {
	*httptest.Server
	cutAfter int64
	mu       sync.Mutex
	n        int
	cut      map[string]bool
	ranges   []string
	cuts     int
}

func newFlakyProxy(t *testing.T, target string, cutAfter int64) *flakyProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	fp := &flakyProxy{cutAfter: cutAfter, cut: map[string]bool{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	fp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp.mu.Lock()
		fp.n++
		n := fp.n
		if rg := r.Header.Get("Range"); rg != "" {
			fp.ranges = append(fp.ranges, r.URL.Path+" "+rg)
		}
		// The first download of each object is cut (once the cut happened
		// the object is marked); other requests may be refused or stalled.
		cutThis := strings.Contains(r.URL.Path, "/objects/") && !fp.cut[r.URL.Path]
		fp.mu.Unlock()
		if cutThis {
			rp.ServeHTTP(&cuttingWriter{ResponseWriter: w, left: fp.cutAfter, onCut: func() {
				fp.mu.Lock()
				fp.cuts++
				fp.cut[r.URL.Path] = true
				fp.mu.Unlock()
			}}, r)
			return
		}
		switch {
		case n%5 == 0:
			panic(http.ErrAbortHandler) // the link drops before any answer
		case n%7 == 0:
			time.Sleep(2 * time.Second) // the link stalls
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(fp.Close)
	return fp
}

// cuttingWriter aborts the response once left bytes are written.
type cuttingWriter struct {
	http.ResponseWriter
	left  int64
	onCut func()
}

func (c *cuttingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		c.ResponseWriter.Write(p[:c.left])
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		c.onCut()
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(p))
	return c.ResponseWriter.Write(p)
}

func (c *cuttingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestSyncEndToEnd runs real processes: a hub whose mirror publishes a
// signed APT repository, an air-gapped edge fed by files from which the
// real apt-get downloads, and an intermittent edge that syncs by itself
// over HTTP through a proxy that drops and stalls the link.
func TestSyncEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with processes")
	}
	mirrortest.NeedTools(t, "dpkg-deb", "apt-ftparchive", "gpg", "apt-get")
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "hello", Version: "1.0", Fields: map[string]string{"Depends": "libhello"}})
	u.AddDeb(mirrortest.DebSpec{Name: "libhello", Version: "1.0"})
	// 6 MiB, stored uncompressed (-Znone): the link is cut inside it.
	bigDeb := u.AddDeb(mirrortest.DebSpec{Name: "bigtool", Version: "2.0", Payload: 6 << 20})
	u.Index(mirrortest.IndexOpts{Signer: g})
	upstream := mirrortest.NewFaultServer(t, u.Dir)

	tmp := t.TempDir()
	hubData := filepath.Join(tmp, "hub")
	httpAddr, raftAddr := freeAddr(t), freeAddr(t)
	hubURL := "http://" + httpAddr
	startProc(t, "hub", "serve", "--data", hubData, "--http", httpAddr, "--raft", raftAddr)
	waitFor(t, "the hub", 60*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(hubData, "bootstrap.token"))
		return err == nil && httpOK(hubURL+"/readyz")
	})
	h := []string{"--hub", hubURL, "--token-file", filepath.Join(hubData, "bootstrap.token")}
	at := func(args ...string) []string { return append(args, h...) }
	hubPub := filepath.Join(tmp, "hub.pub")
	mustRun(t, tmp, at("hub", "key", "--out", hubPub)...)

	// The hub's mirror shares its data directory.
	kr := filepath.Join(tmp, "up.gpg")
	os.WriteFile(kr, g.Pub, 0o644)
	mustRun(t, tmp, "mirror", "apt", "create", "up", "--url", upstream.URL, "--dist", "test", "--keyring", kr, "--data", hubData)
	mustRun(t, tmp, "mirror", "apt", "sync", "up", "--data", hubData)
	mustRun(t, tmp, "mirror", "apt", "snapshot", "up", "--as", "s1", "--data", hubData)
	mustRun(t, tmp, "keys", "generate", "--type", "openpgp", "--name", "corp", "--out", filepath.Join(tmp, "keys"))
	mustRun(t, tmp, "mirror", "apt", "publish", "s1", "--key", filepath.Join(tmp, "keys", "corp.key.asc"), "--prefix", "corp", "--data", hubData)
	corpKeyring, err := os.ReadFile(filepath.Join(tmp, "keys", "corp.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	upstreamDeb, _ := os.ReadFile(u.Path(bigDeb))

	// Air-gapped: files carried by hand.
	air := filepath.Join(tmp, "air")
	mustRun(t, tmp, "edge", "init", "--data", air, "--site", "air", "--hub-key", hubPub)
	mustRun(t, tmp, at("site", "add", "air", "--class", "air-gapped", "--scope", "acquisition=acme,bu=ops,site=air", "--edge-key", filepath.Join(air, "edge.pub"))...)
	mustRun(t, tmp, at("site", "assign", "air", "--apt", "corp:test")...)
	usb := filepath.Join(tmp, "usb")
	mustRun(t, tmp, at("hub", "export", "--site", "air", "--out", usb)...)
	mustRun(t, tmp, "edge", "import", "--data", air, usb)
	airAddr := freeAddr(t)
	startProc(t, "edge", "serve", "--data", air, "--listen", airAddr)
	waitFor(t, "the air-gapped edge", 30*time.Second, func() bool { return httpOK("http://" + airAddr + "/readyz") })
	apt := mirrortest.NewAptClient(t, "http://"+airAddr+"/apt/corp", "test", corpKeyring)
	apt.MustRun("update")
	apt.MustRun("download", "hello", "libhello", "bigtool")
	got, err := os.ReadFile(filepath.Join(apt.Root, "dl", filepath.Base(bigDeb)))
	if err != nil || !bytes.Equal(got, upstreamDeb) {
		t.Fatalf("apt-get from the air-gapped edge: %v (the .deb must be byte-identical to upstream)", err)
	}
	// Receipts and events back to the hub by hand.
	back := filepath.Join(tmp, "back")
	mustRun(t, tmp, "edge", "export", "--data", air, "--out", back)
	mustRun(t, tmp, at("hub", "import", back)...)
	var airSync struct {
		LastAppliedSeq uint64 `json:"last_applied_seq"`
		PendingObjects int    `json:"pending_objects"`
		EventsReceived uint64 `json:"events_received"`
		ChainOK        bool   `json:"chain_ok"`
	}
	decodeJSON(t, mustRun(t, tmp, at("site", "status", "air", "-o", "json")...).stdout, &airSync)
	if airSync.LastAppliedSeq != 1 || airSync.PendingObjects != 0 || airSync.EventsReceived == 0 || !airSync.ChainOK {
		t.Fatalf("air-gapped site status: %+v", airSync)
	}

	// Intermittent: syncs by itself through a bad link.
	intl := filepath.Join(tmp, "int")
	mustRun(t, tmp, "edge", "init", "--data", intl, "--site", "int", "--hub-key", hubPub)
	mustRun(t, tmp, at("site", "add", "int", "--class", "intermittent", "--scope", "acquisition=acme,bu=ops,site=int", "--edge-key", filepath.Join(intl, "edge.pub"))...)
	mustRun(t, tmp, at("site", "assign", "int", "--apt", "corp:test")...)
	tokFile := filepath.Join(tmp, "int.token")
	mustRun(t, tmp, at("token", "create", "--name", "edge-int", "--role", "endpoint-ops", "--scope", "acquisition=acme,bu=ops,site=int", "--out", tokFile)...)
	proxy := newFlakyProxy(t, hubURL, 1<<20)
	intAddr := freeAddr(t)
	startProc(t, "edge", "serve", "--data", intl, "--listen", intAddr, "--hub", proxy.URL, "--token-file", tokFile, "--interval", "1s")
	var intSync struct {
		LastAppliedSeq uint64 `json:"last_applied_seq"`
		PendingObjects int    `json:"pending_objects"`
		EventsReceived uint64 `json:"events_received"`
		ChainOK        bool   `json:"chain_ok"`
	}
	waitFor(t, "the intermittent edge to sync and report back", 120*time.Second, func() bool {
		r := eucora(t, tmp, at("site", "status", "int", "-o", "json")...)
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &intSync) != nil {
			return false
		}
		return intSync.LastAppliedSeq >= 1 && intSync.PendingObjects == 0 && intSync.EventsReceived > 0 && intSync.ChainOK
	})
	proxy.mu.Lock()
	cuts, ranges := proxy.cuts, append([]string{}, proxy.ranges...)
	proxy.mu.Unlock()
	resumed := false
	for _, r := range ranges {
		resumed = resumed || (strings.Contains(r, "/objects/") && !strings.Contains(r, "bytes=0-"))
	}
	t.Logf("the proxy cut %d object downloads; Range requests: %v", cuts, ranges)
	if cuts == 0 || !resumed {
		t.Fatalf("the link was cut %d times; object requests with a Range: %v (want a resume from a non-zero offset)", cuts, ranges)
	}
	apt2 := mirrortest.NewAptClient(t, "http://"+intAddr+"/apt/corp", "test", corpKeyring)
	apt2.MustRun("update")
	apt2.MustRun("download", "bigtool")
	got, err = os.ReadFile(filepath.Join(apt2.Root, "dl", filepath.Base(bigDeb)))
	if err != nil || !bytes.Equal(got, upstreamDeb) {
		t.Fatalf("apt-get from the intermittent edge: %v", err)
	}
}
