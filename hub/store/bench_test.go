package store

import (
	"testing"
)

// BenchmarkIngestBatch applies 1000-event batches through the FSM.
func BenchmarkIngestBatch(b *testing.B) {
	f, _ := mustOpenFSM(b, b.TempDir())
	for i := 0; i < b.N; i++ {
		body := EventsIngestBody{Origin: "edge", Events: make([]IngestEvent, 1000)}
		for j := range body.Events {
			body.Events[j] = IngestEvent{Sequence: uint64(i*1000 + j + 1), ID: "x", Time: t0, Actor: "apt", Action: "package.install", Object: "pkg/curl", Outcome: "ok"}
		}
		r := f.Apply(entry(b, uint64(i+1), cmdOf(b, CmdEventsIngest, body, i)))
		if r.(Result).Err != nil {
			b.Fatal(r)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
