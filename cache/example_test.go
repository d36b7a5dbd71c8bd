package cache_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/neko-defense/neko/cache"
)

// The HTTP layer wraps query execution in Do and invalidates by type name after a mutation.
func ExampleTiered_Do() {
	ctx := context.Background()
	c, err := cache.New(cache.Config{Logger: slog.New(slog.DiscardHandler)}) // L1 only: no Redis
	if err != nil {
		panic(err)
	}
	defer c.Close()

	policy := cache.Policy{MaxAge: 30 * time.Second, StaleWhileRevalidate: time.Minute}
	execute := func(context.Context) (cache.Entry, error) {
		return cache.Entry{Body: []byte(`{"data":{"threatActors":[]}}`), Tags: []string{"ThreatActor"}}, nil
	}

	_, st, _ := c.Do(ctx, "doc-hash:ThreatActors:{}:role=viewer", policy, execute)
	fmt.Println(st)
	_, st, _ = c.Do(ctx, "doc-hash:ThreatActors:{}:role=viewer", policy, execute)
	fmt.Println(st)

	_ = c.Invalidate(ctx, "ThreatActor") // after a mutation that touched threat actors
	e, st, _ := c.Do(ctx, "doc-hash:ThreatActors:{}:role=viewer", policy, execute)
	fmt.Println(st, string(e.Body))
	// Output:
	// MISS
	// HIT
	// MISS {"data":{"threatActors":[]}}
}
