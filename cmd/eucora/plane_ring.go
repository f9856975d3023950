package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

func planeRingCmd() *cli.Command {
	return &cli.Command{
		Name:        "ring",
		Usage:       "the plane groups each ring reaches (Entra groups, SCCM collections, Jamf computer groups, Landscape tags, AWX limits)",
		Subcommands: []*cli.Command{planeRingSetCmd(), planeRingListCmd()},
	}
}

type planeRingSetOptions struct{ groups, exclude cli.StringSlice }

func planeRingSetCmd() *cli.Command {
	var o planeRingSetOptions
	return &cli.Command{
		Name:      "set",
		Usage:     "set the groups a ring reaches on a plane (platform admin)",
		UsageText: "eucora plane ring set PLANE RING --group ID [--group ID ...] [--exclude ID ...]",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "group", Usage: "a group the ring reaches (repeat)", Destination: &o.groups},
			&cli.StringSliceFlag{Name: "exclude", Usage: "a group excluded from the ring's assignment (repeat)", Destination: &o.exclude},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *planeRingSetOptions) run(c *cli.Context) error {
	args, err := positional(c, 2)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || !deploy.Ring(n).Valid() {
		return usageErrorf("RING %q: want 0-4", args[1])
	}
	if len(o.groups.Value()) == 0 {
		return usageErrorf("--group: at least one group")
	}
	var ts []api.Target
	for _, g := range o.groups.Value() {
		ts = append(ts, api.Target{ID: g})
	}
	for _, g := range o.exclude.Value() {
		ts = append(ts, api.Target{ID: g, Exclude: true})
	}
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	rt, err := cl.SetRingTargets(c.Context, args[0], deploy.Ring(n), ts)
	if err != nil {
		return err
	}
	return out.emit(rt, func(w io.Writer) {
		fmt.Fprintf(w, "%s on %s reaches %s\n", deploy.Ring(n), rt.Plane, targetsText(rt.Targets))
	})
}

func targetsText(ts []api.Target) string {
	var s []string
	for _, t := range ts {
		if t.Exclude {
			s = append(s, "!"+t.ID)
		} else {
			s = append(s, t.ID)
		}
	}
	return strings.Join(s, ",")
}

type planeRingListOptions struct{}

func planeRingListCmd() *cli.Command {
	var o planeRingListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list the groups each ring reaches on a plane",
		UsageText: "eucora plane ring list PLANE",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *planeRingListOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	rts, err := cl.RingTargets(c.Context, args[0])
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"rings": rts}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RING\tGROUPS\tUPDATED BY\tUPDATED")
		for _, rt := range rts {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", int(rt.Ring), targetsText(rt.Targets), rt.UpdatedBy, rt.UpdatedAt.Format("2006-01-02T15:04:05Z"))
		}
		tw.Flush()
	})
}
