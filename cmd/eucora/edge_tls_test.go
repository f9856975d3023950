package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEdgeTLS: 'edge init --tls-ca' pins the hub's CA (refusing a bad one
// before writing anything), 'edge serve' refuses an https hub with no CA
// pinned and another CA than the pinned one, and serves over TLS with
// --tls-cert and --tls-key.
func TestEdgeTLS(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
	mustRun(t, dir, "hub", "tls", "init", "--dir", "tls", "--node", "n1=127.0.0.1", "--node", "edge1=127.0.0.1")
	mustRun(t, dir, "hub", "tls", "init", "--dir", "other", "--node", "n1=127.0.0.1")
	// A node certificate is no CA: refused, no edge created.
	r := eucora(t, dir, "edge", "init", "--data", "bad", "--site", "lon", "--hub-key", "keys/hub.pub", "--tls-ca", "tls/n1.pem")
	if r.code != exitCorrupt || !strings.Contains(r.stderr, "not a CA certificate") {
		t.Fatalf("edge init with a node certificate as CA: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Fatal("refused edge init left a data directory")
	}
	// An edge without a pinned CA refuses an https hub.
	mustRun(t, dir, "edge", "init", "--data", "plain", "--site", "lon", "--hub-key", "keys/hub.pub")
	os.WriteFile(filepath.Join(dir, "tok"), []byte("euc_x\n"), 0o600)
	r = eucora(t, dir, "edge", "serve", "--data", "plain", "--listen", "127.0.0.1:0", "--hub", "https://127.0.0.1:1", "--token-file", "tok")
	if r.code != exitUsage || !strings.Contains(r.stderr, "no hub CA pinned") {
		t.Fatalf("https hub with nothing pinned: exit %d\n%s", r.code, r.stderr)
	}
	// Pinned at init; another CA is refused at serve.
	mustRun(t, dir, "edge", "init", "--data", "data", "--site", "lon", "--hub-key", "keys/hub.pub", "--tls-ca", "tls/ca.pem")
	pinned, err := os.ReadFile(filepath.Join(dir, "data", "edge", "hub-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	r = eucora(t, dir, "edge", "serve", "--data", "data", "--listen", "127.0.0.1:0", "--hub", "https://127.0.0.1:1", "--token-file", "tok", "--tls-ca", "other/ca.pem")
	if r.code == 0 || !strings.Contains(r.stderr, "--replace-hub-ca") {
		t.Fatalf("serve with another hub CA: exit %d\n%s", r.code, r.stderr)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "data", "edge", "hub-ca.pem")); string(now) != string(pinned) {
		t.Fatal("a refused CA replaced the pinned one")
	}
	// The listener over TLS.
	cmd := exec.Command(eucoraBin, "edge", "serve", "--data", "data", "--listen", "127.0.0.1:0", "--output", "json",
		"--tls-cert", "tls/edge1.pem", "--tls-key", "tls/edge1.key")
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no start line: %v", err)
	}
	var started struct {
		URL string `json:"url"`
	}
	decodeJSON(t, line, &started)
	if !strings.HasPrefix(started.URL, "https://127.0.0.1:") {
		t.Fatalf("start line %q", line)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pinned)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(started.URL + "/healthz")
	if err != nil {
		t.Fatalf("healthz over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
	if _, err := http.Get(started.URL + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("healthz without the CA: %v, want a certificate error", err)
	}
}
