package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/config"
)

// Configuration files (docs/config.md): /etc/eucora/hub.toml for the hub's
// commands, edge.toml for the edge's, or the file --config or
// $EUCORA_CONFIG names, with one table per command ([hub.serve]) and one
// key per flag. loadConfig checks the whole file against the command tree
// before the command runs (app.Before); withConfig sets, in the command's
// action, the flags given neither on the command line nor by environment.

// configFlag is the global --config.
func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", EnvVars: []string{config.EnvVar},
		Usage: "TOML configuration file (default /etc/eucora/hub.toml for hub commands, edge.toml for edge commands, if present); see docs/config.md"}
}

// configMetaKey holds the loaded file in app.Metadata.
const configMetaKey = "eucora.config"

// noConfig are the command groups that never read a configuration file.
var noConfig = []string{"config", "completion", "man"}

// loadConfig (app.Before) finds the command the arguments name, loads and
// checks its configuration file, and lets a required flag come from it.
// A file with problems stops the command before it starts.
func loadConfig(c *cli.Context) error {
	args := c.Args().Slice()
	path, leaf, explicit := resolveCommand(c.App, args)
	if leaf == nil || slices.Contains(noConfig, path[0]) || slices.ContainsFunc(args, isHelpArg) {
		return nil
	}
	if explicit == "" {
		explicit = c.String("config")
	}
	file, _ := config.Locate(explicit, path[0])
	if file == "" {
		return nil
	}
	f, err := config.Load(file, c.App.Commands)
	if err != nil {
		return usageErrorf("%v", err)
	}
	config.Relax(leaf, f.Section(strings.Join(path, " ")))
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[configMetaKey] = f
	return nil
}

func isHelpArg(a string) bool {
	return a == "-h" || a == "--help" || a == "--generate-bash-completion"
}

// resolveCommand walks args (after the application's flags) to the
// command they name, as reorderArgs does, and picks up a --config given
// anywhere on the line.
func resolveCommand(app *cli.App, args []string) (path []string, leaf *cli.Command, configArg string) {
	cmds := app.Commands
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") {
			name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if name == "config" {
				if hasVal {
					configArg = val
				} else if i+1 < len(args) {
					configArg = args[i+1]
				}
			}
			continue
		}
		if leaf != nil && len(leaf.Subcommands) == 0 {
			continue // a positional argument or a flag's value
		}
		c := findCommand(cmds, a)
		if c == nil {
			continue // a flag's value (--data DIR) before the command
		}
		leaf, path = c, append(path, c.Name)
		cmds = c.Subcommands
	}
	if leaf != nil && len(leaf.Subcommands) > 0 {
		return nil, nil, configArg
	}
	return path, leaf, configArg
}

// withConfig applies the loaded file's [path] table to the command's
// flags before action runs, and names the file, line and key in an error
// about a flag whose value came from it.
func withConfig(path string, action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		f, _ := c.App.Metadata[configMetaKey].(*config.File)
		if f == nil {
			return action(c)
		}
		applied, err := config.Apply(c, f.Section(path))
		if err != nil {
			return usageErrorf("%s: %v", f.Path, err)
		}
		return config.Attribute(action(c), f.Path, applied)
	}
}

func configCmd() *cli.Command {
	return &cli.Command{
		Name:        "config",
		Usage:       "check configuration files",
		Subcommands: []*cli.Command{configCheckCmd()},
	}
}

type configCheckOptions struct{}

func configCheckCmd() *cli.Command {
	var o configCheckOptions
	return &cli.Command{
		Name:      "check",
		Usage:     "check configuration files against the command tree (exit 2 listing every problem)",
		UsageText: "eucora config check [FILE...]",
		Description: "Checks each FILE (default: --config or $EUCORA_CONFIG, else those of\n" +
			"/etc/eucora/hub.toml and /etc/eucora/edge.toml that exist): TOML syntax, that each\n" +
			"table names a command ([hub.serve]), each key a flag of it, and that each value has\n" +
			"the flag's type and is accepted by it. Precedence when a command runs: flag >\n" +
			"environment variable > file > default. docs/config.md lists every key.",
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

// configCheckResult is one file's verdict.
type configCheckResult struct {
	File     string           `json:"file"`
	OK       bool             `json:"ok"`
	Sections []string         `json:"sections"`
	Problems []config.Problem `json:"problems"`
}

func (o *configCheckOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	files := c.Args().Slice()
	if len(files) == 0 {
		if p := c.String("config"); p != "" {
			files = []string{p}
		} else {
			for _, g := range []string{"hub", "edge"} {
				if _, err := os.Stat(config.DefaultPath(g)); err == nil {
					files = append(files, config.DefaultPath(g))
				}
			}
		}
	}
	if len(files) == 0 {
		return usageErrorf("no configuration file to check: give FILE, --config or $%s, or install %s", config.EnvVar, config.DefaultPath("hub"))
	}
	cmds := newApp().Commands // a fresh tree: checking sets flags on scratch copies only
	var results []configCheckResult
	bad := 0
	for _, path := range files {
		r := configCheckResult{File: path, OK: true, Sections: []string{}, Problems: []config.Problem{}}
		f, err := config.Load(path, cmds)
		var ps config.Problems
		switch {
		case errors.As(err, &ps):
			r.OK, r.Problems = false, ps
		case err != nil:
			r.OK, r.Problems = false, []config.Problem{{File: path, Msg: err.Error()}}
		default:
			r.Sections = f.Sections()
		}
		if !r.OK {
			bad++
		}
		results = append(results, r)
	}
	if err := out.emit(map[string]any{"files": results, "ok": bad == 0}, func(w io.Writer) {
		for _, r := range results {
			if r.OK {
				fmt.Fprintf(w, "%s: ok (%s)\n", r.File, sectionList(r.Sections))
				continue
			}
			fmt.Fprintf(w, "%s: %d problem(s)\n", r.File, len(r.Problems))
			for _, p := range r.Problems {
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
	}); err != nil {
		return err
	}
	if bad > 0 {
		return withExitCode(exitUsage, fmt.Errorf("%d of %d configuration file(s) have problems", bad, len(files)))
	}
	return nil
}

func sectionList(s []string) string {
	if len(s) == 0 {
		return "configures no command"
	}
	for i := range s {
		s[i] = "[" + strings.ReplaceAll(s[i], " ", ".") + "]"
	}
	return strings.Join(s, ", ")
}
