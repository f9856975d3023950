package deploy

import "testing"

func TestScopeContains(t *testing.T) {
	ent := Scope{}
	acme := Scope{Acquisition: "acme"}
	acmeFin := Scope{Acquisition: "acme", BU: "fin"}
	acmeFinLon := Scope{Acquisition: "acme", BU: "fin", Site: "lon"}
	globex := Scope{Acquisition: "globex"}
	for _, tc := range []struct {
		outer, inner Scope
		want         bool
	}{
		{ent, acmeFinLon, true},
		{acme, acmeFin, true},
		{acme, acmeFinLon, true},
		{acmeFin, acmeFinLon, true},
		{acmeFinLon, acmeFinLon, true},
		{acmeFin, acme, false},
		{acme, ent, false},
		{acme, globex, false},
		{acmeFinLon, Scope{Acquisition: "acme", BU: "fin", Site: "par"}, false},
	} {
		if got := tc.outer.Contains(tc.inner); got != tc.want {
			t.Errorf("%v contains %v = %v, want %v", tc.outer, tc.inner, got, tc.want)
		}
		// Overlap is containment either way: every case here is nested
		// except the sibling ones.
		sibling := tc.outer == acme && tc.inner == globex || tc.inner.Site == "par"
		if got := tc.outer.Overlaps(tc.inner); got != !sibling || tc.inner.Overlaps(tc.outer) != got {
			t.Errorf("%v overlaps %v = %v, want %v both ways", tc.outer, tc.inner, got, !sibling)
		}
	}
}

func TestParseScope(t *testing.T) {
	s, err := ParseScope("site=lon,bu=fin,acquisition=acme")
	if err != nil || s != (Scope{"acme", "fin", "lon"}) || s.String() != "acquisition=acme,bu=fin,site=lon" {
		t.Fatal(s, err)
	}
	for _, bad := range []string{"bu=fin", "acquisition=acme,site=lon", "acquisition=ACME", "region=eu", "acquisition", "acquisition=a,acquisition=b", "acquisition=../x"} {
		if _, err := ParseScope(bad); err == nil {
			t.Errorf("ParseScope(%q) accepted", bad)
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Fatal(r, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Fatal("unknown role accepted")
	}
}
