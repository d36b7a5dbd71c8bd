package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// statsListSize is the length of the top lists of HuntStats and
// CasePatternStats.MostUsed.
const statsListSize = 10

// huntSort orders hunts most recently started first; _id breaks ties.
func huntSort() bson.D {
	return bson.D{{Key: "started_at", Value: -1}, {Key: "_id", Value: -1}}
}

func normalizeHunt(h *store.HuntConversation) {
	h.HuntSummary = normalizeMap(h.HuntSummary)
	h.Metadata = normalizeMap(h.Metadata)
}

func (s *Store) findHunts(ctx context.Context, filter bson.D, limit int, what string) ([]store.HuntConversation, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	out, err := findAll[store.HuntConversation](ctx, s.coll(store.CollHunts), filter,
		options.Find().SetSort(huntSort()).SetLimit(int64(clamp(limit, maxListLimit))))
	if err != nil {
		return nil, fmt.Errorf("find hunt conversations%s: %w", what, err)
	}
	for i := range out {
		normalizeHunt(&out[i])
	}
	return out, nil
}

// HuntConversations returns the most recently started hunts, of one status
// when status is not empty; limit is clamped to [1, 1000].
func (s *Store) HuntConversations(ctx context.Context, status string, limit int) ([]store.HuntConversation, error) {
	filter := bson.D{}
	if status != "" {
		filter = bson.D{{Key: "status", Value: status}}
	}
	return s.findHunts(ctx, filter, limit, "")
}

// HuntConversation returns the hunt with sessionID, or store.ErrNotFound.
func (s *Store) HuntConversation(ctx context.Context, sessionID string) (store.HuntConversation, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	h, err := findOne[store.HuntConversation](ctx, s.coll(store.CollHunts), bson.D{{Key: "session_id", Value: sessionID}})
	if err != nil {
		return store.HuntConversation{}, fmt.Errorf("find hunt conversation %q: %w", sessionID, err)
	}
	normalizeHunt(&h)
	return h, nil
}

// HuntsByTargets returns the most recently started hunts of each of targets
// (by target_actor), at most limit (clamped to [1, 1000]) per target, most
// recent first; see newestPerKey.
func (s *Store) HuntsByTargets(ctx context.Context, targets []string, limit int) ([]store.HuntConversation, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	out, err := newestPerKey(ctx, s.coll(store.CollHunts), "target_actor", targets, limit, huntSort(),
		func(h store.HuntConversation) (string, bson.ObjectID) { return h.TargetActor, h.ID })
	if err != nil {
		return nil, fmt.Errorf("find hunt conversations by targets: %w", err)
	}
	for i := range out {
		normalizeHunt(&out[i])
	}
	return out, nil
}

// huntTarget is the projection HuntStats reads for recent targets.
type huntTarget struct {
	Target string `bson:"target_actor"`
}

// HuntStats aggregates the hunts in the database: four counts, the targets
// of the most recently started hunts and a keyword frequency pipeline, run
// concurrently.
func (s *Store) HuntStats(ctx context.Context) (store.HuntStats, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	coll := s.coll(store.CollHunts)
	var (
		st       store.HuntStats
		recent   []huntTarget
		keywords []keyCount
	)
	g, gctx := group(ctx)
	g.Go(count(gctx, coll, bson.D{}, &st.Total))
	g.Go(count(gctx, coll, bson.D{{Key: "status", Value: "active"}}, &st.Active))
	g.Go(count(gctx, coll, bson.D{{Key: "status", Value: "completed"}}, &st.Completed))
	g.Go(count(gctx, coll, bson.D{{Key: "outcome", Value: "captured"}}, &st.SuccessfulCaptures))
	g.Go(func() (err error) {
		filter := bson.D{{Key: "target_actor", Value: bson.D{{Key: "$exists", Value: true}, {Key: "$nin", Value: bson.A{nil, ""}}}}}
		recent, err = findAll[huntTarget](gctx, coll, filter,
			options.Find().SetSort(huntSort()).SetLimit(statsListSize).SetProjection(bson.D{{Key: "target_actor", Value: 1}}))
		return err
	})
	g.Go(func() (err error) {
		keywords, err = aggregate[keyCount](gctx, coll, append(mongo.Pipeline{
			{{Key: "$unwind", Value: "$keywords"}},
		}, countBy("keywords", false, statsListSize)...))
		return err
	})
	if err := g.Wait(); err != nil {
		return store.HuntStats{}, fmt.Errorf("hunt stats: %w", err)
	}
	st.RecentTargets = make([]string, 0, len(recent))
	seen := make(map[string]bool, len(recent))
	for _, r := range recent {
		if !seen[r.Target] {
			seen[r.Target] = true
			st.RecentTargets = append(st.RecentTargets, r.Target)
		}
	}
	st.TopKeywords = make([]string, 0, len(keywords))
	for _, k := range keyCounts(keywords) {
		st.TopKeywords = append(st.TopKeywords, k.Key)
	}
	return st, nil
}

func huntIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "session_id", Value: 1}}, Options: options.Index().SetUnique(true)},
		{Keys: bson.D{{Key: "status", Value: 1}, {Key: "started_at", Value: -1}}},
		{Keys: bson.D{{Key: "outcome", Value: 1}}},
		{Keys: huntSort()},
		{Keys: bson.D{{Key: "target_actor", Value: 1}, {Key: "started_at", Value: -1}}},
	}
}
