package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrBreakerOpen is returned (wrapped, naming the breaker and wrapping
// gobreaker's own error) when a Breaker refuses a call: it is open, or it is
// half-open and its probes are already in flight.
var ErrBreakerOpen = errors.New("resilience: circuit breaker open")

// OpenError is the error of a call the Breaker refused. It wraps ErrBreakerOpen and gobreaker's
// own error, and tells when the breaker will let a probe through again, for a Retry-After.
type OpenError struct {
	Name string // the breaker's name
	// RetryAfter is how long until the breaker half-opens (at least 1 s when it is half-open and
	// its probes are in flight: their outcome decides in about a call's time).
	RetryAfter time.Duration
	cause      error // gobreaker's error
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("breaker %q: %v: %v", e.Name, ErrBreakerOpen, e.cause)
}

// Unwrap makes errors.Is hold for ErrBreakerOpen and for gobreaker's error.
func (e *OpenError) Unwrap() []error { return []error{ErrBreakerOpen, e.cause} }

// RetryIn is the wait the caller should advertise (an HTTP Retry-After).
func (e *OpenError) RetryIn() time.Duration { return e.RetryAfter }

// State is a Breaker's state. Its numeric value is the value exported on the
// neko_breaker_state{dependency} gauge: 0 closed, 1 half-open, 2 open.
type State int

// The states of a Breaker.
const (
	StateClosed   State = 0 // calls pass; consecutive failures are counted
	StateHalfOpen State = 1 // up to MaxRequests probe calls pass
	StateOpen     State = 2 // calls fail fast with ErrBreakerOpen
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateHalfOpen:
		return "half-open"
	case StateOpen:
		return "open"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

// BreakerConfig configures a Breaker. Zero values take the documented
// defaults; invalid values make NewBreaker fail.
type BreakerConfig struct {
	// Name names the dependency in errors and in OnStateChange (the
	// neko_breaker_state{dependency} label). Required.
	Name string
	// MaxRequests is the number of probe calls let through while half-open;
	// that many consecutive successes close the breaker. 0 means 1.
	MaxRequests uint32
	// Interval, when positive, is how often the failure counts are reset
	// while closed. 0 (the default) never resets them: the consecutive
	// failures that trip the breaker are reset by any success anyway, and a
	// reset every few seconds kept a dependency whose calls each time out
	// slowly (5 failures of 5 s) from ever tripping it. Negative is invalid.
	Interval time.Duration
	// Timeout is how long the breaker stays open before it lets probes
	// through (half-open). 0 means 5s; negative is invalid.
	Timeout time.Duration
	// ConsecutiveFailures is the number of consecutive failures that trips a
	// closed breaker. 0 means 5.
	ConsecutiveFailures uint32
	// OnStateChange, when set, is called on every transition, with the
	// breaker's lock held: it must be quick and must not call the Breaker.
	OnStateChange func(name string, from, to State)
}

// Breaker is a circuit breaker for one dependency (github.com/sony/gobreaker
// v2 underneath). After ConsecutiveFailures failed calls it opens and fails
// every call fast for Timeout, then lets MaxRequests probes through and
// closes again if they succeed.
//
// Only the dependency's failures count. A call whose caller gave up (its ctx
// ended, or fn returned context.Canceled) is excluded from the counts: a
// user closing a browser tab says nothing about MongoDB's health. A
// context.DeadlineExceeded counts only when the ctx given to Do is still
// alive, that is when the deadline was the dependency's own (a Guard's
// per-call timeout), not the caller's. An outcome is recorded when fn
// returns or when the ctx it runs under ends, whichever comes first: a call
// that does not return when its ctx ends never holds the breaker half-open.
//
// A Breaker is safe for concurrent use.
type Breaker struct {
	name    string
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	timeout time.Duration
	now     func() time.Time
	opened  atomic.Int64 // when the breaker last opened, Unix nanoseconds
}

// errCallerGone marks, for gobreaker's IsExcluded, an outcome caused by the
// caller rather than by the dependency.
var errCallerGone = errors.New("caller gone")

// errPanicked is recorded as the outcome of a call that panicked.
var errPanicked = errors.New("panicked")

// NewBreaker validates cfg, applies its defaults and returns a closed Breaker.
func NewBreaker(cfg BreakerConfig) (*Breaker, error) {
	if cfg.Name == "" {
		return nil, errors.New("resilience: breaker: Name is required")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("resilience: breaker %q: Interval must be >= 0, got %v", cfg.Name, cfg.Interval)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("resilience: breaker %q: Timeout must be >= 0, got %v", cfg.Name, cfg.Timeout)
	}
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = 1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.ConsecutiveFailures == 0 {
		cfg.ConsecutiveFailures = 5
	}
	threshold := cfg.ConsecutiveFailures
	st := gobreaker.Settings{
		Name:        cfg.Name,
		MaxRequests: cfg.MaxRequests,
		Interval:    cfg.Interval,
		Timeout:     cfg.Timeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		IsExcluded:  func(err error) bool { return err == errCallerGone },
	}
	b := &Breaker{name: cfg.Name, timeout: cfg.Timeout, now: time.Now}
	f := cfg.OnStateChange
	st.OnStateChange = func(name string, from, to gobreaker.State) {
		if to == gobreaker.StateOpen {
			b.opened.Store(b.now().UnixNano())
		}
		if f != nil {
			f(name, fromGobreaker(from), fromGobreaker(to))
		}
	}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](st)
	return b, nil
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// Do runs fn if the breaker lets it, records the outcome and returns fn's
// error. When the breaker refuses the call, fn does not run and Do returns an
// error wrapping ErrBreakerOpen. When ctx has already ended, Do returns
// ctx.Err() without running fn or using a half-open probe. A panic in fn
// counts as a failure and is re-raised. If ctx ends while fn runs, the call
// is recorded as the caller's at once, whenever fn returns (see run).
func (b *Breaker) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	done, err := b.allow(ctx)
	if err != nil {
		return err
	}
	return run(ctx, ctx, done, fn)
}

// run calls fn(callCtx), a call the breaker allowed, and records its outcome
// with done exactly once: fn's classified result if fn returns while callCtx
// is alive, otherwise the verdict at the moment callCtx ends (the
// dependency's timeout, a failure, when only callCtx's own deadline passed;
// the caller's, excluded, when ctx ended), without waiting for fn. callCtx is
// ctx, or ctx bounded by a Guard's per-call timeout.
//
// Recording at the deadline rather than when fn returns is what keeps a hung
// call from holding the breaker. gobreaker has no half-open timeout: while
// its MaxRequests probes are out it refuses every other call, and it leaves
// half-open only when a probe's outcome is recorded. A probe whose fn does
// not return when its ctx ends (a driver call made under a context without
// the deadline, which on a black-holed connection waits on TCP itself, past
// the database's recovery) would otherwise keep the breaker half-open,
// refusing every call, for as long as fn hangs. fn's own late outcome is
// then ignored; the caller still waits for fn.
func run(ctx, callCtx context.Context, done func(error), fn func(ctx context.Context) error) error {
	c := &call{ctx: ctx, callCtx: callCtx, done: done}
	if callCtx.Done() != nil { // nil: callCtx never ends (the Redis hook's)
		defer context.AfterFunc(callCtx, c.expire)()
	}
	returned := false
	defer func() {
		if !returned {
			c.record(errPanicked)
		}
	}()
	err := fn(callCtx)
	returned = true
	c.record(classify(ctx, err))
	return err
}

// call is one call the breaker allowed, whose outcome is recorded once.
type call struct {
	ctx, callCtx context.Context
	done         func(error)
	recorded     atomic.Bool
}

func (c *call) record(err error) {
	if c.recorded.CompareAndSwap(false, true) {
		c.done(err)
	}
}

// expire records the verdict at the moment callCtx ended, fn still running.
func (c *call) expire() { c.record(classify(c.ctx, c.callCtx.Err())) }

// State returns the breaker's current state.
func (b *Breaker) State() State { return fromGobreaker(b.cb.State()) }

// allow asks the breaker for permission; a nil error comes with the function
// that records the (classified) outcome.
func (b *Breaker) allow(ctx context.Context) (func(error), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	done, err := b.cb.Allow()
	if err != nil {
		retry := time.Second // half-open with its probes in flight
		if errors.Is(err, gobreaker.ErrOpenState) {
			left := b.timeout - b.now().Sub(time.Unix(0, b.opened.Load()))
			retry = min(max(left, time.Second), b.timeout)
		}
		return nil, &OpenError{Name: b.name, RetryAfter: retry, cause: err}
	}
	return done, nil
}

// classify maps the outcome of a call made under ctx to what the breaker
// should record: errCallerGone when the caller, not the dependency, ended it.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return errCallerGone
	}
	return err
}

func fromGobreaker(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	case gobreaker.StateOpen:
		return StateOpen
	default:
		return StateClosed
	}
}
