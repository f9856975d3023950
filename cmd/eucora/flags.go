package main

import (
	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/datadir"
)

// dataFlag is the --data flag shared by every command that works on a local
// data directory (mirror, edge).
func dataFlag(dst *string) cli.Flag {
	return &cli.StringFlag{Name: "data", Value: datadir.Default, Usage: "data directory", EnvVars: []string{"EUCORA_DATA"}, Destination: dst}
}
