package vuln

import (
	"bytes"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

// FuzzParseFeed: any bytes either parse into a valid feed (whose version
// is reproducible and whose records index and match without panicking) or
// are refused with an error; never a panic, never both.
func FuzzParseFeed(f *testing.F) {
	recs := fixtureRecords(f)
	for _, b := range recs {
		f.Add(b)
	}
	f.Add(jsonArray(recs["GO-2022-0229.json"], recs["GHSA-jfh8-c2jp-5v3q.json"]))
	f.Add(buildZip(f, zipEntry{"a.json", recs["DSA-5599-1.json"]}, zipEntry{"b.json", recs["x_LIMIT-1.json"]}, zipEntry{"README", []byte("x")}))
	f.Add([]byte(`[{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"x"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0a1"},{"fixed":"1.0.post1"},{"limit":"*"}]}]}]}]`))
	lim := facts.Limits{MaxEntries: 1000, MaxMetadata: 1 << 20, MaxUncompressed: 4 << 20}
	comps := []facts.Component{
		{Name: "x", Version: "1.0", Ecosystem: "PyPI"}, {Name: "stdlib", Version: "v1.13.2", Ecosystem: "Go"},
		{Name: "openssl", Version: "3.0.11-1~deb12u2", Ecosystem: "Debian"}, {Name: "a", Version: "", Ecosystem: "npm"},
		{Name: "x", PURL: "pkg:npm/x@1.0.0"}, {Name: "x", Version: "2.0", Ecosystem: "Maven"}, {Name: "x", Version: "1", Ecosystem: "Hackage"},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		feed, err := ParseFeed(bytes.NewReader(b), int64(len(b)), "fuzz", FeedOptions{Limits: lim})
		if err != nil {
			if feed != nil {
				t.Fatal("a feed and an error")
			}
			return
		}
		for _, r := range feed.Records {
			if r.ID == "" || r.Modified.IsZero() {
				t.Fatalf("invalid record accepted: %+v", r)
			}
		}
		again, err := ParseFeed(bytes.NewReader(b), int64(len(b)), "fuzz", FeedOptions{Limits: lim})
		if err != nil || again.Version != feed.Version {
			t.Fatalf("not reproducible: %v", err)
		}
		idx := NewIndex(feed)
		s := idx.Scan(comps)
		for _, r := range feed.Records {
			for _, a := range r.Affected {
				if a.Package == nil {
					continue
				}
				vs := append([]string{"0", "1.0.0"}, a.Versions...)
				for _, rg := range a.Ranges {
					for _, e := range rg.Events {
						vs = append(vs, e.Version)
					}
				}
				if len(vs) > 20 {
					vs = vs[:20] // the harness, not the matcher, would be quadratic
				}
				for _, v := range vs {
					s2 := idx.Scan([]facts.Component{{Name: a.Package.Name, Version: v, Ecosystem: a.Package.Ecosystem, PURL: a.Package.PURL}})
					_ = Decide(s2.Findings, Policy{}, nil)
				}
			}
		}
		_ = Decide(s.Findings, Policy{}, nil)
	})
}
