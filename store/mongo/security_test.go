package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/store"
	nekomongo "github.com/neko-defense/neko/store/mongo"
)

// The Store satisfies the interfaces the security package declares.
var (
	_ security.UserStore   = (*nekomongo.Store)(nil)
	_ security.KeyStore    = (*nekomongo.Store)(nil)
	_ security.AuditWriter = (*nekomongo.Store)(nil)
)

func TestUserRoundTrip(t *testing.T) {
	ctx := testContext(t)
	name := fmt.Sprintf("user-%d", time.Now().UnixNano())
	if _, err := env.store.UserByName(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing user: err = %v, want ErrNotFound", err)
	}
	created := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := env.store.UpsertUser(ctx, store.User{Username: name, PasswordHash: "h1", Role: "viewer", CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	u, err := env.store.UserByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != name || u.PasswordHash != "h1" || u.Role != "viewer" || u.Disabled || !u.CreatedAt.Equal(created) || u.ID.IsZero() {
		t.Fatalf("created user = %+v", u)
	}
	// The second upsert updates in place and keeps created_at.
	if err := env.store.UpsertUser(ctx, store.User{Username: name, PasswordHash: "h2", Role: "admin", Disabled: true, CreatedAt: created.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	u2, err := env.store.UserByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if u2.ID != u.ID || u2.PasswordHash != "h2" || u2.Role != "admin" || !u2.Disabled || !u2.CreatedAt.Equal(created) {
		t.Fatalf("updated user = %+v, want same id %v and created_at %v", u2, u.ID, created)
	}
	n, err := env.store.Database().Collection("users").CountDocuments(ctx, bson.D{{Key: "username", Value: name}})
	if err != nil || n != 1 {
		t.Fatalf("documents for %s = %d, %v; want 1", name, n, err)
	}
	if err := env.store.UpsertUser(ctx, store.User{Username: name}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("upsert without hash: err = %v, want ErrInvalid", err)
	}
}

func TestAPIKeyRoundTrip(t *testing.T) {
	ctx := testContext(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	exp := now.Add(24 * time.Hour)
	prefix := fmt.Sprintf("k%d", time.Now().UnixNano()%1_000_000_000)
	a := store.APIKey{KeyID: prefix + "a", Hash: "aa", Name: "lobby tv", Role: "viewer", CreatedAt: now, CreatedBy: "admin", ExpiresAt: &exp}
	b := store.APIKey{KeyID: prefix + "b", Hash: "bb", Name: "ingest", Role: "analyst", CreatedAt: now.Add(time.Second), RotatedFrom: prefix + "a"}
	for _, k := range []store.APIKey{a, b} {
		if err := env.store.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.store.CreateAPIKey(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate key_id: err = %v, want ErrConflict", err)
	}
	if err := env.store.CreateAPIKey(ctx, store.APIKey{Name: "no id"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("no key_id: err = %v, want ErrInvalid", err)
	}

	all, err := env.store.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ia := slices.IndexFunc(all, func(k store.APIKey) bool { return k.KeyID == a.KeyID })
	ib := slices.IndexFunc(all, func(k store.APIKey) bool { return k.KeyID == b.KeyID })
	if ia < 0 || ib < 0 || ia > ib {
		t.Fatalf("APIKeys positions a=%d b=%d; want both, a first", ia, ib)
	}
	ga := all[ia]
	if ga.Hash != "aa" || ga.Name != "lobby tv" || ga.Role != "viewer" || ga.CreatedBy != "admin" ||
		ga.ExpiresAt == nil || !ga.ExpiresAt.Equal(exp) || ga.RevokedAt != nil || ga.GraceUntil != nil {
		t.Fatalf("stored key a = %+v", ga)
	}
	if all[ib].RotatedFrom != a.KeyID {
		t.Fatalf("stored key b = %+v", all[ib])
	}

	grace := now.Add(time.Hour)
	got, err := env.store.UpdateAPIKey(ctx, a.KeyID, store.APIKeyPatch{GraceUntil: &grace})
	if err != nil {
		t.Fatal(err)
	}
	if got.GraceUntil == nil || !got.GraceUntil.Equal(grace) || got.RevokedAt != nil || got.Hash != "aa" {
		t.Fatalf("after grace patch = %+v", got)
	}
	got, err = env.store.UpdateAPIKey(ctx, a.KeyID, store.APIKeyPatch{RevokedAt: &now})
	if err != nil {
		t.Fatal(err)
	}
	if got.RevokedAt == nil || !got.RevokedAt.Equal(now) || got.GraceUntil == nil {
		t.Fatalf("after revoke patch = %+v", got)
	}
	if _, err := env.store.UpdateAPIKey(ctx, "nope-"+prefix, store.APIKeyPatch{RevokedAt: &now}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: err = %v, want ErrNotFound", err)
	}
	if _, err := env.store.UpdateAPIKey(ctx, a.KeyID, store.APIKeyPatch{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty patch: err = %v, want ErrInvalid", err)
	}
}

// TestUpdateAPIKeyIsConditional checks the conditions that make a rotation or a revocation happen
// once: each field is set at most once and a revoked key takes no update. A refused update is
// store.ErrConflict and leaves the stored key as it was.
func TestUpdateAPIKeyIsConditional(t *testing.T) {
	ctx := testContext(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	later := now.Add(time.Hour)
	grace := store.APIKeyPatch{GraceUntil: &now}
	revoke := store.APIKeyPatch{RevokedAt: &now}
	tests := []struct {
		name  string
		setup []store.APIKeyPatch
		patch store.APIKeyPatch
		want  error
	}{
		{"rotate active", nil, store.APIKeyPatch{GraceUntil: &later}, nil},
		{"revoke active", nil, store.APIKeyPatch{RevokedAt: &later}, nil},
		{"revoke rotated", []store.APIKeyPatch{grace}, store.APIKeyPatch{RevokedAt: &later}, nil},
		{"rotate rotated", []store.APIKeyPatch{grace}, store.APIKeyPatch{GraceUntil: &later}, store.ErrConflict},
		{"rotate revoked", []store.APIKeyPatch{revoke}, store.APIKeyPatch{GraceUntil: &later}, store.ErrConflict},
		{"revoke revoked", []store.APIKeyPatch{revoke}, store.APIKeyPatch{RevokedAt: &later}, store.ErrConflict},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("c%d-%d", time.Now().UnixNano()%1_000_000_000, i)
			if err := env.store.CreateAPIKey(ctx, store.APIKey{KeyID: id, Hash: "h", Role: "viewer", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.setup {
				if _, err := env.store.UpdateAPIKey(ctx, id, p); err != nil {
					t.Fatal(err)
				}
			}
			before := storedAPIKey(t, id)
			got, err := env.store.UpdateAPIKey(ctx, id, tt.patch)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if after := storedAPIKey(t, id); !equalTimes(after.GraceUntil, before.GraceUntil) || !equalTimes(after.RevokedAt, before.RevokedAt) {
					t.Fatalf("refused update changed the key: %+v, was %+v", after, before)
				}
				return
			}
			if (tt.patch.GraceUntil != nil && !equalTimes(got.GraceUntil, &later)) || (tt.patch.RevokedAt != nil && !equalTimes(got.RevokedAt, &later)) {
				t.Fatalf("updated key = %+v", got)
			}
		})
	}
}

// TestClearAPIKeyGrace undoes a rotation's claim: only the claim it names, and the key can then be
// rotated again.
func TestClearAPIKeyGrace(t *testing.T) {
	ctx := testContext(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := fmt.Sprintf("g%d", time.Now().UnixNano()%1_000_000_000)
	if err := env.store.CreateAPIKey(ctx, store.APIKey{KeyID: id, Hash: "h", Role: "viewer", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.store.UpdateAPIKey(ctx, id, store.APIKeyPatch{GraceUntil: &now}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.ClearAPIKeyGrace(ctx, id, now.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other grace_until: err = %v, want ErrNotFound", err)
	}
	if k := storedAPIKey(t, id); !equalTimes(k.GraceUntil, &now) {
		t.Fatalf("grace_until = %v after a refused clear, want %v", k.GraceUntil, now)
	}
	if err := env.store.ClearAPIKeyGrace(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	if k := storedAPIKey(t, id); k.GraceUntil != nil {
		t.Fatalf("grace_until = %v after clear, want none", k.GraceUntil)
	}
	if _, err := env.store.UpdateAPIKey(ctx, id, store.APIKeyPatch{GraceUntil: &now}); err != nil {
		t.Fatalf("rotate after clear: %v", err)
	}
	if err := env.store.ClearAPIKeyGrace(ctx, "nope-"+id, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: err = %v, want ErrNotFound", err)
	}
}

// storedAPIKey returns the stored key id.
func storedAPIKey(t *testing.T, id string) store.APIKey {
	t.Helper()
	var k store.APIKey
	if err := env.store.Database().Collection("api_keys").FindOne(testContext(t), bson.D{{Key: "key_id", Value: id}}).Decode(&k); err != nil {
		t.Fatal(err)
	}
	return k
}

// equalTimes reports whether a and b are both unset or the same instant.
func equalTimes(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func TestAuditEvents(t *testing.T) {
	ctx := testContext(t)
	// A unique tag-free marker: events of this test use a private address
	// range and a future time window, so other tests' events never match.
	base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	ipA, ipB := "198.51.100.7", "198.51.100.8"
	var events []store.AuditEvent
	for i := range 12 {
		cat, ip := store.AuditCategoryAuth, ipA
		if i%3 == 0 {
			cat, ip = store.AuditCategorySecurity, ipB
		}
		events = append(events, store.AuditEvent{
			ID:        bson.NewObjectID(),
			Timestamp: base.Add(time.Duration(i) * time.Minute),
			Level:     store.AuditLevelInfo, Category: cat, Action: fmt.Sprintf("act-%02d", i),
			Actor:    store.AuditActor{IP: ip, UserID: "u", UserAgent: "ua"},
			Resource: &store.AuditResource{Type: "login", ID: "x"},
			Result:   store.AuditResultSuccess, Details: map[string]any{"n": int32(i), "nested": map[string]any{"k": "v"}},
			ThreatScore: i, Tags: []string{"t"},
		})
	}
	if err := env.store.InsertAuditEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	// Re-sending a batch that was already stored (a retry after a lost
	// acknowledgement) stores nothing twice and is not an error.
	if err := env.store.InsertAuditEvents(ctx, events[:4]); err != nil {
		t.Fatalf("retry of stored batch: %v", err)
	}
	if err := env.store.InsertAuditEvents(ctx, nil); err != nil {
		t.Fatal(err)
	}

	actions := func(evs []store.AuditEvent) []string {
		return ids(evs, func(e store.AuditEvent) string { return e.Action })
	}
	want := func(keep func(i int) bool, limit int) []string {
		var out []string
		for i := len(events) - 1; i >= 0 && len(out) < limit; i-- {
			if keep(i) {
				out = append(out, events[i].Action)
			}
		}
		return out
	}
	all := func(int) bool { return true }
	tests := []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"since, newest first", store.AuditFilter{Since: base}, want(all, 100)},
		{"limit", store.AuditFilter{Since: base, Limit: 3}, want(all, 3)},
		{"limit clamped to 1", store.AuditFilter{Since: base, Limit: -5}, want(all, 1)},
		{"category", store.AuditFilter{Since: base, Category: store.AuditCategorySecurity}, want(func(i int) bool { return i%3 == 0 }, 100)},
		{"actor ip", store.AuditFilter{ActorIP: ipA, Since: base}, want(func(i int) bool { return i%3 != 0 }, 100)},
		{"category and ip", store.AuditFilter{ActorIP: ipA, Category: store.AuditCategorySecurity, Since: base}, nil},
		{"since later", store.AuditFilter{Since: base.Add(9 * time.Minute)}, want(func(i int) bool { return i >= 9 }, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := env.store.AuditEvents(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "actions", actions(got), tt.want)
		})
	}
	t.Run("decoded fields", func(t *testing.T) {
		got, err := env.store.AuditEvents(ctx, store.AuditFilter{Since: base.Add(11 * time.Minute)})
		if err != nil || len(got) != 1 {
			t.Fatalf("got %d events, %v", len(got), err)
		}
		g, w := got[0], events[11]
		if g.ID != w.ID || !g.Timestamp.Equal(w.Timestamp) || g.Level != w.Level || g.Actor != w.Actor ||
			g.Resource == nil || *g.Resource != *w.Resource || g.Result != w.Result || g.ThreatScore != 11 ||
			!slices.Equal(g.Tags, w.Tags) || g.Details["n"] != int32(11) {
			t.Fatalf("event = %+v\nwant   %+v", g, w)
		}
		if nested, ok := g.Details["nested"].(map[string]any); !ok || nested["k"] != "v" {
			t.Fatalf("details.nested = %#v", g.Details["nested"])
		}
	})
}

// TestAuditLogCloseWritesEverything records events through a security.AuditLog just before Close
// and finds all of them in the database after Close returns.
func TestAuditLogCloseWritesEverything(t *testing.T) {
	ctx := testContext(t)
	l, err := security.NewAuditLog(security.AuditConfig{Writer: env.store, BatchSize: 100, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2032, 5, 1, 0, 0, 0, 0, time.UTC)
	const n = 250
	for i := range n {
		l.Record(security.AuditEvent{
			Time: since.Add(time.Duration(i) * time.Millisecond), Category: security.CategorySystem,
			Action: "close-test", Actor: security.AuditActor{IP: "192.0.2.250"}, Result: security.ResultSuccess,
		})
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := env.store.AuditEvents(ctx, store.AuditFilter{ActorIP: "192.0.2.250", Since: since, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || l.Dropped() != 0 {
		t.Fatalf("stored %d events (dropped %d), want %d", len(got), l.Dropped(), n)
	}
	if !got[0].Timestamp.Equal(since.Add((n - 1) * time.Millisecond)) {
		t.Fatalf("newest event at %v", got[0].Timestamp)
	}
}

// TestSecurityWithDatabase runs the admin bootstrap, a login and the API key life cycle of the
// security package against the embedded database.
func TestSecurityWithDatabase(t *testing.T) {
	ctx := testContext(t)
	admin := fmt.Sprintf("root-%d", time.Now().UnixNano())
	auth, err := security.NewAuthenticator(security.AuthConfig{
		Secret: []byte("0123456789abcdef0123456789abcdef"), AdminUsername: admin, AdminPassword: "pw-123456",
		BcryptCost: 4, Users: env.store,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.BootstrapAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := auth.BootstrapAdmin(ctx); err != nil {
		t.Fatalf("second bootstrap: %v", err)
	}
	if _, id, err := auth.Login(ctx, admin, "pw-123456", "es"); err != nil || id.Role != security.RoleAdmin {
		t.Fatalf("login = %+v, %v", id, err)
	}
	if _, _, err := auth.Login(ctx, admin, "nope", ""); !errors.Is(err, security.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}

	keys, err := security.NewKeyManager(ctx, security.KeyConfig{Store: env.store})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close(ctx)
	key, info, err := keys.Create(ctx, "db tv", security.RoleViewer, admin)
	if err != nil {
		t.Fatal(err)
	}
	// A second instance loads the key from the database.
	other, err := security.NewKeyManager(ctx, security.KeyConfig{Store: env.store})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if id, err := other.Verify(ctx, key); err != nil || id.Username != "apikey:db tv" {
		t.Fatalf("other instance: %+v, %v", id, err)
	}
	newKey, _, err := keys.Rotate(ctx, info.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key, newKey} {
		if _, err := keys.Verify(ctx, k); err != nil {
			t.Fatalf("after rotate: %v", err)
		}
	}
	if err := keys.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Verify(ctx, key); !errors.Is(err, security.ErrInvalidToken) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := other.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(ctx, key); !errors.Is(err, security.ErrInvalidToken) {
		t.Fatalf("revoked key on other instance after Refresh: %v", err)
	}
	if _, err := other.Verify(ctx, newKey); err != nil {
		t.Fatalf("rotated key on other instance: %v", err)
	}
}

// TestAPIKeyLookupWithDatabase runs the lookup of keys another instance made against the
// embedded database: a key created, rotated or revoked by one KeyManager is judged at once by
// another that never reloads, each new key costing it one round trip (counted by the driver's
// monitor), and a flood of random keys costing no more than the lookup budget.
func TestAPIKeyLookupWithDatabase(t *testing.T) {
	ctx := testContext(t)
	var rec recorder
	counted, err := nekomongo.New(ctx, nekomongo.Config{URI: env.uri, Database: "neko-test", OperationTimeout: time.Minute,
		Monitor: nekomongo.OperationCounter(rec.record)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer counted.Close(context.Background())

	a, err := security.NewKeyManager(ctx, security.KeyConfig{Store: env.store, RefreshInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	start := time.Now()
	const burst = 10
	b, err := security.NewKeyManager(ctx, security.KeyConfig{Store: counted, RefreshInterval: -1,
		Now:    func() time.Time { return start }, // the budget never refills during the test
		Lookup: security.LookupConfig{PerSecond: 1, Burst: burst}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	rec.take() // b's first load

	key, info, err := a.Create(ctx, "lookup tv", security.RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if k, err := env.store.APIKey(ctx, info.ID); err != nil || k.KeyID != info.ID || k.Name != "lookup tv" {
		t.Fatalf("APIKey = %+v, %v", k, err)
	}
	if _, err := env.store.APIKey(ctx, "000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("APIKey of an unknown id: %v, want store.ErrNotFound", err)
	}
	want := security.Identity{Username: "apikey:lookup tv", Role: security.RoleViewer, Language: "en"}
	for range 3 {
		if id, err := b.Verify(ctx, key); err != nil || id != want {
			t.Fatalf("key made by another instance: %+v, %v", id, err)
		}
	}
	if ops := rec.take(); !slices.Equal(ops, []string{"api_keys find"}) {
		t.Fatalf("round trips for a new key used three times: %v, want one find", ops)
	}

	revokedKey, revoked, err := a.Create(ctx, "revoked tv", security.RoleViewer, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(ctx, revokedKey); !errors.Is(err, security.ErrCredentialLapsed) {
		t.Fatalf("key revoked by another instance: %v, want ErrCredentialLapsed", err)
	}
	newKey, _, err := a.Rotate(ctx, info.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(ctx, newKey); err != nil {
		t.Fatalf("successor made by another instance: %v", err)
	}
	if n := len(rec.take()); n != 2 {
		t.Fatalf("%d round trips for two new keys, want 2", n)
	}

	const secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"
	for i := range 200 {
		if _, err := b.Verify(ctx, fmt.Sprintf("neko_%012x_%s", 0xbad000+i, secret)); !errors.Is(err, security.ErrInvalidToken) {
			t.Fatalf("random key %d: %v", i, err)
		}
	}
	if n := len(rec.take()); n != burst-3 {
		t.Fatalf("%d round trips for 200 random keys, want the %d left of the budget", n, burst-3)
	}
}
