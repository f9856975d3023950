package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/packaging"
)

func edgePackageCmd() *cli.Command {
	return &cli.Command{
		Name:        "package",
		Usage:       "re-check package files offline against the vulnerability feed this edge holds",
		Subcommands: []*cli.Command{edgePackageCheckCmd()},
	}
}

type edgePackageCheckOptions struct{ data string }

func edgePackageCheckCmd() *cli.Command {
	var o edgePackageCheckOptions
	return &cli.Command{
		Name:      "check",
		Usage:     "read each file's facts, match its components against the edge's feed and decide the default policy, offline",
		UsageText: "eucora edge package check --data DIR FILE...",
		Description: "The feed file is verified again first: its SHA-256, size and version against the statement the\n" +
			"hub signed, with the hub keys this edge trusts. Each FILE's type is its extension (.deb, .msi,\n" +
			".exe, .msix, .appx, .intunewin, .pkg, .dmg, .ipa, .apk); its facts are read as the hub's intake\n" +
			"reads them and its own components are matched (a vendor SBOM given to the hub at intake is not\n" +
			"at the edge). The decision is the default policy's (CRITICAL and HIGH block), without\n" +
			"exceptions; it is printed, not an exit code. Every file is checked; a file that is not what\n" +
			"its name claims, truncated or malformed is named with its defect and the command exits 21.",
		Flags:  []cli.Flag{dataFlag(&o.data)},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

// edgePackageCheckResult is one FILE: its check, or why it has none.
type edgePackageCheckResult struct {
	File  string             `json:"file"`
	Check *edge.PackageCheck `json:"check,omitempty"`
	Error string             `json:"error,omitempty"`
	err   error
}

func (o *edgePackageCheckOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	files := c.Args().Slice()
	if len(files) == 0 {
		return usageErrorf("edge package check needs at least one FILE")
	}
	for _, f := range files {
		if _, err := packaging.KindOf(f); err != nil {
			return usageErrorf("%v", err)
		}
		fi, err := os.Stat(f)
		if err != nil {
			return usageErrorf("%v", err)
		}
		if !fi.Mode().IsRegular() {
			return usageErrorf("%s is not a regular file", f)
		}
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	ck, err := e.CheckFeed()
	if err != nil {
		return err
	}
	var results []edgePackageCheckResult
	var failed []edgePackageCheckResult
	for _, f := range files {
		pc, err := ck.CheckFile(f, time.Time{})
		r := edgePackageCheckResult{File: f, Check: pc, err: err}
		if err != nil {
			r.Check, r.Error = nil, err.Error()
			failed = append(failed, r)
		}
		results = append(results, r)
	}
	view := map[string]any{"feed": ck.Feed, "files": results}
	if err := out.emit(view, func(w io.Writer) { printEdgeChecks(w, ck.Feed, results) }); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d file(s) could not be checked; the first: %w", len(failed), len(files), failed[0].err)
	}
	return nil
}

func printEdgeChecks(w io.Writer, feed *edge.VulnFeed, results []edgePackageCheckResult) {
	fmt.Fprintf(w, "feed %s (%d records, signed by hub key %s), checked offline\n", feed.Version, feed.Records, feed.KeyID)
	for _, r := range results {
		if r.Check == nil {
			fmt.Fprintf(w, "\n%s: NOT CHECKED: %s\n", r.File, r.Error)
			continue
		}
		pc, rep := r.Check, r.Check.Report
		d := rep.Decision
		fmt.Fprintf(w, "\n%s: %s %s %s, %s\n", r.File, pc.Kind, orDash(pc.Identity.Name), orDash(pc.Identity.Version), pc.SHA256)
		fmt.Fprintf(w, "  policy:   %s: %d critical, %d high, %d medium, %d low, %d unknown (%d of %d components checked)\n",
			d.Outcome, d.Counts.Critical, d.Counts.High, d.Counts.Medium, d.Counts.Low, d.Counts.Unknown, rep.ComponentsChecked, rep.Components)
		for _, f := range rep.Findings {
			fmt.Fprintf(w, "  %-8s %s %s@%s", f.Severity, f.ID, f.Component.Name, f.Component.Version)
			if f.Summary != "" {
				fmt.Fprintf(w, ": %s", f.Summary)
			}
			if f.Fixed != "" {
				fmt.Fprintf(w, " (fixed in %s)", f.Fixed)
			}
			if f.Undecided {
				fmt.Fprintf(w, " [undecided: %s]", f.Reason)
			}
			fmt.Fprintln(w)
		}
		for _, why := range d.Reasons {
			fmt.Fprintf(w, "  because  %s\n", why)
		}
		if len(rep.NotChecked) > 0 {
			fmt.Fprintf(w, "  not checked: %s\n", strings.Join(rep.NotChecked, ", "))
		}
	}
}
