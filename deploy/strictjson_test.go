package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type keysInner struct {
	Name string `json:"name"`
}

type keysEmbedded struct {
	Team string `json:"team"`
}

type keysDoc struct {
	keysEmbedded
	Role   string               `json:"role"`
	Scope  Scope                `json:"scope"`
	Items  []keysInner          `json:"items"`
	ByName map[string]keysInner `json:"by_name"`
	Raw    json.RawMessage      `json:"raw"`
	Any    any                  `json:"any"`
	Ptr    *keysInner           `json:"ptr"`
	Plain  string
	Hidden string `json:"-"`
}

func TestCheckKeys(t *testing.T) {
	for _, tc := range []struct {
		doc, field string // field "" means accepted
	}{
		{`{"role":"auditor"}`, ""},
		{`{"role":"auditor","role":"platform-admin"}`, "role"},
		{`{"Role":"platform-admin"}`, "Role"},
		{`{"ROLE":"platform-admin"}`, "ROLE"},
		{"{\"rol\u212a\":1}", ""}, // not a case variant of a field (left to DisallowUnknownFields)
		{`{"role":"auditor","Role":"platform-admin"}`, "Role"},
		{`{"team":"x"}`, ""},
		{`{"Team":"x"}`, "Team"},
		{`{"scope":{"bu":"x","Bu":"y"}}`, "scope.Bu"},
		{`{"scope":{"acquisition":"a","acquisition":"b"}}`, "scope.acquisition"},
		{`{"items":[{"name":"a"},{"name":"b"}]}`, ""},
		{`{"items":[{"name":"a"},{"Name":"b"}]}`, "items[].Name"},
		{`{"items":[{"name":"a","name":"b"}]}`, "items[].name"},
		{`{"by_name":{"A":{"name":"a"},"a":{"name":"a"}}}`, ""},
		{`{"by_name":{"a":{},"a":{}}}`, "by_name.a"},
		{`{"by_name":{"a":{"NAME":"x"}}}`, "by_name.a.NAME"},
		{`{"raw":{"Whatever":1,"whatever":2}}`, ""},
		{`{"raw":{"k":1,"k":2}}`, "raw.k"},
		{`{"any":{"X":1,"x":1}}`, ""},
		{`{"any":[{"x":1,"x":1}]}`, "any[].x"},
		{`{"ptr":{"Name":"x"}}`, "ptr.Name"},
		{`{"Plain":"x"}`, ""},
		{`{"plain":"x"}`, "plain"},
		{`{"role":`, ""}, // syntax errors are the decoder's
		{`[{"a":1},{"a":1}]`, ""},
	} {
		err := CheckKeys([]byte(tc.doc), &keysDoc{})
		var fe *FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.doc, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
			t.Errorf("%s: %v, want a refusal naming %q", tc.doc, err, tc.field)
		}
	}
	big := make([]byte, MaxDocumentSize+1)
	if err := decodeStrict(big, &struct{}{}, "doc"); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatal(err)
	}
}

// FuzzCheckKeys: CheckKeys never panics, and whatever it accepts the
// standard decoder reads to the same value as a decoder that sees each key
// only once spelled exactly.
func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{
		`{"role":"auditor","role":"platform-admin"}`, `{"Role":"x"}`, `{"items":[{"name":"a"}]}`,
		`{"by_name":{"a":{"name":"b"}}}`, `{"scope":{"bu":"x"}}`, `{"raw":{"a":[1,{"b":2}]}}`, `[]`, `{`, `{"a":1}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if CheckKeys(data, &keysDoc{}) != nil {
			return
		}
		// Accepted: no object in the document repeats a key or holds a
		// case variant of a known field, so lower-casing known field
		// names cannot create a collision the decoder would resolve.
		var v keysDoc
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if dec.Decode(&v) != nil {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return
		}
		for k := range m {
			if k != "Plain" && k != "Hidden" && k != strings.ToLower(k) {
				t.Fatalf("accepted key %q that is not spelled as a field", k)
			}
		}
	})
}
