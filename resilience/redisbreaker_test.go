package resilience_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/neko-defense/neko/internal/redistest"
	"github.com/neko-defense/neko/resilience"
)

// Every command of a client goes through the breaker: error replies do not trip it, Redis gone
// does, and an open breaker refuses commands and pipelines at once; Redis back closes it.
func TestRedisBreaker(t *testing.T) {
	srv := redistest.Start(t)
	b, err := resilience.NewBreaker(resilience.BreakerConfig{Name: "redis", ConsecutiveFailures: 3, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(resilience.RedisBreaker(b))
	ctx := context.Background()

	for range 5 { // answers of a healthy server, errors included
		if err := rdb.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET of a missing key: %v", err)
		}
		if err := rdb.Do(ctx, "NOSUCHCOMMAND").Err(); err == nil {
			t.Fatal("an unknown command succeeded")
		}
	}
	if b.State() != resilience.StateClosed {
		t.Fatalf("error replies tripped the breaker: %v", b.State())
	}

	srv.Stop()
	for range 3 {
		if err := rdb.Set(ctx, "k", "v", 0).Err(); err == nil || errors.Is(err, resilience.ErrBreakerOpen) {
			t.Fatalf("SET with Redis gone: %v", err)
		}
	}
	if b.State() != resilience.StateOpen {
		t.Fatalf("state after three failures: %v", b.State())
	}
	start := time.Now()
	if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, resilience.ErrBreakerOpen) {
		t.Fatalf("GET with the breaker open: %v", err)
	}
	pipe := rdb.Pipeline()
	get := pipe.Get(ctx, "k")
	if _, err := pipe.Exec(ctx); !errors.Is(err, resilience.ErrBreakerOpen) || !errors.Is(get.Err(), resilience.ErrBreakerOpen) {
		t.Fatalf("pipeline with the breaker open: %v, %v", err, get.Err())
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("refusals took %v, want them at once", took)
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := rdb.Set(ctx, "k", "v", 0).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis back, breaker %v: %v", b.State(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b.State() != resilience.StateClosed {
		t.Fatalf("state after Redis came back: %v", b.State())
	}
}
