package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// routeMetric holds the collectors of one (route, status) pair, resolved once: looking a child
// up by label values hashes them on every request, which shows on the hit path.
type routeMetric struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m routeMetric) observe(d time.Duration) {
	m.requests.Inc()
	m.duration.Observe(d.Seconds())
}

type routeKey struct {
	route  string
	status int
}

// routeMetrics returns the collectors for route and status. Routes are patterns (bounded), and
// statuses are HTTP codes, so the map stays small.
func (s *Server) routeMetrics(route string, status int) routeMetric {
	k := routeKey{route, status}
	if m, ok := s.metricCache.Load(k); ok {
		return m.(routeMetric)
	}
	m := routeMetric{
		requests: s.deps.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(status)),
		duration: s.deps.Metrics.HTTPDuration.WithLabelValues(route),
	}
	s.metricCache.Store(k, m)
	return m
}
