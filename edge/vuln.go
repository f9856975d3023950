package edge

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/eucora/eucora/internal/clip"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/packaging"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/vuln"
	"github.com/eucora/eucora/transfer"
)

// The offline vulnerability feed (EUCORA-architecture.md section 7.1,
// edge/DESIGN.md "Vulnerability feed"): every hub bundle carries a
// vuln-feed record, the hub's statement about its current OSV feed file
// (digest, size, version) signed by the key that signs the bundle; the
// file travels as an object while the site does not hold it. The edge
// verifies the statement with the hub keys it trusts, parses the file
// against it once when it is new, keeps both, and re-checks package files
// against it with no link (CheckFeed, FeedChecker.Check).

// ErrNoVulnFeed: the edge holds no vulnerability feed (no applied hub
// bundle carried one yet).
var ErrNoVulnFeed = errors.New("no vulnerability feed held")

// VulnFeed is the vulnerability feed an edge holds: the file (a held
// object) and the hub's signed statement about it.
type VulnFeed struct {
	Name      string        `json:"name"`
	SHA256    digest.Digest `json:"sha256"`
	Size      int64         `json:"size"`
	Version   string        `json:"version"` // vuln.Feed.Version
	Format    string        `json:"format"`
	Records   int           `json:"records"`
	Withdrawn int           `json:"withdrawn"`
	Newest    time.Time     `json:"newest_modified"`
	// KeyID is the hub key that signed Statement (the DSSE envelope over
	// a vuln.FeedStatement), kept so the file is re-verified offline.
	KeyID     string            `json:"signed_by"`
	Statement *signing.Envelope `json:"statement"`
	// BundleSeq and Received say which applied bundle first brought this
	// file, and when it was applied.
	BundleSeq uint64    `json:"bundle_seq"`
	Received  time.Time `json:"received"`
}

// feedUpdate is a verified vuln-feed record of a bundle being applied.
type feedUpdate struct {
	env    *signing.Envelope
	stmt   *vuln.FeedStatement
	key    string
	parsed *vuln.Feed // set when the file is new to the edge
}

// feedRefusal labels an error about the bundle's vuln-feed record: a
// signature that does not verify, or is by a key the edge does not trust,
// keeps its signing cause (exit 20); anything else makes the record
// malformed (transfer.ErrBadRecord, exit 21).
func feedRefusal(bundleID string, err error) error {
	if errors.Is(err, signing.ErrBadSignature) || errors.Is(err, signing.ErrUnknownKey) {
		return fmt.Errorf("bundle %s: vuln-feed record: %w", bundleID, err)
	}
	return fmt.Errorf("%w: bundle %s: vuln-feed record: %w", transfer.ErrBadRecord, bundleID, err)
}

// verifyVulnFeed verifies the bundle's vuln-feed record, if any, with
// trust (the keys the bundle itself verified with). It runs before
// checkReferences, which then requires the file the statement names.
func verifyVulnFeed(m *transfer.Manifest, rs *records, trust signing.Trust) error {
	if rs.vulnFeed == nil {
		return nil
	}
	stmt, key, err := vuln.VerifyStatement(rs.vulnFeed.env, trust)
	if err != nil {
		return feedRefusal(m.BundleID, err)
	}
	if stmt.Size <= 0 || stmt.Version == "" {
		return feedRefusal(m.BundleID, fmt.Errorf("the statement names %d bytes and version %q: want a size and a version", stmt.Size, stmt.Version))
	}
	rs.vulnFeed.stmt, rs.vulnFeed.key = stmt, key
	return nil
}

// parseVulnFeed parses the feed file the verified statement names, now in
// the store, when it is not the file the edge already holds: its digest
// and size against the statement, every record, and the version the
// records make against the statement's (vuln.ParseFeed). The file the
// edge holds was parsed when it arrived; a new statement about it must
// name the same version.
func (e *Edge) parseVulnFeed(st *state, m *transfer.Manifest, rs *records, trust signing.Trust) error {
	u := rs.vulnFeed
	if u == nil {
		return nil
	}
	if cur := st.VulnFeed; cur != nil && cur.SHA256 == u.stmt.SHA256 {
		if cur.Version != u.stmt.Version || cur.Size != u.stmt.Size {
			return feedRefusal(m.BundleID, fmt.Errorf("%w: the statement names file %s as version %s of %d bytes; the edge parsed it as version %s of %d bytes",
				vuln.ErrIntegrity, u.stmt.SHA256.Short(), u.stmt.Version, u.stmt.Size, cur.Version, cur.Size))
		}
		return nil
	}
	f, err := e.store.Open(u.stmt.SHA256)
	if err != nil {
		return fmt.Errorf("bundle %s: vuln-feed file %s: %w", m.BundleID, u.stmt.SHA256.Short(), err)
	}
	defer f.Close()
	feed, err := vuln.ParseFeed(f, u.stmt.Size, feedName(u.stmt), vuln.FeedOptions{Signature: u.env, Trust: trust})
	if err != nil {
		if errors.Is(err, vuln.ErrIntegrity) || errors.Is(err, facts.ErrDefect) {
			return feedRefusal(m.BundleID, err)
		}
		return fmt.Errorf("bundle %s: vuln-feed file %s: %w", m.BundleID, u.stmt.SHA256.Short(), err)
	}
	u.parsed = feed
	return nil
}

func feedName(s *vuln.FeedStatement) string {
	if s.Name != "" {
		return clip.String(filepath.Base(s.Name), 200)
	}
	return "feed " + s.SHA256.Short()
}

// applyVulnFeed makes the verified feed the state's current one. A bundle
// without a vuln-feed record leaves the feed as it is: a hub cannot
// withdraw its feed, only import a newer one.
func (u *feedUpdate) apply(st *state, seq uint64, at time.Time) {
	if u.parsed == nil { // the file the edge holds, statement renewed (a new hub key)
		st.VulnFeed.Statement, st.VulnFeed.KeyID = u.env, u.key
		return
	}
	p := u.parsed
	st.VulnFeed = &VulnFeed{Name: feedName(u.stmt), SHA256: p.SHA256, Size: p.Size, Version: p.Version, Format: p.Format, Records: p.Count,
		Withdrawn: p.Withdrawn, Newest: p.Newest, KeyID: u.key, Statement: u.env, BundleSeq: seq, Received: at}
}

// VulnFeed returns the vulnerability feed the edge holds, as recorded
// when it arrived (ErrNoVulnFeed if none). CheckFeed re-verifies it.
func (e *Edge) VulnFeed() (*VulnFeed, error) {
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	if st.VulnFeed == nil {
		return nil, fmt.Errorf("%w at edge %s: no applied hub bundle carried one; the hub sends its current feed ('eucora vuln import FEED' there) with the next bundle", ErrNoVulnFeed, st.Site)
	}
	return st.VulnFeed, nil
}

// FeedChecker matches package files against the edge's feed, offline. It
// is safe for concurrent use.
type FeedChecker struct {
	Feed *VulnFeed
	feed *vuln.Feed
	idx  *vuln.Index
}

// CheckFeed loads the edge's feed for checking packages: the file is read
// from the store and verified again against the hub's statement (digest,
// size, version) with the hub keys the edge trusts now, parsed and
// indexed. A file that rotted on disk is a *digest.MismatchError (wrapped
// with vuln.ErrIntegrity); ErrNoVulnFeed if the edge holds none.
func (e *Edge) CheckFeed() (*FeedChecker, error) {
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	if st.VulnFeed == nil {
		return nil, fmt.Errorf("%w at edge %s: no applied hub bundle carried one; the hub sends its current feed ('eucora vuln import FEED' there) with the next bundle", ErrNoVulnFeed, st.Site)
	}
	vf := st.VulnFeed
	f, err := e.store.Open(vf.SHA256)
	if err != nil {
		return nil, fmt.Errorf("vulnerability feed %s: file %s: %w", vf.Version, vf.SHA256.Short(), err)
	}
	defer f.Close()
	feed, err := vuln.ParseFeed(f, vf.Size, vf.Name, vuln.FeedOptions{Signature: vf.Statement, Trust: e.trust(st)})
	if err != nil {
		return nil, fmt.Errorf("vulnerability feed %s held by this edge: %w", vf.Version, err)
	}
	return &FeedChecker{Feed: vf, feed: feed, idx: vuln.NewIndex(feed)}, nil
}

// PackageCheck is one package file checked against the edge's feed.
type PackageCheck struct {
	File     string         `json:"file"`
	Kind     facts.Kind     `json:"kind"`
	SHA256   digest.Digest  `json:"sha256"`
	Size     int64          `json:"size"`
	Identity facts.Identity `json:"identity"`
	// Report is the scan report the hub's intake writes for the same
	// components (vuln.NewReport): the feed, every finding and the policy
	// decision (default policy, no exception).
	Report *vuln.Report `json:"report"`
}

// Check reads the facts of the package file called name (packaging.Inspect:
// its extension says its type), matches its components against the feed
// and decides the default policy (CRITICAL and HIGH block) at at (zero:
// now), as the hub's intake does for the file's own components. A file
// that is not what its name claims, truncated or malformed is a
// *facts.DefectError; packaging.ErrUnknownType for a type the factory does
// not read.
func (c *FeedChecker) Check(name string, r io.ReaderAt, size int64, at time.Time) (*PackageCheck, error) {
	d, n, err := digest.FromReader(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if n != size {
		return nil, fmt.Errorf("%s: read %d bytes, want %d", name, n, size)
	}
	f, err := packaging.Inspect(name, r, size, facts.Options{})
	if err != nil {
		return nil, err
	}
	sc := c.idx.Scan(f.Components)
	dec := vuln.Decide(sc.Findings, vuln.Policy{Artifact: d, FeedVersion: c.idx.FeedVersion(), At: at}, nil)
	return &PackageCheck{File: name, Kind: f.Kind, SHA256: d, Size: size, Identity: f.Identity,
		Report: vuln.NewReport(c.feed, c.idx, sc, dec)}, nil
}

// CheckFile is Check of the file at path.
func (c *FeedChecker) CheckFile(path string, at time.Time) (*PackageCheck, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	pc, err := c.Check(path, f, fi.Size(), at)
	if pc != nil {
		pc.File = path
	}
	return pc, err
}
