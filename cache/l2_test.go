package cache

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/neko-defense/neko/internal/redistest"
)

// cmdCounter is a go-redis hook counting GETs of L2 entries and optionally failing commands.
type cmdCounter struct {
	prefix string
	gets   atomic.Int32
	fail   atomic.Bool // fail every command with errInjected
}

var errInjected = errors.New("injected redis failure")

func (h *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" && strings.HasPrefix(cmd.Args()[1].(string), h.prefix+respKeyPart) {
			h.gets.Add(1)
		}
		if h.fail.Load() {
			cmd.SetErr(errInjected)
			return errInjected
		}
		return next(ctx, cmd)
	}
}

func (h *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.fail.Load() {
			for _, cmd := range cmds {
				cmd.SetErr(errInjected)
			}
			return errInjected
		}
		return next(ctx, cmds)
	}
}

func TestDoL2(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	var log lookupLog
	first := newTiered(t, Config{Redis: rdb, KeyPrefix: "t:", OnLookup: log.record})
	f := &counter{body: "actors", tags: []string{"ThreatActor"}}

	if _, st, err := first.Do(ctx, "k", f.policy(minute), f.fill); err != nil || st != Miss {
		t.Fatalf("cold Do = %v, %v", st, err)
	}
	if got, want := log.take(), []string{"l1:miss", "l2:miss"}; !slices.Equal(got, want) {
		t.Errorf("cold lookups = %v, want %v", got, want)
	}
	if n, err := rdb.Exists(ctx, "t:resp:k").Result(); err != nil || n != 1 {
		t.Fatalf("L2 key exists = %d, %v; want 1", n, err)
	}
	if ttl := rdb.PTTL(ctx, "t:resp:k").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("L2 PTTL = %v, want (0, 1m]", ttl)
	}

	// A fresh instance (another machine, or a restart) finds it in L2.
	second := newTiered(t, Config{Redis: rdb, KeyPrefix: "t:", OnLookup: log.record})
	for _, tc := range []struct {
		name       string
		wantStatus Status
		wantLookup []string
	}{
		{"L1 miss, L2 hit", Hit, []string{"l1:miss", "l2:hit"}},
		{"then L1 hit", Hit, []string{"l1:hit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, st, err := second.Do(ctx, "k", f.policy(minute), f.fill)
			if err != nil || st != tc.wantStatus || string(e.Body) != "actors#1" {
				t.Fatalf("Do = %q, %v, %v; want actors#1, %v", e.Body, st, err, tc.wantStatus)
			}
			if got := log.take(); !slices.Equal(got, tc.wantLookup) {
				t.Errorf("lookups = %v, want %v", got, tc.wantLookup)
			}
			if f.calls.Load() != 1 {
				t.Errorf("fills = %d, want 1", f.calls.Load())
			}
			if e.ETag != etagOf([]byte("actors#1")) || !slices.Equal(e.Tags, []string{"ThreatActor"}) {
				t.Errorf("entry from L2 = %+v", e)
			}
		})
	}

	// A corrupt value is a miss, not an error.
	if err := rdb.Set(ctx, "t:resp:bad", "\x09garbage", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, st, err := second.Do(ctx, "bad", f.policy(minute), f.fill); err != nil || st != Miss {
		t.Fatalf("Do over a corrupt L2 value = %v, %v; want MISS", st, err)
	}
	if got, want := log.take(), []string{"l1:miss", "l2:error"}; !slices.Equal(got, want) {
		t.Errorf("corrupt lookups = %v, want %v", got, want)
	}
}

func TestRedisOutage(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	hook := &cmdCounter{prefix: "o:"}
	rdb := srv.Client(t)
	rdb.AddHook(hook)
	clock := newFakeClock()
	var log lookupLog
	// Short enough that calls to a dead Redis (go-redis retries refused connections until the
	// deadline) keep the test fast, long enough for the race detector.
	const timeout = 200 * time.Millisecond
	c := newTiered(t, Config{Redis: rdb, KeyPrefix: "o:", Now: clock.Now, OnLookup: log.record, RedisTimeout: timeout})
	p := Policy{MaxAge: time.Hour}
	f := &counter{body: "v"}
	if _, _, err := c.Do(ctx, "before", p, f.fill); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	t.Run("L1 still hits", func(t *testing.T) {
		if _, st, err := c.Do(ctx, "before", p, f.fill); err != nil || st != Hit {
			t.Fatalf("Do = %v, %v; want HIT", st, err)
		}
	})
	t.Run("miss fills without error", func(t *testing.T) {
		log.take()
		e, st, err := c.Do(ctx, "during", p, f.fill)
		if err != nil || st != Miss || len(e.Body) == 0 {
			t.Fatalf("Do = %q, %v, %v; want a body, MISS", e.Body, st, err)
		}
		if got, want := log.take(), []string{"l1:miss", "l2:error"}; !slices.Equal(got, want) {
			t.Errorf("lookups = %v, want %v", got, want)
		}
		if _, st, _ := c.Do(ctx, "during", p, f.fill); st != Hit {
			t.Errorf("second Do = %v, want HIT from L1", st)
		}
	})
	t.Run("L2 is skipped after a failure", func(t *testing.T) {
		gets := hook.gets.Load()
		for _, key := range []string{"a", "b", "c"} {
			if _, _, err := c.Do(ctx, key, p, f.fill); err != nil {
				t.Fatal(err)
			}
		}
		if got := hook.gets.Load() - gets; got != 0 {
			t.Errorf("L2 GETs during the pause = %d, want 0", got)
		}
	})
	t.Run("invalidation still applies locally", func(t *testing.T) {
		tagged := &counter{body: "tagged", tags: []string{"Incident"}}
		if _, _, err := c.Do(ctx, "tagged", p, tagged.fill); err != nil {
			t.Fatal(err)
		}
		if err := c.Invalidate(ctx, "Incident"); err != nil {
			t.Fatalf("Invalidate during the outage = %v, want nil", err)
		}
		if _, _, ok := c.Get(ctx, "tagged"); ok {
			t.Error("entry survived a local invalidation during the outage")
		}
	})

	srv.Restart()
	t.Run("L2 is used again", func(t *testing.T) {
		// The subscriber reconnects with backoff and resynchronises; Redis came back empty, with a
		// new epoch. Wait for that (cross-process, so poll), then a miss is written to L2 and a
		// fresh instance reads it.
		waitFor(t, 5*time.Second, func() bool {
			e, err := rdb.Get(ctx, "o:"+epochKeyPart).Result()
			return err == nil && strings.EqualFold(e, formatEpoch(c.tags.load().epoch)) && !c.tags.hasPending()
		})
		if _, st, err := c.Do(ctx, "after", p, f.fill); err != nil || st != Miss {
			t.Fatalf("Do = %v, %v", st, err)
		}
		other := newTiered(t, Config{Redis: srv.Client(t), KeyPrefix: "o:", Now: clock.Now, OnLookup: log.record})
		log.take()
		if _, st, err := other.Do(ctx, "after", p, f.fill); err != nil || st != Hit {
			t.Fatalf("fresh instance Do = %v, %v; want HIT from L2", st, err)
		}
		if got, want := log.take(), []string{"l1:miss", "l2:hit"}; !slices.Equal(got, want) {
			t.Errorf("lookups = %v, want %v", got, want)
		}
		// The outage invalidation was replayed to Redis.
		if v, err := rdb.Get(ctx, "o:tagv:Incident").Int(); err != nil || v < 1 {
			t.Errorf("replayed Incident version = %d, %v; want >= 1", v, err)
		}
	})
}

// waitFor polls cond until it holds or d passes. Only for events in another process (Redis, the
// network), which cannot signal this one.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// formatEpoch is how epochs are stored in Redis.
func formatEpoch(e uint64) string { return strconv.FormatUint(e, 16) }
