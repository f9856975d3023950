package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
)

func packageTrustCmd() *cli.Command {
	return &cli.Command{
		Name:        "trust",
		Usage:       "the code-signing roots a package's signature must chain to for \"known vendor\"",
		Subcommands: []*cli.Command{packageTrustAddCmd(), packageTrustListCmd()},
	}
}

type packageTrustAddOptions struct{}

func packageTrustAddCmd() *cli.Command {
	var o packageTrustAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "trust the CA certificates of a PEM file as code-signing roots (security reviewer or platform admin)",
		UsageText: "eucora package trust add CERTS.pem",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *packageTrustAddOptions) run(c *cli.Context) error {
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return usageErrorf("%v", err)
	}
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	roots, err := cl.AddCodeSignRoots(c.Context, string(b))
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"roots": roots}, func(w io.Writer) {
		for _, r := range roots {
			fmt.Fprintf(w, "trusted %s %s\n", r.Fingerprint[:16], r.Subject)
		}
	})
}

type packageTrustListOptions struct{}

func packageTrustListCmd() *cli.Command {
	var o packageTrustListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list the trusted code-signing roots and the signing keys the hub knows, with their roles",
		UsageText: "eucora package trust list",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *packageTrustListOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	roots, err := cl.CodeSignRoots(c.Context)
	if err != nil {
		return err
	}
	keys, err := cl.SigningKeys(c.Context)
	if err != nil {
		return err
	}
	if roots == nil {
		roots = []api.CodeSignRoot{}
	}
	if keys == nil {
		keys = []api.SigningKey{}
	}
	return out.emit(map[string]any{"roots": roots, "keys": keys}, func(w io.Writer) {
		tw := table(w)
		fmt.Fprintln(tw, "ROOT\tSUBJECT\tADDED BY\tADDED")
		for _, r := range roots {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Fingerprint[:16], r.Subject, r.AddedBy, r.AddedAt.Format(time.RFC3339))
		}
		tw.Flush()
		tw = table(w)
		fmt.Fprintln(tw, "\nKEY\tROLE\tREGISTERED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.KeyID, k.Role, k.CreatedAt.Format(time.RFC3339))
		}
		tw.Flush()
	})
}
