package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

// Governance commands talk to the hub's governance API (docs/api.md,
// "Governance"). The hub records the caller (token name) as packager,
// requester or approver and judges every rule; a policy refusal exits 24
// (denied) with every failed rule.

// readDoc reads the JSON document --flag names: a file, or '-' (stdin).
func readDoc(c *cli.Context, flag, path string) ([]byte, error) {
	if path == "" {
		return nil, usageErrorf("--%s is required (a JSON file, or '-' for stdin)", flag)
	}
	var b []byte
	var err error
	if path == "-" {
		r := c.App.Reader
		if r == nil {
			r = os.Stdin
		}
		b, err = io.ReadAll(io.LimitReader(r, deploy.MaxDocumentSize+1))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("--%s %s: %w", flag, path, &deploy.FieldError{Field: "body", Msg: "not a JSON document"})
	}
	return b, nil
}

func printDecision(w io.Writer, d api.Decision) {
	verdict := "ALLOWED"
	if !d.Allowed {
		verdict = "DENIED"
	}
	model := ""
	if d.ModelVersion != "" {
		model = ", risk model " + d.ModelVersion
	}
	fmt.Fprintf(w, "%s %s %s by %s (%s) at %s%s [decision %s]\n", verdict, d.Kind, d.Subject, d.Principal.ID, d.Principal.Role,
		d.At.Format(time.RFC3339), model, d.ID)
	tw := table(w)
	fmt.Fprintln(tw, "RULE\tPASS\tREASON")
	for _, ck := range d.Decision.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ck.Rule, yesNo(ck.Pass), ck.Reason)
	}
	tw.Flush()
}
