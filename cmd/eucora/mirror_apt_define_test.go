package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/mirror/mirrortest"
)

// TestMirrorCLICreateEditDelete: create checks the upstream and the filter
// before saving (exit 2 for a mistake on the command line, 20 for a
// signature); sync warns about a filter that selects nothing; edit fixes a
// definition in place; delete refuses while a snapshot is published.
func TestMirrorCLICreateEditDelete(t *testing.T) {
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	stranger := mirrortest.NewGPG(t, "Stranger <x@example.invalid>")
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "hello", Version: "1.0", Fields: map[string]string{"Depends": "libhello"}})
	u.AddDeb(mirrortest.DebSpec{Name: "libhello", Version: "1.0"})
	u.AddDeb(mirrortest.DebSpec{Name: "other", Version: "1.0"})
	u.Index(mirrortest.IndexOpts{Signer: g})
	srv := mirrortest.NewFaultServer(t, u.Dir)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	kr, wrong := filepath.Join(tmp, "up.gpg"), filepath.Join(tmp, "wrong.gpg")
	os.WriteFile(kr, g.Pub, 0o644)
	os.WriteFile(wrong, stranger.Pub, 0o644)
	state := filepath.Join(data, "mirror/mirrors/up.json")

	run := func(want int, args ...string) string {
		t.Helper()
		// Text runs capture stderr too (warnings); JSON runs stdout only.
		jsonOut := len(args) > 1 && args[len(args)-2] == "-o"
		out, err := runApp(t, !jsonOut, append(args, "--data", data)...)
		if code := exitCode(err); code != want {
			t.Fatalf("eucora %s: exit %d, want %d: %v\n%s", strings.Join(args, " "), code, want, err, out)
		}
		if err != nil {
			out += err.Error()
		}
		return out
	}
	says := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output does not say %q:\n%s", w, out)
			}
		}
	}
	create := []string{"mirror", "apt", "create", "up", "--url", srv.URL, "--keyring", kr}

	// Refused creates save nothing.
	for _, c := range []struct {
		name string
		args []string
		want int
		says []string
	}{
		{"filter syntax", []string{"--dist", "test", "--filter", "hello |"}, exitUsage, []string{`filter "hello |" at offset 7`, "not created"}},
		{"dist typo", []string{"--dist", "tset"}, exitUsage, []string{"dist tset not found at " + srv.URL + " (looked for dists/tset/InRelease and dists/tset/Release)", "--no-check"}},
		{"component typo", []string{"--dist", "test", "--component", "mian"}, exitUsage, []string{"no Packages index for mian/binary-amd64"}},
		{"wrong keyring", []string{"--dist", "test", "--keyring", wrong}, exitBadSignature, []string{"signed by an unknown key", wrong}},
	} {
		out := run(c.want, append(append([]string{}, create...), c.args...)...)
		says(out, c.says...)
		if _, err := os.Stat(state); !os.IsNotExist(err) {
			t.Fatalf("%s: a refused create saved the mirror: %v", c.name, err)
		}
	}
	// --no-check defines a mirror while offline.
	says(run(0, "mirror", "apt", "create", "offline", "--url", "http://127.0.0.1:1", "--dist", "x", "--keyring", kr, "--no-check"), "not checked (--no-check)")

	// A filter typo: created (it parses), and the sync warns.
	var created struct {
		Name  string `json:"name"`
		Check struct {
			Release string `json:"release"`
		} `json:"check"`
	}
	decodeJSON(t, run(0, append(append([]string{}, create...), "--dist", "test", "--filter", "helo", "-o", "json")...), &created)
	if created.Check.Release != srv.URL+"/dists/test/InRelease" {
		t.Fatalf("create output: %+v", created)
	}
	says(run(0, "mirror", "apt", "sync", "up", "--retries", "-1"), `warning: filter "helo" selected 0 of 3 packages in test`)
	var synced struct {
		Packages int      `json:"packages"`
		Warnings []string `json:"warnings"`
	}
	decodeJSON(t, run(0, "mirror", "apt", "sync", "up", "--retries", "-1", "-o", "json"), &synced)
	if synced.Packages != 0 || len(synced.Warnings) != 1 || !strings.Contains(synced.Warnings[0], "selected 0 of 3") {
		t.Fatalf("sync JSON: %+v", synced)
	}

	// Edit: refusals change nothing.
	before, _ := os.ReadFile(state)
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, exitUsage}, // nothing to change
		{[]string{"--with-deps", "--no-deps"}, exitUsage},
		{[]string{"--filter", "hello,"}, exitUsage},
		{[]string{"--dist", "tset"}, exitUsage},
		{[]string{"--keyring", wrong}, exitBadSignature},
	} {
		run(c.want, append([]string{"mirror", "apt", "edit", "up"}, c.args...)...)
		if now, _ := os.ReadFile(state); !bytes.Equal(now, before) {
			t.Fatalf("edit %v changed the mirror", c.args)
		}
	}
	run(exitNotInit, "mirror", "apt", "edit", "nope", "--filter", "x")
	says(run(0, "mirror", "apt", "edit", "up", "--filter", "helo"), "mirror up: unchanged")
	says(run(0, "mirror", "apt", "edit", "up", "--filter", "hello", "--with-deps"),
		"mirror up changed:", `filter: "helo" -> "hello"`, `with_deps: "false" -> "true"`, "stays until the next 'eucora mirror apt sync up'")
	var edited struct {
		Changed []struct{ Field, From, To string } `json:"changed"`
		Check   *struct {
			Release string `json:"release"`
		} `json:"check"`
	}
	decodeJSON(t, run(0, "mirror", "apt", "edit", "up", "--dist", "test", "--component", "main", "--no-deps", "-o", "json"), &edited)
	if len(edited.Changed) != 1 || edited.Changed[0].Field != "with_deps" || edited.Check != nil {
		t.Fatalf("edit JSON: %+v", edited)
	}
	decodeJSON(t, run(0, "mirror", "apt", "edit", "up", "--with-deps", "--url", srv.URL+"/", "-o", "json"), &edited)
	if len(edited.Changed) != 1 || edited.Changed[0].Field != "with_deps" || edited.Check != nil {
		t.Fatalf("edit JSON (same URL, trailing slash): %+v", edited)
	}
	decodeJSON(t, run(0, "mirror", "apt", "sync", "up", "--retries", "-1", "-o", "json"), &synced)
	if synced.Packages != 2 || synced.Warnings == nil || len(synced.Warnings) != 0 {
		t.Fatalf("sync after the edit: %+v", synced)
	}

	// Delete: refused while a snapshot is published, then forced.
	run(0, "mirror", "apt", "snapshot", "up", "--as", "s1")
	keys := filepath.Join(tmp, "keys")
	if code, out := runMirrorCLI(t, "keys", "generate", "--type", "openpgp", "--name", "pub", "--out", keys); code != 0 {
		t.Fatal(out)
	}
	run(0, "mirror", "apt", "publish", "s1", "--key", filepath.Join(keys, "pub.key.asc"), "--prefix", "corp", "--no-tree")
	says(run(exitError, "mirror", "apt", "delete", "up"), "s1 at corp:test", "--force")
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("a refused delete removed the mirror: %v", err)
	}
	says(run(0, "mirror", "apt", "delete", "offline"), "deleted mirror offline: removed", "content store")
	var del struct {
		Removed   []string `json:"removed"`
		Snapshots []string `json:"snapshots"`
		Published []string `json:"published"`
	}
	decodeJSON(t, run(0, "mirror", "apt", "delete", "up", "--force", "-o", "json"), &del)
	if len(del.Removed) != 1 || strings.Join(del.Snapshots, ",") != "s1" || strings.Join(del.Published, ",") != "s1 at corp:test" {
		t.Fatalf("delete JSON: %+v", del)
	}
	var list []json.RawMessage
	decodeJSON(t, run(0, "mirror", "apt", "list", "-o", "json"), &list)
	if len(list) != 0 {
		t.Fatalf("mirrors left: %s", list)
	}
	run(exitNotInit, "mirror", "apt", "delete", "up")
	var snaps []json.RawMessage
	if decodeJSON(t, run(0, "mirror", "apt", "snapshots", "-o", "json"), &snaps); len(snaps) != 1 {
		t.Fatalf("snapshots after delete: %s", snaps)
	}
}
