package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs lets flags follow positional arguments ('eucora hub import
// DIR -o json', 'eucora mirror apt create NAME --url U'), as the docs write
// them: urfave/cli stops parsing flags at the first positional argument, so
// the leaf command's positionals are moved after its flags, behind "--".
// A flag takes a value unless the leaf command declares it boolean.
func reorderArgs(app *cli.App, args []string) []string {
	cmds := app.Commands
	var leaf *cli.Command
	i := 1
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return args
		}
		if strings.HasPrefix(a, "-") { // an application flag before the command
			i++
			if takesValue(app.Flags, a) {
				i++
			}
			continue
		}
		c := findCommand(cmds, a)
		if c == nil {
			break
		}
		leaf, i = c, i+1
		if len(c.Subcommands) == 0 {
			break
		}
		cmds = c.Subcommands
	}
	if leaf == nil || len(leaf.Subcommands) > 0 {
		return args
	}
	out := append([]string{}, args[:i]...)
	var pos []string
	rest := args[i:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--":
			pos = append(pos, rest[j+1:]...)
			j = len(rest)
		case len(a) > 1 && a[0] == '-':
			out = append(out, a)
			if takesValue(leaf.Flags, a) && j+1 < len(rest) {
				out = append(out, rest[j+1])
				j++
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) > 0 {
		out = append(append(out, "--"), pos...)
	}
	return out
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether arg ("--name", "-n", "--name=v") is a flag
// of flags that consumes the next argument.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false // unknown (help, typos): urfave reports it
}

// positional returns a command's positional arguments, which must be
// exactly want. Flags written after them ("site add NAME --class C") are
// already parsed: reorderArgs moves them before the arguments.
func positional(c *cli.Context, want int) ([]string, error) {
	args := c.Args().Slice()
	if len(args) != want {
		return nil, usageErrorf("%s needs exactly %d argument(s), got %d", c.Command.FullName(), want, len(args))
	}
	return args, nil
}

// required checks flags that may arrive after positional arguments.
func required(c *cli.Context, names ...string) error {
	for _, n := range names {
		if c.String(n) == "" {
			return usageErrorf("--%s is required", n)
		}
	}
	return nil
}
