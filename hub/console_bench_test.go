package hub

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/ui"
)

// BenchmarkConsoleSites500 renders the Sites view of a hub with 500 sites
// (made through the API, so by the real store commands: a third each
// online, intermittent and air-gapped, each with an enrolled-edge-free
// sync state) and reports the server time of one page: the request
// through the node's own handler (session, RBAC, linearizable read, every
// site's sync status, sort, plot, template), no network. Target: under
// 200 ms (docs/console.md). Run: make bench-console.
func BenchmarkConsoleSites500(b *testing.B) {
	nodes, admin := makeCluster(b, 1, clusterOpts{})
	n := nodes[0]
	ctx := context.Background()
	classes := []string{api.ClassOnline, api.ClassIntermittent, api.ClassAirGapped}
	for i := range 500 {
		s := api.SiteRequest{Name: fmt.Sprintf("site-%03d", i), Class: classes[i%3], Scope: deploy.Scope{Acquisition: "acme", BU: fmt.Sprintf("bu%d", i%10), Site: fmt.Sprintf("site-%03d", i)}}
		if _, err := cli(n, admin).CreateSite(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	// Log in once through the form.
	c := newConsoleClient(b, n.url())
	c.login(admin)
	u, _ := url.Parse(n.url() + "/ui/sites")
	var cookie *http.Cookie
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == ui.SessionCookie {
			cookie = ck
		}
	}
	if cookie == nil {
		b.Fatal("no session cookie after login")
	}
	for _, path := range []string{"/ui/sites", "/ui/sites?sort=staleness&dir=desc"} {
		b.Run(strings.TrimPrefix(path, "/ui/"), func(b *testing.B) {
			var size int
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				n.srv.mux.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "500 of 500 sites") {
					b.Fatalf("GET %s: %d", path, rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
