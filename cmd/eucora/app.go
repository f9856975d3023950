package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

func appCmd() *cli.Command {
	return &cli.Command{
		Name:        "app",
		Usage:       "register and show catalog applications",
		Subcommands: []*cli.Command{appAddCmd(), appListCmd(), appShowCmd(), appScopeCmd(), appRetentionCmd()},
	}
}

type appAddOptions struct {
	name            string
	owner           string
	category        string
	supportTier     string
	licensing       string
	scope           string
	lob             bool
	privilegedTools bool
}

func appAddCmd() *cli.Command {
	var o appAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "register an application (packaging engineer, endpoint ops)",
		UsageText: "eucora app add ID --name N --owner O --category C --support-tier T --licensing L --scope acquisition=a[,bu=b] [--lob] [--privileged-tools]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Destination: &o.name}, &cli.StringFlag{Name: "owner", Destination: &o.owner}, &cli.StringFlag{Name: "category", Destination: &o.category},
			&cli.StringFlag{Name: "support-tier", Destination: &o.supportTier}, &cli.StringFlag{Name: "licensing", Destination: &o.licensing},
			&cli.StringFlag{Name: "scope", Usage: "allowed scope: acquisition=A,bu=B,site=S ('*' for the enterprise)", Destination: &o.scope},
			&cli.BoolFlag{Name: "lob", Usage: "line-of-business app (retention applies)", Destination: &o.lob},
			&cli.BoolFlag{Name: "privileged-tools", Usage: "privileged tooling (CAB at every ring)", Destination: &o.privilegedTools},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *appAddOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	if err := required(c, "name", "owner", "category", "support-tier", "licensing", "scope"); err != nil {
		return err
	}
	sc, err := deploy.ParseScope(o.scope)
	if err != nil {
		return usageErrorf("--scope: %v", err)
	}
	a, err := cl.CreateApp(c.Context, api.AppRequest{ID: args[0], Name: o.name, Owner: o.owner, Category: o.category,
		SupportTier: o.supportTier, LicensingModel: o.licensing, AllowedScope: sc, LOB: o.lob, PrivilegedTools: o.privilegedTools})
	if err != nil {
		return err
	}
	return out.emit(a, func(w io.Writer) { fmt.Fprintf(w, "application %s added (allowed scope %s)\n", a.ID, a.AllowedScope) })
}

type appListOptions struct{}

func appListCmd() *cli.Command {
	var o appListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list the applications in your scope",
		UsageText: "eucora app list",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *appListOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	apps, err := cl.Apps(c.Context)
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"apps": apps}, func(w io.Writer) {
		tw := table(w)
		fmt.Fprintln(tw, "ID\tNAME\tOWNER\tSCOPE\tLOB\tCREATED BY")
		for _, a := range apps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Name, a.Owner, a.AllowedScope, yesNo(a.LOB), a.CreatedBy)
		}
		tw.Flush()
	})
}

type appShowOptions struct{}

func appShowCmd() *cli.Command {
	var o appShowOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "show an application with its versions and artifacts",
		UsageText: "eucora app show ID",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *appShowOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	v, err := cl.App(c.Context, args[0])
	if err != nil {
		return err
	}
	return out.emit(v, func(w io.Writer) {
		fmt.Fprintf(w, "%s (%s), owner %s, allowed scope %s (v%d)\n", v.App.ID, v.App.Name, v.App.Owner, v.App.AllowedScope, v.App.ScopeVersion)
		tw := table(w)
		fmt.Fprintln(tw, "VERSION\tSTATE\tREQUESTED BY\tARTIFACT\tPACKAGED BY\tSCAN")
		for _, ver := range v.Versions {
			if len(ver.Artifacts) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\n", ver.Version, ver.State, ver.RequestedBy)
			}
			for _, a := range ver.Artifacts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ver.Version, ver.State, ver.RequestedBy, a.SHA256.Short(), a.PackagedBy, a.ScanDecision)
			}
		}
		tw.Flush()
	})
}

type appScopeOptions struct {
	scope    string
	approval string
}

func appScopeCmd() *cli.Command {
	var o appScopeOptions
	return &cli.Command{
		Name:      "scope",
		Usage:     "change an application's allowed scope under a CAB approval (endpoint ops)",
		UsageText: "eucora app scope ID --scope acquisition=a[,bu=b] --approval ID",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "scope", Destination: &o.scope}, &cli.StringFlag{Name: "approval", Usage: "CAB approval of scope-change:APP@NEXT_VERSION", Destination: &o.approval}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *appScopeOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	if err := required(c, "scope"); err != nil {
		return err
	}
	sc, err := deploy.ParseScope(o.scope)
	if err != nil {
		return usageErrorf("--scope: %v", err)
	}
	a, err := cl.ChangeAppScope(c.Context, args[0], sc, o.approval)
	if err != nil {
		return err
	}
	return out.emit(a, func(w io.Writer) {
		fmt.Fprintf(w, "application %s allowed scope is %s (scope version %d)\n", a.ID, a.AllowedScope, a.ScopeVersion)
	})
}

type appRetentionOptions struct {
	at string
}

func appRetentionCmd() *cli.Command {
	var o appRetentionOptions
	return &cli.Command{
		Name:      "retention",
		Usage:     "plan LOB version retention",
		UsageText: "eucora app retention ID [--at RFC3339]",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "at", Usage: "judge at this time (default now)", Destination: &o.at}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *appRetentionOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	var at time.Time
	if s := o.at; s != "" {
		if at, err = time.Parse(time.RFC3339, s); err != nil {
			return usageErrorf("--at %q: want an RFC 3339 time", s)
		}
	}
	r, err := cl.AppRetention(c.Context, args[0], at)
	if err != nil {
		return err
	}
	return out.emit(r, func(w io.Writer) {
		tw := table(w)
		fmt.Fprintln(tw, "VERSION\tKEEP\tREASON")
		for _, v := range r.Verdicts {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Version, yesNo(v.Keep), v.Reason)
		}
		tw.Flush()
	})
}
