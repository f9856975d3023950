package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eucora/eucora/mirror/mirrortest"
)

// TestMirrorCLIEndToEnd drives the mirror commands as a user would, with
// --output json, against a real signed upstream, and checks the exit code
// of each kind of refusal and that a refusal keeps the previous state.
func TestMirrorCLIEndToEnd(t *testing.T) {
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "hello", Version: "1.0", Fields: map[string]string{"Depends": "libhello"}})
	u.AddDeb(mirrortest.DebSpec{Name: "libhello", Version: "1.0"})
	u.AddDeb(mirrortest.DebSpec{Name: "other", Version: "1.0"})
	u.Index(mirrortest.IndexOpts{Signer: g})
	srv := mirrortest.NewFaultServer(t, u.Dir)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	kr := filepath.Join(tmp, "up.gpg")
	os.WriteFile(kr, g.Pub, 0o644)

	mustJSON := func(v any, args ...string) {
		t.Helper()
		code, out := runMirrorCLI(t, append(args, "--data", data, "-o", "json")...)
		if code != 0 {
			t.Fatalf("eucora %v: exit %d\n%s", args, code, out)
		}
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("eucora %v: output is not JSON: %v\n%s", args, err, out)
		}
	}
	var created map[string]any
	mustJSON(&created, "mirror", "apt", "create", "up", "--url", srv.URL, "--dist", "test", "--keyring", kr, "--filter", "hello", "--with-deps")
	if _, ok := created["keyring_data"]; ok {
		t.Fatal("create output dumps the keyring")
	}
	var res map[string]any
	mustJSON(&res, "mirror", "apt", "sync", "up", "--retries", "-1", "--idle-timeout", "2s")
	if res["packages"].(float64) != 2 || res["added_by_deps"].(float64) != 1 {
		t.Fatalf("sync result %v", res)
	}
	mustJSON(&res, "mirror", "apt", "snapshot", "up", "--as", "s1")
	keys := filepath.Join(tmp, "keys")
	if code, out := runMirrorCLI(t, "keys", "generate", "--type", "openpgp", "--name", "pub", "--out", keys); code != 0 {
		t.Fatal(out)
	}
	mustJSON(&res, "mirror", "apt", "publish", "s1", "--key", filepath.Join(keys, "pub.key.asc"), "--prefix", "corp")
	if res["dist"] != "test" || res["packages"].(float64) != 2 {
		t.Fatalf("publish result %v", res)
	}
	inrel := filepath.Join(data, "mirror/public/corp/dists/test/InRelease")
	mirrortest.Run(t, "", nil, "gpgv", "--keyring", filepath.Join(keys, "pub.gpg"), inrel)
	state := func() []byte {
		b, err := os.ReadFile(filepath.Join(data, "mirror/mirrors/up.json"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	before := state()
	published, _ := os.ReadFile(inrel)

	refuse := func(name string, want int) {
		t.Helper()
		code, out := runMirrorCLI(t, "mirror", "apt", "sync", "up", "--data", data, "--retries", "-1", "--idle-timeout", "2s")
		if code != want {
			t.Errorf("%s: exit %d, want %d\n%s", name, code, want, out)
		}
		if !bytes.Equal(state(), before) {
			t.Errorf("%s: mirror state changed", name)
		}
		if now, _ := os.ReadFile(inrel); !bytes.Equal(now, published) {
			t.Errorf("%s: published InRelease changed", name)
		}
	}
	// Bad signature: exit 20.
	p := u.Path("dists/test/InRelease")
	good, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(good, []byte("Suite: test"), []byte("Suite: tesT"), 1), 0o644)
	refuse("bad signature", exitBadSignature)
	// Expired: exit 22.
	u.Index(mirrortest.IndexOpts{Signer: g, ValidUntil: time.Now().Add(-time.Hour)})
	refuse("expired", exitStale)
	// A new package whose bytes do not match its index: exit 21.
	deb := u.AddDeb(mirrortest.DebSpec{Name: "hello", Version: "2.0", Fields: map[string]string{"Depends": "libhello"}})
	u.Index(mirrortest.IndexOpts{Signer: g})
	b, _ := os.ReadFile(u.Path(deb))
	b[len(b)-5] ^= 1
	os.WriteFile(u.Path(deb), b, 0o644)
	refuse("hash mismatch", exitCorrupt)

	// Diff and list still work, in JSON.
	var snaps []map[string]any
	mustJSON(&snaps, "mirror", "apt", "snapshots")
	if len(snaps) != 1 || snaps[0]["name"] != "s1" {
		t.Fatalf("snapshots %v", snaps)
	}
	var diff []any
	mustJSON(&diff, "mirror", "apt", "diff", "s1", "s1")
	if len(diff) != 0 {
		t.Fatalf("diff of a snapshot with itself: %v", diff)
	}

	// verify: clean, then a package damaged in the store is found (exit 21).
	var vr []map[string]any
	mustJSON(&vr, "mirror", "apt", "verify", "s1")
	if len(vr) != 1 || vr[0]["objects"].(float64) != 3 || vr[0]["bad"] != nil {
		t.Fatalf("verify of a clean snapshot: %v", vr)
	}
	objs, _ := filepath.Glob(filepath.Join(data, "cas/objects/*/*"))
	damaged := 0
	for _, o := range objs {
		b, _ := os.ReadFile(o)
		if bytes.HasPrefix(b, []byte("!<arch>\n")) && damaged == 0 {
			os.Chmod(o, 0o644)
			b[len(b)-1] ^= 1
			os.WriteFile(o, b, 0o644)
			damaged++
		}
	}
	if damaged != 1 {
		t.Fatal("no package object found to damage")
	}
	if code, out := runMirrorCLI(t, "mirror", "apt", "verify", "s1", "--data", data); code != exitCorrupt {
		t.Fatalf("verify of a damaged snapshot: exit %d, want %d\n%s", code, exitCorrupt, out)
	}
}
