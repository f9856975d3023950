package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/mirror"
)

type mirrorAptCreateOptions struct {
	data, url, dist, keyring, filter string
	withDeps, noCheck                bool
	comps, archs                     cli.StringSlice
}

func mirrorAptCreateCmd() *cli.Command {
	var o mirrorAptCreateOptions
	return &cli.Command{
		Name:      "create",
		Usage:     "define a mirror of an upstream APT repository (checks that the distribution answers, signed by the keyring)",
		UsageText: "eucora mirror apt create NAME --url URL --dist DIST [--component C]... [--arch A]... --keyring FILE [--filter EXPR] [--with-deps] [--no-check]",
		Description: "Before saving the definition, create fetches URL/dists/DIST/InRelease (else Release and\n" +
			"Release.gpg, as sync does), verifies it against --keyring and checks that it lists the\n" +
			"components and architectures; it parses --filter. A refusal saves nothing: a malformed\n" +
			"filter or a distribution, component or architecture the upstream lacks exits 2, a bad\n" +
			"signature 20. --no-check skips the upstream check (defining a mirror offline).",
		Flags: []cli.Flag{
			dataFlag(&o.data),
			&cli.StringFlag{Name: "url", Required: true, Usage: "repository base URL (the directory holding dists/ and pool/)", Destination: &o.url},
			&cli.StringFlag{Name: "dist", Required: true, Usage: "distribution (suite or codename)", Destination: &o.dist},
			&cli.StringSliceFlag{Name: "component", Usage: "component (repeatable; default main)", Destination: &o.comps},
			&cli.StringSliceFlag{Name: "arch", Usage: "architecture (repeatable; default amd64)", Destination: &o.archs},
			&cli.StringFlag{Name: "keyring", Required: true, Usage: "trusted OpenPGP keyring (armored or binary)", Destination: &o.keyring},
			&cli.StringFlag{Name: "filter", Usage: "package filter, e.g. 'nginx* | Priority:required' (docs/apt-mirror.md)", Destination: &o.filter},
			&cli.BoolFlag{Name: "with-deps", Usage: "also mirror what selected packages depend on", Destination: &o.withDeps},
			&cli.BoolFlag{Name: "no-check", Usage: "do not contact the upstream: save the definition unchecked (offline); the first sync checks it", Destination: &o.noCheck},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptCreateOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	name, err := oneArg(c, "mirror NAME")
	if err != nil {
		return err
	}
	kr, err := os.ReadFile(o.keyring)
	if err != nil {
		return fmt.Errorf("--keyring: %w", err)
	}
	repo, err := mirror.CreateDataDir(o.data)
	if err != nil {
		return err
	}
	m := &mirror.Mirror{Name: name, URL: o.url, Dist: o.dist, Components: o.comps.Value(), Architectures: o.archs.Value(),
		Filter: o.filter, WithDeps: o.withDeps, KeyringFile: o.keyring}
	var opt mirror.DefineOptions
	if !o.noCheck {
		opt.Fetcher = upstreamFetcher()
	}
	check, err := repo.DefineMirror(c.Context, m, kr, opt)
	if err != nil {
		return fmt.Errorf("mirror %s not created: %w%s", name, err, checkHint(err))
	}
	view := mirrorView{Mirror: *m, Check: check}
	view.KeyringData = nil // the digest identifies it
	return out.emit(view, func(w io.Writer) {
		fmt.Fprintf(w, "mirror %s: %s dists/%s %v %v\n", m.Name, m.URL, m.Dist, m.Components, m.Architectures)
		printCheck(w, check)
		if check == nil {
			fmt.Fprintln(w, "not checked (--no-check): the first sync fetches and verifies the Release")
		}
	})
}
