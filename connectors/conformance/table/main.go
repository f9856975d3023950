// Command table prints the conformance table from the JSON lines
// conformance.Run appended to a file (see conformance.OutEnv).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/eucora/eucora/connectors/conformance"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: table FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	var rs []conformance.Result
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r conformance.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		rs = append(rs, r)
	}
	fmt.Print(conformance.Table(rs))
	for _, r := range rs {
		if r.Passed+r.Skipped != r.Cases || r.Duplicates != 0 {
			os.Exit(1)
		}
	}
}
