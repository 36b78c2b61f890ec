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

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Metrics are gitrelay's Prometheus metrics, on a registry of their own.
// Labels never carry user input beyond route patterns and fixed codes.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	actions  *prometheus.CounterVec
	build    *prometheus.GaugeVec
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
	}
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gitrelay_webhook_deliveries_total", Help: "Webhook deliveries by host kind and outcome (queued, ignored, missing, forged, unknown, malformed, too_large, error)."}, []string{"kind", "outcome"})
	m.reg.MustRegister(m.requests, m.duration, m.actions, m.build, m.webhooks,
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
