package hub

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
)

// metrics are one node's Prometheus collectors, in a registry of their own
// so several nodes can run in one process (tests).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	apply    prometheus.Histogram
	fsmApply prometheus.Histogram

	deniedDropped prometheus.Counter
	deniedFolded  prometheus.Counter

	planeCalls       *prometheus.CounterVec
	evidenceFailures prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eucora_hub_http_requests_total", Help: "API requests by route and status code.",
	}, []string{"route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "eucora_hub_http_request_duration_seconds", Help: "API request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route"})
	m.apply = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "eucora_hub_raft_apply_duration_seconds", Help: "Time from proposing a command to its apply on the leader.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
	m.fsmApply = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "eucora_hub_fsm_apply_batch_duration_seconds", Help: "Time the state machine spends applying one batch of entries.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	m.deniedDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eucora_hub_denied_events_dropped_total", Help: "Denied or refused anonymous requests not recorded as audit events because the per-node budget for anonymous denials was exceeded.",
	})
	m.deniedFolded = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eucora_hub_denied_events_aggregated_total", Help: "Denials by authenticated callers over their per-caller budget, recorded in a per-caller aggregate audit event instead of one event each.",
	})
	m.planeCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eucora_hub_plane_calls_total", Help: "Execution-plane connector operations as the caller saw them (after retries), by plane, operation and outcome: ok, throttled (the plane answered 429), or the failure class.",
	}, []string{"plane", "op", "outcome"})
	m.evidenceFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eucora_hub_evidence_store_failures_total", Help: "Evidence packs the evidence store could not write (publish and promotion refused meanwhile).",
	})
	m.reg.MustRegister(m.requests, m.latency, m.apply, m.fsmApply, m.deniedDropped, m.deniedFolded, m.planeCalls, m.evidenceFailures,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) register(st *store.Store) {
	m.reg.MustRegister(newSiteCollector(st))
	gauge := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	gauge("eucora_hub_raft_state", "Raft state: 0 follower, 1 candidate, 2 leader, 3 shutdown.", func() float64 { return float64(st.RaftState()) })
	gauge("eucora_hub_raft_has_leader", "1 when this node knows a Raft leader.", func() float64 {
		_, id := st.Leader()
		return b2f(id != "")
	})
	gauge("eucora_hub_raft_term", "Current Raft term.", func() float64 { return float64(st.Status().Term) })
	gauge("eucora_hub_raft_commit_index", "Raft commit index.", func() float64 { return float64(st.Status().CommitIndex) })
	gauge("eucora_hub_raft_applied_index", "Raft applied index.", func() float64 { return float64(st.Status().AppliedIndex) })
	gauge("eucora_hub_fsm_halted", "1 when the state machine halted on an unsupported command.", func() float64 {
		if st.FSM().Halted() != nil {
			return 1
		}
		return 0
	})
}

// planeCall counts one connector operation.
func (m *metrics) planeCall(plane, op string, c connectors.Call) {
	outcome := c.Outcome
	switch {
	case outcome == "ok":
	case c.Status == http.StatusTooManyRequests:
		outcome = "throttled"
	case c.Class != "":
		outcome = c.Class
	}
	m.planeCalls.WithLabelValues(plane, op, outcome).Inc()
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// siteCollector exports each site's sync state from this node's replica,
// read at scrape time: what central operations alert on (a site past its
// time to compliance, a broken event chain).
type siteCollector struct {
	st                                                   *store.Store
	staleness, ttc, stale, exported, applied, events, ok *prometheus.Desc
}

func newSiteCollector(st *store.Store) *siteCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"site", "class"}, nil)
	}
	return &siteCollector{st: st,
		staleness: d("eucora_site_staleness_seconds", "Seconds since the site's last receipt (since enrolment before any)."),
		ttc:       d("eucora_site_time_to_compliance_seconds", "The site class's time to compliance (24h, 72h, 7d)."),
		stale:     d("eucora_site_stale", "1 when the site is past its class's time to compliance."),
		exported:  d("eucora_site_last_exported_sequence", "Sequence of the last bundle exported to the site."),
		applied:   d("eucora_site_last_applied_sequence", "Highest hub bundle sequence the site's receipts say it applied."),
		events:    d("eucora_site_events_received_total", "Site audit events merged into the hub's log."),
		ok:        d("eucora_site_chain_ok", "1 while the site's event chain verifies."),
	}
}

func (c *siteCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.staleness, c.ttc, c.stale, c.exported, c.applied, c.events, c.ok} {
		ch <- d
	}
}

func (c *siteCollector) Collect(ch chan<- prometheus.Metric) {
	sites, err := c.st.State().Sites()
	if err != nil {
		return
	}
	now := time.Now()
	for _, site := range sites {
		ss, err := c.st.State().SiteSync(site.Name)
		if err != nil {
			continue
		}
		since := site.CreatedAt
		if !ss.LastReceiptAt.IsZero() {
			since = ss.LastReceiptAt
		}
		age := now.Sub(since)
		ttc, _ := deploy.TimeToCompliance(deploy.SiteClass(site.Class))
		var exported float64
		if ss.LastExport != nil {
			exported = float64(ss.LastExport.Sequence)
		}
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, site.Name, site.Class)
		}
		g(c.staleness, age.Seconds())
		g(c.ttc, ttc.Seconds())
		g(c.stale, b2f(age > ttc))
		g(c.exported, exported)
		g(c.applied, float64(ss.LastAppliedSeq))
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(ss.EventsReceived), site.Name, site.Class)
		g(c.ok, b2f(ss.ChainError == ""))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
