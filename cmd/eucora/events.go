package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/transfer"
)

func eventsCmd() *cli.Command {
	return &cli.Command{
		Name:        "events",
		Usage:       "read the audit event log",
		Subcommands: []*cli.Command{eventsTailCmd(), eventsVerifyCmd()},
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

type eventsVerifyOptions struct {
	heads cli.StringSlice
}

func eventsVerifyCmd() *cli.Command {
	var o eventsVerifyOptions
	return &cli.Command{
		Name:      "verify",
		Usage:     "check the hub's whole event log: every origin's hash chain, on this machine",
		UsageText: "eucora events verify [--head ORIGIN:SEQ:HASH ...]",
		Description: "Reads the log from its first event and checks, without trusting the hub, that\n" +
			"cursors have no gap, that each origin's chain links and that every hash\n" +
			"recomputes: by rule 1 before the hub's events.chain-rule event, by rule 2\n" +
			"(docs/sync-records.md, \"Hash chain rule\") from it on. --head names an event an\n" +
			"auditor holds (for example the last one of an earlier export); the log must\n" +
			"still contain it with that hash. A broken chain exits 21.",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "head", Usage: "ORIGIN:SEQ:HASH of an event the log must still hold (repeatable)", Destination: &o.heads},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

// chainReport is what events verify prints.
type chainReport struct {
	Events uint64 `json:"events"`
	// RuleBoundary is the cursor of the events.chain-rule event: events
	// before it are hashed by rule 1, from it on by rule 2 (0: none).
	RuleBoundary uint64               `json:"rule_boundary"`
	Chains       []store.ChainSummary `json:"chains"`
	Heads        []string             `json:"heads_found"`
}

func (o *eventsVerifyOptions) run(c *cli.Context) error {
	want := map[string]map[uint64]string{} // origin -> seq -> hash
	for _, h := range o.heads.Value() {
		origin, rest, ok1 := strings.Cut(h, ":")
		seqs, hash, ok2 := strings.Cut(rest, ":")
		seq, err := strconv.ParseUint(seqs, 10, 64)
		if !ok1 || !ok2 || err != nil || origin == "" || len(hash) != 64 {
			return usageErrorf("--head %q: want ORIGIN:SEQ:HASH (a sequence number and 64 hex characters)", h)
		}
		if want[origin] == nil {
			want[origin] = map[uint64]string{}
		}
		want[origin][seq] = strings.ToLower(hash)
	}
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	v := store.NewChainVerifier()
	var rep chainReport
	const limit = 10000
	for after := "0"; ; {
		page, err := cl.Events(c.Context, after, limit)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if err := v.Add(store.EventFromAPI(e)); err != nil {
				return err
			}
			rep.Events++
			if h, ok := want[e.Origin][e.Sequence]; ok {
				if h != e.Hash {
					return &transfer.ChainError{Origin: e.Origin, Seq: e.Sequence,
						Reason: fmt.Sprintf("the log holds hash %s, not the %s given by --head", e.Hash, h)}
				}
				delete(want[e.Origin], e.Sequence)
				rep.Heads = append(rep.Heads, fmt.Sprintf("%s:%d:%s", e.Origin, e.Sequence, h))
			}
		}
		if len(page.Events) < limit {
			break
		}
		after = page.Next
	}
	for origin, seqs := range want {
		for seq := range seqs {
			return &transfer.ChainError{Origin: origin, Seq: seq, Reason: "the event given by --head is not in the log"}
		}
	}
	rep.RuleBoundary, rep.Chains = v.Boundary(), v.Chains()
	if rep.Heads == nil {
		rep.Heads = []string{}
	}
	return out.emit(rep, func(w io.Writer) {
		tw := table(w)
		fmt.Fprintln(tw, "ORIGIN\tEVENTS\tRULE 1\tLAST SEQ\tLAST HASH")
		for _, ch := range rep.Chains {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", ch.Origin, ch.Events, ch.Rule1Events, ch.LastSequence, ch.LastHash)
		}
		tw.Flush()
		switch rep.RuleBoundary {
		case 0:
			fmt.Fprintf(w, "%d events verified, all by hash rule 1 (the hub has not moved to rule 2 yet)\n", rep.Events)
		case 1:
			fmt.Fprintf(w, "%d events verified, all by hash rule 2\n", rep.Events)
		default:
			fmt.Fprintf(w, "%d events verified: cursors 1-%d by hash rule 1, from %d (events.chain-rule) by rule 2\n", rep.Events, rep.RuleBoundary-1, rep.RuleBoundary)
		}
		for _, h := range rep.Heads {
			fmt.Fprintf(w, "head %s: present\n", h)
		}
	})
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
