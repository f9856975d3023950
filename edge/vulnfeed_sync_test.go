package edge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/hubtest"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/vuln"
)

// ledgerFeed has a critical Debian advisory for ledger-agent before 1.1-1
// and one for a package the deb does not hold.
var ledgerFeed = []byte(`[{"id": "EUC-2026-0001", "modified": "2026-11-30T10:00:00Z", "aliases": ["CVE-2026-40001"],
  "summary": "ledger-agent runs commands from the network as root",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Debian", "name": "ledger-agent"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1-1"}]}]}]},
 {"id": "EUC-2026-0009", "modified": "2026-11-29T10:00:00Z", "database_specific": {"severity": "HIGH"},
  "affected": [{"package": {"ecosystem": "Debian", "name": "other-tool"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}]`)

// buildLedgerDeb builds ledger-agent 1.0-1 with dpkg-deb into dir.
func buildLedgerDeb(t *testing.T, dir string) string {
	t.Helper()
	testtool.Need(t, "apt-get install dpkg", "dpkg-deb")
	root := filepath.Join(dir, "pkg")
	for p, body := range map[string]string{
		"DEBIAN/control":       "Package: ledger-agent\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Acme <pkg@acme.example>\nDescription: EUCORA edge feed test\n",
		"usr/bin/ledger-agent": "#!/bin/sh\necho agent\n",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "DEBIAN/control"), 0o644)
	deb := filepath.Join(dir, "ledger-agent_1.0-1_all.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	return deb
}

func findingIDs(fs []vuln.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+" "+string(f.Severity)+" "+f.Component.Name+" "+f.Component.Version)
	}
	slices.Sort(out)
	return out
}

// TestSyncCarriesVulnFeed: a real hub's vulnerability feed reaches an edge
// over the network sync. The feed file flipped in flight is refused and
// changes nothing; the clean round applies it; later exports carry the
// hub's statement but not the file again. Offline, the edge re-checks a
// real deb (dpkg-deb) against it and finds what the hub's intake found,
// with the same policy decision.
func TestSyncCarriesVulnFeed(t *testing.T) {
	tmp := t.TempDir()
	debPath := buildLedgerDeb(t, tmp)
	debBytes, err := os.ReadFile(debPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	_, base, admin := hubtest.Start(t)
	hc := client.New(base, admin)
	acme := deploy.Scope{Acquisition: "acme"}
	as := func(name string, role deploy.Role, scope deploy.Scope) *client.Client {
		tok, err := hc.CreateToken(ctx, api.TokenRequest{Name: name, Role: role, Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		return client.New(base, tok.Token)
	}
	sam, pat := as("sam", deploy.RoleSecurityReviewer, deploy.Scope{}), as("pat", deploy.RolePackagingEngineer, acme)

	// The hub: a feed, and the deb taken in through the factory.
	feed, err := sam.ImportVulnFeed(ctx, "osv.json", bytes.NewReader(ledgerFeed), int64(len(ledgerFeed)), "", "test advisories")
	if err != nil {
		t.Fatal(err)
	}
	const app = "com.acme.agent"
	if _, err := pat.CreateApp(ctx, api.AppRequest{ID: app, Name: "Agent", Owner: "ops", Category: "tools", SupportTier: "tier-2",
		LicensingModel: "free", AllowedScope: acme}); err != nil {
		t.Fatal(err)
	}
	if _, err := pat.CreateVersion(ctx, app, api.VersionRequest{Version: "1.0", OSMatrix: []deploy.OSSupport{{OS: "linux", Versions: "debian 12", Arch: "all"}}}); err != nil {
		t.Fatal(err)
	}
	pkg, err := pat.AddPackage(ctx, app, "1.0", bytes.NewReader(debBytes), int64(len(debBytes)), client.PackageAdd{Name: filepath.Base(debPath)})
	if err != nil {
		t.Fatal(err)
	}
	var hubFindings []vuln.Finding
	var hubDecision vuln.Decision
	if err := json.Unmarshal(pkg.Findings, &hubFindings); err != nil {
		t.Fatalf("hub findings %s: %v", pkg.Findings, err)
	}
	if err := json.Unmarshal(pkg.Decision, &hubDecision); err != nil {
		t.Fatal(err)
	}
	if len(hubFindings) != 1 || hubFindings[0].ID != "EUC-2026-0001" || hubDecision.Outcome != deploy.ScanFail {
		t.Fatalf("hub intake: findings %s, decision %s", pkg.Findings, pkg.Decision)
	}

	// The edge, enrolled, syncing through a link that corrupts the feed
	// file once.
	k, err := hc.HubKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hubPub, err := signing.ParsePublic([]byte(k.PublicPEM), "hub key")
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.Init(filepath.Join(tmp, "edge"), site, hubPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hc.CreateSite(ctx, api.SiteRequest{Name: site, Class: "intermittent", Scope: siteScope, EdgeKeyPEM: string(signing.EncodePublic(e.PublicKey()))}); err != nil {
		t.Fatal(err)
	}
	tok, err := hc.CreateToken(ctx, api.TokenRequest{Name: "edge-" + site, Role: deploy.RoleEndpointOps, Scope: siteScope})
	if err != nil {
		t.Fatal(err)
	}
	fileDigest := digest.FromBytes(ledgerFeed)
	l := newLink(t, base, fileDigest)
	s := edge.NewSyncer(e, l.URL, tok.Token)

	l.arm(fault{kind: faultCorrupt, after: 100})
	res, err := s.Round(ctx)
	var me *digest.MismatchError
	if !errors.As(err, &me) || me.Want != string(fileDigest) || res.Imported == nil || res.Imported.Outcome != edge.OutcomeRefused {
		t.Fatalf("round with the feed flipped in flight: %v, import %+v", err, res.Imported)
	}
	if _, err := e.VulnFeed(); !errors.Is(err, edge.ErrNoVulnFeed) {
		t.Fatalf("feed after the refusal: %v", err)
	}
	if st, _ := e.Status(); st.Applied.Seq != 0 || st.Objects != 0 || st.VulnFeed != "" {
		t.Fatalf("the refusal changed the edge: %+v", st)
	}
	if left := storeObjects(t, e.Store()); len(left) != 0 {
		t.Fatalf("the refused attempt left objects in the store: %v", left)
	}

	res, err = s.Round(ctx)
	if err != nil || res.Imported == nil || res.Imported.Outcome != edge.OutcomeApplied || res.Imported.VulnFeed != feed.ID {
		t.Fatalf("clean round: %v, import %+v", err, res.Imported)
	}
	vf, err := e.VulnFeed()
	if err != nil || vf.SHA256 != fileDigest || vf.Version != feed.ID || vf.Records != 2 || vf.KeyID != hubPub.ID {
		t.Fatalf("edge feed: %+v, %v", vf, err)
	}
	if gets := l.gets(); len(gets) != 2 {
		t.Fatalf("feed file fetched %d times, want 2 (the corrupt one, the good one)", len(gets))
	}

	// The receipt tells the hub the site holds the file: a new export
	// does not carry it, nor does the one the next round pulls (it
	// exports again, with the acknowledgement), which the edge applies
	// without fetching the file again, keeping its feed.
	if res, err = s.Round(ctx); err != nil || res.Pushed == nil {
		t.Fatalf("push round: %v, %+v", err, res)
	}
	x, err := hc.ExportSite(ctx, site, api.ExportRequest{})
	if err != nil || x.Objects != 0 {
		t.Fatalf("export after the site reported holding the feed: %+v, %v", x, err)
	}
	res, err = s.Round(ctx)
	if err != nil || res.Imported == nil || res.Imported.Outcome != edge.OutcomeApplied || res.Imported.Sequence < x.Sequence ||
		res.Imported.ObjectsAdded != 0 || res.Imported.VulnFeed != "" || res.Imported.Records["vuln-feed"] != 1 {
		t.Fatalf("round applying the second export: %v, import %+v", err, res.Imported)
	}
	if gets := l.gets(); len(gets) != 2 {
		t.Fatalf("the feed file was fetched again: %d GETs", len(gets))
	}
	if again, err := e.VulnFeed(); err != nil || again.Version != feed.ID || again.BundleSeq != vf.BundleSeq {
		t.Fatalf("feed after the second export: %+v, %v", again, err)
	}

	// Offline re-check of the same deb: the hub's finding and decision.
	ck, err := e.CheckFeed()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := ck.CheckFile(debPath, hubDecision.DecidedAt)
	if err != nil {
		t.Fatal(err)
	}
	r := pc.Report
	if got, want := findingIDs(r.Findings), findingIDs(hubFindings); !slices.Equal(got, want) {
		t.Fatalf("edge findings %v, hub's %v", got, want)
	}
	d := r.Decision
	if d.Outcome != hubDecision.Outcome || !slices.Equal(d.Blocking, hubDecision.Blocking) || d.Counts != hubDecision.Counts ||
		d.FeedVersion != feed.ID || d.Artifact != pkg.Artifact.SHA256 || pc.SHA256 != pkg.Artifact.SHA256 {
		t.Fatalf("edge decision %+v (artifact %s), hub's %+v (artifact %s)", d, pc.SHA256, hubDecision, pkg.Artifact.SHA256)
	}
	if r.Feed.Version != feed.ID || !slices.ContainsFunc(r.Feed.Integrity, func(s string) bool { return strings.Contains(s, "signed statement by key "+hubPub.ID) }) {
		t.Fatalf("report feed: %+v", r.Feed)
	}
}
