package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
)

func exceptionCmd() *cli.Command {
	return &cli.Command{
		Name:        "exception",
		Usage:       "record policy exceptions (security reviewer)",
		Subcommands: []*cli.Command{exceptionAddCmd()},
	}
}

type exceptionAddOptions struct {
	id            string
	intent        string
	requestedBy   string
	owner         string
	justification string
	control       cli.StringSlice
	finding       cli.StringSlice
	expires       string
}

func exceptionAddCmd() *cli.Command {
	var o exceptionAddOptions
	return &cli.Command{
		Name:  "add",
		Usage: "approve an exception linked to an intent",
		UsageText: "eucora exception add --id ID --intent ID --owner O --justification TEXT --control TEXT... --finding CVE... --expires 14d|RFC3339 [--requested-by P]\n\n" +
			"The requester is the intent's; --requested-by only checks it, and a different name is refused.",
		Flags: append([]cli.Flag{&cli.StringFlag{Name: "id", Destination: &o.id}, &cli.StringFlag{Name: "intent", Destination: &o.intent}, &cli.StringFlag{Name: "requested-by", Usage: "optional check of the intent's requester", Destination: &o.requestedBy}, &cli.StringFlag{Name: "owner", Destination: &o.owner},
			&cli.StringFlag{Name: "justification", Destination: &o.justification}, &cli.StringSliceFlag{Name: "control", Usage: "compensating control, repeatable", Destination: &o.control},
			&cli.StringSliceFlag{Name: "finding", Usage: "finding covered, repeatable", Destination: &o.finding}, &cli.StringFlag{Name: "expires", Destination: &o.expires}}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *exceptionAddOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	if err := required(c, "id", "intent", "owner", "justification", "expires"); err != nil {
		return err
	}
	exp, err := parseWhen("expires", o.expires)
	if err != nil {
		return err
	}
	e, err := cl.CreateException(c.Context, api.ExceptionRequest{ID: o.id, IntentID: o.intent, RequestedBy: o.requestedBy,
		AccountableOwner: o.owner, Justification: o.justification, CompensatingControls: o.control.Value(),
		Findings: o.finding.Value(), ExpiresAt: exp})
	if err != nil {
		return err
	}
	return out.emit(e, func(w io.Writer) {
		fmt.Fprintf(w, "exception %s for intent %s (requested by %s) approved by %s until %s\n", e.ID, e.IntentID, e.RequestedBy, e.ApprovedBy, e.ExpiresAt.Format(time.RFC3339))
	})
}
