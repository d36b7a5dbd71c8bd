package cache

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// leaseKeyPart prefixes refresh leases: prefix + "lease:" + key.
const leaseKeyPart = "lease:"

// leaseRetry is how long an instance that found a refresh leased elsewhere waits before it asks
// for the lease again (meanwhile it serves its stale entry, or the other instance's answer from
// L2).
const leaseRetry = time.Second

// releaseScript gives a lease back only if it is still the one taken (a lease that outlived its
// PX and was taken by another instance is not ours to delete).
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// lease takes the fleet-wide right to refresh key in the background, so that one instance, not
// every instance sharing the Redis, recomputes an answer all of them keep warm: the others find
// its result in L2. Without it, N instances each refreshed the warm set and put N times its load
// on the shared database (QA measured it with three).
//
// ok is false when another instance holds the lease. When Redis cannot tell (absent, paused,
// failing) ok is true: the refresh runs locally, as without Redis. A lease lasts FillTimeout at
// most (its holder may die); release gives it back as soon as the refresh is done.
func (t *Tiered) lease(ctx context.Context, key string) (release func(), ok bool) {
	if t.cfg.Redis == nil || !t.redisUsable() {
		return func() {}, true
	}
	k := t.cfg.KeyPrefix + leaseKeyPart + key
	token := strconv.FormatUint(rand.Uint64(), 36)
	cctx, cancel := context.WithTimeout(ctx, t.cfg.RedisTimeout)
	taken, err := t.cfg.Redis.SetNX(cctx, k, token, t.cfg.FillTimeout).Result()
	cancel()
	if err != nil {
		t.redisFailed(ctx, "refresh lease", err)
		return func() {}, true
	}
	if !taken {
		return nil, false
	}
	return func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.RedisTimeout)
		defer cancel()
		if err := releaseScript.Run(cctx, t.cfg.Redis, []string{k}, token).Err(); err != nil {
			t.redisFailed(ctx, "refresh lease", err)
		}
	}, true
}
