package resilience

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestGuardOrder(t *testing.T) {
	t.Run("a full bulkhead is not a breaker failure", func(t *testing.T) {
		bh := mustBulkhead(t, BulkheadConfig{Name: "p", Workers: 1, Queue: -1})
		br := mustBreaker(t, BreakerConfig{Name: "db", ConsecutiveFailures: 1})
		g := mustGuard(t, GuardConfig{Bulkhead: bh, Breaker: br})
		started, gate := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			_ = g.Do(context.Background(), func(context.Context) error { close(started); <-gate; return nil })
		})
		<-started
		for range 3 {
			if err := g.Do(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, ErrBulkheadFull) {
				t.Fatalf("err = %v, want ErrBulkheadFull", err)
			}
		}
		close(gate)
		wg.Wait()
		if br.State() != StateClosed {
			t.Errorf("breaker %v after bulkhead rejections, want closed", br.State())
		}
	})
	t.Run("a refusing breaker does not hold a slot", func(t *testing.T) {
		bh := mustBulkhead(t, BulkheadConfig{Name: "p", Workers: 1, Queue: -1})
		br := mustBreaker(t, BreakerConfig{Name: "db", ConsecutiveFailures: 1})
		g := mustGuard(t, GuardConfig{Bulkhead: bh, Breaker: br})
		if err := g.Do(context.Background(), func(context.Context) error { return errDependency }); !errors.Is(err, errDependency) {
			t.Fatalf("err = %v", err)
		}
		for range 3 { // with one slot and no queue, a leaked slot would turn these into ErrBulkheadFull
			if err := g.Do(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, ErrBreakerOpen) {
				t.Fatalf("err = %v, want ErrBreakerOpen", err)
			}
		}
		if bh.InFlight() != 0 {
			t.Errorf("InFlight = %d, want 0", bh.InFlight())
		}
	})
}

func TestGuardTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	tests := []struct {
		name          string
		callerTimeout time.Duration // 0: none
		work          time.Duration // how long fn takes unless its ctx ends
		wantErrs      []error
		wantNotErrs   []error
		wantState     State
	}{
		{name: "fast call", work: timeout - time.Millisecond, wantState: StateClosed},
		{name: "guard timeout counts", work: time.Hour, wantErrs: []error{ErrTimeout, context.DeadlineExceeded}, wantState: StateOpen},
		{name: "caller deadline does not count", callerTimeout: timeout / 2, work: time.Hour,
			wantErrs: []error{context.DeadlineExceeded}, wantNotErrs: []error{ErrTimeout}, wantState: StateClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				br := mustBreaker(t, BreakerConfig{Name: "db", ConsecutiveFailures: 1})
				g := mustGuard(t, GuardConfig{Bulkhead: mustBulkhead(t, BulkheadConfig{Name: "p", Workers: 2}), Breaker: br, Timeout: timeout})
				ctx := context.Background()
				if tt.callerTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.callerTimeout)
					defer cancel()
				}
				// Two calls in a row: the timeout is per call, not shared.
				for range 2 {
					if br.State() == StateOpen {
						break
					}
					err := g.Do(ctx, func(ctx context.Context) error {
						select {
						case <-time.After(tt.work):
							return nil
						case <-ctx.Done():
							return ctx.Err()
						}
					})
					for _, want := range tt.wantErrs {
						if !errors.Is(err, want) {
							t.Errorf("err = %v, want %v", err, want)
						}
					}
					for _, no := range tt.wantNotErrs {
						if errors.Is(err, no) {
							t.Errorf("err = %v, must not be %v", err, no)
						}
					}
					if len(tt.wantErrs) == 0 && err != nil {
						t.Errorf("err = %v", err)
					}
				}
				if br.State() != tt.wantState {
					t.Errorf("breaker %v, want %v", br.State(), tt.wantState)
				}
			})
		})
	}
}

func TestGuardPanicReleasesAndCounts(t *testing.T) {
	bh := mustBulkhead(t, BulkheadConfig{Name: "p", Workers: 1, Queue: -1})
	br := mustBreaker(t, BreakerConfig{Name: "db", ConsecutiveFailures: 1})
	g := mustGuard(t, GuardConfig{Bulkhead: bh, Breaker: br, Timeout: time.Second})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic swallowed")
			}
		}()
		_ = g.Do(context.Background(), func(context.Context) error { panic("boom") })
	}()
	if bh.InFlight() != 0 || br.State() != StateOpen {
		t.Errorf("InFlight %d breaker %v, want 0 open", bh.InFlight(), br.State())
	}
}

func TestNewGuardConfig(t *testing.T) {
	if _, err := NewGuard(GuardConfig{Timeout: -1}); err == nil {
		t.Error("negative timeout accepted")
	}
	g := mustGuard(t, GuardConfig{})
	if err := g.Do(context.Background(), func(context.Context) error { return errDependency }); !errors.Is(err, errDependency) {
		t.Errorf("bare guard err = %v", err)
	}
}

func BenchmarkGuardNoop(b *testing.B) {
	g := mustGuard(b, GuardConfig{
		Bulkhead: mustBulkhead(b, BulkheadConfig{Name: "p", Workers: 64}),
		Breaker:  mustBreaker(b, BreakerConfig{Name: "db"}),
		Timeout:  time.Second,
	})
	ctx := context.Background()
	noop := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := g.Do(ctx, noop); err != nil {
				b.Error(err)
			}
		}
	})
}

func mustGuard(tb testing.TB, cfg GuardConfig) *Guard {
	tb.Helper()
	g, err := NewGuard(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// A half-open probe that outlives the Guard's timeout because fn does not return when its ctx
// ends (a driver call under a context without the deadline, say) must not keep the breaker
// half-open: gobreaker has no half-open timeout and refuses every other call while its one probe
// is out, so the breaker would wait for fn however long it hangs. The Guard records the timeout
// as the probe's failure when it passes; the next probe goes after the breaker's Timeout, and
// the hung call's late outcome changes nothing.
func TestGuardHungProbeDoesNotHoldHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout, open = 100 * time.Millisecond, time.Second
		br := mustBreaker(t, BreakerConfig{Name: "db", ConsecutiveFailures: 1, Timeout: open})
		g := mustGuard(t, GuardConfig{Bulkhead: mustBulkhead(t, BulkheadConfig{Name: "p", Workers: 4}), Breaker: br, Timeout: timeout})
		ctx := context.Background()
		if err := g.Do(ctx, func(context.Context) error { return errDependency }); !errors.Is(err, errDependency) {
			t.Fatalf("tripping call: %v", err)
		}
		time.Sleep(open + time.Millisecond)
		if br.State() != StateHalfOpen {
			t.Fatalf("breaker %v after its Timeout, want half-open", br.State())
		}

		release := make(chan struct{})
		unblock := sync.OnceFunc(func() { close(release) })
		defer unblock() // a failing test must not leave the call hanging in the bubble
		hung := make(chan error, 1)
		go func() { hung <- g.Do(ctx, func(context.Context) error { <-release; return nil }) }()
		synctest.Wait() // the probe is out, and blocked
		if err := g.Do(ctx, func(context.Context) error { return nil }); !errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("second call while the probe is out: %v, want ErrBreakerOpen", err)
		}

		time.Sleep(timeout)
		synctest.Wait()
		if br.State() != StateOpen {
			t.Fatalf("breaker %v once the hung probe's timeout passed, want open", br.State())
		}
		time.Sleep(open + time.Millisecond)
		if err := g.Do(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("next probe: %v", err)
		}
		if br.State() != StateClosed {
			t.Fatalf("breaker %v after a successful probe, want closed", br.State())
		}

		unblock()
		if err := <-hung; err != nil {
			t.Errorf("hung call: %v", err)
		}
		if br.State() != StateClosed {
			t.Errorf("breaker %v after the hung call returned, want closed", br.State())
		}
	})
}
