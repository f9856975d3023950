package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/internal/bytesize"
)

func edgeVulnCmd() *cli.Command {
	return &cli.Command{
		Name:  "vuln",
		Usage: "the offline vulnerability feed the hub sent this edge (EUCORA-architecture.md section 7.1)",
		Description: "Every hub bundle carries the hub's statement about its current OSV feed file, signed by the\n" +
			"hub key; the file itself travels once. The edge verifies both before it applies the bundle\n" +
			"and keeps them, so 'eucora edge package check' re-checks package files with no link.",
		Subcommands: []*cli.Command{edgeVulnShowCmd()},
	}
}

type edgeVulnShowOptions struct{ data string }

func edgeVulnShowCmd() *cli.Command {
	var o edgeVulnShowOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "show the vulnerability feed this edge holds",
		UsageText: "eucora edge vuln show --data DIR",
		Flags:     []cli.Flag{dataFlag(&o.data)},
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgeVulnShowOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if _, err := positional(c, 0); err != nil {
		return err
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	f, err := e.VulnFeed()
	if err != nil {
		return err
	}
	return out.emit(f, func(w io.Writer) {
		fmt.Fprintf(w, "feed %s\n", f.Version)
		fmt.Fprintf(w, "  %s (%s, %s, %s), %d records (%d withdrawn), newest modified %s\n",
			f.Name, bytesize.Format(f.Size), f.Format, f.SHA256, f.Records, f.Withdrawn, f.Newest.UTC().Format(time.RFC3339))
		fmt.Fprintf(w, "  signed by hub key %s; arrived in bundle %d, applied %s\n", f.KeyID, f.BundleSeq, f.Received.UTC().Format(time.RFC3339))
	})
}
