// Package cache is neko's two-tier response cache and its persisted-query store.
//
// A read goes through Tiered.Do, a read-through decorator around the caller's fill function:
//
//	L1 (ristretto, in process) -> singleflight per key -> [L1 again, L2 (Redis)] -> fill
//
// A fresh entry is a Hit. An entry past MaxAge but within StaleWhileRevalidate is served Stale
// while one owned background goroutine refreshes it. Concurrent misses for one key on one
// instance share one flight, which runs in its own goroutine under its own deadline
// (Config.FillTimeout), so a caller that gives up neither cancels nor delays the others; inside the
// flight L1 is checked again (another flight may just have filled it) and then L2, so L2 reads are
// deduplicated as well as fills. fill's result goes to L1 (best effort: ristretto may drop a Set,
// and correctness never depends on a hit) and to L2. If fill fails and an entry within
// StaleIfError exists, that entry is served Stale. Errors are never cached.
//
// Writes call Tiered.Invalidate with tags (type names). Entries remember the version of each of
// their tags; invalidating bumps the version (Redis INCR, mirrored locally and broadcast over Redis
// pub/sub), which makes every older entry unusable on every instance and in L2 without enumerating
// or deleting keys. See Invalidate for the argument.
//
// Redis is optional and never on the critical path: each call has its own short deadline
// (Config.RedisTimeout); after a failure L2 is skipped for a second so an outage does not add that
// deadline to every request; the subscriber reconnects with backoff and resynchronises tag versions
// when it does. A Redis outage degrades the cache to L1 plus fill, never to errors.
//
// PersistedQueries, in persisted.go, stores Apollo automatic persisted queries by SHA-256 hash in
// a bounded LRU and, when configured, in Redis.
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/redis/go-redis/v9"
)

// Defaults for zero Config fields.
const (
	DefaultL1MaxBytes   = 64 << 20
	DefaultKeyPrefix    = "neko:"
	DefaultRedisTimeout = 50 * time.Millisecond
	DefaultFillTimeout  = 10 * time.Second
)

// redisPause is how long L2 is skipped after a Redis call fails for a reason other than a Redis
// reply (timeout, refused or broken connection). During an outage a request then pays at most one
// RedisTimeout per pause instead of one per request, and L2 is tried again automatically after it.
const redisPause = time.Second

// ErrFillPanic is returned (wrapped, with the panic value) to every caller of a flight whose fill
// panicked. The panic and its stack are logged once.
var ErrFillPanic = errors.New("cache: fill panicked")

// ErrInvalidTag is returned by Invalidate for an empty tag.
var ErrInvalidTag = errors.New("cache: invalid tag")

// Config configures a Tiered. The zero value of every field but Logger is usable.
type Config struct {
	// L1MaxBytes bounds the in-process tier (ristretto MaxCost, in bytes of entries); 0 means
	// DefaultL1MaxBytes. Negative is an error.
	L1MaxBytes int64
	// Redis is the L2 tier and the invalidation bus. nil: L1 only, invalidation is local.
	Redis redis.UniversalClient
	// KeyPrefix starts every Redis key and the default channel; "" means DefaultKeyPrefix.
	KeyPrefix string
	// RedisTimeout bounds each Redis call, derived from the caller's context; 0 means
	// DefaultRedisTimeout. A slow Redis must never slow a request by much.
	RedisTimeout time.Duration
	// FillTimeout is the deadline of a shared fill and of a background refresh; 0 means
	// DefaultFillTimeout.
	FillTimeout time.Duration
	// Now is the clock for freshness decisions; nil means time.Now. Tests pass a fake clock.
	Now func() time.Time
	// Logger receives Redis failures (rate limited), fill panics and refresh failures. Required.
	Logger *slog.Logger
	// OnLookup, if set, is called once per tier consulted: tier is "l1" or "l2", result is "hit"
	// (fresh), "stale" (served under stale-while-revalidate), "miss" (absent, expired, invalidated,
	// or usable only if fill fails) or "error" (L2 unreachable, skipped after a recent failure, or
	// unreadable). L2 is consulted inside the flight, so one l2 lookup stands for every caller
	// sharing it. It must be fast and safe for concurrent use: it is the metrics hook for
	// neko_cache_lookups_total{tier,result}.
	OnLookup func(tier, result string)
	// OnShared, if set, is called each time a caller receives the result of a flight another caller
	// started (neko_singleflight_shared_total).
	OnShared func()
	// InvalidationChannel is the Redis pub/sub channel for invalidations; "" means
	// KeyPrefix+"invalidate".
	InvalidationChannel string
}

// Tiered is the two-tier, tag-invalidated, stampede-protected response cache. It is safe for
// concurrent use. Close it after the last call to its other methods has returned.
type Tiered struct {
	cfg  Config // defaults applied
	l1   *ristretto.Cache[string, *item]
	tags *tagSet
	logs *logLimiter

	flights   flightGroup
	downUntil atomic.Int64 // Config.Now Unix nanoseconds before which L2 is skipped

	life  context.Context // cancelled by Close: stops the subscriber, the syncer, fills
	stop  context.CancelFunc
	nudge chan struct{} // asks the syncer to resynchronise tag versions now (capacity 1)

	mu         sync.Mutex          // guards closed and refreshing; orders wg.Add before wg.Wait
	closed     bool                // Close has begun: no new goroutines
	refreshing map[string]struct{} // keys with a background refresh running
	wg         sync.WaitGroup      // every goroutine this Tiered starts
	refreshWG  sync.WaitGroup      // background refreshes only (tests wait on it)
}

// New validates cfg, builds L1 and, when cfg.Redis is set, synchronises tag versions with Redis
// (one attempt, RedisTimeout: an unreachable Redis does not fail New) and starts the invalidation
// subscriber and the tag-version syncer, owned goroutines stopped by Close.
func New(cfg Config) (*Tiered, error) {
	switch {
	case cfg.Logger == nil:
		return nil, errors.New("cache: Config.Logger is required")
	case cfg.L1MaxBytes < 0:
		return nil, fmt.Errorf("cache: Config.L1MaxBytes %d is negative", cfg.L1MaxBytes)
	case cfg.RedisTimeout < 0:
		return nil, fmt.Errorf("cache: Config.RedisTimeout %v is negative", cfg.RedisTimeout)
	case cfg.FillTimeout < 0:
		return nil, fmt.Errorf("cache: Config.FillTimeout %v is negative", cfg.FillTimeout)
	}
	if cfg.L1MaxBytes == 0 {
		cfg.L1MaxBytes = DefaultL1MaxBytes
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if cfg.RedisTimeout == 0 {
		cfg.RedisTimeout = DefaultRedisTimeout
	}
	if cfg.FillTimeout == 0 {
		cfg.FillTimeout = DefaultFillTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InvalidationChannel == "" {
		cfg.InvalidationChannel = cfg.KeyPrefix + "invalidate"
	}
	l1, err := ristretto.NewCache(&ristretto.Config[string, *item]{
		// Ten counters per expected entry, assuming entries of about 4 KiB.
		NumCounters:        max(1000, cfg.L1MaxBytes/4096*10),
		MaxCost:            cfg.L1MaxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true, // item.cost already counts the overhead
	})
	if err != nil {
		return nil, fmt.Errorf("cache: build L1: %w", err)
	}

	// Without Redis the versions are purely local and the epoch is a constant; with Redis, epoch 0
	// marks "not synchronised yet" until sync reads Redis's.
	epoch := uint64(0)
	if cfg.Redis == nil {
		epoch = 1
	}
	life, stop := context.WithCancel(context.Background())
	t := &Tiered{
		cfg:        cfg,
		l1:         l1,
		tags:       newTagSet(epoch),
		logs:       newLogLimiter(cfg.Logger, cfg.Now),
		life:       life,
		stop:       stop,
		nudge:      make(chan struct{}, 1),
		refreshing: make(map[string]struct{}),
	}
	if cfg.Redis != nil {
		if err := t.sync(life); err != nil {
			t.logs.warn("sync", "cache: tag versions not synchronised with Redis yet", err)
		}
		t.spawn(t.subscribe)
		t.spawn(t.syncLoop)
	}
	return t, nil
}

// Do returns the entry for key, filling it with fill when no usable entry exists; see the package
// comment for the path. The Status says where the answer came from (X-Cache). fill's errors are
// returned as is (a panic as ErrFillPanic), except when a stale entry within StaleIfError is served
// instead. If ctx ends before the answer, Do returns ctx.Err() at once and the shared fill goes on
// for the other callers and the cache.
//
// fill runs in another goroutine, for every caller of the flight or for none (a background
// refresh): it receives a context with the values of the ctx that started it but not its
// cancellation or deadline (its own deadline is FillTimeout, and Close cancels it), so it must not
// depend on anything that ends with the request but is not in ctx. Concurrent calls with one key
// should pass the same policy and an equivalent fill: the flight uses its leader's. With
// p.MaxAge <= 0, Do calls fill directly with ctx and reports Bypass.
func (t *Tiered) Do(ctx context.Context, key string, p Policy, fill func(ctx context.Context) (Entry, error)) (Entry, Status, error) {
	if p.MaxAge <= 0 {
		e, err := t.runFill(ctx, key, fill)
		return e, Bypass, err
	}
	p = p.normalized()

	var fallback *item // usable only if fill fails
	if it, ok := t.l1Get(key); ok {
		switch t.judge(ctx, it, p, t.cfg.Now(), false) {
		case fresh:
			t.lookup("l1", "hit")
			return it.entry, Hit, nil
		case revalidate:
			t.lookup("l1", "stale")
			t.refresh(ctx, key, p, fill)
			return it.entry, Stale, nil
		case ifError:
			fallback = it
		}
	}
	t.lookup("l1", "miss")

	f, leader := t.flights.join(key, t.Generation())
	if leader {
		started := t.spawn(func() {
			ctx, cancel := t.fillContext(ctx)
			defer cancel()
			t.fly(ctx, key, p, fill, fallback, f, false)
		})
		if !started { // closed: no new goroutines, answer in the caller's, under its ctx
			t.fly(ctx, key, p, fill, fallback, f, false)
		}
	}
	select {
	case <-f.done:
		if !leader && t.cfg.OnShared != nil {
			t.cfg.OnShared()
		}
		return f.res.entry, f.res.status, f.res.err
	case <-ctx.Done():
		return Entry{}, Miss, ctx.Err()
	}
}

// fly runs flight f for key and always finishes it, even if something panics. With refresh set it
// was started by a background refresh: only a fresh entry saves the fill.
func (t *Tiered) fly(ctx context.Context, key string, p Policy, fill func(context.Context) (Entry, error), fallback *item, f *flight, refresh bool) {
	var res flightResult
	defer func() {
		if r := recover(); r != nil { // a bug here, not in fill (runFill recovers those)
			t.cfg.Logger.Error("cache: flight panicked", "key", key, "panic", r, "stack", string(debug.Stack()))
			res = flightResult{err: fmt.Errorf("cache: flight %q: %w: %v", key, ErrFillPanic, r)}
		}
		t.flights.finish(f, res)
	}()
	res = t.flight(ctx, key, p, fill, fallback, refresh)
}

// flight is the body of a flight: L1 again, L2, fill, store.
func (t *Tiered) flight(ctx context.Context, key string, p Policy, fill func(context.Context) (Entry, error), fallback *item, refresh bool) flightResult {
	// Another flight for key may have finished between the caller's L1 miss and this one's start.
	if it, ok := t.l1Get(key); ok {
		switch t.judge(ctx, it, p, t.cfg.Now(), false) {
		case fresh:
			return flightResult{entry: it.entry, status: Hit}
		case revalidate:
			if !refresh {
				t.refresh(ctx, key, p, fill)
				return flightResult{entry: it.entry, status: Stale}
			}
		case ifError:
			fallback = newer(fallback, it)
		}
	}
	if it, state, ok := t.l2Lookup(ctx, key, &p); ok {
		switch state {
		case fresh:
			t.l1Set(key, it)
			return flightResult{entry: it.entry, status: Hit}
		case revalidate:
			if !refresh {
				t.l1Set(key, it)
				t.refresh(ctx, key, p, fill)
				return flightResult{entry: it.entry, status: Stale}
			}
		case ifError:
			fallback = newer(fallback, it)
		}
	}

	if refresh {
		release, ok := t.lease(ctx, key)
		if !ok {
			// Another instance is refreshing key; its answer will be in L2. Keep serving the
			// stale entry meanwhile, if it may be.
			if it, found := t.l1Get(key); found && t.judge(ctx, it, p, t.cfg.Now(), false) == revalidate {
				return flightResult{entry: it.entry, status: Stale, leasedElsewhere: true}
			}
		} else {
			defer release()
		}
	}
	t.know(ctx, p.Tags)
	start := t.tags.load()
	e, err := t.runFill(ctx, key, fill)
	if err != nil {
		if fallback != nil && t.servableOnError(ctx, fallback, p) {
			t.logs.warn("fill", "cache: fill failed, serving stale-if-error entry", err)
			return flightResult{entry: fallback.entry, status: Stale}
		}
		return flightResult{err: err}
	}
	it := &item{entry: e, policy: p}
	if t.stamp(ctx, it, start) {
		t.l1Set(key, it)
		t.l2Set(ctx, key, it)
	}
	return flightResult{entry: e, status: Miss}
}

// refresh starts the background refresh of key unless one is running or the Tiered is closing.
// Like a flight, the refresh runs under fillContext(ctx): the values of the call that found the
// entry stale, its own deadline.
func (t *Tiered) refresh(ctx context.Context, key string, p Policy, fill func(context.Context) (Entry, error)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if _, running := t.refreshing[key]; running {
		return
	}
	t.refreshing[key] = struct{}{}
	t.wg.Add(1)
	t.refreshWG.Add(1)
	go func() {
		defer t.wg.Done()
		defer t.refreshWG.Done()
		elsewhere := false
		defer func() {
			done := func() {
				t.mu.Lock()
				delete(t.refreshing, key)
				t.mu.Unlock()
			}
			if !elsewhere {
				done()
				return
			}
			// Another instance holds the refresh lease: asking Redis again on every request
			// until its answer lands would cost a round trip per request.
			time.AfterFunc(leaseRetry, done)
		}()
		ctx, cancel := t.fillContext(ctx)
		defer cancel()
		// Join the flight in progress, if any; if it ended without a new entry (it found the stale
		// one, or failed), lead one refresh flight of our own.
		for range 2 {
			f, leader := t.flights.join(key, t.Generation())
			if leader {
				t.fly(ctx, key, p, fill, nil, f, true)
			} else {
				select {
				case <-f.done:
				case <-ctx.Done():
					return
				}
			}
			switch {
			case f.res.err != nil:
				t.logs.warn("refresh", "cache: background refresh failed", f.res.err)
				return
			case f.res.status == Hit || f.res.status == Miss:
				return
			case f.res.leasedElsewhere:
				elsewhere = true
				return
			}
		}
	}()
}

// Get looks key up in L1, then L2, without filling and without refreshing. It reports a fresh
// entry as Hit and one within its StaleWhileRevalidate window (the policy it was stored with) as
// Stale; anything else (absent, expired, usable only on error, invalidated) is not found. The
// server uses it for conditional requests (ETag, 304).
func (t *Tiered) Get(ctx context.Context, key string) (Entry, Status, bool) {
	now := t.cfg.Now()
	if it, ok := t.l1Get(key); ok {
		switch t.judge(ctx, it, it.policy, now, false) {
		case fresh:
			t.lookup("l1", "hit")
			return it.entry, Hit, true
		case revalidate:
			t.lookup("l1", "stale")
			return it.entry, Stale, true
		}
	}
	t.lookup("l1", "miss")
	if it, state, ok := t.l2Lookup(ctx, key, nil); ok {
		switch state {
		case fresh:
			t.l1Set(key, it)
			return it.entry, Hit, true
		case revalidate:
			t.l1Set(key, it)
			return it.entry, Stale, true
		}
	}
	return Entry{}, Miss, false
}

// Close stops the subscriber and the syncer, cancels the contexts of background refreshes and of
// flights in progress, waits for all of them, and releases L1. It must be called once the
// last call to Do, Get and Invalidate has returned; calling it again does nothing.
func (t *Tiered) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	t.stop()
	t.wg.Wait()
	t.l1.Close()
	return nil
}

// L1Bytes is the cost of what L1 holds, in bytes, for metrics.
func (t *Tiered) L1Bytes() int64 { return t.l1.MaxCost() - t.l1.RemainingCost() }

// spawn runs f in a goroutine owned by t; it reports false, without running f, once Close began.
func (t *Tiered) spawn(f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

// fillContext is the context of a shared fill or a refresh: the values of ctx (auth scope, trace,
// request id) without its cancellation, so that no single caller can cancel work others wait for,
// with a deadline of FillTimeout, and cancelled by Close.
func (t *Tiered) fillContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.FillTimeout)
	stop := context.AfterFunc(t.life, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// runFill calls fill, turning a panic into ErrFillPanic, and stamps StoredAt and ETag.
func (t *Tiered) runFill(ctx context.Context, key string, fill func(context.Context) (Entry, error)) (e Entry, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.cfg.Logger.Error("cache: fill panicked", "key", key, "panic", r, "stack", string(debug.Stack()))
			e, err = Entry{}, fmt.Errorf("cache: fill %q: %w: %v", key, ErrFillPanic, r)
		}
	}()
	e, err = fill(ctx)
	if err != nil {
		return Entry{}, err
	}
	e.StoredAt = t.cfg.Now()
	e.ETag = etagOf(e.Body)
	return e, nil
}

// know learns the versions of the tags the table does not know yet, before a fill starts.
func (t *Tiered) know(ctx context.Context, tags []string) {
	tbl := t.tags.load()
	var unknown []string
	for _, tag := range tags {
		if _, ok := tbl.versions[tag]; !ok {
			unknown = append(unknown, tag)
		}
	}
	if len(unknown) > 0 {
		t.resolve(ctx, tbl.epoch, unknown)
	}
}

// stamp records in it the versions of its tags and reports whether it may be stored: not if the
// epoch changed or one of its tags was invalidated since start was loaded (the fill may have read
// data older than the invalidation), nor if a tag's version cannot be known.
//
// Nor, with Redis, if one of its tags was unknown when the fill started. Another instance may
// have invalidated that tag during the fill, its message not here yet: the version Redis gives
// now may be the one after that invalidation, and stamping the entry with it would keep data
// read before the invalidation as fresh until its max-age. Tags known at the start are safe: a
// message arriving before the stamp marks the tag changed, one arriving after it outdates the
// entry. Policy.Tags makes a fill's tags known before it starts. Without Redis every version
// change is a local bump, which marks the tag changed.
func (t *Tiered) stamp(ctx context.Context, it *item, start *tagTable) bool {
	tags := it.entry.Tags
	t.know(ctx, tags)
	tbl := t.tags.load()
	if tbl.epoch != start.epoch {
		return false
	}
	it.epoch = tbl.epoch
	it.versions = make([]uint64, len(tags))
	for i, tag := range tags {
		tv, ok := tbl.versions[tag]
		if !ok || tv.changed > start.seq {
			return false
		}
		if _, known := start.versions[tag]; !known && t.cfg.Redis != nil {
			return false
		}
		it.versions[i] = tv.v
	}
	return true
}

// judge says where it stands under p at now, invalidation included. remote is set for entries read
// from L2, whose tags this instance may not know yet (or knows only as a guess): those are
// resolved from Redis first, and an entry that cannot be checked is unusable.
func (t *Tiered) judge(ctx context.Context, it *item, p Policy, now time.Time, remote bool) freshness {
	tbl := t.tags.load()
	ok, need := tbl.usable(it, remote)
	if len(need) > 0 && remote {
		t.resolve(ctx, tbl.epoch, need)
		ok, _ = t.tags.load().usable(it, remote)
	}
	if !ok {
		if !remote && tbl.fallback(it) && classify(it.entry.StoredAt, now, p) != expired {
			return ifError
		}
		return expired
	}
	return classify(it.entry.StoredAt, now, p)
}

// servableOnError reports whether fallback may answer a failed fill: still within StaleIfError
// and not invalidated while fill ran.
func (t *Tiered) servableOnError(ctx context.Context, fallback *item, p Policy) bool {
	switch t.judge(ctx, fallback, p, t.cfg.Now(), false) {
	case revalidate, ifError:
		return t.cfg.Now().Sub(fallback.entry.StoredAt) < p.MaxAge+p.StaleIfError
	}
	return false
}

// newer returns whichever of a (possibly nil) and b was stored last.
func newer(a, b *item) *item {
	if a == nil || b.entry.StoredAt.After(a.entry.StoredAt) {
		return b
	}
	return a
}

// l1Get reads key from L1.
func (t *Tiered) l1Get(key string) (*item, bool) {
	return t.l1.Get(key)
}

// l1Set stores it in L1 for what is left of its retention and waits for ristretto to apply the
// write, so the next lookup sees it (unless the admission policy rejected it: best effort).
func (t *Tiered) l1Set(key string, it *item) {
	ttl := it.policy.retention() - t.cfg.Now().Sub(it.entry.StoredAt)
	if ttl <= 0 {
		return
	}
	if t.l1.SetWithTTL(key, it, it.cost(key), ttl) {
		t.l1.Wait()
	}
}

// lookup reports one tier lookup to the metrics hook.
func (t *Tiered) lookup(tier, result string) {
	if t.cfg.OnLookup != nil {
		t.cfg.OnLookup(tier, result)
	}
}
