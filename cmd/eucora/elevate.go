package main

import (
	"io"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/client"
)

func elevateCommand() *cli.Command {
	return govCmd("elevate", "ask for a just-in-time elevation (endpoint ops, packaging engineer)",
		"eucora elevate --input REQUEST.json",
		[]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "elevation request JSON (docs/api.md) ('-' for stdin)"}},
		0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
			b, err := readDoc(c, "input")
			if err != nil {
				return err
			}
			d, err := cl.ElevateJSON(c.Context, b)
			if err != nil {
				return err
			}
			return out.emit(d, func(w io.Writer) { printDecision(w, d) })
		})
}
