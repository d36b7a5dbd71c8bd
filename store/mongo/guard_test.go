package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/store"
	nekomongo "github.com/neko-defense/neko/store/mongo"
)

// recordingGuard is a Guard that runs every call and records its kind and
// the error fn returned to it; refuse, when set, refuses every call instead.
type recordingGuard struct {
	mu     sync.Mutex
	kinds  []nekomongo.OpKind
	errs   []error
	refuse error
}

func (g *recordingGuard) Do(ctx context.Context, kind nekomongo.OpKind, fn func(context.Context) error) error {
	if g.refuse != nil {
		return g.refuse
	}
	err := fn(ctx)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.kinds = append(g.kinds, kind)
	g.errs = append(g.errs, err)
	return err
}

func (g *recordingGuard) take() ([]nekomongo.OpKind, []error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k, e := g.kinds, g.errs
	g.kinds, g.errs = nil, nil
	return k, e
}

func guardedStore(t testing.TB, g nekomongo.Guard) *nekomongo.Store {
	t.Helper()
	st, err := nekomongo.New(context.Background(), nekomongo.Config{URI: env.uri, Database: "neko-test", OperationTimeout: time.Minute, Guard: g}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

func TestGuardSeesEveryRoundTripWithItsKind(t *testing.T) {
	g := &recordingGuard{}
	st := guardedStore(t, g)
	ctx := testContext(t)
	actor := env.data.ThreatActors[0].ActorID
	agentID := fmt.Sprintf("guard-test-%d", time.Now().UnixNano())
	tests := []struct {
		name string
		call func() error
		want []nekomongo.OpKind
	}{
		{"point read", func() error { _, err := st.ThreatActor(ctx, actor); return err }, []nekomongo.OpKind{nekomongo.PointRead}},
		{"list read", func() error { _, err := st.ThreatActors(ctx, "all", 5); return err }, []nekomongo.OpKind{nekomongo.ListRead}},
		{"counts", func() error { _, err := st.Overview(ctx); return err }, []nekomongo.OpKind{nekomongo.Aggregate, nekomongo.Aggregate, nekomongo.Aggregate, nekomongo.Aggregate}},
		{"create", func() error {
			_, err := st.CreateDINAAgent(ctx, store.DINAAgent{AgentID: agentID, FullName: "Guard Test"})
			return err
		}, []nekomongo.OpKind{nekomongo.Write}},
		{"delete", func() error { _, err := st.DeleteDINAAgent(ctx, agentID); return err }, []nekomongo.OpKind{nekomongo.Write}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g.take()
			if err := tc.call(); err != nil {
				t.Fatal(err)
			}
			kinds, _ := g.take()
			if !slices.Equal(kinds, tc.want) {
				t.Fatalf("guard saw %v, want %v", kinds, tc.want)
			}
		})
	}
}

// A not-found is the database's answer, not its failure: the caller gets
// store.ErrNotFound, the Guard (and so a breaker) sees success.
func TestGuardSeesNotFoundAsSuccess(t *testing.T) {
	g := &recordingGuard{}
	st := guardedStore(t, g)
	_, err := st.ThreatActor(testContext(t), "TA-does-not-exist")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want store.ErrNotFound", err)
	}
	kinds, errs := g.take()
	if len(kinds) != 1 || errs[0] != nil {
		t.Fatalf("guard saw kinds %v errors %v, want one successful call", kinds, errs)
	}
}

func TestGuardRefusalReachesCaller(t *testing.T) {
	st := guardedStore(t, &recordingGuard{refuse: resilience.ErrBreakerOpen})
	ctx := testContext(t)
	for name, call := range map[string]func() error{
		"point read": func() error { _, err := st.ThreatActor(ctx, "TA-0001"); return err },
		"stats":      func() error { _, err := st.DINAStatistics(ctx); return err },
		"write":      func() error { return st.DeleteBlockedIP(ctx, "192.0.2.1") },
	} {
		if err := call(); !errors.Is(err, resilience.ErrBreakerOpen) {
			t.Errorf("%s: err = %v, want it to wrap ErrBreakerOpen", name, err)
		}
	}
}

// resilience.Database is the Guard cmd/neko gives the store.
var _ nekomongo.Guard = (*resilience.Database)(nil)

// BenchmarkPointReadGuard measures one uncached point read (ThreatActor by
// id) against the embedded database with and without the production guard
// (bulkhead, breaker, timeout).
//
//	GOFLAGS=-mod=mod go test ./store/mongo -run '^$' -bench BenchmarkPointReadGuard -benchtime 2000x -count 5
func BenchmarkPointReadGuard(b *testing.B) {
	db, err := resilience.NewDatabase(resilience.DatabaseConfig{Name: "mongodb", OperationTimeout: 5 * time.Second, Breaker: resilience.BreakerConfig{Name: "mongodb"}})
	if err != nil {
		b.Fatal(err)
	}
	actor := env.data.ThreatActors[0].ActorID
	for _, bc := range []struct {
		name  string
		guard nekomongo.Guard
	}{{"guard=off", nil}, {"guard=on", db}} {
		b.Run(bc.name, func(b *testing.B) {
			st := guardedStore(b, bc.guard)
			ctx := context.Background()
			if _, err := st.ThreatActor(ctx, actor); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := st.ThreatActor(ctx, actor); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A statistics fan-out never waits for slots its own round trips hold: with an aggregate pool of
// one and no time to wait in its queue, every statistic still answers.
func TestStatisticsFitASmallAggregatePool(t *testing.T) {
	db, err := resilience.NewDatabase(resilience.DatabaseConfig{Name: "mongodb", AggregateWorkers: 1, QueueTimeout: time.Millisecond,
		OperationTimeout: time.Minute, Breaker: resilience.BreakerConfig{Name: "mongodb"}})
	if err != nil {
		t.Fatal(err)
	}
	st := guardedStore(t, db)
	ctx := testContext(t)
	for name, stat := range map[string]func() error{
		"DINAStatistics":   func() error { _, err := st.DINAStatistics(ctx); return err },
		"ThreatCounts":     func() error { _, err := st.ThreatCounts(ctx); return err },
		"HuntStats":        func() error { _, err := st.HuntStats(ctx); return err },
		"CasePatternStats": func() error { _, err := st.CasePatternStats(ctx); return err },
		"HoneypotSummary":  func() error { _, err := st.HoneypotSummary(ctx); return err },
		"DinaStats":        func() error { _, err := st.DinaStats(ctx); return err },
	} {
		if err := stat(); err != nil {
			t.Errorf("%s with an aggregate pool of 1: %v", name, err)
		}
	}
}

// inGuard marks the context a markingGuard gives fn.
type inGuard struct{}

// markingGuard runs every call, under a context that says it is inside the Guard.
type markingGuard struct{}

func (markingGuard) Do(ctx context.Context, _ nekomongo.OpKind, fn func(context.Context) error) error {
	return fn(context.WithValue(ctx, inGuard{}, true))
}

// Every command a guarded Store sends runs inside a Guard call and under a context with a
// deadline. A command outside the Guard goes around the breaker and the bulkheads; one without a
// deadline (context.WithoutCancel) waits on a stalled database for as long as TCP lets it, holding
// its bulkhead slot, and, as a half-open probe, held the breaker half-open for all that time.
func TestGuardedStoreCommandsHaveDeadlines(t *testing.T) {
	ctx := testContext(t)
	db := fmt.Sprintf("neko-test-deadlines-%d", time.Now().UnixNano())
	plain, err := nekomongo.New(ctx, nekomongo.Config{URI: env.uri, Database: db}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = plain.Database().Drop(context.Background())
		_ = plain.Close(context.Background())
	})
	// More triggers than one batch of HoneypotSummary's walk over the newest ones, all from one
	// trap: the walk stops after the first document with its cursor open, and closes it
	// (killCursors) before the end of the results.
	triggers := make([]any, 1100)
	for i := range triggers {
		triggers[i] = bson.D{{Key: "trap_name", Value: "admin_panel"}, {Key: "ip_address", Value: fmt.Sprintf("192.0.2.%d", i%250)},
			{Key: "triggered_at", Value: time.Unix(int64(i), 0)}}
	}
	if _, err := plain.Database().Collection(store.CollHoneypot).InsertMany(ctx, triggers); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var sent, bad []string
	mon := &event.CommandMonitor{Started: func(ctx context.Context, e *event.CommandStartedEvent) {
		if nekomongo.IsHandshake(e.CommandName) {
			return
		}
		_, deadline := ctx.Deadline()
		guarded := ctx.Value(inGuard{}) != nil
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, e.CommandName)
		if !deadline || !guarded {
			bad = append(bad, fmt.Sprintf("%s (deadline %v, in the Guard %v)", e.CommandName, deadline, guarded))
		}
	}}
	st, err := nekomongo.New(ctx, nekomongo.Config{URI: env.uri, Database: db, OperationTimeout: time.Minute, Guard: markingGuard{}, Monitor: mon}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	for name, call := range map[string]func() error{
		"HoneypotSummary":  func() error { _, err := st.HoneypotSummary(ctx); return err },
		"DatabaseStats":    func() error { _, err := st.DatabaseStats(ctx); return err },
		"Overview":         func() error { _, err := st.Overview(ctx); return err },
		"ThreatCounts":     func() error { _, err := st.ThreatCounts(ctx); return err },
		"HuntStats":        func() error { _, err := st.HuntStats(ctx); return err },
		"CasePatternStats": func() error { _, err := st.CasePatternStats(ctx); return err },
		"DINAStatistics":   func() error { _, err := st.DINAStatistics(ctx); return err },
		"DinaStats":        func() error { _, err := st.DinaStats(ctx); return err },
		"HoneypotTriggers": func() error { _, err := st.HoneypotTriggers(ctx, "admin_panel", 5); return err },
	} {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(sent, "killCursors") {
		t.Errorf("HoneypotSummary sent no killCursors (commands: %v): the test no longer covers closing a cursor early", sent)
	}
	if len(bad) > 0 {
		t.Errorf("commands sent outside the Guard or without a deadline: %v", bad)
	}
}
