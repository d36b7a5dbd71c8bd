package resilience

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestDatabasePoolSizes(t *testing.T) {
	tests := []struct {
		name string
		cfg  DatabaseConfig
		want []int // workers in PoolKind order
	}{
		{name: "default pool", cfg: DatabaseConfig{}, want: []int{40, 25, 15, 20}},
		{name: "pool of 50", cfg: DatabaseConfig{MaxPoolSize: 50}, want: []int{20, 12, 7, 10}},
		{name: "tiny pool keeps 2 each", cfg: DatabaseConfig{MaxPoolSize: 5}, want: []int{2, 2, 2, 2}},
		{name: "overrides", cfg: DatabaseConfig{MaxPoolSize: 100, AggregateWorkers: 3, WriteWorkers: 7}, want: []int{40, 25, 3, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDatabase(t, tt.cfg)
			var got []int
			for _, s := range d.Stats() {
				got = append(got, s.Workers)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("workers = %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []DatabaseConfig{{MaxPoolSize: -1}, {WriteWorkers: -1}, {OperationTimeout: -1}, {Breaker: BreakerConfig{Timeout: -1}}} {
		if _, err := NewDatabase(bad); err == nil {
			t.Errorf("NewDatabase(%+v) accepted", bad)
		}
	}
}

func TestDatabasePoolsAreIsolated(t *testing.T) {
	var rejected []string
	var mu sync.Mutex
	d := mustDatabase(t, DatabaseConfig{Name: "mongodb", AggregateWorkers: 2, QueueTimeout: time.Hour, OnReject: func(p string) {
		mu.Lock()
		rejected = append(rejected, p)
		mu.Unlock()
	}})
	// Fill the aggregate pool: 2 running, its 8 queue places taken.
	gate := make(chan struct{})
	var wg sync.WaitGroup
	running := make(chan struct{}, 10)
	for range 2 + 8 {
		wg.Go(func() {
			_ = d.Do(context.Background(), Aggregate, func(context.Context) error { running <- struct{}{}; <-gate; return nil })
		})
	}
	<-running
	<-running
	waitFor(t, func() bool { return d.Stats()[Aggregate].Queued == 8 })

	err := d.Do(context.Background(), Aggregate, func(context.Context) error { return nil })
	if !errors.Is(err, ErrBulkheadFull) {
		t.Fatalf("aggregate err = %v, want ErrBulkheadFull", err)
	}
	for _, k := range []PoolKind{PointRead, ListRead, Write} {
		ran := false
		if err := d.Do(context.Background(), k, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
			t.Errorf("%v while aggregates are saturated: err %v ran %v", k, err, ran)
		}
	}
	st := d.Stats()[Aggregate]
	if st != (PoolStats{Name: "mongodb.aggregate", Workers: 2, InFlight: 2, Queued: 8}) {
		t.Errorf("aggregate stats = %+v", st)
	}
	close(gate)
	wg.Wait()
	mu.Lock()
	if !slices.Equal(rejected, []string{"mongodb.aggregate"}) {
		t.Errorf("rejections = %q", rejected)
	}
	mu.Unlock()
}

func TestDatabaseSharesOneBreaker(t *testing.T) {
	d := mustDatabase(t, DatabaseConfig{Breaker: BreakerConfig{ConsecutiveFailures: 2}})
	_ = d.Do(context.Background(), Write, func(context.Context) error { return errDependency })
	_ = d.Do(context.Background(), Aggregate, func(context.Context) error { return errDependency })
	if err := d.Do(context.Background(), PointRead, func(context.Context) error { return nil }); !errors.Is(err, ErrBreakerOpen) {
		t.Errorf("point read err = %v, want ErrBreakerOpen", err)
	}
	if d.Breaker().State() != StateOpen || d.Breaker().Name() != "database" {
		t.Errorf("breaker %q %v", d.Breaker().Name(), d.Breaker().State())
	}
	if err := d.Do(context.Background(), PoolKind(9), func(context.Context) error { return nil }); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestPoolKindString(t *testing.T) {
	got := []string{PointRead.String(), ListRead.String(), Aggregate.String(), Write.String(), PoolKind(9).String()}
	want := []string{"point_read", "list_read", "aggregate", "write", "PoolKind(9)"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func mustDatabase(tb testing.TB, cfg DatabaseConfig) *Database {
	tb.Helper()
	d, err := NewDatabase(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
