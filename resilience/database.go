package resilience

import (
	"context"
	"fmt"
	"time"
)

// PoolKind is a class of database operation. Each kind gets its own
// Bulkhead so that one kind cannot starve the others of connections.
type PoolKind int

// The kinds of database operation, from cheapest to costliest reads, then
// writes.
const (
	PointRead PoolKind = iota // lookups by id or unique key
	ListRead                  // bounded finds that return many documents
	Aggregate                 // aggregation pipelines and counts
	Write                     // inserts, updates, deletes

	numPoolKinds = iota
)

// String returns the kind's pool label: "point_read", "list_read",
// "aggregate" or "write".
func (k PoolKind) String() string {
	switch k {
	case PointRead:
		return "point_read"
	case ListRead:
		return "list_read"
	case Aggregate:
		return "aggregate"
	case Write:
		return "write"
	default:
		return fmt.Sprintf("PoolKind(%d)", int(k))
	}
}

// poolShares are the default shares of MaxPoolSize given to each kind.
// Point reads are the bulk of the traffic and the cheapest; aggregations are
// few and the slowest, so they get little room to hog connections.
var poolShares = [numPoolKinds]int{PointRead: 40, ListRead: 25, Aggregate: 15, Write: 20}

// minPoolWorkers is the floor of a derived pool size, so a small MaxPoolSize
// still lets each kind run concurrently.
const minPoolWorkers = 2

// DatabaseConfig configures a Database. Zero values take the documented
// defaults; invalid values make NewDatabase fail.
type DatabaseConfig struct {
	// Name prefixes pool names ("<Name>.point_read") and is the breaker's
	// default name. Empty means "database".
	Name string
	// MaxPoolSize is the database driver's connection pool size; pool sizes
	// not set below are derived from it: point reads 40%, list reads 25%,
	// aggregations 15%, writes 20%, each at least 2. 0 means 100 (the
	// MongoDB driver's default).
	MaxPoolSize int
	// PointReadWorkers, ListReadWorkers, AggregateWorkers and WriteWorkers
	// override the derived pool sizes when > 0.
	PointReadWorkers int
	ListReadWorkers  int
	AggregateWorkers int
	WriteWorkers     int
	// QueueTimeout bounds the wait for a slot in every pool; 0 means the
	// Bulkhead default (100ms).
	QueueTimeout time.Duration
	// OperationTimeout bounds every operation; 0 means 5s.
	OperationTimeout time.Duration
	// Breaker configures the one breaker shared by all pools: when the
	// database is down it is down for every kind of operation. Its Name
	// defaults to the Database's Name.
	Breaker BreakerConfig
	// OnReject is given to every pool's Bulkhead.
	OnReject func(pool string)
}

// PoolStats is a snapshot of one pool, for metrics.
type PoolStats struct {
	Name     string
	Workers  int
	InFlight int
	Queued   int
}

// Database guards one database: a Guard per PoolKind, each with its own
// Bulkhead, all sharing one Breaker and the same operation timeout.
//
// A Database is safe for concurrent use.
type Database struct {
	guards    [numPoolKinds]*Guard
	bulkheads [numPoolKinds]*Bulkhead
	breaker   *Breaker
}

// NewDatabase validates cfg, applies its defaults and returns a Database.
func NewDatabase(cfg DatabaseConfig) (*Database, error) {
	if cfg.Name == "" {
		cfg.Name = "database"
	}
	if cfg.MaxPoolSize < 0 {
		return nil, fmt.Errorf("resilience: database %q: MaxPoolSize must be >= 0, got %d", cfg.Name, cfg.MaxPoolSize)
	}
	if cfg.MaxPoolSize == 0 {
		cfg.MaxPoolSize = 100
	}
	if cfg.OperationTimeout < 0 {
		return nil, fmt.Errorf("resilience: database %q: OperationTimeout must be >= 0, got %v", cfg.Name, cfg.OperationTimeout)
	}
	if cfg.OperationTimeout == 0 {
		cfg.OperationTimeout = 5 * time.Second
	}
	if cfg.Breaker.Name == "" {
		cfg.Breaker.Name = cfg.Name
	}
	br, err := NewBreaker(cfg.Breaker)
	if err != nil {
		return nil, err
	}
	overrides := [numPoolKinds]int{
		PointRead: cfg.PointReadWorkers,
		ListRead:  cfg.ListReadWorkers,
		Aggregate: cfg.AggregateWorkers,
		Write:     cfg.WriteWorkers,
	}
	d := &Database{breaker: br}
	for k := range PoolKind(numPoolKinds) {
		workers := overrides[k]
		if workers < 0 {
			return nil, fmt.Errorf("resilience: database %q: %s workers must be >= 0, got %d", cfg.Name, k, workers)
		}
		if workers == 0 {
			workers = max(cfg.MaxPoolSize*poolShares[k]/100, minPoolWorkers)
		}
		bh, err := NewBulkhead(BulkheadConfig{
			Name:         cfg.Name + "." + k.String(),
			Workers:      workers,
			QueueTimeout: cfg.QueueTimeout,
			OnReject:     cfg.OnReject,
		})
		if err != nil {
			return nil, err
		}
		g, err := NewGuard(GuardConfig{Bulkhead: bh, Breaker: br, Timeout: cfg.OperationTimeout})
		if err != nil {
			return nil, err
		}
		d.bulkheads[k], d.guards[k] = bh, g
	}
	return d, nil
}

// Do runs fn through kind's pool, the shared breaker and the operation
// timeout; see Guard.Do for the errors. An unknown kind is an error.
func (d *Database) Do(ctx context.Context, kind PoolKind, fn func(ctx context.Context) error) error {
	if kind < 0 || kind >= numPoolKinds {
		return fmt.Errorf("resilience: database: unknown pool kind %d", int(kind))
	}
	return d.guards[kind].Do(ctx, fn)
}

// Workers is the number of calls kind's pool runs at once (0 for an unknown kind).
func (d *Database) Workers(kind PoolKind) int {
	if kind < 0 || kind >= numPoolKinds {
		return 0
	}
	return d.bulkheads[kind].Workers()
}

// Stats returns a snapshot of every pool, in PoolKind order.
func (d *Database) Stats() []PoolStats {
	out := make([]PoolStats, 0, numPoolKinds)
	for _, b := range d.bulkheads {
		out = append(out, PoolStats{Name: b.Name(), Workers: b.Workers(), InFlight: b.InFlight(), Queued: b.Queued()})
	}
	return out
}

// Breaker returns the breaker shared by every pool.
func (d *Database) Breaker() *Breaker { return d.breaker }
