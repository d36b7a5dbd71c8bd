package resilience

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limit is a rate limit: Rate tokens per second on average, with bursts of
// up to Burst tokens. A Rate of +Inf allows everything; a Rate <= 0 or a
// Burst <= 0 allows nothing.
type Limit struct {
	Rate  float64
	Burst int
}

// Decision is the outcome of RateLimiter.Allow, with what the RateLimit-*
// and Retry-After response headers need.
type Decision struct {
	// Allowed reports whether the cost was charged and the request may go on.
	Allowed bool
	// Limit is the limit's Burst: the most a client can spend at once.
	Limit int
	// Remaining is the number of tokens left to spend now.
	Remaining int
	// ResetAfter is how long until the key is back to a full Burst.
	ResetAfter time.Duration
	// RetryAfter is, when not Allowed, how long until the same cost would be
	// allowed (0 when Allowed). A cost larger than Burst is never allowed;
	// its RetryAfter is ResetAfter.
	RetryAfter time.Duration
}

// RateLimitConfig configures a RateLimiter. Zero values take the documented
// defaults; invalid values make NewRateLimiter fail.
type RateLimitConfig struct {
	// Redis shares the limits between instances; nil means local limits only.
	// The RateLimiter does not close it.
	Redis redis.UniversalClient
	// KeyPrefix prefixes the Redis keys; "" means "neko:rl:".
	KeyPrefix string
	// SyncInterval is how often the instance reconciles with Redis; 0 means
	// 100ms. It is the I of the overshoot bound in the package comment.
	SyncInterval time.Duration
	// MaxKeys bounds the number of keys tracked in memory; beyond it the
	// least recently used key is forgotten. 0 means 100_000.
	MaxKeys int
	// Now is the clock; nil means time.Now. All instances sharing a Redis
	// should have clocks within a few milliseconds of each other.
	Now func() time.Time
	// Logger receives the (rate-limited) reports of failed syncs; nil means
	// no logging.
	Logger *slog.Logger
	// OnReject, when set, is called on every request Allow refuses. It must
	// be cheap and must not block.
	OnReject func()
}

// RateLimiter is a token-bucket rate limiter over many keys (one
// golang.org/x/time/rate.Limiter per key) that decides in memory and shares
// its state between instances through Redis in the background.
// See the package comment for the algorithm and its overshoot bound.
//
// A RateLimiter is safe for concurrent use. When it has a Redis client it
// owns one goroutine, which Close stops.
type RateLimiter struct {
	redis    redis.UniversalClient
	prefix   string
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	onReject func()

	seed   maphash.Seed
	shards []rlShard // len is a power of two
	mask   uint64

	hooks     rlHooks
	rounds    atomic.Int64 // sync rounds started; a round's number is the value after its increment
	cancel    context.CancelFunc
	done      chan struct{} // closed when the sync goroutine has returned
	closeOnce sync.Once

	// Owned by the sync goroutine (or by a test calling syncOnce instead).
	batch   []syncItem
	failing bool
	lastLog time.Time
}

// rlHooks lets tests observe the sync goroutine.
type rlHooks struct {
	// afterSync is called after each round with its number (see
	// RateLimiter.rounds), the number of keys it synced and its error.
	afterSync func(round int64, keys int, err error)
}

// rlShard is one lock's worth of keys.
type rlShard struct {
	mu    sync.Mutex // guards m, lru, dirty and the fields of every entry reachable from them
	m     map[string]*rlEntry
	lru   rlEntry // sentinel of a circular list; lru.next is the most recently used
	cap   int
	dirty []*rlEntry // entries touched since the last sync
}

// rlEntry is the local state of one key. Times are of the RateLimiter's
// clock; pending and first are Unix nanoseconds.
type rlEntry struct {
	key        string
	lim        *rate.Limiter // the key's bucket, built for limit
	limit      Limit
	last       time.Time // latest time lim was used at; lim is never used at an earlier one
	pending    int64     // nanoseconds of TAT (cost/Rate) charged since the last sync snapshot
	first      int64     // time of the first charge in pending
	dirty      bool      // in the shard's dirty list
	evicted    bool
	prev, next *rlEntry
}

// syncItem is one key's part of a sync round.
type syncItem struct {
	e     *rlEntry
	sh    *rlShard
	first int64 // ns
	inc   int64 // ns
	cmd   *redis.Cmd
}

// NewRateLimiter validates cfg, applies its defaults and returns a
// RateLimiter. With a Redis client it starts the sync goroutine; it does not
// contact Redis itself, so it succeeds while Redis is down.
func NewRateLimiter(cfg RateLimitConfig) (*RateLimiter, error) {
	return newRateLimiter(cfg, rlHooks{})
}

func newRateLimiter(cfg RateLimitConfig, hooks rlHooks) (*RateLimiter, error) {
	if cfg.SyncInterval < 0 {
		return nil, fmt.Errorf("resilience: rate limiter: SyncInterval must be >= 0, got %v", cfg.SyncInterval)
	}
	if cfg.MaxKeys < 0 {
		return nil, fmt.Errorf("resilience: rate limiter: MaxKeys must be >= 0, got %d", cfg.MaxKeys)
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "neko:rl:"
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = 100 * time.Millisecond
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = 100_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Up to 64 shards, each holding at least 1024 keys, so that small
	// limiters keep an exact LRU and large ones do not contend on one lock.
	n := 1
	for n < 64 && cfg.MaxKeys/(n*2) >= 1024 {
		n *= 2
	}
	r := &RateLimiter{
		redis:    cfg.Redis,
		prefix:   cfg.KeyPrefix,
		interval: cfg.SyncInterval,
		now:      cfg.Now,
		log:      cfg.Logger,
		onReject: cfg.OnReject,
		seed:     maphash.MakeSeed(),
		shards:   make([]rlShard, n),
		mask:     uint64(n - 1),
		hooks:    hooks,
		done:     make(chan struct{}),
	}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.m = make(map[string]*rlEntry)
		sh.cap = cfg.MaxKeys / n
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
	}
	if r.redis == nil {
		close(r.done)
		r.cancel = func() {}
		return r, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(ctx)
	return r, nil
}

// Allow charges cost tokens to key under limit if the key has them, and says
// so. It decides in memory, without network I/O, in O(1). A cost of 0 only
// reports the key's state. The key is copied, so it may alias a reused
// buffer. A key should always be used with the same limit; a changed limit
// applies from then on.
func (r *RateLimiter) Allow(key string, limit Limit, cost int) Decision {
	return r.allow(r.now(), key, limit, cost)
}

func (r *RateLimiter) allow(now time.Time, key string, limit Limit, cost int) Decision {
	cost = max(cost, 0)
	if math.IsInf(limit.Rate, 1) {
		return Decision{Allowed: true, Limit: limit.Burst, Remaining: max(limit.Burst, 0)}
	}
	if !(limit.Rate > 0) || limit.Burst <= 0 {
		r.rejected()
		return Decision{Limit: max(limit.Burst, 0)}
	}

	sh := &r.shards[maphash.String(r.seed, key)&r.mask]
	sh.mu.Lock()
	e := sh.get(key)
	now = e.use(now, limit)
	d := Decision{Limit: limit.Burst}
	// AllowN refuses a cost above Burst by itself.
	if e.lim.AllowN(now, cost) {
		d.Allowed = true
		if cost > 0 && r.redis != nil {
			if e.pending == 0 {
				e.first = now.UnixNano()
			}
			e.pending += int64(cost) * emissionInterval(limit, cost)
		}
	}
	tokens := e.lim.TokensAt(now)
	d.Remaining = int(max(math.Floor(tokens), 0))
	d.ResetAfter = seconds((float64(limit.Burst) - tokens) / limit.Rate)
	if !d.Allowed {
		if cost > limit.Burst {
			d.RetryAfter = d.ResetAfter
		} else {
			// Ask the bucket when cost would fit, then give the tokens back:
			// a refused request costs nothing.
			res := e.lim.ReserveN(now, cost)
			d.RetryAfter = res.DelayFrom(now)
			res.CancelAt(now)
		}
	}
	if r.redis != nil && !e.dirty {
		e.dirty = true
		sh.dirty = append(sh.dirty, e)
	}
	sh.mu.Unlock()

	if !d.Allowed {
		r.rejected()
	}
	return d
}

// use prepares e for a call at now under limit: it (re)builds e's bucket if
// the limit changed and returns the time to use it at, which is now or, if
// the clock went back (or a concurrent caller read it later and locked
// first), the latest time e was used at. rate.Limiter moves its clock back
// to an earlier t and would then refill the same interval twice.
// The shard's mutex must be held.
func (e *rlEntry) use(now time.Time, limit Limit) time.Time {
	if now.Before(e.last) {
		now = e.last
	}
	e.last = now
	switch {
	case e.lim == nil:
		e.lim = rate.NewLimiter(rate.Limit(limit.Rate), limit.Burst)
	case e.limit != limit:
		e.lim.SetLimitAt(now, rate.Limit(limit.Rate))
		e.lim.SetBurstAt(now, limit.Burst)
	}
	e.limit = limit
	return now
}

// emissionInterval is 1/Rate in nanoseconds, at least 1 and clamped so that
// absurdly slow rates cannot overflow a sum of charges.
func emissionInterval(limit Limit, cost int) int64 {
	const maxSpan = math.MaxInt64 / 4
	T := int64(min(float64(time.Second)/limit.Rate, maxSpan/float64(limit.Burst+cost+1)))
	return max(T, 1)
}

// seconds converts s seconds to a Duration rounded to the nanosecond,
// saturating instead of overflowing.
func seconds(s float64) time.Duration {
	ns := math.Round(s * float64(time.Second))
	switch {
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= 0:
		return 0
	}
	return time.Duration(ns)
}

func (r *RateLimiter) rejected() {
	if r.onReject != nil {
		r.onReject()
	}
}

// Close stops the sync goroutine and waits for it. It does not close the
// Redis client. Allow keeps working, locally, after Close.
func (r *RateLimiter) Close() error {
	r.closeOnce.Do(r.cancel)
	<-r.done
	return nil
}

// get returns key's entry, creating it (and evicting the least recently
// used entry if the shard is full) and marking it most recently used.
// sh.mu must be held.
func (sh *rlShard) get(key string) *rlEntry {
	if e, ok := sh.m[key]; ok {
		if sh.lru.next != e {
			e.prev.next, e.next.prev = e.next, e.prev
			sh.pushFront(e)
		}
		return e
	}
	if len(sh.m) >= sh.cap {
		v := sh.lru.prev
		v.prev.next, v.next.prev = v.next, v.prev
		v.evicted = true
		delete(sh.m, v.key)
	}
	e := &rlEntry{key: strings.Clone(key)}
	sh.m[e.key] = e
	sh.pushFront(e)
	return e
}

func (sh *rlShard) pushFront(e *rlEntry) {
	e.prev, e.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = e
	sh.lru.next = e
}

// keys returns the number of keys tracked, for tests.
func (r *RateLimiter) keys() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// run is the sync goroutine.
func (r *RateLimiter) run(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	timeout := max(10*r.interval, time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		round, keys, err := r.syncOnce(sctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if keys > 0 { // an empty round did not talk to Redis: it says nothing of its health
			r.report(err)
		}
		if r.hooks.afterSync != nil {
			r.hooks.afterSync(round, keys, err)
		}
	}
}

// report logs a failing sync at most once a minute, and the recovery.
func (r *RateLimiter) report(err error) {
	now := r.now()
	switch {
	case err != nil && (!r.failing || now.Sub(r.lastLog) >= time.Minute):
		r.log.Warn("rate limit sync with redis failed; limiting locally", "err", err)
		r.failing, r.lastLog = true, now
	case err == nil && r.failing:
		r.log.Info("rate limit sync with redis recovered")
		r.failing = false
	}
}

// gcraScript charges inc microseconds of theoretical arrival time to the
// shared TAT of KEYS[1] as of time first, GCRA style, and returns the new
// TAT. With inc 0 it only reads. Times are Unix microseconds, which Lua's
// doubles hold exactly. The key expires once its TAT is past (plus slack for
// clock skew), when it no longer holds anything.
var gcraScript = redis.NewScript(`
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local first = tonumber(ARGV[1])
local inc = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if inc > 0 then
  if first > tat then tat = first end
  tat = tat + inc
  local ttl = math.max(math.ceil((tat - now) / 1000) + 1000, 1000)
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', ttl)
end
return tat
`)

// syncOnce pushes, in one pipeline, what this instance charged to each key
// touched since the last round, reads back each key's shared TAT and adopts
// it where it is later than the local bucket's equivalent TAT. On failure the charges of the
// round are dropped: the instance has been deciding alone meanwhile, and
// replaying them later would punish keys for an outage.
// It returns the round's number and how many keys it synced.
func (r *RateLimiter) syncOnce(ctx context.Context) (round int64, keys int, err error) {
	round = r.rounds.Add(1)
	now := r.now().UnixNano()
	items := r.batch[:0]
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, e := range sh.dirty {
			items = append(items, syncItem{e: e, sh: sh, first: e.first, inc: e.pending})
			e.pending, e.first, e.dirty = 0, 0, false
		}
		clear(sh.dirty)
		sh.dirty = sh.dirty[:0]
		sh.mu.Unlock()
	}
	defer func() {
		clear(items) // drop entry pointers so evicted entries can be collected
		r.batch = items[:0]
	}()
	if len(items) == 0 {
		return round, 0, nil
	}
	err = r.exec(ctx, items, func(p redis.Pipeliner, it *syncItem) *redis.Cmd {
		return gcraScript.EvalSha(ctx, p, []string{r.prefix + it.e.key}, it.first/1000, it.inc/1000, now/1000)
	})
	if err != nil && hasNoScript(items) {
		// The script cache is empty (a new or restarted Redis): resend the
		// refused calls with the script's source, which also caches it.
		var retry []syncItem
		for _, it := range items {
			if redis.HasErrorPrefix(it.cmd.Err(), "NOSCRIPT") {
				retry = append(retry, it)
			}
		}
		err = r.exec(ctx, retry, func(p redis.Pipeliner, it *syncItem) *redis.Cmd {
			return gcraScript.Eval(ctx, p, []string{r.prefix + it.e.key}, it.first/1000, it.inc/1000, now/1000)
		})
		for _, it := range retry {
			r.adopt(it)
		}
	}
	for _, it := range items {
		r.adopt(it)
	}
	if err != nil {
		return round, len(items), fmt.Errorf("rate limit sync: %w", err)
	}
	return round, len(items), nil
}

func (r *RateLimiter) exec(ctx context.Context, items []syncItem, call func(redis.Pipeliner, *syncItem) *redis.Cmd) error {
	p := r.redis.Pipeline()
	for i := range items {
		items[i].cmd = call(p, &items[i])
	}
	_, err := p.Exec(ctx)
	return err
}

func hasNoScript(items []syncItem) bool {
	for _, it := range items {
		if redis.HasErrorPrefix(it.cmd.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// maxDebtChunks bounds the reservations adopt makes for one key in one
// round: a shared TAT absurdly far ahead (a clock far off) then blocks the
// key for at most maxDebtChunks*Burst tokens' worth of time per round,
// rather than costing an unbounded loop.
const maxDebtChunks = 1024

// adopt brings it's key's bucket down to the shared TAT plus what was
// charged locally since the snapshot, if that is later than the bucket's
// own equivalent TAT (now + (Burst - tokens)/Rate): the difference, which is
// what other instances granted, becomes local debt. rate.Limiter reserves
// at most Burst tokens at a time, so the debt is reserved in chunks, and in
// whole tokens, rounded to the nearest: the local state is then within half
// a token of the exact one, and the error does not accumulate, since every
// round measures the gap to the shared TAT afresh.
func (r *RateLimiter) adopt(it syncItem) {
	shared, err := it.cmd.Int64()
	if err != nil {
		return
	}
	shared *= 1000
	now := r.now()
	it.sh.mu.Lock()
	defer it.sh.mu.Unlock()
	e := it.e
	if e.evicted || e.lim == nil {
		return
	}
	now = e.use(now, e.limit)
	target := float64(shared+e.pending-now.UnixNano()) / float64(time.Second) * e.limit.Rate
	debt := target - (float64(e.limit.Burst) - e.lim.TokensAt(now))
	// A single instance, whose shared TAT is never later than its own, sees
	// a debt of at most float error, which rounds to 0.
	n := int(min(math.Round(debt), float64(maxDebtChunks*e.limit.Burst)))
	for n > 0 {
		c := min(n, e.limit.Burst)
		e.lim.ReserveN(now, c) // never cancelled: the tokens go negative
		n -= c
	}
}
