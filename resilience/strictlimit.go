package resilience

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// StrictLimitConfig configures a StrictLimiter. Zero values take the documented defaults;
// invalid values make NewStrictLimiter fail.
type StrictLimitConfig struct {
	// Redis holds the buckets. Required. The StrictLimiter does not close it.
	Redis redis.UniversalClient
	// KeyPrefix prefixes the Redis keys; "" means "neko:sl:".
	KeyPrefix string
	// Timeout is the deadline of each call's context; 0 means 250ms. A call that runs out of it
	// returns an error, and the caller decides without the shared state. go-redis applies a
	// context's deadline to the socket only with Options.ContextTimeoutEnabled; without it a
	// silent server holds a call for up to the client's ReadTimeout (500ms in cmd/neko), and
	// retries stop at the deadline.
	Timeout time.Duration
}

// Bucket names one shared token bucket and its limit for a StrictLimiter call. Limit.Rate must
// be positive and finite and Limit.Burst positive.
type Bucket struct {
	Key   string
	Limit Limit
}

// StrictLimiter is a token-bucket rate limiter whose every decision is made in Redis, atomically:
// N instances sharing one Redis together allow exactly what one limiter would, with no overshoot,
// at the price of one round trip per call. It is for rare, expensive events where a burst
// multiplied by the number of instances is the attack (failed logins: security's throttle); the
// per-request RateLimiter, which must not wait on the network, trades that exactness for
// decisions in memory.
//
// Each bucket is GCRA state in one Redis key: its theoretical arrival time (TAT) in Unix
// milliseconds, expiring when the TAT passes (a full bucket has no key). Take takes one token
// from every bucket it names or from none, in one Lua script, so concurrent callers on any number
// of instances are serialised by Redis; Return gives one token back to each (TAT minus one
// emission interval, the key deleted once that is not in the future: never above a full bucket).
//
// Why a script of its own rather than a library's (github.com/go-redis/redis_rate/v10 runs the
// same GCRA in Lua): its AllowN takes one key per call, and its refund (a negative cost) is lost
// whenever the refunded reservation was the only one outstanding, because the script stores the
// new TAT only while it is in the future (take one token from a full bucket, return it: the
// bucket stays one short). The throttle needs both: the username's and the address's tokens
// taken all or nothing, and every successful login refunded exactly.
//
// Times come from the caller (now), as for RateLimiter: the instances sharing a Redis should have
// clocks within a few milliseconds of each other; a skew of d gives the fast instance d*Rate
// tokens. Emission intervals are rounded up to whole milliseconds, never in the client's favour.
// On Redis Cluster, the keys of one call must hash to one slot (use a hash tag).
//
// A StrictLimiter is safe for concurrent use and owns no goroutine.
type StrictLimiter struct {
	redis   redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// NewStrictLimiter validates cfg, applies its defaults and returns a StrictLimiter. It does not
// contact Redis, so it succeeds while Redis is down.
func NewStrictLimiter(cfg StrictLimitConfig) (*StrictLimiter, error) {
	if cfg.Redis == nil {
		return nil, errors.New("resilience: strict limiter: Redis is required")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("resilience: strict limiter: Timeout must be >= 0, got %v", cfg.Timeout)
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "neko:sl:"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	return &StrictLimiter{redis: cfg.Redis, prefix: cfg.KeyPrefix, timeout: cfg.Timeout}, nil
}

// maxRefill bounds a bucket's time to refill from empty (Burst/Rate): it keeps every TAT an
// integer that a Lua number (a double) holds exactly.
const maxRefill = 100 * 365 * 24 * time.Hour

// takeScript takes one token from each bucket in KEYS, all or none. ARGV[1] is now (Unix ms);
// ARGV[2i] and ARGV[2i+1] are bucket i's emission interval T (ms) and burst. Bucket i allows a
// token iff max(TAT, now) + T - now <= Burst*T. It returns 0 when the tokens were taken, else the
// milliseconds until every bucket would allow one.
var takeScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local t = tonumber(ARGV[2 * i])
  local tau = t * tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  tats[i] = tat + t
  if tats[i] - now > tau then
    wait = math.max(wait, tats[i] - now - tau)
  end
end
if wait > 0 then
  return wait
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%d', tats[i]), 'PX', string.format('%d', tats[i] - now))
end
return 0
`)

// returnScript gives one token back to each bucket in KEYS. ARGV[1] is now (Unix ms), ARGV[i+1]
// bucket i's emission interval (ms). A bucket that is full again loses its key.
var returnScript = redis.NewScript(`
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key))
  if tat then
    tat = tat - tonumber(ARGV[i + 1])
    if tat > now then
      redis.call('SET', key, string.format('%d', tat), 'PX', string.format('%d', tat - now))
    else
      redis.call('DEL', key)
    end
  end
end
return 0
`)

// Take takes one token at now from every bucket, or, when any of them is empty, from none. taken
// reports which; when not taken, wait is how long until every bucket would have a token (more
// than 0). An error (Redis unreachable, slower than the Timeout, an invalid Bucket) means nothing
// is known: nothing was taken, or the script ran and the reply was lost, in which case the tokens
// stay taken until they refill (never more than was asked).
func (l *StrictLimiter) Take(ctx context.Context, now time.Time, buckets ...Bucket) (taken bool, wait time.Duration, err error) {
	if len(buckets) == 0 {
		return true, 0, nil
	}
	keys, args, err := l.script(now, buckets, true)
	if err != nil {
		return false, 0, fmt.Errorf("strict limit take: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	ms, err := takeScript.Run(ctx, l.redis, keys, args...).Int64()
	if err != nil {
		return false, 0, fmt.Errorf("strict limit take: %w", err)
	}
	if ms > 0 {
		return false, time.Duration(ms) * time.Millisecond, nil
	}
	return true, 0, nil
}

// Return gives back, at now, one token to every bucket: the refund of a Take whose event turned
// out not to count. A bucket never holds more than its Burst, so returning to a full bucket (or
// after it refilled) changes nothing. On an error the tokens may stay taken until they refill.
func (l *StrictLimiter) Return(ctx context.Context, now time.Time, buckets ...Bucket) error {
	if len(buckets) == 0 {
		return nil
	}
	keys, args, err := l.script(now, buckets, false)
	if err != nil {
		return fmt.Errorf("strict limit return: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := returnScript.Run(ctx, l.redis, keys, args...).Err(); err != nil {
		return fmt.Errorf("strict limit return: %w", err)
	}
	return nil
}

// script builds the KEYS and ARGV of takeScript (withBurst) or returnScript.
func (l *StrictLimiter) script(now time.Time, buckets []Bucket, withBurst bool) (keys []string, args []any, err error) {
	keys = make([]string, len(buckets))
	args = make([]any, 1, 1+2*len(buckets))
	args[0] = strconv.FormatInt(now.UnixMilli(), 10)
	for i, b := range buckets {
		t, err := emissionMillis(b.Limit)
		if err != nil {
			return nil, nil, fmt.Errorf("bucket %q: %w", b.Key, err)
		}
		keys[i] = l.prefix + b.Key
		args = append(args, strconv.FormatInt(t, 10))
		if withBurst {
			args = append(args, strconv.Itoa(b.Limit.Burst))
		}
	}
	return keys, args, nil
}

// emissionMillis is the time one token takes to refill, rounded up to whole milliseconds (after
// rounding to microseconds, so that 5 per minute is 12000 ms, not 12001 for a float's error).
func emissionMillis(lim Limit) (int64, error) {
	if !(lim.Rate > 0) || math.IsInf(lim.Rate, 1) || lim.Burst <= 0 {
		return 0, fmt.Errorf("invalid limit %+v: Rate must be positive and finite, Burst positive", lim)
	}
	if float64(lim.Burst)/lim.Rate > maxRefill.Seconds() {
		return 0, fmt.Errorf("invalid limit %+v: refilling takes longer than %v", lim, maxRefill)
	}
	return max(1, int64(math.Ceil(math.Round(1e6/lim.Rate)/1000))), nil
}
