package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

func exceptionCommand() *cli.Command {
	return &cli.Command{
		Name:  "exception",
		Usage: "record policy exceptions (security reviewer)",
		Subcommands: []*cli.Command{
			govCmd("add", "approve an exception linked to an intent",
				"eucora exception add --id ID --intent ID --owner O --justification TEXT --control TEXT... --finding CVE... --expires 14d|RFC3339 [--requested-by P]\n\n"+
					"The requester is the intent's; --requested-by only checks it, and a different name is refused.",
				[]cli.Flag{&cli.StringFlag{Name: "id"}, &cli.StringFlag{Name: "intent"}, &cli.StringFlag{Name: "requested-by", Usage: "optional check of the intent's requester"}, &cli.StringFlag{Name: "owner"},
					&cli.StringFlag{Name: "justification"}, &cli.StringSliceFlag{Name: "control", Usage: "compensating control, repeatable"},
					&cli.StringSliceFlag{Name: "finding", Usage: "finding covered, repeatable"}, &cli.StringFlag{Name: "expires"}},
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					if err := required(c, "id", "intent", "owner", "justification", "expires"); err != nil {
						return err
					}
					exp, err := parseWhen("expires", c.String("expires"))
					if err != nil {
						return err
					}
					e, err := cl.CreateException(c.Context, api.ExceptionRequest{ID: c.String("id"), IntentID: c.String("intent"), RequestedBy: c.String("requested-by"),
						AccountableOwner: c.String("owner"), Justification: c.String("justification"), CompensatingControls: c.StringSlice("control"),
						Findings: c.StringSlice("finding"), ExpiresAt: exp})
					if err != nil {
						return err
					}
					return out.emit(e, func(w io.Writer) {
						fmt.Fprintf(w, "exception %s for intent %s (requested by %s) approved by %s until %s\n", e.ID, e.IntentID, e.RequestedBy, e.ApprovedBy, e.ExpiresAt.Format(time.RFC3339))
					})
				}),
		},
	}
}
