package deploy

import (
	"errors"
	"strings"
	"testing"
)

func TestLifecycleEveryPair(t *testing.T) {
	legal := map[[2]State]string{
		{StateRequested, StatePackaged}: "lifecycle.package",
		{StatePackaged, StateStaged}:    "lifecycle.stage",
		{StateStaged, StateApproved}:    "lifecycle.approve",
		{StateApproved, StatePublished}: "lifecycle.publish",
		{StateRequested, StateRetired}:  "lifecycle.retire",
		{StatePackaged, StateRetired}:   "lifecycle.retire",
		{StateStaged, StateRetired}:     "lifecycle.retire",
		{StateApproved, StateRetired}:   "lifecycle.retire",
		{StatePublished, StateRetired}:  "lifecycle.retire",
	}
	all := append(append([]State{}, States...), "bogus", "")
	n := 0
	for _, from := range all {
		for _, to := range all {
			ev, err := Transition(from, to)
			action, ok := legal[[2]State{from, to}]
			if ok {
				n++
				if err != nil || ev.Action != action || "lifecycle."+string(ev.Requires) != action || ev.From != from || ev.To != to || !strings.HasPrefix(ev.Description, string(from)+" -> "+string(to)+": ") {
					t.Errorf("%s -> %s: %+v %v", from, to, ev, err)
				}
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || te.From != from || te.To != to || !errors.Is(err, ErrIllegalTransition) {
				t.Errorf("%s -> %s: want TransitionError, got %v", from, to, err)
			}
			if err != nil && !strings.Contains(err.Error(), string(from)+" -> "+string(to)) {
				t.Errorf("error does not name from/to: %v", err)
			}
		}
	}
	if n != len(legal) {
		t.Fatalf("%d legal transitions seen, want %d", n, len(legal))
	}
	if got := LegalTransitions(StateRetired); len(got) != 0 {
		t.Fatalf("retired is terminal, got %v", got)
	}
}

func TestCatalogValidate(t *testing.T) {
	if err := fixtureApp().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := fixtureArtifact().Validate(); err != nil {
		t.Fatal(err)
	}
	v := ApplicationVersion{AppID: "com.acme.ledger", Version: "2.4.1", ReleaseNotes: "fixes", OSMatrix: []OSSupport{{OS: "windows", Versions: ">= 10.0.19045", Arch: "x64"}},
		Dependencies: []Dependency{{AppID: "com.microsoft.vcredist", Constraint: ">= 14.38"}}}
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		err   error
	}{
		{"id", func() error { a := fixtureApp(); a.ID = "../etc"; return a.Validate() }()},
		{"owner", func() error { a := fixtureApp(); a.Owner = ""; return a.Validate() }()},
		{"allowed_scope", func() error { a := fixtureApp(); a.AllowedScope = Scope{BU: "fin"}; return a.Validate() }()},
		{"scope_version", func() error { a := fixtureApp(); a.ScopeVersion = 0; return a.Validate() }()},
		{"state", func() error { a := fixtureApp(); a.State = "live"; return a.Validate() }()},
		{"os_matrix", func() error { w := v; w.OSMatrix = nil; return w.Validate() }()},
		{"dependencies[0].app_id", func() error { w := v; w.Dependencies = []Dependency{{AppID: v.AppID}}; return w.Validate() }()},
		{"platform", func() error { a := fixtureArtifact(); a.Platform = "bat"; return a.Validate() }()},
		{"sha256", func() error { a := fixtureArtifact(); a.SHA256 = "abc"; return a.Validate() }()},
		{"size", func() error { a := fixtureArtifact(); a.Size = 0; return a.Validate() }()},
		{"signing.state", func() error { a := fixtureArtifact(); a.Signing.State = "maybe"; return a.Validate() }()},
		{"sbom", func() error { a := fixtureArtifact(); a.SBOM = "x"; return a.Validate() }()},
		{"scan_decision", func() error { a := fixtureArtifact(); a.ScanDecision = ""; return a.Validate() }()},
		{"packaged_by", func() error { a := fixtureArtifact(); a.PackagedBy = ""; return a.Validate() }()},
	} {
		var fe *FieldError
		if !errors.As(tc.err, &fe) || fe.Field != tc.field {
			t.Errorf("want field %s, got %v", tc.field, tc.err)
		}
	}
}
