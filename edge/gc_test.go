package edge

import (
	"math/rand"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/transfer"
)

// TestGCDropsOnlyUnreferencedObjects: after a bundle replaces an artifact,
// GC removes the old artifact's bytes (held list, store, audit event) and
// keeps the new artifact and every object of the APT publication the edge
// serves; a dry run changes nothing; a second run finds nothing.
func TestGCDropsOnlyUnreferencedObjects(t *testing.T) {
	hubPub := newHubPublication(t)
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(7))
	oldMSI, newMSI := randBlob(rng, 40_000), randBlob(rng, 41_000)
	aOld := artifactOf("com.acme.ledger", "2.4.1", "ledger.msi", deploy.PlatformMSI, oldMSI)
	aNew := artifactOf("com.acme.ledger", "2.5.0", "ledger.msi", deploy.PlatformMSI, newMSI)

	objs := append(hubPub.sources(""), objectsOf([][]byte{oldMSI})...)
	mustImport(t, e, writeAPTBundle(t, hub, 1, "", objs, hubPub.record(t), artifactRecord(t, aOld)))
	r2 := mustImport(t, e, writeAPTBundle(t, hub, 2, "", objectsOf([][]byte{newMSI}), hubPub.record(t), artifactRecord(t, aNew)))
	if r2.ObjectsAdded != 1 {
		t.Fatalf("second import added %d objects", r2.ObjectsAdded)
	}
	before := mustState(t, e)

	dry, err := e.GC(true)
	if err != nil || dry.Removed != 1 || dry.Objects[0] != aOld.SHA256 || dry.Bytes != aOld.Size {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	if after := mustState(t, e); len(after.Held) != len(before.Held) || after.Chain != before.Chain {
		t.Fatal("a dry run changed the state")
	}
	res, err := e.GC(false)
	if err != nil || res.Removed != 1 || res.Kept != len(before.Held)-1 || res.Event == nil || res.Event.Action != "gc" {
		t.Fatalf("gc: %v %+v", err, res)
	}
	st := mustState(t, e)
	if _, held := st.Held[aOld.SHA256]; held {
		t.Fatal("the replaced artifact is still held")
	}
	if ok, _ := e.Store().Has(aOld.SHA256); ok {
		t.Fatal("the replaced artifact is still in the store")
	}
	for _, f := range hubPub.objs {
		if ok, _ := e.Store().Has(f.SHA256); !ok {
			t.Fatalf("gc removed %s of the served publication", f.Path)
		}
	}
	if ok, _ := e.Store().Has(aNew.SHA256); !ok {
		t.Fatal("gc removed the current artifact")
	}
	// The receipt now tells the hub what is held.
	if got := st.receipt(t0).Objects.ListDigest; got != transfer.HeldListDigest(st.heldList()) {
		t.Fatalf("receipt list digest %s", got)
	}
	if again, err := e.GC(false); err != nil || again.Removed != 0 || again.Event != nil {
		t.Fatalf("second gc: %v %+v", err, again)
	}
}
