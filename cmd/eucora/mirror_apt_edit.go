package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/mirror"
)

type mirrorAptEditOptions struct {
	data, url, dist, keyring, filter string
	withDeps, noDeps, noCheck        bool
	comps, archs                     cli.StringSlice
}

func mirrorAptEditCmd() *cli.Command {
	var o mirrorAptEditOptions
	return &cli.Command{
		Name:      "edit",
		Usage:     "change a mirror's definition (validated as create validates); the last sync is kept until the next one",
		UsageText: "eucora mirror apt edit NAME [--url URL] [--dist DIST] [--component C]... [--arch A]... [--keyring FILE] [--filter EXPR] [--with-deps|--no-deps] [--no-check]",
		Description: "Only the flags given change. The new definition is validated as create validates it: the\n" +
			"filter is parsed and, when the URL, distribution, components, architectures or keyring\n" +
			"change, the upstream is checked (unless --no-check). The mirror keeps its last good sync\n" +
			"(and snapshots keep theirs) until the next 'eucora mirror apt sync NAME'. --filter ''\n" +
			"removes the filter; --component and --arch replace the whole list.",
		Flags: []cli.Flag{
			dataFlag(&o.data),
			&cli.StringFlag{Name: "url", Usage: "new repository base URL", Destination: &o.url},
			&cli.StringFlag{Name: "dist", Usage: "new distribution", Destination: &o.dist},
			&cli.StringSliceFlag{Name: "component", Usage: "components (repeatable; replaces the list)", Destination: &o.comps},
			&cli.StringSliceFlag{Name: "arch", Usage: "architectures (repeatable; replaces the list)", Destination: &o.archs},
			&cli.StringFlag{Name: "keyring", Usage: "new trusted OpenPGP keyring (armored or binary)", Destination: &o.keyring},
			&cli.StringFlag{Name: "filter", Usage: "new package filter ('' for none)", Destination: &o.filter},
			&cli.BoolFlag{Name: "with-deps", Usage: "also mirror what selected packages depend on", Destination: &o.withDeps},
			&cli.BoolFlag{Name: "no-deps", Usage: "mirror only what the filter selects", Destination: &o.noDeps},
			&cli.BoolFlag{Name: "no-check", Usage: "do not contact the upstream (offline)", Destination: &o.noCheck},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptEditOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	name, err := oneArg(c, "mirror NAME")
	if err != nil {
		return err
	}
	if o.withDeps && o.noDeps {
		return usageErrorf("edit: --with-deps and --no-deps contradict each other")
	}
	var e mirror.MirrorEdit
	set := func(flag string, v string) *string {
		if !c.IsSet(flag) {
			return nil
		}
		return &v
	}
	e.URL, e.Dist, e.Filter = set("url", o.url), set("dist", o.dist), set("filter", o.filter)
	if c.IsSet("component") {
		e.Components = o.comps.Value()
	}
	if c.IsSet("arch") {
		e.Architectures = o.archs.Value()
	}
	if c.IsSet("with-deps") || c.IsSet("no-deps") {
		d := o.withDeps
		e.WithDeps = &d
	}
	if c.IsSet("keyring") {
		if e.Keyring, err = os.ReadFile(o.keyring); err != nil {
			return fmt.Errorf("--keyring: %w", err)
		}
		e.KeyringFile = o.keyring
	}
	given := false
	for _, f := range []string{"url", "dist", "component", "arch", "keyring", "filter", "with-deps", "no-deps"} {
		given = given || c.IsSet(f)
	}
	if !given {
		return usageErrorf("edit: nothing to change: give at least one of --url, --dist, --component, --arch, --keyring, --filter, --with-deps, --no-deps")
	}
	repo, err := mirror.OpenDataDir(o.data)
	if err != nil {
		return err
	}
	var opt mirror.DefineOptions
	if !o.noCheck {
		opt.Fetcher = upstreamFetcher()
	}
	res, err := repo.EditMirror(c.Context, name, e, opt)
	if err != nil {
		return fmt.Errorf("mirror %s not changed: %w%s", name, err, checkHint(err))
	}
	return out.emit(res, func(w io.Writer) {
		if len(res.Changed) == 0 {
			fmt.Fprintf(w, "mirror %s: unchanged\n", name)
			return
		}
		fmt.Fprintf(w, "mirror %s changed:\n", name)
		for _, ch := range res.Changed {
			fmt.Fprintf(w, "  %s: %q -> %q\n", ch.Field, ch.From, ch.To)
		}
		printCheck(w, res.Check)
		if res.Manifest != "" {
			fmt.Fprintf(w, "the last sync (manifest %s, %s) stays until the next 'eucora mirror apt sync %s'\n",
				res.Manifest.Short(), res.Synced.Format(time.RFC3339), name)
		}
	})
}
