package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/digest"
)

// TestKeyLayoutIsStable pins the bytes of every key: a change here is a new
// state format (FormatVersion), never a refactoring.
func TestKeyLayoutIsStable(t *testing.T) {
	d := digest.Digest(strings.Repeat("ab", 32))
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"applied", keyApplied, "m/applied"},
		{"cursor", keyCursor, "m/cursor"},
		{"identity", keyIdentity, "m/identity"},
		{"format", keyFormat, "m/format"},
		{"chain rule", keyChainRule, "m/chain-rule"},
		{"node", nodeKey("n1"), "n/n1"},
		{"site", siteKey("berlin"), "s/berlin"},
		{"plane", planeKey("intune-eu"), "pl/intune-eu"},
		{"token", tokenKey("tok1"), "t/tok1"},
		{"token hash", hashKey("ff"), "h/ff"},
		{"blob", blobKey("0a"), "b/0a"},
		{"event", eventKey(0x0102), "e/\x00\x00\x00\x00\x00\x00\x01\x02"},
		{"chain", chainKey("berlin"), "c/berlin"},
		{"dedup", dedupKey("berlin", 3), "d/berlin\x00\x00\x00\x00\x00\x00\x00\x00\x03"},
		{"sync", syncKey("lon"), "z/lon"},
		{"export", exportKey("lon", 0x0203), "x/lon\x00\x00\x00\x00\x00\x00\x00\x02\x03"},
		{"held", heldKey("lon"), "y/lon"},
		{"app", appKey("com.acme"), "ga/com.acme"},
		{"version", versionKey("com.acme", "1.0"), "gv/com.acme\x001.0"},
		{"version prefix", []byte(versionPrefix("com.acme")), "gv/com.acme\x00"},
		{"artifact", artifactKey("com.acme", "1.0", d), "gr/com.acme\x001.0\x00" + strings.Repeat("ab", 32)},
		{"artifact prefix", []byte(artifactPrefix("com.acme", "1.0")), "gr/com.acme\x001.0\x00"},
		{"artifact index", artifactIndexKey("com.acme", "1.0"), "gq/com.acme\x001.0"},
		{"assessment", assessmentKey("as-1"), "gs/as-1"},
		{"approval", approvalKey("ap-1"), "gp/ap-1"},
		{"approval request", approvalRequestKey("concurrency:i-2"), "gw/concurrency:i-2"},
		{"exception", exceptionKey("ex-1"), "gx/ex-1"},
		{"intent", intentKey("i-1"), "gi/i-1"},
		{"active intents", activeKey("com.acme"), "gk/com.acme"},
		{"evidence", evidenceKey("0b"), "ge/0b"},
		{"decision", decisionKey("d-1"), "gd/d-1"},
		{"grant", grantKey("el-1"), "gj/el-1"},
		{"node scan end", prefixEnd(prefixNode), "n0"},
		{"event scan end", prefixEnd(prefixEvent), "e0"},
	}
	for _, c := range cases {
		if string(c.got) != c.want {
			t.Errorf("%s key: %q, want %q", c.name, c.got, c.want)
		}
	}
}

// TestKeyPrefixesAreDisjoint checks that no prefix starts another, so a
// scan of one record kind never reads another's keys.
func TestKeyPrefixesAreDisjoint(t *testing.T) {
	for i, a := range keyPrefixes {
		for j, b := range keyPrefixes {
			if i != j && strings.HasPrefix(b, a) {
				t.Errorf("prefix %q starts prefix %q", a, b)
			}
		}
	}
	if c, ok := eventCursor(eventKey(42)); !ok || c != 42 {
		t.Errorf("eventCursor(eventKey(42)) = %d, %v", c, ok)
	}
	for _, k := range [][]byte{siteKey("abcdefgh"), []byte("e/123")} {
		if _, ok := eventCursor(k); ok {
			t.Errorf("eventCursor(%q) accepted a key that is not an event's", k)
		}
	}
}

// TestKeysAreBuiltInKeysGo fails on a string literal that looks like a
// state key prefix ("s/", "gv/...") outside keys.go: every key is built
// there.
func TestKeysAreBuiltInKeysGo(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	keyLike := regexp.MustCompile(`^[a-z]{1,2}/`)
	fset := token.NewFileSet()
	for _, name := range files {
		if name == "keys.go" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if v, err := strconv.Unquote(lit.Value); err == nil && keyLike.MatchString(v) {
				t.Errorf("%s: key-like literal %s: build state keys in keys.go", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
	}
}
