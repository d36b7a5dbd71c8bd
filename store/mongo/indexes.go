package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// indexes lists, per collection, an index for every filter and sort the
// Store's methods use.
func indexes() map[string][]mongo.IndexModel {
	m := map[string][]mongo.IndexModel{
		store.CollThreatActors: threatActorIndexes(),
		store.CollHoneypot:     honeypotIndexes(),
		store.CollHunts:        huntIndexes(),
		store.CollPatterns:     patternIndexes(),
		store.CollArmyList:     armyListIndexes(),
		store.CollAsciiArt:     {{Keys: bson.D{{Key: "id", Value: 1}}}},
		collIncidents:          incidentIndexes(),
		collBlockedIPs:         blockedIPIndexes(),
	}
	for coll, models := range dinaIndexes() {
		m[coll] = models
	}
	for coll, models := range securityIndexes() {
		m[coll] = models
	}
	return m
}

// indexName is MongoDB's default index name for keys ("a_1_b_-1").
func indexName(keys bson.D) string {
	parts := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		parts = append(parts, k.Key, fmt.Sprint(k.Value))
	}
	return strings.Join(parts, "_")
}

// EnsureIndexes creates the indexes the Store's queries rely on and is
// meant to run once at start-up. It is idempotent: it lists each
// collection's indexes and creates only the missing ones, which also avoids
// a FerretDB v1 crash on createIndexes naming several existing indexes.
// Collections are handled concurrently.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	g, gctx := group(ctx)
	for coll, models := range indexes() {
		g.Go(func() error {
			ctx, cancel := s.op(gctx)
			defer cancel()
			if err := s.ensureIndexes(ctx, s.coll(coll), models); err != nil {
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

func (s *Store) ensureIndexes(ctx context.Context, coll *mongo.Collection, models []mongo.IndexModel) error {
	existing := make(map[string]bool)
	specs, err := coll.Indexes().ListSpecifications(ctx)
	var cmdErr mongo.CommandError
	switch {
	case errors.As(err, &cmdErr) && cmdErr.Code == 26: // NamespaceNotFound: no collection yet
	case err != nil:
		return err
	}
	for _, sp := range specs {
		existing[sp.Name] = true
	}
	var missing []mongo.IndexModel
	for _, m := range models {
		name := indexName(m.Keys.(bson.D))
		if existing[name] {
			continue
		}
		opts := m.Options
		if opts == nil {
			opts = options.Index()
		}
		missing = append(missing, mongo.IndexModel{Keys: m.Keys, Options: opts.SetName(name)})
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = coll.Indexes().CreateMany(ctx, missing)
	return err
}
