package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// files lists dir's entries with their modes.
func files(t *testing.T, dir string) map[string]os.FileMode {
	t.Helper()
	out := map[string]os.FileMode{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Mode().Perm()
	}
	return out
}

func TestHubTLSInit(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "tls")
	out, code := runHubCLI(t, "hub", "tls", "init", "--dir", dir, "--node", "n1=127.0.0.1,localhost", "--node", "n2=hub2.example,10.0.0.2", "-o", "json")
	var res struct {
		CA    string `json:"ca"`
		Nodes []struct {
			Name, Cert, Key string
			IPs             []string `json:"ips"`
		} `json:"nodes"`
		CACreated bool `json:"ca_created"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.CACreated || len(res.Nodes) != 2 || res.Nodes[1].IPs[0] != "10.0.0.2" {
		t.Fatalf("tls init: %d %s", code, out)
	}
	got := files(t, dir)
	for name, mode := range map[string]os.FileMode{"ca.pem": 0o644, "ca.key": 0o600, "n1.pem": 0o644, "n1.key": 0o600, "n2.pem": 0o644, "n2.key": 0o600} {
		if got[name] != mode {
			t.Errorf("%s: mode %v, want %v", name, got[name], mode)
		}
	}
	before := files(t, dir)
	ro := filepath.Join(base, "ro")
	os.MkdirAll(ro, 0o500)
	bad := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--dir", dir, "--node", "n1=127.0.0.1"}, exitError, "n1.pem"},
		{[]string{"--dir", dir, "--node", "n3=bad_host"}, exitUsage, "neither an IP address nor a host name"},
		{[]string{"--dir", dir, "--node", "N3"}, exitUsage, "want a name"},
		{[]string{"--dir", dir, "--node", "n3=a,,b"}, exitUsage, "empty host"},
		{[]string{"--dir", dir, "--node", "n3=127.0.0.1", "--node", "n3=127.0.0.2"}, exitUsage, "given twice"},
		{[]string{"--dir", dir}, exitUsage, "node"},
	}
	if os.Geteuid() != 0 {
		bad = append(bad, struct {
			args []string
			code int
			want string
		}{[]string{"--dir", ro, "--node", "n1=127.0.0.1"}, exitError, "not writable"})
	}
	for _, b := range bad {
		out, code := runHubCLI(t, append([]string{"hub", "tls", "init"}, b.args...)...)
		if code != b.code || !strings.Contains(out, b.want) {
			t.Errorf("tls init %v: exit %d, want %d with %q:\n%s", b.args, code, b.code, b.want, out)
		}
	}
	after := files(t, dir)
	if len(after) != len(before) {
		t.Fatalf("refused runs changed %s: %v", dir, after)
	}
	if len(files(t, ro)) != 0 {
		t.Fatalf("refused run wrote into %s", ro)
	}
}

// TestHubServeMutualTLSCluster runs three 'eucora hub serve' processes
// with certificates from 'eucora hub tls init': they form a cluster over
// mutual TLS and the CLI reaches it with --tls-ca (and not without). A
// fourth node is refused whichever way it lacks a cluster certificate.
func TestHubServeMutualTLSCluster(t *testing.T) {
	base := t.TempDir()
	tlsDir := filepath.Join(base, "tls")
	mustRun(t, base, "hub", "tls", "init", "--dir", tlsDir, "--node", "n1=127.0.0.1", "--node", "n2=127.0.0.1", "--node", "n3=127.0.0.1", "--node", "n4=127.0.0.1")
	foreignDir := filepath.Join(base, "foreign")
	mustRun(t, base, "hub", "tls", "init", "--dir", foreignDir, "--node", "n4=127.0.0.1")
	ca := filepath.Join(tlsDir, "ca.pem")
	tlsOf := func(dir, n string) []string {
		return []string{"--tls-cert", filepath.Join(dir, n+".pem"), "--tls-key", filepath.Join(dir, n+".key")}
	}
	type node struct{ id, http, data string }
	var nodes []node
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, node{id: "n" + string(rune('0'+i)), http: freeAddr(t), data: filepath.Join(base, "d"+string(rune('0'+i)))})
	}
	serve := func(n node, extra ...string) {
		args := append([]string{"hub", "serve", "--data", n.data, "--http", n.http, "--raft", freeAddr(t), "--node-id", n.id}, extra...)
		startIn(t, base, args...)
	}
	serve(nodes[0], append(tlsOf(tlsDir, "n1"), "--tls-ca", ca)...)
	tokFile := filepath.Join(nodes[0].data, "bootstrap.token")
	var tok []byte
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if tok, err = os.ReadFile(tokFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no bootstrap token")
		}
	}
	token := strings.TrimSpace(string(tok))
	url := func(n node) string { return "https://" + n.http }
	for _, n := range nodes[1:] {
		serve(n, append(tlsOf(tlsDir, n.id), "--tls-ca", ca, "--join", url(nodes[0]), "--token", token)...)
	}
	cli := func(n node, args ...string) result {
		return eucora(t, base, append(args, "--hub", url(n), "--token", token, "--tls-ca", ca)...)
	}
	// Wait for three reachable voters, asking the last node.
	var st struct {
		Nodes []struct {
			ID        string `json:"id"`
			Suffrage  string `json:"suffrage"`
			Reachable bool   `json:"reachable"`
		} `json:"nodes"`
	}
	ok := false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		r := cli(nodes[2], "status", "-o", "json")
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil || len(st.Nodes) != 3 {
			continue
		}
		ok = true
		for _, n := range st.Nodes {
			ok = ok && n.Reachable && n.Suffrage == "voter"
		}
		if ok {
			break
		}
	}
	if !ok {
		t.Fatalf("no cluster of three reachable voters: %+v", st)
	}
	// A write through a follower is forwarded over mutual TLS and read
	// back on every node.
	if r := cli(nodes[1], "site", "add", "paris", "--class", "online"); r.code != 0 {
		t.Fatalf("site add through n2: %d %s%s", r.code, r.stdout, r.stderr)
	}
	for _, n := range nodes {
		found := false
		for deadline := time.Now().Add(30 * time.Second); !found && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			r := cli(n, "site", "list", "--stale", "-o", "json")
			found = r.code == 0 && strings.Contains(r.stdout, `"paris"`)
		}
		if !found {
			t.Fatalf("%s does not hold the site", n.id)
		}
	}
	// Without --tls-ca the CLI does not trust the hub.
	r := eucora(t, base, "status", "--hub", url(nodes[0]), "--token", token)
	if r.code != exitUnavailable || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("status without --tls-ca: exit %d\n%s", r.code, r.stderr)
	}

	// A fourth node is refused: with no TLS at all (it cannot verify the
	// hub and presents nothing), with a certificate of another CA (both
	// sides refuse the handshake), and with a foreign certificate under
	// the cluster's --tls-ca (refused before it starts).
	n4 := node{id: "n4", http: freeAddr(t), data: filepath.Join(base, "d4")}
	refusals := []struct {
		name  string
		extra []string
		want  string
	}{
		{"no certificate", nil, "certificate"},
		{"foreign CA", append(tlsOf(foreignDir, "n4"), "--tls-ca", filepath.Join(foreignDir, "ca.pem")), "certificate"},
		{"foreign certificate, cluster CA", append(tlsOf(foreignDir, "n4"), "--tls-ca", ca), "does not verify against --tls-ca"},
	}
	for _, rf := range refusals {
		args := append([]string{"hub", "serve", "--data", n4.data, "--http", n4.http, "--raft", freeAddr(t), "--node-id", "n4",
			"--join", url(nodes[0]), "--token", token}, rf.extra...)
		r := eucora(t, base, args...)
		if r.code == 0 || !strings.Contains(r.stderr, rf.want) {
			t.Fatalf("%s: exit %d, want a refusal naming %q:\n%s", rf.name, r.code, rf.want, r.stderr)
		}
		t.Logf("%s: exit %d: %s", rf.name, r.code, strings.TrimSpace(r.stderr[strings.LastIndex(strings.TrimSpace(r.stderr), "\n")+1:]))
		if _, err := os.Stat(filepath.Join(n4.data, "hub")); err == nil {
			t.Fatalf("%s: the refused node kept a hub state", rf.name)
		}
	}
	r = cli(nodes[0], "status", "-o", "json")
	if json.Unmarshal([]byte(r.stdout), &st) != nil || len(st.Nodes) != 3 {
		t.Fatalf("after the refusals: %s", r.stdout)
	}
	var ids []string
	for _, n := range st.Nodes {
		ids = append(ids, n.ID)
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "n1,n2,n3" {
		t.Fatalf("members %v", ids)
	}
}
