package cache

import (
	"context"
	"errors"
	"fmt"
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
		{"negative bytes", PersistedConfig{Logger: log, MaxBytes: -1}},
		{"negative redis bytes", PersistedConfig{Logger: log, RedisMaxBytes: -1}},
		{"bytes below one query", PersistedConfig{Logger: log, MaxQueryBytes: 1024, MaxBytes: 1024}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPersistedQueries(tc.cfg); err == nil {
				t.Fatal("NewPersistedQueries succeeded, want an error")
			}
		})
	}
}

// The in-process store is bounded by bytes, not only by entries: a few large queries evict the
// least recently used ones long before MaxEntries.
func TestPersistedQueriesBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	const size = 1000
	p := newPersisted(t, PersistedConfig{MaxQueryBytes: size, MaxBytes: 3 * entrySize(size)})
	var queries []string
	for i := range 5 {
		q := fmt.Sprintf("{ q%d %s }", i, strings.Repeat("x", size-10))
		queries = append(queries, q)
		if err := p.Put(ctx, hashOf(q), q); err != nil {
			t.Fatal(err)
		}
	}
	for i, q := range queries {
		if _, ok := p.Get(ctx, hashOf(q)); ok != (i >= 2) {
			t.Errorf("query %d found = %v, want %v (only the last 3 fit)", i, ok, i >= 2)
		}
	}
	if p.bytes > 3*entrySize(size) {
		t.Errorf("store holds %d bytes, more than MaxBytes %d", p.bytes, 3*entrySize(size))
	}
}

// Redis holds at most RedisMaxBytes of new queries per TTL window, whatever the instances and
// clients: beyond it a query is stored in the registering process only, so another instance does
// not find it. A query Redis already holds costs no budget, and the next window has a fresh one.
func TestPersistedQueriesRedisBudget(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	now := time.Date(2030, 1, 1, 0, 10, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	const ttl = time.Hour
	const size = 500
	key := func(q string) string { return "b:apq:" + hashOf(q) }
	budget := 2 * (size + len(key("")) + persistedOverhead) // two queries per window
	a := newPersisted(t, PersistedConfig{Redis: rdb, KeyPrefix: "b:", TTL: ttl, RedisMaxBytes: budget, Now: clock})
	b := newPersisted(t, PersistedConfig{Redis: srv.Client(t), KeyPrefix: "b:", TTL: ttl, RedisMaxBytes: budget, Now: clock})
	query := func(i int) string { return fmt.Sprintf("{ q%03d %s }", i, strings.Repeat("x", size-9)) }
	for i := range 2 {
		if len(query(i)) != size {
			t.Fatalf("query is %d bytes, want %d", len(query(i)), size)
		}
	}

	put := func(p *PersistedQueries, q string) {
		t.Helper()
		if err := p.Put(ctx, hashOf(q), q); err != nil {
			t.Fatal(err)
		}
	}
	put(a, query(0))
	put(b, query(1))
	put(a, query(0)) // already in Redis: costs nothing
	put(a, query(2)) // over the budget: this process only
	put(b, query(3))
	for i, want := range []bool{true, true, false, false} {
		if n := rdb.Exists(ctx, key(query(i))).Val(); (n == 1) != want {
			t.Errorf("query %d in Redis = %v, want %v", i, n == 1, want)
		}
	}
	if _, ok := a.Get(ctx, hashOf(query(2))); !ok {
		t.Error("the registering instance lost a query over the Redis budget")
	}
	if _, ok := b.Get(ctx, hashOf(query(2))); ok {
		t.Error("another instance found a query stored over the Redis budget")
	}
	if ttl := rdb.TTL(ctx, key(query(0))).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("query TTL = %v, want (0, 1h]", ttl)
	}

	now = now.Add(ttl) // the next window
	put(a, query(2))
	if n := rdb.Exists(ctx, key(query(2))).Val(); n != 1 {
		t.Error("the next window's budget did not store a new query")
	}
}
