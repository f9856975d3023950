package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/connectors/planes"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

func planeCmd() *cli.Command {
	return &cli.Command{
		Name:        "plane",
		Usage:       "register and check execution planes (platform admin only; EUCORA-architecture.md section 14.1)",
		Subcommands: []*cli.Command{planeAddCmd(), planeListCmd(), planeCheckCmd(), planeRingCmd()},
	}
}

// planeCredentialsHelp documents the credentials file of each kind.
func planeCredentialsHelp() string {
	var b strings.Builder
	b.WriteString("The credentials file is JSON whose fields are the plane's credential fields:\n")
	for _, k := range planes.Kinds {
		f, ok := planes.Fields[k]
		if !ok {
			f = "connector not in this build"
		}
		fmt.Fprintf(&b, "  %-10s %s\n", k, f)
	}
	b.WriteString("The hub stores it sealed (AES-256-GCM) with its credentials key DATA/hub/keys/credentials.key, which is never\n" +
		"in the Raft log or a backup; no answer, log or event shows it again, and only the plane's connector reads it.")
	return b.String()
}

type planeAddOptions struct {
	kind, url, credentials, scope, site string
}

func planeAddCmd() *cli.Command {
	var o planeAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "register an execution plane and its credentials",
		UsageText: "eucora plane add NAME --kind intune|jamf|sccm|landscape|awx --url URL --credentials FILE [--scope acquisition=a,bu=b,site=c]\n   eucora plane add NAME --kind sccm|jamf|landscape|awx --site SITE",
		Description: planeCredentialsHelp() + "\n\n" +
			"With --site, the plane is site-local (EUCORA-architecture.md section 8.4): only that air-gapped or intermittent\n" +
			"site's edge reaches it. The hub takes no URL and no credentials; register them at the site with\n" +
			"'eucora edge plane add NAME --kind KIND --url URL --credentials FILE' under the same name. The hub's\n" +
			"rollout steps for the plane travel as orders in the site's bundles and the edge's results come back in its.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "kind", Usage: "intune, jamf, sccm, landscape or awx", Destination: &o.kind},
			&cli.StringFlag{Name: "url", Usage: "the plane's base URL (http:// or https://)", Destination: &o.url},
			&cli.StringFlag{Name: "credentials", Usage: "JSON file of the plane's credentials (fields per kind above)", Destination: &o.credentials},
			&cli.StringFlag{Name: "scope", Usage: "acquisition=A,bu=B,site=S (default: enterprise; with --site: the site's scope)", Destination: &o.scope},
			&cli.StringFlag{Name: "site", Usage: "make the plane site-local: reached by this site's edge, which holds its URL and credentials", Destination: &o.site},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *planeAddOptions) run(c *cli.Context) error {
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	sc, err := deploy.ParseScope(o.scope)
	if err != nil {
		return usageErrorf("--scope: %v", err)
	}
	if o.site != "" {
		return o.runSite(c, args[0], sc)
	}
	if err := required(c, "kind", "url", "credentials"); err != nil {
		return err
	}
	creds, err := os.ReadFile(o.credentials)
	if err != nil {
		return usageErrorf("--credentials: %v", err)
	}
	if err := planes.Validate(o.kind, o.url, creds); err != nil {
		switch {
		case errors.Is(err, planes.ErrUnknownKind), errors.Is(err, planes.ErrNotInBuild):
			return usageErrorf("--kind: %v", err)
		case errors.Is(err, planes.ErrURL):
			return usageErrorf("--url: %v", err)
		}
		return usageErrorf("--credentials %s: %v", o.credentials, err)
	}
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	p, err := cl.CreatePlane(c.Context, api.PlaneRequest{Name: args[0], Kind: o.kind, URL: o.url, Scope: sc, Credentials: creds})
	if err != nil {
		return err
	}
	return out.emit(p, func(w io.Writer) {
		fmt.Fprintf(w, "plane %s added (%s, %s, scope %s); credentials sealed with key %s\n", p.Name, p.Kind, p.URL, p.Scope, p.KeyID)
	})
}

// runSite registers a site-local plane: a name and a kind, nothing secret.
func (o *planeAddOptions) runSite(c *cli.Context, name string, sc deploy.Scope) error {
	if err := required(c, "kind"); err != nil {
		return err
	}
	if o.url != "" || o.credentials != "" {
		return usageErrorf("--site %s: a site-local plane's --url and --credentials stay at the site: give them to 'eucora edge plane add %s' there", o.site, name)
	}
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	p, err := cl.CreatePlane(c.Context, api.PlaneRequest{Name: name, Kind: o.kind, Scope: sc, Site: o.site})
	if err != nil {
		return err
	}
	return out.emit(p, func(w io.Writer) {
		fmt.Fprintf(w, "plane %s added (%s at site %s, scope %s): register its URL and credentials at the site with\n"+
			"  eucora edge plane add %s --kind %s --url URL --credentials FILE\n", p.Name, p.Kind, p.Site, p.Scope, p.Name, p.Kind)
	})
}

type planeListOptions struct{}

func planeListCmd() *cli.Command {
	var o planeListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list the registered planes (never their credentials)",
		UsageText: "eucora plane list",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *planeListOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	ps, err := cl.Planes(c.Context)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []api.Plane{}
	}
	return out.emit(map[string]any{"planes": ps}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tURL\tSCOPE\tCREATED\tKEY")
		for _, p := range ps {
			url, key := p.URL, p.KeyID
			if p.Site != "" {
				url, key = "(at site "+p.Site+")", "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Kind, url, p.Scope, p.CreatedAt.Format("2006-01-02T15:04:05Z"), key)
		}
		tw.Flush()
	})
}

type planeCheckOptions struct{}

func planeCheckCmd() *cli.Command {
	var o planeCheckOptions
	return &cli.Command{
		Name:  "check",
		Usage: "authenticate to a plane and read one page through its connector",
		UsageText: "eucora plane check NAME\n" +
			"Reports the latency; on failure the error class (transient, permanent, policy) and exits 1.",
		Flags:  hubClientFlags(),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *planeCheckOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	r, err := cl.CheckPlane(c.Context, args[0])
	if err != nil {
		return err
	}
	if err := out.emit(r, func(w io.Writer) {
		if r.OK {
			fmt.Fprintf(w, "plane %s (%s): ok in %d ms: %s\n", r.Plane, r.Kind, r.LatencyMS, r.Detail)
			return
		}
		fmt.Fprintf(w, "plane %s (%s): check failed after %d ms, class %s: %s\n", r.Plane, r.Kind, r.LatencyMS, r.Class, r.Error)
	}); err != nil {
		return err
	}
	if !r.OK {
		return &planeCheckError{plane: r.Plane, class: r.Class}
	}
	return nil
}

// planeCheckError is a check the plane failed; its details were printed.
type planeCheckError struct{ plane, class string }

func (e *planeCheckError) Error() string {
	return fmt.Sprintf("plane %s: check failed (class %s)", e.plane, e.class)
}
