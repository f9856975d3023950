package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/digest"
)

type assessOptions struct {
	id       string
	app      string
	version  string
	artifact string
	input    string
}

func assessCmd() *cli.Command {
	var o assessOptions
	return &cli.Command{
		Name:      "assess",
		Usage:     "store a risk assessment at the hub (input as for 'eucora risk score')",
		UsageText: "eucora assess --id ID --app APP --version V [--artifact sha256:HEX] --input FILE.json",
		Flags: append([]cli.Flag{&cli.StringFlag{Name: "id", Destination: &o.id}, &cli.StringFlag{Name: "app", Destination: &o.app}, &cli.StringFlag{Name: "version", Destination: &o.version}, &cli.StringFlag{Name: "artifact", Destination: &o.artifact},
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "risk input JSON file ('-' for stdin)", Destination: &o.input}}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *assessOptions) run(c *cli.Context) error {
	out, cl, _, err := hubSessionArgs(c, 0)
	if err != nil {
		return err
	}
	if err := required(c, "id", "app", "version"); err != nil {
		return err
	}
	b, err := readDoc(c, "input", o.input)
	if err != nil {
		return err
	}
	a, err := cl.CreateAssessment(c.Context, api.AssessmentRequest{ID: o.id, AppID: o.app, Version: o.version,
		Artifact: digest.Digest(o.artifact), Input: b})
	if err != nil {
		return err
	}
	return out.emit(a, func(w io.Writer) {
		fmt.Fprintf(w, "assessment %s: risk %g (model %s), CAB required at %s: %s\n", a.ID, a.Assessment.Score, a.Assessment.Model,
			a.Assessment.Input.TargetRing, yesNo(a.Assessment.CABRequired))
	})
}
