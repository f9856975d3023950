package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
)

// BenchResult is one line of `make bench-connectors`.
type BenchResult struct {
	Plane      connectors.Kind `json:"plane"`
	Concurrent int             `json:"concurrent"`
	Publishes  int             `json:"publishes"`
	Failed     int             `json:"failed"`
	Duplicates int             `json:"duplicates"`
	// CallsPerPublish is the plane's calls per publish under faults;
	// MinCalls those of one publish with no faults, the protocol's need.
	CallsPerPublish float64       `json:"calls_per_publish"`
	MinCalls        int           `json:"min_calls"`
	P50             time.Duration `json:"p50_ns"`
	P99             time.Duration `json:"p99_ns"`
}

// BenchOutEnv names a file Bench appends its results to as JSON lines.
const BenchOutEnv = "EUCORA_BENCH_OUT"

// Bench publishes n versions of an application to p's simulator with 10%
// of requests answered 429 (no Retry-After) and 1% of connections dropped
// mid-body, one at a time and then from concurrent workers, and reports
// calls per publish, duplicates and publish latency. It is a benchmark,
// not a test: no timing is asserted.
func Bench(b *testing.B, p Plane, n, concurrent int) {
	for range b.N {
		for _, workers := range []int{1, concurrent} {
			r := benchOnce(b, p, n, workers)
			b.ReportMetric(r.CallsPerPublish, "calls/publish")
			b.ReportMetric(float64(r.Duplicates), "duplicates")
			if out := os.Getenv(BenchOutEnv); out != "" {
				line, _ := json.Marshal(r)
				f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				if err != nil {
					b.Fatal(err)
				}
				f.Write(append(line, '\n'))
				f.Close()
			}
		}
	}
}

func benchOnce(b *testing.B, p Plane, n, workers int) BenchResult {
	s, mk := p.Start(b)
	res := BenchResult{Plane: p.Kind, Concurrent: workers, Publishes: n}
	ctx := ctxT(b)
	c := connectors.WithRetry(mk(), fast)
	// One clean publish: what the protocol needs.
	s.Faults().ResetCalls()
	if _, err := c.Publish(ctx, p.Release(b, key("bench-min", "0", deploy.Ring1Canary), "corr-bench-min")); err != nil {
		b.Fatalf("clean publish: %v", err)
	}
	res.MinCalls, _ = s.Faults().Calls()
	s.Faults().Add(sim.Fault{Every: 10, Status: 429})
	s.Faults().Add(sim.Fault{Every: 100, DropMidBody: true})
	s.Faults().ResetCalls()
	releases := make([]connectors.Release, n)
	for i := range releases {
		releases[i] = p.Release(b, key("bench", fmt.Sprintf("1.%d", i), deploy.Ring1Canary), fmt.Sprintf("corr-bench-%d", i))
	}
	times := make([]time.Duration, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := 0
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				start := time.Now()
				pctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				_, err := c.Publish(pctx, releases[i])
				cancel()
				times[i] = time.Since(start)
				if err != nil {
					mu.Lock()
					res.Failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	calls, _ := s.Faults().Calls()
	res.CallsPerPublish = float64(calls) / float64(n)
	for _, r := range releases {
		objs, asg := s.Count(r.Key)
		res.Duplicates += max(objs-1, 0) + max(asg-len(r.Targets), 0)
	}
	slices.Sort(times)
	res.P50, res.P99 = times[n/2], times[min(n-1, n*99/100)]
	return res
}

// BenchTable renders bench results.
func BenchTable(rs []BenchResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %10s %9s %6s %11s %14s %9s %6s %10s %10s\n",
		"plane", "concurrent", "publishes", "failed", "duplicates", "calls/publish", "min calls", "ratio", "p50", "p99")
	for _, r := range rs {
		ratio := 0.0
		if r.MinCalls > 0 {
			ratio = r.CallsPerPublish / float64(r.MinCalls)
		}
		fmt.Fprintf(&b, "%-10s %10d %9d %6d %11d %14.1f %9d %6.2f %10s %10s\n", r.Plane, r.Concurrent, r.Publishes, r.Failed, r.Duplicates,
			r.CallsPerPublish, r.MinCalls, ratio, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	}
	return b.String()
}
