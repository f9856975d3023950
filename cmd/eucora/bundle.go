package main

import "github.com/urfave/cli/v2"

func bundleCommand() *cli.Command {
	return &cli.Command{Name: "bundle", Usage: "create, verify, inspect and extract transfer bundles"}
}
