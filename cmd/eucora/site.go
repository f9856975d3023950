package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

func siteCommand() *cli.Command {
	var class, scope string
	return &cli.Command{
		Name:  "site",
		Usage: "register remote sites, enrol their edges, assign content, follow their sync",
		Subcommands: []*cli.Command{{
			Name:      "add",
			Usage:     "register a site",
			UsageText: "eucora site add NAME --class online|intermittent|air-gapped [--scope acquisition=a,bu=b,site=c] [--edge-key EDGE.pub]",
			Flags: append([]cli.Flag{
				&cli.StringFlag{Name: "class", Usage: "online, intermittent or air-gapped", Destination: &class},
				&cli.StringFlag{Name: "edge-key", Usage: "enrol the site's edge key now (DIR/edge.pub from 'eucora edge init')"},
				&cli.StringFlag{Name: "scope", Usage: "acquisition=A,bu=B,site=S (default: enterprise)", Destination: &scope},
			}, hubClientFlags()...),
			Action: func(c *cli.Context) error {
				out, err := outputFrom(c)
				if err != nil {
					return err
				}
				args, err := positional(c, 1)
				if err != nil {
					return err
				}
				if err := required(c, "class"); err != nil {
					return err
				}
				sc, err := deploy.ParseScope(scope)
				if err != nil {
					return usageErrorf("--scope: %v", err)
				}
				cl, err := hubClient(c)
				if err != nil {
					return err
				}
				req := api.SiteRequest{Name: args[0], Class: class, Scope: sc}
				if p := c.String("edge-key"); p != "" {
					pem, err := readEdgeKey(p)
					if err != nil {
						return err
					}
					req.EdgeKeyPEM = string(pem)
				}
				s, err := cl.CreateSite(c.Context, req)
				if err != nil {
					return err
				}
				return out.emit(s, func(w io.Writer) {
					fmt.Fprintf(w, "site %s added (%s, scope %s)\n", s.Name, s.Class, s.Scope)
					if s.EdgeKeyID != "" {
						fmt.Fprintf(w, "edge key %s enrolled\n", s.EdgeKeyID)
					}
				})
			},
		}, {
			Name:      "list",
			Usage:     "list the sites in your scope",
			UsageText: "eucora site list",
			Flags:     hubClientFlags(),
			Action: func(c *cli.Context) error {
				out, cl, err := hubSession(c)
				if err != nil {
					return err
				}
				sites, err := cl.Sites(c.Context)
				if err != nil {
					return err
				}
				return out.emit(map[string]any{"sites": sites}, func(w io.Writer) {
					tw := table(w)
					fmt.Fprintln(tw, "NAME\tCLASS\tSCOPE\tCREATED")
					for _, s := range sites {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Class, s.Scope, s.CreatedAt.Format("2006-01-02T15:04:05Z"))
					}
					tw.Flush()
				})
			},
		}, siteEnrollCommand(), siteAssignCommand(), siteStatusCommand()},
	}
}
