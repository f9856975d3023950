package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/progress"
)

func vulnCmd() *cli.Command {
	return &cli.Command{
		Name:        "vuln",
		Usage:       "offline vulnerability feeds (OSV records) the factory's policy matches SBOMs against (EUCORA-architecture.md section 7.1)",
		Subcommands: []*cli.Command{vulnImportCmd(), vulnShowCmd()},
	}
}

type vulnImportOptions struct {
	sha256, source string
}

func vulnImportCmd() *cli.Command {
	var o vulnImportOptions
	return &cli.Command{
		Name:      "import",
		Usage:     "import an OSV feed: one record (.json), an array of records, or a zip of records such as osv.dev's all.zip (security reviewer or platform admin)",
		UsageText: "eucora vuln import FEED [--sha256 HEX] [--source TEXT]",
		Description: "The feed is parsed whole before anything changes: a record that breaks the OSV schema is refused naming the\n" +
			"file, entry and field, and nothing is imported. osv.dev publishes no signature or checksum for its zips, so pin\n" +
			"the digest you verified with --sha256. The newest imported feed is what package intake matches against.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "sha256", Usage: "the SHA-256 the feed file must have (hex)", Destination: &o.sha256},
			&cli.StringFlag{Name: "source", Usage: "where the feed came from, recorded with it", Destination: &o.source},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *vulnImportOptions) run(c *cli.Context) error {
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	fh, err := os.Open(args[0])
	if err != nil {
		return usageErrorf("%v", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	bar := progress.NewBytes(out.progressEnabled(), fi.Size(), "feed")
	f, err := cl.ImportVulnFeed(c.Context, filepath.Base(args[0]), io.TeeReader(fh, bar.Writer(io.Discard)), fi.Size(), o.sha256, o.source)
	bar.Finish()
	if err != nil {
		return err
	}
	return out.emit(f, func(w io.Writer) {
		fmt.Fprintf(w, "imported %s: %d records, newest modified %s\nfeed version %s\n", f.Name, f.Records, f.Newest.Format(time.RFC3339), f.ID)
	})
}

type vulnShowOptions struct{}

func vulnShowCmd() *cli.Command {
	var o vulnShowOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "show the current vulnerability feed",
		UsageText: "eucora vuln show",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *vulnShowOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	f, err := cl.VulnFeed(c.Context)
	if err != nil {
		return err
	}
	return out.emit(f, func(w io.Writer) {
		fmt.Fprintf(w, "feed %s\n  %s (%d bytes, blob %s), %d records, newest modified %s\n  imported by %s at %s from %s\n",
			f.ID, f.Name, f.Size, f.Blob, f.Records, f.Newest.Format(time.RFC3339), f.ImportedBy, f.ImportedAt.Format(time.RFC3339), f.Source)
	})
}
