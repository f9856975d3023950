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

func appCommand() *cli.Command {
	return &cli.Command{
		Name:  "app",
		Usage: "register and show catalog applications",
		Subcommands: []*cli.Command{
			govCmd("add", "register an application (packaging engineer, endpoint ops)",
				"eucora app add ID --name N --owner O --category C --support-tier T --licensing L --scope acquisition=a[,bu=b] [--lob] [--privileged-tools]",
				[]cli.Flag{
					&cli.StringFlag{Name: "name"}, &cli.StringFlag{Name: "owner"}, &cli.StringFlag{Name: "category"},
					&cli.StringFlag{Name: "support-tier"}, &cli.StringFlag{Name: "licensing"},
					&cli.StringFlag{Name: "scope", Usage: "allowed scope: acquisition=A,bu=B,site=S ('*' for the enterprise)"},
					&cli.BoolFlag{Name: "lob", Usage: "line-of-business app (retention applies)"},
					&cli.BoolFlag{Name: "privileged-tools", Usage: "privileged tooling (CAB at every ring)"},
				},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					if err := required(c, "name", "owner", "category", "support-tier", "licensing", "scope"); err != nil {
						return err
					}
					sc, err := deploy.ParseScope(c.String("scope"))
					if err != nil {
						return usageErrorf("--scope: %v", err)
					}
					a, err := cl.CreateApp(c.Context, api.AppRequest{ID: args[0], Name: c.String("name"), Owner: c.String("owner"), Category: c.String("category"),
						SupportTier: c.String("support-tier"), LicensingModel: c.String("licensing"), AllowedScope: sc, LOB: c.Bool("lob"), PrivilegedTools: c.Bool("privileged-tools")})
					if err != nil {
						return err
					}
					return out.emit(a, func(w io.Writer) { fmt.Fprintf(w, "application %s added (allowed scope %s)\n", a.ID, a.AllowedScope) })
				}),
			govCmd("list", "list the applications in your scope", "eucora app list", nil,
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
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
				}),
			govCmd("show", "show an application with its versions and artifacts", "eucora app show ID", nil,
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
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
				}),
			govCmd("scope", "change an application's allowed scope under a CAB approval (endpoint ops)",
				"eucora app scope ID --scope acquisition=a[,bu=b] --approval ID",
				[]cli.Flag{&cli.StringFlag{Name: "scope"}, &cli.StringFlag{Name: "approval", Usage: "CAB approval of scope-change:APP@NEXT_VERSION"}},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					if err := required(c, "scope"); err != nil {
						return err
					}
					sc, err := deploy.ParseScope(c.String("scope"))
					if err != nil {
						return usageErrorf("--scope: %v", err)
					}
					a, err := cl.ChangeAppScope(c.Context, args[0], sc, c.String("approval"))
					if err != nil {
						return err
					}
					return out.emit(a, func(w io.Writer) {
						fmt.Fprintf(w, "application %s allowed scope is %s (scope version %d)\n", a.ID, a.AllowedScope, a.ScopeVersion)
					})
				}),
			govCmd("retention", "plan LOB version retention", "eucora app retention ID [--at RFC3339]",
				[]cli.Flag{&cli.StringFlag{Name: "at", Usage: "judge at this time (default now)"}},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					var at time.Time
					var err error
					if s := c.String("at"); s != "" {
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
				}),
		},
	}
}
