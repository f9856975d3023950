package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/client"
)

func decisionCommand() *cli.Command {
	return &cli.Command{
		Name:  "decision",
		Usage: "read stored policy decisions with their inputs and explanation",
		Subcommands: []*cli.Command{
			govCmd("list", "list decisions in your scope", "eucora decision list [--subject intent/ID]",
				[]cli.Flag{&cli.StringFlag{Name: "subject"}},
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					ds, err := cl.Decisions(c.Context, c.String("subject"))
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
				}),
			govCmd("show", "show one decision", "eucora decision show ID", nil,
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					d, err := cl.Decision(c.Context, args[0])
					if err != nil {
						return err
					}
					return out.emit(d, func(w io.Writer) { printDecision(w, d) })
				}),
		},
	}
}
