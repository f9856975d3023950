// Command testreport reads `go test -json` on standard input and prints what
// a person needs from a whole-repository run: each package's result line,
// the full output of every failed test, build errors, one line per skipped
// test with its reason, and a closing count:
//
//	412 passed, 0 failed, 3 skipped
//
// It exits 1 when any test or package failed, or when the stream is not
// test2json output. `make test` pipes `go test -json` through it.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

func main() {
	sum, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
	if sum.Failed > 0 || sum.PackagesFailed > 0 {
		os.Exit(1)
	}
}

// report copies the essential part of a test2json stream from r to w and
// returns the counts.
func report(r io.Reader, w io.Writer) (Summary, error) {
	var c collector
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		if err := c.add(sc.Bytes(), w); err != nil {
			return c.sum, err
		}
	}
	if err := sc.Err(); err != nil {
		return c.sum, fmt.Errorf("reading go test -json: %w", err)
	}
	c.finish(w)
	return c.sum, nil
}
