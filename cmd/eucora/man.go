package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/config"
)

type manOptions struct {
	dir string
}

// manCmd writes the manual pages from the command tree: eucora(1) and one
// page per command group, eucora-hub(1) and so on. The pages carry no
// date, so the same binary writes the same bytes (reproducible packages).
func manCmd() *cli.Command {
	var o manOptions
	return &cli.Command{
		Name:      "man",
		Usage:     "write the manual pages (eucora.1, eucora-GROUP.1) generated from the command tree",
		UsageText: "eucora man --dir DIR",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "dir", Required: true, Usage: "directory to write the pages to", Destination: &o.dir}},
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *manOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	app := newApp()
	pages := map[string]string{"eucora.1": manMain(app)}
	for _, g := range app.Commands {
		pages["eucora-"+g.Name+".1"] = manGroup(g)
	}
	var files []string
	for name, text := range pages {
		p := filepath.Join(o.dir, name)
		if err := atomicfile.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
		files = append(files, p)
	}
	return out.emit(map[string]any{"dir": o.dir, "pages": len(files)}, func(w io.Writer) {
		fmt.Fprintf(w, "%d manual pages written to %s\n", len(files), o.dir)
	})
}

// roff escapes text for a roff line: backslashes, and a leading '.' or
// '\” that roff would take for a request.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

func manHeader(b *strings.Builder, name, summary string) {
	fmt.Fprintf(b, ".TH %s 1 \"\" \"eucora %s\" \"EUCORA Manual\"\n", strings.ToUpper(name), roff(version))
	fmt.Fprintf(b, ".SH NAME\n%s \\- %s\n", roff(name), roff(summary))
}

func manMain(app *cli.App) string {
	var b strings.Builder
	manHeader(&b, "eucora", app.Usage)
	b.WriteString(".SH SYNOPSIS\n.B eucora\n[\\fIGLOBAL FLAGS\\fR] \\fICOMMAND\\fR [\\fIFLAGS\\fR] [\\fIARGS\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n.nf\n" + roff(app.Description) + "\n.fi\n")
	b.WriteString(".SH GLOBAL FLAGS\n")
	manFlags(&b, app.Flags)
	b.WriteString(".SH COMMANDS\n")
	for _, g := range app.Commands {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s (see \\fBeucora\\-%s\\fR(1))\n", roff(g.Name), roff(g.Usage), roff(g.Name))
	}
	b.WriteString(".SH FILES\n.TP\n.I " + roff(config.DefaultPath("hub")) + "\nconfiguration of the hub's commands ([hub.serve] and so on)\n")
	b.WriteString(".TP\n.I " + roff(config.DefaultPath("edge")) + "\nconfiguration of the edge's commands ([edge.serve] and so on)\n")
	b.WriteString(".SH ENVIRONMENT\n.TP\n.B " + config.EnvVar + "\nconfiguration file to read instead of the default\n")
	b.WriteString(".PP\nPrecedence: flag > environment variable > configuration file > default.\n")
	b.WriteString(".SH SEE ALSO\n")
	for i, g := range app.Commands {
		sep := ",\n"
		if i == len(app.Commands)-1 {
			sep = "\n"
		}
		fmt.Fprintf(&b, ".BR eucora\\-%s (1)%s", roff(g.Name), sep)
	}
	return b.String()
}

func manGroup(g *cli.Command) string {
	var b strings.Builder
	manHeader(&b, "eucora-"+g.Name, g.Usage)
	b.WriteString(".SH SYNOPSIS\n.B eucora " + roff(g.Name) + "\n\\fISUBCOMMAND\\fR [\\fIFLAGS\\fR]\n")
	if g.Description != "" {
		b.WriteString(".SH DESCRIPTION\n.nf\n" + roff(g.Description) + "\n.fi\n")
	}
	b.WriteString(".SH COMMANDS\n")
	var walk func(path string, c *cli.Command)
	walk = func(path string, c *cli.Command) {
		if len(c.Subcommands) > 0 {
			for _, s := range c.Subcommands {
				walk(path+" "+s.Name, s)
			}
			return
		}
		fmt.Fprintf(&b, ".SS %s\n%s\n", roff(path), roff(c.Usage))
		if c.UsageText != "" {
			b.WriteString(".PP\n.nf\n" + roff(c.UsageText) + "\n.fi\n")
		}
		if c.Description != "" && c != g {
			b.WriteString(".PP\n.nf\n" + roff(c.Description) + "\n.fi\n")
		}
		manFlags(&b, c.Flags)
	}
	walk("eucora "+g.Name, g)
	b.WriteString(".SH SEE ALSO\n.BR eucora (1)\n")
	return b.String()
}

func manFlags(b *strings.Builder, flags []cli.Flag) {
	for _, f := range flags {
		names := f.Names()
		if names[0] == "help" {
			continue
		}
		var parts []string
		for _, n := range names {
			if len(n) == 1 {
				parts = append(parts, "\\fB\\-"+roff(n)+"\\fR")
			} else {
				parts = append(parts, "\\fB\\-\\-"+roff(n)+"\\fR")
			}
		}
		head := strings.Join(parts, ", ")
		var usage string
		if d, ok := f.(cli.DocGenerationFlag); ok {
			if d.TakesValue() {
				head += " \\fIVALUE\\fR"
			}
			usage = d.GetUsage()
			if v := d.GetDefaultText(); v != "" && d.TakesValue() {
				usage += " (default " + v + ")"
			}
			if env := d.GetEnvVars(); len(env) > 0 {
				usage += " [$" + strings.Join(env, ", $") + "]"
			}
		}
		if r, ok := f.(cli.RequiredFlag); ok && r.IsRequired() {
			usage += " (required)"
		}
		fmt.Fprintf(b, ".TP\n%s\n%s\n", head, roff(usage))
	}
}
