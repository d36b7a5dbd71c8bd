package resilience

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neko-defense/neko/internal/logtest"
	"github.com/neko-defense/neko/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// fakeClock is a settable clock shared by limiters in one test.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type rlStep struct {
	advance time.Duration // before the call
	key     string        // "" means "k"
	cost    int
	repeat  int // calls made with the same expectations; 0 means 1
	want    Decision
}

func TestRateLimiterLocalExact(t *testing.T) {
	fifty := Limit{Rate: 50, Burst: 50}
	ten := Limit{Rate: 10, Burst: 10}
	ms := time.Millisecond
	tests := []struct {
		name  string
		limit Limit
		steps []rlStep
	}{
		{
			name: "burst then rate", limit: fifty,
			steps: []rlStep{
				{cost: 1, want: Decision{Allowed: true, Limit: 50, Remaining: 49, ResetAfter: 20 * ms}},
				{cost: 1, repeat: 48, want: Decision{Allowed: true, Limit: 50, Remaining: -1}}, // Remaining checked loosely
				{cost: 1, want: Decision{Allowed: true, Limit: 50, Remaining: 0, ResetAfter: time.Second}},
				{cost: 1, want: Decision{Limit: 50, Remaining: 0, ResetAfter: time.Second, RetryAfter: 20 * ms}},
				{advance: 19 * ms, cost: 1, want: Decision{Limit: 50, Remaining: 0, ResetAfter: 981 * ms, RetryAfter: ms}},
				{advance: ms, cost: 1, want: Decision{Allowed: true, Limit: 50, Remaining: 0, ResetAfter: time.Second}},
				{cost: 1, want: Decision{Limit: 50, Remaining: 0, ResetAfter: time.Second, RetryAfter: 20 * ms}},
				{advance: 100 * ms, cost: 1, repeat: 5, want: Decision{Allowed: true, Limit: 50, Remaining: -1}},
				{cost: 1, want: Decision{Limit: 50, Remaining: 0, ResetAfter: time.Second, RetryAfter: 20 * ms}},
			},
		},
		{
			name: "cost above one", limit: ten,
			steps: []rlStep{
				{cost: 4, want: Decision{Allowed: true, Limit: 10, Remaining: 6, ResetAfter: 400 * ms}},
				{cost: 4, want: Decision{Allowed: true, Limit: 10, Remaining: 2, ResetAfter: 800 * ms}},
				{cost: 4, want: Decision{Limit: 10, Remaining: 2, ResetAfter: 800 * ms, RetryAfter: 200 * ms}},
				{advance: 200 * ms, cost: 4, want: Decision{Allowed: true, Limit: 10, Remaining: 0, ResetAfter: time.Second}},
			},
		},
		{
			name: "cost above burst is never allowed", limit: ten,
			steps: []rlStep{
				{cost: 11, want: Decision{Limit: 10, Remaining: 10, RetryAfter: 0}},
				{cost: 3, want: Decision{Allowed: true, Limit: 10, Remaining: 7, ResetAfter: 300 * ms}},
				{cost: 11, want: Decision{Limit: 10, Remaining: 7, ResetAfter: 300 * ms, RetryAfter: 300 * ms}},
			},
		},
		{
			name: "cost zero only reports", limit: ten,
			steps: []rlStep{
				{cost: 10, want: Decision{Allowed: true, Limit: 10, Remaining: 0, ResetAfter: time.Second}},
				{cost: 0, want: Decision{Allowed: true, Limit: 10, Remaining: 0, ResetAfter: time.Second}},
				{advance: 100 * ms, cost: 0, want: Decision{Allowed: true, Limit: 10, Remaining: 1, ResetAfter: 900 * ms}},
			},
		},
		{
			name: "idling refills up to burst only", limit: ten,
			steps: []rlStep{
				{cost: 10, want: Decision{Allowed: true, Limit: 10, Remaining: 0, ResetAfter: time.Second}},
				{advance: time.Hour, cost: 1, repeat: 10, want: Decision{Allowed: true, Limit: 10, Remaining: -1}},
				{cost: 1, want: Decision{Limit: 10, Remaining: 0, ResetAfter: time.Second, RetryAfter: 100 * ms}},
			},
		},
		{
			name: "keys are isolated", limit: ten,
			steps: []rlStep{
				{key: "a", cost: 10, want: Decision{Allowed: true, Limit: 10, Remaining: 0, ResetAfter: time.Second}},
				{key: "a", cost: 1, want: Decision{Limit: 10, Remaining: 0, ResetAfter: time.Second, RetryAfter: 100 * ms}},
				{key: "b", cost: 1, want: Decision{Allowed: true, Limit: 10, Remaining: 9, ResetAfter: 100 * ms}},
			},
		},
		{
			name: "infinite rate allows all", limit: Limit{Rate: inf(), Burst: 5},
			steps: []rlStep{{cost: 1000, repeat: 3, want: Decision{Allowed: true, Limit: 5, Remaining: 5}}},
		},
		{
			name: "zero rate allows nothing", limit: Limit{Rate: 0, Burst: 5},
			steps: []rlStep{{cost: 1, want: Decision{Limit: 5}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			var rejects atomic.Int64
			r := mustRateLimiter(t, RateLimitConfig{Now: clock.Now, OnReject: func() { rejects.Add(1) }})
			wantRejects := int64(0)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				key := s.key
				if key == "" {
					key = "k"
				}
				for n := range max(s.repeat, 1) {
					got := r.Allow(key, tt.limit, s.cost)
					want := s.want
					if want.Remaining < 0 { // only Allowed and Limit are fixed across the repeats
						want.Remaining, want.ResetAfter = got.Remaining, got.ResetAfter
					}
					if got != want {
						t.Fatalf("step %d call %d: Allow = %+v, want %+v", i, n, got, want)
					}
					if !got.Allowed {
						wantRejects++
					}
				}
			}
			if rejects.Load() != wantRejects {
				t.Errorf("OnReject calls = %d, want %d", rejects.Load(), wantRejects)
			}
		})
	}
}

func inf() float64 { return float64(1) / float64(zero) }

var zero = 0.0

func TestRateLimiterMaxKeys(t *testing.T) {
	ten := Limit{Rate: 10, Burst: 10}
	t.Run("least recently used key is forgotten", func(t *testing.T) {
		r := mustRateLimiter(t, RateLimitConfig{MaxKeys: 3, Now: newFakeClock().Now})
		for _, k := range []string{"a", "b"} {
			r.Allow(k, ten, 10) // exhaust
		}
		r.Allow("a", ten, 0) // a is now more recent than b
		r.Allow("c", ten, 1)
		r.Allow("d", ten, 1) // evicts b
		if got := r.keys(); got != 3 {
			t.Errorf("keys = %d, want 3", got)
		}
		if r.Allow("a", ten, 1).Allowed {
			t.Error("a was forgotten, want it kept (recently used)")
		}
		if !r.Allow("b", ten, 1).Allowed {
			t.Error("b was kept, want it forgotten (least recently used)")
		}
	})
	t.Run("bound holds with many shards", func(t *testing.T) {
		r := mustRateLimiter(t, RateLimitConfig{MaxKeys: 5000})
		if len(r.shards) < 2 {
			t.Fatalf("shards = %d, want several", len(r.shards))
		}
		for i := range 20_000 {
			r.Allow(strconv.Itoa(i), ten, 1)
		}
		if got := r.keys(); got > 5000 || got < 4000 {
			t.Errorf("keys = %d, want <= 5000 and most of it used", got)
		}
	})
}

func TestNewRateLimiterConfig(t *testing.T) {
	for _, bad := range []RateLimitConfig{{SyncInterval: -1}, {MaxKeys: -1}} {
		if _, err := NewRateLimiter(bad); err == nil {
			t.Errorf("NewRateLimiter(%+v) accepted", bad)
		}
	}
	r := mustRateLimiter(t, RateLimitConfig{})
	if r.prefix != "neko:rl:" || r.interval != 100*time.Millisecond || len(r.shards)*r.shards[0].cap > 100_000 {
		t.Errorf("defaults: prefix %q interval %v", r.prefix, r.interval)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if err := r.Close(); err != nil {
		t.Error("second Close:", err)
	}
}

// overshootBound is the bound of the package comment: the most n instances
// syncing every interval can allow in a window w, sync latency aside.
func overshootBound(l Limit, n int, interval, w time.Duration) int {
	perInstance := float64(l.Burst) + l.Rate*(2*interval).Seconds()
	return int(float64(l.Burst) + l.Rate*w.Seconds() + float64(n-1)*perInstance)
}

// TestRateLimiterSharedOvershoot drives n instances sharing one real Redis
// with far more demand than the limit, in fake time, each syncing every
// interval (staggered), and counts what they allow together.
func TestRateLimiterSharedOvershoot(t *testing.T) {
	srv := redistest.Start(t)
	limit := Limit{Rate: 50, Burst: 50}
	const (
		interval = 100 * time.Millisecond
		window   = 2 * time.Second
		step     = time.Millisecond
		perStep  = 2 // requests per instance per step: 2000/s each
	)
	exact := limit.Burst + int(limit.Rate*window.Seconds()) // what one exact limiter allows in [0, window]
	tests := []struct {
		name      string
		instances int
		shared    bool
		wantMin   int
		wantMax   int
	}{
		{name: "one instance local", instances: 1, wantMin: exact, wantMax: exact},
		{name: "one instance with redis", instances: 1, shared: true, wantMin: exact, wantMax: exact},
		{name: "two instances with redis", instances: 2, shared: true, wantMin: exact, wantMax: overshootBound(limit, 2, interval, window)},
		{name: "four instances with redis", instances: 4, shared: true, wantMin: exact, wantMax: overshootBound(limit, 4, interval, window)},
		// The control: without Redis the instances do not coordinate and
		// exceed the bound, so the shared cases above can fail.
		{name: "two instances without redis", instances: 2, wantMin: overshootBound(limit, 2, interval, window) + 1, wantMax: 2 * exact},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			var rc redis.UniversalClient
			if tt.shared {
				rc = srv.Client(t)
			}
			lims := make([]*RateLimiter, tt.instances)
			for j := range lims {
				lims[j] = mustRateLimiter(t, RateLimitConfig{
					Redis: rc, KeyPrefix: fmt.Sprintf("test%d:", i), Now: clock.Now,
					SyncInterval: time.Hour, // the test syncs by hand, in fake time
				})
			}
			ctx := context.Background()
			allowed := 0
			for at := time.Duration(0); at <= window; at += step {
				for j, r := range lims {
					for range perStep {
						if r.Allow("client-1", limit, 1).Allowed {
							allowed++
						}
					}
					// Instance j syncs at offsets j*interval/n within each interval.
					if tt.shared && at%interval == time.Duration(j)*interval/time.Duration(len(lims)) {
						if _, _, err := r.syncOnce(ctx); err != nil {
							t.Fatal(err)
						}
					}
				}
				clock.Advance(step)
			}
			t.Logf("%d instances allowed %d in %v (one exact limiter: %d, bound %d)", tt.instances, allowed, window, exact, tt.wantMax)
			if allowed < tt.wantMin || allowed > tt.wantMax {
				t.Errorf("allowed %d, want within [%d, %d]", allowed, tt.wantMin, tt.wantMax)
			}
		})
	}
}

// syncWatch records the sync rounds of one limiter.
type syncWatch struct {
	r      *RateLimiter
	mu     sync.Mutex // guards rounds
	rounds map[int64]error
	notify chan struct{} // signalled after each recorded round
}

func newSyncWatch() *syncWatch {
	return &syncWatch{rounds: map[int64]error{}, notify: make(chan struct{}, 1)}
}

func (w *syncWatch) hook(round int64, keys int, err error) {
	if keys > 0 {
		w.mu.Lock()
		w.rounds[round] = err
		w.mu.Unlock()
	}
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// touch charges cost to key and waits for the first sync round that
// includes it, returning that round's error. Rounds that carried keys are
// forgotten first: the previous touch waited for the round that consumed its
// charges, so until this Allow nothing is pending, and the first round with
// keys recorded after it is the one holding this charge. (Round numbers cannot
// tell: a round takes its number before its snapshot, so a charge made in
// between rides in a round numbered before the caller could look.)
func (w *syncWatch) touch(key string, limit Limit, cost int) (Decision, error) {
	w.mu.Lock()
	clear(w.rounds)
	w.mu.Unlock()
	d := w.r.Allow(key, limit, cost)
	for {
		w.mu.Lock()
		for _, err := range w.rounds {
			w.mu.Unlock()
			return d, err
		}
		w.mu.Unlock()
		<-w.notify
	}
}

func TestRateLimiterSyncsInBackground(t *testing.T) {
	srv := redistest.Start(t)
	limit := Limit{Rate: 1, Burst: 5}
	a := newSyncedLimiter(t, srv.Client(t), nil)
	b := newSyncedLimiter(t, srv.Client(t), nil)

	for range 4 {
		if !a.r.Allow("k", limit, 1).Allowed {
			t.Fatal("a: burst refused")
		}
	}
	if _, err := a.touch("k", limit, 1); err != nil { // a has pushed its 5
		t.Fatal(err)
	}
	d, err := b.touch("k", limit, 1) // b decides on a view one round old, then pulls a's 5
	if err != nil || !d.Allowed {
		t.Fatalf("b: %+v %v", d, err)
	}
	if d := b.r.Allow("k", limit, 1); d.Allowed || d.ResetAfter < 5*time.Second || d.RetryAfter < time.Second {
		t.Fatalf("b after sync: %+v, want refused, 6 tokens owed", d)
	}
}

func TestRateLimiterRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	logs := &logtest.Counter{}
	limit := Limit{Rate: 0.001, Burst: 3} // no refill during the test, however slow failing rounds are
	client := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialerRetries: 1, MaxRetries: 1})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	a := newSyncedLimiter(t, client(), slog.New(logs))
	b := newSyncedLimiter(t, client(), nil)

	srv.Stop()
	for i := range 5 { // a decides alone, exactly, and never blocks
		d, err := a.touch("down", limit, 1)
		if err == nil {
			t.Fatalf("round %d: sync succeeded with redis down", i)
		}
		if d.Allowed != (i < 3) {
			t.Fatalf("call %d while redis is down: %+v", i, d)
		}
	}
	if n := logs.Count(slog.LevelWarn); n != 1 {
		t.Errorf("warnings = %d, want 1 (rate-limited)", n)
	}

	srv.Restart()
	for i := 0; ; i++ { // the first round may meet a broken pooled connection
		if _, err := a.touch("up", limit, 1); err == nil {
			break
		} else if i == 3 {
			t.Fatalf("no successful sync after restart: %v", err)
		}
	}
	if n := logs.Count(slog.LevelInfo); n != 1 {
		t.Errorf("recovery infos = %d, want 1", n)
	}
	if _, err := a.touch("up", limit, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := b.touch("up", limit, 1); err != nil { // b learns a's consumption
		t.Fatal(err)
	}
	if b.r.Allow("up", limit, 1).Allowed {
		t.Error("b did not learn a's consumption after redis came back")
	}
}

func newSyncedLimiter(t *testing.T, rc redis.UniversalClient, log *slog.Logger) *syncWatch {
	t.Helper()
	w := newSyncWatch()
	r, err := newRateLimiter(RateLimitConfig{Redis: rc, SyncInterval: 5 * time.Millisecond, Logger: log,
		KeyPrefix: t.Name() + ":"}, rlHooks{afterSync: w.hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	w.r = r
	return w
}

func BenchmarkRateLimiterAllow(b *testing.B) {
	limit := Limit{Rate: 1e6, Burst: 1e6}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "client-" + strconv.Itoa(i)
	}
	run := func(b *testing.B, r *RateLimiter) {
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 97
			for pb.Next() {
				r.Allow(keys[i%len(keys)], limit, 1)
				i++
			}
		})
	}
	b.Run("local", func(b *testing.B) {
		run(b, mustRateLimiter(b, RateLimitConfig{}))
	})
	b.Run("redis", func(b *testing.B) {
		run(b, mustRateLimiter(b, RateLimitConfig{Redis: redistest.Start(b).Client(b)}))
	})
}

func mustRateLimiter(tb testing.TB, cfg RateLimitConfig) *RateLimiter {
	tb.Helper()
	r, err := NewRateLimiter(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

// TestMain silences go-redis's own logger, which writes every failed dial
// of the outage tests to stderr.
func TestMain(m *testing.M) {
	redis.SetLogger(discardRedisLog{})
	os.Exit(m.Run())
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}
