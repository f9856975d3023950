package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/store"
)

func eventsCommand() *cli.Command {
	var follow bool
	var after string
	var limit int
	return &cli.Command{
		Name:  "events",
		Usage: "read the audit event log",
		Subcommands: []*cli.Command{{
			Name:      "tail",
			Usage:     "print events after a cursor, optionally following new ones",
			UsageText: "eucora events tail [--after CURSOR] [--limit N] [--follow]",
			Flags: append([]cli.Flag{
				&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new events", Destination: &follow},
				&cli.StringFlag{Name: "after", Value: "0", Usage: "cursor to start after", Destination: &after},
				&cli.IntFlag{Name: "limit", Value: 100, Usage: "events per request (1..10000)", Destination: &limit},
			}, hubClientFlags()...),
			Action: func(c *cli.Context) error {
				out, cl, err := hubSession(c)
				if err != nil {
					return err
				}
				header := true
				for {
					page, err := cl.Events(c.Context, after, limit)
					if err != nil {
						return err
					}
					if err := printEvents(out, page.Events, header && !follow); err != nil {
						return err
					}
					header = false
					after = page.Next
					if len(page.Events) == limit {
						continue
					}
					if !follow {
						return nil
					}
					select {
					case <-c.Context.Done():
						return nil
					case <-time.After(time.Second):
					}
				}
			},
		}},
	}
}

func printEvents(out *output, evs []store.Event, header bool) error {
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
