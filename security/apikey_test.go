package security

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neko-defense/neko/store"
)

// fakeKeys is an in-memory KeyStore that counts reads and lookups, so tests can prove what Verify
// reads.
type fakeKeys struct {
	mu        sync.Mutex // guards keys, reads, lookups, err, createErr, clearErr
	keys      []store.APIKey
	reads     int
	lookups   int // APIKey calls
	err       error
	createErr error         // when set, fails CreateAPIKey only
	clearErr  error         // when set, fails ClearAPIKeyGrace only
	read      chan struct{} // when set, signalled (non-blocking) after every APIKeys call
	// afterLookup, when set, runs in APIKey after the key was read and before it is returned:
	// whatever it changes happens between a lookup's read and its use.
	afterLookup func(id string)
}

func (f *fakeKeys) APIKey(_ context.Context, id string) (store.APIKey, error) {
	f.mu.Lock()
	f.lookups++
	k, err := store.APIKey{}, f.err
	if err == nil {
		err = store.ErrNotFound
		for _, x := range f.keys {
			if x.KeyID == id {
				k, err = x, nil
			}
		}
	}
	hook := f.afterLookup
	f.mu.Unlock()
	if hook != nil {
		hook(id)
	}
	return k, err
}

func (f *fakeKeys) lookupCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups
}

func (f *fakeKeys) CreateAPIKey(_ context.Context, k store.APIKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.createErr != nil {
		return f.createErr
	}
	for _, x := range f.keys {
		if x.KeyID == k.KeyID {
			return store.ErrConflict
		}
	}
	f.keys = append(f.keys, k)
	return nil
}

func (f *fakeKeys) APIKeys(context.Context) ([]store.APIKey, error) {
	f.mu.Lock()
	f.reads++
	out, err := append([]store.APIKey(nil), f.keys...), f.err
	f.mu.Unlock()
	if f.read != nil {
		select {
		case f.read <- struct{}{}:
		default:
		}
	}
	return out, err
}

func (f *fakeKeys) UpdateAPIKey(_ context.Context, id string, p store.APIKeyPatch) (store.APIKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return store.APIKey{}, f.err
	}
	for i, k := range f.keys {
		if k.KeyID != id {
			continue
		}
		if k.RevokedAt != nil || (p.GraceUntil != nil && k.GraceUntil != nil) {
			return store.APIKey{}, store.ErrConflict // set once, and a revoked key is final
		}
		if p.RevokedAt != nil {
			k.RevokedAt = p.RevokedAt
		}
		if p.GraceUntil != nil {
			k.GraceUntil = p.GraceUntil
		}
		f.keys[i] = k
		return k, nil
	}
	return store.APIKey{}, store.ErrNotFound
}

func (f *fakeKeys) ClearAPIKeyGrace(_ context.Context, id string, graceUntil time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.clearErr != nil {
		return f.clearErr
	}
	for i, k := range f.keys {
		if k.KeyID == id && k.GraceUntil != nil && k.GraceUntil.Equal(graceUntil) {
			f.keys[i].GraceUntil = nil
			return nil
		}
	}
	return store.ErrNotFound
}

// stored returns the stored key id, or the zero key.
func (f *fakeKeys) stored(id string) store.APIKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.KeyID == id {
			return k
		}
	}
	return store.APIKey{}
}

// successors returns the ids of the stored keys rotated from id.
func (f *fakeKeys) successors(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, k := range f.keys {
		if k.RotatedFrom == id {
			out = append(out, k.KeyID)
		}
	}
	return out
}

// gatedKeys is a fakeKeys whose APIKeys calls, once armed, wait until n of them have arrived, so
// that n instances all read a key before any of them writes it: the interleaving across
// instances that KeyManager.mu cannot prevent.
type gatedKeys struct {
	*fakeKeys
	gateMu  sync.Mutex // guards waiting, open
	waiting int
	open    chan struct{} // closed when the n-th call arrives; nil when not armed
}

// arm makes the next n APIKeys calls wait for each other.
func (g *gatedKeys) arm(n int) {
	g.gateMu.Lock()
	defer g.gateMu.Unlock()
	g.waiting, g.open = n, make(chan struct{})
}

func (g *gatedKeys) APIKeys(ctx context.Context) ([]store.APIKey, error) {
	keys, err := g.fakeKeys.APIKeys(ctx)
	g.gateMu.Lock()
	open := g.open
	if open != nil {
		if g.waiting--; g.waiting == 0 {
			close(open)
			g.open = nil
		}
	}
	g.gateMu.Unlock()
	if open != nil {
		<-open
	}
	return keys, err
}

func (f *fakeKeys) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

func newTestKeys(t *testing.T, st KeyStore, clock *fakeClock, mutate ...func(*KeyConfig)) *KeyManager {
	t.Helper()
	cfg := KeyConfig{Store: st, Now: clock.Now, RefreshInterval: -1}
	for _, m := range mutate {
		m(&cfg)
	}
	m, err := NewKeyManager(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return m
}

func mustVerify(t *testing.T, m *KeyManager, key string, want Identity) {
	t.Helper()
	id, err := m.Verify(t.Context(), key)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id != want {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}
}

func mustReject(t *testing.T, m *KeyManager, key string) {
	t.Helper()
	if id, err := m.Verify(t.Context(), key); !errors.Is(err, ErrInvalidToken) || id != (Identity{}) {
		t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", id, err)
	}
}

func TestAPIKeyCreateVerifyList(t *testing.T) {
	ctx := context.Background()
	st, clock := &fakeKeys{}, newFakeClock()
	changes := 0
	m := newTestKeys(t, st, clock, func(c *KeyConfig) { c.OnChange = func(string, string) { changes++ } })

	key, info, err := m.Create(ctx, "lobby tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "neko_"+info.ID+"_") || len(key) != apiKeyLen {
		t.Fatalf("key %q does not have the format neko_<id>_<secret>", key)
	}
	if info.Name != "lobby tv" || info.Role != RoleViewer || info.CreatedBy != "admin" || info.State != KeyActive ||
		!info.CreatedAt.Equal(clock.Now()) || info.ExpiresAt != nil {
		t.Fatalf("info = %+v", info)
	}
	if changes != 1 {
		t.Fatalf("OnChange calls = %d, want 1", changes)
	}
	reads := st.readCount()
	for range 100 {
		mustVerify(t, m, key, Identity{Username: "apikey:lobby tv", Role: RoleViewer, Language: "en"})
	}
	if st.readCount() != reads {
		t.Fatal("Verify read the store")
	}

	// The store has the hash, never the secret; List has neither.
	secret := key[len("neko_")+keyIDLen+1:]
	stored := st.keys[0]
	if stored.Hash == "" || strings.Contains(fmt.Sprintf("%+v", stored), secret) {
		t.Fatalf("stored key leaks the secret: %+v", stored)
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if s := fmt.Sprintf("%+v", list); strings.Contains(s, secret) || strings.Contains(s, stored.Hash) {
		t.Fatalf("List leaks the secret or hash: %s", s)
	}
	if list[0].ID != info.ID || list[0].State != KeyActive {
		t.Fatalf("List[0] = %+v", list[0])
	}

	// Two keys never share an id or secret.
	key2, info2, err := m.Create(ctx, "ingest", RoleAnalyst, "admin")
	if err != nil || info2.ID == info.ID || key2 == key {
		t.Fatalf("second key %q (%v)", key2, err)
	}
	mustVerify(t, m, key2, Identity{Username: "apikey:ingest", Role: RoleAnalyst, Language: "en"})
}

func TestAPIKeyCreateValidates(t *testing.T) {
	m := newTestKeys(t, &fakeKeys{}, newFakeClock())
	for name, c := range map[string]struct {
		name string
		role Role
	}{
		"empty name":     {"  ", RoleViewer},
		"long name":      {strings.Repeat("x", 101), RoleViewer},
		"anonymous role": {"tv", RoleAnonymous},
		"unknown role":   {"tv", Role(9)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := m.Create(context.Background(), c.name, c.role, "admin"); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("err = %v, want store.ErrInvalid", err)
			}
		})
	}
}

func TestAPIKeyRotate(t *testing.T) {
	ctx := context.Background()
	st, clock := &fakeKeys{}, newFakeClock()
	changes := 0
	m := newTestKeys(t, st, clock, func(c *KeyConfig) { c.OnChange = func(string, string) { changes++ } })
	oldKey, oldInfo, err := m.Create(ctx, "hall tv", RoleViewer, "ops")
	if err != nil {
		t.Fatal(err)
	}
	newKey, newInfo, err := m.Rotate(ctx, oldInfo.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if newKey == oldKey || newInfo.RotatedFrom != oldInfo.ID || newInfo.Name != "hall tv" || newInfo.Role != RoleViewer ||
		newInfo.CreatedBy != "ops" || newInfo.State != KeyActive {
		t.Fatalf("new key info = %+v", newInfo)
	}
	if changes != 2 {
		t.Fatalf("OnChange calls = %d, want 2", changes)
	}
	want := Identity{Username: "apikey:hall tv", Role: RoleViewer, Language: "en"}
	mustVerify(t, m, oldKey, want) // within grace
	mustVerify(t, m, newKey, want)

	list, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]KeyState{}
	for _, k := range list {
		states[k.ID] = k.State
	}
	if states[oldInfo.ID] != KeyGrace || states[newInfo.ID] != KeyActive {
		t.Fatalf("states = %v", states)
	}

	// A key already rotated cannot be rotated again (no second successor).
	if _, _, err := m.Rotate(ctx, oldInfo.ID, time.Hour); !errors.Is(err, ErrKeyInactive) {
		t.Fatalf("rotate rotated key: err = %v, want ErrKeyInactive", err)
	}

	clock.Advance(time.Hour - time.Second)
	mustVerify(t, m, oldKey, want)
	clock.Advance(time.Second)
	mustReject(t, m, oldKey) // grace over
	mustVerify(t, m, newKey, want)

	// Zero grace: the old key stops at once.
	k3, _, err := m.Rotate(ctx, newInfo.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	mustReject(t, m, newKey)
	mustVerify(t, m, k3, want)

	if _, _, err := m.Rotate(ctx, "000000000000", time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotate unknown: err = %v, want store.ErrNotFound", err)
	}
	if _, _, err := m.Rotate(ctx, newInfo.ID, -time.Second); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("negative grace: err = %v", err)
	}
}

func TestAPIKeyRevoke(t *testing.T) {
	ctx := context.Background()
	st, clock := &fakeKeys{}, newFakeClock()
	changes := 0
	m := newTestKeys(t, st, clock, func(c *KeyConfig) { c.OnChange = func(string, string) { changes++ } })
	key, info, err := m.Create(ctx, "kiosk", RoleAnalyst, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	mustReject(t, m, key)
	if err := m.Revoke(ctx, info.ID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if changes != 2 {
		t.Fatalf("OnChange calls = %d, want 2 (create, first revoke)", changes)
	}
	if err := m.Revoke(ctx, "000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: err = %v", err)
	}
	if _, _, err := m.Rotate(ctx, info.ID, time.Hour); !errors.Is(err, ErrKeyInactive) {
		t.Fatalf("rotate revoked: err = %v, want ErrKeyInactive", err)
	}
	list, _ := m.List(ctx)
	if len(list) != 1 || list[0].State != KeyRevoked || list[0].RevokedAt == nil || !list[0].RevokedAt.Equal(clock.Now()) {
		t.Fatalf("List = %+v", list)
	}
}

// TestAPIKeyRotateRaceAcrossInstances rotates one key six times at once from two instances over
// one store (three each, as two servers sharing a database would), with each instance's first
// rotation reading the key as active before either writes. Exactly one rotation may succeed and
// store a successor; the others must see the key as already rotated.
func TestAPIKeyRotateRaceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	st, clock := &gatedKeys{fakeKeys: &fakeKeys{}}, newFakeClock()
	a, b := newTestKeys(t, st, clock), newTestKeys(t, st, clock)
	_, info, err := a.Create(ctx, "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	st.arm(2)
	errs := make(chan error, 6)
	var wg sync.WaitGroup
	for _, m := range []*KeyManager{a, b, a, b, a, b} {
		wg.Go(func() {
			_, _, err := m.Rotate(ctx, info.ID, 5*time.Minute)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrKeyInactive):
			t.Errorf("rotate: err = %v, want nil or ErrKeyInactive", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d rotations succeeded, want 1", wins)
	}
	if got := st.successors(info.ID); len(got) != 1 {
		t.Errorf("successors of %s = %v, want exactly one", info.ID, got)
	}
}

// TestAPIKeyRevokeRaceAcrossInstances revokes one key from two instances at once, both reading it
// as unrevoked first: one revocation happens (one audit and notification, one revoked_at), the
// other is the documented no-op, and both instances reject the key on return.
func TestAPIKeyRevokeRaceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	st, clock := &gatedKeys{fakeKeys: &fakeKeys{}}, newFakeClock()
	var changes atomic.Int32
	count := func(c *KeyConfig) { c.OnChange = func(string, string) { changes.Add(1) } }
	a, b := newTestKeys(t, st, clock, count), newTestKeys(t, st, clock, count)
	key, info, err := a.Create(ctx, "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	changes.Store(0)
	st.arm(2)
	var wg sync.WaitGroup
	for _, m := range []*KeyManager{a, b} {
		wg.Go(func() {
			if err := m.Revoke(ctx, info.ID); err != nil {
				t.Errorf("revoke: %v", err)
			}
		})
	}
	wg.Wait()
	if n := changes.Load(); n != 1 {
		t.Errorf("revocations notified: %d, want 1", n)
	}
	mustReject(t, a, key)
	mustReject(t, b, key)
}

// TestAPIKeyRotateInsertFails checks that a rotation whose successor cannot be stored undoes its
// claim on the old key, so the key stays active and can be rotated again, and that when the undo
// fails too the error says the old key was left rotated.
func TestAPIKeyRotateInsertFails(t *testing.T) {
	tests := []struct {
		name       string
		clearErr   error
		wantGrace  bool
		wantInMsg  string
		wantRotate bool // a retry without failures succeeds
	}{
		{name: "undo succeeds", wantInMsg: "old key left active", wantRotate: true},
		{name: "undo fails", clearErr: errors.New("db down"), wantGrace: true, wantInMsg: "left rotated without a successor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st, clock := &fakeKeys{}, newFakeClock()
			m := newTestKeys(t, st, clock)
			key, info, err := m.Create(ctx, "tv", RoleViewer, "admin")
			if err != nil {
				t.Fatal(err)
			}
			insertErr := errors.New("disk full")
			st.mu.Lock()
			st.createErr, st.clearErr = insertErr, tt.clearErr
			st.mu.Unlock()
			_, _, err = m.Rotate(ctx, info.ID, 0)
			if !errors.Is(err, insertErr) || !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Fatalf("rotate: err = %v, want %v and %q", err, insertErr, tt.wantInMsg)
			}
			if got := st.stored(info.ID).GraceUntil != nil; got != tt.wantGrace {
				t.Fatalf("old key rotated in store: %v, want %v", got, tt.wantGrace)
			}
			if tt.wantGrace {
				mustReject(t, m, key) // zero grace: the index follows the store
			} else {
				mustVerify(t, m, key, Identity{Username: "apikey:tv", Role: RoleViewer, Language: "en"})
			}
			st.mu.Lock()
			st.createErr, st.clearErr = nil, nil
			st.mu.Unlock()
			if _, _, err := m.Rotate(ctx, info.ID, 0); (err == nil) != tt.wantRotate {
				t.Fatalf("retry: err = %v, want success %v", err, tt.wantRotate)
			}
		})
	}
}

func TestAPIKeyExpiry(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	m := newTestKeys(t, &fakeKeys{}, clock)
	key, info, err := m.CreateExpiring(ctx, "temp", RoleViewer, "admin", clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if info.ExpiresAt == nil {
		t.Fatal("no ExpiresAt")
	}
	mustVerify(t, m, key, Identity{Username: "apikey:temp", Role: RoleViewer, Language: "en"})
	clock.Advance(time.Hour)
	mustReject(t, m, key)
	if _, _, err := m.Rotate(ctx, info.ID, time.Hour); !errors.Is(err, ErrKeyInactive) {
		t.Fatalf("rotate expired: err = %v", err)
	}
}

func TestAPIKeyRejectsMalformedAndTampered(t *testing.T) {
	m := newTestKeys(t, &fakeKeys{}, newFakeClock())
	key, info, err := m.Create(context.Background(), "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	secret := key[len(key)-keySecretLen:]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":             "",
		"prefix only":       "neko_",
		"wrong prefix":      "nyan_" + key[5:],
		"no secret":         "neko_" + info.ID + "_",
		"no separator":      "neko_" + info.ID + secret + "x",
		"short secret":      key[:len(key)-1],
		"long secret":       key + "A",
		"uppercase id":      "neko_" + strings.ToUpper(info.ID) + "_" + secret,
		"padded secret":     "neko_" + info.ID + "_" + secret[:len(secret)-1] + "=",
		"bad base64":        "neko_" + info.ID + "_" + secret[:len(secret)-1] + "!",
		"tampered secret":   flip(key, len(key)-5),
		"tampered id":       flip(key, len("neko_")),
		"unknown id":        "neko_000000000000_" + secret,
		"jwt-looking value": "eyJhbGciOiJIUzI1NiJ9.e30.x",
	}
	for name, k := range cases {
		t.Run(name, func(t *testing.T) { mustReject(t, m, k) })
	}
}

// TestAPIKeyConstantTimeCompare checks that a wrong secret for a known id and any secret for an
// unknown id both cost exactly one full-length hash comparison, done by the manager's
// constant-time compare, so timing reveals neither which ids exist nor how much of a hash matched.
func TestAPIKeyConstantTimeCompare(t *testing.T) {
	m := newTestKeys(t, &fakeKeys{}, newFakeClock())
	key, _, err := m.Create(context.Background(), "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !m.equal([]byte("same"), []byte("same")) || m.equal([]byte("same"), []byte("diff")) {
		t.Fatal("default equal is wrong")
	}
	var lens [][2]int
	inner := m.equal
	m.equal = func(a, b []byte) bool {
		lens = append(lens, [2]int{len(a), len(b)})
		return inner(a, b)
	}
	secret := key[len(key)-keySecretLen:]
	wrong := "neko_" + key[5:5+keyIDLen] + "_" + strings.Repeat("A", keySecretLen-1) + "E"
	for name, k := range map[string]string{"wrong secret": wrong, "unknown id": "neko_abcdefabcdef_" + secret, "right": key} {
		lens = nil
		_, _ = m.Verify(t.Context(), k)
		if len(lens) != 1 || lens[0] != [2]int{32, 32} {
			t.Errorf("%s: comparisons %v, want one of 32 vs 32 bytes", name, lens)
		}
	}
}

// TestAPIKeyRefreshAcrossInstances wires OnChange of one instance to Refresh of another, as the
// Redis notification does in production. The other instance makes no lookups: only the
// reload can bring it the key.
func TestAPIKeyRefreshAcrossInstances(t *testing.T) {
	ctx := context.Background()
	st, clock := &fakeKeys{}, newFakeClock()
	other := newTestKeys(t, st, clock, noLookups)
	var refreshErr error
	m := newTestKeys(t, st, clock, func(c *KeyConfig) { c.OnChange = func(string, string) { refreshErr = other.Refresh(ctx) } })
	key, info, err := m.Create(ctx, "tv", RoleViewer, "admin")
	if err != nil || refreshErr != nil {
		t.Fatal(err, refreshErr)
	}
	mustVerify(t, other, key, Identity{Username: "apikey:tv", Role: RoleViewer, Language: "en"})
	if err := m.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	mustReject(t, other, key)

	// A failed reload keeps the previous index.
	key2, _, err := m.Create(ctx, "tv2", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.err = errors.New("db down")
	st.mu.Unlock()
	if err := other.Refresh(ctx); err == nil {
		t.Fatal("Refresh hid the store error")
	}
	mustVerify(t, other, key2, Identity{Username: "apikey:tv2", Role: RoleViewer, Language: "en"})
}

func TestAPIKeyPeriodicRefresh(t *testing.T) {
	st := &fakeKeys{read: make(chan struct{}, 1)}
	clock := newFakeClock()
	writer := newTestKeys(t, &fakeKeys{}, clock)
	m := newTestKeys(t, st, clock, noLookups, func(c *KeyConfig) { c.RefreshInterval = time.Millisecond })
	// Create a key elsewhere and put it straight in m's store: without lookups, only the
	// periodic reload can bring it into m's index.
	key, _, err := writer.Create(context.Background(), "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	writer.cfg.Store.(*fakeKeys).mu.Lock()
	k := writer.cfg.Store.(*fakeKeys).keys[0]
	writer.cfg.Store.(*fakeKeys).mu.Unlock()
	st.mu.Lock()
	st.keys = append(st.keys, k)
	st.mu.Unlock()
	timeout := time.After(10 * time.Second)
	for reloads := 0; reloads < 2; reloads++ { // the second reload surely began after the insert
		select {
		case <-st.read:
		case <-timeout:
			t.Fatal("no periodic reload")
		}
	}
	mustVerify(t, m, key, Identity{Username: "apikey:tv", Role: RoleViewer, Language: "en"})
}

func TestNewKeyManager(t *testing.T) {
	if _, err := NewKeyManager(context.Background(), KeyConfig{}); err == nil {
		t.Fatal("missing store accepted")
	}
	if _, err := NewKeyManager(context.Background(), KeyConfig{Store: &fakeKeys{err: errors.New("down")}}); err == nil {
		t.Fatal("failed initial load accepted")
	}
	// Unreadable stored keys are skipped, not fatal.
	st := &fakeKeys{keys: []store.APIKey{{KeyID: "aaaaaaaaaaaa", Hash: "zz", Role: "viewer"}, {KeyID: "bbbbbbbbbbbb", Hash: strings.Repeat("0", 64), Role: "root"}}}
	m := newTestKeys(t, st, newFakeClock())
	if n := len(*m.index.Load()); n != 0 {
		t.Fatalf("index has %d entries, want 0", n)
	}
}

// Forget stops a key revoked on another instance at once, before (and whatever comes of) the
// reload that confirms it, and without a lookup.
func TestAPIKeyForget(t *testing.T) {
	st := &fakeKeys{}
	m := newTestKeys(t, st, newFakeClock())
	ctx := t.Context()
	plain, info, err := m.Create(ctx, "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(t.Context(), plain); err != nil {
		t.Fatal(err)
	}
	m.Forget(info.ID)
	if _, err := m.Verify(t.Context(), plain); !errors.Is(err, ErrInvalidToken) || !errors.Is(err, ErrCredentialLapsed) {
		t.Fatalf("a forgotten key: %v", err)
	}
	if n := st.lookupCount(); n != 0 {
		t.Fatalf("%d lookups of a forgotten key, want 0", n)
	}
}

// A revoked key counts as lapsed (its holder was a legitimate client, not escalated to a block)
// only for lapseWindow after its revocation: a key revoked because it leaked must not shield its
// holder for ever.
func TestAPIKeyLapsedOnlyRecently(t *testing.T) {
	clock := newFakeClock()
	m := newTestKeys(t, &fakeKeys{}, clock)
	ctx := t.Context()
	plain, info, err := m.Create(ctx, "tv", RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(ctx, plain); !errors.Is(err, ErrCredentialLapsed) {
		t.Fatalf("just revoked: %v, want ErrCredentialLapsed", err)
	}
	clock.Advance(lapseWindow)
	if _, err := m.Verify(ctx, plain); !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrCredentialLapsed) {
		t.Fatalf("revoked %v ago: %v, want a plain ErrInvalidToken", lapseWindow, err)
	}
}
