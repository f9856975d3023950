package hub

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
)

func TestSingleNodeBootstrap(t *testing.T) {
	nodes, tok := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	st, err := os.Stat(filepath.Join(n.dir, BootstrapTokenFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("bootstrap token file: %v mode %v", err, st.Mode())
	}
	if _, err := os.Stat(filepath.Join(n.dir, "keys", "hub.key")); err != nil {
		t.Fatalf("hub key: %v", err)
	}
	c := cli(n, tok)
	s, err := c.Status(ctx)
	if err != nil || s.State != "leader" || len(s.Nodes) != 1 || !s.Nodes[0].Reachable || s.LeaderHTTP != n.url() {
		t.Fatalf("status %+v %v", s, err)
	}
	site, err := c.CreateSite(ctx, api.SiteRequest{Name: "berlin", Class: "air-gapped", Scope: deploy.Scope{Acquisition: "acme"}})
	if err != nil || site.Name != "berlin" {
		t.Fatalf("create site: %+v %v", site, err)
	}
	if _, err := c.CreateSite(ctx, api.SiteRequest{Name: "berlin", Class: "online"}); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("duplicate site: %v", err)
	}
	// Blobs: a mismatch is 422 and keeps nothing; a good one is served with Range.
	data := bytes.Repeat([]byte("eucora"), 1000)
	sum := sha256.Sum256(data)
	hx := hex.EncodeToString(sum[:])
	err = c.PutBlob(ctx, hx, bytes.NewReader(append([]byte("x"), data[1:]...)), int64(len(data)))
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 422 {
		t.Fatalf("mismatched blob: %v", err)
	}
	if ok, _ := n.srv.cas.Has(digest.MustParse(hx)); ok {
		t.Fatal("mismatched blob was kept")
	}
	if err := c.PutBlob(ctx, hx, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("put blob: %v", err)
	}
	resp, err := c.Raw(ctx, "GET", "/v1/blobs/sha256/"+hx, nil, map[string][]string{"Range": {"bytes=6-11"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(got) != "eucora" {
		t.Fatalf("range: %d %q", resp.StatusCode, got)
	}
	// Events: the writes above are audited in a valid chain.
	page, err := c.Events(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var hubEvents []api.Event
	actions := map[string]int{}
	for _, e := range page.Events {
		if e.Origin == store.HubOrigin {
			hubEvents = append(hubEvents, e)
			actions[e.Action+"/"+e.Outcome]++
		}
	}
	if _, err := store.VerifyChains(store.Views(page.Events, store.EventFromAPI)); err != nil || len(hubEvents) == 0 {
		t.Fatalf("hub chain: %v", err)
	}
	for _, want := range []string{"site.create/ok", "site.create/conflict", "blob.register/ok", "token.create/ok"} {
		if actions[want] == 0 {
			t.Errorf("no %s event; have %v", want, actions)
		}
	}
}
