package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

func versionCmd() *cli.Command {
	return &cli.Command{
		Name:        "version",
		Usage:       "register application versions and move them along the lifecycle",
		Subcommands: []*cli.Command{versionAddCmd(), versionTransitionCmd()},
	}
}

type versionAddOptions struct {
	os    cli.StringSlice
	notes string
}

func versionAddCmd() *cli.Command {
	var o versionAddOptions
	return &cli.Command{
		Name:      "add",
		Usage:     "register a version (state requested)",
		UsageText: "eucora version add APP VERSION --os windows[:VERSIONS[:ARCH]] ... [--notes TEXT]",
		Flags:     append([]cli.Flag{&cli.StringSliceFlag{Name: "os", Usage: "supported OS as os[:versions[:arch]], repeatable", Destination: &o.os}, &cli.StringFlag{Name: "notes", Destination: &o.notes}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *versionAddOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 2)
	if err != nil {
		return err
	}
	var oss []deploy.OSSupport
	for _, s := range o.os.Value() {
		oss = append(oss, parseOS(s))
	}
	v, err := cl.CreateVersion(c.Context, args[0], api.VersionRequest{Version: args[1], OSMatrix: oss, ReleaseNotes: o.notes})
	if err != nil {
		return err
	}
	return out.emit(v, func(w io.Writer) { fmt.Fprintf(w, "version %s %s added (%s)\n", v.AppID, v.Version, v.State) })
}

type versionTransitionOptions struct {
	to string
}

func versionTransitionCmd() *cli.Command {
	var o versionTransitionOptions
	return &cli.Command{
		Name:      "transition",
		Usage:     "move a version: packaged, staged, approved, retired",
		UsageText: "eucora version transition APP VERSION --to STATE",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "to", Usage: "target state", Destination: &o.to}}, hubClientFlags()...),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *versionTransitionOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 2)
	if err != nil {
		return err
	}
	if err := required(c, "to"); err != nil {
		return err
	}
	v, err := cl.Transition(c.Context, args[0], args[1], deploy.State(o.to))
	if err != nil {
		return err
	}
	return out.emit(v, func(w io.Writer) {
		h := v.History[len(v.History)-1]
		fmt.Fprintf(w, "%s %s is %s (%s by %s, decision %s)\n", v.AppID, v.Version, v.State, h.Action, h.By, h.DecisionID)
	})
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
