package server

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// Metrics are gitrelay's Prometheus metrics, on a registry of their own.
// Labels never carry user input beyond route patterns and fixed codes.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	actions  *prometheus.CounterVec
	build    *prometheus.GaugeVec
	hostReqs *prometheus.HistogramVec
	webhooks *prometheus.CounterVec
}

// NewMetrics builds the registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitrelay_http_requests_total", Help: "HTTP requests (API, pages, Forge remote, operational endpoints) by route pattern and status."}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitrelay_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 25}}, []string{"route"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitrelay_actions_total", Help: "Audited actions by action, outcome and acting identity."}, []string{"action", "outcome", "via", "code"}),
		build: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitrelay_build_info", Help: "Always 1; the labels say which build is running."}, []string{"version", "revision", "goversion"}),
		// Labels from fixed sets only (host kinds, operations, status
		// classes): never a URL, a repository or a token.
		hostReqs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gitrelay_host_request_duration_seconds",
			Help:    "Outbound requests (each attempt) to git hosts, Jira and Atlassian's keys, by kind of remote, operation and status class (error: no answer), until the answer's headers.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30}}, []string{"kind", "op", "status_class"}),
	}
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gitrelay_webhook_deliveries_total", Help: "Webhook deliveries by host kind and outcome (queued, ignored, missing, forged, unknown, malformed, too_large, error)."}, []string{"kind", "outcome"})
	m.reg.MustRegister(m.requests, m.duration, m.actions, m.build, m.hostReqs, m.webhooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) observeRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// setBuildInfo labels gitrelay_build_info with version (the one the
// binary reports; the module version from the build info when empty), the
// VCS revision and the Go version it was built with.
func (m *Metrics) setBuildInfo(version string) {
	revision, goVersion := "unknown", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" {
			version = bi.Main.Version
		}
		for _, st := range bi.Settings {
			if st.Key == "vcs.revision" && st.Value != "" {
				revision = st.Value
			}
		}
	}
	if version == "" {
		version = "unknown"
	}
	m.build.Reset()
	m.build.WithLabelValues(version, revision, goVersion).Set(1)
}

// ObserveAction counts an audited action; pass it as action.Config.Observe.
func (m *Metrics) ObserveAction(e relay.AuditEvent) {
	m.actions.WithLabelValues(e.Action, e.Outcome, string(e.Via), e.ErrorCode).Inc()
}

// ObserveHostRequest measures one outbound request; pass it as
// host.ClientConfig.Observe.
func (m *Metrics) ObserveHostRequest(o host.Observation) {
	m.hostReqs.WithLabelValues(o.Kind, o.Op, o.StatusClass).Observe(o.Duration.Seconds())
}

// CollectPools exports the database connection pools' statistics, read
// from pools at each scrape.
func (m *Metrics) CollectPools(pools func() []store.Pool) {
	m.reg.MustRegister(poolCollector(pools))
}

var (
	poolOpen = prometheus.NewDesc("gitrelay_db_open_connections",
		"Connections open in the database pool, in use or idle.", []string{"pool"}, nil)
	poolMaxOpen = prometheus.NewDesc("gitrelay_db_max_open_connections",
		"The most connections the database pool may open.", []string{"pool"}, nil)
	poolInUse = prometheus.NewDesc("gitrelay_db_in_use_connections",
		"Connections of the database pool in use.", []string{"pool"}, nil)
	poolIdle = prometheus.NewDesc("gitrelay_db_idle_connections",
		"Idle connections of the database pool.", []string{"pool"}, nil)
	poolWaits = prometheus.NewDesc("gitrelay_db_wait_count_total",
		"Times a query waited for a connection of the database pool.", []string{"pool"}, nil)
	poolWaited = prometheus.NewDesc("gitrelay_db_wait_duration_seconds_total",
		"Time spent waiting for a connection of the database pool.", []string{"pool"}, nil)
)

// poolCollector reads database/sql's statistics at each scrape.
type poolCollector func() []store.Pool

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolOpen, poolMaxOpen, poolInUse, poolIdle, poolWaits, poolWaited} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c() {
		st := p.Stats
		ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(st.OpenConnections), p.Name)
		ch <- prometheus.MustNewConstMetric(poolMaxOpen, prometheus.GaugeValue, float64(st.MaxOpenConnections), p.Name)
		ch <- prometheus.MustNewConstMetric(poolInUse, prometheus.GaugeValue, float64(st.InUse), p.Name)
		ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(st.Idle), p.Name)
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(st.WaitCount), p.Name)
		ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, st.WaitDuration.Seconds(), p.Name)
	}
}
