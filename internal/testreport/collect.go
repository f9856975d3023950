package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail
}

// Summary counts tests (subtests included) by outcome.
type Summary struct {
	Passed, Failed, Skipped int
	PackagesFailed          int
	Skips                   []string // "pkg TestName: reason", sorted
}

type collector struct {
	sum    Summary
	output map[string][]string // pkg + " " + test -> output lines so far
}

func (c *collector) add(line []byte, w io.Writer) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	if line[0] != '{' {
		// go test prints some errors (e.g. a bad package pattern) as text.
		fmt.Fprintf(w, "%s\n", line)
		return nil
	}
	var e event
	if err := json.Unmarshal(line, &e); err != nil {
		return fmt.Errorf("not go test -json output: %w: %.200q", err, line)
	}
	if c.output == nil {
		c.output = map[string][]string{}
	}
	key := e.Package + " " + e.Test
	switch e.Action {
	case "build-output":
		fmt.Fprint(w, e.Output)
	case "build-fail":
		c.sum.PackagesFailed++
	case "output":
		if e.Test == "" {
			// Package-level lines: the "ok pkg 1.2s" / "FAIL pkg" result,
			// and anything a crashing test binary printed.
			if o := e.Output; o != "PASS\n" && o != "FAIL\n" && !strings.HasPrefix(o, "=== ") {
				fmt.Fprint(w, o)
			}
			return nil
		}
		c.output[key] = append(c.output[key], e.Output)
	case "pass", "fail", "skip":
		if e.Test == "" {
			if e.Action == "fail" {
				c.sum.PackagesFailed++
			}
			return nil
		}
		out := c.output[key]
		delete(c.output, key)
		switch e.Action {
		case "pass":
			c.sum.Passed++
		case "fail":
			c.sum.Failed++
			for _, o := range out {
				if !strings.HasPrefix(o, "=== ") {
					fmt.Fprint(w, o)
				}
			}
		case "skip":
			c.sum.Skipped++
			c.sum.Skips = append(c.sum.Skips, e.Package+" "+e.Test+": "+skipReason(out))
		}
	}
	return nil
}

// skipReason is the message the test gave t.Skip, without the file:line
// prefix, or "(no reason given)".
func skipReason(out []string) string {
	var msg []string
	for _, o := range out {
		t := strings.TrimSpace(o)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		if i := strings.Index(t, ": "); i > 0 && strings.Contains(t[:i], ".go:") {
			t = t[i+2:]
		} else if strings.HasSuffix(t, ":") && strings.Contains(t, ".go:") && !strings.Contains(t, " ") {
			continue // t.Skip() with no message: only the file:line prefix
		}
		msg = append(msg, t)
	}
	if len(msg) == 0 {
		return "(no reason given)"
	}
	return strings.Join(msg, " / ")
}

func (c *collector) finish(w io.Writer) {
	sort.Strings(c.sum.Skips)
	if len(c.sum.Skips) > 0 {
		fmt.Fprintf(w, "\nskipped tests:\n")
		for _, s := range c.sum.Skips {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if c.sum.PackagesFailed > 0 {
		fmt.Fprintf(w, "\n%d package(s) failed", c.sum.PackagesFailed)
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", c.sum.Passed, c.sum.Failed, c.sum.Skipped)
}
