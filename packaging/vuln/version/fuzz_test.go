package version

import "testing"

// checkOrder parses a, b and c with o (any that does not parse is skipped)
// and checks that Compare is a total order on them: reflexive,
// antisymmetric and transitive.
func checkOrder(t *testing.T, o Order, a, b, c string) {
	var vs []Version
	for _, s := range []string{a, b, c} {
		v, err := o.Parse(s)
		if err != nil {
			continue
		}
		if v.String() != s {
			t.Fatalf("%s: String() = %q, parsed %q", o.Name(), v.String(), s)
		}
		vs = append(vs, v)
	}
	for _, x := range vs {
		if r := x.Compare(x); r != 0 {
			t.Fatalf("%s: %q vs itself = %d", o.Name(), x, r)
		}
		for _, y := range vs {
			xy, yx := x.Compare(y), y.Compare(x)
			if xy < -1 || xy > 1 || xy != -yx {
				t.Fatalf("%s: not antisymmetric: %q vs %q = %d, reversed %d", o.Name(), x, y, xy, yx)
			}
			for _, z := range vs {
				if x.Compare(y) <= 0 && y.Compare(z) <= 0 && x.Compare(z) > 0 {
					t.Fatalf("%s: not transitive: %q <= %q <= %q but %q > %q", o.Name(), x, y, z, x, z)
				}
				if x.Compare(y) == 0 && y.Compare(z) == 0 && x.Compare(z) != 0 {
					t.Fatalf("%s: equality not transitive: %q = %q = %q", o.Name(), x, y, z)
				}
			}
		}
	}
}

func fuzzOrder(f *testing.F, o Order, seeds ...string) {
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)], seeds[(i+2)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) { checkOrder(t, o, a, b, c) })
}

func FuzzSemver(f *testing.F) {
	fuzzOrder(f, Semver, "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0", "v2.1", "1.0.0+build.1", "1.0.0-x.7.z.92", "01.2")
}

func FuzzGo(f *testing.F) {
	fuzzOrder(f, Go, "v0.0.0-20200124225646-8b5121be2f68", "v2.0.0+incompatible", "go1.21rc2", "go1.20", "v1.2.3", "1.2.3-pre")
}

func FuzzNuGet(f *testing.F) {
	fuzzOrder(f, NuGet, "1.0.0-Beta", "1.0.0-beta", "1.0.0.1", "1.0", "4.0.0-rc.2+sha.1")
}

func FuzzDebian(f *testing.F) {
	fuzzOrder(f, Debian, "1:1.0-1", "1.0~rc1-1", "1.0~~", "1.0+dfsg-2ubuntu1", "2.30-21ubuntu1~18.04.5", "0", "1.0a", "1.0-0")
}

func FuzzPyPI(f *testing.F) {
	fuzzOrder(f, PyPI, "1.0.dev456", "1.0a12.dev456", "1.0b2.post345", "1!1.0", "1.2+123abc", "1.2+1234.abc", "1.0.post456.dev34", "v1.0rc1")
}

func FuzzMaven(f *testing.F) {
	fuzzOrder(f, Maven, "1-alpha2snapshot", "1-1-snapshot", "2.0.a", "2-1", "11.m11", "1.0.RELEASE", "1-sp123", "1..2--3", "1-0.1", "a1.1-b")
}

func FuzzAlpine(f *testing.F) {
	fuzzOrder(f, Alpine, "1.0_alpha2", "0.1.0_alpha_pre2", "2.3.0b-r1", "1.01", "1.4~a3f91c-r1", "1.0_p10-r0", "006")
}

func FuzzRPM(f *testing.F) {
	fuzzOrder(f, RPM, "0:2.13.3-3.el8_6.1", "1.0~rc1^git1", "1.0^git1~pre", "1b.fc17", "1.fc17", "xyz.4", "10.0001", "2_0")
}

func FuzzRubyGems(f *testing.F) {
	fuzzOrder(f, RubyGems, "1.0.a", "1.0-1", "1.8.2.a10", "5.a", "3.2.22", "1.0.0.0")
}
