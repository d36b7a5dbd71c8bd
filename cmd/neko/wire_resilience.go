package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/telemetry"
)

// Resilience configures admission control and failure isolation: the database's bulkheads and
// circuit breaker, load shedding, and the drain before a graceful shutdown.
type Resilience struct {
	PointReadWorkers int           // NEKO_DB_POOL_POINT_READ; 0 (default) derives 40% of MONGODB_MAX_POOL_SIZE
	ListReadWorkers  int           // NEKO_DB_POOL_LIST_READ; 0 derives 25%
	AggregateWorkers int           // NEKO_DB_POOL_AGGREGATE; 0 derives 15%
	WriteWorkers     int           // NEKO_DB_POOL_WRITE; 0 derives 20% (every derived pool has at least 2)
	QueueTimeout     time.Duration // NEKO_DB_QUEUE_TIMEOUT, longest wait for a database slot, default 100ms
	BreakerFailures  int           // NEKO_BREAKER_FAILURES, consecutive database failures that open the breaker, default 5
	BreakerTimeout   time.Duration // NEKO_BREAKER_TIMEOUT, how long the open breaker refuses before probing, default 5s
	MaxInFlight      int           // NEKO_MAX_IN_FLIGHT, requests in flight before shedding with 503, default 1000
	DrainDelay       time.Duration // NEKO_DRAIN_DELAY, how long to keep serving with /ready at 503 after SIGTERM; default 5s in production, 0 in development
}

// loadResilience reads the Resilience settings through getenv.
func loadResilience(getenv func(string) string, production bool) (Resilience, error) {
	var errs []error
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	count := func(k string, def, least int) int {
		v := get(k, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n < least {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer >= %d", k, v, least))
		}
		return n
	}
	dur := func(k string, def, least time.Duration) time.Duration {
		v := get(k, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d < least {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration >= %v such as 5s", k, v, least))
		}
		return d
	}
	drain := time.Duration(0)
	if production {
		drain = 5 * time.Second
	}
	r := Resilience{
		PointReadWorkers: count("NEKO_DB_POOL_POINT_READ", 0, 0),
		ListReadWorkers:  count("NEKO_DB_POOL_LIST_READ", 0, 0),
		AggregateWorkers: count("NEKO_DB_POOL_AGGREGATE", 0, 0),
		WriteWorkers:     count("NEKO_DB_POOL_WRITE", 0, 0),
		QueueTimeout:     dur("NEKO_DB_QUEUE_TIMEOUT", 100*time.Millisecond, time.Millisecond),
		BreakerFailures:  count("NEKO_BREAKER_FAILURES", 5, 1),
		BreakerTimeout:   dur("NEKO_BREAKER_TIMEOUT", 5*time.Second, time.Millisecond),
		MaxInFlight:      count("NEKO_MAX_IN_FLIGHT", 1000, 1),
		DrainDelay:       dur("NEKO_DRAIN_DELAY", drain, 0),
	}
	return r, errors.Join(errs...)
}

// guards is the resilience wiring of one App: the database's pools and breaker, the server's
// shedder, and the draining flag that /ready reports.
type guards struct {
	db       *resilience.Database
	shedder  *resilience.Shedder
	draining atomic.Bool
}

// errDraining is /ready's reason while the process drains before shutting down.
var errDraining = errors.New("shutting down")

// newGuards builds the database guard (pools sized from MONGODB_MAX_POOL_SIZE, a breaker named
// "mongodb", every round trip bounded by MONGODB_TIMEOUT) and the shedder, and exports their
// state: neko_breaker_state{dependency="mongodb"}, neko_bulkhead_rejected_total{pool},
// neko_bulkhead_in_flight{pool} and neko_bulkhead_queued{pool}.
func newGuards(cfg Config, m *telemetry.Metrics, logger *slog.Logger) (*guards, error) {
	r := cfg.Resilience
	db, err := resilience.NewDatabase(resilience.DatabaseConfig{
		Name:             "mongodb",
		MaxPoolSize:      int(cfg.MongoMaxPool),
		PointReadWorkers: r.PointReadWorkers,
		ListReadWorkers:  r.ListReadWorkers,
		AggregateWorkers: r.AggregateWorkers,
		WriteWorkers:     r.WriteWorkers,
		QueueTimeout:     r.QueueTimeout,
		OperationTimeout: cfg.MongoTimeout,
		Breaker:          breakerConfig("mongodb", cfg, m, logger),
		OnReject:         func(pool string) { m.BulkheadRejected.WithLabelValues(pool).Inc() },
	})
	if err != nil {
		return nil, fmt.Errorf("database guard: %w", err)
	}
	for _, p := range db.Stats() { // every pool's series from the start, at 0
		m.BulkheadRejected.WithLabelValues(p.Name)
	}
	for i, p := range db.Stats() {
		labels := prometheus.Labels{"pool": p.Name}
		m.GaugeFunc("neko_bulkhead_in_flight", "Calls running in a database worker pool.", labels,
			func() float64 { return float64(db.Stats()[i].InFlight) })
		m.GaugeFunc("neko_bulkhead_queued", "Calls waiting for a slot of a database worker pool.", labels,
			func() float64 { return float64(db.Stats()[i].Queued) })
	}
	shedder, err := resilience.NewShedder(r.MaxInFlight)
	if err != nil {
		return nil, fmt.Errorf("NEKO_MAX_IN_FLIGHT: %w", err)
	}
	return &guards{db: db, shedder: shedder}, nil
}

// breakerConfig is the configuration of the breaker of one dependency (NEKO_BREAKER_FAILURES,
// NEKO_BREAKER_TIMEOUT), whose state it logs and exports as neko_breaker_state{dependency}.
func breakerConfig(dependency string, cfg Config, m *telemetry.Metrics, logger *slog.Logger) resilience.BreakerConfig {
	state := m.BreakerState.WithLabelValues(dependency)
	state.Set(float64(resilience.StateClosed))
	return resilience.BreakerConfig{
		Name:                dependency,
		Timeout:             cfg.Resilience.BreakerTimeout,
		ConsecutiveFailures: uint32(cfg.Resilience.BreakerFailures),
		OnStateChange: func(name string, from, to resilience.State) {
			state.Set(float64(to))
			logger.Warn("circuit breaker changed state", "dependency", name, "from", from.String(), "to", to.String())
		},
	}
}

// newRedisBreaker is the breaker every Redis command goes through (resilience.RedisBreaker). It
// does not take part in readiness: Redis failing never fails a request, so an instance without
// it still serves.
func newRedisBreaker(cfg Config, m *telemetry.Metrics, logger *slog.Logger) (*resilience.Breaker, error) {
	b, err := resilience.NewBreaker(breakerConfig("redis", cfg, m, logger))
	if err != nil {
		return nil, fmt.Errorf("redis breaker: %w", err)
	}
	return b, nil
}

// ready is the server's readiness beyond its first warm-up: not while draining. The database is
// not consulted. The App listens only once it has reached the database (start-up waits for it,
// waitForDatabase), and a database failure after that must not fail readiness: the database is
// every instance's, so it fails for all of them at once, and Fly routes no traffic to a Machine
// failing its check. The whole fleet would leave routing exactly when its cached and
// stale-if-error answers are all that can be served; uncached requests fail fast with 503
// SERVICE_UNAVAILABLE and Retry-After instead. The price: an instance that alone has lost its
// database keeps its traffic (neko_breaker_state shows it).
func (g *guards) ready(context.Context) error {
	if g.draining.Load() {
		return errDraining
	}
	return nil
}

// drain marks the App not ready and keeps serving for delay, so that load balancers stop sending
// it new requests before it stops accepting them. It returns early when ctx ends.
func (g *guards) drain(ctx context.Context, delay time.Duration) {
	g.draining.Store(true)
	if delay <= 0 {
		return
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Drain begins a graceful shutdown: /ready answers 503 at once while the App keeps serving for
// NEKO_DRAIN_DELAY (or until ctx ends), after which Close stops accepting and lets in-flight
// requests finish within NEKO_SHUTDOWN_TIMEOUT.
func (a *App) Drain(ctx context.Context) {
	a.logger.Info("draining before shutdown", "delay", a.cfg.Resilience.DrainDelay)
	a.guards.drain(ctx, a.cfg.Resilience.DrainDelay)
}
