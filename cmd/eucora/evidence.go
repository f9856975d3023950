package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
)

func evidenceCommand() *cli.Command {
	return &cli.Command{
		Name:  "evidence",
		Usage: "store and read signed, write-once evidence packs",
		Subcommands: []*cli.Command{
			govCmd("add", "sign (hub key) and store an evidence pack", "eucora evidence add --input PACK.json",
				[]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "evidence pack JSON ('-' for stdin)"}},
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					b, err := readDoc(c, "input")
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
				}),
			govCmd("show", "read a pack, verified (digest, canonical form, hub signature)", "eucora evidence show sha256:HEX", nil,
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
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
				}),
		},
	}
}
