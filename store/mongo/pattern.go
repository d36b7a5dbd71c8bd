package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// topCategories is the length of CasePatternStats.TopCategories.
const topCategories = 5

// patternSort orders patterns most used first, then most recently used;
// pattern_id breaks ties.
func patternSort() bson.D {
	return bson.D{{Key: "usage_count", Value: -1}, {Key: "last_used", Value: -1}, {Key: "pattern_id", Value: 1}}
}

func (s *Store) findPatterns(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder, what string) ([]store.CasePattern, error) {
	out, err := findAll[store.CasePattern](ctx, s.coll(store.CollPatterns), filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find case patterns%s: %w", what, err)
	}
	for i := range out {
		out[i].Metadata = normalizeMap(out[i].Metadata)
	}
	return out, nil
}

// CasePatterns returns the most used patterns, of one reusability when
// reusability is not empty; limit is clamped to [1, 1000].
func (s *Store) CasePatterns(ctx context.Context, reusability string, limit int) ([]store.CasePattern, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	filter := bson.D{}
	if reusability != "" {
		filter = bson.D{{Key: "reusability", Value: reusability}}
	}
	return s.findPatterns(ctx, filter, options.Find().SetSort(patternSort()).SetLimit(int64(clamp(limit, maxListLimit))), "")
}

// CasePattern returns the pattern with patternID, or store.ErrNotFound.
func (s *Store) CasePattern(ctx context.Context, patternID string) (store.CasePattern, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	p, err := findOne[store.CasePattern](ctx, s.coll(store.CollPatterns), bson.D{{Key: "pattern_id", Value: patternID}})
	if err != nil {
		return store.CasePattern{}, fmt.Errorf("find case pattern %q: %w", patternID, err)
	}
	p.Metadata = normalizeMap(p.Metadata)
	return p, nil
}

// CasePatternsByIDs returns, in one query, the patterns whose pattern_id is
// one of ids. Order is unspecified.
func (s *Store) CasePatternsByIDs(ctx context.Context, ids []string) ([]store.CasePattern, error) {
	if len(ids) == 0 {
		return []store.CasePattern{}, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	return s.findPatterns(ctx, bson.D{{Key: "pattern_id", Value: bson.D{{Key: "$in", Value: ids}}}}, options.Find(), " by ids")
}

// CasePatternStats aggregates the patterns in the database: two counts, a
// category frequency pipeline and the ten most used patterns, concurrently.
func (s *Store) CasePatternStats(ctx context.Context) (store.CasePatternStats, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	coll := s.coll(store.CollPatterns)
	var (
		st   store.CasePatternStats
		cats []keyCount
	)
	g, gctx := group(ctx)
	g.Go(count(gctx, coll, bson.D{}, &st.Total))
	g.Go(count(gctx, coll, bson.D{{Key: "reusability", Value: "high"}}, &st.HighReusability))
	g.Go(func() (err error) {
		cats, err = aggregate[keyCount](gctx, coll, countBy("category", true, topCategories))
		return err
	})
	g.Go(func() (err error) {
		st.MostUsed, err = s.findPatterns(gctx, bson.D{}, options.Find().SetSort(patternSort()).SetLimit(statsListSize), " most used")
		return err
	})
	if err := g.Wait(); err != nil {
		return store.CasePatternStats{}, fmt.Errorf("case pattern stats: %w", err)
	}
	st.TopCategories = make([]string, 0, len(cats))
	for _, c := range keyCounts(cats) {
		st.TopCategories = append(st.TopCategories, c.Key)
	}
	return st, nil
}

func patternIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "pattern_id", Value: 1}}, Options: options.Index().SetUnique(true)},
		{Keys: bson.D{{Key: "reusability", Value: 1}}},
		{Keys: patternSort()},
		{Keys: bson.D{{Key: "category", Value: 1}}},
	}
}
