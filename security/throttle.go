package security

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/neko-defense/neko/internal/clientkey"
	"github.com/neko-defense/neko/resilience"
)

// ThrottleConfig configures login throttling. Zero values take the documented defaults.
//
// Each username and each client address has a token bucket of Per<kind> tokens that refills at
// Per<kind> tokens per Window. A login attempt takes one token from both buckets before any
// password work; a successful login gives them back, so only failures count. With the defaults a
// username may fail 5 times in a burst and then once every 12 s; an address 20 times, then once
// every 3 s.
//
// The per-username limit is what stops a distributed guessing attack on one account; its price is
// that anyone can keep a known username throttled by failing on purpose (the account is not locked:
// the legitimate user is refused only while the bucket is empty, and a success refunds the token).
type ThrottleConfig struct {
	// PerUser is the burst and per-Window refill of failed logins per username. Default 5.
	PerUser int
	// PerAddr is the burst and per-Window refill of failed logins per client (see
	// WithClientAddr): per address for IPv4, per /64 for IPv6, whose holder can rotate the
	// addresses inside it at will (clientkey). Default 20. Attempts without an address are
	// limited per username only.
	PerAddr int
	// Window is the refill period. Default 1 minute.
	Window time.Duration
	// MaxKeys bounds the usernames and, separately, the addresses tracked. When a table is full,
	// the least recently used entry is forgotten (usually one whose bucket is already full again,
	// which carries no state). Default 100_000 each: a few MB at most.
	MaxKeys int
	// Disabled turns throttling off.
	Disabled bool
	// Shared, when set, holds every instance's budgets (resilience.StrictLimiter over Redis):
	// an attempt takes its tokens there too, for the username and the address at once, before
	// any password work, so the instances together evaluate no more guesses than one would. A
	// success or an error of ours gives them back there as here. When Shared fails (Redis down,
	// or slower than its timeout), the attempt is decided by this instance's buckets alone and
	// the login goes on. So the count is exact while Redis answers in time; attempts decided
	// alone are bounded by each instance's own budget, so a slow or unreachable Redis lets N
	// instances allow at most N times the guesses (a call that timed out after its script ran
	// also leaves its tokens taken in Redis, which errs on the safe side). Without Shared each
	// instance throttles alone.
	Shared SharedBudget
	// Logger receives a warning when Shared first fails (the throttle then decides alone) and a
	// note when it answers again; nil means no logging.
	Logger *slog.Logger
}

// SharedBudget is a set of token buckets shared by every instance, each decision made
// atomically where they are kept (resilience.StrictLimiter satisfies it). Take takes one token
// from every bucket or from none; Return gives one back to each.
type SharedBudget interface {
	Take(ctx context.Context, now time.Time, buckets ...resilience.Bucket) (taken bool, wait time.Duration, err error)
	Return(ctx context.Context, now time.Time, buckets ...resilience.Bucket) error
}

// maxThrottleKeyLen caps the bytes of a username or address used as a key, so an attacker's
// megabyte-long usernames cannot inflate the table.
const maxThrottleKeyLen = 128

func (c *ThrottleConfig) setDefaults() error {
	if c.PerUser < 0 || c.PerAddr < 0 || c.Window < 0 || c.MaxKeys < 0 {
		return errors.New("auth: throttle settings must not be negative")
	}
	if c.PerUser == 0 {
		c.PerUser = 5
	}
	if c.PerAddr == 0 {
		c.PerAddr = 20
	}
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = 100_000
	}
	return nil
}

// throttle is the login failure limiter: a golang.org/x/time/rate.Limiter per username and per
// address, and, with ThrottleConfig.Shared, the fleet's buckets for the same keys.
//
// A login reserves its token *before* the bcrypt work (otherwise a hundred concurrent guesses would
// all pass a "tokens left?" check and all be verified): a reservation that would have to wait is
// cancelled at once and the attempt refused. A success refunds by cancelling the reservation at the
// instant it was made (rate.Reservation.CancelAt refunds nothing when cancelled after its time to
// act), which restores the token less whatever later attempts reserved meanwhile; the limiter then
// refills that interval again, so the two cancel out.
//
// The shared buckets are asked first, in one round trip that takes both tokens or neither, so
// that a refusal reports the fleet's wait. The local buckets are charged as well while Redis
// answers: they hold no more than this instance's share of the fleet's failures, so they refuse
// only what the fleet would (or after an outage, what this instance saw alone), and they carry the
// recent history into an outage instead of starting it with a full budget.
type throttle struct {
	cfg ThrottleConfig
	mu  sync.Mutex // guards users and addrs (their LRU order); each rate.Limiter has its own lock
	users,
	addrs *bucketTable
	// sharedDown is set while Shared fails, so that an outage is logged once, not per login.
	sharedDown atomic.Bool
}

func newThrottle(cfg ThrottleConfig) *throttle {
	return &throttle{
		cfg:   cfg,
		users: newBucketTable(cfg.PerUser, cfg.Window, cfg.MaxKeys),
		addrs: newBucketTable(cfg.PerAddr, cfg.Window, cfg.MaxKeys),
	}
}

// sharedBuckets are the fleet's buckets for username and addr (ThrottleConfig.Shared): the same
// budgets as the local ones, under keys apart from the request rate limit's.
func (t *throttle) sharedBuckets(username, addr string) []resilience.Bucket {
	buckets := []resilience.Bucket{{Key: "login:user:" + throttleKey(strings.ToLower(username)), Limit: t.sharedLimit(t.cfg.PerUser)}}
	if addr != "" {
		buckets = append(buckets, resilience.Bucket{Key: "login:addr:" + addrKey(addr), Limit: t.sharedLimit(t.cfg.PerAddr)})
	}
	return buckets
}

// addrKey is the throttle's key of the client at addr: its client key (the address for IPv4,
// unchanged; the /64 for IPv6), capped like every key.
func addrKey(addr string) string {
	return throttleKey(clientkey.FromString(addr))
}

func (t *throttle) sharedLimit(burst int) resilience.Limit {
	return resilience.Limit{Rate: float64(burst) / t.cfg.Window.Seconds(), Burst: burst}
}

// acquire takes one token from the username's buckets and, when addr is not empty, from the
// address's: the fleet's (ThrottleConfig.Shared), then this instance's. ok is false, and nothing
// is taken, when any of them is empty; wait is then how long until it would have a token. On ok,
// the caller must call refund if the attempt turns out not to be a failed guess (a success, or an
// error of ours). A failure of the shared buckets never fails the login: the local ones then
// decide alone. The shared step is not cut short by the caller's cancellation (it is bounded by
// its own timeout), so that a client hanging up is never taken for Redis failing.
func (t *throttle) acquire(ctx context.Context, username, addr string, now time.Time) (refund func(), wait time.Duration, ok bool) {
	if t.cfg.Disabled {
		return func() {}, 0, true
	}
	var shared []resilience.Bucket // taken from Shared, to give back on a refund
	if t.cfg.Shared != nil {
		buckets := t.sharedBuckets(username, addr)
		taken, wait, err := t.cfg.Shared.Take(context.WithoutCancel(ctx), now, buckets...)
		t.sharedAnswered(err)
		switch {
		case err != nil: // the local buckets decide alone
		case !taken:
			return nil, wait, false
		default:
			shared = buckets
		}
	}
	local, wait, ok := t.acquireLocal(username, addr, now)
	if !ok {
		t.giveBack(ctx, now, shared)
		return nil, wait, false
	}
	return func() {
		local()
		t.giveBack(ctx, now, shared)
	}, 0, true
}

// giveBack returns the tokens taken from the shared buckets, if any. It runs even when the login's
// ctx has ended (the attempt was over by then); if it fails, the tokens refill in their time.
func (t *throttle) giveBack(ctx context.Context, now time.Time, buckets []resilience.Bucket) {
	if len(buckets) == 0 {
		return
	}
	t.sharedAnswered(t.cfg.Shared.Return(context.WithoutCancel(ctx), now, buckets...))
}

// sharedAnswered logs the transitions between a reachable and an unreachable Shared.
func (t *throttle) sharedAnswered(err error) {
	if err == nil {
		if t.sharedDown.CompareAndSwap(true, false) && t.cfg.Logger != nil {
			t.cfg.Logger.Info("login throttle: shared failure counts reachable again")
		}
		return
	}
	if t.sharedDown.CompareAndSwap(false, true) && t.cfg.Logger != nil {
		t.cfg.Logger.Warn("login throttle: shared failure counts unreachable; each instance throttles alone until they answer", "err", err)
	}
}

// acquireLocal is acquire on this instance's buckets alone.
func (t *throttle) acquireLocal(username, addr string, now time.Time) (refund func(), wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.users.get(throttleKey(strings.ToLower(username)))
	ru, wait, ok := reserve(u, now)
	if !ok {
		return nil, wait, false
	}
	var ra *rate.Reservation
	if addr != "" {
		if ra, wait, ok = reserve(t.addrs.get(addrKey(addr)), now); !ok {
			ru.CancelAt(now)
			return nil, wait, false
		}
	}
	return func() {
		ru.CancelAt(now)
		if ra != nil {
			ra.CancelAt(now)
		}
	}, 0, true
}

// reserve takes one token from lim at now if it has one; otherwise it takes nothing and reports
// how long until it would have one.
func reserve(lim *rate.Limiter, now time.Time) (*rate.Reservation, time.Duration, bool) {
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d, false
	}
	return r, 0, true
}

func throttleKey(s string) string {
	if len(s) > maxThrottleKeyLen {
		return s[:maxThrottleKeyLen]
	}
	return s
}

// bucketTable is a bounded LRU map of rate limiters. A limiter that left the table may still be
// refunded; that changes nothing.
type bucketTable struct {
	limit rate.Limit // refill, tokens per second
	burst int
	max   int
	lru   *list.List               // of *bucket, most recently used at the front
	byKey map[string]*list.Element // key -> element of lru
}

// bucket is one key's limiter in a bucketTable.
type bucket struct {
	key string
	lim *rate.Limiter
}

func newBucketTable(burst int, window time.Duration, maxKeys int) *bucketTable {
	return &bucketTable{
		limit: rate.Limit(float64(burst) / window.Seconds()),
		burst: burst,
		max:   maxKeys,
		lru:   list.New(),
		byKey: make(map[string]*list.Element),
	}
}

// get returns key's limiter, creating a full one (and evicting the least recently used one when
// the table is full) if key is new.
func (t *bucketTable) get(key string) *rate.Limiter {
	if e, ok := t.byKey[key]; ok {
		t.lru.MoveToFront(e)
		return e.Value.(*bucket).lim
	}
	if t.lru.Len() >= t.max {
		oldest := t.lru.Back()
		t.lru.Remove(oldest)
		delete(t.byKey, oldest.Value.(*bucket).key)
	}
	b := &bucket{key: key, lim: rate.NewLimiter(t.limit, t.burst)}
	t.byKey[key] = t.lru.PushFront(b)
	return b.lim
}

func (t *bucketTable) len() int { return t.lru.Len() }
