package hub

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/tlsconf"
)

// TestTLSClusterRefusesNodesWithoutClusterCert runs a 3-node cluster on
// real Raft over mutual TLS (TCP on loopback, raft-boltdb) with the API
// over TLS, and checks that it replicates, that node-to-node HTTP (join,
// forwarding, blob replication, health) works over mutual TLS, and that a
// node without a certificate of the cluster CA can neither join over HTTP
// nor take part in Raft: not when it presents no certificate, not when it
// presents one of another CA, not even when a leader was made to add it
// as a voter.
func TestTLSClusterRefusesNodesWithoutClusterCert(t *testing.T) {
	nodes, tok := makeCluster(t, 3, clusterOpts{RealRaft: true, TLS: true})
	ctx := ctxT(t)
	var want []string
	for i := range 5 {
		name := fmt.Sprintf("tls-%d", i)
		createSite(t, nodes, tok, api.SiteRequest{Name: name, Class: "online"})
		want = append(want, name)
	}
	eventually(t, "every site on every node", func() bool { return hasAll(t, nodes, want) })
	leader := leaderOf(t, nodes)
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}
	// Health of each member is probed over the peer transport (mTLS).
	eventually(t, "three reachable voters", func() bool {
		st, err := cli(follower, tok).Status(ctx)
		if err != nil || len(st.Nodes) != 3 {
			return false
		}
		for _, n := range st.Nodes {
			if !n.Reachable || n.Suffrage != "voter" || !strings.HasPrefix(n.HTTPAddr, "https://") {
				return false
			}
		}
		return true
	})
	// A blob PUT through a follower is forwarded to the leader, which has
	// the followers fetch it from its peer endpoint: all over mutual TLS.
	data := make([]byte, 64<<10)
	rand.Read(data)
	sum := sha256.Sum256(data)
	hx := hex.EncodeToString(sum[:])
	if err := retry(t, func() error { return cli(follower, tok).PutBlob(ctx, hx, bytes.NewReader(data), int64(len(data))) }); err != nil {
		t.Fatalf("blob through a follower over TLS: %v", err)
	}
	holders := 0
	for _, n := range nodes {
		if ok, _ := n.srv.cas.Has(digest.MustParse(hx)); ok {
			holders++
		}
	}
	if holders < 2 {
		t.Fatalf("acknowledged blob on %d nodes", holders)
	}

	foreign := clusterTLS(t, filepath.Join(t.TempDir(), "foreign"), 4)[3] // "n4" of another CA
	// 1. Join over HTTP with a valid platform-admin token but no client
	// certificate: refused, at the leader and at a follower (before it
	// forwards), naming what is missing.
	for _, n := range []*testNode{leader, follower} {
		err := cli(n, tok).Join(ctx, api.JoinRequest{NodeID: "n4", RaftAddr: freeAddr(t), HTTPAddr: "https://" + freeAddr(t)})
		if !errors.Is(err, client.ErrDenied) || !strings.Contains(err.Error(), "client certificate") {
			t.Fatalf("join through %s without a client certificate: %v, want 403 naming the certificate", n.id, err)
		}
	}
	// 2. Join presenting a certificate of another CA: the handshake fails.
	c := client.New(leader.url(), tok)
	c.HTTP.Transport = tlsconf.Transport(&tls.Config{RootCAs: leader.tls.CAs, Certificates: []tls.Certificate{foreign.Cert}})
	if err := c.Join(ctx, api.JoinRequest{NodeID: "n4", RaftAddr: freeAddr(t), HTTPAddr: "https://" + freeAddr(t)}); err == nil || errors.Is(err, client.ErrDenied) {
		t.Fatalf("join with a foreign certificate: %v, want the TLS handshake refused", err)
	}
	// 3. The peer endpoints need the node certificate even with the peer
	// secret.
	id, err := leader.srv.store.State().Identity()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", leader.url()+"/internal/v1/blobs/"+hx, nil)
	req.Header.Set("Authorization", "Bearer "+id.PeerSecret)
	resp, err := (&http.Client{Transport: tlsconf.Transport(&tls.Config{RootCAs: leader.tls.CAs})}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("peer endpoint with the peer secret but no client certificate: %d, want 403", resp.StatusCode)
	}

	// 4. Raft RPCs from a node with no certificate (plaintext Raft) and
	// from one with a foreign certificate, asking for a vote in a far
	// later term: refused at the handshake; the leader's term is not
	// touched (an accepted vote request would make it step down).
	const hugeTerm = 1 << 40
	refusedBefore := leader.srv.store.RaftTLSRefused()
	plain, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	rogueTLS, err := store.NewTLSTransport(freeAddr(t), &store.RaftTLS{Server: foreign.ServerConfig(tls.RequireAndVerifyClientCert), Client: &tls.Config{
		RootCAs: leader.tls.CAs, Certificates: []tls.Certificate{foreign.Cert}}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rogueTLS.Close()
	for name, tr := range map[string]raft.Transport{"plaintext": plain, "foreign CA": rogueTLS} {
		var vr raft.RequestVoteResponse
		err := tr.RequestVote("n1", raft.ServerAddress(leader.raftAddr), &raft.RequestVoteRequest{
			RPCHeader: raft.RPCHeader{ID: []byte("n4"), Addr: []byte(tr.LocalAddr())}, Term: hugeTerm, LastLogIndex: hugeTerm, LastLogTerm: hugeTerm}, &vr)
		if err == nil {
			t.Fatalf("%s RequestVote to the leader: answered %+v, want the connection refused", name, vr)
		}
	}
	eventually(t, "the leader counts both refused handshakes", func() bool { return leader.srv.store.RaftTLSRefused() >= refusedBefore+2 })
	for _, n := range nodes {
		if term := n.srv.store.Status().Term; term >= hugeTerm {
			t.Fatalf("%s moved to term %d on a refused vote request", n.id, term)
		}
	}

	// 5. A node with a foreign certificate made a voter by the leader
	// (as a mistaken or malicious join would): the leader cannot reach it
	// and it refuses the leader; it never holds the cluster's data, and
	// the cluster keeps committing with its three members.
	rogue := newTestNode(t, filepath.Dir(nodes[0].dir), "n4")
	rogue.tls = foreign
	rogue.start(t, false, "", "")
	t.Cleanup(func() { rogue.stop(t) })
	if err := leaderOf(t, nodes).srv.store.AddVoter("n4", rogue.raftAddr); err != nil {
		t.Fatalf("add the rogue voter: %v", err)
	}
	createSite(t, nodes, tok, api.SiteRequest{Name: "after-rogue", Class: "online"})
	want = append(want, "after-rogue")
	eventually(t, "the rogue refuses the leader's connections", func() bool { return rogue.srv.store.RaftTLSRefused() >= 1 })
	eventually(t, "the members hold the new write", func() bool { return hasAll(t, nodes, want) })
	if has, err := rogue.srv.store.HasState(); err != nil || has {
		t.Fatalf("rogue node has Raft state: %v %v", has, err)
	}
	if sites := siteNames(t, rogue); len(sites) != 0 {
		t.Fatalf("rogue node holds the cluster's sites: %v", sites)
	}
	if ok, _ := rogue.srv.cas.Has(digest.MustParse(hx)); ok {
		t.Fatal("rogue node holds the cluster's blob")
	}
	if err := leaderOf(t, nodes).srv.store.RemoveServer("n4"); err != nil {
		t.Fatal(err)
	}
}

// The API over TLS: a client verifying against the cluster CA works; one
// trusting only the system roots, or speaking plaintext to the TLS port,
// does not.
func TestTLSAPIVerifiesAgainstTheCA(t *testing.T) {
	nodes, tok := makeCluster(t, 1, clusterOpts{TLS: true})
	n := nodes[0]
	ctx := ctxT(t)
	if !strings.HasPrefix(n.srv.URL(), "https://") {
		t.Fatalf("advertised URL %s, want https", n.srv.URL())
	}
	if _, err := cli(n, tok).Status(ctx); err != nil {
		t.Fatalf("status with the CA: %v", err)
	}
	noCA := client.New(n.url(), tok)
	if _, err := noCA.Status(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("status without the CA: %v, want a certificate error", err)
	}
	resp, err := http.Get("http://" + n.httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plaintext request to the TLS port: %d, want 400", resp.StatusCode)
	}
	// A hub needs the CA: its nodes verify each other against it.
	m := *n.tls
	m.CAs = nil
	c := n.config(t, nil)
	c.TLS, c.DataDir = &m, t.TempDir()
	if _, err := New(c); !errors.Is(err, tlsconf.ErrFlags) {
		t.Fatalf("hub with TLS but no CA: %v, want ErrFlags", err)
	}
}

// The plaintext guard decides by the address a request arrived on.
func TestPlaintextGuardByLocalAddress(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8440}
	cases := []struct {
		name     string
		local    net.Addr
		token    bool
		insecure bool
		want     int
	}{
		{"token on loopback", loop, true, false, http.StatusNoContent},
		{"token on ::1", &net.TCPAddr{IP: net.IPv6loopback, Port: 8440}, true, false, http.StatusNoContent},
		{"token on a network address", &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8440}, true, false, http.StatusForbidden},
		{"token on a network IPv6 address", &net.TCPAddr{IP: net.ParseIP("fd00::5"), Port: 8440}, true, false, http.StatusForbidden},
		{"no token on a network address", &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8440}, false, false, http.StatusNoContent},
		{"token with --insecure-http", &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8440}, true, true, http.StatusNoContent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			s := &Server{cfg: Config{InsecureHTTP: tc.insecure}, ln: ln}
			req := httptest.NewRequest("GET", "/v1/status", nil)
			req = req.WithContext(contextWithLocalAddr(req, tc.local))
			if tc.token {
				req.Header.Set("Authorization", "Bearer euc_x")
			}
			rec := httptest.NewRecorder()
			s.plaintextGuard(ok).ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			if tc.want == http.StatusForbidden && (!strings.Contains(rec.Body.String(), "--tls-cert") || !strings.Contains(rec.Body.String(), "--insecure-http")) {
				t.Fatalf("refusal does not name --tls-cert and --insecure-http: %s", rec.Body)
			}
		})
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true, "0.0.0.0:1": false, "[::]:1": false, ":1": false, "10.0.0.1:1": false} {
		if got := tlsconf.IsLoopbackHostPort(addr); got != want {
			t.Errorf("IsLoopbackHostPort(%q) = %v, want %v", addr, got, want)
		}
	}
}

// End to end on this machine's non-loopback address, if it has one: a
// token over plaintext is refused; with --insecure-http it is taken.
func TestPlaintextTokenRefusedOnNetworkAddress(t *testing.T) {
	ip := nonLoopbackIP(t)
	for _, insecure := range []bool{false, true} {
		n := newMemNode(t, newRaftNet(), t.TempDir(), "n1", 50*time.Millisecond)
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Skipf("cannot listen on %s: %v", ip, err)
		}
		n.httpAddr = ln.Addr().String()
		c := n.config(t, ln)
		c.Bootstrap, c.InsecureHTTP = true, insecure
		srv, err := New(c)
		if err != nil {
			ln.Close()
			t.Fatal(err)
		}
		n.srv = srv
		waitReady(t, n)
		tok := readToken(t, n)
		_, err = cli(n, tok).Status(ctxT(t))
		if insecure {
			if err != nil {
				t.Fatalf("--insecure-http: %v", err)
			}
		} else if !errors.Is(err, client.ErrDenied) || !strings.Contains(err.Error(), "--insecure-http") {
			t.Fatalf("token over plaintext on %s: %v, want 403 naming --tls-cert and --insecure-http", n.httpAddr, err)
		}
		// Health needs no token and stays reachable.
		resp, err := http.Get(n.url() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %d", resp.StatusCode)
		}
		n.stop(t)
	}
}

// nonLoopbackIP returns an IPv4 address of this machine that is not
// loopback, or skips the test (a container may have none).
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	for _, a := range addrs {
		if in, ok := a.(*net.IPNet); ok && !in.IP.IsLoopback() && in.IP.To4() != nil && !in.IP.IsLinkLocalUnicast() {
			return in.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address; TestPlaintextGuardByLocalAddress covers the decision")
	return ""
}

func contextWithLocalAddr(r *http.Request, a net.Addr) context.Context {
	return context.WithValue(r.Context(), http.LocalAddrContextKey, a)
}
