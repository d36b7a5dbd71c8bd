package server

import (
	"context"
	"testing"
	"time"
)

// An invalidation (a mutation here or on another instance) makes the warmer recompute its answers
// at once rather than at its next tick, so that a polling TV monitor finds them ready.
func TestWarmerRefreshesAfterInvalidation(t *testing.T) {
	s, _ := newBenchServer(t, false)
	s.StartWarming([]WarmQuery{{Name: "ok", Query: "{ ok }"}})
	t.Cleanup(s.warm.close)
	for !s.Warmed() {
		time.Sleep(10 * time.Millisecond)
	}
	before := okResolves.Load()
	if err := s.deps.Cache.Invalidate(context.Background(), "Query"); err != nil {
		t.Fatal(err)
	}
	// Well within the warmer's own interval: only the invalidation can explain a refresh.
	wait := s.warm.interval() / 2
	deadline := time.Now().Add(wait)
	for okResolves.Load() == before {
		if time.Now().After(deadline) {
			t.Fatalf("not recomputed within %v of an invalidation (the warmer's interval is %v)", wait, s.warm.interval())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
