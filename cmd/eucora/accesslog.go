package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"
)

// accessLogFlag is --access-log of 'edge serve' and 'mirror apt serve'.
func accessLogFlag(dst *string) cli.Flag {
	return &cli.StringFlag{Name: "access-log", Value: "stderr", Destination: dst,
		Usage: "one INFO line per request (method, path, status, bytes, duration, remote address, user agent): " +
			"'stderr' with the other log lines (--quiet silences it there), a FILE to append JSON lines to (whatever --quiet says), or 'off'"}
}

// openAccessLog returns the access logger --access-log names (nil for
// off): serveLog for stderr, else a JSON logger appending to the file.
// Call closeFn when serving ends.
func openAccessLog(spec string, serveLog *slog.Logger) (log *slog.Logger, closeFn func(), err error) {
	switch spec {
	case "off":
		return nil, func() {}, nil
	case "stderr", "":
		return serveLog, func() {}, nil
	}
	f, err := os.OpenFile(spec, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("--access-log: %w", err)
	}
	return slog.New(slog.NewJSONHandler(f, nil)), func() { f.Close() }, nil
}
