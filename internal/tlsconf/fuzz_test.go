package tlsconf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seedMaterial returns a real certificate, key and CA made by Init.
func seedMaterial(f *testing.F) (cert, key, ca []byte) {
	dir := f.TempDir()
	res, err := Init(InitOptions{Dir: dir, Nodes: []NodeSpec{{Name: "n1", DNS: []string{"n1"}}}})
	if err != nil {
		f.Fatal(err)
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	return read(res.Nodes[0].Cert), read(res.Nodes[0].Key), read(filepath.Join(dir, CAFile))
}

// FuzzLoadKeyPair: any certificate and key input is accepted only as a
// matching pair with a non-CA leaf, never panics.
func FuzzLoadKeyPair(f *testing.F) {
	cert, key, ca := seedMaterial(f)
	f.Add(cert, key)
	f.Add(ca, key)
	f.Add(key, cert)
	f.Add(append(append([]byte{}, cert...), ca...), key)
	f.Add(cert[:len(cert)/2], key[:len(key)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		c, err := LoadKeyPair(certPEM, keyPEM)
		if err != nil {
			return
		}
		if c.Leaf == nil || c.Leaf.IsCA || len(c.Certificate) == 0 {
			t.Fatalf("accepted a pair without a non-CA leaf")
		}
		if !bytes.Equal(c.Leaf.Raw, c.Certificate[0]) {
			t.Fatal("leaf is not the first certificate")
		}
	})
}

// FuzzParseCAs: a CA file is accepted only when every block is a CA
// certificate; the re-encoding parses back to the same certificates.
func FuzzParseCAs(f *testing.F) {
	cert, key, ca := seedMaterial(f)
	f.Add(ca)
	f.Add(cert)
	f.Add(key)
	f.Add(append(append([]byte("comment\n"), ca...), ca...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, certs, err := ParseCAs(b)
		if err != nil {
			return
		}
		if len(certs) == 0 {
			t.Fatal("accepted no certificate")
		}
		for _, c := range certs {
			if !c.IsCA {
				t.Fatal("accepted a non-CA certificate")
			}
		}
		_, again, err := ParseCAs(EncodeCerts(certs))
		if err != nil || len(again) != len(certs) {
			t.Fatalf("re-encoded CAs do not parse back: %v", err)
		}
	})
}

// FuzzParseNodeSpec: an accepted spec has a valid name and only valid
// host names.
func FuzzParseNodeSpec(f *testing.F) {
	for _, s := range []string{"n1", "n1=hub.example,10.0.0.1", "n1=[::1]", "n1=,", "N=x", "n1=a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNodeSpec(s)
		if err != nil {
			return
		}
		if !nodeName.MatchString(n.Name) {
			t.Fatalf("accepted name %q", n.Name)
		}
		for _, h := range n.DNS {
			if checkDNSName(h) != nil {
				t.Fatalf("accepted host %q", h)
			}
		}
	})
}
