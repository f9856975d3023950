package store

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// commandConstants returns the value of every Cmd* constant declared in
// the package's non-test files, by name.
func commandConstants(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Cmd") {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: %s is not a string literal", fset.Position(id.Pos()), id.Name)
					}
					v, _ := strconv.Unquote(lit.Value)
					out[id.Name] = v
				}
			}
		}
	}
	return out
}

// TestEveryCommandHasOneHandler checks that every command type constant
// has exactly one handler, in exactly one domain table, and a supported
// version, and that no table or version names a type without a constant.
func TestEveryCommandHasOneHandler(t *testing.T) {
	consts := commandConstants(t)
	if len(consts) < 29 {
		t.Fatalf("found %d Cmd* constants, want at least 29: the parser missed some", len(consts))
	}
	byValue := map[string]string{}
	for name, v := range consts {
		if other, dup := byValue[v]; dup {
			t.Errorf("%s and %s are both %q", name, other, v)
		}
		byValue[v] = name
		var in []string
		for _, tb := range handlerTables {
			if _, ok := tb.handlers[v]; ok {
				in = append(in, tb.domain)
			}
		}
		if len(in) != 1 {
			t.Errorf("%s (%q) has a handler in %d tables %v, want exactly 1", name, v, len(in), in)
		}
		if handlers[v] == nil {
			t.Errorf("%s (%q) has no handler in the merged registry", name, v)
		}
		if supported[v] < 1 {
			t.Errorf("%s (%q) has no supported version", name, v)
		}
	}
	for typ := range handlers {
		if byValue[typ] == "" {
			t.Errorf("handler for %q, which no Cmd* constant names", typ)
		}
	}
	for typ := range supported {
		if byValue[typ] == "" {
			t.Errorf("supported version for %q, which no Cmd* constant names", typ)
		}
	}
}

func TestMergeHandlersPanicsOnDuplicateOrNil(t *testing.T) {
	mustPanic := func(name string, tables []handlerTable, want ...string) {
		t.Helper()
		defer func() {
			r := recover()
			msg, _ := r.(string)
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s: panic %v, want it to mention %q", name, r, w)
				}
			}
		}()
		mergeHandlers(tables)
		t.Errorf("%s: no panic", name)
	}
	mustPanic("duplicate", []handlerTable{
		{"cluster", map[string]handler{CmdNodeUpsert: withBody(applyNodeUpsert)}},
		{"other", map[string]handler{CmdNodeUpsert: withBody(applyNodeRemove)}},
	}, CmdNodeUpsert, "cluster", "other")
	mustPanic("nil", []handlerTable{{"cluster", map[string]handler{CmdNodeUpsert: nil}}}, CmdNodeUpsert, "nil")
	if got := mergeHandlers(handlerTables[:2]); len(got) != len(clusterHandlers)+len(identityHandlers) {
		t.Errorf("merged %d handlers from two tables of %d and %d", len(got), len(clusterHandlers), len(identityHandlers))
	}
}

// TestProcessRefusesUnsupportedCommands applies unknown types and versions
// to a real Pebble batch: each is an *UnsupportedCommandError naming the
// type and version, and nothing is written, not even the audit event.
func TestProcessRefusesUnsupportedCommands(t *testing.T) {
	_, st := mustOpenFSM(t, t.TempDir())
	cases := []Command{
		{Type: "policy.rewrite", Version: 1, Audit: audit(1)},
		{Type: CmdSiteCreate, Version: 2, Audit: audit(2)},
		{Type: CmdSiteCreate, Version: 0, Audit: audit(3)},
		{Type: "", Version: 1, Audit: audit(4)},
	}
	for _, cmd := range cases {
		b := st.db.NewIndexedBatch()
		_, err := Processor{}.Process(pebbleBatch{b}, cmd)
		var uc *UnsupportedCommandError
		if !errors.As(err, &uc) || uc.Type != cmd.Type || uc.Version != cmd.Version {
			t.Errorf("%q v%d: %v, want UnsupportedCommandError", cmd.Type, cmd.Version, err)
		}
		if n := b.Count(); n != 0 {
			t.Errorf("%q v%d: %d writes, want none", cmd.Type, cmd.Version, n)
		}
		b.Close()
	}
}
