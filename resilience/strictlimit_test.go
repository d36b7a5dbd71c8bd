package resilience

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neko-defense/neko/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// fivePerMinute is the login throttle's per-username budget: a token every 12 s, 5 at most.
var fivePerMinute = Limit{Rate: 5.0 / 60, Burst: 5}

// t0 is the time the StrictLimiter tests start at: the limiter takes its clock from the caller,
// so real Redis and fake time go together.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// newStrictLimiter is a StrictLimiter over rdb with a generous timeout, so that a loaded machine
// (-race, dozens of calls at once waiting for pooled connections) cannot turn a decision into a
// timeout.
func newStrictLimiter(t *testing.T, rdb redis.UniversalClient) *StrictLimiter {
	t.Helper()
	l, err := NewStrictLimiter(StrictLimitConfig{Redis: rdb, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// strictStep is one call in a StrictLimiter scenario.
type strictStep struct {
	at      time.Duration // since t0
	ret     bool          // Return instead of Take
	keys    string        // the buckets named, one letter each ("a", "ab"); "" means "a"
	repeat  int           // identical calls; 0 means 1
	taken   bool
	wait    time.Duration
	comment string
}

func TestStrictLimiterTakeAndReturn(t *testing.T) {
	srv := redistest.Start(t)
	limits := map[byte]Limit{'a': fivePerMinute, 'b': {Rate: 1.0 / 60, Burst: 1}}
	s := time.Second
	tests := []struct {
		name  string
		steps []strictStep
	}{
		{"burst, then one token per emission interval", []strictStep{
			{repeat: 5, taken: true},
			{wait: 12 * s},
			{at: 12*s - time.Millisecond, wait: time.Millisecond},
			{at: 12 * s, taken: true},
			{at: 12 * s, wait: 12 * s},
			{at: 60 * s, repeat: 4, taken: true, comment: "48 s refilled four"},
			{at: 60 * s, wait: 12 * s},
		}},
		{"returning the only reservation leaves the bucket full", []strictStep{
			{taken: true},
			{ret: true, comment: "redis_rate's negative cost loses this refund"},
			{repeat: 5, taken: true},
			{wait: 12 * s},
		}},
		{"a return restores one token however many are out", []strictStep{
			{repeat: 5, taken: true},
			{at: s, ret: true},
			{at: s, taken: true},
			{at: s, wait: 11 * s},
		}},
		{"returning to a full bucket, or after it refilled, adds nothing", []strictStep{
			{ret: true},
			{taken: true},
			{at: 12 * s, ret: true, comment: "the token had already refilled"},
			{at: 12 * s, ret: true},
			{at: 12 * s, repeat: 5, taken: true},
			{at: 12 * s, wait: 12 * s},
		}},
		{"all or nothing across buckets", []strictStep{
			{keys: "ab", taken: true},
			{keys: "ab", wait: 60 * s, comment: "b is empty: a keeps its 4 tokens"},
			{keys: "a", repeat: 4, taken: true},
			{keys: "ab", wait: 60 * s, comment: "both empty: the longer wait"},
			{at: 12 * s, keys: "ab", wait: 48 * s},
			{at: 60 * s, keys: "ab", taken: true},
			{at: 60 * s, keys: "ab", ret: true},
			{at: 60 * s, keys: "b", taken: true, comment: "the return reached both"},
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewStrictLimiter(StrictLimitConfig{Redis: srv.Client(t), KeyPrefix: fmt.Sprintf("test%d:", i), Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			for n, st := range tc.steps {
				keys := st.keys
				if keys == "" {
					keys = "a"
				}
				var buckets []Bucket
				for _, k := range []byte(keys) {
					buckets = append(buckets, Bucket{Key: string(k), Limit: limits[k]})
				}
				now := t0.Add(st.at)
				for range max(1, st.repeat) {
					if st.ret {
						if err := l.Return(context.Background(), now, buckets...); err != nil {
							t.Fatalf("step %d: Return: %v", n, err)
						}
						continue
					}
					taken, wait, err := l.Take(context.Background(), now, buckets...)
					if err != nil || taken != st.taken || wait != st.wait {
						t.Fatalf("step %d (%s): Take = %v, %v, %v; want %v, %v", n, st.comment, taken, wait, err, st.taken, st.wait)
					}
				}
			}
		})
	}
}

// TestStrictLimiterKeysExpire checks that a bucket's key lives until it is full again and no
// longer, and that a bucket returned to full has no key.
func TestStrictLimiterKeysExpire(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	l := newStrictLimiter(t, rdb)
	b := Bucket{Key: "k", Limit: fivePerMinute}
	ctx := context.Background()
	for range 3 {
		if taken, _, err := l.Take(ctx, t0, b); !taken || err != nil {
			t.Fatalf("Take = %v, %v", taken, err)
		}
	}
	if ttl := rdb.PTTL(ctx, "neko:sl:k").Val(); ttl <= 35*time.Second || ttl > 36*time.Second {
		t.Fatalf("PTTL after 3 tokens = %v, want 36 s (3 emission intervals)", ttl)
	}
	for range 3 {
		if err := l.Return(ctx, t0, b); err != nil {
			t.Fatal(err)
		}
	}
	if n := rdb.Exists(ctx, "neko:sl:k").Val(); n != 0 {
		t.Fatal("a full bucket kept its key")
	}
}

// TestStrictLimiterExactAcrossInstances takes from one bucket in parallel through three clients,
// as three instances would: Redis serialises the scripts, so exactly Burst are taken.
func TestStrictLimiterExactAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	var limiters []*StrictLimiter
	for range 3 {
		limiters = append(limiters, newStrictLimiter(t, srv.Client(t)))
	}
	for _, tc := range []struct {
		name    string
		buckets []Bucket
		want    int
	}{
		{"one bucket", []Bucket{{Key: "user", Limit: fivePerMinute}}, 5},
		{"two buckets, the smaller decides", []Bucket{{Key: "u2", Limit: fivePerMinute}, {Key: "addr", Limit: Limit{Rate: 3.0 / 60, Burst: 3}}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var taken, refused atomic.Int64
			var wg sync.WaitGroup
			for i := range 60 {
				l := limiters[i%len(limiters)]
				wg.Go(func() {
					ok, wait, err := l.Take(context.Background(), t0, tc.buckets...)
					switch {
					case err != nil:
						t.Error(err)
					case ok:
						taken.Add(1)
					case wait > 0:
						refused.Add(1)
					}
				})
			}
			wg.Wait()
			if taken.Load() != int64(tc.want) || refused.Load() != int64(60-tc.want) {
				t.Fatalf("taken %d, refused %d; want %d and %d", taken.Load(), refused.Load(), tc.want, 60-tc.want)
			}
		})
	}
}

func TestStrictLimiterRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	l := newStrictLimiter(t, redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1}))
	srv.Stop()
	b := Bucket{Key: "k", Limit: fivePerMinute}
	if taken, _, err := l.Take(context.Background(), t0, b); taken || err == nil {
		t.Fatalf("Take with Redis down = %v, %v; want an error", taken, err)
	}
	if err := l.Return(context.Background(), t0, b); err == nil {
		t.Fatal("Return with Redis down: no error")
	}
}

// TestStrictLimiterUnresponsiveRedis points the limiter at a server that accepts connections and
// never answers: the call ends with an error rather than waiting on, at the limiter's Timeout
// when the client honours context deadlines, else at the client's own read timeout.
func TestStrictLimiterUnresponsiveRedis(t *testing.T) {
	addr := redistest.Unresponsive(t)
	for _, tc := range []struct {
		name string
		opts redis.Options
	}{
		{"context deadline", redis.Options{ContextTimeoutEnabled: true, ReadTimeout: time.Hour, WriteTimeout: time.Hour}},
		{"client read timeout", redis.Options{ReadTimeout: 100 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Addr, opts.MaxRetries = addr, -1
			rdb := redis.NewClient(&opts)
			t.Cleanup(func() { _ = rdb.Close() })
			l, err := NewStrictLimiter(StrictLimitConfig{Redis: rdb, Timeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			taken, _, err := l.Take(context.Background(), t0, Bucket{Key: "k", Limit: fivePerMinute})
			if taken || err == nil {
				t.Fatalf("Take against a silent server = %v, %v; want an error", taken, err)
			}
		})
	}
}

func TestStrictLimiterValidates(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	for _, tc := range []struct {
		name string
		cfg  StrictLimitConfig
	}{
		{"no Redis", StrictLimitConfig{}},
		{"negative timeout", StrictLimitConfig{Redis: rdb, Timeout: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewStrictLimiter(tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	l := newStrictLimiter(t, rdb)
	for _, tc := range []struct {
		name  string
		limit Limit
	}{
		{"zero rate", Limit{Rate: 0, Burst: 5}},
		{"infinite rate", Limit{Rate: math.Inf(1), Burst: 5}},
		{"NaN rate", Limit{Rate: math.NaN(), Burst: 5}},
		{"zero burst", Limit{Rate: 1, Burst: 0}},
		{"refill beyond a century", Limit{Rate: 1e-12, Burst: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			taken, _, err := l.Take(context.Background(), t0, Bucket{Key: "k", Limit: tc.limit})
			if taken || err == nil {
				t.Fatalf("Take = %v, %v; want an error", taken, err)
			}
			if err := l.Return(context.Background(), t0, Bucket{Key: "k", Limit: tc.limit}); err == nil {
				t.Fatal("Return accepted it")
			}
		})
	}
	if taken, _, err := l.Take(context.Background(), t0); !taken || err != nil {
		t.Fatalf("Take of no bucket = %v, %v; want taken", taken, err)
	}
}
