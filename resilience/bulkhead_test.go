package resilience

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestNewBulkheadConfig(t *testing.T) {
	tests := []struct {
		name        string
		cfg         BulkheadConfig
		wantErr     bool
		wantQueue   int64
		wantTimeout time.Duration
	}{
		{name: "defaults", cfg: BulkheadConfig{Name: "p", Workers: 3}, wantQueue: 12, wantTimeout: 100 * time.Millisecond},
		{name: "explicit", cfg: BulkheadConfig{Name: "p", Workers: 3, Queue: 1, QueueTimeout: time.Second}, wantQueue: 1, wantTimeout: time.Second},
		{name: "no queue", cfg: BulkheadConfig{Name: "p", Workers: 3, Queue: -1}, wantQueue: 0, wantTimeout: 100 * time.Millisecond},
		{name: "missing name", cfg: BulkheadConfig{Workers: 1}, wantErr: true},
		{name: "zero workers", cfg: BulkheadConfig{Name: "p"}, wantErr: true},
		{name: "negative timeout", cfg: BulkheadConfig{Name: "p", Workers: 1, QueueTimeout: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBulkhead(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewBulkhead err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if b.queue != tt.wantQueue || b.timeout != tt.wantTimeout || b.Workers() != tt.cfg.Workers {
				t.Errorf("queue %d timeout %v workers %d; want %d %v %d", b.queue, b.timeout, b.Workers(), tt.wantQueue, tt.wantTimeout, tt.cfg.Workers)
			}
		})
	}
}

func TestBulkheadConcurrencyNeverExceedsWorkers(t *testing.T) {
	for _, workers := range []int{1, 3, 8} {
		t.Run("", func(t *testing.T) {
			b := mustBulkhead(t, BulkheadConfig{Name: "p", Workers: workers, Queue: 100, QueueTimeout: time.Hour})
			const callers = 40
			var cur, peak atomic.Int64
			entered := make(chan struct{}, callers)
			gate := make(chan struct{})
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					err := b.Do(context.Background(), func(context.Context) error {
						n := cur.Add(1)
						for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
						}
						entered <- struct{}{}
						<-gate
						cur.Add(-1)
						return nil
					})
					if err != nil {
						t.Errorf("Do: %v", err)
					}
				})
			}
			for range workers {
				<-entered
			}
			waitFor(t, func() bool { return b.Queued() == callers-workers })
			if got := b.InFlight(); got != workers {
				t.Errorf("InFlight = %d, want %d", got, workers)
			}
			close(gate)
			wg.Wait()
			if got := peak.Load(); got != int64(workers) {
				t.Errorf("peak concurrency = %d, want %d", got, workers)
			}
			if b.InFlight() != 0 || b.Queued() != 0 {
				t.Errorf("after: InFlight %d Queued %d, want 0 0", b.InFlight(), b.Queued())
			}
		})
	}
}

// TestBulkheadRejections runs each case against a pool of one busy worker.
func TestBulkheadRejections(t *testing.T) {
	tests := []struct {
		name       string
		queue      int
		waiters    int  // callers parked in the queue before the probe
		cancel     bool // cancel the probe's ctx once it is queued
		wantErr    error
		wantMsg    string
		wantReject int
		wantWait   time.Duration // fake time the probe waits
	}{
		{name: "queue full", queue: 2, waiters: 2, wantErr: ErrBulkheadFull, wantMsg: `bulkhead "db.agg": queue full`, wantReject: 1},
		{name: "no queue", queue: -1, wantErr: ErrBulkheadFull, wantMsg: "queue full", wantReject: 1},
		{name: "queue timeout", queue: 2, wantErr: ErrBulkheadFull, wantMsg: `bulkhead "db.agg": no worker within 50ms`, wantReject: 1, wantWait: 50 * time.Millisecond},
		{name: "ctx canceled while queued", queue: 2, cancel: true, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rejected []string
				var mu sync.Mutex
				b := mustBulkhead(t, BulkheadConfig{Name: "db.agg", Workers: 1, Queue: tt.queue, QueueTimeout: 50 * time.Millisecond,
					OnReject: func(pool string) { mu.Lock(); rejected = append(rejected, pool); mu.Unlock() }})
				gate := make(chan struct{})
				var wg sync.WaitGroup
				started := make(chan struct{})
				wg.Go(func() {
					_ = b.Do(context.Background(), func(context.Context) error { close(started); <-gate; return nil })
				})
				<-started
				waitersCtx, stopWaiters := context.WithCancel(context.Background())
				for range tt.waiters {
					wg.Go(func() { _ = b.Do(waitersCtx, func(context.Context) error { return nil }) })
				}
				synctest.Wait()
				if got := b.Queued(); got != tt.waiters {
					t.Fatalf("Queued = %d, want %d", got, tt.waiters)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ran := false
				var err error
				done := make(chan struct{})
				start := time.Now()
				go func() {
					err = b.Do(ctx, func(context.Context) error { ran = true; return nil })
					close(done)
				}()
				if tt.cancel {
					synctest.Wait()
					cancel()
				}
				<-done
				waited := time.Since(start)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Do err = %v, want %v", err, tt.wantErr)
				}
				if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("Do err = %q, want it to contain %q", err, tt.wantMsg)
				}
				if ran {
					t.Error("fn ran")
				}
				if waited != tt.wantWait {
					t.Errorf("Do returned after %v of fake time, want %v", waited, tt.wantWait)
				}
				mu.Lock()
				if len(rejected) != tt.wantReject || (tt.wantReject > 0 && rejected[0] != "db.agg") {
					t.Errorf("OnReject calls = %q, want %d with the pool name", rejected, tt.wantReject)
				}
				mu.Unlock()
				stopWaiters()
				close(gate)
				wg.Wait()
			})
		})
	}
}

func TestBulkheadReleasesSlotOnPanic(t *testing.T) {
	b := mustBulkhead(t, BulkheadConfig{Name: "p", Workers: 1, Queue: -1})
	func() {
		defer func() { _ = recover() }()
		_ = b.Do(context.Background(), func(context.Context) error { panic("boom") })
	}()
	if err := b.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Do after panic: %v", err)
	}
}

func TestBulkheadDoneCtxDoesNotRun(t *testing.T) {
	b := mustBulkhead(t, BulkheadConfig{Name: "p", Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Do(ctx, func(context.Context) error { t.Error("fn ran"); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func BenchmarkBulkheadNoop(b *testing.B) {
	bh := mustBulkhead(b, BulkheadConfig{Name: "p", Workers: 64})
	ctx := context.Background()
	noop := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bh.Do(ctx, noop); err != nil {
				b.Error(err)
			}
		}
	})
}

func mustBulkhead(tb testing.TB, cfg BulkheadConfig) *Bulkhead {
	tb.Helper()
	b, err := NewBulkhead(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// waitFor spins until cond holds: for states that have no channel to wait
// on (a goroutine parked inside a channel send), without sleeping.
func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not reached in 10s")
		}
		runtime.Gosched()
	}
}
