package cache

import (
	"context"
	"testing"
	"time"

	"github.com/neko-defense/neko/internal/redistest"
)

func TestInvalidateAcrossInstances(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	writer := newTiered(t, Config{Redis: srv.Client(t), KeyPrefix: "x:"})
	reader := newTiered(t, Config{Redis: srv.Client(t), KeyPrefix: "x:"})
	actors := &counter{body: "actors", tags: []string{"ThreatActor"}}
	agents := &counter{body: "agents", tags: []string{"DINAAgent"}}
	for _, c := range []*Tiered{writer, reader} {
		if _, _, err := c.Do(ctx, "actors", minute, actors.fill); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Do(ctx, "agents", minute, agents.fill); err != nil {
			t.Fatal(err)
		}
	}
	if actors.calls.Load() != 1 {
		t.Fatalf("fills = %d, want 1 (the second instance hits L2)", actors.calls.Load())
	}

	start := time.Now()
	if err := writer.Invalidate(ctx, "ThreatActor"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := writer.Get(ctx, "actors"); ok {
		t.Error("the invalidating instance still serves the entry after Invalidate returned")
	}
	waitFor(t, 2*time.Second, func() bool {
		_, _, ok := reader.Get(ctx, "actors")
		return !ok
	})
	if d := time.Since(start); d > time.Second {
		t.Errorf("the other instance stopped serving after %v, want within 1s", d)
	}
	if _, st, ok := reader.Get(ctx, "agents"); !ok || st != Hit {
		t.Errorf("unrelated entry on the other instance = %v, %v; want HIT", st, ok)
	}

	// L2 is invalidated too: a third instance refills instead of reading the old entry.
	third := newTiered(t, Config{Redis: srv.Client(t), KeyPrefix: "x:"})
	e, st, err := third.Do(ctx, "actors", minute, actors.fill)
	if err != nil || st != Miss || string(e.Body) != "actors#2" {
		t.Fatalf("third instance Do = %q, %v, %v; want actors#2, MISS", e.Body, st, err)
	}
	// And the refill is shared again.
	if e, st, err := reader.Do(ctx, "actors", minute, actors.fill); err != nil || st != Hit || string(e.Body) != "actors#2" {
		t.Fatalf("reader Do after refill = %q, %v, %v; want actors#2, HIT", e.Body, st, err)
	}
}

func TestInvalidationReplayedWhenRedisReturns(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	hook := &cmdCounter{prefix: "r:"}
	wrdb := srv.Client(t)
	wrdb.AddHook(hook)
	writer := newTiered(t, Config{Redis: wrdb, KeyPrefix: "r:"})
	reader := newTiered(t, Config{Redis: srv.Client(t), KeyPrefix: "r:"})
	f := &counter{body: "incidents", tags: []string{"Incident"}}
	if _, _, err := reader.Do(ctx, "k", minute, f.fill); err != nil {
		t.Fatal(err)
	}

	// The writer cannot reach Redis (the reader can): the invalidation is local and pending.
	hook.fail.Store(true)
	if err := writer.Invalidate(ctx, "Incident"); err != nil {
		t.Fatalf("Invalidate = %v, want nil", err)
	}
	if !writer.tags.hasPending() {
		t.Fatal("no pending invalidation after a Redis failure")
	}
	if _, _, ok := reader.Get(ctx, "k"); !ok {
		t.Fatal("reader lost the entry although no invalidation reached Redis")
	}

	hook.fail.Store(false)
	writer.poke() // what a reconnect or the backoff timer does
	waitFor(t, 2*time.Second, func() bool {
		_, _, ok := reader.Get(ctx, "k")
		return !ok && !writer.tags.hasPending()
	})
}

func TestEpochChangeInvalidatesEverything(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	c := newTiered(t, Config{Redis: rdb, KeyPrefix: "e:"})
	f := &counter{body: "v", tags: []string{"ThreatActor"}}
	if _, _, err := c.Do(ctx, "k", minute, f.fill); err != nil {
		t.Fatal(err)
	}
	// Redis loses its data (FLUSHALL, or a restart without persistence): counters restart at 0,
	// which must not make entries stamped with old versions valid again.
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	old := c.tags.load().epoch
	if err := c.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if c.tags.load().epoch == old {
		t.Fatal("epoch unchanged after Redis lost its data")
	}
	if _, _, ok := c.Get(ctx, "k"); ok {
		t.Error("entry from the old epoch is still served")
	}
	if e, st, err := c.Do(ctx, "k", minute, f.fill); err != nil || st != Miss || string(e.Body) != "v#2" {
		t.Fatalf("Do = %q, %v, %v; want v#2, MISS", e.Body, st, err)
	}
}
