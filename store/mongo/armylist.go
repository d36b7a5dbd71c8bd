package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// dinaSortFields is the allow-list of DINASort.Field values; nothing else
// reaches a sort document.
func dinaSortField(field string) (string, bool) {
	switch field {
	case "":
		return store.DINASortFullName, true
	case store.DINASortFullName, store.DINASortCategory, store.DINASortLegalStatus,
		store.DINASortRank, store.DINASortCreatedAt:
		return field, true
	}
	return "", false
}

// dinaSortDoc turns a validated DINASort into a sort document; agent_id
// breaks ties so pages never overlap.
func dinaSortDoc(sort store.DINASort) (bson.D, error) {
	field, ok := dinaSortField(sort.Field)
	if !ok {
		return nil, fmt.Errorf("sort field %q: %w", sort.Field, store.ErrInvalid)
	}
	dir := 1
	if sort.Desc {
		dir = -1
	}
	return bson.D{{Key: field, Value: dir}, {Key: "agent_id", Value: 1}}, nil
}

// dinaFilter builds the filter of a DINAAgentFilter: exact matches on the
// stored values of the set fields, and the search (see searchFilter).
func dinaFilter(f store.DINAAgentFilter) bson.D {
	q := bson.D{}
	for _, x := range []struct{ field, value string }{
		{"category", f.Category},
		{"region", f.Region},
		{"brigade", f.Brigade},
		{"legal_status", f.LegalStatus},
		{"rank", f.Rank},
		{"verification_status", f.VerificationStatus},
	} {
		if x.value != "" {
			q = append(q, bson.E{Key: x.field, Value: x.value})
		}
	}
	if search, ok := searchFilter(f.Search); ok {
		q = append(q, search...)
	}
	return q
}

// DINAAgents returns one page of DINA Army List agents matching f, ordered
// by sort, and the number of matching agents. page is at least 1; limit is
// clamped to [1, 100]. The page and the count are two concurrent database
// calls. An unknown sort field is store.ErrInvalid.
func (s *Store) DINAAgents(ctx context.Context, f store.DINAAgentFilter, sort store.DINASort, page, limit int) ([]store.DINAAgent, int, error) {
	sortDoc, err := dinaSortDoc(sort)
	if err != nil {
		return nil, 0, fmt.Errorf("find dina agents: %w", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	agents, total, err := findPage[store.DINAAgent](ctx, s.coll(store.CollArmyList), dinaFilter(f), sortDoc, page, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("find dina agents: %w", err)
	}
	return agents, total, nil
}

// DINAAgent returns the agent with agentID, or store.ErrNotFound.
func (s *Store) DINAAgent(ctx context.Context, agentID string) (store.DINAAgent, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	a, err := findOne[store.DINAAgent](ctx, s.coll(store.CollArmyList), bson.D{{Key: "agent_id", Value: agentID}})
	if err != nil {
		return store.DINAAgent{}, fmt.Errorf("find dina agent %q: %w", agentID, err)
	}
	return a, nil
}

// SearchDINAAgents returns up to limit (clamped to [1, 50]) agents matching
// query as searchFilter describes (any word of query starting a word of the
// full name, biographical notes or an alias, ignoring case and diacritics;
// "phrases" and -negations as in $text), ordered by full name. A blank
// query matches nothing.
func (s *Store) SearchDINAAgents(ctx context.Context, query string, limit int) ([]store.DINAAgent, error) {
	q, ok := searchFilter(query)
	if !ok {
		return []store.DINAAgent{}, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	sortDoc, _ := dinaSortDoc(store.DINASort{})
	out, err := findAll[store.DINAAgent](ctx, s.coll(store.CollArmyList), q,
		options.Find().SetSort(sortDoc).SetLimit(int64(clamp(limit, maxSearchLimit))))
	if err != nil {
		return nil, fmt.Errorf("search dina agents: %w", err)
	}
	return out, nil
}

// DINAStatistics aggregates the DINA Army List with three counts and four
// single-accumulator pipelines, concurrently.
func (s *Store) DINAStatistics(ctx context.Context) (store.DINAStatistics, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	coll := s.coll(store.CollArmyList)
	var (
		st                               store.DINAStatistics
		byCat, byLegal, byRegion, byBrig []keyCount
	)
	g, gctx := group(ctx)
	agg := func(field string, skipEmpty bool, dst *[]keyCount) func() error {
		return func() (err error) {
			*dst, err = aggregate[keyCount](gctx, coll, countBy(field, skipEmpty, 0))
			return err
		}
	}
	g.Go(count(gctx, coll, bson.D{}, &st.Total))
	g.Go(count(gctx, coll, bson.D{{Key: "verification_status", Value: store.VerificationVerified}}, &st.Verified))
	g.Go(count(gctx, coll, bson.D{{Key: "verification_status", Value: store.VerificationPending}}, &st.Pending))
	g.Go(agg("category", false, &byCat))
	g.Go(agg("legal_status", false, &byLegal))
	g.Go(agg("region", true, &byRegion))
	g.Go(agg("brigade", true, &byBrig))
	if err := g.Wait(); err != nil {
		return store.DINAStatistics{}, fmt.Errorf("dina statistics: %w", err)
	}
	st.ByCategory = keyCounts(byCat)
	st.ByLegalStatus = keyCounts(byLegal)
	st.ByRegion = keyCounts(byRegion)
	st.ByBrigade = keyCounts(byBrig)
	return st, nil
}

// CreateDINAAgent inserts a, which must carry its AgentID, and returns it as
// stored. Zero CreatedAt/UpdatedAt are set to now, an empty LegalStatus to
// "unknown", VerificationStatus to "pending", CreatedBy to "admin". A
// duplicate agent_id is store.ErrConflict.
func (s *Store) CreateDINAAgent(ctx context.Context, a store.DINAAgent) (store.DINAAgent, error) {
	if a.AgentID == "" {
		return store.DINAAgent{}, fmt.Errorf("create dina agent: empty agent_id: %w", store.ErrInvalid)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = now
	}
	if a.LegalStatus == "" {
		a.LegalStatus = store.LegalStatusUnknown
	}
	if a.VerificationStatus == "" {
		a.VerificationStatus = store.VerificationPending
	}
	if a.CreatedBy == "" {
		a.CreatedBy = "admin"
	}
	if a.DataSources == nil {
		a.DataSources = []store.DataSource{}
	}
	if a.ID.IsZero() {
		a.ID = bson.NewObjectID()
	}
	if err := guarded(ctx, Write, func(ctx context.Context) (err error) {
		_, err = s.coll(store.CollArmyList).InsertOne(ctx, a)
		return err
	}); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return store.DINAAgent{}, fmt.Errorf("create dina agent %q: %w", a.AgentID, store.ErrConflict)
		}
		return store.DINAAgent{}, fmt.Errorf("create dina agent %q: %w", a.AgentID, err)
	}
	return a, nil
}

// UpdateDINAAgent sets the non-nil fields of p and updated_at on the agent
// with agentID and returns the updated agent, or store.ErrNotFound.
func (s *Store) UpdateDINAAgent(ctx context.Context, agentID string, p store.DINAAgentPatch) (store.DINAAgent, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	set := bson.D{}
	for _, x := range []struct {
		field string
		value *string
	}{
		{"biographical_notes", p.BiographicalNotes},
		{"branch", p.Branch},
		{"brigade", p.Brigade},
		{"category", p.Category},
		{"full_name", p.FullName},
		{"legal_status", p.LegalStatus},
		{"rank", p.Rank},
		{"region", p.Region},
		{"rut", p.RUT},
		{"verification_status", p.VerificationStatus},
	} {
		if x.value != nil {
			set = append(set, bson.E{Key: x.field, Value: *x.value})
		}
	}
	set = append(set, bson.E{Key: "updated_at", Value: time.Now().UTC().Truncate(time.Millisecond)})
	var a store.DINAAgent
	err := guarded(ctx, Write, func(ctx context.Context) error {
		return s.coll(store.CollArmyList).FindOneAndUpdate(ctx, bson.D{{Key: "agent_id", Value: agentID}},
			bson.D{{Key: "$set", Value: set}}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&a)
	})
	if errors.Is(err, mongo.ErrNoDocuments) {
		return store.DINAAgent{}, fmt.Errorf("update dina agent %q: %w", agentID, store.ErrNotFound)
	}
	if err != nil {
		return store.DINAAgent{}, fmt.Errorf("update dina agent %q: %w", agentID, err)
	}
	return a, nil
}

// DeleteDINAAgent deletes the agent with agentID and reports whether one
// existed.
func (s *Store) DeleteDINAAgent(ctx context.Context, agentID string) (bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var deleted int64
	err := guarded(ctx, Write, func(ctx context.Context) error {
		res, err := s.coll(store.CollArmyList).DeleteOne(ctx, bson.D{{Key: "agent_id", Value: agentID}})
		if err == nil {
			deleted = res.DeletedCount
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delete dina agent %q: %w", agentID, err)
	}
	return deleted > 0, nil
}

func armyListIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "agent_id", Value: 1}}, Options: options.Index().SetUnique(true)},
		{Keys: bson.D{{Key: "full_name", Value: 1}, {Key: "agent_id", Value: 1}}},
		{Keys: bson.D{{Key: "category", Value: 1}, {Key: "region", Value: 1}}},
		{Keys: bson.D{{Key: "legal_status", Value: 1}, {Key: "verification_status", Value: 1}}},
		{Keys: bson.D{{Key: "verification_status", Value: 1}}},
		{Keys: bson.D{{Key: "created_at", Value: -1}}},
		{Keys: bson.D{{Key: "rank", Value: 1}}},
		{Keys: bson.D{{Key: "brigade", Value: 1}}},
		{Keys: bson.D{{Key: "region", Value: 1}}},
		{Keys: bson.D{{Key: "rut", Value: 1}}, Options: options.Index().SetSparse(true)},
	}
}
