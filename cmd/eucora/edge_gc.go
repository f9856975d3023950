package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/internal/bytesize"
)

type edgeGCOptions struct {
	data string
	dry  bool
}

// edgeGCCmd frees the space of objects the edge no longer needs.
func edgeGCCmd() *cli.Command {
	var o edgeGCOptions
	return &cli.Command{
		Name:      "gc",
		Usage:     "remove held objects nothing refers to any more (old artifacts, old APT snapshots)",
		UsageText: "eucora edge gc --data DIR [--dry-run]",
		Description: "Keeps every artifact of the current records, the vulnerability feed file, and every object of an APT publication\n" +
			"the edge is assigned, serves or retired recently; removes the rest and records an audit\n" +
			"event. The next receipt tells the hub, which sends an object again if it is ever needed.",
		Flags:  []cli.Flag{dataFlag(&o.data), &cli.BoolFlag{Name: "dry-run", Usage: "only report what would be removed", Destination: &o.dry}},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgeGCOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	res, err := e.GC(o.dry)
	if err != nil {
		return err
	}
	return out.emit(res, func(w io.Writer) {
		verb := "removed"
		if o.dry {
			verb = "would remove"
		}
		fmt.Fprintf(w, "%s %d objects (%s); %d kept\n", verb, res.Removed, bytesize.Format(res.Bytes), res.Kept)
	})
}
