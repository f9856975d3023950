package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

func approveCommand() *cli.Command {
	return govCmd("approve", "record your CAB decision (CAB approver)",
		"eucora approve --id ID --subject intent:ID --expires 72h|RFC3339 [--requested-by PRINCIPAL] [--reject] [--condition TEXT]... [--exception ID]\n\n"+
			"The requester is the stored request's (the intent's, or whoever's attempt was refused for want of this approval);\n"+
			"--requested-by only checks it, and a different name is refused.",
		[]cli.Flag{&cli.StringFlag{Name: "id"}, &cli.StringFlag{Name: "subject", Usage: "intent:ID, concurrency:ID, scope-change:APP@N, elevation:ID"},
			&cli.StringFlag{Name: "requested-by", Usage: "optional check of the stored requester"}, &cli.StringFlag{Name: "expires"}, &cli.BoolFlag{Name: "reject"},
			&cli.StringSliceFlag{Name: "condition"}, &cli.StringFlag{Name: "exception", Usage: "linked exception id"}},
		0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
			if err := required(c, "id", "subject", "expires"); err != nil {
				return err
			}
			exp, err := parseWhen("expires", c.String("expires"))
			if err != nil {
				return err
			}
			d := deploy.Approved
			if c.Bool("reject") {
				d = deploy.Rejected
			}
			a, err := cl.CreateApproval(c.Context, api.ApprovalRequest{ID: c.String("id"), Subject: c.String("subject"), RequestedBy: c.String("requested-by"),
				Decision: d, Conditions: c.StringSlice("condition"), ExpiresAt: exp, ExceptionID: c.String("exception")})
			if err != nil {
				return err
			}
			return out.emit(a, func(w io.Writer) {
				fmt.Fprintf(w, "approval %s: %s (requested by %s) %s by %s, valid until %s\n", a.ID, a.Subject, a.RequestedBy, a.Decision, a.Approver, a.ExpiresAt.Format(time.RFC3339))
			})
		})
}
