package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
)

// riskScoreOutput is the JSON of `eucora risk score`, exactly the fields the
// governance issue specifies.
type riskScoreOutput struct {
	Model         string                    `json:"model"`
	Score         float64                   `json:"score"`
	Contributions map[deploy.Factor]float64 `json:"contributions"`
	CABRequired   bool                      `json:"cab_required"`
	Reasons       []string                  `json:"reasons"`
}

func riskCmd() *cli.Command {
	return &cli.Command{
		Name:        "risk",
		Usage:       "score and explain deterministic risk assessments offline (EUCORA-architecture.md section 9)",
		Subcommands: []*cli.Command{riskScoreCmd(), riskExplainCmd(), riskModelsCmd()},
	}
}

// riskInputFlag is --input of score and explain.
func riskInputFlag(dst *string) cli.Flag {
	return &cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "risk input JSON file ('-' for stdin)", Destination: dst}
}

type riskScoreOptions struct {
	input string
}

func riskScoreCmd() *cli.Command {
	var o riskScoreOptions
	return &cli.Command{
		Name:      "score",
		Usage:     "score a risk input offline",
		UsageText: "eucora risk score --input FILE.json [--output json]",
		Description: "Input: {\"model\":\"v1.0\",\"factors\":{\"privilege\":x,\"supply_chain\":x,\"exploitability\":x,\n" +
			"\"data_access\":x,\"sbom_vulnerability\":x,\"blast_radius\":x,\"operational_complexity\":x,\"history\":x},\n" +
			"\"privileged_tooling\":bool,\"target_ring\":n}. Every field is required; factor values must be\n" +
			"within 0..1 and are never clamped. Output: model, score, contributions, cab_required, reasons.",
		Flags:  []cli.Flag{riskInputFlag(&o.input)},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *riskScoreOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	a, err := readRiskInput(c, o.input)
	if err != nil {
		return err
	}
	res := riskScoreOutput{Model: a.Model, Score: a.Score, Contributions: a.ContributionMap(), CABRequired: a.CABRequired, Reasons: a.Reasons}
	return out.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "risk score:   %g (model %s, CAB threshold > %g)\n", a.Score, a.Model, a.Threshold)
		fmt.Fprintf(w, "cab required: %s\n", yesNo(a.CABRequired))
		for _, r := range a.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
	})
}

type riskExplainOptions struct {
	input, id string
}

func riskExplainCmd() *cli.Command {
	var o riskExplainOptions
	return &cli.Command{
		Name:      "explain",
		Usage:     "show each factor's weight, value, contribution and rubric meaning",
		UsageText: "eucora risk explain --input FILE.json | --id ASSESSMENT [--hub URL] [--output json]",
		Flags: append([]cli.Flag{riskInputFlag(&o.input),
			&cli.StringFlag{Name: "id", Usage: "explain the assessment stored at the hub under this id", Destination: &o.id}}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *riskExplainOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if o.id != "" {
		return o.runStored(c, out)
	}
	a, err := readRiskInput(c, o.input)
	if err != nil {
		return err
	}
	return explainAssessment(out, a, a)
}

// runStored explains an assessment stored at the hub; the JSON output is
// the stored record (inputs, score, model, who, when).
func (o *riskExplainOptions) runStored(c *cli.Context, out *output) error {
	if o.input != "" {
		return usageErrorf("--id and --input are exclusive")
	}
	cl, err := hubClient(c)
	if err != nil {
		return err
	}
	rec, err := cl.Assessment(c.Context, o.id)
	if err != nil {
		return err
	}
	return explainAssessment(out, rec, rec.Assessment)
}

type riskModelsOptions struct{}

func riskModelsCmd() *cli.Command {
	var o riskModelsOptions
	return &cli.Command{
		Name:      "models",
		Usage:     "list risk model versions, weights and thresholds",
		UsageText: "eucora risk models [--output json]",
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *riskModelsOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	var ms []*deploy.RiskModel
	for _, v := range deploy.ModelVersions() {
		m, err := deploy.LookupModel(v)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	return out.emit(ms, func(w io.Writer) {
		for _, m := range ms {
			fmt.Fprintf(w, "model %s: CAB required for risk > %g beyond %s, and always for privileged tooling\n", m.Version, m.CABThreshold, m.CABFreeRing)
			tw := table(w)
			fmt.Fprintln(tw, "FACTOR\tWEIGHT\tRUBRIC")
			for _, s := range m.Factors {
				var levels []string
				for _, l := range s.Rubric {
					levels = append(levels, fmt.Sprintf("%g=%s", l.Value, l.Meaning))
				}
				fmt.Fprintf(tw, "%s\t%g\t%s\n", s.Name, s.Weight, strings.Join(levels, "; "))
			}
			tw.Flush()
		}
	})
}

func readRiskInput(c *cli.Context, input string) (deploy.Assessment, error) {
	if input == "" {
		return deploy.Assessment{}, usageErrorf("--input: required (a risk input JSON file, or '-' for stdin)")
	}
	if c.Args().Len() > 0 {
		return deploy.Assessment{}, usageErrorf("unexpected argument %q (the input is given with --input)", c.Args().First())
	}
	var b []byte
	var err error
	if input == "-" {
		r := c.App.Reader
		if r == nil {
			r = os.Stdin
		}
		b, err = io.ReadAll(io.LimitReader(r, deploy.MaxDocumentSize+1))
	} else {
		b, err = os.ReadFile(input)
	}
	if err != nil {
		return deploy.Assessment{}, fmt.Errorf("--input: %w", err)
	}
	label := input
	if label == "-" {
		label = "stdin"
	}
	in, err := deploy.ParseRiskInput(b)
	if err != nil {
		return deploy.Assessment{}, fmt.Errorf("%s: %w", label, err)
	}
	a, err := deploy.Score(in)
	if err != nil {
		return deploy.Assessment{}, fmt.Errorf("%s: %w", label, err)
	}
	return a, nil
}

func explainAssessment(out *output, v any, a deploy.Assessment) error {
	return out.emit(v, func(w io.Writer) {
		fmt.Fprintf(w, "model %s, target %s, privileged tooling: %s\n\n", a.Model, a.Input.TargetRing, yesNo(a.Input.PrivilegedTooling))
		tw := table(w)
		fmt.Fprintln(tw, "FACTOR\tWEIGHT\tVALUE\tCONTRIBUTION\tMEANING")
		for _, ct := range a.Contributions {
			fmt.Fprintf(tw, "%s\t%g\t%g\t%g\t%s\n", ct.Factor, ct.Weight, ct.Value, ct.Contribution, ct.Meaning)
		}
		fmt.Fprintf(tw, "SCORE\t\t\t%g\tclamp(0..100, sum of weight x value)\n", a.Score)
		tw.Flush()
		fmt.Fprintf(w, "\ncab required: %s\n", yesNo(a.CABRequired))
		for _, r := range a.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
	})
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
