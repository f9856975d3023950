package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

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
