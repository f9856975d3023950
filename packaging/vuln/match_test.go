package vuln

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

var (
	fixtureOnce sync.Once
	fixtureFeed *Feed
)

// fixtureIndex is every fixture record in one feed (a zip, as osv.dev ships them).
func fixtureIndex(t testing.TB) (*Feed, *Index) {
	t.Helper()
	fixtureOnce.Do(func() {
		f, err := parse(t, buildZip(t, sortedEntries(fixtureRecords(t))...), "all.zip", FeedOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fixtureFeed = f
	})
	return fixtureFeed, NewIndex(fixtureFeed)
}

// want is one expected finding: "ID fixed=X SEVERITY [undecided]".
func describe(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		s := f.ID + " fixed=" + f.Fixed + " " + string(f.Severity)
		if f.Undecided {
			s += " undecided"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestMatchFixtures matches components against the real and hand-written
// records: every ecosystem's order, unsorted events, multiple ranges,
// versions lists, epochs, tildes, pseudo-versions, purls, source packages,
// release suffixes, withdrawn records.
func TestMatchFixtures(t *testing.T) {
	_, idx := fixtureIndex(t)
	type C = facts.Component
	cases := []struct {
		c    C
		want []string
	}{
		// Go vulnerability database: stdlib with two ranges, pseudo-versions, v prefix
		{C{Name: "stdlib", Version: "v1.13.2", Ecosystem: "Go"}, []string{"GO-2021-0264 fixed=1.16.10 UNKNOWN", "GO-2022-0229 fixed=1.13.7 UNKNOWN"}},
		{C{Name: "stdlib", Version: "go1.13.7", Ecosystem: "Go"}, []string{"GO-2021-0264 fixed=1.16.10 UNKNOWN"}},
		{C{Name: "stdlib", Version: "go1.17.3", Ecosystem: "Go"}, nil},
		{C{Name: "stdlib", Version: "go1.17rc1", Ecosystem: "Go"}, nil}, // 1.17.0-rc.1: after 1.16.10, before 1.17.0
		{C{Name: "golang.org/x/crypto", Version: "v0.0.0-20200115085410-6d4e4cb37c7d", Ecosystem: "Go"}, []string{"GO-2022-0229 fixed=0.0.0-20200124225646-8b5121be2f68 UNKNOWN"}},
		{C{Name: "golang.org/x/crypto", Version: "v0.0.0-20200124225646-8b5121be2f68", Ecosystem: "Go"}, nil},
		{C{Name: "golang.org/x/net", Version: "v0.0.0-20220425223048-2871e0cb64e4", Ecosystem: "Go"}, []string{"GO-2022-0969 fixed=0.0.0-20220906165146-f3363e06e74c UNKNOWN"}},
		{C{Name: "golang.org/x/net", Version: "v0.1.0", Ecosystem: "Go"}, nil},
		{C{Name: "github.com/astaxie/beego", Version: "v1.12.3", Ecosystem: "Go"}, []string{"GO-2022-0463 fixed= UNKNOWN"}},
		{C{Name: "beego", PURL: "pkg:golang/github.com/beego/beego/v2@v2.0.2"}, []string{"GO-2022-0463 fixed=2.0.3 UNKNOWN"}},
		{C{Name: "golang.org/x/text", Version: "v0.3.5+incompatible", Ecosystem: "Go"}, []string{"GO-2021-0113 fixed=0.3.7 UNKNOWN"}},
		// GHSA Maven: two packages, unsorted multi-range events, log4j's three ranges
		{C{Name: "com.typesafe.akka:akka-actor_2.12", Version: "2.5.3", Ecosystem: "Maven"}, []string{"GHSA-mr95-9rr4-668f fixed=2.5.16 UNKNOWN"}},
		{C{Name: "com.typesafe.akka:akka-actor_2.11", Version: "2.5.16", Ecosystem: "Maven"}, nil},
		{C{Name: "com.typesafe.akka:akka-actor_2.11", Version: "2.4.20", Ecosystem: "Maven"}, nil},
		{C{Name: "org.xwiki.commons:xwiki-commons-core", Version: "12.5", Ecosystem: "Maven"}, []string{"GHSA-76mp-659p-rw65 fixed=12.6.7 UNKNOWN"}},
		{C{Name: "org.xwiki.commons:xwiki-commons-core", Version: "12.8", Ecosystem: "Maven"}, nil},
		{C{Name: "org.xwiki.commons:xwiki-commons-core", Version: "11.10.12", Ecosystem: "Maven"}, []string{"GHSA-76mp-659p-rw65 fixed=11.10.13 UNKNOWN"}},
		{C{Name: "org.xwiki.commons:xwiki-commons-core", Version: "12.10.1", Ecosystem: "Maven"}, []string{"GHSA-76mp-659p-rw65 fixed=12.10.2 UNKNOWN"}},
		{C{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Ecosystem: "Maven"}, []string{"GHSA-jfh8-c2jp-5v3q fixed=2.15.0 CRITICAL"}},
		{C{Name: "log4j-core", PURL: "pkg:maven/org.apache.logging.log4j/log4j-core@2.0-beta9"}, []string{"GHSA-jfh8-c2jp-5v3q fixed=2.3.1 CRITICAL"}},
		{C{Name: "org.apache.logging.log4j:log4j-core", Version: "2.0-beta8", Ecosystem: "Maven"}, nil},
		{C{Name: "log4j-core", Version: "2.14.1", Ecosystem: "Maven", PURL: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}, []string{"GHSA-jfh8-c2jp-5v3q fixed=2.15.0 CRITICAL"}},
		{C{Name: "org.apache.logging.log4j:log4j-core", Version: "2.3", Ecosystem: "Maven"}, []string{"GHSA-jfh8-c2jp-5v3q fixed=2.3.1 CRITICAL"}},
		{C{Name: "org.apache.logging.log4j:log4j-core", Version: "2.12.2", Ecosystem: "Maven"}, nil},
		{C{Name: "org.apache.logging.log4j:log4j-core", Version: "2.15.0", Ecosystem: "Maven"}, nil},
		{C{Name: "org.apache.logging.log4j:log4j-api", Version: "2.14.1", Ecosystem: "Maven"}, nil},
		// GHSA RubyGems: a withdrawn record, unsorted events, a versions list
		{C{Name: "activesupport", Version: "4.2.1", Ecosystem: "RubyGems"}, nil},
		{C{Name: "passenger", Version: "3.0.20", Ecosystem: "RubyGems"}, []string{"GHSA-9qj7-jvg4-qr2x fixed=3.0.21 UNKNOWN"}},
		{C{Name: "passenger", Version: "3.0.21", Ecosystem: "RubyGems"}, nil},
		{C{Name: "passenger", Version: "4.0.2", Ecosystem: "RubyGems"}, []string{"GHSA-9qj7-jvg4-qr2x fixed=4.0.5 UNKNOWN"}},
		{C{Name: "paranoid2", Version: "1.1.6", Ecosystem: "RubyGems"}, []string{"GHSA-4g4c-8gqh-m4vm fixed= UNKNOWN"}},
		{C{Name: "paranoid2", Version: "1.1.5", Ecosystem: "RubyGems"}, nil},
		// GHSA npm: SEMVER ranges with unsorted events, pre-releases
		{C{Name: "mixin-deep", Version: "1.3.1", Ecosystem: "npm"}, []string{"GHSA-fhjf-83wg-r2j9 fixed=1.3.2 UNKNOWN"}},
		{C{Name: "mixin-deep", Version: "1.3.2", Ecosystem: "npm"}, nil},
		{C{Name: "mixin-deep", Version: "2.0.0", Ecosystem: "npm"}, []string{"GHSA-fhjf-83wg-r2j9 fixed=2.0.1 UNKNOWN"}},
		{C{Name: "mixin-deep", Version: "2.0.1", Ecosystem: "npm"}, nil},
		{C{Name: "jquery", Version: "2.1.1-beta.1", Ecosystem: "npm"}, []string{"GHSA-mhpp-875w-9cpv fixed=3.0.0 UNKNOWN"}},
		{C{Name: "jquery", Version: "2.1.0", Ecosystem: "npm"}, nil},
		{C{Name: "i18next", Version: "1.10.2", Ecosystem: "npm"}, []string{"GHSA-f89g-whpf-6q9m fixed=1.10.3 UNKNOWN"}},
		{C{Name: "traverse", PURL: "pkg:npm/%40babel/traverse@7.23.1"}, []string{"GHSA-67hx-6x53-jw92 fixed=7.23.2 CRITICAL"}},
		{C{Name: "@babel/traverse", Version: "8.0.0-alpha.3", Ecosystem: "npm"}, []string{"GHSA-67hx-6x53-jw92 fixed=8.0.0-alpha.4 CRITICAL"}},
		{C{Name: "@babel/traverse", Version: "8.0.0-alpha.4", Ecosystem: "npm"}, nil},
		// PyPI: PEP 503 names, pre/post/dev releases, epochs, local versions
		{C{Name: "Products.PluggableAuthService", Version: "2.6.0", Ecosystem: "PyPI"}, []string{"GHSA-p44j-xrqg-4xrr fixed=2.6.1 UNKNOWN"}},
		{C{Name: "Zope.Interface_Extras", Version: "1.0", Ecosystem: "PyPI"}, []string{"PYSEC-2099-1 fixed=1.0.post1 HIGH"}},
		{C{Name: "zope-interface-extras", Version: "1.0rc1", Ecosystem: "PyPI"}, []string{"PYSEC-2099-1 fixed=1.0.post1 HIGH"}},
		{C{Name: "zope-interface-extras", Version: "1.0+ubuntu1", Ecosystem: "PyPI"}, []string{"PYSEC-2099-1 fixed=1.0.post1 HIGH"}},
		{C{Name: "zope-interface-extras", Version: "1.0.post1.dev3", Ecosystem: "PyPI"}, []string{"PYSEC-2099-1 fixed=1.0.post1 HIGH"}},
		{C{Name: "zope-interface-extras", Version: "1.0.post1", Ecosystem: "PyPI"}, nil},
		{C{Name: "zope-interface-extras", Version: "1.0.dev1", Ecosystem: "PyPI"}, nil},
		{C{Name: "zope-interface-extras", Version: "2!0.2", Ecosystem: "PyPI"}, []string{"PYSEC-2099-1 fixed=2!0.3 HIGH"}},
		{C{Name: "zope-interface-extras", Version: "5.0", Ecosystem: "PyPI"}, nil},
		// Red Hat: RPM order, epoch 0 implied, CPE-suffixed streams, purl
		{C{Name: "git-lfs", Version: "2.13.3-3.el8_6", Ecosystem: "Red Hat:rhel_aus:8.6::appstream"}, []string{"RHSA-2024:4546 fixed=0:2.13.3-3.el8_6.1 HIGH"}},
		{C{Name: "git-lfs", Version: "2.13.3-3.el8_6", PURL: "pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6?arch=x86_64"}, []string{"RHSA-2024:4546 fixed=0:2.13.3-3.el8_6.1 HIGH"}},
		{C{Name: "git-lfs", Version: "0:2.13.3-3.el8_6.1", Ecosystem: "Red Hat"}, nil},
		{C{Name: "git-lfs", Version: "2.13.3-3.el8_6", Ecosystem: "Red Hat:enterprise_linux:9::appstream"}, nil},
		// Debian: epochs (the trap: no epoch is epoch 0), tildes, releases, source packages
		{C{Name: "mariadb", Version: "1:10.11.6-0+deb12u1", Ecosystem: "Debian:12"}, []string{"DEBIAN-CVE-2024-21096 fixed=1:10.11.8-0+deb12u1 UNKNOWN"}},
		{C{Name: "mariadb", Version: "10.11.9-1", Ecosystem: "Debian:12"}, []string{"DEBIAN-CVE-2024-21096 fixed=1:10.11.8-0+deb12u1 UNKNOWN"}},
		{C{Name: "mariadb", Version: "1:11.4.2-1", Ecosystem: "Debian"}, nil},
		{C{Name: "mariadb", Version: "1:10.11.8-0+deb12u1", Ecosystem: "Debian:12"}, nil},
		{C{Name: "mariadb-10.5", Version: "1:10.5.25-0+deb11u1", Ecosystem: "Debian:11"}, []string{"DEBIAN-CVE-2024-21096 fixed=1:10.5.26-0+deb11u1 UNKNOWN"}},
		{C{Name: "openssl", Version: "3.0.11-1~deb12u2", Ecosystem: "Debian:12"}, []string{"DSA-5599-1 fixed=3.0.13-1~deb12u1 UNKNOWN"}},
		{C{Name: "openssl", Version: "3.0.13-1", Ecosystem: "Debian:12"}, nil},
		{C{Name: "openssl", Version: "3.0.11-1~deb12u2", Ecosystem: "Debian:11"}, nil},
		{C{Name: "libssl3", Version: "3.0.11-1~deb12u2", PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12"}, []string{"DSA-5599-1 fixed=3.0.13-1~deb12u1 UNKNOWN"}},
		{C{Name: "libssl3", Version: "3.0.11-1~deb12u2", Ecosystem: "Debian"}, nil},
		// Ubuntu: priority as severity, releases with :LTS, source via purl
		{C{Name: "zlib", Version: "1:1.2.11.dfsg-2ubuntu9", Ecosystem: "Ubuntu:22.04"}, []string{"UBUNTU-CVE-2022-37434 fixed=1:1.2.11.dfsg-2ubuntu9.1 MEDIUM"}},
		{C{Name: "zlib1g", Version: "1:1.2.11.dfsg-2ubuntu9", PURL: "pkg:deb/ubuntu/zlib1g@1:1.2.11.dfsg-2ubuntu9?arch=amd64&upstream=zlib&distro=ubuntu-22.04"}, []string{"UBUNTU-CVE-2022-37434 fixed=1:1.2.11.dfsg-2ubuntu9.1 MEDIUM"}},
		{C{Name: "zlib", Version: "1:1.2.11.dfsg-2ubuntu9", Ecosystem: "Ubuntu:20.04:LTS"}, nil},
		// Alpine: apk order, v-prefixed releases
		{C{Name: "openssl", Version: "3.1.3-r0", Ecosystem: "Alpine:v3.18"}, []string{"ALPINE-CVE-2023-5363 fixed=3.1.4-r0 HIGH"}},
		{C{Name: "openssl", Version: "3.1.3-r0", Ecosystem: "Alpine:3.18"}, []string{"ALPINE-CVE-2023-5363 fixed=3.1.4-r0 HIGH"}},
		{C{Name: "openssl", Version: "3.1.4-r0", Ecosystem: "Alpine:v3.18"}, nil},
		{C{Name: "openssl", Version: "3.1.3-r0", Ecosystem: "Alpine:v3.19"}, nil},
		// an ecosystem without an order here: decided by versions[], else undecided
		{C{Name: "symfony/http-kernel", Version: "5.4.19", Ecosystem: "Packagist"}, []string{"GHSA-9xrc-8mfc-8pqf fixed= HIGH"}},
		{C{Name: "symfony/http-kernel", Version: "5.4.10", Ecosystem: "Packagist"}, []string{"GHSA-9xrc-8mfc-8pqf fixed= HIGH undecided"}},
		{C{Name: "http-kernel", Version: "5.4.10", PURL: "pkg:composer/Symfony/Http-Kernel@5.4.10"}, []string{"GHSA-9xrc-8mfc-8pqf fixed= HIGH undecided"}},
		// GIT ranges are ignored; the versions osv.dev lists still match
		{C{Name: "libfoo", Version: "v1.2.1", Ecosystem: "OSS-Fuzz"}, []string{"OSV-2099-100 fixed= UNKNOWN"}},
		{C{Name: "libfoo", Version: "v1.3.0", Ecosystem: "OSS-Fuzz"}, nil},
		// last_affected is inclusive; limit events bound the range; CVSS v2 alone gives HIGH
		{C{Name: "lastaff", Version: "2.1.214", Ecosystem: "crates.io"}, []string{"x_EUCORA-2099-1 fixed= HIGH"}},
		{C{Name: "lastaff", Version: "2.1.215", Ecosystem: "crates.io"}, nil},
		{C{Name: "limited", Version: "5.0.0", Ecosystem: "npm"}, []string{"x_EUCORA-2099-1 fixed= HIGH"}},
		{C{Name: "limited-only", Version: "2.9.9", Ecosystem: "npm"}, []string{"x_EUCORA-2099-1 fixed= HIGH"}},
		{C{Name: "limited-only", Version: "3.0.0", Ecosystem: "npm"}, nil},
		{C{Name: "limited-only", Version: "0.9.0", Ecosystem: "npm"}, nil},
		// ecosystem names in another case are the schema's
		{C{Name: "Products.PluggableAuthService", Version: "2.6.0", Ecosystem: "pypi"}, []string{"GHSA-p44j-xrqg-4xrr fixed=2.6.1 UNKNOWN"}},
		{C{Name: "openssl", Version: "3.0.11-1~deb12u2", Ecosystem: "debian:12"}, []string{"DSA-5599-1 fixed=3.0.13-1~deb12u1 UNKNOWN"}},
		// a version the order cannot read, a missing version: undecided
		{C{Name: "golang.org/x/net", Version: "banana", Ecosystem: "Go"}, []string{"GO-2022-0969 fixed= UNKNOWN undecided"}},
		{C{Name: "org.apache.logging.log4j:log4j-core", Ecosystem: "Maven"}, []string{"GHSA-jfh8-c2jp-5v3q fixed= CRITICAL undecided"}},
	}
	for _, c := range cases {
		got := describe(idx.Match([]facts.Component{c.c}))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %s (%s %s):\n got %q\nwant %q", c.c.Name, c.c.Version, c.c.Ecosystem, c.c.PURL, got, c.want)
		}
	}
	t.Logf("%d components matched", len(cases))
}

func TestScanReport(t *testing.T) {
	f, idx := fixtureIndex(t)
	comps := []facts.Component{
		{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Ecosystem: "Maven"},
		{Name: "symfony/http-kernel", Version: "5.4.10", Ecosystem: "Packagist"},
		{Name: "yesod", Version: "1.6", Ecosystem: "Hackage"},
		{Name: "libfoo", Version: "v1.3.0", Ecosystem: "OSS-Fuzz"},
		{Name: "vendored-blob", Version: "1.0"},
		{Name: "stdlib", Version: "v1.13.2", Ecosystem: "Go"},
	}
	s := idx.Scan(comps)
	if s.Components != 6 || s.Checked != 5 || s.NotCheckedCount != 1 || s.NotChecked[0] != "vendored-blob@1.0" {
		t.Errorf("counts: %+v", s)
	}
	if s.GitRanges != 1 || idx.Stats().GitRanges != 2 || idx.Stats().Withdrawn != 1 || idx.Stats().Records != f.Count {
		t.Errorf("git ranges %d, stats %+v", s.GitRanges, idx.Stats())
	}
	um := fmt.Sprint(s.Unmatched)
	if um != "[{Hackage 1 []} {OSS-Fuzz 1 []} {Packagist 1 [GHSA-9xrc-8mfc-8pqf]}]" {
		t.Errorf("unmatched: %s", um)
	}
	// order: by component, then severity
	var ids []string
	for _, x := range s.Findings {
		ids = append(ids, x.ID)
	}
	if strings.Join(ids, " ") != "GHSA-jfh8-c2jp-5v3q GHSA-9xrc-8mfc-8pqf GO-2021-0264 GO-2022-0229" {
		t.Errorf("findings order %v", ids)
	}
	l := s.Findings[0]
	if l.Score != 10 || l.Vector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" || l.SeveritySource != ScoreCVSSv3 ||
		l.Summary != "Remote code injection in Log4j" || l.Aliases[0] != "CVE-2021-44228" || !strings.Contains(l.Reason, "ECOSYSTEM range introduced 2.13.0 fixed 2.15.0") {
		t.Errorf("log4j finding %+v", l)
	}
	u := s.Findings[1]
	if !u.Undecided || u.SeveritySource != "database_specific.severity" || !strings.Contains(u.Reason, `no version order for ecosystem "Packagist"`) {
		t.Errorf("undecided finding %+v", u)
	}
}

// TestEvaluationExamples are the osv-schema "Examples" and "Evaluation"
// section's cases: unfixed, fixed, multiple ranges, limit, last_affected
// against fixed, and the wildcard package.
func TestEvaluationExamples(t *testing.T) {
	recs := `[
	 {"id":"x_UNFIXED","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"unfixed"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]},
	 {"id":"x_FIXED","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"fixed"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.2"}]}]}]},
	 {"id":"x_MULTI","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"multi"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.0.2"},{"introduced":"3.0.0"},{"fixed":"3.2.5"}]}]}]},
	 {"id":"x_LASTAFF","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Maven","name":"g:lastaff"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"2.1.214"}]}]}]},
	 {"id":"x_FIX214","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Maven","name":"g:fix214"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.1.214"}]}]}]},
	 {"id":"x_SAME","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"same"},"ranges":[{"type":"SEMVER","events":[{"fixed":"2.0.0"},{"introduced":"2.0.0"},{"introduced":"1.0.0"},{"last_affected":"1.0.0"}]}]}]},
	 {"id":"x_EOL","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:10","name":"*"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]},
	 {"id":"x_TWO","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"two"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]},{"type":"ECOSYSTEM","events":[{"introduced":"2.0.0"},{"fixed":"2.5.0"}]}]}]}
	]`
	f, err := parse(t, []byte(recs), "examples.json", FeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idx := NewIndex(f)
	for _, c := range []struct {
		name, eco, v string
		want         bool
	}{
		{"unfixed", "npm", "0.0.1", true}, {"unfixed", "npm", "99.0.0", true},
		{"fixed", "npm", "1.0.1", true}, {"fixed", "npm", "1.0.2", false}, {"fixed", "npm", "1.0.2-rc.1", true},
		{"multi", "npm", "0.9.9", false}, {"multi", "npm", "1.0.0", true}, {"multi", "npm", "1.0.2", false},
		{"multi", "npm", "2.9.9", false}, {"multi", "npm", "3.2.4", true}, {"multi", "npm", "3.2.5", false},
		{"g:lastaff", "Maven", "2.1.214", true}, {"g:lastaff", "Maven", "2.1.215", false},
		{"g:fix214", "Maven", "2.1.213", true}, {"g:fix214", "Maven", "2.1.214", false},
		// [1.0.0, 1.0.0] and [2.0.0, 2.0.0): at one version introduced goes first
		{"same", "npm", "1.0.0", true}, {"same", "npm", "2.0.0", false}, {"same", "npm", "1.5.0", false},
		{"libc6", "Debian:10", "2.28-10+deb10u2", true}, {"libc6", "Debian:11", "2.31-13", false}, {"libc6", "Debian", "2.31-13", true},
		{"two", "npm", "0.5.0", true}, {"two", "npm", "2.1.0", true}, {"two", "npm", "1.5.0", false},
	} {
		got := len(idx.Match([]facts.Component{{Name: c.name, Version: c.v, Ecosystem: c.eco}})) == 1
		if got != c.want {
			t.Errorf("%s %s %s: affected %v, want %v", c.eco, c.name, c.v, got, c.want)
		}
	}
}

func TestNormalizeAndPURL(t *testing.T) {
	for _, c := range []struct{ eco, in, want string }{
		{"PyPI", "Foo_Bar.baz", "foo-bar-baz"}, {"PyPI", "Products.PluggableAuthService", "products-pluggableauthservice"},
		{"PyPI", "a--_.b", "a-b"}, {"NuGet", "Newtonsoft.Json", "newtonsoft.json"}, {"npm", "JSONStream", "JSONStream"},
		{"Maven", "org.Foo:Bar", "org.Foo:Bar"}, {"Debian:12", "LibFoo", "libfoo"}, {"Go", "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"},
	} {
		if got := NormalizeName(c.eco, c.in); got != c.want {
			t.Errorf("NormalizeName(%s, %s) = %s, want %s", c.eco, c.in, got, c.want)
		}
	}
	for in, want := range map[string]string{
		"pkg:npm/%40babel/traverse@7.23.1":                           "npm /npm/@babel/traverse 7.23.1 npm @babel/traverse",
		"pkg:npm/@angular/core@16.0.0":                               "npm /npm/@angular/core 16.0.0 npm @angular/core",
		"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1":       "maven /maven/org.apache.logging.log4j/log4j-core 2.14.1 Maven org.apache.logging.log4j:log4j-core",
		"pkg:golang/github.com/beego/beego/v2@v2.0.2":                "golang /golang/github.com/beego/beego/v2 v2.0.2 Go github.com/beego/beego/v2",
		"pkg:pypi/Django_Rest@3.0":                                   "pypi /pypi//django-rest 3.0 PyPI Django_Rest",
		"PKG:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12.4": "deb /deb/debian/libssl3 3.0.11-1~deb12u2 Debian:12 libssl3",
		"pkg:deb/ubuntu/zlib1g@1:1.2.11?distro=jammy":                "deb /deb/ubuntu/zlib1g 1:1.2.11 Ubuntu:22.04 zlib1g",
		"pkg:apk/alpine/openssl@3.1.3-r0?distro=alpine-3.18.4":       "apk /apk/alpine/openssl 3.1.3-r0 Alpine:v3.18 openssl",
		"pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6#src":                  "rpm /rpm/redhat/git-lfs 2.13.3-3.el8_6 Red Hat git-lfs",
		"pkg:cargo/serde@1.0.0":                                      "cargo /cargo//serde 1.0.0 crates.io serde",
		"pkg:nuget/Newtonsoft.Json@13.0.1":                           "nuget /nuget//newtonsoft.json 13.0.1 NuGet Newtonsoft.Json",
		"pkg:generic/openssl@3.0":                                    "generic /generic//openssl 3.0  ",
	} {
		p, ok := ParsePURL(in)
		if !ok {
			t.Errorf("ParsePURL(%s) failed", in)
			continue
		}
		eco, name := p.ecosystem()
		got := fmt.Sprintf("%s /%s %s %s %s", p.Type, p.key(), p.Version, eco, name)
		if got != want {
			t.Errorf("ParsePURL(%s):\n got %s\nwant %s", in, got, want)
		}
	}
	for _, bad := range []string{"", "npm/x", "pkg:", "pkg:npm", "pkg:npm/", "pkg:npm/%zz@1"} {
		if p, ok := ParsePURL(bad); ok {
			t.Errorf("ParsePURL(%q) = %+v", bad, p)
		}
	}
}

func TestSeveritySources(t *testing.T) {
	rec := func(sev, dbs, affSev string) *Record {
		r := &Record{}
		if sev != "" {
			typ, score, _ := strings.Cut(sev, " ")
			r.Severity = []SeverityScore{{Type: typ, Score: score}}
		}
		if dbs != "" {
			r.DatabaseSpecific = []byte(`{"severity":"` + dbs + `"}`)
		}
		r.Affected = []Affected{{}}
		if affSev != "" {
			typ, score, _ := strings.Cut(affSev, " ")
			r.Affected[0].Severity = []SeverityScore{{Type: typ, Score: score}}
		}
		return r
	}
	for _, c := range []struct {
		r    *Record
		want string
	}{
		{rec("CVSS_V3 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "LOW", ""), "CRITICAL 9.8 CVSS_V3"},
		{rec("", "MODERATE", ""), "MEDIUM 0 database_specific.severity"},
		{rec("", "Important", ""), "HIGH 0 database_specific.severity"},
		{rec("", "", "CVSS_V4 CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"), "CRITICAL 9.3 CVSS_V4"},
		{rec("CVSS_V3 CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", "", "CVSS_V4 CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"), "CRITICAL 9.3 CVSS_V4"},
		{rec("Ubuntu negligible", "", ""), "LOW 0 Ubuntu priority"},
		{rec("CVSS_V2 AV:N/AC:L/Au:N/C:P/I:P/A:P", "", ""), "HIGH 7.5 CVSS_V2"},
		{rec("CVSS_V2 AV:N/AC:L/Au:N/C:P/I:P/A:P", "LOW", ""), "LOW 0 database_specific.severity"},
		{rec("FUTURE x", "", ""), "UNKNOWN 0 "},
		{rec("", "purple", ""), "UNKNOWN 0 "},
	} {
		s := entrySeverity(c.r, &c.r.Affected[0])
		if got := fmt.Sprintf("%s %v %s", s.sev, s.score, s.source); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
}

// TestIndexConcurrent: one index serves concurrent scans (ranges are
// prepared once, under sync.Once); run with -race.
func TestIndexConcurrent(t *testing.T) {
	f, _ := fixtureIndex(t)
	idx := NewIndex(f)
	comps := []facts.Component{log4j, zlib, akka, symfony, {Name: "stdlib", Version: "v1.13.2", Ecosystem: "Go"}}
	want := fmt.Sprint(describe(idx.Match(comps)))
	idx = NewIndex(f)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := fmt.Sprint(describe(idx.Match(comps))); got != want {
				t.Errorf("concurrent scan: %s, want %s", got, want)
			}
		}()
	}
	wg.Wait()
}
