package server

import "github.com/prometheus/client_golang/prometheus"

// Register adds collectors kept elsewhere (the job queue's) to the
// registry /metrics serves.
func (m *Metrics) Register(cs ...prometheus.Collector) {
	m.reg.MustRegister(cs...)
}
