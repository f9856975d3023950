package store

import (
	"errors"
	"slices"
	"testing"
)

func TestReconcileSeenGrowsAndRefusesBadBodies(t *testing.T) {
	x := newSyncFixture(t)
	if got, err := x.apply(CmdReconcileSeen, ReconcileSeenBody{Seen: map[string][]string{"in-1": {"d2", "d1", "d2"}, "in-2": {"d9"}}}); err != nil || got != 3 {
		t.Fatalf("first record: %v %v, want 3 added", got, err)
	}
	if got, err := x.apply(CmdReconcileSeen, ReconcileSeenBody{Seen: map[string][]string{"in-1": {"d1", "d3"}}}); err != nil || got != 1 {
		t.Fatalf("second record: %v %v, want 1 added", got, err)
	}
	if got, _ := x.st.InstalledSeen("in-1"); !slices.Equal(got, []string{"d1", "d2", "d3"}) {
		t.Fatalf("in-1 seen %v", got)
	}
	if got, err := x.st.InstalledSeen("never"); err != nil || got != nil {
		t.Fatalf("unknown intent: %v %v", got, err)
	}
	for name, body := range map[string]ReconcileSeenBody{
		"no intent id":    {Seen: map[string][]string{"": {"d1"}}},
		"no devices":      {Seen: map[string][]string{"in-1": {}}},
		"empty device id": {Seen: map[string][]string{"in-1": {"d4", ""}}},
	} {
		if _, err := x.apply(CmdReconcileSeen, body); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if got, _ := x.st.InstalledSeen("in-1"); !slices.Equal(got, []string{"d1", "d2", "d3"}) {
		t.Fatalf("a refused record changed in-1: %v", got)
	}
}
