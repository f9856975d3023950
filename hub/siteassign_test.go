package hub

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// publishOn mirrors a one-package upstream into the node's data directory
// and publishes its snapshot as each PREFIX:DIST of pubs.
func publishOn(t *testing.T, n *testNode, pubs ...string) {
	t.Helper()
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "hello", Version: "1.0"})
	u.Index(mirrortest.IndexOpts{Signer: g})
	up := mirrortest.NewFaultServer(t, u.Dir)
	d := datadir.Dir{Root: n.dir}
	st, err := cas.Open(d.CAS())
	if err != nil {
		t.Fatal(err)
	}
	repo, err := mirror.OpenRepo(d.Mirror(), st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := repo.CreateMirror(&mirror.Mirror{Name: "up", URL: up.URL, Dist: "test"}, g.Pub); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Sync(ctx, "up", mirror.SyncOptions{Fetcher: &mirror.Fetcher{IdleTimeout: 10 * time.Second, Retries: -1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateSnapshot("up", "s1"); err != nil {
		t.Fatal(err)
	}
	k, err := mirror.GenerateKey(t.TempDir(), "corp", "EUCORA test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := mirror.LoadSigner(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pubs {
		prefix, dist, _ := strings.Cut(p, ":")
		if _, err := repo.Publish(ctx, "s1", mirror.PublishOptions{Prefix: prefix, Dist: dist, Signer: signer, NoTree: true}); err != nil {
			t.Fatal(err)
		}
	}
}

func apt(specs ...string) []api.APTAssignment {
	out := []api.APTAssignment{}
	for _, s := range specs {
		prefix, dist, _ := strings.Cut(s, ":")
		out = append(out, api.APTAssignment{Prefix: prefix, Dist: dist})
	}
	return out
}

func aptString(as []api.APTAssignment) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, a.Prefix+":"+a.Dist)
	}
	return strings.Join(parts, " ")
}

// TestSiteAssignChecksPublications: an assignment naming a publication the
// hub does not publish is refused (422, code unknown_publication) with the
// publications that exist, and changes nothing; an accepted one says what
// it replaced, added and removed.
func TestSiteAssignChecksPublications(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	scope := deploy.Scope{Acquisition: "acme", BU: "ops", Site: "plant-7"}
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "plant-7", Class: api.ClassAirGapped, Scope: scope}))
	must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: "plant-8", Class: api.ClassAirGapped,
		Scope: deploy.Scope{Acquisition: "acme", BU: "ops", Site: "plant-8"}}))

	refused := func(pubs []api.APTAssignment, says ...string) {
		t.Helper()
		before := must[api.Site](t, "site")(ac.Site(ctx, "plant-7"))
		cur, _ := n.srv.Store().State().LastCursor()
		_, err := ac.AssignAPT(ctx, "plant-7", pubs)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 422 || ae.Code != "unknown_publication" {
			t.Fatalf("assign %s: %v, want 422 unknown_publication", aptString(pubs), err)
		}
		for _, s := range says {
			if !strings.Contains(ae.Message, s) {
				t.Errorf("refusal %q does not say %q", ae.Message, s)
			}
		}
		after := must[api.Site](t, "site")(ac.Site(ctx, "plant-7"))
		if aptString(after.APT) != aptString(before.APT) {
			t.Errorf("a refused assignment changed the site's list from %q to %q", aptString(before.APT), aptString(after.APT))
		}
		if now, _ := n.srv.Store().State().LastCursor(); now != cur {
			t.Error("a refused assignment wrote an event")
		}
	}
	assigned := func(pubs []api.APTAssignment, before, added, removed string) {
		t.Helper()
		res := must[api.AssignResult](t, "assign")(ac.AssignAPT(ctx, "plant-7", pubs))
		if res.Name != "plant-7" || aptString(res.APT) != aptString(pubs) || aptString(res.Before) != before ||
			aptString(res.Added) != added || aptString(res.Removed) != removed || res.Before == nil || res.Added == nil || res.Removed == nil {
			t.Fatalf("assign %s: %+v; want before %q, added %q, removed %q", aptString(pubs), res, before, added, removed)
		}
	}

	// Nothing published yet.
	refused(apt("corp:test"), "publication corp:test is not published on this hub node (the leader, which builds the exports; published here: none)", "site plant-7 is unchanged", "eucora mirror apt publish")

	publishOn(t, n, "corp:test", "corp:stable", "debian:bookworm")
	assigned(apt("corp:test"), "", "corp:test", "")
	refused(apt("corp:tset"), "publication corp:tset is not", "published here: corp:stable, corp:test, debian:bookworm)")
	refused(apt("corp:test", "ubuntu:jammy", "corp:sid"), "publications ubuntu:jammy, corp:sid are not published")
	refused(apt("debian:test"), "debian:test") // a dist of another prefix
	assigned(apt("debian:bookworm"), "corp:test", "debian:bookworm", "corp:test")
	assigned(apt("debian:bookworm", "corp:stable"), "debian:bookworm", "corp:stable", "")
	assigned(apt("debian:bookworm", "corp:stable"), "debian:bookworm corp:stable", "", "")
	assigned(nil, "debian:bookworm corp:stable", "", "debian:bookworm corp:stable")

	// Scope is judged first: a token for another site learns nothing of
	// the publications (the same 404 as for a site that does not exist).
	tok := must[api.Token](t, "token")(ac.CreateToken(ctx, api.TokenRequest{Name: "ops-8", Role: deploy.RolePlatformAdmin,
		Scope: deploy.Scope{Acquisition: "acme", BU: "ops", Site: "plant-8"}}))
	_, err := cli(n, tok.Token).AssignAPT(ctx, "plant-7", apt("corp:tset"))
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("out-of-scope assignment of an unknown publication: %v, want 404", err)
	}
	if _, err := cli(n, tok.Token).AssignAPT(ctx, "plant-8", apt("corp:tset")); err == nil || !strings.Contains(err.Error(), "corp:tset") {
		t.Fatalf("in-scope assignment of an unknown publication: %v", err)
	}
}
