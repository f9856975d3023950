package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/hubtest"
)

// startHub runs a one-node hub in process and returns its URL and admin
// token.
func startHub(t *testing.T) (string, string) {
	_, url, tok := hubtest.Start(t)
	return url, tok
}

func TestGovernanceCLI(t *testing.T) {
	url, admin := startHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ac := client.New(url, admin)
	tokens := map[string]string{}
	for _, u := range []struct {
		key, name string
		role      deploy.Role
		scope     deploy.Scope
	}{
		{"pat", "pat", deploy.RolePackagingEngineer, deploy.Scope{Acquisition: "acme"}},
		{"pat-cab", "pat", deploy.RoleCABApprover, deploy.Scope{}},
		{"carol", "carol", deploy.RoleCABApprover, deploy.Scope{}},
		{"rita", "rita", deploy.RolePublisher, deploy.Scope{Acquisition: "acme"}},
	} {
		nt, err := ac.CreateToken(ctx, api.TokenRequest{Name: u.name, Role: u.role, Scope: u.scope})
		if err != nil {
			t.Fatal(err)
		}
		tokens[u.key] = nt.Token
	}
	dir := t.TempDir()
	as := func(who string, args ...string) []string {
		return append(args, "--hub", url, "--token", tokens[who])
	}
	pkg := filepath.Join(dir, "ledger.msi")
	if err := os.WriteFile(pkg, []byte("not really an msi"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, dir, as("pat", "app", "add", "com.acme.ledger", "--name", "Ledger", "--owner", "fin-apps", "--category", "finance",
		"--support-tier", "tier-1", "--licensing", "per-device", "--scope", "acquisition=acme")...)
	mustRun(t, dir, as("pat", "version", "add", "com.acme.ledger", "2.4.1", "--os", "windows:>= 10:x64")...)
	r := mustRun(t, dir, as("pat", "artifact", "add", "com.acme.ledger", "2.4.1", "--platform", "msi", "--file", pkg, "--signing", "signed-known-vendor", "--scan", "pass", "--output", "json")...)
	var art api.Artifact
	decodeJSON(t, r.stdout, &art)
	if art.PackagedBy != "pat" || art.Size != int64(len("not really an msi")) {
		t.Fatalf("artifact: %+v", art)
	}
	for _, to := range []string{"packaged", "staged"} {
		mustRun(t, dir, as("pat", "version", "transition", "com.acme.ledger", "2.4.1", "--to", to)...)
	}
	// Self-approval: policy denial, exit 24, every reason printed.
	r = eucora(t, dir, as("pat-cab", "version", "transition", "com.acme.ledger", "2.4.1", "--to", "approved")...)
	if r.code != exitDenied || !strings.Contains(r.stderr, "nobody approves their own request") {
		t.Fatalf("self-approval: exit %d %s", r.code, r.stderr)
	}
	mustRun(t, dir, as("carol", "version", "transition", "com.acme.ledger", "2.4.1", "--to", "approved")...)
	r = mustRun(t, dir, as("rita", "app", "show", "com.acme.ledger")...)
	if !strings.Contains(r.stdout, "approved") || !strings.Contains(r.stdout, "pat") {
		t.Fatalf("app show:\n%s", r.stdout)
	}

	// Assessment stored at the hub, explained from the hub.
	f := map[string]float64{}
	for _, s := range deploy.ModelV1.Factors {
		f[string(s.Name)] = 0.8
	}
	in, _ := json.Marshal(map[string]any{"model": "v1.0", "factors": f, "privileged_tooling": false, "target_ring": 2})
	inFile := filepath.Join(dir, "risk.json")
	os.WriteFile(inFile, in, 0o644)
	mustRun(t, dir, as("rita", "assess", "--id", "as-1", "--app", "com.acme.ledger", "--version", "2.4.1", "--input", inFile)...)
	r = mustRun(t, dir, as("carol", "risk", "explain", "--id", "as-1", "--output", "json")...)
	var rec api.Assessment
	decodeJSON(t, r.stdout, &rec)
	if rec.Assessment.Score != 80 || rec.Assessment.Model != "v1.0" || rec.CreatedBy != "rita" || len(rec.Assessment.Contributions) != 8 {
		t.Fatalf("stored explain: %+v", rec)
	}
	r = mustRun(t, dir, as("carol", "risk", "explain", "--id", "as-1")...)
	if !strings.Contains(r.stdout, "privilege") || !strings.Contains(r.stdout, "cab required: yes") {
		t.Fatalf("explain text:\n%s", r.stdout)
	}
	// The offline mode still works.
	mustRun(t, dir, "risk", "explain", "--input", inFile)

	// Intent, a denied publish (exit 24), and the stored decisions.
	intent, _ := json.Marshal(api.IntentRequest{ID: "i-1", AppID: "com.acme.ledger", Version: "2.4.1", Artifact: art.SHA256, Ring: 2,
		Scope: &deploy.Scope{Acquisition: "acme", BU: "fin"}, Schedule: deploy.Schedule{NotBefore: time.Now().UTC()}, AssessmentID: "as-1"})
	intentFile := filepath.Join(dir, "intent.json")
	os.WriteFile(intentFile, intent, 0o644)
	mustRun(t, dir, as("rita", "intent", "add", "--input", intentFile)...)
	r = eucora(t, dir, as("rita", "intent", "publish", "i-1", "--output", "json")...)
	if r.code != exitDenied {
		t.Fatalf("publish without CAB: exit %d %s", r.code, r.stderr)
	}
	r = mustRun(t, dir, as("carol", "intent", "show", "i-1", "--output", "json")...)
	var view api.IntentView
	decodeJSON(t, r.stdout, &view)
	if len(view.Decisions) != 2 || view.Decisions[1].Allowed || view.Decisions[1].ModelVersion != "v1.0" || len(view.Decisions[1].Inputs) == 0 {
		t.Fatalf("intent decisions: %+v", view.Decisions)
	}
	r = mustRun(t, dir, as("carol", "decision", "show", view.Decisions[1].ID)...)
	if !strings.Contains(r.stdout, "DENIED") || !strings.Contains(r.stdout, "publish.cab.present") {
		t.Fatalf("decision show:\n%s", r.stdout)
	}
	r = mustRun(t, dir, as("carol", "approve", "--id", "cab-1", "--subject", "intent:i-1", "--requested-by", "rita", "--expires", "72h", "--output", "json")...)
	var apr deploy.ApprovalRecord
	decodeJSON(t, r.stdout, &apr)
	if apr.Approver != "carol" || apr.Decision != deploy.Approved {
		t.Fatalf("approval: %+v", apr)
	}
	// JIT elevation: allowed within policy, denied (exit 24) beyond it.
	for dur, want := range map[string]int{"1h": 0, "9h": exitDenied} {
		el, _ := json.Marshal(api.ElevationRequest{ID: "el-" + dur, Device: deploy.DevicePosture{DeviceID: "pc-1", Cohort: "fin", Managed: true,
			Compliant: true, DiskEncrypted: true, EDRHealthy: true}, DeviceScope: deploy.Scope{Acquisition: "acme"},
			App: deploy.AppClassification{AppID: "com.acme.ledger", RiskScore: 20, RiskModel: "v1.0"}, Duration: dur})
		elFile := filepath.Join(dir, "el-"+dur+".json")
		os.WriteFile(elFile, el, 0o644)
		if r := eucora(t, dir, as("pat", "elevate", "--input", elFile)...); r.code != want || (want == 0) != strings.Contains(r.stdout, "ALLOWED") {
			t.Fatalf("elevate %s: exit %d, want %d\n%s%s", dur, r.code, want, r.stdout, r.stderr)
		}
	}
	// Invalid input refused by the hub (422 naming the field) exits 21.
	r = eucora(t, dir, as("pat", "version", "add", "com.acme.ledger", "9.9")...)
	if r.code != exitCorrupt || !strings.Contains(r.stderr, "os_matrix") {
		t.Fatalf("version without OS matrix: exit %d %s", r.code, r.stderr)
	}
	// Unknown fields in a document reach the hub's strict decoder: exit 21 naming the field.
	bad := filepath.Join(dir, "bad-intent.json")
	os.WriteFile(bad, []byte(`{"id":"i-9","colour":"red"}`), 0o644)
	if r := eucora(t, dir, as("rita", "intent", "add", "--input", bad)...); r.code != exitCorrupt || !strings.Contains(r.stderr, "colour") {
		t.Fatalf("intent add with an unknown field: exit %d %s", r.code, r.stderr)
	}
	// A missing document is a usage error.
	if r := eucora(t, dir, as("rita", "intent", "add")...); r.code != exitUsage {
		t.Fatalf("intent add without --input: exit %d", r.code)
	}
}
