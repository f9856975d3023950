package version

import (
	"errors"
	"strings"
	"testing"
)

// ascending checks that every version in vs is strictly lower than every
// later one, both ways round.
func ascending(t *testing.T, o Order, vs ...string) {
	t.Helper()
	parsed := make([]Version, len(vs))
	for i, s := range vs {
		v, err := o.Parse(s)
		if err != nil {
			t.Fatalf("%s.Parse(%q): %v", o.Name(), s, err)
		}
		parsed[i] = v
	}
	for i := range parsed {
		if c := parsed[i].Compare(parsed[i]); c != 0 {
			t.Errorf("%s: %q vs itself = %d", o.Name(), vs[i], c)
		}
		for j := i + 1; j < len(parsed); j++ {
			if c := parsed[i].Compare(parsed[j]); c != -1 {
				t.Errorf("%s: %q vs %q = %d, want -1", o.Name(), vs[i], vs[j], c)
			}
			if c := parsed[j].Compare(parsed[i]); c != 1 {
				t.Errorf("%s: %q vs %q = %d, want 1", o.Name(), vs[j], vs[i], c)
			}
		}
	}
}

// pairs checks "A op B" lines, op one of < = >.
func pairs(t *testing.T, o Order, lines string) int {
	t.Helper()
	n := 0
	for _, l := range strings.Split(lines, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("bad line %q", l)
		}
		want := map[string]int{"<": -1, "=": 0, ">": 1}[f[1]]
		c, err := Compare(o, f[0], f[2])
		if err != nil {
			t.Errorf("%s: %s: %v", o.Name(), l, err)
			continue
		}
		if c != want {
			t.Errorf("%s: %s: got %d", o.Name(), l, c)
		}
		if c2, _ := Compare(o, f[2], f[0]); c2 != -want {
			t.Errorf("%s: %s reversed: got %d", o.Name(), l, c2)
		}
		n++
	}
	return n
}

func invalid(t *testing.T, o Order, vs ...string) {
	t.Helper()
	for _, s := range vs {
		if v, err := o.Parse(s); err == nil {
			t.Errorf("%s.Parse(%q) = %v, want an error", o.Name(), s, v)
		} else if !errors.Is(err, ErrSyntax) {
			t.Errorf("%s.Parse(%q): %v does not wrap ErrSyntax", o.Name(), s, err)
		}
	}
}

// TestSemver: the precedence example of SemVer 2.0 section 11, build
// metadata (section 10), and the lenient forms OSV data uses.
func TestSemver(t *testing.T) {
	ascending(t, Semver, "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1", "10.0.0")
	pairs(t, Semver, `
		1.0.0+20130313144700 = 1.0.0
		1.0.0-beta+exp.sha.5114f85 = 1.0.0-beta
		1.0.0-alpha < 1.0.0-alpha.0
		1.0.0-1 < 1.0.0-a
		1.0.0-2 < 1.0.0-10
		1.0.0-Alpha < 1.0.0-alpha
		v1.2.3 = 1.2.3
		1.2 = 1.2.0
		1 = 1.0.0
		2.1.1-0 < 2.1.1
		99999999999999999999.0.0 > 9999999999999999999.0.0
		01.2.3 = 1.2.3
	`)
	invalid(t, Semver, "", "1.0.0-", "1.0.0+", "1..0", "a.b.c", "1.0.0-al pha", "1.0.0-a..b", "v", "1.x", strings.Repeat("1", MaxLen+1))
}

// TestGo: module versions (v prefix, +incompatible, pseudo-versions order as
// semver pre-releases) and toolchain tags as golang.org/x/vuln converts them.
func TestGo(t *testing.T) {
	ascending(t, Go, "v0.0.0-20190308221718-c2843e01d9a2", "v0.0.0-20200124225646-8b5121be2f68", "v0.1.0",
		"v1.9.0-pre.0.20200101000000-0123456789ab", "v1.9.0", "v2.0.0+incompatible", "v2.0.1")
	ascending(t, Go, "go1.19beta1", "go1.19", "go1.19.1", "go1.21rc2", "go1.21.0", "go1.21.3")
	pairs(t, Go, `
		v2.0.0+incompatible = 2.0.0
		go1.20 = 1.20.0
		go1.19beta1 = 1.19.0-beta.1
		go1.21rc2 = v1.21.0-rc.2
		0.0.0-20200124225646-8b5121be2f68 = v0.0.0-20200124225646-8b5121be2f68
	`)
	invalid(t, Go, "gox", "go1", "go1.2.3.4", "go1.21rcx", "v1.2.3-")
}

// TestNuGet: NuGet's SemVer 2.0 (case-insensitive labels, a fourth part).
func TestNuGet(t *testing.T) {
	ascending(t, NuGet, "1.0.0-alpha", "1.0.0-Beta", "1.0.0-rc.1", "1.0.0", "1.0.0.1", "1.0.1", "1.1")
	pairs(t, NuGet, `
		1.0.0-BETA = 1.0.0-beta
		1.0 = 1.0.0.0
		1.0.0+git.abc = 1.0.0
	`)
}

// TestDebian: dpkg's order, including Debian policy 5.6.12's tilde example
// (~~ < ~~a < ~ < "" < a) and epochs.
func TestDebian(t *testing.T) {
	ascending(t, Debian, "1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a")
	ascending(t, Debian, "0.9", "1.0~rc1", "1.0", "1.0-1", "1.0-1+deb12u1", "1.0-2", "1.0a", "1.0+a", "1.1", "1:0.1", "2:0.0.1")
	pairs(t, Debian, `
		1.0 = 0:1.0
		1.0 = 1.0-0
		3.0.11-1~deb12u2 < 3.0.11-1
		3.0.11-1~deb12u2 > 3.0.9-1
		1.1.1n-0+deb11u5 > 1.1.1n-0+deb11u4
		2.30-21ubuntu1~18.04.5 < 2.30-21ubuntu1~18.04.7
		7.6p2-4 > 7.6-0
		1:1.2 > 9.9
		1.0.0 < 1.0.0.0
	`)
	invalid(t, Debian, "", ":1.0", "a:1.0", "1.0-", "1.0 2", "1:")
}

// TestPyPI: the sort list of packaging's test_version.py, PEP 440's
// "summary of permitted suffixes and relative ordering", normalisation.
func TestPyPI(t *testing.T) {
	base := []string{"1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
		"1.0b2.post345.dev456", "1.0b2.post345", "1.0b2-346", "1.0c1.dev456", "1.0c1", "1.0rc2", "1.0c3", "1.0",
		"1.0.post456.dev34", "1.0.post456", "1.1.dev1", "1.2+123abc", "1.2+123abc456", "1.2+abc", "1.2+abc123",
		"1.2+abc123def", "1.2+1234.abc", "1.2+123456", "1.2.r32+123456", "1.2.rev33+123456"}
	all := append([]string(nil), base...)
	for _, v := range base {
		all = append(all, "1!"+v)
	}
	ascending(t, PyPI, all...)
	ascending(t, PyPI, "1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456",
		"1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7",
		"1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1")
	pairs(t, PyPI, `
		1 = 1.0.0
		1.0RC1 = 1.0rc1
		v1.0 = 1.0
		1.1a1 = 1.1.a1
		1.1-a1 = 1.1a1
		1.1alpha1 = 1.1a1
		1.1beta2 = 1.1b2
		1.1c3 = 1.1rc3
		1.1pre4 = 1.1rc4
		1.1preview5 = 1.1rc5
		1.2a = 1.2a0
		1.2-post2 = 1.2.post2
		1.2post = 1.2.post0
		1.2-1 = 1.2.post1
		1.2.rev3 = 1.2.post3
		1.2.r4 = 1.2.post4
		1.2.dev = 1.2.dev0
		1.2-dev2 = 1.2.dev2
		1.0+ubuntu-1 = 1.0+ubuntu.1
		1.0+ABC = 1.0+abc
		0!1.0 = 1.0
		1.01 = 1.1
		2013.10 < 2014.04
		1!0.1 > 9999.0
	`)
	invalid(t, PyPI, "", "lolwat", "1.0+", "1.0-", "1..0", "1.0.alpha1.beta2", "1.0+a+b", "1!2!3")
}

// TestMaven: ComparableVersionTest's VERSIONS_QUALIFIER and VERSIONS_NUMBER
// lists, its equalities and comparisons (maven-artifact 3.9).
func TestMaven(t *testing.T) {
	ascending(t, Maven, "1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2", "1-m11",
		"1-rc", "1-cr2", "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc", "1-def", "1-pom-1",
		"1-1-snapshot", "1-1", "1-2", "1-123")
	ascending(t, Maven, "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c",
		"2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11", "11", "11.a",
		"11b", "11c", "11m")
	pairs(t, Maven, `
		1 = 1
		1 = 1.0
		1 = 1.0.0
		1.0 = 1.0.0
		1 = 1-0
		1 = 1.0-0
		1.0 = 1.0-0
		1a = 1.a
		1a = 1-a
		1a = 1.0-a
		1a = 1.0.0-a
		1.0a = 1.0.a
		1.0.0a = 1.0.0.a
		1x = 1.x
		1x = 1-x
		1x = 1.0-x
		1x = 1.0.0-x
		1.0x = 1.0.x
		1.0.0x = 1.0.0.x
		1.0a = 1-a
		1.0.0a = 1-a
		1.0x = 1-x
		1.0.0x = 1-x
		2.0.a = 2.0.0.a
		1release = 1
		1a1 = 1-alpha-1
		1b2 = 1-beta-2
		1m3 = 1-milestone-3
		1ga = 1
		1final = 1
		1cr = 1rc
		1a1 = 1alpha1
		1b2 = 1beta2
		1m3 = 1milestone3
		1X = 1x
		1A = 1a
		1B = 1b
		1M = 1m
		1Ga = 1
		1GA = 1
		1Final = 1
		1FinaL = 1
		1FINAL = 1
		1Cr = 1Rc
		1cR = 1rC
		1m3 = 1Milestone3
		1m3 = 1MileStone3
		1m3 = 1MILESTONE3
		1-abcdefghijklmnopqrstuvwxyz = 1-ABCDEFGHIJKLMNOPQRSTUVWXYZ
		1 < 2
		1.5 < 2
		1 < 2.5
		1.0 < 1.1
		1.1 < 1.2
		1.0.0 < 1.1
		1.0.1 < 1.1
		1.1 < 1.2.0
		1.0-alpha-1 < 1.0
		1.0-alpha-1 < 1.0-alpha-2
		1.0-alpha-1 < 1.0-beta-1
		1.0-beta-1 < 1.0-SNAPSHOT
		1.0-SNAPSHOT < 1.0
		1.0-alpha-1-SNAPSHOT < 1.0-alpha-1
		1.0 < 1.0-1
		1.0-1 < 1.0-2
		1.0.0 < 1.0-1
		2.0-1 < 2.0.1
		2.0.1-klm < 2.0.1-lmn
		2.0.1 < 2.0.1-xyz
		2.0.1 < 2.0.1-123
		2.0.1-xyz < 2.0.1-123
		5.2.0.RELEASE = 5.2.0
		2.12.0-rc1 < 2.12.0
		12345678901234567890 > 1234567890123456789
	`)
	canon := map[string]string{"1.0.0": "1", "1.0-1": "1-1", "1-alpha-1": "1-alpha-1", "1.0.RC1": "1-rc-1", "1ga": "1"}
	for in, want := range canon {
		v, _ := Maven.Parse(in)
		if got := v.(*mavenVersion).Canonical(); got != want {
			t.Errorf("canonical(%q) = %q, want %q", in, got, want)
		}
	}
	invalid(t, Maven, "", "  ", strings.Repeat("1", MaxLen+1), "xx1", "\xee\xee000", "1-0a0", "0-SNAPSHOT", "2.a.", "1.0.alpha.1")
}

// TestAlpine: examples from apk-tools' test/version.data (valid versions
// only) and the suffix order alpha < beta < pre < rc < "" < cvs < svn < git
// < hg < p.
func TestAlpine(t *testing.T) {
	ascending(t, Alpine, "1.0_alpha", "1.0_beta", "1.0_pre", "1.0_rc", "1.0", "1.0_cvs", "1.0_svn", "1.0_git", "1.0_hg", "1.0_p")
	pairs(t, Alpine, `
		2.34 > 0.1.0_alpha
		0.1.0_alpha = 0.1.0_alpha
		0.1.0_alpha < 0.1.3_alpha
		0.1.0_alpha2 > 0.1.0_alpha
		0.1.0_alpha < 2.2.39-r1
		1.0.4-r3 < 1.0.4-r4
		1.1 > 1.1_alpha1
		1.2.1 > 1.2
		1.3_alpha2 < 1.3_alpha3
		0.7.0 < 0.8_beta1
		3.10.18-r1 > 2.3.0b-r1
		2.3.0b-r1 < 2.3.0b-r2
		0.12.3 > 0.12
		1.2.12.1 < 1.2.13
		0.2.0-r1 < 3.1_p16
		3.1_p16 < 3.1_p17
		1.06-r6 < 006
		006 > 1.0.0
		1.2.2-r1 > 1.2.2
		3.9.8-r5 > 2.01.01_alpha10
		1.0 > 0.99.3.20040818
		1.39 > 1.00_beta2
		1.02 < 1.03-r1
		4.2.52_p2-r1 < 4.2.52_p4-r2
		1.02.07 < 1.02.10-r1
		20060720 > 3.0.20060720
		2.5.1-r8 < 2.5.1a-r1
		2.10.1 > 02.08.01b
		1.6d > 1.2.07.8
		1.2.07.8 < 1.2.12.04
		0.1_pre20060810 < 0.1_pre20060817
		0.59s-r11 < 0.65
		0.20070118 < 0.20070207_rc1
		4.5_p1-r1 > 4.5_p1
		0.9.8c-r1 < 0.9.8d
		1.7 < 1.7b
		1.8.5 < 1.8.5_p2
		2.9.11_pre20051101-r3 > 2.9.11_pre20051101
		1.6.8_p12-r1 > 1.6.8_p9-r2
		0.9.28-r2 < 0.9.28.1
		20040406-r1 > 2.12r-r4
		7.0.17 < 7.0.174
		1.3-r0 < 1.3.1-r0
		1.3_pre1-r1 < 1.3.2
		1.0_p10-r0 > 1.0_p9-r0
		0.1.0_alpha_pre2 < 0.1.0_alpha
		1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0
		1.01 < 1.1
		1.4~a3f91c < 1.4~b0
		1.4~a3f91c-r1 > 1.4~a3f91c
	`)
	invalid(t, Alpine, "", "a1", "1.0bc", "23_foo", "1.0-1", "1.0-r", "1.0_alpha-rx", "1.0.", "1.0~", "1.0~xyz", "1.0-r1-r2", "1.0-r1.2", "1 .0")
}

// TestRPM: rpm's tests/rpmvercmp.at (version strings), its RhBug:811992
// oddity, and epoch/release handling.
func TestRPM(t *testing.T) {
	cases := `
		1.0 = 1.0
		1.0 < 2.0
		2.0.1 = 2.0.1
		2.0 < 2.0.1
		2.0.1a = 2.0.1a
		2.0.1a > 2.0.1
		5.5p1 < 5.5p2
		5.5p10 = 5.5p10
		5.5p1 < 5.5p10
		10xyz < 10.1xyz
		xyz10 = xyz10
		xyz10 < xyz10.1
		xyz.4 = xyz.4
		xyz.4 < 8
		xyz.4 < 2
		5.5p2 < 5.6p1
		5.6p1 < 6.5p1
		6.0.rc1 > 6.0
		10b2 > 10a1
		10a2 < 10b2
		1.0aa = 1.0aa
		1.0a < 1.0aa
		10.0001 = 10.0001
		10.0001 = 10.1
		10.0001 < 10.0039
		4.999.9 < 5.0
		20101121 < 20101122
		2_0 = 2_0
		2.0 = 2_0
		a = a
		a+ = a+
		a+ = a_
		+a = _a
		+_ = +_
		_+ = +_
		+ = _
		1.0~rc1 = 1.0~rc1
		1.0~rc1 < 1.0
		1.0~rc1 < 1.0~rc2
		1.0~rc1~git123 < 1.0~rc1
		1.0^ = 1.0^
		1.0^ > 1.0
		1.0^git1 > 1.0
		1.0^git1 < 1.0^git2
		1.0^git1 < 1.01
		1.0^20160101 < 1.0.1
		1.0^20160102 > 1.0^20160101^git1
		1.0~rc1^git1 > 1.0~rc1
		1.0^git1 > 1.0^git1~pre
		1b.fc17 < 1.fc17
		1g.fc17 > 1.fc17
	`
	for _, l := range strings.Split(cases, "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		want := map[string]int{"<": -1, "=": 0, ">": 1}[f[1]]
		if got := rpmvercmp(f[0], f[2]); got != want {
			t.Errorf("rpmvercmp(%s, %s) = %d, want %d", f[0], f[2], got, want)
		}
		if got := rpmvercmp(f[2], f[0]); got != -want {
			t.Errorf("rpmvercmp(%s, %s) = %d, want %d", f[2], f[0], got, -want)
		}
	}
	pairs(t, RPM, `
		0:2.13.3-3.el8_6.1 = 2.13.3-3.el8_6.1
		1:1.0-1 > 2.0-1
		2.13.3-3.el8_6.1 > 2.13.3-3.el8
		2.13.3-3.el8_6.1 < 2.13.3-4.el8
		1.0-1.el9 < 1.0.1-1.el9
		3.0.7-25.el9_3 < 3.0.7-27.el9
	`)
	invalid(t, RPM, "", "x:1.0", "1.0-", ":", "1.0 2")
}

// TestRubyGems: Gem::Version's documented order (pre-releases before the
// release, trailing zeros ignored, "-" as ".pre.").
func TestRubyGems(t *testing.T) {
	ascending(t, RubyGems, "1.0.a", "1.0.a.1", "1.0.b1", "1.0.rc1", "1.0", "1.0.1", "1.1", "3.2.0", "3.2.22", "4.0.0", "4.1.11", "4.2.0", "4.2.2")
	pairs(t, RubyGems, `
		1.0 = 1
		1.0.0 = 1
		1.0.a = 1.0a
		1.0-1 = 1.0.pre.1
		1.8.2.a10 > 1.8.2.a9
		5.a = 5.0.0.a
		0.9.0 < 1.0.a
	`)
	invalid(t, RubyGems, "junk", "1.0\n2.0", "1..0", "-1")
}

func TestForEcosystem(t *testing.T) {
	for eco, want := range map[string]Order{
		"Debian:12": Debian, "Ubuntu:22.04:LTS": Debian, "PyPI": PyPI, "Maven": Maven, "Maven:https://maven.google.com": Maven,
		"npm": Semver, "Go": Go, "crates.io": Semver, "NuGet": NuGet, "Alpine:v3.18": Alpine, "Red Hat:rhel_aus:8.6::appstream": RPM,
		"RubyGems": RubyGems,
	} {
		if o, ok := ForEcosystem(eco); !ok || o != want {
			t.Errorf("ForEcosystem(%q) = %v, %v; want %s", eco, o, ok, want.Name())
		}
	}
	for _, eco := range []string{"", "Packagist", "Linux", "GIT", "OSS-Fuzz", "debian"} {
		if o, ok := ForEcosystem(eco); ok {
			t.Errorf("ForEcosystem(%q) = %s, want none", eco, o.Name())
		}
	}
	if len(Ecosystems()) != len(byEcosystem) {
		t.Fatal("Ecosystems")
	}
}
