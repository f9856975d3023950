package awxsim

import "testing"

// FuzzParseEvents feeds the callback plugin's JSON-lines parser; it must
// not panic, and every event it accepts has a name.
func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(`{"counter":1,"event":"playbook_on_stats","summaries":{"h":{"ok":1}}}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, sums, err := ParseEvents(b)
		if err != nil {
			return
		}
		for _, e := range evs {
			if e.Event == "" {
				t.Fatalf("accepted an event without a name: %+v", e)
			}
		}
		for _, s := range sums {
			if s.Failed() != (s.Failures > 0 || s.Dark > 0) {
				t.Fatalf("summary %+v", s)
			}
		}
	})
}
