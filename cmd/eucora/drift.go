package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

func driftCmd() *cli.Command {
	return &cli.Command{
		Name:        "drift",
		Usage:       "open drift between intents and what the planes hold, and the drift policy (EUCORA-architecture.md sections 5.6, 7.4)",
		Subcommands: []*cli.Command{driftListCmd(), driftPolicyCmd()},
	}
}

type driftListOptions struct{ site, app, plane string }

func driftListCmd() *cli.Command {
	var o driftListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list open drift by site, plane and app (missing or extra assignments, objects edited outside EUCORA, devices reverted)",
		UsageText: "eucora drift list [--site S] [--app A] [--plane P]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "site", Usage: "only this site's", Destination: &o.site},
			&cli.StringFlag{Name: "app", Usage: "only this application's", Destination: &o.app},
			&cli.StringFlag{Name: "plane", Usage: "only this plane's", Destination: &o.plane},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *driftListOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	ds, err := cl.Drift(c.Context, o.site, o.app, o.plane)
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"drift": ds}, func(w io.Writer) {
		if len(ds) == 0 {
			fmt.Fprintln(w, "no open drift")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SITE\tPLANE\tAPP\tINTENT\tKIND\tCOUNT\tMODE\tFIRST SEEN\tREMEDIATED\tSUBJECTS")
		for _, d := range ds {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n", orDash(d.Site), d.Plane, d.AppID, d.IntentID, d.Kind, d.Count, d.Mode,
				d.FirstSeen.Format("2006-01-02T15:04:05Z"), d.Remediated, strings.Join(d.Subjects, ","))
		}
		tw.Flush()
	})
}
