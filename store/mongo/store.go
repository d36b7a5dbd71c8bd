// Package mongo implements the NEKO Defense store over MongoDB with the
// official v2 driver.
//
// A Store owns one *mongo.Client. Every method builds its filter from typed Go
// values (never from client-supplied JSON; user text only ever reaches a
// regex through regexp.QuoteMeta), runs under the caller's context bounded by
// Config.OperationTimeout, and decodes into the domain types of package
// store. Statistics never load a collection: they run countDocuments and
// aggregation pipelines with exactly one accumulator per $group stage,
// several at a time through an errgroup, and assemble the result in Go. That
// shape is correct on MongoDB and on the embedded FerretDB (store/embedded),
// which miscomputes $group stages with several accumulators and has neither
// $text, $max nor $first.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"golang.org/x/sync/errgroup"

	"github.com/neko-defense/neko/store"
)

// The store's limits. The collections it reads are store.Coll*, the ones store/seed writes.
const (
	defaultDatabase = "neko-defense-system"
	maxListLimit    = 1000
	maxPageLimit    = 100
	maxSearchLimit  = 50
	maxSearchLen    = 200
	maxPage         = 1_000_000
	// statsConcurrency is the widest one statistic fans out: 2, so that the six statistics of a
	// dashboard query (12 aggregations) fit the default aggregate pool (15) together; at 4 such
	// a query waited past the pool's queue timeout and was refused.
	statsConcurrency   = 2
	defaultMaxPoolSize = 100
)

// Config configures a Store. The zero value of every field except URI is a
// working default.
type Config struct {
	// URI is the MongoDB connection string. Required.
	URI string
	// Database is the database name. Default "neko-defense-system".
	Database string
	// MaxPoolSize bounds the connections per server. Default 100.
	MaxPoolSize uint64
	// MinPoolSize is the number of connections kept open. Default 0.
	MinPoolSize uint64
	// MaxConnIdleTime closes connections idle longer than this. Default 0:
	// never.
	MaxConnIdleTime time.Duration
	// ConnectTimeout bounds opening one connection. Default 10s.
	ConnectTimeout time.Duration
	// ServerSelectionTimeout bounds finding a suitable server. Default 5s.
	ServerSelectionTimeout time.Duration
	// OperationTimeout bounds every method call unless the caller's context
	// has an earlier deadline. Default 5s.
	OperationTimeout time.Duration
	// DisableRetries turns off retryable reads and writes (on by default).
	DisableRetries bool
	// DisableMajorityWrites writes with the server's default write concern
	// instead of w:majority (majority by default).
	DisableMajorityWrites bool
	// ReadPreference is a read preference mode: "primary" (default),
	// "primaryPreferred", "secondary", "secondaryPreferred" or "nearest"
	// (multi-region deployments read from the closest member).
	ReadPreference string
	// AppName is reported to the server in the handshake. Default "neko".
	AppName string
	// Monitor, when set, sees every command (see OperationCounter).
	Monitor *event.CommandMonitor
	// Guard, when set, admits every database round trip (bulkheads, breaker, timeout). nil
	// runs them unguarded.
	Guard Guard
}

func (c *Config) setDefaults() error {
	if c.URI == "" {
		return errors.New("mongo: Config.URI is required")
	}
	if c.Database == "" {
		c.Database = defaultDatabase
	}
	if c.MaxPoolSize == 0 {
		c.MaxPoolSize = defaultMaxPoolSize
	}
	if c.MinPoolSize > c.MaxPoolSize {
		return fmt.Errorf("mongo: MinPoolSize %d exceeds MaxPoolSize %d", c.MinPoolSize, c.MaxPoolSize)
	}
	for name, d := range map[string]time.Duration{
		"MaxConnIdleTime": c.MaxConnIdleTime, "ConnectTimeout": c.ConnectTimeout,
		"ServerSelectionTimeout": c.ServerSelectionTimeout, "OperationTimeout": c.OperationTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("mongo: %s must not be negative", name)
		}
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.ServerSelectionTimeout == 0 {
		c.ServerSelectionTimeout = 5 * time.Second
	}
	if c.OperationTimeout == 0 {
		c.OperationTimeout = 5 * time.Second
	}
	if c.ReadPreference == "" {
		c.ReadPreference = "primary"
	}
	if c.AppName == "" {
		c.AppName = "neko"
	}
	return nil
}

// Store is the MongoDB implementation of the NEKO Defense data layer. It is
// safe for concurrent use.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	timeout time.Duration
	guard   Guard // nil: unguarded
	logger  *slog.Logger
}

// New validates cfg, connects and returns a Store. It does not wait for the
// server: call Ping to check reachability and EnsureIndexes at start-up.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	mode, err := readpref.ModeFromString(cfg.ReadPreference)
	if err != nil {
		return nil, fmt.Errorf("mongo: ReadPreference: %w", err)
	}
	rp, err := readpref.New(mode)
	if err != nil {
		return nil, fmt.Errorf("mongo: ReadPreference: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := options.Client().
		ApplyURI(cfg.URI).
		SetAppName(cfg.AppName).
		SetMaxPoolSize(cfg.MaxPoolSize).
		SetMinPoolSize(cfg.MinPoolSize).
		SetMaxConnIdleTime(cfg.MaxConnIdleTime).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetServerSelectionTimeout(cfg.ServerSelectionTimeout).
		SetRetryReads(!cfg.DisableRetries).
		SetRetryWrites(!cfg.DisableRetries).
		SetReadPreference(rp).
		// Free-form sub-documents (metadata, request_headers, ...) decode to
		// map[string]any rather than bson.D, so they serialize as JSON objects;
		// an object id stored where a string belongs reads as its hex text.
		SetBSONOptions(&options.BSONOptions{DefaultDocumentMap: true, ObjectIDAsHexString: true}).
		SetRegistry(lenientRegistry(logger))
	if !cfg.DisableMajorityWrites {
		opts.SetWriteConcern(writeconcern.Majority())
	}
	if cfg.Monitor != nil {
		opts.SetMonitor(cfg.Monitor)
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("mongo: options: %w", err)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	return &Store{
		client:  client,
		db:      client.Database(cfg.Database),
		timeout: cfg.OperationTimeout,
		guard:   cfg.Guard,
		logger:  logger,
	}, nil
}

// Close disconnects the client, waiting for in-use connections until ctx
// ends.
func (s *Store) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongo: disconnect: %w", err)
	}
	return nil
}

// Ping checks that a server matching the read preference answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Database returns the underlying database handle, for seeding and
// administrative tasks (cmd/neko seed).
func (s *Store) Database() *mongo.Database { return s.db }

// op bounds one method call by the operation timeout; an earlier deadline of
// ctx wins. With a Guard, op also attaches it to the context, for the helpers,
// and the bound becomes a backstop of twice the timeout: the Guard's own
// per-call timeout must be what ends a stalled round trip, since a breaker
// counts only the dependency's timeouts, not the deadlines of its callers.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.guard == nil {
		return context.WithTimeout(ctx, s.timeout)
	}
	return context.WithTimeout(context.WithValue(ctx, guardKey{}, s.guard), 2*s.timeout)
}

func (s *Store) coll(name string) *mongo.Collection { return s.db.Collection(name) }

// clamp returns n limited to [1, hi].
func clamp(n, hi int) int {
	return max(1, min(n, hi))
}

// findAll runs find and decodes every document. It never returns a nil slice
// on success.
func findAll[T any](ctx context.Context, coll *mongo.Collection, filter any, opts *options.FindOptionsBuilder) ([]T, error) {
	// The server's default first batch is 101 documents; lists here are capped at maxListLimit,
	// so asking for that many makes every list (and every dataloader batch) one round trip
	// instead of a find plus getMores.
	out := make([]T, 0)
	err := guarded(ctx, ListRead, func(ctx context.Context) error {
		cur, err := coll.Find(ctx, filter, opts.SetBatchSize(maxListLimit))
		if err != nil {
			return err
		}
		return cur.All(ctx, &out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// findPage returns one page of the documents matching filter in sort order (page at least 1,
// limit clamped to [1, maxPageLimit], page to [1, maxPage]) and the number of all matching
// documents: two concurrent database calls.
func findPage[T any](ctx context.Context, coll *mongo.Collection, filter any, sort bson.D, page, limit int) ([]T, int, error) {
	limit = clamp(limit, maxPageLimit)
	page = clamp(page, maxPage)
	var (
		docs  []T
		total int
	)
	g, gctx := group(ctx)
	g.Go(count(gctx, coll, filter, &total))
	g.Go(func() (err error) {
		docs, err = findAll[T](gctx, coll, filter, options.Find().
			SetSort(sort).SetSkip(int64(page-1)*int64(limit)).SetLimit(int64(limit)))
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	return docs, total, nil
}

// findOne decodes the first document matching filter, or returns
// store.ErrNotFound.
func findOne[T any](ctx context.Context, coll *mongo.Collection, filter any) (T, error) {
	var out T
	err := guarded(ctx, PointRead, func(ctx context.Context) error {
		return coll.FindOne(ctx, filter).Decode(&out)
	})
	if errors.Is(err, mongo.ErrNoDocuments) {
		return out, store.ErrNotFound
	}
	return out, err
}

// aggregate runs a pipeline and decodes every result.
func aggregate[T any](ctx context.Context, coll *mongo.Collection, pipeline mongo.Pipeline) ([]T, error) {
	out := make([]T, 0)
	err := guarded(ctx, Aggregate, func(ctx context.Context) error {
		cur, err := coll.Aggregate(ctx, pipeline)
		if err != nil {
			return err
		}
		return cur.All(ctx, &out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// count runs countDocuments and stores the result in *dst; it is shaped for
// errgroup.Go.
func count(ctx context.Context, coll *mongo.Collection, filter any, dst *int) func() error {
	return func() error {
		var n int64
		err := guarded(ctx, Aggregate, func(ctx context.Context) (err error) {
			n, err = coll.CountDocuments(ctx, filter)
			return err
		})
		if err != nil {
			return fmt.Errorf("count %s: %w", coll.Name(), err)
		}
		*dst = int(n)
		return nil
	}
}

// group returns a fresh errgroup for a statistics fan-out: at most statsConcurrency aggregations
// at once, and never more than the Guard's aggregate pool runs (see poolWorkers). A fan-out wider
// than the pool queued for the slots its own first round trips held, and on a slow database timed
// out there: with a pool of 2, every statistic was refused on an idle server.
func group(ctx context.Context) (*errgroup.Group, context.Context) {
	limit := statsConcurrency
	if p, ok := ctx.Value(guardKey{}).(poolWorkers); ok {
		limit = max(1, min(limit, p.Workers(Aggregate)))
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	return g, ctx
}

// poolWorkers is a Guard that tells how many calls of a kind it runs at once
// (resilience.Database does).
type poolWorkers interface {
	Workers(kind OpKind) int
}

// keyCount is the result row of a single-accumulator $group by a string key.
type keyCount struct {
	Key   any `bson:"_id"`
	Count int `bson:"count"`
}

// countBy returns a pipeline counting documents per value of field, sorted
// by count descending then value ascending, optionally limited. When
// skipEmpty is set, documents where field is missing, null or "" are left out.
func countBy(field string, skipEmpty bool, limit int) mongo.Pipeline {
	var p mongo.Pipeline
	if skipEmpty {
		p = append(p, bson.D{{Key: "$match", Value: bson.D{{Key: field, Value: bson.D{
			{Key: "$exists", Value: true}, {Key: "$nin", Value: bson.A{nil, ""}},
		}}}}})
	}
	p = append(p,
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$" + field}, {Key: "count", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
		bson.D{{Key: "$sort", Value: bson.D{{Key: "count", Value: -1}, {Key: "_id", Value: 1}}}},
	)
	if limit > 0 {
		p = append(p, bson.D{{Key: "$limit", Value: limit}})
	}
	return p
}

// keyCounts converts $group rows to store.KeyCount, rendering the key as a
// string ("" for null).
func keyCounts(rows []keyCount) []store.KeyCount {
	out := make([]store.KeyCount, 0, len(rows))
	for _, r := range rows {
		k := ""
		if r.Key != nil {
			k = fmt.Sprint(r.Key)
		}
		out = append(out, store.KeyCount{Key: k, Count: r.Count})
	}
	return out
}

// regexFilter is a case-insensitive regex matching text literally.
func regexFilter(pattern string) bson.D {
	return bson.D{{Key: "$regex", Value: pattern}, {Key: "$options", Value: "i"}}
}

// normalize converts free-form decoded values to plain Go values that
// serialize naturally to JSON: bson.A becomes []any, bson.DateTime becomes
// time.Time, bson.ObjectID its hex string, bson.D a map, recursively.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case bson.M:
		return normalize(map[string]any(x))
	case bson.D:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.Key] = normalize(e.Value)
		}
		return m
	case bson.A:
		return normalize([]any(x))
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case bson.DateTime:
		return x.Time().UTC()
	case bson.ObjectID:
		return x.Hex()
	default:
		return v
	}
}

// normalizeMap is normalize for map fields.
func normalizeMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return normalize(m).(map[string]any)
}
