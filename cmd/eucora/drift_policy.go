package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
)

func driftPolicyCmd() *cli.Command {
	return &cli.Command{
		Name:        "policy",
		Usage:       "show or set where drift is only detected and where it is enforced",
		Subcommands: []*cli.Command{driftPolicyShowCmd(), driftPolicySetCmd()},
	}
}

type driftPolicyShowOptions struct{}

func driftPolicyShowCmd() *cli.Command {
	var o driftPolicyShowOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "show the drift policy",
		UsageText: "eucora drift policy show",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *driftPolicyShowOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	p, err := cl.DriftPolicy(c.Context)
	if err != nil {
		return err
	}
	return out.emit(p, func(w io.Writer) { writeDriftPolicy(w, p) })
}

func writeDriftPolicy(w io.Writer, p deploy.DriftPolicy) {
	fmt.Fprintf(w, "phase %d; drift with no matching rule is detected only\n", p.Phase)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAMILY\tSITE CLASS\tACQUISITION\tMODE")
	for _, r := range p.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Family, r.SiteClass, orDash(r.Acquisition), r.Mode)
	}
	tw.Flush()
}

type driftPolicySetOptions struct{ file string }

func driftPolicySetCmd() *cli.Command {
	var o driftPolicySetOptions
	return &cli.Command{
		Name:  "set",
		Usage: "replace the drift policy (platform admin)",
		UsageText: "eucora drift policy set --file POLICY.json\n\n" +
			`POLICY.json: {"phase": 3, "rules": [{"family": "linux", "site_class": "online", "acquisition": "acme", "mode": "enforce"}]}` + "\n" +
			"family: windows, macos, linux, ios, android; site_class: online, intermittent, air-gapped; mode: detect or enforce.\n" +
			"Linux drift is detect-only before phase 3 (EUCORA-architecture.md section 7.4).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "file", Usage: "the policy as JSON", Destination: &o.file},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *driftPolicySetOptions) run(c *cli.Context) error {
	if err := required(c, "file"); err != nil {
		return err
	}
	b, err := os.ReadFile(o.file)
	if err != nil {
		return usageErrorf("--file: %v", err)
	}
	var p deploy.DriftPolicy
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return usageErrorf("--file %s: %v", o.file, err)
	}
	if err := p.Validate(); err != nil {
		return usageErrorf("--file %s: %v", o.file, err)
	}
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	got, err := cl.SetDriftPolicy(c.Context, p)
	if err != nil {
		return err
	}
	return out.emit(got, func(w io.Writer) { writeDriftPolicy(w, got) })
}
