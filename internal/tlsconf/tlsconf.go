// Package tlsconf loads and creates the TLS material of EUCORA's listeners
// and clients: the hub API and its Raft transport (mutual TLS between hub
// nodes), the edge's listener, and the CA an edge pins for its hub.
//
// Material is three PEM files: a certificate (--tls-cert), its private
// key (--tls-key) and the CA that signs every node of the cluster
// (--tls-ca). Load checks that they belong together (the key matches the
// certificate, the certificate is signed by the CA, it is valid now and
// allowed for servers and clients) and names the file and the fault when
// they do not. Init (init.go) creates a small CA and node certificates
// with the standard library only (ECDSA P-256). docs/tls.md is the
// operator's guide.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Errors of the package.
var (
	// ErrBadPEM: a file or value is not the PEM it should be.
	ErrBadPEM = errors.New("bad PEM")
	// ErrMismatch: certificate, key and CA do not belong together, or the
	// certificate is not valid now or not allowed for its use.
	ErrMismatch = errors.New("TLS material does not fit together")
	// ErrFlags: the TLS flags are given incompletely.
	ErrFlags = errors.New("incomplete TLS flags")
	// ErrExists: Init would overwrite a file.
	ErrExists = errors.New("file exists")
	// ErrBadName: a node name or subject alternative name is malformed.
	ErrBadName = errors.New("bad name")
)

// maxPEM bounds a PEM file read from the user.
const maxPEM = 1 << 20

// Files are the paths given by --tls-cert, --tls-key and --tls-ca.
type Files struct {
	Cert, Key, CA string
}

// Empty reports whether no TLS flag was given.
func (f Files) Empty() bool { return f.Cert == "" && f.Key == "" && f.CA == "" }

// Check refuses an incomplete set: certificate and key go together, and
// when needCA is set the CA is needed too (the hub: its nodes verify each
// other against it).
func (f Files) Check(needCA bool) error {
	if f.Empty() {
		return nil
	}
	var missing []string
	if f.Cert == "" {
		missing = append(missing, "--tls-cert")
	}
	if f.Key == "" {
		missing = append(missing, "--tls-key")
	}
	if needCA && f.CA == "" {
		missing = append(missing, "--tls-ca")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s missing; give --tls-cert, --tls-key and --tls-ca together (docs/tls.md)", ErrFlags, strings.Join(missing, " and "))
	}
	return nil
}

// Material is loaded TLS material: this node's certificate and key, and
// the CA pool its peers are verified against (nil when no CA was given).
type Material struct {
	Cert  tls.Certificate
	Leaf  *x509.Certificate
	CAs   *x509.CertPool
	CAPEM []byte // the CA file's certificates, re-encoded
}

// Use is what a certificate is loaded for.
type Use int

const (
	// ForNode: a hub node, which serves and is a client of its peers.
	ForNode Use = iota
	// ForServer: a listener only (the edge).
	ForServer
)

// Load reads and checks f (see Check). now is the time the certificate
// must be valid at (zero: time.Now()).
func Load(f Files, use Use, now time.Time) (*Material, error) {
	if now.IsZero() {
		now = time.Now()
	}
	certPEM, err := readPEMFile(f.Cert, "--tls-cert")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readPEMFile(f.Key, "--tls-key")
	if err != nil {
		return nil, err
	}
	cert, err := LoadKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s with --tls-key %s: %w", f.Cert, f.Key, err)
	}
	m := &Material{Cert: cert, Leaf: cert.Leaf}
	if f.CA != "" {
		caPEM, err := readPEMFile(f.CA, "--tls-ca")
		if err != nil {
			return nil, err
		}
		pool, cas, err := ParseCAs(caPEM)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca %s: %w", f.CA, err)
		}
		m.CAs, m.CAPEM = pool, EncodeCerts(cas)
	}
	if err := m.check(use, now); err != nil {
		return nil, fmt.Errorf("--tls-cert %s: %w", f.Cert, err)
	}
	return m, nil
}

// check verifies the leaf against the CA (when given) for its use.
func (m *Material) check(use Use, now time.Time) error {
	l := m.Leaf
	if now.Before(l.NotBefore) || now.After(l.NotAfter) {
		return fmt.Errorf("%w: certificate %q is valid from %s to %s, not now (%s)", ErrMismatch, l.Subject.CommonName,
			l.NotBefore.UTC().Format(time.RFC3339), l.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	usages := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if use == ForNode {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	if m.CAs == nil {
		return nil
	}
	for _, u := range usages {
		inter := x509.NewCertPool()
		for _, c := range m.Cert.Certificate[1:] {
			if ic, err := x509.ParseCertificate(c); err == nil {
				inter.AddCert(ic)
			}
		}
		_, err := l.Verify(x509.VerifyOptions{Roots: m.CAs, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{u}})
		if err != nil {
			what := "serving"
			if u == x509.ExtKeyUsageClientAuth {
				what = "client authentication (a hub node is a client of its peers)"
			}
			return fmt.Errorf("%w: certificate %q does not verify against --tls-ca for %s: %v", ErrMismatch, l.Subject.CommonName, what, err)
		}
	}
	return nil
}

func readPEMFile(path, flag string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s: %w: not a regular file", flag, path, ErrBadPEM)
	}
	if st.Size() > maxPEM {
		return nil, fmt.Errorf("%s %s: %w: %d bytes, more than a PEM file of certificates holds (at most %d)", flag, path, ErrBadPEM, st.Size(), maxPEM)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return b, nil
}

// LoadKeyPair parses a PEM certificate chain and its PEM private key and
// checks that they match. The first certificate is the leaf (Leaf set).
func LoadKeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	certs, err := parseCertBlocks(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	if len(certs) == 0 {
		return tls.Certificate{}, fmt.Errorf("certificate: %w: no CERTIFICATE block", ErrBadPEM)
	}
	if err := checkKeyPEM(keyPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	if cert.Leaf == nil {
		cert.Leaf = certs[0]
	}
	if cert.Leaf.IsCA {
		return tls.Certificate{}, fmt.Errorf("%w: certificate %q is a CA certificate; give a node certificate (eucora hub tls init writes NODE.pem)", ErrMismatch, cert.Leaf.Subject.CommonName)
	}
	return cert, nil
}

// parseCertBlocks parses every PEM block of b, which must all be
// CERTIFICATE blocks; text outside blocks is ignored as openssl does.
func parseCertBlocks(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: block %d is %q, want CERTIFICATE", ErrBadPEM, n, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: block %d: %v", ErrBadPEM, n, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func checkKeyPEM(b []byte) error {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return fmt.Errorf("%w: no PEM block", ErrBadPEM)
	}
	if !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
		return fmt.Errorf("%w: block is %q, want a PRIVATE KEY", ErrBadPEM, blk.Type)
	}
	return nil
}

// ParseCAs parses a PEM file of CA certificates (one or more, for a CA
// being rotated). Every block must be a CA certificate.
func ParseCAs(b []byte) (*x509.CertPool, []*x509.Certificate, error) {
	certs, err := parseCertBlocks(b)
	if err != nil {
		return nil, nil, err
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("%w: no CERTIFICATE block", ErrBadPEM)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		if !c.IsCA || !c.BasicConstraintsValid {
			return nil, nil, fmt.Errorf("%w: certificate %q is not a CA certificate (give ca.pem, not a node's certificate)", ErrMismatch, c.Subject.CommonName)
		}
		pool.AddCert(c)
	}
	return pool, certs, nil
}

// LoadCAFile reads a CA file (see ParseCAs) for flag, naming both in errors.
func LoadCAFile(path, flag string) (*x509.CertPool, []byte, error) {
	b, err := readPEMFile(path, flag)
	if err != nil {
		return nil, nil, err
	}
	pool, cas, err := ParseCAs(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return pool, EncodeCerts(cas), nil
}

// EncodeCerts encodes certificates as PEM.
func EncodeCerts(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// ServerConfig is the configuration of a listener serving m's
// certificate. With a CA, clients are verified against it: auth is
// tls.RequireAndVerifyClientCert for Raft, tls.VerifyClientCertIfGiven for
// the hub API (the CLI and edges have no client certificate; routes that
// only nodes call check the verified chain themselves).
func (m *Material) ServerConfig(auth tls.ClientAuthType) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{m.Cert}}
	if m.CAs != nil {
		c.ClientCAs, c.ClientAuth = m.CAs, auth
	}
	return c
}

// ClientConfig is the configuration of a node calling its peers: it
// verifies them against the CA and presents its own certificate.
func (m *Material) ClientConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: m.CAs, Certificates: []tls.Certificate{m.Cert}}
}

// Transport is an HTTP transport (http.DefaultTransport's settings) whose
// TLS configuration is cfg.
func Transport(cfg *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	return t
}

// IsLoopback reports whether a listener or connection address is on the
// loopback interface. A wildcard address (0.0.0.0, ::, or an empty host)
// is not: it accepts connections from the network.
func IsLoopback(addr net.Addr) bool {
	if addr == nil {
		return false
	}
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	return IsLoopbackHostPort(addr.String())
}

// IsLoopbackHostPort is IsLoopback for "host:port"; the host "localhost"
// counts as loopback.
func IsLoopbackHostPort(hp string) bool {
	host, _, err := net.SplitHostPort(hp)
	if err != nil {
		host = hp
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
