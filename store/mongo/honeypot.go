package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// maxIPsPerTrap caps TrapStats.UniqueIPs so that one heavily scanned trap
// cannot make the summary unbounded.
const maxIPsPerTrap = 1000

// triggerSort orders triggers newest first; _id breaks ties.
func triggerSort() bson.D {
	return bson.D{{Key: "triggered_at", Value: -1}, {Key: "_id", Value: -1}}
}

func (s *Store) findTriggers(ctx context.Context, filter bson.D, limit int, what string) ([]store.HoneypotTrigger, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	out, err := findAll[store.HoneypotTrigger](ctx, s.coll(collHoneypot), filter,
		options.Find().SetSort(triggerSort()).SetLimit(int64(clamp(limit, maxListLimit))))
	if err != nil {
		return nil, fmt.Errorf("find honeypot triggers%s: %w", what, err)
	}
	for i := range out {
		normalizeTrigger(&out[i])
	}
	return out, nil
}

func normalizeTrigger(t *store.HoneypotTrigger) {
	t.RequestHeaders = normalizeMap(t.RequestHeaders)
	t.RequestBody = normalize(t.RequestBody)
	t.Metadata = normalizeMap(t.Metadata)
}

// HoneypotTriggers returns the newest triggers, of one trap when trapName is
// not empty; limit is clamped to [1, 1000].
func (s *Store) HoneypotTriggers(ctx context.Context, trapName string, limit int) ([]store.HoneypotTrigger, error) {
	filter := bson.D{}
	if trapName != "" {
		filter = bson.D{{Key: "trap_name", Value: trapName}}
	}
	return s.findTriggers(ctx, filter, limit, "")
}

// HoneypotTriggersByIP returns the newest triggers from one address; limit is
// clamped to [1, 1000].
func (s *Store) HoneypotTriggersByIP(ctx context.Context, ip string, limit int) ([]store.HoneypotTrigger, error) {
	return s.findTriggers(ctx, bson.D{{Key: "ip_address", Value: ip}}, limit, " by ip")
}

// HoneypotTriggersByIPs returns, in one query, the newest triggers from any
// of ips, at most limit*len(ips) in total (clamped to [1, 1000]). A
// dataloader splits the result per address and applies the per-address
// limit.
func (s *Store) HoneypotTriggersByIPs(ctx context.Context, ips []string, limit int) ([]store.HoneypotTrigger, error) {
	if len(ips) == 0 {
		return []store.HoneypotTrigger{}, nil
	}
	total := clamp(limit, maxListLimit) * len(ips)
	return s.findTriggers(ctx, bson.D{{Key: "ip_address", Value: bson.D{{Key: "$in", Value: ips}}}}, total, " by ips")
}

// RecentHighThreatTriggers returns the newest HIGH or CRITICAL triggers;
// limit is clamped to [1, 1000].
func (s *Store) RecentHighThreatTriggers(ctx context.Context, limit int) ([]store.HoneypotTrigger, error) {
	filter := bson.D{{Key: "threat_level", Value: bson.D{{Key: "$in", Value: bson.A{"HIGH", "CRITICAL"}}}}}
	return s.findTriggers(ctx, filter, limit, " of high threat")
}

// InsertHoneypotTrigger records one trap hit. A zero TriggeredAt is set to
// now.
func (s *Store) InsertHoneypotTrigger(ctx context.Context, t store.HoneypotTrigger) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if t.TriggeredAt.IsZero() {
		t.TriggeredAt = time.Now().UTC()
	}
	if _, err := s.coll(collHoneypot).InsertOne(ctx, t); err != nil {
		return fmt.Errorf("insert honeypot trigger: %w", err)
	}
	return nil
}

// HoneypotSummary aggregates every trigger in the database with concurrent
// single-accumulator pipelines: the count per trap, the distinct (trap, ip)
// pairs, the distinct addresses, and one indexed newest-trigger lookup per
// trap (FerretDB has no $max accumulator; on MongoDB each lookup reads one
// entry of the {trap_name, triggered_at} index).
func (s *Store) HoneypotSummary(ctx context.Context) (store.HoneypotSummary, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	coll := s.coll(collHoneypot)

	var (
		perTrap   []keyCount
		pairs     []struct{ ID struct{ Trap, IP string } `bson:"_id"` }
		uniqueIPs []struct{ N int `bson:"n"` }
	)
	g, gctx := group(ctx)
	g.Go(func() (err error) {
		perTrap, err = aggregate[keyCount](gctx, coll, countBy("trap_name", false, 0))
		return err
	})
	g.Go(func() (err error) {
		pairs, err = aggregate[struct{ ID struct{ Trap, IP string } `bson:"_id"` }](gctx, coll, mongo.Pipeline{
			{{Key: "$group", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "trap", Value: "$trap_name"}, {Key: "ip", Value: "$ip_address"}}}}}},
		})
		return err
	})
	g.Go(func() (err error) {
		uniqueIPs, err = aggregate[struct{ N int `bson:"n"` }](gctx, coll, mongo.Pipeline{
			{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$ip_address"}}}},
			{{Key: "$count", Value: "n"}},
		})
		return err
	})
	if err := g.Wait(); err != nil {
		return store.HoneypotSummary{}, fmt.Errorf("honeypot summary: %w", err)
	}

	sum := store.HoneypotSummary{TrapStats: make([]store.TrapStats, 0, len(perTrap))}
	if len(uniqueIPs) > 0 {
		sum.UniqueIPs = uniqueIPs[0].N
	}
	ips := make(map[string][]string, len(perTrap))
	for _, p := range pairs {
		ips[p.ID.Trap] = append(ips[p.ID.Trap], p.ID.IP)
	}
	for _, t := range perTrap {
		name, _ := t.Key.(string)
		list := ips[name]
		slices.Sort(list)
		if len(list) > maxIPsPerTrap {
			list = list[:maxIPsPerTrap]
		}
		if list == nil {
			list = []string{}
		}
		sum.TotalTriggers += t.Count
		sum.TrapStats = append(sum.TrapStats, store.TrapStats{TrapName: name, TriggerCount: t.Count, UniqueIPs: list})
	}
	sum.UniqueTraps = len(sum.TrapStats)
	slices.SortFunc(sum.TrapStats, func(a, b store.TrapStats) int {
		if a.TriggerCount != b.TriggerCount {
			return b.TriggerCount - a.TriggerCount
		}
		return strings.Compare(a.TrapName, b.TrapName)
	})

	// Newest trigger per trap.
	g, gctx = group(ctx)
	for i := range sum.TrapStats {
		ts := &sum.TrapStats[i]
		g.Go(func() error {
			var last struct {
				At time.Time `bson:"triggered_at"`
			}
			err := coll.FindOne(gctx, bson.D{{Key: "trap_name", Value: ts.TrapName}},
				options.FindOne().SetSort(triggerSort()).SetProjection(bson.D{{Key: "triggered_at", Value: 1}})).Decode(&last)
			if errors.Is(err, mongo.ErrNoDocuments) {
				return nil // deleted meanwhile
			}
			if err != nil {
				return err
			}
			if !last.At.IsZero() {
				ts.LastTriggered = &last.At
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return store.HoneypotSummary{}, fmt.Errorf("honeypot summary: last trigger: %w", err)
	}
	return sum, nil
}

func honeypotIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "triggered_at", Value: -1}}},
		{Keys: bson.D{{Key: "trap_name", Value: 1}, {Key: "triggered_at", Value: -1}}},
		{Keys: bson.D{{Key: "ip_address", Value: 1}, {Key: "triggered_at", Value: -1}}},
		{Keys: bson.D{{Key: "threat_level", Value: 1}, {Key: "triggered_at", Value: -1}}},
	}
}
