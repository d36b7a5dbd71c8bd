package security

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/neko-defense/neko/store"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeUsers is an in-memory UserStore.
type fakeUsers struct {
	mu      sync.Mutex // guards users, upserts, err
	users   map[string]store.User
	upserts int
	err     error // returned by UserByName when set
}

func newFakeUsers(t *testing.T, users ...store.User) *fakeUsers {
	t.Helper()
	f := &fakeUsers{users: map[string]store.User{}}
	for _, u := range users {
		f.users[u.Username] = u
	}
	return f
}

func (f *fakeUsers) UserByName(_ context.Context, name string) (store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return store.User{}, f.err
	}
	u, ok := f.users[name]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func (f *fakeUsers) UpsertUser(_ context.Context, u store.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.upserts++
	if old, ok := f.users[u.Username]; ok {
		u.CreatedAt = old.CreatedAt
	}
	f.users[u.Username] = u
	return nil
}

func (f *fakeUsers) get(name string) (store.User, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.users[name], f.upserts
}

func hashOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// countCompares makes a count the bcrypt comparisons a performs.
func countCompares(a *Authenticator) *atomic.Int64 {
	var n atomic.Int64
	inner := a.compare
	a.compare = func(hash, pw []byte) error {
		n.Add(1)
		return inner(hash, pw)
	}
	return &n
}

func newUserAuth(t *testing.T, users UserStore, clock *fakeClock, mutate ...func(*AuthConfig)) *Authenticator {
	t.Helper()
	cfg := AuthConfig{
		Secret: testSecret, AdminUsername: "admin", AdminPassword: "s3cret-pass",
		BcryptCost: bcrypt.MinCost, TokenTTL: time.Hour, Users: users, Now: clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := NewAuthenticator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLoginUserStore(t *testing.T) {
	users := newFakeUsers(t,
		store.User{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), Role: "viewer"},
		store.User{Username: "ana", PasswordHash: hashOf(t, "ana-pw"), Role: "ANALYST"},
		store.User{Username: "dis", PasswordHash: hashOf(t, "dis-pw"), Role: "admin", Disabled: true},
		store.User{Username: "odd", PasswordHash: hashOf(t, "odd-pw"), Role: "root"},
	)
	a := newUserAuth(t, users, newFakeClock())
	compares := countCompares(a)
	ctx := context.Background()

	tests := []struct {
		name, user, pass string
		want             Identity
		wantErr          error // nil: success; errAny: any error that is not ErrInvalidCredentials
	}{
		{"right password", "alice", "alice-pw", Identity{Username: "alice", Role: RoleViewer, Language: "es"}, nil},
		{"role read case-insensitively", "ana", "ana-pw", Identity{Username: "ana", Role: RoleAnalyst, Language: "es"}, nil},
		{"wrong password", "alice", "nope", Identity{}, ErrInvalidCredentials},
		{"unknown user", "mallory", "alice-pw", Identity{}, ErrInvalidCredentials},
		{"disabled user, right password", "dis", "dis-pw", Identity{}, ErrInvalidCredentials},
		{"env admin is not an account until bootstrapped", "admin", "s3cret-pass", Identity{}, ErrInvalidCredentials},
		{"stored role unknown", "odd", "odd-pw", Identity{}, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := compares.Load()
			tok, id, err := a.Login(ctx, tt.user, tt.pass, "es")
			if got := compares.Load() - before; got != 1 {
				t.Errorf("bcrypt comparisons = %d, want exactly 1 on every path", got)
			}
			switch {
			case tt.wantErr == nil:
				if err != nil {
					t.Fatal(err)
				}
				if id != tt.want {
					t.Fatalf("identity = %+v, want %+v", id, tt.want)
				}
				if got, err := a.Verify(tok); err != nil || got != tt.want {
					t.Fatalf("Verify = %+v, %v", got, err)
				}
			case tt.wantErr == errAny:
				if err == nil || errors.Is(err, ErrInvalidCredentials) {
					t.Fatalf("err = %v, want an internal error", err)
				}
			default:
				if !errors.Is(err, tt.wantErr) || tok != "" {
					t.Fatalf("err = %v, token %q; want %v", err, tok, tt.wantErr)
				}
			}
		})
	}

	t.Run("store failure is not a credentials error", func(t *testing.T) {
		users.mu.Lock()
		users.err = errors.New("db down")
		users.mu.Unlock()
		defer func() { users.mu.Lock(); users.err = nil; users.mu.Unlock() }()
		if _, _, err := a.Login(ctx, "alice", "alice-pw", ""); err == nil || errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("err = %v", err)
		}
	})
}

// errAny marks a test case expecting some error other than ErrInvalidCredentials.
var errAny = errors.New("any error")

func TestBootstrapAdmin(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	users := newFakeUsers(t)
	a := newUserAuth(t, users, clock)

	// Missing: created as admin.
	if err := a.BootstrapAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	u, n := users.get("admin")
	if n != 1 || u.Role != "admin" || u.Disabled || !u.CreatedAt.Equal(clock.Now()) ||
		bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("s3cret-pass")) != nil {
		t.Fatalf("after first bootstrap: %+v, %d upserts", u, n)
	}
	if _, id, err := a.Login(ctx, "admin", "s3cret-pass", ""); err != nil || id.Role != RoleAdmin || id.Language != "en" {
		t.Fatalf("admin login = %+v, %v", id, err)
	}

	// Unchanged password: no write (the hash is not churned on every restart).
	if err := a.BootstrapAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	if u2, n := users.get("admin"); n != 1 || u2.PasswordHash != u.PasswordHash {
		t.Fatalf("second bootstrap wrote: %d upserts", n)
	}

	// Password changed in the env: the hash is replaced, the old password stops working.
	b := newUserAuth(t, users, clock, func(c *AuthConfig) { c.AdminPassword = "new-pass-123" })
	if err := b.BootstrapAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, n := users.get("admin"); n != 2 {
		t.Fatalf("password change: %d upserts, want 2", n)
	}
	if _, _, err := b.Login(ctx, "admin", "s3cret-pass", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password: err = %v", err)
	}
	if _, _, err := b.Login(ctx, "admin", "new-pass-123", ""); err != nil {
		t.Fatalf("new password: %v", err)
	}

	// Role demoted in the database: raised back to admin; disabled flag kept.
	users.mu.Lock()
	x := users.users["admin"]
	x.Role, x.Disabled = "viewer", true
	users.users["admin"] = x
	users.mu.Unlock()
	if err := b.BootstrapAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	if u, n := users.get("admin"); n != 3 || u.Role != "admin" || !u.Disabled || !u.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("after role repair: %+v, %d upserts", u, n)
	}

	// Without a UserStore there is nothing to bootstrap.
	if err := newTestAuth(t, nil).BootstrapAdmin(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestHashPassword(t *testing.T) {
	a := newTestAuth(t, nil)
	h, err := a.HashPassword("pw-123456")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("pw-123456")) != nil {
		t.Fatal("hash does not match")
	}
}
