package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// peakMeter samples the Go heap and reads the process's peak RSS (VmHWM,
// reset through /proc/self/clear_refs where the kernel allows it).
type peakMeter struct {
	stop chan struct{}
	done chan struct{}
	heap atomic.Uint64
}

func startPeak() *peakMeter {
	runtime.GC()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	m := &peakMeter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			rtmetrics.Read(s)
			if v := s[0].Value.Uint64(); v > m.heap.Load() {
				m.heap.Store(v)
			}
			select {
			case <-m.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return m
}

func (m *peakMeter) report(b *testing.B, label string) {
	close(m.stop)
	<-m.done
	rss := 0.0
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				rss = kb / 1024
			}
		}
	}
	heap := float64(m.heap.Load()) / (1 << 20)
	b.ReportMetric(heap, "peak-heap-MiB")
	b.ReportMetric(rss, "peak-rss-MiB")
	fmt.Printf("%s: peak Go heap %.0f MiB, peak RSS of the process (hub + generating clients) %.0f MiB\n", label, heap, rss)
}

// genReader yields prefix, then n bytes of fill, then suffix, without
// holding them: the clients cost no memory.
func genReader(prefix string, fill byte, n int64, suffix string) io.Reader {
	block := bytes.Repeat([]byte{fill}, 64<<10)
	return io.MultiReader(strings.NewReader(prefix), &repeatReader{block: block, left: n}, strings.NewReader(suffix))
}

type repeatReader struct {
	block []byte
	left  int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.block[:min(int64(len(r.block)), r.left)])
	r.left -= int64(n)
	return n, nil
}

// eventsReader yields one events:batch body of count events, each padded
// so the body is about size bytes.
func eventsReader(origin string, count int, size int64) io.Reader {
	pad := strings.Repeat("x", int(size/int64(count))-150)
	i := 0
	var buf bytes.Buffer
	buf.WriteString(`{"origin":"` + origin + `","events":[`)
	return readerFunc(func(p []byte) (int, error) {
		for buf.Len() < len(p) && i <= count {
			switch {
			case i == count:
				buf.WriteString("]}")
			default:
				if i > 0 {
					buf.WriteByte(',')
				}
				fmt.Fprintf(&buf, `{"sequence":%d,"id":"e-%d","time":"2026-11-28T12:00:00Z","action":"package.install","object":"pkg/x","outcome":"ok","data":{"pad":"%s"}}`, i+1, i, pad)
			}
			i++
		}
		if buf.Len() == 0 {
			return 0, io.EOF
		}
		return buf.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func post(ctx context.Context, url, token string, body io.Reader) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// BenchmarkLargeBodiesPeakMemory prints the hub's peak memory under 3
// concurrent 250 MiB import requests by an authorised endpoint-ops token
// (a real signed edge envelope, one record value of 250 MiB) and under 4
// concurrent 30 MiB events:batch requests (20,000 events each, applied).
// Run: go test -run '^$' -bench LargeBodiesPeakMemory -benchtime 1x ./hub
func BenchmarkLargeBodiesPeakMemory(b *testing.B) {
	nodes, admin := makeCluster(b, 1, clusterOpts{RealRaft: true}) // the production path: memory is what is measured
	n := nodes[0]
	ctx := context.Background()
	ac := cli(n, admin)
	hk, err := ac.HubKey(ctx)
	if err != nil {
		b.Fatal(err)
	}
	hubPub, _ := signing.ParsePublic([]byte(hk.PublicPEM), "hub key")
	lon, err := edge.Init(b.TempDir(), "lon", hubPub)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ac.CreateSite(ctx, api.SiteRequest{Name: "lon", Class: api.ClassOnline, EdgeKeyPEM: string(signing.EncodePublic(lon.PublicKey()))}); err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	if _, err := lon.Export(ctx, out, edge.ExportOptions{}); err != nil {
		b.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	good, sg, err := importRequest(ctx, files, signing.NewTrust(lon.PublicKey()), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	var listed string
	for _, rc := range sg.Manifest.Records {
		if rc.Type == transfer.RecordReceipt {
			listed = rc.Digest.Hex()
		}
	}
	env, _ := json.Marshal(good.Envelope)
	for i := 1; i <= 4; i++ {
		if _, err := ac.CreateSite(ctx, api.SiteRequest{Name: "ev" + strconv.Itoa(i), Class: api.ClassOnline}); err != nil {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, label string, k int, req func(i int) (string, io.Reader)) {
		m := startPeak()
		var wg sync.WaitGroup
		for i := 0; i < k; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				path, body := req(i)
				st, err := post(ctx, n.url()+path, admin, body)
				if os.Getenv("BENCH_VERBOSE") != "" {
					fmt.Printf("  %s #%d: %d %v\n", label, i, st, err)
				}
			}(i)
		}
		wg.Wait()
		m.report(b, label)
	}
	// Run one sub-benchmark per process (-bench LargeBodiesPeakMemory/imports)
	// for a peak RSS of that scenario alone where clear_refs is refused.
	b.Run("imports", func(b *testing.B) {
		for it := 0; it < b.N; it++ {
			run(b, "3 concurrent 250 MiB imports", 3, func(int) (string, io.Reader) {
				return "/v1/sites/lon/imports", genReader(`{"envelope":`+string(env)+`,"records":{"`+listed+`":"`, 'A', 250<<20, `"}}`)
			})
		}
	})
	b.Run("events", func(b *testing.B) {
		for it := 0; it < b.N; it++ {
			run(b, "4 concurrent 30 MiB event batches", 4, func(i int) (string, io.Reader) {
				return "/v1/events:batch", eventsReader("ev"+strconv.Itoa(i+1), 20000, 30<<20)
			})
		}
	})
}
