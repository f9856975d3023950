package edge

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are an edge's Prometheus collectors, in a registry of their own
// (as the hub's), served by Server at /metrics. The held-object and
// applied-sequence gauges read the state when scraped. A nil *Metrics
// counts nothing.
type Metrics struct {
	reg          *prometheus.Registry
	lastRound    atomic.Int64 // Unix time of the last network round that succeeded
	importErrors prometheus.Counter
	syncErrors   prometheus.Counter
	fetched      prometheus.Counter
}

// newMetrics registers the edge's series; view returns the current state.
func newMetrics(view func() (*state, error)) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	// The last sync is the later of the last network round that succeeded
	// (this process) and the last media import (any process: read from the
	// state), so an air-gapped edge's gauge moves with 'edge import'.
	lastSync := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eucora_edge_last_sync_timestamp_seconds",
		Help: "Unix time of the last exchange with the hub that succeeded: a network sync round or a media import (0: none).",
	}, func() float64 {
		t := m.lastRound.Load()
		if st, err := view(); err == nil && !st.LastMediaImport.IsZero() {
			t = max(t, st.LastMediaImport.Unix())
		}
		return float64(t)
	})
	m.importErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eucora_edge_import_errors_total", Help: "Hub bundles received over the network whose import was refused or failed.",
	})
	m.syncErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eucora_edge_sync_errors_total", Help: "Sync rounds with the hub that failed (push, pull or import).",
	})
	m.fetched = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eucora_edge_fetched_bytes_total", Help: "Object bytes downloaded from the hub.",
	})
	fromState := func(name, help string, f func(*state) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			st, err := view()
			if err != nil {
				return -1
			}
			return f(st)
		})
	}
	m.reg.MustRegister(lastSync, m.importErrors, m.syncErrors, m.fetched,
		fromState("eucora_edge_last_applied_sequence", "Sequence of the last hub bundle applied (-1: state unreadable).",
			func(st *state) float64 { return float64(st.Applied.Seq) }),
		fromState("eucora_edge_last_media_import_timestamp_seconds", "Unix time of the last bundle applied from media by 'edge import' (0: none; -1: state unreadable).",
			func(st *state) float64 {
				if st.LastMediaImport.IsZero() {
					return 0
				}
				return float64(st.LastMediaImport.Unix())
			}),
		fromState("eucora_edge_objects_held", "Objects the edge holds (-1: state unreadable).",
			func(st *state) float64 { return float64(len(st.Held)) }),
		fromState("eucora_edge_bytes_held", "Bytes of the objects the edge holds (-1: state unreadable).",
			func(st *state) float64 {
				var n int64
				for _, size := range st.Held {
					n += size
				}
				return float64(n)
			}),
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

func (m *Metrics) syncOK() {
	if m != nil {
		m.lastRound.Store(time.Now().Unix())
	}
}

func (m *Metrics) syncFailed() {
	if m != nil {
		m.syncErrors.Inc()
	}
}

func (m *Metrics) importFailed() {
	if m != nil {
		m.importErrors.Inc()
	}
}

func (m *Metrics) addFetched(n int64) {
	if m != nil && n > 0 {
		m.fetched.Add(float64(n))
	}
}
