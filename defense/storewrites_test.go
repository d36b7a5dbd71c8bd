package defense

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/neko-defense/neko/internal/redistest"
	"github.com/neko-defense/neko/store"
)

// flakyBlockStore is a fakeBlockStore whose writes fail while failing is set,
// as MongoDB's do while its breaker is open. Reads keep working: the tests
// want the Store to be read while writes are still pending.
type flakyBlockStore struct {
	*fakeBlockStore
	mu      sync.Mutex // guards failing and writes
	failing bool
	writes  []string // "upsert ip reason" or "delete ip", successful ones only
}

var errStoreDown = errors.New("store down")

func newFlakyBlockStore(docs ...store.BlockedIP) *flakyBlockStore {
	return &flakyBlockStore{fakeBlockStore: newFakeBlockStore(docs...)}
}

func (s *flakyBlockStore) setFailing(v bool) {
	s.mu.Lock()
	s.failing = v
	s.mu.Unlock()
}

func (s *flakyBlockStore) UpsertBlockedIP(ctx context.Context, b store.BlockedIP) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errStoreDown
	}
	s.writes = append(s.writes, "upsert "+b.IP+" "+b.Reason)
	return s.fakeBlockStore.UpsertBlockedIP(ctx, b)
}

func (s *flakyBlockStore) DeleteBlockedIP(ctx context.Context, ip string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errStoreDown
	}
	s.writes = append(s.writes, "delete "+ip)
	return s.fakeBlockStore.DeleteBlockedIP(ctx, ip)
}

func (s *flakyBlockStore) written() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

func (s *flakyBlockStore) doc(ip string) (store.BlockedIP, bool) {
	s.fakeBlockStore.mu.Lock()
	defer s.fakeBlockStore.mu.Unlock()
	d, ok := s.docs[ip]
	return d, ok
}

// drain returns once every Store write queued so far has run: the queue has
// one worker, so a job queued now runs after them.
func drain(t *testing.T, b *BlockList) {
	t.Helper()
	done := make(chan struct{})
	if !b.writes.push(func(context.Context) { close(done) }) {
		t.Fatal("store queue full or closed")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("store writes still running after 10s")
	}
}

// resync runs a resync (which queues the failed writes again) and waits for
// the writes it queued.
func resync(t *testing.T, b *BlockList) {
	t.Helper()
	if err := b.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	drain(t, b)
}

// QA's report: blocks and unblocks made while the database fails reach it
// once it is back, instead of living in memory and Redis only.
func TestBlockListRetriesStoreWrites(t *testing.T) {
	const blocked, lifted = "192.0.2.10", "192.0.2.11"
	clock := newFakeClock()
	st := newFlakyBlockStore(store.BlockedIP{IP: lifted, Reason: "old", BlockedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	b := newTestBlockList(t, BlockListConfig{Now: clock.Now, Store: st, ResyncInterval: time.Hour})
	ctx := t.Context()

	st.setFailing(true)
	if err := b.Block(ctx, blocked, "manual", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.Unblock(ctx, lifted); err != nil {
		t.Fatal(err)
	}
	drain(t, b)
	resync(t, b) // retried, still failing
	if _, ok := st.doc(blocked); ok {
		t.Fatal("block stored while the store fails")
	}
	if n := b.Stats().StorePending; n != 2 {
		t.Fatalf("StorePending = %d while the store fails, want 2", n)
	}

	st.setFailing(false)
	resync(t, b)
	if d, ok := st.doc(blocked); !ok || d.Reason != "manual" || !d.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("block after the store recovered: %+v, %v", d, ok)
	}
	if _, ok := st.doc(lifted); ok {
		t.Error("unblock not persisted after the store recovered")
	}
	if s := b.Stats(); s.StorePending != 0 || s.StoreLost != 0 {
		t.Errorf("stats %+v after recovery, want nothing pending or lost", s)
	}
	want := []string{"delete " + lifted, "upsert " + blocked + " manual"} // in any order
	w := st.written()
	slices.Sort(w)
	if !slices.Equal(w, want) {
		t.Errorf("writes %q, want each change written once: %q", w, want)
	}
}

// Only the latest change of a key reaches the Store: a pending write replaced
// by a later change of the same key is never made.
func TestBlockListStoreWritesSuperseded(t *testing.T) {
	const ip = "192.0.2.20"
	for _, tc := range []struct {
		name    string
		changes func(ctx context.Context, b *BlockList) error
		want    []string // the writes made once the store is back
		stored  string   // the reason stored, "" for none
	}{{
		name: "block then unblock",
		changes: func(ctx context.Context, b *BlockList) error {
			return errors.Join(b.Block(ctx, ip, "first", time.Hour), b.Unblock(ctx, ip))
		},
		want: []string{"delete " + ip},
	}, {
		name: "unblock then block",
		changes: func(ctx context.Context, b *BlockList) error {
			return errors.Join(b.Unblock(ctx, ip), b.Block(ctx, ip, "again", time.Hour))
		},
		want:   []string{"upsert " + ip + " again"},
		stored: "again",
	}, {
		name: "block twice",
		changes: func(ctx context.Context, b *BlockList) error {
			return errors.Join(b.Block(ctx, ip, "first", time.Hour), b.Block(ctx, ip, "second", 2*time.Hour))
		},
		want:   []string{"upsert " + ip + " second"},
		stored: "second",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			st := newFlakyBlockStore(store.BlockedIP{IP: ip, Reason: "old", BlockedAt: t0, ExpiresAt: t0.Add(time.Hour)})
			b := newTestBlockList(t, BlockListConfig{Now: clock.Now, Store: st, ResyncInterval: time.Hour})
			st.setFailing(true)
			if err := tc.changes(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			drain(t, b)
			if n := b.Stats().StorePending; n != 1 {
				t.Fatalf("StorePending = %d, want 1 (the latest change)", n)
			}
			st.setFailing(false)
			resync(t, b)
			if w := st.written(); !slices.Equal(w, tc.want) {
				t.Errorf("writes %q, want %q", w, tc.want)
			}
			d, ok := st.doc(ip)
			if tc.stored == "" && ok || tc.stored != "" && d.Reason != tc.stored {
				t.Errorf("stored %+v (%v), want reason %q", d, ok, tc.stored)
			}
		})
	}
}

// With the database failing, an unblock whose delete has not landed is not
// brought back by a resync that restores Redis's lost blocks from the Store,
// and a block whose upsert has not landed is not lost by it; both reach the
// Store once it is back.
func TestBlockListPendingWritesSurviveRestore(t *testing.T) {
	const lifted, blocked = "203.0.113.30", "203.0.113.31"
	srv, clock := redistest.Start(t), newFakeClock()
	st := newFlakyBlockStore()
	cfg := sharedConfig(srv.Addr(), clock)
	cfg.Store, cfg.ResyncInterval = st, time.Hour
	closeClient(t, cfg.Redis)
	a := newTestBlockList(t, cfg)
	ctx := t.Context()

	if err := a.Block(ctx, lifted, "attack", time.Hour); err != nil {
		t.Fatal(err)
	}
	resync(t, a) // stored, and Redis marked as holding the store's blocks
	if _, ok := st.doc(lifted); !ok {
		t.Fatal("block not stored while the store works")
	}

	st.setFailing(true)
	if err := a.Unblock(ctx, lifted); err != nil {
		t.Fatal(err)
	}
	if err := a.Block(ctx, blocked, "new", time.Hour); err != nil {
		t.Fatal(err)
	}
	drain(t, a)
	if err := srv.Client(t).FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	resync(t, a) // restores from the store, whose writes still fail

	rdb := srv.Client(t)
	if _, _, ok := a.Blocked(lifted); ok {
		t.Error("lifted block brought back from the store")
	}
	if n, _ := rdb.Exists(ctx, "neko:block:"+lifted).Result(); n != 0 {
		t.Error("lifted block restored to redis")
	}
	if _, _, ok := a.Blocked(blocked); !ok {
		t.Error("block not yet stored lost by the restore")
	}
	if n, _ := rdb.Exists(ctx, "neko:block:"+blocked).Result(); n != 1 {
		t.Error("block not yet stored not restored to redis")
	}

	st.setFailing(false)
	resync(t, a)
	if _, ok := st.doc(lifted); ok {
		t.Error("unblock not persisted after the store recovered")
	}
	if _, ok := st.doc(blocked); !ok {
		t.Error("block not persisted after the store recovered")
	}
	if n := a.Stats().StorePending; n != 0 {
		t.Errorf("StorePending = %d after recovery", n)
	}
}

// A change another instance makes to a key replaces this instance's pending
// write of it: the other instance persists its own, and this older write
// landing later would undo it in the Store.
func TestBlockListRemoteChangeSupersedesPendingWrite(t *testing.T) {
	const ip = "203.0.113.40"
	for _, tc := range []struct {
		name          string
		onA, onB      func(ctx context.Context, b *BlockList) error
		blockedAfterB bool
	}{{
		name:          "A blocks, B unblocks",
		onA:           func(ctx context.Context, b *BlockList) error { return b.Block(ctx, ip, "on A", time.Hour) },
		onB:           func(ctx context.Context, b *BlockList) error { return b.Unblock(ctx, ip) },
		blockedAfterB: false,
	}, {
		name:          "A unblocks, B blocks",
		onA:           func(ctx context.Context, b *BlockList) error { return b.Unblock(ctx, ip) },
		onB:           func(ctx context.Context, b *BlockList) error { return b.Block(ctx, ip, "on B", time.Hour) },
		blockedAfterB: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, clock := redistest.Start(t), newFakeClock()
			st := newFlakyBlockStore()
			cfgA, cfgB := sharedConfig(srv.Addr(), clock), sharedConfig(srv.Addr(), clock)
			cfgA.Store, cfgB.Store = st, newFakeBlockStore()
			cfgA.ResyncInterval, cfgB.ResyncInterval = time.Hour, time.Hour
			closeClient(t, cfgA.Redis)
			closeClient(t, cfgB.Redis)
			a, b := newTestBlockList(t, cfgA), newTestBlockList(t, cfgB)
			ctx := t.Context()

			st.setFailing(true)
			if err := tc.onA(ctx, a); err != nil {
				t.Fatal(err)
			}
			drain(t, a)
			if n := a.Stats().StorePending; n != 1 {
				t.Fatalf("StorePending = %d on A, want 1", n)
			}
			eventually(t, time.Second, "A's change reaching B", func() bool { _, _, ok := b.Blocked(ip); return ok != tc.blockedAfterB })
			if err := tc.onB(ctx, b); err != nil {
				t.Fatal(err)
			}
			eventually(t, time.Second, "B's change reaching A", func() bool { _, _, ok := a.Blocked(ip); return ok == tc.blockedAfterB })
			if n := a.Stats().StorePending; n != 0 {
				t.Errorf("StorePending = %d on A after B's change, want 0", n)
			}
			st.setFailing(false)
			resync(t, a)
			if w := st.written(); len(w) != 0 {
				t.Errorf("A wrote %q after B's change", w)
			}
		})
	}
}

// A resync that finds the shared list changed a key behind this instance's
// back (another instance's event missed) drops the pending write of the key
// too, as the event would have.
func TestBlockListResyncSupersedesPendingWrite(t *testing.T) {
	const ip = "203.0.113.50"
	for _, tc := range []struct {
		name    string
		local   func(ctx context.Context, b *BlockList) error
		behind  func(ctx context.Context, rdb *redis.Client) error
		blocked bool
	}{{
		name:  "blocked here, lifted elsewhere",
		local: func(ctx context.Context, b *BlockList) error { return b.Block(ctx, ip, "here", time.Hour) },
		behind: func(ctx context.Context, rdb *redis.Client) error {
			return errors.Join(rdb.Del(ctx, "neko:block:"+ip).Err(), rdb.SRem(ctx, "neko:blocks", ip).Err())
		},
	}, {
		name:  "lifted here, blocked elsewhere",
		local: func(ctx context.Context, b *BlockList) error { return b.Unblock(ctx, ip) },
		behind: func(ctx context.Context, rdb *redis.Client) error {
			val := fmt.Sprintf(`{"reason":"elsewhere","blockedAt":%d,"until":%d}`, t0.UnixMilli(), t0.Add(time.Hour).UnixMilli())
			return errors.Join(rdb.Set(ctx, "neko:block:"+ip, val, time.Hour).Err(), rdb.SAdd(ctx, "neko:blocks", ip).Err())
		},
		blocked: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, clock := redistest.Start(t), newFakeClock()
			st := newFlakyBlockStore()
			cfg := sharedConfig(srv.Addr(), clock)
			cfg.Store, cfg.ResyncInterval = st, time.Hour
			closeClient(t, cfg.Redis)
			a := newTestBlockList(t, cfg)
			ctx := t.Context()

			st.setFailing(true)
			if err := tc.local(ctx, a); err != nil {
				t.Fatal(err)
			}
			drain(t, a)
			if err := tc.behind(ctx, srv.Client(t)); err != nil {
				t.Fatal(err)
			}
			resync(t, a)
			if _, _, ok := a.Blocked(ip); ok != tc.blocked {
				t.Fatalf("blocked = %v after the resync, want %v", ok, tc.blocked)
			}
			if n := a.Stats().StorePending; n != 0 {
				t.Errorf("StorePending = %d after the resync, want 0", n)
			}
			st.setFailing(false)
			resync(t, a)
			if w := st.written(); len(w) != 0 {
				t.Errorf("wrote %q after the shared list changed the key", w)
			}
		})
	}
}

// At most StorePending keys wait: past it, expired blocks make room, and a
// new key's write is tried once and counted as lost when it fails.
func TestBlockListStoreWritesBounded(t *testing.T) {
	clock := newFakeClock()
	st := newFlakyBlockStore()
	b := newTestBlockList(t, BlockListConfig{Now: clock.Now, Store: st, StorePending: 4, ResyncInterval: time.Hour})
	ctx := t.Context()
	st.setFailing(true)

	block := func(ip, reason string, d time.Duration) {
		t.Helper()
		if err := b.Block(ctx, ip, reason, d); err != nil {
			t.Fatal(err)
		}
		drain(t, b)
	}
	block("192.0.2.1", "short", time.Minute)
	for i := 2; i <= 4; i++ {
		block(fmt.Sprintf("192.0.2.%d", i), "long", time.Hour)
	}
	block("192.0.2.5", "over", time.Hour) // no room: tried once
	if s := b.Stats(); s.StorePending != 4 || s.StoreLost != 1 {
		t.Fatalf("stats %+v, want 4 pending and 1 lost", s)
	}
	block("192.0.2.2", "changed", time.Hour) // a waiting key changes in place
	if s := b.Stats(); s.StorePending != 4 || s.StoreLost != 1 {
		t.Fatalf("stats %+v after changing a waiting key, want 4 pending and 1 lost", s)
	}
	clock.Advance(time.Minute) // the short block expires and makes room
	block("192.0.2.6", "room", time.Hour)
	if s := b.Stats(); s.StorePending != 4 || s.StoreLost != 1 {
		t.Fatalf("stats %+v after an expired write made room, want 4 pending and 1 lost", s)
	}

	st.setFailing(false)
	resync(t, b)
	for ip, want := range map[string]string{"192.0.2.1": "", "192.0.2.2": "changed", "192.0.2.3": "long",
		"192.0.2.4": "long", "192.0.2.5": "", "192.0.2.6": "room"} {
		if d, ok := st.doc(ip); ok != (want != "") || d.Reason != want {
			t.Errorf("%s stored %+v (%v), want reason %q", ip, d, ok, want)
		}
	}
	if s := b.Stats(); s.StorePending != 0 || s.StoreLost != 1 {
		t.Errorf("stats %+v after recovery, want none pending and 1 lost", s)
	}
}
