package edge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// artifactOf describes blob as an artifact of app/version on platform.
func artifactOf(app, version, name string, p deploy.Platform, blob []byte) deploy.Artifact {
	return deploy.Artifact{AppID: app, Version: version, Platform: p, Name: name, SHA256: digest.FromBytes(blob),
		Size: int64(len(blob)), Signing: deploy.Signing{State: deploy.SigKnownVendor, Signer: "CN=Acme"},
		ScanDecision: deploy.ScanPass, PackagedBy: "pkg.eng"}
}

func artifactRecord(t testing.TB, a deploy.Artifact) transfer.RecordSource {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return transfer.RecordSource{Type: transfer.RecordArtifact, Data: b}
}

// TestArtifactRecordsCompleteObjectsDelta: artifact records are kept in
// the state and replaced whole by each bundle; a later bundle may omit the
// bytes of an artifact the edge holds; a bundle whose artifact bytes are
// neither carried nor held is refused with ErrIncomplete, naming the
// missing digest, changing nothing but the audit chain.
func TestArtifactRecordsCompleteObjectsDelta(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(1))
	msi, pkg, extra := randBlob(rng, 70_000), randBlob(rng, 5_000), randBlob(rng, 3_000)
	aMSI := artifactOf("com.acme.ledger", "2.4.1", "ledger.msi", deploy.PlatformMSI, msi)
	aPKG := artifactOf("com.acme.ledger", "2.4.1", "ledger.pkg", deploy.PlatformPKG, pkg)

	r1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{msi, pkg},
		records: []transfer.RecordSource{artifactRecord(t, aMSI), artifactRecord(t, aPKG)}})
	res := mustImport(t, e, r1)
	if res.Records[transfer.RecordArtifact] != 2 || res.ObjectsAdded != 2 {
		t.Fatalf("first import: records %v, %d objects added", res.Records, res.ObjectsAdded)
	}
	st := mustState(t, e)
	if len(st.Artifacts) != 2 || st.Artifacts[artifactKey(aMSI)].Name != "ledger.msi" {
		t.Fatalf("artifacts in state: %v", st.Artifacts)
	}

	// Records complete, objects a delta: only the msi record, no bytes.
	r2 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, pred: r1.Signed.Digest,
		records: []transfer.RecordSource{artifactRecord(t, aMSI)}})
	mustImport(t, e, r2)
	st = mustState(t, e)
	if len(st.Artifacts) != 1 || st.Artifacts[artifactKey(aMSI)].SHA256 != aMSI.SHA256 {
		t.Fatalf("artifacts not replaced by the complete set: %v", st.Artifacts)
	}
	if _, held := st.Held[aPKG.SHA256]; !held {
		t.Fatal("an object no longer referenced was dropped from the held set")
	}

	// A new artifact whose bytes are absent: refused, nothing changes.
	aNew := artifactOf("com.acme.ledger", "2.5.0", "ledger.msi", deploy.PlatformMSI, []byte("never sent"))
	r3 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 3, pred: r2.Signed.Digest, blobs: [][]byte{extra},
		records: []transfer.RecordSource{artifactRecord(t, aMSI), artifactRecord(t, aNew)}})
	before := takeSnapshot(t, e)
	res, err := e.Import(context.Background(), []string{dirOf(r3)}, ImportOptions{})
	var ie *IncompleteError
	if !errors.Is(err, ErrIncomplete) || !errors.As(err, &ie) {
		t.Fatalf("want ErrIncomplete, got %v", err)
	}
	if ie.Count != 1 || len(ie.Missing) != 1 || ie.Missing[0] != aNew.SHA256 || !strings.Contains(err.Error(), aNew.SHA256.Hex()) {
		t.Fatalf("incomplete error names %v (count %d): %v", ie.Missing, ie.Count, err)
	}
	if res.Outcome != OutcomeRefused || res.Event.Outcome != OutcomeRefused || !strings.Contains(res.Event.Detail, aNew.SHA256.Hex()) {
		t.Fatalf("refusal not recorded: outcome %q, event %+v", res.Outcome, res.Event)
	}
	if after := takeSnapshot(t, e); !after.equal(before) {
		t.Fatalf("a refused bundle changed the state or the store:\nbefore %+v\nafter  %+v", before, after)
	}
	if ok, _ := e.store.Has(digest.FromBytes(extra)); ok {
		t.Fatal("the refused bundle's object stayed in the store")
	}
}

// TestIncompleteNamesAtMostTen: a bundle missing many objects names ten
// and counts all.
func TestIncompleteNamesAtMostTen(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	var recs []transfer.RecordSource
	for i := range 12 {
		recs = append(recs, artifactRecord(t, artifactOf("com.acme.app", "1."+string(rune('a'+i)), "app.msi", deploy.PlatformMSI, []byte{byte(i)})))
	}
	r := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, records: recs})
	_, err := e.Import(context.Background(), []string{dirOf(r)}, ImportOptions{})
	var ie *IncompleteError
	if !errors.As(err, &ie) || ie.Count != 12 || len(ie.Missing) != 10 || !strings.Contains(err.Error(), "and 2 more") {
		t.Fatalf("want 10 of 12 named, got %v", err)
	}
	for i := 1; i < len(ie.Missing); i++ {
		if ie.Missing[i-1] >= ie.Missing[i] {
			t.Fatal("missing digests not sorted")
		}
	}
}

// TestArtifactSizeMismatchIsMalformed: an artifact record whose size
// differs from the object it names makes the bundle malformed.
func TestArtifactSizeMismatchIsMalformed(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	blob := []byte("installer bytes")
	a := artifactOf("com.acme.app", "1.0", "app.msi", deploy.PlatformMSI, blob)
	a.Size++
	r := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{blob}, records: []transfer.RecordSource{artifactRecord(t, a)}})
	if _, err := e.Import(context.Background(), []string{dirOf(r)}, ImportOptions{}); !errors.Is(err, transfer.ErrBadRecord) {
		t.Fatalf("want ErrBadRecord, got %v", err)
	}
}

// TestExportCarriesHeldList: the edge export's held record lists every
// held digest, ascending, and digests to the receipt's list_digest; the
// network form (ExportRequest) carries the same envelope and records.
func TestExportCarriesHeldList(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	rng := rand.New(rand.NewSource(2))
	mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{randBlob(rng, 100), randBlob(rng, 200), randBlob(rng, 300)}}))
	out := t.TempDir()
	res, err := e.Export(context.Background(), out, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, recs := readBundleRecords(t, out, e.PublicKey())
	if len(recs[transfer.RecordHeld]) != 1 {
		t.Fatalf("held records: %d", len(recs[transfer.RecordHeld]))
	}
	hl, err := transfer.ParseHeldList(recs[transfer.RecordHeld][0])
	if err != nil {
		t.Fatal(err)
	}
	if hl.Site != "lon" || len(hl.Digests) != 3 || transfer.HeldListDigest(hl.Digests) != res.Receipt.Objects.ListDigest {
		t.Fatalf("held list %+v does not match the receipt %+v", hl, res.Receipt.Objects)
	}

	body, nres, err := e.ExportRequest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if nres.Sequence != res.Sequence+1 {
		t.Fatalf("network export sequence %d, want %d (reserved like Export)", nres.Sequence, res.Sequence+1)
	}
	assertHubImport(t, e, body, nres.Digest)
	if left, _ := filepath.Glob(filepath.Join(e.dir.Edge(), scratchPrefix+"*")); len(left) != 0 || len(nres.Volumes) != 0 {
		t.Fatalf("network export left volumes behind: %v %v", left, nres.Volumes)
	}
}

// assertHubImport checks an import request as the hub would: the
// envelope (base64 of the exact bytes) verifies with the edge key, names
// digest, and every manifest record's bytes are in Records with the right
// size and digest.
func assertHubImport(t testing.TB, e *Edge, body *api.ImportRequest, want digest.Digest) *transfer.Signed {
	t.Helper()
	env, err := base64.StdEncoding.DecodeString(body.Envelope)
	if err != nil {
		t.Fatalf("envelope is not base64: %v", err)
	}
	s, err := transfer.ReadSigned(env, signing.NewTrust(e.PublicKey()))
	if err != nil {
		t.Fatalf("envelope does not verify with the edge key: %v", err)
	}
	if (want != "" && s.Digest != want) || s.Target != "hub" || s.Source != e.Site() {
		t.Fatalf("envelope: digest %s target %q source %q", s.Digest, s.Target, s.Source)
	}
	if len(body.Records) != len(s.Records) {
		t.Fatalf("%d record bytes for %d manifest records", len(body.Records), len(s.Records))
	}
	for _, r := range s.Records {
		enc, ok := body.Records[r.Digest.Hex()]
		data, err := base64.StdEncoding.DecodeString(enc)
		if !ok || err != nil || int64(len(data)) != r.Size || digest.FromBytes(data) != r.Digest {
			t.Fatalf("record %s (%s): bytes missing or wrong", r.Type, r.Digest.Short())
		}
		if _, err := transfer.ParseRecord(r.Type, data); err != nil {
			t.Fatalf("record %s: %v", r.Type, err)
		}
	}
	return s
}
