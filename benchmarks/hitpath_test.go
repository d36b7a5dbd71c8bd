// Package benchmarks holds the capacity checks of neko: the Go benchmarks here (`make bench`)
// and the load scripts beside them (hitpath.sh, profiles/, `make load`).
package benchmarks

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/neko-defense/neko/cache"
	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/resolvers"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/server"
	"github.com/neko-defense/neko/store/embedded"
	"github.com/neko-defense/neko/store/mongo"
	"github.com/neko-defense/neko/store/seed"
	"github.com/neko-defense/neko/telemetry"
)

// hitQuery is the dashboard query of the hit-path check: public and cacheable.
const hitQuery = `{"query":"{ getDINAStatistics { total_agents verified_count pending_count by_category { category count } } }"}`

// stack is the GraphQL server wired as cmd/neko wires it (engine, resolvers, response cache,
// rate limits, REST compatibility), over the embedded database seeded with the small demo data,
// listening on loopback. The traffic-defense layer (block list, threat scoring) and tracing are
// left out: they are wired in package main, which cannot be imported.
type stack struct {
	url   string
	close func()
}

func startStack(tb testing.TB) *stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var closers []func()
	done := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) {
		done()
		tb.Fatal(err)
	}
	emb, err := embedded.Start(ctx, embedded.Config{DataDir: tb.TempDir()}, logger)
	if err != nil {
		fail(err)
	}
	closers = append(closers, func() { _ = emb.Close(context.Background()) })
	metrics := telemetry.NewMetrics()
	st, err := mongo.New(ctx, mongo.Config{URI: emb.URI(), Database: "neko-bench", MaxPoolSize: 100,
		OperationTimeout: 5 * time.Second, ReadPreference: "primary",
		Monitor: mongo.OperationCounter(metrics.CountStoreOperation)}, logger)
	if err != nil {
		fail(err)
	}
	closers = append(closers, func() { _ = st.Close(context.Background()) })
	if err := st.EnsureIndexes(ctx); err != nil {
		fail(err)
	}
	if err := seed.Load(ctx, st.Database(), seed.Generate(seed.Small, 1)); err != nil {
		fail(err)
	}
	auth, err := security.NewAuthenticator(security.AuthConfig{
		Secret: []byte("benchmark-secret-0123456789abcdef0123456789abcdef"), TokenTTL: time.Hour,
		AdminUsername: "wakibaka", AdminPassword: "bench-admin-password",
	})
	if err != nil {
		fail(err)
	}
	schema, err := resolvers.LoadSchema()
	if err != nil {
		fail(err)
	}
	res, err := resolvers.New(resolvers.Config{Store: st, Auth: auth, Logger: logger})
	if err != nil {
		fail(err)
	}
	bindings, err := res.Bindings(schema)
	if err != nil {
		fail(err)
	}
	engine, err := graphql.New(graphql.Config{Schema: schema, Resolvers: bindings, Scalars: resolvers.Scalars(),
		Introspection: true, DocumentCacheSize: 1000, MaxCost: 5000, MaxDepth: 12, MaxAliases: 30,
		MaxRootFields: 20, MaxTokens: 10000, MaxDocumentBytes: 64 << 10})
	if err != nil {
		fail(err)
	}
	rc, err := cache.New(cache.Config{L1MaxBytes: 64 << 20, Logger: logger})
	if err != nil {
		fail(err)
	}
	closers = append(closers, func() { _ = rc.Close() })
	limiter, err := resilience.NewRateLimiter(resilience.RateLimitConfig{Logger: logger})
	if err != nil {
		fail(err)
	}
	closers = append(closers, func() { _ = limiter.Close() })
	high := resilience.Limit{Rate: 1e6, Burst: 1e6}
	srv, err := server.New(server.Config{Region: "bench"}, server.Deps{
		Engine: engine, REST: resolvers.NewCompat(st, nil), Auth: auth, Metrics: metrics, Logger: logger,
		ExecContext: res.WithLoaders, Policies: resolvers.NewPolicies(schema, 1000).For, Cache: rc,
		RateLimit: &server.RateLimits{Limiter: limiter, Anonymous: high, Authenticated: high, Admin: high},
	})
	if err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	go func() { _ = srv.Serve(ln) }()
	closers = append(closers, func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	})
	return &stack{url: "http://" + ln.Addr().String() + "/graphql", close: done}
}

// post sends one GraphQL request over the keep-alive client and returns its X-Cache.
func post(tb testing.TB, client *http.Client, url, body string) string {
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		tb.Error(err)
		return ""
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Errorf("status %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Cache")
}

// BenchmarkCacheHitFullStack measures one cached dashboard query through the whole HTTP
// pipeline (Fiber, middleware, rate limit, GraphQL prepare, policy, L1 cache hit, write). The
// allocations include net/http's client (BenchmarkBareFiberBaseline measures it); run with
// -memprofile / -cpuprofile to see the server's share (README.md, "Allocation profile").
func BenchmarkCacheHitFullStack(b *testing.B) {
	if os.Getenv("NEKO_SKIP_DB_BENCH") != "" {
		b.Skip("NEKO_SKIP_DB_BENCH set")
	}
	s := startStack(b)
	defer s.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	for i := 0; ; i++ {
		if post(b, client, s.url, hitQuery) == "HIT" {
			break
		}
		if i > 50 {
			b.Fatal("query never became a cache HIT")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if xc := post(b, client, s.url, hitQuery); xc != "HIT" {
				b.Errorf("X-Cache %q", xc)
				return
			}
		}
	})
}

// BenchmarkBareFiberBaseline is the same client against a bare Fiber app returning the same
// bytes (the in-process twin of benchmarks/cmd/barefiber): subtract it from
// BenchmarkCacheHitFullStack to get what neko's pipeline adds per request.
func BenchmarkBareFiberBaseline(b *testing.B) {
	body := []byte(`{"data":{"getDINAStatistics":{"total_agents":300,"verified_count":102,"pending_count":102,"by_category":[{"category":"BRIGADE","count":50},{"category":"DINA_STATE_STAFF","count":50},{"category":"DEPARTMENT","count":50},{"category":"ENLISTED","count":50},{"category":"OTHER","count":50},{"category":"REGIONAL_COMMAND","count":50}]}}}`)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/graphql", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/json; charset=utf-8")
		c.Set("X-Cache", "HIT")
		return c.Send(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer func() {
		client.CloseIdleConnections()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	}()
	url := "http://" + ln.Addr().String() + "/graphql"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post(b, client, url, hitQuery)
		}
	})
}
