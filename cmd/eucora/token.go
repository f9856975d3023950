package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/atomicfile"
)

func tokenCmd() *cli.Command {
	return &cli.Command{
		Name:        "token",
		Usage:       "create and revoke API tokens",
		Subcommands: []*cli.Command{tokenCreateCmd(), tokenRevokeCmd()},
	}
}

type tokenCreateOptions struct {
	name, role, scope, out string
}

func tokenCreateCmd() *cli.Command {
	var o tokenCreateOptions
	return &cli.Command{
		Name:      "create",
		Usage:     "create a token; its secret is shown once",
		UsageText: "eucora token create --name NAME --role ROLE [--scope acquisition=a,bu=b,site=c]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Required: true, Destination: &o.name},
			&cli.StringFlag{Name: "role", Required: true, Usage: "platform-admin, packaging-engineer, publisher, cab-approver, security-reviewer, endpoint-ops, auditor", Destination: &o.role},
			&cli.StringFlag{Name: "scope", Usage: "acquisition=A,bu=B,site=S (default: enterprise)", Destination: &o.scope},
			&cli.StringFlag{Name: "out", Usage: "write the secret to this file (mode 0600) instead of printing it (e.g. for 'edge serve --token-file')", Destination: &o.out},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *tokenCreateOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	r, err := deploy.ParseRole(o.role)
	if err != nil {
		return usageErrorf("--role: %v", err)
	}
	sc, err := deploy.ParseScope(o.scope)
	if err != nil {
		return usageErrorf("--scope: %v", err)
	}
	cl, err := hubClient(c)
	if err != nil {
		return err
	}
	t, err := cl.CreateToken(c.Context, api.TokenRequest{Name: o.name, Role: r, Scope: sc})
	if err != nil {
		return err
	}
	if f := o.out; f != "" {
		if err := atomicfile.WriteFile(f, []byte(t.Token+"\n"), 0o600); err != nil {
			return err
		}
		t.Token = ""
		return out.emit(map[string]any{"token": t, "file": f}, func(w io.Writer) {
			fmt.Fprintf(w, "token %s (%s, %s, scope %s); secret written to %s (mode 0600)\n", t.ID, t.Name, t.Role, t.Scope, f)
		})
	}
	return out.emit(t, func(w io.Writer) {
		fmt.Fprintf(w, "token %s (%s, %s, scope %s)\n%s\nThe secret is shown only once.\n", t.ID, t.Name, t.Role, t.Scope, t.Token)
	})
}

type tokenRevokeOptions struct{}

func tokenRevokeCmd() *cli.Command {
	var o tokenRevokeOptions
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke a token",
		UsageText: "eucora token revoke ID",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *tokenRevokeOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	cl, err := hubClient(c)
	if err != nil {
		return err
	}
	if err := cl.RevokeToken(c.Context, args[0]); err != nil {
		return err
	}
	return out.emit(map[string]string{"revoked": args[0]}, func(w io.Writer) {
		fmt.Fprintf(w, "token %s revoked\n", args[0])
	})
}
