package hub

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

// An anonymous bad-token flood uses up the anonymous denial budget, but
// every denial of an authenticated insider is still audited: one by one
// within the caller's budget, the rest in aggregate events with counts.
func TestAnonymousFloodDoesNotHideInsiderDenials(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "site-b", Class: "online", Scope: deploy.Scope{Acquisition: "acme", BU: "b"}}))
	tok, err := ac.CreateToken(ctx, api.TokenRequest{Name: "insider", Role: deploy.RolePlatformAdmin, Scope: deploy.Scope{Acquisition: "acme", BU: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	insider := "token:insider/" + tok.ID

	const flood = 3 * DeniedEventsPerSecond * 2
	for i := 0; i < flood; i++ {
		if st, _ := do(t, "GET", n.url()+"/v1/sites", []string{"Bearer euc_guess" + strconv.Itoa(i)}, ""); st != 401 {
			t.Fatalf("bad token: %d", st)
		}
	}
	const attempts = 3 * ActorDeniedEventsPerSecond * 2
	for i := 0; i < attempts; i++ {
		body := `{"name":"b-` + strconv.Itoa(i) + `","class":"online","scope":{"acquisition":"acme","bu":"b"}}`
		if st, _ := do(t, "POST", n.url()+"/v1/sites", []string{"Bearer " + tok.Token}, body); st != 403 {
			t.Fatalf("out-of-scope create: %d", st)
		}
	}
	n.srv.flushDenials()
	count := regexp.MustCompile(`count=(\d+)`)
	var single, folded, anonymous int
	eventually(t, "every insider denial audited", func() bool {
		single, folded, anonymous = 0, 0, 0
		evs, _ := n.srv.Store().State().Events(0, 100000)
		for _, e := range evs {
			switch {
			case e.Actor == "anonymous" && e.Outcome == "denied":
				anonymous++
			case e.Actor != insider || e.Outcome != "denied":
			case e.Action == "denied.aggregate":
				m := count.FindStringSubmatch(e.Reason)
				if m == nil || !strings.Contains(e.Reason, "sites.create") {
					t.Fatalf("aggregate event without a count or the denied action: %+v", e)
				}
				c, _ := strconv.Atoi(m[1])
				folded += c
			case e.Action == "sites.create":
				single++
			}
		}
		return single+folded == attempts
	})
	if anonymous >= flood {
		t.Errorf("all %d anonymous denials recorded: the flood was not sampled", anonymous)
	}
	if single < 1 || single > attempts {
		t.Errorf("%d insider denials recorded one by one", single)
	}
	t.Logf("anonymous: %d of %d recorded; insider: %d single + %d aggregated of %d", anonymous, flood, single, folded, attempts)
}
