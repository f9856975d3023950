package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/hub/hubtest"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// TestSiteAssignCLI: 'site assign --apt' naming a publication the hub does
// not publish exits 2 with the ones it does and leaves the site's list; an
// accepted assignment says what it added and removed.
func TestSiteAssignCLI(t *testing.T) {
	dir, url, tok := hubtest.Start(t)
	h := []string{"--hub", url, "--token", tok}
	run := func(want int, args ...string) string {
		t.Helper()
		if args[0] == "site" {
			args = append(args, h...)
		} else if args[0] == "mirror" {
			args = append(args, "--data", dir)
		}
		out, code := runHubCLI(t, args...)
		if code != want {
			t.Fatalf("eucora %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return out
	}

	// The hub publishes corp:test and debian:bookworm.
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "hello", Version: "1.0"})
	u.Index(mirrortest.IndexOpts{Signer: g})
	up := mirrortest.NewFaultServer(t, u.Dir)
	tmp := t.TempDir()
	kr := filepath.Join(tmp, "up.gpg")
	os.WriteFile(kr, g.Pub, 0o644)
	run(0, "mirror", "apt", "create", "up", "--url", up.URL, "--dist", "test", "--keyring", kr)
	run(0, "mirror", "apt", "sync", "up", "--retries", "-1")
	run(0, "mirror", "apt", "snapshot", "up", "--as", "s1")
	run(0, "keys", "generate", "--type", "openpgp", "--name", "corp", "--out", filepath.Join(tmp, "keys"))
	key := filepath.Join(tmp, "keys", "corp.key.asc")
	run(0, "mirror", "apt", "publish", "s1", "--key", key, "--prefix", "corp", "--no-tree")
	run(0, "mirror", "apt", "publish", "s1", "--key", key, "--prefix", "debian", "--dist", "bookworm", "--no-tree")
	run(0, "site", "add", "plant-7", "--class", "air-gapped", "--scope", "acquisition=acme,bu=ops,site=plant-7")

	if out := run(0, "site", "assign", "plant-7", "--apt", "corp:test"); !strings.Contains(out, "site plant-7: apt now corp:test (added corp:test)") {
		t.Fatalf("first assignment: %q", out)
	}
	out := run(exitUsage, "site", "assign", "plant-7", "--apt", "debian:bookwrom")
	for _, want := range []string{"publication debian:bookwrom is not published on this hub node", "published here: corp:test, debian:bookworm)", "site plant-7 is unchanged"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal %q does not say %q", out, want)
		}
	}
	var st struct {
		APT []struct{ Prefix, Dist string } `json:"apt"`
	}
	decodeJSON(t, run(0, "site", "status", "plant-7", "-o", "json"), &st)
	if len(st.APT) != 1 || st.APT[0].Prefix != "corp" {
		t.Fatalf("a refused assignment changed the site's list: %+v", st)
	}
	if out := run(0, "site", "assign", "plant-7", "--apt", "debian:bookworm"); !strings.Contains(out, "site plant-7: apt now debian:bookworm (added debian:bookworm; removed corp:test)") {
		t.Fatalf("replacing assignment: %q", out)
	}
	if out := run(0, "site", "assign", "plant-7", "--apt", "debian:bookworm"); !strings.Contains(out, "site plant-7: apt unchanged (debian:bookworm)") {
		t.Fatalf("same assignment: %q", out)
	}
	var res struct {
		Before  []struct{ Prefix, Dist string } `json:"before"`
		After   []struct{ Prefix, Dist string } `json:"after"`
		Added   []struct{ Prefix, Dist string } `json:"added"`
		Removed []struct{ Prefix, Dist string } `json:"removed"`
		Changed bool                            `json:"changed"`
	}
	decodeJSON(t, run(0, "site", "assign", "plant-7", "--apt", "corp:test", "--apt", "debian:bookworm", "-o", "json"), &res)
	if len(res.Before) != 1 || len(res.After) != 2 || len(res.Added) != 1 || res.Added[0].Prefix != "corp" || len(res.Removed) != 0 || !res.Changed {
		t.Fatalf("assign JSON: %+v", res)
	}
	if out := run(0, "site", "assign", "plant-7", "--none"); !strings.Contains(out, "site plant-7: apt now none (removed corp:test, debian:bookworm)") {
		t.Fatalf("clearing assignment: %q", out)
	}
}
