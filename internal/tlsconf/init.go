package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/atomicfile"
)

// Validity of what Init creates.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	NodeValidity = 2 * 365 * 24 * time.Hour
)

// File names Init writes in its directory.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca.key"
)

// NodeSpec is one node certificate to create: its name (the certificate's
// common name and the files NAME.pem, NAME.key) and its subject
// alternative names.
type NodeSpec struct {
	Name string
	DNS  []string
	IPs  []net.IP
}

var nodeName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ParseNodeSpec parses NAME or NAME=HOST,IP,...: the hosts and addresses
// peers and clients reach the node by. Without any, the name itself is
// the one DNS name (it must then be a valid host name).
func ParseNodeSpec(s string) (NodeSpec, error) {
	name, list, hasList := strings.Cut(s, "=")
	if !nodeName.MatchString(name) {
		return NodeSpec{}, fmt.Errorf("%w: node %q: want a name of 1-63 characters of a-z, 0-9, '.', '_', '-' (as --node-id), then optionally =HOST,IP,...", ErrBadName, name)
	}
	n := NodeSpec{Name: name}
	if !hasList {
		if err := checkDNSName(name); err != nil {
			return NodeSpec{}, fmt.Errorf("node %q: its name is its only host name, and %w; give NAME=HOST,IP,...", name, err)
		}
		n.DNS = []string{name}
		return n, nil
	}
	seen := map[string]bool{}
	for _, h := range strings.Split(list, ",") {
		if h == "" {
			return NodeSpec{}, fmt.Errorf("%w: node %q: empty host or address in %q", ErrBadName, name, s)
		}
		if seen[strings.ToLower(h)] {
			return NodeSpec{}, fmt.Errorf("%w: node %q: %q given twice", ErrBadName, name, h)
		}
		seen[strings.ToLower(h)] = true
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			n.IPs = append(n.IPs, ip)
			continue
		}
		if err := checkDNSName(h); err != nil {
			return NodeSpec{}, fmt.Errorf("node %q: %w", name, err)
		}
		n.DNS = append(n.DNS, strings.ToLower(h))
	}
	return n, nil
}

var dnsLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// checkDNSName accepts a host name of RFC 1123 labels (no wildcards).
func checkDNSName(h string) error {
	if len(h) > 253 {
		return fmt.Errorf("%w: host name %.40q... is %d characters, at most 253", ErrBadName, h, len(h))
	}
	for _, l := range strings.Split(h, ".") {
		if !dnsLabel.MatchString(l) {
			return fmt.Errorf("%w: %q is neither an IP address nor a host name (labels of letters, digits and inner '-', 1-63 characters, separated by '.')", ErrBadName, h)
		}
	}
	return nil
}

// InitOptions configure Init.
type InitOptions struct {
	Dir   string
	Nodes []NodeSpec
	// NewCA replaces an existing CA and the named nodes' files (every
	// node certificate the old CA signed must then be created again).
	// Without it an existing CA in Dir signs the new nodes, and Init never
	// overwrites a file.
	NewCA bool
	Now   time.Time // zero: time.Now()
}

// InitResult lists what Init wrote or reused.
type InitResult struct {
	Dir      string   `json:"dir"`
	CA       string   `json:"ca"`
	CAKey    string   `json:"ca_key"`
	CACreate bool     `json:"ca_created"`
	Nodes    []Issued `json:"nodes"`
}

// Issued is one node certificate Init wrote.
type Issued struct {
	Name     string    `json:"name"`
	Cert     string    `json:"cert"`
	Key      string    `json:"key"`
	DNS      []string  `json:"dns,omitempty"`
	IPs      []string  `json:"ips,omitempty"`
	NotAfter time.Time `json:"not_after"`
}

// Init creates in o.Dir a CA (ca.pem, ca.key mode 0600) unless one is
// there, and a certificate and key (NAME.pem, NAME.key mode 0600) for each
// node, for serving and for client authentication, with the node's
// subject alternative names. Every check runs before the first write:
// duplicate names, files that exist, a CA half present, a directory that
// cannot be written; a failed write removes what this call wrote.
func Init(o InitOptions) (*InitResult, error) {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if o.Dir == "" {
		return nil, errors.New("no directory given (--dir)")
	}
	if len(o.Nodes) == 0 {
		return nil, errors.New("no node given: give --node NAME[=HOST,IP,...] once per node")
	}
	res := &InitResult{Dir: o.Dir, CA: filepath.Join(o.Dir, CAFile), CAKey: filepath.Join(o.Dir, CAKeyFile)}
	names := map[string]bool{}
	var targets []string
	for _, n := range o.Nodes {
		if names[n.Name] {
			return nil, fmt.Errorf("%w: node %q given twice", ErrBadName, n.Name)
		}
		if n.Name == "ca" {
			return nil, fmt.Errorf("%w: node name \"ca\" is the CA's file name; choose another", ErrBadName)
		}
		names[n.Name] = true
		targets = append(targets, filepath.Join(o.Dir, n.Name+".pem"), filepath.Join(o.Dir, n.Name+".key"))
	}
	if st, err := os.Stat(o.Dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("--dir %s: not a directory", o.Dir)
	}
	var caCert *x509.Certificate
	var caKey crypto.Signer
	if !o.NewCA {
		var err error
		caCert, caKey, err = loadCA(res.CA, res.CAKey)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if caCert == nil {
		targets = append(targets, res.CA, res.CAKey)
	}
	if !o.NewCA {
		for _, p := range targets {
			if _, err := os.Lstat(p); err == nil {
				hint := "remove it or give another --dir"
				if strings.HasSuffix(p, CAFile) || strings.HasSuffix(p, CAKeyFile) {
					hint = "--new-ca replaces the CA (then every node needs a new certificate)"
				}
				return nil, fmt.Errorf("%w: %s; nothing written (%s)", ErrExists, p, hint)
			}
		}
	}
	if err := probeWritable(o.Dir); err != nil {
		return nil, err
	}
	// Everything is made in memory first.
	type file struct {
		path string
		data []byte
		perm os.FileMode
	}
	var files []file
	if caCert == nil {
		res.CACreate = true
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(), Subject: pkix.Name{CommonName: "EUCORA cluster CA", Organization: []string{"EUCORA"}},
			NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(CAValidity),
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
			MaxPathLenZero: true, SubjectKeyId: keyID(&k.PublicKey),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			return nil, err
		}
		if caCert, err = x509.ParseCertificate(der); err != nil {
			return nil, err
		}
		caKey = k
		kp, err := encodeKey(k)
		if err != nil {
			return nil, err
		}
		files = append(files, file{res.CAKey, kp, 0o600}, file{res.CA, EncodeCerts([]*x509.Certificate{caCert}), 0o644})
	}
	for _, n := range o.Nodes {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(), Subject: pkix.Name{CommonName: n.Name, Organization: []string{"EUCORA"}},
			NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(NodeValidity),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			DNSNames:    n.DNS, IPAddresses: n.IPs, BasicConstraintsValid: true,
			SubjectKeyId: keyID(&k.PublicKey), AuthorityKeyId: caCert.SubjectKeyId,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		kp, err := encodeKey(k)
		if err != nil {
			return nil, err
		}
		iss := Issued{Name: n.Name, Cert: filepath.Join(o.Dir, n.Name+".pem"), Key: filepath.Join(o.Dir, n.Name+".key"), DNS: n.DNS, NotAfter: tmpl.NotAfter.UTC()}
		for _, ip := range n.IPs {
			iss.IPs = append(iss.IPs, ip.String())
		}
		res.Nodes = append(res.Nodes, iss)
		files = append(files, file{iss.Key, kp, 0o600}, file{iss.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644})
	}
	var written []string
	for _, f := range files {
		_, statErr := os.Lstat(f.path)
		if err := atomicfile.WriteFile(f.path, f.data, f.perm); err != nil {
			for _, p := range written {
				os.Remove(p)
			}
			return nil, fmt.Errorf("write %s: %w (files this run wrote were removed)", f.path, err)
		}
		if errors.Is(statErr, os.ErrNotExist) {
			written = append(written, f.path)
		}
	}
	return res, nil
}

// probeWritable creates dir (0700) if needed and checks a file can be
// created in it; a directory it created is removed again on failure.
func probeWritable(dir string) error {
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--dir %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		if errors.Is(statErr, os.ErrNotExist) {
			os.Remove(dir)
		}
		return fmt.Errorf("--dir %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// loadCA reads an existing CA pair; os.ErrNotExist when neither file is
// there, an error when only one is or they do not match.
func loadCA(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	_, ce := os.Stat(certPath)
	_, ke := os.Stat(keyPath)
	switch {
	case errors.Is(ce, os.ErrNotExist) && errors.Is(ke, os.ErrNotExist):
		return nil, nil, os.ErrNotExist
	case errors.Is(ce, os.ErrNotExist):
		return nil, nil, fmt.Errorf("%s exists without %s: restore the CA certificate, or remove the key and run again to create a new CA", keyPath, certPath)
	case errors.Is(ke, os.ErrNotExist):
		return nil, nil, fmt.Errorf("%s exists without %s: new node certificates need the CA's key; restore it, or give --new-ca", certPath, keyPath)
	}
	certPEM, err := readPEMFile(certPath, "CA certificate")
	if err != nil {
		return nil, nil, err
	}
	_, cas, err := ParseCAs(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	keyPEM, err := readPEMFile(keyPath, "CA key")
	if err != nil {
		return nil, nil, err
	}
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		return nil, nil, fmt.Errorf("%s: %w: no PEM block", keyPath, ErrBadPEM)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", keyPath, ErrBadPEM, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !publicEqual(signer.Public(), cas[0].PublicKey) {
		return nil, nil, fmt.Errorf("%w: %s is not the key of %s", ErrMismatch, keyPath, certPath)
	}
	return cas[0], signer, nil
}

func publicEqual(a, b crypto.PublicKey) bool {
	x, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && x.Equal(b)
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func keyID(pub *ecdsa.PublicKey) []byte {
	b, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(b)
	return sum[:20]
}
