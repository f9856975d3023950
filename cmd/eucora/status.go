package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

type statusOptions struct{}

func statusCmd() *cli.Command {
	var o statusOptions
	return &cli.Command{
		Name:      "status",
		Usage:     "show the hub cluster's state as one node sees it",
		UsageText: "eucora status [--hub URL]",
		Flags:     hubClientFlags(),
		Action:    func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *statusOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	s, err := cl.Status(c.Context)
	if err != nil {
		return err
	}
	return out.emit(s, func(w io.Writer) {
		fmt.Fprintf(w, "node %s (%s), leader %s at %s, term %d, commit %d, applied %d\n",
			s.NodeID, s.State, s.LeaderID, s.LeaderHTTP, s.Term, s.CommitIndex, s.AppliedIndex)
		if s.Halted != "" {
			fmt.Fprintf(w, "HALTED: %s\n", s.Halted)
		}
		tw := table(w)
		fmt.Fprintln(tw, "ID\tRAFT\tHTTP\tSUFFRAGE\tREACHABLE")
		for _, n := range s.Nodes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", n.ID, n.RaftAddr, n.HTTPAddr, n.Suffrage, n.Reachable)
		}
		tw.Flush()
	})
}
