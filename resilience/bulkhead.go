package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrBulkheadFull is returned (wrapped, naming the pool) when a Bulkhead
// cannot give the caller a worker slot: its queue is full, or the caller
// waited in the queue longer than the pool's QueueTimeout.
var ErrBulkheadFull = errors.New("resilience: bulkhead full")

// BulkheadConfig configures a Bulkhead. Zero values take the documented
// defaults; invalid values make NewBulkhead fail.
type BulkheadConfig struct {
	// Name names the pool in errors and in the OnReject callback (the
	// neko_bulkhead_rejected_total{pool} label). Required.
	Name string
	// Workers is the number of calls that may run at once. Required, > 0.
	Workers int
	// Queue is the number of callers that may wait for a slot at once.
	// 0 means Workers*4; a negative value means no queue (callers that find
	// every worker busy are rejected at once).
	Queue int
	// QueueTimeout bounds how long a caller waits in the queue.
	// 0 means 100ms; negative is invalid.
	QueueTimeout time.Duration
	// OnReject, when set, is called with Name each time Do returns
	// ErrBulkheadFull. It must be cheap and must not block.
	OnReject func(pool string)
}

// Bulkhead is a bounded worker pool for one class of calls to one
// dependency: at most Workers calls run at once, at most Queue more wait, and
// none waits longer than QueueTimeout. It exists so that one slow class of
// calls (say, aggregations) cannot take every connection of a shared pool
// from another (point reads).
//
// It has no worker goroutines: the caller's own goroutine runs fn once it
// holds one of Workers slots of a semaphore (a buffered channel). That is
// exactly a worker pool of size Workers with a bounded queue, minus the
// hand-off of fn and its result between goroutines, which would cost a
// channel round trip and an allocation per call and would detach fn from the
// caller's stack (panics, traces, profiles). Waiters block in the channel's
// send queue, which Go serves in FIFO order and hands a released slot
// directly to the oldest waiter, so newcomers cannot barge past the queue.
// The queue is bounded by an atomic counter checked before waiting.
//
// A Bulkhead is safe for concurrent use.
type Bulkhead struct {
	name    string
	sem     chan struct{} // one element per running call
	queued  atomic.Int64  // callers waiting for a slot
	queue   int64
	timeout time.Duration

	onReject   func(pool string)
	errFull    error // prebuilt so that rejecting under overload does not allocate
	errTimeout error
}

// NewBulkhead validates cfg, applies its defaults and returns a Bulkhead.
func NewBulkhead(cfg BulkheadConfig) (*Bulkhead, error) {
	if cfg.Name == "" {
		return nil, errors.New("resilience: bulkhead: Name is required")
	}
	if cfg.Workers <= 0 {
		return nil, fmt.Errorf("resilience: bulkhead %q: Workers must be > 0, got %d", cfg.Name, cfg.Workers)
	}
	if cfg.QueueTimeout < 0 {
		return nil, fmt.Errorf("resilience: bulkhead %q: QueueTimeout must be >= 0, got %v", cfg.Name, cfg.QueueTimeout)
	}
	queue := cfg.Queue
	switch {
	case queue == 0:
		queue = cfg.Workers * 4
	case queue < 0:
		queue = 0
	}
	timeout := cfg.QueueTimeout
	if timeout == 0 {
		timeout = 100 * time.Millisecond
	}
	return &Bulkhead{
		name:       cfg.Name,
		sem:        make(chan struct{}, cfg.Workers),
		queue:      int64(queue),
		timeout:    timeout,
		onReject:   cfg.OnReject,
		errFull:    fmt.Errorf("bulkhead %q: queue full (%d waiting): %w", cfg.Name, queue, ErrBulkheadFull),
		errTimeout: fmt.Errorf("bulkhead %q: no worker within %v: %w", cfg.Name, timeout, ErrBulkheadFull),
	}, nil
}

// Name returns the pool's name.
func (b *Bulkhead) Name() string { return b.name }

// Workers returns the pool's size.
func (b *Bulkhead) Workers() int { return cap(b.sem) }

// Do runs fn on the caller's goroutine once a worker slot is free, and
// returns fn's error. If every slot is busy it waits in the queue at most
// QueueTimeout; it returns an error wrapping ErrBulkheadFull at once when the
// queue is full or when the wait times out, and ctx.Err() when ctx ends
// first (a caller that gave up is not a rejection). fn receives ctx
// unchanged. The slot is released when fn returns or panics.
func (b *Bulkhead) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	return fn(ctx)
}

// InFlight returns the number of calls running now.
func (b *Bulkhead) InFlight() int { return len(b.sem) }

// Queued returns the number of callers waiting for a slot now.
func (b *Bulkhead) Queued() int { return int(b.queued.Load()) }

// acquire takes a worker slot or says why it cannot. Every nil return must
// be paired with one release.
func (b *Bulkhead) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case b.sem <- struct{}{}:
		return nil
	default:
	}
	if b.queued.Add(1) > b.queue {
		b.queued.Add(-1)
		return b.reject(b.errFull)
	}
	defer b.queued.Add(-1)
	t := time.NewTimer(b.timeout)
	defer t.Stop()
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-t.C:
		return b.reject(b.errTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Bulkhead) release() { <-b.sem }

func (b *Bulkhead) reject(err error) error {
	if b.onReject != nil {
		b.onReject(b.name)
	}
	return err
}
