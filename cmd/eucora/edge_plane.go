package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/connectors/planes"
	"github.com/eucora/eucora/edge"
)

// edgePlaneCmd manages the site-local planes the edge executes orders on.
func edgePlaneCmd() *cli.Command {
	return &cli.Command{
		Name: "plane",
		Usage: "register the planes only this site reaches (its SCCM, Jamf, Landscape or AWX), with their credentials " +
			"(EUCORA-architecture.md section 8.4)",
		Subcommands: []*cli.Command{edgePlaneAddCmd(), edgePlaneListCmd(), edgePlaneRemoveCmd()},
	}
}

type edgePlaneAddOptions struct {
	data, kind, url, credentials string
	replace                      bool
}

func edgePlaneAddCmd() *cli.Command {
	var o edgePlaneAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "register a site-local plane under the name the hub registered it with ('eucora plane add NAME --site SITE')",
		UsageText: "eucora edge plane add NAME --data DIR --kind sccm|jamf|landscape|awx|intune --url URL --credentials FILE [--replace]",
		Description: planeCredentialsHelp() + "\n\nAt the edge the credentials are kept in DIR/edge/planes.json (mode 0600); they never leave the site.\n" +
			"'eucora edge execute' (and 'edge serve') apply the hub's orders for the plane through its connector.",
		Flags: []cli.Flag{dataFlag(&o.data),
			&cli.StringFlag{Name: "kind", Usage: "sccm, jamf, landscape, awx or intune", Destination: &o.kind},
			&cli.StringFlag{Name: "url", Usage: "the plane's base URL at the site (http:// or https://)", Destination: &o.url},
			&cli.StringFlag{Name: "credentials", Usage: "JSON file of the plane's credentials (fields per kind above)", Destination: &o.credentials},
			&cli.BoolFlag{Name: "replace", Usage: "replace a plane registered under the same name", Destination: &o.replace},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgePlaneAddOptions) run(c *cli.Context) error {
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	if err := required(c, "kind", "url", "credentials"); err != nil {
		return err
	}
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	creds, err := os.ReadFile(o.credentials)
	if err != nil {
		return usageErrorf("--credentials: %v", err)
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	p, err := e.AddPlane(args[0], o.kind, o.url, creds, o.replace)
	if errors.Is(err, planes.ErrUnknownKind) || errors.Is(err, planes.ErrNotInBuild) {
		return usageErrorf("--kind: %v", err)
	}
	if err != nil {
		return usageErrorf("%v", err)
	}
	return out.emit(p, func(w io.Writer) {
		fmt.Fprintf(w, "plane %s registered at site %s (%s, %s); credentials kept at the edge only\n", p.Name, e.Site(), p.Kind, p.URL)
	})
}

type edgePlaneListOptions struct{ data string }

func edgePlaneListCmd() *cli.Command {
	var o edgePlaneListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list the site-local planes (never their credentials)",
		UsageText: "eucora edge plane list --data DIR",
		Flags:     []cli.Flag{dataFlag(&o.data)},
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgePlaneListOptions) run(c *cli.Context) error {
	if _, err := positional(c, 0); err != nil {
		return err
	}
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	ps, err := e.Planes()
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"planes": ps}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tURL")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Kind, p.URL)
		}
		tw.Flush()
	})
}

type edgePlaneRemoveOptions struct{ data string }

func edgePlaneRemoveCmd() *cli.Command {
	var o edgePlaneRemoveOptions
	return &cli.Command{
		Name:      "remove",
		Usage:     "forget a site-local plane and its credentials (orders for it fail until it is registered again)",
		UsageText: "eucora edge plane remove NAME --data DIR",
		Flags:     []cli.Flag{dataFlag(&o.data)},
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgePlaneRemoveOptions) run(c *cli.Context) error {
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	if err := e.RemovePlane(args[0]); err != nil {
		return err
	}
	return out.emit(map[string]string{"removed": args[0]}, func(w io.Writer) { fmt.Fprintf(w, "plane %s removed\n", args[0]) })
}
