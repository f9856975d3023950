package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/edge"
)

type edgeAdmitOptions struct {
	data, at string
}

// edgeAdmitCmd decides offline, from what the hub sent, whether the
// edge may act on an intent: the same deploy rules the hub applies.
func edgeAdmitCmd() *cli.Command {
	var o edgeAdmitOptions
	return &cli.Command{
		Name:      "admit",
		Usage:     "decide offline whether this site may act on a held intent (exit 24 if not)",
		UsageText: "eucora edge admit --data DIR INTENT [--at RFC3339|DURATION]",
		Description: "Judges the intent with deploy.AdmitAtSite against the records the hub sent: the\n" +
			"site's own scope, the intent's application, artifact and risk assessment, and the\n" +
			"held CAB approvals and exceptions. An intent that needs CAB approval is actionable\n" +
			"only with a present, valid approval; expiry is judged at --at (default now).",
		Flags:  []cli.Flag{dataFlag(&o.data), &cli.StringFlag{Name: "at", Usage: "judge at this time (RFC 3339, or a duration from now such as 72h)", Destination: &o.at}},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgeAdmitOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	when := time.Now().UTC().Truncate(time.Second)
	if o.at != "" {
		if when, err = parseWhen("at", o.at); err != nil {
			return err
		}
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	d, err := e.AdmitHeld(args[0], when)
	if err != nil {
		return err
	}
	view := map[string]any{"intent": args[0], "at": when, "allowed": d.Allowed, "checks": d.Checks}
	if err := out.emit(view, func(w io.Writer) {
		verdict := "ALLOWED"
		if !d.Allowed {
			verdict = "DENIED"
		}
		fmt.Fprintf(w, "%s intent %s at %s (judged offline at this edge)\n", verdict, args[0], when.Format(time.RFC3339))
		tw := table(w)
		fmt.Fprintln(tw, "RULE\tPASS\tREASON")
		for _, ck := range d.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", ck.Rule, yesNo(ck.Pass), ck.Reason)
		}
		tw.Flush()
	}); err != nil {
		return err
	}
	if !d.Allowed {
		return fmt.Errorf("%w: intent %s may not be acted on here: %s", deploy.ErrDenied, args[0], strings.Join(d.Failed(), ", "))
	}
	return nil
}
