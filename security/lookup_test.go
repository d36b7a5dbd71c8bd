package security

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/neko-defense/neko/store"
)

// noLookups disables the store lookups of unknown keys.
func noLookups(c *KeyConfig) { c.Lookup.PerSecond = -1 }

// bogusSecret is a well-formed secret (43 base64url characters decoding to 32 bytes).
var bogusSecret = strings.Repeat("A", keySecretLen-1) + "E"

// bogusKey is a well-formed key with the id i that no store has.
func bogusKey(i int) string { return fmt.Sprintf("neko_%012x_%s", i, bogusSecret) }

// A key created on one instance works on another at once, before any reload or notification:
// one lookup, after which the key is in the index like any other.
func TestAPIKeyLookupAcceptsKeysOfAnotherInstance(t *testing.T) {
	ctx := t.Context()
	st, clock := &fakeKeys{}, newFakeClock()
	a, b := newTestKeys(t, st, clock), newTestKeys(t, st, clock) // no OnChange: b hears of nothing
	key, info, err := a.Create(ctx, "lobby tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	reads := st.readCount()
	want := Identity{Username: "apikey:lobby tv", Role: RoleViewer, Language: "en"}
	for range 10 {
		mustVerify(t, b, key, want)
	}
	if st.readCount() != reads {
		t.Fatal("b reloaded its index")
	}
	if n := st.lookupCount(); n != 1 {
		t.Fatalf("%d lookups, want 1", n)
	}
	// Rotated on a: the successor works on b at once too.
	newKey, _, err := a.Rotate(ctx, info.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, b, newKey, want)
	if n := st.lookupCount(); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
}

// A key found by a lookup is judged exactly as the index judges it: the instance that made the
// key (index) and another that never saw it (lookup) agree, on every state and at every time,
// rotation grace and revocation included.
func TestAPIKeyLookupJudgesAsTheIndex(t *testing.T) {
	create := func(t *testing.T, a *KeyManager) (string, APIKeyInfo) {
		t.Helper()
		key, info, err := a.Create(t.Context(), "tv", RoleAnalyst, "admin")
		if err != nil {
			t.Fatal(err)
		}
		return key, info
	}
	rotated := func(grace time.Duration) func(*testing.T, *KeyManager, *fakeClock) string {
		return func(t *testing.T, a *KeyManager, _ *fakeClock) string {
			key, info := create(t, a)
			if _, _, err := a.Rotate(t.Context(), info.ID, grace); err != nil {
				t.Fatal(err)
			}
			return key
		}
	}
	expiring := func(t *testing.T, a *KeyManager, clock *fakeClock) string {
		key, _, err := a.CreateExpiring(t.Context(), "tv", RoleAnalyst, "admin", clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	tests := []struct {
		name       string
		make       func(t *testing.T, a *KeyManager, clock *fakeClock) string
		after      time.Duration // clock advance before verifying
		wantOK     bool
		wantLapsed bool
	}{
		{"active", func(t *testing.T, a *KeyManager, _ *fakeClock) string { k, _ := create(t, a); return k }, 0, true, false},
		{"rotated, within grace", rotated(time.Hour), time.Hour - time.Second, true, false},
		{"rotated, grace over", rotated(time.Hour), time.Hour, false, true},
		{"rotated without grace", rotated(0), 0, false, true},
		{"revoked", func(t *testing.T, a *KeyManager, _ *fakeClock) string {
			k, info := create(t, a)
			if err := a.Revoke(t.Context(), info.ID); err != nil {
				t.Fatal(err)
			}
			return k
		}, 0, false, true},
		{"before expiry", expiring, time.Hour - time.Second, true, false},
		{"expired", expiring, time.Hour, false, true},
		{"wrong secret for a real id", func(t *testing.T, a *KeyManager, _ *fakeClock) string {
			k, _ := create(t, a)
			return k[:len(k)-keySecretLen] + bogusSecret
		}, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, clock := &fakeKeys{}, newFakeClock()
			a, b := newTestKeys(t, st, clock), newTestKeys(t, st, clock)
			key := tt.make(t, a, clock)
			clock.Advance(tt.after)
			_, errA := a.Verify(t.Context(), key)
			_, errB := b.Verify(t.Context(), key)
			if st.lookupCount() != 1 {
				t.Fatalf("%d lookups by b, want 1", st.lookupCount())
			}
			for name, err := range map[string]error{"index": errA, "lookup": errB} {
				if (err == nil) != tt.wantOK || errors.Is(err, ErrCredentialLapsed) != tt.wantLapsed {
					t.Errorf("%s: err = %v, want ok %v, lapsed %v", name, err, tt.wantOK, tt.wantLapsed)
				}
			}
		})
	}
}

// Random well-formed keys cost at most the lookup budget, malformed ones nothing; beyond the
// budget an unknown key is refused without a lookup, a real one included, until the budget
// refills.
func TestAPIKeyLookupBudget(t *testing.T) {
	st, clock := &fakeKeys{}, newFakeClock()
	b := newTestKeys(t, st, clock, func(c *KeyConfig) { c.Lookup = LookupConfig{PerSecond: 1, Burst: 3} })
	for i := range 100 {
		mustReject(t, b, bogusKey(i))
	}
	if n := st.lookupCount(); n != 3 {
		t.Fatalf("%d lookups for 100 random keys, want the burst of 3", n)
	}
	for _, k := range []string{"neko_", bogusKey(1) + "A", "neko_ABCDEFABCDEF_" + bogusSecret, "neko_abcdefabcdef_" + bogusSecret[1:] + "!"} {
		mustReject(t, b, k)
	}
	if n := st.lookupCount(); n != 3 {
		t.Fatalf("malformed keys were looked up: %d lookups", n)
	}
	a := newTestKeys(t, st, clock)
	key, _, err := a.Create(t.Context(), "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(t.Context(), key); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("a new key with the budget spent: %v", err)
	}
	if n := st.lookupCount(); n != 3 {
		t.Fatalf("%d lookups with the budget spent, want 3", n)
	}
	clock.Advance(time.Second)
	mustVerify(t, b, key, Identity{Username: "apikey:tv", Role: RoleViewer, Language: "en"})
	if n := st.lookupCount(); n != 4 {
		t.Fatalf("%d lookups after a second, want 4", n)
	}
}

// An id the store did not have is refused without another lookup for MissTTL, in bounded memory,
// unless the index learns of it.
func TestAPIKeyLookupRemembersMisses(t *testing.T) {
	st, clock := &fakeKeys{}, newFakeClock()
	b := newTestKeys(t, st, clock, func(c *KeyConfig) {
		c.Lookup = LookupConfig{PerSecond: 1000, Burst: 1000, MissTTL: time.Minute, MaxMisses: 8}
	})
	for range 50 {
		mustReject(t, b, bogusKey(1))
	}
	if n := st.lookupCount(); n != 1 {
		t.Fatalf("%d lookups of one missing key, want 1", n)
	}
	clock.Advance(time.Minute)
	mustReject(t, b, bogusKey(1))
	if n := st.lookupCount(); n != 2 {
		t.Fatalf("%d lookups after MissTTL, want 2", n)
	}
	// The index wins over a remembered miss.
	sum := sha256.Sum256(make([]byte, keySecretBytes))
	secret := strings.Repeat("A", keySecretLen)
	st.mu.Lock()
	st.keys = append(st.keys, store.APIKey{KeyID: fmt.Sprintf("%012x", 1), Hash: hex.EncodeToString(sum[:]), Name: "late", Role: "viewer"})
	st.mu.Unlock()
	key := fmt.Sprintf("neko_%012x_%s", 1, secret)
	mustReject(t, b, key) // remembered as missing: no lookup
	if err := b.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, b, key, Identity{Username: "apikey:late", Role: RoleViewer, Language: "en"})
	if n := st.lookupCount(); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
	for i := range 100 {
		mustReject(t, b, bogusKey(100+i))
	}
	if n := len(b.lookups.misses); n > 8 {
		t.Fatalf("%d misses remembered, want at most 8", n)
	}
}

// Concurrent requests with one new key share one lookup.
func TestAPIKeyLookupSharesOneFlight(t *testing.T) {
	release := make(chan struct{})
	st, clock := &fakeKeys{afterLookup: func(string) { <-release }}, newFakeClock()
	a, b := newTestKeys(t, st, clock), newTestKeys(t, st, clock)
	key, _, err := a.Create(t.Context(), "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	started := make(chan struct{}, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			started <- struct{}{}
			_, err := b.Verify(context.Background(), key)
			errs <- err
		})
	}
	for range n {
		<-started
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := st.lookupCount(); got != 1 {
		t.Fatalf("%d lookups for %d concurrent requests, want 1", got, n)
	}
}

// A revoked key is never accepted through a lookup: not when the store has the revocation, and
// not when the lookup read the key just before it was revoked and the revocation reached this
// instance (by notification or reload) while the lookup was under way. A revocation this
// instance was told of holds even against reads of the store that do not show it yet.
func TestAPIKeyLookupNeverAcceptsRevoked(t *testing.T) {
	tests := []struct {
		name string
		// during runs once, between the lookup's read and its use; nil: the key is revoked
		// before the lookup.
		during func(t *testing.T, a, b *KeyManager, id string)
	}{
		{"revoked before the lookup", nil},
		{"notification during the lookup", func(t *testing.T, a, b *KeyManager, id string) {
			if err := a.Revoke(t.Context(), id); err != nil {
				t.Error(err)
			}
			b.Forget(id)
		}},
		{"reload during the lookup", func(t *testing.T, a, b *KeyManager, id string) {
			if err := a.Revoke(t.Context(), id); err != nil {
				t.Error(err)
			}
			if err := b.Refresh(t.Context()); err != nil {
				t.Error(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, clock := &fakeKeys{}, newFakeClock()
			a, b := newTestKeys(t, st, clock), newTestKeys(t, st, clock)
			key, info, err := a.Create(t.Context(), "tv", RoleViewer, "admin")
			if err != nil {
				t.Fatal(err)
			}
			if tt.during == nil {
				if err := a.Revoke(t.Context(), info.ID); err != nil {
					t.Fatal(err)
				}
			} else {
				var once sync.Once
				st.mu.Lock()
				st.afterLookup = func(id string) { once.Do(func() { tt.during(t, a, b, id) }) }
				st.mu.Unlock()
			}
			for range 3 {
				if _, err := b.Verify(t.Context(), key); !errors.Is(err, ErrCredentialLapsed) {
					t.Fatalf("revoked key: %v, want ErrCredentialLapsed", err)
				}
			}
			if n := st.lookupCount(); n != 1 {
				t.Fatalf("%d lookups, want 1 (then the index knows it is revoked)", n)
			}
		})
	}

	// Told of a revocation before the store shows it: neither a lookup nor a reload that read
	// the key unrevoked brings it back, and once a reload reads the revocation nothing more is
	// held for it.
	st, clock := &fakeKeys{}, newFakeClock()
	a, b := newTestKeys(t, st, clock), newTestKeys(t, st, clock)
	key, info, err := a.Create(t.Context(), "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	b.Forget(info.ID)
	mustReject(t, b, key)
	if err := b.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	mustReject(t, b, key)
	if err := a.Revoke(t.Context(), info.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	mustReject(t, b, key)
	if n := len(b.revoked); n != 0 {
		t.Fatalf("%d revocations still held after the store confirmed them", n)
	}
}

// A failed lookup refuses the key and is not remembered: the next request looks again.
func TestAPIKeyLookupFailureIsNotRemembered(t *testing.T) {
	st, clock := &fakeKeys{}, newFakeClock()
	a, b := newTestKeys(t, st, clock), newTestKeys(t, st, clock)
	key, _, err := a.Create(t.Context(), "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.err = errors.New("db down")
	st.mu.Unlock()
	if _, err := b.Verify(t.Context(), key); !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrCredentialLapsed) {
		t.Fatalf("lookup failed: %v, want ErrInvalidToken only", err)
	}
	st.mu.Lock()
	st.err = nil
	st.mu.Unlock()
	mustVerify(t, b, key, Identity{Username: "apikey:tv", Role: RoleViewer, Language: "en"})
	if n := st.lookupCount(); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
}

func TestLookupConfigValidated(t *testing.T) {
	for name, c := range map[string]LookupConfig{
		"negative burst":      {Burst: -1},
		"negative timeout":    {Timeout: -time.Second},
		"negative miss ttl":   {MissTTL: -time.Second},
		"negative max misses": {MaxMisses: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewKeyManager(t.Context(), KeyConfig{Store: &fakeKeys{}, Lookup: c}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// The key the HTTP layer hands over aliases a buffer fasthttp reuses for the next request: a miss
// remembered under that string changed under its hash when the buffer did, so repeats of a junk
// key were looked up again and the misses outgrew their bound.
func TestAPIKeyLookupKeepsNoAliasOfTheRequest(t *testing.T) {
	st, clock := &fakeKeys{}, newFakeClock()
	b := newTestKeys(t, st, clock, func(c *KeyConfig) {
		c.Lookup = LookupConfig{PerSecond: 1000, Burst: 1000, MissTTL: time.Minute, MaxMisses: 4}
	})
	buf := []byte(bogusKey(1))
	verify := func() { _, _ = b.Verify(t.Context(), unsafe.String(&buf[0], len(buf))) }
	verify()
	copy(buf, bogusKey(2)) // the next request's bytes in the same buffer
	verify()
	copy(buf, bogusKey(1))
	verify()
	if n := st.lookupCount(); n != 2 {
		t.Fatalf("%d lookups of two missing keys, want 2", n)
	}
	for i := range 50 {
		copy(buf, bogusKey(100+i))
		verify()
	}
	if n := len(b.lookups.misses); n > 4 {
		t.Fatalf("%d misses remembered, want at most 4", n)
	}
}
