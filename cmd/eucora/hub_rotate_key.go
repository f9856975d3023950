package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
)

type hubRotateKeyStageOptions struct{}

func hubRotateKeyStageCmd() *cli.Command {
	var o hubRotateKeyStageOptions
	return &cli.Command{
		Name:      "stage",
		Usage:     "create the next key and announce it in every bundle",
		UsageText: "eucora hub rotate-key stage",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *hubRotateKeyStageOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	k, err := cl.StageHubKey(c.Context)
	if err != nil {
		return err
	}
	return showHubKey(out, k, "next key staged; export to every site, import their receipts, then 'eucora hub rotate-key switch'")
}

type hubRotateKeySwitchOptions struct {
	force bool
}

func hubRotateKeySwitchCmd() *cli.Command {
	var o hubRotateKeySwitchOptions
	return &cli.Command{
		Name:      "switch",
		Usage:     "sign with the staged key from now on",
		UsageText: "eucora hub rotate-key switch [--force]",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "switch although some sites have not applied an announcing bundle", Destination: &o.force},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *hubRotateKeySwitchOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	k, err := cl.SwitchHubKey(c.Context, o.force)
	if err != nil {
		return err
	}
	return showHubKey(out, k, "switched: bundles are signed by the new key")
}

// showHubKey prints the hub's keys after a rotation step.
func showHubKey(out *output, k api.HubKey, what string) error {
	return out.emit(k, func(w io.Writer) {
		fmt.Fprintf(w, "%s\ncurrent key %s\n", what, k.KeyID)
		if k.Next != nil {
			fmt.Fprintf(w, "staged key  %s (announced by every bundle from now)\n", k.Next.KeyID)
		}
		for _, p := range k.Previous {
			fmt.Fprintf(w, "retired key %s (%s)\n", p.KeyID, p.RetiredAt.Format(time.RFC3339))
		}
	})
}
