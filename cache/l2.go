package cache

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis key layout, under Config.KeyPrefix.
const (
	respKeyPart  = "resp:"     // L2 entries: prefix + "resp:" + key
	tagKeyPart   = "tagv:"     // tag versions: prefix + "tagv:" + tag (INCR counters)
	epochKeyPart = "tag-epoch" // the epoch of the tag versions (see Invalidate)
)

// l2Lookup reads key from L2 and judges it under p (nil: the policy it was stored with). ok is
// false when there is nothing to judge: Redis absent or paused, no entry, unreadable entry.
func (t *Tiered) l2Lookup(ctx context.Context, key string, p *Policy) (it *item, state freshness, ok bool) {
	if t.cfg.Redis == nil {
		return nil, expired, false
	}
	if !t.redisUsable() {
		t.lookup("l2", "error")
		return nil, expired, false
	}
	cctx, cancel := context.WithTimeout(ctx, t.cfg.RedisTimeout)
	b, err := t.cfg.Redis.Get(cctx, t.cfg.KeyPrefix+respKeyPart+key).Bytes()
	cancel()
	switch {
	case errors.Is(err, redis.Nil):
		t.lookup("l2", "miss")
		return nil, expired, false
	case err != nil:
		t.redisFailed(ctx, "l2 get", err)
		t.lookup("l2", "error")
		return nil, expired, false
	}
	it, err = decodeItem(b)
	if err != nil {
		t.logs.warn("l2 decode", "cache: unreadable L2 entry, treated as a miss", err)
		t.lookup("l2", "error")
		return nil, expired, false
	}
	policy := it.policy
	if p != nil {
		policy = *p
	}
	state = t.judge(ctx, it, policy, t.cfg.Now(), true)
	switch state {
	case fresh:
		t.lookup("l2", "hit")
	case revalidate:
		t.lookup("l2", "stale")
	default:
		t.lookup("l2", "miss")
	}
	return it, state, state != expired
}

// l2Set writes it under key with PX = its retention. Failures are logged, never returned: L2 is an
// optimisation. Entries stamped before the tag versions were synchronised (epoch 0) stay local.
func (t *Tiered) l2Set(ctx context.Context, key string, it *item) {
	if t.cfg.Redis == nil || it.epoch == 0 || !t.redisUsable() {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, t.cfg.RedisTimeout)
	defer cancel()
	if err := t.cfg.Redis.Set(cctx, t.cfg.KeyPrefix+respKeyPart+key, encodeItem(it), it.policy.retention()).Err(); err != nil {
		t.redisFailed(ctx, "l2 set", err)
	}
}

// resolve learns the versions of tags from Redis. Without Redis, or when Redis cannot answer, it
// learns unknown tags at version 0, unconfirmed: good enough to stamp this instance's own fills
// (kept in L1 until a resync or an invalidation raises the version, which errs on the side of a
// miss), never to accept another instance's L2 entry.
func (t *Tiered) resolve(ctx context.Context, epoch uint64, tags []string) {
	if t.cfg.Redis != nil && epoch != 0 && t.redisUsable() {
		vals, err := t.fetchVersions(ctx, tags)
		if err == nil {
			t.tags.learn(epoch, vals, true)
			return
		}
		t.redisFailed(ctx, "tag versions", err)
	}
	vals := make(map[string]uint64, len(tags))
	for _, tag := range tags {
		vals[tag] = 0
	}
	t.tags.learn(epoch, vals, t.cfg.Redis == nil)
}

// fetchVersions reads the versions of tags from Redis (MGET); a missing key is version 0.
func (t *Tiered) fetchVersions(ctx context.Context, tags []string) (map[string]uint64, error) {
	keys := make([]string, len(tags))
	for i, tag := range tags {
		keys[i] = t.cfg.KeyPrefix + tagKeyPart + tag
	}
	cctx, cancel := context.WithTimeout(ctx, t.cfg.RedisTimeout)
	defer cancel()
	res, err := t.cfg.Redis.MGet(cctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	vals := make(map[string]uint64, len(tags))
	for i, tag := range tags {
		vals[tag] = 0
		if s, ok := res[i].(string); ok {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, err
			}
			vals[tag] = v
		}
	}
	return vals, nil
}

// redisUsable reports whether L2 may be tried now (Redis configured and not paused).
func (t *Tiered) redisUsable() bool {
	return t.cfg.Redis != nil && t.cfg.Now().UnixNano() >= t.downUntil.Load()
}

// redisFailed logs err (rate limited) and, when it says Redis is unreachable rather than that Redis
// answered with an error, pauses L2 for redisPause. A caller that gave up (parent ended) says
// nothing about Redis.
func (t *Tiered) redisFailed(parent context.Context, op string, err error) {
	if parent.Err() != nil {
		return
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		t.downUntil.Store(t.cfg.Now().Add(redisPause).UnixNano())
	}
	t.logs.warn(op, "cache: redis call failed", err)
}

// logInterval is the least time between two log lines for one operation.
const logInterval = 10 * time.Second

// logLimiter writes at most one line per operation per logInterval, counting the rest, so an
// outage at thousands of requests per second produces a few log lines, not thousands.
type logLimiter struct {
	log *slog.Logger
	now func() time.Time

	mu   sync.Mutex // guards last
	last map[string]*logState
}

// logState is one operation's last log time and how many lines were suppressed since.
type logState struct {
	at         time.Time
	suppressed int
}

func newLogLimiter(log *slog.Logger, now func() time.Time) *logLimiter {
	return &logLimiter{log: log, now: now, last: make(map[string]*logState)}
}

// warn logs msg with err for op unless op logged within logInterval. op must come from a small
// fixed set (it keys a map).
func (l *logLimiter) warn(op, msg string, err error) {
	now := l.now()
	l.mu.Lock()
	s, ok := l.last[op]
	if !ok {
		s = &logState{}
		l.last[op] = s
	}
	if ok && now.Sub(s.at) < logInterval {
		s.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := s.suppressed
	s.at, s.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn(msg, "op", op, "err", err, "suppressed", suppressed)
}
