package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
)

func artifactCommand() *cli.Command {
	return &cli.Command{
		Name:  "artifact",
		Usage: "register package artifacts (you are recorded as the packager)",
		Subcommands: []*cli.Command{
			govCmd("add", "register an artifact of a version",
				"eucora artifact add APP VERSION --platform msi --file PKG | --sha256 sha256:HEX --size N --name NAME --signing STATE --scan pass|fail|exception",
				[]cli.Flag{
					&cli.StringFlag{Name: "platform"}, &cli.StringFlag{Name: "file", Usage: "hash this file for --sha256, --size and --name"},
					&cli.StringFlag{Name: "sha256"}, &cli.Int64Flag{Name: "size"}, &cli.StringFlag{Name: "name"},
					&cli.StringFlag{Name: "signing", Value: string(deploy.SigUnsigned), Usage: "signed-known-vendor, signed-unknown-vendor, unsigned, invalid"},
					&cli.StringFlag{Name: "signer"}, &cli.StringFlag{Name: "scan", Usage: "scan decision: pass, fail or exception"},
					&cli.StringFlag{Name: "sbom", Usage: "digest of the SBOM"}, &cli.StringFlag{Name: "scan-report", Usage: "digest of the scan report"},
				},
				2, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					if err := required(c, "platform", "scan"); err != nil {
						return err
					}
					req := api.ArtifactRequest{Platform: deploy.Platform(c.String("platform")), Name: c.String("name"), SHA256: digest.Digest(c.String("sha256")),
						Size: c.Int64("size"), Signing: deploy.Signing{State: deploy.SignatureState(c.String("signing")), Signer: c.String("signer")},
						SBOM: digest.Digest(c.String("sbom")), ScanReport: digest.Digest(c.String("scan-report")), ScanDecision: deploy.ScanDecision(c.String("scan"))}
					if f := c.String("file"); f != "" {
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
				}),
		},
	}
}
