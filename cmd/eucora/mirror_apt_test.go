package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/mirror/debian"
)

// runMirrorCLI runs the eucora command line in-process and returns its
// exit code and standard output.
func runMirrorCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := runApp(t, false, args...)
	return exitCode(err), out
}

func TestMirrorExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{&mirror.SignatureError{File: "InRelease", Reason: "x", Err: mirror.ErrBadSignature}, exitBadSignature},
		{fmt.Errorf("sync: %w", &mirror.SignatureError{File: "InRelease", Reason: "x", Err: mirror.ErrUnknownKey}), exitBadSignature},
		{fmt.Errorf("sync: %w", &mirror.ExpiredError{File: "InRelease", ValidUntil: time.Now(), Now: time.Now()}), exitStale},
		{fmt.Errorf("x: %w", mirror.ErrRollback), exitStale},
		{fmt.Errorf("sync: %w", &digest.MismatchError{Object: "a.deb", Want: "1", Got: "2"}), exitCorrupt},
		{fmt.Errorf("Packages: %w", debian.ErrSyntax), exitCorrupt},
		// A malformed filter is the user's mistake, not corrupt data.
		{fmt.Errorf("mirror up not created: %w (%w)", &debian.FilterError{Expr: "a |", Offset: 3, Msg: "x"}, mirror.ErrInvalid), exitUsage},
		{fmt.Errorf("mirror up not created: %w", &mirror.DistNotFoundError{URL: "u", Dist: "d"}), exitUsage},
		{fmt.Errorf("x: %w", mirror.ErrNotOffered), exitUsage},
		{&mirror.InUseError{Mirror: "up", Published: []string{"s1 at corp:test"}}, exitError},
		{fmt.Errorf("snapshot: %w", mirror.ErrNotFound), exitNotInit},
		{&mirror.FetchError{URL: "u", Status: 500}, exitError},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestKeysGenerateOpenPGP(t *testing.T) {
	dir := t.TempDir()
	code, out := runMirrorCLI(t, "keys", "generate", "--type", "openpgp", "--name", "apt", "--out", dir, "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var res map[string]string
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res["key_id"]) != 40 {
		t.Fatalf("json output %q: %v", out, err)
	}
	st, err := os.Stat(filepath.Join(dir, "apt.key.asc"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st, err)
	}
	for _, f := range []string{"apt.asc", "apt.gpg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mirror.ReadKeyring(b, f); err != nil {
			t.Fatalf("%s is not a usable keyring: %v", f, err)
		}
	}
	if _, err := mirror.LoadSigner(filepath.Join(dir, "apt.key.asc")); err != nil {
		t.Fatal(err)
	}
	// Never overwrites a key.
	if code, _ := runMirrorCLI(t, "keys", "generate", "--type", "openpgp", "--name", "apt", "--out", dir); code == 0 {
		t.Fatal("existing key overwritten")
	}
	if code, _ := runMirrorCLI(t, "keys", "generate", "--type", "rsa", "--name", "x", "--out", dir); code != exitUsage {
		t.Fatalf("unknown --type: exit %d, want %d", code, exitUsage)
	}
}

func TestMirrorPinAndEmptyLists(t *testing.T) {
	code, out := runMirrorCLI(t, "mirror", "apt", "pin", "openssl=3.0.11-1~deb12u2", "bash=5.2-1", "--priority", "990")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := "Explanation: EUCORA pin openssl=3.0.11-1~deb12u2\nPackage: openssl\nPin: version 3.0.11-1~deb12u2\nPin-Priority: 990\n\n" +
		"Explanation: EUCORA pin bash=5.2-1\nPackage: bash\nPin: version 5.2-1\nPin-Priority: 990\n"
	if out != want {
		t.Fatalf("pin output:\n%s\nwant:\n%s", out, want)
	}
	if code, _ := runMirrorCLI(t, "mirror", "apt", "pin", "openssl"); code != exitUsage {
		t.Fatalf("pin without version: exit %d", code)
	}
	data := t.TempDir()
	for _, cmd := range []string{"list", "snapshots", "published"} {
		code, out := runMirrorCLI(t, "mirror", "apt", cmd, "--data", data, "-o", "json")
		if code != 0 || strings.TrimSpace(out) != "[]" {
			t.Fatalf("%s on an empty data dir: exit %d, %q", cmd, code, out)
		}
	}
	if code, _ := runMirrorCLI(t, "mirror", "apt", "snapshot", "nope", "--data", data); code != exitNotInit {
		t.Fatalf("snapshot of an unknown mirror: exit %d, want %d", code, exitNotInit)
	}
	kr := filepath.Join(t.TempDir(), "k.gpg")
	os.WriteFile(kr, []byte("not a keyring"), 0o644)
	if code, _ := runMirrorCLI(t, "mirror", "apt", "create", "m", "--data", data, "--url", "http://127.0.0.1:1", "--dist", "d", "--keyring", kr); code == 0 {
		t.Fatal("create accepted a bogus keyring")
	}
}

func TestReorderArgs(t *testing.T) {
	app := newApp()
	for _, c := range []struct{ in, want string }{
		{"eucora mirror apt create up --url u --with-deps --dist=x -q", "eucora mirror apt create --url u --with-deps --dist=x -q -- up"},
		{"eucora hub import d1 d2 -o json --token t", "eucora hub import -o json --token t -- d1 d2"},
		{"eucora --output json bundle verify v1 --quiet", "eucora --output json bundle verify --quiet -- v1"},
		{"eucora keys generate --out d", "eucora keys generate --out d"},
		{"eucora site", "eucora site"},
		{"eucora nosuch x -o json", "eucora nosuch x -o json"},
		{"eucora edge import --data d -- -odd-name", "eucora edge import --data d -- -odd-name"},
	} {
		if got := strings.Join(reorderArgs(app, strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}
