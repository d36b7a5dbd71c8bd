package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// Perpetrators returns up to limit (clamped to [1, 1000]) documents of
// dina_agents_comprehensive, by fullName.
func (s *Store) Perpetrators(ctx context.Context, limit int) ([]store.Perpetrator, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	out, err := findAll[store.Perpetrator](ctx, s.coll(store.CollComprehensive), bson.D{},
		options.Find().SetSort(bson.D{{Key: "fullName", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(clamp(limit, maxListLimit))))
	if err != nil {
		return nil, fmt.Errorf("find perpetrators: %w", err)
	}
	for i := range out {
		p := &out[i]
		p.Timeline = normalize(p.Timeline)
		p.Priority = normalize(p.Priority)
		p.Metadata = normalizeMap(p.Metadata)
		if p.LegalStatus != nil {
			p.LegalStatus.Sentences = normalize(p.LegalStatus.Sentences)
		}
	}
	return out, nil
}

// statusMatches is a case-insensitive filter on the status text.
func statusMatches(words string) bson.D {
	return bson.D{{Key: "status", Value: regexFilter(words)}}
}

// DinaStats counts dina_agents_comprehensive as reference §3.6 describes,
// with concurrent countDocuments.
func (s *Store) DinaStats(ctx context.Context) (store.DinaStats, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	coll := s.coll(store.CollComprehensive)
	var st store.DinaStats
	g, gctx := group(ctx)
	g.Go(count(gctx, coll, bson.D{}, &st.Total))
	g.Go(count(gctx, coll, bson.D{{Key: "legalStatus.convicted", Value: true}}, &st.Convicted))
	g.Go(count(gctx, coll, statusMatches("AT LARGE"), &st.AtLarge))
	g.Go(count(gctx, coll, bson.D{{Key: "status", Value: "CONVICTED - IMPRISONED"}}, &st.Imprisoned))
	g.Go(count(gctx, coll, statusMatches("DECEASED"), &st.Deceased))
	g.Go(count(gctx, coll, statusMatches("NEVER PROSECUTED"), &st.NeverProsecuted))
	if err := g.Wait(); err != nil {
		return store.DinaStats{}, fmt.Errorf("dina stats: %w", err)
	}
	st.Unprosecuted = st.Total - st.Convicted
	return st, nil
}

// allAgentsFilter is the database filter of an /api/dina/all-agents filter
// kind (reference §3.7, with the original's in-memory second pass folded
// in). Unknown kinds match everything.
func allAgentsFilter(kind string) bson.D {
	switch kind {
	case store.AllAgentsUnprosecuted:
		return bson.D{{Key: "$or", Value: bson.A{
			statusMatches("UNPROSECUTED"),
			// $in with null also matches a missing legalStatus.convicted.
			bson.D{{Key: "legalStatus.convicted", Value: bson.D{{Key: "$in", Value: bson.A{false, nil}}}}},
		}}}
	case store.AllAgentsAtLarge:
		return statusMatches("AT LARGE")
	case store.AllAgentsConvicted:
		return bson.D{{Key: "legalStatus.convicted", Value: true}}
	case store.AllAgentsDeceased:
		return statusMatches("DECEASED")
	case store.AllAgentsNeverProsecuted:
		return statusMatches("NEVER PROSECUTED")
	default:
		return bson.D{}
	}
}

// AllAgents returns one page of dina_all_agents matching a filter kind (the
// AllAgents* constants; anything else matches all) ordered by agentNumber,
// and the number of matching agents. page is at least 1; limit is clamped
// to [1, 100]. The page and the count are two concurrent database calls.
func (s *Store) AllAgents(ctx context.Context, filter string, page, limit int) ([]store.AllAgent, int, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	agents, total, err := findPage[store.AllAgent](ctx, s.coll(store.CollAllAgents), allAgentsFilter(filter),
		bson.D{{Key: "agentNumber", Value: 1}, {Key: "_id", Value: 1}}, page, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("find all agents: %w", err)
	}
	for i := range agents {
		if ls := agents[i].LegalStatus; ls != nil {
			ls.Sentences = normalize(ls.Sentences)
		}
	}
	return agents, total, nil
}

func dinaIndexes() map[string][]mongo.IndexModel {
	return map[string][]mongo.IndexModel{
		store.CollComprehensive: {
			{Keys: bson.D{{Key: "fullName", Value: 1}}},
			{Keys: bson.D{{Key: "status", Value: 1}}},
			{Keys: bson.D{{Key: "legalStatus.convicted", Value: 1}}},
			{Keys: bson.D{{Key: "tags", Value: 1}}},
		},
		store.CollAllAgents: {
			{Keys: bson.D{{Key: "agentNumber", Value: 1}}},
			{Keys: bson.D{{Key: "status", Value: 1}}},
			{Keys: bson.D{{Key: "legalStatus.convicted", Value: 1}}},
		},
	}
}
