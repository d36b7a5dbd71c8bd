package seed

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// batchSize is the number of documents per insertMany.
const batchSize = 500

// Load inserts d into db with insertMany in batches of 500. It drops and
// overwrites nothing: loading into a non-empty database fails on the first
// duplicate _id or unique key (see Empty).
func Load(ctx context.Context, db *mongo.Database, d Dataset) error {
	actors, err := actorDocs(d)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		docs []any
	}{
		{store.CollThreatActors, actors},
		{store.CollHoneypot, anySlice(d.HoneypotTriggers)},
		{store.CollHunts, anySlice(d.Hunts)},
		{store.CollPatterns, anySlice(d.CasePatterns)},
		{store.CollArmyList, anySlice(d.DINAAgents)},
		{store.CollComprehensive, anySlice(d.Perpetrators)},
		{store.CollAllAgents, anySlice(d.AllAgents)},
		{store.CollAsciiArt, anySlice(d.AsciiArt)},
	} {
		coll := db.Collection(c.name)
		for start := 0; start < len(c.docs); start += batchSize {
			batch := c.docs[start:min(start+batchSize, len(c.docs))]
			if _, err := coll.InsertMany(ctx, batch); err != nil {
				return fmt.Errorf("seed %s: %w", c.name, err)
			}
		}
	}
	return nil
}

// Empty reports whether db holds no threat actors, which is how the server
// decides to seed a fresh embedded database at start-up.
func Empty(ctx context.Context, db *mongo.Database) (bool, error) {
	err := db.Collection(store.CollThreatActors).FindOne(ctx, bson.D{}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("seed: check empty: %w", err)
	}
	return false, nil
}

// actorDocs encodes the threat actors, replacing the fields named in
// d.ActorOverrides by their legacy stored values.
func actorDocs(d Dataset) ([]any, error) {
	out := make([]any, 0, len(d.ThreatActors))
	for _, a := range d.ThreatActors {
		over, ok := d.ActorOverrides[a.ActorID]
		if !ok {
			out = append(out, a)
			continue
		}
		raw, err := bson.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("seed: encode actor %s: %w", a.ActorID, err)
		}
		var doc bson.D
		if err := bson.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("seed: encode actor %s: %w", a.ActorID, err)
		}
		for _, e := range over {
			doc = setField(doc, e)
		}
		out = append(out, doc)
	}
	return out, nil
}

func setField(doc bson.D, e bson.E) bson.D {
	for i := range doc {
		if doc[i].Key == e.Key {
			doc[i].Value = e.Value
			return doc
		}
	}
	return append(doc, e)
}

func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i := range xs {
		out[i] = xs[i]
	}
	return out
}
