package hub

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// TestSyncConvergence runs seeded random schedules of bundles between one
// hub and two edges in both directions, losing, duplicating, reordering,
// delaying and replaying them. Throughout, no side moves backwards; after
// a final loss-free exchange, hub and edges agree and every edge event is
// in the hub's log exactly once. A failure names its seed.
func TestSyncConvergence(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { convergeOnce(t, seed, 80) })
	}
}

type convSite struct {
	name     string
	e        *edge.Edge
	toEdge   [][]string // hub bundles in flight (volume files)
	toHub    [][]string // edge bundles in flight
	applied  uint64     // highest hub sequence the edge applied
	hubSeen  uint64     // hub's last_applied_seq for the site
	imported uint64     // hub's last merged edge sequence
}

func convergeOnce(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	w := &govWorld{t: t, n: n, ctx: ctx, users: map[string]*client.Client{}}
	hk := must[api.HubKey](t, "hub key")(ac.HubKey(ctx))
	hubPub, _ := signing.ParsePublic([]byte(hk.PublicPEM), "hub key")
	var sites []*convSite
	for _, name := range []string{"lon", "par"} {
		e, err := edge.Init(t.TempDir(), name, hubPub)
		if err != nil {
			t.Fatal(err)
		}
		must[api.Site](t, "site")(ac.CreateSite(ctx, api.SiteRequest{Name: name, Class: api.ClassIntermittent,
			Scope: deploy.Scope{Acquisition: "acme", BU: "fin", Site: name}, EdgeKeyPEM: string(signing.EncodePublic(e.PublicKey()))}))
		sites = append(sites, &convSite{name: name, e: e})
	}
	artifact := bytes.Repeat([]byte{byte(seed)}, 300_000)
	published := false

	hubExport := func(s *convSite) {
		x := must[api.Export](t, "export")(ac.ExportSite(ctx, s.name, api.ExportRequest{VolumeSize: transfer.MinVolumeSize}))
		s.toEdge = append(s.toEdge, download(t, ac, s.name, x, t.TempDir()))
	}
	edgeExport := func(s *convSite) {
		dir := t.TempDir()
		if _, err := s.e.Export(ctx, dir, edge.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		s.toHub = append(s.toHub, files)
	}
	deliverToEdge := func(s *convSite, vols []string) {
		res, err := s.e.Import(ctx, vols, edge.ImportOptions{})
		if err != nil && !errors.Is(err, edge.ErrStale) {
			t.Fatalf("seed %d: edge %s import: %v", seed, s.name, err)
		}
		st, _ := s.e.Status()
		if st.Applied.Seq < s.applied {
			t.Fatalf("seed %d: edge %s moved backwards: %d after %d (%+v)", seed, s.name, st.Applied.Seq, s.applied, res)
		}
		s.applied = st.Applied.Seq
	}
	deliverToHub := func(s *convSite, vols []string) {
		req, _, err := importRequest(ctx, vols, signing.NewTrust(s.e.PublicKey()), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		_, err = ac.ImportSite(ctx, s.name, req)
		var ae *client.APIError
		if err != nil && !(errors.As(err, &ae) && ae.Code == string(transfer.RefusedStale)) {
			t.Fatalf("seed %d: hub import from %s: %v", seed, s.name, err)
		}
		ss := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, s.name))
		if ss.LastAppliedSeq < s.hubSeen || ss.LastImportSeq < s.imported || !ss.ChainOK {
			t.Fatalf("seed %d: hub's view of %s moved backwards or broke: %+v (had applied %d, imported %d)", seed, s.name, ss, s.hubSeen, s.imported)
		}
		s.hubSeen, s.imported = ss.LastAppliedSeq, ss.LastImportSeq
	}
	// take removes a random in-flight bundle; it stays in flight (to be
	// duplicated or replayed later) with probability 1/4.
	take := func(q *[][]string) []string {
		i := rng.IntN(len(*q))
		b := (*q)[i]
		if rng.IntN(4) != 0 {
			*q = append((*q)[:i], (*q)[i+1:]...)
		}
		return b
	}

	for step := 0; step < steps; step++ {
		s := sites[rng.IntN(len(sites))]
		switch r := rng.IntN(100); {
		case r < 3 && !published:
			publishedIntent(t, w, artifact, deploy.Scope{Acquisition: "acme", BU: "fin"})
			published = true
		case r < 25:
			hubExport(s)
		case r < 45:
			edgeExport(s)
		case r < 55 && len(s.toEdge) > 0: // lost
			s.toEdge = append(s.toEdge[:0], s.toEdge[1:]...)
		case r < 60 && len(s.toHub) > 0: // lost
			s.toHub = append(s.toHub[:0], s.toHub[1:]...)
		case r < 80 && len(s.toEdge) > 0:
			deliverToEdge(s, take(&s.toEdge))
		case r < 100 && len(s.toHub) > 0:
			deliverToHub(s, take(&s.toHub))
		}
	}
	if !published {
		publishedIntent(t, w, artifact, deploy.Scope{Acquisition: "acme", BU: "fin"})
	}
	// A loss-free exchange: hub -> edge, edge -> hub, hub -> edge (ack).
	for _, s := range sites {
		s.toEdge, s.toHub = nil, nil
		hubExport(s)
		deliverToEdge(s, s.toEdge[0])
		edgeExport(s)
		deliverToHub(s, s.toHub[0])
		st, _ := s.e.Status()
		ss := must[api.SiteSync](t, "sync")(ac.SiteSyncState(ctx, s.name))
		if st.Applied.Seq != ss.LastExportedSeq || ss.LastAppliedSeq != st.Applied.Seq || ss.PendingObjects != 0 ||
			ss.LastEventSeq != st.Chain.Seq || len(ss.Gaps) != 0 || !ss.ChainOK {
			t.Fatalf("seed %d: %s did not converge: edge %+v, hub %+v", seed, s.name, st, ss)
		}
		if ok, _ := s.e.Store().Has(digest.FromBytes(artifact)); !ok {
			t.Fatalf("seed %d: %s never received the artifact", seed, s.name)
		}
	}
	// Every edge event reached the hub exactly once.
	evs, err := n.srv.store.State().Events(0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sites {
		st, _ := s.e.Status()
		seen := map[uint64]int{}
		for _, e := range evs {
			if e.Origin == s.name {
				seen[e.Sequence]++
			}
		}
		for q := uint64(1); q <= st.Chain.Seq; q++ {
			if seen[q] != 1 {
				t.Fatalf("seed %d: %s event %d is in the hub's log %d times", seed, s.name, q, seen[q])
			}
		}
		if len(seen) != int(st.Chain.Seq) {
			t.Fatalf("seed %d: hub holds %d events of %s, the edge made %d", seed, len(seen), s.name, st.Chain.Seq)
		}
	}
}
