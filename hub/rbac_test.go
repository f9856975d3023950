package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/store"
)

// rbacWant is the RBAC matrix written out independently of Routes(): for
// each route, the roles allowed to call it, one letter per role:
// P platform-admin, K packaging-engineer, U publisher, C cab-approver,
// S security-reviewer, E endpoint-ops, A auditor.
var rbacWant = map[string]string{
	"status":         "PKUCSEA",
	"hub.key":        "PKUCSEA",
	"sites.list":     "PKUCSEA",
	"sites.get":      "PKUCSEA",
	"sites.create":   "P",
	"tokens.list":    "PA",
	"tokens.create":  "P",
	"tokens.revoke":  "P",
	"blobs.put":      "PKU",
	"blobs.get":      "PKUCSEA",
	"blobs.head":     "PKUCSEA",
	"events.list":    "PSEA",
	"events.ingest":  "PE",
	"cluster.join":   "P",
	"cluster.remove": "P",
	"backup":         "P",
	// Governance (hub/governance.go).
	"apps.create":         "KE",
	"apps.list":           "PKUCSEA",
	"apps.get":            "PKUCSEA",
	"apps.retention":      "PKUCSEA",
	"apps.scope":          "E",
	"versions.create":     "KE",
	"versions.transition": "KUC",
	"artifacts.create":    "K",
	"assessments.create":  "KU",
	"assessments.get":     "PKUCSEA",
	"approvals.create":    "C",
	"approvals.get":       "PKUCSEA",
	"exceptions.create":   "S",
	"exceptions.get":      "PKUCSEA",
	"intents.create":      "KU",
	"intents.list":        "PKUCSEA",
	"intents.get":         "PKUCSEA",
	"intents.publish":     "KU",
	"intents.promote":     "U",
	"evidence.create":     "KU",
	"evidence.get":        "PKUCSEA",
	"decisions.list":      "PKUCSEA",
	"decisions.get":       "PKUCSEA",
	"elevations.create":   "KE",
	// Site sync (hub/sitesync.go).
	"sites.enroll":          "P",
	"sites.assign":          "P",
	"sites.export":          "PE",
	"sites.export.get":      "PE",
	"sites.export.manifest": "PE",
	"sites.export.object":   "PE",
	"sites.export.volume":   "PE",
	"sites.import":          "PE",
	"sites.import.refusal":  "PE",
	"sites.sync":            "PSEA",
	"hub.key.stage":         "P",
	"hub.key.switch":        "P",
	// Planes (hub/planes.go).
	"planes.create": "P",
	"planes.list":   "P",
	"planes.check":  "P",
	// The packaging factory (hub/factory.go).
	"codesign-roots.create": "PS",
	"codesign-roots.list":   "PKUCSEA",
	"signing-keys.list":     "PKUCSEA",
	"vuln-feeds.import":     "PS",
	"vuln-feeds.current":    "PKUCSEA",
	"packages.add":          "K",
	"packages.get":          "PKUCSEA",
	// Rollouts (hub/rollouts.go).
	"planes.rings.set":   "P",
	"planes.rings.list":  "P",
	"rollouts.list":      "PKUCSEA",
	"rollouts.get":       "PKUCSEA",
	"rollouts.pause":     "UCE",
	"rollouts.resume":    "UE",
	"rollouts.rollback":  "UE",
	"rollouts.policy":    "U",
	"rollouts.promote":   "U",
	"rollouts.reconcile": "UE",
	"incidents.create":   "SE",
	"incidents.list":     "PKUCSEA",
	"drift.list":         "PKUCSEA",
	"drift.policy.get":   "PKUCSEA",
	"drift.policy.set":   "P",
}

var roleLetter = map[deploy.Role]string{
	deploy.RolePlatformAdmin: "P", deploy.RolePackagingEngineer: "K", deploy.RolePublisher: "U",
	deploy.RoleCABApprover: "C", deploy.RoleSecurityReviewer: "S", deploy.RoleEndpointOps: "E", deploy.RoleAuditor: "A",
}

func TestRBACMatrix(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	if _, err := ac.CreateSite(ctx, api.SiteRequest{Name: "berlin", Class: "online"}); err != nil {
		t.Fatal(err)
	}
	blob := []byte("rbac blob")
	sum := sha256.Sum256(blob)
	bhex := hex.EncodeToString(sum[:])
	if err := ac.PutBlob(ctx, bhex, bytes.NewReader(blob), int64(len(blob))); err != nil {
		t.Fatal(err)
	}
	tokens := map[deploy.Role]string{}
	for _, r := range deploy.Roles {
		nt, err := ac.CreateToken(ctx, api.TokenRequest{Name: "t-" + string(r), Role: r})
		if err != nil {
			t.Fatal(err)
		}
		tokens[r] = nt.Token
	}
	routes := Routes()
	seen := map[string]bool{}
	seq := 0
	for _, rt := range routes {
		if rt.Roles == nil {
			continue
		}
		seen[rt.Name] = true
		want, ok := rbacWant[rt.Name]
		if !ok {
			t.Errorf("route %s is missing from the RBAC matrix", rt.Name)
			continue
		}
		if rt.Write && strings.Contains(want, "A") {
			t.Errorf("auditor may write through %s", rt.Name)
		}
		for _, role := range append([]deploy.Role{""}, deploy.Roles...) {
			seq++
			method, path, body := rbacRequest(t, ac, rt, bhex, blob, seq)
			req, _ := http.NewRequestWithContext(ctx, method, n.url()+path, body)
			if role != "" {
				req.Header.Set("Authorization", "Bearer "+tokens[role])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := resp.StatusCode
			switch {
			case role == "":
				if got != http.StatusUnauthorized {
					t.Errorf("%s without token: %d, want 401", rt.Name, got)
				}
			case strings.Contains(want, roleLetter[role]):
				if got == 401 || got == 403 || got >= 500 {
					t.Errorf("%s as %s: %d %s, want allowed", rt.Name, role, got, msg)
				}
			default:
				if got != http.StatusForbidden {
					t.Errorf("%s as %s: %d, want 403", rt.Name, role, got)
				} else if !strings.Contains(string(msg), "may not") {
					t.Errorf("%s as %s: 403 without a reason: %s", rt.Name, role, msg)
				}
			}
		}
	}
	for name := range rbacWant {
		if !seen[name] {
			t.Errorf("matrix lists %s, which is not a route", name)
		}
	}
	// Denied requests wrote nothing but their audit events.
	sites, _ := n.srv.Store().State().Sites()
	for _, s := range sites {
		if strings.HasPrefix(s.Name, "rbac-") {
			if s.CreatedBy != "token:t-platform-admin/"+tokenID(t, n, "t-platform-admin") {
				t.Errorf("site %s created by %s", s.Name, s.CreatedBy)
			}
		}
	}
	evs, _ := n.srv.Store().State().Events(0, 100000)
	denied := 0
	for _, e := range evs {
		if e.Outcome == "denied" {
			denied++
		}
	}
	if denied == 0 {
		t.Error("no denied events recorded")
	}
}

func tokenID(t *testing.T, n *testNode, name string) string {
	toks, _ := n.srv.Store().State().Tokens()
	for _, tk := range toks {
		if tk.Name == name {
			return tk.ID
		}
	}
	t.Fatalf("no token %s", name)
	return ""
}

// rbacRequest builds a request for rt that an allowed caller completes
// without a 5xx.
func rbacRequest(t *testing.T, ac *client.Client, rt Route, bhex string, blob []byte, seq int) (string, string, io.Reader) {
	t.Helper()
	js := func(s string) io.Reader { return strings.NewReader(s) }
	switch rt.Name {
	case "sites.get":
		return "GET", "/v1/sites/berlin", nil
	case "sites.create":
		return "POST", "/v1/sites", js(fmt.Sprintf(`{"name":"rbac-%d","class":"online"}`, seq))
	case "planes.create":
		return "POST", "/v1/planes", js(fmt.Sprintf(`{"name":"rbac-%d","kind":"awx","url":"http://127.0.0.1:9","credentials":"e30="}`, seq))
	case "planes.check":
		return "POST", "/v1/planes/none:check", nil
	case "tokens.create":
		return "POST", "/v1/tokens", js(fmt.Sprintf(`{"name":"rbac-%d","role":"auditor"}`, seq))
	case "tokens.revoke":
		nt, err := ac.CreateToken(context.Background(), api.TokenRequest{Name: fmt.Sprintf("victim-%d", seq), Role: deploy.RoleAuditor})
		if err != nil {
			t.Fatal(err)
		}
		return "DELETE", "/v1/tokens/" + nt.ID, nil
	case "blobs.put":
		return "PUT", "/v1/blobs/sha256/" + bhex, bytes.NewReader(blob)
	case "blobs.get", "blobs.head":
		return rt.Method, "/v1/blobs/sha256/" + bhex, nil
	case "events.ingest":
		return "POST", "/v1/events:batch", js(fmt.Sprintf(`{"origin":"berlin","events":[{"sequence":%d,"time":"2026-11-28T12:00:00Z","action":"x","outcome":"ok"}]}`, seq))
	case "cluster.join":
		return "POST", "/v1/cluster/join", js(`{"node_id":"BAD ID","raft_addr":"x","http_addr":"y"}`) // 422 once allowed
	case "cluster.remove":
		return "DELETE", "/v1/cluster/nodes/nosuchnode", nil
	// Governance: an allowed caller gets 404 (no such record) or 422
	// (invalid body) without touching state; the policy rules behind the
	// route table are exercised by governance_test.go.
	case "apps.get", "apps.retention":
		return "GET", strings.Replace(rt.Pattern, "{app}", "no.such.app", 1), nil
	case "assessments.get", "approvals.get", "exceptions.get", "intents.get", "decisions.get":
		return "GET", strings.Replace(rt.Pattern, "{id}", "nosuch", 1), nil
	case "evidence.get":
		return "GET", "/v1/evidence/sha256:" + strings.Repeat("0", 64), nil
	case "versions.create", "apps.create", "assessments.create", "approvals.create", "exceptions.create",
		"intents.create", "evidence.create", "elevations.create":
		return "POST", strings.Replace(rt.Pattern, "{app}", "no.such.app", 1), js(`{}`)
	case "versions.transition":
		return "POST", "/v1/apps/no.such.app/versions/1.0:transition", js(`{"to":"packaged"}`)
	case "artifacts.create":
		return "POST", "/v1/apps/no.such.app/versions/1.0/artifacts", js(`{}`)
	case "intents.publish":
		return "POST", "/v1/intents/nosuch:publish", js(`{}`)
	case "apps.scope":
		return "POST", "/v1/apps/no.such.app:scope", js(`{"scope":{"acquisition":"acme"}}`)
	case "intents.promote":
		return "POST", "/v1/intents/nosuch:promote", js(`{}`)
	case "planes.rings.set":
		return "PUT", "/v1/planes/none/rings/1", js(`{"targets":[{"id":"g"}]}`)
	case "planes.rings.list":
		return "GET", "/v1/planes/none/rings", nil
	case "rollouts.get":
		return "GET", "/v1/rollouts/nosuch", nil
	case "rollouts.pause", "rollouts.resume", "rollouts.rollback", "rollouts.policy", "rollouts.promote", "rollouts.reconcile":
		return "POST", strings.Replace(rt.Pattern, "{intent}", "nosuch", 1), js(`{}`)
	case "incidents.create":
		return "POST", "/v1/incidents", js(`{"app_id":"no.such.app","severity":"low","summary":"x"}`)
	case "drift.policy.set":
		return "PUT", "/v1/drift/policy", js(`{"phase":9,"rules":[]}`)
	}
	return rt.Method, rt.Pattern, nil
}

func TestScopedTokens(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	for _, s := range []api.SiteRequest{
		{Name: "acme-1", Class: "online", Scope: deploy.Scope{Acquisition: "acme"}},
		{Name: "globex-1", Class: "online", Scope: deploy.Scope{Acquisition: "globex"}},
	} {
		if _, err := ac.CreateSite(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	nt, err := ac.CreateToken(ctx, api.TokenRequest{Name: "acme-admin", Role: deploy.RolePlatformAdmin, Scope: deploy.Scope{Acquisition: "acme"}})
	if err != nil {
		t.Fatal(err)
	}
	sc := cli(n, nt.Token)
	sites, err := sc.Sites(ctx)
	if err != nil || len(sites) != 1 || sites[0].Name != "acme-1" {
		t.Fatalf("scoped list: %+v %v", sites, err)
	}
	if _, err := sc.Site(ctx, "globex-1"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("out-of-scope get: %v", err)
	}
	before, _ := n.srv.Store().State().Sites()
	_, err = sc.CreateSite(ctx, api.SiteRequest{Name: "globex-2", Class: "online", Scope: deploy.Scope{Acquisition: "globex"}})
	if err == nil || !strings.Contains(err.Error(), "outside this token's scope") {
		t.Fatalf("out-of-scope create: %v", err)
	}
	if _, err := sc.CreateToken(ctx, api.TokenRequest{Name: "escalate", Role: deploy.RolePlatformAdmin}); err == nil {
		t.Fatal("scoped admin minted an enterprise token")
	}
	if _, err := sc.Events(ctx, "", 10); err == nil {
		t.Fatal("scoped token read the whole event log")
	}
	after, _ := n.srv.Store().State().Sites()
	if len(after) != len(before) {
		t.Fatal("a denied request changed state")
	}
	// Revoked tokens stop working at once.
	if err := ac.RevokeToken(ctx, nt.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Sites(ctx); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked token: %v", err)
	}
	evs, _ := n.srv.Store().State().Events(0, 1000)
	var denied []store.Event
	for _, e := range evs {
		if e.Outcome == "denied" {
			denied = append(denied, e)
		}
	}
	if len(denied) < 4 {
		t.Fatalf("denied events: %+v", denied)
	}
}

func TestBadInput(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	cases := []struct {
		method, path, body string
		want               int
		mention            string
	}{
		{"POST", "/v1/sites", `{"name":"a","class":"online","colour":"red"}`, 400, "colour"},
		{"POST", "/v1/sites", `{"name":"a","class":`, 400, "malformed"},
		{"POST", "/v1/sites", `{"name":"a","class":"online"} {}`, 400, "trailing"},
		{"POST", "/v1/sites", `{"name":"A B","class":"online"}`, 422, "name"},
		{"POST", "/v1/sites", `{"name":"a","class":"sometimes"}`, 422, "class"},
		{"POST", "/v1/sites", `{"name":"a","class":"online","scope":{"bu":"x"}}`, 422, "scope.bu"},
		{"POST", "/v1/sites", `{"name":1,"class":"online"}`, 400, "name"},
		{"POST", "/v1/sites", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "larger"},
		{"POST", "/v1/tokens", `{"name":"x","role":"king"}`, 422, "role"},
		{"POST", "/v1/tokens", `{"name":"x","role":"auditor","role":"platform-admin"}`, 400, "role: duplicate key"},
		{"POST", "/v1/tokens", `{"name":"x","Role":"platform-admin"}`, 400, "Role: unknown field (keys are case-sensitive"},
		{"POST", "/v1/tokens", `{"name":"x","role":"auditor","ROLE":"platform-admin"}`, 400, "ROLE"},
		{"POST", "/v1/tokens", `{"name":"x","role":"auditor","scope":{"acquisition":"a","Acquisition":"b"}}`, 400, "scope.Acquisition"},
		{"POST", "/v1/sites", `{"name":"a","Name":"b","class":"online"}`, 400, "Name"},
		{"POST", "/v1/sites", `{"name":"a","class":"online","name":"b"}`, 400, "name: duplicate key"},
		{"POST", "/v1/cluster/join", `{"node_id":"n2","Node_ID":"n3","raft_addr":"h:1","http_addr":"http://h:2"}`, 400, "Node_ID"},
		{"POST", "/v1/events:batch", `{"origin":"x","origin":"y","events":[]}`, 400, "origin: duplicate key"},
		{"POST", "/v1/events:batch", `{"origin":"x","events":[{"Sequence":1}]}`, 400, "events[].Sequence"},
		{"POST", "/v1/events:batch", `{"origin":"nowhere","events":[{"sequence":1,"time":"2026-11-28T12:00:00Z","action":"x","outcome":"ok"}]}`, 422, "origin"},
		{"POST", "/v1/events:batch", `{"origin":"x","events":[{"sequence":0,"time":"2026-11-28T12:00:00Z","action":"x","outcome":"ok"}]}`, 422, "events[0].sequence"},
		{"GET", "/v1/events?after=abc", "", 400, "after"},
		{"GET", "/v1/blobs/sha256/xyz", "", 400, "digest"},
	}
	before := dump(t, n)
	for _, c := range cases {
		resp, err := cli(n, admin).Raw(ctx, c.method, c.path, strings.NewReader(c.body), nil)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s %s %.40s: accepted", c.method, c.path, c.body)
			continue
		}
		ae, ok := err.(*client.APIError)
		if !ok || ae.Status != c.want || !strings.Contains(ae.Message, c.mention) {
			t.Errorf("%s %s %.40s: %v, want %d mentioning %q", c.method, c.path, c.body, err, c.want, c.mention)
		}
	}
	if dump(t, n) != before {
		t.Error("bad input changed state")
	}
}

func dump(t *testing.T, n *testNode) string {
	sites, _ := n.srv.Store().State().Sites()
	toks, _ := n.srv.Store().State().Tokens()
	return fmt.Sprint(sites, toks)
}
