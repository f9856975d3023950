package deploy

import (
	"strings"
	"testing"
)

func TestCheckDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		doc, dup string
	}{
		{`{"a":1,"b":2}`, ""},
		{`{"a":1,"a":2}`, `"a"`},
		{`{"a":{"b":1,"c":{"d":1}},"e":[{"f":1},{"f":2}]}`, ""},
		{`{"a":{"b":1,"b":1}}`, `"a.b"`},
		{`{"a":[{"x":1},{"x":1,"x":2}]}`, `"a[].x"`},
		{`{"a":[1,[2,{"k":1,"k":2}]]}`, `"a[][].k"`},
		{`{"a":{},"b":{"a":1},"a2":[]}`, ""},
		{`[{"a":1},{"a":1}]`, ""},
	} {
		err := checkDuplicateKeys([]byte(tc.doc))
		if tc.dup == "" && err != nil || tc.dup != "" && (err == nil || !strings.Contains(err.Error(), tc.dup)) {
			t.Errorf("%s: %v, want %q", tc.doc, err, tc.dup)
		}
	}
	big := make([]byte, MaxDocumentSize+1)
	if err := decodeStrict(big, &struct{}{}, "doc"); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatal(err)
	}
}
