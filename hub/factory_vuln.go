package hub

import (
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/vuln"
)

// Offline vulnerability policy (EUCORA-architecture.md section 7.1): a
// security reviewer or platform admin imports OSV feeds (POST
// /v1/vuln/feeds?name=FILE[&sha256=HEX][&source=TEXT], the file as the
// body); the newest one is what intake matches SBOM components against.
// The feed file is kept as a blob, so an edge can re-check offline.

// maxFeedBody bounds an imported feed file (osv.dev's all.zip is about 1 GiB).
const maxFeedBody = 4 << 30

// vulnIndex is a parsed feed and its index, cached per feed id.
type vulnIndex struct {
	feed *vuln.Feed
	idx  *vuln.Index
}

// vulnCache holds the index of the current feed.
type vulnCache struct {
	mu  sync.Mutex
	id  string
	idx *vulnIndex
}

// scanResult is the policy's outcome as the catalog records it.
type scanResult struct {
	counts   deploy.VulnCounts
	decision deploy.ScanDecision
	blocking []deploy.BlockingFinding
}

// vulnIndex returns the index of the current feed, parsing its blob once.
func (s *Server) vulnIndex() (*vulnIndex, store.VulnFeed, error) {
	rec, err := s.store.State().VulnFeed("")
	if err != nil {
		return nil, rec, fmt.Errorf("package intake needs an offline vulnerability feed: %w", err)
	}
	c := &s.vulns
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id == rec.ID && c.idx != nil {
		return c.idx, rec, nil
	}
	f, err := s.cas.Open(digest.Canonical(rec.Blob))
	if err != nil {
		return nil, rec, fmt.Errorf("vulnerability feed %s: blob %s: %w", rec.ID, rec.Blob, err)
	}
	defer f.Close()
	feed, err := vuln.ParseFeed(f, rec.Size, rec.Name, vuln.FeedOptions{SHA256: string(rec.Blob)})
	if err != nil {
		return nil, rec, fmt.Errorf("vulnerability feed %s: %w", rec.ID, err)
	}
	c.id, c.idx = rec.ID, &vulnIndex{feed: feed, idx: vuln.NewIndex(feed)}
	return c.idx, rec, nil
}

// scan matches components of the artifact against the feed and decides
// the policy: the report (scan_report) and decision (policy_decision)
// documents, and the outcome.
func (v *vulnIndex) scan(artifact digest.Digest, comps []facts.Component) (scanResult, []byte, []byte, error) {
	sc := v.idx.Scan(comps)
	d := vuln.Decide(sc.Findings, vuln.Policy{Artifact: artifact, FeedVersion: v.idx.FeedVersion()}, nil)
	report, err := vuln.NewReport(v.feed, v.idx, sc, d).JSON()
	if err != nil {
		return scanResult{}, nil, nil, err
	}
	dec, err := d.JSON()
	if err != nil {
		return scanResult{}, nil, nil, err
	}
	res := scanResult{decision: d.Outcome, counts: deploy.VulnCounts{Critical: d.Counts.Critical, High: d.Counts.High, Medium: d.Counts.Medium, Low: d.Counts.Low}}
	seen := map[string]bool{}
	for _, id := range d.Blocking {
		if seen[id] {
			continue
		}
		seen[id] = true
		b := deploy.BlockingFinding{ID: id}
		for _, f := range sc.Findings {
			if f.ID == id {
				b.Aliases = f.Aliases
				break
			}
		}
		res.blocking = append(res.blocking, b)
	}
	return res, report, dec, nil
}

func (s *Server) handleVulnFeedImport(w http.ResponseWriter, r *http.Request, p *Principal) {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		writeInputError(w, badField("name", "required: the feed file's name (.json or .zip)"))
		return
	}
	wr, err := s.cas.Create("", r.ContentLength)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	defer wr.Abort()
	if _, err := io.Copy(wr, http.MaxBytesReader(w, r.Body, maxFeedBody)); err != nil {
		writeError(w, http.StatusBadRequest, "reading the feed: %v; nothing was imported", err)
		return
	}
	feed, err := vuln.ParseFeed(wr, wr.Written(), name, vuln.FeedOptions{SHA256: q.Get("sha256")})
	if err != nil {
		writeInputError(w, badField("feed", "%v; nothing was imported", err))
		return
	}
	d, err := wr.Commit()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if err := s.holdBlob(r.Context(), d, feed.Size, "vulnerability feed"); err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v; retry", err)
		return
	}
	src := q.Get("source")
	if src == "" {
		src = name
	}
	rec := store.VulnFeed{ID: feed.Version, Name: name, Blob: digest.Digest(d.String()), Size: feed.Size, Records: feed.Count, Newest: feed.Newest,
		Source: src, ImportedBy: p.actor(), ImportedAt: store.NowUTC()}
	s.apply(w, r, p, store.CmdVulnFeedImport, "vuln-feed/"+feed.Version, rec, http.StatusCreated)
}

func (s *Server) handleVulnFeedGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, err := s.store.State().VulnFeed("")
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rec.View())
}
