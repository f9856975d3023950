package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
)

func incidentCmd() *cli.Command {
	return &cli.Command{
		Name:        "incident",
		Usage:       "record incidents; an attributable security incident fails the app version's promotion gate (EUCORA-architecture.md section 10.2)",
		Subcommands: []*cli.Command{incidentAddCmd(), incidentListCmd()},
	}
}

type incidentAddOptions struct {
	id, app, version, intent, severity, summary string
	security, attributable                      bool
}

func incidentAddCmd() *cli.Command {
	var o incidentAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "record an incident (endpoint ops, security reviewer)",
		UsageText: "eucora incident add --app APP [--version V] [--intent ID] --severity low|medium|high|critical --summary TEXT [--security [--attributable]] [--id ID]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "id", Usage: "incident id (default: generated)", Destination: &o.id},
			&cli.StringFlag{Name: "app", Usage: "the application concerned", Destination: &o.app},
			&cli.StringFlag{Name: "version", Usage: "the version concerned (default: every version)", Destination: &o.version},
			&cli.StringFlag{Name: "intent", Usage: "the intent concerned, if known", Destination: &o.intent},
			&cli.StringFlag{Name: "severity", Usage: "low, medium, high or critical", Destination: &o.severity},
			&cli.StringFlag{Name: "summary", Usage: "what happened", Destination: &o.summary},
			&cli.BoolFlag{Name: "security", Usage: "a security incident", Destination: &o.security},
			&cli.BoolFlag{Name: "attributable", Usage: "attributable to the package: its rollout's promotion gate fails", Destination: &o.attributable},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *incidentAddOptions) run(c *cli.Context) error {
	if err := required(c, "app", "severity", "summary"); err != nil {
		return err
	}
	if o.attributable && !o.security {
		return usageErrorf("--attributable needs --security: only a security incident is attributed to a package")
	}
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	in, err := cl.CreateIncident(c.Context, api.IncidentRequest{ID: o.id, AppID: o.app, Version: o.version, IntentID: o.intent, Severity: o.severity,
		Security: o.security, Attributable: o.attributable, Summary: o.summary})
	if err != nil {
		return err
	}
	return out.emit(in, func(w io.Writer) {
		fmt.Fprintf(w, "incident %s recorded for %s %s (%s", in.ID, in.AppID, orDash(in.Version), in.Severity)
		if in.Attributable {
			fmt.Fprint(w, ", attributable: its promotion gates fail")
		}
		fmt.Fprintln(w, ")")
	})
}

type incidentListOptions struct{}

func incidentListCmd() *cli.Command {
	var o incidentListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list incidents",
		UsageText: "eucora incident list",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *incidentListOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	is, err := cl.Incidents(c.Context)
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"incidents": is}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tAPP\tVERSION\tSEVERITY\tSECURITY\tATTRIBUTABLE\tAT\tSUMMARY")
		for _, i := range is {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%v\t%s\t%s\n", i.ID, i.AppID, orDash(i.Version), i.Severity, i.Security, i.Attributable, i.At.Format("2006-01-02T15:04:05Z"), i.Summary)
		}
		tw.Flush()
	})
}
