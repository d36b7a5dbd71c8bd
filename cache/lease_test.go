package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neko-defense/neko/internal/redistest"
)

// Instances sharing a Redis refresh a stale answer once between them: the one holding the lease
// fills, the others keep serving their stale copy and then take its answer from L2.
func TestRefreshLeasedOnceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	clock := newFakeClock()
	a := newTiered(t, Config{Redis: srv.Client(t), KeyPrefix: "l:", Now: clock.Now})
	b := newTiered(t, Config{Redis: srv.Client(t), KeyPrefix: "l:", Now: clock.Now})
	p := Policy{MaxAge: 10 * time.Second, StaleWhileRevalidate: time.Minute, Tags: []string{"DINAAgent"}}

	var fills atomic.Int32
	started, release := make(chan struct{}, 1), make(chan struct{})
	var released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the instances close, which waits for the refresh
	fill := func(context.Context) (Entry, error) {
		n := fills.Add(1)
		if n == 2 { // the refresh
			started <- struct{}{}
			<-release
		}
		return Entry{Body: []byte("v" + string(rune('0'+n))), Tags: p.Tags}, nil
	}
	if e, st, err := a.Do(ctx, "stats", p, fill); err != nil || st != Miss || string(e.Body) != "v1" {
		t.Fatalf("a: first Do = %q, %v, %v", e.Body, st, err)
	}
	if e, st, err := b.Do(ctx, "stats", p, fill); err != nil || st != Hit || string(e.Body) != "v1" {
		t.Fatalf("b: first Do = %q, %v, %v; want v1 from L2", e.Body, st, err)
	}
	clock.Advance(11 * time.Second) // stale on both

	if e, st, _ := a.Do(ctx, "stats", p, fill); st != Stale || string(e.Body) != "v1" {
		t.Fatalf("a: Do while stale = %q, %v", e.Body, st)
	}
	<-started // a refreshes and holds the lease
	if e, st, _ := b.Do(ctx, "stats", p, fill); st != Stale || string(e.Body) != "v1" {
		t.Fatalf("b: Do while a refreshes = %q, %v; want v1, STALE", e.Body, st)
	}
	b.refreshWG.Wait() // b's refresh found the lease taken and ended without filling
	if n := fills.Load(); n != 2 {
		t.Fatalf("fills = %d while a refreshes, want 2 (b must not fill too)", n)
	}
	unblock()
	a.refreshWG.Wait()

	// b takes a's answer from L2 once it asks again.
	b.mu.Lock()
	delete(b.refreshing, "stats") // skip the lease retry pause
	b.mu.Unlock()
	if _, st, _ := b.Do(ctx, "stats", p, fill); st != Stale {
		t.Fatalf("b: Do after a's refresh = %v, want STALE (its own copy) while it adopts a's", st)
	}
	b.refreshWG.Wait()
	if e, st, _ := b.Do(ctx, "stats", p, fill); st != Hit || string(e.Body) != "v2" {
		t.Fatalf("b: Do after adopting = %q, %v; want v2, HIT", e.Body, st)
	}
	if n := fills.Load(); n != 2 {
		t.Fatalf("fills = %d, want 2", n)
	}
}
