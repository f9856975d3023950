package edge

import (
	"context"
	"errors"
	"math/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/transfer"
)

// TestImportRefusesBadArtifactNames: a bundle whose artifact record has a
// name that is not one safe file name, or two different artifacts of one
// version sharing a name on a channel, is malformed: refused, nothing
// applied, whatever the hub that signed it let through.
func TestImportRefusesBadArtifactNames(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(5))
	a, b := randBlob(rng, 3_000), randBlob(rng, 4_000)
	cases := map[string][]deploy.Artifact{}
	for _, name := range []string{"../evil.msi", "/etc/cron.d/x.msi", "evil.msi\x00.txt", "a\nb.msi", strings.Repeat("a", 5000), `..\evil.msi`, "..", "-x.msi"} {
		cases["name "+name] = []deploy.Artifact{artifactOf("com.acme.ledger", "1.0", name, deploy.PlatformMSI, a)}
	}
	cases["two setup.msi"] = []deploy.Artifact{artifactOf("com.acme.ledger", "1.0", "setup.msi", deploy.PlatformMSI, a),
		artifactOf("com.acme.ledger", "1.0", "setup.msi", deploy.PlatformMSI, b)}
	cases["setup.msi and SETUP.MSIX on sccm"] = []deploy.Artifact{artifactOf("com.acme.ledger", "1.0", "setup.msi", deploy.PlatformMSI, a),
		artifactOf("com.acme.ledger", "1.0", "SETUP.MSI", deploy.PlatformMSIX, b)}
	seq := uint64(0)
	for what, arts := range cases {
		seq++
		var recs []transfer.RecordSource
		for _, x := range arts {
			recs = append(recs, artifactRecord(t, x))
		}
		r := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: seq, blobs: [][]byte{a, b}, records: recs})
		before := takeSnapshot(t, e)
		if _, err := e.Import(context.Background(), []string{dirOf(r)}, ImportOptions{}); !errors.Is(err, transfer.ErrBadRecord) || !strings.Contains(err.Error(), "name") {
			t.Errorf("%s: %v, want a malformed artifact record naming the name", what, err)
		}
		if after := takeSnapshot(t, e); !after.equal(before) {
			t.Errorf("%s: the refused bundle changed the state or the store", what)
		}
	}
	// The control: the same names on different channels and versions are fine.
	ok := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: seq + 1, blobs: [][]byte{a, b}, records: []transfer.RecordSource{
		artifactRecord(t, artifactOf("com.acme.ledger", "1.0", "setup", deploy.PlatformMSI, a)),
		artifactRecord(t, artifactOf("com.acme.ledger", "1.0", "setup", deploy.PlatformPKG, b))}})
	mustImport(t, e, ok)
	t.Logf("%d refused bundles", len(cases))
}

// TestServeAmbiguousNameRefused: a state holding two artifacts of one
// path (written before names were checked on import) serves neither by
// name: 409 naming both digests, while each stays served by digest.
func TestServeAmbiguousNameRefused(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(6))
	a, b := randBlob(rng, 3_000), randBlob(rng, 4_000)
	x := artifactOf("com.acme.app", "1.0", "setup.msi", deploy.PlatformMSI, a)
	y := artifactOf("com.acme.app", "1.0", "other.msi", deploy.PlatformMSI, b)
	mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{a, b},
		records: []transfer.RecordSource{artifactRecord(t, x), artifactRecord(t, y)}}))
	st := mustState(t, e)
	y.Name = "Setup.msi" // what an earlier version let in
	st.Artifacts[artifactKey(y)] = y
	if err := st.save(e.dir.Edge()); err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dp/sccm/com.acme.app/1.0/setup.msi", "/dp/sccm/com.acme.app/1.0/Setup.msi"} {
		r := get(t, s, p, nil)
		if r.Code != http.StatusConflict || !strings.Contains(r.Body.String(), x.SHA256.Hex()) || !strings.Contains(r.Body.String(), y.SHA256.Hex()) {
			t.Errorf("GET %s: %d %s, want 409 naming both digests", p, r.Code, r.Body)
		}
	}
	if r := get(t, s, "/dp/sha256/"+y.SHA256.Hex(), nil); r.Code != 200 {
		t.Errorf("by digest: %d", r.Code)
	}
	if r := get(t, s, "/dp/sccm/com.acme.app/1.0/SETUP.MSI", nil); r.Code != http.StatusConflict {
		t.Errorf("case variant of an ambiguous name: %d", r.Code)
	}
}
