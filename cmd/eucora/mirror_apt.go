package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/mirror"
)

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

type mirrorAptSyncOptions struct {
	data             string
	workers, retries int
	idle             time.Duration
}

func mirrorAptSyncCmd() *cli.Command {
	var o mirrorAptSyncOptions
	return &cli.Command{
		Name:      "sync",
		Usage:     "fetch and verify the mirror's upstream; on failure the previous state stays",
		UsageText: "eucora mirror apt sync NAME [--workers N] [--idle-timeout 30s] [--retries 3]",
		Flags: []cli.Flag{
			dataFlag(&o.data),
			&cli.IntFlag{Name: "workers", Value: 8, Usage: "parallel package downloads", Destination: &o.workers},
			&cli.IntFlag{Name: "retries", Value: 3, Usage: "retries of a transient failure (-1: none)", Destination: &o.retries},
			&cli.DurationFlag{Name: "idle-timeout", Value: 30 * time.Second, Usage: "abort a download that receives nothing for this long", Destination: &o.idle},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptSyncOptions) run(c *cli.Context) error {
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
	var bar *progress.Bar
	opt := mirror.SyncOptions{
		Workers: o.workers,
		Fetcher: &mirror.Fetcher{IdleTimeout: o.idle, Retries: o.retries, UserAgent: "eucora/" + version},
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
}

type mirrorAptListOptions struct {
	data string
}

func mirrorAptListCmd() *cli.Command {
	var o mirrorAptListOptions
	return &cli.Command{
		Name:   "list",
		Usage:  "list mirrors",
		Flags:  []cli.Flag{dataFlag(&o.data)},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptListOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	repo, err := mirror.OpenDataDir(o.data)
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
}

type mirrorAptSnapshotOptions struct {
	data, as string
}

func mirrorAptSnapshotCmd() *cli.Command {
	var o mirrorAptSnapshotOptions
	return &cli.Command{
		Name:      "snapshot",
		Usage:     "freeze a mirror's last good sync as an immutable snapshot",
		UsageText: "eucora mirror apt snapshot MIRROR [--as SNAPNAME]",
		Flags:     []cli.Flag{dataFlag(&o.data), &cli.StringFlag{Name: "as", Usage: "snapshot name (default MIRROR-TIMESTAMP)", Destination: &o.as}},
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptSnapshotOptions) run(c *cli.Context) error {
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
	s, err := repo.CreateSnapshot(name, o.as)
	if err != nil {
		return err
	}
	return out.emit(s, func(w io.Writer) {
		fmt.Fprintf(w, "snapshot %s of mirror %s: %d packages, id %s\n", s.Name, s.Mirror, s.Packages, s.ID)
	})
}

type mirrorAptSnapshotsOptions struct {
	data string
}

func mirrorAptSnapshotsCmd() *cli.Command {
	var o mirrorAptSnapshotsOptions
	return &cli.Command{
		Name:   "snapshots",
		Usage:  "list snapshots",
		Flags:  []cli.Flag{dataFlag(&o.data)},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptSnapshotsOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	repo, err := mirror.OpenDataDir(o.data)
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
}

type mirrorAptDiffOptions struct {
	data string
}

func mirrorAptDiffCmd() *cli.Command {
	var o mirrorAptDiffOptions
	return &cli.Command{
		Name:      "diff",
		Usage:     "show what changed between two snapshots",
		UsageText: "eucora mirror apt diff A B",
		Flags:     []cli.Flag{dataFlag(&o.data)},
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptDiffOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if c.NArg() != 2 {
		return usageErrorf("diff: want two snapshot names, got %d arguments", c.NArg())
	}
	repo, err := mirror.OpenDataDir(o.data)
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
}

type mirrorAptPublishedOptions struct {
	data string
}

func mirrorAptPublishedCmd() *cli.Command {
	var o mirrorAptPublishedOptions
	return &cli.Command{
		Name:   "published",
		Usage:  "list published prefixes and distributions",
		Flags:  []cli.Flag{dataFlag(&o.data)},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptPublishedOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	repo, err := mirror.OpenDataDir(o.data)
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
}

type mirrorAptInstallOptions struct {
	data, prefix string
	noTree       bool
}

func mirrorAptInstallCmd() *cli.Command {
	var o mirrorAptInstallOptions
	return &cli.Command{
		Name:      "install",
		Usage:     "serve a publication whose objects are already in the store (received from a hub), byte-identical, with no signing key",
		UsageText: "eucora mirror apt install PUBLICATION-DIGEST --prefix PREFIX [--no-tree]",
		Flags: []cli.Flag{
			dataFlag(&o.data),
			&cli.StringFlag{Name: "prefix", Required: true, Usage: "publish prefix: served at /PREFIX/", Destination: &o.prefix},
			&cli.BoolFlag{Name: "no-tree", Usage: "do not materialise DATA/mirror/public/PREFIX", Destination: &o.noTree},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptInstallOptions) run(c *cli.Context) error {
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
	repo, err := mirror.OpenDataDir(o.data)
	if err != nil {
		return err
	}
	res, err := repo.Install(c.Context, o.prefix, id, o.noTree)
	if err != nil {
		return fmt.Errorf("install %s failed, previous publication kept: %w", id.Short(), err)
	}
	return out.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "installed publication %s (snapshot %s) at /%s/ dists/%s: %d files, signed by %s\n",
			res.Publication.Short(), res.Snapshot, res.Prefix, res.Dist, res.Files, res.SignedBy)
	})
}

type mirrorAptVerifyOptions struct {
	data string
}

func mirrorAptVerifyCmd() *cli.Command {
	var o mirrorAptVerifyOptions
	return &cli.Command{
		Name:      "verify",
		Usage:     "re-hash every object of snapshots to find bit rot or tampering (exit 21 if any is damaged)",
		UsageText: "eucora mirror apt verify SNAPNAME...",
		Flags:     []cli.Flag{dataFlag(&o.data)},
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptVerifyOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageErrorf("verify: want at least one snapshot name")
	}
	repo, err := mirror.OpenDataDir(o.data)
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
}

type mirrorAptPinOptions struct {
	priority int
}

func mirrorAptPinCmd() *cli.Command {
	var o mirrorAptPinOptions
	return &cli.Command{
		Name:      "pin",
		Usage:     "print apt preferences that hold or downgrade packages to a version",
		UsageText: "eucora mirror apt pin PKG=VERSION... [--priority 1001] > /etc/apt/preferences.d/eucora-pin",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "priority", Value: 1001, Usage: "Pin-Priority: >1000 also downgrades; 990-1000 only holds", Destination: &o.priority},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptPinOptions) run(c *cli.Context) error {
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
	prefs := mirror.Preferences(pins, o.priority)
	return out.emit(map[string]any{"pins": pins, "priority": o.priority, "preferences": prefs}, func(w io.Writer) {
		io.WriteString(w, prefs)
	})
}
