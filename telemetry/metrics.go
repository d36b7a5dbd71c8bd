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
	// CacheLookups counts response cache lookups by tier (l1, l2) and result (hit, stale, miss, error).
	CacheLookups *prometheus.CounterVec
	// SingleflightShared counts callers that received another caller's in-flight result.
	SingleflightShared prometheus.Counter
	// BreakerState is 0 closed, 1 half-open, 2 open, per dependency.
	BreakerState *prometheus.GaugeVec
	// BulkheadRejected counts calls refused by a full worker pool.
	BulkheadRejected *prometheus.CounterVec
	// RateLimitRejected counts requests refused by the rate limit.
	RateLimitRejected prometheus.Counter
	// ThreatBlocked counts requests refused by threat scoring or the block list.
	ThreatBlocked prometheus.Counter
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
		CacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neko_cache_lookups_total",
			Help: "Response cache lookups, by tier and result.",
		}, []string{"tier", "result"}),
		SingleflightShared: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "neko_singleflight_shared_total",
			Help: "Callers served by another caller's identical in-flight execution.",
		}),
		BreakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "neko_breaker_state",
			Help: "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.",
		}, []string{"dependency"}),
		BulkheadRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neko_bulkhead_rejected_total",
			Help: "Calls refused because a worker pool and its queue were full.",
		}, []string{"pool"}),
		RateLimitRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "neko_ratelimit_rejected_total",
			Help: "Requests refused by the distributed rate limit.",
		}),
		ThreatBlocked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "neko_threat_blocked_total",
			Help: "Requests refused by threat scoring or the shared block list.",
		}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration, m.StoreOperations, m.CacheLookups, m.SingleflightShared,
		m.BreakerState, m.BulkheadRejected, m.RateLimitRejected, m.ThreatBlocked,
	)
	return m
}

// GaugeFunc registers a gauge read from fn at scrape time (cache size, pool depth...).
func (m *Metrics) GaugeFunc(name, help string, labels prometheus.Labels, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, fn))
}

// CountStoreOperation records one database round trip. Its signature matches the callback the
// store's command monitor takes, so main can wire the two without an adapter.
func (m *Metrics) CountStoreOperation(collection, op string) {
	m.StoreOperations.WithLabelValues(collection, op).Inc()
}
