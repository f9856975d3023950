package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
)

// Governance commands talk to the hub's governance API (docs/api.md,
// "Governance"). The hub records the caller (token name) as packager,
// requester or approver and judges every rule; a policy refusal exits 24
// (denied) with every failed rule.

// readDoc reads a JSON document from a file or '-' (stdin).
func readDoc(c *cli.Context, flag string) ([]byte, error) {
	path := c.String(flag)
	if path == "" {
		return nil, usageErrorf("--%s is required (a JSON file, or '-' for stdin)", flag)
	}
	var b []byte
	var err error
	if path == "-" {
		r := c.App.Reader
		if r == nil {
			r = os.Stdin
		}
		b, err = io.ReadAll(io.LimitReader(r, deploy.MaxDocumentSize+1))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("--%s %s: %w", flag, path, &deploy.FieldError{Field: "body", Msg: "not a JSON document"})
	}
	return b, nil
}

// parseWhen accepts an RFC 3339 time or a duration from now ("72h", "30d").
func parseWhen(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, usageErrorf("--%s %q: want an RFC 3339 time or a duration such as 72h or 30d", flag, s)
	}
	return time.Now().UTC().Add(d).Truncate(time.Second), nil
}

// govCmd builds a hub command taking nargs positional arguments (flags may
// follow them: reorderArgs moves them first).
func govCmd(name, usage, usageText string, flags []cli.Flag, nargs int, action func(c *cli.Context, out *output, cl *client.Client, args []string) error) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, UsageText: usageText,
		Flags: append(flags, hubClientFlags()...),
		Action: func(c *cli.Context) error {
			args, err := positional(c, nargs)
			if err != nil {
				return err
			}
			out, cl, err := hubSession(c)
			if err != nil {
				return err
			}
			return action(c, out, cl, args)
		},
	}
}

func printDecision(w io.Writer, d api.Decision) {
	verdict := "ALLOWED"
	if !d.Allowed {
		verdict = "DENIED"
	}
	model := ""
	if d.ModelVersion != "" {
		model = ", risk model " + d.ModelVersion
	}
	fmt.Fprintf(w, "%s %s %s by %s (%s) at %s%s [decision %s]\n", verdict, d.Kind, d.Subject, d.Principal.ID, d.Principal.Role,
		d.At.Format(time.RFC3339), model, d.ID)
	tw := table(w)
	fmt.Fprintln(tw, "RULE\tPASS\tREASON")
	for _, ck := range d.Decision.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ck.Rule, yesNo(ck.Pass), ck.Reason)
	}
	tw.Flush()
}

func appCommand() *cli.Command {
	return &cli.Command{
		Name:  "app",
		Usage: "register and show catalog applications",
		Subcommands: []*cli.Command{
			govCmd("add", "register an application (packaging engineer, endpoint ops)",
				"eucora app add ID --name N --owner O --category C --support-tier T --licensing L --scope acquisition=a[,bu=b] [--lob] [--privileged-tools]",
				[]cli.Flag{
					&cli.StringFlag{Name: "name"}, &cli.StringFlag{Name: "owner"}, &cli.StringFlag{Name: "category"},
					&cli.StringFlag{Name: "support-tier"}, &cli.StringFlag{Name: "licensing"},
					&cli.StringFlag{Name: "scope", Usage: "allowed scope: acquisition=A,bu=B,site=S ('*' for the enterprise)"},
					&cli.BoolFlag{Name: "lob", Usage: "line-of-business app (retention applies)"},
					&cli.BoolFlag{Name: "privileged-tools", Usage: "privileged tooling (CAB at every ring)"},
				},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					if err := required(c, "name", "owner", "category", "support-tier", "licensing", "scope"); err != nil {
						return err
					}
					sc, err := deploy.ParseScope(c.String("scope"))
					if err != nil {
						return usageErrorf("--scope: %v", err)
					}
					a, err := cl.CreateApp(c.Context, api.AppRequest{ID: args[0], Name: c.String("name"), Owner: c.String("owner"), Category: c.String("category"),
						SupportTier: c.String("support-tier"), LicensingModel: c.String("licensing"), AllowedScope: sc, LOB: c.Bool("lob"), PrivilegedTools: c.Bool("privileged-tools")})
					if err != nil {
						return err
					}
					return out.emit(a, func(w io.Writer) { fmt.Fprintf(w, "application %s added (allowed scope %s)\n", a.ID, a.AllowedScope) })
				}),
			govCmd("list", "list the applications in your scope", "eucora app list", nil,
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					apps, err := cl.Apps(c.Context)
					if err != nil {
						return err
					}
					return out.emit(map[string]any{"apps": apps}, func(w io.Writer) {
						tw := table(w)
						fmt.Fprintln(tw, "ID\tNAME\tOWNER\tSCOPE\tLOB\tCREATED BY")
						for _, a := range apps {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Name, a.Owner, a.AllowedScope, yesNo(a.LOB), a.CreatedBy)
						}
						tw.Flush()
					})
				}),
			govCmd("show", "show an application with its versions and artifacts", "eucora app show ID", nil,
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					v, err := cl.App(c.Context, args[0])
					if err != nil {
						return err
					}
					return out.emit(v, func(w io.Writer) {
						fmt.Fprintf(w, "%s (%s), owner %s, allowed scope %s (v%d)\n", v.App.ID, v.App.Name, v.App.Owner, v.App.AllowedScope, v.App.ScopeVersion)
						tw := table(w)
						fmt.Fprintln(tw, "VERSION\tSTATE\tREQUESTED BY\tARTIFACT\tPACKAGED BY\tSCAN")
						for _, ver := range v.Versions {
							if len(ver.Artifacts) == 0 {
								fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\n", ver.Version, ver.State, ver.RequestedBy)
							}
							for _, a := range ver.Artifacts {
								fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ver.Version, ver.State, ver.RequestedBy, a.SHA256.Short(), a.PackagedBy, a.ScanDecision)
							}
						}
						tw.Flush()
					})
				}),
			govCmd("scope", "change an application's allowed scope under a CAB approval (endpoint ops)",
				"eucora app scope ID --scope acquisition=a[,bu=b] --approval ID",
				[]cli.Flag{&cli.StringFlag{Name: "scope"}, &cli.StringFlag{Name: "approval", Usage: "CAB approval of scope-change:APP@NEXT_VERSION"}},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					if err := required(c, "scope"); err != nil {
						return err
					}
					sc, err := deploy.ParseScope(c.String("scope"))
					if err != nil {
						return usageErrorf("--scope: %v", err)
					}
					a, err := cl.ChangeAppScope(c.Context, args[0], sc, c.String("approval"))
					if err != nil {
						return err
					}
					return out.emit(a, func(w io.Writer) {
						fmt.Fprintf(w, "application %s allowed scope is %s (scope version %d)\n", a.ID, a.AllowedScope, a.ScopeVersion)
					})
				}),
			govCmd("retention", "plan LOB version retention", "eucora app retention ID [--at RFC3339]",
				[]cli.Flag{&cli.StringFlag{Name: "at", Usage: "judge at this time (default now)"}},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					var at time.Time
					var err error
					if s := c.String("at"); s != "" {
						if at, err = time.Parse(time.RFC3339, s); err != nil {
							return usageErrorf("--at %q: want an RFC 3339 time", s)
						}
					}
					r, err := cl.AppRetention(c.Context, args[0], at)
					if err != nil {
						return err
					}
					return out.emit(r, func(w io.Writer) {
						tw := table(w)
						fmt.Fprintln(tw, "VERSION\tKEEP\tREASON")
						for _, v := range r.Verdicts {
							fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Version, yesNo(v.Keep), v.Reason)
						}
						tw.Flush()
					})
				}),
		},
	}
}

// parseOS parses "os[:versions[:arch]]".
func parseOS(s string) deploy.OSSupport {
	parts := strings.SplitN(s, ":", 3)
	o := deploy.OSSupport{OS: parts[0]}
	if len(parts) > 1 {
		o.Versions = parts[1]
	}
	if len(parts) > 2 {
		o.Arch = parts[2]
	}
	return o
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "register application versions and move them along the lifecycle",
		Subcommands: []*cli.Command{
			govCmd("add", "register a version (state requested)", "eucora version add APP VERSION --os windows[:VERSIONS[:ARCH]] ... [--notes TEXT]",
				[]cli.Flag{&cli.StringSliceFlag{Name: "os", Usage: "supported OS as os[:versions[:arch]], repeatable"}, &cli.StringFlag{Name: "notes"}},
				2, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					var oss []deploy.OSSupport
					for _, s := range c.StringSlice("os") {
						oss = append(oss, parseOS(s))
					}
					v, err := cl.CreateVersion(c.Context, args[0], api.VersionRequest{Version: args[1], OSMatrix: oss, ReleaseNotes: c.String("notes")})
					if err != nil {
						return err
					}
					return out.emit(v, func(w io.Writer) { fmt.Fprintf(w, "version %s %s added (%s)\n", v.AppID, v.Version, v.State) })
				}),
			govCmd("transition", "move a version: packaged, staged, approved, retired", "eucora version transition APP VERSION --to STATE",
				[]cli.Flag{&cli.StringFlag{Name: "to", Usage: "target state"}},
				2, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					if err := required(c, "to"); err != nil {
						return err
					}
					v, err := cl.Transition(c.Context, args[0], args[1], deploy.State(c.String("to")))
					if err != nil {
						return err
					}
					return out.emit(v, func(w io.Writer) {
						h := v.History[len(v.History)-1]
						fmt.Fprintf(w, "%s %s is %s (%s by %s, decision %s)\n", v.AppID, v.Version, v.State, h.Action, h.By, h.DecisionID)
					})
				}),
		},
	}
}

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

func assessCommand() *cli.Command {
	return govCmd("assess", "store a risk assessment at the hub (input as for 'eucora risk score')",
		"eucora assess --id ID --app APP --version V [--artifact sha256:HEX] --input FILE.json",
		[]cli.Flag{&cli.StringFlag{Name: "id"}, &cli.StringFlag{Name: "app"}, &cli.StringFlag{Name: "version"}, &cli.StringFlag{Name: "artifact"},
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "risk input JSON file ('-' for stdin)"}},
		0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
			if err := required(c, "id", "app", "version"); err != nil {
				return err
			}
			b, err := readDoc(c, "input")
			if err != nil {
				return err
			}
			a, err := cl.CreateAssessment(c.Context, api.AssessmentRequest{ID: c.String("id"), AppID: c.String("app"), Version: c.String("version"),
				Artifact: digest.Digest(c.String("artifact")), Input: b})
			if err != nil {
				return err
			}
			return out.emit(a, func(w io.Writer) {
				fmt.Fprintf(w, "assessment %s: risk %g (model %s), CAB required at %s: %s\n", a.ID, a.Assessment.Score, a.Assessment.Model,
					a.Assessment.Input.TargetRing, yesNo(a.Assessment.CABRequired))
			})
		})
}

func approveCommand() *cli.Command {
	return govCmd("approve", "record your CAB decision (CAB approver)",
		"eucora approve --id ID --subject intent:ID --expires 72h|RFC3339 [--requested-by PRINCIPAL] [--reject] [--condition TEXT]... [--exception ID]\n\n"+
			"The requester is the stored request's (the intent's, or whoever's attempt was refused for want of this approval);\n"+
			"--requested-by only checks it, and a different name is refused.",
		[]cli.Flag{&cli.StringFlag{Name: "id"}, &cli.StringFlag{Name: "subject", Usage: "intent:ID, concurrency:ID, scope-change:APP@N, elevation:ID"},
			&cli.StringFlag{Name: "requested-by", Usage: "optional check of the stored requester"}, &cli.StringFlag{Name: "expires"}, &cli.BoolFlag{Name: "reject"},
			&cli.StringSliceFlag{Name: "condition"}, &cli.StringFlag{Name: "exception", Usage: "linked exception id"}},
		0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
			if err := required(c, "id", "subject", "expires"); err != nil {
				return err
			}
			exp, err := parseWhen("expires", c.String("expires"))
			if err != nil {
				return err
			}
			d := deploy.Approved
			if c.Bool("reject") {
				d = deploy.Rejected
			}
			a, err := cl.CreateApproval(c.Context, api.ApprovalRequest{ID: c.String("id"), Subject: c.String("subject"), RequestedBy: c.String("requested-by"),
				Decision: d, Conditions: c.StringSlice("condition"), ExpiresAt: exp, ExceptionID: c.String("exception")})
			if err != nil {
				return err
			}
			return out.emit(a, func(w io.Writer) {
				fmt.Fprintf(w, "approval %s: %s (requested by %s) %s by %s, valid until %s\n", a.ID, a.Subject, a.RequestedBy, a.Decision, a.Approver, a.ExpiresAt.Format(time.RFC3339))
			})
		})
}

func exceptionCommand() *cli.Command {
	return &cli.Command{
		Name:  "exception",
		Usage: "record policy exceptions (security reviewer)",
		Subcommands: []*cli.Command{
			govCmd("add", "approve an exception linked to an intent",
				"eucora exception add --id ID --intent ID --owner O --justification TEXT --control TEXT... --finding CVE... --expires 14d|RFC3339 [--requested-by P]\n\n"+
					"The requester is the intent's; --requested-by only checks it, and a different name is refused.",
				[]cli.Flag{&cli.StringFlag{Name: "id"}, &cli.StringFlag{Name: "intent"}, &cli.StringFlag{Name: "requested-by", Usage: "optional check of the intent's requester"}, &cli.StringFlag{Name: "owner"},
					&cli.StringFlag{Name: "justification"}, &cli.StringSliceFlag{Name: "control", Usage: "compensating control, repeatable"},
					&cli.StringSliceFlag{Name: "finding", Usage: "finding covered, repeatable"}, &cli.StringFlag{Name: "expires"}},
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					if err := required(c, "id", "intent", "owner", "justification", "expires"); err != nil {
						return err
					}
					exp, err := parseWhen("expires", c.String("expires"))
					if err != nil {
						return err
					}
					e, err := cl.CreateException(c.Context, api.ExceptionRequest{ID: c.String("id"), IntentID: c.String("intent"), RequestedBy: c.String("requested-by"),
						AccountableOwner: c.String("owner"), Justification: c.String("justification"), CompensatingControls: c.StringSlice("control"),
						Findings: c.StringSlice("finding"), ExpiresAt: exp})
					if err != nil {
						return err
					}
					return out.emit(e, func(w io.Writer) {
						fmt.Fprintf(w, "exception %s for intent %s (requested by %s) approved by %s until %s\n", e.ID, e.IntentID, e.RequestedBy, e.ApprovedBy, e.ExpiresAt.Format(time.RFC3339))
					})
				}),
		},
	}
}

func intentCommand() *cli.Command {
	return &cli.Command{
		Name:  "intent",
		Usage: "declare deployment intents and run the publish and promotion gates",
		Subcommands: []*cli.Command{
			govCmd("add", "declare an intent (you are the requester)", "eucora intent add --input INTENT.json",
				[]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "intent JSON (docs/api.md) ('-' for stdin)"}},
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					b, err := readDoc(c, "input")
					if err != nil {
						return err
					}
					in, err := cl.CreateIntentJSON(c.Context, b)
					if err != nil {
						return err
					}
					return out.emit(in, func(w io.Writer) {
						fmt.Fprintf(w, "intent %s: %s %s to %s, scope %s (%s)\n", in.ID, in.AppID, in.Version, in.Ring, in.Scope, in.Status)
					})
				}),
			govCmd("list", "list intents in your scope", "eucora intent list", nil,
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					ins, err := cl.Intents(c.Context)
					if err != nil {
						return err
					}
					return out.emit(map[string]any{"intents": ins}, func(w io.Writer) {
						tw := table(w)
						fmt.Fprintln(tw, "ID\tAPP\tVERSION\tRING\tSCOPE\tSTATUS\tREQUESTED BY")
						for _, in := range ins {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", in.ID, in.AppID, in.Version, int(in.Ring), in.Scope, in.Status, in.RequestedBy)
						}
						tw.Flush()
					})
				}),
			govCmd("show", "show an intent and every decision about it", "eucora intent show ID", nil,
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					v, err := cl.Intent(c.Context, args[0])
					if err != nil {
						return err
					}
					return out.emit(v, func(w io.Writer) {
						in := v.Intent
						fmt.Fprintf(w, "intent %s: %s %s to %s, scope %s, status %s, requested by %s\n\n", in.ID, in.AppID, in.Version, in.Ring, in.Scope, in.Status, in.RequestedBy)
						for _, d := range v.Decisions {
							printDecision(w, d)
							fmt.Fprintln(w)
						}
					})
				}),
			govCmd("publish", "run the publish gate (Ring 0: stage; Rings 1-4: publish)",
				"eucora intent publish ID [--approval ID] [--exception ID] [--evidence sha256:HEX]",
				[]cli.Flag{&cli.StringFlag{Name: "approval"}, &cli.StringFlag{Name: "exception"}, &cli.StringFlag{Name: "evidence"}},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					d, err := cl.Publish(c.Context, args[0], api.PublishRequest{Approval: c.String("approval"), Exception: c.String("exception"),
						Evidence: digest.Digest(c.String("evidence"))})
					if err != nil {
						return err
					}
					return out.emit(d, func(w io.Writer) { printDecision(w, d) })
				}),
			govCmd("promote", "run the promotion gate on measured results", "eucora intent promote ID --input MEASURED.json",
				[]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "measured results JSON (docs/api.md) ('-' for stdin)"}},
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					b, err := readDoc(c, "input")
					if err != nil {
						return err
					}
					d, err := cl.PromoteJSON(c.Context, args[0], b)
					if err != nil {
						return err
					}
					return out.emit(d, func(w io.Writer) { printDecision(w, d) })
				}),
		},
	}
}

func evidenceCommand() *cli.Command {
	return &cli.Command{
		Name:  "evidence",
		Usage: "store and read signed, write-once evidence packs",
		Subcommands: []*cli.Command{
			govCmd("add", "sign (hub key) and store an evidence pack", "eucora evidence add --input PACK.json",
				[]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "evidence pack JSON ('-' for stdin)"}},
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					b, err := readDoc(c, "input")
					if err != nil {
						return err
					}
					v, err := cl.StoreEvidence(c.Context, b)
					if err != nil {
						return err
					}
					return out.emit(v, func(w io.Writer) {
						fmt.Fprintf(w, "evidence %s for intent %s stored, signed by %s\n", v.Record.Digest, v.Record.IntentID, v.Record.KeyID)
					})
				}),
			govCmd("show", "read a pack, verified (digest, canonical form, hub signature)", "eucora evidence show sha256:HEX", nil,
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					d, err := digest.Parse(args[0])
					if err != nil {
						return usageErrorf("digest: %v", err)
					}
					v, err := cl.Evidence(c.Context, d)
					if err != nil {
						return err
					}
					return out.emit(v, func(w io.Writer) {
						fmt.Fprintf(w, "evidence %s for intent %s (%s %s)\nstored by %s at %s, signature verified with key %s\n", v.Record.Digest, v.Record.IntentID,
							v.Record.AppID, v.Record.Version, v.Record.StoredBy, v.Record.StoredAt.Format(time.RFC3339), v.KeyID)
						if v.Pack != nil {
							ms := v.Pack.Missing()
							fmt.Fprintf(w, "complete: %s\n", yesNo(len(ms) == 0))
							for _, m := range ms {
								fmt.Fprintf(w, "  - missing %s: %s\n", m.Item, m.Reason)
							}
						}
					})
				}),
		},
	}
}

func decisionCommand() *cli.Command {
	return &cli.Command{
		Name:  "decision",
		Usage: "read stored policy decisions with their inputs and explanation",
		Subcommands: []*cli.Command{
			govCmd("list", "list decisions in your scope", "eucora decision list [--subject intent/ID]",
				[]cli.Flag{&cli.StringFlag{Name: "subject"}},
				0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					ds, err := cl.Decisions(c.Context, c.String("subject"))
					if err != nil {
						return err
					}
					return out.emit(map[string]any{"decisions": ds}, func(w io.Writer) {
						tw := table(w)
						fmt.Fprintln(tw, "ID\tAT\tKIND\tSUBJECT\tBY\tALLOWED\tFAILED")
						for _, d := range ds {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.At.Format(time.RFC3339), d.Kind, d.Subject, d.Principal.ID, yesNo(d.Allowed),
								strings.Join(d.Decision.Failed(), ","))
						}
						tw.Flush()
					})
				}),
			govCmd("show", "show one decision", "eucora decision show ID", nil,
				1, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
					d, err := cl.Decision(c.Context, args[0])
					if err != nil {
						return err
					}
					return out.emit(d, func(w io.Writer) { printDecision(w, d) })
				}),
		},
	}
}

func elevateCommand() *cli.Command {
	return govCmd("elevate", "ask for a just-in-time elevation (endpoint ops, packaging engineer)",
		"eucora elevate --input REQUEST.json",
		[]cli.Flag{&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "elevation request JSON (docs/api.md) ('-' for stdin)"}},
		0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
			b, err := readDoc(c, "input")
			if err != nil {
				return err
			}
			d, err := cl.ElevateJSON(c.Context, b)
			if err != nil {
				return err
			}
			return out.emit(d, func(w io.Writer) { printDecision(w, d) })
		})
}
