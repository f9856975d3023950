package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/digest"
)

func artifactCmd() *cli.Command {
	return &cli.Command{
		Name:        "artifact",
		Usage:       "register package artifacts (you are recorded as the packager)",
		Subcommands: []*cli.Command{artifactAddCmd()},
	}
}

type artifactAddOptions struct {
	platform   string
	file       string
	sha256     string
	size       int64
	name       string
	signing    string
	signer     string
	scan       string
	sbom       string
	scanReport string
}

func artifactAddCmd() *cli.Command {
	var o artifactAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "register an artifact of a version",
		UsageText: "eucora artifact add APP VERSION --platform msi --file PKG | --sha256 sha256:HEX --size N --name NAME --signing STATE --scan pass|fail|exception",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "platform", Destination: &o.platform}, &cli.StringFlag{Name: "file", Usage: "hash this file for --sha256, --size and --name", Destination: &o.file},
			&cli.StringFlag{Name: "sha256", Destination: &o.sha256}, &cli.Int64Flag{Name: "size", Destination: &o.size}, &cli.StringFlag{Name: "name", Destination: &o.name},
			&cli.StringFlag{Name: "signing", Value: string(deploy.SigUnsigned), Usage: "signed-known-vendor, signed-unknown-vendor, unsigned, invalid", Destination: &o.signing},
			&cli.StringFlag{Name: "signer", Destination: &o.signer}, &cli.StringFlag{Name: "scan", Usage: "scan decision: pass, fail or exception", Destination: &o.scan},
			&cli.StringFlag{Name: "sbom", Usage: "digest of the SBOM", Destination: &o.sbom}, &cli.StringFlag{Name: "scan-report", Usage: "digest of the scan report", Destination: &o.scanReport},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *artifactAddOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 2)
	if err != nil {
		return err
	}
	if err := required(c, "platform", "scan"); err != nil {
		return err
	}
	req := api.ArtifactRequest{Platform: deploy.Platform(o.platform), Name: o.name, SHA256: digest.Digest(o.sha256),
		Size: o.size, Signing: deploy.Signing{State: deploy.SignatureState(o.signing), Signer: o.signer},
		SBOM: digest.Digest(o.sbom), ScanReport: digest.Digest(o.scanReport), ScanDecision: deploy.ScanDecision(o.scan)}
	if f := o.file; f != "" {
		fh, err := os.Open(f)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		d, n, err := digest.FromReader(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		req.SHA256, req.Size = digest.Digest(d.String()), n // the "sha256:" form, as --sha256 is written
		if req.Name == "" {
			req.Name = filepath.Base(f)
		}
	}
	a, err := cl.CreateArtifact(c.Context, args[0], args[1], req)
	if err != nil {
		return err
	}
	return out.emit(a, func(w io.Writer) {
		fmt.Fprintf(w, "artifact %s (%s, %d bytes) of %s %s packaged by %s\n", a.SHA256, a.Platform, a.Size, a.AppID, a.Version, a.PackagedBy)
	})
}
