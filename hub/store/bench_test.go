package store

import (
	"fmt"
	"testing"
)

// BenchmarkIngestBatch applies 1000-event batches through the FSM.
func BenchmarkIngestBatch(b *testing.B) {
	for _, rule := range []int{ChainRuleLegacy, ChainRuleCanonical} {
		b.Run(fmt.Sprint("rule", rule), func(b *testing.B) { benchmarkIngestBatch(b, rule) })
	}
}

func benchmarkIngestBatch(b *testing.B, rule int) {
	f, _ := mustOpenFSM(b, b.TempDir())
	idx := uint64(0)
	if rule == ChainRuleCanonical {
		idx++
		f.Apply(entry(b, idx, chainRuleCmd(b)))
	}
	for i := 0; i < b.N; i++ {
		body := EventsIngestBody{Origin: "edge", Events: make([]IngestEvent, 1000)}
		for j := range body.Events {
			body.Events[j] = IngestEvent{Sequence: uint64(i*1000 + j + 1), ID: "x", Time: t0, Actor: "apt", Action: "package.install", Object: "pkg/curl", Outcome: "ok"}
		}
		r := f.Apply(entry(b, idx+uint64(i+1), cmdOf(b, CmdEventsIngest, body, i)))
		if r.(Result).Err != nil {
			b.Fatal(r)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
