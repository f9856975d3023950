package provenance

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckUseEveryPair(t *testing.T) {
	// The separation of duties, written out: a key of the row's role may
	// sign the column's use.
	//                  provenance publish approval evidence bundle
	want := map[KeyRole][5]bool{
		RolePackaging: {true, false, false, false, false},
		RolePublisher: {false, true, false, false, false},
		RoleApprover:  {false, false, true, false, false},
		RoleHub:       {false, false, false, true, true},
		RoleEdge:      {false, false, false, false, true},
	}
	pairs := 0
	for _, role := range KeyRoles() {
		for i, use := range Uses() {
			pairs++
			err := CheckUse(role, use)
			if ok := err == nil; ok != want[role][i] {
				t.Errorf("%s signing %s: allowed %v, want %v (%v)", role, use, ok, want[role][i], err)
				continue
			}
			if err == nil {
				continue
			}
			var ke *KeyUseError
			if !errors.As(err, &ke) || !errors.Is(err, ErrKeyUse) || ke.Role != role || ke.Use != use || ke.KeyID != "" {
				t.Errorf("%s signing %s: %#v", role, use, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "EUCORA-architecture.md section 14.1") {
				t.Errorf("%s signing %s: %q does not cite the architecture", role, use, msg)
			}
			switch {
			case role == RolePackaging && !strings.Contains(msg, "signs provenance and nothing else"):
				t.Errorf("packaging signing %s: %q", use, msg)
			case role != RolePackaging && use == UseProvenance && !strings.Contains(msg, "provenance is signed by the packaging key only"):
				t.Errorf("%s signing provenance: %q", role, msg)
			}
		}
	}
	if pairs != 25 {
		t.Fatalf("%d pairs", pairs)
	}
	// The packaging role may sign provenance and nothing else; provenance
	// may be signed by the packaging role only.
	for _, use := range Uses() {
		if (CheckUse(RolePackaging, use) == nil) != (use == UseProvenance) {
			t.Errorf("packaging and %s", use)
		}
	}
	for _, role := range KeyRoles() {
		if (CheckUse(role, UseProvenance) == nil) != (role == RolePackaging) {
			t.Errorf("%s and provenance", role)
		}
	}
}

func TestCheckUseRefusesUnknownRolesAndUses(t *testing.T) {
	for _, c := range []struct {
		role KeyRole
		use  Use
		want string
	}{
		{"", UseProvenance, `role "", which is not a signing key role`},
		{"Packaging", UseProvenance, `role "Packaging"`},
		{"admin", UsePublish, `role "admin"`},
		{RolePackaging, "", `cannot sign "": not a signed use`},
		{RoleHub, "Bundle", `cannot sign "Bundle"`},
		{RolePublisher, "deploy", `cannot sign "deploy"`},
	} {
		err := CheckUse(c.role, c.use)
		if !errors.Is(err, ErrKeyUse) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "section 14.1") {
			t.Errorf("%q/%q: %v, want %q", c.role, c.use, err, c.want)
		}
	}
}

func TestCheckKeyUseNamesTheKey(t *testing.T) {
	id := strings.Repeat("ab", 32)
	err := CheckKeyUse(id, RolePackaging, UsePublish)
	var ke *KeyUseError
	if !errors.As(err, &ke) || ke.KeyID != id {
		t.Fatalf("%#v", err)
	}
	want := "key abababababababab is a packaging key, which signs provenance and nothing else: it cannot sign a publish (separation of duties, EUCORA-architecture.md section 14.1)"
	if err.Error() != want {
		t.Errorf("%q\nwant %q", err, want)
	}
	err = CheckKeyUse(id, RoleApprover, UseProvenance)
	want = "provenance is signed by the packaging key only; key abababababababab has the approver role (separation of duties, EUCORA-architecture.md section 14.1)"
	if err == nil || err.Error() != want {
		t.Errorf("%v\nwant %q", err, want)
	}
	if err := CheckKeyUse(id, RolePackaging, UseProvenance); err != nil {
		t.Errorf("packaging key signing provenance: %v", err)
	}
}
