package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
)

func rolloutCmd() *cli.Command {
	return &cli.Command{
		Name:  "rollout",
		Usage: "watch and steer the rollouts the hub's orchestrator runs ring by ring (EUCORA-architecture.md section 10)",
		Description: "The hub's leader publishes every published intent through its execution plane, reads install\n" +
			"results from the plane, judges the ring's promotion gate on them (install success 98/97/99%,\n" +
			"time-to-compliance, no attributable incident, rollback validated in Ring 0, CAB where required)\n" +
			"and promotes, pauses or rolls back. These commands show that and let people intervene.",
		Subcommands: []*cli.Command{rolloutStatusCmd(), rolloutPauseCmd(), rolloutResumeCmd(), rolloutPromoteCmd(), rolloutRollbackCmd(), rolloutPolicyCmd()},
	}
}

type rolloutStatusOptions struct{ steps bool }

func rolloutStatusCmd() *cli.Command {
	var o rolloutStatusOptions
	return &cli.Command{
		Name:      "status",
		Usage:     "per app and ring: state, gate results with their numbers, and what each rollout waits for",
		UsageText: "eucora rollout status [APP | INTENT] [--steps]",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "steps", Usage: "list each rollout's recorded steps", Destination: &o.steps},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *rolloutStatusOptions) run(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageErrorf("want at most one APP or INTENT, got %d arguments", c.NArg())
	}
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	arg := c.Args().First()
	var rs []api.Rollout
	if arg != "" {
		if r, err := cl.Rollout(c.Context, arg); err == nil {
			rs = []api.Rollout{r}
		}
	}
	if rs == nil {
		if rs, err = cl.Rollouts(c.Context, arg); err != nil {
			return err
		}
	}
	return out.emit(map[string]any{"rollouts": rs}, func(w io.Writer) { writeRollouts(w, rs, o.steps) })
}

// writeRollouts renders rollouts as a table and, under each, its gate's
// numbers and what it waits for.
func writeRollouts(w io.Writer, rs []api.Rollout, steps bool) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no rollouts (an intent gets one when it is published)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tVERSION\tRING\tINTENT\tSTATE\tPLANE\tINSTALLED\tFAILED\tWAITING\tTTC\tGATE")
	for _, r := range rs {
		inst, failed, waiting, ttc := "-", "-", "-", "-"
		if t := r.Telemetry; t != nil {
			m := t.Measure
			inst = fmt.Sprintf("%d/%d (%s)", m.Installed, m.Targeted, pctOf(m.Installed, m.Targeted))
			failed, waiting = fmt.Sprint(m.Failed), fmt.Sprint(m.Waiting)
			if m.Compliant() {
				ttc = m.TimeToCompliance.Round(time.Second).String()
			}
		}
		gate := "-"
		if r.Gate != nil {
			gate = string(r.Gate.Verdict)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.AppID, r.Version, int(r.Ring), r.IntentID, r.State, orDash(r.Plane), inst, failed, waiting, ttc, gate)
	}
	tw.Flush()
	for _, r := range rs {
		var lines []string
		if r.Gate != nil {
			for _, f := range r.Gate.Failing {
				lines = append(lines, "fails: "+f)
			}
			for _, x := range r.Gate.Waiting {
				lines = append(lines, "waits: "+x)
			}
		}
		for _, x := range r.Waiting {
			lines = append(lines, "waits: "+x)
		}
		if r.PauseReason != "" {
			lines = append(lines, fmt.Sprintf("paused by %s: %s", r.PausedBy, r.PauseReason))
		}
		if r.RollbackAction != "" {
			lines = append(lines, "rolled back: "+r.RollbackAction)
		}
		if r.Backoff != nil {
			lines = append(lines, fmt.Sprintf("plane backing off until %s after %d failure(s): %s", r.Backoff.Until.Format(time.RFC3339), r.Backoff.Failures, r.Backoff.Message))
		}
		if steps {
			for _, s := range r.Steps {
				lines = append(lines, fmt.Sprintf("step %s %s %s %s", s.At.Format(time.RFC3339), s.Op, s.Phase, s.Detail))
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "\n%s (%s %s ring %d):\n  %s\n", r.IntentID, r.AppID, r.Version, int(r.Ring), strings.Join(lines, "\n  "))
		}
	}
}

func pctOf(n, d int) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", float64(n)*100/float64(d))
}

// rolloutControl runs one control on the rollout of the intent named by
// the first argument.
func rolloutControl(c *cli.Context, control string, req api.RolloutControl, done string) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	r, err := cl.ControlRollout(c.Context, args[0], control, req)
	if err != nil {
		return err
	}
	return out.emit(r, func(w io.Writer) { fmt.Fprintf(w, "rollout of %s %s: now %s\n", r.IntentID, done, r.State) })
}

type rolloutPauseOptions struct{ reason string }

func rolloutPauseCmd() *cli.Command {
	var o rolloutPauseOptions
	return &cli.Command{
		Name:      "pause",
		Usage:     "stop a rollout where it stands (publisher, endpoint ops, CAB approver); what is deployed stays",
		UsageText: "eucora rollout pause INTENT --reason TEXT",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "why (recorded in the audit log)", Destination: &o.reason},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *rolloutPauseOptions) run(c *cli.Context) error {
	if err := required(c, "reason"); err != nil {
		return err
	}
	return rolloutControl(c, "pause", api.RolloutControl{Reason: o.reason}, "paused")
}

type rolloutResumeOptions struct{ reason string }

func rolloutResumeCmd() *cli.Command {
	var o rolloutResumeOptions
	return &cli.Command{
		Name:      "resume",
		Usage:     "let a paused rollout go on (its gate is judged again on the plane's telemetry)",
		UsageText: "eucora rollout resume INTENT [--reason TEXT]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "why (recorded in the audit log)", Destination: &o.reason},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *rolloutResumeOptions) run(c *cli.Context) error {
	return rolloutControl(c, "resume", api.RolloutControl{Reason: o.reason}, "resumed")
}

type rolloutRollbackOptions struct{ reason string }

func rolloutRollbackCmd() *cli.Command {
	var o rolloutRollbackOptions
	return &cli.Command{
		Name:  "rollback",
		Usage: "roll a ring back on its plane: the prior version pinned back, or an uninstall (EUCORA-architecture.md section 10.3)",
		UsageText: "eucora rollout rollback INTENT --reason TEXT\n\n" +
			"Intune: assignment back to the prior app or uninstall; SCCM: the prior deployment on the ring's collections;\n" +
			"Jamf: the policy back to the prior package or the uninstall script; Linux: apt pin and downgrade or removal.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "why (recorded in the audit log)", Destination: &o.reason},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *rolloutRollbackOptions) run(c *cli.Context) error {
	if err := required(c, "reason"); err != nil {
		return err
	}
	return rolloutControl(c, "rollback", api.RolloutControl{Reason: o.reason}, "set to roll back")
}

type rolloutPolicyOptions struct{ onFailure string }

func rolloutPolicyCmd() *cli.Command {
	var o rolloutPolicyOptions
	return &cli.Command{
		Name:      "policy",
		Usage:     "what a failed gate does to a rollout: pause (default) or roll back",
		UsageText: "eucora rollout policy INTENT --on-failure pause|rollback",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "on-failure", Usage: "pause or rollback", Destination: &o.onFailure},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *rolloutPolicyOptions) run(c *cli.Context) error {
	if err := required(c, "on-failure"); err != nil {
		return err
	}
	if o.onFailure != "pause" && o.onFailure != "rollback" {
		return usageErrorf("--on-failure %q: want pause or rollback", o.onFailure)
	}
	return rolloutControl(c, "policy", api.RolloutControl{OnFailure: o.onFailure}, "will "+o.onFailure+" on a failed gate")
}

type rolloutPromoteOptions struct{}

func rolloutPromoteCmd() *cli.Command {
	var o rolloutPromoteOptions
	return &cli.Command{
		Name:      "promote",
		Usage:     "promote a ring now if its gate passes on the plane's telemetry (publisher); refused with the reasons otherwise",
		UsageText: "eucora rollout promote INTENT",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *rolloutPromoteOptions) run(c *cli.Context) error {
	out, cl, args, err := hubSessionArgs(c, 1)
	if err != nil {
		return err
	}
	r, err := cl.PromoteRollout(c.Context, args[0], api.RolloutPromote{})
	if err != nil {
		return err
	}
	return out.emit(r, func(w io.Writer) { fmt.Fprintf(w, "rollout of %s: gate passes, %s\n", r.IntentID, r.State) })
}
