package resolvers

import (
	"context"
	"slices"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/loaders"
	"github.com/neko-defense/neko/store"
)

// maxRelationLimit caps the limit argument of relation lists (the loaders fetch at most this
// many per key).
const maxRelationLimit = 50

// WithLoaders returns ctx carrying fresh dataloaders for one request. The HTTP layer calls it
// before executing an operation (not for cache hits, which never reach a resolver).
func (r *Resolvers) WithLoaders(ctx context.Context) context.Context {
	return loaders.NewContext(ctx, loaders.New(ctx, r.store, r.loaders))
}

// The relation resolvers below ask a loader for their keys and return immediately with a thunk
// (graphql.Thunk): the engine forces the thunks of a whole list level only after every item has
// registered its keys, so each level costs one database round trip whatever the list length.

func (r *Resolvers) bindRelations(b map[string]map[string]graphql.Field) {
	b["ThreatActorType"]["hunts"] = graphql.Field{Resolve: func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		a := p.Source.(*store.ThreatActor)
		limit, l, err := relationArgs(ctx, p)
		if err != nil {
			return nil, err
		}
		thunk := l.HuntsByTarget.Load(ctx, a.ActorID)
		return graphql.Thunk(func() (any, error) {
			hunts, err := thunk()
			if err != nil {
				return nil, err
			}
			return pointers(hunts[:min(limit, len(hunts))]), nil
		}), nil
	}}
	b["ThreatActorType"]["honeypotTriggers"] = graphql.Field{Resolve: func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		a := p.Source.(*store.ThreatActor)
		limit, l, err := relationArgs(ctx, p)
		if err != nil {
			return nil, err
		}
		// An actor may list an address twice; loading it twice would list its triggers twice.
		thunk := l.TriggersByIP.LoadMany(ctx, slices.Compact(slices.Sorted(slices.Values(a.IOCs))))
		return graphql.Thunk(func() (any, error) {
			lists, errs := thunk()
			for _, err := range errs {
				if err != nil {
					return nil, err
				}
			}
			var all []store.HoneypotTrigger
			for _, ts := range lists {
				all = append(all, ts...)
			}
			slices.SortStableFunc(all, func(x, y store.HoneypotTrigger) int { return y.TriggeredAt.Compare(x.TriggeredAt) })
			return pointers(all[:min(limit, len(all))]), nil
		}), nil
	}}
	b["HuntConversationType"]["target"] = graphql.Field{Resolve: func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		h := p.Source.(*store.HuntConversation)
		if h.TargetActor == "" {
			return nil, nil
		}
		return loadActor(ctx, func(l *loaders.Loaders) func() (*store.ThreatActor, error) {
			return l.ActorByKey.Load(ctx, h.TargetActor)
		})
	}}
	b["HoneypotTriggerType"]["actor"] = graphql.Field{Resolve: func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		t := p.Source.(*store.HoneypotTrigger)
		if t.IPAddress == "" {
			return nil, nil
		}
		return loadActor(ctx, func(l *loaders.Loaders) func() (*store.ThreatActor, error) {
			return l.ActorByIOC.Load(ctx, t.IPAddress)
		})
	}}
	b["CasePatternType"]["related"] = graphql.Field{Resolve: func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		c := p.Source.(*store.CasePattern)
		if len(c.RelatedPatterns) == 0 {
			return []any{}, nil
		}
		l, err := loaders.FromContext(ctx)
		if err != nil {
			return nil, err
		}
		thunk := l.PatternByID.LoadMany(ctx, c.RelatedPatterns)
		return graphql.Thunk(func() (any, error) {
			ps, errs := thunk()
			out := make([]any, 0, len(ps))
			for i, p := range ps {
				if errs != nil && errs[i] != nil {
					return nil, errs[i]
				}
				if p != nil {
					out = append(out, p)
				}
			}
			return out, nil
		}), nil
	}}
}

// relationArgs reads a list relation's limit argument and the request's loaders.
func relationArgs(ctx context.Context, p graphql.ResolveParams) (int, *loaders.Loaders, error) {
	limit, err := limitArg(p, "limit", maxRelationLimit)
	if err != nil {
		return 0, nil, err
	}
	l, err := loaders.FromContext(ctx)
	return limit, l, err
}

// loadActor returns a thunk for a nullable ThreatActorType: nil when the loader found nothing.
func loadActor(ctx context.Context, load func(*loaders.Loaders) func() (*store.ThreatActor, error)) (any, error) {
	l, err := loaders.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	thunk := load(l)
	return graphql.Thunk(func() (any, error) {
		a, err := thunk()
		if err != nil || a == nil {
			return nil, err
		}
		return a, nil
	}), nil
}
