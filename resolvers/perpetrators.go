package resolvers

import (
	"context"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/store"
)

// Historical reference figures of the original's dinaStats (reference §3.6). They describe the
// dictatorship's documented toll and the size of the known roster, not data held in this database,
// so they are fixed here; every count of stored documents comes from the store.
const (
	totalKnownAgents    = 1097
	tortureCenters      = 4
	internationalCrimes = 4
	victimsEstimated    = 30000
	disappeared         = 957
	executed            = 2279
)

func (r *Resolvers) bindPerpetrators(b map[string]map[string]graphql.Field) {
	b["Query"]["dinaStats"] = blocking(func(ctx context.Context, _ graphql.ResolveParams) (any, error) {
		s, err := r.store.DinaStats(ctx)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"total_documents": s.Total,
			"perpetrators": map[string]any{
				"total":              s.Total,
				"convicted":          s.Convicted,
				"unprosecuted":       s.Unprosecuted,
				"total_known_agents": totalKnownAgents,
			},
			"torture_centers":      tortureCenters,
			"international_crimes": internationalCrimes,
			"victims_estimated":    victimsEstimated,
			"disappeared":          disappeared,
			"executed":             executed,
			"last_updated":         isoString(r.now()),
		}, nil
	})
	b["Query"]["dinaPerpetrators"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		limit, err := limitArg(p, "limit", maxListLimit)
		if err != nil {
			return nil, err
		}
		ps, err := r.store.Perpetrators(ctx, limit)
		if err != nil {
			return nil, err
		}
		return pointers(ps), nil
	})
	b["DinaPerpType"] = getters(map[string]func(*store.Perpetrator) any{
		// id is the document id: the original dropped it and failed the non-null field.
		"id":                 func(p *store.Perpetrator) any { return p.ID.Hex() },
		"fullName":           func(p *store.Perpetrator) any { return p.FullName },
		"name":               func(p *store.Perpetrator) any { return optString(firstNonEmpty(p.Name, p.FullName)) },
		"role":               func(p *store.Perpetrator) any { return optString(p.Role) },
		"position":           func(p *store.Perpetrator) any { return optString(p.Position) },
		"organization":       func(p *store.Perpetrator) any { return organization(p) },
		"prosecution_status": func(p *store.Perpetrator) any { return optString(p.ProsecutionStatus) },
		"legal_status":       func(p *store.Perpetrator) any { return optString(firstNonEmpty(p.LegalStatusText, p.Status)) },
		"legalStatus": func(p *store.Perpetrator) any {
			if p.LegalStatus == nil {
				return map[string]any{"convicted": false, "status": optString(p.Status)}
			}
			return map[string]any{"convicted": p.LegalStatus.Convicted, "status": optString(firstNonEmpty(p.LegalStatus.CurrentStatus, p.Status))}
		},
		"major_crimes":  func(p *store.Perpetrator) any { return optStrings(p.MajorCrimes) },
		"crimesAccused": func(p *store.Perpetrator) any { return nonNilStrings(p.CrimesAccused) },
		"metadata":      func(p *store.Perpetrator) any { return optMap(p.Metadata) },
	})
}

// organization defaults to ["DINA"], as the original's transform did.
func organization(p *store.Perpetrator) []string {
	if len(p.Organization) == 0 {
		return []string{"DINA"}
	}
	return p.Organization
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
