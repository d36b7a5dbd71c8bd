package mongo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
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
	docs, err := findAll[triggerDoc](ctx, s.coll(store.CollHoneypot), filter,
		options.Find().SetSort(triggerSort()).SetLimit(int64(clamp(limit, maxListLimit))))
	if err != nil {
		return nil, fmt.Errorf("find honeypot triggers%s: %w", what, err)
	}
	out := make([]store.HoneypotTrigger, len(docs))
	for i := range docs {
		out[i] = docs[i].trigger()
	}
	return out, nil
}

// triggerDoc is a honeypot_triggers document in either shape it is found in: the API's
// (ip_address, triggered_at, request_*), which neko's traps write, and the one the dashboard
// repository's honeypot server wrote (ip, timestamp, path, method, headers, body), which older
// deployments hold. Reference §9 #12 allows mapping both; the older shape is mapped on read, so
// it shows its address and time instead of "" and year 1. Queries still select and sort on the
// API's fields: an older trigger is listed (oldest, having no triggered_at) but not found by
// address.
type triggerDoc struct {
	store.HoneypotTrigger `bson:",inline"`

	IP        string         `bson:"ip,omitempty"`
	Timestamp time.Time      `bson:"timestamp,omitempty"`
	Path      string         `bson:"path,omitempty"`
	Method    string         `bson:"method,omitempty"`
	Headers   map[string]any `bson:"headers,omitempty"`
	Body      any            `bson:"body,omitempty"`
}

// trigger is the document in the API's shape, its free-form values normalized.
func (d *triggerDoc) trigger() store.HoneypotTrigger {
	t := d.HoneypotTrigger
	t.IPAddress = cmp.Or(t.IPAddress, d.IP)
	if t.TriggeredAt.IsZero() {
		t.TriggeredAt = d.Timestamp
	}
	t.RequestPath = cmp.Or(t.RequestPath, d.Path)
	t.RequestMethod = cmp.Or(t.RequestMethod, d.Method)
	if t.RequestHeaders == nil {
		t.RequestHeaders = d.Headers
	}
	if t.RequestBody == nil {
		t.RequestBody = d.Body
	}
	t.RequestHeaders = normalizeMap(t.RequestHeaders)
	t.RequestBody = normalize(t.RequestBody)
	t.Metadata = normalizeMap(t.Metadata)
	return t
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

// HoneypotTriggersByIPs returns the newest triggers of each of ips, at most
// limit (clamped to [1, 1000]) per address, newest first; see newestPerKey.
func (s *Store) HoneypotTriggersByIPs(ctx context.Context, ips []string, limit int) ([]store.HoneypotTrigger, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	docs, err := newestPerKey(ctx, s.coll(store.CollHoneypot), "ip_address", ips, limit, triggerSort(),
		func(t triggerDoc) (string, bson.ObjectID) { return t.IPAddress, t.ID })
	if err != nil {
		return nil, fmt.Errorf("find honeypot triggers by ips: %w", err)
	}
	out := make([]store.HoneypotTrigger, len(docs))
	for i := range docs {
		out[i] = docs[i].trigger()
	}
	return out, nil
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
	if err := guarded(ctx, Write, func(ctx context.Context) (err error) {
		_, err = s.coll(store.CollHoneypot).InsertOne(ctx, t)
		return err
	}); err != nil {
		return fmt.Errorf("insert honeypot trigger: %w", err)
	}
	return nil
}

// lastTriggerScan bounds how many of the newest triggers HoneypotSummary
// reads to find each trap's last trigger before it falls back to one
// indexed lookup per remaining trap.
const lastTriggerScan = 10_000

// HoneypotSummary aggregates every trigger in the database with two reads:
//
//   - one pipeline grouping by (trap_name, ip_address) with a single $sum
//     accumulator, from which the per-trap counts, the per-trap addresses
//     and the distinct addresses are assembled in Go;
//   - then a walk over the newest triggers (index {triggered_at: -1},
//     projected to two fields) that stops as soon as every trap has been
//     seen, giving each trap's last trigger. FerretDB has no $max or $first accumulator, and a
//     sorted lookup per trap would scan the collection once per trap there.
//     Traps not seen within the newest 10,000 triggers get one indexed
//     lookup each.
func (s *Store) HoneypotSummary(ctx context.Context) (store.HoneypotSummary, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	coll := s.coll(store.CollHoneypot)

	type pair struct {
		ID struct {
			Trap string `bson:"trap"`
			IP   string `bson:"ip"`
		} `bson:"_id"`
		Count int `bson:"count"`
	}
	pairs, err := aggregate[pair](ctx, coll, mongo.Pipeline{
		{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: bson.D{{Key: "trap", Value: "$trap_name"}, {Key: "ip", Value: "$ip_address"}}},
			{Key: "count", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
	})
	if err != nil {
		return store.HoneypotSummary{}, fmt.Errorf("honeypot summary: %w", err)
	}

	byTrap := make(map[string]*store.TrapStats)
	allIPs := make(map[string]struct{})
	for _, p := range pairs {
		ts := byTrap[p.ID.Trap]
		if ts == nil {
			ts = &store.TrapStats{TrapName: p.ID.Trap, UniqueIPs: []string{}}
			byTrap[p.ID.Trap] = ts
		}
		ts.TriggerCount += p.Count
		ts.UniqueIPs = append(ts.UniqueIPs, p.ID.IP)
		allIPs[p.ID.IP] = struct{}{}
	}
	sum := store.HoneypotSummary{UniqueIPs: len(allIPs), UniqueTraps: len(byTrap), TrapStats: make([]store.TrapStats, 0, len(byTrap))}
	var missing []*store.TrapStats
	for _, ts := range byTrap {
		sum.TotalTriggers += ts.TriggerCount
		slices.Sort(ts.UniqueIPs)
		if len(ts.UniqueIPs) > maxIPsPerTrap {
			ts.UniqueIPs = ts.UniqueIPs[:maxIPsPerTrap]
		}
		sum.TrapStats = append(sum.TrapStats, *ts)
	}
	slices.SortFunc(sum.TrapStats, func(a, b store.TrapStats) int {
		if a.TriggerCount != b.TriggerCount {
			return b.TriggerCount - a.TriggerCount
		}
		return strings.Compare(a.TrapName, b.TrapName)
	})
	var last map[string]time.Time
	err = guarded(ctx, ListRead, func(ctx context.Context) (err error) {
		last, err = newestPerTrap(ctx, coll, len(byTrap))
		return err
	})
	if err != nil {
		return store.HoneypotSummary{}, fmt.Errorf("honeypot summary: last trigger: %w", err)
	}
	for i := range sum.TrapStats {
		ts := &sum.TrapStats[i]
		if at, ok := last[ts.TrapName]; ok {
			ts.LastTriggered = &at
		} else {
			missing = append(missing, ts)
		}
	}

	// Traps whose last trigger is older than the scanned window.
	g, gctx := group(ctx)
	for _, ts := range missing {
		g.Go(func() error {
			var doc struct {
				At time.Time `bson:"triggered_at"`
			}
			err := guarded(gctx, PointRead, func(ctx context.Context) error {
				return coll.FindOne(ctx, bson.D{{Key: "trap_name", Value: ts.TrapName}},
					options.FindOne().SetSort(triggerSort()).SetProjection(bson.D{{Key: "triggered_at", Value: 1}})).Decode(&doc)
			})
			switch {
			case errors.Is(err, mongo.ErrNoDocuments):
				return nil // deleted meanwhile
			case err != nil:
				return err
			}
			if !doc.At.IsZero() {
				ts.LastTriggered = &doc.At
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return store.HoneypotSummary{}, fmt.Errorf("honeypot summary: last trigger: %w", err)
	}
	return sum, nil
}

// newestPerTrap reads triggers newest first until traps distinct trap names
// have been seen or lastTriggerScan documents were read, and returns each
// seen trap's newest triggered_at.
func newestPerTrap(ctx context.Context, coll *mongo.Collection, traps int) (map[string]time.Time, error) {
	cur, err := coll.Find(ctx, bson.D{}, options.Find().
		SetSort(bson.D{{Key: "triggered_at", Value: -1}}).
		SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "trap_name", Value: 1}, {Key: "triggered_at", Value: 1}}).
		SetLimit(lastTriggerScan).SetBatchSize(1000))
	if err != nil {
		return nil, err
	}
	// The walk usually stops before the end of the results, so Close kills a live cursor: under
	// ctx, the Guard's call, like every round trip. A detached context had no deadline, and on a
	// stalled database the killCursors waited as long as TCP did, holding the call. If ctx has
	// ended, the server reaps the cursor on its own.
	defer cur.Close(ctx)
	last := make(map[string]time.Time)
	for len(last) < traps && cur.Next(ctx) {
		var doc struct {
			Trap string    `bson:"trap_name"`
			At   time.Time `bson:"triggered_at"`
		}
		if err := cur.Decode(&doc); err != nil {
			return nil, err
		}
		if _, seen := last[doc.Trap]; !seen {
			last[doc.Trap] = doc.At
		}
	}
	return last, cur.Err()
}

func honeypotIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "triggered_at", Value: -1}}},
		{Keys: bson.D{{Key: "trap_name", Value: 1}, {Key: "triggered_at", Value: -1}}},
		{Keys: bson.D{{Key: "ip_address", Value: 1}, {Key: "triggered_at", Value: -1}}},
		{Keys: bson.D{{Key: "threat_level", Value: 1}, {Key: "triggered_at", Value: -1}}},
	}
}

// newestPerKey returns the first documents in sort order (the newest) of each
// of keys, at most limit (clamped to [1, 1000]) per key, where field holds a
// document's key; the result is in sort order, but for documents written
// while it runs. One query limited to limit*len(keys) documents would let a
// busy key take every place and starve the others, and FerretDB v1 cannot cut
// per key on the server: its $group knows only $sum and $count (no $push,
// $firstN, $topN) and it has no $setWindowFields, $facet or $unionWith. So the
// query runs in rounds over the keys still open (fewer than limit found), each
// reading the next limit*len(open) documents of those keys. A short round has
// exhausted every open key and a full one fills at least one, so the rounds
// are bounded; when no key crowds out the others, as usual, one round is all.
func newestPerKey[T any](ctx context.Context, coll *mongo.Collection, field string, keys []string, limit int, sort bson.D, keyID func(T) (string, bson.ObjectID)) ([]T, error) {
	limit = clamp(limit, maxListLimit)
	out := make([]T, 0)
	kept := make(map[string][]bson.ObjectID, len(keys))
	open := slices.Clone(keys)
	for range len(keys) { // a full round fills a key: at most one round per key
		filter := bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: open}}}}
		var seen []bson.ObjectID
		for _, k := range open {
			seen = append(seen, kept[k]...)
		}
		if len(seen) > 0 {
			filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$nin", Value: seen}}})
		}
		want := limit * len(open)
		// One more than want, so that a full round is one round trip on FerretDB
		// v1 too: it closes a cursor only after a batch shorter than asked.
		batch := int32(min(want+1, math.MaxInt32))
		var page []T
		err := guarded(ctx, ListRead, func(ctx context.Context) error {
			cur, err := coll.Find(ctx, filter, options.Find().SetSort(sort).SetLimit(int64(want)).SetBatchSize(batch))
			if err != nil {
				return err
			}
			return cur.All(ctx, &page)
		})
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			if k, id := keyID(d); len(kept[k]) < limit {
				kept[k] = append(kept[k], id)
				out = append(out, d)
			}
		}
		if len(page) < want {
			break
		}
		if open = slices.DeleteFunc(open, func(k string) bool { return len(kept[k]) >= limit }); len(open) == 0 {
			break
		}
	}
	return out, nil
}
