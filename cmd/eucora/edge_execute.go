package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/edge"
)

type edgeExecuteOptions struct{ data string }

// edgeExecuteCmd applies the hub's orders for the site-local planes once.
func edgeExecuteCmd() *cli.Command {
	var o edgeExecuteOptions
	return &cli.Command{
		Name:      "execute",
		Usage:     "apply the hub's rollout orders to the site-local planes and read their status (EUCORA-architecture.md section 8.4)",
		UsageText: "eucora edge execute --data DIR",
		Description: "Each order the last imported bundle carried (publish a release, or roll it back) is admitted offline like\n" +
			"'edge admit' and applied once through the plane registered with 'edge plane add'; every order's install status is\n" +
			"then read from the plane. The results go to the hub in the next 'edge export' (or network sync), where they\n" +
			"feed the ring's promotion gate. 'edge serve' runs this every --execute-interval. Exit 0 even when an order\n" +
			"failed or was refused: the table says which, and the hub learns it from the report.",
		Flags:  []cli.Flag{dataFlag(&o.data)},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgeExecuteOptions) run(c *cli.Context) error {
	if _, err := positional(c, 0); err != nil {
		return err
	}
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	res, err := e.Execute(c.Context, edge.ExecuteOptions{})
	if err != nil {
		return err
	}
	return out.emit(res, func(w io.Writer) {
		if len(res.Orders) == 0 {
			fmt.Fprintln(w, "no orders held: the hub has sent none for this site's planes")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "INTENT\tPLANE\tORDER\tACTION\tOUTCOME\tINSTALLED\tFAILED\tPENDING\tDETAIL")
		for _, x := range res.Orders {
			i, f, p := "-", "-", "-"
			if s := x.Summary; s != nil {
				i, f, p = fmt.Sprint(s.Installed), fmt.Sprint(s.Failed), fmt.Sprint(s.Pending)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", x.IntentID, x.Plane, x.Seq, x.Action, x.Outcome, i, f, p, x.Detail)
		}
		tw.Flush()
	})
}
