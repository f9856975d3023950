package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
)

func eventsCmd() *cli.Command {
	return &cli.Command{
		Name:        "events",
		Usage:       "read the audit event log",
		Subcommands: []*cli.Command{eventsTailCmd()},
	}
}

type eventsTailOptions struct {
	origins, outcomes cli.StringSlice
	follow            bool
	after             string
	limit             int
}

func eventsTailCmd() *cli.Command {
	var o eventsTailOptions
	return &cli.Command{
		Name:      "tail",
		Usage:     "print events after a cursor, optionally following new ones",
		UsageText: "eucora events tail [--after CURSOR] [--limit N] [--follow] [--origin ORIGIN] [--outcome OUTCOME]",
		Description: "--output json writes JSON lines: one event object per line, so --follow streams\n" +
			"(not one JSON document). --origin (hub or a site name) and --outcome (ok, denied,\n" +
			"refused, duplicate, applied, ...) keep only the matching events; both repeat.\n" +
			"A bundle imported a second time is shown with outcome duplicate, never as a\n" +
			"second import.",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "origin", Usage: "only events of this origin: hub or a site name (repeatable)", Destination: &o.origins},
			&cli.StringSliceFlag{Name: "outcome", Usage: "only events with this outcome, e.g. refused or duplicate (repeatable)", Destination: &o.outcomes},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new events", Destination: &o.follow},
			&cli.StringFlag{Name: "after", Value: "0", Usage: "cursor to start after", Destination: &o.after},
			&cli.IntFlag{Name: "limit", Value: 100, Usage: "events per request (1..10000)", Destination: &o.limit},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *eventsTailOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	f := eventFilter{origins: set(o.origins.Value()), outcomes: set(o.outcomes.Value())}
	header, after := true, o.after
	for {
		page, err := cl.Events(c.Context, after, o.limit)
		if err != nil {
			return err
		}
		if err := printEvents(out, f.keep(page.Events), header && !o.follow); err != nil {
			return err
		}
		header = false
		after = page.Next
		if len(page.Events) == o.limit {
			continue
		}
		if !o.follow {
			return nil
		}
		select {
		case <-c.Context.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// eventFilter keeps the events of the given origins and outcomes (an
// empty set keeps all).
type eventFilter struct{ origins, outcomes map[string]bool }

func set(vals []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				m[p] = true
			}
		}
	}
	return m
}

func (f eventFilter) keep(evs []api.Event) []api.Event {
	if len(f.origins) == 0 && len(f.outcomes) == 0 {
		return evs
	}
	var out []api.Event
	for _, e := range evs {
		if (len(f.origins) == 0 || f.origins[e.Origin]) && (len(f.outcomes) == 0 || f.outcomes[e.Outcome]) {
			out = append(out, e)
		}
	}
	return out
}

func printEvents(out *output, evs []api.Event, header bool) error {
	if out.json {
		// One JSON object per line, so --follow output streams.
		for _, e := range evs {
			if err := writeJSONLine(out.w, e); err != nil {
				return err
			}
		}
		return nil
	}
	tw := table(out.w)
	if header {
		fmt.Fprintln(tw, "CURSOR\tTIME\tORIGIN\tSEQ\tACTOR\tACTION\tOBJECT\tOUTCOME")
	}
	for _, e := range evs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", e.Cursor, e.Time.Format(time.RFC3339), e.Origin, e.Sequence, e.Actor, e.Action, e.Object, e.Outcome)
	}
	return tw.Flush()
}

func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
