package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/neko-defense/neko/cache"
	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/security"
)

// WarmQuery is a GraphQL document the server keeps in the response cache.
type WarmQuery struct {
	Name  string
	Query string
}

// warmer keeps the answers TV monitors and dashboards poll in the cache: it fills them at
// start-up (readiness waits for that first pass) and then refreshes each one ahead of expiry.
//
// Refresh-ahead uses the cache's own read-through path with half the answer's max-age: an entry
// older than half its life is "stale" to the warmer, so the cache serves it and refreshes it once
// in the background (singleflight keeps that to one refresh per key), while clients, who judge it
// by the full max-age, keep getting fresh hits. Ticking at a quarter of the shortest max-age
// means an entry is renewed before any client could see it expire.
type warmer struct {
	s       *Server
	queries []WarmQuery
	done    atomic.Bool // the first pass has finished
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// warmIdentity is who the warmer executes as. Cached answers are shared by every caller holding
// the operation's @auth role (cacheKey), so the warmer needs the highest role to fill any of them;
// PRIVATE answers (keyed per user) are never warmed.
var warmIdentity = security.Identity{Username: "cache-warmer", Role: security.RoleAdmin}

// StartWarming fills the warm set once in the background and then keeps it fresh until Shutdown.
// Without a cache it only marks the server warm.
func (s *Server) StartWarming(queries []WarmQuery) {
	w := &warmer{s: s, queries: queries}
	s.warm = w
	if s.deps.Cache == nil {
		w.done.Store(true)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.run(ctx)
	}()
}

// Warmed reports whether the first warm-up pass has finished (true when warming is off).
func (s *Server) Warmed() bool {
	return s.warm == nil || s.warm.done.Load()
}

func (w *warmer) close() {
	if w != nil && w.stop != nil {
		w.stop()
		w.wg.Wait()
	}
}

// invalidationCheck is how often the warmer looks for an invalidation between passes.
const invalidationCheck = 100 * time.Millisecond

// run makes a pass every interval, and at once after an invalidation (a mutation here, or on
// another instance): the invalidated answers are recomputed before the next poll asks for them,
// instead of by that poll, which would wait for the database and get a MISS.
func (w *warmer) run(ctx context.Context) {
	interval := w.interval()
	check := time.NewTicker(invalidationCheck)
	defer check.Stop()
	for {
		gen, start := w.generation(), time.Now()
		if err := w.pass(ctx); err != nil && ctx.Err() == nil {
			w.s.deps.Logger.Warn("cache warm-up incomplete", "err", err)
		}
		w.done.Store(true) // ready even if some answer failed: the pass will retry it
		for time.Since(start) < interval && w.generation() == gen {
			select {
			case <-ctx.Done():
				return
			case <-check.C:
			}
		}
	}
}

// generation is the cache's invalidation generation (0 when it has none).
func (w *warmer) generation() uint64 {
	if w.s.generation == nil {
		return 0
	}
	return w.s.generation()
}

// interval is a quarter of the shortest max-age in the warm set, at least 250ms.
func (w *warmer) interval() time.Duration {
	shortest := time.Minute
	for _, rt := range w.s.restTable {
		shortest = min(shortest, rt.maxAge)
	}
	return max(shortest/4, 250*time.Millisecond)
}

// pass looks every warm answer up once through the cache.
//
// A pass is one trace when tracing is on: a root "cache.warm" span with the pass's lookups
// (and the refreshes they start) below it, rather than one root trace per lookup.
func (w *warmer) pass(ctx context.Context) (err error) {
	ctx, span := w.s.startSpan(ctx, "cache.warm")
	lookups := 0
	defer func() {
		if span.IsRecording() {
			span.SetAttributes(attribute.Int("neko.warm.lookups", lookups))
			if err != nil {
				span.SetStatus(codes.Error, err.Error())
			}
		}
		span.End()
	}()
	var errs []error
	for _, rt := range w.s.restTable {
		for _, q := range warmParams(rt.path) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			lookups++
			if err := w.rest(ctx, rt, q); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", rt.path, err))
			}
		}
	}
	for _, q := range w.queries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lookups++
		if err := w.graphql(ctx, q); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", q.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (w *warmer) rest(ctx context.Context, rt restRoute, q url.Values) error {
	ctx, cancel := context.WithTimeout(ctx, w.s.cfg.RequestTimeout)
	defer cancel()
	p := cache.Policy{MaxAge: rt.maxAge / 2, StaleWhileRevalidate: w.s.cfg.StaleWhileRevalidate, StaleIfError: w.s.cfg.StaleIfError, Tags: rt.tags}
	q = maps.Clone(q)
	rt.canonical(q)
	_, _, err := w.s.deps.Cache.Do(ctx, restKey("/api"+rt.path, q), p, w.s.restFill(rt, q))
	return err
}

func (w *warmer) graphql(ctx context.Context, q WarmQuery) error {
	ctx, cancel := context.WithTimeout(security.NewContext(ctx, warmIdentity), w.s.cfg.RequestTimeout)
	defer cancel()
	op, err := w.s.deps.Engine.Prepare(ctx, graphql.Request{Query: q.Query})
	if err != nil {
		return err
	}
	if w.s.deps.Policies == nil {
		return nil
	}
	pol := w.s.deps.Policies(op)
	if pol.MaxAge <= 0 || pol.Private {
		return fmt.Errorf("not cacheable (max-age %s, private %v)", pol.MaxAge, pol.Private)
	}
	pol.MaxAge /= 2 // refresh ahead: see warmer
	res := w.s.cached(ctx, op, pol)
	if res.xCache == cache.Miss.String() && res.cacheControl == "no-store" {
		return errors.New("answer had errors")
	}
	return nil
}
