package main

import (
	"log/slog"

	"github.com/urfave/cli/v2"
)

// logFormatFlag is --log-format of the serve commands.
func logFormatFlag(dst *string) cli.Flag {
	return &cli.StringFlag{Name: "log-format", Value: "text", Destination: dst,
		Usage: "log lines on stderr: text, or json (one object per line, as with --output json); docs/metrics.md describes the fields"}
}

// newServeLogger logs to stderr in format (text or json; --output json
// means json too), warnings only with --quiet.
func newServeLogger(out *output, format string) (*slog.Logger, error) {
	switch format {
	case "text", "":
	case "json":
		out = &output{json: true, quiet: out.quiet, w: out.w, logw: out.logw}
	default:
		return nil, usageErrorf("--log-format %q: want text or json", format)
	}
	return serveLogger(out), nil
}
