package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/transfer"
)

type bundleVerifyOptions struct {
	trust    cli.StringSlice
	complete bool
}

func bundleVerifyCmd() *cli.Command {
	var o bundleVerifyOptions
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify bundle volumes, each alone, in any order",
		UsageText: "eucora bundle verify --trust PUBFILE [--trust ...] [--complete] PATH...",
		Description: "PATH is a bundle directory or any subset of its volume files. Each volume is\n" +
			"checked alone: tar structure, manifest signature, and the SHA-256 and size of\n" +
			"every object. Nothing is written. Exits 0 only when every given volume verifies;\n" +
			"with --complete, also only when every volume of the bundle is present.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "trust", Usage: "trusted public key file (repeatable)", Required: true, Destination: &o.trust},
			&cli.BoolFlag{Name: "complete", Usage: "fail unless every volume of the bundle is given", Destination: &o.complete},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

type volumeReport struct {
	Path     string `json:"path"`
	BundleID string `json:"bundle_id,omitempty"`
	Volume   int    `json:"volume,omitempty"`
	Of       int    `json:"of,omitempty"`
	Entries  int    `json:"entries"`
	Bytes    int64  `json:"payload_bytes"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exit_code"`
	err      error
}

type bundleReport struct {
	BundleID string `json:"bundle_id"`
	Digest   string `json:"digest"`
	KeyID    string `json:"key_id"`
	Volumes  int    `json:"volumes"`
	Given    []int  `json:"given"`
	Missing  []int  `json:"missing"`
	Expires  string `json:"expires"`
	Expired  bool   `json:"expired"`

	group *transfer.Bundle // the given volumes, for Missing and Complete
}

func (o *bundleVerifyOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageErrorf("bundle verify: give at least one bundle directory or volume file")
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
	var vols []volumeReport
	var opened []*transfer.Volume
	var total int64
	for _, f := range files {
		v, err := transfer.OpenVolume(f, trust)
		r := volumeReport{Path: f, err: err}
		if err == nil {
			r.BundleID, r.Volume, r.Of, r.Entries, r.Bytes = v.Signed.BundleID, v.Index, v.Signed.Volumes, v.Entries(), v.PayloadBytes()
			opened = append(opened, v)
			total += v.PayloadBytes()
		}
		vols = append(vols, r)
	}
	bar := progress.NewBytes(out.progressEnabled(), total, "verifying")
	j := 0
	for i := range vols {
		if vols[i].err != nil {
			continue
		}
		vols[i].err = opened[j].Verify(ctx, 0, bar.Func())
		j++
	}
	bar.Finish()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Group by bundle for missing volumes and expiry.
	byID := map[string]*bundleReport{}
	var bundles []*bundleReport
	now := time.Now()
	var failures []error
	for _, v := range opened {
		id := string(v.Signed.Digest)
		b := byID[id]
		if b == nil {
			b = &bundleReport{BundleID: v.Signed.BundleID, Digest: v.Signed.Digest.String(), KeyID: v.Signed.KeyID,
				Volumes: v.Signed.Volumes, Expires: v.Signed.Expires.Format(time.RFC3339), Expired: v.Signed.Expired(now),
				group: &transfer.Bundle{Signed: v.Signed, Volumes: map[int]*transfer.Volume{}}}
			byID[id] = b
			bundles = append(bundles, b)
			if b.Expired {
				failures = append(failures, v.Signed.CheckExpiry(now))
			}
		}
		b.Given = append(b.Given, v.Index)
		b.group.Volumes[v.Index] = v
	}
	for _, b := range bundles {
		sort.Ints(b.Given)
		b.Missing = append([]int{}, b.group.Missing()...)
		if !o.complete {
			continue
		}
		if err := b.group.Complete(); err != nil {
			failures = append(failures, err)
		}
	}
	for i := range vols {
		vols[i].OK = vols[i].err == nil
		if vols[i].err != nil {
			vols[i].Error = vols[i].err.Error()
			vols[i].ExitCode = exitCode(vols[i].err)
			failures = append(failures, vols[i].err)
		}
	}
	err = out.emit(map[string]any{"volumes": vols, "bundles": bundles, "ok": len(failures) == 0}, func(w io.Writer) {
		for _, v := range vols {
			if v.OK {
				fmt.Fprintf(w, "ok      %s  (bundle %s volume %d of %d, %d objects, %s)\n", v.Path, v.BundleID, v.Volume, v.Of, v.Entries, bytesize.Format(v.Bytes))
			} else {
				fmt.Fprintf(w, "FAILED  %s\n        %s\n", v.Path, v.Error)
			}
		}
		for _, b := range bundles {
			state := "all volumes present"
			if len(b.Missing) > 0 {
				names := make([]string, len(b.Missing))
				for i, n := range b.Missing {
					names[i] = transfer.VolumeFileName(b.BundleID, n, b.Volumes)
				}
				state = fmt.Sprintf("MISSING volume(s) %s of %d (files %s)", joinInts(b.Missing), b.Volumes, strings.Join(names, ", "))
			}
			fmt.Fprintf(w, "bundle %s: %d of %d volume(s) given, %s; signed by key %s\n", b.BundleID, len(b.Given), b.Volumes, state, b.KeyID[:16])
			if b.Expired {
				fmt.Fprintf(w, "bundle %s: EXPIRED at %s\n", b.BundleID, b.Expires)
			}
		}
	})
	if err != nil {
		return err
	}
	if len(failures) == 0 {
		return nil
	}
	worst := worstFailure(failures)
	return withExitCode(exitCode(worst), fmt.Errorf("verification failed: %d problem(s); first: %v", len(failures), worst))
}

// worstFailure picks the failure whose exit code matters most to an admin:
// authenticity first, then integrity, staleness, missing volumes, other.
func worstFailure(errs []error) error {
	rank := map[int]int{exitBadSignature: 0, exitCorrupt: 1, exitStale: 2, exitMissingVol: 3}
	best, bestRank := errs[0], 99
	for _, e := range errs {
		r, ok := rank[exitCode(e)]
		if !ok {
			r = 4
		}
		if r < bestRank {
			best, bestRank = e, r
		}
	}
	return best
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
