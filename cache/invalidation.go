package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timings of the invalidation bus. They are constants, not Config, because nothing in neko has a
// reason to tune them: they bound how stale a missed message can leave an instance and how quickly
// it reconnects.
const (
	// resyncInterval is how often the syncer re-reads every known tag version from Redis, even
	// when all is well: pub/sub is at-most-once, and this bounds how long a lost message matters.
	resyncInterval = 30 * time.Second
	// pingInterval is how long the subscriber waits for a message before pinging, to notice a
	// half-open connection.
	pingInterval = 15 * time.Second
	// backoffMin and backoffMax bound the wait between reconnection or resync attempts.
	backoffMin = 100 * time.Millisecond
	backoffMax = 2 * time.Second
)

// Generation changes whenever any tag is invalidated, here or on another instance, or the tag
// epoch resets, and also when this instance first learns of a tag (rare, and only ever
// conservative). A layer that memoizes answers in front of the cache (the HTTP layer's
// exact-request memo) stamps them with it and drops them when it moves; flights and the
// resolvers' shared reads are joined only within one: coarse, but invalidations are rare and it
// is never wrong.
func (t *Tiered) Generation() uint64 { return t.tags.changes.Load() }

// Invalidate makes every entry tagged with any of tags unusable: on this instance before it
// returns, on every other instance sharing the Redis as soon as the pub/sub message arrives
// (milliseconds; at most resyncInterval if the message is lost), and in L2.
//
// Why versioned tags. Each tag has a version, a Redis counter (INCR KeyPrefix+"tagv:"+tag)
// mirrored in an in-process table that pub/sub messages and periodic resyncs update. An entry
// records the versions of its tags at fill time and is usable only while none is older than the
// table's; an invalidated entry is a plain miss, never served stale (not even stale-if-error:
// invalidated data must not be served). Compared with deleting keys per tag (a Redis set of keys
// per tag, then DEL), this needs no index that can grow without bound or drift from the data, one
// INCR per tag instead of a scan, and it invalidates L1 and L2 alike on every instance with one
// small message; the price is a map lookup per tag on each hit, and dead entries that linger until
// they expire or are overwritten. Versions only grow, so messages may be applied in any order (the
// table keeps the maximum). A fill that overlaps an invalidation of one of its tags is returned
// but not stored, since it may have read data older than the write.
//
// Redis restarts empty (neko runs it without persistence), which would restart the counters and
// make old entries valid again. So versions belong to an epoch, a random number under
// KeyPrefix+"tag-epoch" created with SETNX by whichever instance first sees it missing; entries
// record the epoch, and an instance that sees a new epoch (on reconnect, on resync, or in a
// message) resets its table, which makes every older entry unusable.
//
// When Redis cannot take the invalidation, it is applied locally at once (a local version bump),
// logged (rate limited), and replayed to Redis (INCR and publish) by the syncer when Redis is
// back, so other instances learn about the write late rather than never. Redis problems are never
// returned: the write has already happened, and failing its response would make the client retry
// a write that succeeded. The only error is ErrInvalidTag for an empty tag, a programming
// mistake; the other tags are still invalidated.
func (t *Tiered) Invalidate(ctx context.Context, tags ...string) error {
	var bad error
	clean := make([]string, 0, len(tags))
	seen := make(map[string]struct{}, len(tags))
	for _, tag := range tags {
		if tag == "" {
			bad = fmt.Errorf("invalidate: %w: empty tag", ErrInvalidTag)
			continue
		}
		if _, dup := seen[tag]; !dup {
			seen[tag] = struct{}{}
			clean = append(clean, tag)
		}
	}
	if len(clean) == 0 {
		return bad
	}
	if t.cfg.Redis == nil {
		t.tags.bump(clean, false)
		return bad
	}
	// The write is done whether or not this request's client is still there: finish the broadcast.
	epoch, vals, err := t.publish(context.WithoutCancel(ctx), clean)
	if vals != nil && !t.tags.raise(epoch, vals, nil) {
		// Redis has another epoch than this instance: resync soon, and stay correct meanwhile.
		t.tags.bump(clean, false)
		t.poke()
	}
	if err != nil {
		t.logs.warn("invalidate", "cache: invalidation applied locally only, will replay to Redis", err)
		t.tags.bump(clean, true)
		t.poke()
	}
	return bad
}

// invalidationMsg is the pub/sub payload: the epoch (hex) and the new version of each tag.
type invalidationMsg struct {
	Epoch    string            `json:"e"`
	Versions map[string]uint64 `json:"v"`
}

// publish increments the tags' versions in Redis (creating the epoch if Redis lost it) and
// broadcasts them. vals is nil if the increments failed; err is set if anything failed.
func (t *Tiered) publish(ctx context.Context, tags []string) (epoch uint64, vals map[string]uint64, err error) {
	cctx, cancel := context.WithTimeout(ctx, t.cfg.RedisTimeout)
	defer cancel()
	pipe := t.cfg.Redis.Pipeline()
	epochCmd := t.queueEpoch(cctx, pipe)
	incrs := make([]*redis.IntCmd, len(tags))
	for i, tag := range tags {
		incrs[i] = pipe.Incr(cctx, t.cfg.KeyPrefix+tagKeyPart+tag)
	}
	if _, err := pipe.Exec(cctx); err != nil {
		return 0, nil, fmt.Errorf("increment tag versions: %w", err)
	}
	if epoch, err = parseEpoch(epochCmd.Val()); err != nil {
		return 0, nil, err
	}
	vals = make(map[string]uint64, len(tags))
	for i, tag := range tags {
		vals[tag] = uint64(incrs[i].Val())
	}

	payload, err := json.Marshal(invalidationMsg{Epoch: strconv.FormatUint(epoch, 16), Versions: vals})
	if err != nil {
		return epoch, vals, fmt.Errorf("encode invalidation: %w", err)
	}
	pctx, pcancel := context.WithTimeout(ctx, t.cfg.RedisTimeout)
	defer pcancel()
	if err := t.cfg.Redis.Publish(pctx, t.cfg.InvalidationChannel, payload).Err(); err != nil {
		return epoch, vals, fmt.Errorf("publish invalidation: %w", err)
	}
	return epoch, vals, nil
}

// queueEpoch adds to pipe the creation of the epoch if it is missing (SETNX of a random value)
// and the read of the epoch in force.
func (t *Tiered) queueEpoch(ctx context.Context, pipe redis.Pipeliner) *redis.StringCmd {
	key := t.cfg.KeyPrefix + epochKeyPart
	candidate := rand.Uint64() | 1 // never 0, which means "not synchronised"
	pipe.SetNX(ctx, key, strconv.FormatUint(candidate, 16), 0)
	return pipe.Get(ctx, key)
}

// parseEpoch reads an epoch written by queueEpoch.
func parseEpoch(s string) (uint64, error) {
	e, err := strconv.ParseUint(s, 16, 64)
	if err != nil || e == 0 {
		return 0, fmt.Errorf("cache: bad tag epoch %q in Redis", s)
	}
	return e, nil
}

// sync brings the tag table in line with Redis: it replays invalidations Redis missed, reads the
// epoch (resetting the table if it changed) and raises every known tag to Redis's version. It
// runs in New, in the syncer, and never concurrently with itself except for New's first call.
func (t *Tiered) sync(ctx context.Context) error {
	if pending := t.tags.pendingTags(); len(pending) > 0 {
		epoch, vals, err := t.publish(ctx, pending)
		if vals == nil {
			return fmt.Errorf("replay invalidations: %w", err)
		}
		t.tags.raise(epoch, vals, pending) // the increments are in Redis: no longer pending
		if err != nil {
			return fmt.Errorf("replay invalidations: %w", err) // publish failed; resync will tell
		}
	}

	cctx, cancel := context.WithTimeout(ctx, t.cfg.RedisTimeout)
	pipe := t.cfg.Redis.Pipeline()
	epochCmd := t.queueEpoch(cctx, pipe)
	_, err := pipe.Exec(cctx)
	cancel()
	if err != nil {
		return fmt.Errorf("read tag epoch: %w", err)
	}
	epoch, err := parseEpoch(epochCmd.Val())
	if err != nil {
		return err
	}

	tbl := t.tags.load()
	vals := map[string]uint64{}
	if len(tbl.versions) > 0 {
		names := make([]string, 0, len(tbl.versions))
		for tag := range tbl.versions {
			names = append(names, tag)
		}
		if vals, err = t.fetchVersions(ctx, names); err != nil {
			return fmt.Errorf("read tag versions: %w", err)
		}
	}
	if epoch != tbl.epoch {
		t.tags.reset(epoch, vals)
	} else {
		t.tags.raise(epoch, vals, nil)
	}
	t.downUntil.Store(0) // Redis answered: use L2 again without waiting out the pause
	return nil
}

// poke asks the syncer to run now; it never blocks.
func (t *Tiered) poke() {
	select {
	case t.nudge <- struct{}{}:
	default:
	}
}

// syncLoop runs sync on every poke, every resyncInterval, and with backoff after a failure, until
// Close.
func (t *Tiered) syncLoop() {
	var b backoff
	timer := time.NewTimer(resyncInterval)
	defer timer.Stop()
	for {
		select {
		case <-t.life.Done():
			return
		case <-t.nudge:
		case <-timer.C:
		}
		next := resyncInterval
		if err := t.sync(t.life); err != nil {
			if t.life.Err() != nil {
				return
			}
			t.logs.warn("sync", "cache: tag version resync failed", err)
			next = b.next()
		} else {
			b.reset()
			if t.tags.hasPending() {
				next = b.next()
			}
		}
		timer.Reset(next)
	}
}

// subscribe receives invalidation messages until Close. go-redis reconnects the subscription by
// itself after an error; each (re)subscription pokes the syncer, because messages sent while the
// connection was down are lost.
func (t *Tiered) subscribe() {
	ps := t.cfg.Redis.Subscribe(t.life, t.cfg.InvalidationChannel)
	defer func() { _ = ps.Close() }()
	stop := context.AfterFunc(t.life, func() { _ = ps.Close() }) // unblocks Receive on Close
	defer stop()

	var b backoff
	for {
		msg, err := ps.ReceiveTimeout(t.life, pingInterval)
		if t.life.Err() != nil {
			return
		}
		if err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				_ = ps.Ping(t.life) // a broken connection fails here or on the next receive
				continue
			}
			t.logs.warn("subscribe", "cache: invalidation subscription failed, reconnecting", err)
			select {
			case <-t.life.Done():
				return
			case <-time.After(b.next()):
			}
			continue
		}
		b.reset()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				t.poke()
			}
		case *redis.Message:
			t.apply(m.Payload)
		}
	}
}

// apply raises the local versions to those in an invalidation message (this instance's own
// included: raising is idempotent). A message from another epoch pokes the syncer.
func (t *Tiered) apply(payload string) {
	var m invalidationMsg
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		t.logs.warn("message", "cache: unreadable invalidation message", err)
		return
	}
	epoch, err := parseEpoch(m.Epoch)
	if err != nil {
		t.logs.warn("message", "cache: unreadable invalidation message", err)
		return
	}
	if !t.tags.raise(epoch, m.Versions, nil) {
		t.poke()
	}
}

// backoff yields exponentially growing waits with jitter, from backoffMin to backoffMax.
type backoff struct{ cur time.Duration }

// next returns the next wait.
func (b *backoff) next() time.Duration {
	b.cur = min(max(2*b.cur, backoffMin), backoffMax)
	return b.cur/2 + rand.N(b.cur/2+1) // in [cur/2, cur]
}

// reset starts over from backoffMin.
func (b *backoff) reset() { b.cur = 0 }
