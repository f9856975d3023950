package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
)

func assessCommand() *cli.Command {
	return govCmd("assess", "store a risk assessment at the hub (input as for 'eucora risk score')",
		"eucora assess --id ID --app APP --version V [--artifact sha256:HEX] --input FILE.json",
		[]cli.Flag{&cli.StringFlag{Name: "id"}, &cli.StringFlag{Name: "app"}, &cli.StringFlag{Name: "version"}, &cli.StringFlag{Name: "artifact"},
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "risk input JSON file ('-' for stdin)"}},
		0, func(c *cli.Context, out *output, cl *client.Client, args []string) error {
			if err := required(c, "id", "app", "version"); err != nil {
				return err
			}
			b, err := readDoc(c, "input")
			if err != nil {
				return err
			}
			a, err := cl.CreateAssessment(c.Context, api.AssessmentRequest{ID: c.String("id"), AppID: c.String("app"), Version: c.String("version"),
				Artifact: digest.Digest(c.String("artifact")), Input: b})
			if err != nil {
				return err
			}
			return out.emit(a, func(w io.Writer) {
				fmt.Fprintf(w, "assessment %s: risk %g (model %s), CAB required at %s: %s\n", a.ID, a.Assessment.Score, a.Assessment.Model,
					a.Assessment.Input.TargetRing, yesNo(a.Assessment.CABRequired))
			})
		})
}
