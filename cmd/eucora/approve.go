package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

type approveOptions struct {
	id          string
	subject     string
	requestedBy string
	expires     string
	reject      bool
	condition   cli.StringSlice
	exception   string
}

func approveCmd() *cli.Command {
	var o approveOptions
	return &cli.Command{
		Name:  "approve",
		Usage: "record your CAB decision (CAB approver)",
		UsageText: "eucora approve --id ID --subject intent:ID --expires 72h|RFC3339 [--requested-by PRINCIPAL] [--reject] [--condition TEXT]... [--exception ID]\n\n" +
			"The requester is the stored request's (the intent's, or whoever's attempt was refused for want of this approval);\n" +
			"--requested-by only checks it, and a different name is refused.",
		Flags: append([]cli.Flag{&cli.StringFlag{Name: "id", Destination: &o.id}, &cli.StringFlag{Name: "subject", Usage: "intent:ID, concurrency:ID, scope-change:APP@N, elevation:ID", Destination: &o.subject},
			&cli.StringFlag{Name: "requested-by", Usage: "optional check of the stored requester", Destination: &o.requestedBy}, &cli.StringFlag{Name: "expires", Destination: &o.expires}, &cli.BoolFlag{Name: "reject", Destination: &o.reject},
			&cli.StringSliceFlag{Name: "condition", Destination: &o.condition}, &cli.StringFlag{Name: "exception", Usage: "linked exception id", Destination: &o.exception}}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *approveOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	if err := required(c, "id", "subject", "expires"); err != nil {
		return err
	}
	exp, err := parseWhen("expires", o.expires)
	if err != nil {
		return err
	}
	d := deploy.Approved
	if o.reject {
		d = deploy.Rejected
	}
	a, err := cl.CreateApproval(c.Context, api.ApprovalRequest{ID: o.id, Subject: o.subject, RequestedBy: o.requestedBy,
		Decision: d, Conditions: o.condition.Value(), ExpiresAt: exp, ExceptionID: o.exception})
	if err != nil {
		return err
	}
	return out.emit(a, func(w io.Writer) {
		fmt.Fprintf(w, "approval %s: %s (requested by %s) %s by %s, valid until %s\n", a.ID, a.Subject, a.RequestedBy, a.Decision, a.Approver, a.ExpiresAt.Format(time.RFC3339))
	})
}
