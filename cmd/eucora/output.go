package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/progress"
)

// output carries the global presentation choices of one invocation.
type output struct {
	json  bool
	quiet bool
	w     io.Writer
	logw  io.Writer // where servers log: the app's ErrWriter, else stderr
}

func outputFrom(c *cli.Context) (*output, error) {
	o := &output{quiet: globalBool(c, "quiet"), w: c.App.Writer, logw: c.App.ErrWriter}
	if o.w == nil {
		o.w = os.Stdout
	}
	switch f := globalString(c, "output"); f {
	case "text", "":
	case "json":
		o.json = true
	default:
		return nil, usageErrorf("--output: unknown format %q (want text or json)", f)
	}
	return o, nil
}

// progressEnabled reports whether bars should be drawn.
func (o *output) progressEnabled() bool {
	return !o.json && progress.Enabled(os.Stderr, o.quiet)
}

// emit prints v as JSON, or calls text to print it for humans.
func (o *output) emit(v any, text func(w io.Writer)) error {
	if o.json {
		return writeJSON(o.w, v)
	}
	text(o.w)
	return nil
}

// infof prints an informational line on stderr unless quiet or JSON.
func (o *output) infof(format string, args ...any) {
	if o.quiet || o.json {
		return
	}
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// table returns a tabwriter for aligned text output; call Flush.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// wantsJSON scans raw arguments for --output json (used when reporting an
// error that happened before flags were parsed).
func wantsJSON(args []string) bool {
	for i, a := range args {
		switch a {
		case "--output=json", "-o=json", "-output=json":
			return true
		case "--output", "-o", "-output":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		}
	}
	return false
}

// globalString returns a global flag's value from the innermost command
// where it was set, so "eucora --output json bundle verify" and
// "eucora bundle verify --output json" mean the same.
func globalString(c *cli.Context, name string) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc.String(name)
		}
	}
	return c.String(name)
}

func globalBool(c *cli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc.Bool(name)
		}
	}
	return false
}

// errWriter is where warnings go: the app's ErrWriter, else stderr.
func errWriter(c *cli.Context) io.Writer {
	if c.App.ErrWriter != nil {
		return c.App.ErrWriter
	}
	return os.Stderr
}
