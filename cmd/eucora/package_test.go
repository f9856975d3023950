package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/testtool"
)

// TestPackageCLI drives the factory through the real binary: a feed, a
// real deb (dpkg-deb) taken in with a critical finding, shown, and a
// mislabelled file refused with exit 21.
func TestPackageCLI(t *testing.T) {
	testtool.Need(t, "apt-get install dpkg", "dpkg-deb")
	url, admin := startHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ac := client.New(url, admin)
	tokens := map[string]string{}
	for name, role := range map[string]deploy.Role{"pat": deploy.RolePackagingEngineer, "sam": deploy.RoleSecurityReviewer} {
		nt, err := ac.CreateToken(ctx, api.TokenRequest{Name: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = nt.Token
	}
	dir := t.TempDir()
	as := func(who string, args ...string) []string { return append(args, "--hub", url, "--token", tokens[who]) }

	root := filepath.Join(dir, "pkg")
	os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte("Package: ledger-agent\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Acme <pkg@acme.example>\nDescription: test\n"), 0o644)
	os.WriteFile(filepath.Join(root, "usr/bin/ledger-agent"), []byte("#!/bin/sh\n"), 0o755)
	deb := filepath.Join(dir, "ledger-agent_1.0-1_all.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v %s", err, b)
	}
	feed := filepath.Join(dir, "feed.json")
	os.WriteFile(feed, []byte(`{"id": "EUC-2026-0002", "modified": "2026-11-30T10:00:00Z", "summary": "remote root",
  "database_specific": {"severity": "CRITICAL"},
  "affected": [{"package": {"ecosystem": "Debian", "name": "ledger-agent"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1-1"}]}]}]}`), 0o644)

	mustRun(t, dir, as("pat", "app", "add", "com.acme.agent", "--name", "Agent", "--owner", "ops", "--category", "tools",
		"--support-tier", "tier-2", "--licensing", "free", "--scope", "acquisition=acme")...)
	mustRun(t, dir, as("pat", "version", "add", "com.acme.agent", "1.0", "--os", "linux:debian 12:all")...)

	// Intake before any feed: refused, naming the command that fixes it.
	r := eucora(t, dir, as("pat", "package", "add", deb, "--app", "com.acme.agent", "--version", "1.0")...)
	if r.code == 0 || !strings.Contains(r.stderr, "eucora vuln import") {
		t.Fatalf("intake without a feed: exit %d %s", r.code, r.stderr)
	}
	r = mustRun(t, dir, as("sam", "vuln", "import", feed)...)
	if !strings.Contains(r.stdout, "1 records") {
		t.Fatalf("vuln import: %s", r.stdout)
	}
	r = mustRun(t, dir, as("pat", "package", "add", deb, "--app", "com.acme.agent", "--version", "1.0", "--run-id", "ci-42", "--output", "json")...)
	var added struct{ Packages []api.Package }
	decodeJSON(t, r.stdout, &added)
	if len(added.Packages) != 1 || added.Packages[0].Artifact.ScanDecision != deploy.ScanFail || added.Packages[0].Provenance == nil || !added.Packages[0].Provenance.Verified {
		t.Fatalf("package add: %s", r.stdout)
	}
	d := added.Packages[0].Artifact.SHA256.String()
	r = mustRun(t, dir, as("sam", "package", "show", "com.acme.agent", "1.0", d)...)
	for _, want := range []string{"ledger-agent 1.0-1", "policy:     fail", "EUC-2026-0002", "provenance: verified", "run ci-42", "sbom_vulnerability"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("package show lacks %q:\n%s", want, r.stdout)
		}
	}

	// A text file named .deb: exit 21, the defect named, nothing stored.
	bad := filepath.Join(dir, "fake.deb")
	os.WriteFile(bad, []byte("this is not a debian package"), 0o644)
	r = eucora(t, dir, as("pat", "package", "add", bad, "--app", "com.acme.agent", "--version", "1.0")...)
	if r.code != exitCorrupt || !strings.Contains(r.stderr, "named .deb, so it must be an ar archive") || !strings.Contains(r.stderr, "nothing was stored") {
		t.Fatalf("mislabelled file: exit %d %s", r.code, r.stderr)
	}
	// An unknown type is a usage error before anything is sent.
	r = eucora(t, dir, as("pat", "package", "add", feed, "--app", "com.acme.agent", "--version", "1.0")...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "the factory reads") {
		t.Fatalf("unknown type: exit %d %s", r.code, r.stderr)
	}
}
