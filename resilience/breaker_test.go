package resilience

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var errDependency = errors.New("dependency failed")

// outcome is what a call in a breaker scenario does.
type outcome int

const (
	succeed        outcome = iota
	fail                   // the dependency returns an error
	depTimeout             // the dependency's own deadline expires (ctx alive)
	callerCancel           // the caller cancels its ctx during the call
	callerDeadline         // the caller's deadline expires during the call
	fnCanceled             // fn returns context.Canceled with ctx alive (e.g. a wrapped cancellation)
)

type breakerStep struct {
	wait      time.Duration // fake time to let pass before the call
	do        outcome
	wantErr   error // nil, errDependency, ErrBreakerOpen, context.Canceled, context.DeadlineExceeded
	wantRan   bool
	wantState State // after the call
}

func TestBreakerScenarios(t *testing.T) {
	const timeout = 5 * time.Second
	tests := []struct {
		name        string
		cfg         BreakerConfig
		steps       []breakerStep
		wantChanges []string
	}{
		{
			name: "trips after N consecutive failures and fails fast",
			cfg:  BreakerConfig{ConsecutiveFailures: 3},
			steps: []breakerStep{
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateClosed},
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateClosed},
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateOpen},
				{do: succeed, wantErr: ErrBreakerOpen, wantState: StateOpen},
				{wait: timeout - time.Millisecond, do: succeed, wantErr: ErrBreakerOpen, wantState: StateOpen},
			},
			wantChanges: []string{"closed->open"},
		},
		{
			name: "a success resets the consecutive count",
			cfg:  BreakerConfig{ConsecutiveFailures: 3},
			steps: []breakerStep{
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateClosed},
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateClosed},
				{do: succeed, wantRan: true, wantState: StateClosed},
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateClosed},
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateClosed},
			},
		},
		{
			name: "half-open probe success closes",
			cfg:  BreakerConfig{ConsecutiveFailures: 1},
			steps: []breakerStep{
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateOpen},
				{wait: timeout + time.Millisecond, do: succeed, wantRan: true, wantState: StateClosed},
				{do: succeed, wantRan: true, wantState: StateClosed},
			},
			wantChanges: []string{"closed->open", "open->half-open", "half-open->closed"},
		},
		{
			name: "half-open probe failure reopens",
			cfg:  BreakerConfig{ConsecutiveFailures: 1},
			steps: []breakerStep{
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateOpen},
				{wait: timeout + time.Millisecond, do: fail, wantErr: errDependency, wantRan: true, wantState: StateOpen},
				{do: succeed, wantErr: ErrBreakerOpen, wantState: StateOpen},
			},
			wantChanges: []string{"closed->open", "open->half-open", "half-open->open"},
		},
		{
			name: "needs MaxRequests successes to close",
			cfg:  BreakerConfig{ConsecutiveFailures: 1, MaxRequests: 2},
			steps: []breakerStep{
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateOpen},
				{wait: timeout + time.Millisecond, do: succeed, wantRan: true, wantState: StateHalfOpen},
				{do: succeed, wantRan: true, wantState: StateClosed},
			},
			wantChanges: []string{"closed->open", "open->half-open", "half-open->closed"},
		},
		{
			name: "caller cancellation and caller deadline are not failures",
			cfg:  BreakerConfig{ConsecutiveFailures: 2},
			steps: []breakerStep{
				{do: callerCancel, wantErr: context.Canceled, wantRan: true, wantState: StateClosed},
				{do: callerCancel, wantErr: context.Canceled, wantRan: true, wantState: StateClosed},
				{do: callerDeadline, wantErr: context.DeadlineExceeded, wantRan: true, wantState: StateClosed},
				{do: callerDeadline, wantErr: context.DeadlineExceeded, wantRan: true, wantState: StateClosed},
				{do: fnCanceled, wantErr: context.Canceled, wantRan: true, wantState: StateClosed},
				{do: fnCanceled, wantErr: context.Canceled, wantRan: true, wantState: StateClosed},
			},
		},
		{
			name: "the dependency's own timeout is a failure",
			cfg:  BreakerConfig{ConsecutiveFailures: 2},
			steps: []breakerStep{
				{do: depTimeout, wantErr: context.DeadlineExceeded, wantRan: true, wantState: StateClosed},
				{do: depTimeout, wantErr: context.DeadlineExceeded, wantRan: true, wantState: StateOpen},
			},
			wantChanges: []string{"closed->open"},
		},
		{
			name: "a cancelled half-open probe frees the probe slot",
			cfg:  BreakerConfig{ConsecutiveFailures: 1},
			steps: []breakerStep{
				{do: fail, wantErr: errDependency, wantRan: true, wantState: StateOpen},
				{wait: timeout + time.Millisecond, do: callerCancel, wantErr: context.Canceled, wantRan: true, wantState: StateHalfOpen},
				{do: succeed, wantRan: true, wantState: StateClosed},
			},
			wantChanges: []string{"closed->open", "open->half-open", "half-open->closed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var changes []string
				cfg := tt.cfg
				cfg.Name = "mongodb"
				cfg.Timeout = timeout
				cfg.OnStateChange = func(name string, from, to State) {
					if name != "mongodb" {
						t.Errorf("OnStateChange name = %q", name)
					}
					mu.Lock()
					changes = append(changes, from.String()+"->"+to.String())
					mu.Unlock()
				}
				b, err := NewBreaker(cfg)
				if err != nil {
					t.Fatal(err)
				}
				for i, s := range tt.steps {
					time.Sleep(s.wait) // fake time: lets the breaker's open period pass
					ran, err := runOutcome(b, s.do)
					if s.wantErr == nil && err != nil || s.wantErr != nil && !errors.Is(err, s.wantErr) {
						t.Errorf("step %d: err = %v, want %v", i, err, s.wantErr)
					}
					if ran != s.wantRan {
						t.Errorf("step %d: fn ran = %v, want %v", i, ran, s.wantRan)
					}
					if got := b.State(); got != s.wantState {
						t.Errorf("step %d: state = %v, want %v", i, got, s.wantState)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if !slices.Equal(changes, tt.wantChanges) {
					t.Errorf("state changes = %q, want %q", changes, tt.wantChanges)
				}
			})
		})
	}
}

// runOutcome makes one call through b that ends as o says.
func runOutcome(b *Breaker, o outcome) (ran bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if o == callerDeadline {
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	err = b.Do(ctx, func(ctx context.Context) error {
		ran = true
		switch o {
		case fail:
			return fmt.Errorf("find actors: %w", errDependency)
		case depTimeout:
			dctx, dcancel := context.WithTimeout(ctx, time.Second)
			defer dcancel()
			<-dctx.Done()
			return dctx.Err()
		case callerCancel:
			cancel()
			return ctx.Err()
		case callerDeadline:
			<-ctx.Done()
			return ctx.Err()
		case fnCanceled:
			return fmt.Errorf("driver: %w", context.Canceled)
		}
		return nil
	})
	return ran, err
}

func TestBreakerHalfOpenLimitsProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustBreaker(t, BreakerConfig{Name: "redis", ConsecutiveFailures: 1, Timeout: time.Second})
		_ = b.Do(context.Background(), func(context.Context) error { return errDependency })
		time.Sleep(2 * time.Second)
		probing := make(chan struct{})
		release := make(chan struct{})
		go func() {
			_ = b.Do(context.Background(), func(context.Context) error { close(probing); <-release; return nil })
		}()
		<-probing
		err := b.Do(context.Background(), func(context.Context) error { t.Error("second probe ran"); return nil })
		if !errors.Is(err, ErrBreakerOpen) {
			t.Errorf("err = %v, want ErrBreakerOpen", err)
		}
		close(release)
		synctest.Wait()
		if b.State() != StateClosed {
			t.Errorf("state = %v, want closed", b.State())
		}
	})
}

func TestBreakerPanicCountsAsFailure(t *testing.T) {
	b := mustBreaker(t, BreakerConfig{Name: "redis", ConsecutiveFailures: 1})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		_ = b.Do(context.Background(), func(context.Context) error { panic("boom") })
	}()
	if b.State() != StateOpen {
		t.Errorf("state = %v, want open", b.State())
	}
}

func TestNewBreakerConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     BreakerConfig
		wantErr bool
	}{
		{name: "defaults", cfg: BreakerConfig{Name: "x"}},
		{name: "missing name", cfg: BreakerConfig{}, wantErr: true},
		{name: "negative interval", cfg: BreakerConfig{Name: "x", Interval: -1}, wantErr: true},
		{name: "negative timeout", cfg: BreakerConfig{Name: "x", Timeout: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewBreaker(tt.cfg); (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateClosed: "closed", StateHalfOpen: "half-open", StateOpen: "open", 7: "State(7)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
	if StateClosed != 0 || StateHalfOpen != 1 || StateOpen != 2 {
		t.Error("gauge values changed")
	}
}

func mustBreaker(tb testing.TB, cfg BreakerConfig) *Breaker {
	tb.Helper()
	b, err := NewBreaker(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// A refused call says when the breaker will let a probe through: the rest of its open Timeout.
func TestBreakerOpenErrorRetryAfter(t *testing.T) {
	b, err := NewBreaker(BreakerConfig{Name: "db", Timeout: 10 * time.Second, ConsecutiveFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b.now = func() time.Time { return now }
	failing := errors.New("down")
	if err := b.Do(context.Background(), func(context.Context) error { return failing }); !errors.Is(err, failing) {
		t.Fatalf("first call: %v", err)
	}
	now = now.Add(3 * time.Second)
	err = b.Do(context.Background(), func(context.Context) error { return nil })
	var open *OpenError
	if !errors.As(err, &open) || !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("call on an open breaker: %v, want an *OpenError wrapping ErrBreakerOpen", err)
	}
	if open.RetryIn() != 7*time.Second || open.Name != "db" {
		t.Fatalf("OpenError %+v, want RetryAfter 7s for db", open)
	}
}

// A half-open probe whose caller gives up frees the probe slot when the caller's ctx ends, not
// when fn gets round to returning: gobreaker refuses every other call while the probe is out.
func TestBreakerAbandonedProbeFreesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustBreaker(t, BreakerConfig{Name: "db", ConsecutiveFailures: 1, Timeout: time.Second})
		_ = b.Do(context.Background(), func(context.Context) error { return errDependency })
		time.Sleep(time.Second + time.Millisecond)

		ctx, cancel := context.WithCancel(context.Background())
		release := make(chan struct{})
		unblock := sync.OnceFunc(func() { close(release) })
		defer unblock() // a failing test must not leave the call hanging in the bubble
		hung := make(chan error, 1)
		go func() { hung <- b.Do(ctx, func(context.Context) error { <-release; return errDependency }) }()
		synctest.Wait()
		cancel()
		synctest.Wait()
		if err := b.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatalf("probe after the first one's caller gave up: %v", err)
		}
		if b.State() != StateClosed {
			t.Fatalf("state = %v, want closed", b.State())
		}
		unblock()
		if err := <-hung; !errors.Is(err, errDependency) {
			t.Errorf("abandoned call: %v, want its own error", err)
		}
		if b.State() != StateClosed {
			t.Errorf("state = %v after the abandoned call returned, want closed", b.State())
		}
	})
}
