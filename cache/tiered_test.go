package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lookupLog records OnLookup calls.
type lookupLog struct {
	mu    sync.Mutex // guards calls
	calls []string
}

func (l *lookupLog) record(tier, result string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, tier+":"+result)
}

// take returns the calls so far and forgets them.
func (l *lookupLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls := l.calls
	l.calls = nil
	return calls
}

// testRedisTimeout replaces the 50ms production default in tests, which run many Redis servers
// and the race detector on small machines: these tests are about behaviour, not latency.
const testRedisTimeout = time.Second

// newTiered builds a Tiered closed at the end of the test, with a discarding logger unless cfg
// has one.
func newTiered(t testing.TB, cfg Config) *Tiered {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RedisTimeout == 0 {
		cfg.RedisTimeout = testRedisTimeout
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// counter is a fill function that counts its calls and answers body with tags.
type counter struct {
	calls atomic.Int32
	body  string
	tags  []string
	err   error
}

func (f *counter) fill(context.Context) (Entry, error) {
	n := f.calls.Add(1)
	if f.err != nil {
		return Entry{}, f.err
	}
	return Entry{Body: fmt.Appendf(nil, "%s#%d", f.body, n), Tags: f.tags}, nil
}

var minute = Policy{MaxAge: time.Minute}

// policy is p declaring the counter's tags, as the server's callers declare theirs.
func (f *counter) policy(p Policy) Policy {
	p.Tags = f.tags
	return p
}

// scopeKey carries a request-scoped value through ctx, as the server's auth scope does.
type scopeKey struct{}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{Hit: "HIT", Miss: "MISS", Stale: "STALE", Bypass: "BYPASS"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", s, got, want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no logger", Config{}},
		{"negative L1", Config{Logger: log, L1MaxBytes: -1}},
		{"negative redis timeout", Config{Logger: log, RedisTimeout: -time.Second}},
		{"negative fill timeout", Config{Logger: log, FillTimeout: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := New(tc.cfg); err == nil {
				_ = c.Close()
				t.Fatal("New succeeded, want an error")
			}
		})
	}
}

func TestDoL1(t *testing.T) {
	ctx := context.Background()
	var log lookupLog
	c := newTiered(t, Config{OnLookup: log.record})
	f := &counter{body: "actors", tags: []string{"ThreatActor"}}

	for _, tc := range []struct {
		name       string
		wantStatus Status
		wantFills  int32
		wantLookup []string
	}{
		{"miss fills", Miss, 1, []string{"l1:miss"}},
		{"L1 hit", Hit, 1, []string{"l1:hit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, st, err := c.Do(ctx, "k", minute, f.fill)
			if err != nil || st != tc.wantStatus || string(e.Body) != "actors#1" {
				t.Fatalf("Do = %q, %v, %v; want actors#1, %v, nil", e.Body, st, err, tc.wantStatus)
			}
			if got := f.calls.Load(); got != tc.wantFills {
				t.Errorf("fills = %d, want %d", got, tc.wantFills)
			}
			if got := log.take(); !slices.Equal(got, tc.wantLookup) {
				t.Errorf("lookups = %v, want %v", got, tc.wantLookup)
			}
			if e.ETag != etagOf([]byte("actors#1")) || len(e.ETag) != 34 || e.ETag[0] != '"' {
				t.Errorf("ETag = %s", e.ETag)
			}
			if !slices.Equal(e.Tags, []string{"ThreatActor"}) {
				t.Errorf("Tags = %v", e.Tags)
			}
		})
	}
	if c.L1Bytes() <= 0 {
		t.Errorf("L1Bytes = %d, want > 0", c.L1Bytes())
	}
}

func TestDoBypass(t *testing.T) {
	ctx := context.Background()
	c := newTiered(t, Config{})
	f := &counter{body: "b"}
	for _, p := range []Policy{{}, {MaxAge: -time.Second, StaleIfError: time.Hour}} {
		e, st, err := c.Do(ctx, "k", p, f.fill)
		if err != nil || st != Bypass || len(e.Body) == 0 || e.ETag == "" {
			t.Fatalf("Do(%+v) = %q, %v, %v; want a body, BYPASS", p, e.Body, st, err)
		}
	}
	if got := f.calls.Load(); got != 2 {
		t.Errorf("fills = %d, want 2 (never cached)", got)
	}
	if _, _, ok := c.Get(ctx, "k"); ok {
		t.Error("Get found a bypassed entry")
	}
}

func TestDoErrorsAreNotCached(t *testing.T) {
	ctx := context.Background()
	c := newTiered(t, Config{})
	boom := errors.New("db down")
	f := &counter{body: "v", err: boom}
	if _, st, err := c.Do(ctx, "k", minute, f.fill); !errors.Is(err, boom) || st != Miss {
		t.Fatalf("Do = %v, %v; want %v, MISS", st, err, boom)
	}
	f.err = nil
	e, st, err := c.Do(ctx, "k", minute, f.fill)
	if err != nil || st != Miss || string(e.Body) != "v#2" {
		t.Fatalf("Do after error = %q, %v, %v; want v#2, MISS (the error was not cached)", e.Body, st, err)
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	c := newTiered(t, Config{Now: clock.Now})
	p := Policy{MaxAge: 10 * time.Second, StaleWhileRevalidate: 20 * time.Second}
	f := &counter{body: "v"}
	if _, st, err := c.Do(ctx, "k", p, f.fill); err != nil || st != Miss {
		t.Fatalf("first Do = %v, %v", st, err)
	}
	for _, tc := range []struct {
		name    string
		advance time.Duration // from the previous case
		want    Status
		found   bool
	}{
		{"fresh", 5 * time.Second, Hit, true},
		{"stale while revalidate", 10 * time.Second, Stale, true},
		{"expired", 16 * time.Second, Miss, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock.Advance(tc.advance)
			_, st, ok := c.Get(ctx, "k")
			if st != tc.want || ok != tc.found {
				t.Fatalf("Get = %v, %v; want %v, %v", st, ok, tc.want, tc.found)
			}
		})
	}
	e, st, err := c.Do(ctx, "k", p, f.fill)
	if err != nil || st != Miss || string(e.Body) != "v#2" {
		t.Fatalf("Do after expiry = %q, %v, %v; want v#2, MISS", e.Body, st, err)
	}
}

func TestStaleWhileRevalidateRefreshesOnce(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	c := newTiered(t, Config{Now: clock.Now})
	p := Policy{MaxAge: 10 * time.Second, StaleWhileRevalidate: time.Minute}

	var fills atomic.Int32
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	var refreshCtxErr error
	var refreshScope any
	fill := func(ctx context.Context) (Entry, error) {
		if fills.Add(1) == 1 {
			return Entry{Body: []byte("old")}, nil
		}
		started <- struct{}{}
		<-release
		refreshCtxErr, refreshScope = ctx.Err(), ctx.Value(scopeKey{})
		return Entry{Body: []byte("new")}, nil
	}
	if _, _, err := c.Do(ctx, "k", p, fill); err != nil {
		t.Fatal(err)
	}
	clock.Advance(11 * time.Second)

	callerCtx, cancel := context.WithCancel(context.WithValue(ctx, scopeKey{}, "viewer"))
	for i := range 20 {
		e, st, err := c.Do(callerCtx, "k", p, fill)
		if err != nil || st != Stale || string(e.Body) != "old" {
			t.Fatalf("Do #%d while stale = %q, %v, %v; want old, STALE", i, e.Body, st, err)
		}
		if i == 0 {
			<-started // the refresh is running; every later Do must not start another
		}
	}
	cancel() // the refresh does not belong to the caller
	close(release)
	c.refreshWG.Wait()

	if got := fills.Load(); got != 2 {
		t.Fatalf("fills = %d, want 2 (one initial, exactly one refresh)", got)
	}
	if refreshCtxErr != nil {
		t.Errorf("refresh fill saw ctx error %v", refreshCtxErr)
	}
	if refreshScope != "viewer" {
		t.Errorf("refresh fill ctx value = %v, want the triggering caller's", refreshScope)
	}
	e, st, err := c.Do(ctx, "k", p, fill)
	if err != nil || st != Hit || string(e.Body) != "new" {
		t.Fatalf("Do after refresh = %q, %v, %v; want new, HIT", e.Body, st, err)
	}
}

func TestStaleIfError(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	c := newTiered(t, Config{Now: clock.Now})
	p := Policy{MaxAge: 10 * time.Second, StaleIfError: time.Minute}
	boom := errors.New("db down")
	f := &counter{body: "v", tags: []string{"DINAAgent"}}
	if _, _, err := c.Do(ctx, "k", p, f.fill); err != nil {
		t.Fatal(err)
	}
	f.err = boom

	for _, tc := range []struct {
		name       string
		advance    time.Duration
		invalidate bool
		wantStatus Status
		wantErr    error
	}{
		{"within stale-if-error serves stale", 20 * time.Second, false, Stale, nil},
		{"invalidated is never served", 0, true, Miss, boom},
		{"past stale-if-error fails", 0, false, Miss, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.invalidate {
				if err := c.Invalidate(ctx, "DINAAgent"); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(tc.advance)
			e, st, err := c.Do(ctx, "k", p, f.fill)
			if st != tc.wantStatus || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Do = %q, %v, %v; want %v, %v", e.Body, st, err, tc.wantStatus, tc.wantErr)
			}
			if tc.wantErr == nil && string(e.Body) != "v#1" {
				t.Errorf("body = %q, want the stale v#1", e.Body)
			}
		})
	}

	// Past the window, without invalidation.
	f.err = nil
	if _, _, err := c.Do(ctx, "k2", p, f.fill); err != nil {
		t.Fatal(err)
	}
	f.err = boom
	clock.Advance(p.MaxAge + p.StaleIfError)
	if _, st, err := c.Do(ctx, "k2", p, f.fill); !errors.Is(err, boom) || st != Miss {
		t.Fatalf("Do past stale-if-error = %v, %v; want MISS, %v", st, err, boom)
	}
}

func TestSingleflightColdKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const callers = 200
		var shared atomic.Int32
		c, err := New(Config{Logger: slog.New(slog.DiscardHandler), OnShared: func() { shared.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		var fills atomic.Int32
		release := make(chan struct{})
		fill := func(context.Context) (Entry, error) {
			fills.Add(1)
			<-release
			return Entry{Body: []byte("answer")}, nil
		}
		type result struct {
			body string
			st   Status
			err  error
		}
		results := make([]result, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				e, st, err := c.Do(context.Background(), "cold", minute, fill)
				results[i] = result{string(e.Body), st, err}
			})
		}
		synctest.Wait() // every caller is parked
		if got := c.flights.waiting("cold"); got != callers {
			t.Fatalf("callers waiting on the flight = %d, want %d", got, callers)
		}
		if got := fills.Load(); got != 1 {
			t.Fatalf("fills while waiting = %d, want 1", got)
		}
		close(release)
		wg.Wait()

		if got := fills.Load(); got != 1 {
			t.Errorf("fills = %d, want 1", got)
		}
		if got := shared.Load(); got != callers-1 {
			t.Errorf("OnShared calls = %d, want %d", got, callers-1)
		}
		for i, r := range results {
			if r != (result{"answer", Miss, nil}) {
				t.Fatalf("caller %d got %+v", i, r)
			}
		}
		if _, st, _ := c.Do(context.Background(), "cold", minute, fill); st != Hit {
			t.Errorf("Do after the flight = %v, want HIT", st)
		}
	})
}

func TestCallerCancelDoesNotCancelSharedFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{Logger: slog.New(slog.DiscardHandler), FillTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		release := make(chan struct{})
		var fillCtx context.Context
		fill := func(ctx context.Context) (Entry, error) {
			fillCtx = ctx
			<-release
			return Entry{Body: []byte("v")}, ctx.Err()
		}
		leaderCtx, cancelLeader := context.WithCancel(context.Background())
		leaderErr := make(chan error, 1)
		go func() {
			_, _, err := c.Do(leaderCtx, "k", minute, fill)
			leaderErr <- err
		}()
		synctest.Wait()
		other := make(chan string, 1)
		go func() {
			e, _, err := c.Do(context.Background(), "k", minute, fill)
			if err != nil {
				other <- err.Error()
				return
			}
			other <- string(e.Body)
		}()
		synctest.Wait()
		if got := c.flights.waiting("k"); got != 2 {
			t.Fatalf("waiting = %d, want 2", got)
		}

		cancelLeader()
		if err := <-leaderErr; !errors.Is(err, context.Canceled) {
			t.Fatalf("leader Do = %v, want context.Canceled at once", err)
		}
		if err := fillCtx.Err(); err != nil {
			t.Fatalf("shared fill context ended with the leader: %v", err)
		}
		close(release)
		if got := <-other; got != "v" {
			t.Fatalf("other caller got %q, want v", got)
		}
		if _, st, _ := c.Get(context.Background(), "k"); st != Hit {
			t.Errorf("Get after the flight = %v, want HIT (the abandoned fill was stored)", st)
		}
	})
}

func TestFillTimeoutBoundsSharedFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{Logger: slog.New(slog.DiscardHandler), FillTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fill := func(ctx context.Context) (Entry, error) {
			<-ctx.Done()
			return Entry{}, ctx.Err()
		}
		start := time.Now()
		_, _, err = c.Do(context.Background(), "k", minute, fill)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("Do = %v after %v; want DeadlineExceeded after 1s", err, time.Since(start))
		}
	})
}

func TestCloseCancelsFills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{Logger: slog.New(slog.DiscardHandler), FillTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		fillErr := make(chan error, 1)
		fill := func(ctx context.Context) (Entry, error) {
			<-ctx.Done()
			fillErr <- ctx.Err()
			return Entry{}, ctx.Err()
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _, _, _ = c.Do(ctx, "k", minute, fill) }()
		synctest.Wait()
		cancel() // the caller leaves; the fill goes on
		synctest.Wait()
		if len(fillErr) != 0 {
			t.Fatal("the fill ended with its caller")
		}
		start := time.Now()
		_ = c.Close()
		if err := <-fillErr; !errors.Is(err, context.Canceled) || time.Since(start) != 0 {
			t.Fatalf("fill ended with %v after %v; want Canceled by Close at once", err, time.Since(start))
		}
		// After Close, Do still answers, in the caller's goroutine.
		f := &counter{body: "late"}
		if e, _, err := c.Do(context.Background(), "k2", minute, f.fill); err != nil || string(e.Body) != "late#1" {
			t.Fatalf("Do after Close = %q, %v", e.Body, err)
		}
	})
}

func TestFillPanicReachesEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		release := make(chan struct{})
		fill := func(context.Context) (Entry, error) {
			<-release
			panic("resolver bug")
		}
		const callers = 5
		errs := make(chan error, callers)
		for range callers {
			go func() {
				_, _, err := c.Do(context.Background(), "k", minute, fill)
				errs <- err
			}()
		}
		synctest.Wait()
		close(release)
		for range callers {
			if err := <-errs; !errors.Is(err, ErrFillPanic) {
				t.Fatalf("Do = %v, want ErrFillPanic", err)
			}
		}
		// The key is usable again.
		f := &counter{body: "ok"}
		if e, st, err := c.Do(context.Background(), "k", minute, f.fill); err != nil || st != Miss || string(e.Body) != "ok#1" {
			t.Fatalf("Do after panic = %q, %v, %v", e.Body, st, err)
		}
		// Bypass recovers too.
		if _, st, err := c.Do(context.Background(), "k", Policy{}, fill); !errors.Is(err, ErrFillPanic) || st != Bypass {
			t.Fatalf("bypass Do = %v, %v; want ErrFillPanic", st, err)
		}
	})
}

func TestInvalidateLocal(t *testing.T) {
	ctx := context.Background()
	c := newTiered(t, Config{})
	actors := &counter{body: "actors", tags: []string{"ThreatActor", "Country"}}
	agents := &counter{body: "agents", tags: []string{"DINAAgent"}}
	for _, f := range []struct {
		key string
		c   *counter
	}{{"actors", actors}, {"agents", agents}} {
		if _, _, err := c.Do(ctx, f.key, minute, f.c.fill); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Invalidate(ctx, "Country"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.Get(ctx, "actors"); ok {
		t.Error("invalidated entry still found")
	}
	if _, st, ok := c.Get(ctx, "agents"); !ok || st != Hit {
		t.Errorf("unrelated entry = %v, %v; want HIT", st, ok)
	}
	e, st, err := c.Do(ctx, "actors", minute, actors.fill)
	if err != nil || st != Miss || string(e.Body) != "actors#2" {
		t.Fatalf("Do after invalidation = %q, %v, %v; want actors#2, MISS", e.Body, st, err)
	}
	if _, st, _ := c.Do(ctx, "actors", minute, actors.fill); st != Hit {
		t.Errorf("Do after refill = %v, want HIT", st)
	}
	if err := c.Invalidate(ctx, "", "DINAAgent"); !errors.Is(err, ErrInvalidTag) {
		t.Errorf("Invalidate with an empty tag = %v, want ErrInvalidTag", err)
	}
	if _, _, ok := c.Get(ctx, "agents"); ok {
		t.Error("the valid tag next to an empty one was not invalidated")
	}
}

func TestInvalidateDuringFillIsNotStored(t *testing.T) {
	ctx := context.Background()
	c := newTiered(t, Config{})
	if _, _, err := c.Do(ctx, "other", minute, (&counter{tags: []string{"ThreatActor"}}).fill); err != nil {
		t.Fatal(err)
	}
	fill := func(ctx context.Context) (Entry, error) {
		// The read happened; a write and its invalidation land before fill returns.
		if err := c.Invalidate(ctx, "ThreatActor"); err != nil {
			return Entry{}, err
		}
		return Entry{Body: []byte("maybe old"), Tags: []string{"ThreatActor"}}, nil
	}
	e, st, err := c.Do(ctx, "k", minute, fill)
	if err != nil || st != Miss || string(e.Body) != "maybe old" {
		t.Fatalf("Do = %q, %v, %v", e.Body, st, err)
	}
	if _, _, ok := c.Get(ctx, "k"); ok {
		t.Error("a fill that overlapped an invalidation of its tag was stored")
	}
}

func TestL1IsBestEffort(t *testing.T) {
	ctx := context.Background()
	c := newTiered(t, Config{L1MaxBytes: 1})
	for round := range 3 {
		for i := range 50 {
			key := fmt.Sprint("k", i)
			want := fmt.Sprint("body of ", key)
			e, _, err := c.Do(ctx, key, minute, func(context.Context) (Entry, error) {
				return Entry{Body: []byte(want)}, nil
			})
			if err != nil || string(e.Body) != want {
				t.Fatalf("round %d, %s: Do = %q, %v; want %q", round, key, e.Body, err, want)
			}
		}
	}
	if got := c.L1Bytes(); got > 1 {
		t.Errorf("L1Bytes = %d, want <= 1", got)
	}
}

func TestCodec(t *testing.T) {
	it := &item{
		entry: Entry{
			Body:     []byte(`{"data":{"actors":[]}}`),
			Tags:     []string{"ThreatActor", "DINAAgent"},
			StoredAt: time.Unix(0, 1767322245123456789),
			ETag:     `"0123456789abcdef0123456789abcdef"`,
		},
		policy:   Policy{MaxAge: time.Minute, StaleWhileRevalidate: time.Second, StaleIfError: time.Hour},
		epoch:    0xdeadbeef,
		versions: []uint64{7, 1 << 40},
	}
	b := encodeItem(it)
	got, err := decodeItem(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.entry.Body) != string(it.entry.Body) || !slices.Equal(got.entry.Tags, it.entry.Tags) ||
		!got.entry.StoredAt.Equal(it.entry.StoredAt) || got.entry.ETag != it.entry.ETag ||
		!reflect.DeepEqual(got.policy, it.policy) || got.epoch != it.epoch || !slices.Equal(got.versions, it.versions) {
		t.Fatalf("round trip = %+v, want %+v", got, it)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other format", append([]byte{2}, b[1:]...)},
		{"truncated header", b[:10]},
		{"huge tag count", []byte{formatV1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeItem(tc.b); !errors.Is(err, errCorrupt) {
				t.Fatalf("decode = %v, want errCorrupt", err)
			}
		})
	}
}

func BenchmarkDoHitL1(b *testing.B) {
	ctx := context.Background()
	c := newTiered(b, Config{})
	fill := (&counter{body: `{"data":{"threatActors":[]}}`, tags: []string{"ThreatActor", "Country"}}).fill
	if _, _, err := c.Do(ctx, "warm", minute, fill); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, st, _ := c.Do(ctx, "warm", minute, fill); st != Hit {
				b.Fatalf("status %v", st)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, st, _ := c.Do(ctx, "warm", minute, fill); st != Hit {
					b.Errorf("status %v", st)
					return
				}
			}
		})
	})
}
