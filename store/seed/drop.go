package seed

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/neko-defense/neko/store"
)

// Drop removes every collection Load writes, so that `neko seed --force` can replace the demo
// data. Other collections (users, audit logs...) are left alone.
func Drop(ctx context.Context, db *mongo.Database) error {
	for _, name := range []string{store.CollThreatActors, store.CollHoneypot, store.CollHunts, store.CollPatterns, store.CollArmyList, store.CollComprehensive, store.CollAllAgents, store.CollAsciiArt} {
		if err := db.Collection(name).Drop(ctx); err != nil {
			return fmt.Errorf("seed: drop %s: %w", name, err)
		}
	}
	return nil
}
