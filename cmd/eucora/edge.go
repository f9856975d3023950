package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/internal/tlsconf"
	"github.com/eucora/eucora/transfer"
)

func edgeCmd() *cli.Command {
	return &cli.Command{
		Name:  "edge",
		Usage: "the appliance at a remote site: enrol, import hub bundles, export receipts and events, serve content and sync",
		Description: "An edge trusts exactly one key, the hub's. It applies hub bundles from media\n" +
			"(volumes in any order, resumable, crash-safe), refuses older, replayed, foreign,\n" +
			"tampered, expired and unknown-key bundles, and records every attempt in its own\n" +
			"audit hash chain, which 'edge export' carries back to the hub with a receipt.\n" +
			"edge/DESIGN.md states the rules; docs/sync-records.md the record formats.",
		Subcommands: []*cli.Command{edgeInitCmd(), edgeImportCmd(), edgeExportCmd(), edgeStatusCmd(), edgeServeCmd(), edgeAdmitCmd(), edgeGCCmd(), edgeVulnCmd(), edgePackageCmd(), edgePlaneCmd(), edgeExecuteCmd()},
	}
}

type edgeInitOptions struct{ data, site, hubKey, hubCA string }

func edgeInitCmd() *cli.Command {
	var o edgeInitOptions
	return &cli.Command{
		Name:      "init",
		Usage:     "create the edge's key pair and state, trusting exactly the given hub key",
		UsageText: "eucora edge init --data DIR --site NAME --hub-key HUB.pub [--tls-ca HUB-CA.pem]",
		Description: "Writes DIR/keys/edge.key (mode 0600), DIR/edge.pub (register it at the hub),\n" +
			"DIR/edge/hub.pub (the one trusted key) and DIR/edge/state.json.\n" +
			"--tls-ca pins the CA of an https hub in DIR/edge/hub-ca.pem: 'edge serve --hub https://...'\n" +
			"then verifies the hub against exactly that CA, never the system's roots (docs/tls.md).",
		Flags: []cli.Flag{
			dataFlag(&o.data),
			&cli.StringFlag{Name: "site", Usage: "this site's name, as the hub addresses it", Required: true, Destination: &o.site},
			&cli.StringFlag{Name: "hub-key", Usage: "the hub's public key file (from 'eucora hub key')", Required: true, Destination: &o.hubKey},
			&cli.StringFlag{Name: "tls-ca", EnvVars: []string{"EUCORA_TLS_CA"}, Usage: "the hub's TLS CA certificate (ca.pem of 'eucora hub tls init') to pin", Destination: &o.hubCA},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgeInitOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if err := deploy.CheckSiteName(o.site); err != nil {
		return usageErrorf("--site: %v", err)
	}
	hub, err := edge.LoadHubKey(o.hubKey)
	if err != nil {
		return fmt.Errorf("--hub-key: %w", err)
	}
	var caPEM []byte
	if o.hubCA != "" { // checked before anything is written
		if _, caPEM, err = tlsconf.LoadCAFile(o.hubCA, "--tls-ca"); err != nil {
			return err
		}
	}
	e, err := edge.Init(o.data, o.site, hub)
	if err != nil {
		return err
	}
	res := map[string]any{"site": e.Site(), "edge_key_id": e.PublicKey().ID, "hub_key_id": hub.ID,
		"edge_public_key": filepath.Join(o.data, "edge.pub")}
	if caPEM != nil {
		if _, err := e.PinHubCA(caPEM, false); err != nil {
			return fmt.Errorf("--tls-ca: %w", err)
		}
		res["hub_ca"] = e.HubCAPath()
	}
	return out.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "edge %s initialised in %s\n  edge key %s (public key: %s/edge.pub; register it at the hub)\n  trusts hub key %s\n",
			e.Site(), o.data, e.PublicKey().ID, o.data, hub.ID)
		if caPEM != nil {
			fmt.Fprintf(w, "  pins hub TLS CA %s\n", e.HubCAPath())
		}
	})
}

type edgeImportOptions struct {
	data             string
	resetTrustedTime bool
}

func edgeImportCmd() *cli.Command {
	var o edgeImportOptions
	return &cli.Command{
		Name:      "import",
		Usage:     "verify and apply a hub bundle",
		UsageText: "eucora edge import --data DIR PATH...",
		Description: "PATH is a bundle directory or its volume files, in any order. A duplicate of the\n" +
			"last applied bundle is a no-op (exit 0). Refused, with the exit code below and an\n" +
			"audit event, changing nothing else: a bundle not signed by the hub key (20),\n" +
			"tampered or malformed (21), for another site, older or replayed (22), expired\n" +
			"against max(local clock, newest hub time seen) (22), dated more than 24 hours\n" +
			"ahead of that time (22), not from the hub (22), referencing objects neither\n" +
			"in it nor held (22, the missing digests named), with volumes missing (23).\n" +
			"Every entry is read and verified, also of objects already held. Free space for\n" +
			"every object and split-object part it adds plus a 64 MiB reserve is checked\n" +
			"before anything is written (11). A gap in sequence or an unexpected predecessor\n" +
			"is applied (bundles are cumulative) and reported. An interrupted import resumes\n" +
			"from what is stored.\n\n" +
			"A directory reused round after round may hold several bundles: those for this\n" +
			"site newer than the last applied one are imported in sequence order, each as\n" +
			"above; the others are reported with their sequence numbers (duplicate, stale,\n" +
			"not for us) and change nothing. The edge's own export is refused (22), saying\n" +
			"to carry it to the hub. With --output json, one bundle gives its import result,\n" +
			"several give {\"imports\":[...],\"skipped\":[...]}.\n\n" +
			"--reset-trusted-time recovers an edge whose trusted time a hub clock that ran\n" +
			"ahead moved into the future (every bundle then looks expired): give it a newer\n" +
			"bundle from the hub; it must still be signed by the hub key, for this site and\n" +
			"newer than the last applied, but is judged by the local clock alone, and its own\n" +
			"hub time replaces the trusted time. The reset is recorded in the audit event.",
		Flags: []cli.Flag{dataFlag(&o.data), &cli.BoolFlag{Name: "reset-trusted-time", Destination: &o.resetTrustedTime,
			Usage: "judge this bundle by the local clock and take its hub time as the trusted time (recovery; see above)"}},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgeImportOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageErrorf("edge import: give a bundle directory or its volume files")
	}
	ctx, paths := c.Context, c.Args().Slice()
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	var bar *progress.Bar
	res, err := e.ImportMedia(ctx, paths, edge.ImportOptions{
		OnPlanned: func(total int64) {
			bar.Finish()
			bar = progress.NewBytes(out.progressEnabled(), total, "importing")
		},
		Progress:         func(n int64) { bar.Add(n) },
		ResetTrustedTime: o.resetTrustedTime,
	})
	bar.Finish()
	if res == nil {
		return err
	}
	// One bundle: its import result, as always; several: every attempt
	// and every bundle left alone.
	var data any = res
	if len(res.Imports) == 1 && len(res.Skipped) == 0 {
		data = res.Imports[0]
	}
	if eerr := out.emit(data, func(w io.Writer) { printMedia(w, res) }); eerr != nil && err == nil {
		err = eerr
	}
	return err
}

// printMedia prints each import attempt, then the bundles left alone.
func printMedia(w io.Writer, res *edge.MediaResult) {
	for _, r := range res.Imports {
		printImport(w, r)
	}
	if len(res.Skipped) == 0 {
		return
	}
	fmt.Fprintf(w, "%d other bundle(s) on the media, left alone:\n", len(res.Skipped))
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "  %s: bundle %s sequence %d from %s: %s\n", s.Reason, s.BundleID, s.Sequence, s.Source, s.Detail)
	}
}

func printImport(w io.Writer, r *edge.ImportResult) {
	switch r.Outcome {
	case edge.OutcomeApplied:
		fmt.Fprintf(w, "applied bundle %s: sequence %d (previous %d)\n", r.BundleID, r.Sequence, r.PreviousSeq)
		fmt.Fprintf(w, "  %d objects added (%s)\n", r.ObjectsAdded, bytesize.Format(r.BytesAdded))
		types := make([]string, 0, len(r.Records))
		for t := range r.Records {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			fmt.Fprintf(w, "  %d %s record(s)\n", r.Records[t], t)
		}
	case edge.OutcomeDuplicate:
		fmt.Fprintf(w, "bundle %s (sequence %d) is already applied: nothing to do\n", r.BundleID, r.Sequence)
	default:
		what := "import"
		if r.BundleID != "" {
			what = fmt.Sprintf("bundle %s (sequence %d)", r.BundleID, r.Sequence)
		}
		fmt.Fprintf(w, "%s %s: %s\n", r.Outcome, what, r.Error)
	}
	for _, a := range r.Installed {
		fmt.Fprintf(w, "  apt %s: publication installed\n", a)
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "  WARNING %s\n", s)
	}
	fmt.Fprintf(w, "  audit event %d (%s)\n", r.Event.Seq, r.Event.Outcome)
	if r.InstallEvent != nil {
		fmt.Fprintf(w, "  audit event %d (apt-install, %s)\n", r.InstallEvent.Seq, r.InstallEvent.Outcome)
	}
}

type edgeExportOptions struct {
	data, out, volumeSize string
	replace               bool
}

func edgeExportCmd() *cli.Command {
	var o edgeExportOptions
	return &cli.Command{
		Name:      "export",
		Usage:     "write a signed bundle for the hub: receipt and unacknowledged audit events",
		UsageText: "eucora edge export --data DIR --out OUTDIR [--volume-size SIZE] [--replace]",
		Description: "OUTDIR may already hold earlier exports (a stick reused round after round): the\n" +
			"new bundle is written beside them and 'eucora hub import OUTDIR' merges what is new\n" +
			"and reports the rest; --replace removes the earlier bundles' volumes once the new\n" +
			"one is written.",
		Flags: []cli.Flag{
			dataFlag(&o.data),
			&cli.StringFlag{Name: "out", Usage: "directory to write the volumes to", Required: true, Destination: &o.out},
			&cli.StringFlag{Name: "volume-size", Value: "4000MiB", Usage: volumeSizeUsage("largest volume file"), Destination: &o.volumeSize},
			&cli.BoolFlag{Name: "replace", Usage: "once the new bundle is written, remove the earlier eucora bundles OUTDIR holds (other files stay)", Destination: &o.replace},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgeExportOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	volSize, err := parseVolumeSize(o.volumeSize)
	if err != nil {
		return err
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	em, err := prepareExportMedia(o.out)
	if err != nil {
		return err
	}
	res, err := e.Export(ctx, o.out, edge.ExportOptions{CreateOptions: transfer.CreateOptions{VolumeSize: volSize}})
	if err != nil {
		return err
	}
	if err := em.finish(o.replace, res.Volumes); err != nil {
		return err
	}
	data := struct {
		*edge.ExportResult
		*exportMedia
	}{res, em}
	return out.emit(data, func(w io.Writer) {
		fmt.Fprintf(w, "exported bundle %s (%s): sequence %d for the hub\n", res.BundleID, res.Digest, res.Sequence)
		fmt.Fprintf(w, "  receipt: applied sequence %d, %d objects (%s), chain head %d\n",
			res.Receipt.AppliedSeq, res.Receipt.Objects.Count, bytesize.Format(res.Receipt.Objects.Bytes), res.Receipt.ChainHead.Seq)
		if res.Events > 0 {
			fmt.Fprintf(w, "  %d unacknowledged event(s): %d..%d\n", res.Events, res.FirstEvent, res.LastEvent)
		}
		for _, v := range res.Volumes {
			fmt.Fprintf(w, "  %s\n", v)
		}
		em.print(w, o.out, "eucora hub import "+o.out)
	})
}

type edgeStatusOptions struct {
	data string
}

func edgeStatusCmd() *cli.Command {
	var o edgeStatusOptions
	return &cli.Command{
		Name:      "status",
		Usage:     "show what the edge has applied and holds",
		UsageText: "eucora edge status --data DIR",
		Flags:     []cli.Flag{dataFlag(&o.data)},
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *edgeStatusOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	s, err := e.Status()
	if err != nil {
		return err
	}
	return out.emit(s, func(w io.Writer) {
		tw := table(w)
		fmt.Fprintf(tw, "site\t%s\n", s.Site)
		fmt.Fprintf(tw, "last applied\tsequence %d %s %s\n", s.Applied.Seq, orDash(string(s.Applied.Digest)), timeOrDash(s.Applied.At))
		fmt.Fprintf(tw, "trusted hub time\t%s\n", timeOrDash(s.TrustedTime))
		fmt.Fprintf(tw, "last media import\t%s\n", timeOrDash(s.LastMediaImport))
		fmt.Fprintf(tw, "objects held\t%d (%s)\n", s.Objects, bytesize.Format(s.Bytes))
		fmt.Fprintf(tw, "records\t%d intents, %d approvals, %d exceptions, %d artifacts\n", s.Intents, s.Approvals, s.Exceptions, s.Artifacts)
		for _, a := range s.APT {
			state := "installed"
			if !a.Installed {
				state = "NOT installed (retried at the next import or serve start)"
			}
			fmt.Fprintf(tw, "apt %s %s\tpublication %s, %s\n", a.Prefix, a.Dist, a.Publication.Short(), state)
		}
		fmt.Fprintf(tw, "vulnerability feed\t%s\n", orDash(s.VulnFeed))
		fmt.Fprintf(tw, "pending events\t%d\n", s.Pending)
		fmt.Fprintf(tw, "chain head\t%d %s\n", s.Chain.Seq, s.Chain.Hash)
		fmt.Fprintf(tw, "last export\tsequence %d\n", s.ExportSeq)
		tw.Flush()
	})
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
