package security

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/neko-defense/neko/internal/logtest"
	"github.com/neko-defense/neko/internal/redistest"
	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/store"
)

func TestLoginThrottlePerUser(t *testing.T) {
	clock := newFakeClock()
	a := newUserAuth(t, newFakeUsers(t, store.User{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), Role: "viewer"}), clock)
	compares := countCompares(a)
	// Each failure from a different address: only the per-user bucket can stop them.
	login := func(i int, pw string) error {
		ctx := WithClientAddr(context.Background(), fmt.Sprintf("203.0.113.%d", i))
		_, _, err := a.Login(ctx, "alice", pw, "")
		return err
	}
	for i := range 5 {
		if err := login(i, "wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: err = %v", i+1, err)
		}
	}
	before := compares.Load()
	if err := login(6, "wrong"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("6th failure: err = %v, want ErrLoginThrottled", err)
	}
	// Even the right password is refused now, and no bcrypt work is done while throttled.
	if err := login(7, "alice-pw"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("right password while throttled: err = %v", err)
	}
	if got := compares.Load() - before; got != 0 {
		t.Fatalf("bcrypt comparisons while throttled = %d, want 0", got)
	}
	// The bucket refills at 5 per minute: one attempt after 12 s.
	clock.Advance(12 * time.Second)
	if err := login(8, "alice-pw"); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	// The success refunded its token, so another attempt is possible at once.
	if err := login(9, "wrong"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("after success: err = %v", err)
	}
	if err := login(10, "wrong"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("bucket empty again: err = %v", err)
	}
	// Username case does not dodge the limit.
	ctx := WithClientAddr(context.Background(), "203.0.113.99")
	if _, _, err := a.Login(ctx, "ALICE", "x", ""); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("ALICE: err = %v", err)
	}
}

func TestLoginThrottleSuccessDoesNotConsume(t *testing.T) {
	a := newUserAuth(t, newFakeUsers(t, store.User{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), Role: "viewer"}), newFakeClock())
	ctx := WithClientAddr(context.Background(), "203.0.113.1")
	for i := range 30 {
		if _, _, err := a.Login(ctx, "alice", "alice-pw", ""); err != nil {
			t.Fatalf("login %d: %v", i+1, err)
		}
	}
}

func TestLoginThrottlePerAddress(t *testing.T) {
	a := newUserAuth(t, newFakeUsers(t), newFakeClock())
	compares := countCompares(a)
	attacker := WithClientAddr(context.Background(), "198.51.100.66")
	for i := range 20 {
		if _, _, err := a.Login(attacker, fmt.Sprintf("user-%d", i), "guess", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: err = %v", i+1, err)
		}
	}
	before := compares.Load()
	if _, _, err := a.Login(attacker, "fresh-user", "guess", ""); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("21st failure from one address: err = %v, want ErrLoginThrottled", err)
	}
	if compares.Load() != before {
		t.Fatal("bcrypt ran for a throttled address")
	}
	// Another address, and the same username from it, are unaffected.
	other := WithClientAddr(context.Background(), "198.51.100.67")
	if _, _, err := a.Login(other, "fresh-user", "guess", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("other address: err = %v", err)
	}
}

// TestLoginThrottleConcurrent checks that the token is taken before the bcrypt work: a burst of
// parallel guesses cannot all slip past a check that would only count them afterwards.
func TestLoginThrottleConcurrent(t *testing.T) {
	a := newUserAuth(t, newFakeUsers(t, store.User{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), Role: "viewer"}), newFakeClock())
	compares := countCompares(a)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[error]int{}
	for range 50 {
		wg.Go(func() {
			_, _, err := a.Login(context.Background(), "alice", "wrong", "")
			if errors.Is(err, ErrLoginThrottled) {
				err = ErrLoginThrottled // each carries its own wait: count the kind
			}
			mu.Lock()
			counts[err]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[ErrInvalidCredentials] != 5 || counts[ErrLoginThrottled] != 45 || compares.Load() != 5 {
		t.Fatalf("results %v, %d comparisons; want 5 checked, 45 throttled", counts, compares.Load())
	}
}

func TestLoginThrottleRefundsOwnErrors(t *testing.T) {
	users := newFakeUsers(t)
	users.err = errors.New("db down")
	a := newUserAuth(t, users, newFakeClock())
	for i := range 10 {
		if _, _, err := a.Login(context.Background(), "alice", "pw", ""); err == nil || errors.Is(err, ErrLoginThrottled) {
			t.Fatalf("attempt %d: err = %v; a database outage must not throttle users", i+1, err)
		}
	}
}

func TestLoginThrottleDisabled(t *testing.T) {
	a := newUserAuth(t, newFakeUsers(t), newFakeClock(), func(c *AuthConfig) { c.Throttle.Disabled = true })
	for i := range 10 {
		if _, _, err := a.Login(context.Background(), "x", "y", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
}

func TestThrottleConfigValidates(t *testing.T) {
	_, err := NewAuthenticator(AuthConfig{Secret: testSecret, AdminUsername: "a", AdminPassword: "b", Throttle: ThrottleConfig{PerUser: -1}})
	if err == nil {
		t.Fatal("negative PerUser accepted")
	}
}

func TestBucketTableBounded(t *testing.T) {
	now := time.Unix(0, 0)
	tab := newBucketTable(5, time.Minute, 3)
	for _, k := range []string{"a", "b", "c"} {
		tab.get(k).ReserveN(now, 5) // empty the bucket
	}
	tab.get("a") // a becomes most recently used; b is now the oldest
	tab.get("d")
	if tab.len() != 3 {
		t.Fatalf("len = %d, want 3", tab.len())
	}
	if _, ok := tab.byKey["b"]; ok {
		t.Fatal("least recently used key b not evicted")
	}
	if got := tab.get("a").TokensAt(now); got != 0 {
		t.Fatalf("a kept %v tokens, want its state (0)", got)
	}
	if got := tab.get("a").TokensAt(now.Add(30 * time.Second)); got != 2.5 {
		t.Fatalf("refill after 30s = %v, want 2.5", got)
	}
	if got := tab.get("a").TokensAt(now.Add(time.Hour)); got != 5 {
		t.Fatalf("refill is capped at the burst: %v", got)
	}
}

func TestThrottleKeyLength(t *testing.T) {
	long := string(make([]byte, 10_000))
	if got := len(throttleKey(long)); got != maxThrottleKeyLen {
		t.Fatalf("key length = %d", got)
	}
}

// sharedBudget is a resilience.StrictLimiter over rdb: the fleet's failure counts, as cmd/neko
// wires them, but with a generous timeout: on a loaded machine (-race, dozens of logins at once)
// a call may wait for a pooled connection past the default 250 ms, and its attempt would rightly
// be decided by its instance alone, which is not what these tests are about. Tests of a slow
// Redis set their own.
func sharedBudget(t *testing.T, rdb redis.UniversalClient, mutate ...func(*resilience.StrictLimitConfig)) func(*AuthConfig) {
	t.Helper()
	cfg := resilience.StrictLimitConfig{Redis: rdb, Timeout: time.Minute}
	for _, m := range mutate {
		m(&cfg)
	}
	l, err := resilience.NewStrictLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *AuthConfig) { c.Throttle.Shared = l }
}

// fleet is n Authenticators sharing users, a clock and (through opts) one Redis: n instances.
func fleet(t *testing.T, n int, users UserStore, clock *fakeClock, opts ...func(*AuthConfig)) []*Authenticator {
	t.Helper()
	out := make([]*Authenticator, n)
	for i := range out {
		out[i] = newUserAuth(t, users, clock, opts...)
	}
	return out
}

// Failures on one instance count on every other: five wrong guesses on A throttle the username
// on B, for as long as the fleet's bucket takes to refill a token.
func TestLoginThrottleSharedAcrossInstances(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	clock := newFakeClock()
	users := newFakeUsers(t, store.User{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), Role: "viewer"})
	inst := fleet(t, 2, users, clock, sharedBudget(t, rdb))
	a, b := inst[0], inst[1]
	login := func(inst *Authenticator, i int, pw string) error {
		ctx := WithClientAddr(context.Background(), fmt.Sprintf("203.0.113.%d", i))
		_, _, err := inst.Login(ctx, "alice", pw, "")
		return err
	}
	if err := login(b, 0, "alice-pw"); err != nil { // successes cost nothing, here or shared
		t.Fatal(err)
	}
	for i := range 5 {
		if err := login(a, i+1, "wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d on A: %v", i+1, err)
		}
	}
	err := login(b, 7, "alice-pw")
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 12*time.Second {
		t.Fatalf("B after five failures on A: err = %v, want throttled for 12 s", err)
	}
	clock.Advance(12*time.Second - time.Millisecond)
	if err := login(b, 8, "alice-pw"); !errors.As(err, &te) || te.RetryAfter != time.Millisecond {
		t.Fatalf("B 1 ms before the refill: err = %v, want throttled for 1 ms", err)
	}
	clock.Advance(time.Millisecond)
	if err := login(b, 9, "alice-pw"); err != nil {
		t.Fatalf("B after the refill: %v", err)
	}
	// B's success gave the token back to the fleet: A may guess once more, and only once.
	if err := login(a, 10, "wrong"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("A after B's success: %v", err)
	}
	if err := login(b, 11, "wrong"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("B after A's failure: %v, want throttled", err)
	}
}

// TestLoginThrottleSharedParallel is QA's finding: a burst of parallel wrong logins spread over
// instances sharing one Redis. Each instance's own budget would let all of them through; the
// fleet's evaluates exactly one budget, and no bcrypt work is done for the rest.
func TestLoginThrottleSharedParallel(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	for _, tc := range []struct {
		name      string
		instances int
		attempts  int
		attempt   func(i int) (username, addr string)
		want      int // evaluated: the budget
	}{
		{"one username from many addresses, three instances", 3, 15,
			func(i int) (string, string) { return "alice", fmt.Sprintf("203.0.113.%d", i) }, 5},
		{"one username, three instances, thrice the burst each", 3, 45,
			func(i int) (string, string) { return "bob", fmt.Sprintf("198.51.100.%d", i) }, 5},
		{"one username, two instances", 2, 30,
			func(i int) (string, string) { return "carol", fmt.Sprintf("192.0.2.%d", i) }, 5},
		{"many usernames from one address, three instances", 3, 75,
			func(i int) (string, string) { return fmt.Sprintf("user-%d", i), "198.51.100.200" }, 20},
		{"many usernames from one IPv6 /64, three instances", 3, 75,
			func(i int) (string, string) {
				return fmt.Sprintf("v6-user-%d", i), fmt.Sprintf("2001:db8:7:7::%x", i+1)
			}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			logs := &logtest.Counter{} // a warning: some attempt was decided without Redis
			inst := fleet(t, tc.instances, newFakeUsers(t), clock, sharedBudget(t, rdb),
				func(c *AuthConfig) { c.Throttle.Logger = slog.New(logs) })
			var compares []*atomic.Int64
			for _, a := range inst {
				compares = append(compares, countCompares(a))
			}
			var wg sync.WaitGroup
			var evaluated, throttled, other atomic.Int64
			for i := range tc.attempts {
				a := inst[i%len(inst)]
				username, addr := tc.attempt(i)
				wg.Go(func() {
					_, _, err := a.Login(WithClientAddr(context.Background(), addr), username, "guess", "")
					switch {
					case errors.Is(err, ErrInvalidCredentials):
						evaluated.Add(1)
					case errors.Is(err, ErrLoginThrottled):
						throttled.Add(1)
					default:
						other.Add(1)
						t.Errorf("attempt %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			if w := logs.Count(slog.LevelWarn); w > 0 {
				t.Fatalf("%d instances fell back to their own counts: Redis did not answer", w)
			}
			var bcrypts int64
			for _, c := range compares {
				bcrypts += c.Load()
			}
			if evaluated.Load() != int64(tc.want) || throttled.Load() != int64(tc.attempts-tc.want) || bcrypts != int64(tc.want) {
				t.Fatalf("evaluated %d, throttled %d, other %d, bcrypt comparisons %d; want %d evaluated, %d throttled",
					evaluated.Load(), throttled.Load(), other.Load(), bcrypts, tc.want, tc.attempts-tc.want)
			}
		})
	}
}

// Successes and our own errors give the fleet's tokens back exactly: none is left taken.
func TestLoginThrottleSharedRefunds(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	clock := newFakeClock()
	users := newFakeUsers(t, store.User{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), Role: "viewer"})
	inst := fleet(t, 3, users, clock, sharedBudget(t, rdb))
	ctx := WithClientAddr(context.Background(), "203.0.113.1")
	for i := range 30 {
		if _, _, err := inst[i%3].Login(ctx, "alice", "alice-pw", ""); err != nil {
			t.Fatalf("login %d: %v", i+1, err)
		}
	}
	users.mu.Lock()
	users.err = errors.New("db down")
	users.mu.Unlock()
	for i := range 30 {
		if _, _, err := inst[i%3].Login(ctx, "alice", "pw", ""); err == nil || errors.Is(err, ErrLoginThrottled) {
			t.Fatalf("attempt %d with the database down: err = %v; an outage must not throttle users", i+1, err)
		}
	}
	if keys := rdb.Keys(context.Background(), "*").Val(); len(keys) != 0 {
		t.Fatalf("Redis holds %v after only refunded attempts, want every bucket full (no keys)", keys)
	}
	users.mu.Lock()
	users.err = nil
	users.mu.Unlock()
	for i := range 5 { // the whole budget is still there
		if _, _, err := inst[i%3].Login(ctx, "alice", "wrong", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if _, _, err := inst[2].Login(ctx, "alice", "wrong", ""); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("6th failure: %v, want throttled", err)
	}
}

// When Redis is down or hangs, each instance throttles alone with its own buckets: the login is
// never failed for it, and the client learns nothing of Redis.
func TestLoginThrottleSharedUnavailable(t *testing.T) {
	down := redistest.Start(t)
	down.Stop()
	for _, tc := range []struct {
		name string
		rdb  *redis.Client
	}{
		{"down", redis.NewClient(&redis.Options{Addr: down.Addr(), MaxRetries: -1, DialerRetries: 1})},
		{"hangs", redis.NewClient(&redis.Options{Addr: redistest.Unresponsive(t), MaxRetries: -1, ContextTimeoutEnabled: true})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { _ = tc.rdb.Close() })
			logs := &logtest.Counter{}
			clock := newFakeClock()
			users := newFakeUsers(t, store.User{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), Role: "viewer"})
			inst := fleet(t, 2, users, clock,
				sharedBudget(t, tc.rdb, func(c *resilience.StrictLimitConfig) { c.Timeout = 50 * time.Millisecond }),
				func(c *AuthConfig) { c.Throttle.Logger = slog.New(logs) })
			ctx := WithClientAddr(context.Background(), "203.0.113.5")
			if _, _, err := inst[0].Login(ctx, "alice", "alice-pw", ""); err != nil {
				t.Fatalf("right password with Redis %s: %v", tc.name, err)
			}
			for _, a := range inst { // each instance alone: N instances, N budgets
				for i := range 5 {
					_, _, err := a.Login(ctx, "alice", "wrong", "")
					if err != ErrInvalidCredentials { // the sentinel itself: nothing of Redis wrapped in
						t.Fatalf("failure %d: err = %v, want exactly ErrInvalidCredentials", i+1, err)
					}
				}
				_, _, err := a.Login(ctx, "alice", "wrong", "")
				var te *ThrottledError
				if !errors.As(err, &te) || te.RetryAfter != 12*time.Second {
					t.Fatalf("6th failure: err = %v, want throttled locally for 12 s", err)
				}
			}
			if w := logs.Count(slog.LevelWarn); w != len(inst) {
				t.Fatalf("%d warnings for one outage, want one per instance (%d)", w, len(inst))
			}
		})
	}
}

// After an outage the instances share again; what each counted alone during it still holds.
func TestLoginThrottleSharedRecovers(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: 1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	logs := &logtest.Counter{}
	clock := newFakeClock()
	users := newFakeUsers(t)
	inst := fleet(t, 2, users, clock, sharedBudget(t, rdb), func(c *AuthConfig) { c.Throttle.Logger = slog.New(logs) })
	from := func(i int) context.Context {
		return WithClientAddr(context.Background(), fmt.Sprintf("203.0.113.%d", i))
	}
	srv.Stop()
	for i := range 5 {
		if _, _, err := inst[0].Login(from(i), "alice", "wrong", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d during the outage: %v", i+1, err)
		}
	}
	srv.Restart()
	// Redis came back empty, but A remembers its five.
	if _, _, err := inst[0].Login(from(10), "alice", "wrong", ""); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("A after the outage: %v, want throttled", err)
	}
	// B had seen none: the fleet's budget (fresh in the restarted Redis) decides, for A too.
	for i := range 5 {
		if _, _, err := inst[1].Login(from(20+i), "alice", "wrong", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("B failure %d after the outage: %v", i+1, err)
		}
	}
	// 12 s on, A's own bucket and the fleet's have a token each; B spends the fleet's.
	clock.Advance(12 * time.Second)
	if _, _, err := inst[1].Login(from(30), "alice", "wrong", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("B after the refill: %v", err)
	}
	var te *ThrottledError
	if _, _, err := inst[0].Login(from(31), "alice", "wrong", ""); !errors.As(err, &te) || te.RetryAfter != 12*time.Second {
		t.Fatalf("A with a token of its own but none in the fleet: %v, want throttled for 12 s", err)
	}
	if logs.Count(slog.LevelWarn) != 1 || logs.Count(slog.LevelInfo) != 1 {
		t.Fatalf("logs %v, want one warning (outage) and one note (recovered)", logs.Snapshot())
	}
}

// TestLoginThrottlePerIPv6Prefix checks that an IPv6 client is throttled as its /64: rotating the
// address inside it gives no fresh budget of guesses, locally or in the fleet's shared counts,
// while another /64 and the audit record's exact address are unaffected.
func TestLoginThrottlePerIPv6Prefix(t *testing.T) {
	for _, c := range []struct {
		name   string
		shared bool
	}{{"local", false}, {"shared across instances", true}} {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			users := newFakeUsers(t)
			var opts []func(*AuthConfig)
			if c.shared {
				opts = append(opts, sharedBudget(t, redistest.Start(t).Client(t)))
			}
			a := newUserAuth(t, users, clock, opts...)
			b := a
			if c.shared { // the second half of the guesses lands on another instance
				b = newUserAuth(t, users, clock, opts...)
			}
			from := func(addr string) context.Context { return WithClientAddr(context.Background(), addr) }
			for i := range 20 { // each guess from a fresh address of the same /64, for a fresh user
				inst := a
				if i >= 10 {
					inst = b
				}
				addr := fmt.Sprintf("2001:db8:1:2::%x", i+1)
				if _, _, err := inst.Login(from(addr), fmt.Sprintf("user-%d", i), "guess", ""); !errors.Is(err, ErrInvalidCredentials) {
					t.Fatalf("failure %d from %s: err = %v", i+1, addr, err)
				}
			}
			if _, _, err := b.Login(from("2001:db8:1:2:dead:beef:0:1"), "fresh-user", "guess", ""); !errors.Is(err, ErrLoginThrottled) {
				t.Fatalf("21st failure from the same /64: err = %v, want ErrLoginThrottled", err)
			}
			if _, _, err := b.Login(from("2001:db8:1:3::1"), "fresh-user", "guess", ""); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("another /64: err = %v, want ErrInvalidCredentials", err)
			}
		})
	}
}

func TestLoginThrottleAddrKey(t *testing.T) {
	for _, c := range []struct{ name, addr, want string }{
		{"IPv4 unchanged", "198.51.100.66", "198.51.100.66"},
		{"IPv4-mapped is its IPv4 address", "::ffff:198.51.100.66", "198.51.100.66"},
		{"IPv6 is its /64", "2001:db8:1:2::66", "2001:db8:1:2::/64"},
		{"zone dropped", "fe80::1%eth0", "fe80::/64"},
		{"not an address is kept", "unix-socket", "unix-socket"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := addrKey(c.addr); got != c.want {
				t.Errorf("addrKey(%q) = %q, want %q", c.addr, got, c.want)
			}
		})
	}
}
