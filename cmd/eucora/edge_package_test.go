package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
)

// TestEdgeVulnCLI drives the feed from 'vuln import' at the hub through
// 'hub export' and 'edge import' to 'edge vuln show' and 'edge package
// check' on a real deb (dpkg-deb), through the binary: before a feed
// arrives both say so; a defective file is exit 21 with the others still
// reported; an unknown type or a missing file is exit 2.
func TestEdgeVulnCLI(t *testing.T) {
	testtool.Need(t, "apt-get install dpkg", "dpkg-deb")
	url, admin := startHub(t)
	dir := t.TempDir()
	hub := func(args ...string) []string { return append(args, "--hub", url, "--token", admin) }
	data := filepath.Join(dir, "lon")

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

	mustRun(t, dir, hub("hub", "key", "--out", filepath.Join(dir, "hub.pub"))...)
	mustRun(t, dir, "edge", "init", "--data", data, "--site", "lon", "--hub-key", filepath.Join(dir, "hub.pub"))
	mustRun(t, dir, hub("site", "add", "lon", "--class", "air-gapped", "--edge-key", filepath.Join(data, "edge.pub"))...)

	// No feed at the edge yet.
	for _, args := range [][]string{{"edge", "vuln", "show", "--data", data}, {"edge", "package", "check", "--data", data, deb}} {
		if r := eucora(t, dir, args...); r.code != exitError || !strings.Contains(r.stderr, "no vulnerability feed held") || !strings.Contains(r.stderr, "eucora vuln import FEED") {
			t.Fatalf("%s before any feed: exit %d %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}

	var imported struct{ ID string }
	decodeJSON(t, mustRun(t, dir, hub("vuln", "import", feed, "-o", "json")...).stdout, &imported)
	mustRun(t, dir, hub("hub", "export", "--site", "lon", "--out", filepath.Join(dir, "usb"))...)
	var applied struct {
		Outcome  string `json:"outcome"`
		VulnFeed string `json:"vuln_feed"`
	}
	decodeJSON(t, mustRun(t, dir, "edge", "import", "--data", data, filepath.Join(dir, "usb"), "-o", "json").stdout, &applied)
	if applied.Outcome != "applied" || applied.VulnFeed != imported.ID {
		t.Fatalf("edge import: %+v, want the feed %s", applied, imported.ID)
	}

	r := mustRun(t, dir, "edge", "vuln", "show", "--data", data)
	for _, want := range []string{"feed " + imported.ID, "feed.json", "1 records (0 withdrawn)", "signed by hub key", "arrived in bundle 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("edge vuln show lacks %q:\n%s", want, r.stdout)
		}
	}
	var shown struct {
		Version   string `json:"version"`
		Records   int    `json:"records"`
		SignedBy  string `json:"signed_by"`
		Statement struct {
			PayloadType string `json:"payloadType"`
		} `json:"statement"`
	}
	decodeJSON(t, mustRun(t, dir, "edge", "vuln", "show", "--data", data, "-o", "json").stdout, &shown)
	if shown.Version != imported.ID || shown.Records != 1 || shown.SignedBy == "" || shown.Statement.PayloadType != "application/vnd.eucora.osv-feed-statement+json" {
		t.Fatalf("edge vuln show -o json: %+v", shown)
	}
	if r := mustRun(t, dir, "edge", "status", "--data", data); !strings.Contains(r.stdout, imported.ID) {
		t.Errorf("edge status does not name the feed:\n%s", r.stdout)
	}

	r = mustRun(t, dir, "edge", "package", "check", "--data", data, deb)
	for _, want := range []string{"feed " + imported.ID, "deb ledger-agent 1.0-1", "policy:   fail: 1 critical", "CRITICAL EUC-2026-0002 ledger-agent@1.0-1: remote root (fixed in 1.1-1)", "publish is blocked"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("edge package check lacks %q:\n%s", want, r.stdout)
		}
	}
	var checked struct {
		Files []struct {
			File  string `json:"file"`
			Error string `json:"error"`
			Check *struct {
				Report struct {
					Findings []struct{ ID string }
					Decision struct {
						Outcome     string `json:"outcome"`
						FeedVersion string `json:"feed_version"`
					}
				} `json:"report"`
			} `json:"check"`
		} `json:"files"`
	}
	decodeJSON(t, mustRun(t, dir, "edge", "package", "check", "--data", data, deb, "-o", "json").stdout, &checked)
	if len(checked.Files) != 1 || checked.Files[0].Check == nil || len(checked.Files[0].Check.Report.Findings) != 1 ||
		checked.Files[0].Check.Report.Findings[0].ID != "EUC-2026-0002" || checked.Files[0].Check.Report.Decision.Outcome != "fail" ||
		checked.Files[0].Check.Report.Decision.FeedVersion != imported.ID {
		t.Fatalf("edge package check -o json: %+v", checked)
	}

	// A text file named .deb beside the real one: both reported, exit 21.
	fake := filepath.Join(dir, "fake.deb")
	os.WriteFile(fake, []byte("this is not a debian package"), 0o644)
	r = eucora(t, dir, "edge", "package", "check", "--data", data, deb, fake)
	if r.code != exitCorrupt || !strings.Contains(r.stdout, "EUC-2026-0002") || !strings.Contains(r.stdout, "fake.deb: NOT CHECKED") ||
		!strings.Contains(r.stderr, "1 of 2 file(s) could not be checked") || !strings.Contains(r.stderr, "named .deb, so it must be an ar archive") {
		t.Fatalf("defective file: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	checked.Files = nil
	r = eucora(t, dir, "edge", "package", "check", "--data", data, fake, "-o", "json")
	decodeJSON(t, r.stdout, &checked)
	if r.code != exitCorrupt || len(checked.Files) != 1 || checked.Files[0].Check != nil || !strings.Contains(checked.Files[0].Error, "fake.deb") {
		t.Fatalf("defective file -o json: exit %d %s", r.code, r.stdout)
	}
	// Command-line mistakes: exit 2 before anything is read.
	os.Mkdir(filepath.Join(dir, "tree.deb"), 0o755)
	for _, args := range [][]string{
		{"edge", "package", "check", "--data", data, feed},
		{"edge", "package", "check", "--data", data, filepath.Join(dir, "absent.deb")},
		{"edge", "package", "check", "--data", data, filepath.Join(dir, "tree.deb")},
		{"edge", "package", "check", "--data", data},
		{"edge", "vuln", "show", "--data", data, "extra"},
	} {
		if r := eucora(t, dir, args...); r.code != exitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", strings.Join(args, " "), r.code, exitUsage, r.stderr)
		}
	}
}
