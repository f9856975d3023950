package sccm

import (
	"flag"
	"os"
	"testing"
)

// TestMain caps how long the fuzzer minimises a new input at 5 s unless
// -test.fuzzminimizetime is given: encoding/xml reads an SDM package in
// about 80 µs, so Go's default of 60 s per input would take a whole
// short fuzz run (make fuzz) for minimising.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		flag.Set("test.fuzzminimizetime", "5s")
	}
	os.Exit(m.Run())
}
