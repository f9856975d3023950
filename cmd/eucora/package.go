package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/packaging"
	"github.com/eucora/eucora/packaging/docs"
	"github.com/eucora/eucora/packaging/facts"
)

func packageCmd() *cli.Command {
	return &cli.Command{
		Name:        "package",
		Usage:       "the packaging factory: take packages in, read their facts, SBOM, vulnerability policy and provenance (EUCORA-architecture.md section 7)",
		Subcommands: []*cli.Command{packageAddCmd(), packageShowCmd(), packageTrustCmd()},
	}
}

type packageAddOptions struct {
	app, version, docs, sbom, runID string
	sources                         cli.StringSlice
}

func packageAddCmd() *cli.Command {
	var o packageAddOptions
	kinds := make([]string, 0, 10)
	for _, k := range packaging.Kinds() {
		kinds = append(kinds, "."+string(k))
	}
	return &cli.Command{
		Name:      "add",
		Usage:     "take package files into the factory (packaging engineer only)",
		UsageText: "eucora package add FILE... --app APP --version V [--docs DIR] [--sbom FILE] [--run-id ID] [--source URI[#gitCommit=HEX]]...",
		Description: "Each file streams to the hub, which stores it and reads its facts natively (types: " + strings.Join(kinds, ", ") + "),\n" +
			"writes SPDX and CycloneDX SBOMs, matches them against the current offline vulnerability feed (eucora vuln import),\n" +
			"decides the policy (Critical and High block publish until a Security Reviewer's exception is approved) and signs\n" +
			"in-toto/SLSA provenance with the packaging key. A file that is not what its extension claims, is truncated or hostile\n" +
			"is refused (exit 21) and nothing is stored. Windows packages need --docs DIR holding " + docs.FileName + ":\n" +
			"silent install/uninstall, detection rules, exit codes and reboot behaviour (EUCORA-architecture.md section 7.2).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "app", Usage: "application id", Destination: &o.app},
			&cli.StringFlag{Name: "version", Usage: "application version", Destination: &o.version},
			&cli.StringFlag{Name: "docs", Usage: "directory holding " + docs.FileName, Destination: &o.docs},
			&cli.StringFlag{Name: "sbom", Usage: "a vendor SBOM (SPDX, CycloneDX or syft JSON) whose components are added", Destination: &o.sbom},
			&cli.StringFlag{Name: "run-id", Usage: "the pipeline run id recorded in the provenance (default: a new id)", Destination: &o.runID},
			&cli.StringSliceFlag{Name: "source", Usage: "a source reference for the provenance, URI[#gitCommit=HEX] (repeatable)", Destination: &o.sources},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *packageAddOptions) run(c *cli.Context) error {
	files := c.Args().Slice()
	if len(files) == 0 {
		return usageErrorf("package add needs at least one FILE")
	}
	if err := required(c, "app", "version"); err != nil {
		return err
	}
	for _, f := range files {
		if _, err := packaging.KindOf(f); err != nil {
			return usageErrorf("%v", err)
		}
		if fi, err := os.Stat(f); err != nil {
			return usageErrorf("%v", err)
		} else if !fi.Mode().IsRegular() {
			return usageErrorf("%s is not a regular file", f)
		}
	}
	var docBytes []byte
	if o.docs != "" {
		b, err := os.ReadFile(filepath.Join(o.docs, docs.FileName))
		if errors.Is(err, fs.ErrNotExist) {
			return usageErrorf("--docs %s: no %s in it (the Windows deployment documentation, EUCORA-architecture.md section 7.2)", o.docs, docs.FileName)
		} else if err != nil {
			return usageErrorf("--docs: %v", err)
		}
		if _, err := docs.Parse(b); err != nil {
			return usageErrorf("--docs %s: %v", filepath.Join(o.docs, docs.FileName), err)
		}
		docBytes = b
	}
	var sbomBytes []byte
	if o.sbom != "" {
		b, err := os.ReadFile(o.sbom)
		if err != nil {
			return usageErrorf("--sbom: %v", err)
		}
		sbomBytes = b
	}
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	add := client.PackageAdd{RunID: o.runID, Sources: o.sources.Value(), Started: time.Now()}
	if add.RunID == "" {
		add.RunID = ulid.Make().String()
	}
	if add.Docs, err = uploadSmall(c, cl, docBytes); err != nil {
		return fmt.Errorf("--docs: %w", err)
	}
	if add.SBOM, err = uploadSmall(c, cl, sbomBytes); err != nil {
		return fmt.Errorf("--sbom: %w", err)
	}
	var added []api.Package
	for _, path := range files {
		p, err := o.addOne(c, out, cl, path, add)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		added = append(added, p)
	}
	return out.emit(map[string]any{"packages": added}, func(w io.Writer) {
		for _, p := range added {
			printPackageLine(w, p)
		}
	})
}

func (o *packageAddOptions) addOne(c *cli.Context, out *output, cl *client.Client, path string, add client.PackageAdd) (api.Package, error) {
	fh, err := os.Open(path)
	if err != nil {
		return api.Package{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return api.Package{}, err
	}
	bar := progress.NewBytes(out.progressEnabled(), fi.Size(), filepath.Base(path))
	defer bar.Finish()
	add.Name = filepath.Base(path)
	return cl.AddPackage(c.Context, o.app, o.version, io.TeeReader(fh, bar.Writer(io.Discard)), fi.Size(), add)
}

// uploadSmall puts b as a blob and returns its digest ("" for no bytes).
func uploadSmall(c *cli.Context, cl *client.Client, b []byte) (digest.Digest, error) {
	if b == nil {
		return "", nil
	}
	d := digest.FromBytes(b)
	if err := cl.PutBlob(c.Context, d.Hex(), strings.NewReader(string(b)), int64(len(b))); err != nil {
		return "", err
	}
	return digest.Digest(d.String()), nil
}

// packageFacts is the part of the facts a person reads first.
type packageFacts struct {
	Kind      string           `json:"kind"`
	Identity  facts.Identity   `json:"identity"`
	Signature *facts.Signature `json:"signature"`
	Privilege facts.Privilege  `json:"privilege"`
	Services  []facts.Service  `json:"services"`
	Scripts   []facts.Script   `json:"scripts"`
	Listeners []string         `json:"listeners"`
	Files     *facts.FileSummary
	NotInsp   []string `json:"not_inspected"`
}

func decodeFacts(p api.Package) packageFacts {
	var f packageFacts
	json.Unmarshal(p.Facts, &f)
	return f
}

func printPackageLine(w io.Writer, p api.Package) {
	a := p.Artifact
	f := decodeFacts(p)
	sig := "unsigned"
	if f.Signature != nil {
		sig = string(f.Signature.State)
	}
	fi := a.Intake.Findings
	fmt.Fprintf(w, "%s  %s %s (%s) %s: signature %s, policy %s (%d critical, %d high), provenance %s\n",
		a.SHA256, a.AppID, a.Version, f.Kind, a.Name, sig, a.ScanDecision, fi.Critical, fi.High, provenanceWord(p.Provenance))
}

func provenanceWord(p *api.Provenance) string {
	switch {
	case p == nil:
		return "none"
	case p.Verified:
		return "verified (packaging key " + shortID(p.KeyID) + ")"
	}
	return "NOT verified: " + p.Error
}

func shortID(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

type packageShowOptions struct{}

func packageShowCmd() *cli.Command {
	var o packageShowOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "show a package's facts, SBOM summary, findings, policy decision and provenance, and why each risk factor is what it is",
		UsageText: "eucora package show APP VERSION sha256:DIGEST",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *packageShowOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 3)
	if err != nil {
		return err
	}
	d, err := digest.Parse(args[2])
	if err != nil {
		return usageErrorf("DIGEST: %v", err)
	}
	p, err := cl.Package(c.Context, args[0], args[1], d)
	if err != nil {
		return err
	}
	return out.emit(p, func(w io.Writer) { printPackage(w, p) })
}

func printPackage(w io.Writer, p api.Package) {
	a, f, in := p.Artifact, decodeFacts(p), p.Artifact.Intake
	fmt.Fprintf(w, "%s %s  %s (%s, %d bytes)\n  %s\n", a.AppID, a.Version, a.Name, f.Kind, a.Size, a.SHA256)
	fmt.Fprintf(w, "identity:   %s %s, vendor %s, id %s, arch %s\n", orDash(f.Identity.Name), orDash(f.Identity.Version), orDash(f.Identity.Vendor), orDash(f.Identity.ID), orDash(f.Identity.Arch))
	if s := f.Signature; s != nil {
		fmt.Fprintf(w, "signature:  %s %s, signer %s, issuer %s", s.State, s.Format, orDash(s.Signer), orDash(s.Issuer))
		if s.Timestamp != nil {
			fmt.Fprintf(w, ", timestamped %s", s.Timestamp.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "\n            %s\n", s.Detail)
	}
	fmt.Fprintf(w, "privilege:  admin %v, service %v, driver/kernel/system extension %v\n", f.Privilege.RequiresAdmin, f.Privilege.InstallsService, f.Privilege.InstallsDriver)
	for _, sv := range f.Services {
		fmt.Fprintf(w, "  service   %s (start %s, account %s) from %s\n", sv.Name, orDash(sv.Start), orDash(sv.Account), sv.Source)
	}
	for _, sc := range f.Scripts {
		fmt.Fprintf(w, "  script    %s %s %s\n", sc.Kind, sc.Name, sc.Detail)
	}
	for _, l := range f.Listeners {
		fmt.Fprintf(w, "  listener  %s\n", l)
	}
	if f.Files != nil {
		fmt.Fprintf(w, "files:      %d, %d bytes\n", f.Files.Count, f.Files.Bytes)
	}
	fmt.Fprintf(w, "sbom:       %d components; SPDX %s, CycloneDX %s\n", in.Components, in.SPDX, in.CycloneDX)
	fmt.Fprintf(w, "policy:     %s against feed %s: %d critical, %d high, %d medium, %d low\n", a.ScanDecision, orDash(in.FeedVersion), in.Findings.Critical, in.Findings.High, in.Findings.Medium, in.Findings.Low)
	var findings []struct {
		ID        string `json:"id"`
		Severity  string `json:"severity"`
		Summary   string `json:"summary"`
		Fixed     string `json:"fixed"`
		Component struct{ Name, Version string }
	}
	json.Unmarshal(p.Findings, &findings)
	for _, fd := range findings {
		fmt.Fprintf(w, "  %-8s %s %s@%s: %s", fd.Severity, fd.ID, fd.Component.Name, fd.Component.Version, fd.Summary)
		if fd.Fixed != "" {
			fmt.Fprintf(w, " (fixed in %s)", fd.Fixed)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "provenance: %s", provenanceWord(p.Provenance))
	if pv := p.Provenance; pv != nil && pv.Verified {
		fmt.Fprintf(w, ", builder %s, run %s, %s to %s", pv.Builder, pv.RunID, pv.Started.Format(time.RFC3339), pv.Finished.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	for item, d := range in.Docs {
		fmt.Fprintf(w, "docs:       %s %s\n", item, d.Digest)
	}
	fmt.Fprintln(w, "risk factors read from the file:")
	for _, d := range p.Derived {
		fmt.Fprintf(w, "  %-22s %.1f  %s\n", d.Factor, d.Value, d.Rule)
	}
	for _, r := range in.Reasons {
		fmt.Fprintf(w, "  because (%s) %s\n", r.Group, r.Reason)
	}
	for _, n := range f.NotInsp {
		fmt.Fprintf(w, "not inspected: %s\n", n)
	}
}
