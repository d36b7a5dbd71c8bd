// Package loaders batches the relation lookups of one GraphQL request. A query that lists 100
// hunts with their target actor asks the target loader for 100 keys; the loader collects the keys,
// deduplicates them, and answers all of them from one `$in` query, returning each caller its own
// key's result. Loaders are built fresh for every request (so one user's results never reach
// another and nothing is cached past the request) and travel in the request's context.
//
// A batch is fetched when the first of its thunks is forced, not when a timer fires. The engine
// (package graphql) forces the thunks of a level only after every resolver of the level has
// registered its keys, so the first force is exactly the moment the batch is complete, however
// long registering a long list took on a loaded machine. A wait window, as in
// graph-gophers/dataloader (v7 dispatches on a timer or a full batch, and has no way to dispatch
// on demand), splits such a level into several queries whenever registering outlasts the window,
// and no window length is right for every list and every load. Dispatching on first force needs
// no timer and no goroutine, and a Load forced at once still works: it fetches what is pending.
package loaders

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/neko-defense/neko/store"
)

// Store is what the loaders read. store/mongo satisfies it. HuntsByTargets and
// HoneypotTriggersByIPs return up to limit of each key's newest items, so that a busy key
// cannot crowd the others out of a batch.
type Store interface {
	ThreatActorsByKeys(ctx context.Context, keys []string) ([]store.ThreatActor, error)
	ThreatActorsByIOCs(ctx context.Context, addresses []string) ([]store.ThreatActor, error)
	HuntsByTargets(ctx context.Context, targets []string, limit int) ([]store.HuntConversation, error)
	HoneypotTriggersByIPs(ctx context.Context, ips []string, limit int) ([]store.HoneypotTrigger, error)
	CasePatternsByIDs(ctx context.Context, ids []string) ([]store.CasePattern, error)
}

// Config tunes the loaders. Zero values take the defaults.
type Config struct {
	// BatchCapacity is the most keys one query carries. Default 500.
	BatchCapacity int
	// PerKeyLimit is the most hunts or triggers fetched per actor or address, each key getting
	// its own newest ones. Default 50.
	PerKeyLimit int
	// BatchTimeout bounds one batch query when the request has no earlier deadline. Default 5s.
	BatchTimeout time.Duration
	// Tracer, when set, starts a "loader.batch" span per batch query (attributes neko.loader,
	// the relation, and neko.loader.keys, the key count) under the request's span. nil: no spans.
	Tracer trace.Tracer
}

func (c *Config) defaults() {
	if c.BatchCapacity <= 0 {
		c.BatchCapacity = 500
	}
	if c.PerKeyLimit <= 0 {
		c.PerKeyLimit = 50
	}
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = 5 * time.Second
	}
}

// Loaders are one request's dataloaders, one per relation.
type Loaders struct {
	// ActorByKey finds a threat actor by actor_id or name (HuntConversationType.target).
	ActorByKey *Loader[string, *store.ThreatActor]
	// ActorByIOC finds the threat actor listing an address among its IOCs (HoneypotTriggerType.actor).
	ActorByIOC *Loader[string, *store.ThreatActor]
	// HuntsByTarget lists the hunts whose target_actor is the key, newest first (ThreatActorType.hunts).
	HuntsByTarget *Loader[string, []store.HuntConversation]
	// TriggersByIP lists the triggers from an address, newest first (ThreatActorType.honeypotTriggers).
	TriggersByIP *Loader[string, []store.HoneypotTrigger]
	// PatternByID finds a case pattern by pattern_id (CasePatternType.related).
	PatternByID *Loader[string, *store.CasePattern]
}

// New builds the loaders of one request. batchCtx is the request's context: every batch runs
// under a context derived from it (its values and deadline, capped by BatchTimeout) but detached
// from its cancellation, so the first caller to join a batch does not decide the batch's fate
// for the callers that joined after it.
func New(batchCtx context.Context, s Store, cfg Config) *Loaders {
	cfg.defaults()
	detached := context.WithoutCancel(batchCtx)
	deadline, hasDeadline := batchCtx.Deadline()
	batchContext := func(name string, keys int) (context.Context, func(error)) {
		var (
			ctx    context.Context
			cancel context.CancelFunc
		)
		if hasDeadline {
			ctx, cancel = context.WithDeadline(detached, minTime(deadline, time.Now().Add(cfg.BatchTimeout)))
		} else {
			ctx, cancel = context.WithTimeout(detached, cfg.BatchTimeout)
		}
		if cfg.Tracer == nil {
			return ctx, func(error) { cancel() }
		}
		ctx, span := cfg.Tracer.Start(ctx, "loader.batch", trace.WithAttributes(
			attribute.String("neko.loader", name), attribute.Int("neko.loader.keys", keys)))
		return ctx, func(err error) {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
			cancel()
		}
	}
	return &Loaders{
		ActorByKey: newLoader(cfg.BatchCapacity, batchContext, "actor_by_key", func(ctx context.Context, keys []string) (map[string]*store.ThreatActor, error) {
			actors, err := s.ThreatActorsByKeys(ctx, keys)
			if err != nil {
				return nil, err
			}
			m := make(map[string]*store.ThreatActor, 2*len(actors))
			for i := range actors {
				a := &actors[i]
				if _, ok := m[a.Name]; !ok {
					m[a.Name] = a
				}
				m[a.ActorID] = a // an id match wins over a name match
			}
			return m, nil
		}),
		ActorByIOC: newLoader(cfg.BatchCapacity, batchContext, "actor_by_ioc", func(ctx context.Context, addrs []string) (map[string]*store.ThreatActor, error) {
			actors, err := s.ThreatActorsByIOCs(ctx, addrs)
			if err != nil {
				return nil, err
			}
			m := make(map[string]*store.ThreatActor, len(addrs))
			for i := range actors {
				for _, ioc := range actors[i].IOCs {
					if _, ok := m[ioc]; !ok {
						m[ioc] = &actors[i]
					}
				}
			}
			return m, nil
		}),
		HuntsByTarget: newLoader(cfg.BatchCapacity, batchContext, "hunts_by_target", func(ctx context.Context, targets []string) (map[string][]store.HuntConversation, error) {
			hunts, err := s.HuntsByTargets(ctx, targets, cfg.PerKeyLimit)
			if err != nil {
				return nil, err
			}
			return groupLimited(hunts, func(h store.HuntConversation) string { return h.TargetActor }, cfg.PerKeyLimit), nil
		}),
		TriggersByIP: newLoader(cfg.BatchCapacity, batchContext, "triggers_by_ip", func(ctx context.Context, ips []string) (map[string][]store.HoneypotTrigger, error) {
			ts, err := s.HoneypotTriggersByIPs(ctx, ips, cfg.PerKeyLimit)
			if err != nil {
				return nil, err
			}
			return groupLimited(ts, func(t store.HoneypotTrigger) string { return t.IPAddress }, cfg.PerKeyLimit), nil
		}),
		PatternByID: newLoader(cfg.BatchCapacity, batchContext, "pattern_by_id", func(ctx context.Context, ids []string) (map[string]*store.CasePattern, error) {
			ps, err := s.CasePatternsByIDs(ctx, ids)
			if err != nil {
				return nil, err
			}
			m := make(map[string]*store.CasePattern, len(ps))
			for i := range ps {
				m[ps[i].PatternID] = &ps[i]
			}
			return m, nil
		}),
	}
}

// groupLimited groups items by key, keeping their order and at most limit per key.
func groupLimited[T any](items []T, key func(T) string, limit int) map[string][]T {
	m := make(map[string][]T)
	for _, it := range items {
		k := key(it)
		if len(m[k]) < limit {
			m[k] = append(m[k], it)
		}
	}
	return m
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

type loadersKey struct{}

// NewContext returns ctx carrying l.
func NewContext(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// ErrNoLoaders means a relation was resolved outside a request that set up loaders: a wiring bug.
var ErrNoLoaders = errors.New("loaders: none in context")

// FromContext returns the request's loaders.
func FromContext(ctx context.Context) (*Loaders, error) {
	l, ok := ctx.Value(loadersKey{}).(*Loaders)
	if !ok {
		return nil, ErrNoLoaders
	}
	return l, nil
}
