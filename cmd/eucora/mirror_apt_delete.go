package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/mirror"
)

type mirrorAptDeleteOptions struct {
	data  string
	force bool
}

func mirrorAptDeleteCmd() *cli.Command {
	var o mirrorAptDeleteOptions
	return &cli.Command{
		Name:      "delete",
		Usage:     "remove a mirror's definition and sync state (snapshots, publications and content objects stay)",
		UsageText: "eucora mirror apt delete NAME [--force]",
		Description: "Refused while snapshots of the mirror are published (they are named), unless --force:\n" +
			"the publications then keep serving. The mirror's snapshots stay (they are immutable), and\n" +
			"so do its content objects (packages, indexes, manifests) in the content store.",
		Flags: []cli.Flag{
			dataFlag(&o.data),
			&cli.BoolFlag{Name: "force", Usage: "delete even when snapshots of the mirror are published", Destination: &o.force},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptDeleteOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	name, err := oneArg(c, "mirror NAME")
	if err != nil {
		return err
	}
	repo, err := mirror.OpenDataDir(o.data)
	if err != nil {
		return err
	}
	res, err := repo.DeleteMirror(name, o.force)
	if err != nil {
		return err
	}
	return out.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "deleted mirror %s: removed %s\n", name, strings.Join(res.Removed, ", "))
		if len(res.Snapshots) > 0 {
			fmt.Fprintf(w, "kept its %d snapshot(s): %s\n", len(res.Snapshots), strings.Join(res.Snapshots, ", "))
		}
		if len(res.Published) > 0 {
			fmt.Fprintf(w, "still published: %s\n", strings.Join(res.Published, ", "))
		}
		fmt.Fprintln(w, "its content objects (packages, indexes, manifests) stay in the content store: snapshots may share them; no command removes unreferenced ones yet")
	})
}
