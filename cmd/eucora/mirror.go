package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/httpserve"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/mirror"
)

// errWriter is where warnings go: the app's ErrWriter, else stderr.
func errWriter(c *cli.Context) io.Writer {
	if c.App.ErrWriter != nil {
		return c.App.ErrWriter
	}
	return os.Stderr
}

func mirrorCommand() *cli.Command {
	return &cli.Command{
		Name:  "mirror",
		Usage: "mirror, snapshot, publish and serve repositories",
		Subcommands: []*cli.Command{{
			Name:  "apt",
			Usage: "APT repositories (see docs/apt-mirror.md)",
			Subcommands: []*cli.Command{
				mirrorCreateCmd(), mirrorEditCmd(), mirrorDeleteCmd(), mirrorSyncCmd(), mirrorListCmd(), mirrorSnapshotCmd(), mirrorSnapshotsCmd(),
				mirrorDiffCmd(), mirrorPublishCmd(), mirrorPublishedCmd(), mirrorInstallCmd(), mirrorVerifyCmd(), mirrorServeCmd(), mirrorPinCmd(),
			},
		}},
	}
}

func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", usageErrorf("%s: want exactly one %s, got %d arguments", c.Command.Name, what, c.NArg())
	}
	return c.Args().First(), nil
}

// upstreamFetcher is the fetcher of the upstream checks of create and edit.
func upstreamFetcher() *mirror.Fetcher {
	return &mirror.Fetcher{IdleTimeout: 30 * time.Second, UserAgent: "eucora/" + version}
}

// checkHint says what to do about a refused upstream check.
func checkHint(err error) string {
	var fe *mirror.FetchError
	switch {
	case errors.Is(err, mirror.ErrNotOffered):
		return " (check --url, --dist, --component and --arch; --no-check saves the definition without asking the upstream)"
	case errors.As(err, &fe):
		return " (the upstream did not answer as a repository; --no-check saves the definition without asking it, for defining a mirror offline)"
	}
	return ""
}

// mirrorView is a mirror as commands print it: without the keyring's bytes
// (its digest identifies it), with what the upstream check found.
type mirrorView struct {
	mirror.Mirror
	Check *mirror.UpstreamCheck `json:"check,omitempty"`
}

func printCheck(w io.Writer, check *mirror.UpstreamCheck) {
	if check == nil {
		return
	}
	fmt.Fprintf(w, "checked: %s verifies", check.Release)
	if check.Codename != "" {
		fmt.Fprintf(w, " (codename %s", check.Codename)
		if !check.Date.IsZero() {
			fmt.Fprintf(w, ", dated %s", check.Date.Format(time.RFC3339))
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
}

type mirrorCreateOptions struct {
	data, url, dist, keyring, filter string
	withDeps, noCheck                bool
	comps, archs                     cli.StringSlice
}

func mirrorCreateCmd() *cli.Command {
	var o mirrorCreateOptions
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

func (o *mirrorCreateOptions) run(c *cli.Context) error {
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

type mirrorEditOptions struct {
	data, url, dist, keyring, filter string
	withDeps, noDeps, noCheck        bool
	comps, archs                     cli.StringSlice
}

func mirrorEditCmd() *cli.Command {
	var o mirrorEditOptions
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

func (o *mirrorEditOptions) run(c *cli.Context) error {
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

type mirrorDeleteOptions struct {
	data  string
	force bool
}

func mirrorDeleteCmd() *cli.Command {
	var o mirrorDeleteOptions
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

func (o *mirrorDeleteOptions) run(c *cli.Context) error {
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

func mirrorSyncCmd() *cli.Command {
	var data string
	var workers, retries int
	var idle time.Duration
	return &cli.Command{
		Name:      "sync",
		Usage:     "fetch and verify the mirror's upstream; on failure the previous state stays",
		UsageText: "eucora mirror apt sync NAME [--workers N] [--idle-timeout 30s] [--retries 3]",
		Flags: []cli.Flag{
			dataFlag(&data),
			&cli.IntFlag{Name: "workers", Value: 8, Usage: "parallel package downloads", Destination: &workers},
			&cli.IntFlag{Name: "retries", Value: 3, Usage: "retries of a transient failure (-1: none)", Destination: &retries},
			&cli.DurationFlag{Name: "idle-timeout", Value: 30 * time.Second, Usage: "abort a download that receives nothing for this long", Destination: &idle},
		},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			name, err := oneArg(c, "mirror NAME")
			if err != nil {
				return err
			}
			repo, err := mirror.OpenDataDir(data)
			if err != nil {
				return err
			}
			var bar *progress.Bar
			opt := mirror.SyncOptions{
				Workers: workers,
				Fetcher: &mirror.Fetcher{IdleTimeout: idle, Retries: retries, UserAgent: "eucora/" + version},
				Progress: func(total int64, files int) func(int64) {
					bar = progress.NewBytes(out.progressEnabled(), total, fmt.Sprintf("sync %s (%d files)", name, files))
					return bar.Add
				},
			}
			res, err := repo.Sync(c.Context, name, opt)
			bar.Finish()
			if err != nil {
				return fmt.Errorf("sync %s failed, previous state kept: %w", name, err)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(errWriter(c), "warning: %s\n", w)
			}
			return out.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "mirror %s: %d packages (%s), downloaded %d (%s), reused %d, added by deps %d, manifest %s\n",
					name, res.Packages, bytesize.Format(res.Bytes), res.Downloaded, bytesize.Format(res.DownloadedBytes), res.Reused, res.AddedByDeps, res.Manifest.Short())
				for _, u := range res.Unresolved {
					fmt.Fprintf(w, "  unresolved: %s\n", u)
				}
			})
		},
	}
}

func mirrorListCmd() *cli.Command {
	var data string
	return &cli.Command{
		Name:  "list",
		Usage: "list mirrors",
		Flags: []cli.Flag{dataFlag(&data)},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			repo, err := mirror.OpenDataDir(data)
			if err != nil {
				return err
			}
			ms, err := repo.Mirrors()
			if err != nil {
				return err
			}
			if ms == nil {
				ms = []*mirror.Mirror{}
			}
			return out.emit(ms, func(w io.Writer) {
				t := table(w)
				fmt.Fprintln(t, "NAME\tURL\tDIST\tPACKAGES\tSYNCED\tMANIFEST")
				for _, m := range ms {
					synced := "never"
					if !m.Synced.IsZero() {
						synced = m.Synced.Format(time.RFC3339)
					}
					fmt.Fprintf(t, "%s\t%s\t%s\t%d\t%s\t%s\n", m.Name, m.URL, m.Dist, m.Packages, synced, m.Manifest.Short())
				}
				t.Flush()
			})
		},
	}
}

func mirrorSnapshotCmd() *cli.Command {
	var data, as string
	return &cli.Command{
		Name:      "snapshot",
		Usage:     "freeze a mirror's last good sync as an immutable snapshot",
		UsageText: "eucora mirror apt snapshot MIRROR [--as SNAPNAME]",
		Flags:     []cli.Flag{dataFlag(&data), &cli.StringFlag{Name: "as", Usage: "snapshot name (default MIRROR-TIMESTAMP)", Destination: &as}},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			name, err := oneArg(c, "mirror NAME")
			if err != nil {
				return err
			}
			repo, err := mirror.OpenDataDir(data)
			if err != nil {
				return err
			}
			s, err := repo.CreateSnapshot(name, as)
			if err != nil {
				return err
			}
			return out.emit(s, func(w io.Writer) {
				fmt.Fprintf(w, "snapshot %s of mirror %s: %d packages, id %s\n", s.Name, s.Mirror, s.Packages, s.ID)
			})
		},
	}
}

func mirrorSnapshotsCmd() *cli.Command {
	var data string
	return &cli.Command{
		Name:  "snapshots",
		Usage: "list snapshots",
		Flags: []cli.Flag{dataFlag(&data)},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			repo, err := mirror.OpenDataDir(data)
			if err != nil {
				return err
			}
			ss, err := repo.Snapshots()
			if err != nil {
				return err
			}
			if ss == nil {
				ss = []*mirror.Snapshot{}
			}
			return out.emit(ss, func(w io.Writer) {
				t := table(w)
				fmt.Fprintln(t, "NAME\tMIRROR\tPACKAGES\tSIZE\tCREATED\tID")
				for _, s := range ss {
					fmt.Fprintf(t, "%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, s.Mirror, s.Packages, bytesize.Format(s.Bytes), s.Created.Format(time.RFC3339), s.ID.Short())
				}
				t.Flush()
			})
		},
	}
}

func mirrorDiffCmd() *cli.Command {
	var data string
	return &cli.Command{
		Name:      "diff",
		Usage:     "show what changed between two snapshots",
		UsageText: "eucora mirror apt diff A B",
		Flags:     []cli.Flag{dataFlag(&data)},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			if c.NArg() != 2 {
				return usageErrorf("diff: want two snapshot names, got %d arguments", c.NArg())
			}
			repo, err := mirror.OpenDataDir(data)
			if err != nil {
				return err
			}
			ch, err := repo.Diff(c.Args().Get(0), c.Args().Get(1))
			if err != nil {
				return err
			}
			if ch == nil {
				ch = []mirror.Change{}
			}
			return out.emit(ch, func(w io.Writer) {
				if len(ch) == 0 {
					fmt.Fprintln(w, "no differences")
					return
				}
				t := table(w)
				for _, x := range ch {
					fmt.Fprintf(t, "%s\t%s/%s\t%s\t%s\t%s\n", x.Kind, x.Name, x.Arch, x.Component, x.From, x.To)
				}
				t.Flush()
			})
		},
	}
}

func mirrorPublishCmd() *cli.Command {
	var data, key, prefix, dist, origin, label string
	var validFor time.Duration
	var noTree bool
	return &cli.Command{
		Name:      "publish",
		Usage:     "publish a snapshot as a signed repository, switched atomically",
		UsageText: "eucora mirror apt publish SNAPNAME --key KEYFILE --prefix PREFIX [--dist DIST] [--valid-for 168h]",
		Flags: []cli.Flag{
			dataFlag(&data),
			&cli.StringFlag{Name: "key", Required: true, Usage: "OpenPGP private key (NAME.key.asc from 'eucora keys generate --type openpgp')", Destination: &key},
			&cli.StringFlag{Name: "prefix", Required: true, Usage: "publish prefix: served at /PREFIX/", Destination: &prefix},
			&cli.StringFlag{Name: "dist", Usage: "distribution name (default: upstream codename)", Destination: &dist},
			&cli.StringFlag{Name: "origin", Usage: "Release Origin (default EUCORA)", Destination: &origin},
			&cli.StringFlag{Name: "label", Usage: "Release Label (default: the Origin; apt refuses a changed Label)", Destination: &label},
			&cli.DurationFlag{Name: "valid-for", Usage: "set Valid-Until this long after publishing", Destination: &validFor},
			&cli.BoolFlag{Name: "no-tree", Usage: "do not materialise DATA/mirror/public/PREFIX (serve handles it)", Destination: &noTree},
		},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			snap, err := oneArg(c, "SNAPNAME")
			if err != nil {
				return err
			}
			signer, err := mirror.LoadSigner(key)
			if err != nil {
				return err
			}
			repo, err := mirror.OpenDataDir(data)
			if err != nil {
				return err
			}
			var bar *progress.Bar
			res, err := repo.Publish(c.Context, snap, mirror.PublishOptions{
				Prefix: prefix, Dist: dist, Signer: signer, Origin: origin, Label: label, ValidFor: validFor, NoTree: noTree,
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
		},
	}
}

func mirrorPublishedCmd() *cli.Command {
	var data string
	return &cli.Command{
		Name:  "published",
		Usage: "list published prefixes and distributions",
		Flags: []cli.Flag{dataFlag(&data)},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			repo, err := mirror.OpenDataDir(data)
			if err != nil {
				return err
			}
			sts, err := repo.Prefixes()
			if err != nil {
				return err
			}
			if sts == nil {
				sts = []*mirror.PrefixState{}
			}
			return out.emit(sts, func(w io.Writer) {
				t := table(w)
				fmt.Fprintln(t, "PREFIX\tDIST\tSNAPSHOT\tPUBLISHED\tPUBLICATION")
				for _, st := range sts {
					for d, ds := range st.Dists {
						fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", st.Prefix, d, ds.Snapshot, ds.Published.Format(time.RFC3339), ds.Publication.Short())
					}
				}
				t.Flush()
			})
		},
	}
}

func mirrorInstallCmd() *cli.Command {
	var data, prefix string
	var noTree bool
	return &cli.Command{
		Name:      "install",
		Usage:     "serve a publication whose objects are already in the store (received from a hub), byte-identical, with no signing key",
		UsageText: "eucora mirror apt install PUBLICATION-DIGEST --prefix PREFIX [--no-tree]",
		Flags: []cli.Flag{
			dataFlag(&data),
			&cli.StringFlag{Name: "prefix", Required: true, Usage: "publish prefix: served at /PREFIX/", Destination: &prefix},
			&cli.BoolFlag{Name: "no-tree", Usage: "do not materialise DATA/mirror/public/PREFIX", Destination: &noTree},
		},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			arg, err := oneArg(c, "PUBLICATION-DIGEST")
			if err != nil {
				return err
			}
			id, err := digest.Parse(arg)
			if err != nil {
				return usageErrorf("%v", err)
			}
			repo, err := mirror.OpenDataDir(data)
			if err != nil {
				return err
			}
			res, err := repo.Install(c.Context, prefix, id, noTree)
			if err != nil {
				return fmt.Errorf("install %s failed, previous publication kept: %w", id.Short(), err)
			}
			return out.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "installed publication %s (snapshot %s) at /%s/ dists/%s: %d files, signed by %s\n",
					res.Publication.Short(), res.Snapshot, res.Prefix, res.Dist, res.Files, res.SignedBy)
			})
		},
	}
}

func mirrorVerifyCmd() *cli.Command {
	var data string
	return &cli.Command{
		Name:      "verify",
		Usage:     "re-hash every object of snapshots to find bit rot or tampering (exit 21 if any is damaged)",
		UsageText: "eucora mirror apt verify SNAPNAME...",
		Flags:     []cli.Flag{dataFlag(&data)},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			if c.NArg() == 0 {
				return usageErrorf("verify: want at least one snapshot name")
			}
			repo, err := mirror.OpenDataDir(data)
			if err != nil {
				return err
			}
			var results []*mirror.VerifyResult
			var firstErr error
			for _, name := range c.Args().Slice() {
				res, err := repo.VerifySnapshot(c.Context, name)
				if res != nil {
					results = append(results, res)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}
			if err := out.emit(results, func(w io.Writer) {
				for _, r := range results {
					status := "ok"
					if len(r.Bad) > 0 {
						status = fmt.Sprintf("%d DAMAGED", len(r.Bad))
					}
					fmt.Fprintf(w, "snapshot %s: %d objects, %s: %s\n", r.Snapshot, r.Objects, bytesize.Format(r.Bytes), status)
					for _, b := range r.Bad {
						fmt.Fprintf(w, "  %s\n", b)
					}
				}
			}); err != nil {
				return err
			}
			return firstErr
		},
	}
}

func mirrorServeCmd() *cli.Command {
	var data, listen, accessLog string
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve every publication over HTTP at /PREFIX/ (objects verified before serving)",
		UsageText: "eucora mirror apt serve [--listen 127.0.0.1:8080]",
		Flags: []cli.Flag{
			dataFlag(&data),
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to listen on", Destination: &listen},
			accessLogFlag(&accessLog),
		},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			log := serveLogger(out)
			access, closeAccess, err := openAccessLog(accessLog, log)
			if err != nil {
				return err
			}
			defer closeAccess()
			h, err := mirror.OpenHandler(data, log)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			limits := httpserve.Options{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), AccessLog: access}
			srv := httpserve.Server(h, limits)
			if err := out.emit(map[string]string{"listen": ln.Addr().String(), "url": "http://" + ln.Addr().String() + "/"}, func(w io.Writer) {
				fmt.Fprintf(w, "serving APT publications at http://%s/\n", ln.Addr())
			}); err != nil {
				return err
			}
			go func() {
				<-c.Context.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			}()
			if err := httpserve.Serve(srv, ln, limits); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
}

func mirrorPinCmd() *cli.Command {
	var priority int
	return &cli.Command{
		Name:      "pin",
		Usage:     "print apt preferences that hold or downgrade packages to a version",
		UsageText: "eucora mirror apt pin PKG=VERSION... [--priority 1001] > /etc/apt/preferences.d/eucora-pin",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "priority", Value: 1001, Usage: "Pin-Priority: >1000 also downgrades; 990-1000 only holds", Destination: &priority},
		},
		Action: func(c *cli.Context) error {
			out, err := outputFrom(c)
			if err != nil {
				return err
			}
			if c.NArg() == 0 {
				return usageErrorf("pin: want at least one PKG=VERSION")
			}
			var pins []mirror.PinSpec
			for _, a := range c.Args().Slice() {
				p, err := mirror.ParsePin(a)
				if err != nil {
					return usageErrorf("%v", err)
				}
				pins = append(pins, p)
			}
			prefs := mirror.Preferences(pins, priority)
			return out.emit(map[string]any{"pins": pins, "priority": priority, "preferences": prefs}, func(w io.Writer) {
				io.WriteString(w, prefs)
			})
		},
	}
}
