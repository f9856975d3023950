package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/digest"
)

func evidenceCmd() *cli.Command {
	return &cli.Command{
		Name:        "evidence",
		Usage:       "store and read signed, write-once evidence packs",
		Subcommands: []*cli.Command{evidenceAddCmd(), evidenceShowCmd()},
	}
}

type evidenceAddOptions struct {
	input string
}

func evidenceAddCmd() *cli.Command {
	var o evidenceAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "sign (hub key) and store an evidence pack",
		UsageText: "eucora evidence add --input PACK.json",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "evidence pack JSON ('-' for stdin)", Destination: &o.input}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *evidenceAddOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	b, err := readDoc(c, "input", o.input)
	if err != nil {
		return err
	}
	v, err := cl.StoreEvidence(c.Context, b)
	if err != nil {
		return err
	}
	return out.emit(v, func(w io.Writer) {
		fmt.Fprintf(w, "evidence %s for intent %s stored, signed by %s\n", v.Record.Digest, v.Record.IntentID, v.Record.KeyID)
	})
}

type evidenceShowOptions struct{}

func evidenceShowCmd() *cli.Command {
	var o evidenceShowOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "read a pack, verified (digest, canonical form, hub signature)",
		UsageText: "eucora evidence show sha256:HEX",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *evidenceShowOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	d, err := digest.Parse(args[0])
	if err != nil {
		return usageErrorf("digest: %v", err)
	}
	v, err := cl.Evidence(c.Context, d)
	if err != nil {
		return err
	}
	return out.emit(v, func(w io.Writer) {
		fmt.Fprintf(w, "evidence %s for intent %s (%s %s)\nstored by %s at %s, signature verified with key %s\n", v.Record.Digest, v.Record.IntentID,
			v.Record.AppID, v.Record.Version, v.Record.StoredBy, v.Record.StoredAt.Format(time.RFC3339), v.KeyID)
		if v.Pack != nil {
			ms := v.Pack.Missing()
			fmt.Fprintf(w, "complete: %s\n", yesNo(len(ms) == 0))
			for _, m := range ms {
				fmt.Fprintf(w, "  - missing %s: %s\n", m.Item, m.Reason)
			}
		}
	})
}
