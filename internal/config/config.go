// Package config reads EUCORA's TOML configuration files and applies them
// to the flags of urfave/cli commands.
//
// A file has one table per command, named by the command's path, and in it
// one key per flag, named exactly like the flag (its first name, without
// dashes):
//
//	[hub.serve]
//	data = "/var/lib/eucora/hub"
//	http = "0.0.0.0:8440"
//	rollout-interval = "5s"
//
// Every flag of a command is a key, whatever its type: strings and
// durations are TOML strings ("30s"), booleans TOML booleans, numbers TOML
// integers (floats for float flags), list flags TOML arrays. A value from
// the file counts as if the flag had been given, except that a flag given
// on the command line or through its environment variable wins:
// precedence is flag > environment variable > file > default.
//
// Parse checks the whole file against the command tree before anything
// runs: a syntax error, a table that names no command, a key that names no
// flag of its command, a value of the wrong type and a value the flag does
// not accept (a bad duration, a negative count) are each a Problem naming
// the file, line, key and what is wanted; Parse returns all of them.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"github.com/urfave/cli/v2"
)

// Dir holds the default configuration files: DefaultPath("hub") is
// Dir/hub.toml.
const Dir = "/etc/eucora"

// EnvVar names the configuration file when no --config is given.
const EnvVar = "EUCORA_CONFIG"

// MaxFileSize bounds what Load reads: configuration files are small.
const MaxFileSize = 1 << 20

// Excluded flags are never configuration keys: --help is urfave/cli's, and
// --config names the file itself.
var Excluded = []string{"help", "config"}

// ErrInvalid is wrapped by the error Parse and Load return for a file with
// problems (*Problems).
var ErrInvalid = errors.New("invalid configuration file")

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"` // 1-based; 0 when the file as a whole is wrong
	Key  string `json:"key,omitempty"`  // dotted path: hub.serve.http
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
	}
	if p.Key != "" {
		s += ": key " + p.Key
	}
	return s + ": " + p.Msg
}

// Problems is every problem found in one file.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	if len(ps) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(ps), strings.Join(lines, "\n  "))
}

func (ps Problems) Unwrap() error { return ErrInvalid }

// Value is one key of a file, ready for flag.Value.Set: Args holds one
// string, or one per element for a list flag.
type Value struct {
	Flag string   // the flag's name (the key)
	Key  string   // dotted path in the file
	Line int      // where the key is
	Args []string // what Set is called with, in order
}

// File is a parsed, checked configuration file.
type File struct {
	Path     string
	sections map[string][]Value // "hub serve" -> values in file order
}

// Section returns the values for the command at path ("hub serve"), in
// file order.
func (f *File) Section(path string) []Value {
	if f == nil {
		return nil
	}
	return f.sections[path]
}

// Sections lists the command paths the file configures.
func (f *File) Sections() []string {
	if f == nil {
		return nil
	}
	var out []string
	for k := range f.sections {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// DefaultPath is the default file of a command group: /etc/eucora/hub.toml
// for the hub's commands, edge.toml for the edge's.
func DefaultPath(group string) string { return filepath.Join(Dir, group+".toml") }

// Load reads and parses path against cmds (see Parse).
func Load(path string, cmds []*cli.Command) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, Problems{{File: path, Msg: fmt.Sprintf("larger than %d bytes; a configuration file is a few lines", MaxFileSize)}}
	}
	return Parse(path, data, cmds)
}

// Parse parses data (named path in problems) against the command tree
// cmds. It returns *Problems (wrapping ErrInvalid) listing everything wrong.
func Parse(path string, data []byte, cmds []*cli.Command) (*File, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		p := Problem{File: path, Msg: "not valid TOML: " + strings.TrimPrefix(err.Error(), "toml: ")}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			p.Line, _ = de.Position()
			if k := de.Key(); len(k) > 0 {
				p.Key = strings.Join(k, ".")
			}
		}
		return nil, Problems{p}
	}
	lines := keyLines(data)
	f := &File{Path: path, sections: map[string][]Value{}}
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{File: path, Line: lines.of(key), Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	var walk func(prefix []string, table map[string]any, sub []*cli.Command, cmd *cli.Command)
	walk = func(prefix []string, table map[string]any, sub []*cli.Command, cmd *cli.Command) {
		for _, k := range sortedKeys(table, lines, prefix) {
			v := table[k]
			key := strings.Join(append(slices.Clone(prefix), k), ".")
			if c := findCommand(sub, k); c != nil {
				t, ok := v.(map[string]any)
				if !ok {
					add(key, "names the command %s: want a table [%s] holding its flags", commandPath(prefix, c.Name), key)
					continue
				}
				walk(append(slices.Clone(prefix), c.Name), t, c.Subcommands, c)
				continue
			}
			if cmd == nil {
				add(key, "names no eucora command; want a table such as [hub.serve] or [edge.serve]")
				continue
			}
			fl := findFlag(cmd, k)
			if fl == nil {
				add(key, "%s has no flag --%s; its keys are: %s", commandPath(prefix[:len(prefix)-1], cmd.Name), k, strings.Join(flagNames(cmd), ", "))
				continue
			}
			if name := fl.Names()[0]; name != k {
				add(key, "--%s is an alias: write the flag's name, %q", k, name)
				continue
			}
			args, err := flagArgs(fl, v)
			if err == nil {
				err = checkSet(fl, args)
			}
			if err != nil {
				add(key, "%v", err)
				continue
			}
			sec := strings.Join(prefix, " ")
			f.sections[sec] = append(f.sections[sec], Value{Flag: k, Key: key, Line: lines.of(key), Args: args})
		}
	}
	walk(nil, doc, cmds, nil)
	if len(ps) > 0 {
		slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
		return nil, ps
	}
	return f, nil
}

func commandPath(prefix []string, name string) string {
	return "'eucora " + strings.Join(append(slices.Clone(prefix), name), " ") + "'"
}

// sortedKeys orders a table's keys as they appear in the file.
func sortedKeys(table map[string]any, lines lineIndex, prefix []string) []string {
	ks := make([]string, 0, len(table))
	for k := range table {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b string) int {
		la := lines.of(strings.Join(append(slices.Clone(prefix), a), "."))
		lb := lines.of(strings.Join(append(slices.Clone(prefix), b), "."))
		if la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	return ks
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func excluded(name string) bool { return slices.Contains(Excluded, name) }

// findFlag returns cmd's flag called name (by any of its names).
func findFlag(cmd *cli.Command, name string) cli.Flag {
	if excluded(name) {
		return nil
	}
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) && !excluded(f.Names()[0]) {
			return f
		}
	}
	return nil
}

// flagNames lists the keys a command accepts.
func flagNames(cmd *cli.Command) []string {
	var out []string
	for _, f := range cmd.Flags {
		if n := f.Names()[0]; !excluded(n) {
			out = append(out, n)
		}
	}
	return out
}

// Kind is what a flag wants in a file, for messages and documentation.
func Kind(f cli.Flag) string {
	switch f.(type) {
	case *cli.BoolFlag:
		return "a boolean (true or false)"
	case *cli.IntFlag, *cli.Int64Flag:
		return "an integer"
	case *cli.UintFlag, *cli.Uint64Flag:
		return "a non-negative integer"
	case *cli.Float64Flag:
		return "a number"
	case *cli.DurationFlag:
		return `a duration string such as "30s" or "5m"`
	case *cli.StringSliceFlag:
		return `an array of strings such as ["a", "b"]`
	case *cli.IntSliceFlag, *cli.Int64SliceFlag, *cli.UintSliceFlag, *cli.Uint64SliceFlag:
		return "an array of integers"
	case *cli.Float64SliceFlag:
		return "an array of numbers"
	default:
		return "a string"
	}
}

// flagArgs turns a TOML value into the strings Set takes for f, or says
// what f wants instead.
func flagArgs(f cli.Flag, v any) ([]string, error) {
	wrong := func() error { return fmt.Errorf("is %s; --%s wants %s", describe(v), f.Names()[0], Kind(f)) }
	scalar := func(want string, v any) (string, bool) {
		switch want {
		case "bool":
			b, ok := v.(bool)
			return strconv.FormatBool(b), ok
		case "int":
			i, ok := v.(int64)
			return strconv.FormatInt(i, 10), ok
		case "float":
			switch x := v.(type) {
			case float64:
				return strconv.FormatFloat(x, 'g', -1, 64), true
			case int64:
				return strconv.FormatInt(x, 10), true
			}
			return "", false
		default:
			s, ok := v.(string)
			return s, ok
		}
	}
	var want string
	list := false
	switch f.(type) {
	case *cli.BoolFlag:
		want = "bool"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		want = "int"
	case *cli.Float64Flag:
		want = "float"
	case *cli.StringSliceFlag:
		want, list = "string", true
	case *cli.IntSliceFlag, *cli.Int64SliceFlag, *cli.UintSliceFlag, *cli.Uint64SliceFlag:
		want, list = "int", true
	case *cli.Float64SliceFlag:
		want, list = "float", true
	default:
		want = "string"
	}
	if !list {
		s, ok := scalar(want, v)
		if !ok {
			return nil, wrong()
		}
		return []string{s}, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, wrong()
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := scalar(want, e)
		if !ok {
			return nil, fmt.Errorf("element %d is %s; --%s wants %s", i+1, describe(e), f.Names()[0], Kind(f))
		}
		if want == "string" && strings.Contains(s, ",") {
			// urfave/cli splits list flags at commas.
			return nil, fmt.Errorf("element %d %q holds a comma, which --%s would split; give each value as its own element", i+1, s, f.Names()[0])
		}
		out = append(out, s)
	}
	return out, nil
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", clip(x))
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case int64:
		return fmt.Sprintf("the integer %d", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// checkSet runs the flag's own parser on args, on a scratch copy of the
// flag (no destination, no environment variables), so a value the flag
// would refuse is found before anything runs.
func checkSet(f cli.Flag, args []string) error {
	cp := scratch(f)
	set := flag.NewFlagSet("config", flag.ContinueOnError)
	set.SetOutput(io.Discard)
	if err := cp.Apply(set); err != nil {
		return err
	}
	name := f.Names()[0]
	for _, a := range args {
		if err := set.Set(name, a); err != nil {
			return fmt.Errorf("%q: --%s wants %s (%v)", clip(a), name, Kind(f), unwrapParse(err))
		}
	}
	return nil
}

func unwrapParse(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

// scratch returns a shallow copy of f with Destination, EnvVars and Action
// cleared.
func scratch(f cli.Flag) cli.Flag {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return f
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	for _, name := range []string{"Destination", "EnvVars", "Action", "FilePath"} {
		if fv := cp.Elem().FieldByName(name); fv.IsValid() && fv.CanSet() {
			fv.Set(reflect.Zero(fv.Type()))
		}
	}
	out, ok := cp.Interface().(cli.Flag)
	if !ok {
		return f
	}
	return out
}

// lineIndex maps a dotted key path to the line it is defined on.
type lineIndex map[string]int

func (l lineIndex) of(key string) int { return l[key] }

// keyLines records the line of every table header and key of a document
// that has already parsed.
func keyLines(data []byte) lineIndex {
	idx := lineIndex{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = table[:0]
			it := e.Key()
			for it.Next() {
				n := it.Node()
				table = append(table, string(n.Data))
				key := strings.Join(table, ".")
				if _, ok := idx[key]; !ok {
					idx[key] = p.Shape(n.Raw).Start.Line
				}
			}
		case unstable.KeyValue:
			keyValueLines(&p, idx, table, e)
		}
	}
	return idx
}

func keyValueLines(p *unstable.Parser, idx lineIndex, table []string, e *unstable.Node) {
	path := slices.Clone(table)
	it := e.Key()
	line := 0
	for it.Next() {
		n := it.Node()
		path = append(path, string(n.Data))
		line = p.Shape(n.Raw).Start.Line
		key := strings.Join(path, ".")
		if _, ok := idx[key]; !ok {
			idx[key] = line
		}
	}
	if v := e.Value(); v != nil && v.Kind == unstable.InlineTable {
		kids := v.Children()
		for kids.Next() {
			if kv := kids.Node(); kv.Kind == unstable.KeyValue {
				keyValueLines(p, idx, path, kv)
			}
		}
	}
}
