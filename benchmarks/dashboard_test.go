// Package benchmarks holds neko's capacity checks: Go benchmarks of the GraphQL path over the real
// schema, resolvers and embedded database (this file), and the HTTP load profiles and scripts
// described in README.md.
package benchmarks

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/loaders"
	"github.com/neko-defense/neko/resolvers"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/store/embedded"
	"github.com/neko-defense/neko/store/mongo"
	"github.com/neko-defense/neko/store/seed"
)

// dashboardQuery is the dashboard's typical request: the three statistics panels and the 50 most
// dangerous actors.
const dashboardQuery = `query Dashboard($n: Int!) {
  threatCounts { all predators pedophiles dina_network ransomware state_sponsored crypto_crime }
  honeypotSummary { total_triggers unique_ips unique_traps most_active_trap { trap_name trigger_count last_triggered } }
  huntStats { total_hunts active_hunts completed_hunts successful_captures recent_targets top_keywords }
  threatActors(limit: $n) { actor_id name type category threat_level rank state_sponsored techniques }
}`

// relationQuery follows two relations over 100-item lists (issue 3's proof query).
const relationQuery = `{
  huntConversations(limit: 100) { session_id target { actor_id name } }
  honeypotTriggers(limit: 100) { ip_address actor { name } }
}`

// fixture is an embedded database seeded with the small demo data and an engine over it.
type fixture struct {
	db     *embedded.Server
	store  *mongo.Store
	ops    map[string]int // database round trips by collection/op, counted by the command monitor
	engine *graphql.Engine
	res    *resolvers.Resolvers
}

func newFixture(b *testing.B, lc loaders.Config) *fixture {
	b.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := embedded.Start(ctx, embedded.Config{DataDir: b.TempDir()}, logger)
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{db: db, ops: map[string]int{}}
	st, err := mongo.New(ctx, mongo.Config{URI: db.URI(), Monitor: mongo.OperationCounter(func(coll, op string) { f.ops[coll+"/"+op]++ })}, logger)
	if err != nil {
		b.Fatal(err)
	}
	f.store = st
	if err := st.EnsureIndexes(ctx); err != nil {
		b.Fatal(err)
	}
	if err := seed.Load(ctx, st.Database(), seed.Generate(seed.Small, 1)); err != nil {
		b.Fatal(err)
	}
	auth, err := security.NewAuthenticator(security.AuthConfig{Secret: []byte("benchmark-secret-benchmark-secret"), AdminUsername: "a", AdminPassword: "benchmark"})
	if err != nil {
		b.Fatal(err)
	}
	schema, err := resolvers.LoadSchema()
	if err != nil {
		b.Fatal(err)
	}
	f.res, err = resolvers.New(resolvers.Config{Store: st, Auth: auth, Logger: logger, Loaders: lc})
	if err != nil {
		b.Fatal(err)
	}
	bindings, err := f.res.Bindings(schema)
	if err != nil {
		b.Fatal(err)
	}
	f.engine, err = graphql.New(graphql.Config{Schema: schema, Resolvers: bindings, Scalars: resolvers.Scalars()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		st.Close(context.Background())
		db.Close(context.Background())
	})
	return f
}

func analyst() context.Context {
	return security.NewContext(context.Background(), security.Identity{Username: "bench", Role: security.RoleAnalyst})
}

func dashboardRequest() graphql.Request {
	return graphql.Request{Query: dashboardQuery, Variables: map[string]any{"n": 50}}
}

// BenchmarkPrepareDashboardCold parses, validates and prices a new document every iteration (a
// comment makes each text, and so its hash, unique).
func BenchmarkPrepareDashboardCold(b *testing.B) {
	f := newFixture(b, loaders.Config{})
	ctx := analyst()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := dashboardRequest()
		req.Query = "# " + strconv.Itoa(i) + "\n" + req.Query
		if _, err := f.engine.Prepare(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepareDashboardCached prepares the same document: a hash, a cache lookup, variable
// coercion and the cost plan.
func BenchmarkPrepareDashboardCached(b *testing.B) {
	f := newFixture(b, loaders.Config{})
	ctx := analyst()
	req := dashboardRequest()
	if _, err := f.engine.Prepare(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.engine.Prepare(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecuteDashboard executes the dashboard query against the embedded database (no
// response cache: this is the cache-miss path).
func BenchmarkExecuteDashboard(b *testing.B) {
	f := newFixture(b, loaders.Config{})
	ctx := analyst()
	op, err := f.engine.Prepare(ctx, dashboardRequest())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp := f.engine.Execute(f.res.WithLoaders(ctx), op)
		if len(resp.Errors) > 0 {
			b.Fatal(resp.Errors[0])
		}
	}
}

// BenchmarkRelations compares the relation query with batching loaders against loaders that
// send one query per key (the N+1 shape of a resolver without dataloaders), reporting database
// round trips per operation next to ns/op.
func BenchmarkRelations(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  loaders.Config
	}{
		{"batched", loaders.Config{}},
		{"unbatched", loaders.Config{BatchCapacity: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := newFixture(b, c.cfg)
			ctx := analyst()
			op, err := f.engine.Prepare(ctx, graphql.Request{Query: relationQuery})
			if err != nil {
				b.Fatal(err)
			}
			clear(f.ops)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp := f.engine.Execute(f.res.WithLoaders(ctx), op)
				if len(resp.Errors) > 0 {
					b.Fatal(resp.Errors[0])
				}
			}
			b.StopTimer()
			trips := 0
			for _, n := range f.ops {
				trips += n
			}
			b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
		})
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("NEKO_BENCH_VERBOSE") == "" {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "benchmarks failed")
	}
	os.Exit(code)
}
