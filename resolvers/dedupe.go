package resolvers

import (
	"context"
	"fmt"
	"strconv"

	"golang.org/x/sync/singleflight"

	"github.com/neko-defense/neko/store"
)

// dedupedStore runs each dashboard statistic once for all its concurrent callers. The statistics
// take no arguments and answer the same to everyone, and each costs several aggregations: a
// document that selects one under four aliases, or many requests the response cache could not
// collapse (different documents that share the field), would otherwise run them side by side and
// overflow the database's aggregate pool. The response cache's singleflight collapses identical
// requests; this collapses identical reads inside and across them.
//
// A caller that gives up does not cancel the others: the shared read runs without the first
// caller's cancellation, bounded by the store's own operation timeout.
//
// A read is shared only within the response cache's invalidation generation it started in. A
// caller after an invalidation (a write here, or the message of one elsewhere) fills a cache entry
// that will be stored as fresh: joining a read that started before the write would store the old
// statistics for their whole max-age.
type dedupedStore struct {
	Store
	flights    singleflight.Group
	generation func() uint64 // the response cache's invalidation generation; nil: none
}

// key is name within the current invalidation generation.
func (d *dedupedStore) key(name string) string {
	if d.generation == nil {
		return name
	}
	return name + "@" + strconv.FormatUint(d.generation(), 10)
}

func (d *dedupedStore) DINAStatistics(ctx context.Context) (store.DINAStatistics, error) {
	return shared(ctx, &d.flights, d.key("dina_statistics"), d.Store.DINAStatistics)
}

func (d *dedupedStore) DinaStats(ctx context.Context) (store.DinaStats, error) {
	return shared(ctx, &d.flights, d.key("dina_stats"), d.Store.DinaStats)
}

func (d *dedupedStore) HoneypotSummary(ctx context.Context) (store.HoneypotSummary, error) {
	return shared(ctx, &d.flights, d.key("honeypot_summary"), d.Store.HoneypotSummary)
}

func (d *dedupedStore) HuntStats(ctx context.Context) (store.HuntStats, error) {
	return shared(ctx, &d.flights, d.key("hunt_stats"), d.Store.HuntStats)
}

func (d *dedupedStore) CasePatternStats(ctx context.Context) (store.CasePatternStats, error) {
	return shared(ctx, &d.flights, d.key("case_pattern_stats"), d.Store.CasePatternStats)
}

func (d *dedupedStore) ThreatCounts(ctx context.Context) (store.ThreatCounts, error) {
	return shared(ctx, &d.flights, d.key("threat_counts"), d.Store.ThreatCounts)
}

// shared runs read once for the concurrent callers of key and gives each the result, which they
// must treat as read-only. A panic in read is every caller's error, not a crash.
func shared[T any](ctx context.Context, g *singleflight.Group, key string, read func(context.Context) (T, error)) (T, error) {
	ch := g.DoChan(key, func() (v any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%s: panic: %v", key, p)
			}
		}()
		return read(context.WithoutCancel(ctx))
	})
	var zero T
	select {
	case res := <-ch:
		if res.Err != nil {
			return zero, res.Err
		}
		return res.Val.(T), nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
