package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// Collections written by the defense layer (incident playbooks and the
// block list).
const (
	collIncidents  = "security_incidents"
	collBlockedIPs = "blocked_ips"
)

// incidentIndexes serve Incidents (newest first) and the per-category and
// since-filters of SecurityStats.
func incidentIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "timestamp", Value: -1}}},
		{Keys: bson.D{{Key: "category", Value: 1}}},
	}
}

// blockedIPIndexes make the address the document key and serve the
// active-block count.
func blockedIPIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "ip", Value: 1}}, Options: options.Index().SetUnique(true)},
		{Keys: bson.D{{Key: "expiresAt", Value: 1}}},
	}
}

// InsertIncident records one handled incident. A zero Timestamp is set to
// now.
func (s *Store) InsertIncident(ctx context.Context, in store.Incident) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if in.Timestamp.IsZero() {
		in.Timestamp = time.Now().UTC()
	}
	if in.Actions == nil {
		in.Actions = []store.IncidentAction{}
	}
	if err := guarded(ctx, Write, func(ctx context.Context) (err error) {
		_, err = s.coll(collIncidents).InsertOne(ctx, in)
		return err
	}); err != nil {
		return fmt.Errorf("insert incident: %w", err)
	}
	return nil
}

// Incidents returns the newest incidents; limit is clamped to [1, 1000].
func (s *Store) Incidents(ctx context.Context, limit int) ([]store.Incident, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	out, err := findAll[store.Incident](ctx, s.coll(collIncidents), bson.D{},
		options.Find().SetSort(bson.D{{Key: "timestamp", Value: -1}, {Key: "_id", Value: -1}}).
			SetLimit(int64(clamp(limit, maxListLimit))))
	if err != nil {
		return nil, fmt.Errorf("find incidents: %w", err)
	}
	for i := range out {
		out[i].Evidence = normalizeMap(out[i].Evidence)
	}
	return out, nil
}

// UpsertBlockedIP stores b as the current block of b.IP, replacing any
// earlier one.
func (s *Store) UpsertBlockedIP(ctx context.Context, b store.BlockedIP) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if b.IP == "" {
		return fmt.Errorf("upsert blocked ip: %w: empty ip", store.ErrInvalid)
	}
	err := guarded(ctx, Write, func(ctx context.Context) (err error) {
		_, err = s.coll(collBlockedIPs).ReplaceOne(ctx, bson.D{{Key: "ip", Value: b.IP}}, b,
			options.Replace().SetUpsert(true))
		return err
	})
	if err != nil {
		return fmt.Errorf("upsert blocked ip: %w", err)
	}
	return nil
}

// BlockedIPs returns the stored blocks, active and expired, the most
// recently blocked first (at most 1000). Callers tell them apart with
// BlockedIP.Active.
func (s *Store) BlockedIPs(ctx context.Context) ([]store.BlockedIP, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	out, err := findAll[store.BlockedIP](ctx, s.coll(collBlockedIPs), bson.D{},
		options.Find().SetSort(bson.D{{Key: "blockedAt", Value: -1}, {Key: "ip", Value: 1}}).SetLimit(maxListLimit))
	if err != nil {
		return nil, fmt.Errorf("find blocked ips: %w", err)
	}
	return out, nil
}

// DeleteBlockedIP removes the block of ip. Removing an address that is not
// stored is not an error.
func (s *Store) DeleteBlockedIP(ctx context.Context, ip string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := guarded(ctx, Write, func(ctx context.Context) (err error) {
		_, err = s.coll(collBlockedIPs).DeleteOne(ctx, bson.D{{Key: "ip", Value: ip}})
		return err
	}); err != nil {
		return fmt.Errorf("delete blocked ip: %w", err)
	}
	return nil
}

// SecurityStats counts the incidents since the given time (in total, auto
// blocked, by severity and by category) and the blocks active now, with five
// concurrent single-accumulator reads.
func (s *Store) SecurityStats(ctx context.Context, since time.Time) (store.SecurityStats, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	st := store.SecurityStats{Since: since}
	inWindow := bson.D{{Key: "timestamp", Value: bson.D{{Key: "$gte", Value: since}}}}
	incidents := s.coll(collIncidents)
	var bySeverity, byCategory []keyCount
	g, gctx := group(ctx)
	g.Go(count(gctx, incidents, inWindow, &st.Incidents))
	g.Go(count(gctx, incidents, append(bson.D{{Key: "auto_blocked", Value: true}}, inWindow...), &st.AutoBlocked))
	g.Go(count(gctx, s.coll(collBlockedIPs),
		bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: time.Now().UTC()}}}}, &st.ActiveBlocks))
	for field, dst := range map[string]*[]keyCount{"severity": &bySeverity, "category": &byCategory} {
		g.Go(func() (err error) {
			p := append(mongo.Pipeline{bson.D{{Key: "$match", Value: inWindow}}}, countBy(field, false, 0)...)
			*dst, err = aggregate[keyCount](gctx, incidents, p)
			if err != nil {
				return fmt.Errorf("count incidents by %s: %w", field, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return store.SecurityStats{}, fmt.Errorf("security stats: %w", err)
	}
	st.BySeverity = keyCounts(bySeverity)
	st.ByCategory = keyCounts(byCategory)
	return st, nil
}
