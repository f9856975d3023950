package hub

import (
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/signing"
)

// A scoped token gets the same answer for a record outside its scope as
// for one that does not exist, so it cannot probe which names exist; the
// out-of-scope attempt (reads included) is audited as a denial.
func TestOutOfScopeLooksLikeMissingAndIsAudited(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	key, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	acme := deploy.Scope{Acquisition: "acme", BU: "a"}
	other := deploy.Scope{Acquisition: "acme", BU: "b"}
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "site-a", Class: "online", Scope: acme}))
	// Enrolled, so a check made before scope would answer differently.
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "site-b", Class: "online", Scope: other,
		EdgeKeyPEM: string(signing.EncodePublic(key.Public()))}))
	scoped := must[api.Token](t, "token")(ac.CreateToken(ctx, api.TokenRequest{Name: "ops-a", Role: deploy.RolePlatformAdmin, Scope: acme}))
	otherTok := must[api.Token](t, "token")(ac.CreateToken(ctx, api.TokenRequest{Name: "ops-b", Role: deploy.RoleAuditor, Scope: other}))
	auth := []string{"Bearer " + scoped.Token}
	pem := strings.ReplaceAll(string(signing.EncodePublic(key.Public())), "\n", `\n`)

	cases := []struct {
		method, path, body string // NAME is replaced by the record's name
		status             int
	}{
		{"GET", "/v1/sites/NAME", "", 404},
		{"GET", "/v1/sites/NAME/sync", "", 404},
		{"GET", "/v1/sites/NAME/exports/1", "", 404},
		{"GET", "/v1/sites/NAME/exports/1/manifest", "", 404},
		{"POST", "/v1/sites/NAME/exports", `{}`, 404},
		{"PUT", "/v1/sites/NAME/edge-key", `{"public_key_pem":"` + pem + `"}`, 404},
		{"PUT", "/v1/sites/NAME/apt", `{"publications":[]}`, 404},
		{"POST", "/v1/sites/NAME/imports", `{"envelope":"e30=","records":{}}`, 404},
		{"POST", "/v1/events:batch", `{"origin":"NAME","events":[{"sequence":1,"time":"2026-11-28T12:00:00Z","action":"x","outcome":"ok"}]}`, 422},
		{"DELETE", "/v1/tokens/NAME", "", 404},
	}
	for _, c := range cases {
		outside, missing := "site-b", "site-zz"
		if strings.HasPrefix(c.path, "/v1/tokens/") {
			outside, missing = otherTok.ID, "01NOSUCHTOKEN0000000000000"
		}
		try := func(name string) (int, string) {
			st, body := do(t, c.method, n.url()+strings.ReplaceAll(c.path, "NAME", name), auth, strings.ReplaceAll(c.body, "NAME", name))
			return st, strings.ReplaceAll(body, name, "NAME")
		}
		before, _ := n.srv.Store().State().LastCursor()
		stOut, bodyOut := try(outside)
		ev := lastEvent(t, n)
		after, _ := n.srv.Store().State().LastCursor()
		stMiss, bodyMiss := try(missing)
		if stOut != c.status || stOut != stMiss || bodyOut != bodyMiss {
			t.Errorf("%s %s: outside the scope %d %s; missing %d %s; want both %d, same words", c.method, c.path, stOut, bodyOut, stMiss, bodyMiss, c.status)
		}
		if after == before || ev.Outcome != "denied" || ev.Actor != "token:ops-a/"+scoped.ID || !strings.Contains(ev.Reason, "outside this token's scope") {
			t.Errorf("%s %s outside the scope: newest event %+v, want a denial of ops-a", c.method, c.path, ev)
		}
	}
	// Within the scope the same token still works.
	if st, body := do(t, "GET", n.url()+"/v1/sites/site-a", auth, ""); st != 200 {
		t.Fatalf("in-scope read: %d %s", st, body)
	}
}
