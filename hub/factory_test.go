package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/provenance"
)

// buildDeb builds a real .deb with dpkg-deb: a postinst, a systemd
// service and a setuid helper.
func buildDeb(t *testing.T, name, version string) []byte {
	t.Helper()
	testtool.Need(t, "apt-get install dpkg", "dpkg-deb")
	root := t.TempDir()
	files := map[string]string{
		"DEBIAN/control":                          fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: Acme Packaging <pkg@acme.example>\nDescription: EUCORA factory test\n", name, version),
		"DEBIAN/postinst":                         "#!/bin/sh\nset -e\nsystemctl enable ledger-agent.service || true\n",
		"lib/systemd/system/ledger-agent.service": "[Unit]\nDescription=Ledger agent\n[Service]\nExecStart=/usr/bin/ledger-agent\n[Install]\nWantedBy=multi-user.target\n",
		"usr/bin/ledger-agent":                    "#!/bin/sh\necho agent\n",
	}
	for p, body := range files {
		full := filepath.Join(root, "pkg", p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "DEBIAN/postinst") || strings.HasPrefix(p, "usr/bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "pkg", "usr/bin/ledger-agent"), os.ModeSetuid|0o755)
	out := filepath.Join(root, name+".deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zxz", "--build", filepath.Join(root, "pkg"), out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const msiProductCode = "{12345678-1234-1234-1234-123456789012}"

// buildMSI builds a real per-machine MSI with a service with wixl.
func buildMSI(t *testing.T) []byte {
	t.Helper()
	testtool.Need(t, "apt-get install wixl", "wixl")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.exe"), []byte("MZ ledger"), 0o644)
	wxs := `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="12345678-1234-1234-1234-123456789012" Name="Ledger" Language="1033" Version="2.4.1" Manufacturer="Acme Corp" UpgradeCode="87654321-4321-4321-4321-210987654321">
    <Package InstallerVersion="200" Compressed="yes" InstallScope="perMachine"/>
    <Media Id="1" Cabinet="app.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="Ledger">
          <Component Id="MainExe" Guid="11111111-2222-3333-4444-555555555555">
            <File Id="AppExe" Name="ledger.exe" Source="app.exe" KeyPath="yes"/>
            <ServiceInstall Id="LedgerSvc" Name="LedgerService" DisplayName="Ledger" Type="ownProcess" Start="auto" ErrorControl="normal"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="MainExe"/></Feature>
  </Product>
</Wix>
`
	os.WriteFile(filepath.Join(dir, "ledger.wxs"), []byte(wxs), 0o644)
	cmd := exec.Command("wixl", "-o", "ledger.msi", "ledger.wxs")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wixl: %v\n%s", err, b)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ledger.msi"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func deploymentDoc(productCode string) []byte {
	return []byte(`{"schema": "eucora.deployment-doc/v1",
  "install": {"command": "msiexec /i ledger.msi /qn /norestart"},
  "uninstall": {"command": "msiexec /x ` + productCode + ` /qn"},
  "detection": [{"type": "product_code", "product_code": "` + productCode + `"}],
  "exit_codes": [{"code": 0, "result": "success"}, {"code": 3010, "result": "soft_reboot"}],
  "reboot": "based_on_exit_code"}`)
}

// osvFeed is one critical Debian advisory for ledger-agent before 1.1-1.
func osvFeed() []byte {
	return []byte(`[{"schema_version": "1.6.0", "id": "EUC-2026-0001", "modified": "2026-11-30T10:00:00Z", "published": "2026-11-29T10:00:00Z",
  "aliases": ["CVE-2026-40001"], "summary": "ledger-agent runs commands from the network as root",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Debian", "name": "ledger-agent"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1-1"}]}]}]}]`)
}

func casObjects(t *testing.T, n *testNode) int {
	t.Helper()
	c := 0
	n.srv.cas.Walk(func(digest.Digest, int64) error { c++; return nil })
	return c
}

func putBlob(t *testing.T, ctx context.Context, c *client.Client, b []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(b)
	if err := c.PutBlob(ctx, d.Hex(), bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	return digest.Digest(d.String())
}

// TestFactoryEndToEnd takes a real deb and a real MSI through the factory:
// intake is refused without a feed, for a defective file and for
// documentation that contradicts the MSI, each storing nothing; the deb's
// critical finding fails its policy and blocks publish until a Security
// Reviewer's exception; provenance verifies with the packaging key only;
// the evidence pack is filled from the factory's records.
func TestFactoryEndToEnd(t *testing.T) {
	debBytes, msiBytes := buildDeb(t, "ledger-agent", "1.0-1"), buildMSI(t)
	nodes, _ := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	setClock := pinClock(t, t0)
	acme := deploy.Scope{Acquisition: "acme"}
	w := &govWorld{t: t, n: n, ctx: ctx, users: map[string]*client.Client{}}
	w.token("pat", deploy.RolePackagingEngineer, acme)
	w.token("rita", deploy.RolePublisher, acme)
	w.token("sam", deploy.RoleSecurityReviewer, deploy.Scope{})
	w.token("carol", deploy.RoleCABApprover, deploy.Scope{})
	pat, rita, sam := w.as("pat", deploy.RolePackagingEngineer), w.as("rita", deploy.RolePublisher), w.as("sam", deploy.RoleSecurityReviewer)
	const app = "com.acme.ledger"
	must[api.App](t, "create app")(pat.CreateApp(ctx, api.AppRequest{ID: app, Name: "Ledger", Owner: "fin-apps", Category: "finance",
		SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: acme, LOB: true}))
	for _, v := range []string{"1.0", "2.4.1"} {
		must[api.Version](t, "create version")(pat.CreateVersion(ctx, app, api.VersionRequest{Version: v, OSMatrix: []deploy.OSSupport{{OS: "linux", Versions: "debian 12", Arch: "all"}}}))
	}
	add := func(c *client.Client, version, name string, b []byte, o client.PackageAdd) (api.Package, error) {
		o.Name = name
		return c.AddPackage(ctx, app, version, bytes.NewReader(b), int64(len(b)), o)
	}
	refusedNothingStored := func(what string, err error, status int, want string) {
		t.Helper()
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != status || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want HTTP %d containing %q", what, err, status, want)
		}
	}

	// 1. Without a feed nothing is taken in.
	before := casObjects(t, n)
	_, err := add(pat, "1.0", "ledger-agent_1.0-1_all.deb", debBytes, client.PackageAdd{})
	refusedNothingStored("no feed", err, http.StatusConflict, "eucora vuln import")
	// A bad feed is refused whole.
	_, err = sam.ImportVulnFeed(ctx, "bad.json", strings.NewReader(`[{"id": "X-1"}]`), -1, "", "")
	refusedNothingStored("feed without modified", err, http.StatusUnprocessableEntity, "modified")
	if _, err := pat.ImportVulnFeed(ctx, "feed.json", bytes.NewReader(osvFeed()), -1, "", ""); err == nil {
		t.Error("a packaging engineer imported a feed")
	}
	feed := must[api.VulnFeed](t, "import feed")(sam.ImportVulnFeed(ctx, "feed.json", bytes.NewReader(osvFeed()), -1, digest.FromBytes(osvFeed()).Hex(), "test advisories"))
	if feed.Records != 1 || !strings.HasPrefix(feed.ID, "sha256:") {
		t.Fatalf("feed: %+v", feed)
	}
	before = casObjects(t, n)

	// 2. Defective and mislabelled files are refused, naming the defect.
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"ledger.deb", msiBytes, "its bytes are a CFB compound file"},
		{"ledger.deb", debBytes[:len(debBytes)/2], "not a valid deb file"},
		{"ledger.msi", debBytes, "its bytes are an ar archive"},
		{"ledger.msi", msiBytes[:4096], "not a valid msi file"},
	} {
		_, err := add(pat, "1.0", c.name, c.body, client.PackageAdd{Docs: putBlob(t, ctx, pat, deploymentDoc(msiProductCode))})
		refusedNothingStored(c.name, err, http.StatusUnprocessableEntity, c.want)
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Code != api.CodeDefectivePackage {
			t.Errorf("%s: code %q, want %s", c.name, ae.Code, api.CodeDefectivePackage)
		}
	}
	before++ // the documentation blob
	// A Windows package without its documentation, or with documentation
	// naming another product, is refused before or after reading.
	_, err = add(pat, "2.4.1", "ledger.msi", msiBytes, client.PackageAdd{})
	refusedNothingStored("msi without docs", err, http.StatusUnprocessableEntity, "deployment documentation")
	other := putBlob(t, ctx, pat, deploymentDoc("{00000000-1234-1234-1234-123456789012}"))
	before++
	_, err = add(pat, "2.4.1", "ledger.msi", msiBytes, client.PackageAdd{Docs: other})
	refusedNothingStored("msi with docs of another product", err, http.StatusUnprocessableEntity, "but the MSI's ProductCode is")
	if got := casObjects(t, n); got != before {
		t.Errorf("refused intakes stored %d objects", got-before)
	}

	// 3. The deb: facts, SBOMs, a critical finding that fails the policy, provenance.
	deb := must[api.Package](t, "add deb")(add(pat, "1.0", "ledger-agent_1.0-1_all.deb", debBytes,
		client.PackageAdd{RunID: "pipeline-77", Sources: []string{"git+https://git.acme.example/ledger@v1.0#gitCommit=" + strings.Repeat("a", 40)}}))
	a := deb.Artifact
	if a.SHA256 != digest.FromBytes(debBytes) || a.Platform != deploy.PlatformDeb || a.PackagedBy != "pat" || a.Intake == nil {
		t.Fatalf("deb artifact: %+v", a)
	}
	if a.ScanDecision != deploy.ScanFail || a.Intake.Findings.Critical != 1 || !strings.Contains(string(deb.Findings), "EUC-2026-0001") {
		t.Errorf("deb policy: %s, findings %+v %s", a.ScanDecision, a.Intake.Findings, deb.Findings)
	}
	var facts struct {
		Kind      string
		Identity  struct{ Name, Version string }
		Privilege struct {
			InstallsService bool     `json:"installs_service"`
			Setuid          []string `json:"setuid"`
		}
		Scripts []struct{ Name string }
	}
	json.Unmarshal(deb.Facts, &facts)
	if facts.Kind != "deb" || facts.Identity.Name != "ledger-agent" || facts.Identity.Version != "1.0-1" || !facts.Privilege.InstallsService ||
		len(facts.Privilege.Setuid) != 1 || len(facts.Scripts) != 1 {
		t.Errorf("deb facts: %+v", facts)
	}
	if pv := deb.Provenance; pv == nil || !pv.Verified || pv.RunID != "pipeline-77" || !strings.HasPrefix(pv.Builder, "https://eucora.dev/factory/hub/") {
		t.Errorf("provenance: %+v", deb.Provenance)
	}
	sbom, err := n.srv.readBlob(a.Intake.CycloneDX, maxDocBlob, "sbom")
	if err != nil || !bytes.Contains(sbom, []byte(`"bomFormat": "CycloneDX"`)) && !bytes.Contains(sbom, []byte(`"bomFormat":"CycloneDX"`)) || !bytes.Contains(sbom, []byte("ledger-agent")) {
		t.Errorf("CycloneDX SBOM %s: %v\n%.300s", a.Intake.CycloneDX, err, sbom)
	}
	if spdx, err := n.srv.readBlob(a.Intake.SPDX, maxDocBlob, "sbom"); err != nil || !bytes.Contains(spdx, []byte("SPDX-2.3")) {
		t.Errorf("SPDX SBOM: %v", err)
	}
	derived := map[deploy.Factor]float64{}
	for _, d := range deb.Derived {
		derived[d.Factor] = d.Value
	}
	if derived[deploy.FactorPrivilege] != 1.0 || derived[deploy.FactorSBOMVulnerability] != 1.0 || derived[deploy.FactorSupplyChain] != 0.9 {
		t.Errorf("derived factors: %+v", deb.Derived)
	}
	shown := must[api.Package](t, "package show")(w.as("carol", deploy.RoleCABApprover).Package(ctx, app, "1.0", a.SHA256))
	if shown.Artifact.SHA256 != a.SHA256 || shown.Provenance == nil || !shown.Provenance.Verified {
		t.Errorf("package show: %+v", shown.Provenance)
	}

	// 4. Provenance is trusted only from a packaging key: the same
	// statement signed with the hub key does not verify.
	envBytes, _ := n.srv.readBlob(digest.Digest(a.Provenance), maxDocBlob, "provenance")
	env, _ := signing.ParseEnvelope(envBytes)
	payload, _, _ := signing.Verify(env, mustTrust(t, n, RolePackaging), "application/vnd.in-toto+json")
	hubKey, _ := n.srv.hubKey()
	forged := signing.Sign(hubKey, env.PayloadType, payload)
	if _, _, err := provenance.Verify(forged, mustTrust(t, n, RolePackaging), string(a.SHA256)); !errors.Is(err, signing.ErrUnknownKey) {
		t.Errorf("provenance signed with the hub key: %v, want unknown key", err)
	}
	keys, _ := sam.SigningKeys(ctx)
	if len(keys) != 1 || keys[0].Role != RolePackaging || keys[0].KeyID == hubKey.ID {
		t.Errorf("signing keys: %+v", keys)
	}
	if err := provenance.CheckUse(provenance.KeyRole(RolePackaging), provenance.UseApproval); err == nil {
		t.Error("the packaging key may sign approvals")
	}

	// 5. The MSI with its documentation: evidence filled from the factory.
	docs := putBlob(t, ctx, pat, deploymentDoc(msiProductCode))
	msi := must[api.Package](t, "add msi")(add(pat, "2.4.1", "ledger.msi", msiBytes, client.PackageAdd{Docs: docs}))
	if msi.Artifact.ScanDecision != deploy.ScanPass || len(msi.Artifact.Intake.Docs) != 3 || msi.Artifact.Signing.State != deploy.SigUnsigned {
		t.Errorf("msi: %s, docs %v, signing %s", msi.Artifact.ScanDecision, msi.Artifact.Intake.Docs, msi.Artifact.Signing.State)
	}

	// 5b. The facts decide their risk factors: an assessment of the deb
	// that contradicts one is refused; one that leaves them out gets them.
	_, err = rita.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-x", AppID: app, Version: "1.0", Artifact: a.SHA256, Input: riskInput(0.1, deploy.Ring1Canary)})
	refusedNothingStored("assessment contradicting the facts", err, http.StatusUnprocessableEntity, "privilege")
	manual, _ := json.Marshal(map[string]any{"model": "v1.0", "target_ring": deploy.Ring1Canary, "privileged_tooling": false,
		"factors": map[string]float64{"data_access": 0.1, "blast_radius": 0.2, "operational_complexity": 0.1, "history": 0.1}})
	fromFacts := must[api.Assessment](t, "assessment from facts")(rita.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-f", AppID: app, Version: "1.0", Artifact: a.SHA256, Input: manual}))
	if fromFacts.Assessment.Input.Factors[deploy.FactorPrivilege] != 1.0 || fromFacts.Assessment.Input.Factors[deploy.FactorSBOMVulnerability] != 1.0 {
		t.Errorf("assessment factors: %+v", fromFacts.Assessment.Input.Factors)
	}

	// 6. The deb's failed policy blocks publish until an exception.
	must[api.Assessment](t, "assess")(pat.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-d", AppID: app, Version: "1.0", Input: riskInput(0.1, deploy.Ring0Lab)}))
	intent := must[api.Intent](t, "intent")(pat.CreateIntent(ctx, api.IntentRequest{ID: "i-d", AppID: app, Version: "1.0", Artifact: a.SHA256, Ring: deploy.Ring0Lab,
		Scope: &acme, Schedule: deploy.Schedule{NotBefore: t0}, AssessmentID: "as-d"}))
	_ = rita
	scanRule := func(exception string) (bool, bool) {
		_, err := pat.Publish(ctx, intent.ID, api.PublishRequest{Exception: exception})
		var de *client.DeniedError
		if err == nil {
			return true, true
		}
		if !errors.As(err, &de) {
			t.Fatalf("publish: %v", err)
		}
		for _, c := range de.Decision.Decision.Checks {
			if c.Rule == "scan.pass-or-exception" {
				return c.Pass, false
			}
		}
		return true, false
	}
	if pass, _ := scanRule(""); pass {
		t.Error("a critical finding did not block publish")
	}
	setClock(t0.Add(time.Minute))
	// An exception for another finding does not cover the factory's.
	must[deploy.Exception](t, "exception")(sam.CreateException(ctx, api.ExceptionRequest{ID: "ex-other", IntentID: intent.ID, Findings: []string{"CVE-2025-0001"},
		Justification: "wrong finding", CompensatingControls: []string{"none that matter"}, AccountableOwner: "fin-apps",
		RequestedBy: "pat", ExpiresAt: t0.Add(24 * time.Hour)}))
	if pass, _ := scanRule("ex-other"); pass {
		t.Error("an exception naming another finding opened the scan gate")
	}
	must[deploy.Exception](t, "exception")(sam.CreateException(ctx, api.ExceptionRequest{ID: "ex-d", IntentID: intent.ID, Findings: []string{"CVE-2026-40001"},
		Justification: "agent is firewalled until 1.1", CompensatingControls: []string{"host firewall drops 0/0"}, AccountableOwner: "fin-apps",
		RequestedBy: "pat", ExpiresAt: t0.Add(24 * time.Hour)}))
	if pass, _ := scanRule("ex-d"); !pass {
		t.Error("an approved exception covering the finding did not open the scan gate")
	}

	// 7. Evidence for the MSI's intent: the factory's items fill the pack,
	// and a hand-fed SBOM that is not the factory's is refused.
	as := must[api.Assessment](t, "assess msi")(rita.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-m", AppID: app, Version: "2.4.1", Input: riskInput(0.2, deploy.Ring1Canary)}))
	must[api.Intent](t, "msi intent")(rita.CreateIntent(ctx, api.IntentRequest{ID: "i-m", AppID: app, Version: "2.4.1", Artifact: msi.Artifact.SHA256, Ring: deploy.Ring1Canary,
		Scope: &acme, Schedule: deploy.Schedule{NotBefore: t0}, AssessmentID: "as-m"}))
	var pack deploy.EvidencePack
	if err := json.Unmarshal(evidencePack(t, "i-m", "2.4.1", as.Assessment, t0), &pack); err != nil {
		t.Fatal(err)
	}
	pack.AppID = app
	handFed := pack
	pack.Artifacts, pack.SBOM, pack.ScanReport, pack.PolicyDecision, pack.InstallDoc, pack.UninstallDoc, pack.DetectionDoc = nil, nil, nil, "", nil, nil, nil
	b, _ := json.Marshal(pack)
	ev := must[api.EvidenceView](t, "evidence filled by the factory")(rita.StoreEvidence(ctx, b))
	p := ev.Pack
	if len(p.Artifacts) != 1 || p.Artifacts[0].SHA256 != msi.Artifact.SHA256 || p.Artifacts[0].Provenance != msi.Artifact.Provenance ||
		p.SBOM == nil || p.SBOM.Digest != msi.Artifact.Intake.CycloneDX || p.ScanReport.Digest != msi.Artifact.Intake.ScanReport ||
		p.PolicyDecision != deploy.ScanPass || p.DetectionDoc == nil || p.DetectionDoc.Digest != msi.Artifact.Intake.Docs[deploy.EvidenceDetectionDoc].Digest {
		t.Errorf("filled pack: %+v", p)
	}
	if d := p.CheckComplete(); !d.Allowed {
		t.Errorf("the factory-filled pack is incomplete: %v", d.Failed())
	}
	b, _ = json.Marshal(handFed)
	_, err = rita.StoreEvidence(ctx, b)
	refusedNothingStored("hand-fed SBOM", err, http.StatusUnprocessableEntity, "is not the factory's")
}

func mustTrust(t *testing.T, n *testNode, role string) signing.Trust {
	t.Helper()
	tr, err := n.srv.trustFor(role)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
