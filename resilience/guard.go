package resilience

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTimeout is returned (wrapped, together with the call's own error) when
// a Guard's per-call timeout, not the caller's deadline, ended the call.
var ErrTimeout = errors.New("resilience: dependency timed out")

// GuardConfig configures a Guard. Any stage may be left out.
type GuardConfig struct {
	// Name names the guarded dependency in errors. Empty means the
	// bulkhead's name, else the breaker's.
	Name string
	// Bulkhead bounds concurrent calls; nil means no bound.
	Bulkhead *Bulkhead
	// Breaker fails calls fast while the dependency is failing; nil means no
	// breaker. Several Guards may share one Breaker (one per dependency).
	Breaker *Breaker
	// Timeout bounds each call; 0 means the caller's deadline only, negative
	// is invalid.
	Timeout time.Duration
}

// Guard protects calls to one dependency with, in this fixed order, a
// bulkhead, a circuit breaker and a per-call timeout:
//
//	bulkhead -> breaker -> timeout -> fn
//
// The order is the point. The bulkhead is outermost so that a call rejected
// for want of a slot never reaches the breaker (overload here is not a
// failure there). The breaker comes before the timeout so that a call the
// breaker refuses never holds a timer, and after the bulkhead so that it
// sees only calls that actually ran; it does hold its slot while it decides,
// but refusing takes nanoseconds. The timeout is innermost so that the
// breaker sees the dependency's own timeouts as failures and the caller's
// cancellations as exclusions (see Breaker). The breaker learns a call's
// outcome when the timeout passes at the latest, even if fn has not returned
// by then, so a call that ignores its ctx cannot hold a half-open breaker.
//
// A Guard is safe for concurrent use.
type Guard struct {
	name     string
	bulkhead *Bulkhead
	breaker  *Breaker
	timeout  time.Duration
}

// NewGuard validates cfg and returns a Guard.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	name := cfg.Name
	if name == "" && cfg.Bulkhead != nil {
		name = cfg.Bulkhead.Name()
	}
	if name == "" && cfg.Breaker != nil {
		name = cfg.Breaker.Name()
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("resilience: guard %q: Timeout must be >= 0, got %v", name, cfg.Timeout)
	}
	return &Guard{name: name, bulkhead: cfg.Bulkhead, breaker: cfg.Breaker, timeout: cfg.Timeout}, nil
}

// Do runs fn through the bulkhead, the breaker and the timeout, and returns
// fn's error, or the error of the stage that refused the call: wrapping
// ErrBulkheadFull, ErrBreakerOpen, or ctx.Err() when ctx ended first. When
// the Guard's own timeout expired and fn failed, the error wraps both
// ErrTimeout and fn's error. fn receives a ctx bounded by the timeout. Do
// returns only when fn does, but a fn still running when the timeout passes
// is recorded by the breaker as timed out then (a failure), and one still
// running when ctx ends as the caller's (excluded).
func (g *Guard) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if g.bulkhead != nil {
		if err := g.bulkhead.acquire(ctx); err != nil {
			return err
		}
		defer g.bulkhead.release()
	}
	var done func(error)
	if g.breaker != nil {
		var err error
		if done, err = g.breaker.allow(ctx); err != nil {
			return err
		}
	}
	callCtx := ctx
	if g.timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, g.timeout)
		defer cancel()
	}
	var err error
	if done != nil {
		err = run(ctx, callCtx, done, fn) // records the outcome by the timeout at the latest
	} else {
		err = fn(callCtx)
	}
	if err != nil && ctx.Err() == nil && callCtx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s: %w after %v: %w", g.name, ErrTimeout, g.timeout, err)
	}
	return err
}
