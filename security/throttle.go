package security

import (
	"container/list"
	"errors"
	"strings"
	"sync"
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
	// Shared, when set, shares failed logins between the instances (resilience.RateLimiter, which
	// decides in memory and reconciles through Redis): an attempt is also refused while the
	// fleet's failures for the username or the address have used up the same budget, and every
	// failure is charged to it. Without it each instance throttles alone, and N instances allow
	// N times the guesses.
	Shared SharedLimiter
}

// SharedLimiter is a rate limit shared by every instance (resilience.RateLimiter satisfies it). A
// cost of 0 only reports a key's state.
type SharedLimiter interface {
	Allow(key string, limit resilience.Limit, cost int) resilience.Decision
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
// address.
//
// A login reserves its token *before* the bcrypt work (otherwise a hundred concurrent guesses would
// all pass a "tokens left?" check and all be verified): a reservation that would have to wait is
// cancelled at once and the attempt refused. A success refunds by cancelling the reservation at the
// instant it was made (rate.Reservation.CancelAt refunds nothing when cancelled after its time to
// act), which restores the token less whatever later attempts reserved meanwhile; the limiter then
// refills that interval again, so the two cancel out.
type throttle struct {
	cfg ThrottleConfig
	mu  sync.Mutex // guards users and addrs (their LRU order); each rate.Limiter has its own lock
	users,
	addrs *bucketTable
}

func newThrottle(cfg ThrottleConfig) *throttle {
	return &throttle{
		cfg:   cfg,
		users: newBucketTable(cfg.PerUser, cfg.Window, cfg.MaxKeys),
		addrs: newBucketTable(cfg.PerAddr, cfg.Window, cfg.MaxKeys),
	}
}

// The keys and limits of the shared failure counts (ThrottleConfig.Shared): the same budgets as
// the local buckets, under keys apart from the request rate limit's.
func (t *throttle) sharedKeys(username, addr string) []sharedKey {
	keys := []sharedKey{{"login:user:" + throttleKey(strings.ToLower(username)), t.sharedLimit(t.cfg.PerUser)}}
	if addr != "" {
		keys = append(keys, sharedKey{"login:addr:" + addrKey(addr), t.sharedLimit(t.cfg.PerAddr)})
	}
	return keys
}

// addrKey is the throttle's key of the client at addr: its client key (the address for IPv4,
// unchanged; the /64 for IPv6), capped like every key.
func addrKey(addr string) string {
	return throttleKey(clientkey.FromString(addr))
}

type sharedKey struct {
	key   string
	limit resilience.Limit
}

func (t *throttle) sharedLimit(burst int) resilience.Limit {
	return resilience.Limit{Rate: float64(burst) / t.cfg.Window.Seconds(), Burst: burst}
}

// sharedWait reports how long until the fleet's failure budgets for username and addr hold a
// token again; 0 when they all do. It charges nothing: an attempt is charged only once it fails
// (failed), so successful logins never use up a user's budget.
func (t *throttle) sharedWait(username, addr string) time.Duration {
	if t.cfg.Disabled || t.cfg.Shared == nil {
		return 0
	}
	var wait time.Duration
	for _, k := range t.sharedKeys(username, addr) {
		d := t.cfg.Shared.Allow(k.key, k.limit, 0)
		if d.Remaining >= 1 {
			continue
		}
		// ResetAfter is until the bucket is full; one token comes Burst-1 emissions sooner.
		untilOne := d.ResetAfter - time.Duration(float64(k.limit.Burst-1)/k.limit.Rate*float64(time.Second))
		wait = max(wait, untilOne, d.RetryAfter, time.Second)
	}
	return wait
}

// failed charges a failed guess to the fleet's budgets for username and addr.
func (t *throttle) failed(username, addr string) {
	if t.cfg.Disabled || t.cfg.Shared == nil {
		return
	}
	for _, k := range t.sharedKeys(username, addr) {
		t.cfg.Shared.Allow(k.key, k.limit, 1)
	}
}

// acquire takes one token from the username's bucket and, when addr is not empty, from the
// address's. ok is false, and nothing is taken, when either bucket is empty. On ok, the caller must
// call refund if the attempt turns out not to be a failed guess (a success, or an error of ours).
func (t *throttle) acquire(username, addr string, now time.Time) (refund func(), wait time.Duration, ok bool) {
	if t.cfg.Disabled {
		return func() {}, 0, true
	}
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
