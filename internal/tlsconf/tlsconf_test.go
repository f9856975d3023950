package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/testtool"
)

func mustSpec(t testing.TB, s string) NodeSpec {
	t.Helper()
	n, err := ParseNodeSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// listing returns the names and modes of dir's files.
func listing(t testing.TB, dir string) map[string]os.FileMode {
	t.Helper()
	out := map[string]os.FileMode{}
	if fi, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return out
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Mode().Perm()
	}
	return out
}

func TestInitWritesCAAndNodes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	res, err := Init(InitOptions{Dir: dir, Nodes: []NodeSpec{mustSpec(t, "n1=hub1.example,10.0.0.1,127.0.0.1"), mustSpec(t, "n2=hub2.example,::1")}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.CACreate || len(res.Nodes) != 2 {
		t.Fatalf("result %+v", res)
	}
	want := map[string]os.FileMode{"ca.pem": 0o644, "ca.key": 0o600, "n1.pem": 0o644, "n1.key": 0o600, "n2.pem": 0o644, "n2.key": 0o600}
	got := listing(t, dir)
	if len(got) != len(want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf("%s: mode %v, want %v", name, got[name], mode)
		}
	}
	m, err := Load(Files{Cert: res.Nodes[0].Cert, Key: res.Nodes[0].Key, CA: res.CA}, ForNode, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	l := m.Leaf
	if l.Subject.CommonName != "n1" || strings.Join(l.DNSNames, ",") != "hub1.example" || len(l.IPAddresses) != 2 {
		t.Fatalf("leaf names: %s %v %v", l.Subject.CommonName, l.DNSNames, l.IPAddresses)
	}
	if l.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("key algorithm %v, want ECDSA", l.PublicKeyAlgorithm)
	}
	for _, name := range []string{"hub1.example", "10.0.0.1", "127.0.0.1"} {
		if err := l.VerifyHostname(name); err != nil {
			t.Errorf("n1 not valid for %s: %v", name, err)
		}
	}
	if err := l.VerifyHostname("hub2.example"); err == nil {
		t.Error("n1 valid for n2's name")
	}
	// A second run with the CA present signs new nodes with it and
	// overwrites nothing.
	caBefore, _ := os.ReadFile(res.CA)
	res2, err := Init(InitOptions{Dir: dir, Nodes: []NodeSpec{mustSpec(t, "n3=127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	caAfter, _ := os.ReadFile(res.CA)
	if res2.CACreate || string(caBefore) != string(caAfter) {
		t.Fatal("second run replaced the CA")
	}
	if _, err := Load(Files{Cert: res2.Nodes[0].Cert, Key: res2.Nodes[0].Key, CA: res.CA}, ForNode, time.Time{}); err != nil {
		t.Fatalf("n3 does not verify against the CA: %v", err)
	}
	// --new-ca replaces it; the old node certificate then no longer verifies.
	if _, err := Init(InitOptions{Dir: dir, Nodes: []NodeSpec{mustSpec(t, "n3=127.0.0.1")}, NewCA: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Files{Cert: res.Nodes[0].Cert, Key: res.Nodes[0].Key, CA: res.CA}, ForNode, time.Time{}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("n1 against the new CA: %v, want ErrMismatch", err)
	}
}

// openssl, an independent X.509 implementation, verifies what Init wrote
// for both purposes and reads the key.
func TestInitVerifiesWithOpenSSL(t *testing.T) {
	testtool.Need(t, "apt-get install openssl", "openssl")
	dir := t.TempDir()
	res, err := Init(InitOptions{Dir: dir, Nodes: []NodeSpec{mustSpec(t, "n1=hub1.example,127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Nodes[0]
	for _, purpose := range []string{"sslserver", "sslclient"} {
		out, err := exec.Command("openssl", "verify", "-purpose", purpose, "-CAfile", res.CA, n.Cert).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Fatalf("openssl verify -purpose %s: %v\n%s", purpose, err, out)
		}
	}
	out, err := exec.Command("openssl", "x509", "-in", n.Cert, "-noout", "-ext", "subjectAltName").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "DNS:hub1.example") || !strings.Contains(string(out), "IP Address:127.0.0.1") {
		t.Fatalf("openssl x509 SANs: %v\n%s", err, out)
	}
	out, err = exec.Command("openssl", "pkey", "-in", n.Key, "-noout", "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "prime256v1") && !strings.Contains(string(out), "P-256") {
		t.Fatalf("openssl pkey: %v\n%s", err, out)
	}
	// openssl's own s_client completes a handshake against a server on
	// the node certificate, verifying it with the CA.
	m, err := Load(Files{Cert: n.Cert, Key: n.Key, CA: res.CA}, ForNode, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", m.ServerConfig(tls.RequireAndVerifyClientCert))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); c.(*tls.Conn).Handshake(); c.Write([]byte("hello\n")) }()
		}
	}()
	cmd := exec.Command("openssl", "s_client", "-connect", ln.Addr().String(), "-CAfile", res.CA, "-verify_return_error",
		"-verify_ip", "127.0.0.1", "-cert", n.Cert, "-key", n.Key)
	cmd.Stdin = strings.NewReader("")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verify return code: 0 (ok)") {
		t.Fatalf("openssl s_client: %v\n%s", err, out)
	}
}

// Bad input to Init is refused with an error naming it, and writes
// nothing.
func TestInitRefusesBadInputChangingNothing(t *testing.T) {
	base := t.TempDir()
	existing := filepath.Join(base, "existing")
	if _, err := Init(InitOptions{Dir: existing, Nodes: []NodeSpec{mustSpec(t, "n1=127.0.0.1")}}); err != nil {
		t.Fatal(err)
	}
	halfCA := filepath.Join(base, "half")
	os.MkdirAll(halfCA, 0o700)
	os.WriteFile(filepath.Join(halfCA, CAFile), []byte("x"), 0o644)
	readonly := filepath.Join(base, "ro")
	os.MkdirAll(readonly, 0o500)
	notDir := filepath.Join(base, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	cases := []struct {
		name string
		dir  string
		spec []string
		want string
		err  error
	}{
		{"no nodes", filepath.Join(base, "a"), nil, "no node given", nil},
		{"duplicate node", filepath.Join(base, "b"), []string{"n1=127.0.0.1", "n1=127.0.0.2"}, "given twice", ErrBadName},
		{"node named ca", filepath.Join(base, "c"), []string{"ca=127.0.0.1"}, "CA's file name", ErrBadName},
		{"existing node files", existing, []string{"n1=127.0.0.1"}, "n1.pem", ErrExists},
		{"half a CA", halfCA, []string{"n2=127.0.0.1"}, "without", nil},
		{"not a directory", notDir, []string{"n1=127.0.0.1"}, "not a directory", nil},
	}
	if os.Geteuid() != 0 {
		cases = append(cases, struct {
			name string
			dir  string
			spec []string
			want string
			err  error
		}{"unwritable directory", readonly, []string{"n1=127.0.0.1"}, "not writable", nil})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := listing(t, tc.dir)
			var specs []NodeSpec
			for _, s := range tc.spec {
				specs = append(specs, mustSpec(t, s))
			}
			_, err := Init(InitOptions{Dir: tc.dir, Nodes: specs})
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("err %v, want one containing %q (%v)", err, tc.want, tc.err)
			}
			after := listing(t, tc.dir)
			if len(before) != len(after) {
				t.Fatalf("files changed: %v -> %v", keys(before), keys(after))
			}
		})
	}
}

func keys(m map[string]os.FileMode) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestParseNodeSpec(t *testing.T) {
	good := map[string]string{
		"n1":                        "n1|n1|",
		"n1=hub1.example,10.0.0.1":  "n1|hub1.example|10.0.0.1",
		"node-2=HUB.Example,[::1]":  "node-2|hub.example|::1",
		"a.b_c=localhost,127.0.0.1": "a.b_c|localhost|127.0.0.1",
	}
	for in, want := range good {
		n, err := ParseNodeSpec(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		var ips []string
		for _, ip := range n.IPs {
			ips = append(ips, ip.String())
		}
		if got := n.Name + "|" + strings.Join(n.DNS, ",") + "|" + strings.Join(ips, ","); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
	bad := []string{"", "N1", "-n", "n1=", "n1=,a", "n1=a,,b", "n1=a,a", "n1=*.example", "n1=bad_host", "n1=-x.example",
		"n1=" + strings.Repeat("a", 64) + ".example", "n1=" + strings.Repeat("a.", 127) + "a", "n_1", "n1=a b", "n1=hüb.example",
		"n1=127.0.0.1/8", "n1=host:8440"}
	for _, in := range bad {
		if _, err := ParseNodeSpec(in); !errors.Is(err, ErrBadName) {
			t.Errorf("%q: %v, want ErrBadName", in, err)
		}
	}
}

// Load names the file and the fault of material that does not fit.
func TestLoadRefusesMaterialThatDoesNotFit(t *testing.T) {
	a := t.TempDir()
	b := t.TempDir()
	ra, err := Init(InitOptions{Dir: a, Nodes: []NodeSpec{mustSpec(t, "n1=127.0.0.1"), mustSpec(t, "n2=127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Init(InitOptions{Dir: b, Nodes: []NodeSpec{mustSpec(t, "n1=127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	n1, n2 := ra.Nodes[0], ra.Nodes[1]
	garbage := filepath.Join(a, "garbage.pem")
	os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"), 0o644)
	empty := filepath.Join(a, "empty.pem")
	os.WriteFile(empty, nil, 0o644)
	cases := []struct {
		name string
		f    Files
		at   time.Time
		want string
		err  error
	}{
		{"key of another node", Files{Cert: n1.Cert, Key: n2.Key, CA: ra.CA}, time.Time{}, "private key does not match", ErrMismatch},
		{"certificate of another CA", Files{Cert: rb.Nodes[0].Cert, Key: rb.Nodes[0].Key, CA: ra.CA}, time.Time{}, "does not verify against --tls-ca", ErrMismatch},
		{"node certificate as CA", Files{Cert: n1.Cert, Key: n1.Key, CA: n2.Cert}, time.Time{}, "not a CA certificate", ErrMismatch},
		{"CA as node certificate", Files{Cert: ra.CA, Key: ra.CAKey, CA: ra.CA}, time.Time{}, "is a CA certificate", ErrMismatch},
		{"key as certificate", Files{Cert: n1.Key, Key: n1.Key, CA: ra.CA}, time.Time{}, "want CERTIFICATE", ErrBadPEM},
		{"certificate as key", Files{Cert: n1.Cert, Key: n1.Cert, CA: ra.CA}, time.Time{}, "want a PRIVATE KEY", ErrBadPEM},
		{"garbage certificate", Files{Cert: garbage, Key: n1.Key, CA: ra.CA}, time.Time{}, "no CERTIFICATE block", ErrBadPEM},
		{"empty CA", Files{Cert: n1.Cert, Key: n1.Key, CA: empty}, time.Time{}, "no CERTIFICATE block", ErrBadPEM},
		{"missing file", Files{Cert: filepath.Join(a, "nope.pem"), Key: n1.Key, CA: ra.CA}, time.Time{}, "--tls-cert", os.ErrNotExist},
		{"directory as file", Files{Cert: a, Key: n1.Key, CA: ra.CA}, time.Time{}, "not a regular file", ErrBadPEM},
		{"expired", Files{Cert: n1.Cert, Key: n1.Key, CA: ra.CA}, time.Now().Add(3 * NodeValidity), "not now", ErrMismatch},
		{"not yet valid", Files{Cert: n1.Cert, Key: n1.Key, CA: ra.CA}, time.Now().Add(-time.Hour), "not now", ErrMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.f, ForNode, tc.at)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %q (%v)", err, tc.want, tc.err)
			}
		})
	}
	for _, f := range []Files{{Cert: "c"}, {Key: "k"}, {Cert: "c", Key: "k"}} {
		if err := f.Check(true); !errors.Is(err, ErrFlags) || !strings.Contains(err.Error(), "missing") {
			t.Errorf("Check(%+v): %v", f, err)
		}
	}
	if err := (Files{Cert: "c", Key: "k"}).Check(false); err != nil {
		t.Errorf("listener without CA: %v", err)
	}
}

// A server requiring client certificates refuses a client with none and
// one of another CA, and takes one of its CA: the handshake rule Raft
// and the hub's node routes rest on.
func TestMutualTLSHandshake(t *testing.T) {
	ra, err := Init(InitOptions{Dir: t.TempDir(), Nodes: []NodeSpec{mustSpec(t, "n1=127.0.0.1"), mustSpec(t, "n2=127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Init(InitOptions{Dir: t.TempDir(), Nodes: []NodeSpec{mustSpec(t, "n2=127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	load := func(iss Issued, ca string) *Material {
		m, err := Load(Files{Cert: iss.Cert, Key: iss.Key, CA: ca}, ForNode, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	srv := load(ra.Nodes[0], ra.CA)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.ServerConfig(tls.RequireAndVerifyClientCert))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() == nil {
					c.Write([]byte("ok"))
				}
			}()
		}
	}()
	try := func(cfg *tls.Config) error {
		cfg.ServerName = "127.0.0.1"
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		if err == nil && string(b) != "ok" {
			err = errors.New("no answer")
		}
		return err
	}
	if err := try(load(ra.Nodes[1], ra.CA).ClientConfig()); err != nil {
		t.Fatalf("peer of the same CA: %v", err)
	}
	if err := try(&tls.Config{RootCAs: srv.CAs}); err == nil {
		t.Fatal("client without a certificate accepted")
	}
	foreign := load(rb.Nodes[0], rb.CA)
	if err := try(&tls.Config{RootCAs: srv.CAs, Certificates: []tls.Certificate{foreign.Cert}}); err == nil {
		t.Fatal("client with a certificate of another CA accepted")
	}
	if err := try(foreign.ClientConfig()); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("client trusting another CA: %v, want unknown authority", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for a, want := range map[net.Addr]bool{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}:   true,
		&net.TCPAddr{IP: net.IPv4(127, 9, 9, 9)}:   true,
		&net.TCPAddr{IP: net.IPv6loopback}:         true,
		&net.TCPAddr{IP: net.IPv4zero}:             false,
		&net.TCPAddr{IP: net.IPv6unspecified}:      false,
		&net.TCPAddr{IP: net.IPv4(192, 168, 1, 2)}: false,
		nil: false,
	} {
		if got := IsLoopback(a); got != want {
			t.Errorf("IsLoopback(%v) = %v, want %v", a, got, want)
		}
	}
}
