package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// Hub <-> edge sync from the hub's side (docs/sync-protocol.md): site
// enrol, assign and status; hub export and import.

func siteEnrollCommand() *cli.Command {
	return &cli.Command{
		Name:      "enroll",
		Usage:     "register a site's edge key (the only key whose bundles the hub takes from it)",
		UsageText: "eucora site enroll NAME --edge-key EDGE.pub",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "edge-key", Usage: "the edge's public key (DIR/edge.pub from 'eucora edge init')"},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error {
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
			pem, err := readEdgeKey(c.String("edge-key"))
			if err != nil {
				return err
			}
			s, err := cl.EnrollSite(c.Context, args[0], pem)
			if err != nil {
				return err
			}
			return out.emit(s, func(w io.Writer) { fmt.Fprintf(w, "site %s enrolled edge key %s\n", s.Name, s.EdgeKeyID) })
		},
	}
}

// readEdgeKey reads and checks an edge public key file.
func readEdgeKey(path string) ([]byte, error) {
	pub, err := signing.LoadPublic(path)
	if err != nil {
		return nil, usageErrorf("--edge-key: %v", err)
	}
	return signing.EncodePublic(pub), nil
}

func siteAssignCommand() *cli.Command {
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
			&cli.StringSliceFlag{Name: "apt", Usage: "PREFIX:DIST of a published APT repository (repeatable)"},
			&cli.BoolFlag{Name: "none", Usage: "assign nothing (clears the list)"},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error {
			out, cl, err := hubSession(c)
			if err != nil {
				return err
			}
			args, err := positional(c, 1)
			if err != nil {
				return err
			}
			specs := c.StringSlice("apt")
			if len(specs) == 0 && !c.Bool("none") {
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
		},
	}
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

func siteStatusCommand() *cli.Command {
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
		Flags: hubClientFlags(),
		Action: func(c *cli.Context) error {
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
		},
	}
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

func hubExportCommand() *cli.Command {
	var site, outDir, volSize string
	var full, replace, ifChanged bool
	return &cli.Command{
		Name:      "export",
		Usage:     "write the next bundle for a site into a directory (a USB stick, a transfer folder)",
		UsageText: "eucora hub export --site NAME --out DIR [--volume-size SIZE] [--full] [--if-changed] [--replace]",
		Description: "The hub builds the bundle (next sequence, its predecessor's digest, everything the\n" +
			"site lacks according to its last receipt) and this command copies its volumes into\n" +
			"DIR, checking free space first and verifying every volume against the hub key.\n" +
			"DIR may already hold earlier bundles (a stick reused round after round): the new\n" +
			"one is written beside them and 'eucora edge import DIR' applies what is new;\n" +
			"--replace removes the earlier bundles' volumes once the new one is written.\n" +
			"--if-changed writes nothing (exit 0) when the bundle would carry nothing the last\n" +
			"export did not.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "site", Required: true, Usage: "site to export to", Destination: &site},
			&cli.StringFlag{Name: "out", Required: true, Usage: "directory to write the volumes to", Destination: &outDir},
			&cli.StringFlag{Name: "volume-size", Value: "4000MiB", Usage: volumeSizeUsage("largest volume file (default fits FAT32)"), Destination: &volSize},
			&cli.BoolFlag{Name: "full", Usage: "carry everything, ignoring what the site says it holds", Destination: &full},
			&cli.BoolFlag{Name: "if-changed", Usage: "skip the export when it would carry nothing new since the last one", Destination: &ifChanged},
			&cli.BoolFlag{Name: "replace", Usage: "once the new bundle is written, remove the earlier eucora bundles DIR holds (other files stay)", Destination: &replace},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error {
			out, cl, err := hubSession(c)
			if err != nil {
				return err
			}
			vs, err := parseVolumeSize(volSize)
			if err != nil {
				return err
			}
			cl.HTTP.Timeout = 0 // an export may take long; the context bounds it
			hubPub, err := cl.HubPublicKey(c.Context)
			if err != nil {
				return err
			}
			em, err := prepareExportMedia(outDir)
			if err != nil {
				return err
			}
			x, err := cl.ExportSite(c.Context, site, api.ExportRequest{VolumeSize: vs, Full: full, IfChanged: ifChanged})
			if err != nil {
				return err
			}
			if ifChanged && x.Reused {
				return out.emit(map[string]any{"skipped": true, "export": x, "files": []string{}}, func(w io.Writer) {
					fmt.Fprintf(w, "nothing new for site %s since export %d (%s): skipped, nothing written to %s\n", site, x.Sequence,
						x.Created.UTC().Format(time.RFC3339), outDir)
				})
			}
			bar := progress.NewBytes(out.progressEnabled(), x.VolumeBytes(), "copying")
			files, err := cl.DownloadExport(c.Context, x, outDir, bar.Add)
			bar.Finish()
			if err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if _, err := transfer.OpenOne(files, signing.NewTrust(hubPub)); err != nil {
				return fmt.Errorf("downloaded export %d does not verify against the hub key: %w", x.Sequence, err)
			}
			if err := em.finish(replace, files); err != nil {
				return err
			}
			return out.emit(map[string]any{"skipped": false, "export": x, "files": files, "other_bundles": em.Others, "removed": em.Removed}, func(w io.Writer) {
				fmt.Fprintf(w, "export %d for site %s: %d objects (%s), %d records, %d volume(s) in %s\n", x.Sequence, site, x.Objects,
					bytesize.Format(x.ObjectBytes), x.Records, len(x.Volumes), outDir)
				if x.Predecessor != "" {
					fmt.Fprintf(w, "predecessor %s\n", x.Predecessor.Short())
				}
				em.print(w, outDir, "eucora edge import "+outDir)
			})
		},
	}
}

func hubImportCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "hand an edge's bundle (receipt, events) to the hub",
		UsageText: "eucora hub import PATH...",
		Description: "PATH is volume files or directories of them, in any order. The bundle is verified\n" +
			"here and again by the hub against the site's enrolled key; the hub merges its\n" +
			"events exactly once, checks the edge's hash chain and updates the site's sync state.\n" +
			"A bundle refused here (bad signature, damaged or missing volume) is also reported\n" +
			"to the hub, which records the refusal in its audit log. A bundle from a site this\n" +
			"hub does not know, or one the hub wrote for a site, is refused (22).\n\n" +
			"A directory reused round after round may hold several exports: they are merged in\n" +
			"sequence order, each as above; older ones are reported (stale, with their\n" +
			"sequence numbers) and sent nowhere. With --output json, one bundle gives the\n" +
			"hub's import result, several give {\"bundles\":[{\"sequence\",\"outcome\",...}]}.",
		Flags: hubClientFlags(),
		Action: func(c *cli.Context) error {
			out, cl, err := hubSession(c)
			if err != nil {
				return err
			}
			paths := c.Args().Slice()
			if len(paths) == 0 {
				return usageErrorf("give the volume files or directories to import")
			}
			return runHubImport(c.Context, out, cl, paths)
		},
	}
}

func hubRotateKeyCommand() *cli.Command {
	show := func(c *cli.Context, out *output, k api.HubKey, what string) error {
		return out.emit(k, func(w io.Writer) {
			fmt.Fprintf(w, "%s\ncurrent key %s\n", what, k.KeyID)
			if k.Next != nil {
				fmt.Fprintf(w, "staged key  %s (announced by every bundle from now)\n", k.Next.KeyID)
			}
			for _, p := range k.Previous {
				fmt.Fprintf(w, "retired key %s (%s)\n", p.KeyID, p.RetiredAt.Format(time.RFC3339))
			}
		})
	}
	return &cli.Command{
		Name:  "rotate-key",
		Usage: "rotate the hub's signing key in two steps: stage, then switch",
		Description: "'stage' creates the next key; every bundle signed by the current key announces it,\n" +
			"and an edge that applies one trusts it. 'switch' makes it the signing key once every\n" +
			"enrolled site has applied an announcing bundle (see 'eucora site status'); --force\n" +
			"switches anyway, and sites that missed the announcement refuse new bundles until\n" +
			"re-initialised with the new key ('eucora hub key --out').",
		Subcommands: []*cli.Command{{
			Name:      "stage",
			Usage:     "create the next key and announce it in every bundle",
			UsageText: "eucora hub rotate-key stage",
			Flags:     hubClientFlags(),
			Action: func(c *cli.Context) error {
				out, cl, err := hubSession(c)
				if err != nil {
					return err
				}
				k, err := cl.StageHubKey(c.Context)
				if err != nil {
					return err
				}
				return show(c, out, k, "next key staged; export to every site, import their receipts, then 'eucora hub rotate-key switch'")
			},
		}, {
			Name:      "switch",
			Usage:     "sign with the staged key from now on",
			UsageText: "eucora hub rotate-key switch [--force]",
			Flags: append([]cli.Flag{
				&cli.BoolFlag{Name: "force", Usage: "switch although some sites have not applied an announcing bundle"},
			}, hubClientFlags()...),
			Action: func(c *cli.Context) error {
				out, cl, err := hubSession(c)
				if err != nil {
					return err
				}
				k, err := cl.SwitchHubKey(c.Context, c.Bool("force"))
				if err != nil {
					return err
				}
				return show(c, out, k, "switched: bundles are signed by the new key")
			},
		}},
	}
}
