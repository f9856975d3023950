package signing

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
)

func TestKeyFilesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	kp, pp, err := WriteKeyPair(dir, "hub", k)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(kp)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode())
	}
	if _, _, err := WriteKeyPair(dir, "hub", k); err == nil {
		t.Fatal("overwrote key")
	}
	k2, err := LoadPrivate(kp)
	if err != nil || k2.ID != k.ID {
		t.Fatal(err)
	}
	p, err := LoadPublic(pp)
	if err != nil || p.ID != k.ID {
		t.Fatal(err)
	}
	os.Chmod(kp, 0o644)
	if _, err := LoadPrivate(kp); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("world-readable key accepted: %v", err)
	}
	if _, err := LoadPublic(kp); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("private key accepted as public: %v", err)
	}
	// The key id is reproducible with openssl, as documented.
	if _, err := exec.LookPath("openssl"); err != nil && testtool.InCI() {
		t.Fatal("openssl not installed; CI=true requires it")
	} else if err == nil {
		out, err := exec.Command("sh", "-c", "openssl pkey -pubin -in "+pp+" -outform DER | sha256sum").Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(string(out))[0]; got != k.ID {
			t.Fatalf("openssl fingerprint %s, key id %s", got, k.ID)
		}
	}
}

func TestEnvelope(t *testing.T) {
	k, _ := Generate()
	other, _ := Generate()
	env := Sign(k, "application/vnd.test", []byte(`{"a":1}`))
	payload, id, err := Verify(env, NewTrust(k.Public()), "application/vnd.test")
	if err != nil || string(payload) != `{"a":1}` || id != k.ID {
		t.Fatal(payload, id, err)
	}
	if _, _, err := Verify(env, NewTrust(other.Public()), "application/vnd.test"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, _, err := Verify(env, NewTrust(k.Public()), "other"); !errors.Is(err, ErrEnvelope) {
		t.Fatalf("type: %v", err)
	}
	bad := *env
	bad.Payload = "eyJhIjoyfQ==" // {"a":2}
	if _, _, err := Verify(&bad, NewTrust(k.Public()), "application/vnd.test"); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
}

func TestWriteKeyPairRejectsPathNames(t *testing.T) {
	k, _ := Generate()
	for _, n := range []string{"../x", "a/b", "", ".hidden"} {
		if _, _, err := WriteKeyPair(t.TempDir(), n, k); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	_ = filepath.Join
}

func TestPAESpecVector(t *testing.T) {
	// From the DSSE protocol specification.
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	if got != "DSSEv1 29 http://example.com/HelloWorld 11 hello world" {
		t.Fatalf("PAE = %q", got)
	}
}
