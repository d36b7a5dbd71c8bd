package defense

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/neko-defense/neko/internal/clientkey"
	"github.com/neko-defense/neko/internal/redistest"
	"github.com/neko-defense/neko/store"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeBlockStore records the BlockStore calls.
type fakeBlockStore struct {
	mu      sync.Mutex // guards docs and deleted
	docs    map[string]store.BlockedIP
	deleted []string
}

func newFakeBlockStore(docs ...store.BlockedIP) *fakeBlockStore {
	s := &fakeBlockStore{docs: make(map[string]store.BlockedIP)}
	for _, d := range docs {
		s.docs[d.IP] = d
	}
	return s
}

func (s *fakeBlockStore) UpsertBlockedIP(_ context.Context, b store.BlockedIP) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[b.IP] = b
	return nil
}

func (s *fakeBlockStore) DeleteBlockedIP(_ context.Context, ip string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.docs, ip)
	s.deleted = append(s.deleted, ip)
	return nil
}

func (s *fakeBlockStore) BlockedIPs(context.Context) ([]store.BlockedIP, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.BlockedIP, 0, len(s.docs))
	for _, d := range s.docs {
		out = append(out, d)
	}
	return out, nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// newTestBlockList starts a BlockList, waits until it is ready and closes it
// when the test ends.
func newTestBlockList(t testing.TB, cfg BlockListConfig) *BlockList {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	b, err := NewBlockList(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("block list not ready after 10s")
	}
	return b
}

// eventually polls cond until it holds or within passes: it measures a
// latency bound (a block reaching another instance).
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestBlockListLocal(t *testing.T) {
	clock := newFakeClock()
	st := newFakeBlockStore()
	b := newTestBlockList(t, BlockListConfig{Now: clock.Now, Store: st})
	ctx := t.Context()

	if _, _, ok := b.Blocked("192.0.2.1"); ok {
		t.Fatal("blocked before any block")
	}
	if err := b.Block(ctx, "192.0.2.1", "manual", 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Block(ctx, "192.0.2.2", "rate", time.Hour); err != nil {
		t.Fatal(err)
	}
	until, reason, ok := b.Blocked("192.0.2.1")
	if !ok || reason != "manual" || !until.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("Blocked = %v %q %v, want 24h default", until, reason, ok)
	}
	list := b.List()
	if len(list) != 2 || list[0].IP != "192.0.2.1" || list[0].Temporary || list[1].IP != "192.0.2.2" || !list[1].Temporary {
		t.Errorf("List = %+v", list)
	}
	if err := b.Block(ctx, "", "x", 0); err == nil {
		t.Error("empty ip accepted")
	}

	clock.Advance(time.Hour) // the temporary block ends exactly now
	if _, _, ok := b.Blocked("192.0.2.2"); ok {
		t.Error("1h block still in force after 1h")
	}
	if _, _, ok := b.Blocked("192.0.2.1"); !ok {
		t.Error("24h block lifted after 1h")
	}
	if got := b.List(); len(got) != 1 || got[0].IP != "192.0.2.1" {
		t.Errorf("List after expiry = %+v", got)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := b.Stats().Entries; n != 1 {
		t.Errorf("entries after sweep = %d, want 1", n)
	}
	if err := b.Unblock(ctx, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := b.Blocked("192.0.2.1"); ok {
		t.Error("still blocked after Unblock")
	}

	if err := b.Close(ctx); err != nil { // drains the store writes
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	doc, ok := st.docs["192.0.2.2"]
	if !ok || !doc.Temporary || doc.Reason != "rate" || !doc.ExpiresAt.Equal(t0.Add(time.Hour)) || !doc.BlockedAt.Equal(t0) {
		t.Errorf("stored %+v", doc)
	}
	if _, ok := st.docs["192.0.2.1"]; ok || !slices.Equal(st.deleted, []string{"192.0.2.1"}) {
		t.Errorf("unblock not persisted: %v", st.deleted)
	}
}

func TestBlockListLoadsStore(t *testing.T) {
	clock := newFakeClock()
	st := newFakeBlockStore(
		store.BlockedIP{IP: "198.51.100.1", Reason: "old", BlockedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)},
		store.BlockedIP{IP: "198.51.100.2", Reason: "expired", BlockedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(-time.Minute)},
	)
	b := newTestBlockList(t, BlockListConfig{Now: clock.Now, Store: st})
	if _, reason, ok := b.Blocked("198.51.100.1"); !ok || reason != "old" {
		t.Error("active stored block not restored")
	}
	if _, _, ok := b.Blocked("198.51.100.2"); ok {
		t.Error("expired stored block restored")
	}
}

func TestBlockListBounded(t *testing.T) {
	clock := newFakeClock()
	b := newTestBlockList(t, BlockListConfig{Now: clock.Now, MaxEntries: 64})
	for i := range 1000 {
		if err := b.Block(t.Context(), fmt.Sprintf("10.9.%d.%d", i/256, i%256), "flood", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	st := b.Stats()
	if st.Entries > 64+blockShards || st.Dropped == 0 || st.Entries+int(st.Dropped) != 1000 {
		t.Errorf("stats %+v: want at most ~64 entries and the rest dropped", st)
	}
	// Expired entries make room.
	clock.Advance(time.Minute)
	if err := b.Block(t.Context(), "10.9.99.99", "fresh", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := b.Blocked("10.9.99.99"); !ok {
		t.Error("no room made by expired entries")
	}
}

func sharedConfig(addr string, clock *fakeClock) BlockListConfig {
	return BlockListConfig{
		Redis: redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond}),
		Now:   clock.Now,
	}
}

func closeClient(t *testing.T, c redis.UniversalClient) {
	t.Cleanup(func() { _ = c.Close() })
}

// newSharedPair starts a Redis server and two block lists sharing it, on one fake clock, and
// returns them with a client of the server.
func newSharedPair(t *testing.T) (srv *redistest.Server, clock *fakeClock, a, b *BlockList, rdb *redis.Client) {
	srv = redistest.Start(t)
	clock = newFakeClock()
	cfgA, cfgB := sharedConfig(srv.Addr(), clock), sharedConfig(srv.Addr(), clock)
	closeClient(t, cfgA.Redis)
	closeClient(t, cfgB.Redis)
	return srv, clock, newTestBlockList(t, cfgA), newTestBlockList(t, cfgB), srv.Client(t)
}

func TestBlockListShared(t *testing.T) {
	srv, clock, a, b, rdb := newSharedPair(t)
	ctx := t.Context()

	start := time.Now()
	if err := a.Block(ctx, "203.0.113.7", "ACTIVE_ATTACK_DETECTED (INC-1)", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := a.Blocked("203.0.113.7"); !ok {
		t.Fatal("not blocked on the instance that blocked")
	}
	eventually(t, time.Second, "block on A refused by B", func() bool { _, _, ok := b.Blocked("203.0.113.7"); return ok })
	t.Logf("block reached the other instance in %v", time.Since(start))
	until, reason, _ := b.Blocked("203.0.113.7")
	if reason != "ACTIVE_ATTACK_DETECTED (INC-1)" || !until.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("B sees %v %q", until, reason)
	}
	ttl, err := rdb.PTTL(ctx, "neko:block:203.0.113.7").Result()
	if err != nil || ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Errorf("redis TTL %v (%v), want about 10m", ttl, err)
	}

	// A new instance loads the current blocks at start-up.
	cfgC := sharedConfig(srv.Addr(), clock)
	closeClient(t, cfgC.Redis)
	c := newTestBlockList(t, cfgC)
	if _, _, ok := c.Blocked("203.0.113.7"); !ok {
		t.Error("a starting instance did not load the shared block")
	}

	// Unblocking on B lifts the block everywhere.
	if err := b.Unblock(ctx, "203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "unblock on B reaching A", func() bool { _, _, ok := a.Blocked("203.0.113.7"); return !ok })
	if n, _ := rdb.Exists(ctx, "neko:block:203.0.113.7").Result(); n != 0 {
		t.Error("unblocked key still in redis")
	}

	// Expiry: every instance stops refusing when the clock passes Until.
	if err := a.Block(ctx, "203.0.113.8", "rate", time.Minute); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "second block reaching B", func() bool { _, _, ok := b.Blocked("203.0.113.8"); return ok })
	clock.Advance(time.Minute)
	for name, bl := range map[string]*BlockList{"A": a, "B": b, "C": c} {
		if _, _, ok := bl.Blocked("203.0.113.8"); ok {
			t.Errorf("%s still refuses an expired block", name)
		}
	}

	// A resync reconciles: an address deleted behind the list's back (key
	// expired in Redis) leaves memory, the index set is pruned.
	if err := a.Block(ctx, "203.0.113.9", "x", time.Hour); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "third block reaching B", func() bool { _, _, ok := b.Blocked("203.0.113.9"); return ok })
	if err := rdb.Del(ctx, "neko:block:203.0.113.9").Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := b.Blocked("203.0.113.9"); ok {
		t.Error("resync kept a block gone from redis")
	}
	if ok, _ := rdb.SIsMember(ctx, "neko:blocks", "203.0.113.9").Result(); ok {
		t.Error("index set not pruned")
	}
}

func TestBlockListRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	clock := newFakeClock()
	cfg := sharedConfig(srv.Addr(), clock)
	cfg.RedisTimeout = 200 * time.Millisecond
	closeClient(t, cfg.Redis)
	a := newTestBlockList(t, cfg)
	ctx := t.Context()

	srv.Stop()
	if err := a.Block(ctx, "192.0.2.77", "while down", time.Hour); err != nil {
		t.Fatalf("Block with redis down: %v", err)
	}
	if _, _, ok := a.Blocked("192.0.2.77"); !ok {
		t.Fatal("local block not in force with redis down")
	}
	// Later calls skip redis for RetryAfter instead of waiting on it again.
	begin := time.Now()
	if err := a.Block(ctx, "192.0.2.78", "while down", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := a.Unblock(ctx, "192.0.2.78"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 100*time.Millisecond {
		t.Errorf("block and unblock with redis known down took %v", d)
	}
	if err := a.Sync(ctx); err == nil {
		t.Error("Sync with redis down reported no error")
	}
	if _, _, ok := a.Blocked("192.0.2.77"); !ok {
		t.Fatal("failed resync dropped the local block")
	}

	// Back: the next resync pushes what happened meanwhile.
	srv.Restart()
	if err := a.Sync(ctx); err != nil {
		t.Fatalf("Sync after restart: %v", err)
	}
	rdb := srv.Client(t)
	if n, _ := rdb.Exists(ctx, "neko:block:192.0.2.77").Result(); n != 1 {
		t.Error("block made during the outage not pushed to redis")
	}
	cfgB := sharedConfig(srv.Addr(), clock)
	closeClient(t, cfgB.Redis)
	b := newTestBlockList(t, cfgB)
	if _, _, ok := b.Blocked("192.0.2.77"); !ok {
		t.Error("other instance does not see the block made during the outage")
	}
	if _, _, ok := b.Blocked("192.0.2.78"); ok {
		t.Error("block lifted during the outage resurrected")
	}
	// The subscription reconnects by itself and resyncs when it does, so
	// even an event published before it is back arrives.
	if err := b.Block(ctx, "192.0.2.79", "after", time.Hour); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "event after reconnect", func() bool { _, _, ok := a.Blocked("192.0.2.79"); return ok })
}

// TestBlockListRestoresAfterRedisLoss is QA's report: Redis flushed or
// restarted empty must not lift the blocks the store still holds, while an
// unblock made during the outage stays in force.
func TestBlockListRestoresAfterRedisLoss(t *testing.T) {
	const x, y, z = "203.0.113.10", "203.0.113.11", "203.0.113.12"
	for _, tc := range []struct {
		name string
		lose func(t *testing.T, srv *redistest.Server, a *BlockList, st *fakeBlockStore)
		want []string // blocked everywhere and back in Redis
		gone []string // blocked nowhere and absent from Redis
	}{{
		name: "FLUSHALL",
		lose: func(t *testing.T, srv *redistest.Server, _ *BlockList, _ *fakeBlockStore) {
			if err := srv.Client(t).FlushAll(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
		},
		want: []string{x, y, z},
	}, {
		name: "restart, unblocked meanwhile",
		lose: func(t *testing.T, srv *redistest.Server, a *BlockList, st *fakeBlockStore) {
			srv.Stop()
			if err := a.Unblock(t.Context(), z); err != nil {
				t.Fatal(err)
			}
			eventually(t, time.Second, "unblock persisted", func() bool {
				st.mu.Lock()
				defer st.mu.Unlock()
				return slices.Contains(st.deleted, z)
			})
			// As if the store delete were still queued: the unblock must win.
			_ = st.UpsertBlockedIP(t.Context(), store.BlockedIP{IP: z, Reason: "stale", BlockedAt: t0, ExpiresAt: t0.Add(time.Hour)})
			srv.Restart()
		},
		want: []string{x, y},
		gone: []string{z},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			clock := newFakeClock()
			st := newFakeBlockStore()
			// Only A has the store, so A alone restores and the outcome does
			// not depend on which instance resyncs first.
			cfgA, cfgB := sharedConfig(srv.Addr(), clock), sharedConfig(srv.Addr(), clock)
			cfgA.Store = st
			cfgA.ResyncInterval, cfgB.ResyncInterval = time.Hour, time.Hour
			closeClient(t, cfgA.Redis)
			closeClient(t, cfgB.Redis)
			a, b := newTestBlockList(t, cfgA), newTestBlockList(t, cfgB)
			ctx := t.Context()

			for _, ip := range []string{x, z} {
				if err := a.Block(ctx, ip, "attack", time.Hour); err != nil {
					t.Fatal(err)
				}
				eventually(t, time.Second, ip+" reaching B", func() bool { _, _, ok := b.Blocked(ip); return ok })
			}
			eventually(t, time.Second, "blocks persisted", func() bool {
				docs, _ := st.BlockedIPs(ctx)
				return len(docs) == 2
			})
			// A block only the store knows, as one of a stopped instance.
			_ = st.UpsertBlockedIP(ctx, store.BlockedIP{IP: y, Reason: "old", BlockedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(2 * time.Hour)})

			tc.lose(t, srv, a, st)
			for _, bl := range []*BlockList{a, b} {
				if err := bl.Sync(ctx); err != nil {
					t.Fatal(err)
				}
			}

			rdb := srv.Client(t)
			for name, bl := range map[string]*BlockList{"A": a, "B": b} {
				for _, ip := range tc.want {
					if _, _, ok := bl.Blocked(ip); !ok {
						t.Errorf("%s no longer blocks %s after resync", name, ip)
					}
				}
				for _, ip := range tc.gone {
					if _, _, ok := bl.Blocked(ip); ok {
						t.Errorf("%s blocks %s again", name, ip)
					}
				}
			}
			for _, ip := range tc.want {
				n, _ := rdb.Exists(ctx, "neko:block:"+ip).Result()
				in, _ := rdb.SIsMember(ctx, "neko:blocks", ip).Result()
				if n != 1 || !in {
					t.Errorf("%s not back in redis (key %d, indexed %v)", ip, n, in)
				}
			}
			for _, ip := range tc.gone {
				if n, _ := rdb.Exists(ctx, "neko:block:"+ip).Result(); n != 0 {
					t.Errorf("unblocked %s back in redis", ip)
				}
			}
		})
	}
}

func TestBlockListValidates(t *testing.T) {
	for _, cfg := range []BlockListConfig{{DefaultDuration: -1}, {MaxEntries: -1}, {ResyncInterval: -time.Second}} {
		if b, err := NewBlockList(cfg); err == nil {
			_ = b.Close(context.Background())
			t.Errorf("NewBlockList(%+v) accepted", cfg)
		}
	}
	if !errors.Is(context.Canceled, context.Canceled) {
		t.Fatal("unreachable")
	}
}

func BenchmarkBlocked(b *testing.B) {
	bl := newTestBlockList(b, BlockListConfig{Logger: slog.New(slog.DiscardHandler)})
	for i := range 10_000 {
		_ = bl.Block(context.Background(), fmt.Sprintf("10.8.%d.%d", i/256, i%256), "bench", time.Hour)
	}
	ips := []string{"10.8.1.1", "192.0.2.1", "10.8.30.7", "198.51.100.4"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			bl.Blocked(ips[i%len(ips)])
			i++
		}
	})
}

// An unblock is final: an instance that starts while the store still holds the lifted block (its
// delete lost, or overtaken by the block's own write) enforces Redis's list, not the stale copy,
// and brings it back on no instance.
func TestBlockListStartWithStaleStoreKeepsUnblock(t *testing.T) {
	const ip = "203.0.113.20"
	srv := redistest.Start(t)
	clock := newFakeClock()
	cfgA := sharedConfig(srv.Addr(), clock)
	cfgA.Store = newFakeBlockStore()
	closeClient(t, cfgA.Redis)
	a := newTestBlockList(t, cfgA)
	ctx := t.Context()
	if err := a.Block(ctx, ip, "attack", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil { // in Redis, and Redis marked as holding the store's blocks
		t.Fatal(err)
	}
	if err := a.Unblock(ctx, ip); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	stale := newFakeBlockStore(store.BlockedIP{IP: ip, Reason: "attack", BlockedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	cfgC := sharedConfig(srv.Addr(), clock)
	cfgC.Store = stale
	closeClient(t, cfgC.Redis)
	c := newTestBlockList(t, cfgC) // starts: loads the store, then resyncs with Redis
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for name, bl := range map[string]*BlockList{"the new instance": c, "the old one": a} {
		if _, _, ok := bl.Blocked(ip); ok {
			t.Errorf("%s blocks %s again", name, ip)
		}
	}
	if n, _ := srv.Client(t).Exists(ctx, "neko:block:"+ip).Result(); n != 0 {
		t.Errorf("the lifted block is back in Redis")
	}
}

// The list refuses addresses no client sends from, this host's own and the trusted proxies',
// whoever asks (Block) and wherever a block comes from (here the Store).
func TestBlockListRefusesUnblockable(t *testing.T) {
	clock := newFakeClock()
	st := newFakeBlockStore(
		store.BlockedIP{IP: "127.0.0.1", Reason: "old /.env from localhost", BlockedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		store.BlockedIP{IP: "10.1.2.3", Reason: "old proxy block", BlockedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	)
	b := newTestBlockList(t, BlockListConfig{Now: clock.Now, Store: st,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fdaa::/16")}})
	for _, ip := range []string{"127.0.0.1", "10.1.2.3"} {
		if _, _, ok := b.Blocked(ip); ok {
			t.Errorf("stored block of %s restored", ip)
		}
	}
	for _, tc := range []struct {
		ip      string
		refused bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"0.0.0.0", true},
		{"::", true},
		{"255.255.255.255", true},
		{"10.1.2.3", true},
		{"fdaa:0:1::2", true},
		{"11.1.2.3", false},
		{"198.51.100.9", false},
		{"2001:db8::9", false},
	} {
		t.Run(tc.ip, func(t *testing.T) {
			err := b.Block(t.Context(), tc.ip, "test", time.Hour)
			if errors.Is(err, ErrNotBlockable) != tc.refused || (!tc.refused && err != nil) {
				t.Fatalf("Block(%s) = %v, want refused %v", tc.ip, err, tc.refused)
			}
			if _, _, ok := b.BlockedClient(clientkey.FromString(tc.ip), tc.ip); ok == tc.refused {
				t.Errorf("Blocked(%s) = %v, want %v", tc.ip, ok, !tc.refused)
			}
		})
	}
}

// TestBlockListIPv6BlocksPrefix checks that a block of an IPv6 address covers its /64, which
// the holder of the address can rotate through at will, that rotating blocked addresses inside
// it makes one entry instead of filling the list, and that IPv4 stays per address.
func TestBlockListIPv6BlocksPrefix(t *testing.T) {
	clock := newFakeClock()
	st := newFakeBlockStore()
	b := newTestBlockList(t, BlockListConfig{Now: clock.Now, Store: st, MaxEntries: 64})
	ctx := t.Context()
	for i := range 1000 { // a client blocked again and again as it rotates its address
		if err := b.Block(ctx, fmt.Sprintf("2001:db8:1:2::%x", i+1), "honeypot", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.Stats(); st.Entries != 1 || st.Dropped != 0 {
		t.Fatalf("stats %+v after 1000 blocks inside one /64: want 1 entry, none dropped", st)
	}
	list := b.List()
	if len(list) != 1 || list[0].IP != "2001:db8:1:2::/64" {
		t.Fatalf("List() = %+v, want the one /64", list)
	}
	for _, c := range []struct {
		addr    string
		blocked bool
	}{
		{"2001:db8:1:2::1", true},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", true}, // never blocked itself
		{"2001:db8:1:3::1", false},                 // the next /64
		{"2001:db8:1:1:ffff:ffff:ffff:ffff", false},
	} {
		key := clientkey.FromString(c.addr)
		if _, _, ok := b.BlockedClient(key, c.addr); ok != c.blocked {
			t.Errorf("BlockedClient(%s, %s) = %v, want %v", key, c.addr, ok, c.blocked)
		}
	}
	// IPv4 is per address, byte for byte as before.
	if err := b.Block(ctx, "203.0.113.7", "x", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := b.BlockedClient("203.0.113.7", "203.0.113.7"); !ok {
		t.Error("IPv4 address not blocked")
	}
	if _, _, ok := b.BlockedClient("203.0.113.8", "203.0.113.8"); ok {
		t.Error("IPv4 neighbour blocked")
	}
	if err := b.Close(ctx); err != nil { // flushes the Store writes
		t.Fatal(err)
	}
	st.mu.Lock()
	_, prefixStored := st.docs["2001:db8:1:2::/64"]
	_, v4Stored := st.docs["203.0.113.7"]
	n := len(st.docs)
	st.mu.Unlock()
	if !prefixStored || !v4Stored || n != 2 {
		t.Errorf("stored %d blocks (prefix %v, IPv4 %v), want the /64 and the IPv4 address", n, prefixStored, v4Stored)
	}
}

// TestBlockListIPv6UnblockAndLegacy checks blocks of single IPv6 addresses stored before blocks
// covered a /64: they still refuse that address (and only it) until they expire, and unblocking
// any address of the /64 lifts both them and the /64's block, in memory and in the Store.
func TestBlockListIPv6UnblockAndLegacy(t *testing.T) {
	clock := newFakeClock()
	st := newFakeBlockStore(store.BlockedIP{IP: "2001:db8:1:2::1", Reason: "old", BlockedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)})
	b := newTestBlockList(t, BlockListConfig{Now: clock.Now, Store: st})
	key := "2001:db8:1:2::/64"
	if _, reason, ok := b.BlockedClient(key, "2001:db8:1:2::1"); !ok || reason != "old" {
		t.Errorf("stored per-address block not enforced: %v %q", ok, reason)
	}
	if _, _, ok := b.BlockedClient(key, "2001:db8:1:2::2"); ok {
		t.Error("a per-address block covers its whole /64")
	}
	if err := b.Block(t.Context(), "2001:db8:1:2::5", "new", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.Unblock(t.Context(), "2001:db8:1:2::1"); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2::5"} {
		if _, _, ok := b.BlockedClient(key, addr); ok {
			t.Errorf("%s still blocked after unblocking its /64", addr)
		}
	}
	if err := b.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.docs) != 0 || !slices.Contains(st.deleted, key) || !slices.Contains(st.deleted, "2001:db8:1:2::1") {
		t.Errorf("store docs %v, deleted %v: want the /64 and the old address deleted", st.docs, st.deleted)
	}
}

// TestBlockListIPv6Shared checks that /64 blocks round-trip through Redis (events, the resync of
// a starting instance) and that a per-address IPv6 block written by an older instance is still
// enforced, and lifted by unblocking that address.
func TestBlockListIPv6Shared(t *testing.T) {
	srv, clock, a, b, rdb := newSharedPair(t)
	ctx := t.Context()
	const key = "2001:db8:1:2::/64"

	if err := a.Block(ctx, "2001:db8:1:2::1", "honeypot", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "IPv6 block on A reaching B", func() bool {
		_, _, ok := b.BlockedClient(key, "2001:db8:1:2::7")
		return ok
	})
	if ttl, err := rdb.PTTL(ctx, "neko:block:"+key).Result(); err != nil || ttl <= 9*time.Minute {
		t.Errorf("redis key of the /64: TTL %v (%v)", ttl, err)
	}
	// An older instance blocked a single address of another /64.
	const legacy = "2001:db8:9:9::1"
	if err := rdb.Set(ctx, "neko:block:"+legacy, `{"reason":"old","blockedAt":0,"until":`+fmt.Sprint(t0.Add(time.Hour).UnixMilli())+`}`, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.SAdd(ctx, "neko:blocks", legacy).Err(); err != nil {
		t.Fatal(err)
	}
	cfgC := sharedConfig(srv.Addr(), clock)
	closeClient(t, cfgC.Redis)
	c := newTestBlockList(t, cfgC) // loads the shared list at start-up
	if _, _, ok := c.BlockedClient(key, "2001:db8:1:2::99"); !ok {
		t.Error("a starting instance did not load the /64 block")
	}
	if _, _, ok := c.BlockedClient("2001:db8:9:9::/64", legacy); !ok {
		t.Error("a per-address block in redis is not enforced")
	}
	if err := c.Unblock(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "unblock of the old address reaching A", func() bool {
		_, _, ok := a.BlockedClient("2001:db8:9:9::/64", legacy)
		return !ok && a.Sync(ctx) == nil
	})
	if n, _ := rdb.Exists(ctx, "neko:block:"+legacy).Result(); n != 0 {
		t.Error("the old per-address key is still in redis")
	}
}

// A stored block of a whole /64 is refused like an address when it holds this host's loopback or
// a trusted proxy's range.
func TestBlockListRefusesUnblockablePrefixes(t *testing.T) {
	st := newFakeBlockStore(
		store.BlockedIP{IP: "::/64", Reason: "holds ::1", BlockedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		store.BlockedIP{IP: "fdaa:0:1:2::/64", Reason: "a proxy's", BlockedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		store.BlockedIP{IP: "2001:db8:1:2::/64", Reason: "a client's", BlockedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	)
	b := newTestBlockList(t, BlockListConfig{Now: newFakeClock().Now, Store: st,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("fdaa::/16")}})
	for key, want := range map[string]bool{"::/64": false, "fdaa:0:1:2::/64": false, "2001:db8:1:2::/64": true} {
		if _, _, ok := b.Blocked(key); ok != want {
			t.Errorf("stored block of %s restored = %v, want %v", key, ok, want)
		}
	}
}
