package main

import (
	"github.com/urfave/cli/v2"
)

func mirrorCmd() *cli.Command {
	return &cli.Command{
		Name:        "mirror",
		Usage:       "mirror, snapshot, publish and serve repositories",
		Subcommands: []*cli.Command{mirrorAptCmd()},
	}
}

func mirrorAptCmd() *cli.Command {
	return &cli.Command{
		Name:  "apt",
		Usage: "APT repositories (see docs/apt-mirror.md)",
		Subcommands: []*cli.Command{
			mirrorAptCreateCmd(), mirrorAptEditCmd(), mirrorAptDeleteCmd(), mirrorAptSyncCmd(), mirrorAptListCmd(), mirrorAptSnapshotCmd(), mirrorAptSnapshotsCmd(),
			mirrorAptDiffCmd(), mirrorAptPublishCmd(), mirrorAptPublishedCmd(), mirrorAptInstallCmd(), mirrorAptVerifyCmd(), mirrorAptServeCmd(), mirrorAptPinCmd(),
		},
	}
}
