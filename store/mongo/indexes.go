package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// indexes lists, per collection, an index for every filter and sort the
// Store's methods use.
func indexes() map[string][]mongo.IndexModel {
	m := map[string][]mongo.IndexModel{
		collThreatActors: threatActorIndexes(),
		collHoneypot:     honeypotIndexes(),
		collHunts:        huntIndexes(),
		collPatterns:     patternIndexes(),
		collArmyList:     armyListIndexes(),
		collAsciiArt:     {{Keys: bson.D{{Key: "id", Value: 1}}}},
	}
	for coll, models := range dinaIndexes() {
		m[coll] = models
	}
	return m
}

// EnsureIndexes creates the indexes the Store's queries rely on. It is
// idempotent (createIndexes with an existing identical index is a no-op) and
// meant to run once at start-up. Collections are handled concurrently.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	g, gctx := group(ctx)
	for coll, models := range indexes() {
		g.Go(func() error {
			ctx, cancel := s.op(gctx)
			defer cancel()
			if _, err := s.coll(coll).Indexes().CreateMany(ctx, models, options.CreateIndexes()); err != nil {
				return fmt.Errorf("create indexes on %s: %w", coll, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("ensure indexes: %w", err)
	}
	return nil
}
