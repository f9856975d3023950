package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/mirror"
)

type mirrorAptPublishOptions struct {
	data, key, prefix, dist, origin, label string
	validFor                               time.Duration
	noTree                                 bool
}

func mirrorAptPublishCmd() *cli.Command {
	var o mirrorAptPublishOptions
	return &cli.Command{
		Name:      "publish",
		Usage:     "publish a snapshot as a signed repository, switched atomically",
		UsageText: "eucora mirror apt publish SNAPNAME --key KEYFILE --prefix PREFIX [--dist DIST] [--valid-for 168h]",
		Flags: []cli.Flag{
			dataFlag(&o.data),
			&cli.StringFlag{Name: "key", Required: true, Usage: "OpenPGP private key (NAME.key.asc from 'eucora keys generate --type openpgp')", Destination: &o.key},
			&cli.StringFlag{Name: "prefix", Required: true, Usage: "publish prefix: served at /PREFIX/", Destination: &o.prefix},
			&cli.StringFlag{Name: "dist", Usage: "distribution name (default: upstream codename)", Destination: &o.dist},
			&cli.StringFlag{Name: "origin", Usage: "Release Origin (default EUCORA)", Destination: &o.origin},
			&cli.StringFlag{Name: "label", Usage: "Release Label (default: the Origin; apt refuses a changed Label)", Destination: &o.label},
			&cli.DurationFlag{Name: "valid-for", Usage: "set Valid-Until this long after publishing", Destination: &o.validFor},
			&cli.BoolFlag{Name: "no-tree", Usage: "do not materialise DATA/mirror/public/PREFIX (serve handles it)", Destination: &o.noTree},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptPublishOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	snap, err := oneArg(c, "SNAPNAME")
	if err != nil {
		return err
	}
	signer, err := mirror.LoadSigner(o.key)
	if err != nil {
		return err
	}
	repo, err := mirror.OpenDataDir(o.data)
	if err != nil {
		return err
	}
	var bar *progress.Bar
	res, err := repo.Publish(c.Context, snap, mirror.PublishOptions{
		Prefix: o.prefix, Dist: o.dist, Signer: signer, Origin: o.origin, Label: o.label, ValidFor: o.validFor, NoTree: o.noTree,
		Progress: func(total int) func(int64) {
			bar = progress.NewCount(out.progressEnabled(), int64(total), "publish "+snap)
			return bar.Add
		},
	})
	bar.Finish()
	if err != nil {
		return fmt.Errorf("publish %s failed, previous publication kept: %w", snap, err)
	}
	return out.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "published %s at /%s/ dists/%s: %d packages, %d files, publication %s, signed by %s\n",
			res.Snapshot, res.Prefix, res.Dist, res.Packages, res.Files, res.Publication.Short(), res.SignedBy)
		if res.Tree != "" {
			fmt.Fprintf(w, "tree: %s\n", res.Tree)
		}
	})
}
