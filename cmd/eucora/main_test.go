package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// runApp runs the eucora app in-process on args, reordered as main does
// (flags may follow positional arguments), and returns what it wrote to
// its Writer and the error run() would map to an exit code. Its ErrWriter
// output goes to the same buffer when withStderr is set and is dropped
// otherwise.
func runApp(t *testing.T, withStderr bool, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.ErrWriter = io.Discard
	if withStderr {
		app.ErrWriter = &out
	}
	err := app.Run(reorderArgs(app, append([]string{"eucora"}, args...)))
	return out.String(), err
}

// eucoraBin is the binary built once for black-box tests.
var eucoraBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eucora-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	eucoraBin = filepath.Join(dir, "eucora")
	build := exec.Command("go", "build", "-o", eucoraBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build eucora:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result of one eucora run.
type result struct {
	code           int
	stdout, stderr string
}

// eucora runs the built binary in dir.
func eucora(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(eucoraBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func mustRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := eucora(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("eucora %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("bad JSON output: %v\n%s", err, s)
	}
}

func TestHelpListsExitCodes(t *testing.T) {
	r := mustRun(t, t.TempDir(), "--help")
	for _, want := range []string{"EXIT CODES", "20  bad-signature", "21  corrupt", "22  stale", "23  missing-volume", "2  usage"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"bundle", "create", "--from", "x"},      // missing required flags
		{"bundle", "verify", "--trust", "k.pub"}, // no PATH
		{"bundle", "create", "--from", ".", "--out", "o", "--key", "k", "--volume-size", "lots"},
		{"--output", "yaml", "keys", "generate", "--out", ".", "--name", "x"},
		{"no-such-command"},
	} {
		r := eucora(t, dir, args...)
		if r.code != exitUsage {
			t.Errorf("eucora %v: exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
	r := eucora(t, dir, "bundle", "verify", "--output", "json", "--trust", "k.pub")
	var e map[string]any
	decodeJSON(t, r.stderr, &e)
	if e["exit_code"] != float64(exitUsage) || e["error"] == "" {
		t.Fatalf("JSON error: %v", e)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"30d": "720h0m0s", "7d12h": "180h0m0s", "90m": "1h30m0s"} {
		if got, err := parseDuration(in); err != nil || got.String() != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "soon"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
}

// TestCommandTree guards the CLI surface: every command's name, aliases
// and flags (names, type, default, required, environment variables) must
// match testdata/commands.golden. A deliberate change of a command or flag
// refreshes it: go test ./cmd/eucora -run TestCommandTree -update.
func TestCommandTree(t *testing.T) {
	var b strings.Builder
	b.WriteString("# every command below also has the global flags of eucora (--output, --quiet, --config)\n")
	global := map[string]bool{}
	var walk func(path string, flags []cli.Flag, cmds []*cli.Command)
	walk = func(path string, flags []cli.Flag, cmds []*cli.Command) {
		b.WriteString(path + "\n")
		seen := 0
		for _, f := range flags {
			if global[f.Names()[0]] {
				seen++
				continue
			}
			b.WriteString("    " + describeFlag(f) + "\n")
		}
		if seen != len(global) {
			t.Errorf("%s: has %d of the %d global flags", path, seen, len(global))
		}
		for _, c := range cmds {
			p := path + " " + c.Name
			if len(c.Aliases) > 0 {
				p += " (" + strings.Join(c.Aliases, ", ") + ")"
			}
			walk(p, c.Flags, c.Subcommands)
		}
	}
	app := newApp()
	b.WriteString(app.Name + "\n")
	for _, f := range app.Flags {
		b.WriteString("    " + describeFlag(f) + "\n")
		global[f.Names()[0]] = true
	}
	for _, c := range app.Commands {
		walk(app.Name+" "+c.Name, c.Flags, c.Subcommands)
	}
	got := []byte(b.String())
	path := filepath.Join("testdata", "commands.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the command tree differs from %s (a deliberate change: go test ./cmd/eucora -run TestCommandTree -update, and review the diff):\n%s",
			path, lineDiff(string(want), string(got)))
	}
}

// describeFlag writes a flag as "--name, -alias TYPE [default] [required] [env]".
func describeFlag(f cli.Flag) string {
	names := f.Names()
	for i, n := range names {
		if len(n) == 1 {
			names[i] = "-" + n
		} else {
			names[i] = "--" + n
		}
	}
	s := strings.Join(names, ", ") + " " + strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", f), "*cli."), "Flag"))
	if d, ok := f.(cli.DocGenerationFlag); ok {
		if v := d.GetDefaultText(); v != "" && d.TakesValue() {
			s += " default=" + v
		}
		if env := d.GetEnvVars(); len(env) > 0 {
			s += " env=" + strings.Join(env, ",")
		}
	}
	if r, ok := f.(cli.RequiredFlag); ok && r.IsRequired() {
		s += " required"
	}
	return s
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(got, "\n") {
		count[l]++
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if count[l] > 0 {
			count[l]--
			continue
		}
		b.WriteString("- " + l + "\n")
	}
	seen := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		seen[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		if seen[l] > 0 {
			seen[l]--
			continue
		}
		b.WriteString("+ " + l + "\n")
	}
	return b.String()
}

// TestCommandLayout keeps the layout doc.go describes: the command at path
// "hub rotate-key stage" is built by hubRotateKeyStageCmd in
// hub_rotate_key.go (or hub_rotate_key_stage.go), a leaf command is an
// options struct hubRotateKeyStageOptions with a run method beside it, and
// no file has an init function (the exit codes are the one table in
// exitcodes.go, the commands the list in main.go).
func TestCommandLayout(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]string{} // function or Type.method -> file
	types := map[string]string{}
	for _, f := range pkgs["main"].Files {
		file := filepath.Base(fset.Position(f.Pos()).Filename)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				name := d.Name.Name
				if d.Recv != nil {
					rt := d.Recv.List[0].Type
					if s, ok := rt.(*ast.StarExpr); ok {
						rt = s.X
					}
					name = rt.(*ast.Ident).Name + "." + name
				}
				if name == "init" {
					t.Errorf("%s has an init function", file)
				}
				funcs[strings.ToLower(name)] = file // edgeGCCmd for "edge gc"
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok {
						types[strings.ToLower(ts.Name.Name)] = file
					}
				}
			}
		}
	}
	ident := func(words []string) string {
		var b strings.Builder
		for i, w := range words {
			for j, p := range strings.Split(w, "-") {
				if i+j > 0 {
					p = strings.ToUpper(p[:1]) + p[1:]
				}
				b.WriteString(p)
			}
		}
		return b.String()
	}
	fileOf := func(words []string) string { return strings.ReplaceAll(strings.Join(words, "_"), "-", "_") + ".go" }
	n := 0
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string{}, path...), c.Name)
			n++
			want := []string{fileOf(p)} // the command's own file
			if len(p) > 1 {
				want = append(want, fileOf(p[:len(p)-1]))
			}
			name := ident(p)
			file, ok := funcs[strings.ToLower(name+"Cmd")]
			switch {
			case !ok:
				t.Errorf("eucora %s: no func %sCmd", strings.Join(p, " "), name)
			case !slices.Contains(want, file):
				t.Errorf("eucora %s: %sCmd is in %s, want %s", strings.Join(p, " "), name, file, strings.Join(want, " or "))
			}
			if len(c.Subcommands) == 0 {
				if types[strings.ToLower(name+"Options")] != file || funcs[strings.ToLower(name+"Options.run")] != file {
					t.Errorf("eucora %s: want type %sOptions and its run method in %s beside %sCmd", strings.Join(p, " "), name, file, name)
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk(nil, newApp().Commands)
	if n == 0 {
		t.Fatal("no commands")
	}
}
