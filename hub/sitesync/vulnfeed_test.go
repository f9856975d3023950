package sitesync

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/packaging/vuln"
	"github.com/eucora/eucora/transfer"
)

// feedJSON is a one-record OSV feed; id makes feeds differ.
func feedJSON(id string) []byte {
	return []byte(`[{"id": "` + id + `", "modified": "2026-11-30T10:00:00Z", "database_specific": {"severity": "CRITICAL"},
  "affected": [{"package": {"ecosystem": "Debian", "name": "ledger-agent"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1-1"}]}]}]}]`)
}

// importFeed imports feed b as the hub's current feed (the record the
// vuln-feeds route commits), its file in the content store unless
// stored is false.
func (h *testHub) importFeed(name string, b []byte, stored bool) *vuln.Feed {
	h.t.Helper()
	f, err := vuln.ParseFeed(bytes.NewReader(b), int64(len(b)), name, vuln.FeedOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	if stored {
		if _, err := h.cas.PutBytes(b); err != nil {
			h.t.Fatal(err)
		}
	}
	h.apply(store.CmdVulnFeedImport, store.VulnFeed{ID: f.Version, Name: name, Blob: digest.Digest(f.SHA256.String()), Size: f.Size,
		Records: f.Count, Newest: f.Newest, ImportedBy: "token:test/sam", ImportedAt: store.NowUTC()})
	return f
}

// feedRecord returns the vuln-feed record of a bundle (nil if none).
func feedRecord(t *testing.T, h *testHub, sg *transfer.Signed) *signing.Envelope {
	t.Helper()
	var out *signing.Envelope
	for _, r := range sg.Records {
		if r.Type != transfer.RecordVulnFeed {
			continue
		}
		if out != nil {
			t.Fatal("two vuln-feed records")
		}
		b, err := transfer.ReadRecord(h.cas, r)
		if err != nil {
			t.Fatal(err)
		}
		if out, err = transfer.ParseVulnFeedStatement(b); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestExportCarriesVulnFeed: a hub without a feed exports as before; once
// one is imported every bundle carries a vuln-feed record signed by the
// hub key naming the file's digest, size and version, and the file itself
// only while the site does not hold it; a new feed is sent once too; a
// feed file missing from this node fails the export before a sequence is
// reserved.
func TestExportCarriesVulnFeed(t *testing.T) {
	h := newTestHub(t)
	ctx := t.Context()
	edge, _ := signing.Generate()
	lon := h.site("lon", acmeFinLon, edge)
	trust := signing.NewTrust(h.key.Public())

	x1, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sg := signedManifest(t, h, h.sync, exportRecord(t, h, "lon", x1.Sequence))
	if got := recordTypes(sg); x1.Objects != 0 || !slices.Equal(got, []string{transfer.RecordHubKeys, transfer.RecordSite, transfer.RecordTime}) {
		t.Fatalf("export without a feed: %d objects, records %v", x1.Objects, got)
	}

	raw := feedJSON("EUC-2026-0001")
	feed := h.importFeed("osv.json", raw, true)
	if st, err := h.sync.Status(lon, store.NowUTC()); err != nil || st.PendingObjects != 1 || st.PendingBytes != int64(len(raw)) {
		t.Fatalf("status once a feed is imported: %+v, %v", st, err)
	}
	x2, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{IfChanged: true})
	if err != nil || x2.Reused || x2.Sequence != 2 || x2.Objects != 1 || x2.ObjectBytes != int64(len(raw)) {
		t.Fatalf("export after the feed import (if_changed): %+v, %v", x2, err)
	}
	sg = signedManifest(t, h, h.sync, exportRecord(t, h, "lon", 2))
	if got := contentObjects(sg); !slices.Equal(got, []digest.Digest{feed.SHA256}) {
		t.Fatalf("content objects %v, want the feed file %s", got, feed.SHA256)
	}
	env := feedRecord(t, h, sg)
	if env == nil {
		t.Fatalf("no vuln-feed record: %v", recordTypes(sg))
	}
	stmt, key, err := vuln.VerifyStatement(env, trust)
	if err != nil || key != h.key.ID || stmt.SHA256 != feed.SHA256 || stmt.Size != feed.Size || stmt.Version != feed.Version || stmt.Name != "osv.json" {
		t.Fatalf("statement %+v by %s: %v; want %s %d %s", stmt, key, err, feed.SHA256, feed.Size, feed.Version)
	}
	// The record is what lets an edge check the file offline: the file
	// parses against it, and against no other key.
	if _, err := vuln.ParseFeed(bytes.NewReader(raw), int64(len(raw)), "osv.json", vuln.FeedOptions{Signature: env, Trust: trust}); err != nil {
		t.Fatal(err)
	}
	other, _ := signing.Generate()
	if _, _, err := vuln.VerifyStatement(env, signing.NewTrust(other.Public())); !errors.Is(err, signing.ErrUnknownKey) {
		t.Fatalf("statement under another key's trust: %v", err)
	}
	if again, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{IfChanged: true}); err != nil || !again.Reused || again.Sequence != 2 {
		t.Fatalf("if_changed with nothing new: %+v, %v", again, err)
	}

	// The site holds the file: the next bundle carries the record, not
	// the file; --full carries it again.
	imp := edgeBundle(t, edge, transfer.Header{Source: "lon", Target: transfer.HubEndpoint, Sequence: 1},
		receipt(t, "lon", 2, x2.Digest, map[digest.Digest]int64{feed.SHA256: feed.Size})...)
	v, err := h.sync.VerifyImport(lon, bytes.NewReader(imp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sync.Import(ctx, h.audit, v); err != nil {
		t.Fatal(err)
	}
	x3, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{})
	if err != nil || x3.Objects != 0 {
		t.Fatalf("export once the site holds the feed: %+v, %v", x3, err)
	}
	sg = signedManifest(t, h, h.sync, exportRecord(t, h, "lon", x3.Sequence))
	if env3 := feedRecord(t, h, sg); env3 == nil || env3.Payload != env.Payload || len(contentObjects(sg)) != 0 {
		t.Fatalf("export once the site holds the feed: record %v, content objects %v", env3, contentObjects(sg))
	}
	if full, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{Full: true}); err != nil || full.Objects != 1 {
		t.Fatalf("full export: %+v, %v", full, err)
	}

	// A newer feed: its file is sent, the old one is not sent again.
	raw2 := feedJSON("EUC-2026-0002")
	feed2 := h.importFeed("osv2.json", raw2, true)
	x5, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{})
	if err != nil || x5.Objects != 1 {
		t.Fatalf("export after a second feed: %+v, %v", x5, err)
	}
	sg = signedManifest(t, h, h.sync, exportRecord(t, h, "lon", x5.Sequence))
	if got := contentObjects(sg); !slices.Equal(got, []digest.Digest{feed2.SHA256}) {
		t.Fatalf("content objects %v, want only the new feed %s", got, feed2.SHA256)
	}
	if st, _, err := vuln.VerifyStatement(feedRecord(t, h, sg), trust); err != nil || st.Version != feed2.Version {
		t.Fatalf("statement of the second feed: %+v, %v", st, err)
	}

	// A current feed whose file this node lacks: the export fails as
	// unavailable, reserving nothing.
	h.importFeed("lost.json", feedJSON("EUC-2026-0003"), false)
	before, n := h.syncState("lon"), h.proposals()
	if _, err := h.sync.Export(ctx, h.audit, lon, api.ExportRequest{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("export without the feed file: %v", err)
	}
	if after := h.syncState("lon"); h.proposals() != n || after.ReservedSeq != before.ReservedSeq {
		t.Fatalf("a failed export proposed %d commands", h.proposals()-n)
	}
}
