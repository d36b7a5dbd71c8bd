// Package telemetry owns the process's observability plumbing: the Prometheus registry with every
// metric named in DESIGN.md, and the slog logger. Other packages receive the pieces they need as
// plain values (a counter, a logger); nothing here is global, so tests can build as many
// independent servers as they like in one process.
package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the registry and the collectors the server updates. The names are part of the
// external contract (DESIGN.md): dashboards and alerts depend on them.
type Metrics struct {
	// Registry is private to this Metrics value, never prometheus.DefaultRegisterer.
	Registry *prometheus.Registry

	// HTTPRequests counts finished HTTP requests by route pattern and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration observes request latency in seconds by route pattern.
	HTTPDuration *prometheus.HistogramVec
	// StoreOperations counts every database round trip by collection and command.
	StoreOperations *prometheus.CounterVec
}

// NewMetrics builds a fresh registry with the Go runtime and process collectors and the neko metrics.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neko_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "status"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "neko_http_request_duration_seconds",
			Help:    "HTTP request latency in seconds, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		StoreOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neko_store_operations_total",
			Help: "Database round trips, by collection and command.",
		}, []string{"collection", "op"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration, m.StoreOperations,
	)
	return m
}

// CountStoreOperation records one database round trip. Its signature matches the callback the
// store's command monitor takes, so main can wire the two without an adapter.
func (m *Metrics) CountStoreOperation(collection, op string) {
	m.StoreOperations.WithLabelValues(collection, op).Inc()
}
