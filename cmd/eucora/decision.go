package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

func decisionCmd() *cli.Command {
	return &cli.Command{
		Name:        "decision",
		Usage:       "read stored policy decisions with their inputs and explanation",
		Subcommands: []*cli.Command{decisionListCmd(), decisionShowCmd()},
	}
}

type decisionListOptions struct {
	subject string
}

func decisionListCmd() *cli.Command {
	var o decisionListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list decisions in your scope",
		UsageText: "eucora decision list [--subject intent/ID]",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "subject", Destination: &o.subject}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *decisionListOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	ds, err := cl.Decisions(c.Context, o.subject)
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"decisions": ds}, func(w io.Writer) {
		tw := table(w)
		fmt.Fprintln(tw, "ID\tAT\tKIND\tSUBJECT\tBY\tALLOWED\tFAILED")
		for _, d := range ds {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.At.Format(time.RFC3339), d.Kind, d.Subject, d.Principal.ID, yesNo(d.Allowed),
				strings.Join(d.Decision.Failed(), ","))
		}
		tw.Flush()
	})
}

type decisionShowOptions struct{}

func decisionShowCmd() *cli.Command {
	var o decisionShowOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "show one decision",
		UsageText: "eucora decision show ID",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *decisionShowOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	d, err := cl.Decision(c.Context, args[0])
	if err != nil {
		return err
	}
	return out.emit(d, func(w io.Writer) { printDecision(w, d) })
}
