package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
)

func intentCommand() *cli.Command {
	return &cli.Command{
		Name:  "intent",
		Usage: "declare deployment intents and run the publish and promotion gates",
		Subcommands: []*cli.Command{
			govCmd("add", "declare an intent (you are the requester)", "eucora intent add --input INTENT.json",
				[]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "intent JSON (docs/api.md) ('-' for stdin)"}},
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					b, err := readDoc(c, "input")
					if err != nil {
						return err
					}
					in, err := cl.CreateIntentJSON(c.Context, b)
					if err != nil {
						return err
					}
					return out.emit(in, func(w io.Writer) {
						fmt.Fprintf(w, "intent %s: %s %s to %s, scope %s (%s)\n", in.ID, in.AppID, in.Version, in.Ring, in.Scope, in.Status)
					})
				}),
			govCmd("list", "list intents in your scope", "eucora intent list", nil,
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					ins, err := cl.Intents(c.Context)
					if err != nil {
						return err
					}
					return out.emit(map[string]any{"intents": ins}, func(w io.Writer) {
						tw := table(w)
						fmt.Fprintln(tw, "ID\tAPP\tVERSION\tRING\tSCOPE\tSTATUS\tREQUESTED BY")
						for _, in := range ins {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", in.ID, in.AppID, in.Version, int(in.Ring), in.Scope, in.Status, in.RequestedBy)
						}
						tw.Flush()
					})
				}),
			govCmd("show", "show an intent and every decision about it", "eucora intent show ID", nil,
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					v, err := cl.Intent(c.Context, args[0])
					if err != nil {
						return err
					}
					return out.emit(v, func(w io.Writer) {
						in := v.Intent
						fmt.Fprintf(w, "intent %s: %s %s to %s, scope %s, status %s, requested by %s\n\n", in.ID, in.AppID, in.Version, in.Ring, in.Scope, in.Status, in.RequestedBy)
						for _, d := range v.Decisions {
							printDecision(w, d)
							fmt.Fprintln(w)
						}
					})
				}),
			govCmd("publish", "run the publish gate (Ring 0: stage; Rings 1-4: publish)",
				"eucora intent publish ID [--approval ID] [--exception ID] [--evidence sha256:HEX]",
				[]cli.Flag{&cli.StringFlag{Name: "approval"}, &cli.StringFlag{Name: "exception"}, &cli.StringFlag{Name: "evidence"}},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					d, err := cl.Publish(c.Context, args[0], api.PublishRequest{Approval: c.String("approval"), Exception: c.String("exception"),
						Evidence: digest.Digest(c.String("evidence"))})
					if err != nil {
						return err
					}
					return out.emit(d, func(w io.Writer) { printDecision(w, d) })
				}),
			govCmd("promote", "run the promotion gate on measured results", "eucora intent promote ID --input MEASURED.json",
				[]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "measured results JSON (docs/api.md) ('-' for stdin)"}},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					b, err := readDoc(c, "input")
					if err != nil {
						return err
					}
					d, err := cl.PromoteJSON(c.Context, args[0], b)
					if err != nil {
						return err
					}
					return out.emit(d, func(w io.Writer) { printDecision(w, d) })
				}),
		},
	}
}
