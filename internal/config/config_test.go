package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// serveOptions is where the test command's flags land.
type serveOptions struct {
	listen   string
	token    string
	interval time.Duration
	verbose  bool
	workers  int
	limit    uint64
	peers    cli.StringSlice
	site     string
}

// tree is a small real command tree: "hub serve" with flags of each type.
func tree(o *serveOptions, action cli.ActionFunc) []*cli.Command {
	serve := &cli.Command{
		Name: "serve",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8440", EnvVars: []string{"TEST_EUCORA_LISTEN"}, Destination: &o.listen},
			&cli.StringFlag{Name: "token", EnvVars: []string{"TEST_EUCORA_TOKEN"}, Destination: &o.token},
			&cli.DurationFlag{Name: "interval", Value: time.Minute, Destination: &o.interval},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Destination: &o.verbose},
			&cli.IntFlag{Name: "workers", Value: 4, Destination: &o.workers},
			&cli.Uint64Flag{Name: "limit", Destination: &o.limit},
			&cli.StringSliceFlag{Name: "peer", Destination: &o.peers},
			&cli.StringFlag{Name: "site", Required: true, Destination: &o.site},
		},
		Action: action,
	}
	return []*cli.Command{{Name: "hub", Subcommands: []*cli.Command{serve}}, {Name: "edge", Subcommands: []*cli.Command{{Name: "serve"}}}}
}

func TestParseGood(t *testing.T) {
	var o serveOptions
	doc := `# comment
[hub.serve]
listen = "0.0.0.0:9000"
interval = "5s"
verbose = true
workers = 8
limit = 100
peer = ["a:1", "b:2"]
site = "paris"
`
	f, err := Parse("hub.toml", []byte(doc), tree(&o, nil))
	if err != nil {
		t.Fatal(err)
	}
	vals := f.Section("hub serve")
	want := map[string]string{"listen": "0.0.0.0:9000", "interval": "5s", "verbose": "true", "workers": "8", "limit": "100", "peer": "a:1|b:2", "site": "paris"}
	if len(vals) != len(want) {
		t.Fatalf("got %d values, want %d: %+v", len(vals), len(want), vals)
	}
	for i, v := range vals {
		if got := strings.Join(v.Args, "|"); got != want[v.Flag] {
			t.Errorf("%s = %q, want %q", v.Flag, got, want[v.Flag])
		}
		if v.Line != i+3 {
			t.Errorf("%s on line %d, want %d", v.Flag, v.Line, i+3)
		}
	}
	if got := f.Sections(); len(got) != 1 || got[0] != "hub serve" {
		t.Errorf("sections %v", got)
	}
}

// TestParseProblems: every mistake is found in one pass, each naming the
// file, the line, the key and what is wanted.
func TestParseProblems(t *testing.T) {
	var o serveOptions
	doc := `[hub.serve]
lisen = "x"
interval = "soon"
verbose = "yes"
workers = 1.5
limit = -1
peer = "a"
v = true
help = true

[hub.srve]
x = 1

[edge]
serve = 3

[nonsense]
a = 1
top = 2
`
	_, err := Parse("/etc/eucora/hub.toml", []byte(doc), tree(&o, nil))
	var ps Problems
	if !errors.As(err, &ps) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want Problems wrapping ErrInvalid, got %v", err)
	}
	want := []struct {
		line      int
		key, text string
	}{
		{2, "hub.serve.lisen", "has no flag --lisen; its keys are: listen, token"},
		{3, "hub.serve.interval", `"soon": --interval wants a duration`},
		{4, "hub.serve.verbose", `is the string "yes"; --verbose wants a boolean`},
		{5, "hub.serve.workers", "is the number 1.5; --workers wants an integer"},
		{6, "hub.serve.limit", `"-1": --limit wants a non-negative integer`},
		{7, "hub.serve.peer", `--peer wants an array of strings`},
		{8, "hub.serve.v", `--v is an alias: write the flag's name, "verbose"`},
		{9, "hub.serve.help", "has no flag --help"},
		{11, "hub.srve", "'eucora hub' has no flag --srve"},
		{15, "edge.serve", "names the command 'eucora edge serve': want a table [edge.serve]"},
		{17, "nonsense", "names no eucora command"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		p := ps[i]
		if p.File != "/etc/eucora/hub.toml" || p.Line != w.line || p.Key != w.key || !strings.Contains(p.Msg, w.text) {
			t.Errorf("problem %d = %s\nwant line %d key %s containing %q", i, p, w.line, w.key, w.text)
		}
	}
	if !strings.Contains(err.Error(), "/etc/eucora/hub.toml:3: key hub.serve.interval:") {
		t.Errorf("message does not name file:line: key:\n%v", err)
	}
}

func TestParseSyntaxError(t *testing.T) {
	for _, doc := range []string{
		"[hub.serve]\nlisten = \"a\"\nlisten = \"b\"\n", // duplicate key
		"[hub.serve]\n\nlisten = \n",                    // no value
		"[hub.serve\n",                                  // unclosed header
		"[hub.serve]\nlisten = \"unterminated\n",
	} {
		var o serveOptions
		_, err := Parse("x.toml", []byte(doc), tree(&o, nil))
		var ps Problems
		if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Line == 0 || !strings.Contains(ps[0].Msg, "not valid TOML") {
			t.Errorf("%q: want one syntax problem with a line, got %v", doc, err)
		}
	}
}

func TestLoadRefusesHugeAndMissing(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte(strings.Repeat("# x\n", MaxFileSize/4+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var o serveOptions
	if _, err := Load(big, tree(&o, nil)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "none.toml"), tree(&o, nil)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// run runs "hub serve" with args and env, the file applied the way the
// eucora binary does (Relax before, Apply in the action).
func run(t *testing.T, doc string, env map[string]string, args ...string) (serveOptions, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var o serveOptions
	var file *File
	var applied []Value
	var runErr error
	cmds := tree(&o, func(c *cli.Context) error {
		var err error
		applied, err = Apply(c, file.Section("hub serve"))
		if err != nil {
			return err
		}
		if o.workers > 100 {
			runErr = Attribute(errors.New("--workers must be at most 100"), file.Path, applied)
			return runErr
		}
		return nil
	})
	f, err := Parse("hub.toml", []byte(doc), cmds)
	if err != nil {
		t.Fatal(err)
	}
	file = f
	Relax(cmds[0].Subcommands[0], f.Section("hub serve"))
	app := &cli.App{Name: "eucora", Commands: cmds, Writer: io.Discard, ErrWriter: io.Discard, ExitErrHandler: func(*cli.Context, error) {}}
	err = app.Run(append([]string{"eucora", "hub", "serve"}, args...))
	return o, err
}

// TestPrecedence: flag > environment variable > file > default.
func TestPrecedence(t *testing.T) {
	doc := "[hub.serve]\nlisten = \"file:1\"\ntoken = \"file-token\"\ninterval = \"7s\"\nsite = \"lyon\"\npeer = [\"p1\", \"p2\"]\n"
	o, err := run(t, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "file:1" || o.token != "file-token" || o.interval != 7*time.Second || o.site != "lyon" || strings.Join(o.peers.Value(), ",") != "p1,p2" {
		t.Errorf("file values not applied: %+v", o)
	}
	if o.workers != 4 {
		t.Errorf("default workers = %d, want 4 (not in the file)", o.workers)
	}
	o, err = run(t, doc, map[string]string{"TEST_EUCORA_LISTEN": "env:2"})
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "env:2" || o.token != "file-token" {
		t.Errorf("env must beat the file: %+v", o)
	}
	o, err = run(t, doc, map[string]string{"TEST_EUCORA_LISTEN": "env:2", "TEST_EUCORA_TOKEN": "env-token"}, "--listen", "flag:3", "--peer", "q", "--site", "nice")
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "flag:3" || o.token != "env-token" || o.site != "nice" || strings.Join(o.peers.Value(), ",") != "q" {
		t.Errorf("flag must beat env and file: %+v", o)
	}
}

// TestRequiredFromFile: a required flag may come from the file; without
// it the command still refuses to run.
func TestRequiredFromFile(t *testing.T) {
	if _, err := run(t, "[hub.serve]\nsite = \"x\"\n", nil); err != nil {
		t.Errorf("required flag from the file refused: %v", err)
	}
	if _, err := run(t, "[hub.serve]\nlisten = \"x\"\n", nil); err == nil || !strings.Contains(err.Error(), "Required flag") {
		t.Errorf("required flag missing everywhere: %v", err)
	}
}

// TestAttribute: a command's complaint about a value from the file names
// the file, line and key.
func TestAttribute(t *testing.T) {
	_, err := run(t, "[hub.serve]\nsite = \"x\"\nworkers = 500\n", nil)
	var se *SourceError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "hub.toml:3, key hub.serve.workers") {
		t.Errorf("want the file's line and key in %v", err)
	}
	_, err = run(t, "[hub.serve]\nsite = \"x\"\n", nil, "--workers", "500")
	if errors.As(err, &se) {
		t.Errorf("a flag's own value blamed on the file: %v", err)
	}
	if !mentionsFlag("bad --data-dir", "data-dir") || mentionsFlag("bad --data-dir", "data") || !mentionsFlag("--data: x", "data") {
		t.Error("mentionsFlag")
	}
}

func TestLocate(t *testing.T) {
	t.Setenv(EnvVar, "")
	if p, must := Locate("/x.toml", "hub"); p != "/x.toml" || !must {
		t.Errorf("explicit: %q %v", p, must)
	}
	t.Setenv(EnvVar, "/env.toml")
	if p, must := Locate("", "hub"); p != "/env.toml" || !must {
		t.Errorf("env: %q %v", p, must)
	}
	t.Setenv(EnvVar, "")
	if p, _ := Locate("", "mirror"); p != "" {
		t.Errorf("no default file for mirror commands, got %q", p)
	}
	p, must := Locate("", "hub")
	if _, err := os.Stat(DefaultPath("hub")); err == nil {
		if p != DefaultPath("hub") || !must {
			t.Errorf("existing default: %q %v", p, must)
		}
	} else if p != "" {
		t.Errorf("absent default file located: %q", p)
	}
}

// FuzzParse: no input makes Parse panic, and whatever it accepts applies
// cleanly to a fresh command tree.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[hub.serve]\nlisten = \"a\"\n", "[hub.serve]\npeer = [\"a\", 1]\n", "hub.serve.workers = 3\n",
		"[hub]\nserve = { listen = \"x\", verbose = true }\n", "[[hub.serve]]\n", "a = 1979-05-27T07:32:00Z\n",
		"[hub.serve]\ninterval = \"-5s\"\nlimit = 18446744073709551615\n", "\xff\xfe", "[hub.serve]\n\"site\" = 'x'\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var o serveOptions
		cmds := tree(&o, nil)
		file, err := Parse("fuzz.toml", data, cmds)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error is not Problems: %v", err)
			}
			for _, p := range ps {
				if p.File != "fuzz.toml" || p.Msg == "" {
					t.Fatalf("bad problem %+v", p)
				}
			}
			return
		}
		for _, v := range file.Section("hub serve") {
			if err := checkSet(findFlag(cmds[0].Subcommands[0], v.Flag), v.Args); err != nil {
				t.Fatalf("accepted value refused by its flag: %v", err)
			}
		}
	})
}
