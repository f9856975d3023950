package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
)

// devApp is one app of the sample catalog and where it stands.
type devApp struct {
	App      string `json:"app"`
	Version  string `json:"version"`
	Intent   string `json:"intent"`
	Evidence string `json:"evidence"`
	Risk     string `json:"risk"`
	State    string `json:"state"`
}

// devSampleApps: Ledger is published and rolls out by itself; its risk
// needs a CAB approval before Ring 2. The VPN client uses privileged
// tooling, so even its Ring 0 waits in the CAB queue.
var devSampleApps = []struct {
	id, name, version string
	factor            float64
	privileged        bool
	publish           bool
}{
	{"com.acme.ledger", "Ledger", "2.0", 0.7, false, true},
	{"com.acme.vpn", "Acme VPN client", "5.1", 0.4, true, false},
}

func devCatalog(env *devEnv, res *devResult) error {
	ctx, cancel := context.WithTimeout(env.ctx, time.Minute)
	defer cancel()
	pat, carol := client.New(env.hubURL, res.token("pat")), client.New(env.hubURL, res.token("carol"))
	for _, a := range devSampleApps {
		app, err := devStage(ctx, pat, carol, a.id, a.name, a.version, a.factor, a.privileged)
		if err != nil {
			return fmt.Errorf("sample catalog, %s %s: %w", a.id, a.version, err)
		}
		app.State = "in the CAB queue: privileged tooling needs CAB approval for every ring"
		if a.publish {
			if _, err := pat.Publish(ctx, app.Intent, api.PublishRequest{Evidence: digest.Digest(app.Evidence)}); err != nil {
				return fmt.Errorf("sample catalog, publishing %s: %w", app.Intent, err)
			}
			app.State = "rolling out by itself on intune-corp; its risk needs CAB approval before Ring 2"
		}
		res.Catalog = append(res.Catalog, app)
	}
	return nil
}

// devStage takes one MSI app version from registration to an intent with
// its evidence pack, as a packaging engineer and a CAB approver would:
// registration, artifact, lifecycle, risk assessment, intent, evidence.
func devStage(ctx context.Context, pat, carol *client.Client, id, name, version string, factor float64, privileged bool) (devApp, error) {
	scope := deploy.Scope{Acquisition: "acme"}
	if _, err := pat.CreateApp(ctx, api.AppRequest{ID: id, Name: name, Owner: "acme-apps", Category: "business", SupportTier: "tier-1",
		LicensingModel: "per-device", AllowedScope: scope, LOB: true, PrivilegedTools: privileged}); err != nil {
		return devApp{}, err
	}
	if _, err := pat.CreateVersion(ctx, id, api.VersionRequest{Version: version, ReleaseNotes: "sample release of eucora dev",
		OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}); err != nil {
		return devApp{}, err
	}
	put := func(body []byte) (digest.Digest, error) {
		d := digest.FromBytes(body)
		return d, pat.PutBlob(ctx, d.Hex(), bytes.NewReader(body), int64(len(body)))
	}
	short := id[strings.LastIndexByte(id, '.')+1:]
	msi := []byte(fmt.Sprintf("sample MSI of %s %s (eucora dev)\n%s", id, version, strings.Repeat("\x00", 4096)))
	art, err := put(msi)
	if err != nil {
		return devApp{}, err
	}
	name = short + "-" + version + ".msi"
	if _, err := pat.CreateArtifact(ctx, id, version, api.ArtifactRequest{Platform: deploy.PlatformMSI, Name: name, SHA256: art, Size: int64(len(msi)),
		Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass}); err != nil {
		return devApp{}, err
	}
	for _, to := range []deploy.State{deploy.StatePackaged, deploy.StateStaged} {
		if _, err := pat.Transition(ctx, id, version, to); err != nil {
			return devApp{}, err
		}
	}
	if _, err := carol.Transition(ctx, id, version, deploy.StateApproved); err != nil {
		return devApp{}, err
	}
	factors := map[string]float64{}
	for _, f := range deploy.ModelV1.Factors {
		factors[string(f.Name)] = factor
	}
	in, _ := json.Marshal(map[string]any{"model": deploy.ModelV1.Version, "factors": factors, "privileged_tooling": privileged, "target_ring": 0})
	intent := short + "-" + strings.ReplaceAll(version, ".", "-")
	as, err := pat.CreateAssessment(ctx, api.AssessmentRequest{ID: "as-" + intent, AppID: id, Version: version, Input: in})
	if err != nil {
		return devApp{}, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := pat.CreateIntent(ctx, api.IntentRequest{ID: intent, AppID: id, Version: version, Artifact: art, Ring: 0, Scope: &scope,
		Schedule: deploy.Schedule{NotBefore: now.Add(-time.Minute)}, AssessmentID: "as-" + intent}); err != nil {
		return devApp{}, err
	}
	doc := func(title, mediaType, text string) (*deploy.DocRef, error) {
		d, err := put([]byte(text))
		return &deploy.DocRef{Digest: d, MediaType: mediaType, Title: title}, err
	}
	var docs [6]*deploy.DocRef
	for i, t := range []struct{ title, mt, text string }{
		{"SBOM", "application/vnd.cyclonedx+json", `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"application","name":"` + short + `","version":"` + version + `"}]}`},
		{"Scan report", "application/json", `{"scanner":"eucora dev sample","findings":[]}`},
		{"Install", "text/markdown", "msiexec /i " + name + " /qn\n"},
		{"Uninstall", "text/markdown", "msiexec /x " + name + " /qn\n"},
		{"Detection", "text/markdown", "MSI product code present\n"},
		{"Lab test", "text/markdown", "Installed, launched and removed on the lab image: passed.\n"},
	} {
		if docs[i], err = doc(t.title, t.mt, t.text); err != nil {
			return devApp{}, err
		}
	}
	pack := deploy.EvidencePack{Schema: deploy.EvidenceSchema, IntentID: intent, AppID: id, Version: version, CreatedAt: now,
		Artifacts: []deploy.ArtifactEvidence{{Name: name, Platform: deploy.PlatformMSI, SHA256: art, Size: int64(len(msi)),
			Signing: deploy.Signing{State: deploy.SigKnownVendor}, Decision: deploy.ScanPass}},
		SBOM: docs[0], ScanReport: docs[1], PolicyDecision: deploy.ScanPass, InstallDoc: docs[2], UninstallDoc: docs[3], DetectionDoc: docs[4],
		TestEvidence: deploy.TestEvidence{Lab: &deploy.TestResult{Passed: true, Report: *docs[5]}}, Exceptions: []deploy.Exception{},
		ScopeDiff: &deploy.ScopeDiff{Previous: scope, Requested: scope, Change: "unchanged", Summary: "unchanged"}, Risk: &as.Assessment}
	body, err := json.Marshal(pack)
	if err != nil {
		return devApp{}, err
	}
	ev, err := pat.StoreEvidence(ctx, body)
	if err != nil {
		return devApp{}, err
	}
	return devApp{App: id, Version: version, Intent: intent, Evidence: ev.Record.Digest.String(),
		Risk: fmt.Sprintf("%g of 100", as.Assessment.Score)}, nil
}
