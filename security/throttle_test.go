package security

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

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

// With a shared limiter (one RateLimiter stands in for the fleet's, which reconciles through
// Redis), failures on one instance count on every other: five wrong guesses on A throttle the
// username on B, and B's time to retry follows the shared budget.
func TestLoginThrottleSharedAcrossInstances(t *testing.T) {
	clock := newFakeClock()
	shared, err := resilience.NewRateLimiter(resilience.RateLimitConfig{Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shared.Close() })
	users := newFakeUsers(t, store.User{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), Role: "viewer"})
	withShared := func(c *AuthConfig) { c.Throttle.Shared = shared }
	a := newUserAuth(t, users, clock, withShared)
	b := newUserAuth(t, users, clock, withShared)
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
	err = login(b, 7, "alice-pw")
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter < 11*time.Second || te.RetryAfter > 13*time.Second {
		t.Fatalf("B after five failures on A: err = %v, want throttled for about 12 s", err)
	}
	clock.Advance(12 * time.Second)
	if err := login(b, 8, "alice-pw"); err != nil {
		t.Fatalf("B after the refill: %v", err)
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
				shared, err := resilience.NewRateLimiter(resilience.RateLimitConfig{Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = shared.Close() })
				opts = append(opts, func(c *AuthConfig) { c.Throttle.Shared = shared })
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
