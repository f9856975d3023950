package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/signing"
)

func siteCmd() *cli.Command {
	return &cli.Command{
		Name:        "site",
		Usage:       "register remote sites, enrol their edges, assign content, follow their sync",
		Subcommands: []*cli.Command{siteAddCmd(), siteListCmd(), siteEnrollCmd(), siteAssignCmd(), siteStatusCmd()},
	}
}

type siteAddOptions struct {
	class, edgeKey, scope string
}

func siteAddCmd() *cli.Command {
	var o siteAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "register a site",
		UsageText: "eucora site add NAME --class online|intermittent|air-gapped [--scope acquisition=a,bu=b,site=c] [--edge-key EDGE.pub]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "class", Usage: "online, intermittent or air-gapped", Destination: &o.class},
			&cli.StringFlag{Name: "edge-key", Usage: "enrol the site's edge key now (DIR/edge.pub from 'eucora edge init')", Destination: &o.edgeKey},
			&cli.StringFlag{Name: "scope", Usage: "acquisition=A,bu=B,site=S (default: enterprise)", Destination: &o.scope},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *siteAddOptions) run(c *cli.Context) error {
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
	sc, err := deploy.ParseScope(o.scope)
	if err != nil {
		return usageErrorf("--scope: %v", err)
	}
	cl, err := hubClient(c)
	if err != nil {
		return err
	}
	req := api.SiteRequest{Name: args[0], Class: o.class, Scope: sc}
	if p := o.edgeKey; p != "" {
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
}

type siteListOptions struct{}

func siteListCmd() *cli.Command {
	var o siteListOptions
	return &cli.Command{
		Name:      "list",
		Usage:     "list the sites in your scope",
		UsageText: "eucora site list",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *siteListOptions) run(c *cli.Context) error {
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
}

type siteEnrollOptions struct {
	edgeKey string
}

func siteEnrollCmd() *cli.Command {
	var o siteEnrollOptions
	return &cli.Command{
		Name:      "enroll",
		Usage:     "register a site's edge key (the only key whose bundles the hub takes from it)",
		UsageText: "eucora site enroll NAME --edge-key EDGE.pub",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "edge-key", Usage: "the edge's public key (DIR/edge.pub from 'eucora edge init')", Destination: &o.edgeKey},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *siteEnrollOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	if err := required(c, "edge-key"); err != nil {
		return err
	}
	pem, err := readEdgeKey(o.edgeKey)
	if err != nil {
		return err
	}
	s, err := cl.EnrollSite(c.Context, args[0], pem)
	if err != nil {
		return err
	}
	return out.emit(s, func(w io.Writer) { fmt.Fprintf(w, "site %s enrolled edge key %s\n", s.Name, s.EdgeKeyID) })
}

// readEdgeKey reads and checks an edge public key file.
func readEdgeKey(path string) ([]byte, error) {
	pub, err := signing.LoadPublic(path)
	if err != nil {
		return nil, usageErrorf("--edge-key: %v", err)
	}
	return signing.EncodePublic(pub), nil
}

type siteAssignOptions struct {
	apt  cli.StringSlice
	none bool
}

func siteAssignCmd() *cli.Command {
	var o siteAssignOptions
	return &cli.Command{
		Name:  "assign",
		Usage: "set the APT publications a site serves (replaces the list)",
		UsageText: "eucora site assign NAME --apt PREFIX:DIST [--apt PREFIX:DIST]...\n" +
			"eucora site assign NAME --none",
		Description: "PREFIX and DIST name a publication of this hub's mirror ('eucora mirror apt publish\n" +
			"SNAPSHOT --prefix PREFIX --dist DIST'). Every export to the site then carries that\n" +
			"publication, byte-identical, and the edge serves it under /apt/PREFIX. The list given\n" +
			"replaces the site's; the answer says what was added and removed. A PREFIX:DIST the hub\n" +
			"does not publish is refused (exit 2, the published ones listed) and the site's list stays.",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "apt", Usage: "PREFIX:DIST of a published APT repository (repeatable)", Destination: &o.apt},
			&cli.BoolFlag{Name: "none", Usage: "assign nothing (clears the list)", Destination: &o.none},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *siteAssignOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	specs := o.apt.Value()
	if len(specs) == 0 && !o.none {
		return usageErrorf("give --apt PREFIX:DIST (repeatable) or --none")
	}
	var pubs []api.APTAssignment
	for _, s := range specs {
		a, err := parseAPTSpec(s)
		if err != nil {
			return err
		}
		pubs = append(pubs, a)
	}
	res, err := cl.AssignAPT(c.Context, args[0], pubs)
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Code == "unknown_publication" {
		// The argument names nothing the hub publishes: a usage
		// mistake, whatever HTTP status carried it.
		return usageErrorf("site assign %s: --apt: %s", args[0], ae.Message)
	}
	if err != nil {
		return err
	}
	view := siteAssignView{AssignResult: res, After: res.APT, Changed: len(res.Added)+len(res.Removed) > 0}
	if view.After == nil {
		view.After = []api.APTAssignment{}
	}
	return out.emit(view, func(w io.Writer) {
		now := aptList(view.After)
		if !view.Changed {
			fmt.Fprintf(w, "site %s: apt unchanged (%s)\n", res.Name, now)
			return
		}
		var what []string
		if len(res.Added) > 0 {
			what = append(what, "added "+aptList(res.Added))
		}
		if len(res.Removed) > 0 {
			what = append(what, "removed "+aptList(res.Removed))
		}
		fmt.Fprintf(w, "site %s: apt now %s (%s)\n", res.Name, now, strings.Join(what, "; "))
	})
}

// siteAssignView is what site assign prints with --output json: the hub's
// answer (the site, before, added, removed) and the list after.
type siteAssignView struct {
	api.AssignResult
	After   []api.APTAssignment `json:"after"`
	Changed bool                `json:"changed"`
}

// aptList writes assignments as PREFIX:DIST, comma-separated ("none").
func aptList(as []api.APTAssignment) string {
	if len(as) == 0 {
		return "none"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.Prefix + ":" + a.Dist
	}
	return strings.Join(parts, ", ")
}

// parseAPTSpec reads --apt PREFIX:DIST (the prefix may itself hold ':').
func parseAPTSpec(s string) (api.APTAssignment, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return api.APTAssignment{}, usageErrorf("--apt %q: want PREFIX:DIST, e.g. ubuntu:jammy", s)
	}
	return api.APTAssignment{Prefix: s[:i], Dist: s[i+1:]}, nil
}

type siteStatusOptions struct{}

func siteStatusCmd() *cli.Command {
	var o siteStatusOptions
	return &cli.Command{
		Name:      "status",
		Usage:     "sync state of one site or of every site in your scope",
		UsageText: "eucora site status [NAME]",
		Description: "Last export and receipt, whether the site acknowledged every export (SYNC: in sync,\n" +
			"N exports unacknowledged, never received), what the site still lacks, events\n" +
			"received, gaps, whether its event chain verifies, the refused imports of its\n" +
			"bundles since the last one merged (the last one's time and reason below the\n" +
			"table), and how stale it is against its class's\n" +
			"time to compliance (online 24h, intermittent 72h, air-gapped 7d).",
		Flags:  hubClientFlags(),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *siteStatusOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	args := c.Args().Slice()
	if len(args) > 1 {
		return usageErrorf("at most one site name")
	}
	names := args
	if len(names) == 0 {
		sites, err := cl.Sites(c.Context)
		if err != nil {
			return err
		}
		for _, s := range sites {
			names = append(names, s.Name)
		}
	}
	views := []api.SiteSync{}
	for _, n := range names {
		v, err := cl.SiteSyncState(c.Context, n)
		if err != nil {
			return err
		}
		views = append(views, v)
	}
	var data any = map[string]any{"sites": views}
	if len(args) == 1 {
		data = views[0]
	}
	return out.emit(data, func(w io.Writer) {
		tw := table(w)
		fmt.Fprintln(tw, "SITE\tCLASS\tEXPORTED\tAPPLIED\tSYNC\tLAST RECEIPT\tPENDING\tEVENTS\tCHAIN\tREFUSED\tSTALE")
		for _, v := range views {
			chain := "ok"
			if !v.ChainOK {
				chain = "BROKEN"
			}
			if len(v.Gaps) > 0 {
				chain += fmt.Sprintf(" (%d gaps)", len(v.Gaps))
			}
			pending := fmt.Sprintf("%d (%s)", v.PendingObjects, bytesize.Format(v.PendingBytes))
			if v.PendingError != "" {
				pending = "unknown"
			}
			stale := fmt.Sprintf("no (%s of %s)", age(v.StalenessSeconds), age(v.TimeToComplianceSeconds))
			if v.Stale {
				stale = fmt.Sprintf("YES (%s of %s)", age(v.StalenessSeconds), age(v.TimeToComplianceSeconds))
			}
			refused := "-"
			if v.LastRefusalAt != nil {
				refused = fmt.Sprintf("%d since last import", v.RefusalsSinceImport)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", v.Site, v.Class, v.LastExportedSeq, v.LastAppliedSeq,
				v.Sync, when(v.LastReceiptAt), pending, v.EventsReceived, chain, refused, stale)
		}
		tw.Flush()
		for _, v := range views {
			if v.ChainError != "" {
				fmt.Fprintf(w, "%s: event chain: %s\n", v.Site, v.ChainError)
			}
			if v.PendingError != "" {
				fmt.Fprintf(w, "%s: pending: %s\n", v.Site, v.PendingError)
			}
			if v.LastRefusalAt != nil {
				fmt.Fprintf(w, "%s: last refused import %s: %s\n", v.Site, when(v.LastRefusalAt), v.LastRefusalReason)
			}
		}
	})
}

func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func age(sec int64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return d.Round(time.Second).String()
	}
}
