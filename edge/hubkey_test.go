package edge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/mirror"
)

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func dearmor(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blk, err := armor.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(blk.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadHubKeyRefusesWhatIsNotAHubKey(t *testing.T) {
	dir := t.TempDir()
	hub := mustKey(t)
	hubPub := writeFile(t, dir, "hub.pub", signing.EncodePublic(hub.Public()))
	pgp, err := mirror.GenerateKey(filepath.Join(dir, "pgp"), "apt", "APT test")
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	other := newTestEdge(t, "plant-9", mustKey(t))

	cases := []struct {
		name, path, want string
	}{
		{"hub private key", writeFile(t, dir, "hub.key", signing.EncodePrivate(hub)), "is a private key (Ed25519, key id " + hub.ID},
		{"edge public key", filepath.Join(other.dir.Root, pubFile), "is the public key of edge plant-9 (data directory " + other.dir.Root + ")"},
		{"edge public key in keys/", filepath.Join(other.dir.Keys(), "edge.pub"), "is the public key of edge plant-9"},
		{"OpenPGP public key, armored", pgp.PublicASC, "is an OpenPGP public key"},
		{"OpenPGP keyring, binary", pgp.PublicGPG, "is a binary OpenPGP public key or keyring"},
		{"OpenPGP private key, armored", pgp.PrivateKey, "is an OpenPGP private key"},
		{"OpenPGP private key, binary", writeFile(t, dir, "sec.gpg", dearmor(t, pgp.PrivateKey)), "is a binary OpenPGP private key"},
		{"RSA public key", writeFile(t, dir, "rsa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER})), "is an RSA public key"},
		{"ECDSA public key", writeFile(t, dir, "ec.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})), "is an ECDSA public key"},
		{"broken PUBLIC KEY block", writeFile(t, dir, "broken.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")})), "does not parse"},
		{"certificate", writeFile(t, dir, "c.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")})), "is an X.509 certificate"},
		{"other PEM", writeFile(t, dir, "p.pem", pem.EncodeToMemory(&pem.Block{Type: "DH PARAMETERS", Bytes: []byte("x")})), "is a PEM DH PARAMETERS block"},
		{"garbage", writeFile(t, dir, "garbage", []byte("this is not a key\n")), "is not a key file (no PEM block in it)"},
		{"binary garbage", writeFile(t, dir, "bin", []byte{0x00, 0xff, 0x13, 0x37}), "is not a key file"},
		{"empty", writeFile(t, dir, "empty", nil), "is empty"},
		{"missing", filepath.Join(dir, "nowhere.pub"), "nowhere.pub"},
	}
	for _, c := range cases {
		_, err := LoadHubKey(c.path)
		if !errors.Is(err, ErrNotHubKey) {
			t.Errorf("%s: %v, want ErrNotHubKey", c.name, err)
			continue
		}
		for _, want := range []string{c.path, c.want} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", c.name, err, want)
			}
		}
		if c.name != "missing" && !strings.Contains(err.Error(), "eucora hub key --out") {
			t.Errorf("%s: %q does not say where the hub key comes from", c.name, err)
		}
	}
	k, err := LoadHubKey(hubPub)
	if err != nil || k.ID != hub.ID {
		t.Fatalf("the hub's public key: %v %v", k, err)
	}
}

func TestInitRefusals(t *testing.T) {
	hub := mustKey(t)
	t.Run("site name", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		for _, site := range []string{"Plant_7@HQ", "plant 7", "-plant", strings.Repeat("a", 64), "", "hub"} {
			if _, err := Init(dir, site, hub.Public()); err == nil {
				t.Errorf("site %q accepted", site)
			} else if site != "hub" && !strings.Contains(err.Error(), "1-63 characters of a-z") {
				t.Errorf("site %q: %v does not state the rule", site, err)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Fatalf("site %q: refused init created %s", site, dir)
			}
		}
		if _, err := Init(dir, strings.Repeat("a", 63), hub.Public()); err != nil {
			t.Fatalf("a 63-character name: %v", err)
		}
	})
	t.Run("hub data directory", func(t *testing.T) {
		for _, held := range []string{"hub", "bootstrap.token", "keys/hub.key"} {
			dir := t.TempDir()
			p := filepath.Join(dir, held)
			os.MkdirAll(filepath.Dir(p), 0o750)
			if held == "hub" {
				os.Mkdir(p, 0o750)
			} else {
				os.WriteFile(p, []byte("x"), 0o600)
			}
			_, err := Init(dir, "plant-7", hub.Public())
			if !errors.Is(err, ErrHubDataDir) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "--data") {
				t.Fatalf("edge init beside %s: %v", held, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "edge")); err == nil {
				t.Fatalf("refused init beside %s wrote edge/", held)
			}
		}
	})
	t.Run("own key", func(t *testing.T) {
		// An interrupted init left the key pair; its public half is given as the hub's.
		dir := filepath.Join(t.TempDir(), "data")
		own := mustKey(t)
		if _, _, err := signing.WriteKeyPair(filepath.Join(dir, "keys"), keyName, own); err != nil {
			t.Fatal(err)
		}
		if _, err := Init(dir, "plant-7", own.Public()); !errors.Is(err, ErrNotHubKey) || !strings.Contains(err.Error(), "own public key") {
			t.Fatalf("own key as hub key: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "edge")); err == nil {
			t.Fatal("refused init wrote edge/")
		}
	})
}

func TestOpenMissingNamesInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, err := Open(dir)
	if !errors.Is(err, ErrNotInitialised) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), InitCommand) {
		t.Fatalf("Open of a missing directory: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("Open created the directory")
	}
}
