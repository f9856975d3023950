// Command table prints the conformance table, or the connector benchmark
// table, from the JSON lines conformance.Run or conformance.Bench appended
// to a file (conformance.OutEnv, conformance.BenchOutEnv).
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
	var bs []conformance.BenchResult
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &probe); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		if _, bench := probe["concurrent"]; bench {
			var r conformance.BenchResult
			json.Unmarshal(sc.Bytes(), &r)
			bs = append(bs, r)
			continue
		}
		var r conformance.Result
		json.Unmarshal(sc.Bytes(), &r)
		rs = append(rs, r)
	}
	if len(bs) > 0 {
		fmt.Print(conformance.BenchTable(bs))
		return
	}
	fmt.Print(conformance.Table(rs))
	for _, r := range rs {
		if r.Passed+r.Skipped != r.Cases || r.Duplicates != 0 {
			os.Exit(1)
		}
	}
}
