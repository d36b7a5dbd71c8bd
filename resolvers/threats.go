package resolvers

import (
	"context"
	"errors"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/store"
)

// maxListLimit caps every list argument: no query can ask the database for more than this.
const maxListLimit = 1000

func (r *Resolvers) bindThreats(b map[string]map[string]graphql.Field) {
	b["Query"]["threatCounts"] = blocking(func(ctx context.Context, _ graphql.ResolveParams) (any, error) {
		c, err := r.store.ThreatCounts(ctx)
		if err != nil {
			return nil, err
		}
		return threatCountsMap(c), nil
	})
	b["Query"]["threatActors"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		cat, err := shortString(p, "category")
		if err != nil {
			return nil, err
		}
		limit, err := limitArg(p, "limit", maxListLimit)
		if err != nil {
			return nil, err
		}
		actors, err := r.store.ThreatActors(ctx, cat, limit)
		if err != nil {
			return nil, err
		}
		return pointers(actors), nil
	})
	b["Query"]["threatActor"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		id, err := shortString(p, "actorId")
		if err != nil {
			return nil, err
		}
		a, err := r.store.ThreatActor(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &a, nil
	})
	b["ThreatActorType"] = getters(map[string]func(*store.ThreatActor) any{
		"actor_id":             func(a *store.ThreatActor) any { return a.ActorID },
		"name":                 func(a *store.ThreatActor) any { return a.Name },
		"description":          func(a *store.ThreatActor) any { return optString(a.Description) },
		"type":                 func(a *store.ThreatActor) any { return optString(a.Type) },
		"category":             func(a *store.ThreatActor) any { return optString(a.Category) },
		"actor_classification": func(a *store.ThreatActor) any { return optString(a.ActorClassification) },
		"network":              func(a *store.ThreatActor) any { return optString(a.Network) },
		"target_type":          func(a *store.ThreatActor) any { return optString(a.TargetType) },
		"threat_level":         func(a *store.ThreatActor) any { return a.ThreatLevel },
		"rank":                 func(a *store.ThreatActor) any { return a.Rank },
		"state_actor":          func(a *store.ThreatActor) any { return a.StateActor },
		"state_sponsored":      func(a *store.ThreatActor) any { return a.StateSponsored },
		"techniques":           func(a *store.ThreatActor) any { return optStrings(a.Techniques) },
		"iocs":                 func(a *store.ThreatActor) any { return optStrings(a.IOCs) },
		"metadata":             func(a *store.ThreatActor) any { return optMap(a.Metadata) },
	})
}

func threatCountsMap(c store.ThreatCounts) map[string]any {
	return map[string]any{
		"all":             c.All,
		"predators":       c.Predators,
		"pedophiles":      c.Pedophiles,
		"dina_network":    c.DinaNetwork,
		"ransomware":      c.Ransomware,
		"state_sponsored": c.StateSponsored,
		"crypto_crime":    c.CryptoCrime,
	}
}
