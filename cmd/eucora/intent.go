package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/digest"
)

func intentCmd() *cli.Command {
	return &cli.Command{
		Name:        "intent",
		Usage:       "declare deployment intents and run the publish and promotion gates",
		Subcommands: []*cli.Command{intentAddCmd(), intentListCmd(), intentShowCmd(), intentPublishCmd(), intentPromoteCmd()},
	}
}

type intentAddOptions struct {
	input string
}

func intentAddCmd() *cli.Command {
	var o intentAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "declare an intent (you are the requester)",
		UsageText: "eucora intent add --input INTENT.json",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "intent JSON (docs/api.md) ('-' for stdin)", Destination: &o.input}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *intentAddOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	b, err := readDoc(c, "input", o.input)
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
}

type intentListOptions struct{}

func intentListCmd() *cli.Command {
	var o intentListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list intents in your scope",
		UsageText: "eucora intent list",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *intentListOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
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
}

type intentShowOptions struct{}

func intentShowCmd() *cli.Command {
	var o intentShowOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "show an intent and every decision about it",
		UsageText: "eucora intent show ID",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *intentShowOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
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
}

type intentPublishOptions struct {
	approval  string
	exception string
	evidence  string
}

func intentPublishCmd() *cli.Command {
	var o intentPublishOptions
	return &cli.Command{
		Name:      "publish",
		Usage:     "run the publish gate (Ring 0: stage; Rings 1-4: publish)",
		UsageText: "eucora intent publish ID [--approval ID] [--exception ID] [--evidence sha256:HEX]",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "approval", Destination: &o.approval}, &cli.StringFlag{Name: "exception", Destination: &o.exception}, &cli.StringFlag{Name: "evidence", Destination: &o.evidence}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *intentPublishOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	d, err := cl.Publish(c.Context, args[0], api.PublishRequest{Approval: o.approval, Exception: o.exception,
		Evidence: digest.Digest(o.evidence)})
	if err != nil {
		return err
	}
	return out.emit(d, func(w io.Writer) { printDecision(w, d) })
}

type intentPromoteOptions struct {
	input string
}

func intentPromoteCmd() *cli.Command {
	var o intentPromoteOptions
	return &cli.Command{
		Name:      "promote",
		Usage:     "run the promotion gate on measured results",
		UsageText: "eucora intent promote ID --input MEASURED.json",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "measured results JSON (docs/api.md) ('-' for stdin)", Destination: &o.input}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *intentPromoteOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	b, err := readDoc(c, "input", o.input)
	if err != nil {
		return err
	}
	d, err := cl.PromoteJSON(c.Context, args[0], b)
	if err != nil {
		return err
	}
	return out.emit(d, func(w io.Writer) { printDecision(w, d) })
}
