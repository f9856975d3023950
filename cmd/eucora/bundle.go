package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/charset"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

func bundleCmd() *cli.Command {
	return &cli.Command{
		Name:  "bundle",
		Usage: "create, verify, inspect and extract transfer bundles",
		Description: "A bundle is a set of plain tar volumes, each carrying the bundle's signed manifest,\n" +
			"so any volume can be verified alone, in any order, from read-only media.\n" +
			"docs/bundle-format.md describes the bytes and how to verify them by hand.",
		Subcommands: []*cli.Command{bundleCreateCmd(), bundleVerifyCmd(), bundleInspectCmd(), bundleExtractCmd()},
	}
}

type bundleCreateOptions struct {
	from, out, key, volumeSize, target, source, expires, predecessor string
	seq                                                              uint64
}

func bundleCreateCmd() *cli.Command {
	var o bundleCreateOptions
	return &cli.Command{
		Name:      "create",
		Usage:     "pack a directory tree into signed bundle volumes",
		UsageText: "eucora bundle create --from DIR --out OUTDIR --key KEYFILE [--volume-size SIZE] [--target SITE] [--seq N] [--expires DURATION]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "directory tree to pack (regular files and directories only)", Required: true, Destination: &o.from},
			&cli.StringFlag{Name: "out", Usage: "directory to write the volumes to", Required: true, Destination: &o.out},
			&cli.StringFlag{Name: "key", Usage: "Ed25519 signing key (from 'eucora keys generate')", Required: true, Destination: &o.key},
			&cli.StringFlag{Name: "volume-size", Value: "4000MiB", Usage: volumeSizeUsage("largest volume file: 4GiB, 700MiB, 64MiB... (default fits FAT32)"), Destination: &o.volumeSize},
			&cli.StringFlag{Name: "target", Usage: "site the bundle is for", Destination: &o.target},
			&cli.StringFlag{Name: "source", Usage: "name of the sender (default: host name)", Destination: &o.source},
			&cli.Uint64Flag{Name: "seq", Usage: "sequence number for the target", Destination: &o.seq},
			&cli.StringFlag{Name: "predecessor", Usage: "digest of the previous bundle for the target", Destination: &o.predecessor},
			&cli.StringFlag{Name: "expires", Value: "30d", Usage: "how long the bundle stays importable (30d, 72h...)", Destination: &o.expires},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

var hostChars = charset.Of("A-Za-z0-9._@-")

// hostSafe replaces each character of s outside [A-Za-z0-9._@-] with '-'
// (a multi-byte character counts once, an invalid UTF-8 byte once each).
func hostSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && hostChars.Contains(byte(r)) {
			return r
		}
		return '-'
	}, s)
}

func (o *bundleCreateOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	volSize, err := parseVolumeSize(o.volumeSize)
	if err != nil {
		return err
	}
	ttl, err := parseDuration(o.expires)
	if err != nil {
		return usageErrorf("--expires: %v", err)
	}
	var pred digest.Digest
	if o.predecessor != "" {
		if pred, err = digest.Parse(o.predecessor); err != nil {
			return usageErrorf("--predecessor: %v", err)
		}
	}
	if o.source == "" {
		h, _ := os.Hostname()
		o.source = strings.Trim(hostSafe(h), "-._@")
		if o.source == "" {
			o.source = "eucora"
		}
	}
	key, err := signing.LoadPrivate(o.key)
	if err != nil {
		return err
	}
	now := time.Now()
	var bar *progress.Bar
	res, err := transfer.Create(ctx, o.out, key, transfer.Header{
		Source: o.source, Target: o.target, Sequence: o.seq, Predecessor: pred, Created: now, Expires: now.Add(ttl),
	}, transfer.Content{Tree: o.from}, transfer.CreateOptions{
		VolumeSize: volSize,
		OnPlanned:  func(total int64) { bar = progress.NewBytes(out.progressEnabled(), total, "packing") },
		Progress:   func(n int64) { bar.Add(n) },
	})
	bar.Finish()
	if err != nil {
		return err
	}
	m := res.Signed.Manifest
	summary := map[string]any{
		"bundle_id": m.BundleID, "digest": res.Signed.Digest.String(), "key_id": m.KeyID,
		"source": m.Source, "target": m.Target, "sequence": m.Sequence,
		"created": m.Created, "expires": m.Expires, "volumes": res.Volumes,
		"objects": len(m.Objects), "files": len(m.Files), "dirs": len(m.Dirs),
		"payload_bytes": m.TotalSize(), "volume_bytes": res.Bytes,
	}
	return out.emit(summary, func(w io.Writer) {
		fmt.Fprintf(w, "bundle %s (%s)\n", m.BundleID, res.Signed.Digest)
		fmt.Fprintf(w, "  %d files, %d dirs, %d objects, %s payload in %s of volumes\n",
			len(m.Files), len(m.Dirs), len(m.Objects), bytesize.Format(m.TotalSize()), bytesize.Format(res.Bytes))
		for _, p := range res.Volumes {
			fmt.Fprintf(w, "  %s\n", p)
		}
	})
}

func loadTrust(files []string) (signing.Trust, error) {
	var keys []*signing.PublicKey
	for _, f := range files {
		k, err := signing.LoadPublic(f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return signing.NewTrust(keys...), nil
}

type bundleInspectOptions struct{}

func bundleInspectCmd() *cli.Command {
	var o bundleInspectOptions
	return &cli.Command{
		Name:      "inspect",
		Usage:     "summarise a bundle from any of its volumes (signature not checked)",
		UsageText: "eucora bundle inspect PATH...",
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

type inspectReport struct {
	BundleID    string         `json:"bundle_id"`
	Digest      string         `json:"digest"`
	Format      string         `json:"format"`
	Source      string         `json:"source"`
	Target      string         `json:"target"`
	Sequence    uint64         `json:"sequence"`
	Predecessor string         `json:"predecessor,omitempty"`
	Created     time.Time      `json:"created"`
	Expires     time.Time      `json:"expires"`
	Expired     bool           `json:"expired"`
	KeyID       string         `json:"key_id"`
	Volumes     int            `json:"volumes"`
	Given       []string       `json:"given"`
	Objects     int            `json:"objects"`
	Files       int            `json:"files"`
	Dirs        int            `json:"dirs"`
	Bytes       int64          `json:"payload_bytes"`
	Records     map[string]int `json:"records"`
	Verified    bool           `json:"signature_verified"`
}

func (o *bundleInspectOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageErrorf("bundle inspect: give a bundle directory or volume file")
	}
	paths := c.Args().Slice()
	files, err := transfer.ExpandPaths(paths)
	if err != nil {
		return err
	}
	byDigest := map[string]*inspectReport{}
	var reports []*inspectReport
	for _, f := range files {
		v, err := transfer.InspectVolume(f)
		if err != nil {
			return err
		}
		s := v.Signed
		r := byDigest[string(s.Digest)]
		if r == nil {
			r = &inspectReport{BundleID: s.BundleID, Digest: s.Digest.String(), Format: s.Format, Source: s.Source, Target: s.Target,
				Sequence: s.Sequence, Predecessor: string(s.Predecessor), Created: s.Created, Expires: s.Expires, Expired: s.Expired(time.Now()),
				KeyID: s.Manifest.KeyID, Volumes: s.Volumes, Objects: len(s.Objects), Files: len(s.Files), Dirs: len(s.Dirs),
				Bytes: s.TotalSize(), Records: map[string]int{}}
			for _, rec := range s.Records {
				r.Records[rec.Type]++
			}
			byDigest[string(s.Digest)] = r
			reports = append(reports, r)
		}
		r.Given = append(r.Given, fmt.Sprintf("%d:%s", v.Index, f))
	}
	return out.emit(reports, func(w io.Writer) {
		for _, r := range reports {
			tw := table(w)
			fmt.Fprintf(tw, "bundle\t%s\n", r.BundleID)
			fmt.Fprintf(tw, "digest\t%s\n", r.Digest)
			fmt.Fprintf(tw, "source\t%s\n", r.Source)
			fmt.Fprintf(tw, "target\t%s\n", orDash(r.Target))
			fmt.Fprintf(tw, "sequence\t%d\n", r.Sequence)
			fmt.Fprintf(tw, "predecessor\t%s\n", orDash(r.Predecessor))
			fmt.Fprintf(tw, "created\t%s\n", r.Created.Format(time.RFC3339))
			exp := r.Expires.Format(time.RFC3339)
			if r.Expired {
				exp += "  (EXPIRED)"
			}
			fmt.Fprintf(tw, "expires\t%s\n", exp)
			fmt.Fprintf(tw, "key id\t%s\n", r.KeyID)
			fmt.Fprintf(tw, "volumes\t%d (given: %s)\n", r.Volumes, strings.Join(r.Given, ", "))
			fmt.Fprintf(tw, "objects\t%d (%s)\n", r.Objects, bytesize.Format(r.Bytes))
			fmt.Fprintf(tw, "tree\t%d files, %d dirs\n", r.Files, r.Dirs)
			recs := []string{}
			for t, n := range r.Records {
				recs = append(recs, fmt.Sprintf("%s=%d", t, n))
			}
			sort.Strings(recs)
			fmt.Fprintf(tw, "records\t%s\n", orDash(strings.Join(recs, ", ")))
			fmt.Fprintf(tw, "signature\tnot checked (use 'eucora bundle verify --trust KEY')\n")
			tw.Flush()
		}
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type bundleExtractOptions struct {
	trust cli.StringSlice
	to    string
}

func bundleExtractCmd() *cli.Command {
	var o bundleExtractOptions
	return &cli.Command{
		Name:      "extract",
		Usage:     "verify a complete bundle and materialise its tree",
		UsageText: "eucora bundle extract --trust PUBFILE --to DIR PATH...",
		Description: "DIR must be absent or empty. Work happens beside DIR and DIR appears complete\n" +
			"in one rename: on any failure, or if killed, DIR holds no partial output, and a\n" +
			"rerun finishes the job without redoing verified objects.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "trust", Usage: "trusted public key file (repeatable)", Required: true, Destination: &o.trust},
			&cli.StringFlag{Name: "to", Usage: "directory to create", Required: true, Destination: &o.to},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *bundleExtractOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageErrorf("bundle extract: give the bundle directory or its volume files")
	}
	ctx, paths := c.Context, c.Args().Slice()
	trust, err := loadTrust(o.trust.Value())
	if err != nil {
		return err
	}
	files, err := transfer.ExpandPaths(paths)
	if err != nil {
		return err
	}
	b, err := transfer.OpenOne(files, trust)
	if err != nil {
		return err
	}
	if err := b.Manifest.CheckExpiry(time.Now()); err != nil {
		return err
	}
	bar := progress.NewBytes(out.progressEnabled(), b.Manifest.TotalSize(), "extracting")
	res, err := transfer.Extract(ctx, b, o.to, transfer.ImportOptions{Progress: bar.Func()})
	bar.Finish()
	if err != nil {
		if errors.Is(err, transfer.ErrNotEmpty) {
			return usageErrorf("%v", err)
		}
		return err
	}
	return out.emit(map[string]any{"bundle_id": b.BundleID, "digest": b.Digest.String(), "dir": res.Dir,
		"files": res.Files, "dirs": res.Dirs, "bytes": res.Bytes}, func(w io.Writer) {
		fmt.Fprintf(w, "extracted bundle %s into %s: %d files, %d dirs, %s\n", b.BundleID, res.Dir, res.Files, res.Dirs, bytesize.Format(res.Bytes))
	})
}
