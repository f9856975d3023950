package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/datadir"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args))
}

func run(args []string) int {
	if path := os.Getenv("EUCORA_CPUPROFILE"); path != "" {
		// Diagnostics: a CPU profile of this one invocation.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp()
	err := app.RunContext(ctx, reorderArgs(app, args))
	if err == nil {
		return 0
	}
	code := exitCode(err)
	if ctx.Err() != nil && code == exitError {
		code = exitInterrupted
	}
	reportError(app, args, err, code)
	return code
}

func newApp() *cli.App {
	app := &cli.App{
		Name:    "eucora",
		Usage:   "air-gap-aware content and sync appliance for enterprise software deployment",
		Version: version,
		Description: "One binary for the hub (control plane), edge appliances, transfer bundles,\n" +
			"APT mirrors and governance. Every command accepts --output json and --quiet.\n\n" +
			exitCodeHelp(),
		Commands:             commands(),
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run() maps errors to exit codes
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageErrorf("%v", err)
		},
	}
	app.Action = unknownCommand
	app.Before = loadConfig // config.go
	addGlobalFlags(app)
	return app
}

// commands lists the top-level command groups, one file each.
func commands() []*cli.Command {
	return []*cli.Command{
		keysCmd(),
		bundleCmd(),
		hubCmd(),
		statusCmd(),
		siteCmd(),
		tokenCmd(),
		planeCmd(),
		eventsCmd(),
		riskCmd(),
		mirrorCmd(),
		edgeCmd(),
		appCmd(),
		versionCmd(),
		artifactCmd(),
		packageCmd(),
		vulnCmd(),
		assessCmd(),
		approveCmd(),
		exceptionCmd(),
		intentCmd(),
		rolloutCmd(),
		incidentCmd(),
		driftCmd(),
		evidenceCmd(),
		decisionCmd(),
		elevateCmd(),
		simCmd(),
		devCmd(),
		configCmd(),
		completionCmd(),
		manCmd(),
	}
}

// addGlobalFlags gives every command --output and --quiet, so they may be
// written anywhere on the command line.
func addGlobalFlags(app *cli.App) {
	app.Flags = append(app.Flags, globalFlags()...)
	var walk func(string, []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			c.Flags = append(c.Flags, globalFlags()...)
			if c.OnUsageError == nil {
				c.OnUsageError = app.OnUsageError
			}
			if c.Action == nil && len(c.Subcommands) > 0 {
				c.Action = unknownCommand
			} else if c.Action != nil && hasFlag(c, "data") {
				c.Action = leaveNoFreshDataDir(c.Action)
			}
			if len(c.Subcommands) == 0 && c.Action != nil {
				c.Action = withConfig(strings.TrimSpace(prefix+" "+c.Name), c.Action)
			}
			walk(strings.TrimSpace(prefix+" "+c.Name), c.Subcommands)
		}
	}
	walk("", app.Commands)
}

// leaveNoFreshDataDir makes a failing command leave behind no data
// directory it created: if --data did not exist before the command and
// holds nothing but empty directories after it failed, it is removed.
// Commands that need an existing data directory create none (they fail with
// exit 10, datadir.Open), and those that make state remove what they wrote
// on a failed start (datadir.Dir.Discard); this catches the rest, such as a
// 'mirror apt create' refused after it made the directory.
func leaveNoFreshDataDir(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		root := c.String("data")
		if root == "" {
			root = datadir.Default
		}
		_, err := os.Lstat(root)
		fresh := errors.Is(err, fs.ErrNotExist)
		err = action(c)
		if err != nil && fresh {
			datadir.RemoveEmpty(root)
		}
		return err
	}
}

func hasFlag(c *cli.Command, name string) bool {
	for _, f := range c.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "output format: text or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bars or informational messages"},
		configFlag(),
	}
}

func reportError(app *cli.App, args []string, err error, code int) {
	if wantsJSON(args) {
		writeJSON(os.Stderr, map[string]any{"error": err.Error(), "exit_code": code, "exit_name": exitName(code)})
		return
	}
	fmt.Fprintf(os.Stderr, "eucora: %v\n", err)
	if code == exitUsage {
		fmt.Fprintln(os.Stderr, "Run 'eucora --help' or 'eucora COMMAND --help' for usage.")
	}
}

// unknownCommand is the action of the app and of command groups: with no
// argument it shows help, otherwise the argument names no command.
func unknownCommand(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.ShowSubcommandHelp(c)
	}
	return usageErrorf("unknown command %q; run with --help for the list", c.Args().First())
}
