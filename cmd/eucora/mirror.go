package main

import (
	"github.com/urfave/cli/v2"
)

func mirrorCommand() *cli.Command {
	return &cli.Command{
		Name:  "mirror",
		Usage: "mirror, snapshot, publish and serve repositories",
		Subcommands: []*cli.Command{{
			Name:  "apt",
			Usage: "APT repositories (see docs/apt-mirror.md)",
			Subcommands: []*cli.Command{
				mirrorCreateCmd(), mirrorEditCmd(), mirrorDeleteCmd(), mirrorSyncCmd(), mirrorListCmd(), mirrorSnapshotCmd(), mirrorSnapshotsCmd(),
				mirrorDiffCmd(), mirrorPublishCmd(), mirrorPublishedCmd(), mirrorInstallCmd(), mirrorVerifyCmd(), mirrorServeCmd(), mirrorPinCmd(),
			},
		}},
	}
}
