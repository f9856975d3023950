package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

// TestRolloutE2E runs the real binaries: `eucora sim serve` simulating
// Intune with 500 devices that check in every 1-2 s, `eucora hub serve`
// with its orchestrator, and the CLI. A Windows app goes through Rings
// 0-4 on its own; the next version's failure rate is raised through the
// simulator's fleet endpoint once Ring 1 passed, its Ring 2 gate fails
// and pauses the rollout, and endpoint ops roll it back with `eucora
// rollout rollback`. `rollout status` shows the planes' numbers
// throughout.
func TestRolloutE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: real processes and device check-ins")
	}
	tmp := t.TempDir()
	simAddr := freeAddr(t)
	sim := startProc(t, "sim", "serve", "--plane", "intune", "--listen", simAddr, "--fleet-size", "500", "--fleet-seed", "7",
		"--fleet-check-in", "1s-2s", "--output", "json")
	var started struct {
		URL         string `json:"url"`
		Credentials struct {
			Tenant       string `json:"tenant"`
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		} `json:"credentials"`
		Fleet struct {
			Devices  int    `json:"devices"`
			AdminURL string `json:"admin_url"`
		} `json:"fleet"`
	}
	waitFor(t, "the simulator", 30*time.Second, func() bool {
		return json.NewDecoder(strings.NewReader(sim.out.String())).Decode(&started) == nil && started.URL != ""
	})
	if started.Fleet.Devices != 500 {
		t.Fatalf("simulator: %+v", started)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	hubURL, tokens := startHubWithPeople(t, ctx, tmp)
	as := hubArgsAs(hubURL, tokens)

	// The platform admin registers the plane and each ring's Entra group.
	creds := filepath.Join(tmp, "intune.json")
	c := started.Credentials
	os.WriteFile(creds, must(json.Marshal(map[string]string{"tenant": c.Tenant, "client_id": c.ClientID, "client_secret": c.ClientSecret, "login_url": started.URL})), 0o600)
	mustRun(t, tmp, as("admin", "plane", "add", "intune-corp", "--kind", "intune", "--url", started.URL, "--credentials", creds)...)
	for ring := 0; ring <= 4; ring++ {
		mustRun(t, tmp, as("admin", "plane", "ring", "set", "intune-corp", fmt.Sprint(ring), "--group", fmt.Sprintf("ring-%d", ring))...)
	}
	r := mustRun(t, tmp, as("admin", "plane", "ring", "list", "intune-corp")...)
	if !strings.Contains(r.stdout, "ring-4") {
		t.Fatalf("plane ring list:\n%s", r.stdout)
	}

	pat, carol := client.New(hubURL, tokens["pat"]), client.New(hubURL, tokens["carol"])
	if _, err := pat.CreateApp(ctx, api.AppRequest{ID: "com.acme.ledger", Name: "Ledger", Owner: "fin-apps", Category: "finance",
		SupportTier: "tier-1", LicensingModel: "per-device", AllowedScope: deploy.Scope{Acquisition: "acme"}, LOB: true}); err != nil {
		t.Fatal(err)
	}
	stage := func(version string) string {
		t.Helper()
		return stageMSI(t, ctx, pat, carol, "com.acme.ledger", version, deploy.Scope{Acquisition: "acme"})
	}
	status := func(who, arg string) []api.Rollout {
		t.Helper()
		var out struct {
			Rollouts []api.Rollout `json:"rollouts"`
		}
		decodeJSON(t, mustRun(t, tmp, as(who, "rollout", "status", arg, "--output", "json")...).stdout, &out)
		return out.Rollouts
	}
	byIntent := func(rs []api.Rollout, id string) api.Rollout {
		for _, r := range rs {
			if r.IntentID == id {
				return r
			}
		}
		return api.Rollout{}
	}

	first := stage("1.0")
	waitFor(t, "1.0 through Ring 4", 3*time.Minute, func() bool {
		return byIntent(status("eve", "com.acme.ledger"), first+"-r4").State == "completed"
	})
	total := 0
	for _, ro := range status("carol", "com.acme.ledger") {
		m := ro.Telemetry.Measure
		if ro.Version != "1.0" {
			continue
		}
		total += m.Targeted
		if m.Installed != m.Targeted || m.Targeted == 0 || ro.Gate == nil || ro.Gate.Decision == "" {
			t.Errorf("%s: %+v gate %+v", ro.IntentID, m, ro.Gate)
		}
	}
	if total != 500 {
		t.Fatalf("1.0 reached %d devices over the five rings, want all 500", total)
	}
	text := mustRun(t, tmp, as("carol", "rollout", "status", "com.acme.ledger")...).stdout
	for _, want := range []string{"completed", "promoted", "intune-corp", "100.0%"} {
		if !strings.Contains(text, want) {
			t.Fatalf("rollout status does not show %q:\n%s", want, text)
		}
	}

	// 1.1: once Ring 1 passed, 30% of the devices that check in fail it.
	second := stage("1.1")
	r1, r2 := second+"-r1", second+"-r2"
	waitFor(t, "1.1 Ring 1 passes", 2*time.Minute, func() bool {
		g := byIntent(status("eve", second), r1).Gate
		st := byIntent(status("eve", r1), r1)
		return (g != nil && g.Verdict == "pass") || st.State == "promoting" || st.State == "promoted"
	})
	resp, err := http.Post(started.Fleet.AdminURL+"/failure-rate", "application/json", strings.NewReader(`{"app":"com.acme.ledger","version":"1.1","rate":0.3}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("raising the failure rate: %v %v", err, resp)
	}
	resp.Body.Close()
	waitFor(t, "1.1 Ring 2 paused on its gate", 2*time.Minute, func() bool { return byIntent(status("eve", r2), r2).State == "paused" })
	ro := byIntent(status("eve", r2), r2)
	if ro.Gate == nil || ro.Gate.Verdict != "fail" || !strings.Contains(strings.Join(ro.Gate.Failing, " "), "install-success") {
		t.Fatalf("ring 2 gate: %+v", ro.Gate)
	}
	if rs := status("eve", second+"-r3"); len(rs) != 0 && rs[0].IntentID == second+"-r3" {
		t.Fatalf("a failed Ring 2 was promoted: %+v", rs)
	}
	text = mustRun(t, tmp, as("eve", "rollout", "status", r2)...).stdout
	if !strings.Contains(text, "fails: promotion.install-success") {
		t.Fatalf("rollout status of the failed ring:\n%s", text)
	}
	mustRun(t, tmp, as("eve", "incident", "add", "--app", "com.acme.ledger", "--version", "1.1", "--severity", "medium", "--summary", "installer 0x80070643 on Pilot devices")...)
	mustRun(t, tmp, as("eve", "rollout", "rollback", r2, "--reason", "30% install failures in Pilot")...)
	waitFor(t, "1.1 Ring 2 rolled back", time.Minute, func() bool { return byIntent(status("eve", r2), r2).State == "rolled-back" })
	ro = byIntent(status("eve", r2), r2)
	if !strings.Contains(ro.RollbackAction, "back to com.acme.ledger@1.0") {
		t.Fatalf("rollback action: %q", ro.RollbackAction)
	}
	r = mustRun(t, tmp, as("carol", "incident", "list")...)
	if !strings.Contains(r.stdout, "0x80070643") {
		t.Fatalf("incident list:\n%s", r.stdout)
	}
	// Refusals change nothing and say why.
	if r := eucora(t, tmp, as("carol", "rollout", "rollback", r2, "--reason", "again")...); r.code == 0 || !strings.Contains(r.stderr, "403") {
		t.Fatalf("CAB approver rollback: exit %d %s", r.code, r.stderr)
	}
	if r := eucora(t, tmp, as("eve", "rollout", "pause", "no-such-intent", "--reason", "x")...); r.code == 0 || !strings.Contains(r.stderr, "no-such-intent") {
		t.Fatalf("pause of an unknown intent: exit %d %s", r.code, r.stderr)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// startHubWithPeople starts 'eucora hub serve' in TMP/hub with a fast
// orchestrator and makes the rollout tests' people: pat (packaging
// engineer, acquisition acme), carol (CAB approver) and eve (endpoint ops,
// acme). It returns the hub's URL and each person's token, the platform
// admin's as "admin".
func startHubWithPeople(t *testing.T, ctx context.Context, tmp string) (string, map[string]string) {
	t.Helper()
	hubData := filepath.Join(tmp, "hub")
	httpAddr := freeAddr(t)
	hubURL := "http://" + httpAddr
	startProc(t, "hub", "serve", "--data", hubData, "--http", httpAddr, "--raft", freeAddr(t), "--rollout-interval", "200ms", "--reconcile-interval", "2s")
	waitFor(t, "the hub", 60*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(hubData, "bootstrap.token"))
		return err == nil && httpOK(hubURL+"/readyz")
	})
	adminTok := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(hubData, "bootstrap.token")))))
	ac := client.New(hubURL, adminTok)
	tokens := map[string]string{"admin": adminTok}
	for _, u := range []struct {
		name  string
		role  deploy.Role
		scope deploy.Scope
	}{
		{"pat", deploy.RolePackagingEngineer, deploy.Scope{Acquisition: "acme"}},
		{"carol", deploy.RoleCABApprover, deploy.Scope{}},
		{"eve", deploy.RoleEndpointOps, deploy.Scope{Acquisition: "acme"}},
	} {
		nt, err := ac.CreateToken(ctx, api.TokenRequest{Name: u.name, Role: u.role, Scope: u.scope})
		if err != nil {
			t.Fatal(err)
		}
		tokens[u.name] = nt.Token
	}
	return hubURL, tokens
}

// hubArgsAs appends to a command line what reaches the hub as who.
func hubArgsAs(hubURL string, tokens map[string]string) func(who string, args ...string) []string {
	return func(who string, args ...string) []string {
		return append(args, "--hub", hubURL, "--token", tokens[who])
	}
}
