// Package server is neko's HTTP front door and the only package that knows Fiber. A request flows
// through the middleware chain (request id, panic recovery, metrics, region header, per-request
// deadline, authentication) into one of three kinds of handler: GraphQL over HTTP (/graphql), the
// REST compatibility endpoints the TV monitors and stress tests use (/api/...), and the operational
// endpoints (/health, /ready, /metrics). Handlers turn *fiber.Ctx into a context.Context and plain
// values before calling anything else, and every error leaves through describe in errors.go.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/internal/slotcache"
	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/resolvers"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/telemetry"
)

// Config tunes the HTTP layer. Zero values take the documented defaults.
type Config struct {
	// Production masks internal error messages and disables development conveniences.
	Production bool
	// Region is reported in X-Neko-Region on every response (Fly's FLY_REGION). Default "local".
	Region string
	// PrimaryRegion is where writes execute (PRIMARY_REGION). A mutation arriving in another
	// region is answered with fly-replay (region.go). Default Region: every region is primary.
	PrimaryRegion string
	// BodyLimit is the largest request body accepted, in bytes; larger bodies get 413.
	// Default 1 MiB.
	BodyLimit int
	// RequestTimeout bounds the work of one request (its context deadline). Default 10s.
	RequestTimeout time.Duration
	// CORSOrigins are the browser origins allowed to call the API with credentials (CORS_ORIGIN).
	// Default http://localhost:3000, the original's.
	CORSOrigins []string
	// TrustedProxies are the peers whose Fly-Client-IP / X-Forwarded-For headers are believed
	// (Fly's proxy). Default none: the socket address is the client.
	TrustedProxies []netip.Prefix
	// MaxBatch is the most operations one HTTP batch (a JSON array body) may hold. Default 10.
	MaxBatch int
	// StaleWhileRevalidate and StaleIfError are how long past its max-age a cached answer may
	// still be served while it is refreshed in the background, or while the database fails.
	// Defaults 30s and 10m.
	StaleWhileRevalidate, StaleIfError time.Duration
	// ReadTimeout, WriteTimeout and IdleTimeout bound the connection. Defaults 10s, 15s, 60s.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// TokenVerifier turns a request's credential headers (the raw Authorization and X-API-Key
// values, "" when absent) into an identity; presented reports whether credentials were sent, and
// when they were and fail the request fails (security.Authenticator.Authenticate). ctx bounds
// what verification may wait for (an API key's database lookup).
type TokenVerifier interface {
	Authenticate(ctx context.Context, authorization, apiKey string) (id security.Identity, presented bool, err error)
}

// Deps are the collaborators the server calls. All are required except Ready.
type Deps struct {
	Engine  *graphql.Engine
	REST    CompatAPI
	Auth    TokenVerifier
	Metrics *telemetry.Metrics
	Logger  *slog.Logger
	// ExecContext, when set, prepares the context of an operation about to execute (the
	// resolvers attach fresh per-request dataloaders). Cache hits never call it.
	ExecContext func(ctx context.Context) context.Context
	// Policies tells how an operation may be cached and what it invalidates. nil disables the
	// response cache for GraphQL.
	Policies func(op *graphql.Operation) resolvers.OperationPolicy
	// Cache is the response cache; nil serves everything uncached (X-Cache: BYPASS).
	Cache ResponseCache
	// APQ stores automatic persisted queries; nil answers every hash-only request with
	// PERSISTED_QUERY_NOT_FOUND.
	APQ PersistedQueries
	// RateLimit enables the distributed rate limit; nil disables it.
	RateLimit *RateLimits
	// Defense enables the block list, threat scoring, rate-limit escalation and honeypot traps;
	// nil disables them.
	Defense *Defense
	// Tracer starts the server's spans and Propagator reads the caller's W3C traceparent and
	// baggage (telemetry.Tracing). Either nil disables tracing; a no-op tracer still passes
	// incoming trace ids through to the logs.
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	// Shedder caps the requests in flight (shed.go); nil admits every request.
	Shedder *resilience.Shedder
	// Ready reports whether the server may take traffic (database connected, data warm).
	// nil means always ready.
	Ready func(ctx context.Context) error
}

// Server is the configured Fiber application.
type Server struct {
	cfg    Config
	deps   Deps
	app    *fiber.App
	hammer hammering                                 // rate-limit rejections per address, for escalation
	addrs  *slotcache.Cache[netip.Addr, *clientAddr] // recent client addresses (client)
	// userKeys are the rate-limit keys of recent users and API keys (userLimitKey).
	userKeys *slotcache.Cache[string, string]
	// realPaths are the paths of the routes registered before the honeypot traps (trapPath).
	realPaths map[string]bool

	memo        *memo          // exact-request answers for repeats; nil without a cache
	metricCache sync.Map       // routeKey -> routeMetric
	restTable   []restRoute    // the REST routes, for the warmer
	warm        *warmer        // nil until StartWarming
	conns       conns          // the open connections (conns.go)
	blockedLog  rate.Sometimes // samples the log line of a refused blocked address
	// generation is the response cache's invalidation generation, which moves with every
	// invalidation here or on another instance; nil without a cache.
	generation func() uint64
}

// New validates cfg and deps and builds the application with all routes.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Engine == nil || deps.REST == nil || deps.Auth == nil || deps.Metrics == nil || deps.Logger == nil {
		return nil, errors.New("server: Engine, REST, Auth, Metrics and Logger are required")
	}
	if deps.Defense != nil {
		if err := deps.Defense.validate(); err != nil {
			return nil, err
		}
	}
	if cfg.Region == "" {
		cfg.Region = "local"
	}
	if cfg.PrimaryRegion == "" {
		cfg.PrimaryRegion = cfg.Region
	}
	if len(cfg.CORSOrigins) == 0 {
		cfg.CORSOrigins = []string{"http://localhost:3000"}
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 10
	}
	if cfg.StaleWhileRevalidate <= 0 {
		cfg.StaleWhileRevalidate = 30 * time.Second
	}
	if cfg.StaleIfError <= 0 {
		cfg.StaleIfError = 10 * time.Minute
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 15 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	s := &Server{cfg: cfg, deps: deps, addrs: slotcache.New[netip.Addr, *clientAddr](4096),
		userKeys: slotcache.New[string, string](1024), blockedLog: rate.Sometimes{Interval: time.Second}}
	if g, ok := deps.Cache.(interface{ Generation() uint64 }); ok {
		s.generation = g.Generation
		s.memo = newMemo(g.Generation, deps.Metrics.CacheLookups.WithLabelValues("memo", "hit").Inc)
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "neko",
		DisableStartupMessage: true,
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		ErrorHandler:          s.handleError,
	})
	s.app.Server().ConnState = s.conns.track
	s.guardProtocol()
	if err := s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) routes() error {
	a := s.app
	a.Use(s.requestID, s.trace, s.recoverPanic, s.observe, s.shed, s.commonHeaders, s.securityHeaders, s.corsMiddleware(),
		s.blockList, s.authenticate, s.limitRequests, s.threatScore)

	a.Get("/health", s.health)
	a.Get("/api/health", s.health)
	a.Get("/ready", s.ready)
	a.Get("/metrics", s.metrics)

	a.Post("/graphql", s.graphql)
	a.Get("/graphql", s.graphql)
	a.All("/graphql", s.methodNotAllowed("GET, POST"))

	s.restRoutes(a.Group("/api"))
	if err := s.registerTraps(a); err != nil {
		return err
	}

	a.Use(func(c *fiber.Ctx) error {
		return &httpError{status: fiber.StatusNotFound, code: codeBadUserInput, message: "no route for " + c.Method() + " " + c.Path()}
	})
	return nil
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }
