package cache

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
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
		if _, _, err := c.Do(ctx, "actors", actors.policy(minute), actors.fill); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Do(ctx, "agents", agents.policy(minute), agents.fill); err != nil {
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
	e, st, err := third.Do(ctx, "actors", actors.policy(minute), actors.fill)
	if err != nil || st != Miss || string(e.Body) != "actors#2" {
		t.Fatalf("third instance Do = %q, %v, %v; want actors#2, MISS", e.Body, st, err)
	}
	// And the refill is shared again.
	if e, st, err := reader.Do(ctx, "actors", actors.policy(minute), actors.fill); err != nil || st != Hit || string(e.Body) != "actors#2" {
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
	if _, _, err := reader.Do(ctx, "k", f.policy(minute), f.fill); err != nil {
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
	if _, _, err := c.Do(ctx, "k", f.policy(minute), f.fill); err != nil {
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
	if e, st, err := c.Do(ctx, "k", f.policy(minute), f.fill); err != nil || st != Miss || string(e.Body) != "v#2" {
		t.Fatalf("Do = %q, %v, %v; want v#2, MISS", e.Body, st, err)
	}
}

// A fill whose tag this instance has never seen, racing another instance's invalidation of that
// tag whose message has not arrived yet: the version Redis gives when the fill ends is the one
// after the invalidation, but the fill may have read the data before it. Stamping the entry with
// that version kept the old answer as a HIT on this instance until its max-age (QA saw a
// getDINAAgent answer stale for up to 60 s on one of three instances). The fill must not be
// stored; the next one, which starts with the tag known, is.
func TestFillRacingUnheardInvalidationOfNewTag(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	reader := newTiered(t, Config{Redis: srv.Client(t), KeyPrefix: "n:"})
	waitFor(t, 2*time.Second, func() bool { return reader.tags.load().epoch != 0 })
	calls := 0
	fill := func(context.Context) (Entry, error) {
		calls++
		if calls == 1 {
			// Another instance invalidates DINAAgent while this fill runs (after it read the
			// database): its INCR reaches Redis, its pub/sub message has not reached us yet.
			if err := rdb.Incr(ctx, "n:"+tagKeyPart+"DINAAgent").Err(); err != nil {
				t.Fatal(err)
			}
			return Entry{Body: []byte("old"), Tags: []string{"DINAAgent"}}, nil
		}
		return Entry{Body: []byte("new"), Tags: []string{"DINAAgent"}}, nil
	}
	if e, st, err := reader.Do(ctx, "agent", minute, fill); err != nil || st != Miss || string(e.Body) != "old" {
		t.Fatalf("first Do = %q, %v, %v; want old, MISS", e.Body, st, err)
	}
	e, st, err := reader.Do(ctx, "agent", minute, fill)
	if err != nil || st != Miss || string(e.Body) != "new" {
		t.Fatalf("Do after the racing invalidation = %q, %v, %v; want new, MISS (the old answer was stored)", e.Body, st, err)
	}
	if e, st, err := reader.Do(ctx, "agent", minute, fill); err != nil || st != Hit || string(e.Body) != "new" {
		t.Fatalf("third Do = %q, %v, %v; want new, HIT (a fill with the tag known is stored)", e.Body, st, err)
	}
}

// A caller that arrives after an invalidation does not join a flight that started before it: that
// fill may have read the data before the write, and the caller (the writer reading its own write,
// or anyone after the message arrived) must see the new data.
func TestFlightNotJoinedAcrossInvalidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTiered(t, Config{FillTimeout: time.Minute})
		ctx := context.Background()
		release := make(chan struct{})
		fills := 0
		fill := func(context.Context) (Entry, error) {
			fills++
			if fills == 1 {
				<-release // reads the data before the write below, answers after it
				return Entry{Body: []byte("old"), Tags: []string{"DINAAgent"}}, nil
			}
			return Entry{Body: []byte("new"), Tags: []string{"DINAAgent"}}, nil
		}
		p := Policy{MaxAge: time.Minute, Tags: []string{"DINAAgent"}}
		first := make(chan string, 1)
		go func() {
			e, _, _ := c.Do(ctx, "agent", p, fill)
			first <- string(e.Body)
		}()
		synctest.Wait()
		if err := c.Invalidate(ctx, "DINAAgent"); err != nil {
			t.Fatal(err)
		}
		type answer struct {
			body string
			st   Status
		}
		second := make(chan answer, 1)
		go func() {
			e, st, _ := c.Do(ctx, "agent", p, fill)
			second <- answer{string(e.Body), st}
		}()
		synctest.Wait()
		select {
		case a := <-second:
			if a.body != "new" || a.st != Miss {
				t.Fatalf("Do after the invalidation = %q, %v; want new, MISS", a.body, a.st)
			}
		default:
			close(release)
			t.Fatal("Do after the invalidation joined the flight that started before it")
		}
		close(release)
		if got := <-first; got != "old" {
			t.Fatalf("the first caller got %q, want old", got)
		}
		synctest.Wait()
		if e, st, _ := c.Do(ctx, "agent", p, fill); string(e.Body) != "new" || st != Hit {
			t.Fatalf("Do after both flights = %q, %v; want new, HIT (the older fill must not be stored)", e.Body, st)
		}
	})
}

// Redis losing its data (a restart) makes every entry of the old epoch unfit to be served fresh,
// but one that was valid may still answer a failing fill (stale-if-error): QA restarted Redis
// while the database was down, and every instance went from STALE answers to 503s. An entry whose
// tag was invalidated in the new epoch may not.
func TestEpochChangeKeepsStaleIfErrorFallback(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	c := newTiered(t, Config{Redis: rdb, KeyPrefix: "s:"})
	p := Policy{MaxAge: time.Minute, StaleIfError: time.Hour}
	actors := &counter{body: "actors", tags: []string{"ThreatActor"}}
	agents := &counter{body: "agents", tags: []string{"DINAAgent"}}
	for key, f := range map[string]*counter{"actors": actors, "agents": agents} {
		if _, _, err := c.Do(ctx, key, f.policy(p), f.fill); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Another instance starts the new epoch and invalidates DINAAgent in it before this one
	// resyncs: the reset learns the tag already invalidated.
	other := newTiered(t, Config{Redis: srv.Client(t), KeyPrefix: "s:"})
	if err := other.Invalidate(ctx, "DINAAgent"); err != nil {
		t.Fatal(err)
	}
	if err := c.sync(ctx); err != nil {
		t.Fatal(err)
	}
	down := errors.New("database down")
	failing := func(context.Context) (Entry, error) { return Entry{}, down }
	if e, st, err := c.Do(ctx, "actors", actors.policy(p), failing); err != nil || st != Stale || string(e.Body) != "actors#1" {
		t.Fatalf("Do with the database down after the epoch change = %q, %v, %v; want actors#1, STALE", e.Body, st, err)
	}
	if _, _, err := c.Do(ctx, "agents", agents.policy(p), failing); !errors.Is(err, down) {
		t.Fatalf("Do of an entry invalidated since = %v, want the fill's error", err)
	}
	if e, st, err := c.Do(ctx, "actors", actors.policy(p), actors.fill); err != nil || st != Miss || string(e.Body) != "actors#2" {
		t.Fatalf("Do with the database back = %q, %v, %v; want actors#2, MISS (never a fresh HIT from the old epoch)", e.Body, st, err)
	}
}
