package hub

import (
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

// TestArtifactNames: an artifact's name is one safe file name (422
// otherwise) and unique per app, version and channel (409 otherwise);
// neither refusal stores anything.
func TestArtifactNames(t *testing.T) {
	nodes, _ := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	pinClock(t, time.Now().UTC().Truncate(time.Second))
	acme := deploy.Scope{Acquisition: "acme"}
	w := &govWorld{t: t, n: n, ctx: ctx, users: map[string]*client.Client{}}
	w.token("pat", deploy.RolePackagingEngineer, acme)
	pat := w.as("pat", deploy.RolePackagingEngineer)
	const app = "com.acme.ledger"
	must[api.App](t, "create app")(pat.CreateApp(ctx, api.AppRequest{ID: app, Name: "Ledger", Owner: "fin-apps", Category: "finance",
		SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: acme}))
	for _, v := range []string{"1.0", "1.1"} {
		must[api.Version](t, "version")(pat.CreateVersion(ctx, app, api.VersionRequest{Version: v, OSMatrix: []deploy.OSSupport{{OS: "windows", Versions: ">= 10", Arch: "x64"}}}))
	}
	digests := "0123456789abcdef"
	next := 0
	create := func(version string, p deploy.Platform, name string) error {
		next++
		_, err := pat.CreateArtifact(ctx, app, version, api.ArtifactRequest{Platform: p, Name: name, SHA256: hexDigest(digests[next%16]),
			Size: 4096, Signing: deploy.Signing{State: deploy.SigKnownVendor}, ScanDecision: deploy.ScanPass})
		return err
	}
	count := func() int {
		arts, _ := n.srv.Store().State().Artifacts(app, "1.0")
		return len(arts)
	}
	cases := 0
	for _, name := range []string{"../evil.msi", "/etc/cron.d/x.msi", "evil.msi\x00.txt", "a\nb.msi", strings.Repeat("a", 5000),
		"", ".", "..", `..\evil.msi`, "-x.msi", "setup.msi.", " setup.msi", "a:b.msi", "a\x1bb.msi"} {
		cases++
		if err := create("1.0", deploy.PlatformMSI, name); err == nil || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "name") {
			t.Errorf("name %q: %v, want 422 on name", name, err)
		}
	}
	if c := count(); c != 0 {
		t.Fatalf("refused names stored %d artifacts", c)
	}
	cases++
	if err := create("1.0", deploy.PlatformMSI, "setup.msi"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    deploy.Platform
		name string
	}{{deploy.PlatformMSI, "setup.msi"}, {deploy.PlatformMSIX, "setup.msi"}, {deploy.PlatformMSI, "SETUP.MSI"}} {
		cases++
		if err := create("1.0", tc.p, tc.name); err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "setup.msi") {
			t.Errorf("second %s %q: %v, want 409", tc.p, tc.name, err)
		}
	}
	if c := count(); c != 1 {
		t.Fatalf("%d artifacts after the clashes, want 1", c)
	}
	for _, tc := range []struct {
		v    string
		p    deploy.Platform
		name string
	}{{"1.0", deploy.PlatformPKG, "setup.msi"}, {"1.1", deploy.PlatformMSI, "setup.msi"}, {"1.0", deploy.PlatformMSI, "setup-x64.msi"}} {
		cases++
		if err := create(tc.v, tc.p, tc.name); err != nil {
			t.Errorf("%s %s %q: %v", tc.v, tc.p, tc.name, err)
		}
	}
	t.Logf("%d cases", cases)
}
