package awx

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// The parsers of AWX's answers must not panic on any input, and what they
// accept must be consistent.

func FuzzParseError(f *testing.F) {
	f.Add([]byte(`{"detail":"Not found."}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Invalid UTF-8 decodes to U+FFFD (3 bytes), so the code may be
		// longer than the input; the message stays clipped.
		code, msg := ParseError(b)
		if len(msg) > 1003 || len(code) > 3*len(b) || !utf8.ValidString(msg) {
			t.Fatalf("code %q msg of %d bytes from %d bytes", code, len(msg), len(b))
		}
	})
}

func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`{"count":1,"next":null,"previous":null,"results":[{"id":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePage(b)
		if err != nil {
			return
		}
		for _, r := range p.Results {
			var j Job
			json.Unmarshal(r, &j)
			ParseVars(j.ExtraVars)
			var s HostSummary
			json.Unmarshal(r, &s)
			var e JobEvent
			if json.Unmarshal(r, &e) == nil {
				e.Message()
			}
		}
	})
}

func FuzzParseVars(f *testing.F) {
	f.Add(`{"eucora_release":"a@1/ring-1/*","eucora_action":"install","eucora_key":{"app":"a","version":"1","ring":1}}`)
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseVars(s)
		if ok && (v.Release == "" || v.Action == "" || v.Key.App == "") {
			t.Fatalf("accepted %+v", v)
		}
		if ok {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if w, ok2 := ParseVars(string(b)); !ok2 || w.Release != v.Release || w.Key != v.Key {
				t.Fatalf("round trip: %+v %+v", v, w)
			}
		}
	})
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"token":"abc","expires":"2027-01-02T03:04:05.123456Z","scope":"write"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ParseToken(b)
		if err == nil && tok.Value == "" {
			t.Fatal("accepted a token answer without a token")
		}
	})
}
