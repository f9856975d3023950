package main

import (
	"io"

	"github.com/urfave/cli/v2"
)

type elevateOptions struct {
	input string
}

func elevateCmd() *cli.Command {
	var o elevateOptions
	return &cli.Command{
		Name:      "elevate",
		Usage:     "ask for a just-in-time elevation (endpoint ops, packaging engineer)",
		UsageText: "eucora elevate --input REQUEST.json",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "elevation request JSON (docs/api.md) ('-' for stdin)", Destination: &o.input}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *elevateOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	b, err := readDoc(c, "input", o.input)
	if err != nil {
		return err
	}
	d, err := cl.ElevateJSON(c.Context, b)
	if err != nil {
		return err
	}
	return out.emit(d, func(w io.Writer) { printDecision(w, d) })
}
