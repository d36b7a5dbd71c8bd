package mongo

import (
	"context"
	"fmt"
	"math"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// threatActorDoc mirrors store.ThreatActor with threat_level and rank left
// raw, so that legacy or malformed values are coerced per document instead
// of failing the decode of a whole list.
type threatActorDoc struct {
	ID                  bson.ObjectID  `bson:"_id"`
	ActorID             string         `bson:"actor_id"`
	Name                string         `bson:"name"`
	Description         string         `bson:"description"`
	Type                string         `bson:"type"`
	Category            string         `bson:"category"`
	ActorClassification string         `bson:"actor_classification"`
	Network             string         `bson:"network"`
	TargetType          string         `bson:"target_type"`
	ThreatLevel         bson.RawValue  `bson:"threat_level"`
	Rank                bson.RawValue  `bson:"rank"`
	StateActor          *bool          `bson:"state_actor"`
	StateSponsored      *bool          `bson:"state_sponsored"`
	Techniques          []string       `bson:"techniques"`
	IOCs                []string       `bson:"iocs"`
	Metadata            map[string]any `bson:"metadata"`
}

func (s *Store) threatActor(d threatActorDoc) store.ThreatActor {
	a := store.ThreatActor{
		ID: d.ID, ActorID: d.ActorID, Name: d.Name, Description: d.Description,
		Type: d.Type, Category: d.Category, ActorClassification: d.ActorClassification,
		Network: d.Network, TargetType: d.TargetType, StateActor: d.StateActor,
		StateSponsored: d.StateSponsored, Techniques: d.Techniques, IOCs: d.IOCs,
		Metadata: normalizeMap(d.Metadata),
	}
	var ok bool
	if a.ThreatLevel, ok = CoerceThreatLevel(d.ThreatLevel); !ok {
		s.logger.Warn("threat actor has an unreadable threat_level; reading it as null",
			"actor_id", d.ActorID, "bson_type", d.ThreatLevel.Type.String(), "value", d.ThreatLevel.String())
	}
	if a.Rank, ok = numberValue(d.Rank); !ok {
		s.logger.Warn("threat actor has a non-numeric rank; reading it as null",
			"actor_id", d.ActorID, "bson_type", d.Rank.Type.String(), "value", d.Rank.String())
	}
	return a
}

// CoerceThreatLevel reads a stored threat_level (DESIGN decision 3): numbers
// (int32, int64, double rounded to the nearest integer) are taken as they
// are; the legacy strings LOW, MEDIUM, HIGH and CRITICAL (any case) become
// 25, 50, 75 and 100. A missing or null value is (nil, true). Anything else
// is (nil, false): the caller logs it and reads null.
func CoerceThreatLevel(v bson.RawValue) (*int, bool) {
	if s, isString := v.StringValueOK(); isString {
		var n int
		switch strings.ToUpper(strings.TrimSpace(s)) {
		case "LOW":
			n = 25
		case "MEDIUM":
			n = 50
		case "HIGH":
			n = 75
		case "CRITICAL":
			n = 100
		default:
			return nil, false
		}
		return &n, true
	}
	return numberValue(v)
}

// numberValue reads an integer from a numeric BSON value. A missing or null
// value is (nil, true); a non-number or non-finite double is (nil, false).
func numberValue(v bson.RawValue) (*int, bool) {
	var n int
	switch v.Type {
	case 0, bson.TypeNull, bson.TypeUndefined:
		return nil, true
	case bson.TypeInt32:
		n = int(v.Int32())
	case bson.TypeInt64:
		n = int(v.Int64())
	case bson.TypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt32 {
			return nil, false
		}
		n = int(math.Round(f))
	default:
		return nil, false
	}
	return &n, true
}

func (s *Store) threatActors(docs []threatActorDoc) []store.ThreatActor {
	out := make([]store.ThreatActor, len(docs))
	for i, d := range docs {
		out[i] = s.threatActor(d)
	}
	return out
}

// categoryFilter is the filter of a threat-actor category (reference §3.2);
// an unknown category, "all" included, matches everything.
func categoryFilter(category string) bson.D {
	eq := func(field string, v any) bson.D { return bson.D{{Key: field, Value: v}} }
	or := func(alts ...bson.D) bson.D {
		a := make(bson.A, len(alts))
		for i, d := range alts {
			a[i] = d
		}
		return bson.D{{Key: "$or", Value: a}}
	}
	switch category {
	case store.CategoryPredators:
		return or(eq("type", "predator"), eq("actor_classification", "INDIVIDUAL_PREDATOR"), eq("category", "predator"))
	case store.CategoryPedophiles:
		return or(eq("type", "pedophile"), eq("actor_classification", "PEDOPHILE"), eq("category", "pedophile"),
			eq("target_type", "children"), eq("description", regexFilter("pedophil|child abuse|csam")))
	case store.CategoryDinaNetwork:
		return or(eq("network", "DINA"), eq("actor_classification", "DINA_NETWORK"), eq("category", "dina_network"))
	case store.CategoryRansomware:
		return or(eq("type", "cybercrime_group"), eq("actor_classification", "CYBERCRIME_RANSOMWARE"), eq("category", "ransomware"))
	case store.CategoryStateSponsored:
		return or(eq("state_actor", true), eq("state_sponsored", true), eq("actor_classification", regexFilter("STATE_SPONSORED")))
	case store.CategoryCryptoCrime:
		return or(eq("category", "crypto_crime"), eq("actor_classification", "CRYPTO_CRIME"), eq("type", "crypto_thief"))
	default:
		return bson.D{}
	}
}

// threatActorSort orders actors by threat_level descending, then rank
// ascending, then actor_id. Stored values are compared in BSON order, so
// legacy string threat levels sort before all numbers.
func threatActorSort() bson.D {
	return bson.D{{Key: "threat_level", Value: -1}, {Key: "rank", Value: 1}, {Key: "actor_id", Value: 1}}
}

// ThreatCounts counts the actors of each category of reference §3.2 with
// seven concurrent countDocuments.
func (s *Store) ThreatCounts(ctx context.Context) (store.ThreatCounts, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var c store.ThreatCounts
	coll := s.coll(store.CollThreatActors)
	g, gctx := group(ctx)
	for _, x := range []struct {
		category string
		dst      *int
	}{
		{store.CategoryAll, &c.All},
		{store.CategoryPredators, &c.Predators},
		{store.CategoryPedophiles, &c.Pedophiles},
		{store.CategoryDinaNetwork, &c.DinaNetwork},
		{store.CategoryRansomware, &c.Ransomware},
		{store.CategoryStateSponsored, &c.StateSponsored},
		{store.CategoryCryptoCrime, &c.CryptoCrime},
	} {
		g.Go(count(gctx, coll, categoryFilter(x.category), x.dst))
	}
	if err := g.Wait(); err != nil {
		return store.ThreatCounts{}, fmt.Errorf("threat counts: %w", err)
	}
	return c, nil
}

// ThreatActors returns up to limit (clamped to [1, 1000]) actors of a
// category, by threat_level descending then rank ascending.
func (s *Store) ThreatActors(ctx context.Context, category string, limit int) ([]store.ThreatActor, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	docs, err := findAll[threatActorDoc](ctx, s.coll(store.CollThreatActors), categoryFilter(category),
		options.Find().SetSort(threatActorSort()).SetLimit(int64(clamp(limit, maxListLimit))))
	if err != nil {
		return nil, fmt.Errorf("find threat actors: %w", err)
	}
	return s.threatActors(docs), nil
}

// ThreatActorDocuments returns the actors of category as stored, every field included (the
// Mongoose timestamps, __v, fields no schema names), in ThreatActors' order: the REST endpoint
// /api/threat-actors returned the raw documents, and the dashboard reads fields the GraphQL type
// lacks (aliases, origin, status, ...). Sub-documents are plain maps, dates time.Time and object
// ids their hex text.
func (s *Store) ThreatActorDocuments(ctx context.Context, category string, limit int) ([]map[string]any, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	docs, err := findAll[map[string]any](ctx, s.coll(store.CollThreatActors), categoryFilter(category),
		options.Find().SetSort(threatActorSort()).SetLimit(int64(clamp(limit, maxListLimit))))
	if err != nil {
		return nil, fmt.Errorf("find threat actor documents: %w", err)
	}
	for i := range docs {
		docs[i] = normalizeMap(docs[i])
	}
	return docs, nil
}

// ThreatActor returns the actor with actorID, or store.ErrNotFound.
func (s *Store) ThreatActor(ctx context.Context, actorID string) (store.ThreatActor, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	d, err := findOne[threatActorDoc](ctx, s.coll(store.CollThreatActors), bson.D{{Key: "actor_id", Value: actorID}})
	if err != nil {
		return store.ThreatActor{}, fmt.Errorf("find threat actor %q: %w", actorID, err)
	}
	return s.threatActor(d), nil
}

// ThreatActorsByKeys returns, in one query, the actors whose actor_id or name
// is one of keys (hunts reference actors by either). Order is unspecified.
func (s *Store) ThreatActorsByKeys(ctx context.Context, keys []string) ([]store.ThreatActor, error) {
	if len(keys) == 0 {
		return []store.ThreatActor{}, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	filter := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "actor_id", Value: bson.D{{Key: "$in", Value: keys}}}},
		bson.D{{Key: "name", Value: bson.D{{Key: "$in", Value: keys}}}},
	}}}
	docs, err := findAll[threatActorDoc](ctx, s.coll(store.CollThreatActors), filter, options.Find())
	if err != nil {
		return nil, fmt.Errorf("find threat actors by keys: %w", err)
	}
	return s.threatActors(docs), nil
}

// ThreatActorsByIOCs returns, in one query, the actors whose iocs contain
// any of addresses. Order is unspecified.
func (s *Store) ThreatActorsByIOCs(ctx context.Context, addresses []string) ([]store.ThreatActor, error) {
	if len(addresses) == 0 {
		return []store.ThreatActor{}, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	filter := bson.D{{Key: "iocs", Value: bson.D{{Key: "$in", Value: addresses}}}}
	docs, err := findAll[threatActorDoc](ctx, s.coll(store.CollThreatActors), filter, options.Find())
	if err != nil {
		return nil, fmt.Errorf("find threat actors by iocs: %w", err)
	}
	return s.threatActors(docs), nil
}

// threatActorIndexes serve the category predicates, the lookups and the sort.
func threatActorIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "actor_id", Value: 1}}, Options: options.Index().SetUnique(true)},
		{Keys: bson.D{{Key: "category", Value: 1}}},
		{Keys: bson.D{{Key: "type", Value: 1}}},
		{Keys: bson.D{{Key: "actor_classification", Value: 1}}},
		{Keys: bson.D{{Key: "network", Value: 1}}},
		{Keys: bson.D{{Key: "target_type", Value: 1}}},
		{Keys: threatActorSort()},
		{Keys: bson.D{{Key: "iocs", Value: 1}}},
		{Keys: bson.D{{Key: "name", Value: 1}}},
	}
}
