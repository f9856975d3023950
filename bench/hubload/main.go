// Command hubload is the load generator of bench/hub-events.sh: it posts
// batches of audit events to POST /v1/events:batch through one or more hub
// nodes, prints events/s and per-batch latency percentiles, then checks
// that every event was stored exactly once.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

func main() {
	hubs := flag.String("hubs", "http://127.0.0.1:8440", "comma-separated hub URLs; batches go round-robin")
	token := flag.String("token", os.Getenv("EUCORA_TOKEN"), "token (platform-admin or endpoint-ops)")
	origin := flag.String("origin", "bench", "origin site name prefix: sender w posts as site ORIGIN-w, in sequence order, like one edge each")
	total := flag.Int("events", 200000, "events to send")
	size := flag.Int("batch", 1000, "events per batch")
	conc := flag.Int("concurrency", 8, "concurrent senders")
	label := flag.String("label", "", "label printed with the results")
	flag.Parse()
	urls := strings.Split(*hubs, ",")
	ctx := context.Background()
	admin := client.New(urls[0], *token)
	origins := make([]string, *conc)
	for w := range origins {
		origins[w] = fmt.Sprintf("%s-%d", *origin, w)
		if _, err := admin.CreateSite(ctx, api.SiteRequest{Name: origins[w], Class: "online"}); err != nil && !strings.Contains(err.Error(), "409") {
			fail("create site: %v", err)
		}
	}
	startCursor := lastCursor(ctx, admin)
	perSender := *total / *size / *conc
	batches := perSender * *conc
	var mu sync.Mutex
	var lat []time.Duration
	var accepted, dups atomic.Int64
	now := time.Now().UTC()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := client.New(urls[w%len(urls)], *token)
			for b := 0; b < perSender; b++ {
				body := api.EventsIngest{Origin: origins[w], Events: make([]api.IngestEvent, *size)}
				for i := range body.Events {
					seq := uint64(b**size + i + 1)
					body.Events[i] = api.IngestEvent{Sequence: seq, ID: fmt.Sprintf("%s-%d", origins[w], seq), Time: now,
						Actor: "apt", Action: "package.install", Object: "pkg/curl", Outcome: "ok"}
				}
				for try := 0; ; try++ {
					t0 := time.Now()
					r, err := c.IngestEvents(ctx, body)
					if err == nil {
						mu.Lock()
						lat = append(lat, time.Since(t0))
						mu.Unlock()
						accepted.Add(int64(r.Accepted))
						dups.Add(int64(r.Duplicates))
						break
					}
					if try > 50 {
						fail("batch %d: %v", b, err)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	sent := batches * *size
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	fmt.Printf("%-8s nodes=%d events=%d batch=%d concurrency=%d: %.0f events/s, batch latency p50=%s p99=%s\n",
		*label, len(urls), sent, *size, *conc, float64(sent)/elapsed.Seconds(),
		pct(0.50).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond))

	// Exactly once: resend one batch (all duplicates), then count.
	body := api.EventsIngest{Origin: origins[0], Events: []api.IngestEvent{{Sequence: 1, Time: now, Action: "package.install", Outcome: "ok"}}}
	if r, err := admin.IngestEvents(ctx, body); err != nil || r.Duplicates != 1 {
		fail("resent event not deduplicated: %+v %v", r, err)
	}
	type key struct {
		origin string
		seq    uint64
	}
	mine := map[string]bool{}
	for _, o := range origins {
		mine[o] = true
	}
	seen := make(map[key]bool, sent)
	after := fmt.Sprint(startCursor)
	for {
		p, err := admin.Events(ctx, after, 10000)
		if err != nil {
			fail("read back: %v", err)
		}
		for _, e := range p.Events {
			if !mine[e.Origin] {
				continue
			}
			k := key{e.Origin, e.Sequence}
			if seen[k] {
				fail("event %s/%d stored twice", e.Origin, e.Sequence)
			}
			seen[k] = true
		}
		if len(p.Events) < 10000 {
			break
		}
		after = p.Next
	}
	if len(seen) != sent || accepted.Load() != int64(sent) {
		fail("stored %d, accepted %d, sent %d", len(seen), accepted.Load(), sent)
	}
	fmt.Printf("%-8s exactly once: %d sent, %d stored, %d duplicates on retry\n", *label, sent, len(seen), dups.Load())
}

func lastCursor(ctx context.Context, c *client.Client) uint64 {
	var cur uint64
	after := "0"
	for {
		p, err := c.Events(ctx, after, 10000)
		if err != nil {
			fail("events: %v", err)
		}
		if len(p.Events) == 0 {
			return cur
		}
		cur = p.Events[len(p.Events)-1].Cursor
		after = p.Next
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hubload: "+format+"\n", args...)
	os.Exit(1)
}
