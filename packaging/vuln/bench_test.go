package vuln

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/packaging/facts"
)

// The benchmark corpus: 100,000 OSV records over 12 ecosystems in roughly
// osv.dev's proportions, each with one or two affected entries of 1-4
// ranges (introduced/fixed pairs, some last_affected, some versions
// lists), CVSS v3/v4 vectors or database_specific severities; and 10,000
// SBOM components, half of them packages the feed names (at versions
// inside and outside the ranges), a tenth of them by purl only.
const (
	benchRecords    = 100_000
	benchComponents = 10_000
)

type benchEco struct {
	name   string
	weight int
	ver    func(r *rand.Rand, major int) string
	purl   string
}

func semverV(r *rand.Rand, major int) string {
	v := fmt.Sprintf("%d.%d.%d", major, r.IntN(20), r.IntN(30))
	if r.IntN(10) == 0 {
		v += fmt.Sprintf("-rc.%d", r.IntN(4))
	}
	return v
}

var benchEcos = []benchEco{
	{"npm", 20, semverV, "npm"},
	{"PyPI", 15, func(r *rand.Rand, m int) string {
		v := fmt.Sprintf("%d.%d.%d", m, r.IntN(20), r.IntN(30))
		switch r.IntN(12) {
		case 0:
			v += fmt.Sprintf("rc%d", r.IntN(3)+1)
		case 1:
			v += fmt.Sprintf(".post%d", r.IntN(3)+1)
		}
		return v
	}, "pypi"},
	{"Maven", 12, func(r *rand.Rand, m int) string {
		v := fmt.Sprintf("%d.%d.%d", m, r.IntN(20), r.IntN(30))
		if r.IntN(10) == 0 {
			v += []string{"-RC1", "-M2", ".Final", "-beta-1"}[r.IntN(4)]
		}
		return v
	}, "maven"},
	{"Go", 8, func(r *rand.Rand, m int) string { return fmt.Sprintf("%d.%d.%d", m, r.IntN(20), r.IntN(30)) }, "golang"},
	{"Debian:12", 9, func(r *rand.Rand, m int) string {
		v := fmt.Sprintf("%d.%d.%d-%d", m, r.IntN(20), r.IntN(30), r.IntN(5)+1)
		if r.IntN(3) == 0 {
			v += fmt.Sprintf("~deb12u%d", r.IntN(5)+1)
		}
		if r.IntN(8) == 0 {
			v = "1:" + v
		}
		return v
	}, ""},
	{"Debian:11", 6, func(r *rand.Rand, m int) string {
		return fmt.Sprintf("%d.%d.%d-%d+deb11u%d", m, r.IntN(20), r.IntN(30), r.IntN(5)+1, r.IntN(5)+1)
	}, ""},
	{"Ubuntu:22.04:LTS", 8, func(r *rand.Rand, m int) string {
		return fmt.Sprintf("%d.%d.%d-%dubuntu%d.%d", m, r.IntN(20), r.IntN(30), r.IntN(5)+1, r.IntN(5), r.IntN(5))
	}, ""},
	{"Alpine:v3.19", 5, func(r *rand.Rand, m int) string {
		return fmt.Sprintf("%d.%d.%d-r%d", m, r.IntN(20), r.IntN(30), r.IntN(5))
	}, ""},
	{"RubyGems", 4, func(r *rand.Rand, m int) string { return fmt.Sprintf("%d.%d.%d", m, r.IntN(20), r.IntN(30)) }, "gem"},
	{"crates.io", 4, semverV, "cargo"},
	{"NuGet", 4, func(r *rand.Rand, m int) string { return fmt.Sprintf("%d.%d.%d", m, r.IntN(20), r.IntN(30)) }, "nuget"},
	{"Red Hat:enterprise_linux:9::appstream", 3, func(r *rand.Rand, m int) string {
		return fmt.Sprintf("%d.%d.%d-%d.el9_%d", m, r.IntN(20), r.IntN(30), r.IntN(30)+1, r.IntN(4))
	}, ""},
	{"Packagist", 2, semverV, "composer"},
}

var cvss3Bench = []string{
	"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
	"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
	"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N",
}

var cvss4Bench = []string{
	"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N",
	"CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
}

type benchPkg struct {
	eco  *benchEco
	name string
}

func benchCorpus(tb testing.TB) ([]byte, []facts.Component) {
	r := rand.New(rand.NewPCG(1, 2))
	total := 0
	for _, e := range benchEcos {
		total += e.weight
	}
	pick := func() *benchEco {
		n := r.IntN(total)
		for i := range benchEcos {
			if n < benchEcos[i].weight {
				return &benchEcos[i]
			}
			n -= benchEcos[i].weight
		}
		return &benchEcos[0]
	}
	name := func(e *benchEco, i int) string {
		switch e.name {
		case "Maven":
			return fmt.Sprintf("org.example%d:artifact-%d", i%97, i)
		case "Go":
			return fmt.Sprintf("github.com/example%d/module-%d", i%89, i)
		case "npm":
			if i%5 == 0 {
				return fmt.Sprintf("@scope%d/pkg-%d", i%13, i)
			}
		case "Packagist":
			return fmt.Sprintf("vendor%d/pkg-%d", i%31, i)
		}
		return fmt.Sprintf("pkg-%d", i)
	}
	// 25,000 packages: four records each on average
	pkgs := make([]benchPkg, 25_000)
	for i := range pkgs {
		e := pick()
		pkgs[i] = benchPkg{e, name(e, i)}
	}
	var buf bytes.Buffer
	buf.WriteString("[")
	enc := json.NewEncoder(&buf)
	modified := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < benchRecords; i++ {
		p := pkgs[r.IntN(len(pkgs))]
		rec := map[string]any{"id": fmt.Sprintf("BENCH-%06d", i), "modified": modified.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"aliases": []string{fmt.Sprintf("CVE-2099-%06d", i)}, "summary": "generated"}
		switch n := r.IntN(10); {
		case n < 6:
			rec["severity"] = []map[string]string{{"type": "CVSS_V3", "score": cvss3Bench[r.IntN(len(cvss3Bench))]}}
		case n < 7:
			rec["severity"] = []map[string]string{{"type": "CVSS_V4", "score": cvss4Bench[r.IntN(len(cvss4Bench))]}}
		case n < 9:
			rec["database_specific"] = map[string]string{"severity": []string{"CRITICAL", "HIGH", "MODERATE", "LOW"}[r.IntN(4)]}
		}
		affected := []map[string]any{benchAffected(r, p)}
		if p.eco.name == "Debian:12" && r.IntN(2) == 0 {
			affected = append(affected, benchAffected(r, benchPkg{&benchEcos[5], p.name}))
		}
		rec["affected"] = affected
		if i > 0 {
			buf.WriteString(",")
		}
		if err := enc.Encode(rec); err != nil {
			tb.Fatal(err)
		}
	}
	buf.WriteString("]")

	comps := make([]facts.Component, benchComponents)
	for i := range comps {
		var p benchPkg
		if i%2 == 0 {
			p = pkgs[r.IntN(len(pkgs))]
		} else {
			e := pick()
			p = benchPkg{e, name(e, 100_000+i)}
		}
		c := facts.Component{Name: p.name, Version: p.eco.ver(r, r.IntN(4)), Ecosystem: p.eco.name}
		if p.eco.name == "Go" {
			c.Version = "v" + c.Version
		}
		if i%10 == 0 && p.eco.purl != "" {
			c.PURL = fmt.Sprintf("pkg:%s/%s@%s", p.eco.purl, p.name, c.Version)
			if p.eco.purl == "maven" {
				c.PURL = fmt.Sprintf("pkg:maven/%s@%s", bytes.ReplaceAll([]byte(p.name), []byte(":"), []byte("/")), c.Version)
			}
			c.Ecosystem = ""
		}
		comps[i] = c
	}
	return buf.Bytes(), comps
}

func benchAffected(r *rand.Rand, p benchPkg) map[string]any {
	var ranges []map[string]any
	n := r.IntN(4) + 1
	typ := "ECOSYSTEM"
	if p.eco.name == "npm" || p.eco.name == "Go" || p.eco.name == "crates.io" {
		typ = "SEMVER"
	}
	for j := 0; j < n; j++ {
		major := j
		evs := []map[string]string{{"introduced": "0"}}
		if j > 0 || r.IntN(3) == 0 {
			evs = []map[string]string{{"introduced": p.eco.ver(r, major)}}
		}
		if r.IntN(8) == 0 {
			evs = append(evs, map[string]string{"last_affected": p.eco.ver(r, major)})
		} else if r.IntN(10) != 0 {
			evs = append(evs, map[string]string{"fixed": p.eco.ver(r, major)})
		}
		ranges = append(ranges, map[string]any{"type": typ, "events": evs})
	}
	a := map[string]any{"package": map[string]string{"ecosystem": p.eco.name, "name": p.name}, "ranges": ranges}
	if r.IntN(5) == 0 {
		a["versions"] = []string{p.eco.ver(r, 0), p.eco.ver(r, 1)}
	}
	return a
}

var (
	benchOnce  sync.Once
	benchFeed  *Feed
	benchJSON  []byte
	benchComps []facts.Component
)

func benchSetup(b *testing.B) {
	benchOnce.Do(func() {
		benchJSON, benchComps = benchCorpus(b)
		f, err := ParseFeed(bytes.NewReader(benchJSON), int64(len(benchJSON)), "bench.json", FeedOptions{})
		if err != nil {
			b.Fatal(err)
		}
		benchFeed = f
	})
}

// BenchmarkMatch matches 10,000 components against 100,000 records: a
// fresh index each time (index + match: the full match of a new feed),
// and an index already warm (ranges prepared). Target: under 1 s.
func BenchmarkMatch(b *testing.B) {
	benchSetup(b)
	var s *Scan
	b.Run("index+match", func(b *testing.B) {
		c0 := cpuTime()
		for b.Loop() {
			s = NewIndex(benchFeed).Scan(benchComps)
		}
		b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(len(s.Findings)), "findings")
	})
	idx := NewIndex(benchFeed)
	idx.Scan(benchComps)
	b.Run("warm", func(b *testing.B) {
		c0 := cpuTime()
		for b.Loop() {
			s = idx.Scan(benchComps)
		}
		b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(len(s.Findings)), "findings")
	})
	undecided := 0
	for _, f := range s.Findings {
		if f.Undecided {
			undecided++
		}
	}
	b.Logf("%d records, %d components: %d findings (%d undecided), %d checked, unmatched %v", benchFeed.Count, len(benchComps), len(s.Findings), undecided, s.Checked, s.Unmatched)
}

// BenchmarkParseFeed decodes and validates the 100,000-record feed (a JSON
// array) and computes its version.
func BenchmarkParseFeed(b *testing.B) {
	benchSetup(b)
	b.SetBytes(int64(len(benchJSON)))
	c0 := cpuTime()
	for b.Loop() {
		if _, err := ParseFeed(bytes.NewReader(benchJSON), int64(len(benchJSON)), "bench.json", FeedOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}
