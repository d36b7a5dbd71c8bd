package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neko-defense/neko/cache"
	"github.com/neko-defense/neko/defense"
	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/resolvers"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/telemetry"
)

// compatStub answers every REST compatibility body with a small constant: the benchmark measures
// the HTTP chain in front of a cached answer, not the body.
type compatStub struct{}

func (compatStub) body() (any, error) {
	return map[string]any{"success": true, "data": map[string]int{"all": 150}}, nil
}
func (c compatStub) Stats(context.Context) (any, error)                           { return c.body() }
func (c compatStub) ThreatCounts(context.Context) (any, error)                    { return c.body() }
func (c compatStub) ThreatActors(context.Context, string) (any, error)            { return c.body() }
func (c compatStub) MongoDBStats(context.Context) (any, error)                    { return c.body() }
func (c compatStub) AsciiArt(context.Context) (any, error)                        { return c.body() }
func (c compatStub) DinaStats(context.Context) (any, error)                       { return c.body() }
func (c compatStub) DinaPerpetrators(context.Context) (any, error)                { return c.body() }
func (c compatStub) DinaAllAgents(context.Context, int, int, string) (any, error) { return c.body() }

// okResolves counts executions of the test servers' only field, Query.ok.
var okResolves atomic.Int64

// newBenchServer builds a server over a tiny engine, the real cache, and, when defended, every
// defense of the request chain: block list, authentication, rate limit and threat scoring.
func newBenchServer(b testing.TB, defended bool) (*Server, *security.Authenticator) {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: "type Query { ok: Boolean }"})
	engine, err := graphql.New(graphql.Config{Schema: schema, Resolvers: map[string]map[string]graphql.Field{
		"Query": {"ok": {Resolve: func(context.Context, graphql.ResolveParams) (any, error) { okResolves.Add(1); return true, nil }}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	auth, err := security.NewAuthenticator(security.AuthConfig{Secret: []byte("bench-secret-bench-secret-bench!"), AdminUsername: "a", AdminPassword: "benchmark"})
	if err != nil {
		b.Fatal(err)
	}
	tiered, err := cache.New(cache.Config{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tiered.Close() })
	deps := Deps{Engine: engine, REST: compatStub{}, Auth: auth, Metrics: telemetry.NewMetrics(), Logger: logger, Cache: tiered,
		Policies: func(*graphql.Operation) resolvers.OperationPolicy {
			return resolvers.OperationPolicy{MaxAge: time.Minute, Tags: []string{"Query"}}
		}}
	if defended {
		limiter, err := resilience.NewRateLimiter(resilience.RateLimitConfig{Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = limiter.Close() })
		huge := resilience.Limit{Rate: 1e9, Burst: 1 << 30}
		deps.RateLimit = &RateLimits{Limiter: limiter, Anonymous: huge, Authenticated: huge, Admin: huge}
		blocks, err := defense.NewBlockList(defense.BlockListConfig{Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		scorer, err := defense.NewScorer(defense.ScorerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		responder, err := defense.NewResponder(defense.ResponderConfig{BlockList: blocks, Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_ = responder.Close(context.Background())
			_ = blocks.Close(context.Background())
		})
		deps.Defense = &Defense{BlockList: blocks, Scorer: scorer, Responder: responder}
	}
	s, err := New(Config{}, deps)
	if err != nil {
		b.Fatal(err)
	}
	return s, auth
}

// graphQLPost is a browser's POST /graphql of body, with a bearer token unless token is "".
func graphQLPost(body, token string) *fasthttp.Request {
	var req fasthttp.Request
	req.SetRequestURI("/graphql")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("Accept-Encoding", "gzip")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.SetBodyString(body)
	return &req
}

// BenchmarkSecurityChain serves a cached GraphQL query (answered by the memo after the first
// request) through the whole Fiber handler in-process, with every defense on (block list,
// bearer-token authentication, rate limit, threat scoring) and with none, from a browser-like
// client, next to a bare Fiber handler sending the same bytes. The RequestCtx is reused between
// requests, its user values and response reset, as fasthttp's server does on a keep-alive
// connection, so the numbers are the server's work per request without the network.
func BenchmarkSecurityChain(b *testing.B) {
	const query = `{"query":"{ ok }"}`
	for _, c := range []struct {
		name     string
		bare     bool
		defended bool
		token    bool
		ipv6     bool
	}{
		{"bare fiber", true, false, false, false},
		{"defenses off, anonymous", false, false, false, false},
		{"defenses on, anonymous", false, true, false, false},
		{"defenses on, anonymous IPv6", false, true, false, true},
		{"defenses on, bearer token", false, true, true, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			var handler fasthttp.RequestHandler
			var token string
			if c.bare {
				app := fiber.New(fiber.Config{DisableStartupMessage: true})
				body := []byte(`{"data":{"ok":true}}`)
				app.Post("/graphql", func(c *fiber.Ctx) error {
					c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
					return c.Send(body)
				})
				handler = app.Handler()
			} else {
				s, auth := newBenchServer(b, c.defended)
				handler = s.app.Handler()
				if c.token {
					token, _ = auth.Issue(security.Identity{Username: "tv-monitor", Role: security.RoleViewer})
				}
			}
			peer := net.IPv4(203, 0, 113, 9)
			if c.ipv6 {
				peer = net.ParseIP("2001:db8:1:2::9")
			}
			var ctx fasthttp.RequestCtx
			ctx.Init(graphQLPost(query, token), &net.TCPAddr{IP: peer, Port: 40000}, nil)
			serve := func() int {
				ctx.ResetUserValues()
				ctx.Response.Reset()
				handler(&ctx)
				return ctx.Response.StatusCode()
			}
			for range 2 { // the first request fills the cache, the second the memo
				if status := serve(); status != fasthttp.StatusOK {
					b.Fatalf("warm-up status %d: %s", status, ctx.Response.Body())
				}
			}
			if !c.bare && string(ctx.Response.Header.Peek("X-Cache")) != "HIT" {
				b.Fatalf("warm-up: X-Cache %q", ctx.Response.Header.Peek("X-Cache"))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if status := serve(); status != fasthttp.StatusOK {
					b.Fatalf("status %d", status)
				}
			}
		})
	}
}
