package edge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/packaging"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/vuln"
	"github.com/eucora/eucora/transfer"
)

// testFeed is a one-record OSV feed for ledger-agent before 1.1-1.
func testFeed(id string) []byte {
	return []byte(`[{"id": "` + id + `", "modified": "2026-11-30T10:00:00Z", "database_specific": {"severity": "CRITICAL"},
  "affected": [{"package": {"ecosystem": "Debian", "name": "ledger-agent"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1-1"}]}]}]}]`)
}

func parseTestFeed(t testing.TB, b []byte) *vuln.Feed {
	t.Helper()
	f, err := vuln.ParseFeed(bytes.NewReader(b), int64(len(b)), "osv.json", vuln.FeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// feedRecordOf is the vuln-feed record of env.
func feedRecordOf(t testing.TB, env any) transfer.RecordSource {
	t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return transfer.RecordSource{Type: transfer.RecordVulnFeed, Data: b}
}

func signFeed(t testing.TB, k *signing.PrivateKey, f *vuln.Feed) *signing.Envelope {
	t.Helper()
	env, err := vuln.SignFeed(k, f)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestVulnFeedImport: a hub bundle's vuln-feed record and the file it
// names become the edge's feed once verified and parsed; the file is a
// held object (not sent again, kept by gc); a bundle naming the held file
// renews the statement, one without a record keeps the feed. Every
// defective or tampered record or file is refused with the bundle's
// refusal codes and changes nothing.
func TestVulnFeedImport(t *testing.T) {
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	if _, err := e.VulnFeed(); !errors.Is(err, ErrNoVulnFeed) {
		t.Fatalf("feed of a new edge: %v", err)
	}
	if _, err := e.CheckFeed(); !errors.Is(err, ErrNoVulnFeed) || !strings.Contains(err.Error(), "eucora vuln import FEED") {
		t.Fatalf("check without a feed: %v", err)
	}
	raw := testFeed("EUC-2026-0001")
	feed := parseTestFeed(t, raw)
	env := signFeed(t, hub, feed)

	res := mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{raw}, records: []transfer.RecordSource{feedRecordOf(t, env)}}))
	if res.VulnFeed != feed.Version || res.Records[transfer.RecordVulnFeed] != 1 || !strings.Contains(res.Event.Detail, "vulnerability feed "+feed.Version) {
		t.Fatalf("import result: feed %q, records %v, detail %q", res.VulnFeed, res.Records, res.Event.Detail)
	}
	vf, err := e.VulnFeed()
	if err != nil || vf.SHA256 != feed.SHA256 || vf.Size != feed.Size || vf.Version != feed.Version || vf.Records != 1 || vf.KeyID != hub.ID ||
		vf.BundleSeq != 1 || vf.Name != "osv.json" || !vf.Newest.Equal(feed.Newest) {
		t.Fatalf("edge feed: %+v, %v", vf, err)
	}
	if st := mustState(t, e); st.Held[feed.SHA256] != feed.Size {
		t.Fatalf("feed file not held: %v", st.Held)
	}
	if s, _ := e.Status(); s.VulnFeed != feed.Version {
		t.Fatalf("status feed %q", s.VulnFeed)
	}

	other := mustKey(t)
	wrongVersion := *feed
	wrongVersion.Version = "sha256:" + strings.Repeat("0", 64) + "@2026-11-30T10:00:00Z"
	wrongSize := *feed
	wrongSize.Size++
	absent := parseTestFeed(t, testFeed("EUC-2026-0404"))
	garbage := []byte(strings.Repeat("not an OSV feed ", 8))
	garbageFeed := &vuln.Feed{Name: "osv.json", SHA256: digest.FromBytes(garbage), Size: int64(len(garbage)), Version: feed.Version}
	raw2 := testFeed("EUC-2026-0002")
	feed2 := parseTestFeed(t, raw2)
	// A statement whose payload was changed after the hub signed it.
	forged := *signFeed(t, hub, feed2)
	payload, _ := base64.StdEncoding.DecodeString(forged.Payload)
	forged.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte(feed2.SHA256.Hex()), []byte(garbageFeed.SHA256.Hex()), 1))
	unsigned := *signFeed(t, hub, feed2)
	unsigned.Signatures = nil
	bareStatement, _ := json.Marshal(vuln.FeedStatement{Schema: vuln.FeedStatementSchema, SHA256: feed2.SHA256, Size: feed2.Size, Version: feed2.Version})
	otherType := signing.Sign(hub, "application/vnd.in-toto+json", []byte(`{}`))
	notStatement := signing.Sign(hub, vuln.FeedStatementType, []byte(`{"schema":"something/v9"}`))

	for _, c := range []struct {
		name    string
		blobs   [][]byte
		records []transfer.RecordSource
		want    []error
		text    string
	}{
		{"statement by a key the edge does not trust", [][]byte{raw2}, []transfer.RecordSource{feedRecordOf(t, signFeed(t, other, feed2))},
			[]error{signing.ErrUnknownKey, vuln.ErrIntegrity}, "not trusted"},
		{"statement changed after signing", [][]byte{raw2, garbage}, []transfer.RecordSource{feedRecordOf(t, &forged)},
			[]error{signing.ErrBadSignature, vuln.ErrIntegrity}, "does not verify"},
		{"unsigned statement", [][]byte{raw2}, []transfer.RecordSource{feedRecordOf(t, &unsigned)}, []error{transfer.ErrBadRecord}, "no signatures"},
		{"bare statement, no envelope", [][]byte{raw2}, []transfer.RecordSource{{Type: transfer.RecordVulnFeed, Data: bareStatement}},
			[]error{transfer.ErrBadRecord}, "unknown field"},
		{"envelope of another payload type", [][]byte{raw2}, []transfer.RecordSource{feedRecordOf(t, otherType)},
			[]error{transfer.ErrBadRecord, signing.ErrEnvelope}, "payload type"},
		{"signed payload that is no statement", [][]byte{raw2}, []transfer.RecordSource{feedRecordOf(t, notStatement)},
			[]error{transfer.ErrBadRecord, vuln.ErrIntegrity}, "not a eucora.osv-feed-statement/v1 statement"},
		{"two vuln-feed records", [][]byte{raw2}, []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, feed2)), feedRecordOf(t, env)},
			[]error{transfer.ErrBadRecord}, "two vuln-feed records"},
		{"file neither carried nor held", [][]byte{raw2}, []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, absent))},
			[]error{ErrIncomplete}, absent.SHA256.Short()},
		{"file of another size than stated", [][]byte{raw2}, []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, &vuln.Feed{Name: "x.json", SHA256: feed2.SHA256, Size: feed2.Size + 1, Version: feed2.Version}))},
			[]error{transfer.ErrBadRecord}, "bytes"},
		{"records that make another version", [][]byte{raw2}, []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, &vuln.Feed{Name: "x.json", SHA256: feed2.SHA256, Size: feed2.Size, Version: wrongVersion.Version}))},
			[]error{transfer.ErrBadRecord, vuln.ErrIntegrity}, "the records make"},
		{"a file that is no feed", [][]byte{garbage}, []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, garbageFeed))},
			[]error{transfer.ErrBadRecord, facts.ErrDefect}, "neither a JSON record"},
		{"held file restated with another version", nil, []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, &wrongVersion))},
			[]error{transfer.ErrBadRecord, vuln.ErrIntegrity}, "the edge parsed it as version"},
		{"held file restated with another size", nil, []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, &wrongSize))},
			[]error{transfer.ErrBadRecord}, "bytes"},
	} {
		before := takeSnapshot(t, e)
		r := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, blobs: c.blobs, records: c.records})
		res, err := e.Import(context.Background(), []string{dirOf(r)}, ImportOptions{})
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: %v, want %v", c.name, err, w)
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.text) || res == nil || res.Outcome != OutcomeRefused {
			t.Errorf("%s: outcome %v, error %v, want a refusal naming %q", c.name, res, err, c.text)
		}
		if !takeSnapshot(t, e).equal(before) {
			t.Errorf("%s: the refusal changed the edge", c.name)
		}
	}

	// The feed file flipped on the medium: the bundle is corrupt.
	before := takeSnapshot(t, e)
	r := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, blobs: [][]byte{raw2}, records: []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, feed2))}})
	vol, _ := os.ReadFile(r.Volumes[0])
	i := bytes.Index(vol, raw2)
	if i < 0 {
		t.Fatal("feed file not stored raw in the volume")
	}
	vol[i+len(raw2)/2] ^= 1
	os.WriteFile(r.Volumes[0], vol, 0o644)
	if _, err := e.Import(context.Background(), []string{dirOf(r)}, ImportOptions{}); !errors.Is(err, transfer.ErrCorrupt) {
		t.Fatalf("flipped feed file: %v", err)
	}
	if !takeSnapshot(t, e).equal(before) {
		t.Fatal("the corrupt bundle changed the edge")
	}

	// The held file restated by the hub's next key (no file carried):
	// the statement is renewed, the feed stays.
	res = mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, records: []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, feed))}}))
	if res.VulnFeed != "" || res.Records[transfer.RecordVulnFeed] != 1 || res.ObjectsAdded != 0 {
		t.Fatalf("restated feed: %+v", res)
	}
	// A bundle with no vuln-feed record keeps the feed; gc keeps its file.
	mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 3}))
	if vf, err := e.VulnFeed(); err != nil || vf.Version != feed.Version || vf.BundleSeq != 1 {
		t.Fatalf("feed after a bundle without one: %+v, %v", vf, err)
	}
	if gc, err := e.GC(false); err != nil || gc.Removed != 0 {
		t.Fatalf("gc: %+v, %v", gc, err)
	}

	// A newer feed replaces it.
	res = mustImport(t, e, writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 4, blobs: [][]byte{raw2}, records: []transfer.RecordSource{feedRecordOf(t, signFeed(t, hub, feed2))}}))
	if vf, err := e.VulnFeed(); err != nil || res.VulnFeed != feed2.Version || vf.Version != feed2.Version || vf.BundleSeq != 4 {
		t.Fatalf("newer feed: %+v, %v", vf, err)
	}
	// The old file is no longer referenced: gc drops it.
	if gc, err := e.GC(false); err != nil || gc.Removed != 1 || gc.Objects[0] != feed.SHA256 {
		t.Fatalf("gc after a newer feed: %+v, %v", gc, err)
	}

	// Checking packages: the feed re-verifies; a defective file and an
	// unknown type are refused by name.
	ck, err := e.CheckFeed()
	if err != nil || ck.Feed.Version != feed2.Version {
		t.Fatalf("check feed: %v", err)
	}
	fake := []byte("this is not a debian package")
	if _, err := ck.Check("fake.deb", bytes.NewReader(fake), int64(len(fake)), t0); !errors.Is(err, facts.ErrDefect) || !strings.Contains(err.Error(), "fake.deb") {
		t.Fatalf("defective file: %v", err)
	}
	if _, err := ck.Check("notes.txt", bytes.NewReader(fake), int64(len(fake)), t0); !errors.Is(err, packaging.ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}

	// The feed file rotted on disk: checking refuses it.
	p := e.store.Path(feed2.SHA256)
	os.Chmod(p, 0o644)
	rotten := bytes.Replace(raw2, []byte("CRITICAL"), []byte("LOW\x20\x20\x20\x20\x20"), 1)
	if err := os.WriteFile(p, rotten, 0o644); err != nil {
		t.Fatal(err)
	}
	var me *digest.MismatchError
	if _, err := e.CheckFeed(); !errors.As(err, &me) || !errors.Is(err, vuln.ErrIntegrity) {
		t.Fatalf("rotten feed file: %v", err)
	}
}
