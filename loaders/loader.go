package loaders

import (
	"context"
	"errors"
	"sync"
)

// Loader batches the loads of one relation within one request. Load registers a key and returns
// a thunk; the first thunk of a batch to be forced fetches every key the batch holds in one call,
// and the batch's other thunks wait for that call. Keys registered after a batch started go to
// the next one. Every key's value or error is kept for the rest of the request, so no key is
// fetched twice. A Loader is safe for concurrent use.
type Loader[K comparable, V any] struct {
	fetch    func(keys []K) (map[K]V, error)
	capacity int // the most keys of one batch

	mu    sync.Mutex
	open  *batch[K, V]       // guarded by mu: the batch taking new keys; nil when none is
	known map[K]*batch[K, V] // guarded by mu: the batch of every key registered so far
}

// batch is the keys of one fetch call and, once done is closed, its result.
type batch[K comparable, V any] struct {
	keys    []K  // appended under Loader.mu until the batch is started, read-only after
	started bool // guarded by Loader.mu: a thunk has claimed the fetch

	done   chan struct{} // closed when values and err are final
	values map[K]V
	err    error
}

// newLoader returns a Loader whose batches carry at most capacity keys. Each batch calls fetch
// under the context newCtx makes for it (named for the relation, for its span), then ends it
// with the function newCtx returned and fetch's error. A key fetch leaves out loads as the zero
// value (nil, or an empty list).
func newLoader[K comparable, V any](capacity int, newCtx func(name string, keys int) (context.Context, func(error)), name string, fetch func(ctx context.Context, keys []K) (map[K]V, error)) *Loader[K, V] {
	return &Loader[K, V]{
		capacity: capacity,
		known:    make(map[K]*batch[K, V]),
		fetch: func(keys []K) (m map[K]V, err error) {
			ctx, end := newCtx(name, len(keys))
			defer func() { end(err) }()
			return fetch(ctx, keys)
		},
	}
}

// Load registers key and returns a thunk for its value. Forcing the thunk fetches the key's
// batch if no other thunk has, so a Load forced at once works as a single lookup. ctx bounds
// only this caller's wait for a batch another thunk fetches: a batch runs under its own context,
// so one caller giving up does not fail the others.
func (l *Loader[K, V]) Load(ctx context.Context, key K) func() (V, error) {
	l.mu.Lock()
	b, ok := l.known[key]
	if !ok {
		if l.open == nil {
			l.open = &batch[K, V]{done: make(chan struct{})}
		}
		b = l.open
		b.keys = append(b.keys, key)
		l.known[key] = b
		if len(b.keys) >= l.capacity {
			l.open = nil
		}
	}
	l.mu.Unlock()
	return func() (V, error) { return l.value(ctx, b, key) }
}

// LoadMany is Load for several keys. The thunk's errs is nil when every key loaded; otherwise
// errs[i] is the error of keys[i].
func (l *Loader[K, V]) LoadMany(ctx context.Context, keys []K) func() ([]V, []error) {
	thunks := make([]func() (V, error), len(keys))
	for i, k := range keys {
		thunks[i] = l.Load(ctx, k)
	}
	return func() ([]V, []error) {
		values := make([]V, len(keys))
		var errs []error
		for i, th := range thunks {
			var err error
			if values[i], err = th(); err != nil {
				if errs == nil {
					errs = make([]error, len(keys))
				}
				errs[i] = err
			}
		}
		return values, errs
	}
}

// value returns key's result from b, fetching b first unless another thunk already claimed it.
func (l *Loader[K, V]) value(ctx context.Context, b *batch[K, V], key K) (V, error) {
	l.mu.Lock()
	claim := !b.started
	if claim {
		b.started = true
		if l.open == b {
			l.open = nil
		}
	}
	l.mu.Unlock()
	var zero V
	if claim {
		b.run(l.fetch)
	} else {
		select {
		case <-b.done:
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
	if b.err != nil {
		return zero, b.err
	}
	return b.values[key], nil
}

// errFetchPanicked is what the waiting thunks of a batch get when its fetch panics; the panic
// itself reaches the thunk that ran the fetch, whose caller (the engine) recovers it.
var errFetchPanicked = errors.New("loaders: batch fetch panicked")

// run fetches b's keys and publishes the result, even when fetch panics: the waiting thunks must
// not hang.
func (b *batch[K, V]) run(fetch func(keys []K) (map[K]V, error)) {
	defer close(b.done)
	b.err = errFetchPanicked // replaced by fetch's result unless it panics
	b.values, b.err = fetch(b.keys)
}
