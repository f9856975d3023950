package edge_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/hubtest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/internal/tlsconf"
)

// hubTLS makes a CA and a certificate for a hub on 127.0.0.1 in dir.
func hubTLS(t *testing.T, dir string) (*tlsconf.Material, []byte) {
	t.Helper()
	spec, err := tlsconf.ParseNodeSpec("node1=127.0.0.1,localhost")
	if err != nil {
		t.Fatal(err)
	}
	res, err := tlsconf.Init(tlsconf.InitOptions{Dir: dir, Nodes: []tlsconf.NodeSpec{spec}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := tlsconf.Load(tlsconf.Files{Cert: res.Nodes[0].Cert, Key: res.Nodes[0].Key, CA: res.CA}, tlsconf.ForNode, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(res.CA)
	if err != nil {
		t.Fatal(err)
	}
	return m, caPEM
}

// An edge verifies an https hub against the CA it pinned, only: it syncs
// with the hub whose certificate that CA signed, and refuses a hub (or an
// impostor on the hub's address) with a certificate of another CA, and
// any https hub while it has no CA pinned (no fallback to system roots).
func TestEdgePinsTheHubCA(t *testing.T) {
	ctx := ctxT(t)
	matA, caA := hubTLS(t, filepath.Join(t.TempDir(), "a"))
	matB, caB := hubTLS(t, filepath.Join(t.TempDir(), "b"))
	_, baseA, adminA := hubtest.StartTLS(t, matA)
	_, baseB, _ := hubtest.StartTLS(t, matB)
	if !strings.HasPrefix(baseA, "https://") {
		t.Fatalf("hub URL %s", baseA)
	}
	hc := client.New(baseA, adminA)
	hc.HTTP.Transport = tlsconf.Transport(matA.ClientConfig())
	k, err := hc.HubKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hubPub, err := signing.ParsePublic([]byte(k.PublicPEM), "hub key")
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.Init(filepath.Join(t.TempDir(), "edge"), site, hubPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hc.CreateSite(ctx, api.SiteRequest{Name: site, Class: "intermittent", Scope: siteScope,
		EdgeKeyPEM: string(signing.EncodePublic(e.PublicKey()))}); err != nil {
		t.Fatal(err)
	}
	tok, err := hc.CreateToken(ctx, api.TokenRequest{Name: "edge-" + site, Role: deploy.RoleEndpointOps, Scope: siteScope})
	if err != nil {
		t.Fatal(err)
	}

	// Nothing pinned: an https hub is not trusted, whoever signed it.
	if _, err := edge.NewSyncer(e, baseA, tok.Token).Round(ctx); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("sync with nothing pinned: %v, want a certificate error", err)
	}
	// Bad CA input changes nothing: a node certificate is no CA, garbage
	// is no PEM.
	nodePEM := tlsconf.EncodeCerts([]*x509.Certificate{matA.Leaf})
	for name, bad := range map[string][]byte{"node certificate": nodePEM, "garbage": []byte("not a pem"), "empty": nil} {
		if _, err := e.PinHubCA(bad, false); err == nil {
			t.Fatalf("pinning %s: accepted", name)
		}
		if b, _ := e.HubCA(); b != nil {
			t.Fatalf("pinning %s left %s", name, e.HubCAPath())
		}
	}
	// Pin the hub's CA: sync works.
	if changed, err := e.PinHubCA(caA, false); err != nil || !changed {
		t.Fatalf("pin: %v %v", changed, err)
	}
	res, err := edge.NewSyncer(e, baseA, tok.Token).Round(ctx)
	if err != nil {
		t.Fatalf("sync with the pinned CA: %v", err)
	}
	if res.Pushed == nil {
		t.Fatalf("round pushed nothing: %+v", res)
	}
	// A hub with a certificate of another CA is refused.
	if _, err := edge.NewSyncer(e, baseB, tok.Token).Round(ctx); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("sync with a hub of another CA: %v, want unknown authority", err)
	}
	// The same CA again is a no-op; another one is refused unless replaced.
	if changed, err := e.PinHubCA(caA, false); err != nil || changed {
		t.Fatalf("re-pin the same CA: %v %v", changed, err)
	}
	if _, err := e.PinHubCA(caB, false); !errors.Is(err, edge.ErrHubCAPinned) {
		t.Fatalf("pin another CA: %v, want ErrHubCAPinned", err)
	}
	if b, _ := e.HubCA(); !bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(caA)) {
		t.Fatal("a refused pin changed the pinned CA")
	}
	// Replaced (rotation), the old hub is refused.
	if changed, err := e.PinHubCA(caB, true); err != nil || !changed {
		t.Fatalf("replace: %v %v", changed, err)
	}
	if _, err := edge.NewSyncer(e, baseA, tok.Token).Round(ctx); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("sync with the hub after the CA was replaced: %v, want unknown authority", err)
	}
}
