package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
	drivermongo "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/neko-defense/neko/cache"
	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/loaders"
	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/resolvers"
	"github.com/neko-defense/neko/server"
	"github.com/neko-defense/neko/store/embedded"
	"github.com/neko-defense/neko/store/mongo"
	"github.com/neko-defense/neko/store/seed"
	"github.com/neko-defense/neko/telemetry"
)

// App is the whole running program: the database connection, the components over it and the HTTP
// listener. End-to-end tests start one with Start and stop it with Close, exactly as main does.
type App struct {
	cfg       Config
	logger    *slog.Logger
	metrics   *telemetry.Metrics
	tracing   *telemetry.Tracing // wire_telemetry.go
	embedded  *embedded.Server   // nil when MONGODB_URI is set
	store     *mongo.Store
	redis     *redis.Client // nil without REDIS_URL
	cache     *cache.Tiered
	limiter   *resilience.RateLimiter
	sec       *securityParts // audit, API keys, block list, scoring, playbooks, honeypot
	guards    *guards        // database bulkheads and breaker, shedder, drain (wire_resilience.go)
	server    *server.Server
	listener  net.Listener
	closeOnce sync.Once // Close runs once; later calls return its result
	closeErr  error
}

// Start builds every component and binds the listener; Serve then accepts connections.
// On error everything already started is stopped again.
func Start(ctx context.Context, cfg Config, logw io.Writer) (_ *App, err error) {
	a := &App{cfg: cfg, logger: telemetry.NewLogger(logw, cfg.LogLevel), metrics: telemetry.NewMetrics()}
	defer func() { // a, not the result, which every error return sets to nil
		if err != nil {
			err = errors.Join(err, a.Close())
		}
	}()
	telemetry.RouteLibraryLogs(a.logger)
	a.logger.Info("starting neko", "version", version, "config", cfg)
	if err := a.startTracing(ctx); err != nil {
		return nil, err
	}

	if a.guards, err = newGuards(cfg, a.metrics, a.logger); err != nil {
		return nil, err
	}
	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	if a.embedded != nil {
		if err := seedIfEmpty(ctx, a.store, seed.Size(cfg.SeedSize), a.logger); err != nil {
			return nil, err
		}
	}

	if err := a.openRedis(ctx); err != nil {
		return nil, err
	}
	// The rate limit shared by the instances: requests, and failed logins (openSecurity).
	a.limiter, err = resilience.NewRateLimiter(resilience.RateLimitConfig{
		Redis: a.redisClient(), Logger: a.logger, OnReject: a.metrics.RateLimitRejected.Inc,
	})
	if err != nil {
		return nil, err
	}
	auth, err := a.openSecurity(ctx)
	if err != nil {
		return nil, err
	}
	apq, err := a.openCaches()
	if err != nil {
		return nil, err
	}
	engine, res, schema, err := newEngine(cfg, a.sec.resolverConfig(resolvers.Config{Store: a.store, Auth: auth, Logger: a.logger,
		// A batch's own deadline comes after the store's per-operation timeout: a database that
		// does not answer then fails the store call, which the breaker counts, rather than the
		// batch, which it takes for a caller that gave up.
		Loaders:    loaders.Config{Tracer: a.loaderTracer(), BatchTimeout: cfg.MongoTimeout + time.Second},
		Generation: a.cache.Generation}, a.store))
	if err != nil {
		return nil, err
	}
	policies := resolvers.NewPolicies(schema, cfg.DocumentCacheSize)
	a.server, err = server.New(server.Config{
		Production: cfg.Production(), Region: cfg.Region, PrimaryRegion: cfg.PrimaryRegion, BodyLimit: cfg.BodyLimit, RequestTimeout: cfg.RequestTimeout,
		CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies, MaxBatch: cfg.MaxBatch,
	}, server.Deps{
		Engine: engine, REST: resolvers.NewCompat(a.store, nil), Auth: auth,
		Tracer: a.tracing.Tracer(serverTracerName), Propagator: a.tracing.Propagator(),
		Metrics: a.metrics, Logger: a.logger, Ready: a.guards.ready, Shedder: a.guards.shedder, ExecContext: res.WithLoaders,
		Policies: policies.For, Cache: a.cache, APQ: apq, Defense: a.sec.serverDefense(),
		RateLimit: &server.RateLimits{
			Limiter:       a.limiter,
			Anonymous:     resilience.Limit{Rate: cfg.RateAnonymous.PerSecond, Burst: cfg.RateAnonymous.Burst},
			Authenticated: resilience.Limit{Rate: cfg.RateUser.PerSecond, Burst: cfg.RateUser.Burst},
			Admin:         resilience.Limit{Rate: cfg.RateAdmin.PerSecond, Burst: cfg.RateAdmin.Burst},
		},
	})
	if err != nil {
		return nil, err
	}
	if cfg.Warm {
		a.server.StartWarming(warmQueries)
	}
	a.listener, err = net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	a.logger.Info("listening", "addr", a.listener.Addr().String())
	return a, nil
}

// openStore connects to MONGODB_URI, or starts the embedded database when it is empty, and
// creates the indexes.
func (a *App) openStore(ctx context.Context) error {
	uri := a.cfg.MongoURI
	if uri == "" {
		emb, err := embedded.Start(ctx, embedded.Config{DataDir: a.cfg.DataDir}, a.logger)
		if err != nil {
			return fmt.Errorf("start embedded database: %w", err)
		}
		a.embedded = emb
		uri = emb.URI()
		a.logger.Info("embedded database started", "data_dir", a.cfg.DataDir)
	}
	st, err := mongo.New(ctx, mongo.Config{
		URI: uri, Database: a.cfg.MongoDatabase,
		MaxPoolSize: a.cfg.MongoMaxPool, MinPoolSize: a.cfg.MongoMinPool,
		OperationTimeout: a.cfg.MongoTimeout, ReadPreference: a.cfg.MongoReadPreference,
		DisableRetries: !a.cfg.MongoRetries, DisableMajorityWrites: !a.cfg.MongoMajority,
		Guard:   a.guards.db,
		Monitor: chainMonitors(mongo.OperationCounter(a.metrics.CountStoreOperation), storeSpans(a.tracing)),
	}, a.logger)
	if err != nil {
		if a.cfg.MongoURI != "" {
			return scrubbedError{fmt.Errorf("connect to database (MONGODB_URI): %w", err), a.cfg.MongoURI}
		}
		return fmt.Errorf("connect to database: %w", err)
	}
	a.store = st
	return a.waitForDatabase(ctx, func(ctx context.Context) error { return st.EnsureIndexes(ctx) })
}

// startupDatabaseWait bounds how long start-up waits for an unreachable MongoDB. A deploy or a
// restart that lands during a database failover or maintenance window rides it out instead of
// exiting into a restart loop; a database still away after it is an outage to report.
const startupDatabaseWait = time.Minute

// waitForDatabase runs first, the first database round trip of start-up, until it succeeds,
// retrying with backoff for up to startupDatabaseWait while the database cannot be reached (a
// server selection or network error, a timeout); any other error, or ctx ending (a signal),
// ends start-up at once.
func (a *App) waitForDatabase(ctx context.Context, first func(context.Context) error) error {
	deadline := time.Now().Add(startupDatabaseWait)
	backoff := time.Second
	for {
		err := first(ctx)
		if err == nil {
			return nil
		}
		if !unreachable(err) || time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("create indexes: %w", err)
		}
		a.logger.Warn("database unreachable at start-up; retrying", "err", err, "in", backoff, "until", deadline.Format(time.RFC3339))
		select {
		case <-ctx.Done():
			return fmt.Errorf("create indexes: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// unreachable reports whether err says the database could not be reached, rather than refused.
func unreachable(err error) bool {
	return drivermongo.IsNetworkError(err) || drivermongo.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, resilience.ErrBreakerOpen) || errors.Is(err, resilience.ErrTimeout)
}

// openRedis connects to REDIS_URL when set. Redis is optional and may be down: the cache and the
// rate limiter fall back to this process alone, so start-up only logs a failed ping.
func (a *App) openRedis(ctx context.Context) error {
	if a.cfg.RedisURL == "" {
		return nil
	}
	opts, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %s", scrub(err, a.cfg.RedisURL)) // loadConfig checked it already
	}
	opts.DialTimeout = time.Second
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	a.redis = redis.NewClient(opts)
	breaker, err := newRedisBreaker(a.cfg, a.metrics, a.logger)
	if err != nil {
		return err
	}
	a.redis.AddHook(resilience.RedisBreaker(breaker))
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.redis.Ping(pctx).Err(); err != nil {
		a.logger.Warn("redis unreachable at start-up; continuing with in-process cache and limits", "err", err)
	}
	return nil
}

// redisClient returns the client as the interface the components take, nil when Redis is off
// (a nil *redis.Client inside a non-nil interface would not read as "no Redis").
func (a *App) redisClient() redis.UniversalClient {
	if a.redis == nil {
		return nil
	}
	return a.redis
}

// openCaches builds the two-tier response cache and the persisted query store, exporting their
// metrics.
func (a *App) openCaches() (*cache.PersistedQueries, error) {
	var err error
	a.cache, err = cache.New(cache.Config{
		L1MaxBytes: a.cfg.CacheBytes, Redis: a.redisClient(), Logger: a.logger,
		OnLookup: func(tier, result string) { a.metrics.CacheLookups.WithLabelValues(tier, result).Inc() },
		OnShared: a.metrics.SingleflightShared.Inc,
	})
	if err != nil {
		return nil, err
	}
	a.metrics.GaugeFunc("neko_cache_l1_bytes", "Bytes held by the in-process response cache.", nil,
		func() float64 { return float64(a.cache.L1Bytes()) })
	return cache.NewPersistedQueries(cache.PersistedConfig{Redis: a.redisClient(), Logger: a.logger})
}

// newEngine loads the schema and builds the GraphQL engine over the resolvers.
func newEngine(cfg Config, rc resolvers.Config) (*graphql.Engine, *resolvers.Resolvers, *ast.Schema, error) {
	schema, err := resolvers.LoadSchema()
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := resolvers.New(rc)
	if err != nil {
		return nil, nil, nil, err
	}
	bindings, err := r.Bindings(schema)
	if err != nil {
		return nil, nil, nil, err
	}
	engine, err := graphql.New(graphql.Config{
		Schema: schema, Resolvers: bindings, Scalars: resolvers.Scalars(),
		Introspection: cfg.Introspection, DocumentCacheSize: cfg.DocumentCacheSize,
		MaxCost: cfg.MaxCost, MaxDepth: cfg.MaxDepth, MaxAliases: cfg.MaxAliases, MaxRootFields: cfg.MaxRootFields,
		MaxTokens: cfg.MaxTokens, MaxDocumentBytes: cfg.MaxQueryBytes,
	})
	return engine, r, schema, err
}

// Addr is the listener's address (useful when PORT is 0).
func (a *App) Addr() string { return a.listener.Addr().String() }

// Serve accepts connections until Close.
func (a *App) Serve() error { return a.server.Serve(a.listener) }

// Close shuts the HTTP server down gracefully (in-flight requests finish within
// NEKO_SHUTDOWN_TIMEOUT), then closes the security components, the caches, Redis, the store and
// the embedded database within a budget of their own (closeBudget), and flushes the traces.
//
// Close returns nil when the drain's deadline cut off connections still in flight but everything
// else closed cleanly, so that the process exits 0. Cutting the stragglers is what
// NEKO_SHUTDOWN_TIMEOUT asks for: a client trickling a body, or a request outliving the budget, is
// the client's or the request's problem, and it is logged (one WARN line with their number). The
// exit status stays meaningful for what operators must act on: it is 1 only when something of
// ours failed to stop, such as the audit log's last flush, the store, or the embedded database's
// files, where data may have been lost. A non-zero exit for every shutdown under load would also
// make Fly's restart policy and alerts take an ordinary deploy for a crash.
func (a *App) Close() error {
	a.closeOnce.Do(func() { a.closeErr = a.close() })
	return a.closeErr
}

// minCloseBudget is the least time closing gets after the HTTP drain, however long the drain
// took: the audit log's last flush, Redis, the store and the embedded database (whose FerretDB
// waits for its own running commands). fly.toml's kill_timeout leaves room for it.
const minCloseBudget = 5 * time.Second

// closeBudget is the time closing gets once the drain ended at now: what is left of the drain's
// budget (until deadline), and at least minCloseBudget. A drain cut at its deadline thus leaves
// closing its own time instead of an expired context.
func closeBudget(deadline, now time.Time) time.Duration {
	return max(deadline.Sub(now), minCloseBudget)
}

func (a *App) close() error {
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancelDrain()
	var errs []error
	if a.server != nil {
		err := a.server.Shutdown(drainCtx)
		if cut := (*server.CutError)(nil); errors.As(err, &cut) {
			a.logger.Warn(fmt.Sprintf("shutdown: closed %d connections still in flight after %s", cut.Closed, a.cfg.ShutdownTimeout),
				"connections", cut.Closed, "shutdown_timeout", a.cfg.ShutdownTimeout)
			err = nil // see Close
		}
		errs = append(errs, wrapClose("http server", err))
		// Shutdown closes the listeners Serve has registered; a Close that comes before Serve
		// got that far (a signal at start-up) would leave Serve accepting for ever. Closing the
		// listener ends it either way.
		if a.listener != nil {
			if err := a.listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, wrapClose("listener", err))
			}
		}
	} else if a.listener != nil {
		errs = append(errs, wrapClose("listener", a.listener.Close()))
	}
	deadline, _ := drainCtx.Deadline()
	ctx, cancel := context.WithTimeout(context.Background(), closeBudget(deadline, time.Now()))
	defer cancel()
	errs = append(errs, wrapClose("security", a.closeSecurity(ctx))) // after the server drained, before Redis and the store close
	if a.limiter != nil {
		errs = append(errs, wrapClose("rate limiter", a.limiter.Close()))
	}
	if a.cache != nil {
		errs = append(errs, wrapClose("cache", a.cache.Close())) // after the server has drained: no request uses it now
	}
	if a.redis != nil {
		errs = append(errs, wrapClose("redis", a.redis.Close()))
	}
	if a.store != nil {
		errs = append(errs, wrapClose("store", a.store.Close(ctx)))
	}
	if a.embedded != nil {
		errs = append(errs, wrapClose("embedded database", a.embedded.Close(ctx)))
	}
	errs = append(errs, wrapClose("tracing", a.stopTracing())) // last: flushes the spans of the drained requests
	// The errors, if any, are the caller's to report (main prints them once).
	a.logger.Info("stopped")
	return errors.Join(errs...)
}

// wrapClose names the component whose closing failed, on one line: errors.Join's newlines
// (several records of one component) become "; ".
func wrapClose(component string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("close %s: %s", component, strings.ReplaceAll(err.Error(), "\n", "; "))
}

// seedIfEmpty fills an empty embedded database with the demo data, so that `make run` on a fresh
// checkout serves something meaningful with no setup.
func seedIfEmpty(ctx context.Context, st *mongo.Store, size seed.Size, logger *slog.Logger) error {
	empty, err := seed.Empty(ctx, st.Database())
	if err != nil {
		return fmt.Errorf("check for demo data: %w", err)
	}
	if !empty {
		return nil
	}
	start := time.Now()
	if err := seed.Load(ctx, st.Database(), seed.Generate(size, demoSeed)); err != nil {
		return fmt.Errorf("seed demo data: %w", err)
	}
	logger.Info("seeded demo data", "size", size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
