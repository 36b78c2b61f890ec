package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitrelay/gitrelay/internal/store"
)

// metrics are the job queue's Prometheus metrics: how many jobs wait in
// each state, read from the database when scraped (so every replica reports
// the whole queue), and how many attempts failed in this process.
type metrics struct {
	db       *store.DB
	depth    *prometheus.Desc
	failures *prometheus.CounterVec
}

// scrapeTimeout bounds the count a scrape makes.
const scrapeTimeout = 5 * time.Second

func newMetrics(db *store.DB) *metrics {
	return &metrics{
		db: db,
		depth: prometheus.NewDesc("gitrelay_jobs_queue_depth",
			"Background jobs in the queue by kind and state (available, scheduled, running, retryable, …), across every replica.",
			[]string{"kind", "state"}, nil),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitrelay_jobs_failures_total",
			Help: "Background job attempts that failed in this process, by kind (River retries them with backoff).",
		}, []string{"kind"}),
	}
}

func (m *metrics) failed(kind string) { m.failures.WithLabelValues(kind).Inc() }

// Collectors are the job queue's metrics, for the server's registry.
func (r *Runner) Collectors() []prometheus.Collector {
	return []prometheus.Collector{depthCollector{r.metrics}, r.metrics.failures}
}

type depthCollector struct{ m *metrics }

func (c depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.depth }

func (c depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	counts, err := c.m.db.JobCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.m.depth, err)
		return
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.m.depth, prometheus.GaugeValue, float64(n.Count), n.Kind, n.State)
	}
}
