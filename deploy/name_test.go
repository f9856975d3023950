package deploy

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckSiteName(t *testing.T) {
	for _, ok := range []string{"plant-7", "a", "0", "berlin.hq", "plant_7", strings.Repeat("a", 63)} {
		if err := CheckSiteName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"Plant_7@HQ", "PLANT", "plant 7", "-plant", ".plant", "_plant", "", strings.Repeat("a", 64), "plänt", "hub"} {
		err := CheckSiteName(bad)
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%q: %v, want ErrInvalidInput", bad, err)
			continue
		}
		want := NameRule
		if bad == ReservedSiteName {
			want = "reserved for the hub"
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %q does not say %q", bad, err, want)
		}
	}
}
