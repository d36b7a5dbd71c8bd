package cache

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/neko-defense/neko/internal/redistest"
)

func newPersisted(t *testing.T, cfg PersistedConfig) *PersistedQueries {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.RedisTimeout == 0 {
		cfg.RedisTimeout = testRedisTimeout
	}
	p, err := NewPersistedQueries(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPersistedQueries(t *testing.T) {
	ctx := context.Background()
	const query = "{ threatActors { name } }"
	hash := hashOf(query)

	for _, tc := range []struct {
		name    string
		hash    string
		query   string
		wantErr error
	}{
		{"valid", hash, query, nil},
		{"mismatch", hashOf("{ other }"), query, ErrHashMismatch},
		{"uppercase hash", strings.ToUpper(hash), query, ErrInvalidHash},
		{"short hash", hash[:63], query, ErrInvalidHash},
		{"non-hex hash", "g" + hash[1:], query, ErrInvalidHash},
		{"oversize", hashOf(strings.Repeat("x", 1025)), strings.Repeat("x", 1025), ErrQueryTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPersisted(t, PersistedConfig{MaxQueryBytes: 1024})
			err := p.Put(ctx, tc.hash, tc.query)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Put = %v, want %v", err, tc.wantErr)
			}
			got, ok := p.Get(ctx, tc.hash)
			if wantOK := tc.wantErr == nil; ok != wantOK || (ok && got != tc.query) {
				t.Fatalf("Get = %q, %v; want found=%v", got, ok, wantOK)
			}
		})
	}
}

func TestPersistedQueriesLRU(t *testing.T) {
	ctx := context.Background()
	p := newPersisted(t, PersistedConfig{MaxEntries: 2})
	queries := []string{"{ a }", "{ b }", "{ c }"}
	for _, q := range queries[:2] {
		if err := p.Put(ctx, hashOf(q), q); err != nil {
			t.Fatal(err)
		}
	}
	p.Get(ctx, hashOf("{ a }")) // a is now the most recently used
	if err := p.Put(ctx, hashOf("{ c }"), "{ c }"); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]bool{"{ a }": true, "{ b }": false, "{ c }": true} {
		if _, ok := p.Get(ctx, hashOf(q)); ok != want {
			t.Errorf("Get(%s) found = %v, want %v", q, ok, want)
		}
	}
}

func TestPersistedQueriesRedis(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	const timeout = 200 * time.Millisecond // the end of the test calls a dead Redis
	a := newPersisted(t, PersistedConfig{Redis: rdb, KeyPrefix: "p:", RedisTimeout: timeout})
	b := newPersisted(t, PersistedConfig{Redis: srv.Client(t), KeyPrefix: "p:", RedisTimeout: timeout})
	const query = "{ dinaAgents { name } }"
	if err := a.Put(ctx, hashOf(query), query); err != nil {
		t.Fatal(err)
	}
	if got, ok := b.Get(ctx, hashOf(query)); !ok || got != query {
		t.Fatalf("other instance Get = %q, %v; want the query from Redis", got, ok)
	}
	if ttl := rdb.TTL(ctx, "p:apq:"+hashOf(query)).Val(); ttl <= 0 || ttl > DefaultPersistedTTL {
		t.Errorf("TTL = %v, want (0, 24h]", ttl)
	}

	// A value that does not hash to its key is ignored.
	forged := hashOf("{ forged }")
	if err := rdb.Set(ctx, "p:apq:"+forged, "mutation { deleteEverything }", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, ok := b.Get(ctx, forged); ok {
		t.Fatalf("Get of a forged value = %q, want not found", got)
	}

	// Redis down: Get misses, Put still stores locally.
	srv.Stop()
	const later = "{ incidents { id } }"
	if err := a.Put(ctx, hashOf(later), later); err != nil {
		t.Fatalf("Put with Redis down = %v, want nil", err)
	}
	if _, ok := a.Get(ctx, hashOf(later)); !ok {
		t.Error("local Get after Put with Redis down missed")
	}
	if _, ok := b.Get(ctx, hashOf(later)); ok {
		t.Error("other instance found a query Redis never stored")
	}
}

func TestNewPersistedQueriesValidates(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name string
		cfg  PersistedConfig
	}{
		{"no logger", PersistedConfig{}},
		{"negative entries", PersistedConfig{Logger: log, MaxEntries: -1}},
		{"negative size", PersistedConfig{Logger: log, MaxQueryBytes: -1}},
		{"negative ttl", PersistedConfig{Logger: log, TTL: -1}},
		{"negative timeout", PersistedConfig{Logger: log, RedisTimeout: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPersistedQueries(tc.cfg); err == nil {
				t.Fatal("NewPersistedQueries succeeded, want an error")
			}
		})
	}
}
